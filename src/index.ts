// normkit: fast, exact normalization layers for Node.js.
export { backendInfo, setBackend, setIsa } from './backend';
export type { BackendInfo, BackendName } from './backend';
export { layerNorm, layerNormAsync, layerNormBackward, layerNormBackwardAsync } from './ops/layerNorm';
export type { LayerNormBackwardOptions, LayerNormGrads, LayerNormOptions, LayerNormResult } from './ops/layerNorm';
export { RMS_NORM_DEFAULT_EPS, rmsNorm, rmsNormAsync, rmsNormBackward, rmsNormBackwardAsync } from './ops/rmsNorm';
export type { RmsNormBackwardOptions, RmsNormGrads, RmsNormOptions, RmsNormResult } from './ops/rmsNorm';
export type { Shape } from './validate';
export {
  groupNorm, groupNormAsync, groupNormBackward, groupNormBackwardAsync,
  instanceNorm, instanceNormAsync, instanceNormBackward, instanceNormBackwardAsync,
} from './ops/groupNorm';
export type {
  GroupNormBackwardOptions, GroupNormGrads, GroupNormOptions, GroupNormResult, InstanceNormBackwardOptions,
  InstanceNormOptions,
} from './ops/groupNorm';
export type { Layout } from './validate';
export { BATCH_NORM_DEFAULTS, batchNorm, batchNormAsync, batchNormBackward, batchNormBackwardAsync } from './ops/batchNorm';
export type { BatchNormBackwardOptions, BatchNormConventions, BatchNormGrads, BatchNormLayout, BatchNormOptions, BatchNormResult } from './ops/batchNorm';
export {
  batchNormBackwardElemt, batchNormBackwardElemtAsync, batchNormBackwardReduce, batchNormBackwardReduceAsync, batchNormElemt,
  batchNormElemtAsync, batchNormGatherStats, batchNormStats, batchNormStatsAsync,
} from './ops/syncBatchNorm';
export type {
  BatchNormBackwardElemtOptions, BatchNormBackwardReduceOptions, BatchNormBackwardReduceResult, BatchNormElemtOptions,
  BatchNormGatherOptions, BatchNormGatherResult, BatchNormStatsResult,
} from './ops/syncBatchNorm';
