// GroupNorm on the TypeScript backend: the plan of native/kernels/group_norm.inl in double precision.
// Element (n, c, s) is at (n·C + c)·S + s (NCHW) or (n·S + s)·C + c (channels last); a group is C/G
// consecutive channels. Per-channel constants live in arrays allocated once per call, never per group.
import { columnAffine, columnBackward, columnDeviationSums, columnGradSums } from './columns';
import { type Moments, refinedMean, refinesMean, rowMoments } from './layerNorm';

type F32 = Float32Array;

export function groupNorm(N: number, C: number, S: number, G: number, channelsLast: boolean, x: F32,
  w: F32 | null, b: F32 | null, eps: number, y: F32, mean: F32 | null, rstd: F32 | null): void {
  const cg = C / G, len = cg * S;
  if (len === 0) {
    mean?.fill(NaN);
    rstd?.fill(NaN);
    return;
  }
  if (channelsLast) return groupNormChannelsLast(N, C, S, G, x, w, b, eps, y, mean, rstd);
  const scale = new Float64Array(cg), shift = new Float64Array(cg);
  const mo: Moments = { mean: 0, variance: 0 };
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const c0 = g * cg;
      rowMoments(x, (n * C + c0) * S, len, mo);
      const m = mo.mean, rs = 1 / Math.sqrt(mo.variance + eps);
      if (mean) mean[n * G + g] = m;
      if (rstd) rstd[n * G + g] = rs;
      // y = (x - mean)·scale + shift per channel, scale = w·rstd, shift = b. (x·scale + (b - mean·scale)
      // would lose b next to a large mean.) One position a channel ([N, C] input): one flat loop (the loops
      // below, a channel's loop of one element each, measured 1.1-2x slower at [4096,512] to [256,100]).
      if (S === 1) {
        let i = 0, p = n * C + c0;
        for (; i + 4 <= cg; i += 4, p += 4) {  // unrolled by four, as LayerNorm's
          let a0 = (x[p] - m) * rs, a1 = (x[p + 1] - m) * rs, a2 = (x[p + 2] - m) * rs, a3 = (x[p + 3] - m) * rs;
          if (w) { a0 *= w[c0 + i]; a1 *= w[c0 + i + 1]; a2 *= w[c0 + i + 2]; a3 *= w[c0 + i + 3]; }
          if (b) { a0 += b[c0 + i]; a1 += b[c0 + i + 1]; a2 += b[c0 + i + 2]; a3 += b[c0 + i + 3]; }
          y[p] = a0; y[p + 1] = a1; y[p + 2] = a2; y[p + 3] = a3;
        }
        for (; i < cg; i++, p++) y[p] = (x[p] - m) * (w ? w[c0 + i] * rs : rs) + (b ? b[c0 + i] : 0);
        continue;
      }
      for (let i = 0; i < cg; i++) {
        scale[i] = w ? w[c0 + i] * rs : rs;
        shift[i] = b ? b[c0 + i] : 0;
      }
      for (let i = 0, p = (n * C + c0) * S; i < cg; i++, p += S) {
        const a = scale[i], d = shift[i];
        for (let s = 0; s < S; s++) y[p + s] = (x[p + s] - m) * a + d;
      }
    }
  }
}

// Channels-last ([N, S, C]): a sample is S rows of C channels, a group cg adjacent channels of every row. Each
// sample is swept whole, in blocks of rows channel by channel (./columns.ts), rather than group by
// group: a group's strided slice of every row was 1.1-2.6x slower to visit. Element (s, c) of sample n is at
// (n·S + s)·C + c.

/**
 * Per-group mean and biased variance of sample n in one pass: each channel's sums of deviations from its
 * group's shift (the mean of the group's first 16 values) and of their squares, added up per group. As in
 * src/js/batchNorm.ts's channelMoments(), such a shift is at most sqrt(count / 16) standard deviations from
 * the mean, so in double no second pass is needed.
 */
