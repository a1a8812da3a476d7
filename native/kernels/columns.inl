// What the channels-last kernels share (BatchNorm over [N*S, C], GroupNorm per sample over [S, C]): per-column
// statistics of a row-major [rows, C] matrix read row by row, and the per-column affine sweeps over it.
// Included inside an ISA namespace after rows.inl.
//
// Column sums run over blocks of rows that stay in cache while tiles of 16-64 columns go over them, in float
// SIMD per block and merged in double after each block; statistics are centred on a per-column shift as in
// rows.inl (checked, redone around the mean found, in double on overflow).

struct ChannelStats {
  double mean;
  double m2;  // sum of squared deviations from the mean
};

// Columns of a channels-last tensor handled together: their per-column arrays (stack) stay in L1.
constexpr size_t kChunk = 1024;

// Mean and M2 from the sums about `shift`, and whether the shift was close enough (within one standard
// deviation of the mean, so that q - c^2/n loses at most a bit) and nothing overflowed.
inline bool finish_stats(double c, double q, double count, float shift, ChannelStats& st) {
  const double cm = c / count;
  st.mean = double(shift) + cm;
  st.m2 = q - c * cm;
  return (cm * cm * count <= st.m2) & std::isfinite(st.m2);  // & not &&: no branch, the loops vectorize
}

// Channels-last: for each column j in [j0, j0 + w) of a [rows, C] matrix, adds the sums over all rows of the
// pair (u, v) that vec(off, c, u, v, ld) accumulates for kLanes columns at once (the step at element offset
// off, loaded with ld; c = those columns' entries of `cols`), and one(off, j, u, v) for a single column in
// double, into su[j - j0], sv[j - j0]. Float accumulators over blocks of rows, merged in double.
//
// A JS tensor starts 16 bytes past a cache line, so column tiles at whole-row offsets load vectors that
// straddle two lines. When the tiles cover whole rows (w == C, C a multiple of kLanes) and `data` (the tensor
// they read) sits `skew` floats past a vector boundary, they load the aligned vectors instead: slot 0 is
// then the vector across two rows (row r - 1's last `skew` columns, row r's first kLanes - skew). In a
// block of rows it takes row r0's head lanes only, and after the block one more step for row r1 - 1's tail
// lanes, so that every column adds the same rows in the same order as without skew: the sums, like
// everything else, do not depend on where the buffer sits. Measured in C++ 1.1-1.45x faster sums ([256,512],
// [6272,256]; neutral at C = 64), in Node 1.05-1.1x the whole BatchNorm/GroupNorm op.
template <size_t V, bool kWrap, typename Vec>
inline void column_tile(size_t r0, size_t r1, size_t C, size_t j0, size_t j, size_t skew, const float* cols,
                        double* su, double* sv, Vec& vec) {
  const ptrdiff_t first = ptrdiff_t(j0 + j) - ptrdiff_t(skew);  // element offset of the tile in row 0
  auto all = [](const float* p) { return load(p); };
  Vf c[V], u[V], v[V];
  for (size_t k = 0; k < V; ++k) {
    u[k] = v[k] = zero();
    if (!kWrap || k) c[k] = load(cols + j + k * kLanes - skew);
  }
  size_t r = r0;
  if constexpr (kWrap) {  // slot 0's columns, rotated; and row r0 with slot 0's head lanes only
    alignas(64) float t[kLanes];
    for (size_t l = 0; l < kLanes; ++l) t[l] = cols[l < skew ? C - skew + l : l - skew];
    c[0] = load(t);
    const ptrdiff_t off = ptrdiff_t(r0 * C) + first;
    Vf hu = zero(), hv = zero();
    vec(off, c[0], hu, hv, [&](const float* p) { return load_lanes(p, skew, kLanes); });
    u[0] = select_lanes(u[0], hu, skew, kLanes);
    v[0] = select_lanes(v[0], hv, skew, kLanes);
    for (size_t k = 1; k < V; ++k) vec(off + ptrdiff_t(k * kLanes), c[k], u[k], v[k], all);
    ++r;
  }
  for (; r < r1; ++r) {
    const ptrdiff_t off = ptrdiff_t(r * C) + first;
    for (size_t k = 0; k < V; ++k) vec(off + ptrdiff_t(k * kLanes), c[k], u[k], v[k], all);
  }
  if constexpr (kWrap) {  // row r1 - 1's tail lanes, which sit in slot 0 of row r1
    Vf tu = u[0], tv = v[0];
    vec(ptrdiff_t(r1 * C) + first, c[0], tu, tv, [&](const float* p) { return load_lanes(p, 0, skew); });
    u[0] = select_lanes(u[0], tu, 0, skew);
    v[0] = select_lanes(v[0], tv, 0, skew);
  }
  alignas(64) float tu[V * kLanes], tv[V * kLanes];
  for (size_t k = 0; k < V; ++k) {
    store(tu + k * kLanes, u[k]);
    store(tv + k * kLanes, v[k]);
  }
  size_t l = 0;
  if constexpr (kWrap)
    for (; l < kLanes; ++l) {
      const size_t col = l < skew ? C - skew + l : l - skew;
      su[col] += tu[l];
      sv[col] += tv[l];
    }
  for (; l < V * kLanes; ++l) {
    su[j + l - skew] += tu[l];
    sv[j + l - skew] += tv[l];
  }
}

