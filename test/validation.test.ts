// Bad input gets a TypeError or RangeError naming the argument, from the TypeScript layer; and the binding
// checks again, so that calling the addon directly cannot make a kernel read or write out of bounds.
import { describe, expect, it } from 'vitest';

import { nk } from './helpers';

const x = new Float32Array(12);

describe('argument checks in the TypeScript layer', () => {
  // Overlap is checked by the binding when the native backend runs: test both paths.
  const backends = nk.backendInfo().nativeAvailable ? (['js', 'native'] as const) : (['js'] as const);

  it('wrong array types', () => {
    expect(() => nk.layerNorm(new Float64Array(12) as never, [3, 4], [4])).toThrow(TypeError);
    expect(() => nk.layerNorm(new Float64Array(12) as never, [3, 4], [4])).toThrow(/'input' must be a Float32Array, got a Float64Array/);
    expect(() => nk.layerNorm([1, 2, 3] as never, [3], [3])).toThrow(/'input' must be a Float32Array, got an Array/);
    expect(() => nk.rmsNorm(x, [3, 4], 4, { weight: [1, 1, 1, 1] as never })).toThrow(/'weight' must be a Float32Array, got an Array/);
    expect(() => nk.layerNorm(x, [3, 4], 4, { bias: new Int32Array(4) as never })).toThrow(TypeError);
    expect(() => nk.layerNorm(x, [3, 4], 4, 'fast' as never)).toThrow(/'options' must be an object/);
  });

  it('wrong lengths', () => {
    expect(() => nk.layerNorm(x, [3, 5], [5])).toThrow(RangeError);
    expect(() => nk.layerNorm(x, [3, 5], [5])).toThrow(/'input' must be a Float32Array of length 15 \(the product of inputShape\), got length 12/);
    expect(() => nk.layerNorm(x, [3, 4], [4], { weight: new Float32Array(3) })).toThrow(/'weight' must be a Float32Array of length 4 \(the normalized size\), got length 3/);
    expect(() => nk.layerNorm(x, [3, 4], [4], { out: { mean: new Float32Array(4) } })).toThrow(/'out.mean' must be a Float32Array of length 3/);
    expect(() => nk.layerNormBackward(new Float32Array(11), x, [3, 4], [4], { mean: new Float32Array(3), rstd: new Float32Array(3) })).toThrow(/'gradOutput'/);
    expect(() => nk.layerNormBackward(x, x, [3, 4], [4], { mean: new Float32Array(2), rstd: new Float32Array(3) })).toThrow(/'options.mean'/);
    expect(() => nk.rmsNormBackward(x, x, [3, 4], [4], {} as never)).toThrow(/'options.rstd' must be a Float32Array, got undefined/);
  });

  it('shape and normalizedShape mismatches', () => {
    expect(() => nk.layerNorm(x, [3, 4], [3])).toThrow(/'normalizedShape' must be the trailing dimensions of inputShape \[3, 4\], got \[3\]/);
    expect(() => nk.layerNorm(x, [12], [3, 4])).toThrow(/'normalizedShape'/);
    expect(() => nk.layerNorm(x, [], [4])).toThrow(/'inputShape' must be at least 1 dimension/);
    expect(() => nk.layerNorm(x, [3, 4], [])).toThrow(/'normalizedShape' must be at least 1 dimension/);
    expect(() => nk.layerNorm(new Float32Array(0), [3, 0], [0])).toThrow(/'normalizedShape' must be dimensions of at least 1/);
    expect(() => nk.layerNorm(x, 12 as never, [4])).toThrow(/'inputShape' must be an array of dimensions/);
  });

  it('non-integer, negative and oversized dimensions', () => {
    expect(() => nk.layerNorm(x, [3, 4.5], [4.5])).toThrow(/'inputShape\[1\]' must be a non-negative integer, got 4.5/);
    expect(() => nk.layerNorm(x, [-3, 4], [4])).toThrow(/'inputShape\[0\]' must be a non-negative integer, got -3/);
    expect(() => nk.layerNorm(x, [3, NaN], [4])).toThrow(RangeError);
    expect(() => nk.layerNorm(x, ['3', 4] as never, [4])).toThrow(/'inputShape\[0\]' must be a number, got a string/);
    expect(() => nk.layerNorm(x, [2 ** 27, 2 ** 27, 4], [4])).toThrow(/fewer than 2\^53 elements/);
  });

  it('bad eps and options', () => {
    expect(() => nk.layerNorm(x, [3, 4], 4, { eps: NaN })).toThrow(/'eps' must be a finite number >= 0, got NaN/);
    expect(() => nk.layerNorm(x, [3, 4], 4, { eps: -1e-5 })).toThrow(RangeError);
    expect(() => nk.rmsNorm(x, [3, 4], 4, { eps: Infinity })).toThrow(RangeError);
    expect(() => nk.rmsNorm(x, [3, 4], 4, { eps: '1e-5' as never })).toThrow(TypeError);
    expect(() => nk.layerNormBackward(x, x, [3, 4], 4, { mean: new Float32Array(3), rstd: new Float32Array(3), outputMask: [true] as never })).toThrow(/'options.outputMask' must be an array of 3 booleans/);
  });

  it.each(backends)('outputs that overlap other arguments, except exact in-place (%s backend)', (backend) => {
    nk.setBackend(backend);
    const buf = new Float32Array(24);
    const a = buf.subarray(0, 12), shifted = buf.subarray(4, 16);
    expect(() => nk.layerNorm(a, [3, 4], 4, { out: { output: shifted } })).toThrow(/'out.output' overlaps 'input'/);
    expect(() => nk.layerNorm(a, [3, 4], 4, { out: { mean: a.subarray(0, 3) } })).toThrow(/'out.mean' overlaps 'input'/);
    const w = new Float32Array(4);
    expect(() => nk.rmsNorm(x, [3, 4], 4, { weight: w, out: { rstd: w.subarray(0, 3) } })).toThrow(/overlaps 'weight'/);
    expect(() => nk.layerNormBackward(x, a, [3, 4], 4, { mean: new Float32Array(3), rstd: new Float32Array(3), out: { gradInput: a } })).toThrow(/'out.gradInput' overlaps 'input'/);
    expect(() => nk.layerNorm(a, [3, 4], 4, { out: { output: a } })).not.toThrow();
  });

  it('setBackend and setIsa check their arguments', () => {
    expect(() => nk.setBackend('cuda' as never)).toThrow(/'name' must be 'native' or 'js'/);
    expect(() => nk.setIsa(3 as never)).toThrow(TypeError);
  });
});

