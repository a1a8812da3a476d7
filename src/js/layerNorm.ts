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
export function layerNormBackward(rows: number, n: number, dy: F32, x: F32, mean: F32, rstd: F32, w: F32 | null,
  dx: F32 | null, dw: F32 | null, db: F32 | null): void {
  // Column sums in double, rounded once at the end.
  const dwAcc = dw ? new Float64Array(n) : null;
  const dbAcc = db ? new Float64Array(n) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const rs = rstd[r];
    let m = mean[r];
    if (refinesMean(m, rs)) {
      let dev = 0;
      for (let j = 0; j < n; j++) dev += x[o + j] - m;
      m = refinedMean(m, dev, n);
    }
    let sg = 0, sgxh = 0;
    for (let j = 0; j < n; j++) {
      const xh = (x[o + j] - m) * rs;
      const d = dy[o + j];
      const g = w ? d * w[j] : d;
      sg += g;
      sgxh += g * xh;
      if (dwAcc) dwAcc[j] += d * xh;
      if (dbAcc) dbAcc[j] += d;
    }
    if (!dx) continue;
    const k1 = (rs * sg) / n, k2 = (rs * rs * sgxh) / n;
    if (w) for (let j = 0; j < n; j++) dx[o + j] = dy[o + j] * w[j] * rs - ((x[o + j] - m) * k2 + k1);
    else for (let j = 0; j < n; j++) dx[o + j] = dy[o + j] * rs - ((x[o + j] - m) * k2 + k1);
  }
  if (dw && dwAcc) dw.set(dwAcc);
  if (db && dbAcc) db.set(dbAcc);
}
