// The native binding's own argument checks, called directly (bypassing the TypeScript layer's), for every
// op and its ...Async twin: starting from a valid call, each argument in turn is replaced by something wrong
// (another array type, a plain array, one element short, a detached buffer, an output overlapping an input,
// a dim that disagrees with the arrays, negative, fractional or NaN numbers). Every such call must throw a
// TypeError or RangeError that names the op, before any kernel runs: no crash, no input modified, no output
// written. (The kernels' own memory safety: test/bounds.test.ts.)
import { describe, expect, it } from 'vitest';

import { nk } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = nk.backendInfo().nativeAvailable ? require(nk.backendInfo().addonPath!) : null;

type Kind = 'dim' | 'eps' | 'fraction' | 'count' | 'bool' | 'in' | 'in?' | 'out' | 'out?' | 'in64' | 'out64' | 'out64?';
interface Arg {
  kind: Kind;
  value: unknown;
}

// Valid calls of every op on a small tensor: [N, C, S] = [2, 4, 3], 2 groups; rows x cols = 6 x 4.
function validCalls(): Record<string, Arg[]> {
  const f = (n: number, v = 1.5) => Float32Array.from({ length: n }, (_, i) => v + ((i * 7) % 5) / 4);
  const z = (n: number) => new Float32Array(n);
  const d = (n: number) => Float64Array.from({ length: n }, (_, i) => 1 + i / 8);
  const dz = (n: number) => new Float64Array(n);
  const dim = (v: number): Arg => ({ kind: 'dim', value: v });
  const a = (kind: Kind, value: unknown): Arg => ({ kind, value });
  const R = 6, C = 4, n = 24, N = 2, CH = 4, S = 3, G = 2;
  const bn = () => [dim(N), dim(CH), dim(S), a('bool', false)];
  const gn = () => [dim(N), dim(CH), dim(S), dim(G), a('bool', true)];
  return {
    layerNorm: [dim(R), dim(C), a('in', f(n)), a('in?', f(C)), a('in?', f(C)), a('eps', 1e-5), a('out', z(n)),
      a('out?', z(R)), a('out?', z(R))],
    layerNormBackward: [dim(R), dim(C), a('in', f(n)), a('in', f(n)), a('in', f(R)), a('in', f(R)), a('in?', f(C)),
      a('out?', z(n)), a('out?', z(C)), a('out?', z(C))],
    rmsNorm: [dim(R), dim(C), a('in', f(n)), a('in?', f(C)), a('eps', 1e-6), a('out', z(n)), a('out?', z(R))],
    rmsNormBackward: [dim(R), dim(C), a('in', f(n)), a('in', f(n)), a('in', f(R)), a('in?', f(C)), a('out?', z(n)),
      a('out?', z(C))],
    groupNorm: [...gn(), a('in', f(n)), a('in?', f(CH)), a('in?', f(CH)), a('eps', 1e-5), a('out', z(n)),
      a('out?', z(N * G)), a('out?', z(N * G))],
    groupNormBackward: [...gn(), a('in', f(n)), a('in', f(n)), a('in', f(N * G)), a('in', f(N * G)), a('in?', f(CH)),
      a('out?', z(n)), a('out?', z(CH)), a('out?', z(CH))],
    batchNorm: [...bn(), a('in', f(n)), a('in?', f(CH)), a('in?', f(CH)), a('out?', f(CH)), a('out?', f(CH)),
      a('bool', true), a('fraction', 0.1), a('eps', 1e-5), a('bool', true), a('out', z(n)), a('out64', dz(CH)),
      a('out', z(CH))],
    batchNormBackward: [...bn(), a('in', f(n)), a('in', f(n)), a('in?', f(CH)), a('bool', true), a('eps', 1e-5),
      a('in64', d(CH)), a('in', f(CH)), a('out?', z(n)), a('out?', z(CH)), a('out?', z(CH))],
    // Inference: the running mean and variance (Float32Arrays) in place of saveMean and saveInvstd.
    'batchNormBackward (inference)': [...bn(), a('in', f(n)), a('in', f(n)), a('in?', f(CH)), a('bool', false),
      a('eps', 1e-5), a('in', f(CH)), a('in', f(CH)), a('out?', z(n)), a('out?', z(CH)), a('out?', z(CH))],
    batchNormStats: [...bn(), a('in', f(n)), a('out64', dz(CH)), a('out64', dz(CH))],
    batchNormElemt: [...bn(), a('in', f(n)), a('in64', d(CH)), a('in', f(CH)), a('in?', f(CH)), a('in?', f(CH)),
      a('out', z(n))],
    batchNormBackwardReduce: [...bn(), a('in', f(n)), a('in', f(n)), a('in64', d(CH)), a('in', f(CH)),
      a('out64?', dz(CH)), a('out64?', dz(CH)), a('out?', z(CH)), a('out?', z(CH))],
    batchNormBackwardElemt: [...bn(), a('in', f(n)), a('in', f(n)), a('in64', d(CH)), a('in', f(CH)), a('in?', f(CH)),
      a('in64', d(CH)), a('in64', d(CH)), a('count', N * S), a('out', z(n))],
  };
}

