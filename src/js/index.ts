// The TypeScript backend: the same kernels as the native addon, in plain TypeScript, for platforms where the
// addon cannot be built or loaded (and as the reference the native kernels are compared with in tests).
import type { Kernels } from '../kernels';
import { layerNorm, layerNormBackward } from './layerNorm';
import { rmsNorm, rmsNormBackward } from './rmsNorm';
import { groupNorm, groupNormBackward } from './groupNorm';
import * as bn from './batchNorm';

export const jsKernels: Kernels = {
  layerNorm, layerNormBackward, rmsNorm, rmsNormBackward, groupNorm, groupNormBackward,
  batchNorm: bn.batchNorm, batchNormBackward: bn.batchNormBackward, batchNormStats: bn.batchNormStats,
  batchNormElemt: bn.batchNormElemt, batchNormBackwardReduce: bn.batchNormBackwardReduce,
  batchNormBackwardElemt: bn.batchNormBackwardElemt,
};
