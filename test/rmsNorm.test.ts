import { describe, expect, it } from 'vitest';

import { atOffset, maxAbs, nk, numericGrad, relError, rng, sameBits, targets } from './helpers';
import { refRmsNorm, refRmsNormBackward } from './ref/rmsNorm';

// The same kinds of shape as layerNorm.test.ts (row blocks swept forwards and backwards, single rows).
const shapes: [number[], number[]][] = [
  [[7], [7]], [[3, 1], [1]], [[5, 3], [3]], [[4, 17], [17]], [[9, 768], [768]], [[2, 3, 40], [3, 40]],
  [[0, 16], [16]], [[3, 4099], [4099]], [[6, 1000], [1000]],
  [[5, 20000], [20000]], [[3, 16384], [16384]],  // long rows: backward blocks of 4, of 2, then a single row
  [[17, 768], [768]], [[16, 1024], [1024]], [[17, 2500], [2500]],  // forward row pairs, an odd last row
  [[40, 13], [13]], [[33, 100], [100]], [[2, 17, 32], [32]], [[33, 200], [200]],  // short rows: batches, then the rest
];

describe('reference RMSNorm gradients match finite differences (float64)', () => {
  it('dx, dw', () => {
    const r = rng(11), rows = 3, cols = 6;
    const x = Float64Array.from(r.normals(rows * cols, 0.5, 2)), w = Float64Array.from(r.normals(cols, 1, 0.3));
    const dy = Float64Array.from(r.normals(rows * cols));
    const g = refRmsNormBackward(dy, x, rows, cols, w, 1e-6);
    expect(relError(g.dx, numericGrad(x, dy, (p) => refRmsNorm(p, rows, cols, w, 1e-6).y))).toBeLessThan(1e-6);
    expect(relError(g.dw, numericGrad(w, dy, (p) => refRmsNorm(x, rows, cols, p, 1e-6).y))).toBeLessThan(1e-6);
  });
});

