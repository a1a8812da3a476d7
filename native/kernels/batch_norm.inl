// BatchNorm forward and backward, and the SyncBatchNorm pieces, per channel over n * s elements.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h,
// split(), with_flags(), prefetch_next(), prefetch_l1(), use_streaming_stores() and stream_aligned() from
// rows.inl.
//
// Channels-first ([N, C, S]): a channel is n blocks of s contiguous floats, c * s apart. Training works
// channel by channel: the statistics pass brings the channel (401 KB for [32,64,56,56]) into L2, the
// normalising pass reads it from there while prefetching the next channel, so each element makes one trip
// from memory, as in a copy (streamed when large).
// Channels-last ([N*S, C]): every channel's statistics need the whole tensor before any output can be
// written, so training reads it twice: once for per-column sums (float SIMD across channels, over blocks of
// rows that stay in cache across column tiles, merged in double after each block), once to normalise.
//
// Statistics are centred: sums of x - shift and their squares, with the shift close to the mean (checked,
// and redone around the mean found when not; redone in double when float sums overflow). Means are
// carried as double and applied as hi + lo floats (split()), so x - mean stays exact for large means.

inline double bn_count(const BatchNormShape& sh) { return double(sh.n) * double(sh.s); }

// Channels-first read-only sweeps (batchNormStats, the backward's sums) ask for the run they read next while
// they sum the current one, a line per vector step, into L1: without it the sums ran at half the speed of a bare
// read on a Zen 5 VM. In Node there, both orders: batchNormStats [32,64,56,56] 1.9-2.1x, [8,256,28,28] 1.4x;
// batchNormBackwardReduce 1.3-1.4x, 14x14 maps 1.1-1.2x; the training backward 1.05-1.12x. Not for runs under
// 512 bytes (7x7 maps: 0.72-0.87x in C++) nor on the narrow ISAs (a prefetch per float or per four floats).
constexpr size_t kPrefetchRunMinBytes = 512;

inline bool prefetch_runs(const BatchNormShape& sh) {
  return kLanes >= 8 && sh.s * sizeof(float) >= kPrefetchRunMinBytes;
}
// The run after block b of channel ch in a channels-first tensor t: the channel's next block, or the next
// channel's first (null after the last).
inline const float* next_run(const float* t, const BatchNormShape& sh, size_t ch, size_t b) {
  if (b + 1 < sh.n) return t + ((b + 1) * sh.c + ch) * sh.s;
  return ch + 1 < sh.c ? t + (ch + 1) * sh.s : nullptr;
}
// The prefetch a sweep over block b of channel ch makes at its step (i, lanes): the same offset of the next run.
inline void prefetch_next_run(const float* t, const BatchNormShape& sh, size_t ch, size_t b, size_t i,
                              size_t lanes) {
  if (lanes != kLanes) return;
  if (const float* next = next_run(t, sh, ch, b)) prefetch_l1(next + i);
}

// Channels-first training: runs shorter than this (7x7, 14x14 maps) take the fused sweep in batch_norm_forward()
// when the tensor stays in cache; from this length on, its statistics sweep prefetches the next run.
constexpr size_t kShortRunBytes = 2048;

