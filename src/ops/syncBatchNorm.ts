// The pieces of a synchronised (distributed) BatchNorm, split as PyTorch's SyncBatchNorm: each worker computes
// its shard's statistics, an all-reduce of your choice carries them, every worker merges them identically,
// normalises its shard, and the backward's per-channel sums go through a second all-reduce.
//
//   forward:  batchNormStats (local) -> all-gather {mean, m2, count} -> batchNormGatherStats -> batchNormElemt
//   backward: batchNormBackwardReduce (local) -> all-reduce-sum {sumDy, sumDyXmu} -> batchNormBackwardElemt
//
// Statistics travel as Float64Arrays and are merged with Chan et al.'s pairwise formula on M2 (sums of
// squared deviations), never E[x^2] - E[x]^2, so a channel's tiny variance next to a large mean survives.
import { syncAndAsync } from '../backend';
import type { Kernels } from '../kernels';
import type { Shape } from '../validate';
import * as v from '../validate';
import {
  BATCH_NORM_DEFAULTS, channelInput, runningUpdate, tooFewValues,
  type BatchNormConventions, type BatchNormLayout,
} from './batchNorm';

export interface BatchNormStatsResult {
  /** Per-channel mean of this shard. */
  mean: Float64Array;
  /** Per-channel sum of squared deviations from that mean. */
  m2: Float64Array;
  /** Elements per channel in this shard: N * (product of spatial dims). */
  count: number;
}

function prepareStats(fn: string, input: Float32Array, inputShape: Shape, options?: { layout?: BatchNormLayout; out?: { mean?: Float64Array; m2?: Float64Array } }) {
  const o = v.options<{ layout?: BatchNormLayout; out?: { mean?: Float64Array; m2?: Float64Array } }>(fn, options);
  const { x, dims, perChannel } = channelInput(fn, input, inputShape, o.layout);
  const { n, c, s } = dims;
  const out = v.options<{ mean?: Float64Array; m2?: Float64Array }>(fn, o.out);
  const result: BatchNormStatsResult = {
    mean: v.output64(fn, 'out.mean', out.mean, c, perChannel),
    m2: v.output64(fn, 'out.m2', out.m2, c, perChannel),
    count: n * s,
  };
  v.noOverlap(fn, ['out.mean', 'out.m2', 'input'], [result.mean, result.m2, x], 2);
  const skip = result.count === 0; // an empty shard contributes nothing (mean 0, m2 0, count 0)
  if (skip) { result.mean.fill(0); result.m2.fill(0); }
  const args: Parameters<Kernels['batchNormStats']> = [n, c, s, dims.channelsLast, x, result.mean, result.m2];
  return { args: skip ? null : args, result };
}

const batchNormStatsOp = syncAndAsync('batchNormStats', 'batchNormStats', prepareStats);
/** This shard's per-channel mean, M2 and count (PyTorch's batch_norm_stats, with M2 in place of invstd). */
export const batchNormStats = batchNormStatsOp.sync;
/** batchNormStats on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const batchNormStatsAsync = batchNormStatsOp.async;

export interface BatchNormGatherOptions {
  runningMean?: Float32Array | null;
  runningVar?: Float32Array | null;
  momentum?: number | null;
  numBatchesTracked?: number;
  eps?: number;
  conventions?: BatchNormConventions;
}

export interface BatchNormGatherResult {
  /** The whole batch's per-channel mean. */
  mean: Float64Array;
  /** 1 / sqrt(biased variance + eps). */
  invstd: Float32Array;
  /** The whole batch's per-channel M2. */
  m2: Float64Array;
  /** The whole batch's count per channel. */
  count: number;
}

/**
 * Merges per-shard statistics exactly (Chan's pairwise update of mean and M2, in double) and updates the
 * running stats in place. `means`/`m2s` are one Float64Array per shard, or all shards stacked in one
 * Float64Array of length shards * C; `counts` one number per shard (shards with count 0 are skipped).
 * Every worker calling this with the same inputs gets bit-identical results.
 */
