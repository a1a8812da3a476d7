// The SIMD vocabulary the kernels are written in, for AVX-512 (F + DQ): 16 float lanes.
// Every ISA header defines the same names in its own namespace, so one kernel source serves all of them.
#pragma once
#include <cstddef>
#include <immintrin.h>

namespace normkit {
namespace avx512 {

constexpr size_t kLanes = 16;
constexpr size_t kStreamAlign = 64;  // bytes; streaming stores need this alignment
constexpr size_t kVectorRegisters = 32;

struct Vf { __m512 v; };

inline Vf zero() { return {_mm512_setzero_ps()}; }
inline Vf set1(float a) { return {_mm512_set1_ps(a)}; }
inline Vf load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline __mmask16 lanes_between(size_t lo, size_t hi) { return __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1)); }
// Lanes [lo, hi) from p, the others 0; memory under the other lanes is not touched.
inline Vf load_lanes(const float* p, size_t lo, size_t hi) { return {_mm512_maskz_loadu_ps(lanes_between(lo, hi), p)}; }
// Lanes [lo, hi) of b, the others of a.
inline Vf select_lanes(Vf a, Vf b, size_t lo, size_t hi) { return {_mm512_mask_mov_ps(a.v, lanes_between(lo, hi), b.v)}; }
inline void store(float* p, Vf a) { _mm512_storeu_ps(p, a.v); }
// Lanes [lo, hi) of a to p; memory under the other lanes is not touched.
inline void store_lanes(float* p, Vf a, size_t lo, size_t hi) { _mm512_mask_storeu_ps(p, lanes_between(lo, hi), a.v); }
inline void stream(float* p, Vf a) { _mm512_stream_ps(p, a.v); }
inline void stream_fence() { _mm_sfence(); }
inline Vf add(Vf a, Vf b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vf sub(Vf a, Vf b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline Vf mul(Vf a, Vf b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline Vf muladd(Vf a, Vf b, Vf c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }  // a*b + c
inline Vf negmuladd(Vf a, Vf b, Vf c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }  // c - a*b
// Horizontal sum, added up in double so that the lanes' rounding does not pile up.
inline double reduce_add(Vf a) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a.v));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)));
  return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

// Lane i: the sum of v[i]'s lanes, in float (a tree: v[2k] and v[2k+1] share a vector from the first step on).
inline Vf reduce_add_each(const Vf (&v)[16]) {
  __m512 t[8], u[4], w[2];
  for (int k = 0; k < 8; ++k)  // halves: t[k] = row 2k in blocks 0-1, row 2k+1 in blocks 2-3
    t[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k].v, v[2 * k + 1].v, 0x44),
                         _mm512_shuffle_f32x4(v[2 * k].v, v[2 * k + 1].v, 0xEE));
  for (int k = 0; k < 4; ++k)  // u[k]: block j = row 4k + j
    u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], 0x88),
                         _mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; ++k)  // w[k]: block j = row 8k + j (lanes 0-1), row 8k + 4 + j (lanes 2-3)
    w[k] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0x44), _mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0xEE));
  // Block j: rows j, j + 4, j + 8, j + 12; lane 4j + m holds row j + 4m.
  const __m512 z = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
  return {_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), z)};
}

}  // namespace avx512
}  // namespace normkit
