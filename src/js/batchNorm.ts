// BatchNorm and the SyncBatchNorm pieces on the TypeScript backend: the same plan as
// native/kernels/batch_norm.inl, in double precision (JavaScript numbers). Channels-first data is visited
// as n blocks of s contiguous floats per channel; channels-last as rows of c channels (./columns.ts), with
// per-channel Float64Array constants and sums (allocated once per call, never per row).
import { columnAffine, columnBackward, columnDeviationSums, columnGradSums } from './columns';

type F32 = Float32Array;
type F64 = Float64Array;

/**
 * Per-channel mean and M2 (sum of squared deviations), in double, in one pass: the sums of each channel's
 * deviations from a shift (the mean of its first 16 values) and of their squares, M2 = sum(d^2) - sum(d)^2/count.
 * Centred enough that no second pass is needed: the first values' distance from the mean is at most
 * sqrt(count / 16) standard deviations (they are part of the data), so the subtraction loses at most
 * log2(count / 16) of double's 53 bits, at most 28 for any array JavaScript can hold: the result stays exact to
 * float precision. (In float, the native kernels check the shift and redo far channels about their mean.)
 */
export function channelMoments(n: number, c: number, s: number, channelsLast: boolean, x: F32, mean: F64, m2: F64): void {
  const count = n * s, head = Math.min(count, 16);
  const shift = new Float64Array(c), dev = new Float64Array(c), sq = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let t = 0;
    for (let k = 0; k < head; k++) t += channelsLast ? x[k * c + j] : x[Math.floor(k / s) * c * s + j * s + (k % s)];
    shift[j] = t / head;
  }
  deviationSums(n, c, s, channelsLast, x, shift, dev, sq);
  for (let j = 0; j < c; j++) {
    const off = dev[j] / count, q = sq[j] - dev[j] * off;
    mean[j] = shift[j] + off;
    m2[j] = q > 0 || Number.isNaN(q) ? q : 0;
  }
}

/** dev[j] = sum of (x - shift[j]) and sq[j] = sum of (x - shift[j])^2 over channel j. */
function deviationSums(n: number, c: number, s: number, channelsLast: boolean, x: F32, shift: F64, dev: F64, sq: F64): void {
  if (channelsLast) return columnDeviationSums(x, 0, n * s, c, shift, dev, sq);
  for (let ch = 0; ch < c; ch++) {
    const m = shift[ch];
    let d1 = 0, d2 = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      for (let k = 0; k < s; k++) {
        const d = x[o + k] - m;
        d1 += d; d2 += d * d;
      }
    }
    dev[ch] = d1; sq[ch] = d2;
  }
}

/** y = (x - mean[ch]) * invstd[ch] * w + b, the per-channel constants in Float64Arrays (one array kind). */
function applyAffine(n: number, c: number, s: number, channelsLast: boolean, x: F32, y: F32,
  mean: ArrayLike<number>, invstd: ArrayLike<number>, w: F32 | null, b: F32 | null): void {
  const m = new Float64Array(mean), a = new Float64Array(c), d = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    a[j] = invstd[j] * (w ? w[j] : 1);
    d[j] = b ? b[j] : 0;
  }
  if (channelsLast) return columnAffine(x, y, 0, n * s, c, m, a, d);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * s, mm = m[ch], k = a[ch], bb = d[ch];
      for (let t = 0; t < s; t++) y[o + t] = (x[o + t] - mm) * k + bb;
    }
  }
}

export function batchNorm(n: number, c: number, s: number, channelsLast: boolean, x: F32, w: F32 | null, b: F32 | null,
  runningMean: F32 | null, runningVar: F32 | null, training: boolean, momentum: number, eps: number,
  unbiasedRunningVar: boolean, y: F32, saveMean: F64, saveInvstd: F32): void {
  const invstd = new Float64Array(c);
  if (!training) {
    const rm = runningMean as F32, rv = runningVar as F32;
    for (let j = 0; j < c; j++) {
      invstd[j] = 1 / Math.sqrt(rv[j] + eps);
      saveMean[j] = rm[j];
      saveInvstd[j] = invstd[j];
    }
    applyAffine(n, c, s, channelsLast, x, y, rm, invstd, w, b);
    return;
  }
  const m2 = new Float64Array(c), count = n * s;
  channelMoments(n, c, s, channelsLast, x, saveMean, m2);
  for (let j = 0; j < c; j++) {
    invstd[j] = 1 / Math.sqrt(m2[j] / count + eps);
    saveInvstd[j] = invstd[j];
    if (runningMean) runningMean[j] = (1 - momentum) * runningMean[j] + momentum * saveMean[j];
    if (runningVar) runningVar[j] = (1 - momentum) * runningVar[j] + momentum * (m2[j] / (unbiasedRunningVar ? count - 1 : count));
  }
  applyAffine(n, c, s, channelsLast, x, y, saveMean, invstd, w, b);
}