// Channels-first: the statistics of channel ch, whose blocks start at first + b * stride. The first pass calls
// along(b, i, lanes) at each of its steps (see add_shifted_sums()): the training forward normalises the
// previous channel there, and only there (a second pass, when the first one's shift was too far off, or
// the passes in double, call nothing).
template <typename Along = NothingAlong>
inline ChannelStats channel_stats(const float* first, size_t blocks, size_t stride, size_t len, Along along = {}) {
  const double count = double(blocks) * double(len);
  if (count == 0) return {NAN, NAN};  // no values: nothing to read
  auto pass = [&](float shift, ChannelStats& st, auto step) {
    double c = 0, q = 0;
    for (size_t b = 0; b < blocks; ++b)
      add_shifted_sums(first + b * stride, len, shift, c, q, [&](size_t i, size_t lanes) { step(b, i, lanes); });
    return finish_stats(c, q, count, shift, st);
  };
  const size_t head = len < 16 ? len : 16;
  double s = 0;
  for (size_t i = 0; i < head; ++i) s += first[i];
  ChannelStats st;
  if (!pass(float(s / double(head)), st, along) && !pass(float(st.mean), st, NothingAlong{})) {
    // Overflow in float (|x| ~ 1e20), or NaN/Inf: two passes in double. NaN stays NaN.
    double sum = 0;
    for (size_t b = 0; b < blocks; ++b)
      for (size_t i = 0; i < len; ++i) sum += first[b * stride + i];
    const double mean = sum / count;
    double c = 0, q = 0;
    for (size_t b = 0; b < blocks; ++b)
      for (size_t i = 0; i < len; ++i) {
        const double d = double(first[b * stride + i]) - mean;
        c += d;
        q += d * d;
      }
    st = {mean + c / count, q - c * c / count};
  }
  if (st.m2 < 0) st.m2 = 0;  // rounding of a (near-)constant channel
  return st;
}

// y = (x - hi) * a + b: the whole normalisation of one channel, the mean's low part folded into b.
struct Affine {
  float hi, a, b;
};

inline Affine make_affine(double mean, double invstd, const float* weight, const float* bias, size_t ch) {
  const SplitFloat m = split(mean);
  const float a = float(invstd * (weight ? double(weight[ch]) : 1.0));
  return {m.hi, a, (bias ? bias[ch] : 0.0f) - m.lo * a};
}

// Streaming stores for the output when the op's data (`arrays` tensors: x and y, or x, dy and dx) is far
// larger than the cache, and every run of the output can be aligned.
inline bool stream_output(const BatchNormShape& sh, const float* y, size_t arrays) {
  if (sh.channels_last) return stream_rows(y, sh.n * sh.s, sh.c, arrays);
  return use_streaming_stores(arrays * sh.n * sh.c * sh.s * sizeof(float));
}

// Whether channels-last rows may take the folded form y = x * a + b' (b' = b - hi * a, rounded once: hi * a
// is exact in double) for all w columns: when every channel's mean is within kUncentredMaxOffset standard
// deviations of zero (|hi * a| <= 8 |weight|, a being invstd * weight), where it loses at most ~5e-7 of the
// output's scale (measured: 4.6e-7 at 7.9). It saves a load per vector, what the sweep waits on when x is in
// cache: in Node, [256,512] inference 1.10-1.16x, [16384,64] 1.16x, [100352,64] 1.08-1.11x (see affine_rows()
// for where it is not used). Otherwise (x - hi) * a + b, exact for any mean. Writes b' into folded when it may.
inline bool fold_columns(const float* hi, const float* a, const float* b, const float* weight, size_t w,
                         float* folded) {
  size_t far = 0;  // counted without branches, so that the loops vectorize
  if (weight)
    for (size_t j = 0; j < w; ++j) far += !(std::fabs(hi[j] * a[j]) <= kUncentredMaxOffset * std::fabs(weight[j]));
  else
    for (size_t j = 0; j < w; ++j) far += !(std::fabs(hi[j] * a[j]) <= kUncentredMaxOffset);
  if (far) return false;
  for (size_t j = 0; j < w; ++j) folded[j] = float(double(b[j]) - double(hi[j]) * double(a[j]));
  return true;
}

