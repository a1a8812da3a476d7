import { describe, expect, it } from 'vitest';

import { atOffset, maxAbs, nk, numericGrad, relError, rng, targets } from './helpers';
import { refLayerNorm } from './ref/layerNorm';
import { at, refGroupNorm, refGroupNormBackward } from './ref/groupNorm';

type Layout = 'NCHW' | 'NHWC';
const layouts: Layout[] = ['NCHW', 'NHWC'];

// [N, C, *spatial] (logical) and numGroups: no spatial dims to three, sizes off every SIMD width, one-channel
// groups (instance), one group (layer), groups of 3 and 17 channels, groups wider than a channels-last unit,
// groups of 12000 floats (more than L1 holds: the second sweep runs backwards, see for_vectors()), and
// short channels in whole batches of 16 groups and more with some left over (statistics side by side), and
// groups of one and two floats (their own loop in group_norm.inl).
const cases: [number[], number][] = [
  [[2, 4], 2], [[3, 6, 5], 3], [[2, 8, 7, 7], 4], [[2, 32, 17], 8], [[1, 12, 3, 3, 3], 12], [[2, 20, 33], 1],
  [[0, 8, 4], 2], [[2, 96, 5, 7], 32], [[1, 136, 9], 8], [[2, 256, 3], 2], [[1, 300, 4], 1], [[2, 64, 1], 4],
  [[1, 80, 100], 80], [[2, 40, 2, 3], 10], [[2, 4, 60, 50], 1], [[40, 64], 4], [[17, 24, 3], 6], [[9, 256, 2], 2],
  [[5, 12], 12], [[7, 6], 3], [[3, 10, 2], 10],
];

/** The shape as the op takes it: [N, C, *spatial] for NCHW, [N, *spatial, C] for NHWC. */
function shapeIn(logical: number[], layout: Layout): number[] {
  return layout === 'NCHW' ? logical : [logical[0], ...logical.slice(2), logical[1]];
}
function dims(logical: number[]) {
  return { N: logical[0], C: logical[1], S: logical.slice(2).reduce((a, b) => a * b, 1) };
}

describe('reference GroupNorm gradients match finite differences (float64)', () => {
  for (const layout of layouts) {
    it(`dx, dw, db (${layout})`, () => {
      const r = rng(11), N = 2, C = 6, S = 3, G = 3, cl = layout === 'NHWC';
      const x = Float64Array.from(r.normals(N * C * S, 0.5, 2)), w = Float64Array.from(r.normals(C, 1, 0.3));
      const b = Float64Array.from(r.normals(C)), dy = Float64Array.from(r.normals(N * C * S));
      const g = refGroupNormBackward(dy, x, N, C, S, G, w, 1e-5, cl);
      const f = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => refGroupNorm(xx, N, C, S, G, ww, bb, 1e-5, cl).y;
      expect(relError(g.dx, numericGrad(x, dy, (p) => f(p, w, b)))).toBeLessThan(1e-6);
      expect(relError(g.dw, numericGrad(w, dy, (p) => f(x, p, b)))).toBeLessThan(1e-6);
      expect(relError(g.db, numericGrad(b, dy, (p) => f(x, w, p)))).toBeLessThan(1e-6);
    });
  }
});

