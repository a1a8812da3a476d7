// LayerNorm on the TypeScript backend: the plan of native/kernels/layer_norm.inl in double precision
// (JavaScript numbers), with the hot loops unrolled by four and nothing allocated per row.
type F32 = Float32Array;

export interface Moments { mean: number; variance: number }

/**
 * Mean and biased variance of x[o, o + n), written into `out` (reused by the caller, so no row allocates).
 * One pass sums the deviations from a shift (the mean of the row's first 16 values, as the native kernels'
 * shift) and their squares, in double; if the shift was more than one standard deviation from the mean, a
 * second pass centres on the mean just found. (With the first value as the shift, a third of ordinary rows
 * took the second pass: LayerNorm forward 4-7% slower.)
 * Centred either way, never E[x^2] - E[x]^2.
 */
export function rowMoments(x: F32, o: number, n: number, out: Moments): void {
  const head = Math.min(n, 16);
  let t = 0;
  for (let j = o; j < o + head; j++) t += x[j];
  const shift = t / head;
  shiftedMoments(x, o, n, shift, out);
  const off = out.mean - shift;
  if (!(off * off <= out.variance) || !Number.isFinite(out.variance)) shiftedMoments(x, o, n, out.mean, out);
  if (out.variance < 0) out.variance = 0;
}

/**
 * The saved mean a backward gets is a float, off by up to half an ulp: 5% of the spread for 1e4 + N(0, 1e-2).
 * Where |mean|·rstd > 8 (as native/kernels/rows.inl's mean_residual()) the backward sums x − mean over the
 * data and takes mean + that residual, when the residual is within a float mean's rounding (else the mean was
 * not this data's, and passes through as given).
 */
export function refinesMean(mean: number, rstd: number): boolean {
  return Math.abs(mean) * rstd > 8;
}
export function refinedMean(mean: number, deviationSum: number, count: number): number {
  const d = deviationSum / count;
  return Math.abs(d) <= Math.abs(mean) * 2 ** -23 ? mean + d : mean;
}

function shiftedMoments(x: F32, o: number, n: number, s: number, out: Moments): void {
  let c0 = 0, c1 = 0, q0 = 0, q1 = 0;
  let j = o;
  const end = o + n, end2 = o + (n & ~1);
  for (; j < end2; j += 2) {
    const d0 = x[j] - s, d1 = x[j + 1] - s;
    c0 += d0; c1 += d1; q0 += d0 * d0; q1 += d1 * d1;
  }
  for (; j < end; j++) {
    const d = x[j] - s;
    c0 += d; q0 += d * d;
  }
  const cm = (c0 + c1) / n;
  out.mean = s + cm;
  out.variance = (q0 + q1) / n - cm * cm;
}

export function layerNorm(rows: number, n: number, x: F32, w: F32 | null, b: F32 | null, eps: number,
  y: F32, mean: F32 | null, rstd: F32 | null): void {
  const mo: Moments = { mean: 0, variance: 0 };
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    rowMoments(x, o, n, mo);
    const m = mo.mean, rs = 1 / Math.sqrt(mo.variance + eps);
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
    // Unrolled by four; V8 hoists the loop-invariant weight/bias tests.
    let j = 0, k = o;
    for (; j + 4 <= n; j += 4, k += 4) {
      let a0 = (x[k] - m) * rs, a1 = (x[k + 1] - m) * rs, a2 = (x[k + 2] - m) * rs, a3 = (x[k + 3] - m) * rs;
      if (w) { a0 *= w[j]; a1 *= w[j + 1]; a2 *= w[j + 2]; a3 *= w[j + 3]; }
      if (b) { a0 += b[j]; a1 += b[j + 1]; a2 += b[j + 2]; a3 += b[j + 3]; }
      y[k] = a0; y[k + 1] = a1; y[k + 2] = a2; y[k + 3] = a3;
    }
    for (; j < n; j++, k++) {
      let a = (x[k] - m) * rs;
      if (w) a *= w[j];
      if (b) a += b[j];
      y[k] = a;
    }
  }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w;  dw = sum dy * xhat;  db = sum dy.
// Rows go in pairs, so that the column sums dw/db are loaded and stored once for both rows, with no test per
// element (a missing weight is ones; the sums are kept even when not wanted). Measured 1.3-1.4x faster at
// 4096x768, 512x4096 and 64x65536 than row by row. An odd last row goes alone.
export function layerNormBackward(rows: number, n: number, dy: F32, x: F32, mean: F32, rstd: F32, w: F32 | null,
  dx: F32 | null, dw: F32 | null, db: F32 | null): void {
  const wv = w ?? new Float32Array(n).fill(1);
  const dwAcc = new Float64Array(n), dbAcc = new Float64Array(n);  // column sums in double, rounded once
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    const o = r * n, o1 = o + n, rs = rstd[r], rs1 = rstd[r + 1];
    const m = rowMean(x, o, n, mean[r], rs), m1 = rowMean(x, o1, n, mean[r + 1], rs1);
    let sg = 0, sgxh = 0, sg1 = 0, sgxh1 = 0;
    for (let j = 0; j < n; j++) {
      const xh = (x[o + j] - m) * rs, xh1 = (x[o1 + j] - m1) * rs1;
      const d = dy[o + j], d1 = dy[o1 + j], wj = wv[j];
      const g = d * wj, g1 = d1 * wj;
      sg += g; sgxh += g * xh;
      sg1 += g1; sgxh1 += g1 * xh1;
      dwAcc[j] += d * xh + d1 * xh1;
      dbAcc[j] += d + d1;
    }
    if (!dx) continue;
    rowGradInput(dy, x, dx, o, n, wv, m, rs, sg, sgxh);
    rowGradInput(dy, x, dx, o1, n, wv, m1, rs1, sg1, sgxh1);
  }
  if (r < rows) {
    const o = r * n, rs = rstd[r], m = rowMean(x, o, n, mean[r], rs);
    let sg = 0, sgxh = 0;
    for (let j = 0; j < n; j++) {
      const xh = (x[o + j] - m) * rs, d = dy[o + j], g = d * wv[j];
      sg += g; sgxh += g * xh;
      dwAcc[j] += d * xh;
      dbAcc[j] += d;
    }
    if (dx) rowGradInput(dy, x, dx, o, n, wv, m, rs, sg, sgxh);
  }
  if (dw) dw.set(dwAcc);
  if (db) db.set(dbAcc);
}

/** The row's mean for the backward: the saved one, corrected from the data where it is far from zero. */
function rowMean(x: F32, o: number, n: number, mean: number, rs: number): number {
  if (!refinesMean(mean, rs)) return mean;
  let dev = 0;
  for (let j = 0; j < n; j++) dev += x[o + j] - mean;
  return refinedMean(mean, dev, n);
}

/** dx of one row from its sums of g and g * xhat. */
function rowGradInput(dy: F32, x: F32, dx: F32, o: number, n: number, w: F32, m: number, rs: number, sg: number,
  sgxh: number): void {
  const k1 = (rs * sg) / n, k2 = (rs * rs * sgxh) / n;
  for (let j = 0; j < n; j++) dx[o + j] = dy[o + j] * w[j] * rs - ((x[o + j] - m) * k2 + k1);
}
