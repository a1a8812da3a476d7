// Seeded random cases, each run on the TypeScript backend and on every native instruction set this machine
// has: random shapes (empty, one element, odd sizes), options (weight, bias, eps, masks, layouts, training),
// data kinds (ordinary, large offset, tiny spread, constant, huge) and buffer placements (every input and
// output at its own offset). The other test files check each op against a float64 reference on chosen
// cases; this one looks for the combinations nobody chose. The inputs must come back unmodified.
import { describe, expect, it } from 'vitest';
import { maxAbs, nk, relError, rng, sameBits, targets } from './helpers';

const CASES = 150; // per op family; each case runs on every target
const r = rng(20261127);
const int = (lo: number, hi: number) => lo + Math.floor(r.uniform() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r.uniform() * xs.length)];
const chance = (p: number) => r.uniform() < p;

/** A copy of src placed 0-15 floats into a fresh buffer. */
function placed(src: Float32Array): Float32Array {
  const off = int(0, 15);
  const a = new Float32Array(src.length + off + 3).subarray(off, off + src.length);
  a.set(src);
  return a;
}
function data(n: number): Float32Array {
  const kind = pick(['normal', 'normal', 'offset', 'tiny', 'constant', 'huge'] as const);
  const a = r.normals(n, kind === 'offset' ? pick([1e4, 3e5, -2e3]) : 0, 1);
  if (kind === 'tiny') for (let i = 0; i < n; i++) a[i] = 1 + 1e-3 * a[i];
  if (kind === 'constant') a.fill(pick([0, 2.5, -7e3]));
  if (kind === 'huge') for (let i = 0; i < n; i++) a[i] *= 1e18;
  return placed(a);
}
const maybe = (n: number, p: number, offset = 0) => (chance(p) ? placed(r.normals(n, offset, 1)) : undefined);
const fresh = (n: number) => new Float32Array(n + 16).subarray(int(0, 15)).subarray(0, n);

/** Runs f on every target; returns the JS backend's result and each native one's, by target name. */
function everywhere<T>(inputs: Float32Array[], f: () => T): { js: T; native: [string, T][] } {
  const before = inputs.map((a) => a.slice());
  let js: T | undefined;
  const native: [string, T][] = [];
  for (const t of targets()) {
    t.use();
    const got = f();
    if (t.name === 'js') js = got;
    else native.push([t.name, got]);
    inputs.forEach((a, i) => expect(sameBits(a, before[i]), `${t.name} modified input ${i}`).toBe(true));
  }
  nk.setBackend(nk.backendInfo().nativeAvailable ? 'native' : 'js');
  if (nk.backendInfo().nativeAvailable) nk.setIsa('auto');
  return { js: js as T, native };
}

/** Each named array of `got` within tol of `ref`'s, relative to max(scale of ref, minScale[name]). */
function agree(what: string, got: Record<string, ArrayLike<number> | null>, ref: Record<string, ArrayLike<number> | null>,
  minScale: Record<string, number>, tol = 1e-5) {
  for (const k of Object.keys(ref)) {
    const a = got[k], b = ref[k];
    if (a === null || b === null) {
      expect(a === null, `${what}: ${k} null on one backend only`).toBe(b === null);
      continue;
    }
    expect(relError(a, b, Math.max(minScale[k] ?? 0, 1e-30)), `${what}: ${k}`).toBeLessThan(tol);
  }
}