for (const t of targets()) {
  describe(`groupNorm on ${t.name}`, () => {
    it('matches the float64 reference within 1e-5, both layouts, with and without weight/bias', () => {
      t.use();
      const r = rng(12);
      for (const layout of layouts) {
        for (const [logical, G] of cases) {
          const { N, C, S } = dims(logical), cl = layout === 'NHWC';
          const x = r.normals(N * C * S, 0.3, 1.7), w = r.normals(C, 1, 0.2), b = r.normals(C, 0, 0.5);
          for (const [wt, bs] of [[w, b], [null, null], [w, null], [null, b]] as const) {
            const got = nk.groupNorm(x, shapeIn(logical, layout), G, { weight: wt, bias: bs, layout });
            const ref = refGroupNorm(x, N, C, S, G, wt, bs, 1e-5, cl);
            const what = `${layout} ${logical} G=${G}`;
            expect([got.output.length, got.mean.length, got.rstd.length], what).toEqual([N * C * S, N * G, N * G]);
            if (N === 0) continue;
            expect(relError(got.output, ref.y), what).toBeLessThan(1e-5);
            expect(relError(got.mean, ref.mean, 1.7), what).toBeLessThan(1e-6); // relative to the spread
            expect(relError(got.rstd, ref.rstd), what).toBeLessThan(1e-5);
          }
        }
      }
    });

    it('stays exact on hard groups: large offsets, tiny spread, constant groups, magnitudes 1e20', () => {
      t.use();
      // S = 3 and 1: channels shorter than kShortRun, swept per group (group_norm.inl), 36 groups so that
      // their statistics also go 8 or 16 groups at a time; and groups of one and two floats.
      for (const [S, G] of [[50, 6], [3, 6], [1, 6], [1, 48], [1, 24], [2, 48]]) {
        const r = rng(13), N = S < 32 ? 6 : 2, C = 48;
        const kinds: [string, (c: number, s: number) => number][] = [
          ['1e4 + N(0, 1e-2)', () => 1e4 + 1e-2 * r.normal()],
          ['3e5 + N(0, 1)', () => 3e5 + r.normal()],
          ['1e20 * N(0, 1)', () => 1e20 * r.normal()],
          ['constant 7.25', () => 7.25],
          ['constant -3e30', () => -3e30],
          ['1e20 + N(0, 1e14)', () => 1e20 + 1e14 * r.normal()],
          ['channel offsets 1e4 * c + N(0, 0.1)', (c) => 1e4 * c + 0.1 * r.normal()],
          ['sorted ramp 0..1e6 over positions', (c, s) => (s * 1e6) / S + c],
          ['outlier at the first positions', (c, s) => (s < 4 ? 1e6 : r.normal())],
          ['[40000..40003] repeated', (c, s) => 40000 + ((c + s) % 4)],
          ['every other group 1e4 + N(0, 1e-2), the rest N(0, 1)', (c) => (((c * G) / C | 0) % 2 ? 1e4 + 1e-2 * r.normal() : r.normal())],
        ];
        const w = r.normals(C, 1, 0.1), b = r.normals(C, 0, 0.1);
        for (const layout of layouts) {
          const cl = layout === 'NHWC', idx = at(N, C, S, cl);
          for (const [name, gen] of kinds) {
            const x = new Float32Array(N * C * S);
            for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) x[idx(n, c, s)] = gen(c, s);
            const got = nk.groupNorm(x, shapeIn([N, C, S], layout), G, { weight: w, bias: b, layout });
            const ref = refGroupNorm(x, N, C, S, G, w, b, 1e-5, cl);
            const what = `${layout} S=${S} G=${G} ${name}`;
            expect(got.output.every(Number.isFinite), what).toBe(true);
            expect(relError(got.output, ref.y), what).toBeLessThan(2e-5);
            expect(relError(got.mean, ref.mean), what).toBeLessThan(1e-6);
            expect(relError(got.rstd, ref.rstd), what).toBeLessThan(1e-5);
          }
        }
      }
    });

    // As LayerNorm's: the saved float mean is off by up to half an ulp, 5% of the spread at 1e4 + N(0, 1e-2);
    // the backward measures that rounding on the data, groups in the same tensor hard or not.
    it('backward stays exact on hard groups, from the float mean and rstd the forward saved', () => {
      t.use();
      // S = 5 and 1: channels shorter than kShortRun, swept per group (group_norm.inl); groups of one and two
      // floats.
      for (const [S, G] of [[60, 6], [5, 6], [1, 6], [1, 24], [1, 12], [2, 24]]) {
        const r = rng(32), N = 2, C = 24;
        const kinds: [string, (g: number) => number][] = [
          ['1e4 + N(0, 1e-2)', () => 1e4 + 1e-2 * r.normal()],
          ['3e5 + N(0, 1)', () => 3e5 + r.normal()],
          ['-1e3 + N(0, 1e-3)', () => -1e3 + 1e-3 * r.normal()],
          ['every other group 1e4 + N(0, 1e-2), the rest N(0, 1)', (g) => (g % 2 ? 1e4 + 1e-2 * r.normal() : r.normal())],
        ];
        const w = r.normals(C, 1, 0.1);
        for (const layout of layouts) {
          const cl = layout === 'NHWC', idx = at(N, C, S, cl), shape = shapeIn([N, C, S], layout);
          for (const [name, gen] of kinds) {
            const x = new Float32Array(N * C * S), dy = r.normals(N * C * S);
            for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) x[idx(n, c, s)] = gen((c * G) / C | 0);
            const { mean, rstd } = nk.groupNorm(x, shape, G, { weight: w, layout });
            const g = nk.groupNormBackward(dy, x, shape, G, { mean, rstd, weight: w, layout });
            const ref = refGroupNormBackward(dy, x, N, C, S, G, w, 1e-5, cl);
            const what = `${layout} S=${S} G=${G} ${name}`;
            // Groups of one or two floats: dx cancels to (nearly) 0, so its error is measured against the
            // terms that cancel, |dy · w · rstd|, as in the reference comparison.
            const terms = (C / G) * S <= 2 ? maxAbs(dy) * maxAbs(w) * maxAbs(rstd) : undefined;
            expect(relError(g.gradInput!, ref.dx, terms), what).toBeLessThan(1e-5);
            expect(relError(g.gradWeight!, ref.dw, maxAbs(dy)), what).toBeLessThan(1e-5);
            expect(relError(g.gradBias!, ref.db), what).toBeLessThan(1e-5);
          }
        }
      }
    });

    it('NaN and Inf spoil only their own group', () => {
      t.use();
      const r = rng(14), N = 5, C = 8, S = 10, G = 4; // 20 groups: some go 8 or 16 at a time (short channels)
      for (const layout of layouts) {
        const idx = at(N, C, S, layout === 'NHWC');
        const x = r.normals(N * C * S);
        x[idx(1, 5, 3)] = NaN; // group (1, 2)
        x[idx(0, 0, 9)] = Infinity; // group (0, 0)
        const { output, mean } = nk.groupNorm(x, shapeIn([N, C, S], layout), G, { layout });
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < C; c++) {
            const g = c >> 1;
            const vals = Array.from({ length: S }, (_, s) => output[idx(n, c, s)]);
            if (n === 1 && g === 2) expect(vals.every(Number.isNaN), `${layout} ${n} ${c}`).toBe(true);
            else if (n === 0 && g === 0) expect(vals.some(Number.isNaN), `${layout} ${n} ${c}`).toBe(true);
            else expect(vals.every(Number.isFinite), `${layout} ${n} ${c}`).toBe(true);
          }
        }
        expect(Number.isNaN(mean[1 * G + 2])).toBe(true);
        expect(Number.isFinite(mean[1 * G + 1]) && Number.isFinite(mean[1 * G + 3])).toBe(true);
      }
      // Groups of one and two floats: [6, 8], NaN at (2, 5), Inf at (4, 0).
      for (const G of [8, 4]) {
        const x = r.normals(48), per = 8 / G, spoilt = new Set([2 * G + ((5 / per) | 0), 4 * G]);
        x[2 * 8 + 5] = NaN;
        x[4 * 8] = Infinity;
        const { output, mean, rstd } = nk.groupNorm(x, [6, 8], G);
        const dx = nk.groupNormBackward(r.normals(48), x, [6, 8], G, { mean, rstd }).gradInput!;
        for (let i = 0; i < 48; i++) {
          const k = ((i / 8) | 0) * G + (((i % 8) / per) | 0);
          expect([Number.isNaN(output[i]), Number.isNaN(dx[i])], `G=${G} element ${i}`).toEqual([spoilt.has(k), spoilt.has(k)]);
        }
      }
    });

    it('one group is LayerNorm over (C, *spatial); InstanceNorm is one group per channel', () => {
      t.use();
      const r = rng(15), N = 3, C = 10, S = 21;
      const x = r.normals(N * C * S, 2, 3), w = r.normals(C, 1, 0.3), b = r.normals(C);
      const gn = nk.groupNorm(x, [N, C, 3, 7], 1, { weight: w, bias: b });
      const wFull = new Float32Array(C * S), bFull = new Float32Array(C * S);
      for (let c = 0; c < C; c++) { wFull.fill(w[c], c * S, (c + 1) * S); bFull.fill(b[c], c * S, (c + 1) * S); }
      const ln = nk.layerNorm(x, [N, C, 3, 7], [C, 3, 7], { weight: wFull, bias: bFull });
      expect(relError(gn.output, ln.output)).toBeLessThan(1e-6);
      expect(relError(gn.mean, ln.mean, 3)).toBeLessThan(1e-7);
      expect(relError(gn.rstd, ln.rstd)).toBeLessThan(1e-6);
      expect(relError(gn.output, refLayerNorm(x, N, C * S, wFull, bFull, 1e-5).y)).toBeLessThan(1e-5);

      for (const layout of layouts) {
        const shape = shapeIn([N, C, 3, 7], layout);
        const inst = nk.instanceNorm(x, shape, { weight: w, bias: b, layout });
        const byGroups = nk.groupNorm(x, shape, C, { weight: w, bias: b, layout });
        expect(inst.output).toEqual(byGroups.output);
        expect(inst.mean.length).toBe(N * C);
        const ref = refGroupNorm(x, N, C, S, C, w, b, 1e-5, layout === 'NHWC');
        expect(relError(inst.output, ref.y)).toBeLessThan(1e-5);
        const dy = r.normals(N * C * S);
        const gi = nk.instanceNormBackward(dy, x, shape, { mean: inst.mean, rstd: inst.rstd, weight: w, layout });
        const gg = nk.groupNormBackward(dy, x, shape, C, { mean: inst.mean, rstd: inst.rstd, weight: w, layout });
        expect(gi).toEqual(gg);
      }
    });

    it('empty groups (no positions) give NaN statistics and zero parameter gradients; [N, C] instance norm gives the bias', () => {
      t.use();
      for (const layout of layouts) {
        const f = nk.groupNorm(new Float32Array(0), shapeIn([2, 4, 0], layout), 2, { layout });
        expect(Array.from(f.mean).every(Number.isNaN) && f.mean.length === 4).toBe(true);
        const g = nk.groupNormBackward(new Float32Array(0), new Float32Array(0), shapeIn([2, 4, 0], layout), 2,
          { mean: f.mean, rstd: f.rstd, layout, outputMask: [true, true, true] });
        expect(Array.from(g.gradWeight!)).toEqual([0, 0, 0, 0]);
        const b = new Float32Array([0.5, -2]);
        expect(Array.from(nk.instanceNorm(new Float32Array([3, 1e6, -4, 8]), [2, 2], { bias: b, layout }).output)).toEqual([0.5, -2, 0.5, -2]);
      }
    });

    it('writes into caller-provided outputs, works in place, never modifies its inputs; async agrees', async () => {
      t.use();
      const r = rng(16), N = 2, C = 24, S = 30, G = 6;
      for (const layout of layouts) {
        const shape = shapeIn([N, C, S], layout);
        const x = r.normals(N * C * S, 2, 3), w = r.normals(C), b = r.normals(C);
        const [x0, w0, b0] = [x.slice(), w.slice(), b.slice()];
        const out = { output: new Float32Array(N * C * S), mean: new Float32Array(N * G), rstd: new Float32Array(N * G) };
        const got = nk.groupNorm(x, shape, G, { weight: w, bias: b, layout, out });
        expect(got.output).toBe(out.output);
        expect(got.mean).toBe(out.mean);
        expect(got.rstd).toBe(out.rstd);
        expect([x, w, b]).toEqual([x0, w0, b0]);
        const inPlace = x.slice();
        nk.groupNorm(inPlace, shape, G, { weight: w, bias: b, layout, out: { output: inPlace } });
        expect(inPlace).toEqual(got.output);
        const asy = await nk.groupNormAsync(x, shape, G, { weight: w, bias: b, layout });
        expect(asy).toEqual({ output: got.output, mean: got.mean, rstd: got.rstd });
        const inst = await nk.instanceNormAsync(x, shape, { layout });
        expect(inst).toEqual(nk.instanceNorm(x, shape, { layout }));

        const dy = r.normals(N * C * S), dy0 = dy.slice();
        const opts = { mean: got.mean, rstd: got.rstd, weight: w, layout };
        const g = nk.groupNormBackward(dy, x, shape, G, opts);
        expect(await nk.groupNormBackwardAsync(dy, x, shape, G, opts)).toEqual(g);
        expect(await nk.instanceNormBackwardAsync(dy, x, shape, { ...opts, mean: inst.mean, rstd: inst.rstd }))
          .toEqual(nk.instanceNormBackward(dy, x, shape, { ...opts, mean: inst.mean, rstd: inst.rstd }));
        expect([dy, x]).toEqual([dy0, x0]);
      }
    });

    it('backward matches the float64 reference within 1e-4, both layouts, every output mask', () => {
      t.use();
      const r = rng(17);
      for (const layout of layouts) {
        for (const [logical, G] of cases) {
          const { N, C, S } = dims(logical), cl = layout === 'NHWC', shape = shapeIn(logical, layout);
          const x = r.normals(N * C * S, -0.7, 1.3), w = r.normals(C, 1, 0.2), dy = r.normals(N * C * S);
          const fwd = nk.groupNorm(x, shape, G, { weight: w, layout });
          const g = nk.groupNormBackward(dy, x, shape, G, { mean: fwd.mean, rstd: fwd.rstd, weight: w, layout });
          const what = `${layout} ${logical} G=${G}`;
          if (N === 0) {
            expect(Array.from(g.gradWeight!), what).toEqual(new Array(C).fill(0));
            continue;
          }
          const ref = refGroupNormBackward(dy, x, N, C, S, G, w, 1e-5, cl);
          // dx is a difference of terms of size |dy · w · rstd| (it cancels to 0 for one-element groups).
          const terms = maxAbs(dy) * maxAbs(w) * maxAbs(fwd.rstd);
          expect(relError(g.gradInput!, ref.dx, terms), what).toBeLessThan(1e-4);
          expect(relError(g.gradWeight!, ref.dw), what).toBeLessThan(1e-4);
          expect(relError(g.gradBias!, ref.db), what).toBeLessThan(1e-4);
          const ref1 = refGroupNormBackward(dy, x, N, C, S, G, null, 1e-5, cl);
          const g1 = nk.groupNormBackward(dy, x, shape, G, { mean: fwd.mean, rstd: fwd.rstd, layout, outputMask: [true, true, true] });
          expect(relError(g1.gradInput!, ref1.dx, maxAbs(dy) * maxAbs(fwd.rstd)), what).toBeLessThan(1e-4);
          expect(relError(g1.gradWeight!, ref1.dw), what).toBeLessThan(1e-4);
        }
        const x = r.normals(240), dy = r.normals(240), w = r.normals(8), shape = shapeIn([3, 8, 10], layout);
        const { mean, rstd } = nk.groupNorm(x, shape, 4, { weight: w, layout });
        const full = nk.groupNormBackward(dy, x, shape, 4, { mean, rstd, weight: w, layout });
        for (const m of [[true, false, false], [false, true, false], [false, false, true], [false, true, true], [true, true, false]] as const) {
          const g = nk.groupNormBackward(dy, x, shape, 4, { mean, rstd, weight: w, layout, outputMask: m });
          expect([g.gradInput !== null, g.gradWeight !== null, g.gradBias !== null]).toEqual([...m]);
          if (g.gradInput) expect(g.gradInput).toEqual(full.gradInput);
          if (g.gradWeight) expect(g.gradWeight).toEqual(full.gradWeight);
          if (g.gradBias) expect(g.gradBias).toEqual(full.gradBias);
        }
      }
    });

    // Channels-last kernels align on the buffers (columns.inl; see the BatchNorm test of the same name): no
    // result may depend on where any buffer sits.
    it('channels-last results are the same at every buffer alignment', () => {
      t.use();
      const r = rng(12);
      for (const [logical, G] of [[[2, 32, 5], 8], [[3, 16, 2, 3], 4], [[2, 64, 150], 8], [[1, 80, 70], 5]] as [number[], number][]) {
        const shape = shapeIn(logical, 'NHWC'), { N, C, S } = dims(logical), n = N * C * S;
        const x = r.normals(n, 0.5, 1.5), w = r.normals(C, 1, 0.2), b = r.normals(C), dy = r.normals(n);
        const fwd = nk.groupNorm(x, shape, G, { weight: w, bias: b, layout: 'NHWC' });
        const opts = { mean: fwd.mean, rstd: fwd.rstd, weight: w, layout: 'NHWC' as const };
        const base = nk.groupNormBackward(dy, x, shape, G, opts);
        for (let off = 1; off < 16; ++off) {
          const where = `${shape} offset ${off}`;
          const output = new Float32Array(n + off).subarray(off);
          const f = nk.groupNorm(atOffset(x, (off * 5) % 16), shape, G, { weight: w, bias: b, layout: 'NHWC', out: { output } });
          expect(f.mean, where).toEqual(fwd.mean);
          expect(f.rstd, where).toEqual(fwd.rstd);
          expect(output, where).toEqual(fwd.output);
          const gradInput = new Float32Array(n + off).subarray(off);
          const g = nk.groupNormBackward(atOffset(dy, (off * 3) % 16), atOffset(x, (off * 7) % 16), shape, G, { ...opts, out: { gradInput } });
          expect(gradInput, where).toEqual(base.gradInput);
          expect(g.gradWeight, where).toEqual(base.gradWeight);
          expect(g.gradBias, where).toEqual(base.gradBias);
        }
      }
    });

    // Past 16 MiB of data the forward streams its stores, and so does the backward its dx; the backward goes
    // in two passes over the tensor while x and dy stay under 16 MiB (2x64x119x121), else group by group
    // (sample by sample channels-last). Runs are not 64-byte aligned. 520x1040x2x2: channels of 4 positions
    // (the short-channel path, each 1040-byte group streamed after its own unaligned head). 4x64x96x96: 147 KB
    // blocks of 64-byte aligned runs, whose streamed forward asks for the next block during the statistics
    // (AVX-512: prefetch_block_early()).
    it.each([[3, 64, 130, 170], [2, 64, 119, 121], [520, 1040, 2, 2], [4, 64, 96, 96]])('large tensors (streaming stores; one- and two-pass backward) agree with the reference: %ix%ix%ix%i', (N, C, H, W) => {
      t.use();
      const r = rng(18), S = H * W, G = 16;
      const w = r.normals(C), b = r.normals(C);
      for (const layout of layouts) {
        const x = r.normals(N * C * S, 1, 2), dy = r.normals(N * C * S);
        const shape = shapeIn([N, C, H, W], layout);
        const got = nk.groupNorm(x, shape, G, { weight: w, bias: b, layout });
        const ref = refGroupNorm(x, N, C, S, G, w, b, 1e-5, layout === 'NHWC');
        expect(relError(got.output, ref.y), layout).toBeLessThan(1e-5);
        const g = nk.groupNormBackward(dy, x, shape, G, { mean: got.mean, rstd: got.rstd, weight: w, layout });
        const refg = refGroupNormBackward(dy, x, N, C, S, G, w, 1e-5, layout === 'NHWC');
        expect(relError(g.gradInput!, refg.dx, maxAbs(dy) * maxAbs(w) * maxAbs(got.rstd)), layout).toBeLessThan(1e-4);
        expect(relError(g.gradWeight!, refg.dw), layout).toBeLessThan(1e-4);
      }
    });
  });
}

