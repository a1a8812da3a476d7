import { describe, expect, it } from 'vitest';

import { atOffset, maxAbs, nk, numericGrad, relError, rng, sameBits, targets } from './helpers';
import { refLayerNorm, refLayerNormBackward } from './ref/layerNorm';

// [inputShape, normalizedShape]: ranks 1 to 3, sizes off the SIMD width, empty batch, size-1 rows; the
// backward's row blocks with their second sweep forwards (9x768) and backwards (6x1000), single rows
// backwards (3x4099); the forward's row pairs (17x100, odd; 60x5, rows shorter than a vector).
const shapes: [number[], number[]][] = [
  [[7], [7]], [[3, 1], [1]], [[5, 3], [3]], [[4, 17], [17]], [[6, 100], [100]], [[9, 768], [768]],
  [[2, 3, 40], [3, 40]], [[0, 16], [16]], [[2, 2, 33], [33]], [[3, 4099], [4099]], [[6, 1000], [1000]],
  [[17, 100], [100]], [[3, 20, 5], [5]],
  // Long rows: backward blocks of 4 (20000 floats) and of 2 (16384: rows a multiple of 4 KiB apart), then a single
  // row; the forward's rows over 64 KiB two at a time (20000: an odd last row).
  [[5, 20000], [20000]], [[3, 16384], [16384]],
  // Forward row pairs of longer rows (unstreamed): 1024 floats (4 KiB apart), 2500 (odd row count).
  [[16, 1024], [1024]], [[17, 2500], [2500]],
  // Short rows in batches of a vector's lanes, then the rows left over (4 to 16 lanes; 13 and 100 floats end
  // in a partial vector, 32 does not).
  [[40, 13], [13]], [[33, 100], [100]], [[2, 17, 32], [32]], [[33, 200], [200]],
];

describe('reference LayerNorm gradients match finite differences (float64)', () => {
  it('dx, dw, db', () => {
    const r = rng(1), rows = 3, cols = 5;
    const x = Float64Array.from(r.normals(rows * cols, 0.5, 2)), w = Float64Array.from(r.normals(cols, 1, 0.3));
    const b = Float64Array.from(r.normals(cols)), dy = Float64Array.from(r.normals(rows * cols));
    const g = refLayerNormBackward(dy, x, rows, cols, w, 1e-5);
    expect(relError(g.dx, numericGrad(x, dy, (p) => refLayerNorm(p, rows, cols, w, b, 1e-5).y))).toBeLessThan(1e-6);
    expect(relError(g.dw, numericGrad(w, dy, (p) => refLayerNorm(x, rows, cols, p, b, 1e-5).y))).toBeLessThan(1e-6);
    expect(relError(g.db, numericGrad(b, dy, (p) => refLayerNorm(x, rows, cols, w, p, 1e-5).y))).toBeLessThan(1e-6);
  });
});