// y = (x - mean[ch]) * invstd[ch] * w + b everywhere, with coef(ch) giving each channel's Affine.
template <typename Coef>
inline void apply_affine(const BatchNormShape& sh, const float* x, float* y, const float* weight, Coef coef) {
  Affine f[kChunk];
  const bool streaming =
      stream_output(sh, y, 2) && (sh.channels_last || sh.s * sizeof(float) >= kMinStreamedRunBytes);
  with_flags([&](auto stream_y) {
    constexpr bool S = stream_y.value;
    for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
      const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
      for (size_t j = 0; j < w; ++j) f[j] = coef(j0 + j);
      if (sh.channels_last) {
        float hi[kChunk], a[kChunk], b[kChunk], folded[kChunk];
        for (size_t j = 0; j < w; ++j) hi[j] = f[j].hi, a[j] = f[j].a, b[j] = f[j].b;
        const bool fold = fold_columns(hi, a, b, weight ? weight + j0 : nullptr, w, folded);
        affine_rows<S>(x, y, sh.n * sh.s, sh.c, j0, w, hi, a, b, fold ? folded : nullptr);
      } else {
        for (size_t i = 0; i < sh.n; ++i)
          for (size_t j = 0; j < w; ++j) {
            const size_t off = (i * sh.c + j0 + j) * sh.s;
            affine_run<S>(x + off, y + off, sh.s, f[j].hi, f[j].a, f[j].b, x + off);
          }
      }
    }
  }, streaming);
  if (streaming) stream_fence();
}

// 1 / sqrt(biased variance + eps) from M2.
inline double invstd_of(double m2, double count, float eps) { return 1.0 / std::sqrt(m2 / count + double(eps)); }

// The batch statistics of channels [j0, j0 + w): saved for backward and folded into the running statistics (in
// double, rounded once). The fields are copied out first and each array gets its own loop: a store through
// save_mean could otherwise alias the struct's fields, and the division and square root of one channel would
// wait for the previous channel's stores (measured 6 ns a channel, against 1-2 ns in these loops).
inline void record_batch_stats(const BatchNormForward& a, size_t j0, size_t w, const double* mean, const double* m2) {
  const double count = bn_count(a.shape), m = a.momentum;
  const float eps = a.eps;
  const double var_div = a.unbiased_running_var ? count - 1 : count;
  if (double* __restrict out = a.save_mean ? a.save_mean + j0 : nullptr)
    for (size_t j = 0; j < w; ++j) out[j] = mean[j];
  if (float* __restrict out = a.save_invstd ? a.save_invstd + j0 : nullptr)
    for (size_t j = 0; j < w; ++j) out[j] = float(invstd_of(m2[j], count, eps));
  if (float* __restrict run = a.running_mean ? a.running_mean + j0 : nullptr)
    for (size_t j = 0; j < w; ++j) run[j] = float((1 - m) * double(run[j]) + m * mean[j]);
  if (float* __restrict run = a.running_var ? a.running_var + j0 : nullptr)
    for (size_t j = 0; j < w; ++j) run[j] = float((1 - m) * double(run[j]) + m * (m2[j] / var_div));
}