const detached = (t: Float32Array | Float64Array) => {
  const c = t.slice();
  structuredClone(c.buffer, { transfer: [c.buffer] });
  return c;
};

// A typed array whose buffer is not detached (every array of these calls has elements).
const readable = (x: unknown): x is Float32Array => ArrayBuffer.isView(x) && (x as Float32Array).buffer.byteLength > 0;

// The ways to make argument i wrong, each a change to a valid call's values and the error class it must raise.
type Mutation = [what: string, apply: (values: unknown[]) => void, error: ErrorConstructor];
function mutations(i: number, args: Arg[]): Mutation[] {
  const arg = args[i], v = arg.value;
  const set = (x: unknown) => (values: unknown[]) => { values[i] = x; };
  if (arg.kind === 'bool') return [['a number', set(1), TypeError], ['a string', set('true'), TypeError], ['null', set(null), TypeError]];
  if (typeof v === 'number') {
    const list: Mutation[] = [['NaN', set(NaN), RangeError], ['a string', set(String(v)), TypeError],
      ['undefined', set(undefined), TypeError], ['-1', set(-1), RangeError]];
    if (arg.kind === 'dim') list.push(['1.5 more', set(v + 1.5), RangeError], ['one more (arrays too short)', set(v + 1), RangeError],
      ['2^53', set(2 ** 53), RangeError], ['Infinity', set(Infinity), RangeError]);
    if (arg.kind === 'fraction') list.push(['above 1', set(1.5), RangeError]);
    if (arg.kind === 'eps') list.push(['Infinity', set(Infinity), RangeError]);
    if (arg.kind === 'count') list.push(['0', set(0), RangeError]);
    return list;
  }
  const t = v as Float32Array | Float64Array;
  const wide = arg.kind.includes('64');
  const list: Mutation[] = [
    [wide ? 'a Float32Array' : 'a Float64Array', set(wide ? new Float32Array(t.length) : new Float64Array(t.length)), TypeError],
    ['a plain array', set(Array.from(t)), TypeError],
    ['a number', set(1), TypeError],
    ['one element short', set(t.subarray(0, t.length - 1)), RangeError],
    ['a detached buffer', set(detached(t)), RangeError],
  ];
  if (!arg.kind.endsWith('?')) list.push(['null', set(null), TypeError]);
  // An output one element past the start of an input of its type and length (both moved into one buffer).
  const j = args.findIndex((b) => b.kind.startsWith('in') && (b.value as typeof t).length === t.length &&
    (b.value as typeof t).constructor === t.constructor);
  if (arg.kind.startsWith('out') && j >= 0 && t.length > 1) {
    list.push(['one element past an input\'s start', (values) => {
      const Ctor = t.constructor as Float32ArrayConstructor;
      const shared = new Ctor(t.length + 1);
      shared.set(args[j].value as Float32Array);
      values[j] = shared.subarray(0, t.length);
      values[i] = shared.subarray(1);
    }, RangeError]);
  }
  return list;
}

describe.skipIf(!addon)('native binding argument checks (direct calls)', () => {
  it('every op, sync and async: each argument made wrong in turn is refused before the kernel runs', async () => {
    let checked = 0;
    for (const [key, args] of Object.entries(validCalls())) {
      const op = key.split(' ')[0]; // 'batchNormBackward (inference)': another valid call of batchNormBackward
      // The valid call runs, sync and async.
      const good = args.map((a) => a.value);
      expect(() => addon[op](...good), key).not.toThrow();
      await expect(addon[`${op}Async`](...good), key).resolves.toBeUndefined();
      for (let i = 0; i < args.length; i++) {
        for (const [what, apply, errorClass] of mutations(i, args)) {
          for (const name of [op, `${op}Async`]) {
            const call = validCalls()[key];
            const values = call.map((a) => a.value);
            apply(values);
            const before = values.map((x) => (readable(x) ? Array.from(x) : null));
            let error: unknown = null;
            try {
              const r = addon[name](...values);
              if (r instanceof Promise) await r;
            } catch (e) {
              error = e;
            }
            const label = `${name}${key === op ? '' : ` [${key}]`} argument ${i} (${args[i].kind}) as ${what}`;
            expect(error, label).toBeInstanceOf(errorClass);
            expect((error as Error).message, label).toMatch(new RegExp(`^normkit\\.${name}: `));
            // Nothing ran: every array of the call (inputs and outputs) is as it was.
            values.forEach((x, k) => {
              if (before[k]) expect(Array.from(x as Float32Array), `${label}: array ${k}`).toEqual(before[k]);
            });
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(800);
  });
});
