// rmsNorm / rmsNormBackward: y = x / sqrt(mean(x^2) + eps) * weight over the trailing normalizedShape dims,
// as PyTorch's F.rms_norm, also returning the saved per-row rstd for backward.
import { syncAndAsync } from '../backend';
import type { Kernels } from '../kernels';
import type { Shape } from '../validate';
import * as v from '../validate';

/**
 * The default eps: as PyTorch's F.rms_norm with eps=None, the float32 machine epsilon (2^-23 ≈ 1.19e-7).
 * Models set their own (LLaMA 1e-5 or 1e-6, T5 1e-6): pass the checkpoint's value explicitly.
 */
export const RMS_NORM_DEFAULT_EPS = 2 ** -23;

export interface RmsNormOptions {
  /** Per-element scale over the normalized dims; 1 when absent. */
  weight?: Float32Array | null;
  /** Added to mean(x^2) before the square root. Default RMS_NORM_DEFAULT_EPS (float32 epsilon, as PyTorch). */
  eps?: number;
  /** Caller-provided buffers. `output` may be `input` (in place). */
  out?: { output?: Float32Array; rstd?: Float32Array };
}

export interface RmsNormResult {
  output: Float32Array;
  /** Per-row 1 / sqrt(mean(x^2) + eps), saved for backward. */
  rstd: Float32Array;
}

export interface RmsNormBackwardOptions {
  /** The forward pass's saved per-row rstd. */
  rstd: Float32Array;
  /** The forward pass's weight, if it had one. */
  weight?: Float32Array | null;
  /** Which gradients to compute: [gradInput, gradWeight]. Default: gradInput; gradWeight when a weight is given. */
  outputMask?: readonly [boolean, boolean];
  /** Caller-provided buffers for the gradients (overwritten). */
  out?: { gradInput?: Float32Array; gradWeight?: Float32Array };
}

export interface RmsNormGrads {
  gradInput: Float32Array | null;
  gradWeight: Float32Array | null;
}

const FORWARD_NAMES = ['out.output', 'out.rstd', 'input', 'weight'] as const;
const BACKWARD_NAMES = ['out.gradInput', 'out.gradWeight', 'gradOutput', 'input', 'options.rstd', 'options.weight'] as const;

function prepareForward(fn: string, input: Float32Array, inputShape: Shape, normalizedShape: Shape | number, options?: RmsNormOptions) {
  const o = v.options<RmsNormOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const { rows, cols } = v.rowsByTrailing(fn, inputShape, normalizedShape, x.length);
  const weight = v.optionalFloat32(fn, 'weight', o.weight, cols, 'the normalized size');
  const eps = v.nonNegative(fn, 'eps', o.eps, RMS_NORM_DEFAULT_EPS);
  const out = v.options<NonNullable<RmsNormOptions['out']>>(fn, o.out);
  const result: RmsNormResult = {
    output: v.dataOutput(fn, 'out.output', out.output, x.length, 'the input length'),
    rstd: v.output(fn, 'out.rstd', out.rstd, rows, 'the number of rows'),
  };
  v.noOverlap(fn, FORWARD_NAMES, [result.output, result.rstd, x, weight], 2, [0, 2]);
  const args: Parameters<Kernels['rmsNorm']> = [rows, cols, x, weight, eps, result.output, result.rstd];
  return { args, result };
}

const rmsNormOp = syncAndAsync('rmsNorm', 'rmsNorm', prepareForward);
/** RMS normalization over the trailing `normalizedShape` dims of `input` (shape `inputShape`). */
export const rmsNorm = rmsNormOp.sync;
/** rmsNorm on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const rmsNormAsync = rmsNormOp.async;

function prepareBackward(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, normalizedShape: Shape | number, options: RmsNormBackwardOptions) {
  const o = v.options<RmsNormBackwardOptions>(fn, options);
  const x = v.anyFloat32(fn, 'input', input);
  const { rows, cols } = v.rowsByTrailing(fn, inputShape, normalizedShape, x.length);
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const rstd = v.float32(fn, 'options.rstd', o.rstd, rows, 'the number of rows');
  const weight = v.optionalFloat32(fn, 'options.weight', o.weight, cols, 'the normalized size');
  const [wantInput, wantWeight] = v.mask(fn, 'options.outputMask', o.outputMask, 2, [true, weight !== null]);
  const out = v.options<NonNullable<RmsNormBackwardOptions['out']>>(fn, o.out);
  const grads: RmsNormGrads = {
    gradInput: wantInput ? v.dataOutput(fn, 'out.gradInput', out.gradInput, x.length, 'the input length') : null,
    gradWeight: wantWeight ? v.output(fn, 'out.gradWeight', out.gradWeight, cols, 'the normalized size') : null,
  };
  v.noOverlap(fn, BACKWARD_NAMES, [grads.gradInput, grads.gradWeight, dy, x, rstd, weight], 2);
  const args: Parameters<Kernels['rmsNormBackward']> = [rows, cols, dy, x, rstd, weight, grads.gradInput, grads.gradWeight];
  return { args, result: grads };
}

const rmsNormBackwardOp = syncAndAsync('rmsNormBackward', 'rmsNormBackward', prepareBackward);
/** Gradients of rmsNorm from the saved rstd. gradWeight is a sum over rows. */
export const rmsNormBackward = rmsNormBackwardOp.sync;
/** rmsNormBackward on a worker thread. */
export const rmsNormBackwardAsync = rmsNormBackwardOp.async;

