// batchNorm / batchNormBackward: PyTorch's F.batch_norm (training and inference) and its backward over flat
// Float32Arrays, channels-first or channels-last, with PyTorch's or Keras' conventions for eps/momentum.
import { syncAndAsync } from '../backend';
import type { Kernels } from '../kernels';
import type { Layout, Shape } from '../validate';
import * as v from '../validate';

// Argument names for the overlap check, as the binding names them too (native/binding/ops.h).
const FORWARD_NAMES = ['out.output', 'out.saveMean', 'out.saveInvstd', 'runningMean', 'runningVar', 'input', 'weight', 'bias'] as const;
const BACKWARD_NAMES = ['out.gradInput', 'out.gradWeight', 'out.gradBias', 'gradOutput', 'input', 'options.saveMean', 'options.saveInvstd', 'options.weight'] as const;

export type BatchNormLayout = Layout;

/**
 * Whose meaning eps, momentum and the running-variance update have:
 * - 'pytorch' (default): eps 1e-5; momentum 0.1 = the weight of the NEW batch statistics; runningVar is
 *   updated with the unbiased batch variance.
 * - 'keras': eps 1e-3; momentum 0.99 = the weight of the OLD running value (Keras/TensorFlow's
 *   BatchNormalization); runningVar is updated with the biased batch variance, as Keras does.
 */
export type BatchNormConventions = 'pytorch' | 'keras';

export const BATCH_NORM_DEFAULTS = {
  pytorch: { eps: 1e-5, momentum: 0.1 },
  keras: { eps: 1e-3, momentum: 0.99 },
} as const;

export interface BatchNormOptions {
  /** Per-channel scale (gamma), length C; 1 when absent. */
  weight?: Float32Array | null;
  /** Per-channel shift (beta), length C; 0 when absent. */
  bias?: Float32Array | null;
  /** Per-channel running mean, length C. Read in inference; updated in place in training. */
  runningMean?: Float32Array | null;
  /** Per-channel running variance, length C. Read in inference; updated in place in training. */
  runningVar?: Float32Array | null;
  /**
   * Normalise with the batch's statistics (true) or the running ones (false). Default: false when
   * runningMean and runningVar are given (as F.batch_norm), true when neither is.
   */
  training?: boolean;
  /**
   * The running-statistics update rate, in the chosen conventions' meaning (see BatchNormConventions).
   * null (PyTorch conventions only): a cumulative moving average, weight 1 / numBatchesTracked.
   */
  momentum?: number | null;
  /** With momentum null: the number of batches seen INCLUDING this one (PyTorch's num_batches_tracked after its increment). */
  numBatchesTracked?: number;
  /** Added to the variance. Default 1e-5 ('pytorch') or 1e-3 ('keras'). */
  eps?: number;
  /** Memory order of input/output: 'NCHW' ([N, C, *spatial], default) or 'NHWC' ([N, *spatial, C]). inputShape lists the dims in that order. */
  layout?: BatchNormLayout;
  /** 'pytorch' (default) or 'keras'. */
  conventions?: BatchNormConventions;
  /** Caller-provided buffers. `output` may be `input` (in place). */
  out?: { output?: Float32Array; saveMean?: Float64Array; saveInvstd?: Float32Array };
}

export interface BatchNormResult {
  output: Float32Array;
  /** Per-channel mean used (the batch's in training, runningMean in inference), in double. For backward. */
  saveMean: Float64Array;
  /** Per-channel 1 / sqrt(var + eps) used (biased batch variance in training, runningVar in inference). */
  saveInvstd: Float32Array;
}

export interface BatchNormBackwardOptions {
  weight?: Float32Array | null;
  /** The forward's saveMean (training mode). A Float32Array is accepted and widened. */
  saveMean?: Float64Array | Float32Array | null;
  /** The forward's saveInvstd (training mode). */
  saveInvstd?: Float32Array | null;
  /** Inference mode: the running statistics the forward used (with eps). */
  runningMean?: Float32Array | null;
  runningVar?: Float32Array | null;
  /**
   * Whether the forward normalised with batch statistics (gradients flow through mean and variance) or with
   * constant running statistics. Default: true when saveMean/saveInvstd are given, else false.
   */
  training?: boolean;
  /** Inference mode: the forward's eps (default by conventions). */
  eps?: number;
  layout?: BatchNormLayout;
  conventions?: BatchNormConventions;
  /** [gradInput, gradWeight, gradBias]. Default: gradInput; gradWeight and gradBias when a weight is given. */
  outputMask?: readonly [boolean, boolean, boolean];
  /** Caller-provided gradient buffers (overwritten). */
  out?: { gradInput?: Float32Array; gradWeight?: Float32Array; gradBias?: Float32Array };
}

