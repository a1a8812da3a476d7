// BatchNorm throughput against the addon's memcpy of the same bytes, one thread, caller-provided outputs.
//   node dist/bench/batchNorm.js [reps]
// Each repetition times the op and, right after it, a memcpy of the bytes the op must move (forward and
// inference: read x + write y, one copy of x; backward: read x, dy + write dx, 1.5 copies), so that both see
// the same machine load. Reported: the op's median time and the median of the per-repetition ratios
// (memcpy time / op time; 100% = as fast as copying).
import * as nk from '../src/index';
import { nativeAddon } from '../src/backend';

const addon = nativeAddon();
if (!addon) throw new Error('the native addon is not loaded: ' + nk.backendInfo().fallbackReason);
const reps = Number(process.argv[2] ?? 21);

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[s.length >> 1];
}
function ms(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
/** Median op time and median ratio copy/op over paired repetitions. */
function paired(op: () => void, copy: () => void): { time: number; ratio: number } {
  op();
  copy();
  const times: number[] = [], ratios: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = ms(op);
    const c = ms(copy);
    times.push(t);
    ratios.push(c / t);
  }
  return { time: median(times), ratio: median(ratios) };
}

const cases: [string, number[], 'NCHW' | 'NHWC'][] = [
  ['[32,64,56,56] NCHW', [32, 64, 56, 56], 'NCHW'],
  ['[32,64,56,56] NHWC', [32, 56, 56, 64], 'NHWC'],
  ['[8,256,28,28] NCHW', [8, 256, 28, 28], 'NCHW'],
  ['[8,256,28,28] NHWC', [8, 28, 28, 256], 'NHWC'],
  ['[256,512]', [256, 512], 'NCHW'],
];
console.log(`isa ${nk.backendInfo().isa}; median of ${reps}; (x%) = memcpy time / op time, paired per repetition`);
for (const [name, shape, layout] of cases) {
  const n = shape.reduce((a, b) => a * b, 1);
  const C = layout === 'NCHW' ? shape[1] : shape[shape.length - 1];
  const x = new Float32Array(n).map(() => Math.random() * 4 - 1);
  const dy = new Float32Array(n).map(() => Math.random() - 0.5);
  const y = new Float32Array(n), dx = new Float32Array(n), copyDst = new Float32Array(n);
  const w = new Float32Array(C).fill(1.1), b = new Float32Array(C).fill(0.2);
  const rm = new Float32Array(C), rv = new Float32Array(C).fill(1);
  const saveMean = new Float64Array(C), saveInvstd = new Float32Array(C);
  const gw = new Float32Array(C), gb = new Float32Array(C);
  const out = { output: y, saveMean, saveInvstd };
  const half = n >> 1;
  const copy1 = () => addon.copy(n, x, copyDst);
  const copy15 = () => { addon.copy(n, x, copyDst); addon.copy(half, dy.subarray(0, half), dx.subarray(0, half)); };
  const train = paired(() => nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, layout, out }), copy1);
  const infer = paired(() => nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, layout, out }), copy1);
  nk.batchNorm(x, shape, { weight: w, bias: b, training: true, layout, out });
  const back = paired(() => nk.batchNormBackward(dy, x, shape, { weight: w, saveMean, saveInvstd, layout, out: { gradInput: dx, gradWeight: gw, gradBias: gb } }), copy15);
  const f = (r: { time: number; ratio: number }) => `${r.time.toFixed(3)} ms (${(100 * r.ratio).toFixed(0)}%)`;
  console.log(`${name.padEnd(20)} train fwd ${f(train)} | inference ${f(infer)} | train bwd ${f(back)}`);
}
