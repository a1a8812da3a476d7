// What the TypeScript backend's channels-last loops share (BatchNorm over [N·S, C], GroupNorm per sample over
// [S, C]), as native/kernels/columns.inl does for the kernels: per-channel sums over `rows` rows of C floats
// starting at element o, and the per-channel elementwise sweeps over them.
//
// Each goes over blocks of whole rows, about 16 KiB, channel by channel, so that a channel's constants and sums
// stay in registers while its column of the block comes from L1 (row by row, every element cost three or four
// loads of per-channel arrays: 1.3-2.6x slower). Written out in each loop, not as a callback: variables a
// closure captures are slower to reach in the whole function that holds them.
type F32 = Float32Array;
type F64 = Float64Array;

/** Floats per block: whole rows of C, about 16 KiB, at least one row. */
function blockFloats(C: number): number {
  return Math.max(1, Math.floor(4096 / C)) * C;
}

/** dev[c] = sum of x - shift[c] down column c, sq[c] = sum of its square. */
export function columnDeviationSums(x: F32, o: number, rows: number, C: number, shift: F64, dev: F64, sq: F64): void {
  dev.fill(0); sq.fill(0);
  for (let first = o, total = o + rows * C, step = blockFloats(C); first < total; first += step) {
    const end = Math.min(total, first + step);
    for (let c = 0; c < C; c++) {
      const m = shift[c];
      let d1 = 0, d2 = 0;
      for (let p = first + c; p < end; p += C) {
        const d = x[p] - m;
        d1 += d; d2 += d * d;
      }
      dev[c] += d1; sq[c] += d2;
    }
  }
}

/** sdy[c] = sum of dy down column c, sdx[c] = sum of dy * (x - mean[c]). */
export function columnGradSums(dy: F32, x: F32, o: number, rows: number, C: number, mean: F64, sdy: F64, sdx: F64): void {
  sdy.fill(0); sdx.fill(0);
  for (let first = o, total = o + rows * C, step = blockFloats(C); first < total; first += step) {
    const end = Math.min(total, first + step);
    for (let c = 0; c < C; c++) {
      const m = mean[c];
      let s1 = 0, s2 = 0;
      for (let p = first + c; p < end; p += C) {
        const d = dy[p];
        s1 += d; s2 += d * (x[p] - m);
      }
      sdy[c] += s1; sdx[c] += s2;
    }
  }
}

/** y = (x - mean[c]) * scale[c] + bias[c]. */
export function columnAffine(x: F32, y: F32, o: number, rows: number, C: number, mean: F64, scale: F64, bias: F64): void {
  for (let first = o, total = o + rows * C, step = blockFloats(C); first < total; first += step) {
    const end = Math.min(total, first + step);
    for (let c = 0; c < C; c++) {
      const m = mean[c], a = scale[c], d = bias[c];
      for (let p = first + c; p < end; p += C) y[p] = (x[p] - m) * a + d;
    }
  }
}

/** dx = dy * k[c] - ((x - mean[c]) * k2[c] + k1[c]). */
export function columnBackward(dy: F32, x: F32, dx: F32, o: number, rows: number, C: number, mean: F64, k: F64,
  k2: F64, k1: F64): void {
  for (let first = o, total = o + rows * C, step = blockFloats(C); first < total; first += step) {
    const end = Math.min(total, first + step);
    for (let c = 0; c < C; c++) {
      const m = mean[c], a = k[c], a2 = k2[c], a1 = k1[c];
      for (let p = first + c; p < end; p += C) dx[p] = dy[p] * a - ((x[p] - m) * a2 + a1);
    }
  }
}
