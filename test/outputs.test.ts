import { describe, expect, it } from 'vitest';

import { nk, rng, sameBits, targets } from './helpers';

// Outputs as long as the input (output, gradInput) that the package allocates itself are not zero-filled
// when large (src/alloc.ts): that is safe only if every op writes every element of them, on every backend,
// whatever the shape, layout and path (streamed or not, row pairs, phases, tails). Each case runs once
// with a caller's buffer filled with NaN (no NaN may be left: the inputs give finite outputs) and once
// letting the package allocate (the same bits). The large shapes take the allocations that are not
// zero-filled (1 MiB and up) and the streamed paths.
type Run = (out: Float32Array | undefined) => Float32Array;
interface Case { name: string; length: number; run: Run }

/** LayerNorm and RMSNorm, forward and backward, at each [rows, cols], onto `list`. */
function rowCases(r: ReturnType<typeof rng>, shapes: number[][], list: Case[]): void {
  for (const [rows, cols] of shapes) {
    const n = rows * cols, x = r.normals(n, 1, 2), dy = r.normals(n), w = r.normals(cols), b = r.normals(cols);
    const f = nk.layerNorm(x, [rows, cols], cols, { weight: w, bias: b }), q = nk.rmsNorm(x, [rows, cols], cols, { weight: w });
    list.push(
      { name: `layerNorm ${rows}x${cols}`, length: n, run: (o) => nk.layerNorm(x, [rows, cols], cols, { weight: w, bias: b, out: { output: o } }).output },
      { name: `layerNormBackward ${rows}x${cols}`, length: n, run: (o) => nk.layerNormBackward(dy, x, [rows, cols], cols, { mean: f.mean, rstd: f.rstd, weight: w, out: { gradInput: o } }).gradInput! },
      { name: `rmsNorm ${rows}x${cols}`, length: n, run: (o) => nk.rmsNorm(x, [rows, cols], cols, { weight: w, out: { output: o } }).output },
      { name: `rmsNormBackward ${rows}x${cols}`, length: n, run: (o) => nk.rmsNormBackward(dy, x, [rows, cols], cols, { rstd: q.rstd, weight: w, out: { gradInput: o } }).gradInput! },
    );
  }
}

function cases(): Case[] {
  const r = rng(31);
  const list: Case[] = [];
  rowCases(r, [[5, 37], [33, 768], [1403, 1004]], list);
  for (const [shape, groups] of [[[2, 6, 37], 3], [[2, 64, 119, 121], 8]] as const) {
    const n = shape.reduce((a, b) => a * b, 1), c = shape[1];
    const x = r.normals(n, 1, 2), dy = r.normals(n), w = r.normals(c), b = r.normals(c);
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const sh = layout === 'NCHW' ? [...shape] : [shape[0], ...shape.slice(2), c];
      const f = nk.groupNorm(x, sh, groups, { weight: w, bias: b, layout });
      list.push(
        { name: `groupNorm ${layout} ${sh}`, length: n, run: (o) => nk.groupNorm(x, sh, groups, { weight: w, bias: b, layout, out: { output: o } }).output },
        { name: `groupNormBackward ${layout} ${sh}`, length: n, run: (o) => nk.groupNormBackward(dy, x, sh, groups, { mean: f.mean, rstd: f.rstd, weight: w, layout, out: { gradInput: o } }).gradInput! },
      );
    }
  }
  for (const shape of [[3, 5, 7], [2, 16, 140000], [8, 256, 28, 28]]) {
    const n = shape.reduce((a, b) => a * b, 1), c = shape[1];
    const x = r.normals(n, 1, 2), dy = r.normals(n), w = r.normals(c), b = r.normals(c);
    const rm = r.normals(c), rv = Float32Array.from(r.normals(c), (v) => 1 + Math.abs(v));
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const sh = layout === 'NCHW' ? [...shape] : [shape[0], ...shape.slice(2), c];
      const f = nk.batchNorm(x, sh, { weight: w, bias: b, training: true, layout });
      const red = nk.batchNormBackwardReduce(dy, x, sh, { mean: f.saveMean, invstd: f.saveInvstd, weight: w, layout });
      list.push(
        { name: `batchNorm training ${layout} ${sh}`, length: n, run: (o) => nk.batchNorm(x, sh, { weight: w, bias: b, training: true, layout, out: { output: o } }).output },
        { name: `batchNorm inference ${layout} ${sh}`, length: n, run: (o) => nk.batchNorm(x, sh, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, layout, out: { output: o } }).output },
        { name: `batchNormBackward training ${layout} ${sh}`, length: n, run: (o) => nk.batchNormBackward(dy, x, sh, { weight: w, saveMean: f.saveMean, saveInvstd: f.saveInvstd, layout, out: { gradInput: o } }).gradInput! },
        { name: `batchNormBackward inference ${layout} ${sh}`, length: n, run: (o) => nk.batchNormBackward(dy, x, sh, { weight: w, runningMean: rm, runningVar: rv, training: false, layout, out: { gradInput: o } }).gradInput! },
        { name: `batchNormElemt ${layout} ${sh}`, length: n, run: (o) => nk.batchNormElemt(x, sh, { mean: f.saveMean, invstd: f.saveInvstd, weight: w, bias: b, layout, out: { output: o } }) },
        { name: `batchNormBackwardElemt ${layout} ${sh}`, length: n, run: (o) => nk.batchNormBackwardElemt(dy, x, sh, { mean: f.saveMean, invstd: f.saveInvstd, weight: w, sumDy: red.sumDy!, sumDyXmu: red.sumDyXmu!, count: n / c, layout, out: { gradInput: o } }) },
      );
    }
  }
  return list;
}

