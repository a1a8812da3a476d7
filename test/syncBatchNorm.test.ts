import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { maxAbs, nk, relError, rng, targets } from './helpers';
import { refBatchStats } from './ref/batchNorm';

type Layout = 'NCHW' | 'NHWC';

/** Splits a batch along N into shards of the given sizes (the data of one sample is contiguous in both layouts). */
function shards(x: Float32Array, sizes: number[], perSample: number): Float32Array[] {
  let o = 0;
  return sizes.map((k) => { const s = x.subarray(o, o + k * perSample); o += k * perSample; return s; });
}
function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const splits = [[9], [4, 5], [1, 6, 2], [3, 0, 2, 4]];

for (const t of targets()) {
  describe(`SyncBatchNorm primitives on ${t.name}`, () => {
    for (const layout of ['NCHW', 'NHWC'] as Layout[]) {
      for (const [name, offset, spread] of [['ordinary', 0.5, 2], ['offset 1e4, spread 1e-2', 1e4, 1e-2]] as const) {
        it(`k = 1..4 uneven shards merge to whole-batch batchNorm (${layout}, ${name})`, () => {
          t.use();
          const r = rng(21), N = 9, C = 5, spatial = [3, 7], S = 21, perSample = C * S;
          const shapeOf = (n: number) => (layout === 'NCHW' ? [n, C, ...spatial] : [n, ...spatial, C]);
          const x = r.normals(N * perSample, offset, spread), dy = r.normals(N * perSample);
          const w = r.normals(C, 1, 0.2), b = r.normals(C);
          const rm0 = r.normals(C), rv0 = new Float32Array(C).fill(1.5);
          const wholeRm = rm0.slice(), wholeRv = rv0.slice();
          const whole = nk.batchNorm(x, shapeOf(N), { weight: w, bias: b, runningMean: wholeRm, runningVar: wholeRv, training: true, layout });
          const wholeG = nk.batchNormBackward(dy, x, shapeOf(N), { weight: w, saveMean: whole.saveMean, saveInvstd: whole.saveInvstd, layout });
          for (const sizes of splits) {
            const xs = shards(x, sizes, perSample), dys = shards(dy, sizes, perSample);
            // Forward: local stats -> (all-gather) -> identical merge on every worker -> local normalisation.
            const stats = xs.map((xi, i) => nk.batchNormStats(xi, shapeOf(sizes[i]), { layout }));
            const rm = rm0.slice(), rv = rv0.slice();
            const g = nk.batchNormGatherStats(stats.map((s) => s.mean), stats.map((s) => s.m2), stats.map((s) => s.count),
              { runningMean: rm, runningVar: rv, momentum: 0.1, eps: 1e-5 });
            expect(g.count).toBe(N * S);
            const ys = xs.map((xi, i) => nk.batchNormElemt(xi, shapeOf(sizes[i]), { mean: g.mean, invstd: g.invstd, weight: w, bias: b, layout }));
            const what = `${sizes}`;
            expect(relError(concat(ys), whole.output), what).toBeLessThan(2e-5);
            expect(relError(g.mean, whole.saveMean, spread), what).toBeLessThan(1e-6);
            expect(relError(g.invstd, whole.saveInvstd), what).toBeLessThan(1e-5);
            expect(relError(rm, wholeRm), what).toBeLessThan(1e-6);
            expect(relError(rv, wholeRv), what).toBeLessThan(1e-5);
            // Backward: local sums -> (all-reduce-sum) -> local gradInput.
            const red = xs.map((xi, i) => nk.batchNormBackwardReduce(dys[i], xi, shapeOf(sizes[i]), { mean: g.mean, invstd: g.invstd, weight: w, layout }));
            const sumDy = new Float64Array(C), sumDyXmu = new Float64Array(C), gw = new Float64Array(C), gb = new Float64Array(C);
            for (const p of red) for (let c = 0; c < C; c++) {
              sumDy[c] += p.sumDy![c]; sumDyXmu[c] += p.sumDyXmu![c]; gw[c] += p.gradWeight![c]; gb[c] += p.gradBias![c];
            }
            const dxs = xs.map((xi, i) => nk.batchNormBackwardElemt(dys[i], xi, shapeOf(sizes[i]),
              { mean: g.mean, invstd: g.invstd, weight: w, sumDy, sumDyXmu, count: g.count, layout }));
            const terms = maxAbs(dy) * maxAbs(w) * maxAbs(g.invstd);
            expect(relError(concat(dxs), wholeG.gradInput!, terms), what).toBeLessThan(1e-4);
            expect(relError(gw, wholeG.gradWeight!, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
            expect(relError(gb, wholeG.gradBias!, Math.sqrt(N * S)), what).toBeLessThan(1e-4);
          }
        });
      }
    }

    it('statistics and backward sums of long channels-first runs (the sweeps that prefetch the next run)', () => {
      t.use();
      // Runs of 130 and 1000 floats (520 B and 4 KB: past kPrefetchRunMinBytes); odd sizes, N = 1 and N > 1,
      // so that the last run of a channel asks for the next channel's first and the last one for nothing.
      for (const [N, C, S] of [[3, 5, 130], [1, 4, 1000], [2, 3, 1000]]) {
        const r = rng(23 + S), n = N * C * S, x = r.normals(n, 3, 2), dy = r.normals(n);
        const shape = [N, C, S], what = `${shape}`;
        const ref = refBatchStats(x, N, C, S, 'NCHW');
        const st = nk.batchNormStats(x, shape);
        expect(relError(st.mean, ref.mean), what).toBeLessThan(1e-7);
        expect(relError(st.m2, ref.variance.map((v) => v * N * S)), what).toBeLessThan(1e-7);
        const invstd = Float32Array.from(ref.variance, (v) => 1 / Math.sqrt(v + 1e-5));
        const red = nk.batchNormBackwardReduce(dy, x, shape, { mean: st.mean, invstd });
        const sumDy = new Float64Array(C), sumDyXmu = new Float64Array(C);
        for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) for (let k = 0; k < S; k++) {
          const j = (i * C + c) * S + k;
          sumDy[c] += dy[j]; sumDyXmu[c] += dy[j] * (x[j] - ref.mean[c]);
        }
        expect(relError(red.sumDy!, sumDy, Math.sqrt(N * S)), what).toBeLessThan(1e-6);
        expect(relError(red.sumDyXmu!, sumDyXmu, 2 * Math.sqrt(N * S)), what).toBeLessThan(1e-6);
      }
    });

    it('stacked statistics, Async variants and argument checks', async () => {
      t.use();
      const r = rng(22), x = r.normals(4 * 3 * 5, 2, 1), shape = [4, 3, 5];
      const a = nk.batchNormStats(x.subarray(0, 30), [2, 3, 5]), b = await nk.batchNormStatsAsync(x.subarray(30), [2, 3, 5]);
      const stacked = new Float64Array([...a.mean, ...b.mean]), stackedM2 = new Float64Array([...a.m2, ...b.m2]);
      const g1 = nk.batchNormGatherStats([a.mean, b.mean], [a.m2, b.m2], [10, 10]);
      const g2 = nk.batchNormGatherStats(stacked, stackedM2, [10, 10]);
      expect(g2).toEqual(g1);
      const whole = nk.batchNorm(x, shape, { training: true });
      expect(relError(g1.invstd, whole.saveInvstd)).toBeLessThan(1e-6);
      const y = await nk.batchNormElemtAsync(x, shape, { mean: g1.mean, invstd: g1.invstd });
      expect(relError(y, whole.output)).toBeLessThan(1e-5);
      const red = await nk.batchNormBackwardReduceAsync(x, x, shape, { mean: g1.mean, invstd: g1.invstd });
      const dx = await nk.batchNormBackwardElemtAsync(x, x, shape, { mean: g1.mean, invstd: g1.invstd, sumDy: red.sumDy!, sumDyXmu: red.sumDyXmu!, count: 20 });
      expect(dx.length).toBe(60);
      expect(() => nk.batchNormGatherStats([a.mean], [a.m2, b.m2], [10])).toThrow(/'m2s'/);
      expect(() => nk.batchNormGatherStats([a.mean, new Float64Array(2)], [a.m2, b.m2], [10, 10])).toThrow(/'means\[1\]' must be a Float64Array of length 3/);
      expect(() => nk.batchNormGatherStats([a.mean], [a.m2], [1])).toThrow(/more than 1 value per channel/);
      expect(() => nk.batchNormGatherStats([a.mean], [a.m2], [10], { runningMean: new Float32Array(2) })).toThrow(/'runningMean'/);
      expect(() => nk.batchNormElemt(x, shape, { mean: g1.mean, invstd: new Float32Array(2) })).toThrow(/'invstd' must be a Float32Array of length 3/);
      expect(() => nk.batchNormBackwardElemt(x, x, shape, { mean: g1.mean, invstd: g1.invstd, sumDy: red.sumDy!, sumDyXmu: red.sumDyXmu!, count: 0 })).toThrow(/'count'/);
    });
  });
}

describe('examples/sync-batchnorm-workers.js', () => {
  it('runs SyncBatchNorm across worker_threads and agrees with single-process batchNorm', () => {
    const script = path.resolve(__dirname, '..', 'examples', 'sync-batchnorm-workers.js');
    const run = spawnSync(process.execPath, [script, '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(report.workers).toBeGreaterThanOrEqual(3);
    for (const layout of ['NCHW', 'NHWC']) {
      const e = report.errors[layout];
      expect(e.output).toBeLessThan(2e-5);
      expect(e.runningMean).toBeLessThan(1e-6);
      expect(e.runningVar).toBeLessThan(1e-5);
      expect(e.gradInput).toBeLessThan(1e-4);
      expect(e.gradWeight).toBeLessThan(1e-4);
      expect(e.gradBias).toBeLessThan(1e-4);
    }
  });
});