function sampleGroupMoments(x: F32, n: number, C: number, S: number, G: number, gm: Float64Array, gv: Float64Array,
  shift: Float64Array, dev: Float64Array, sq: Float64Array): void {
  const cg = C / G, o = n * S * C, count = cg * S, head = Math.min(count, 16);
  for (let g = 0; g < G; g++) {
    let t = 0;
    for (let k = 0; k < head; k++) t += x[o + Math.floor(k / cg) * C + g * cg + (k % cg)];
    for (let i = 0; i < cg; i++) shift[g * cg + i] = t / head;
  }
  columnDeviationSums(x, o, S, C, shift, dev, sq);
  for (let g = 0; g < G; g++) {
    let d1 = 0, d2 = 0;
    for (let c = g * cg; c < (g + 1) * cg; c++) { d1 += dev[c]; d2 += sq[c]; }
    const off = d1 / count, v = d2 / count - off * off;
    gm[g] = shift[g * cg] + off;
    gv[g] = v > 0 || Number.isNaN(v) ? v : 0;
  }
}

function groupNormChannelsLast(N: number, C: number, S: number, G: number, x: F32, w: F32 | null, b: F32 | null,
  eps: number, y: F32, mean: F32 | null, rstd: F32 | null): void {
  const cg = C / G;
  const gm = new Float64Array(G), gv = new Float64Array(G);
  const shift = new Float64Array(C), dev = new Float64Array(C), sq = new Float64Array(C);
  const cm = new Float64Array(C), scale = new Float64Array(C), bias = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    sampleGroupMoments(x, n, C, S, G, gm, gv, shift, dev, sq);
    for (let g = 0; g < G; g++) {
      const rs = 1 / Math.sqrt(gv[g] + eps);
      if (mean) mean[n * G + g] = gm[g];
      if (rstd) rstd[n * G + g] = rs;
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        cm[c] = gm[g];
        scale[c] = w ? w[c] * rs : rs;
        bias[c] = b ? b[c] : 0;
      }
    }
    columnAffine(x, y, n * S * C, S, C, cm, scale, bias);
  }
}

// With g = dy·w[c] and xhat = (x - mean)·rstd over a group of M elements:
//   dx = rstd·(g - Σg/M - xhat·Σ(g·xhat)/M),  dw[c] = Σ dy·xhat,  db[c] = Σ dy.
export function groupNormBackward(N: number, C: number, S: number, G: number, channelsLast: boolean, dy: F32,
  x: F32, mean: F32, rstd: F32, w: F32 | null, dx: F32 | null, dw: F32 | null, db: F32 | null): void {
  const dwAcc = new Float64Array(C), dbAcc = new Float64Array(C);
  if (C * S > 0) {
    if (channelsLast) groupNormBackwardChannelsLast(N, C, S, G, dy, x, mean, rstd, w, dx, dwAcc, dbAcc);
    else groupNormBackwardChannelsFirst(N, C, S, G, dy, x, mean, rstd, w, dx, dwAcc, dbAcc);
  }
  if (dw) dw.set(dwAcc);
  if (db) db.set(dbAcc);
}

