// groupNorm / groupNormBackward: PyTorch's F.group_norm (native_group_norm) and its backward, and
// instanceNorm (groups = channels, PyTorch's F.instance_norm with use_input_stats), over flat Float32Arrays in
// NCHW ([N, C, *spatial]) or channels-last NHWC ([N, *spatial, C]) memory order.
import { syncAndAsync } from '../backend';
import type { Kernels } from '../kernels';
import type { Layout, Shape } from '../validate';
import * as v from '../validate';

export interface GroupNormOptions {
  /** Per-channel scale (gamma), length C; 1 when absent. */
  weight?: Float32Array | null;
  /** Per-channel shift (beta), length C; 0 when absent. */
  bias?: Float32Array | null;
  /** Added to the variance before the square root. Default 1e-5, as PyTorch. */
  eps?: number;
  /**
   * Memory order of `input` (and of the output), and the order of `inputShape`'s dims:
   * 'NCHW' (default): [N, C, *spatial];  'NHWC' (channels last): [N, *spatial, C].
   */
  layout?: Layout;
  /** Caller-provided buffers to write into instead of allocating. `output` may be `input` (in place). */
  out?: { output?: Float32Array; mean?: Float32Array; rstd?: Float32Array };
}

export interface GroupNormResult {
  /** Same shape and layout as the input. */
  output: Float32Array;
  /** Per-(n, group) mean, [N, numGroups] row-major. Saved for backward. */
  mean: Float32Array;
  /** Per-(n, group) 1 / sqrt(biased variance + eps). Saved for backward. */
  rstd: Float32Array;
}

export interface GroupNormBackwardOptions {
  /** The forward pass's saved mean, [N, numGroups]. */
  mean: Float32Array;
  /** The forward pass's saved rstd, [N, numGroups]. */
  rstd: Float32Array;
  /** The forward pass's weight, if it had one. */
  weight?: Float32Array | null;
  /** The forward pass's layout. Default 'NCHW'. */
  layout?: Layout;
  /**
   * Which gradients to compute, PyTorch's output_mask: [gradInput, gradWeight, gradBias].
   * Default: gradInput always; gradWeight and gradBias when a weight is given.
   */
  outputMask?: readonly [boolean, boolean, boolean];
  /** Caller-provided buffers for the gradients (overwritten, not accumulated into). */
  out?: { gradInput?: Float32Array; gradWeight?: Float32Array; gradBias?: Float32Array };
}

export interface GroupNormGrads {
  /** dL/dinput (same layout as the input), or null when not asked for. */
  gradInput: Float32Array | null;
  /** dL/dweight, length C (sum over batch and positions), or null. */
  gradWeight: Float32Array | null;
  /** dL/dbias, length C, or null. */
  gradBias: Float32Array | null;
}

/** InstanceNorm's options: GroupNorm's (weight/bias per channel, PyTorch's affine=True). */
export type InstanceNormOptions = GroupNormOptions;
export type InstanceNormBackwardOptions = GroupNormBackwardOptions;

// Argument names, in the order noOverlap takes them (outputs first); the binding reports the same names.
const FORWARD_NAMES = ['out.output', 'out.mean', 'out.rstd', 'input', 'weight', 'bias'] as const;
const BACKWARD_NAMES = ['out.gradInput', 'out.gradWeight', 'out.gradBias', 'gradOutput', 'input', 'options.mean', 'options.rstd', 'options.weight'] as const;

function prepareForward(fn: string, input: Float32Array, inputShape: Shape, numGroups: number | null, options?: GroupNormOptions) {
  const o = v.options<GroupNormOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const layout = v.layout(fn, 'layout', o.layout);
  const d = v.groupedShape(fn, inputShape, numGroups ?? channelsOf(fn, inputShape, layout), layout, x.length);
  const weight = v.optionalFloat32(fn, 'weight', o.weight, d.channels, 'the channel count');
  const bias = v.optionalFloat32(fn, 'bias', o.bias, d.channels, 'the channel count');
  const eps = v.nonNegative(fn, 'eps', o.eps, 1e-5);
  const out = v.options<NonNullable<GroupNormOptions['out']>>(fn, o.out);
  const stats = d.batch * d.groups;
  const result: GroupNormResult = {
    output: v.dataOutput(fn, 'out.output', out.output, x.length, 'the input length'),
    mean: v.output(fn, 'out.mean', out.mean, stats, 'N * numGroups'),
    rstd: v.output(fn, 'out.rstd', out.rstd, stats, 'N * numGroups'),
  };
  v.noOverlap(fn, FORWARD_NAMES, [result.output, result.mean, result.rstd, x, weight, bias], 3, [0, 3]);
  const args: Parameters<Kernels['groupNorm']> = [d.batch, d.channels, d.spatial, d.groups, d.channelsLast, x,
    weight, bias, eps, result.output, result.mean, result.rstd];
  return { args, result };
}

