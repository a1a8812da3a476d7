// Shared by the tests: the package under test (the compiled dist/, what users get), the backends to run every
// op on, seeded random data, error measures and finite differences. The float64 reference implementations
// live in test/ref/, one file per op family, written independently of src/.
import * as nk from '../dist/src/index.js';

export { nk };

/** Every backend/instruction set this machine can run: the TypeScript backend and each native ISA. */
export interface Target {
  name: string;
  use(): void;
}

export function targets(): Target[] {
  const info = nk.backendInfo();
  const list: Target[] = [{ name: 'js', use: () => nk.setBackend('js') }];
  if (info.nativeAvailable) {
    for (const isa of info.supportedIsas) {
      list.push({ name: `native:${isa}`, use: () => { nk.setBackend('native'); nk.setIsa(isa); } });
    }
  }
  return list;
}

/** A seeded generator (mulberry32) with uniform and normal draws, so failures reproduce. */
export function rng(seed: number) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(uniform(), 1e-12), v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return {
    uniform,
    normal,
    /** offset + scale * N(0, 1), as float32. */
    normals(n: number, offset = 0, scale = 1): Float32Array {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = offset + scale * normal();
      return a;
    },
  };
}

/**
 * max |a - b| / max(minScale, max |b|): the error relative to the reference's scale. For results that are
 * differences of larger terms (a gradient that cancels to ~0), pass the terms' scale as minScale.
 */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>, minScale = 1e-30): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= err)) err = d; // NaN counts as the largest error
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, minScale);
}

/** max |v|: the scale of a gradient's terms, for relError's minScale. */
export function maxAbs(...arrays: (ArrayLike<number> | null)[]): number {
  let m = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Central finite differences of L(p) = sum(f(p) * dy) with respect to each element of p, in float64:
 * checks the analytic reference gradients above.
 */
export function numericGrad(p: Float64Array, dy: ArrayLike<number>, f: (p: Float64Array) => ArrayLike<number>, h = 1e-6): Float64Array {
  const g = new Float64Array(p.length);
  const loss = () => { const y = f(p); let s = 0; for (let i = 0; i < y.length; i++) s += y[i] * dy[i]; return s; };
  for (let i = 0; i < p.length; i++) {
    const keep = p[i];
    p[i] = keep + h; const up = loss();
    p[i] = keep - h; const down = loss();
    p[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** A copy of src that starts `offset` floats into a fresh buffer: the same values at another alignment. */
export function atOffset(src: Float32Array, offset: number): Float32Array {
  const a = new Float32Array(src.length + offset).subarray(offset);
  a.set(src);
  return a;
}

/** Whether two arrays hold the same values bit for bit (NaN equal to NaN); quicker than toEqual on millions. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; ++i) if (ua[i] !== ub[i]) return false;
  return true;
}
