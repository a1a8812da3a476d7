// RMSNorm in float64, straight from the definition.

export function refRmsNorm(x: ArrayLike<number>, rows: number, cols: number, w: ArrayLike<number> | null, eps: number) {
  const y = new Float64Array(rows * cols), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let j = 0; j < cols; j++) q += x[r * cols + j] ** 2;
    const rs = 1 / Math.sqrt(q / cols + eps);
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) y[r * cols + j] = x[r * cols + j] * rs * (w ? w[j] : 1);
  }
  return { y, rstd };
}

export function refRmsNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, rows: number, cols: number,
  w: ArrayLike<number> | null, eps: number) {
  const { rstd } = refRmsNorm(x, rows, cols, w, eps);
  const dx = new Float64Array(rows * cols), dw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let sgx = 0;
    for (let j = 0; j < cols; j++) sgx += dy[r * cols + j] * (w ? w[j] : 1) * x[r * cols + j];
    const rs = rstd[r];
    for (let j = 0; j < cols; j++) {
      const g = dy[r * cols + j] * (w ? w[j] : 1);
      dx[r * cols + j] = rs * g - x[r * cols + j] * rs ** 3 * sgx / cols;
      dw[j] += dy[r * cols + j] * x[r * cols + j] * rs;
    }
  }
  return { dx, dw };
}