describe('differential: every native instruction set against the TypeScript backend, on random cases', () => {
  it('LayerNorm and RMSNorm, forward and backward', () => {
    for (let c = 0; c < CASES; c++) {
      const rms = chance(0.5);
      const cols = pick([1, int(1, 40), int(1, 300), 768, 1000, 1001]), rows = pick([0, 1, int(1, 9), int(10, 70)]);
      const lead = rows > 1 && chance(0.3) && rows % 2 === 0 ? [2, rows / 2] : [rows];
      const norm = cols > 1 && chance(0.3) && cols % 2 === 0 ? [cols / 2, 2] : [cols];
      const shape = [...lead, ...norm], n = rows * cols;
      const x = data(n), dy = placed(r.normals(n)), weight = maybe(cols, 0.7, 1), bias = maybe(cols, 0.6);
      const eps = pick([1e-5, 1e-6, 0.1]);
      const mask = [chance(0.9), !!weight && chance(0.8), chance(0.8)] as [boolean, boolean, boolean];
      const what = `${rms ? 'rmsNorm' : 'layerNorm'} case ${c} [${shape}] over [${norm}] w ${!!weight} b ${!!bias} mask ${mask}`;
      const inputs = [x, dy, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
      const run = () => {
        if (rms) {
          const out = chance(0.5) ? { output: fresh(n), rstd: fresh(rows) } : undefined;
          const f = nk.rmsNorm(x, shape, norm, { weight, eps, out });
          const g = nk.rmsNormBackward(dy, x, shape, norm,
            { rstd: f.rstd, weight, outputMask: [mask[0], mask[1]], out: chance(0.5) && mask[0] ? { gradInput: fresh(n) } : undefined });
          return { output: f.output, rstd: f.rstd, gradInput: g.gradInput, gradWeight: g.gradWeight } as Record<string, Float32Array | null>;
        }
        const out = chance(0.5) ? { output: fresh(n), mean: fresh(rows), rstd: fresh(rows) } : undefined;
        const f = nk.layerNorm(x, shape, norm, { weight, bias, eps, out });
        const g = nk.layerNormBackward(dy, x, shape, norm,
          { mean: f.mean, rstd: f.rstd, weight, outputMask: mask, out: chance(0.5) && mask[0] ? { gradInput: fresh(n) } : undefined });
        return { output: f.output, mean: f.mean, rstd: f.rstd, gradInput: g.gradInput, gradWeight: g.gradWeight, gradBias: g.gradBias } as Record<string, Float32Array | null>;
      };
      const { js, native } = everywhere(inputs, run);
      const rstd = js.rstd!;
      // Results that are sums or differences of larger terms are compared on the terms' scale: gradInput
      // (terms of size |dy|·|w|·rstd; it cancels to ~0 for a normalized size of 1), gradWeight and gradBias
      // (sums of dy·xhat and dy, which can cancel), and the mean (on the scale of the spread, 1/rstd, which is
      // what the output depends on).
      const terms = maxAbs(dy) * (weight ? maxAbs(weight) : 1) * maxAbs(rstd);
      const spread = rows ? 1 / Math.min(...rstd) : 0;
      for (const [name, got] of native) agree(`${what} on ${name}`, got, js, { gradInput: terms, gradWeight: maxAbs(dy), gradBias: maxAbs(dy), mean: spread, output: maxAbs(bias ?? null) });
    }
  });

  it('BatchNorm, both layouts, training and inference, forward and backward', () => {
    for (let c = 0; c < CASES; c++) {
      const layout = pick(['NCHW', 'NHWC'] as const), training = chance(0.7);
      const C = int(1, 40), N = int(1, 6), spatial = pick([[], [int(1, 9)], [int(1, 7), int(1, 7)]]);
      const S = spatial.reduce((a, b) => a * b, 1);
      if (training && N * S < 2) continue; // one value per channel: an error, tested elsewhere
      const shape = layout === 'NCHW' ? [N, C, ...spatial] : [N, ...spatial, C], n = N * C * S;
      const x = data(n), dy = placed(r.normals(n)), weight = maybe(C, 0.7, 1), bias = maybe(C, 0.6);
      const rm0 = placed(r.normals(C)), rv0 = placed(Float32Array.from(r.normals(C), (v) => 0.5 + Math.abs(v)));
      const momentum = pick([0.1, 0.5, null]), eps = pick([1e-5, 1e-3]), numBatchesTracked = int(1, 5);
      const mask = [chance(0.9), !!weight && chance(0.8), chance(0.8)] as [boolean, boolean, boolean];
      const what = `batchNorm case ${c} [${shape}] ${layout} training ${training} w ${!!weight} b ${!!bias} mask ${mask}`;
      const inputs = [x, dy, rm0, rv0, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
      const run = () => {
        const runningMean = rm0.slice(), runningVar = rv0.slice();
        const f = nk.batchNorm(x, shape, { weight, bias, runningMean, runningVar, training, momentum, numBatchesTracked, eps, layout,
          out: chance(0.5) ? { output: fresh(n) } : undefined });
        const g = training
          ? nk.batchNormBackward(dy, x, shape, { saveMean: f.saveMean, saveInvstd: f.saveInvstd, weight, training, layout, outputMask: mask })
          : nk.batchNormBackward(dy, x, shape, { runningMean: rm0, runningVar: rv0, eps, weight, training, layout, outputMask: mask });
        return { output: f.output, saveMean: Float32Array.from(f.saveMean), saveInvstd: f.saveInvstd, runningMean, runningVar,
          gradInput: g.gradInput, gradWeight: g.gradWeight, gradBias: g.gradBias } as Record<string, Float32Array | null>;
      };
      const { js, native } = everywhere(inputs, run);
      const invstd = training ? js.saveInvstd! : Float32Array.from(rv0, (v) => 1 / Math.sqrt(v + eps));
      const terms = maxAbs(dy) * (weight ? maxAbs(weight) : 1) * maxAbs(invstd);
      const spread = training ? 1 / Math.min(...invstd) : 0;
      for (const [name, got] of native) {
        agree(`${what} on ${name}`, got, js, { gradInput: terms, gradWeight: maxAbs(dy), gradBias: maxAbs(dy), saveMean: spread, runningMean: maxAbs(rm0) + spread,
          output: maxAbs(bias ?? null) });
      }
    }
  });

  it('GroupNorm, both layouts, forward and backward', () => {
    for (let c = 0; c < CASES; c++) {
      const layout = pick(['NCHW', 'NHWC'] as const);
      const G = int(1, 6), C = G * int(1, 5), N = int(0, 4), spatial = pick([[], [int(1, 9)], [int(1, 8), int(1, 8)]]);
      const S = spatial.reduce((a, b) => a * b, 1);
      const shape = layout === 'NCHW' ? [N, C, ...spatial] : [N, ...spatial, C], n = N * C * S;
      const x = data(n), dy = placed(r.normals(n)), weight = maybe(C, 0.7, 1), bias = maybe(C, 0.6);
      const eps = pick([1e-5, 1e-3]);
      const mask = [chance(0.9), !!weight && chance(0.8), chance(0.8)] as [boolean, boolean, boolean];
      const what = `groupNorm case ${c} [${shape}] ${layout} groups ${G} w ${!!weight} b ${!!bias} mask ${mask}`;
      const inputs = [x, dy, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
      const run = () => {
        const f = nk.groupNorm(x, shape, G, { weight, bias, eps, layout, out: chance(0.5) ? { output: fresh(n) } : undefined });
        const g = nk.groupNormBackward(dy, x, shape, G, { mean: f.mean, rstd: f.rstd, weight, layout, outputMask: mask });
        return { output: f.output, mean: f.mean, rstd: f.rstd, gradInput: g.gradInput, gradWeight: g.gradWeight, gradBias: g.gradBias } as Record<string, Float32Array | null>;
      };
      const { js, native } = everywhere(inputs, run);
      const rstd = js.rstd!;
      const terms = maxAbs(dy) * (weight ? maxAbs(weight) : 1) * maxAbs(rstd);
      const spread = rstd.length ? 1 / Math.min(...rstd) : 0;
      for (const [name, got] of native) agree(`${what} on ${name}`, got, js, { gradInput: terms, gradWeight: maxAbs(dy), gradBias: maxAbs(dy), mean: spread, output: maxAbs(bias ?? null) });
    }
  });
});