// Tiles of eight vectors (128 columns, 512 contiguous bytes of each row) where the registers hold their sums and
// shifts (24); else four. On AVX-512 (a Zen 5 VM), against tiles of four, in C++ (x placed as a JS tensor), both
// orders: batchNormStats [6272,256] 1.07-1.12x, [2048,1024] 1.14-1.16x, [256,512] 1.05-1.08x; BatchNorm
// backward [256,512] 1.05-1.08x, [6272,256] 0.99-1.05x; the whole training forward at [6272,256] level. In
// Node, batchNormStats 1.02-1.10x at [6272,256] and [2048,1024], within the noise elsewhere and in the other
// ops (the sums are a small part of them). (NEON's 32 registers would hold them too: not measured there.)
constexpr bool kEightVectorTiles = kLanes == 16 && kVectorRegisters >= 32;

template <typename Vec, typename One>
inline void column_sums(const float* data, size_t rows, size_t C, size_t j0, size_t w, const float* cols,
                        double* su, double* sv, Vec vec, One one) {
  for (size_t j = 0; j < w; ++j) su[j] = sv[j] = 0;
  const size_t misalign = reinterpret_cast<uintptr_t>(data) % (kLanes * sizeof(float));
  const size_t skew = w == C && C % kLanes == 0 && misalign % sizeof(float) == 0 ? misalign / sizeof(float) : 0;
  // Rows per block: few enough that the block (all its columns) stays in L1/L2 while the column tiles go
  // over it, and that float sums over the block stay accurate (at most kFlushSteps * 2 rows).
  size_t block = (size_t(16384) / (C ? C : 1));
  block = block < 8 ? 8 : block > 2 * kFlushSteps ? 2 * kFlushSteps : block;
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t r1 = r0 + block < rows ? r0 + block : rows;
    size_t j = 0;
    if (skew) {
      if (kEightVectorTiles && w >= 8 * kLanes) {
        column_tile<8, true>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
        j += 8 * kLanes;
      } else if (w >= 4 * kLanes) {
        column_tile<4, true>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
        j += 4 * kLanes;
      } else {
        column_tile<1, true>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
        j += kLanes;
      }
    }
    for (; kEightVectorTiles && j + 8 * kLanes <= w; j += 8 * kLanes)
      column_tile<8, false>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
    for (; j + 4 * kLanes <= w; j += 4 * kLanes) column_tile<4, false>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
    for (; j + kLanes <= w; j += kLanes) column_tile<1, false>(r0, r1, C, j0, j, skew, cols, su, sv, vec);
    for (; j < w; ++j)
      for (size_t r = r0; r < r1; ++r) one(r * C + j0 + j, j, su[j], sv[j]);
  }
}

