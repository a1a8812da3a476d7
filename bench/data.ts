// Seeded random inputs, so every backend and peer sees the same numbers and a run can be repeated.
export interface Rng {
  uniform(): number;
  /** n float32 draws of offset + scale * N(0, 1). */
  normals(n: number, offset?: number, scale?: number): Float32Array;
  /** n float32 draws uniform in [lo, hi). */
  uniforms(n: number, lo: number, hi: number): Float32Array;
}

export function rng(seed: number): Rng {
  let s = seed >>> 0;
  const uniform = () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Box-Muller, both values used: inputs of 8M elements are made in well under a second.
  let spare = NaN;
  const normal = () => {
    if (!Number.isNaN(spare)) { const v = spare; spare = NaN; return v; }
    const r = Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))), a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  return {
    uniform,
    normals(n, offset = 0, scale = 1) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = offset + scale * normal();
      return a;
    },
    uniforms(n, lo, hi) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * uniform();
      return a;
    },
  };
}