describe('argument checks in the native binding (called directly, bypassing the TypeScript layer)', () => {
  const addon = nk.backendInfo().nativeAvailable
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ? require(nk.backendInfo().addonPath!) : null;

  it('refuses wrong types, short buffers, bad sizes and overlapping outputs', () => {
    if (!addon) return;
    const y = new Float32Array(12), m = new Float32Array(3), r = new Float32Array(3);
    expect(() => addon.layerNorm(3, 4, x, null, null, 1e-5, y, m, r)).not.toThrow();
    expect(() => addon.layerNorm(3, 4, new Float32Array(11), null, null, 1e-5, y, m, r)).toThrow(/'input' must be a Float32Array of length 12, got 11/);
    expect(() => addon.layerNorm(3, 4, x, null, null, 1e-5, new Float32Array(8), m, r)).toThrow(RangeError);
    expect(() => addon.layerNorm(3, 4, x, new Float32Array(3), null, 1e-5, y, m, r)).toThrow(/'weight'/);
    expect(() => addon.layerNorm(3, 4, x, null, null, 1e-5, y, new Float32Array(2), r)).toThrow(/'out.mean'/);
    expect(() => addon.layerNorm(3, 4, new Float64Array(12), null, null, 1e-5, y, m, r)).toThrow(TypeError);
    expect(() => addon.layerNorm(3, 4, x, null, null, -1, y, m, r)).toThrow(/'eps' must be a finite number >= 0/);
    expect(() => addon.layerNorm(-3, 4, x, null, null, 1e-5, y, m, r)).toThrow(/'rows' must be a non-negative integer/);
    expect(() => addon.layerNorm(2 ** 40, 2 ** 40, x, null, null, 1e-5, y, m, r)).toThrow(RangeError);
    expect(() => addon.layerNorm(3, 4, x, null, null, 1e-5, y, m)).toThrow(/too few/);
    expect(() => addon.layerNorm(3, 4, x, null, null, 1e-5, y, m, r, 1)).toThrow(/expected 9 arguments/);
    const buf = new Float32Array(20);
    expect(() => addon.rmsNorm(3, 4, buf.subarray(0, 12), null, 1e-5, buf.subarray(2, 14), r)).toThrow(/'out.output' overlaps 'input'/);
    expect(() => addon.rmsNorm(3, 4, x, null, 1e-5, x, r)).not.toThrow();
    expect(() => addon.layerNormBackward(3, 4, x, x, m, r, null, x, null, null)).toThrow(/'out.gradInput' overlaps/);
    expect(() => addon.copy(12, x, new Float32Array(11))).toThrow(/'dst'/);
    // A row of no values has no statistics: refused, never read (the public API refuses it too).
    const e = new Float32Array(0);
    expect(() => addon.layerNorm(2, 0, e, null, null, 1e-5, e, m.subarray(0, 2), r.subarray(0, 2))).toThrow(/'cols' must be a positive integer/);
    expect(() => addon.rmsNorm(2, 0, e, null, 1e-5, e, r.subarray(0, 2))).toThrow(/'cols' must be a positive integer/);
    expect(() => addon.layerNormBackward(2, 0, e, e, m.subarray(0, 2), r.subarray(0, 2), null, e, null, null)).toThrow(/'cols'/);
    expect(() => addon.rmsNormBackward(2, 0, e, e, r.subarray(0, 2), null, e, null)).toThrow(/'cols'/);
  });
});