for (const t of targets()) {
  describe(`rmsNorm on ${t.name}`, () => {
    it('matches the float64 reference within 1e-5, default eps = float32 epsilon', () => {
      t.use();
      expect(nk.RMS_NORM_DEFAULT_EPS).toBe(2 ** -23);
      const r = rng(12);
      for (const [shape, norm] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1), cols = norm.reduce((a, b) => a * b, 1), rows = n / cols;
        const x = r.normals(n, 0.3, 1.7), w = r.normals(cols, 1, 0.2);
        for (const wt of [w, null]) {
          const got = nk.rmsNorm(x, shape, norm, { weight: wt });
          if (n === 0) { expect(got.output.length).toBe(0); continue; }
          const ref = refRmsNorm(x, rows, cols, wt, 2 ** -23);
          expect(relError(got.output, ref.y), `${shape}`).toBeLessThan(1e-5);
          expect(relError(got.rstd, ref.rstd)).toBeLessThan(1e-5);
        }
        const e = nk.rmsNorm(x, shape, norm, { eps: 0.5 });
        if (n) expect(relError(e.output, refRmsNorm(x, rows, cols, null, 0.5).y)).toBeLessThan(1e-5);
      }
    });

    // 300 floats: rows in pairs; 7 to 200: short rows, in batches of a vector's lanes (the forward).
    it.each([300, 200, 100, 13, 7])('stays exact on hard rows, and NaN spoils only its row (%i columns)', (cols) => {
      t.use();
      const r = rng(13);
      for (const [name, x] of [
        ['3e5 + N(0, 1)', r.normals(cols, 3e5, 1)], ['1e20 * N(0, 1)', r.normals(cols, 0, 1e20)],
        ['1e-20 * N(0, 1)', r.normals(cols, 0, 1e-20)], ['zeros', new Float32Array(cols)],
        ['constant -3e30', new Float32Array(cols).fill(-3e30)],
      ] as const) {
        const got = nk.rmsNorm(x, [cols], [cols], { eps: 1e-6 });
        const ref = refRmsNorm(x, 1, cols, null, 1e-6);
        expect(got.output.every(Number.isFinite), name).toBe(true);
        expect(relError(got.output, ref.y), name).toBeLessThan(1e-5);
      }
      // Stacked 18 deep, where rows go in pairs.
      const hard = [r.normals(cols, 3e5, 1), r.normals(cols, 0, 1e20), r.normals(cols, 0, 1e-20),
        new Float32Array(cols), new Float32Array(cols).fill(-3e30)];
      const w = r.normals(cols, 1, 0.1), stacked = new Float32Array(18 * cols);
      for (let i = 0; i < 18; ++i) stacked.set(hard[i % hard.length], i * cols);
      const pairs = nk.rmsNorm(stacked, [18, cols], [cols], { weight: w, eps: 1e-6 });
      const ref = refRmsNorm(stacked, 18, cols, w, 1e-6);
      for (let i = 0; i < 18; ++i) {
        const row = (a: Float32Array | Float64Array) => a.subarray(i * cols, (i + 1) * cols);
        expect(relError(row(pairs.output), row(ref.y)), `row ${i} of 18`).toBeLessThan(1e-5);
        expect(relError(pairs.rstd.subarray(i, i + 1), ref.rstd.subarray(i, i + 1)), `row ${i} of 18`).toBeLessThan(1e-5);
      }
      const x = r.normals(20 * cols);
      x[cols + 1] = NaN;
      const { output } = nk.rmsNorm(x, [20, cols], [cols]);
      expect(Array.from(output.subarray(0, cols)).every(Number.isFinite)).toBe(true);
      expect(Array.from(output.subarray(cols, 2 * cols)).every(Number.isNaN)).toBe(true);
      expect(Array.from(output.subarray(2 * cols)).every(Number.isFinite)).toBe(true);
    });

    it('caller-provided outputs, in place, inputs untouched', () => {
      t.use();
      const r = rng(14), x = r.normals(200), w = r.normals(50);
      const [x0, w0] = [x.slice(), w.slice()];
      const out = { output: new Float32Array(200), rstd: new Float32Array(4) };
      const got = nk.rmsNorm(x, [4, 50], 50, { weight: w, out });
      expect(got.output).toBe(out.output);
      expect(got.rstd).toBe(out.rstd);
      expect([x, w]).toEqual([x0, w0]);
      const inPlace = x.slice();
      nk.rmsNorm(inPlace, [4, 50], 50, { weight: w, out: { output: inPlace } });
      expect(inPlace).toEqual(got.output);
      const xs = r.normals(37 * 13), short = nk.rmsNorm(xs, [37, 13], 13);  // short rows, in batches
      nk.rmsNorm(xs, [37, 13], 13, { out: { output: xs } });
      expect(xs).toEqual(short.output);
    });

    it('backward matches the float64 reference within 1e-4', () => {
      t.use();
      const r = rng(15);
      for (const [shape, norm] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1), cols = norm.reduce((a, b) => a * b, 1), rows = n / cols;
        const x = r.normals(n, 0.2, 1.1), w = r.normals(cols, 1, 0.2), dy = r.normals(n);
        for (const wt of [w, null]) {
          const ref = refRmsNormBackward(dy, x, rows, cols, wt, 1e-6);
          const { rstd } = nk.rmsNorm(x, shape, norm, { weight: wt, eps: 1e-6 });
          const g = nk.rmsNormBackward(dy, x, shape, norm, { rstd, weight: wt, outputMask: [true, true] });
          if (n === 0) { expect(Array.from(g.gradWeight!)).toEqual(new Array(cols).fill(0)); continue; }
          const terms = maxAbs(dy) * (wt ? maxAbs(wt) : 1) * maxAbs(rstd); // dx cancels to ~0 with one column
          expect(relError(g.gradInput!, ref.dx, terms), `${shape}`).toBeLessThan(1e-4);
          expect(relError(g.gradWeight!, ref.dw), `${shape}`).toBeLessThan(1e-4);
        }
        const only = nk.rmsNormBackward(dy, x, shape, norm, { rstd: nk.rmsNorm(x, shape, norm).rstd, outputMask: [false, true] });
        expect(only.gradInput).toBeNull();
        expect(only.gradWeight).not.toBeNull();
      }
    });

    // The backward's second sweep starts where x (streaming: dx) is aligned, the columns before and after
    // going through a vector of their own: the results must not depend on where the buffers sit (the
    // weight included).
    it('forward and backward results are the same wherever the buffers sit', () => {
      t.use();
      const r = rng(16);
      for (const [rows, cols] of [[9, 768], [16, 100], [5, 1000], [5, 1024], [6, 7], [17, 768], [16, 1024], [17, 1500], [37, 13]]) {
        const x = r.normals(rows * cols, 0.2, 1.1), w = r.normals(cols, 1, 0.2), dy = r.normals(rows * cols);
        const { output, rstd } = nk.rmsNorm(x, [rows, cols], [cols], { weight: w });
        const base = nk.rmsNormBackward(dy, x, [rows, cols], [cols], { rstd, weight: w, outputMask: [true, true] });
        for (let off = 1; off < 16; ++off) {
          const what = `${rows}x${cols} offset ${off}`;
          const moved = new Float32Array(rows * cols + 16 - off).subarray(16 - off);
          nk.rmsNorm(atOffset(x, off), [rows, cols], [cols], { weight: atOffset(w, (off * 3) % 16), out: { output: moved } });
          expect(moved, what).toEqual(output);
          const gradInput = new Float32Array(rows * cols + 16 - off).subarray(16 - off);
          const g = nk.rmsNormBackward(atOffset(dy, (off * 5) % 16), atOffset(x, off), [rows, cols], [cols],
            { rstd, weight: w, outputMask: [true, true], out: { gradInput } });
          expect(g.gradInput, what).toEqual(base.gradInput);
          expect(g.gradWeight, what).toEqual(base.gradWeight);
        }
      }
    });

    // 1000-, 1004- and 1001-float rows: 2, 4 and 16 phases of alignment on AVX-512; 3641x768: the backward
    // past kPrefetchTwiceMinBytes (see layerNorm.test.ts).
    it.each([[3641, 768], [2100, 1024], [525, 4096], [2200, 1000], [1403, 1004], [1500, 1001]])('large tensors (the streaming-store path, with a misaligned output) agree with the reference: %ix%i', (rows, cols) => {
      t.use();
      const r = rng(16);
      const x = r.normals(rows * cols, 1, 2), w = r.normals(cols), dy = r.normals(rows * cols);
      const output = new Float32Array(rows * cols + 1).subarray(1);
      const got = nk.rmsNorm(x, [rows, cols], [cols], { weight: w, eps: 1e-6, out: { output } });
      expect(relError(got.output, refRmsNorm(x, rows, cols, w, 1e-6).y)).toBeLessThan(1e-5);
      const gradInput = new Float32Array(rows * cols + 2).subarray(2);
      const g = nk.rmsNormBackward(dy, x, [rows, cols], cols, { rstd: got.rstd, weight: w, out: { gradInput } });
      const refg = refRmsNormBackward(dy, x, rows, cols, w, 1e-6);
      expect(relError(g.gradInput!, refg.dx, maxAbs(dy) * maxAbs(w) * maxAbs(got.rstd))).toBeLessThan(1e-4);
      expect(relError(g.gradWeight!, refg.dw)).toBeLessThan(1e-4);
    });

    it('the streamed backward of rows not all aligned alike gives the same bits wherever gradInput sits', () => {
      t.use();
      const r = rng(22), rows = 1403, cols = 1004;
      const x = r.normals(rows * cols, 1, 2), w = r.normals(cols), dy = r.normals(rows * cols);
      const { rstd } = nk.rmsNorm(x, [rows, cols], [cols]);
      const base = nk.rmsNormBackward(dy, x, [rows, cols], cols, { rstd, weight: w });
      for (const off of [1, 2, 3, 8, 13]) {
        const gradInput = new Float32Array(rows * cols + off).subarray(off);
        const g = nk.rmsNormBackward(dy, x, [rows, cols], cols, { rstd, weight: w, out: { gradInput } });
        expect(sameBits(g.gradInput!, base.gradInput!), `offset ${off}`).toBe(true);
        expect(g.gradWeight, `offset ${off}`).toEqual(base.gradWeight);
      }
    });
  });
}