/** The channels-first backward, group by group (each a contiguous run); adds the dw/db terms into dwAcc/dbAcc. */
function groupNormBackwardChannelsFirst(N: number, C: number, S: number, G: number, dy: F32, x: F32, mean: F32,
  rstd: F32, w: F32 | null, dx: F32 | null, dwAcc: Float64Array, dbAcc: Float64Array): void {
  const cg = C / G, M = cg * S;
  const sumDy = new Float64Array(cg), sumDyXh = new Float64Array(cg);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const c0 = g * cg, rs = rstd[n * G + g], o = (n * C + c0) * S;
      let m = mean[n * G + g];
      if (refinesMean(m, rs)) {
        let dev = 0;
        for (let p = o; p < o + M; p++) dev += x[p] - m;
        m = refinedMean(m, dev, M);
      }
      let sg = 0, sgxh = 0;
      if (S === 1) {  // one position a channel: one flat loop (as the forward's; the backward 1.25-1.6x)
        for (let i = 0, p = o; i < cg; i++, p++) {
          const d = dy[p], wc = w ? w[c0 + i] : 1, dxh = d * (x[p] - m) * rs;
          sg += wc * d; sgxh += wc * dxh;
          dwAcc[c0 + i] += dxh;
          dbAcc[c0 + i] += d;
        }
      } else {
        for (let i = 0, p = o; i < cg; i++, p += S) {
          let s1 = 0, s2 = 0;  // in locals: a typed-array element updated per element measured 1.4x slower
          for (let s = 0; s < S; s++) {
            const d = dy[p + s];
            s1 += d; s2 += d * (x[p + s] - m);
          }
          sumDy[i] = s1; sumDyXh[i] = s2 * rs;
        }
        for (let i = 0; i < cg; i++) {
          const wc = w ? w[c0 + i] : 1;
          sg += wc * sumDy[i]; sgxh += wc * sumDyXh[i];
          dwAcc[c0 + i] += sumDyXh[i];
          dbAcc[c0 + i] += sumDy[i];
        }
      }
      if (!dx) continue;
      const k1 = (rs * sg) / M, k2 = (rs * sgxh) / M;
      if (S === 1) {
        for (let i = 0, p = o; i < cg; i++, p++)
          dx[p] = dy[p] * ((w ? w[c0 + i] : 1) * rs) - ((x[p] - m) * rs * k2 + k1);
      } else {
        for (let i = 0; i < cg; i++) {
          const a = (w ? w[c0 + i] : 1) * rs;
          for (let s = 0, p = o + i * S; s < S; s++, p++) dx[p] = dy[p] * a - ((x[p] - m) * rs * k2 + k1);
        }
      }
    }
  }
}

/** The channels-last backward, sample by sample; adds each sample's dw/db terms into dwAcc/dbAcc. */
function groupNormBackwardChannelsLast(N: number, C: number, S: number, G: number, dy: F32, x: F32, mean: F32,
  rstd: F32, w: F32 | null, dx: F32 | null, dwAcc: Float64Array, dbAcc: Float64Array): void {
  const cg = C / G, M = cg * S;
  const gm = new Float64Array(G), cm = new Float64Array(C), dev = new Float64Array(C), sq = new Float64Array(C);
  const sumDy = new Float64Array(C), sumDyXm = new Float64Array(C);
  const a = new Float64Array(C), k2 = new Float64Array(C), k1 = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const o = n * S * C;
    let far = false;
    for (let g = 0; g < G; g++) {
      gm[g] = mean[n * G + g];
      far = far || refinesMean(gm[g], rstd[n * G + g]);
      for (let c = g * cg; c < (g + 1) * cg; c++) cm[c] = gm[g];
    }
    if (far) {  // the float means of groups far from zero, corrected from the data (see refinesMean())
      columnDeviationSums(x, o, S, C, cm, dev, sq);
      for (let g = 0; g < G; g++) {
        if (!refinesMean(gm[g], rstd[n * G + g])) continue;
        let d1 = 0;
        for (let c = g * cg; c < (g + 1) * cg; c++) d1 += dev[c];
        gm[g] = refinedMean(gm[g], d1, M);
        for (let c = g * cg; c < (g + 1) * cg; c++) cm[c] = gm[g];
      }
    }
    columnGradSums(dy, x, o, S, C, cm, sumDy, sumDyXm);
    for (let g = 0; g < G; g++) {
      const rs = rstd[n * G + g];
      let sg = 0, sgxh = 0;
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        const wc = w ? w[c] : 1, xh = sumDyXm[c] * rs;
        sg += wc * sumDy[c]; sgxh += wc * xh;
        dwAcc[c] += xh;
        dbAcc[c] += sumDy[c];
      }
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        a[c] = (w ? w[c] : 1) * rs;
        k2[c] = (rs * rs * sgxh) / M;
        k1[c] = (rs * sg) / M;
      }
    }
    if (dx) columnBackward(dy, x, dx, o, S, C, cm, a, k2, k1);
  }
}
