import { describe, expect, it } from 'vitest';

import { nativeAddon } from '../dist/src/backend.js';
import { atOffset, maxAbs, nk, numericGrad, relError, rng, targets } from './helpers';
import { type Layout, refBatchNorm, refBatchNormBackward } from './ref/batchNorm';

// [N, C, S, spatial dims as listed]: no spatial dims, one, several; sizes off the SIMD width; C > kChunk;
// channels of 9000 floats (more than L1 holds: the second sweep runs backwards, see for_vectors()).
const cases: [number, number, number[]][] = [
  [4, 3, []], [7, 40, []], [2, 5, [1]], [3, 6, [17]], [2, 3, [5, 7]], [2, 20, [3, 11]], [2, 33, [2, 2, 3]],
  [3, 2, [100]], [2, 1100, [3]], [9, 1, [4]], [3, 2, [60, 50]],
];
const layouts: Layout[] = ['NCHW', 'NHWC'];

function shapeOf(N: number, C: number, spatial: number[], layout: Layout): number[] {
  return layout === 'NCHW' ? [N, C, ...spatial] : [N, ...spatial, C];
}
const prod = (a: number[]) => a.reduce((p, q) => p * q, 1);

/**
 * Largest |a - b| / scale element by element, scale = |b| or the size of the terms b was summed from (a
 * running mean (1 - f) * old + f * batch can cancel to ~0). For running stats, which must be exact to float
 * rounding. A reference beyond float range must come out as the same infinity.
 */
function elementRel(a: ArrayLike<number>, b: ArrayLike<number>, terms?: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(Math.fround(b[i]))) { if (a[i] !== Math.fround(b[i])) return Infinity; continue; }
    e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), terms ? terms[i] : 0, 1e-30));
  }
  return e;
}
/** The sizes of the terms of (1 - f) * old + f * batch. */
function updateTerms(old: ArrayLike<number>, batch: ArrayLike<number>, f: number): number[] {
  return Array.from(old, (o, i) => (1 - f) * Math.abs(o) + f * Math.abs(batch[i]));
}

describe('reference BatchNorm gradients match finite differences (float64)', () => {
  for (const layout of layouts) {
    for (const training of [true, false]) {
      it(`${layout}, ${training ? 'training' : 'inference'}: dx, dw, db`, () => {
        const r = rng(11), N = 3, C = 2, S = 4, n = N * C * S;
        const x = Float64Array.from(r.normals(n, 0.5, 2)), w = Float64Array.from(r.normals(C, 1, 0.3));
        const b = Float64Array.from(r.normals(C)), dy = Float64Array.from(r.normals(n));
        const rm = Float64Array.from([0.3, -0.2]), rv = Float64Array.from([1.5, 0.7]);
        const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) =>
          refBatchNorm(xx, N, C, S, layout, { w: ww, b: bb, training, runningMean: rm, runningVar: rv, eps: 1e-5 }).y;
        const g = refBatchNormBackward(dy, x, N, C, S, layout, { w, training, runningMean: rm, runningVar: rv, eps: 1e-5 });
        expect(relError(g.dx, numericGrad(x, dy, (p) => f(p, w, b)))).toBeLessThan(1e-6);
        expect(relError(g.dw, numericGrad(w, dy, (p) => f(x, p, b)))).toBeLessThan(1e-6);
        expect(relError(g.db, numericGrad(b, dy, (p) => f(x, w, p)))).toBeLessThan(1e-6);
      });
    }
  }
});

