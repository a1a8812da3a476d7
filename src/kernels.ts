// The interface both backends implement: one positional function per op, over flat Float32Arrays whose
// lengths the caller (src/ops/*) has already checked. The native addon exports exactly these functions
// (native/binding/ops.h lists the same argument order), plus an `...Async` twin of each.
//
// Optional arrays are null when absent: weight/bias (then 1 and 0), saved statistics nobody asked for,
// gradients that are not wanted.

type F32 = Float32Array;

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
}

export type KernelName = keyof Kernels;

export type AsyncKernels = {
  [K in KernelName as `${K}Async`]: (...args: Parameters<Kernels[K]>) => Promise<void>;
};
