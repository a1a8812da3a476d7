// BatchNorm throughput against the addon's memcpy of the same bytes, one thread, caller-provided outputs.
//   node dist/bench/batchNorm.js [reps]
// Each line: the op's median time, and the ratio (memcpy time for the bytes the op must move) / (op time):
// forward and inference move read x + write y (one copy of x), backward read x, dy + write dx (1.5 copies).
import * as nk from '../src/index';
import { nativeAddon } from '../src/backend';

const addon = nativeAddon();
if (!addon) throw new Error('the native addon is not loaded: ' + nk.backendInfo().fallbackReason);
const reps = Number(process.argv[2] ?? 15);

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[s.length >> 1];
}
function time(f: () => void): number {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

const cases: [string, number[], 'NCHW' | 'NHWC'][] = [
  ['[32,64,56,56] NCHW', [32, 64, 56, 56], 'NCHW'],
  ['[32,64,56,56] NHWC', [32, 56, 56, 64], 'NHWC'],
  ['[8,256,28,28] NCHW', [8, 256, 28, 28], 'NCHW'],
  ['[8,256,28,28] NHWC', [8, 28, 28, 256], 'NHWC'],
  ['[256,512]', [256, 512], 'NCHW'],
];
console.log(`isa ${nk.backendInfo().isa}, median of ${reps}`);
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
  const copy = time(() => addon.copy(n, x, copyDst));
  const copy15 = time(() => { addon.copy(n, x, copyDst); addon.copy(n >> 1, dy.subarray(0, n >> 1), dx.subarray(0, n >> 1)); });
  const train = time(() => nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, layout, out }));
  const infer = time(() => nk.batchNorm(x, shape, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, layout, out }));
  nk.batchNorm(x, shape, { weight: w, bias: b, training: true, layout, out });
  const back = time(() => nk.batchNormBackward(dy, x, shape, { weight: w, saveMean, saveInvstd, layout, out: { gradInput: dx, gradWeight: gw, gradBias: gb } }));
  const f = (ms: number, ref: number) => `${ms.toFixed(3)} ms (${((100 * ref) / ms).toFixed(0)}%)`;
  console.log(`${name.padEnd(20)} memcpy ${copy.toFixed(3)} ms | train fwd ${f(train, copy)} | inference ${f(infer, copy)} | train bwd ${f(back, copy15)}`);
}