export interface BatchNormGrads {
  gradInput: Float32Array | null;
  gradWeight: Float32Array | null;
  gradBias: Float32Array | null;
}

export interface ChannelDims {
  n: number;
  c: number;
  s: number;
  /** The kernels' layout flag: channels-last, or channels-first with one position per sample (the same bytes). */
  channelsLast: boolean;
}

/** The checks every BatchNorm op starts with: the layout option, the input and its dims. */
export function channelInput(fn: string, input: unknown, inputShape: unknown, layoutOption: unknown, layoutName = 'layout') {
  const layout = v.layout(fn, layoutName, layoutOption);
  const x = v.anyFloat32(fn, 'input', input);
  const { n, c, s } = v.channelShape(fn, inputShape, x.length, layout);
  const dims: ChannelDims = { n, c, s, channelsLast: layout === 'NHWC' || s === 1 };
  return { x, dims, perChannel: `C = ${c}, the number of channels` };
}

const warned = new Set<string>();
function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(message, { code: 'NORMKIT_BATCHNORM_MOMENTUM' });
}

/**
 * The running-statistics update in PyTorch's terms: `factor` = the weight of the batch statistics, and
 * whether the variance is unbiased. Warns once when momentum looks like the other convention's.
 */
export function runningUpdate(fn: string, conventions: BatchNormConventions, momentum: unknown, numBatchesTracked: unknown) {
  if (conventions === 'keras') {
    if (momentum === null) throw new TypeError(`normkit.${fn}: 'momentum' null (cumulative average) is a PyTorch convention; with conventions 'keras' give a number (the weight of the old value)`);
    const m = momentum === undefined ? BATCH_NORM_DEFAULTS.keras.momentum : v.numberIn(fn, 'momentum', momentum, 0, 1);
    if (m < 0.5) warnOnce('keras', `normkit.${fn}: momentum ${m} with conventions 'keras' keeps only ${m} of the old running value per batch; Keras' momentum is the weight of the OLD value (default 0.99)`);
    return { factor: 1 - m, unbiased: false };
  }
  if (momentum === null) {
    if (numBatchesTracked === undefined)
      throw new TypeError(`normkit.${fn}: 'numBatchesTracked' must be given when 'momentum' is null (a cumulative moving average)`);
    return { factor: 1 / v.integerAtLeast(fn, 'numBatchesTracked', numBatchesTracked, 1), unbiased: true };
  }
  const m = momentum === undefined ? BATCH_NORM_DEFAULTS.pytorch.momentum : v.numberIn(fn, 'momentum', momentum, 0, 1);
  if (m > 0.5) warnOnce('pytorch', `normkit.${fn}: momentum ${m} gives the NEW batch statistics weight ${m} (PyTorch's meaning); for a Keras/TensorFlow model pass conventions: 'keras'`);
  return { factor: m, unbiased: true };
}

export function tooFewValues(fn: string, inputShape: Shape): never {
  throw new RangeError(`normkit.${fn}: expected more than 1 value per channel when training, got inputShape [${inputShape.join(', ')}]`);
}

function prepareForward(fn: string, input: Float32Array, inputShape: Shape, options?: BatchNormOptions) {
  const o = v.options<BatchNormOptions>(fn, options);
  const conventions = v.oneOf(fn, 'conventions', o.conventions, ['pytorch', 'keras'] as const, 'pytorch');
  const { x, dims, perChannel } = channelInput(fn, input, inputShape, o.layout);
  const { n, c, s } = dims;
  const weight = v.optionalFloat32(fn, 'weight', o.weight, c, perChannel);
  const bias = v.optionalFloat32(fn, 'bias', o.bias, c, perChannel);
  const runningMean = v.optionalFloat32(fn, 'runningMean', o.runningMean, c, perChannel);
  const runningVar = v.optionalFloat32(fn, 'runningVar', o.runningVar, c, perChannel);
  const training = v.flag(fn, 'training', o.training, !(runningMean || runningVar));
  if (!training && !(runningMean && runningVar))
    throw new TypeError(`normkit.${fn}: inference (training: false) needs 'runningMean' and 'runningVar'`);
  const eps = v.nonNegative(fn, 'eps', o.eps, BATCH_NORM_DEFAULTS[conventions].eps);
  const { factor, unbiased } = training ? runningUpdate(fn, conventions, o.momentum, o.numBatchesTracked) : { factor: 0, unbiased: true };
  const count = n * s;
  if (training && count === 1) tooFewValues(fn, inputShape);
  const out = v.options<NonNullable<BatchNormOptions['out']>>(fn, o.out);
  const result: BatchNormResult = {
    output: v.dataOutput(fn, 'out.output', out.output, x.length, 'the input length'),
    saveMean: v.output64(fn, 'out.saveMean', out.saveMean, c, perChannel),
    saveInvstd: v.output(fn, 'out.saveInvstd', out.saveInvstd, c, perChannel),
  };
  v.noOverlap(fn, FORWARD_NAMES, [result.output, result.saveMean, result.saveInvstd, runningMean, runningVar, x, weight, bias], 5, [0, 5]);
  // An empty batch in training: no statistics (NaN), running stats left as they are, as PyTorch.
  const skip = training && count === 0;
  if (skip) { result.saveMean.fill(NaN); result.saveInvstd.fill(NaN); }
  const args: Parameters<Kernels['batchNorm']> = [n, c, s, dims.channelsLast, x, weight, bias, runningMean, runningVar,
    training, factor, eps, unbiased, result.output, result.saveMean, result.saveInvstd];
  return { args: skip ? null : args, result };
}

