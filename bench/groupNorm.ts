// GroupNorm throughput next to LayerNorm and the addon's memcpy, measured in one run (interleaved rounds, so
// that other load on the machine hits all of them alike). Usage: node dist/bench/groupNorm.js [isa ...]
import * as nk from '../src/index';
import { nativeAddon } from '../src/backend';

const [N, C, H, W, G] = [8, 256, 28, 28, 32];
const n = N * C * H * W;
const rounds = Number(process.env.ROUNDS ?? 15), reps = Number(process.env.REPS ?? 20);

function fill(len: number, seed: number): Float32Array {
  const a = new Float32Array(len);
  let s = seed;
  for (let i = 0; i < len; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s / 2 ** 32) * 4 - 2 + 3; }
  return a;
}

function main() {
  const addon = nativeAddon();
  if (!addon) throw new Error('the native addon is not loaded');
  const isas = process.argv.slice(2).length ? process.argv.slice(2) : [nk.backendInfo().supportedIsas[0]];
  const x = fill(n, 1), dy = fill(n, 2), y = new Float32Array(n), dx = new Float32Array(n);
  const w = fill(C, 3), b = fill(C, 4);
  const dw = new Float32Array(C), db = new Float32Array(C);
  const nchw = [N, C, H, W], nhwc = [N, H, W, C];
  const fw = { NCHW: nk.groupNorm(x, nchw, G, { weight: w, bias: b }), NHWC: nk.groupNorm(x, nhwc, G, { weight: w, bias: b, layout: 'NHWC' }) };
  const lnRows = N * G, lnCols = n / lnRows, lw = fill(lnCols, 5), lb = fill(lnCols, 6);
  const ln = nk.layerNorm(x, [lnRows, lnCols], lnCols, { weight: lw, bias: lb });
  const lnw = new Float32Array(lnCols), lnb = new Float32Array(lnCols);
  // [name, bytes moved (reads + writes), run]
  const ops: [string, number, () => void][] = [
    ['copy (memcpy) n floats', 8 * n, () => addon.copy(n, x, y)],
    ['groupNorm fwd NCHW', 8 * n, () => nk.groupNorm(x, nchw, G, { weight: w, bias: b, out: { output: y, mean: fw.NCHW.mean, rstd: fw.NCHW.rstd } })],
    ['groupNorm fwd NHWC', 8 * n, () => nk.groupNorm(x, nhwc, G, { weight: w, bias: b, layout: 'NHWC', out: { output: y, mean: fw.NHWC.mean, rstd: fw.NHWC.rstd } })],
    [`layerNorm fwd [${lnRows}, ${lnCols}]`, 8 * n, () => nk.layerNorm(x, [lnRows, lnCols], lnCols, { weight: lw, bias: lb, out: { output: y, mean: ln.mean, rstd: ln.rstd } })],
    ['groupNorm bwd NCHW', 12 * n, () => nk.groupNormBackward(dy, x, nchw, G, { mean: fw.NCHW.mean, rstd: fw.NCHW.rstd, weight: w, out: { gradInput: dx, gradWeight: dw, gradBias: db } })],
    ['groupNorm bwd NHWC', 12 * n, () => nk.groupNormBackward(dy, x, nhwc, G, { mean: fw.NHWC.mean, rstd: fw.NHWC.rstd, weight: w, layout: 'NHWC', out: { gradInput: dx, gradWeight: dw, gradBias: db } })],
    [`layerNorm bwd [${lnRows}, ${lnCols}]`, 12 * n, () => nk.layerNormBackward(dy, x, [lnRows, lnCols], lnCols, { mean: ln.mean, rstd: ln.rstd, weight: lw, out: { gradInput: dx, gradWeight: lnw, gradBias: lnb } })],
  ];
  for (const isa of isas) {
    nk.setIsa(isa);
    const times: number[][] = ops.map(() => []);
    for (let r = 0; r < rounds; r++) {
      ops.forEach(([, , run], i) => {
        run();
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < reps; k++) run();
        times[i].push(Number(process.hrtime.bigint() - t0) / 1e6 / reps);
      });
    }
    const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
    const copyGBs = (8 * n) / median(times[0]) / 1e6;
    console.log(`\n${isa}: [${N}, ${C}, ${H}, ${W}] (${(4 * n / 2 ** 20).toFixed(1)} MiB per tensor), ${G} groups; median of ${rounds} x ${reps}`);
    console.log('op'.padEnd(34) + 'median ms'.padStart(10) + 'GB/s'.padStart(8) + '  vs copy');
    ops.forEach(([name, bytes], i) => {
      const ms = median(times[i]), gbs = bytes / ms / 1e6;
      console.log(name.padEnd(34) + ms.toFixed(3).padStart(10) + gbs.toFixed(1).padStart(8) + `  ${(gbs / copyGBs).toFixed(2)}`);
    });
  }
}

main();
