// RMSNorm on the TypeScript backend: the plan of native/kernels/rms_norm.inl, in double precision.
type F32 = Float32Array;

export function rmsNorm(rows: number, n: number, x: F32, w: F32 | null, eps: number, y: F32, rstd: F32 | null): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const a = x[o + j], b = x[o + j + 1], c = x[o + j + 2], d = x[o + j + 3];
      q0 += a * a; q1 += b * b; q2 += c * c; q3 += d * d;
    }
    for (; j < n; j++) q0 += x[o + j] * x[o + j];
    const rs = 1 / Math.sqrt((q0 + q1 + q2 + q3) / n + eps);
    if (rstd) rstd[r] = rs;
    let k = o;
    for (j = 0; j + 4 <= n; j += 4, k += 4) {
      let a0 = x[k] * rs, a1 = x[k + 1] * rs, a2 = x[k + 2] * rs, a3 = x[k + 3] * rs;
      if (w) { a0 *= w[j]; a1 *= w[j + 1]; a2 *= w[j + 2]; a3 *= w[j + 3]; }
      y[k] = a0; y[k + 1] = a1; y[k + 2] = a2; y[k + 3] = a3;
    }
    for (; j < n; j++, k++) y[k] = w ? x[k] * rs * w[j] : x[k] * rs;
  }
}

// dx = rstd * g - x * rstd^3 * mean(g * x) with g = dy * w;  dw = sum dy * x * rstd.
// Rows in pairs, with no test per element, as in layerNormBackward() (src/js/layerNorm.ts).
export function rmsNormBackward(rows: number, n: number, dy: F32, x: F32, rstd: F32, w: F32 | null,
  dx: F32 | null, dw: F32 | null): void {
  const wv = w ?? new Float32Array(n).fill(1);
  const dwAcc = new Float64Array(n);
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    const o = r * n, o1 = o + n, rs = rstd[r], rs1 = rstd[r + 1];
    let sgx = 0, sgx1 = 0;
    for (let j = 0; j < n; j++) {
      const d = dy[o + j], xv = x[o + j], d1 = dy[o1 + j], xv1 = x[o1 + j], wj = wv[j];
      sgx += d * wj * xv;
      sgx1 += d1 * wj * xv1;
      dwAcc[j] += d * xv * rs + d1 * xv1 * rs1;
    }
    if (!dx) continue;
    rowGradInput(dy, x, dx, o, n, wv, rs, sgx);
    rowGradInput(dy, x, dx, o1, n, wv, rs1, sgx1);
  }
  if (r < rows) {
    const o = r * n, rs = rstd[r];
    let sgx = 0;
    for (let j = 0; j < n; j++) {
      const d = dy[o + j], xv = x[o + j];
      sgx += d * wv[j] * xv;
      dwAcc[j] += d * xv * rs;
    }
    if (dx) rowGradInput(dy, x, dx, o, n, wv, rs, sgx);
  }
  if (dw) dw.set(dwAcc);
}

function rowGradInput(dy: F32, x: F32, dx: F32, o: number, n: number, w: F32, rs: number, sgx: number): void {
  const k = (rs * rs * rs * sgx) / n;
  for (let j = 0; j < n; j++) dx[o + j] = dy[o + j] * w[j] * rs - x[o + j] * k;
}
