// layerNorm / layerNormBackward: PyTorch's F.layer_norm and its backward, over flat Float32Arrays.
import { syncAndAsync } from '../backend';
import type { Kernels } from '../kernels';
import type { Shape } from '../validate';
import * as v from '../validate';

export interface LayerNormOptions {
  /** Per-element scale over the normalized dims (PyTorch's weight / gamma); 1 when absent. */
  weight?: Float32Array | null;
  /** Per-element shift over the normalized dims (beta); 0 when absent. */
  bias?: Float32Array | null;
  /** Added to the variance before the square root. Default 1e-5, as PyTorch. */
  eps?: number;
  /** Caller-provided buffers to write into instead of allocating. `output` may be `input` (in place). */
  out?: { output?: Float32Array; mean?: Float32Array; rstd?: Float32Array };
}

export interface LayerNormResult {
  output: Float32Array;
  /** Per-row mean, length = the number of rows (the product of the leading dims). Saved for backward. */
  mean: Float32Array;
  /** Per-row 1 / sqrt(biased variance + eps). Saved for backward. */
  rstd: Float32Array;
}

export interface LayerNormBackwardOptions {
  /** The forward pass's saved per-row mean. */
  mean: Float32Array;
  /** The forward pass's saved per-row rstd. */
  rstd: Float32Array;
  /** The forward pass's weight, if it had one. */
  weight?: Float32Array | null;
  /**
   * Which gradients to compute, PyTorch's output_mask: [gradInput, gradWeight, gradBias].
   * Default: gradInput always; gradWeight and gradBias when a weight is given.
   */
  outputMask?: readonly [boolean, boolean, boolean];
  /** Caller-provided buffers for the gradients (overwritten, not accumulated into). */
  out?: { gradInput?: Float32Array; gradWeight?: Float32Array; gradBias?: Float32Array };
}

export interface LayerNormGrads {
  /** dL/dinput, or null when not asked for. */
  gradInput: Float32Array | null;
  /** dL/dweight (sum over rows), or null. */
  gradWeight: Float32Array | null;
  /** dL/dbias (sum over rows), or null. */
  gradBias: Float32Array | null;
}

const FORWARD_NAMES = ['out.output', 'out.mean', 'out.rstd', 'input', 'weight', 'bias'] as const;
const BACKWARD_NAMES = ['out.gradInput', 'out.gradWeight', 'out.gradBias', 'gradOutput', 'input', 'options.mean', 'options.rstd', 'options.weight'] as const;

function prepareForward(fn: string, input: Float32Array, inputShape: Shape, normalizedShape: Shape | number, options?: LayerNormOptions) {
  const o = v.options<LayerNormOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const { rows, cols } = v.rowsByTrailing(fn, inputShape, normalizedShape, x.length);
  const weight = v.optionalFloat32(fn, 'weight', o.weight, cols, 'the normalized size');
  const bias = v.optionalFloat32(fn, 'bias', o.bias, cols, 'the normalized size');
  const eps = v.nonNegative(fn, 'eps', o.eps, 1e-5);
  const out = v.options<NonNullable<LayerNormOptions['out']>>(fn, o.out);
  const result: LayerNormResult = {
    output: v.dataOutput(fn, 'out.output', out.output, x.length, 'the input length'),
    mean: v.output(fn, 'out.mean', out.mean, rows, 'the number of rows'),
    rstd: v.output(fn, 'out.rstd', out.rstd, rows, 'the number of rows'),
  };
  v.noOverlap(fn, FORWARD_NAMES, [result.output, result.mean, result.rstd, x, weight, bias], 3, [0, 3]);
  const args: Parameters<Kernels['layerNorm']> =
    [rows, cols, x, weight, bias, eps, result.output, result.mean, result.rstd];
  return { args, result };
}

const layerNormOp = syncAndAsync('layerNorm', 'layerNorm', prepareForward);
/**
 * Layer normalization over the trailing `normalizedShape` dims of `input` (shape `inputShape`):
 * y = (x - mean) / sqrt(var + eps) * weight + bias, statistics per row. As PyTorch's F.layer_norm, also
 * returning the saved mean and rstd that layerNormBackward needs.
 */
export const layerNorm = layerNormOp.sync;
/** layerNorm on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const layerNormAsync = layerNormOp.async;

function prepareBackward(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, normalizedShape: Shape | number, options: LayerNormBackwardOptions) {
  const o = v.options<LayerNormBackwardOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const { rows, cols } = v.rowsByTrailing(fn, inputShape, normalizedShape, x.length);
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const mean = v.float32(fn, 'options.mean', o.mean, rows, 'the number of rows');
  const rstd = v.float32(fn, 'options.rstd', o.rstd, rows, 'the number of rows');
  const weight = v.optionalFloat32(fn, 'options.weight', o.weight, cols, 'the normalized size');
  const [wantInput, wantWeight, wantBias] = v.mask(fn, 'options.outputMask', o.outputMask, 3, [true, weight !== null, weight !== null]);
  const out = v.options<NonNullable<LayerNormBackwardOptions['out']>>(fn, o.out);
  const grads: LayerNormGrads = {
    gradInput: wantInput ? v.dataOutput(fn, 'out.gradInput', out.gradInput, x.length, 'the input length') : null,
    gradWeight: wantWeight ? v.output(fn, 'out.gradWeight', out.gradWeight, cols, 'the normalized size') : null,
    gradBias: wantBias ? v.output(fn, 'out.gradBias', out.gradBias, cols, 'the normalized size') : null,
  };
  v.noOverlap(fn, BACKWARD_NAMES, [grads.gradInput, grads.gradWeight, grads.gradBias, dy, x, mean, rstd, weight], 3);
  const args: Parameters<Kernels['layerNormBackward']> =
    [rows, cols, dy, x, mean, rstd, weight, grads.gradInput, grads.gradWeight, grads.gradBias];
  return { args, result: grads };
}

const layerNormBackwardOp = syncAndAsync('layerNormBackward', 'layerNormBackward', prepareBackward);
/**
 * Gradients of layerNorm from the saved mean/rstd, in one pass over each row (two with gradInput, the row in
 * cache for the second). gradWeight/gradBias are sums over rows.
 */
export const layerNormBackward = layerNormBackwardOp.sync;
/** layerNormBackward on a worker thread. */
export const layerNormBackwardAsync = layerNormBackwardOp.async;

