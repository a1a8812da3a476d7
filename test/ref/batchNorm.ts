// BatchNorm in float64, straight from the definition: the reference every backend is compared with.
// Data is [N, C, S] ('NCHW') or [N, S, C] ('NHWC') in memory; statistics per channel over N * S.

export type Layout = 'NCHW' | 'NHWC';

export function bnIndex(layout: Layout, C: number, S: number) {
  return layout === 'NCHW' ? (i: number, c: number, k: number) => (i * C + c) * S + k : (i: number, c: number, k: number) => (i * S + k) * C + c;
}

/** Per-channel mean and biased variance of the batch, two passes in float64. */
export function refBatchStats(x: ArrayLike<number>, N: number, C: number, S: number, layout: Layout) {
  const at = bnIndex(layout, C, S), mean = new Float64Array(C), variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let i = 0; i < N; i++) for (let k = 0; k < S; k++) s += x[at(i, c, k)];
    const m = s / (N * S);
    let q = 0;
    for (let i = 0; i < N; i++) for (let k = 0; k < S; k++) q += (x[at(i, c, k)] - m) ** 2;
    mean[c] = m; variance[c] = q / (N * S);
  }
  return { mean, variance };
}

export interface RefBnOptions {
  w?: ArrayLike<number> | null;
  b?: ArrayLike<number> | null;
  training: boolean;
  runningMean?: ArrayLike<number> | null;
  runningVar?: ArrayLike<number> | null;
  /** Weight of the batch statistics in the running update. */
  factor?: number;
  eps: number;
  /** Unbiased (PyTorch) or biased (Keras) variance in the running update. */
  unbiased?: boolean;
}

export function refBatchNorm(x: ArrayLike<number>, N: number, C: number, S: number, layout: Layout, o: RefBnOptions) {
  const at = bnIndex(layout, C, S);
  const y = new Float64Array(N * C * S), mean = new Float64Array(C), invstd = new Float64Array(C);
  const runningMean = o.runningMean ? Float64Array.from(o.runningMean) : null;
  const runningVar = o.runningVar ? Float64Array.from(o.runningVar) : null;
  const st = o.training ? refBatchStats(x, N, C, S, layout) : null;
  const count = N * S, f = o.factor ?? 0.1;
  for (let c = 0; c < C; c++) {
    if (st) {
      mean[c] = st.mean[c];
      invstd[c] = 1 / Math.sqrt(st.variance[c] + o.eps);
      const unbiasedVar = (st.variance[c] * count) / ((o.unbiased ?? true) ? count - 1 : count);
      if (runningMean) runningMean[c] = (1 - f) * runningMean[c] + f * st.mean[c];
      if (runningVar) runningVar[c] = (1 - f) * runningVar[c] + f * unbiasedVar;
    } else {
      mean[c] = o.runningMean![c];
      invstd[c] = 1 / Math.sqrt(o.runningVar![c] + o.eps);
    }
    for (let i = 0; i < N; i++)
      for (let k = 0; k < S; k++)
        y[at(i, c, k)] = (x[at(i, c, k)] - mean[c]) * invstd[c] * (o.w ? o.w[c] : 1) + (o.b ? o.b[c] : 0);
  }
  return { y, mean, invstd, runningMean, runningVar };
}

/**
 * Analytic gradients in float64 (checked against finite differences in batchNorm.test.ts). Training: through
 * the batch statistics; inference: the running statistics are constants.
 */
export function refBatchNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, N: number, C: number, S: number, layout: Layout,
  o: { w?: ArrayLike<number> | null; training: boolean; runningMean?: ArrayLike<number>; runningVar?: ArrayLike<number>; eps: number }) {
  const at = bnIndex(layout, C, S), count = N * S;
  const fwd = refBatchNorm(x, N, C, S, layout, { training: o.training, runningMean: o.runningMean, runningVar: o.runningVar, eps: o.eps });
  const dx = new Float64Array(N * C * S), dw = new Float64Array(C), db = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m = fwd.mean[c], r = fwd.invstd[c], w = o.w ? o.w[c] : 1;
    let sdy = 0, sdxh = 0;
    for (let i = 0; i < N; i++)
      for (let k = 0; k < S; k++) {
        const j = at(i, c, k);
        sdy += dy[j]; sdxh += dy[j] * (x[j] - m) * r;
      }
    dw[c] = sdxh; db[c] = sdy;
    for (let i = 0; i < N; i++)
      for (let k = 0; k < S; k++) {
        const j = at(i, c, k), xh = (x[j] - m) * r;
        dx[j] = o.training ? w * r * (dy[j] - sdy / count - (xh * sdxh) / count) : w * r * dy[j];
      }
  }
  return { dx, dw, db };
}
