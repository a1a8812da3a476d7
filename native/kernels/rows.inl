// What the row-wise kernels share: the statistics of one contiguous run of floats (a LayerNorm row, a
// GroupNorm group, ...) and the choice of store for the output.
// Included inside an ISA namespace: Vf, load, add, ... come from simd/<isa>.h.
//
// Why this is exact enough, and fast: the statistics are always centred, never E[x^2] - E[x]^2. One pass
// sums the deviations d = x - s from a shift s, and their squares; the mean is s + mean(d) and the variance
// mean(d^2) - mean(d)^2. That last subtraction is harmless while |mean(d)| <= the standard deviation (it
// loses at most one bit), and s is picked to make that so: the mean of the row's first vector. For a row
// where it is not so (sorted data, a far outlier up front, NaN), a second pass centres on the mean just found
// (the corrected two-pass algorithm); the row is in L1/L2 by then. Sums run in float SIMD with several
// accumulators; a row whose float sums overflow (|x| ~ 1e20 squares to 1e40) is redone in double.

struct Moments {
  double mean;
  double var;  // biased (divided by n)
};

inline Moments moments_f64(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  const double mean = s / double(n);
  double q = 0, c = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(x[i]) - mean;
    c += d;
    q += d * d;
  }
  const double cm = c / double(n);
  return {mean + cm, q / double(n) - cm * cm};
}

// mean and biased variance from the sum and sum of squares of deviations from `shift`.
inline Moments shifted_moments(const float* x, size_t n, float shift) {
  const Vf s = set1(shift);
  Vf c0 = zero(), c1 = zero(), q0 = zero(), q1 = zero();
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const Vf d0 = sub(load(x + i), s);
    const Vf d1 = sub(load(x + i + kLanes), s);
    c0 = add(c0, d0);
    c1 = add(c1, d1);
    q0 = muladd(d0, d0, q0);
    q1 = muladd(d1, d1, q1);
  }
  double c = reduce_add(add(c0, c1)), q = reduce_add(add(q0, q1));
  for (; i < n; ++i) {
    const double d = double(x[i] - shift);
    c += d;
    q += d * d;
  }
  const double cm = c / double(n);
  return {double(shift) + cm, q / double(n) - cm * cm};
}

inline Moments moments(const float* x, size_t n) {
  const float shift = n >= kLanes ? float(reduce_add(load(x)) / double(kLanes)) : x[0];
  Moments m = shifted_moments(x, n, shift);
  const double off = m.mean - double(shift);
  if (!(off * off <= m.var) || !std::isfinite(m.var)) {  // shift > one std from the mean, NaN, overflow
    m = shifted_moments(x, n, float(m.mean));
    if (!std::isfinite(m.var)) m = moments_f64(x, n);  // overflow; NaN/Inf in the row stays NaN
  }
  if (m.var < 0) m.var = 0;  // rounding of a (near-)constant row
  return m;
}

// Mean of squares, for RMSNorm. Float accumulators; redone in double if they overflowed.
inline double mean_square(const float* x, size_t n) {
  Vf q0 = zero(), q1 = zero(), q2 = zero(), q3 = zero();
  size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const Vf a = load(x + i), b = load(x + i + kLanes);
    const Vf c = load(x + i + 2 * kLanes), d = load(x + i + 3 * kLanes);
    q0 = muladd(a, a, q0);
    q1 = muladd(b, b, q1);
    q2 = muladd(c, c, q2);
    q3 = muladd(d, d, q3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    const Vf a = load(x + i);
    q0 = muladd(a, a, q0);
  }
  double q = reduce_add(add(add(q0, q1), add(q2, q3)));
  for (; i < n; ++i) q += double(x[i]) * double(x[i]);
  if (!std::isfinite(q)) {
    q = 0;
    for (size_t j = 0; j < n; ++j) q += double(x[j]) * double(x[j]);
  }
  return q / double(n);
}

// A double held as two floats (hi + lo), so that x - mean stays exact to float precision even when the
// mean is large next to the spread (1e4 + N(0, 1e-2)): (x - hi) is exact there, then lo is taken off.
struct SplitFloat {
  float hi, lo;
};
inline SplitFloat split(double v) {
  const float hi = float(v);
  return {hi, float(v - double(hi))};
}

// Streaming (non-temporal) stores skip the read-for-ownership of ordinary stores: worth it only when the
// output is far larger than the cache and will not be read back soon (PERFORMANCE-NOTES.md: slower for
// outputs that fit in cache). The threshold is half the last-level cache of the machines we measure on.
constexpr size_t kStreamMinBytes = size_t(16) << 20;
inline bool use_streaming_stores(size_t output_bytes) { return output_bytes >= kStreamMinBytes; }

// Compile-time switches for a kernel's optional parts (weight given? bias? streaming stores?), so that no
// loop tests them per element:
//   with_flags([&](auto has_w, auto has_b) { ... if constexpr (has_w.value) ... }, w != nullptr, b != nullptr);
template <bool V>
struct Flag {
  static constexpr bool value = V;
};
template <bool... Chosen, typename F>
inline void with_flags(F&& f) {
  f(Flag<Chosen>{}...);
}
template <bool... Chosen, typename F, typename... Rest>
inline void with_flags(F&& f, bool first, Rest... rest) {
  if (first)
    with_flags<Chosen..., true>(f, rest...);
  else
    with_flags<Chosen..., false>(f, rest...);
}

// Pulls the next row towards the cache while the current one is being computed from cache, so that the
// memory system is never idle between rows. One call per vector step covers the row line by line.
inline void prefetch_next(const float* p) { __builtin_prefetch(p, 0, 3); }

// True when p is aligned for this ISA's streaming stores.
inline bool stream_aligned(const float* p) {
  return (reinterpret_cast<uintptr_t>(p) % kStreamAlign) == 0;
}