// Channels-last: mean and M2 of the columns [j0, j0 + w) (w <= kChunk).
inline void column_stats(const float* x, size_t rows, size_t C, size_t j0, size_t w, double* mean, double* m2) {
  float shift[kChunk];
  double su[kChunk], sv[kChunk];
  // The shift: the mean of the first rows, near the column's mean unless the rows are sorted (checked). In
  // float, each value scaled before it is added (no overflow): the shift only has to be near the mean. (Summed
  // in double it took a fifth of the statistics' time at [128,1024]; training [32,768] 1.16x, [128,1024]
  // 1.06x, [256,512] 1.03x in Node.)
  const size_t head = rows < 32 ? rows : 32;
  const float scale = 1.0f / float(head ? head : 1);
  for (size_t j = 0; j < w; ++j) shift[j] = 0;
  for (size_t r = 0; r < head; ++r)  // row by row: contiguous reads
    for (size_t j = 0; j < w; ++j) shift[j] += x[r * C + j0 + j] * scale;
  auto vec = [&](ptrdiff_t off, Vf c, Vf& u, Vf& v, auto ld) {
    const Vf d = sub(ld(x + off), c);
    u = add(u, d);
    v = muladd(d, d, v);
  };
  auto one = [&](size_t off, size_t jl, double& u, double& v) {
    const double d = double(x[off] - shift[jl]);
    u += d;
    v += d * d;
  };
  const double count = double(rows);
  // Every per-column loop here is free of branches so that it vectorizes: at small batches ([2, 768]) these
  // loops, not the data, were most of the time.
  size_t bad = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    column_sums(x, rows, C, j0, w, shift, su, sv, vec, one);
    bad = 0;
    for (size_t j = 0; j < w; ++j) {
      ChannelStats st;
      bad += !finish_stats(su[j], sv[j], count, shift[j], st);
      mean[j] = st.mean;
      m2[j] = st.m2;
    }
    if (!bad) break;
    for (size_t j = 0; j < w; ++j) shift[j] = float(mean[j]);
  }
  for (size_t j = 0; bad && j < w; ++j) {
    if (!std::isfinite(m2[j])) {  // float overflow: this column in double (slow, strided, rare)
      double s = 0;
      for (size_t r = 0; r < rows; ++r) s += x[r * C + j0 + j];
      const double mu = s / count;
      double c = 0, q = 0;
      for (size_t r = 0; r < rows; ++r) {
        const double d = double(x[r * C + j0 + j]) - mu;
        c += d;
        q += d * d;
      }
      mean[j] = mu + c / count;
      m2[j] = q - c * c / count;
    }
  }
  for (size_t j = 0; j < w; ++j) m2[j] = m2[j] < 0 ? 0 : m2[j];  // rounding of a (near-)constant column
}

// The elementwise sweeps over whole channels-last rows (w == C) can go over the [rows, C] matrix as one flat
// run that starts where the output is aligned, with the per-column coefficients rotated to match: then no
// store straddles two cache lines (a JS caller's tensors start 16 bytes past a line), and any output can take
// streaming stores. Measured in Node against row by row: backward 1.1-1.5x faster (BatchNorm NHWC, GroupNorm
// NHWC), forward with streaming stores 1.1-1.25x ([32,56,56,64]). Possible when a row's bytes keep the
// vector alignment; other shapes go row by row.
inline bool flat_rows(const float* out, size_t C, size_t w) {
  return w == C && (C * sizeof(float)) % kStreamAlign == 0 && reinterpret_cast<uintptr_t>(out) % sizeof(float) == 0;
}

// Where the flat run's vector steps start: the first element of `out` aligned for this ISA's vectors.
inline size_t flat_start(const float* out) {
  const size_t misalign = reinterpret_cast<uintptr_t>(out) % kStreamAlign;
  return misalign ? (kStreamAlign - misalign) / sizeof(float) : 0;
}