export function batchNormGatherStats(means: Float64Array | readonly Float64Array[], m2s: Float64Array | readonly Float64Array[],
  counts: readonly number[], options: BatchNormGatherOptions = {}): BatchNormGatherResult {
  const fn = 'batchNormGatherStats';
  const o = v.options<BatchNormGatherOptions>(fn, options);
  if (!Array.isArray(counts) || counts.length === 0) throw new TypeError(`normkit.${fn}: 'counts' must be a non-empty array of per-shard counts`);
  counts.forEach((k, i) => v.integerAtLeast(fn, `counts[${i}]`, k, 0));
  const shards = counts.length;
  const split = (name: string, value: unknown): Float64Array[] => {
    if (value instanceof Float64Array) {
      if (value.length % shards !== 0) throw new RangeError(`normkit.${fn}: '${name}' must have a length divisible by counts.length = ${shards} (shards stacked), got length ${value.length}`);
      const c = value.length / shards;
      return Array.from({ length: shards }, (_, i) => value.subarray(i * c, (i + 1) * c));
    }
    if (!Array.isArray(value) || value.length !== shards) throw new TypeError(`normkit.${fn}: '${name}' must be a Float64Array or an array of ${shards} Float64Arrays (one per entry of counts)`);
    return value as Float64Array[];
  };
  const ms = split('means', means), qs = split('m2s', m2s);
  const c = ms[0] instanceof Float64Array ? ms[0].length : 0;
  ms.forEach((m, i) => v.float64(fn, `means[${i}]`, m, c, 'C, as means[0]'));
  qs.forEach((m, i) => v.float64(fn, `m2s[${i}]`, m, c, 'C, as means[0]'));
  const perChannel = `C = ${c}, the number of channels`;
  const runningMean = v.optionalFloat32(fn, 'runningMean', o.runningMean, c, perChannel);
  const runningVar = v.optionalFloat32(fn, 'runningVar', o.runningVar, c, perChannel);
  const conventions = v.oneOf(fn, 'conventions', o.conventions, ['pytorch', 'keras'] as const, 'pytorch');
  const eps = v.nonNegative(fn, 'eps', o.eps, BATCH_NORM_DEFAULTS[conventions].eps);
  const { factor, unbiased } = runningUpdate(fn, conventions, o.momentum, o.numBatchesTracked);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 1) tooFewValues(fn, [total, c]);

  const mean = new Float64Array(c), m2 = new Float64Array(c), invstd = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    let n = 0, mu = 0, q = 0;
    for (let i = 0; i < shards; i++) {
      const k = counts[i];
      if (k === 0) continue;
      const nn = n + k, delta = ms[i][j] - mu;
      mu += (delta * k) / nn;
      q += qs[i][j] + ((delta * delta) * n * k) / nn;
      n = nn;
    }
    mean[j] = mu; m2[j] = q;
    invstd[j] = 1 / Math.sqrt(q / total + eps);
    if (runningMean) runningMean[j] = (1 - factor) * runningMean[j] + factor * mu;
    if (runningVar) runningVar[j] = (1 - factor) * runningVar[j] + factor * (q / (unbiased ? total - 1 : total));
  }
  return { mean, invstd, m2, count: total };
}

/** What batchNormElemt, batchNormBackwardReduce and batchNormBackwardElemt all take: the shard's input and the
 * merged statistics (and the weight), checked against the input's channel count. */
interface MergedStats {
  mean: Float64Array | Float32Array;
  invstd: Float32Array;
  weight?: Float32Array | null;
  layout?: BatchNormLayout;
}

function mergedStatsInput(fn: string, input: Float32Array, inputShape: Shape, o: Partial<MergedStats>) {
  const { x, dims, perChannel } = channelInput(fn, input, inputShape, o.layout);
  return {
    x, dims, perChannel,
    mean: v.means(fn, 'mean', o.mean, dims.c, perChannel),
    invstd: v.float32(fn, 'invstd', o.invstd, dims.c, perChannel),
    weight: v.optionalFloat32(fn, 'weight', o.weight, dims.c, perChannel),
  };
}

interface ElemtOptions extends MergedStats {
  bias?: Float32Array | null;
  out?: { output?: Float32Array };
}

function prepareElemt(fn: string, input: Float32Array, inputShape: Shape, options: ElemtOptions) {
  const o = v.options<ElemtOptions>(fn, options);
  const { x, dims, perChannel, mean, invstd, weight } = mergedStatsInput(fn, input, inputShape, o);
  const { n, c, s } = dims;
  const bias = v.optionalFloat32(fn, 'bias', o.bias, c, perChannel);
  const out = v.options<{ output?: Float32Array }>(fn, o.out);
  const output = v.dataOutput(fn, 'out.output', out.output, x.length, 'the input length');
  v.noOverlap(fn, ['out.output', 'input', 'mean', 'invstd', 'weight', 'bias'], [output, x, mean, invstd, weight, bias], 1, [0, 1]);
  const args: Parameters<Kernels['batchNormElemt']> = [n, c, s, dims.channelsLast, x, mean, invstd, weight, bias, output];
  return { args, result: output };
}

const batchNormElemtOp = syncAndAsync('batchNormElemt', 'batchNormElemt', prepareElemt);
/** y = (x - mean) * invstd * weight + bias with the merged statistics (PyTorch's batch_norm_elemt). */
export const batchNormElemt = batchNormElemtOp.sync;
/** batchNormElemt on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const batchNormElemtAsync = batchNormElemtOp.async;

interface ReduceOptions extends MergedStats {
  /** Only decides the default outputMask. */
  weight?: Float32Array | null;
  /** [sumDy and sumDyXmu, gradWeight, gradBias]. Default: sums; gradWeight/gradBias when a weight is given. */
  outputMask?: readonly [boolean, boolean, boolean];
  out?: { sumDy?: Float64Array; sumDyXmu?: Float64Array; gradWeight?: Float32Array; gradBias?: Float32Array };
}