for (const t of targets()) {
  describe(`outputs on ${t.name}`, () => {
    it('every op writes every element of its output and gradInput (caller buffers full of NaN, or allocated)', () => {
      t.use();
      for (const c of cases()) {
        const given = new Float32Array(c.length).fill(NaN);
        const got = c.run(given);
        expect(got, c.name).toBe(given);
        // These inputs give finite outputs: a NaN left means an element was not written.
        expect(given.findIndex(Number.isNaN), c.name).toBe(-1);
        const allocated = c.run(undefined);
        expect(allocated.length, c.name).toBe(c.length);
        expect(sameBits(allocated, given), c.name).toBe(true);
      }
    });
  });
}

// Outputs past the streaming threshold take streaming stores for whole cache lines only, and ordinary stores
// for the rest of each row or run (native/kernels/rows.inl, stream_lines()): which elements go which way
// depends on where the output sits modulo 64 bytes. At each of the 16 float offsets a line allows, the same
// bits as an output the package allocates, and nothing written outside the output. Native builds only: the
// TypeScript backend has no streaming stores.
function streamedCases(): Case[] {
  const r = rng(37);
  const list: Case[] = [];
  rowCases(r, [[2731, 768], [2200, 1000], [1403, 1004]], list);
  {
    const shape = [2, 16, 140000], n = 2 * 16 * 140000;  // channels-first runs of 560 KB
    const x = r.normals(n, 1, 2), dy = r.normals(n), w = r.normals(16), b = r.normals(16);
    const f = nk.batchNorm(x, shape, { weight: w, bias: b, training: true });
    list.push(
      { name: `batchNorm training ${shape}`, length: n, run: (o) => nk.batchNorm(x, shape, { weight: w, bias: b, training: true, out: { output: o } }).output },
      { name: `batchNormBackward training ${shape}`, length: n, run: (o) => nk.batchNormBackward(dy, x, shape, { weight: w, saveMean: f.saveMean, saveInvstd: f.saveInvstd, out: { gradInput: o } }).gradInput! },
    );
  }
  {
    const shape = [520, 1040, 2, 2], n = 520 * 1040 * 4, c = 1040;  // GroupNorm's short-channel runs, 1040 bytes a group
    const x = r.normals(n, 1, 2), dy = r.normals(n), w = r.normals(c), b = r.normals(c);
    const f = nk.groupNorm(x, shape, 16, { weight: w, bias: b });
    list.push(
      { name: `groupNorm ${shape}`, length: n, run: (o) => nk.groupNorm(x, shape, 16, { weight: w, bias: b, out: { output: o } }).output },
      { name: `groupNormBackward ${shape}`, length: n, run: (o) => nk.groupNormBackward(dy, x, shape, 16, { mean: f.mean, rstd: f.rstd, weight: w, out: { gradInput: o } }).gradInput! },
    );
  }
  return list;
}

for (const t of targets().filter((t) => t.name.startsWith('native'))) {
  describe(`streamed outputs on ${t.name}`, () => {
    it('give the same bits at every offset within a cache line, and write nothing outside the output', () => {
      t.use();
      for (const c of streamedCases()) {
        const expected = c.run(undefined);
        const buffer = new Float32Array(c.length + 32);
        for (let off = 0; off < 16; off++) {
          buffer.fill(NaN);
          const got = c.run(buffer.subarray(off, off + c.length));
          expect(sameBits(got, expected), `${c.name}, offset ${off}`).toBe(true);
          const outside = [...buffer.subarray(0, off), ...buffer.subarray(off + c.length)];
          expect(outside.every(Number.isNaN), `${c.name}, offset ${off}`).toBe(true);
        }
      }
    });
  });
}

describe('large outputs the package allocates', () => {
  it('are Float32Arrays of exactly the right length over a buffer of their own', () => {
    const x = rng(3).normals(1 << 21, 0, 1);  // 8 MiB: not zero-filled
    const y = nk.layerNorm(x, [512, 4096], 4096).output;
    expect(y).toBeInstanceOf(Float32Array);
    expect(y.length).toBe(x.length);
    expect(y.byteOffset).toBe(0);
    expect(y.buffer.byteLength).toBe(x.byteLength);
  });
});