// Streaming stores for a channels-last output of `rows` rows of C when the op's data (`arrays` tensors) is far
// larger than the cache and every store can be aligned: by the flat run, or row by row when out is aligned.
inline bool stream_rows(const float* out, size_t rows, size_t C, size_t arrays) {
  return use_streaming_stores(arrays * rows * C * sizeof(float)) && (C * sizeof(float)) % kStreamAlign == 0 &&
         ((C <= kChunk && flat_rows(out, C, C)) || stream_aligned(out));
}

// K coefficient arrays of C floats rotated by `first` and interleaved, aligned: the coefficients of the flat
// run's step that starts at element first + r * C + q are at(q, 0 .. K-1), one vector each, side by side (one
// stream of loads instead of K).
template <size_t K>
struct RotatedColumns {
  RotatedColumns(const float* const (&arrays)[K], size_t C, size_t first) {
    const size_t shift = first % C;
    for (size_t k = 0; k < K; ++k)
      for (size_t q = 0; q < C; q += kLanes) {
        float* out = v + q * K + k * kLanes;
        if (q + shift + kLanes <= C) {
          store(out, load(arrays[k] + q + shift));
        } else {
          for (size_t l = 0; l < kLanes; ++l) out[l] = arrays[k][(q + l + shift) % C];
        }
      }
  }
  const float* at(size_t q, size_t k) const { return v + q * K + k * kLanes; }
  alignas(64) float v[K * kChunk];
};

// Calls put(f, step(f, q)) for the vector steps f = first + q + r * C of a flat run of `total` elements (q =
// the step's offset in the rotated rows), four steps computed before any is put (see for_vector_quads(): 4K
// aliasing), and partial(f, count) for the fewer than kLanes elements before `first` and after the last step.
template <typename Step, typename Put, typename Partial>
inline void flat_sweep(size_t total, size_t C, size_t first, Step step, Put put, Partial partial) {
  const size_t head = first < total ? first : total;
  if (head) partial(0, head);
  const size_t steps = (total - head) / kLanes;
  size_t f = head, q = 0, k = 0;
  auto next = [&] {
    f += kLanes;
    q = q + kLanes == C ? 0 : q + kLanes;
  };
  for (; k + 4 <= steps; k += 4) {
    Vf v[4];
    size_t at[4];
    for (size_t i = 0; i < 4; ++i, next()) at[i] = f, v[i] = step(f, q);
    for (size_t i = 0; i < 4; ++i) put(at[i], v[i]);
  }
  for (; k < steps; ++k, next()) put(f, step(f, q));
  if (f < total) partial(f, total - f);
}

// The elements a flat run leaves over, computed by `vec` in one vector (their values gathered into lanes, the
// rest zero) so that they round exactly as they would in any other lane: the output then does not depend on
// where the caller's buffer sits. in[k] is the k-th input array, columns[k] the k-th coefficient array.
template <size_t In, size_t K, typename Vec>
inline void flat_partial(size_t f0, size_t count, size_t C, const float* const (&in)[In],
                         const float* const (&columns)[K], float* out, Vec vec) {
  alignas(64) float t[In + K][kLanes] = {};
  for (size_t l = 0; l < count; ++l) {
    for (size_t i = 0; i < In; ++i) t[i][l] = in[i] ? in[i][f0 + l] : 0.0f;
    for (size_t k = 0; k < K; ++k) t[In + k][l] = columns[k][(f0 + l) % C];
  }
  const float* p[In + K];
  for (size_t i = 0; i < In + K; ++i) p[i] = t[i];
  store(t[0], vec(p));
  for (size_t l = 0; l < count; ++l) out[f0 + l] = t[0][l];
}

// Up to this much x, affine_rows() takes two rows per column step (see there).
constexpr size_t kPairedRowsMaxBytes = size_t(2) << 20;

