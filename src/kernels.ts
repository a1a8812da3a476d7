// The interface both backends implement: one positional function per op, over flat Float32Arrays whose
// lengths the caller (src/ops/*) has already checked. The native addon exports exactly these functions
// (native/binding/ops.h lists the same argument order), plus an `...Async` twin of each.
//
// Optional arrays are null when absent: weight/bias (then 1 and 0), saved statistics nobody asked for,
// gradients that are not wanted.

type F32 = Float32Array;
type F64 = Float64Array;

export interface Kernels {
  layerNorm(rows: number, cols: number, input: F32, weight: F32 | null, bias: F32 | null, eps: number,
    output: F32, mean: F32 | null, rstd: F32 | null): void;
  layerNormBackward(rows: number, cols: number, gradOutput: F32, input: F32, mean: F32, rstd: F32,
    weight: F32 | null, gradInput: F32 | null, gradWeight: F32 | null, gradBias: F32 | null): void;
  rmsNorm(rows: number, cols: number, input: F32, weight: F32 | null, eps: number, output: F32, rstd: F32 | null): void;
  rmsNormBackward(rows: number, cols: number, gradOutput: F32, input: F32, rstd: F32, weight: F32 | null,
    gradInput: F32 | null, gradWeight: F32 | null): void;
  // Input [batch, channels, spatial] (channelsLast false) or [batch, spatial, channels]; stats [batch * groups].
  groupNorm(batch: number, channels: number, spatial: number, groups: number, channelsLast: boolean, input: F32,
    weight: F32 | null, bias: F32 | null, eps: number, output: F32, mean: F32 | null, rstd: F32 | null): void;
  groupNormBackward(batch: number, channels: number, spatial: number, groups: number, channelsLast: boolean,
    gradOutput: F32, input: F32, mean: F32, rstd: F32, weight: F32 | null,
    gradInput: F32 | null, gradWeight: F32 | null, gradBias: F32 | null): void;
  // BatchNorm: (n, c, s, channelsLast) describe [N, C, S] or [N, S, C] data; means and sums are Float64Arrays.
  batchNorm(n: number, c: number, s: number, channelsLast: boolean, input: F32, weight: F32 | null, bias: F32 | null,
    runningMean: F32 | null, runningVar: F32 | null, training: boolean, momentum: number, eps: number,
    unbiasedRunningVar: boolean, output: F32, saveMean: F64, saveInvstd: F32): void;
  /** mean, invstdOrVar: saveMean (F64) and saveInvstd in training; runningMean (F32) and runningVar in inference. */
  batchNormBackward(n: number, c: number, s: number, channelsLast: boolean, gradOutput: F32, input: F32,
    weight: F32 | null, training: boolean, eps: number, mean: F64 | F32, invstdOrVar: F32, gradInput: F32 | null,
    gradWeight: F32 | null, gradBias: F32 | null): void;
  batchNormStats(n: number, c: number, s: number, channelsLast: boolean, input: F32, mean: F64, m2: F64): void;
  batchNormElemt(n: number, c: number, s: number, channelsLast: boolean, input: F32, mean: F64, invstd: F32,
    weight: F32 | null, bias: F32 | null, output: F32): void;
  batchNormBackwardReduce(n: number, c: number, s: number, channelsLast: boolean, gradOutput: F32, input: F32, mean: F64,
    invstd: F32, sumDy: F64 | null, sumDyXmu: F64 | null, gradWeight: F32 | null, gradBias: F32 | null): void;
  batchNormBackwardElemt(n: number, c: number, s: number, channelsLast: boolean, gradOutput: F32, input: F32, mean: F64,
    invstd: F32, weight: F32 | null, sumDy: F64, sumDyXmu: F64, count: number, gradInput: F32): void;
}

export type KernelName = keyof Kernels;

export type AsyncKernels = {
  [K in KernelName as `${K}Async`]: (...args: Parameters<Kernels[K]>) => Promise<void>;
};
