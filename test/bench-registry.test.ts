// The registry of benchmarked ops: every entry is complete and consistent, and each available op gives the
// same results on every backend, through every way the benchmark calls it.
import { describe, expect, it } from 'vitest';

import { rng } from '../dist/bench/data.js';
import { compareResults, OPS, selectOps } from '../dist/bench/registry.js';
import { modeSettings, resolveBackends, shapesFor } from '../dist/bench/run.js';
import { elementCount, parseShape } from '../dist/bench/shapes.js';
import { nk, targets } from './helpers';

const copy = (o: Record<string, Float32Array>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.slice()]));

describe('the registry', () => {
  it('has unique names, shapes of accepted layouts in every mode, and the LayerNorm/RMSNorm ops', () => {
    const names = OPS.map((o) => o.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['layerNorm', 'layerNormBackward', 'rmsNorm', 'rmsNormBackward']));
    for (const op of OPS) {
      for (const mode of ['quick', 'default', 'full'] as const) {
        expect(op.shapes[mode].length, `${op.name} ${mode}`).toBeGreaterThan(0);
        for (const s of op.shapes[mode]) expect(op.layouts, `${op.name} ${s}`).toContain(parseShape(s).layout);
      }
      expect(op.tolerance).toBeGreaterThan(0);
      expect(op.tolerance).toBeLessThan(1e-2);
    }
    // The default shapes for LayerNorm/RMSNorm, the call-cost one included.
    const ln = OPS.find((o) => o.name === 'layerNorm')!;
    expect(ln.shapes.default).toEqual(['4096x768', '8192x1024', '512x4096', '64x65536', '1x768']);
  });

  it('has every op family of the package', () => {
    expect(new Set(OPS.map((o) => o.family))).toEqual(new Set(['LayerNorm', 'RMSNorm', 'BatchNorm', 'GroupNorm']));
    for (const op of OPS) expect(typeof (nk as Record<string, unknown>)[op.name.replace(/Training|Inference/, '')], op.name).toBe('function');
  });

  it('selects ops by name, family, prefix; rejects unknown names', () => {
    const names = (sel: string[] | null) => selectOps(sel).map((o) => o.name);
    expect(names(['layerNorm'])).toEqual(['layerNorm']);
    expect(names(['LayerNorm'])).toEqual(['layerNorm', 'layerNormBackward']);
    expect(names(['rmsnormbackward'])).toEqual(['rmsNormBackward']);
    expect(names(['rms*', 'layerNorm'])).toEqual(['layerNorm', 'rmsNorm', 'rmsNormBackward']);
    expect(names(null)).toEqual(OPS.map((o) => o.name));
    expect(() => selectOps(['softmax'])).toThrow(/no op is called 'softmax'/);
  });

  it('--shapes replaces the op\'s own list, keeping only layouts the op takes', () => {
    const ln = OPS.find((o) => o.name === 'layerNorm')!;
    const picked = shapesFor(ln, { mode: 'quick', shapes: [parseShape('8x16'), parseShape('nchw:2x3x4x4')] });
    expect(picked.run.map((s) => s.text)).toEqual(['8x16']);
    expect(picked.rejected.map((s) => s.text)).toEqual(['nchw:2x3x4x4']);
    expect(shapesFor(ln, { mode: 'quick', shapes: null }).run.map((s) => s.text)).toEqual(ln.shapes.quick);
  });

  it('compareResults: relative error over common results; NaN, a length mismatch or nothing in common fail', () => {
    const ref = { y: new Float32Array([1, -2, 4]), m: new Float32Array([1]) };
    expect(compareResults(ref, { y: new Float32Array([1, -2, 4.004]) })).toMatchObject({ compared: ['y'], problem: null });
    expect(compareResults(ref, { y: new Float32Array([1, -2, 4.004]) }).error).toBeCloseTo(0.001, 6);
    expect(compareResults(ref, { y: new Float32Array([1, NaN, 4]) }).error).toBe(Infinity);
    expect(compareResults(ref, { y: new Float32Array(2) }).problem).toMatch(/length 2, expected 3/);
    expect(compareResults(ref, { z: new Float32Array(3) }).problem).toMatch(/no result in common/);
  });

  it('resolves backend selectors against what the CPU runs', () => {
    const info = { ...nk.backendInfo(), nativeAvailable: true, supportedIsas: ['avx512', 'avx2', 'scalar'], fallbackReason: null };
    const ids = (sel: string[] | null) => resolveBackends(sel, info).targets.map((t) => t.id);
    expect(ids(null)).toEqual(['native:avx512', 'native:avx2', 'native:scalar', 'js']);
    expect(ids(['js', 'native:scalar', 'avx512'])).toEqual(['native:avx512', 'native:scalar', 'js']);
    expect(ids(['native'])).toEqual(['native:avx512', 'native:avx2', 'native:scalar']);
    expect(resolveBackends(['tfjs', 'js'], info).peers).toEqual(['tfjs']);
    expect(() => resolveBackends(['neon'], info)).toThrow(/cannot run neon/);
    expect(() => resolveBackends(['gpu'], info)).toThrow(/unknown backend 'gpu'/);
    const noAddon = { ...info, nativeAvailable: false, supportedIsas: [], fallbackReason: 'not built' };
    expect(resolveBackends(null, noAddon).targets.map((t) => t.id)).toEqual(['js']);
    expect(() => resolveBackends(['avx2'], noAddon)).toThrow(/not available: not built/);
  });

  it('--budget scales the mode\'s settings down', () => {
    const s = modeSettings({ mode: 'default', budgetMs: 8 });
    expect(s.budgetMs).toBe(8);
    expect(s.allocBudgetMs).toBe(4);
    expect(s.warmupMs).toBeLessThanOrEqual(2);
    expect(modeSettings({ mode: 'quick', budgetMs: null }).budgetMs).toBeLessThan(modeSettings({ mode: 'full', budgetMs: null }).budgetMs);
  });
});