// affine_rows() over rows of at most four vectors (C <= 64 floats on AVX-512), whole rows: each column step's
// coefficients stay in registers for all rows, and the sweep loads nothing but x. In C++ against the general
// sweep: [16384,48] 1.23x, [4096,64] 1.04-1.09x, [8192,32] 1.0-1.07x. (Its own function: inside the general one
// it made the row-by-row loop there 4-5% slower at [6272,256].)
// Plain stores only: a streamed output of such rows goes through the flat run.
template <bool kCentred>
inline void affine_narrow_rows(const float* x, float* y, size_t rows, size_t C, const float* const* cols) {
  constexpr size_t K = kCentred ? 3 : 2;  // coefficient arrays: hi, a, b or a, b
  auto sweep = [&](auto steps) {
    constexpr size_t kSteps = steps.value;
    Vf c[kSteps][K];
    for (size_t q = 0; q < kSteps; ++q)
      for (size_t k = 0; k < K; ++k) c[q][k] = load(cols[k] + q * kLanes);
    for (size_t r = 0; r < rows; ++r) {
      Vf v[kSteps];
      for (size_t q = 0; q < kSteps; ++q) {
        const Vf xv = load(x + r * C + q * kLanes);
        if constexpr (kCentred)
          v[q] = muladd(sub(xv, c[q][0]), c[q][1], c[q][2]);
        else
          v[q] = muladd(xv, c[q][0], c[q][1]);
      }
      for (size_t q = 0; q < kSteps; ++q) store(y + r * C + q * kLanes, v[q]);
    }
  };
  switch (C / kLanes) {
    case 1: sweep(SizeTag<1>{}); return;
    case 2: sweep(SizeTag<2>{}); return;
    case 3: sweep(SizeTag<3>{}); return;
    default: sweep(SizeTag<4>{}); return;
  }
}
inline bool narrow_rows(size_t C, size_t w) { return w == C && C % kLanes == 0 && C <= 4 * kLanes; }

