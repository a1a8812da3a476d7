// The SIMD vocabulary for ARM NEON (AArch64): 4 float lanes. Same names as simd/avx512.h.
#pragma once
#include <cstddef>
#include <arm_neon.h>

namespace normkit {
namespace neon {

constexpr size_t kLanes = 4;
constexpr size_t kStreamAlign = 16;
constexpr size_t kVectorRegisters = 32;

struct Vf { float32x4_t v; };

inline Vf zero() { return {vdupq_n_f32(0.0f)}; }
inline Vf set1(float a) { return {vdupq_n_f32(a)}; }
inline Vf load(const float* p) { return {vld1q_f32(p)}; }
inline Vf load_lanes(const float* p, size_t lo, size_t hi) {
  float t[4] = {};
  for (size_t l = lo; l < hi; ++l) t[l] = p[l];
  return {vld1q_f32(t)};
}
inline Vf select_lanes(Vf a, Vf b, size_t lo, size_t hi) {
  float ta[4], tb[4];
  vst1q_f32(ta, a.v);
  vst1q_f32(tb, b.v);
  for (size_t l = lo; l < hi; ++l) ta[l] = tb[l];
  return {vld1q_f32(ta)};
}
inline void store(float* p, Vf a) { vst1q_f32(p, a.v); }
inline void store_lanes(float* p, Vf a, size_t lo, size_t hi) {
  float t[4];
  vst1q_f32(t, a.v);
  for (size_t l = lo; l < hi; ++l) p[l] = t[l];
}
inline void stream(float* p, Vf a) { vst1q_f32(p, a.v); }  // no portable non-temporal store
inline void stream_fence() {}
inline Vf add(Vf a, Vf b) { return {vaddq_f32(a.v, b.v)}; }
inline Vf sub(Vf a, Vf b) { return {vsubq_f32(a.v, b.v)}; }
inline Vf mul(Vf a, Vf b) { return {vmulq_f32(a.v, b.v)}; }
inline Vf muladd(Vf a, Vf b, Vf c) { return {vfmaq_f32(c.v, a.v, b.v)}; }
inline Vf negmuladd(Vf a, Vf b, Vf c) { return {vfmsq_f32(c.v, a.v, b.v)}; }
inline double reduce_add(Vf a) {
  float64x2_t s = vaddq_f64(vcvt_f64_f32(vget_low_f32(a.v)), vcvt_high_f64_f32(a.v));
  return vaddvq_f64(s);
}

// Lane i: the sum of v[i]'s lanes, in float.
inline Vf reduce_add_each(const Vf (&v)[4]) {
  return {vpaddq_f32(vpaddq_f32(v[0].v, v[1].v), vpaddq_f32(v[2].v, v[3].v))};
}

}  // namespace neon
}  // namespace normkit