void batch_norm_forward(const BatchNormForward& a) {
  const BatchNormShape& sh = a.shape;
  const double count = bn_count(sh);
  if (!a.training) {
    // The running statistics, also reported as the saved ones (what an inference-mode backward uses).
    // Channels-first runs keep x - mean (it costs nothing measurable there and stays exact for any mean);
    // channels-last rows fold it when every mean allows (fold_columns()).
    apply_affine(sh, a.x, a.y, a.weight, [&](size_t ch) {
      const double invstd = 1.0 / std::sqrt(double(a.running_var[ch]) + double(a.eps));
      if (a.save_mean) a.save_mean[ch] = a.running_mean[ch];
      if (a.save_invstd) a.save_invstd[ch] = float(invstd);
      return make_affine(a.running_mean[ch], invstd, a.weight, a.bias, ch);
    });
    return;
  }
  if (count == 0 || sh.c == 0) {  // an empty batch: no statistics (NaN), running stats left alone, as PyTorch
    for (size_t ch = 0; ch < sh.c; ++ch) {
      if (a.save_mean) a.save_mean[ch] = NAN;
      if (a.save_invstd) a.save_invstd[ch] = NAN;
    }
    return;
  }
  if (sh.channels_last) {
    double mean[kChunk], m2[kChunk];
    const size_t rows = sh.n * sh.s;
    // Statistics of a chunk of columns, then its normalisation (one chunk unless C > kChunk).
    for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
      const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
      column_stats(a.x, rows, sh.c, j0, w, mean, m2);
      record_batch_stats(a, j0, w, mean, m2);
    }
    // The normalisation from the saved statistics (the binding requires save_mean and save_invstd).
    apply_affine(sh, a.x, a.y, a.weight, [&](size_t ch) {
      return make_affine(a.save_mean[ch], double(a.save_invstd[ch]), a.weight, a.bias, ch);
    });
    return;
  }
  const size_t stride = sh.c * sh.s;
  const bool streaming = stream_output(sh, a.y, 2);
  // The statistics sweep asks for its next run (in L2 by then, see below) into L1, as batch_norm_stats() does
  // from memory, and asks memory for nothing: the next channel comes in during the normalising pass only.
  // On a Zen 5 VM, against asking for the channel after next during the statistics (prefetch_block_early(),
  // which GroupNorm keeps): [32,64,56,56] 1.29-1.41x in Node, 1.23-1.48x in C++ (dropping that request alone:
  // 1.10-1.17x); [8,256,28,28] and [32,128,28,28] level to 1.1x. Not for runs under kShortRunBytes (14x14 maps,
  // 784 bytes: 0.94-0.95x), nor on AVX2 (a prefetch per half line: [8,256,28,28] 0.91-0.98x).
  const bool runs_to_l1 = kLanes >= 16 && sh.s * sizeof(float) >= kShortRunBytes;
  with_flags([&](auto stream_y) {
    ChannelStats st = channel_stats(a.x, sh.n, stride, sh.s);
    for (size_t ch = 0; ch < sh.c; ++ch) {
      record_batch_stats(a, ch, 1, &st.mean, &st.m2);
      const double invstd = invstd_of(st.m2, count, a.eps);
      const Affine f = make_affine(st.mean, invstd, a.weight, a.bias, ch);
      const float* next = ch + 1 < sh.c ? a.x + (ch + 1) * sh.s : nullptr;
      if (next && !streaming && sh.s * sizeof(float) < kShortRunBytes) {
        // Short blocks (7x7, 14x14 maps) of a tensor that stays in cache: this channel is normalised in the
        // sweep that sums the next one, which halves the per-block work and lets the next channel's loads
        // overlap this one's stores (measured in Node against the passes below: 1.1-1.3x at [32,512,7,7],
        // [32,256,14,14], [8,1024,14,14], [8,512,14,28]; neutral to 0.85x for longer blocks, and slower past
        // the streaming threshold, where the passes below prefetch a whole channel ahead).
        const Vf vhi = set1(f.hi), va = set1(f.a), vb = set1(f.b);
        const size_t ahead = ch + 2 < sh.c ? 2 * sh.s : 0;  // the channel after next, towards L2
        st = channel_stats(next, sh.n, stride, sh.s, [&](size_t b, size_t i, size_t lanes) {
          const size_t off = b * stride + ch * sh.s + i;
          if (lanes == kLanes) {
            prefetch_next(a.x + off + ahead);
            store(a.y + off, muladd(sub(load(a.x + off), vhi), va, vb));
          } else {
            a.y[off] = (a.x[off] - f.hi) * f.a + f.b;
          }
        });
        continue;
      }
      // The channel is in L2 now (its end in L1: normalised last block first when the channel overflows
      // L1 by a little, see for_vectors()); meanwhile the next channel (s floats further) comes in.
      const size_t ahead = next ? sh.s : 0;
      const bool backwards = sweep_backwards(sh.n * sh.s * sizeof(float));
      for (size_t b = 0; b < sh.n; ++b) {
        const size_t off = (backwards ? sh.n - 1 - b : b) * stride + ch * sh.s;
        affine_run<stream_y.value>(a.x + off, a.y + off, sh.s, f.hi, f.a, f.b, a.x + off + ahead, backwards);
      }
      if (next)
        with_flags([&](auto to_l1) {
          st = channel_stats(next, sh.n, stride, sh.s, [&](size_t b, size_t i, size_t lanes) {
            if constexpr (to_l1.value) prefetch_next_run(a.x, sh, ch + 1, b, i, lanes);
          });
        }, runs_to_l1);
    }
  }, streaming);
  if (streaming) stream_fence();
}