/** Per-channel sum(dy) and sum(dy * (x - mean)) in double. */
function gradSums(n: number, c: number, s: number, channelsLast: boolean, dy: F32, x: F32, mean: F64, sdy: F64, sdx: F64): void {
  if (channelsLast) return columnGradSums(dy, x, 0, n * s, c, mean, sdy, sdx);
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch];
    let a = 0, q = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      for (let t = 0; t < s; t++) {
        const d = dy[o + t];
        a += d; q += d * (x[o + t] - m);
      }
    }
    sdy[ch] = a; sdx[ch] = q;
  }
}

/** dx = dy * k - ((x - mean) * k2 + k1), per channel. */
function applyBack(n: number, c: number, s: number, channelsLast: boolean, dy: F32, x: F32, dx: F32, mean: F64,
  k: F64, k2: F64, k1: F64): void {
  if (channelsLast) return columnBackward(dy, x, dx, 0, n * s, c, mean, k, k2, k1);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * s, m = mean[ch], a = k[ch], a2 = k2[ch], a1 = k1[ch];
      for (let t = 0; t < s; t++) dx[o + t] = dy[o + t] * a - ((x[o + t] - m) * a2 + a1);
    }
  }
}

function backCoefs(c: number, invstd: F32, w: F32 | null, sdy: ArrayLike<number> | null, sdx: ArrayLike<number> | null, count: number) {
  const k = new Float64Array(c), k2 = new Float64Array(c), k1 = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    k[j] = invstd[j] * (w ? w[j] : 1);
    if (sdy && sdx) {
      k1[j] = (k[j] * sdy[j]) / count;
      k2[j] = (k[j] * invstd[j] * invstd[j] * sdx[j]) / count;
    }
  }
  return { k, k2, k1 };
}

/** 1 / sqrt(runningVar + eps) per channel, as batchNorm's inference computes it. */
function runningInvstd(runningVar: F32, eps: number): F32 {
  const invstd = new Float32Array(runningVar.length);
  for (let j = 0; j < runningVar.length; j++) invstd[j] = 1 / Math.sqrt(runningVar[j] + eps);
  return invstd;
}

export function batchNormBackward(n: number, c: number, s: number, channelsLast: boolean, dy: F32, x: F32, w: F32 | null,
  training: boolean, eps: number, statsMean: F64 | F32, invstdOrVar: F32, dx: F32 | null, dw: F32 | null,
  db: F32 | null): void {
  const mean = statsMean instanceof Float64Array ? statsMean : new Float64Array(statsMean);
  const invstd = training ? invstdOrVar : runningInvstd(invstdOrVar, eps);
  const sdy = new Float64Array(c), sdx = new Float64Array(c);
  if (training || dw || db) gradSums(n, c, s, channelsLast, dy, x, mean, sdy, sdx);
  for (let j = 0; j < c; j++) {
    if (dw) dw[j] = sdx[j] * invstd[j];
    if (db) db[j] = sdy[j];
  }
  if (!dx) return;
  const { k, k2, k1 } = backCoefs(c, invstd, w, training ? sdy : null, training ? sdx : null, n * s);
  applyBack(n, c, s, channelsLast, dy, x, dx, mean, k, k2, k1);
}

export function batchNormStats(n: number, c: number, s: number, channelsLast: boolean, x: F32, mean: F64, m2: F64): void {
  channelMoments(n, c, s, channelsLast, x, mean, m2);
}

export function batchNormElemt(n: number, c: number, s: number, channelsLast: boolean, x: F32, mean: F64, invstd: F32,
  w: F32 | null, b: F32 | null, y: F32): void {
  applyAffine(n, c, s, channelsLast, x, y, mean, invstd, w, b);
}

export function batchNormBackwardReduce(n: number, c: number, s: number, channelsLast: boolean, dy: F32, x: F32, mean: F64,
  invstd: F32, sumDy: F64 | null, sumDyXmu: F64 | null, dw: F32 | null, db: F32 | null): void {
  const sdy = new Float64Array(c), sdx = new Float64Array(c);
  gradSums(n, c, s, channelsLast, dy, x, mean, sdy, sdx);
  if (sumDy) sumDy.set(sdy);
  if (sumDyXmu) sumDyXmu.set(sdx);
  for (let j = 0; j < c; j++) {
    if (dw) dw[j] = sdx[j] * invstd[j];
    if (db) db[j] = sdy[j];
  }
}

export function batchNormBackwardElemt(n: number, c: number, s: number, channelsLast: boolean, dy: F32, x: F32, mean: F64,
  invstd: F32, w: F32 | null, sumDy: F64, sumDyXmu: F64, count: number, dx: F32): void {
  const { k, k2, k1 } = backCoefs(c, invstd, w, sumDy, sumDyXmu, count);
  applyBack(n, c, s, channelsLast, dy, x, dx, mean, k, k2, k1);
}