// Every available op on a small shape of each layout it takes: preallocated, allocating and row-sliced calls
// agree with the TypeScript backend on every backend; the byte count covers at least input and output.
for (const op of OPS.filter((o) => !(o.unavailable?.() ?? null))) {
  describe(`registry entry ${op.name}`, () => {
    const small = op.layouts.includes('rows') ? '37x70' : op.layouts[0] === 'nchw' ? 'nchw:2x64x3x5/g32' : 'nhwc:2x3x5x64';
    it(`gives the TypeScript result on every backend (${small}), in each calling style`, async () => {
      const shape = parseShape(small);
      nk.setBackend('js');
      const inputs = op.build(shape, rng(3));
      const refOut = op.allocate(inputs);
      op.call(inputs, refOut);
      const ref = copy(refOut);
      expect(op.bytes(inputs)).toBeGreaterThanOrEqual(2 * 4 * elementCount(shape));
      for (const t of targets()) {
        t.use();
        const out = op.allocate(inputs);
        op.call(inputs, out);
        const pre = compareResults(ref, out);
        expect(pre.error, `${t.name} preallocated`).toBeLessThanOrEqual(op.tolerance);
        expect(pre.compared.sort()).toEqual(Object.keys(ref).sort());
        const allocated = op.callAllocating(inputs) as Record<string, Float32Array | null>;
        const got = Object.fromEntries(Object.entries(allocated).filter(([, v]) => v instanceof Float32Array)) as Record<string, Float32Array>;
        expect(compareResults(ref, got).error, `${t.name} allocating`).toBeLessThanOrEqual(op.tolerance);
        if (op.rowSlices) {
          const sliced = op.allocate(inputs);
          const rows = op.rowSlices.rows(inputs);
          await Promise.all([[0, 10], [10, 11], [11, rows]].map(([a, b]) => op.rowSlices!.call(inputs, sliced, a, b)));
          expect(compareResults(ref, sliced).error, `${t.name} row slices`).toBeLessThanOrEqual(op.tolerance);
        }
      }
    });
  });
}