export interface BatchNormBackwardReduceResult {
  /** Per-channel sum(gradOutput) over this shard (all-reduce-sum it). */
  sumDy: Float64Array | null;
  /** Per-channel sum(gradOutput * (input - mean)) over this shard (all-reduce-sum it). */
  sumDyXmu: Float64Array | null;
  /** This shard's share of gradWeight (sum the shares). */
  gradWeight: Float32Array | null;
  /** This shard's share of gradBias. */
  gradBias: Float32Array | null;
}

function prepareReduce(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, options: ReduceOptions) {
  const o = v.options<ReduceOptions>(fn, options);
  const { x, dims, perChannel, mean, invstd, weight } = mergedStatsInput(fn, input, inputShape, o);
  const { n, c, s } = dims;
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const [sums, wantW, wantB] = v.mask(fn, 'outputMask', o.outputMask, 3, [true, weight !== null, weight !== null]);
  const out = v.options<NonNullable<ReduceOptions['out']>>(fn, o.out);
  const r: BatchNormBackwardReduceResult = {
    sumDy: sums ? v.output64(fn, 'out.sumDy', out.sumDy, c, perChannel) : null,
    sumDyXmu: sums ? v.output64(fn, 'out.sumDyXmu', out.sumDyXmu, c, perChannel) : null,
    gradWeight: wantW ? v.output(fn, 'out.gradWeight', out.gradWeight, c, perChannel) : null,
    gradBias: wantB ? v.output(fn, 'out.gradBias', out.gradBias, c, perChannel) : null,
  };
  v.noOverlap(fn, ['out.sumDy', 'out.sumDyXmu', 'out.gradWeight', 'out.gradBias', 'gradOutput', 'input', 'mean', 'invstd'],
    [r.sumDy, r.sumDyXmu, r.gradWeight, r.gradBias, dy, x, mean, invstd], 4);
  const args: Parameters<Kernels['batchNormBackwardReduce']> = [n, c, s, dims.channelsLast, dy, x, mean, invstd,
    r.sumDy, r.sumDyXmu, r.gradWeight, r.gradBias];
  return { args, result: r };
}

const batchNormBackwardReduceOp = syncAndAsync('batchNormBackwardReduce', 'batchNormBackwardReduce', prepareReduce);
/** This shard's per-channel backward sums (PyTorch's batch_norm_backward_reduce). */
export const batchNormBackwardReduce = batchNormBackwardReduceOp.sync;
/** batchNormBackwardReduce on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const batchNormBackwardReduceAsync = batchNormBackwardReduceOp.async;

interface BackwardElemtOptions extends MergedStats {
  /** The all-reduced (whole-batch) sums from batchNormBackwardReduce. */
  sumDy: Float64Array;
  sumDyXmu: Float64Array;
  /** The whole batch's count per channel (batchNormGatherStats' count). */
  count: number;
  out?: { gradInput?: Float32Array };
}

function prepareBackwardElemt(fn: string, gradOutput: Float32Array, input: Float32Array, inputShape: Shape, options: BackwardElemtOptions) {
  const o = v.options<BackwardElemtOptions>(fn, options);
  const { x, dims, perChannel, mean, invstd, weight } = mergedStatsInput(fn, input, inputShape, o);
  const { n, c, s } = dims;
  const dy = v.float32(fn, 'gradOutput', gradOutput, x.length, 'the input length');
  const sumDy = v.float64(fn, 'sumDy', o.sumDy, c, perChannel);
  const sumDyXmu = v.float64(fn, 'sumDyXmu', o.sumDyXmu, c, perChannel);
  const count = v.integerAtLeast(fn, 'count', o.count, 1);
  const out = v.options<{ gradInput?: Float32Array }>(fn, o.out);
  const gradInput = v.dataOutput(fn, 'out.gradInput', out.gradInput, x.length, 'the input length');
  v.noOverlap(fn, ['out.gradInput', 'gradOutput', 'input', 'mean', 'invstd', 'weight', 'sumDy', 'sumDyXmu'],
    [gradInput, dy, x, mean, invstd, weight, sumDy, sumDyXmu], 1);
  const args: Parameters<Kernels['batchNormBackwardElemt']> = [n, c, s, dims.channelsLast, dy, x, mean, invstd, weight,
    sumDy, sumDyXmu, count, gradInput];
  return { args, result: gradInput };
}

const batchNormBackwardElemtOp = syncAndAsync('batchNormBackwardElemt', 'batchNormBackwardElemt', prepareBackwardElemt);
/** This shard's gradInput from the whole batch's sums (PyTorch's batch_norm_backward_elemt). */
export const batchNormBackwardElemt = batchNormBackwardElemtOp.sync;
/** batchNormBackwardElemt on a worker thread. Keep the arrays alive and untouched until the Promise settles. */
export const batchNormBackwardElemtAsync = batchNormBackwardElemtOp.async;

export type { BackwardElemtOptions as BatchNormBackwardElemtOptions, ElemtOptions as BatchNormElemtOptions, ReduceOptions as BatchNormBackwardReduceOptions };