// Channels-last rows: y[r, j] = (x[r, j] - hi[j]) * a[j] + b[j] for the columns [j0, j0 + w), or, not
// kCentred, the folded y[r, j] = x[r, j] * a[j] + b[j] (hi unused; one load per vector fewer).
// (Going over the rows last to first, to start with the rows the statistics pass left in cache, measured
// slower: the hardware prefetcher follows ascending streams better.)
// flat: as one flat run (flat_rows(); the caller decides, see affine_rows()), else row by row.
template <bool Stream, bool kCentred>
inline void affine_rows_as(const float* x, float* y, size_t rows, size_t C, size_t j0, size_t w, const float* hi,
                           const float* a, const float* b, bool flat) {
  constexpr size_t K = kCentred ? 3 : 2;  // coefficient arrays: hi, a, b or a, b
  const float* cols[K];
  for (size_t k = 0; k < K; ++k) cols[k] = k == K - 1 ? b : k == K - 2 ? a : hi;  // the last K of hi, a, b
  auto put = [&](float* p, Vf v) {
    if constexpr (Stream)
      stream(p, v);
    else
      store(p, v);
  };
  // p: x, then the K coefficient arrays
  auto vec = [](const float* const* p) {
    if constexpr (kCentred) return muladd(sub(load(p[0]), load(p[1])), load(p[2]), load(p[3]));
    return muladd(load(p[0]), load(p[1]), load(p[2]));
  };
  auto at = [&](const float* xr, size_t j) {  // row xr's vector at column j
    if constexpr (kCentred) {
      const float* p[] = {xr + j, hi + j, a + j, b + j};
      return vec(p);
    } else {
      const float* p[] = {xr + j, a + j, b + j};
      return vec(p);
    }
  };
  auto one = [&](float v, size_t j) {
    if constexpr (kCentred) return (v - hi[j]) * a[j] + b[j];
    return v * a[j] + b[j];
  };
  if (flat) {
    const size_t first = flat_start(y);
    const RotatedColumns<K> rc(cols, C, first);
    flat_sweep(rows * C, C, first, [&](size_t f, size_t q) {
      const float* p[K + 1] = {x + f};
      for (size_t k = 0; k < K; ++k) p[k + 1] = rc.at(q, k);
      return vec(p);
    }, [&](size_t f, Vf v) { put(y + f, v); },
       [&](size_t f, size_t count) { flat_partial<1, K>(f, count, C, {x}, cols, y, vec); });
    return;
  }
  // Two rows at a time while x is at most twice L2, so that each column's coefficients are loaded once for
  // both: with four loads to a store, loads set the pace when x comes from cache. Measured in Node against
  // row by row: 1.05-1.16x at [64..4096, 64..1024] up to 2 MiB (BatchNorm inference [256,512] 1.09-1.1x,
  // training 1.05x); from 4 MiB, where x streams from L3, 0.88-0.93x. Two rows' vectors for two columns are
  // computed before any is stored (4K aliasing, see for_vector_quads(); through for_vector_quads() the
  // one-row loop measured 0.86-0.89x). (Measured before whole rows took the flat run on AVX-512/AVX2: row by
  // row now serves rows that cannot, w < C or C not a multiple of the vector, and the NEON/scalar builds.)
  size_t r = 0;
  const size_t pair_rows = rows * C * sizeof(float) <= kPairedRowsMaxBytes ? rows : 0;
  for (; r + 2 <= pair_rows; r += 2) {
    const float* xr = x + r * C + j0;
    float* yr = y + r * C + j0;
    auto pair = [&](size_t j, Vf& v0, Vf& v1) {
      v0 = at(xr, j);
      v1 = at(xr + C, j);
    };
    size_t j = 0;
    for (; j + 2 * kLanes <= w; j += 2 * kLanes) {
      Vf v[4];
      pair(j, v[0], v[1]);
      pair(j + kLanes, v[2], v[3]);
      put(yr + j, v[0]);
      put(yr + C + j, v[1]);
      put(yr + j + kLanes, v[2]);
      put(yr + C + j + kLanes, v[3]);
    }
    for (; j + kLanes <= w; j += kLanes) {
      Vf v0, v1;
      pair(j, v0, v1);
      put(yr + j, v0);
      put(yr + C + j, v1);
    }
    for (; j < w; ++j) {
      yr[j] = one(xr[j], j);
      yr[C + j] = one(xr[C + j], j);
    }
  }
  for (; r < rows; ++r) {
    const float* xr = x + r * C + j0;
    float* yr = y + r * C + j0;
    auto step = [&](size_t j) { return at(xr, j); };
    size_t j = 0;
    for (; j + 4 * kLanes <= w; j += 4 * kLanes) {
      const Vf v[] = {step(j), step(j + kLanes), step(j + 2 * kLanes), step(j + 3 * kLanes)};
      for (size_t k = 0; k < 4; ++k) put(yr + j + k * kLanes, v[k]);
    }
    for (; j + kLanes <= w; j += kLanes) put(yr + j, step(j));
    for (; j < w; ++j) yr[j] = one(xr[j], j);
  }
}
// The channels-last normalise. Whole rows whose bytes keep the vector alignment go as one flat run (no load or
// store straddles two lines): measured in Node against row by row, AVX-512, Zen 5 VM, BatchNorm inference
// [128,512] 1.09-1.56x, [256,512] 1.04-1.17x, [6272,256] 1.21-1.56x, [8192,128] 1.14-1.24x, [2048,256] 1.07-1.18x,
// training [6272,256] 1.22-1.34x, GroupNorm forward [2,56,56,256] 1.37-1.47x; level at [512,1024], [2048,128];
// AVX2 inference 1.05-1.23x at the same shapes, training [6272,256] 1.10x. (Earlier measurements had kept row
// by row where x comes from L3.) Not streamed, two exceptions: rows of at most four vectors (C <= 64 floats on
// AVX-512) take affine_narrow_rows(), coefficients in registers, which measured faster than the flat run at
// [16384,64] (BatchNorm inference 1.03-1.14x), unless x was just read into L2 (kXInL2: a GroupNorm sample after
// its statistics), where the flat run had measured 1.05-1.25x; and vectors of at most 16 bytes (NEON, scalar)
// go row by row, unless kXInL2: a JS tensor starts 16 bytes past a cache line, so they straddle none, and the
// flat run's rotated coefficients cost the scalar build 1.7-2.7x.
// b_folded, when given, holds b - hi * a (see fold_columns() in batch_norm.inl): the sweep then takes the
// folded y = x * a + b_folded where that measured faster, everywhere but row by row from L3 (in Node, 0.91-0.94x
// at [6272,256], against 1.04-1.17x elsewhere).
template <bool Stream, bool kXInL2 = false>
inline void affine_rows(const float* x, float* y, size_t rows, size_t C, size_t j0, size_t w, const float* hi,
                        const float* a, const float* b, const float* b_folded = nullptr) {
  const bool whole = flat_rows(y, C, w);
  constexpr bool kWide = kLanes * sizeof(float) > 16;
  const bool narrow = !Stream && !(kXInL2 && whole) && narrow_rows(C, w);
  const bool flat = whole && !narrow && (Stream || kXInL2 || kWide);
  const bool fold = b_folded && (flat || narrow || rows * C * sizeof(float) <= kPairedRowsMaxBytes);
  if (narrow) {
    const float* centred[] = {hi, a, b};
    const float* folded[] = {a, b_folded};
    if (fold)
      affine_narrow_rows<false>(x, y, rows, C, folded);
    else
      affine_narrow_rows<true>(x, y, rows, C, centred);
  } else if (fold) {
    affine_rows_as<Stream, false>(x, y, rows, C, j0, w, nullptr, a, b_folded, flat);
  } else {
    affine_rows_as<Stream, true>(x, y, rows, C, j0, w, hi, a, b, flat);
  }
}

