#!/usr/bin/env node
// The README's Performance table: normkit's benchmark CLI and PyTorch's compare.py, run in turn, so that every
// PyTorch timing has a normkit timing of the same minutes beside it; then one Markdown row per op and shape.
//
//   node bench/pytorch/side-by-side.mjs [--runs 12] [--out DIR] [--python python3]   (after `npm run build:ts`)
//   node bench/pytorch/side-by-side.mjs --tabulate DIR                               (rows from a finished DIR)
//
// Writes DIR/normkit-<i>.json and DIR/pytorch-<i>.json, then prints the rows and, per row, the range over the
// runs. Not part of `npm test` or the package (torch is not a dependency); needs a python3 with torch.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The CLI's op names where compare.py names them otherwise. */
const TORCH_OP = {
  batchNormTraining: 'batchNormTrain',
  batchNormInference: 'batchNormEval',
  batchNormBackward: 'batchNormTrainBackward',
};

/** compare.py's name for a CLI shape: channels-last dims in PyTorch's logical order, [N, C] as `nc:`. */
export function torchShape(op, shape) {
  const s = shape.replace(/\/g\d+$/, '');
  const nhwc = s.match(/^nhwc:(\d+)x(\d+)x(\d+)x(\d+)$/);
  if (nhwc) return `nhwc:${nhwc[1]}x${nhwc[4]}x${nhwc[2]}x${nhwc[3]}`;
  if (op.startsWith('batchNorm') && !s.includes(':')) return `nc:${s}`;
  return s;
}

const median = (values) => {
  const a = [...values].sort((x, y) => x - y);
  const n = a.length;
  return n % 2 ? a[n >> 1] : (a[n / 2 - 1] + a[n / 2]) / 2;
};
export const formatUs = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : us >= 10 ? `${us.toFixed(0)} µs` : `${us.toFixed(2)} µs`);

/**
 * Rows of the README table from paired runs (normkit[i] beside pytorch[i]): medians over the runs, PyTorch's
 * fastest run (it is bimodal on some ops; marked "(autograd)" where compare.py had to time autograd) and its
 * ratio to normkit's median AVX-512 time; and per row the ranges behind them, with the PyTorch ÷ normkit ratio
 * of each pair.
 */
export function tabulate(normkitRuns, pytorchRuns) {
  if (normkitRuns.length !== pytorchRuns.length) throw new RangeError('tabulate: one PyTorch run for each normkit run');
  const cases = new Map();
  normkitRuns.forEach((run, i) => {
    for (const c of run.cases) {
      const key = `${c.op}|${c.shape}`;
      if (!cases.has(key)) cases.set(key, []);
      cases.get(key)[i] = c;
    }
  });
  const rows = [], ranges = [];
  for (const [key, perRun] of cases) {
    const [op, shape] = key.split('|');
    if (perRun.length !== normkitRuns.length || perRun.includes(undefined)) continue;  // not in every run
    const of = (backend) => perRun.map((c) => c.results.find((r) => r.backend === backend));
    const avx512 = of('native:avx512'), avx2 = of('native:avx2'), ts = of('js');
    if (avx512.includes(undefined) || avx2.includes(undefined) || ts.includes(undefined)) continue;
    const t = avx512.map((r) => r.prealloc.medianNs / 1000);
    const torchOp = TORCH_OP[op] ?? op, tshape = torchShape(op, shape);
    const torchRecords = pytorchRuns.map((p) => p.results.find((r) => r.op === torchOp && r.shape === tshape));
    const torch = torchRecords.map((r) => r?.us);
    // compare.py timed autograd where aten's direct backward kernel gave wrong gradients (see there).
    const viaAutograd = torchRecords.some((r) => r?.via === 'autograd') ? ' (autograd)' : '';
    const haveTorch = torch.every((us) => typeof us === 'number');
    const fastest = haveTorch ? Math.min(...torch) : null;
    const pct = (rs) => `${(100 * median(rs.map((r) => r.fractionOfMemcpy))).toFixed(0)}%`;
    rows.push(
      `| ${op} | ${shape} | ${formatUs(median(perRun.map((c) => c.memcpy.medianNs / 1000)))} | ${formatUs(median(t))} ` +
        `| ${pct(avx512)} | ${pct(avx2)} | ${formatUs(median(avx512.map((r) => r.alloc.medianNs / 1000)))} ` +
        `| ${formatUs(median(ts.map((r) => r.prealloc.medianNs / 1000)))} | ${haveTorch ? formatUs(fastest) + viaAutograd : '–'} ` +
        `| ${haveTorch ? `${(fastest / median(t)).toFixed(1)}×` : '–'} |`,
    );
    const fractions = avx512.map((r) => 100 * r.fractionOfMemcpy);
    let range = `${op} ${shape}: of memcpy ${Math.min(...fractions).toFixed(0)}–${Math.max(...fractions).toFixed(0)}%, ` +
      `AVX-512 ${formatUs(Math.min(...t))}–${formatUs(Math.max(...t))}`;
    if (haveTorch) {
      const pairs = torch.map((us, i) => us / t[i]);
      range += `, PyTorch ${formatUs(fastest)}–${formatUs(Math.max(...torch))}, ` +
        `pairs ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}× (${pairs.filter((r) => r < 1).length} behind)`;
    }
    ranges.push(range);
  }
  return { rows, ranges };
}

function readRuns(dir) {
  const indices = fs.readdirSync(dir).map((f) => f.match(/^normkit-(\d+)\.json$/)?.[1]).filter(Boolean).map(Number);
  indices.sort((a, b) => a - b);
  const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  return { normkit: indices.map((i) => read(`normkit-${i}.json`)), pytorch: indices.map((i) => read(`pytorch-${i}.json`)) };
}

function run(command, args, outFile) {
  const r = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  fs.writeFileSync(outFile, r.stdout);
}

function main(argv) {
  const opt = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  let dir = opt('--tabulate', null);
  if (!dir) {
    const runs = Number(opt('--runs', '12'));
    if (!Number.isInteger(runs) || runs < 1) throw new RangeError('--runs: a positive integer');
    dir = opt('--out', fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-side-by-side-')));
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 1; i <= runs; ++i) {
      run(process.execPath, ['dist/bench/cli.js', '--backends', 'avx512,avx2,js', '--json', '--budget', '150',
        '--no-progress'], path.join(dir, `normkit-${i}.json`));
      try {
        run(opt('--python', 'python3'), ['bench/pytorch/compare.py', '--json'], path.join(dir, `pytorch-${i}.json`));
      } catch (e) {
        throw new Error(`${e.message}\n(compare.py needs a Python with torch: pass its path with --python)`);
      }
      console.error(`${new Date().toISOString()} pair ${i}/${runs} done (${dir})`);
    }
  }
  const { normkit, pytorch } = readRuns(dir);
  const { rows, ranges } = tabulate(normkit, pytorch);
  if (!rows.length) throw new Error(`no op in ${dir} has AVX-512, AVX2 and TypeScript timings in every run (the README's columns)`);
  console.log(`${normkit.length} pairs of runs from ${dir}\n`);
  console.log(rows.join('\n'));
  console.log(`\n${ranges.join('\n')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