// ---- backward

// Per-channel sum(dy) and sum(dy * (x - mean)) for channels [j0, j0 + w) (w <= kChunk in channels-last;
// any w channels-first).
// Channels-first runs may use the cheaper uncentred sums (kCentred false; see uncentred_ok()).
template <bool kCentred = true>
inline void grad_sums(const BatchNormShape& sh, const float* dy, const float* x, const double* mean, size_t j0,
                      size_t w, double* sdy, double* sdx) {
  if (sh.channels_last) {
    float hi[kChunk], lo[kChunk];
    for (size_t j = 0; j < w; ++j) {
      const SplitFloat m = split(mean[j0 + j]);
      hi[j] = m.hi;
      lo[j] = m.lo;
    }
    auto vec = [&](ptrdiff_t off, Vf h, Vf& u, Vf& v, auto ld) {
      const Vf d = ld(dy + off);
      u = add(u, d);
      v = muladd(d, sub(ld(x + off), h), v);
    };
    auto one = [&](size_t off, size_t jl, double& u, double& v) {
      u += dy[off];
      v += double(dy[off]) * double(x[off] - hi[jl]);
    };
    column_sums(dy, sh.n * sh.s, sh.c, j0, w, hi, sdy, sdx, vec, one);
    for (size_t j = 0; j < w; ++j) sdx[j] -= double(lo[j]) * sdy[j];
    return;
  }
  const size_t stride = sh.c * sh.s;
  with_flags([&](auto prefetch) {
    for (size_t j = 0; j < w; ++j) {
      const SplitFloat m = split(mean[j0 + j]);
      double s = 0, q = 0;
      for (size_t i = 0; i < sh.n; ++i) {
        // The next runs of dy and x, found once per run for the two prefetches each step makes.
        const size_t off = i * stride + (j0 + j) * sh.s;
        const float *next_dy = next_run(dy, sh, j0 + j, i), *next_x = next_run(x, sh, j0 + j, i);
        add_grad_sums<kCentred>(dy + off, x + off, sh.s, m.hi, s, q, [&](size_t k, size_t lanes) {
          if (prefetch.value && next_dy && lanes == kLanes) prefetch_l1(next_dy + k), prefetch_l1(next_x + k);
        });
      }
      sdy[j] = s;
      sdx[j] = q - (kCentred ? double(m.lo) : mean[j0 + j]) * s;
    }
  }, prefetch_runs(sh));
}

// dx = dy * k - ((x - hi) * k2 + k1): the whole input gradient of one channel. In inference k2 = k1 = 0 and
// x is not read (UseX false).
struct BackCoef {
  float hi, k, k2, k1;
};

inline BackCoef make_back_coef(double mean, float invstd, const float* weight, size_t ch, double sdy, double sdx,
                               double count) {
  const SplitFloat m = split(mean);
  const double k = double(invstd) * (weight ? double(weight[ch]) : 1.0);
  const double k1 = k * sdy / count, k2 = k * double(invstd) * double(invstd) * sdx / count;
  return {m.hi, float(k), float(k2), float(k1 - double(m.lo) * k2)};
}

// The coefficients of w channels as arrays, which the sweeps below read (every pointer given at the first of
// them), in a loop over local arrays that the compiler vectorizes, divisions included (the same bits as
// make_back_coef() a channel at a time). Written a channel at a time between stores to gradWeight and
// gradBias, they took ~15 cycles a channel: as long as the sums over 8 rows of 512 channels. sdy and sdx
// null: inference (k1 = k2 = 0).
struct BackCoefs {
  float hi[kChunk], k[kChunk], k2[kChunk], k1[kChunk];
};

inline void make_back_coefs(const double* mean, const float* invstd, const float* weight, const double* sdy,
                            const double* sdx, double count, size_t w, BackCoefs& f) {
  for (size_t j = 0; j < w; ++j) {
    const BackCoef c = make_back_coef(mean[j], invstd[j], weight, j, sdy ? sdy[j] : 0, sdx ? sdx[j] : 0, count);
    f.hi[j] = c.hi, f.k[j] = c.k, f.k2[j] = c.k2, f.k1[j] = c.k1;
  }
}