// Channels-last rows of a backward: dx[r, j] = dy[r, j] * k[j] - ((x[r, j] - hi[j]) * k2[j] + k1[j]) for the
// columns [j0, j0 + w); without UseX, dx = dy * k (x not read).
template <bool UseX, bool Stream>
inline void back_rows(const float* dy, const float* x, float* dx, size_t rows, size_t C, size_t j0, size_t w,
                      const float* hi, const float* k, const float* k2, const float* k1) {
  auto put = [&](float* p, Vf v) {
    if constexpr (Stream)
      stream(p, v);
    else
      store(p, v);
  };
  // p: dy, x, hi, k, k2, k1
  auto vec = [](const float* const* p) {
    Vf v = mul(load(p[0]), load(p[3]));
    if constexpr (UseX) v = sub(v, muladd(sub(load(p[1]), load(p[2])), load(p[4]), load(p[5])));
    return v;
  };
  if (flat_rows(dx, C, w)) {
    const size_t first = flat_start(dx);
    const RotatedColumns<4> rc({hi, k, k2, k1}, C, first);
    flat_sweep(rows * C, C, first, [&](size_t f, size_t q) {
      const float* p[] = {dy + f, UseX ? x + f : nullptr, rc.at(q, 0), rc.at(q, 1), rc.at(q, 2), rc.at(q, 3)};
      return vec(p);
    }, [&](size_t f, Vf v) { put(dx + f, v); }, [&](size_t f, size_t count) {
      flat_partial<2, 4>(f, count, C, {dy, UseX ? x : nullptr}, {hi, k, k2, k1}, dx, vec);
    });
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    const size_t o = r * C + j0;
    size_t j = 0;
    for (; j + kLanes <= w; j += kLanes) {
      const float* p[] = {dy + o + j, UseX ? x + o + j : nullptr, hi + j, k + j, k2 + j, k1 + j};
      put(dx + o + j, vec(p));
    }
    for (; j < w; ++j)
      dx[o + j] = UseX ? dy[o + j] * k[j] - ((x[o + j] - hi[j]) * k2[j] + k1[j]) : dy[o + j] * k[j];
  }
}
