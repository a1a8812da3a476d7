// The Async variants: same results as the sync ops, the event loop stays free on the native backend, and a
// buffer detached (transferred) while an op runs gives a rejected Promise, never a crash or garbage.
import { describe, expect, it } from 'vitest';

import { nk, rng, targets } from './helpers';

for (const t of targets()) {
  describe(`async ops on ${t.name}`, () => {
    it('give the same results as the sync ops', async () => {
      t.use();
      const r = rng(21), rows = 33, cols = 129;
      const x = r.normals(rows * cols, 1, 2), w = r.normals(cols), b = r.normals(cols), dy = r.normals(rows * cols);
      const ln = nk.layerNorm(x, [rows, cols], cols, { weight: w, bias: b });
      expect(await nk.layerNormAsync(x, [rows, cols], cols, { weight: w, bias: b })).toEqual(ln);
      const lnb = nk.layerNormBackward(dy, x, [rows, cols], cols, { mean: ln.mean, rstd: ln.rstd, weight: w });
      expect(await nk.layerNormBackwardAsync(dy, x, [rows, cols], cols, { mean: ln.mean, rstd: ln.rstd, weight: w })).toEqual(lnb);
      const rms = nk.rmsNorm(x, [rows, cols], cols, { weight: w });
      expect(await nk.rmsNormAsync(x, [rows, cols], cols, { weight: w })).toEqual(rms);
      const rmsb = nk.rmsNormBackward(dy, x, [rows, cols], cols, { rstd: rms.rstd, weight: w });
      expect(await nk.rmsNormBackwardAsync(dy, x, [rows, cols], cols, { rstd: rms.rstd, weight: w })).toEqual(rmsb);
    });

    it('reject bad arguments with the same errors as the sync ops', async () => {
      t.use();
      await expect(nk.layerNormAsync(new Float64Array(4) as never, [4], 4)).rejects.toThrow(TypeError);
      await expect(nk.rmsNormAsync(new Float32Array(4), [4], 3)).rejects.toThrow(RangeError);
    });
  });
}

describe('native async ops', () => {
  const native = nk.backendInfo().nativeAvailable;

  it('leave the event loop free while they run', async () => {
    if (!native) return;
    nk.setBackend('native');
    nk.setIsa('auto');
    const rows = 2048, cols = 4096; // a few milliseconds of work
    const x = rng(22).normals(rows * cols);
    const events: string[] = [];
    const done = nk.layerNormAsync(x, [rows, cols], cols).then(() => events.push('op'));
    setImmediate(() => events.push('immediate'));
    await done;
    expect(events).toEqual(['immediate', 'op']);
  });

  it('turn a buffer detached while the op runs into a rejected Promise, with the data kept valid', async () => {
    if (!native) return;
    nk.setBackend('native');
    const rows = 2048, cols = 4096;
    const x = rng(23).normals(rows * cols);
    const out = new Float32Array(rows * cols);
    const pending = nk.layerNormAsync(x, [rows, cols], cols, { out: { output: out } });
    // Transfer the input's memory away while the worker thread reads it.
    const moved = structuredClone(x.buffer, { transfer: [x.buffer] });
    expect(x.length).toBe(0);
    await expect(pending).rejects.toThrow(/detached \(transferred\)/);
    // The moved memory is intact and usable; the process did not crash.
    const again = new Float32Array(moved);
    expect(again.length).toBe(rows * cols);
    expect(nk.layerNorm(again, [rows, cols], cols).output.every(Number.isFinite)).toBe(true);

    // An output transferred to another port while the op writes it: also an error.
    const y = new Float32Array(rows * cols);
    const p2 = nk.rmsNormAsync(again, [rows, cols], cols, { out: { output: y } });
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(y.buffer, [y.buffer]);
    await expect(p2).rejects.toThrow(/detached/);
    port1.close();
    port2.close();
  });

  it('work on SharedArrayBuffer-backed arrays (as worker_threads pipelines use)', async () => {
    if (!native) return;
    nk.setBackend('native');
    const rows = 4, cols = 1024, n = rows * cols;
    const sab = new SharedArrayBuffer(2 * n * 4);
    const x = new Float32Array(sab, 0, n), y = new Float32Array(sab, n * 4, n);
    x.set(rng(24).normals(n, 2, 3));
    const r = await nk.layerNormAsync(x, [rows, cols], cols, { out: { output: y } });
    expect(r.output).toBe(y);
    expect(y).toEqual(nk.layerNorm(Float32Array.from(x), [rows, cols], cols).output);
    const st = await nk.batchNormStatsAsync(x, [4, 16, 64]);
    expect(st.mean).toEqual(nk.batchNormStats(Float32Array.from(x), [4, 16, 64]).mean);
  });

  it('refuse an already-detached buffer with a RangeError naming it', async () => {
    if (!native) return;
    nk.setBackend('native');
    const x = new Float32Array(8);
    structuredClone(x.buffer, { transfer: [x.buffer] });
    expect(() => nk.layerNorm(x, [8], 8)).toThrow(/'input' must be a Float32Array of length 8/);
    const out = new Float32Array(8);
    structuredClone(out.buffer, { transfer: [out.buffer] });
    expect(() => nk.layerNorm(new Float32Array(8), [8], 8, { out: { output: out } })).toThrow(/detached/);
  });
});