// gradWeight and gradBias of w channels from their sums (pointers at the first of them), each array in its own
// loop (as record_batch_stats()).
inline void record_grads(float* dweight, float* dbias, const float* invstd, size_t w, const double* sdy,
                         const double* sdx) {
  if (float* __restrict out = dweight)
    for (size_t j = 0; j < w; ++j) out[j] = float(sdx[j] * double(invstd[j]));
  if (float* __restrict out = dbias)
    for (size_t j = 0; j < w; ++j) out[j] = float(sdy[j]);
}

// dx everywhere for channels [j0, j0 + w), from their coefficients f.
template <bool UseX, bool Stream>
inline void apply_back(const BatchNormShape& sh, const float* dy, const float* x, float* dx, size_t j0, size_t w,
                       const BackCoefs& f) {
  if (sh.channels_last) {
    back_rows<UseX, Stream>(dy, x, dx, sh.n * sh.s, sh.c, j0, w, f.hi, f.k, f.k2, f.k1);
    return;
  }
  for (size_t i = 0; i < sh.n; ++i)
    for (size_t j = 0; j < w; ++j) {
      const size_t off = (i * sh.c + j0 + j) * sh.s;
      affine_grad_run<UseX, Stream>(dy + off, x + off, dx + off, sh.s, f.k[j], f.hi[j], f.k2[j], f.k1[j], dy + off,
                                    x + off);
    }
}

void batch_norm_backward(const BatchNormBackward& a) {
  const BatchNormShape& sh = a.shape;
  const double count = bn_count(sh);
  const bool want_sums = a.training || a.dweight || a.dbias;
  const bool streaming = a.dx && stream_output(sh, a.dx, 3);
  // Inference: the running mean in double and invstd from the running variance worked out here rather than in
  // JavaScript, where each new array cost ~1.2 us a call, more than the kernel at small batches.
  Scratch<double> running_mean(a.training ? 0 : sh.c);
  Scratch<float> running_invstd(a.training ? 0 : sh.c);
  for (size_t j = 0; !a.training && j < sh.c; ++j) {
    running_mean.data[j] = a.running_mean[j];
    running_invstd.data[j] = float(1.0 / std::sqrt(double(a.invstd_or_var[j]) + double(a.eps)));
  }
  const double* mean = a.training ? a.save_mean : running_mean.data;
  const float* invstd = a.training ? a.invstd_or_var : running_invstd.data;
  auto finish = [&](size_t ch, double sdy, double sdx) {
    record_grads(a.dweight ? a.dweight + ch : nullptr, a.dbias ? a.dbias + ch : nullptr, invstd + ch, 1, &sdy, &sdx);
    return make_back_coef(mean[ch], invstd[ch], a.weight, ch, a.training ? sdy : 0, a.training ? sdx : 0, count);
  };
  with_flags([&](auto use_x, auto stream_dx) {
    constexpr bool X = use_x.value, S = stream_dx.value;
    if (!sh.channels_last && want_sums) {
      // Channel by channel: the sums bring the channel's x and dy into cache, dx is written from there
      // while the next channel is prefetched.
      const size_t stride = sh.c * sh.s;
      for (size_t ch = 0; ch < sh.c; ++ch) {
        with_flags([&](auto centred) {
          double sdy, sdx;
          grad_sums<centred.value>(sh, a.dy, a.x, mean, ch, 1, &sdy, &sdx);
          const BackCoef f = finish(ch, sdy, sdx);
          if (!a.dx) return;
          const size_t next = ch + 1 < sh.c ? sh.s : 0;
          const bool backwards = sweep_backwards(2 * sh.n * sh.s * sizeof(float));
          for (size_t b = 0; b < sh.n; ++b) {
            const size_t off = (backwards ? sh.n - 1 - b : b) * stride + ch * sh.s;
            affine_grad_run<X, S, centred.value>(a.dy + off, a.x + off, a.dx + off, sh.s, f.k, f.hi, f.k2, f.k1,
                                                 a.dy + off + next, a.x + off + next, backwards);
          }
        }, !uncentred_ok(float(mean[ch]), invstd[ch]));
      }
      return;
    }
    BackCoefs f;
    double sdy[kChunk], sdx[kChunk];
    for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
      const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
      if (want_sums) {
        grad_sums(sh, a.dy, a.x, mean, j0, w, sdy, sdx);
        record_grads(a.dweight ? a.dweight + j0 : nullptr, a.dbias ? a.dbias + j0 : nullptr, invstd + j0, w, sdy,
                     sdx);
      }
      if (!a.dx) continue;
      make_back_coefs(mean + j0, invstd + j0, a.weight ? a.weight + j0 : nullptr, a.training ? sdy : nullptr,
                      a.training ? sdx : nullptr, count, w, f);
      apply_back<X, S>(sh, a.dy, a.x, a.dx, j0, w, f);
    }
  }, a.training, streaming);
  if (streaming) stream_fence();
}