const batchNormOp = syncAndAsync('batchNorm', 'batchNorm', prepareForward);
/**
 * Batch normalisation per channel: y = (x - mean) / sqrt(var + eps) * weight + bias. In training the batch's
 * mean and biased variance (running stats updated in place, if given); in inference the running stats.
 */
export const batchNorm = batchNormOp.sync;
/** batchNorm on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const batchNormAsync = batchNormOp.async;

function prepareBackward(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, options: BatchNormBackwardOptions) {
  const o = v.options<BatchNormBackwardOptions>(fn, options);
  const conventions = v.oneOf(fn, 'options.conventions', o.conventions, ['pytorch', 'keras'] as const, 'pytorch');
  const { x, dims, perChannel } = channelInput(fn, input, inputShape, o.layout, 'options.layout');
  const { n, c, s } = dims;
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const weight = v.optionalFloat32(fn, 'options.weight', o.weight, c, perChannel);
  const training = v.flag(fn, 'options.training', o.training, o.saveMean != null || o.saveInvstd != null);
  // Training: the batch statistics the forward saved. Inference: the running ones, as given (the backend
  // works out invstd = 1 / sqrt(runningVar + eps) as its inference forward does).
  let mean: Float64Array | Float32Array, invstdOrVar: Float32Array, eps = 0;
  if (training) {
    if (o.saveMean == null || o.saveInvstd == null)
      throw new TypeError(`normkit.${fn}: training mode needs 'options.saveMean' and 'options.saveInvstd' from the forward`);
    mean = v.means(fn, 'options.saveMean', o.saveMean, c, perChannel);
    invstdOrVar = v.float32(fn, 'options.saveInvstd', o.saveInvstd, c, perChannel);
    if (n * s === 1) tooFewValues(fn, inputShape);
  } else {
    if (o.runningMean == null || o.runningVar == null)
      throw new TypeError(`normkit.${fn}: inference mode (training: false) needs 'options.runningMean' and 'options.runningVar'`);
    mean = v.float32(fn, 'options.runningMean', o.runningMean, c, perChannel);
    invstdOrVar = v.float32(fn, 'options.runningVar', o.runningVar, c, perChannel);
    eps = v.nonNegative(fn, 'options.eps', o.eps, BATCH_NORM_DEFAULTS[conventions].eps);
  }
  const [wantInput, wantWeight, wantBias] = v.mask(fn, 'options.outputMask', o.outputMask, 3, [true, weight !== null, weight !== null]);
  const out = v.options<NonNullable<BatchNormBackwardOptions['out']>>(fn, o.out);
  const grads: BatchNormGrads = {
    gradInput: wantInput ? v.dataOutput(fn, 'out.gradInput', out.gradInput, x.length, 'the input length') : null,
    gradWeight: wantWeight ? v.output(fn, 'out.gradWeight', out.gradWeight, c, perChannel) : null,
    gradBias: wantBias ? v.output(fn, 'out.gradBias', out.gradBias, c, perChannel) : null,
  };
  v.noOverlap(fn, BACKWARD_NAMES, [grads.gradInput, grads.gradWeight, grads.gradBias, dy, x, mean, invstdOrVar, weight], 3);
  // Empty batch: nothing flows; the sums are 0.
  const args: Parameters<Kernels['batchNormBackward']> = [n, c, s, dims.channelsLast, dy, x, weight, training, eps, mean,
    invstdOrVar, grads.gradInput, grads.gradWeight, grads.gradBias];
  return { args, result: grads };
}

const batchNormBackwardOp = syncAndAsync('batchNormBackward', 'batchNormBackward', prepareBackward);
/**
 * Gradients of batchNorm. Training mode (batch statistics, from saveMean/saveInvstd): dx includes the paths
 * through the mean and variance. Inference mode (running statistics + eps): dx = dy * invstd * weight.
 */
export const batchNormBackward = batchNormBackwardOp.sync;
/** batchNormBackward on a worker thread. */
export const batchNormBackwardAsync = batchNormBackwardOp.async;

