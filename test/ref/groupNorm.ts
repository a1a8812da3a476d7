// GroupNorm in float64, straight from the definition: the reference every backend is compared with.
// Element (n, c, s) of a [N, C, S] tensor is at (n·C + c)·S + s, or (n·S + s)·C + c when channelsLast.

export function at(N: number, C: number, S: number, channelsLast: boolean) {
  return (n: number, c: number, s: number) => (channelsLast ? (n * S + s) * C + c : (n * C + c) * S + s);
}

export function refGroupNorm(x: ArrayLike<number>, N: number, C: number, S: number, G: number,
  w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number, channelsLast = false) {
  const idx = at(N, C, S, channelsLast), cg = C / G, M = cg * S;
  const y = new Float64Array(N * C * S), mean = new Float64Array(N * G), rstd = new Float64Array(N * G);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      let sum = 0;
      for (let c = g * cg; c < (g + 1) * cg; c++) for (let s = 0; s < S; s++) sum += x[idx(n, c, s)];
      const m = sum / M;
      let q = 0;
      for (let c = g * cg; c < (g + 1) * cg; c++) for (let s = 0; s < S; s++) q += (x[idx(n, c, s)] - m) ** 2;
      const rs = 1 / Math.sqrt(q / M + eps);
      mean[n * G + g] = m; rstd[n * G + g] = rs;
      for (let c = g * cg; c < (g + 1) * cg; c++)
        for (let s = 0; s < S; s++)
          y[idx(n, c, s)] = (x[idx(n, c, s)] - m) * rs * (w ? w[c] : 1) + (b ? b[c] : 0);
    }
  }
  return { y, mean, rstd };
}

/** Analytic GroupNorm gradients in float64 (checked against finite differences in groupNorm.test.ts). */
export function refGroupNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, N: number, C: number, S: number,
  G: number, w: ArrayLike<number> | null, eps: number, channelsLast = false) {
  const idx = at(N, C, S, channelsLast), cg = C / G, M = cg * S;
  const { mean, rstd } = refGroupNorm(x, N, C, S, G, null, null, eps, channelsLast);
  const dx = new Float64Array(N * C * S), dw = new Float64Array(C), db = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const m = mean[n * G + g], rs = rstd[n * G + g];
      let sg = 0, sgx = 0;
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        for (let s = 0; s < S; s++) {
          const i = idx(n, c, s), xh = (x[i] - m) * rs, gr = dy[i] * (w ? w[c] : 1);
          sg += gr; sgx += gr * xh;
          dw[c] += dy[i] * xh;
          db[c] += dy[i];
        }
      }
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        for (let s = 0; s < S; s++) {
          const i = idx(n, c, s), xh = (x[i] - m) * rs, gr = dy[i] * (w ? w[c] : 1);
          dx[i] = rs * (gr - sg / M - xh * sgx / M);
        }
      }
    }
  }
  return { dx, dw, db };
}
