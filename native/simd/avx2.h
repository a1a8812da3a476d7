// The SIMD vocabulary for AVX2 + FMA: 8 float lanes. Same names as simd/avx512.h.
#pragma once
#include <cstddef>
#include <immintrin.h>

namespace normkit {
namespace avx2 {

constexpr size_t kLanes = 8;
constexpr size_t kStreamAlign = 32;
constexpr size_t kVectorRegisters = 16;

struct Vf { __m256 v; };

inline Vf zero() { return {_mm256_setzero_ps()}; }
inline Vf set1(float a) { return {_mm256_set1_ps(a)}; }
inline Vf load(const float* p) { return {_mm256_loadu_ps(p)}; }
inline __m256i lanes_between(size_t lo, size_t hi) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(lo)), lane),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), lane));
}
// Lanes [lo, hi) from p, the others 0; memory under the other lanes is not touched.
inline Vf load_lanes(const float* p, size_t lo, size_t hi) { return {_mm256_maskload_ps(p, lanes_between(lo, hi))}; }
// Lanes [lo, hi) of b, the others of a.
inline Vf select_lanes(Vf a, Vf b, size_t lo, size_t hi) {
  return {_mm256_blendv_ps(a.v, b.v, _mm256_castsi256_ps(lanes_between(lo, hi)))};
}
inline void store(float* p, Vf a) { _mm256_storeu_ps(p, a.v); }
// Lanes [lo, hi) of a to p; memory under the other lanes is not touched.
inline void store_lanes(float* p, Vf a, size_t lo, size_t hi) { _mm256_maskstore_ps(p, lanes_between(lo, hi), a.v); }
inline void stream(float* p, Vf a) { _mm256_stream_ps(p, a.v); }
inline void stream_fence() { _mm_sfence(); }
inline Vf add(Vf a, Vf b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vf sub(Vf a, Vf b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vf mul(Vf a, Vf b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vf muladd(Vf a, Vf b, Vf c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vf negmuladd(Vf a, Vf b, Vf c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
inline double reduce_add(Vf a) {
  __m256d s = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a.v)),
                            _mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1)));
  __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}

// Lane i: the sum of v[i]'s lanes, in float (a tree: v[2k] and v[2k+1] share a vector from the first step on).
inline Vf reduce_add_each(const Vf (&v)[8]) {
  __m256 t[4], u[2];
  for (int k = 0; k < 4; ++k)  // t[k]: row 2k in the low half, row 2k+1 in the high half
    t[k] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * k].v, v[2 * k + 1].v, 0x20),
                         _mm256_permute2f128_ps(v[2 * k].v, v[2 * k + 1].v, 0x31));
  for (int k = 0; k < 2; ++k)  // u[k]: low half rows 4k, 4k, 4k+2, 4k+2; high half rows 4k+1, 4k+1, 4k+3, 4k+3
    u[k] = _mm256_add_ps(_mm256_shuffle_ps(t[2 * k], t[2 * k + 1], 0x44), _mm256_shuffle_ps(t[2 * k], t[2 * k + 1], 0xEE));
  // Low half: rows 0, 2, 4, 6; high half: rows 1, 3, 5, 7.
  const __m256 z = _mm256_add_ps(_mm256_shuffle_ps(u[0], u[1], 0x88), _mm256_shuffle_ps(u[0], u[1], 0xDD));
  return {_mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))};
}

}  // namespace avx2
}  // namespace normkit
