// The SIMD vocabulary the kernels are written in, for AVX-512 (F + DQ): 16 float lanes.
// Every ISA header defines the same names in its own namespace, so one kernel source serves all of them.
#pragma once
#include <cstddef>
#include <immintrin.h>

namespace normkit {
namespace avx512 {

constexpr size_t kLanes = 16;
constexpr size_t kStreamAlign = 64;  // bytes; streaming stores need this alignment

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

}  // namespace avx512
}  // namespace normkit
