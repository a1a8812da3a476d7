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

// Pulls the next rows towards L2 while the current ones are computed from cache, so that the memory system
// is never idle between rows. One call per vector step covers a row line by line.
inline void prefetch_next(const float* p) { __builtin_prefetch(p, 0, 2); }  // 2: into L2, not L1

// Into L1: the next run of a read-only sweep whose runs fit L1 (channels-first BatchNorm sums). The empty asm
// (no instruction) keeps the prefetch: GCC 12 drops prefetches made in the lambdas the sweeps take when its
// mod/ref analysis finds the lambda without effect (a small test loses them at -O2 unless -fno-ipa-modref;
// this one it dropped at -O3). prefetch_next() goes without: where GCC dropped it (LayerNorm's forward over
// rows past 64 KB, parts of the LayerNorm/RMSNorm backward), keeping it measured level, and elsewhere the asm
// cost an address instruction per prefetch (BatchNorm training 0.90-0.97x in Node; docs/performance.md).
inline void prefetch_l1(const float* p) {
  __builtin_prefetch(p, 0, 3);
  asm volatile("" : : "r"(p));
}

// A sweep's vector steps prefetch the next run a line each, but steps that start past the run's first element
// (where the output is aligned) and stop short of its last leave the lines at its two ends to a demand miss
// from memory when the run is read: this takes them too. Measured in C++ on the LayerNorm backward at
// 4096x768 with JS-like placements (everything 16 bytes past a line): 1.19-1.23x faster.
inline void prefetch_ends(const float* p, size_t n) {
  prefetch_next(p);
  prefetch_next(p + n - 1);
}

// When the next row is prefetched: a row is normally fetched during the current row's last sweep, but a row
// larger than L1 takes longer to fetch than that sweep lasts, so then it is fetched during the statistics
// sweep instead (measured: 64x65536 ~12% faster; 768- to 4096-float rows slower that way).
inline bool prefetch_during_statistics(size_t n) { return n * sizeof(float) > (size_t(64) << 10); }

template <size_t N>
struct SizeTag {
  static constexpr size_t value = N;
};

// The vector steps of [first, n) (in order or last to first, see for_vectors()) four at a time, f(j,
// SizeTag<4>), then single ones, f(j, SizeTag<1>); returns where the scalar tail starts. A sweep that loads
// its group's inputs before it stores any output keeps a load from coming right after a store that overlaps it
// modulo 4 KiB (the output 16-48 bytes ahead of the input in the sweep's direction), which makes the core wait
// for the store ("4K aliasing"): measured in Node at [8,256,28,28] and such placements of the buffers,
// 1.2-1.3x for the channels-first BatchNorm normalise, 1.6-1.75x for its backward's dx, 1.7-2.3x for the
// LayerNorm/RMSNorm forward at 4096x768 (both sweeps run backwards there); within 3% at the others. The
// channels-last sweeps (columns.inl) group the same way: 1.1-1.3x at [256,512] even at the default placement.
// "Inputs" includes a caller's weight and bias: their place relative to the output is the same at every step,
// so an unlucky one stalls every step (LayerNorm forward at 512x4096 and 64x65536 with the output 16-112
// bytes past the weight modulo 4 KiB: 1.2-1.3x on AVX-512, 1.3-1.45x on AVX2; RMSNorm 1.05-1.3x).
template <typename F>
inline size_t for_vector_quads(size_t first, size_t n, bool backwards, F&& f) {
  const size_t end = first + (n - first) / kLanes * kLanes;
  size_t j = backwards ? end : first;
  if (backwards) {
    for (; j - first >= 4 * kLanes; j -= 4 * kLanes) f(j - 4 * kLanes, SizeTag<4>{});
    for (; j > first; j -= kLanes) f(j - kLanes, SizeTag<1>{});
  } else {
    for (; end - j >= 4 * kLanes; j += 4 * kLanes) f(j, SizeTag<4>{});
    for (; j < end; j += kLanes) f(j, SizeTag<1>{});
  }
  return end;
}

// Calls f(j) for the vector steps j = first, first + kLanes, ... that fit in [first, n), one at a time, in
// order or last to first, and returns where the scalar tail starts. A sweep that follows another over the same
// data goes backwards when that one overflowed L1 by a little (sweep_backwards()), so as to start with the
// lines it left there (measured in Node: LayerNorm/RMSNorm backward at 512x4096 1.2x, BatchNorm backward at
// [8,256,28,28] 1.3x faster). When the data fits in L1 the order does not matter, and when it is many times
// larger only L2 is left to gain from, where backwards measured up to 5% slower. The forward ops' normalising
// sweep always goes backwards: measured faster at every shape (LayerNorm 512x4096 1.25x, 4096x768 and
// 8192x1024 1.05-1.1x).
// (Its own loop, not for_vector_quads() unrolled: the LayerNorm backward's sweep measured 10-15% slower so.)
template <typename F>
inline size_t for_vectors(size_t first, size_t n, bool backwards, F&& f) {
  const size_t end = first + (n - first) / kLanes * kLanes;
  if (backwards)
    for (size_t j = end; j > first;) {
      j -= kLanes;
      f(j);
    }
  else
    for (size_t j = first; j < end; j += kLanes) f(j);
  return end;
}

// The vector steps G = 4 at a time (for_vector_quads()) or, G = 1, one at a time (for_vectors()), as f(j,
// SizeTag<G>): for sweeps whose groups of four would not fit in the vector registers (kVectorRegisters).
template <size_t G, typename F>
inline size_t for_vector_groups(size_t first, size_t n, bool backwards, F&& f) {
  static_assert(G == 4 || G == 1, "groups of 4 or 1");
  if constexpr (G == 4)
    return for_vector_quads(first, n, backwards, f);
  else
    return for_vectors(first, n, backwards, [&](size_t j) { f(j, SizeTag<1>{}); });
}

// Whether the second sweep goes backwards, from the bytes the first one read: more than L1, at most 4x it.
inline bool sweep_backwards(size_t bytes_of_first_sweep) {
  return bytes_of_first_sweep > (size_t(32) << 10) && bytes_of_first_sweep <= (size_t(128) << 10);
}

