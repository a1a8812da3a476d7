// GroupNorm on the TypeScript backend: the plan of native/kernels/group_norm.inl in double precision.
// Element (n, c, s) is at (n·C + c)·S + s (NCHW) or (n·S + s)·C + c (channels last); a group is C/G
// consecutive channels. Per-channel constants live in arrays allocated once per call, never per group.
import { type Moments, refinedMean, refinesMean, rowMoments } from './layerNorm';

type F32 = Float32Array;

/** Mean and biased variance of a channels-last group: cg channels from `o`, at S positions C floats apart. */
function stridedMoments(x: F32, o: number, cg: number, S: number, C: number, out: Moments): void {
  let sum = 0;
  for (let s = 0, p = o; s < S; s++, p += C) for (let c = 0; c < cg; c++) sum += x[p + c];
  const n = cg * S, m1 = sum / n;
  let d1 = 0, d2 = 0;
  for (let s = 0, p = o; s < S; s++, p += C) {
    for (let c = 0; c < cg; c++) {
      const d = x[p + c] - m1;
      d1 += d; d2 += d * d;
    }
  }
  const cm = d1 / n, variance = d2 / n - cm * cm;
  out.mean = m1 + cm;
  out.variance = variance > 0 || Number.isNaN(variance) ? variance : 0;
}

export function groupNorm(N: number, C: number, S: number, G: number, channelsLast: boolean, x: F32,
  w: F32 | null, b: F32 | null, eps: number, y: F32, mean: F32 | null, rstd: F32 | null): void {
  const cg = C / G, len = cg * S;
  if (len === 0) {
    mean?.fill(NaN);
    rstd?.fill(NaN);
    return;
  }
  const scale = new Float64Array(cg), shift = new Float64Array(cg);
  const mo: Moments = { mean: 0, variance: 0 };
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const c0 = g * cg;
      if (channelsLast) stridedMoments(x, n * S * C + c0, cg, S, C, mo);
      else rowMoments(x, (n * C + c0) * S, len, mo);
      const m = mo.mean, rs = 1 / Math.sqrt(mo.variance + eps);
      if (mean) mean[n * G + g] = m;
      if (rstd) rstd[n * G + g] = rs;
      // y = (x - mean)·scale + shift per channel, scale = w·rstd, shift = b. (x·scale + (b - mean·scale)
      // would lose b next to a large mean.)
      for (let i = 0; i < cg; i++) {
        scale[i] = w ? w[c0 + i] * rs : rs;
        shift[i] = b ? b[c0 + i] : 0;
      }
      if (channelsLast) {
        for (let s = 0, p = n * S * C + c0; s < S; s++, p += C)
          for (let i = 0; i < cg; i++) y[p + i] = (x[p + i] - m) * scale[i] + shift[i];
      } else {
        for (let i = 0, p = (n * C + c0) * S; i < cg; i++, p += S) {
          const a = scale[i], d = shift[i];
          for (let s = 0; s < S; s++) y[p + s] = (x[p + s] - m) * a + d;
        }
      }
    }
  }
}

// With g = dy·w[c] and xhat = (x - mean)·rstd over a group of M elements:
//   dx = rstd·(g - Σg/M - xhat·Σ(g·xhat)/M),  dw[c] = Σ dy·xhat,  db[c] = Σ dy.
export function groupNormBackward(N: number, C: number, S: number, G: number, channelsLast: boolean, dy: F32,
  x: F32, mean: F32, rstd: F32, w: F32 | null, dx: F32 | null, dw: F32 | null, db: F32 | null): void {
  const cg = C / G, M = cg * S;
  const dwAcc = new Float64Array(C), dbAcc = new Float64Array(C);
  const sumDy = new Float64Array(cg), sumDyXh = new Float64Array(cg);
  for (let n = 0; n < N && M > 0; n++) {
    for (let g = 0; g < G; g++) {
      const c0 = g * cg, rs = rstd[n * G + g];
      sumDy.fill(0);
      sumDyXh.fill(0);
      // Element (i, s) of the group is at o + i·cs + s·ss.
      const o = channelsLast ? n * S * C + c0 : (n * C + c0) * S;
      const cs = channelsLast ? 1 : S, ss = channelsLast ? C : 1;
      let m = mean[n * G + g];
      if (refinesMean(m, rs)) {
        let dev = 0;
        for (let i = 0; i < cg; i++) for (let s = 0, p = o + i * cs; s < S; s++, p += ss) dev += x[p] - m;
        m = refinedMean(m, dev, M);
      }
      if (channelsLast) {
        for (let s = 0, p = o; s < S; s++, p += ss)
          for (let i = 0; i < cg; i++) {
            const d = dy[p + i];
            sumDy[i] += d; sumDyXh[i] += d * (x[p + i] - m) * rs;
          }
      } else {
        for (let i = 0, p = o; i < cg; i++, p += cs)
          for (let s = 0; s < S; s++) {
            const d = dy[p + s];
            sumDy[i] += d; sumDyXh[i] += d * (x[p + s] - m) * rs;
          }
      }
      let sg = 0, sgxh = 0;
      for (let i = 0; i < cg; i++) {
        const wc = w ? w[c0 + i] : 1;
        sg += wc * sumDy[i]; sgxh += wc * sumDyXh[i];
        dwAcc[c0 + i] += sumDyXh[i];
        dbAcc[c0 + i] += sumDy[i];
      }
      if (!dx) continue;
      const k1 = (rs * sg) / M, k2 = (rs * sgxh) / M;
      for (let i = 0; i < cg; i++) {
        const a = (w ? w[c0 + i] : 1) * rs;
        for (let s = 0, p = o + i * cs; s < S; s++, p += ss) dx[p] = dy[p] * a - ((x[p] - m) * rs * k2 + k1);
      }
    }
  }
  if (dw) dw.set(dwAcc);
  if (db) db.set(dbAcc);
}