for (const t of targets()) {
  describe(`layerNorm on ${t.name}`, () => {
    it('matches the float64 reference within 1e-5 on ordinary inputs, with and without weight/bias', () => {
      t.use();
      const r = rng(2);
      for (const [shape, norm] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1), cols = norm.reduce((a, b) => a * b, 1), rows = n / cols;
        const x = r.normals(n, 0.3, 1.7), w = r.normals(cols, 1, 0.2), b = r.normals(cols, 0, 0.5);
        for (const [wt, bs] of [[w, b], [null, null], [w, null], [null, b]] as const) {
          const got = nk.layerNorm(x, shape, norm, { weight: wt, bias: bs });
          const ref = refLayerNorm(x, rows, cols, wt, bs, 1e-5);
          expect(got.output.length).toBe(n);
          if (n === 0) continue;
          expect(relError(got.output, ref.y), `${shape}`).toBeLessThan(1e-5);
          expect(relError(got.mean, ref.mean, 1.7)).toBeLessThan(1e-6); // relative to the spread
          expect(relError(got.rstd, ref.rstd)).toBeLessThan(1e-5);
        }
      }
    });

    // One row at a time, and stacked 18 deep, where rows go in pairs (768 floats, and 1024 and 4096 unstreamed)
    // or, short (7 to 200 floats), in batches of a vector's lanes (hard rows among the others of a batch).
    const hardRowsTitle = 'stays exact on hard rows: large offsets, tiny spread, constant rows, huge magnitudes (%i columns)';
    it.each([7, 13, 100, 200, 768, 1024, 4096])(hardRowsTitle, (cols) => {
      t.use();
      const r = rng(3);
      const rows: [string, Float32Array][] = [
        ['1e4 + N(0, 1e-2)', r.normals(cols, 1e4, 1e-2)],
        ['3e5 + N(0, 1)', r.normals(cols, 3e5, 1)],
        ['1e20 * N(0, 1)', r.normals(cols, 0, 1e20)],
        ['constant 7.25', new Float32Array(cols).fill(7.25)],
        ['constant -3e30', new Float32Array(cols).fill(-3e30)],
        ['1e20 + N(0, 1e14)', r.normals(cols, 1e20, 1e14)],
        ['[40000..40003] repeated', Float32Array.from({ length: cols }, (_, i) => 40000 + (i % 4))],
        ['sorted ramp 0..1e6', Float32Array.from({ length: cols }, (_, i) => (i * 1e6) / cols)],
        ['outlier first', Float32Array.from({ length: cols }, (_, i) => (i < 16 ? 1e6 : r.normal()))],
      ];
      const w = r.normals(cols, 1, 0.1), b = r.normals(cols, 0, 0.1);
      for (const [name, x] of rows) {
        const got = nk.layerNorm(x, [1, cols], [cols], { weight: w, bias: b });
        const ref = refLayerNorm(x, 1, cols, w, b, 1e-5);
        expect(got.output.every(Number.isFinite), name).toBe(true);
        expect(relError(got.output, ref.y), name).toBeLessThan(2e-5);
        expect(relError(got.mean, ref.mean), name).toBeLessThan(1e-6);
        expect(relError(got.rstd, ref.rstd), name).toBeLessThan(1e-5);
      }
      const stacked = new Float32Array(18 * cols);
      for (let i = 0; i < 18; ++i) stacked.set(rows[i % rows.length][1], i * cols);
      const got = nk.layerNorm(stacked, [18, cols], [cols], { weight: w, bias: b });
      for (let i = 0; i < 18; ++i) {
        const name = `${rows[i % rows.length][0]}, row ${i} of 18`, x = stacked.subarray(i * cols, (i + 1) * cols);
        const ref = refLayerNorm(x, 1, cols, w, b, 1e-5);
        expect(relError(got.output.subarray(i * cols, (i + 1) * cols), ref.y), name).toBeLessThan(2e-5);
        expect(relError(got.mean.subarray(i, i + 1), ref.mean), name).toBeLessThan(1e-6);
        expect(relError(got.rstd.subarray(i, i + 1), ref.rstd), name).toBeLessThan(1e-5);
      }
    });

    // The saved mean is a float, off by up to half an ulp: 5% of the spread at 1e4 + N(0, 1e-2). The backward
    // measures that rounding on the data (mean_residual() in rows.inl), or its gradients would be ~1e-3 off.
    it('backward stays exact on hard rows, from the float mean and rstd the forward saved', () => {
      t.use();
      const r = rng(31), cols = 768;
      const rows: [string, Float32Array][] = [
        ['1e4 + N(0, 1e-2)', r.normals(cols, 1e4, 1e-2)],
        ['3e5 + N(0, 1)', r.normals(cols, 3e5, 1)],
        ['-1e3 + N(0, 1e-3)', r.normals(cols, -1e3, 1e-3)],
        ['1e20 + N(0, 1e14)', r.normals(cols, 1e20, 1e14)],
        ['[40000..40003] repeated', Float32Array.from({ length: cols }, (_, i) => 40000 + (i % 4))],
        ['2 + N(0, 1) (ordinary)', r.normals(cols, 2, 1)],
      ];
      const w = r.normals(cols, 1, 0.1), dy = r.normals(cols);
      for (const [name, x] of rows) {
        for (const c of [cols, 13]) { // the vector path and the element-by-element one
          const xs = x.subarray(0, c), ws = w.subarray(0, c), dys = dy.subarray(0, c);
          const { mean, rstd } = nk.layerNorm(xs, [1, c], [c], { weight: ws });
          const g = nk.layerNormBackward(dys, xs, [1, c], [c], { mean, rstd, weight: ws, outputMask: [true, true, true] });
          const ref = refLayerNormBackward(dys, xs, 1, c, ws, 1e-5);
          const what = `${name}, ${c} columns`;
          expect(relError(g.gradInput!, ref.dx), what).toBeLessThan(1e-5);
          expect(relError(g.gradWeight!, ref.dw, maxAbs(dys)), what).toBeLessThan(1e-5);
        }
      }
      // Stacked 20 deep at 7, 13 and 100 columns: short rows, in batches of a vector's lanes, hard rows among
      // ordinary ones.
      for (const c of [7, 13, 100]) {
        const R = 20, xs = new Float32Array(R * c), dys = r.normals(R * c), ws = w.subarray(0, c);
        for (let i = 0; i < R; ++i) xs.set(rows[i % rows.length][1].subarray(0, c), i * c);
        const { mean, rstd } = nk.layerNorm(xs, [R, c], [c], { weight: ws });
        const g = nk.layerNormBackward(dys, xs, [R, c], [c], { mean, rstd, weight: ws, outputMask: [true, true, true] });
        const ref = refLayerNormBackward(dys, xs, R, c, ws, 1e-5);
        for (let i = 0; i < R; ++i) {
          const what = `${rows[i % rows.length][0]}, row ${i} of ${R}, ${c} columns`;
          expect(relError(g.gradInput!.subarray(i * c, (i + 1) * c), ref.dx.subarray(i * c, (i + 1) * c)), what).toBeLessThan(1e-5);
        }
        expect(relError(g.gradWeight!, ref.dw, maxAbs(dys)), `${c} columns`).toBeLessThan(1e-5);
        expect(relError(g.gradBias!, ref.db), `${c} columns`).toBeLessThan(1e-5);
      }
      // A mean that is not within a float's rounding of the data's is used as given (PyTorch's semantics).
      const x = r.normals(cols, 1e4, 1e-2), { rstd } = nk.layerNorm(x, [1, cols], [cols]);
      const given = new Float32Array([1e4 + 0.005]);
      const got = nk.layerNormBackward(dy, x, [1, cols], [cols], { mean: given, rstd, outputMask: [false, true, false] });
      const expected = Float64Array.from({ length: cols }, (_, j) => dy[j] * (x[j] - given[0]) * rstd[0]);
      expect(relError(got.gradWeight!, expected)).toBeLessThan(1e-5);
    });

    it.each([[4, 37], [20, 13]])('NaN and Inf spoil only their own rows (%ix%i)', (rows, cols) => {
      t.use();
      const r = rng(4);
      const x = r.normals(rows * cols);
      x[cols + 5] = NaN;
      x[2 * cols + 9] = Infinity;
      const { output, mean, rstd } = nk.layerNorm(x, [rows, cols], [cols]);
      const row = (i: number) => Array.from(output.subarray(i * cols, (i + 1) * cols));
      expect(row(1).every(Number.isNaN)).toBe(true);
      expect(row(2).some(Number.isNaN)).toBe(true);
      for (let i = 0; i < rows; ++i) {
        if (i === 1 || i === 2) continue;
        expect(row(i).every(Number.isFinite), `row ${i}`).toBe(true);
        expect([mean[i], rstd[i]].every(Number.isFinite), `row ${i}`).toBe(true);
      }
    });

    it('a normalized size of 1 gives the bias; an empty batch gives empty outputs', () => {
      t.use();
      const x = new Float32Array([3, -1e6, 42]), b = new Float32Array([0.5]);
      expect(Array.from(nk.layerNorm(x, [3, 1], [1], { bias: b }).output)).toEqual([0.5, 0.5, 0.5]);
      const empty = nk.layerNorm(new Float32Array(0), [0, 4, 8], [8]);
      expect([empty.output.length, empty.mean.length, empty.rstd.length]).toEqual([0, 0, 0]);
    });

    it('writes into caller-provided outputs, works in place, and never modifies its inputs', () => {
      t.use();
      const r = rng(5), rows = 8, cols = 50;
      const x = r.normals(rows * cols, 2, 3), w = r.normals(cols), b = r.normals(cols);
      const [x0, w0, b0] = [x.slice(), w.slice(), b.slice()];
      const out = { output: new Float32Array(rows * cols), mean: new Float32Array(rows), rstd: new Float32Array(rows) };
      const got = nk.layerNorm(x, [rows, cols], [cols], { weight: w, bias: b, out });
      expect(got.output).toBe(out.output);
      expect(got.mean).toBe(out.mean);
      expect(got.rstd).toBe(out.rstd);
      expect([x, w, b]).toEqual([x0, w0, b0]);
      const inPlace = x.slice();
      nk.layerNorm(inPlace, [rows, cols], [cols], { weight: w, bias: b, out: { output: inPlace } });
      expect(inPlace).toEqual(got.output);
      // Short rows, in batches (their statistics are taken before any row of the batch is written).
      const xs = r.normals(37 * 13, 2, 3), ws = r.normals(13), short = nk.layerNorm(xs, [37, 13], [13], { weight: ws });
      nk.layerNorm(xs, [37, 13], [13], { weight: ws, out: { output: xs } });
      expect(xs).toEqual(short.output);
    });

    it('backward matches the float64 reference within 1e-4, for every output mask', () => {
      t.use();
      const r = rng(6);
      for (const [shape, norm] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1), cols = norm.reduce((a, b) => a * b, 1), rows = n / cols;
        const x = r.normals(n, -0.7, 1.3), w = r.normals(cols, 1, 0.2), dy = r.normals(n);
        const ref = refLayerNormBackward(dy, x, rows, cols, w, 1e-5);
        const fwd = nk.layerNorm(x, shape, norm, { weight: w });
        const g = nk.layerNormBackward(dy, x, shape, norm, { mean: fwd.mean, rstd: fwd.rstd, weight: w });
        // dx is a difference of terms of size |dy * w * rstd|; with one column it cancels to 0 exactly.
        if (n === 0) {
          expect(Array.from(g.gradWeight!)).toEqual(new Array(cols).fill(0));
          continue;
        }
        const terms = maxAbs(dy) * maxAbs(w) * maxAbs(fwd.rstd);
        expect(relError(g.gradInput!, ref.dx, terms), `${shape}`).toBeLessThan(1e-4);
        expect(relError(g.gradWeight!, ref.dw), `${shape}`).toBeLessThan(1e-4);
        expect(relError(g.gradBias!, ref.db), `${shape}`).toBeLessThan(1e-4);
        // Without a weight: gradients of the plain normalisation.
        const ref1 = refLayerNormBackward(dy, x, rows, cols, null, 1e-5);
        const g1 = nk.layerNormBackward(dy, x, shape, norm, { mean: fwd.mean, rstd: fwd.rstd, outputMask: [true, true, true] });
        expect(relError(g1.gradInput!, ref1.dx, maxAbs(dy) * maxAbs(fwd.rstd))).toBeLessThan(1e-4);
        expect(relError(g1.gradWeight!, ref1.dw)).toBeLessThan(1e-4);
      }
      for (const [rows, cols] of [[3, 20], [40, 13]]) { // 40x13: short rows, in batches
        const x = r.normals(rows * cols), dy = r.normals(rows * cols), w = r.normals(cols);
        const { mean, rstd } = nk.layerNorm(x, [rows, cols], [cols], { weight: w });
        const full = nk.layerNormBackward(dy, x, [rows, cols], [cols], { mean, rstd, weight: w });
        for (const m of [[true, false, false], [false, true, false], [false, false, true], [false, true, true], [true, true, false]] as const) {
          const g = nk.layerNormBackward(dy, x, [rows, cols], [cols], { mean, rstd, weight: w, outputMask: m });
          expect([g.gradInput !== null, g.gradWeight !== null, g.gradBias !== null]).toEqual([...m]);
          if (g.gradInput) expect(g.gradInput).toEqual(full.gradInput);
          if (g.gradWeight) expect(g.gradWeight).toEqual(full.gradWeight);
          if (g.gradBias) expect(g.gradBias).toEqual(full.gradBias);
        }
      }
    });

    // The forward's row pairs and the backward's second sweep start where x (streaming: the output) is
    // aligned, the columns before and after going through a vector of their own: the results must not
    // depend on where the buffers sit (weight and bias included).
    it('forward and backward results are the same wherever the buffers sit', () => {
      t.use();
      const r = rng(13);
      const sizes = [[17, 768], [16, 100], [19, 40], [5, 1000], [5, 1024], [6, 7], [16, 1024], [17, 1500], [3, 16500], [37, 13]];
      for (const [rows, cols] of sizes) {
        const x = r.normals(rows * cols, 0.5, 2), w = r.normals(cols), b = r.normals(cols), dy = r.normals(rows * cols);
        const base = nk.layerNorm(x, [rows, cols], [cols], { weight: w, bias: b });
        const gbase = nk.layerNormBackward(dy, x, [rows, cols], cols, { mean: base.mean, rstd: base.rstd, weight: w });
        for (let off = 1; off < 16; ++off) {
          const what = `${rows}x${cols} offset ${off}`;
          const output = new Float32Array(rows * cols + 16 - off).subarray(16 - off);
          const got = nk.layerNorm(atOffset(x, off), [rows, cols], [cols],
            { weight: atOffset(w, (off * 3) % 16), bias: atOffset(b, (off * 5) % 16), out: { output } });
          expect(got.output, what).toEqual(base.output);
          expect(got.rstd, what).toEqual(base.rstd);
          const gradInput = new Float32Array(rows * cols + 16 - off).subarray(16 - off);
          const g = nk.layerNormBackward(atOffset(dy, (off * 7) % 16), atOffset(x, off), [rows, cols], cols,
            { mean: base.mean, rstd: base.rstd, weight: w, out: { gradInput } });
          expect(g.gradInput, what).toEqual(gbase.gradInput);
          expect(g.gradWeight, what).toEqual(gbase.gradWeight);
          expect(g.gradBias, what).toEqual(gbase.gradBias);
        }
      }
    });

    // > 16 MiB touched: outputs use streaming stores. 768-float rows go in pairs (an odd last row with
    // itself), and their backward touches 32 MiB, where its sweep asks twice for each line it prefetches
    // (AVX-512: kPrefetchTwiceMinBytes); 1024-float rows fit in L1; 4096-float rows do not, and the
    // backward's second sweep then runs last column first; 1000-, 1004- and 1001-float rows are not all
    // aligned alike (2, 4 and 16 phases on AVX-512), so the forward goes row by row, each row peeling its own
    // head, and the backward takes blocks of rows of one phase, rows left over after the last span of blocks
    // one by one; odd rows of 21847 floats are past the backward's budget for per-phase records on AVX-512
    // and not streamed there.
    it.each([[3641, 768], [2100, 1024], [525, 4096], [2200, 1000], [1403, 1004], [1500, 1001], [70, 21847]])('large tensors (the streaming-store path, with a misaligned output) agree with the reference: %ix%i', (rows, cols) => {
      t.use();
      const r = rng(7);
      const x = r.normals(rows * cols, 1, 2), w = r.normals(cols), b = r.normals(cols), dy = r.normals(rows * cols);
      const output = new Float32Array(rows * cols + 1).subarray(1); // 4 bytes off any vector alignment
      const got = nk.layerNorm(x, [rows, cols], [cols], { weight: w, bias: b, out: { output } });
      const ref = refLayerNorm(x, rows, cols, w, b, 1e-5);
      expect(relError(got.output, ref.y)).toBeLessThan(1e-5);
      const gradInput = new Float32Array(rows * cols + 3).subarray(3);
      const g = nk.layerNormBackward(dy, x, [rows, cols], cols, { mean: got.mean, rstd: got.rstd, weight: w, out: { gradInput } });
      const refg = refLayerNormBackward(dy, x, rows, cols, w, 1e-5);
      expect(relError(g.gradInput!, refg.dx, maxAbs(dy) * maxAbs(w) * maxAbs(got.rstd))).toBeLessThan(1e-4);
      expect(relError(g.gradWeight!, refg.dw)).toBeLessThan(1e-4);
      expect(relError(g.gradBias!, refg.db)).toBeLessThan(1e-4);
    });

    // Each phase's records start where its rows of gradInput are aligned; the sums are added phase by
    // phase: no bit may depend on where gradInput sits.
    it('the streamed backward of rows not all aligned alike gives the same bits wherever gradInput sits', () => {
      t.use();
      const r = rng(21), rows = 1403, cols = 1004;
      const x = r.normals(rows * cols, 1, 2), w = r.normals(cols), dy = r.normals(rows * cols);
      const { mean, rstd } = nk.layerNorm(x, [rows, cols], [cols]);
      const base = nk.layerNormBackward(dy, x, [rows, cols], cols, { mean, rstd, weight: w });
      for (const off of [1, 2, 3, 8, 13]) {
        const gradInput = new Float32Array(rows * cols + off).subarray(off);
        const g = nk.layerNormBackward(dy, x, [rows, cols], cols, { mean, rstd, weight: w, out: { gradInput } });
        expect(sameBits(g.gradInput!, base.gradInput!), `offset ${off}`).toBe(true);
        expect(g.gradWeight, `offset ${off}`).toEqual(base.gradWeight);
        expect(g.gradBias, `offset ${off}`).toEqual(base.gradBias);
      }
    });
  });
}