// The direction of a sweep that stores the rows `out` while it loads the rows `in` at the same columns: the
// preferred one, unless there a store is followed, within a few steps, by a load of an address up to
// kAliasBytes past it modulo 4 KiB (4K aliasing, see for_vector_quads()) and the other direction has no
// such pair. Measured in C++ on the LayerNorm backward at 512x4096, over 40 random placements: dx 16-112
// bytes below x or dy modulo 4 KiB ran at 800-1000 us against 640-720 us for the others.
constexpr uintptr_t kAliasBytes = 192;
template <size_t Out, size_t In>
inline bool unaliased_direction(bool backwards, float* const (&out)[Out], const float* const (&in)[In]) {
  bool ahead = false, behind = false;  // a store just below a load (bad forwards) / just above (backwards)
  for (size_t o = 0; o < Out; ++o)
    for (size_t i = 0; i < In; ++i) {
      const uintptr_t d = (reinterpret_cast<uintptr_t>(out[o]) - reinterpret_cast<uintptr_t>(in[i])) & 4095;
      ahead |= d > 0 && d < kAliasBytes;
      behind |= d > 4096 - kAliasBytes;
    }
  return backwards ? !(behind && !ahead) : ahead && !behind;
}

// The direction of a LayerNorm/RMSNorm backward block's second sweep over its R rows of n floats: backwards
// when pass 1 (x and dy of each row, and the weight) overflowed L1 by a little (see for_vectors()), unless the
// dx stores would then alias the x and dy loads (unaliased_direction(); no dx: nothing to alias).
template <size_t R>
inline bool dx_sweep_backwards(size_t n, float* const (&dx)[R], const float* const (&x)[R],
                               const float* const (&dy)[R]) {
  const bool backwards = sweep_backwards((2 * R + 1) * n * sizeof(float));
  if (!dx[0]) return backwards;
  const float* in[2 * R];
  for (size_t i = 0; i < R; ++i) in[i] = x[i], in[R + i] = dy[i];
  return unaliased_direction(backwards, dx, in);
}

// Float accumulators are added into double after at most this many vector steps each, so that float
// rounding never piles up over long runs (a 65536-float row, a BatchNorm channel, any run on the one-lane
// scalar ISA).
constexpr size_t kFlushSteps = 32;

// Adds the sums of d = x - shift and of d^2 over one contiguous run into c and q. along(i, lanes) is called for
// every step the sums take (a vector at offset i, lanes == kLanes; then single elements, lanes == 1), so that a
// caller can work on the same offsets of other data meanwhile: pull another run towards L2 (prefetch_next()),
// or normalise the previous BatchNorm channel (batch_norm_forward()).
struct NothingAlong {
  template <typename... Args>
  void operator()(Args...) const {}
};
template <typename Along = NothingAlong>
inline void add_shifted_sums(const float* x, size_t len, float shift, double& c, double& q, Along along = {}) {
  const Vf s = set1(shift);
  size_t i = 0;
  while (i + kLanes <= len) {
    Vf c0 = zero(), c1 = zero(), q0 = zero(), q1 = zero();
    const size_t end = len - i > 2 * kLanes * kFlushSteps ? i + 2 * kLanes * kFlushSteps : len;
    for (; i + 2 * kLanes <= end; i += 2 * kLanes) {
      along(i, kLanes);
      along(i + kLanes, kLanes);
      const Vf d0 = sub(load(x + i), s), d1 = sub(load(x + i + kLanes), s);
      c0 = add(c0, d0);
      c1 = add(c1, d1);
      q0 = muladd(d0, d0, q0);
      q1 = muladd(d1, d1, q1);
    }
    for (; i + kLanes <= end; i += kLanes) {
      along(i, kLanes);
      const Vf d0 = sub(load(x + i), s);
      c0 = add(c0, d0);
      q0 = muladd(d0, d0, q0);
    }
    c += reduce_add(add(c0, c1));
    q += reduce_add(add(q0, q1));
  }
  for (; i < len; ++i) {
    along(i, 1);
    const double d = double(x[i] - shift);
    c += d;
    q += d * d;
  }
}

// Sums of the deviations from `shift`, and of their squares.
struct DeviationSums {
  double dev, sq;
};
inline DeviationSums deviation_sums(const float* x, size_t n, float shift, const float* prefetch = nullptr) {
  DeviationSums s = {0, 0};
  add_shifted_sums(x, n, shift, s.dev, s.sq, [&](size_t i, size_t lanes) {
    if (prefetch && lanes == kLanes) prefetch_next(prefetch + i);
  });
  return s;
}

// The shift: the mean of the row's first vector (its first value when the row is shorter).
inline float moments_shift(const float* x, size_t n) {
  return n >= kLanes ? float(reduce_add(load(x)) / double(kLanes)) : x[0];
}

// Mean and variance of x[0, n) from its deviation sums around `shift`, checked: if the shift was more than one
// standard deviation from the mean (or a sum is NaN or overflowed), the row is summed again centred on the
// mean just found, and failing that in double (NaN/Inf in the row stay NaN).
inline Moments finish_moments(const float* x, size_t n, float shift, DeviationSums s) {
  const double cm = s.dev / double(n);
  Moments m = {double(shift) + cm, s.sq / double(n) - cm * cm};
  if (!(cm * cm <= m.var) || !std::isfinite(m.var)) {
    const float centre = float(m.mean);
    const DeviationSums again = deviation_sums(x, n, centre);
    const double cm2 = again.dev / double(n);
    m = {double(centre) + cm2, again.sq / double(n) - cm2 * cm2};
    if (!std::isfinite(m.var)) m = moments_f64(x, n);
  }
  if (m.var < 0) m.var = 0;  // rounding of a (near-)constant row
  return m;
}

inline Moments moments(const float* x, size_t n, const float* prefetch = nullptr) {
  const float shift = moments_shift(x, n);
  return finish_moments(x, n, shift, deviation_sums(x, n, shift, prefetch));
}

