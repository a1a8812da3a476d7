// SyncBatchNorm across worker_threads: each worker owns a slice of the batch (uneven sizes), the statistics
// and gradient sums travel by message through the main thread (a stand-in for any all-reduce), and every
// worker writes its part of the output and gradInput into SharedArrayBuffers. The result is checked against
// single-process batchNorm on the whole batch.
//
//   node examples/sync-batchnorm-workers.js          (prints a summary)
//   node examples/sync-batchnorm-workers.js --json   (prints the largest errors as JSON)
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const nk = require('..');

const N = 10, C = 6, SPATIAL = [5, 7], S = 35;
const SAMPLES = [2, 5, 3]; // samples per worker
const shapeOf = (layout, n) => (layout === 'NCHW' ? [n, C, ...SPATIAL] : [n, ...SPATIAL, C]);

if (!isMainThread) {
  // ---- a worker: one shard of the batch
  const { layout, first, count, buffers, weight, bias, runningMean, runningVar } = workerData;
  const per = C * S, lo = first * per, hi = (first + count) * per;
  const x = new Float32Array(buffers.x).subarray(lo, hi), dy = new Float32Array(buffers.dy).subarray(lo, hi);
  const y = new Float32Array(buffers.y).subarray(lo, hi), dx = new Float32Array(buffers.dx).subarray(lo, hi);
  const shape = shapeOf(layout, count);
  const w = Float32Array.from(weight), b = Float32Array.from(bias);
  const rm = Float32Array.from(runningMean), rv = Float32Array.from(runningVar);
  let step = 0, merged = null;
  const steps = [
    () => {
      const s = nk.batchNormStats(x, shape, { layout });
      parentPort.postMessage({ mean: s.mean, m2: s.m2, count: s.count });
    },
    (all) => {
      // Every worker merges the same gathered statistics in the same order: identical results everywhere.
      const g = nk.batchNormGatherStats(all.map((s) => s.mean), all.map((s) => s.m2), all.map((s) => s.count),
        { runningMean: rm, runningVar: rv, momentum: 0.1, eps: 1e-5 });
      nk.batchNormElemt(x, shape, { mean: g.mean, invstd: g.invstd, weight: w, bias: b, layout, out: { output: y } });
      merged = g;
      const r = nk.batchNormBackwardReduce(dy, x, shape, { mean: g.mean, invstd: g.invstd, weight: w, layout });
      parentPort.postMessage({ sumDy: r.sumDy, sumDyXmu: r.sumDyXmu, gradWeight: r.gradWeight, gradBias: r.gradBias });
    },
    (all) => {
      const sum = (key) => { const t = new Float64Array(C); for (const p of all) for (let c = 0; c < C; c++) t[c] += p[key][c]; return t; };
      const g = merged;
      nk.batchNormBackwardElemt(dy, x, shape, { mean: g.mean, invstd: g.invstd, weight: w, sumDy: sum('sumDy'),
        sumDyXmu: sum('sumDyXmu'), count: g.count, layout, out: { gradInput: dx } });
      parentPort.postMessage({ runningMean: rm, runningVar: rv, gradWeight: sum('gradWeight'), gradBias: sum('gradBias') });
    },
  ];
  parentPort.on('message', (all) => steps[step++](all));
  steps[step++]();
} else {
  // ---- the main thread: data, workers, the exchange, the check
  const seeded = (seed) => () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const rand = seeded(7);
  const shared = (n, f) => { const a = new Float32Array(new SharedArrayBuffer(n * 4)); if (f) for (let i = 0; i < n; i++) a[i] = f(); return a; };
  const maxRel = (a, b, minScale = 1e-30) => {
    let e = 0, s = 0;
    for (let i = 0; i < a.length; i++) { e = Math.max(e, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); }
    return e / Math.max(s, minScale);
  };

  // Runs the workers of one layout; `exchange` is the all-gather: when every worker has posted its message
  // for a round, each gets the list of all of them.
  function runLayout(layout) {
    const total = N * C * S;
    const x = shared(total, () => 3 + 2 * (rand() - 0.5)), dy = shared(total, () => rand() - 0.5);
    const y = shared(total), dx = shared(total);
    const weight = Float32Array.from({ length: C }, () => 0.5 + rand()), bias = Float32Array.from({ length: C }, () => rand() - 0.5);
    const runningMean = new Float32Array(C), runningVar = new Float32Array(C).fill(1);
    const buffers = { x: x.buffer, dy: dy.buffer, y: y.buffer, dx: dx.buffer };
    return new Promise((resolve, reject) => {
      let first = 0, round = [], rounds = 0;
      const workers = SAMPLES.map((count, rank) => {
        const wk = new Worker(__filename, { workerData: { layout, first, count, buffers, weight, bias, runningMean, runningVar } });
        first += count;
        wk.on('error', reject);
        wk.on('message', (m) => {
          round[rank] = m;
          if (round.filter(Boolean).length < SAMPLES.length) return;
          const all = round;
          round = [];
          if (++rounds < 3) for (const w of workers) w.postMessage(all);
          else { for (const w of workers) w.terminate(); resolve(check(all)); }
        });
        return wk;
      });

      function check(final) {
        const shape = shapeOf(layout, N);
        const rm = runningMean.slice(), rv = runningVar.slice();
        const whole = nk.batchNorm(x, shape, { weight, bias, runningMean: rm, runningVar: rv, training: true, layout });
        const g = nk.batchNormBackward(dy, x, shape, { weight, saveMean: whole.saveMean, saveInvstd: whole.saveInvstd, layout });
        const terms = Math.max(...whole.saveInvstd) * Math.max(...weight.map(Math.abs)) * 0.5;
        if (!y.some((v) => v !== 0) || !dx.some((v) => v !== 0)) throw new Error('the workers wrote no output');
        return {
          output: maxRel(y, whole.output),
          runningMean: Math.max(...final.map((f) => maxRel(f.runningMean, rm))),
          runningVar: Math.max(...final.map((f) => maxRel(f.runningVar, rv))),
          gradInput: maxRel(dx, g.gradInput, terms),
          gradWeight: maxRel(final[0].gradWeight, g.gradWeight, Math.sqrt(N * S)),
          gradBias: maxRel(final[0].gradBias, g.gradBias, Math.sqrt(N * S)),
        };
      }
    });
  }

  (async () => {
    const errors = { NCHW: await runLayout('NCHW'), NHWC: await runLayout('NHWC') };
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify({ workers: SAMPLES.length, backend: nk.backendInfo().backend, errors }));
    } else {
      console.log(`SyncBatchNorm over ${SAMPLES.length} worker threads (samples ${SAMPLES.join(' + ')}), backend ${nk.backendInfo().backend}`);
      for (const [layout, e] of Object.entries(errors))
        console.log(`  ${layout}: largest relative difference from single-process batchNorm: ` +
          Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', '));
    }
  })().catch((err) => { console.error(err); process.exit(1); });
}