for (const t of targets()) {
  describe(`batchNorm on ${t.name}`, () => {
    it('training forward matches the float64 reference; running stats updated exactly', () => {
      t.use();
      const r = rng(2);
      for (const layout of layouts) {
        for (const [N, C, spatial] of cases) {
          const shape = shapeOf(N, C, spatial, layout), n = prod(shape), S = prod(spatial);
          const x = r.normals(n, 0.3, 1.7), w = r.normals(C, 1, 0.2), b = r.normals(C, 0, 0.5);
          const rm0 = r.normals(C, 0, 1), rv0 = Float32Array.from(r.normals(C), (v) => 0.5 + v * v);
          for (const [wt, bs] of [[w, b], [null, null], [w, null], [null, b]] as const) {
            const rm = rm0.slice(), rv = rv0.slice();
            const got = nk.batchNorm(x, shape, { weight: wt, bias: bs, runningMean: rm, runningVar: rv, training: true, layout });
            const ref = refBatchNorm(x, N, C, S, layout, { w: wt, b: bs, training: true, runningMean: rm0, runningVar: rv0, factor: 0.1, eps: 1e-5 });
            const what = `${layout} ${shape}`;
            expect(relError(got.output, ref.y), what).toBeLessThan(1e-5);
            expect(relError(got.saveMean, ref.mean, 1.7), what).toBeLessThan(1e-6);
            expect(relError(got.saveInvstd, ref.invstd), what).toBeLessThan(1e-5);
            expect(elementRel(rm, ref.runningMean!, updateTerms(rm0, ref.mean, 0.1)), what).toBeLessThan(1e-6);
            expect(elementRel(rv, ref.runningVar!), what).toBeLessThan(1e-6);
          }
        }
      }
    });

    it('inference forward matches the reference and reports the running stats as saved', () => {
      t.use();
      const r = rng(3);
      for (const layout of layouts) {
        for (const [N, C, spatial] of cases) {
          const shape = shapeOf(N, C, spatial, layout), n = prod(shape), S = prod(spatial);
          const x = r.normals(n, 0.3, 1.7), w = r.normals(C, 1, 0.2), b = r.normals(C, 0, 0.5);
          const rm = r.normals(C, 0.2, 1), rv = Float32Array.from(r.normals(C), (v) => 0.5 + v * v);
          const [rm0, rv0] = [rm.slice(), rv.slice()];
          const got = nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, layout });
          const ref = refBatchNorm(x, N, C, S, layout, { w, b, training: false, runningMean: rm, runningVar: rv, eps: 1e-5 });
          expect(relError(got.output, ref.y), `${layout} ${shape}`).toBeLessThan(1e-5);
          expect(Array.from(got.saveMean)).toEqual(Array.from(rm));
          expect(relError(got.saveInvstd, ref.invstd)).toBeLessThan(1e-6);
          expect([rm, rv]).toEqual([rm0, rv0]); // inference leaves them alone
        }
      }
    });

    it('backward (training and inference) matches the reference for every output mask', () => {
      t.use();
      const r = rng(4);
      for (const layout of layouts) {
        for (const [N, C, spatial] of cases) {
          const shape = shapeOf(N, C, spatial, layout), n = prod(shape), S = prod(spatial);
          const x = r.normals(n, -0.7, 1.3), w = r.normals(C, 1, 0.2), dy = r.normals(n);
          const rm = r.normals(C, 0, 0.5), rv = Float32Array.from(r.normals(C), (v) => 0.5 + v * v);
          const what = `${layout} ${shape}`;
          const fwd = nk.batchNorm(x, shape, { weight: w, training: true, layout });
          const g = nk.batchNormBackward(dy, x, shape, { weight: w, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, layout });
          const ref = refBatchNormBackward(dy, x, N, C, S, layout, { w, training: true, eps: 1e-5 });
          const terms = maxAbs(dy) * maxAbs(w) * maxAbs(fwd.saveInvstd);
          expect(relError(g.gradInput!, ref.dx, terms), what).toBeLessThan(1e-4);
          expect(relError(g.gradWeight!, ref.dw, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          expect(relError(g.gradBias!, ref.db, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          const gi = nk.batchNormBackward(dy, x, shape, { weight: w, runningMean: rm, runningVar: rv, training: false, layout });
          const refi = refBatchNormBackward(dy, x, N, C, S, layout, { w, training: false, runningMean: rm, runningVar: rv, eps: 1e-5 });
          expect(relError(gi.gradInput!, refi.dx), what).toBeLessThan(1e-5);
          expect(relError(gi.gradWeight!, refi.dw, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          expect(relError(gi.gradBias!, refi.db, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          // The backend works out invstd from runningVar and eps: a large eps must reach it.
          const ge = nk.batchNormBackward(dy, x, shape, { weight: w, runningMean: rm, runningVar: rv, eps: 0.25, training: false, layout });
          const refe = refBatchNormBackward(dy, x, N, C, S, layout, { w, training: false, runningMean: rm, runningVar: rv, eps: 0.25 });
          expect(relError(ge.gradInput!, refe.dx), what).toBeLessThan(1e-5);
          expect(relError(ge.gradWeight!, refe.dw, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          for (const training of [true, false]) {
            const base = training ? { saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd } : { runningMean: rm, runningVar: rv, training: false };
            const full = training ? g : gi;
            for (const m of [[true, false, false], [false, true, false], [false, false, true], [false, true, true], [true, true, false]] as const) {
              const gm = nk.batchNormBackward(dy, x, shape, { ...base, weight: w, layout, outputMask: m });
              expect([gm.gradInput !== null, gm.gradWeight !== null, gm.gradBias !== null]).toEqual([...m]);
              if (gm.gradInput) expect(gm.gradInput).toEqual(full.gradInput);
              if (gm.gradWeight) expect(gm.gradWeight).toEqual(full.gradWeight);
              if (gm.gradBias) expect(gm.gradBias).toEqual(full.gradBias);
            }
          }
        }
      }
    });

    it('stays exact on hard channels: large offset + tiny spread, constant, 1e20 magnitudes, outlier first', () => {
      t.use();
      const r = rng(5), N = 6, S = 70, C = 7;
      const gens: ((m: number) => number)[] = [
        () => 1e4 + 1e-2 * r.normal(), () => 3e5 + r.normal(), () => 1e20 * r.normal(), () => 7.25,
        () => -3e30, (m) => (m < 3 ? 1e6 : r.normal()), () => 1e20 + 1e14 * r.normal(),
      ];
      for (const layout of layouts) {
        const shape = layout === 'NCHW' ? [N, C, S] : [N, S, C], n = N * C * S;
        const x = new Float32Array(n), dy = r.normals(n);
        const at = layout === 'NCHW' ? (i: number, c: number, k: number) => (i * C + c) * S + k : (i: number, c: number, k: number) => (i * S + k) * C + c;
        for (let c = 0; c < C; c++) for (let i = 0; i < N; i++) for (let k = 0; k < S; k++) x[at(i, c, k)] = gens[c](i * S + k);
        const w = r.normals(C, 1, 0.1), b = r.normals(C, 0, 0.1);
        const rm = new Float32Array(C), rv = new Float32Array(C).fill(1);
        const got = nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, layout });
        const ref = refBatchNorm(x, N, C, S, layout, { w, b, training: true, runningMean: new Float32Array(C), runningVar: new Float32Array(C).fill(1), eps: 1e-5 });
        expect(got.output.every(Number.isFinite), layout).toBe(true);
        expect(relError(got.output, ref.y), layout).toBeLessThan(2e-5);
        for (let c = 0; c < C; c++) {
          // The mean to within 1e-6 of the channel's spread (a float mean would be off by 5e-2 of it for
          // 1e4 + N(0, 1e-2)), and exactly for a constant channel.
          const std = 1 / ref.invstd[c] ** 2 > 1e-5 ? Math.sqrt(1 / ref.invstd[c] ** 2 - 1e-5) : 0;
          expect(Math.abs(got.saveMean[c] - ref.mean[c]), `mean ${layout} ${c}`).toBeLessThanOrEqual(1e-6 * std + 1e-15 * Math.abs(ref.mean[c]));
          expect(Math.abs(got.saveInvstd[c] - ref.invstd[c]) / ref.invstd[c], `invstd ${layout} ${c}`).toBeLessThan(1e-5);
        }
        expect(elementRel(rm, ref.runningMean!, updateTerms(new Float32Array(C), ref.mean, 0.1))).toBeLessThan(1e-6);
        // 4e-6, not 1e-6: in the outlier-first channel the float sum of squares adds ~5e7-sized terms to a
        // ~3e12 total (each add rounds to 2^17); the invstd check above bounds what reaches the output.
        expect(elementRel(rv, ref.runningVar!)).toBeLessThan(4e-6);
        const g = nk.batchNormBackward(dy, x, shape, { weight: w, saveMean: got.saveMean, saveInvstd: got.saveInvstd, layout });
        const refg = refBatchNormBackward(dy, x, N, C, S, layout, { w, training: true, eps: 1e-5 });
        // Per channel, relative to the channel's terms (the 1e20 channels have invstd ~ 1e-20).
        for (let c = 0; c < C; c++) {
          const idx: number[] = [];
          for (let i = 0; i < N; i++) for (let k = 0; k < S; k++) idx.push(at(i, c, k));
          const gotc = idx.map((j) => g.gradInput![j]), refc = idx.map((j) => refg.dx[j]);
          expect(relError(gotc, refc, maxAbs(dy) * Math.abs(w[c]) * got.saveInvstd[c]), `dx ${layout} channel ${c}`).toBeLessThan(1e-4);
        }
        expect(relError(g.gradWeight!, refg.dw, Math.sqrt(N * S))).toBeLessThan(1e-4);
      }
    });

    // Channels-last normalising takes the folded y = x * a + (b - mean * a) only while every channel's mean is
    // within 8 standard deviations of zero (see fold_columns() in native/kernels/batch_norm.inl).
    it('channels-last: means up to 8 std from zero stay within 2e-6; one far channel keeps every channel exact', () => {
      t.use();
      const r = rng(12), rows = 96, C = 40;
      const sd = Array.from({ length: C }, (_, c) => 0.01 * 3 ** (c % 7));
      const w = r.normals(C, 1, 0.3), b = r.normals(C, 0, 0.5);
      const runningVar = Float32Array.from(sd, (s) => s * s - 1e-5 > 0 ? s * s - 1e-5 : s * s);
      for (const far of [false, true]) {
        // Means at +-7.9 std (inside the bound), or channel 0 at 1e4 with a 1e-2 spread.
        const runningMean = Float32Array.from(sd, (s, c) => (c % 2 ? 7.9 : -7.9) * s);
        if (far) { runningMean[0] = 1e4; runningVar[0] = 1e-4; sd[0] = Math.sqrt(1e-4 + 1e-5); }
        const x = new Float32Array(rows * C);
        for (let i = 0; i < rows; i++) for (let c = 0; c < C; c++) x[i * C + c] = runningMean[c] + sd[c] * r.normal();
        const got = nk.batchNorm(x, [rows, C], { weight: w, bias: b, runningMean, runningVar, layout: 'NHWC' });
        const ref = refBatchNorm(x, rows, C, 1, 'NHWC', { w, b, training: false, runningMean, runningVar, eps: 1e-5 });
        for (let c = 0; c < C; c++) {
          const gotc = Array.from({ length: rows }, (_, i) => got.output[i * C + c]);
          const refc = Array.from({ length: rows }, (_, i) => ref.y[i * C + c]);
          // Relative to the channel's output scale: |w| (x-hat is ~1) plus |b|.
          const bound = far ? 5e-7 : 2e-6; // measured: ~2e-7 (centred, as everywhere), ~4.6e-7 folded at 7.9 std
          expect(relError(gotc, refc, Math.abs(w[c]) + Math.abs(b[c])), `far ${far}, channel ${c}`).toBeLessThan(bound);
        }
      }
    });

    it('channels-last is the transposition of channels-first', () => {
      t.use();
      const r = rng(6), N = 3, C = 5, S = 12;
      const x = r.normals(N * C * S, 1, 2), dy = r.normals(N * C * S), w = r.normals(C);
      const xt = new Float32Array(x.length), dyt = new Float32Array(x.length);
      for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) for (let k = 0; k < S; k++) {
        xt[(i * S + k) * C + c] = x[(i * C + c) * S + k];
        dyt[(i * S + k) * C + c] = dy[(i * C + c) * S + k];
      }
      const a = nk.batchNorm(x, [N, C, 3, 4], { weight: w, training: true });
      const b = nk.batchNorm(xt, [N, 3, 4, C], { weight: w, training: true, layout: 'NHWC' });
      for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) for (let k = 0; k < S; k++)
        expect(b.output[(i * S + k) * C + c]).toBeCloseTo(a.output[(i * C + c) * S + k], 5);
      const ga = nk.batchNormBackward(dy, x, [N, C, 3, 4], { weight: w, saveMean: a.saveMean, saveInvstd: a.saveInvstd });
      const gb = nk.batchNormBackward(dyt, xt, [N, 3, 4, C], { weight: w, saveMean: b.saveMean, saveInvstd: b.saveInvstd, layout: 'NHWC' });
      expect(relError(gb.gradWeight!, ga.gradWeight!)).toBeLessThan(1e-5);
    });

    it('Keras conventions: eps 1e-3, momentum = weight of the old value, biased variance in the update', () => {
      t.use();
      const r = rng(7), N = 5, C = 4, S = 6;
      const x = r.normals(N * C * S, 2, 3), rm0 = r.normals(C), rv0 = new Float32Array(C).fill(2);
      const rm = rm0.slice(), rv = rv0.slice();
      const got = nk.batchNorm(x, [N, S, C], { runningMean: rm, runningVar: rv, training: true, layout: 'NHWC', conventions: 'keras' });
      const ref = refBatchNorm(x, N, C, S, 'NHWC', { training: true, runningMean: rm0, runningVar: rv0, factor: 0.01, eps: 1e-3, unbiased: false });
      expect(relError(got.output, ref.y)).toBeLessThan(1e-5);
      expect(elementRel(rm, ref.runningMean!, updateTerms(rm0, ref.mean, 0.01))).toBeLessThan(1e-6);
      expect(elementRel(rv, ref.runningVar!)).toBeLessThan(1e-6);
      // Not the PyTorch update (which would be unbiased, weight 0.99 on the batch).
      const torchRef = refBatchNorm(x, N, C, S, 'NHWC', { training: true, runningMean: rm0, runningVar: rv0, factor: 0.99, eps: 1e-5 });
      expect(elementRel(rv, torchRef.runningVar!)).toBeGreaterThan(1e-2);
      // An explicit Keras momentum 0.9 keeps 0.9 of the old value; inference uses eps 1e-3.
      const rm2 = rm0.slice(), rv2 = rv0.slice();
      nk.batchNorm(x, [N, S, C], { runningMean: rm2, runningVar: rv2, training: true, layout: 'NHWC', conventions: 'keras', momentum: 0.9 });
      const ref2 = refBatchNorm(x, N, C, S, 'NHWC', { training: true, runningMean: rm0, runningVar: rv0, factor: 0.1, eps: 1e-3, unbiased: false });
      expect(elementRel(rv2, ref2.runningVar!)).toBeLessThan(1e-6);
      const inf = nk.batchNorm(x, [N, S, C], { runningMean: rm, runningVar: rv, layout: 'NHWC', conventions: 'keras' });
      const refInf = refBatchNorm(x, N, C, S, 'NHWC', { training: false, runningMean: rm, runningVar: rv, eps: 1e-3 });
      expect(relError(inf.output, refInf.y)).toBeLessThan(1e-5);
      expect(() => nk.batchNorm(x, [N, S, C], { training: true, layout: 'NHWC', conventions: 'keras', momentum: null })).toThrow(TypeError);
    });

    it('momentum null: a cumulative moving average over numBatchesTracked batches', () => {
      t.use();
      const r = rng(8), N = 4, C = 3, S = 5;
      const rm = new Float32Array(C), rv = new Float32Array(C).fill(1);
      const xs = [0, 1, 2].map(() => r.normals(N * C * S, 1, 2));
      for (let k = 0; k < xs.length; k++)
        nk.batchNorm(xs[k], [N, C, S], { runningMean: rm, runningVar: rv, training: true, momentum: null, numBatchesTracked: k + 1 });
      // With factor 1/k the running values are the plain averages of the batch statistics.
      const stats = xs.map((x) => refBatchNorm(x, N, C, S, 'NCHW', { training: true, runningMean: new Float64Array(C), runningVar: new Float64Array(C), factor: 1, eps: 1e-5 }));
      for (let c = 0; c < C; c++) {
        expect(rm[c]).toBeCloseTo(stats.reduce((s, st) => s + st.runningMean![c], 0) / 3, 5);
        expect(rv[c]).toBeCloseTo(stats.reduce((s, st) => s + st.runningVar![c], 0) / 3, 5);
      }
      expect(() => nk.batchNorm(xs[0], [N, C, S], { runningMean: rm, runningVar: rv, training: true, momentum: null })).toThrow(/numBatchesTracked/);
    });

    it('writes into caller-provided outputs, works in place, never modifies inputs; Async agrees', async () => {
      t.use();
      const r = rng(9), N = 4, C = 6, S = 9;
      for (const layout of layouts) {
        const shape = layout === 'NCHW' ? [N, C, S] : [N, S, C];
        const x = r.normals(N * C * S, 2, 3), w = r.normals(C), b = r.normals(C), dy = r.normals(N * C * S);
        const [x0, w0, b0] = [x.slice(), w.slice(), b.slice()];
        const out = { output: new Float32Array(x.length), saveMean: new Float64Array(C), saveInvstd: new Float32Array(C) };
        const got = nk.batchNorm(x, shape, { weight: w, bias: b, training: true, layout, out });
        expect(got.output).toBe(out.output);
        expect(got.saveMean).toBe(out.saveMean);
        expect([x, w, b]).toEqual([x0, w0, b0]);
        const inPlace = x.slice();
        nk.batchNorm(inPlace, shape, { weight: w, bias: b, training: true, layout, out: { output: inPlace } });
        expect(inPlace).toEqual(got.output);
        const a = await nk.batchNormAsync(x, shape, { weight: w, bias: b, training: true, layout });
        expect(a.output).toEqual(got.output);
        const opts = { weight: w, saveMean: got.saveMean, saveInvstd: got.saveInvstd, layout };
        const g = nk.batchNormBackward(dy, x, shape, opts);
        const ga = await nk.batchNormBackwardAsync(dy, x, shape, opts);
        expect(ga).toEqual(g);
        expect(x).toEqual(x0);
      }
    });

    it('empty batches and zero channels', () => {
      t.use();
      const rm = new Float32Array([1, 2]), rv = new Float32Array([3, 4]);
      const e = nk.batchNorm(new Float32Array(0), [0, 2, 5], { runningMean: rm, runningVar: rv, training: true });
      expect(e.output.length).toBe(0);
      expect(Array.from(rm)).toEqual([1, 2]);
      expect(nk.batchNorm(new Float32Array(0), [4, 0, 3], { training: true }).output.length).toBe(0);
      const g = nk.batchNormBackward(new Float32Array(0), new Float32Array(0), [0, 2], { saveMean: new Float64Array(2), saveInvstd: new Float32Array(2), weight: new Float32Array(2) });
      expect(Array.from(g.gradWeight!)).toEqual([0, 0]);
    });

    // Channels-last kernels align on the buffers (columns.inl): the per-column sums read aligned vectors of
    // the input (the vector across two rows split lane by lane), dx runs as one flat run aligned on the
    // output with the elements before and after its aligned steps in the same vector arithmetic. So no
    // result may depend on where any buffer sits. The shapes span several row blocks of the sums.
    it('channels-last results are the same at every buffer alignment', () => {
      t.use();
      const r = rng(11);
      const shapes = [[3, 16, [5]], [2, 48, [3, 7]], [1, 64, [2]], [5, 8, []], [4, 32, [40]], [2, 80, [50]], [300, 16, []]];
      for (const [N, C, spatial] of shapes as [number, number, number[]][]) {
        const shape = shapeOf(N, C, spatial, 'NHWC'), n = prod(shape);
        const x = r.normals(n, 0.5, 1.5), w = r.normals(C, 1, 0.2), b = r.normals(C), dy = r.normals(n);
        const fwd = nk.batchNorm(x, shape, { weight: w, bias: b, training: true, layout: 'NHWC' });
        const opts = { weight: w, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, layout: 'NHWC' as const };
        const base = nk.batchNormBackward(dy, x, shape, opts);
        const ref = refBatchNormBackward(dy, x, N, C, prod(spatial), 'NHWC', { w, training: true, eps: 1e-5 });
        expect(relError(base.gradInput!, ref.dx, maxAbs(dy) * maxAbs(w) * maxAbs(fwd.saveInvstd))).toBeLessThan(1e-4);
        for (let off = 1; off < 16; ++off) {
          const where = `${shape} offset ${off}`;
          const output = new Float32Array(n + off).subarray(off);
          const f = nk.batchNorm(atOffset(x, (off * 5) % 16), shape, { weight: w, bias: b, training: true, layout: 'NHWC', out: { output } });
          expect(f.saveMean, where).toEqual(fwd.saveMean);
          expect(f.saveInvstd, where).toEqual(fwd.saveInvstd);
          expect(output, where).toEqual(fwd.output);
          const gradInput = new Float32Array(n + off).subarray(off);
          const g = nk.batchNormBackward(atOffset(dy, (off * 3) % 16), atOffset(x, (off * 7) % 16), shape, { ...opts, out: { gradInput } });
          expect(gradInput, where).toEqual(base.gradInput);
          expect(g.gradWeight, where).toEqual(base.gradWeight);
          expect(g.gradBias, where).toEqual(base.gradBias);
        }
      }
    });

    // Channels-first inference streams runs of at least 1 KiB only: 7x7 maps (196-byte runs) at 4x10752 go
    // with plain stores, past the streaming threshold too. 8x32x10000: channels of 320 KB in 40 KB runs, whose
    // streamed training's statistics sweep asks for its next run into L1 (AVX-512).
    it.each([[2, 16, 140000], [4, 10752, 49], [8, 32, 10000]])('large tensors (streaming-store path) agree with the reference: %ix%ix%i', (N, C, S) => {
      t.use();
      const r = rng(10); // 17.9, 16.9 and 10.2 MB of output
      for (const layout of layouts) {
        const shape = layout === 'NCHW' ? [N, C, S] : [N, S, C];
        const x = r.normals(N * C * S, 1, 2), w = r.normals(C), dy = r.normals(N * C * S);
        const runningMean = r.normals(C, 1, 0.5), runningVar = r.normals(C, 4, 1).map(Math.abs);
        const inf = nk.batchNorm(x, shape, { weight: w, runningMean, runningVar, training: false, layout });
        const refInf = refBatchNorm(x, N, C, S, layout, { w, training: false, eps: 1e-5, runningMean, runningVar });
        expect(relError(inf.output, refInf.y)).toBeLessThan(1e-5);
        const got = nk.batchNorm(x, shape, { weight: w, training: true, layout });
        const ref = refBatchNorm(x, N, C, S, layout, { w, training: true, eps: 1e-5 });
        expect(relError(got.output, ref.y)).toBeLessThan(1e-5);
        const g = nk.batchNormBackward(dy, x, shape, { weight: w, saveMean: got.saveMean, saveInvstd: got.saveInvstd, layout });
        const refg = refBatchNormBackward(dy, x, N, C, S, layout, { w, training: true, eps: 1e-5 });
        expect(relError(g.gradInput!, refg.dx, maxAbs(dy) * maxAbs(w) * maxAbs(got.saveInvstd))).toBeLessThan(1e-4);
      }
    });
  });
}

describe('batchNorm argument checks', () => {
  const x = new Float32Array(24), shape = [2, 3, 4];
  it('one value per channel in training is an error, as in PyTorch', () => {
    expect(() => nk.batchNorm(new Float32Array(3), [1, 3], { training: true })).toThrow(/more than 1 value per channel when training/);
    expect(() => nk.batchNorm(new Float32Array(3), [1, 3, 1, 1], { training: true })).toThrow(RangeError);
    // Inference with one value is fine.
    expect(nk.batchNorm(new Float32Array(3), [1, 3], { runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) }).output.length).toBe(3);
  });
  it('names the argument and what was expected', () => {
    expect(() => nk.batchNorm(x, [2, 3, 5], { training: true })).toThrow(/'input' must be a Float32Array of length 30/);
    expect(() => nk.batchNorm(x, shape, { weight: new Float32Array(4), training: true })).toThrow(/'weight' must be a Float32Array of length 3 \(C = 3/);
    expect(() => nk.batchNorm(x, shape, { bias: new Float32Array(2), training: true })).toThrow(RangeError);
    expect(() => nk.batchNorm(x, shape, { runningMean: new Float32Array(4), runningVar: new Float32Array(3), training: true })).toThrow(/'runningMean'/);
    expect(() => nk.batchNorm(x, shape, { runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1), layout: 'NHWC' })).toThrow(/'runningMean' must be a Float32Array of length 4/);
    expect(() => nk.batchNorm(new Float64Array(24) as unknown as Float32Array, shape)).toThrow(TypeError);
    expect(() => nk.batchNorm(x, shape, { weight: new Float64Array(3) as unknown as Float32Array, training: true })).toThrow(/'weight' must be a Float32Array, got a Float64Array/);
    expect(() => nk.batchNorm(x, shape, { layout: 'NWHC' as never })).toThrow(/'layout' must be one of 'NCHW', 'NHWC'/);
    expect(() => nk.batchNorm(x, shape, { conventions: 'tf' as never })).toThrow(/'conventions'/);
    expect(() => nk.batchNorm(x, shape, { training: true, momentum: 1.5 })).toThrow(/'momentum' must be a number in \[0, 1\]/);
    expect(() => nk.batchNorm(x, shape, { training: false })).toThrow(/needs 'runningMean' and 'runningVar'/);
    expect(() => nk.batchNorm(x, [24], { training: true })).toThrow(/at least 2 dimension/);
    expect(() => nk.batchNorm(x, shape, { training: true, out: { saveMean: new Float32Array(3) as unknown as Float64Array } })).toThrow(/'out.saveMean' must be a Float64Array/);
    expect(() => nk.batchNormBackward(x, x, shape, { saveMean: new Float64Array(2), saveInvstd: new Float32Array(3) })).toThrow(/'options.saveMean' must be a Float64Array of length 3/);
    expect(() => nk.batchNormBackward(new Float32Array(23), x, shape, { saveMean: new Float64Array(3), saveInvstd: new Float32Array(3) })).toThrow(/'gradOutput'/);
    expect(() => nk.batchNormBackward(x, x, shape, { training: false })).toThrow(/runningMean/);
    const inference = { training: false, runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) };
    expect(() => nk.batchNormBackward(x, x, shape, { ...inference, runningMean: new Float64Array(3) as never })).toThrow(/'options.runningMean' must be a Float32Array/);
    expect(() => nk.batchNormBackward(x, x, shape, { ...inference, runningVar: new Float32Array(2) })).toThrow(/'options.runningVar' must be a Float32Array of length 3/);
    expect(() => nk.batchNormBackward(x, x, shape, { ...inference, eps: NaN })).toThrow(/'options.eps'/);
    expect(() => nk.batchNorm(x, shape, { training: true, out: { output: x.subarray(1, 25) as Float32Array } })).toThrow(RangeError);
  });
  it('the binding checks lengths and types again when called directly', () => {
    const addon = nativeAddon();
    if (!addon) return;
    const c3 = new Float32Array(3), d3 = new Float64Array(3), y = new Float32Array(24);
    expect(() => addon.batchNorm(2, 3, 4, false, x, new Float32Array(2), null, null, null, true, 0.1, 1e-5, true, y, d3, c3)).toThrow(/'weight' must be a Float32Array of length 3/);
    expect(() => addon.batchNorm(2, 3, 5, false, x, null, null, null, null, true, 0.1, 1e-5, true, y, d3, c3)).toThrow(RangeError);
    expect(() => addon.batchNorm(2, 3, 4, false, x, null, null, null, null, true, 0.1, 1e-5, true, y, c3 as never, c3)).toThrow(/'out.saveMean' must be a Float64Array/);
    expect(() => addon.batchNorm(2, 3, 4, false, x, null, null, null, null, false, 0.1, 1e-5, true, y, d3, c3)).toThrow(/runningMean/);
    expect(() => addon.batchNormBackwardElemt(2, 3, 4, false, x, x, d3, c3, null, d3, new Float64Array(2), 8, y)).toThrow(/'sumDyXmu'/);
    expect(() => addon.batchNormElemt(2, 3, 4, false, x, d3, c3, null, null, x.subarray(0, 24))).not.toThrow();
    // An empty batch straight into the binding (the TypeScript layer never sends one): no read of the empty
    // input, NaN statistics, running statistics left alone, in both layouts.
    for (const channelsLast of [false, true]) {
      const rm = new Float32Array([1, 2, 3]), rv = new Float32Array([4, 5, 6]), sm = new Float64Array(3), si = new Float32Array(3);
      const empty = new Float32Array(0);
      addon.batchNorm(0, 3, 4, channelsLast, empty, null, null, rm, rv, true, 0.1, 1e-5, true, empty, sm, si);
      expect(Array.from(sm).every(Number.isNaN) && Array.from(si).every(Number.isNaN)).toBe(true);
      expect(Array.from(rm)).toEqual([1, 2, 3]);
      expect(Array.from(rv)).toEqual([4, 5, 6]);
      addon.batchNormStats(0, 3, 4, channelsLast, empty, sm, new Float64Array(3));
    }
  });
});
