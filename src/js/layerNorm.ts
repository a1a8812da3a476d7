// LayerNorm on the TypeScript backend: the same row-by-row plan as native/kernels/layer_norm.inl, in double
// precision (JavaScript numbers), with the loops unrolled by four and nothing allocated per row.
type F32 = Float32Array;

export interface Moments { mean: number; variance: number }

/**
 * Mean and biased variance of x[o, o + n), two centred passes (the second corrects the first's mean),
 * written into `out` (reused by the caller, so that no row allocates).
 */
export function rowMoments(x: F32, o: number, n: number, out: Moments): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += x[o + j]; s1 += x[o + j + 1]; s2 += x[o + j + 2]; s3 += x[o + j + 3];
  }
  for (; j < n; j++) s0 += x[o + j];
  const m1 = (s0 + s1 + s2 + s3) / n;
  let c = 0, q0 = 0, q1 = 0;
  j = 0;
  for (; j + 2 <= n; j += 2) {
    const d0 = x[o + j] - m1, d1 = x[o + j + 1] - m1;
    c += d0 + d1; q0 += d0 * d0; q1 += d1 * d1;
  }
  for (; j < n; j++) {
    const d = x[o + j] - m1;
    c += d; q0 += d * d;
  }
  const cm = c / n;
  const variance = (q0 + q1) / n - cm * cm;
  out.mean = m1 + cm;
  out.variance = variance > 0 || Number.isNaN(variance) ? variance : 0;
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
    if (w && b) for (let j = 0; j < n; j++) y[o + j] = (x[o + j] - m) * rs * w[j] + b[j];
    else if (w) for (let j = 0; j < n; j++) y[o + j] = (x[o + j] - m) * rs * w[j];
    else if (b) for (let j = 0; j < n; j++) y[o + j] = (x[o + j] - m) * rs + b[j];
    else for (let j = 0; j < n; j++) y[o + j] = (x[o + j] - m) * rs;
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
    const m = mean[r], rs = rstd[r];
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