// Mean of squares, for RMSNorm. Float accumulators; redone in double if they overflowed.
inline double mean_square(const float* x, size_t n, const float* prefetch = nullptr) {
  Vf q0 = zero(), q1 = zero(), q2 = zero(), q3 = zero();
  size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    if (prefetch)
      for (size_t k = 0; k < 4; ++k) prefetch_next(prefetch + i + k * kLanes);
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

// Short rows are taken kLanes rows at a time, so that their statistics are computed side by side, lane i of a
// vector for row i (reduce_add_each()). Row by row through the general sweeps, each row paid for its loops'
// setup and ends and for a chain of reductions, a division and a square root that the next row could not
// start before: LayerNorm 1024x16 took 25 ns a row, where a copy of its bytes takes about 1 ns.
// Short is at most kMaxShortForwardVectors vectors for the forward ops (256 floats on AVX-512, 128 on AVX2, 64
// on NEON, 8 on the scalar build) and kMaxShortBackwardVectors for the backward ops and for a forward whose
// output is streamed. Past 8 vectors the backward's weight, row and gradient sums no longer fit in registers
// (LayerNorm's backward measured 0.8x at 1024x256 in C++), and a streamed forward is faster row by row
// (LayerNorm and RMSNorm 0.74x and 0.83x at 16384x200 in Node).
// A row is held as V vectors, the last one partial: lanes [0, last), 1 <= last <= kLanes, the others 0.
constexpr size_t kMaxShortForwardVectors = kLanes > 1 ? 16 : 8;  // scalar: 0.7x at 16 floats in Node
constexpr size_t kMaxShortBackwardVectors = 8;
inline size_t short_row_vectors(size_t n) { return (n + kLanes - 1) / kLanes; }

// How many of `rows` rows of n floats go to a short-row kernel taking rows of up to max_vectors: whole batches
// of kLanes (a partial batch costs as much as a full one; the rows after the last batch take the general path).
inline size_t short_row_batches(size_t rows, size_t n, size_t max_vectors) {
  return n > 0 && short_row_vectors(n) <= max_vectors ? rows / kLanes * kLanes : 0;
}
// The same for a forward op writing y (two arrays of rows * n floats: x and y).
inline bool stream_any_rows(const float* y, size_t rows, size_t n, size_t arrays);  // below, with streaming
inline size_t short_forward_batches(const float* y, size_t rows, size_t n) {
  const bool streamed = stream_any_rows(y, rows, n, 2);
  return short_row_batches(rows, n, streamed ? kMaxShortBackwardVectors : kMaxShortForwardVectors);
}

// Calls f(SizeTag<V>{}) with V = short_row_vectors(n) <= Max.
template <size_t Max, size_t V = 1, typename F>
inline void with_short_row_vectors(size_t n, F&& f) {
  if constexpr (V < Max) {
    if (short_row_vectors(n) != V) return with_short_row_vectors<Max, V + 1>(n, f);
  }
  f(SizeTag<V>{});
}

template <size_t V>
inline void load_short_row(const float* x, size_t last, Vf (&v)[V]) {
  for (size_t k = 0; k + 1 < V; ++k) v[k] = load(x + k * kLanes);
  v[V - 1] = last == kLanes ? load(x + (V - 1) * kLanes) : load_lanes(x + (V - 1) * kLanes, 0, last);
}
template <size_t V>
inline void store_short_row(float* y, size_t last, const Vf (&v)[V]) {
  for (size_t k = 0; k + 1 < V; ++k) store(y + k * kLanes, v[k]);
  if (last == kLanes)
    store(y + (V - 1) * kLanes, v[V - 1]);
  else
    store_lanes(y + (V - 1) * kLanes, v[V - 1], 0, last);
}
// A per-column array (weight, bias) as a short row, or `fill` in every lane when there is none.
template <size_t V>
inline void load_short_columns(const float* p, size_t last, float fill, Vf (&v)[V]) {
  for (size_t k = 0; k < V; ++k) v[k] = p ? load_lanes(p + k * kLanes, 0, k + 1 < V ? kLanes : last) : set1(fill);
}
// Adds v to the short row at p (a backward's gradWeight/gradBias, holding the other rows' sums).
template <size_t V>
inline void add_to_short_row(float* p, size_t last, const Vf (&v)[V]) {
  Vf sum[V];
  load_short_row(p, last, sum);
  for (size_t k = 0; k < V; ++k) sum[k] = add(sum[k], v[k]);
  store_short_row(p, last, sum);
}

// The moments of kLanes short rows of V vectors from x, n floats apart: the corrected two-pass algorithm (the
// mean, then the deviations from it rounded to a float, so that there is no shift to check), both passes
// reading the rows from L1. Sums in float, reduced for all rows at once: a row has at most 256 elements.
// A row whose float sums overflowed or hold a NaN, or whose float mean is still more than a standard
// deviation off, goes to moments().
template <size_t V>
inline void short_rows_moments(const float* x, size_t n, double (&mean)[kLanes], double (&var)[kLanes]) {
  const size_t last = n - (V - 1) * kLanes;
  const double inv_n = 1.0 / double(n);
  alignas(64) float centre[kLanes], dev[kLanes], sq[kLanes];
  Vf s[kLanes], c[kLanes], q[kLanes];
  for (size_t i = 0; i < kLanes; ++i) {
    Vf v[V];
    load_short_row(x + i * n, last, v);
    s[i] = v[0];
    for (size_t k = 1; k < V; ++k) s[i] = add(s[i], v[k]);
  }
  store(centre, mul(reduce_add_each(s), set1(float(inv_n))));
  for (size_t i = 0; i < kLanes; ++i) {
    Vf v[V];
    load_short_row(x + i * n, last, v);
    const Vf centre_i = set1(centre[i]);
    c[i] = q[i] = zero();
    for (size_t k = 0; k < V; ++k) {
      Vf d = sub(v[k], centre_i);
      if (k + 1 == V) d = select_lanes(zero(), d, 0, last);
      c[i] = add(c[i], d);
      q[i] = muladd(d, d, q[i]);
    }
  }
  store(dev, reduce_add_each(c));
  store(sq, reduce_add_each(q));
  auto ok = [&](size_t i) {
    const double cm = double(dev[i]) * inv_n;
    return (cm * cm <= var[i]) & std::isfinite(var[i]);  // & not &&: the loop below vectorizes
  };
  bool all_ok = true;
  for (size_t i = 0; i < kLanes; ++i) {
    const double cm = double(dev[i]) * inv_n;
    mean[i] = double(centre[i]) + cm;
    var[i] = double(sq[i]) * inv_n - cm * cm;
    all_ok &= ok(i);
  }
  if (!all_ok)
    for (size_t i = 0; i < kLanes; ++i)
      if (!ok(i)) {
        const Moments m = moments(x + i * n, n);
        mean[i] = m.mean, var[i] = m.var;
      }
}

// The means of squares of kLanes short rows of V vectors from x, n floats apart (RMSNorm), as
// short_rows_moments(): float sums reduced for all rows at once; a row whose sum overflowed goes to
// mean_square().
template <size_t V>
inline void short_rows_mean_squares(const float* x, size_t n, double (&ms)[kLanes]) {
  const size_t last = n - (V - 1) * kLanes;
  const double inv_n = 1.0 / double(n);
  alignas(64) float sq[kLanes];
  Vf q[kLanes];
  for (size_t i = 0; i < kLanes; ++i) {
    Vf v[V];
    load_short_row(x + i * n, last, v);
    q[i] = mul(v[0], v[0]);
    for (size_t k = 1; k < V; ++k) q[i] = muladd(v[k], v[k], q[i]);
  }
  store(sq, reduce_add_each(q));
  bool all_ok = true;
  for (size_t i = 0; i < kLanes; ++i) {
    ms[i] = double(sq[i]) * inv_n;
    all_ok &= std::isfinite(ms[i]);
  }
  if (!all_ok)
    for (size_t i = 0; i < kLanes; ++i)
      if (!std::isfinite(ms[i])) ms[i] = mean_square(x + i * n, n);
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
// `bytes` counts everything the op reads and writes.
constexpr size_t kStreamMinBytes = size_t(16) << 20;
inline bool use_streaming_stores(size_t bytes) { return bytes >= kStreamMinBytes; }

// Contiguous runs shorter than this are not streamed: the partial lines at their ends, stored plainly between
// streamed ones, made BatchNorm's channels-first inference 2.1-2.4x slower at [128,512,7,7] and [256,256,7,7]
// (196-byte runs) than plain stores; at 14x14 (784 bytes) the two were level, from 21x21 (1764 bytes) streaming
// wins. GroupNorm's short-channel blocks: [32768,512] with 32 groups (64-byte blocks) 1.8x slower streamed.
constexpr size_t kMinStreamedRunBytes = 1024;

// GroupNorm's channels-first blocks are read twice, their statistics then their normalising sweep, and the
// next block is prefetched during the sweep. On AVX-512, when the tensor streams from memory, the next block is
// asked for from the statistics sweep on, so that memory is busy through both sweeps (the sweep asks again,
// from L2 by then): in Node, GroupNorm forward [32,64,56,56] with 32 groups (25 KB blocks) 1.27-1.44x,
// [16,64,112,112] 1.18-1.23x, [2,64,256,256] 1.16x (on a Zen 5 VM, [32,64,56,56] without it: 0.83-0.95x in
// C++). Not for blocks too large to sit in L2 beside the one being read (1 MiB blocks 0.95x), nor for blocks
// shorter than kMinStreamedRunBytes, nor on AVX2, whose half-line steps already ask twice for each line of the
// next block: there it measured level (0.90-1.10x, within the A/B's own spread). BatchNorm's channels-first
// training did the same (1.11-1.27x on the machine of the time) until it measured faster without on a Zen 5 VM
// (batch_norm_forward()).
constexpr size_t kEarlyPrefetchMaxBlockBytes = size_t(512) << 10;
inline bool prefetch_block_early(bool streamed, size_t block_bytes) {
  return kLanes >= 16 && streamed && block_bytes >= kMinStreamedRunBytes && block_bytes <= kEarlyPrefetchMaxBlockBytes;
}

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


// Backward kernels finish rows in blocks, so that per-column data (weight and the running dweight/dbias sums)
// is loaded and stored once per block instead of once per row: on this class of core the loads and stores
// cost as much as the arithmetic, and for long rows these per-column arrays are as large as a row and
// overflow L2. A block is 4 rows, or 2 when rows are a multiple of 4 KiB apart (1024 or 4096 floats): such
// rows map to the same L1 sets, and 4 rows' 12 streams (V8 places every large typed array at the same offset
// in its page) overflow the 8 ways; 2 rows' 6 streams do not. Measured in Node against single rows:
// 768-float rows 1.1-1.2x faster in blocks of 4; in blocks of 2, 64x1024 1.07x, 512x4096 1.15x, 8192x1024
// 1.05-1.07x, 64x65536 1.15-1.18x (in blocks of 4 these were slower, up to 1.6-1.9x); rows of 12000-100000
// floats, which were once left to single rows, 1.05-1.3x.
inline size_t row_block(size_t cols) { return (cols * sizeof(float)) % 4096 != 0 ? 4 : 2; }

// Rows at least this long take pass 1 of a backward block's rows in one sweep, so that each weight vector is
// loaded once for the block (layer_norm_backward(), rms_norm_backward()).
constexpr size_t kJointPass1MinCols = 4096;

// A block of a backward's rows: rows first, first + step, ..., all of one phase of dx's alignment (see
// PhasedRecords; step is the number of phases, 1 unless dx is streamed and its rows are not all aligned
// alike). The block after it starts at row `next` (the row count when there is none), its rows next_step
// apart: the sweep prefetches them.
struct RowBlock {
  size_t first, step, phase, next, next_step;
};

// Calls body(RowBlock, SizeTag<R>{}) for blocks of R = `block` rows (row_block()), then for single rows for
// what is left. With P phases, each span of R * P rows goes as P blocks: rows g, g + P, ... for g = 0..P-1.
template <typename F>
inline void for_row_blocks(size_t rows, size_t block, size_t phases, F&& body) {
  size_t r = 0;
  auto spans = [&](auto tag) {
    const size_t span = decltype(tag)::value * phases;
    for (; r + span <= rows; r += span)
      for (size_t g = 0; g < phases; ++g) {
        const bool same_span = g + 1 < phases;
        const size_t next = same_span ? r + g + 1 : r + span;
        const size_t next_step = same_span || next + span <= rows ? phases : 1;
        body(RowBlock{r + g, phases, g, next < rows ? next : rows, next_step}, tag);
      }
  };
  if (block == 4) spans(SizeTag<4>{});
  if (block == 2) spans(SizeTag<2>{});
  for (; r < rows; ++r) body(RowBlock{r, 1, r % phases, r + 1, 1}, SizeTag<1>{});
}

// True when p is aligned for this ISA's streaming stores.
inline bool stream_aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % kStreamAlign == 0; }

// Streaming stores must fill whole cache lines: a line that takes an ordinary store after a streaming store
// is read back from memory first. AVX2's streaming stores are half a line, so a run's first or last streamed
// vector could share its line with the ordinary stores of the run's ends, or of the next row's: RMSNorm
// forward at 4096x768 ran 3.7x slower at one placement of the output in four, LayerNorm's 1.3-1.6x at two,
// BatchNorm training on 7x7 maps 3.6-3.9x. So a run streams only the whole lines of its vector steps
// (stream_lines()), and stores a vector outside them plainly (store_or_stream()). (AVX-512's vectors are whole
// lines; NEON's and the scalar build's stream() are ordinary stores.)
constexpr size_t kLineFloats = 64 / sizeof(float);
constexpr bool kHalfLineStreams = kStreamAlign >= 32 && kLanes < kLineFloats;
struct StreamLines {
  size_t begin, end;  // elements of the run
};
// The whole lines of run[head, tail), head aligned for streaming stores. (On the address as a number: run may be
// null where nothing is stored.)
inline StreamLines stream_lines(const float* run, size_t head, size_t tail) {
  if constexpr (!kHalfLineStreams) return {head, tail};  // not used: every streamed vector is a whole line
  const size_t past_line = (reinterpret_cast<uintptr_t>(run) + head * sizeof(float)) % 64 / sizeof(float);
  const size_t to_line = past_line ? kLineFloats - past_line : 0;
  const size_t begin = head + to_line < tail ? head + to_line : tail;
  return {begin, begin + (tail - begin) / kLineFloats * kLineFloats};
}
// Calls sweep(from, to, Flag<stream>{}) over the vector steps [first, tail) of rows whose whole lines are
// `lines` (stream_lines()), the last piece first when `backwards`: with kStream and half-line streams, the
// steps outside the lines plainly and those within streamed, so that the sweep checks nothing per vector (on
// AVX2's LayerNorm row pairs, one step at a time, 1.16x faster than checking each); else in one piece.
template <bool kStream, typename Sweep>
inline void sweep_stream_pieces(size_t first, size_t tail, StreamLines lines, bool backwards, Sweep&& sweep) {
  if constexpr (kStream && kHalfLineStreams) {
    sweep(backwards ? lines.end : first, backwards ? tail : lines.begin, Flag<false>{});
    sweep(lines.begin, lines.end, Flag<true>{});
    sweep(backwards ? first : lines.end, backwards ? lines.begin : tail, Flag<false>{});
  } else {
    sweep(first, tail, Flag<kStream>{});
  }
}
// Stores v at p; with kStream a streaming store (only within a run's whole lines: stream_lines()).
template <bool kStream>
inline void store_as(float* p, Vf v) {
  if constexpr (kStream)
    stream(p, v);
  else
    store(p, v);
}
// Stores v at run[j]: streamed with kStream when within `lines`, else plainly.
template <bool kStream>
inline void store_or_stream(float* run, size_t j, Vf v, StreamLines lines) {
  if constexpr (kStream && kHalfLineStreams) {
    if (j >= lines.begin && j + kLanes <= lines.end)
      stream(run + j, v);
    else
      store(run + j, v);
  } else {
    store_as<kStream>(run + j, v);
  }
}

// Whether an output of `rows` rows of n floats is stored with streaming stores (`arrays`: how many arrays of
// that size the op reads and writes), each row bringing itself to their alignment (row_peel()), so that rows
// whose bytes are not a multiple of it (1000 floats) stream too: without streaming stores, LayerNorm forward
// at 8192x1000 took 5.8 ms against 1.7 ms at 8192x1024.
inline bool stream_any_rows(const float* y, size_t rows, size_t n, size_t arrays) {
  return use_streaming_stores(arrays * rows * n * sizeof(float)) &&
         reinterpret_cast<uintptr_t>(y) % sizeof(float) == 0;
}
// How many leading elements of this row to store one by one before it is aligned for streaming stores.
inline size_t row_peel(const float* row, size_t n) {
  const size_t misalign = reinterpret_cast<uintptr_t>(row) % kStreamAlign;
  const size_t peel = misalign ? (kStreamAlign - misalign) / sizeof(float) : 0;
  return peel < n ? peel : n;
}

// For sweeps that need every row aligned alike (row pairs, GroupNorm runs): streaming only when a row's bytes
// are a multiple of the alignment, every row then peeling the same number of leading elements.
struct StreamPlan {
  bool streaming;
  size_t peel;
};
inline StreamPlan streaming_plan(const float* y, size_t rows, size_t n, size_t arrays) {
  if (!stream_any_rows(y, rows, n, arrays) || (n * sizeof(float)) % kStreamAlign != 0) return {false, 0};
  return {true, row_peel(y, n)};
}

// Where a row's aligned vector steps start: where the output is aligned when it is streamed (plan.peel), else
// where x is, when every row has the same alignment (else 0).
inline size_t aligned_first(const StreamPlan& plan, const float* x, size_t n) {
  if (plan.streaming) return plan.peel;
  const bool alike = reinterpret_cast<uintptr_t>(x) % sizeof(float) == 0 && (n * sizeof(float)) % kStreamAlign == 0;
  return alike ? row_peel(x, n) : 0;
}

// Scratch memory for one kernel call (never per element), released on every way out.
template <typename T>
struct Scratch {
  T* data;
  explicit Scratch(size_t n) : data(n ? new T[n] : nullptr) {}
  ~Scratch() { delete[] data; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// The per-column data of a row sweep (weight, bias, or the backward's dweight/dbias sums) in one 64-byte
// aligned scratch: a record of Slots vectors side by side per step, the steps starting where the output (x,
// when it is not streamed) is aligned, so that none of these loads and stores straddles two cache lines
// (measured in Node, LayerNorm backward: 512x4096 1.4-1.5x, 8192x1024 1.2-1.35x faster than reading the
// caller's arrays; LayerNorm forward's row pairs read weight and bias this way). Slot k starts as arrays[k],
// or, without one, 1 for slot 0 (a missing weight) and 0 for the others (a missing bias, or a sum); sums_to()
// copies a slot out. For a backward, sweep() runs the second pass: the columns before and after the aligned
// steps go through one vector at each end, with records of their own of which only the leftover lanes are
// kept, so that every column is computed the same way wherever the buffers sit. Rows shorter than a vector
// (vectors false) are left to the caller.
template <size_t Slots>
struct ColumnRecords {
  static constexpr size_t kRecord = Slots * kLanes;
  ColumnRecords(const StreamPlan& plan, const float* x, const float* const (&arrays)[Slots], size_t n)
      : n(n), vectors(n >= kLanes), first(vectors ? aligned_first(plan, x, n) : 0),
        steps(vectors ? (n - first) / kLanes : 0), tail(first + steps * kLanes),
        scratch((steps + 2) * kRecord > kLocal ? (steps + 2) * kRecord + 64 / sizeof(float) : 0) {
    // Short rows keep their records on the stack: a call on one 768-float row must not pay for an allocation.
    float* base = scratch.data ? scratch.data : local;
    rec = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t(63));
    for (size_t k = 0; k < steps; ++k) init(rec + k * kRecord, arrays, first + k * kLanes);
    if (vectors) {
      init(head(), arrays, 0);
      init(tail_record(), arrays, n - kLanes);
    }
  }
  float* at(size_t j) { return rec + (j - first) / kLanes * kRecord; }
  float* head() { return rec + steps * kRecord; }
  float* tail_record() { return rec + (steps + 1) * kRecord; }

  // One sweep over a block of R rows: step(j, record, out) computes the step at column j, adding into the
  // record and handing each row's dx vector to out(i, v); the aligned steps' dx are stored (streamed with
  // kStream) into dx[i], while the block's successors next_x/next_dy (R rows each) are prefetched in the
  // order their first pass will read them. The end vectors go first, so that no plain store follows the
  // streamed ones into a line.
  template <size_t R, bool kWantDx, bool kStream, typename Step>
  void sweep(float* const (&dx)[R], const float* next_x, const float* next_dy, size_t next_stride, bool backwards,
             bool prefetch_twice, Step&& step) {
    alignas(64) float ends[R][kLanes];
    auto end_step = [&](size_t j, float* r, size_t from, size_t to) {
      step(j, r, [&](size_t i, Vf v) { store(ends[i], v); });
      if constexpr (kWantDx)
        for (size_t i = 0; i < R; ++i)
          for (size_t c = from; c < to; ++c) dx[i][c] = ends[i][c - j];
    };
    for (size_t i = 0; i < R; ++i) {
      prefetch_ends(next_x + i * next_stride, n);
      prefetch_ends(next_dy + i * next_stride, n);
    }
    if (first > 0) end_step(0, head(), 0, first);
    if (tail < n) end_step(n - kLanes, tail_record(), tail, n);
    StreamLines lines[R];
    for (size_t i = 0; i < R; ++i) lines[i] = stream_lines(dx[i], first, tail);
    for_vectors(first, tail, backwards, [&](size_t j) {
      const size_t pj = backwards ? first + tail - kLanes - j : j;
      for (size_t i = 0; i < R; ++i) {
        prefetch_next(next_x + i * next_stride + pj);
        prefetch_next(next_dy + i * next_stride + pj);
        if constexpr (kStream && kLanes >= 16)
          if (prefetch_twice) {  // see kPrefetchTwiceMinBytes
            prefetch_next(next_x + i * next_stride + pj + kLanes / 2);
            prefetch_next(next_dy + i * next_stride + pj + kLanes / 2);
          }
      }
      step(j, at(j), [&](size_t i, Vf v) { store_or_stream<kStream>(dx[i], j, v, lines[i]); });
    });
  }

  // Slot `slot`'s sums into dst[0, n), or added to it (kAdd).
  template <bool kAdd = false>
  void sums_to(size_t slot, float* dst) {
    auto put = [&](float& d, float v) { d = kAdd ? d + v : v; };
    for (size_t k = 0; k < steps; ++k) {
      const Vf v = load(rec + k * kRecord + slot * kLanes);
      float* d = dst + first + k * kLanes;
      store(d, kAdd ? add(load(d), v) : v);
    }
    for (size_t c = 0; c < first; ++c) put(dst[c], head()[slot * kLanes + c]);
    for (size_t c = tail; c < n; ++c) put(dst[c], tail_record()[slot * kLanes + c - (n - kLanes)]);
  }

  static constexpr size_t kLocal = 3 * 1024;  // floats
  size_t n;
  bool vectors;
  size_t first, steps, tail;  // the aligned steps cover [first, tail)
  Scratch<float> scratch;
  float* rec;
  float local[kLocal + 64 / sizeof(float)];

 private:
  static void init(float* r, const float* const (&arrays)[Slots], size_t j) {
    for (size_t k = 0; k < Slots; ++k) store(r + k * kLanes, arrays[k] ? load(arrays[k] + j) : set1(k ? 0.0f : 1.0f));
  }
};

// Row pairs (LayerNorm and RMSNorm forward): rows are normalised two per sweep, so that each weight (and bias)
// vector is loaded once per pair, from aligned records (ColumnRecords: a vector of each side by side per
// step), and the sweep starts where y (x, when not streaming) is aligned, so that these loads never straddle
// two cache lines. Row by row, a long row's weight and bias come from L2 for every row: it is L2's bandwidth,
// not the arithmetic, that sets the pace there. Pairs are taken
//  - for rows of up to 4 KiB that are not a multiple of 4 KiB apart (768 floats, say), streamed or not:
//    measured in Node against one row per sweep, LayerNorm 4096x768 1.3-1.4x, 2048x768 1.3x, 32x768 1.1x
//    faster; RMSNorm 4096x768 1.13-1.28x, 2048x768 1.13-1.32x (streamed pairs: AVX-512 only, see
//    rms_norm_forward_pairs());
//  - for rows of up to 16 KiB when the output is not streamed: LayerNorm 64..512x1024 1.15-1.2x, 256x4096
//    1.17-1.2x, 512x2500 1.1x, 16x4096 1.13x (AVX2 1.07-1.27x, scalar 1.11x); RMSNorm 512x1024 1.15-1.24x,
//    64x1024 1.09x, 256x4096 1.05-1.08x, 512x512 1.04-1.08x (AVX2 1.06-1.10x).
// Streamed rows of 4 KiB and more measured slower in pairs (LayerNorm 8192x1024 0.67x, 1024x2048 0.82x,
// 4096x2048 0.83x, 2048x4096 0.96x: rows a multiple of 4 KiB apart share L1 sets). Below kPairMinRows rows the
// copy into records costs more than pairs save. Where streaming stores are half a line (AVX2), streamed pairs
// only for rows of whole lines, whose two rows have their lines at the same steps (sweep_stream_pieces()):
// LayerNorm at 8192x1000 (every other row 32 bytes into a line) ran 1.4-1.5x faster row by row than in pairs
// that checked each vector.
constexpr size_t kPairMinRows = 16;
inline bool use_row_pairs(size_t cols, bool streamed) {
  const size_t row_bytes = cols * sizeof(float);
  if (streamed && kHalfLineStreams && row_bytes % 64 != 0) return false;
  if (row_bytes % 4096 != 0 && row_bytes <= 4096) return true;
  return !streamed && row_bytes <= (size_t(16) << 10);
}

// The two ends of a row pair's sweep over the aligned steps [first, tail) of rows y0, y1 (at least a vector
// long): the elements before `first` and from `tail` on come from one unaligned vector at each end, computed
// by end_vectors(j, v0, v1) (row 0's and row 1's vector at column j into v0, v1), so that they round as every
// other element does, wherever the buffers sit. Both are computed before sweep() (in place, it overwrites
// their inputs). Their leftover elements are written after it when the aligned steps fill whole cache lines
// (measured 1.1x faster than before it), else before: a plain store into a line already streamed to costs a
// read of the line back (AVX2 3x slower).
template <typename EndVectors, typename Sweep>
inline void with_pair_ends(size_t n, size_t first, size_t tail, float* y0, float* y1, EndVectors&& end_vectors,
                           Sweep&& sweep) {
  alignas(64) float ends[4][kLanes];
  end_vectors(0, ends[0], ends[1]);
  end_vectors(n - kLanes, ends[2], ends[3]);
  auto write_ends = [&] {
    for (size_t j = 0; j < first; ++j) y0[j] = ends[0][j], y1[j] = ends[1][j];
    for (size_t j = tail; j < n; ++j) y0[j] = ends[2][j - (n - kLanes)], y1[j] = ends[3][j - (n - kLanes)];
  };
  constexpr bool kWholeLines = kStreamAlign % 64 == 0;
  if (!kWholeLines) write_ends();
  sweep();
  if (kWholeLines) write_ends();
}

// Output rows whose bytes are not a multiple of the streaming alignment do not all start alike: the
// alignment comes back every stream_phases(n) rows (1000 floats on AVX-512: every other row is 32 bytes
// off, 2 phases; 1004 floats, 4; an odd number, 16 = kMaxPhases).
constexpr size_t kMaxPhases = kStreamAlign / sizeof(float);
inline size_t stream_phases(size_t n) {
  size_t p = 1;
  while (p * n * sizeof(float) % kStreamAlign != 0) p *= 2;
  return p;
}

// A backward's column records (ColumnRecords), one set per phase of dx's rows when dx is streamed: row r
// sweeps with phase(r % phases), whose aligned steps start where that row of dx is aligned, and
// for_row_blocks() gives each block rows of one phase. Before, rows that were not all aligned alike were not
// streamed: in Node, LayerNorm/RMSNorm backward at 8192x1000, 8192x1001, 4096x2001 and 16384x500 ran
// 1.27-1.35x slower than with this. The sums are added phase by phase in sums_to(), in the same order
// wherever the buffers sit. Phases past the first are allocated (they exist only for outputs of many MiB),
// and only while all phases' records fit in kMaxPhaseRecordBytes: past it (LayerNorm rows of an odd number
// of floats, more than 21845 of them) dx is stored plainly.
//
// With dx streamed and the op's bytes (x, dy, dx) at least the last-level cache of the machines we measure on
// (32 MiB: x and dy then come from memory on every call), AVX-512's sweep asks twice for each line of the next
// block's x and dy, as affine_run() does: in Node, RMSNorm backward 4096x768 1.18-1.27x, 1024x4096
// 1.12-1.15x, 8192x1024 1.03-1.04x, LayerNorm 1.01-1.07x, 1.22-1.25x, 1.08-1.12x; below that size, with x
// and dy partly in cache, it measured 0.93-1.00x (2048x768, 2560x768, 3072x768 = 28 MiB, 512x4096).
constexpr size_t kMaxPhaseRecordBytes = size_t(4) << 20;
constexpr size_t kPrefetchTwiceMinBytes = size_t(32) << 20;
template <size_t Slots>
struct PhasedRecords {
  PhasedRecords(float* dx, const float* x, size_t rows, const float* const (&arrays)[Slots], size_t n)
      : streaming(dx && stream_any_rows(dx, rows, n, 3) &&
                  (stream_phases(n) == 1 || stream_phases(n) * Slots * n * sizeof(float) <= kMaxPhaseRecordBytes)),
        prefetch_twice(streaming && 3 * rows * n * sizeof(float) >= kPrefetchTwiceMinBytes),
        phases(streaming ? stream_phases(n) : 1), phase0(plan(dx, 0, n), x, arrays, n), vectors(phase0.vectors) {
    for (size_t g = 1; g < phases && g < rows; ++g) more[g - 1].p = new ColumnRecords<Slots>(plan(dx, g, n), x, arrays, n);
  }
  PhasedRecords(const PhasedRecords&) = delete;
  PhasedRecords& operator=(const PhasedRecords&) = delete;

  ColumnRecords<Slots>& phase(size_t g) { return g ? *more[g - 1].p : phase0; }

  // Slot `slot`'s sums over all phases into dst[0, n).
  void sums_to(size_t slot, float* dst) {
    phase0.sums_to(slot, dst);
    for (size_t g = 1; g < phases; ++g)
      if (more[g - 1].p) more[g - 1].p->template sums_to<true>(slot, dst);
  }

  const bool streaming;
  const bool prefetch_twice;  // passed to ColumnRecords::sweep() (see kPrefetchTwiceMinBytes)
  const size_t phases;

 private:
  // Phase g's plan: streamed from where row g of dx is aligned (computed on the address: row g may be past
  // the end when there are fewer rows than phases), or not streamed.
  StreamPlan plan(const float* dx, size_t g, size_t n) const {
    if (!streaming) return {false, 0};
    return {true, row_peel(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(dx) + g * n * sizeof(float)), n)};
  }
  struct Owned {  // deleted with PhasedRecords, or when a later allocation in its constructor throws
    ColumnRecords<Slots>* p = nullptr;
    ~Owned() { delete p; }
  };
  ColumnRecords<Slots> phase0;
  Owned more[kMaxPhases];  // phases 1, 2, ... (one spare: kMaxPhases is 1 on the scalar ISA)

 public:
  const bool vectors;  // rows of at least one vector (else the caller goes element by element)
};

// The normalise step of the channel-wise ops (GroupNorm, BatchNorm): out = (x - hi) * a + b over a run of
// n contiguous floats, prefetching the same span of `next`, in order or `backwards` (for_vectors()). With
// kStream, scalar steps first bring `out` to the alignment streaming stores need. Streamed (next from memory),
// AVX-512 asks twice for each line of next, as AVX2's half-line steps do: in Node, channels-first BatchNorm
// training at [32,64,56,56] 1.14-1.17x, GroupNorm forward there 1.11x (AVX2 had run 1.23x / 1.54x faster than
// AVX-512 there; a prefetch that finds the core's miss buffers full may be dropped).
template <bool kStream>
inline void affine_run(const float* x, float* out, size_t n, float hi, float a, float b, const float* next,
                       bool backwards = false) {
  const Vf vhi = set1(hi), va = set1(a), vb = set1(b);
  size_t head = 0;
  if constexpr (kStream)
    for (; head < n && !stream_aligned(out + head); ++head) out[head] = (x[head] - hi) * a + b;
  const StreamLines lines = stream_lines(out, head, n);
  const size_t tail = for_vector_quads(head, n, backwards, [&](size_t j, auto count) {
    Vf v[count.value];
    for (size_t k = 0; k < count.value; ++k) {
      prefetch_next(next + j + k * kLanes);
      if constexpr (kStream && kLanes >= 16) prefetch_next(next + j + k * kLanes + kLanes / 2);  // see above
      v[k] = load(x + j + k * kLanes);
    }
    for (size_t k = 0; k < count.value; ++k) {
      v[k] = muladd(sub(v[k], vhi), va, vb);
      store_or_stream<kStream>(out, j + k * kLanes, v[k], lines);
    }
  });
  for (size_t j = tail; j < n; ++j) out[j] = (x[j] - hi) * a + b;
}

// Backward steps have a cheaper form in which the mean is not subtracted element by element:
// sum dy*(x - m) = sum dy*x - m*sum dy, and (x - m)*k2 + k1 = x*k2 + (k1 - m*k2). Both lose about |m|/sigma
// ulps to cancellation, so they serve only while |mean| * rstd <= kUncentredMaxOffset (8: ~5e-7 relative);
// larger offsets (1e4 + N(0, 1e-2)) keep the exact centred form.
constexpr float kUncentredMaxOffset = 8.0f;
inline bool uncentred_ok(float mean, float rstd) { return std::fabs(mean) * rstd <= kUncentredMaxOffset; }

// The saved mean a backward gets is a float (LayerNorm, GroupNorm: as PyTorch's). Far from zero next to the
// spread it is off by up to half an ulp, 5% of the spread for 1e4 + N(0, 1e-2), and x - mean, xhat and the
// gradients with it (LayerNorm dx 1e-3 relative). So where uncentred_ok() fails, the backward measures that
// rounding on the data: the mean of x - mean over the `count` elements whose sums of x - mean are
// `dev_sum`. It is used (the true mean taken as mean + residual) only when it is within the rounding of a
// float mean (|residual| <= |mean| * 2^-23), so a mean that is not this data's passes through as given.
inline double mean_residual(float mean, double dev_sum, double count) {
  const double d = dev_sum / count;
  return std::fabs(d) <= std::fabs(double(mean)) * 0x1p-23 ? d : 0.0;  // NaN: 0
}
// The same for a contiguous run (a LayerNorm row), which it reads once more; 0 where not needed. The test
// and the sweep are two functions so that the test, small, is inlined at every call, and a row that needs no
// sweep costs no call (in the GroupNorm short-channel backward a call per group measured 0.8x).
inline double swept_mean_residual(const float* x, size_t n, float mean) {
  double c = 0, q = 0;
  add_shifted_sums(x, n, mean, c, q);
  return mean_residual(mean, c, double(n));
}
inline double mean_residual(const float* x, size_t n, float mean, float rstd) {
  return uncentred_ok(mean, rstd) || !(rstd == rstd) ? 0.0 : swept_mean_residual(x, n, mean);
}

// Adds sum(dy) and sum(dy * (x - hi)) over one contiguous run to sdy and sdx. Without kCentred it adds
// sum(dy * x) instead, and the caller subtracts hi * sdy (see uncentred_ok()). along(i, kLanes) is called at each
// vector step, as in add_shifted_sums() (the BatchNorm sums prefetch the next run there).
template <bool kCentred = true, typename Along = NothingAlong>
inline void add_grad_sums(const float* dy, const float* x, size_t len, float hi, double& sdy, double& sdx,
                          Along along = {}) {
  const Vf h = set1(hi);
  auto xs = [&](size_t i) { return kCentred ? sub(load(x + i), h) : load(x + i); };
  size_t i = 0;
  while (i + kLanes <= len) {
    Vf s0 = zero(), s1 = zero(), q0 = zero(), q1 = zero();
    const size_t end = len - i > 2 * kLanes * kFlushSteps ? i + 2 * kLanes * kFlushSteps : len;
    for (; i + 2 * kLanes <= end; i += 2 * kLanes) {
      along(i, kLanes);
      along(i + kLanes, kLanes);
      const Vf d0 = load(dy + i), d1 = load(dy + i + kLanes);
      s0 = add(s0, d0);
      s1 = add(s1, d1);
      q0 = muladd(d0, xs(i), q0);
      q1 = muladd(d1, xs(i + kLanes), q1);
    }
    for (; i + kLanes <= end; i += kLanes) {
      along(i, kLanes);
      const Vf d0 = load(dy + i);
      s0 = add(s0, d0);
      q0 = muladd(d0, xs(i), q0);
    }
    sdy += reduce_add(add(s0, s1));
    sdx += reduce_add(add(q0, q1));
  }
  for (; i < len; ++i) {
    sdy += dy[i];
    sdx += double(dy[i]) * double(kCentred ? x[i] - hi : x[i]);
  }
}

// Their backward step: dx = dy * k - ((x - hi) * k2 + k1) over a run, prefetching the same span of next_dy
// and next_x, in order or `backwards`. Without kUseX, dx = dy * k and x is not read (inference-mode
// backward). Without kCentred, the uncentred form above (two operations per vector instead of four; see
// uncentred_ok()).
template <bool kUseX, bool kStream, bool kCentred = true>
inline void affine_grad_run(const float* dy, const float* x, float* dx, size_t n, float k, float hi, float k2,
                            float k1, const float* next_dy, const float* next_x, bool backwards = false) {
  const float c = k1 - hi * k2;  // uncentred: dx = dy * k + (x * -k2 - c)
  const Vf vk = set1(k), vhi = set1(hi), vk2 = set1(k2), vk1 = set1(k1), vnk2 = set1(-k2), vnc = set1(-c);
  auto one = [&](size_t j) {
    if constexpr (!kUseX)
      dx[j] = dy[j] * k;
    else if constexpr (kCentred)
      dx[j] = dy[j] * k - ((x[j] - hi) * k2 + k1);
    else
      dx[j] = dy[j] * k - (x[j] * k2 + c);
  };
  size_t head = 0;
  if constexpr (kStream)
    for (; head < n && !stream_aligned(dx + head); ++head) one(head);
  const StreamLines lines = stream_lines(dx, head, n);
  const size_t tail = for_vector_quads(head, n, backwards, [&](size_t j, auto count) {
    Vf d[count.value], v[count.value];  // all loads before any store (see for_vector_quads())
    for (size_t q = 0; q < count.value; ++q) {
      const size_t i = j + q * kLanes;
      prefetch_next(next_dy + i);
      d[q] = load(dy + i);
      if constexpr (kUseX) {
        prefetch_next(next_x + i);
        v[q] = load(x + i);
      }
    }
    for (size_t q = 0; q < count.value; ++q) {
      Vf r;
      if constexpr (!kUseX)
        r = mul(d[q], vk);
      else if constexpr (kCentred)
        r = sub(mul(d[q], vk), muladd(sub(v[q], vhi), vk2, vk1));
      else
        r = muladd(d[q], vk, muladd(v[q], vnk2, vnc));
      store_or_stream<kStream>(dx, j + q * kLanes, r, lines);
    }
  });
  for (size_t j = tail; j < n; ++j) one(j);
}