describe('groupNorm argument checks', () => {
  const x = new Float32Array(2 * 6 * 4);
  it('names the argument and what was expected', () => {
    expect(() => nk.groupNorm(x, [2, 6, 4], 4)).toThrow(RangeError);
    expect(() => nk.groupNorm(x, [2, 6, 4], 4)).toThrow(/'numGroups' must be a divisor of the channel count 6/);
    expect(() => nk.groupNorm(x, [2, 4, 6], 4, { layout: 'NHWC' })).toThrow(/channel count 6/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 0)).toThrow(/'numGroups' must be a positive integer/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 1.5)).toThrow(RangeError);
    expect(() => nk.groupNorm(x, [2, 6, 4], '3' as never)).toThrow(TypeError);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { weight: new Float32Array(4) })).toThrow(/'weight' must be a Float32Array of length 6/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { bias: new Float32Array(7) })).toThrow(RangeError);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { weight: new Float64Array(6) as never })).toThrow(TypeError);
    expect(() => nk.groupNorm(new Float64Array(48) as never, [2, 6, 4], 3)).toThrow(/'input' must be a Float32Array/);
    expect(() => nk.groupNorm(x, [2, 6, 5], 3)).toThrow(/'input' must be a Float32Array of length 60/);
    expect(() => nk.groupNorm(x, [48], 1)).toThrow(/'inputShape' must be at least 2 dimension/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { layout: 'NWHC' as never })).toThrow(/'layout' must be one of 'NCHW', 'NHWC'/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { eps: -1 })).toThrow(RangeError);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { out: { mean: new Float32Array(5) } })).toThrow(/'out.mean' must be a Float32Array of length 6/);
    expect(() => nk.groupNorm(x, [2, 6, 4], 3, { out: { output: x.subarray(1) as never } })).toThrow(RangeError);
    expect(() => nk.instanceNorm(x, [2, 6, 4], { weight: new Float32Array(3) })).toThrow(/'weight' must be a Float32Array of length 6/);
    const { mean, rstd } = nk.groupNorm(x, [2, 6, 4], 3);
    expect(() => nk.groupNormBackward(x, x, [2, 6, 4], 2, { mean, rstd })).toThrow(/'options.mean' must be a Float32Array of length 4/);
    expect(() => nk.groupNormBackward(x.subarray(1), x, [2, 6, 4], 3, { mean, rstd })).toThrow(/'gradOutput'/);
    expect(() => nk.groupNormBackward(x, x, [2, 6, 4], 3, { mean, rstd, outputMask: [true] as never })).toThrow(/outputMask/);
    expect(() => nk.groupNormBackward(x, x, [2, 6, 4], 5, { mean, rstd })).toThrow(/numGroups/);
  });

  it('the binding checks again when called directly', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { nativeAddon } = require('../dist/src/backend.js');
    const addon = nativeAddon();
    if (!addon) return;
    const f = () => new Float32Array(48);
    expect(() => addon.groupNorm(2, 6, 4, 4, false, f(), null, null, 1e-5, f(), null, null)).toThrow(/'groups' must be a positive divisor of channels \(6\)/);
    expect(() => addon.groupNorm(2, 6, 4, 0, false, f(), null, null, 1e-5, f(), null, null)).toThrow(RangeError);
    expect(() => addon.groupNorm(2, 6, 4, 3, 0, f(), null, null, 1e-5, f(), null, null)).toThrow(/'channelsLast' must be a boolean/);
    expect(() => addon.groupNorm(2, 6, 4, 3, true, f(), new Float32Array(5), null, 1e-5, f(), null, null)).toThrow(/'weight' must be a Float32Array of length 6/);
    expect(() => addon.groupNorm(2, 6, 5, 3, true, f(), null, null, 1e-5, f(), null, null)).toThrow(/'input' must be a Float32Array of length 60/);
    expect(() => addon.groupNorm(2, 6, 4, 3, true, f(), null, null, 1e-5, f(), new Float32Array(5), null)).toThrow(/'out.mean' must be a Float32Array of length 6/);
    expect(() => addon.groupNormBackward(2, 6, 4, 3, false, f(), f(), new Float32Array(6), new Float32Array(5), null, f(), null, null)).toThrow(/'options.rstd'/);
    const x = f();
    expect(() => addon.groupNormBackward(2, 6, 4, 3, false, f(), x, new Float32Array(6), new Float32Array(6), null, x, null, null)).toThrow(/overlaps/);
    expect(() => addon.groupNormAsync(2, 6, 4, 4, false, f(), null, null, 1e-5, f(), null, null)).toThrow(RangeError);
  });
});