function prepareBackward(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, numGroups: number | null, options: GroupNormBackwardOptions) {
  const o = v.options<GroupNormBackwardOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const layout = v.layout(fn, 'options.layout', o.layout);
  const d = v.groupedShape(fn, inputShape, numGroups ?? channelsOf(fn, inputShape, layout), layout, x.length);
  const stats = d.batch * d.groups;
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const mean = v.float32(fn, 'options.mean', o.mean, stats, 'N * numGroups');
  const rstd = v.float32(fn, 'options.rstd', o.rstd, stats, 'N * numGroups');
  const weight = v.optionalFloat32(fn, 'options.weight', o.weight, d.channels, 'the channel count');
  const [wantInput, wantWeight, wantBias] = v.mask(fn, 'options.outputMask', o.outputMask, 3, [true, weight !== null, weight !== null]);
  const out = v.options<NonNullable<GroupNormBackwardOptions['out']>>(fn, o.out);
  const grads: GroupNormGrads = {
    gradInput: wantInput ? v.dataOutput(fn, 'out.gradInput', out.gradInput, x.length, 'the input length') : null,
    gradWeight: wantWeight ? v.output(fn, 'out.gradWeight', out.gradWeight, d.channels, 'the channel count') : null,
    gradBias: wantBias ? v.output(fn, 'out.gradBias', out.gradBias, d.channels, 'the channel count') : null,
  };
  v.noOverlap(fn, BACKWARD_NAMES, [grads.gradInput, grads.gradWeight, grads.gradBias, dy, x, mean, rstd, weight], 3);
  const args: Parameters<Kernels['groupNormBackward']> = [d.batch, d.channels, d.spatial, d.groups, d.channelsLast,
    dy, x, mean, rstd, weight, grads.gradInput, grads.gradWeight, grads.gradBias];
  return { args, result: grads };
}

/** InstanceNorm's group count: the channel count (inputShape is checked in full by groupedShape). */
function channelsOf(fn: string, inputShape: Shape, layout: Layout): number {
  v.shape(fn, 'inputShape', inputShape, { minRank: 2 });
  const c = layout === 'NCHW' ? inputShape[1] : inputShape[inputShape.length - 1];
  return c === 0 ? 1 : c; // no channels: one (empty) group per sample, so that 0 % groups is well-defined
}

const groupNormOp = syncAndAsync('groupNorm', 'groupNorm', prepareForward);
/**
 * Group normalization (PyTorch's F.group_norm): the C channels of `input` (shape `inputShape`, see
 * options.layout) are split into `numGroups` groups of C/numGroups consecutive channels; each (sample, group)
 * is normalized by its own mean and biased variance over its channels and positions, then scaled and shifted
 * per channel: y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]. Returns the saved mean/rstd too.
 */
export const groupNorm = groupNormOp.sync;
/** groupNorm on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const groupNormAsync = groupNormOp.async;

const groupNormBackwardOp = syncAndAsync('groupNormBackward', 'groupNormBackward', prepareBackward);
/** Gradients of groupNorm from the saved mean/rstd. gradWeight/gradBias are sums over batch and positions. */
export const groupNormBackward = groupNormBackwardOp.sync;
/** groupNormBackward on a worker thread. */
export const groupNormBackwardAsync = groupNormBackwardOp.async;

const instanceNormOp = syncAndAsync('instanceNorm', 'groupNorm', (fn: string, input: Float32Array, inputShape: Shape, options?: InstanceNormOptions) =>
  prepareForward(fn, input, inputShape, null, options));
/**
 * Instance normalization (PyTorch's F.instance_norm with use_input_stats=True, i.e. InstanceNorm*d in training
 * mode or with track_running_stats=False): every (sample, channel) normalized over its positions; weight/bias
 * per channel (affine=True). groupNorm with numGroups = C. mean/rstd are [N, C].
 */
export const instanceNorm = instanceNormOp.sync;
/** instanceNorm on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const instanceNormAsync = instanceNormOp.async;

const instanceNormBackwardOp = syncAndAsync('instanceNormBackward', 'groupNormBackward', (fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, options: InstanceNormBackwardOptions) =>
  prepareBackward(fn, gradOutput, input, inputShape, null, options));
export const instanceNormBackward = instanceNormBackwardOp.sync;
/** instanceNormBackward on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const instanceNormBackwardAsync = instanceNormBackwardOp.async;

