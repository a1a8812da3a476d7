// LayerNorm in float64, straight from the definition: the reference every backend is compared with.

export function refLayerNorm(x: ArrayLike<number>, rows: number, cols: number, w: ArrayLike<number> | null,
  b: ArrayLike<number> | null, eps: number) {
  const y = new Float64Array(rows * cols), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j];
    const m = s / cols;
    let q = 0;
    for (let j = 0; j < cols; j++) q += (x[r * cols + j] - m) ** 2;
    const rs = 1 / Math.sqrt(q / cols + eps);
    mean[r] = m; rstd[r] = rs;
    for (let j = 0; j < cols; j++)
      y[r * cols + j] = (x[r * cols + j] - m) * rs * (w ? w[j] : 1) + (b ? b[j] : 0);
  }
  return { y, mean, rstd };
}

/** Analytic LayerNorm gradients in float64 (checked against finite differences in layerNorm.test.ts). */
export function refLayerNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, rows: number, cols: number,
  w: ArrayLike<number> | null, eps: number) {
  const { mean, rstd } = refLayerNorm(x, rows, cols, w, null, eps);
  const dx = new Float64Array(rows * cols), dw = new Float64Array(cols), db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let sg = 0, sgx = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[r * cols + j] - mean[r]) * rstd[r];
      const g = dy[r * cols + j] * (w ? w[j] : 1);
      sg += g; sgx += g * xh;
      dw[j] += dy[r * cols + j] * xh;
      db[j] += dy[r * cols + j];
    }
    for (let j = 0; j < cols; j++) {
      const xh = (x[r * cols + j] - mean[r]) * rstd[r];
      const g = dy[r * cols + j] * (w ? w[j] : 1);
      dx[r * cols + j] = rstd[r] * (g - sg / cols - xh * sgx / cols);
    }
  }
  return { dx, dw, db };
}