// ---- SyncBatchNorm pieces

void batch_norm_stats(const BatchNormStats& a) {
  const BatchNormShape& sh = a.shape;
  if (sh.channels_last) {
    for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
      const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
      column_stats(a.x, sh.n * sh.s, sh.c, j0, w, a.mean + j0, a.m2 + j0);
    }
    return;
  }
  with_flags([&](auto prefetch) {
    for (size_t ch = 0; ch < sh.c; ++ch) {
      auto along = [&](size_t b, size_t i, size_t lanes) {
        if constexpr (prefetch.value) prefetch_next_run(a.x, sh, ch, b, i, lanes);
      };
      const ChannelStats st = channel_stats(a.x + ch * sh.s, sh.n, sh.c * sh.s, sh.s, along);
      a.mean[ch] = st.mean;
      a.m2[ch] = st.m2;
    }
  }, prefetch_runs(sh));
}

void batch_norm_elemt(const BatchNormElemt& a) {
  apply_affine(a.shape, a.x, a.y, a.weight, [&](size_t ch) {
    return make_affine(a.mean[ch], double(a.invstd[ch]), a.weight, a.bias, ch);
  });
}

void batch_norm_backward_reduce(const BatchNormBackwardReduce& a) {
  const BatchNormShape& sh = a.shape;
  double sdy[kChunk], sdx[kChunk];
  for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
    const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
    grad_sums(sh, a.dy, a.x, a.mean, j0, w, sdy, sdx);
    if (double* __restrict out = a.sum_dy ? a.sum_dy + j0 : nullptr)
      for (size_t j = 0; j < w; ++j) out[j] = sdy[j];
    if (double* __restrict out = a.sum_dy_xmu ? a.sum_dy_xmu + j0 : nullptr)
      for (size_t j = 0; j < w; ++j) out[j] = sdx[j];
    record_grads(a.dweight ? a.dweight + j0 : nullptr, a.dbias ? a.dbias + j0 : nullptr, a.invstd + j0, w, sdy, sdx);
  }
}

void batch_norm_backward_elemt(const BatchNormBackwardElemt& a) {
  const BatchNormShape& sh = a.shape;
  const bool streaming = stream_output(sh, a.dx, 3);
  BackCoefs f;
  with_flags([&](auto stream_dx) {
    for (size_t j0 = 0; j0 < sh.c; j0 += kChunk) {
      const size_t w = sh.c - j0 < kChunk ? sh.c - j0 : kChunk;
      make_back_coefs(a.mean + j0, a.invstd + j0, a.weight ? a.weight + j0 : nullptr, a.sum_dy + j0,
                      a.sum_dy_xmu + j0, a.count, w, f);
      apply_back<true, stream_dx.value>(sh, a.dy, a.x, a.dx, j0, w, f);
    }
  }, streaming);
  if (streaming) stream_fence();
}
