// The SIMD vocabulary for the portable baseline: one lane, plain C++. Same names as simd/avx512.h.
// The lane is held in double: with one lane the kernels' running sums would otherwise be long float sums
// (the SIMD sets spread them over 16-64 accumulators), and double costs a scalar loop nothing.
// The compiler may still auto-vectorise with the baseline flags (SSE2 on x86-64), never beyond.
#pragma once
#include <cstddef>

namespace normkit {
namespace scalar {

constexpr size_t kLanes = 1;
constexpr size_t kStreamAlign = 4;
constexpr size_t kVectorRegisters = 16;  // x86-64 SSE registers (arm64 has 32: the smaller, for what it sizes)

struct Vf { double v; };

inline Vf zero() { return {0.0}; }
inline Vf set1(float a) { return {double(a)}; }
inline Vf load(const float* p) { return {double(*p)}; }
inline Vf load_lanes(const float* p, size_t lo, size_t hi) { return {lo < hi ? double(*p) : 0.0}; }
inline Vf select_lanes(Vf a, Vf b, size_t lo, size_t hi) { return lo < hi ? b : a; }
inline void store(float* p, Vf a) { *p = float(a.v); }
inline void store_lanes(float* p, Vf a, size_t lo, size_t hi) {
  if (lo < hi) *p = float(a.v);
}
inline void stream(float* p, Vf a) { *p = float(a.v); }
inline void stream_fence() {}
inline Vf add(Vf a, Vf b) { return {a.v + b.v}; }
inline Vf sub(Vf a, Vf b) { return {a.v - b.v}; }
inline Vf mul(Vf a, Vf b) { return {a.v * b.v}; }
inline Vf muladd(Vf a, Vf b, Vf c) { return {a.v * b.v + c.v}; }
inline Vf negmuladd(Vf a, Vf b, Vf c) { return {c.v - a.v * b.v}; }
inline double reduce_add(Vf a) { return a.v; }

// Lane i: the sum of v[i]'s lanes (one lane: v[0]).
inline Vf reduce_add_each(const Vf (&v)[1]) { return v[0]; }

}  // namespace scalar
}  // namespace normkit
