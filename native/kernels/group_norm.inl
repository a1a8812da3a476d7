// GroupNorm forward and backward (InstanceNorm is groups == channels), S = the product of the spatial dims.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h,
// moments(), split(), with_flags(), prefetch_next() and prefetch_block_early() from rows.inl.
//
// NCHW: a (n, group) block is (C/G)·S contiguous floats, so it is a LayerNorm row: moments() over the block,
// then each channel's S-long run gets one per-channel affine map (weight·rstd and the bias folded in), with the
// next block prefetched meanwhile (streamed on AVX-512, from the statistics on: prefetch_block_early()).
// Backward: per-channel sums over each run, combined per group, then dx.
// Channels of only a few positions ([N, C] input) go the same way with the block swept as one row against
// per-position coefficients (group_norm_forward_short_runs(); its forward takes the statistics of a vector's
// lanes of blocks at a time, as LayerNorm's short rows; blocks of one or two floats have a scalar loop).
//
// Channels last ([N, S, C]): a sample is a row-major [S, C] matrix, so each sample gets the column machinery
// of columns.inl (the rows read in order): per-channel statistics over the S positions, merged into groups
// (Chan et al.'s formula, in double; merge_channels()), then every row normalised with per-channel
// affine maps. Backward: per-channel sums the same way, combined per group, then the dx rows.

void group_norm_forward_nchw(const GroupNormForward& a, size_t S) {
  const size_t cg = a.channels / a.groups, len = cg * S, blocks = a.batch * a.groups;
  const StreamPlan plan = streaming_plan(a.y, blocks * cg, S, 2);  // each channel's run is a "row"
  const bool early = prefetch_block_early(plan.streaming, len * sizeof(float));
  with_flags([&](auto stream_y) {
    for (size_t k = 0; k < blocks; ++k) {
      const float* x = a.x + k * len;
      const float* next = k + 1 < blocks ? x + len : x;
      float* y = a.y + k * len;
      const Moments m = moments(x, len, early ? next : nullptr);
      const float rstd = float(1.0 / std::sqrt(m.var + double(a.eps)));
      if (a.mean) a.mean[k] = float(m.mean);
      if (a.rstd) a.rstd[k] = rstd;
      // y = (x - mean.hi) * scale + shift with scale = w·rstd, shift = b - mean.lo·scale (see split()).
      const SplitFloat mean = split(m.mean);
      const size_t c0 = (k % a.groups) * cg;
      const bool backwards = sweep_backwards(len * sizeof(float));  // see for_vectors()
      for (size_t c = 0; c < cg; ++c) {
        const size_t i = backwards ? cg - 1 - c : c;
        const float scale = a.weight ? rstd * a.weight[c0 + i] : rstd;
        const float shift = (a.bias ? a.bias[c0 + i] : 0.0f) - mean.lo * scale;
        affine_run<stream_y.value>(x + i * S, y + i * S, S, mean.hi, scale, shift, next + i * S, backwards);
      }
    }
  }, plan.streaming);
  if (plan.streaming) stream_fence();
}

// With xhat = (x - mean)·rstd and g = dy·w[c], over the group's M = (C/G)·S elements:
//   dx = rstd·(g - mean(g) - xhat·mean(g·xhat)) = dy·(w[c]·rstd) - ((x - mean)·k2 + k1),
//   k1 = rstd·Σg / M,  k2 = rstd³·Σ g·(x - mean) / M;  dw[c] = Σ_n rstd·Σ dy·(x - mean),  db[c] = Σ dy.
// A block whose x and dy fit L1 gets its dx right after its sums, from L1, while the next block comes in.
// Larger blocks of a tensor that stays in cache go in two passes over the whole tensor (every block's sums,
// then every block's dx), each a plain forward stream: measured in Node 1.1-1.35x faster than taking each
// block's dx from L2 right after its sums ([8,256,28,28] and [2,256,56,56] with 32 groups, [8,64,56,56] with
// 8). Past the streaming threshold, reading the tensor twice from memory measured slower (0.85x). dx is
// streamed when x, dy and dx pass that threshold together, as in BatchNorm: measured 1.15-1.5x ([8,256,28,28]
// 499 -> 409 us, [32,64,56,56] 4.5 -> 3.0 ms).
void group_norm_backward_nchw(const GroupNormBackward& a, size_t S) {
  const size_t cg = a.channels / a.groups, len = cg * S, blocks = a.batch * a.groups;
  const double M = double(len);
  struct Coef {
    float k1, k2;
  };
  // Block k's sums: dweight/dbias accumulated, and its k1, k2.
  auto sums = [&](size_t k, auto centred) {
    const float *x = a.x + k * len, *dy = a.dy + k * len;
    const float mean = a.mean[k], rstd = a.rstd[k];
    const double lo = mean_residual(x, len, mean, rstd);  // the true mean is mean + lo (0 unless far off zero)
    const size_t c0 = (k % a.groups) * cg;
    double sg = 0, sgxm = 0;
    for (size_t i = 0; i < cg; ++i) {
      const size_t c = c0 + i;
      double sdy = 0, sdx = 0;
      add_grad_sums<centred.value>(dy + i * S, x + i * S, S, mean, sdy, sdx);
      sdx -= (centred.value ? lo : double(mean) + lo) * sdy;  // Σ dy·(x - mean - lo)
      const double w = a.weight ? a.weight[c] : 1.0;
      sg += w * sdy;
      sgxm += w * sdx;
      if (a.dweight) a.dweight[c] += float(sdx * rstd);
      if (a.dbias) a.dbias[c] += float(sdy);
    }
    const double r64 = rstd, k2 = r64 * r64 * r64 * sgxm / M;
    return Coef{float(r64 * sg / M - lo * k2), float(k2)};  // dx: (x - mean - lo)·k2 + k1 = (x - mean)·k2 + k1
  };
  const bool stream_dx = a.dx && use_streaming_stores(3 * blocks * len * sizeof(float));
  // Block k's dx, prefetching the same span of block `ahead` (k itself: none).
  auto grads = [&](size_t k, Coef f, size_t ahead, bool backwards, auto centred, auto stream) {
    const float *x = a.x + k * len, *dy = a.dy + k * len;
    const float mean = a.mean[k], rstd = a.rstd[k];
    const size_t c0 = (k % a.groups) * cg, skip = (ahead - k) * len;
    for (size_t c = 0; c < cg; ++c) {
      const size_t i = backwards ? cg - 1 - c : c;
      const float scale = a.weight ? rstd * a.weight[c0 + i] : rstd;
      affine_grad_run<true, stream.value, centred.value>(dy + i * S, x + i * S, a.dx + k * len + i * S, S, scale,
                                                         mean, f.k2, f.k1, dy + skip + i * S, x + skip + i * S,
                                                         backwards);
    }
  };
  auto centred = [&](size_t k) { return !uncentred_ok(a.mean[k], a.rstd[k]); };
  const bool two_passes = a.dx && 2 * len * sizeof(float) > (size_t(32) << 10) &&
                          !use_streaming_stores(2 * blocks * len * sizeof(float));  // x and dy, read twice
  if (two_passes) {
    Scratch<Coef> coef(blocks);
    for (size_t k = 0; k < blocks; ++k) with_flags([&](auto c) { coef.data[k] = sums(k, c); }, centred(k));
    for (size_t k = 0; k < blocks; ++k)
      with_flags([&](auto c, auto st) { grads(k, coef.data[k], k, false, c, st); }, centred(k), stream_dx);
  } else {
    for (size_t k = 0; k < blocks; ++k)
      with_flags([&](auto c, auto st) {
        const Coef f = sums(k, c);
        // The next block's x and dy are contiguous with this one's: prefetched while dx is computed.
        if (a.dx) grads(k, f, k + 1 < blocks ? k + 1 : k, sweep_backwards(2 * len * sizeof(float)), c, st);
      }, centred(k), stream_dx);
  }
  if (stream_dx) stream_fence();
}

// Channels of fewer than kShortRun positions ([N, C] input, small maps): there a call of affine_run() or
// affine_grad_run() per channel costs more than its run ([8,512], 32 groups: 22 and 26 us, against 6.5 and 7.4
// us for LayerNorm over the same bytes as [256,16] rows). Such a block is swept as one row instead, against the
// weight (and bias) repeated S times each. In Node, AVX-512 and AVX2 gain at every S below 32 (1.1-9x, see
// docs/groupnorm.md) and AVX-512 loses from 32 on (0.9x in C++); the one-lane scalar build, whose per-channel calls
// cost little, gains up to S = 4 only (its backward 0.92x at S = 8).
constexpr size_t kShortRun = kLanes > 1 ? 32 : 6;

// v[c] repeated S times for each channel c (`fill` everywhere when v is null).
inline void repeat_per_position(const float* v, float fill, size_t C, size_t S, float* out) {
  for (size_t c = 0; c < C; ++c)
    for (size_t s = 0; s < S; ++s) out[c * S + s] = v ? v[c] : fill;
}

// Past the streaming threshold the output is streamed, as the per-channel path streams it (plain stores measured
// 0.68x at [512,512,4,4]), when blocks are long enough (kMinStreamedRunBytes); each block's unaligned head is
// written element by element.
void group_norm_forward_short_runs(const GroupNormForward& a, size_t S) {
  const size_t cg = a.channels / a.groups, len = cg * S, blocks = a.batch * a.groups, CS = a.channels * S;
  const bool streaming = use_streaming_stores(2 * blocks * len * sizeof(float)) &&
                         len * sizeof(float) >= kMinStreamedRunBytes;
  Scratch<float> coefs(2 * CS);
  float *we = coefs.data, *be = coefs.data + CS;
  repeat_per_position(a.weight, 1.0f, a.channels, S, we);
  repeat_per_position(a.bias, 0.0f, a.channels, S, be);
  // Groups of one or two floats (InstanceNorm of [N, C], ...): statistics in double, element by element, and
  // no square root for groups of one. The per-block loop at the end, built for runs of vectors, took 9 ns a
  // group at [1024,64] with 64 groups on AVX-512, 11 ns once the batch below was added (its moments() is
  // compiled otherwise since); this takes 2 ns (4.5-5.6x on every ISA; groups of two 2-2.5x).
  if (len <= 2) {
    const float rstd_constant = float(1.0 / std::sqrt(double(a.eps)));  // every group of one float
    for (size_t k = 0, g = 0; k < blocks; ++k, g = g + len < CS ? g + len : 0) {  // g: its group's coefficients
      const float* x = a.x + k * len;
      const double mean = len == 1 ? double(x[0]) : 0.5 * (double(x[0]) + double(x[1]));
      const double d = double(x[0]) - mean, var = d * d;  // NaN when the group holds NaN or Inf
      const float rstd = var == 0 ? rstd_constant : float(1.0 / std::sqrt(var + double(a.eps)));
      if (a.mean) a.mean[k] = float(mean);
      if (a.rstd) a.rstd[k] = rstd;
      const SplitFloat m = split(mean);
      for (size_t j = 0; j < len; ++j) {  // as below
        const float scale = rstd * we[g + j];
        a.y[k * len + j] = (x[j] - m.hi) * scale + (be[g + j] - m.lo * scale);
      }
    }
    return;
  }
  // Blocks short enough for the short-row kernels (rows.inl) go kLanes at a time: their statistics side by
  // side (short_rows_moments()), then each block normalised from registers and stored plainly (when the output
  // is streamed, such blocks are shorter than kMinStreamedRunBytes, which the loop below would not stream).
  // Measured in Node against block by block: AVX-512 1.15-2.8x at blocks of 3-144 floats ([4096,512] with 32
  // groups 3.07 -> 1.38 ms), AVX2 1.3-2.25x; at 2 floats AVX2 0.87x (AVX-512 1.06x); the one-lane scalar build,
  // with nothing to put side by side, 0.89-1.38x. Hence vector builds only, blocks of 3 floats and more.
  const size_t batched = kLanes > 1 && len >= 3 ? short_forward_batches(a.y, blocks, len) : 0;
  if (batched)
    with_short_row_vectors<kMaxShortForwardVectors>(len, [&](auto vectors) {
      constexpr size_t V = decltype(vectors)::value;
      const size_t last = len - (V - 1) * kLanes;
      for (size_t k0 = 0; k0 < batched; k0 += kLanes) {
        double mean[kLanes], var[kLanes];
        short_rows_moments<V>(a.x + k0 * len, len, mean, var);
        // As layer_norm_forward_short(); the two through one helper gave the same bits but made LayerNorm's
        // 0.83-0.85x on AVX-512 (the compiler inlined them otherwise), so each keeps these lines.
        alignas(64) float rstd[kLanes], hi[kLanes], lo[kLanes];
        for (size_t i = 0; i < kLanes; ++i) {
          rstd[i] = float(1.0 / std::sqrt(var[i] + double(a.eps)));
          hi[i] = float(mean[i]);
          lo[i] = float(mean[i] - double(hi[i]));
        }
        if (a.mean) store(a.mean + k0, load(hi));
        if (a.rstd) store(a.rstd + k0, load(rstd));
        for (size_t i = 0, g = k0 % a.groups * len; i < kLanes; ++i, g = g + len < CS ? g + len : 0) {
          const size_t k = k0 + i;  // its group's coefficients at g (no division per block)
          Vf x[V], w[V], b[V];
          load_short_row(a.x + k * len, last, x);
          load_short_row(we + g, last, w);
          load_short_row(be + g, last, b);
          const Vf vhi = set1(hi[i]), vlo = set1(lo[i]), vr = set1(rstd[i]);
          for (size_t q = 0; q < V; ++q) {  // as the loop below
            const Vf scale = mul(vr, w[q]);
            x[q] = muladd(sub(x[q], vhi), scale, sub(b[q], mul(vlo, scale)));
          }
          store_short_row(a.y + k * len, last, x);
        }
      }
    });
  with_flags([&](auto stream_y) {
    for (size_t k = batched; k < blocks; ++k) {
      const float* x = a.x + k * len;
      float* y = a.y + k * len;
      const float *w = we + (k % a.groups) * len, *b = be + (k % a.groups) * len;
      const Moments m = moments(x, len);
      const float rstd = float(1.0 / std::sqrt(m.var + double(a.eps)));
      if (a.mean) a.mean[k] = float(m.mean);
      if (a.rstd) a.rstd[k] = rstd;
      // As group_norm_forward_nchw(), element by element: y = (x - hi)·scale + shift, scale = w·rstd,
      // shift = b - lo·scale.
      const SplitFloat mean = split(m.mean);
      const Vf vhi = set1(mean.hi), vlo = set1(mean.lo), vr = set1(rstd);
      auto one = [&](size_t j) {
        const float scale = rstd * w[j];
        y[j] = (x[j] - mean.hi) * scale + (b[j] - mean.lo * scale);
      };
      size_t head = 0;
      if constexpr (stream_y.value)
        for (; head < len && !stream_aligned(y + head); ++head) one(head);
      const StreamLines lines = stream_lines(y, head, len);
      const size_t tail = for_vector_quads(head, len, false, [&](size_t j, auto count) {
        Vf xv[count.value], wv[count.value], bv[count.value];  // all loads before any store
        for (size_t q = 0; q < count.value; ++q) {
          xv[q] = load(x + j + q * kLanes);
          wv[q] = load(w + j + q * kLanes);
          bv[q] = load(b + j + q * kLanes);
        }
        for (size_t q = 0; q < count.value; ++q) {
          const Vf scale = mul(vr, wv[q]);
          const Vf v = muladd(sub(xv[q], vhi), scale, sub(bv[q], mul(vlo, scale)));
          store_or_stream<stream_y.value>(y, j + q * kLanes, v, lines);
        }
      });
      for (size_t j = tail; j < len; ++j) one(j);
    }
  }, streaming);
  if (streaming) stream_fence();
}

// The backward of such blocks (formulas as group_norm_backward_nchw()): per block, the group's sums Σ w·dy and
// Σ w·dy·(x - mean) element by element against the repeated weight, then dx. gradWeight and gradBias are
// summed per element over the batch (in float, as the per-channel path adds each block's share in float), then
// over each channel's S positions.
void group_norm_backward_short_runs(const GroupNormBackward& a, size_t S) {
  const size_t C = a.channels, CS = C * S, cg = C / a.groups, len = cg * S, blocks = a.batch * a.groups;
  const double M = double(len), inv_M = 1.0 / M;  // two divisions a group cost 2-10% ([256,100] g4, [1024,96] g32)
  const bool param_grads = a.dweight || a.dbias;
  const bool stream_dx = a.dx && use_streaming_stores(3 * blocks * len * sizeof(float)) &&
                         len * sizeof(float) >= kMinStreamedRunBytes;  // as the forward
  Scratch<float> scratch(3 * CS);  // the repeated weight; per element Σ_n rstd·dy·(x - mean) and Σ_n dy
  float *we = scratch.data, *gw = scratch.data + CS, *gb = scratch.data + 2 * CS;
  repeat_per_position(a.weight, 1.0f, C, S, we);
  for (size_t i = 0; i < 2 * CS; ++i) gw[i] = 0.0f;
  // Groups of one or two floats (InstanceNorm of [N, C], ...): the same formulas element by element in double,
  // without the loop below, which is built for runs of vectors (12 ns a group at [1024,64] with 64 groups on
  // AVX-512; this 5 ns: 1.8-2.2x, groups of two 1.4-1.6x, every ISA).
  for (size_t k = 0, g = 0; len <= 2 && k < blocks; ++k, g = g + len < CS ? g + len : 0) {
    const float *x = a.x + k * len, *dy = a.dy + k * len;
    const double mean = a.mean[k], r = a.rstd[k];
    double xm[2], dyw[2], sg = 0, sgxm = 0, dev = 0;
    for (size_t j = 0; j < len; ++j) dev += double(x[j]) - mean;
    const double lo = mean_residual(a.mean[k], dev, M);
    for (size_t j = 0; j < len; ++j) {
      xm[j] = double(x[j]) - mean - lo;
      dyw[j] = double(dy[j]) * double(we[g + j]);
      sg += dyw[j];
      sgxm += dyw[j] * xm[j];
      if (param_grads) {
        gw[g + j] += float(double(dy[j]) * xm[j] * r);
        gb[g + j] += dy[j];
      }
    }
    const double k2 = r * r * r * sgxm * inv_M, k1 = r * sg * inv_M;  // inv_M exact: M is 1 or 2
    for (size_t j = 0; a.dx && j < len; ++j) a.dx[k * len + j] = float(dyw[j] * r - (xm[j] * k2 + k1));
  }
  for (size_t k = 0, g = 0; len > 2 && k < blocks; ++k, g = g + len < CS ? g + len : 0) {  // g: its group's offset
    const float *x = a.x + k * len, *dy = a.dy + k * len, *w = we + g;
    float *aw = gw + g, *ab = gb + g;
    const float mean = a.mean[k], rstd = a.rstd[k];
    const double lo = mean_residual(x, len, mean, rstd);  // the true mean is mean + lo (see rows.inl)
    const Vf vmean = set1(mean), vlo = set1(float(lo)), vr = set1(rstd);
    double sg = 0, sgxm = 0;  // Σ w·dy, Σ w·dy·(x - mean - lo)
    size_t j = 0;
    while (j + kLanes <= len) {  // float sums, added into double every kFlushSteps vectors
      Vf s = zero(), q = zero();
      const size_t end = len - j > kLanes * kFlushSteps ? j + kLanes * kFlushSteps : len;
      for (; j + kLanes <= end; j += kLanes) {
        const Vf d = load(dy + j), xm = sub(sub(load(x + j), vmean), vlo), g = mul(d, load(w + j));
        s = add(s, g);
        q = muladd(g, xm, q);
        if (param_grads) {
          store(aw + j, muladd(mul(d, xm), vr, load(aw + j)));
          store(ab + j, add(load(ab + j), d));
        }
      }
      sg += reduce_add(s);
      sgxm += reduce_add(q);
    }
    for (; j < len; ++j) {
      const float xm = (x[j] - mean) - float(lo);
      sg += double(dy[j]) * double(w[j]);
      sgxm += double(dy[j] * w[j]) * double(xm);
      if (param_grads) {
        aw[j] += dy[j] * xm * rstd;
        ab[j] += dy[j];
      }
    }
    if (!a.dx) continue;
    const double r64 = rstd, k2_64 = r64 * r64 * r64 * sgxm * inv_M;
    const float k2 = float(k2_64), k1 = float(r64 * sg * inv_M - lo * k2_64);  // (x - mean)·k2 + k1, lo folded in
    const Vf vk2 = set1(k2), vk1 = set1(k1);
    float* dx = a.dx + k * len;
    auto one = [&](size_t i) { dx[i] = dy[i] * (rstd * w[i]) - ((x[i] - mean) * k2 + k1); };
    with_flags([&](auto stream_dx) {
      size_t head = 0;
      if constexpr (stream_dx.value)
        for (; head < len && !stream_aligned(dx + head); ++head) one(head);
      const StreamLines lines = stream_lines(dx, head, len);
      const size_t tail = for_vector_quads(head, len, false, [&](size_t i, auto count) {
        Vf d[count.value], v[count.value], wv[count.value];  // all loads before any store
        for (size_t q = 0; q < count.value; ++q) {
          d[q] = load(dy + i + q * kLanes);
          v[q] = load(x + i + q * kLanes);
          wv[q] = load(w + i + q * kLanes);
        }
        for (size_t q = 0; q < count.value; ++q) {  // as affine_grad_run(), with k = rstd·w per element
          const Vf r = sub(mul(d[q], mul(vr, wv[q])), muladd(sub(v[q], vmean), vk2, vk1));
          store_or_stream<stream_dx.value>(dx, i + q * kLanes, r, lines);
        }
      });
      for (size_t i = tail; i < len; ++i) one(i);
    }, stream_dx);
  }
  if (stream_dx) stream_fence();
  for (size_t c = 0; param_grads && c < C; ++c) {
    double sw = 0, sb = 0;
    for (size_t s = 0; s < S; ++s) sw += gw[c * S + s], sb += gb[c * S + s];
    if (a.dweight) a.dweight[c] = float(sw);
    if (a.dbias) a.dbias[c] = float(sb);
  }
}

// A group's mean and M2 from those of its cg channels, each over the same S values: the mean of the channel
// means, and the channels' M2 plus S times the squared deviations of their means from it (Chan et al.'s merge,
// which for equal counts needs no division per channel; channel by channel with its divisions, the merge took
// most of the forward at [8,2,2,512]). Two accumulators each, so that the sums do not wait on one another.
struct GroupMoments {
  double mean, m2;
};
inline GroupMoments merge_channels(const double* mean, const double* m2, size_t cg, double inv_cg, size_t S) {
  if (cg == 1) return {mean[0], m2[0]};  // InstanceNorm: nothing to merge
  double s0 = 0, s1 = 0;
  size_t i = 0;
  for (; i + 2 <= cg; i += 2) s0 += mean[i], s1 += mean[i + 1];
  if (i < cg) s0 += mean[i];
  const double g = (s0 + s1) * inv_cg;  // a multiply: the division would wait on the sums
  double q0 = 0, q1 = 0, w0 = 0, w1 = 0;  // Σ (mean - g)², Σ M2
  for (i = 0; i + 2 <= cg; i += 2) {
    const double d0 = mean[i] - g, d1 = mean[i + 1] - g;
    q0 += d0 * d0, q1 += d1 * d1;
    w0 += m2[i], w1 += m2[i + 1];
  }
  if (i < cg) q0 += (mean[i] - g) * (mean[i] - g), w0 += m2[i];
  return {g, (w0 + w1) + double(S) * (q0 + q1)};
}

void group_norm_forward_nhwc(const GroupNormForward& a, size_t S) {
  const size_t C = a.channels, G = a.groups, cg = C / G;
  const double inv_cg = 1.0 / double(cg);
  Scratch<double> stats(2 * C);  // per channel: mean, m2
  Scratch<float> maps(3 * C);    // per channel: y = (x - hi) * scale + shift
  double *cmean = stats.data, *cm2 = stats.data + C;
  float *hi = maps.data, *scale = maps.data + C, *shift = maps.data + 2 * C;
  const bool streaming = stream_rows(a.y, a.batch * S, C, 2);
  const bool sample_in_l2 = S * C * sizeof(float) <= (size_t(1) << 20);  // after its statistics (1 MiB L2)
  with_flags([&](auto stream_y, auto in_l2) {
    for (size_t n = 0; n < a.batch; ++n) {
      const float* x = a.x + n * S * C;
      float* y = a.y + n * S * C;
      for (size_t j0 = 0; j0 < C; j0 += kChunk)
        column_stats(x, S, C, j0, C - j0 < kChunk ? C - j0 : kChunk, cmean + j0, cm2 + j0);
      for (size_t g = 0; g < G; ++g) {
        const size_t c0 = g * cg;
        const GroupMoments gm = merge_channels(cmean + c0, cm2 + c0, cg, inv_cg, S);
        const double mean = gm.mean, m2 = gm.m2;
        const double var = m2 > 0 || std::isnan(m2) ? m2 / (double(cg) * double(S)) : 0.0;
        const float rstd = float(1.0 / std::sqrt(var + double(a.eps)));
        if (a.mean) a.mean[n * G + g] = float(mean);
        if (a.rstd) a.rstd[n * G + g] = rstd;
        const SplitFloat m = split(mean);  // x - mean stays exact for large means
        for (size_t c = c0; c < c0 + cg; ++c) {
          scale[c] = a.weight ? rstd * a.weight[c] : rstd;
          shift[c] = (a.bias ? a.bias[c] : 0.0f) - m.lo * scale[c];
          hi[c] = m.hi;
        }
      }
      for (size_t j0 = 0; j0 < C; j0 += kChunk)
        affine_rows<stream_y.value, in_l2.value>(x, y, S, C, j0, C - j0 < kChunk ? C - j0 : kChunk, hi + j0,
                                                 scale + j0, shift + j0);
    }
  }, streaming, sample_in_l2);
  if (streaming) stream_fence();
}

// With g = dy·w[c] over a group's M = (C/G)·S elements: dx = dy·(w[c]·rstd) - ((x - mean)·k2 + k1),
// k1 = rstd·Σg / M, k2 = rstd³·Σ g·(x - mean) / M; dw[c] = Σ_n rstd·Σ dy·(x - mean), db[c] = Σ dy.
// As in the NCHW backward, a tensor whose x and dy stay in cache goes in two passes (every sample's sums, then
// every sample's dx): 1.03-1.13x faster in Node at [8,28,28,256] and [2,56,56,256] with 32 groups than each
// sample's dx right after its sums (a 784 KiB sample of x and dy overflows L2); larger tensors, read twice
// from memory that way, measured 0.75x and go sample by sample.
void group_norm_backward_nhwc(const GroupNormBackward& a, size_t S) {
  const size_t C = a.channels, G = a.groups, cg = C / G;
  const double M = double(cg) * double(S);
  const bool two_passes = a.dx && !use_streaming_stores(2 * a.batch * S * C * sizeof(float));
  Scratch<double> sums(4 * C);  // per channel: Σ dy, Σ dy·(x - mean), Σ (x - mean) (and an unused sum)
  Scratch<float> coefs(4 * C * (two_passes ? a.batch : 1));  // per channel: hi, k, k2, k1 of back_rows
  double *sdy = sums.data, *sdx = sums.data + C, *dev = sums.data + 2 * C;
  // Sample n's sums (dweight/dbias accumulated) and its dx coefficients into hi[0 .. 4C).
  auto coefficients = [&](size_t n, float* hi) {
    float *k = hi + C, *k2 = hi + 2 * C, *k1 = hi + 3 * C;
    const float *x = a.x + n * S * C, *dy = a.dy + n * S * C;
    for (size_t g = 0; g < G; ++g)  // not c / cg for each channel, a 64-bit division (1.08-1.29x at small sizes)
      for (size_t c = g * cg; c < (g + 1) * cg; ++c) hi[c] = a.mean[n * G + g];
    for (size_t j0 = 0; j0 < C; j0 += kChunk) {
      const float* h = hi + j0;
      auto vec = [&](ptrdiff_t o, Vf hv, Vf& u, Vf& v, auto ld) {
        const Vf d = ld(dy + o);
        u = add(u, d);
        v = muladd(d, sub(ld(x + o), hv), v);
      };
      auto one = [&](size_t o, size_t jl, double& u, double& v) {
        u += dy[o];
        v += double(dy[o]) * double(x[o] - h[jl]);
      };
      column_sums(dy, S, C, j0, C - j0 < kChunk ? C - j0 : kChunk, h, sdy + j0, sdx + j0, vec, one);
    }
    // Groups far off zero: the residual of their float mean (mean_residual()), from one more sweep of x.
    bool far = false;
    for (size_t g = 0; g < G; ++g) far |= !uncentred_ok(a.mean[n * G + g], a.rstd[n * G + g]);
    for (size_t j0 = 0; far && j0 < C; j0 += kChunk) {
      const float* h = hi + j0;
      auto vec = [&](ptrdiff_t o, Vf hv, Vf& u, Vf&, auto ld) { u = add(u, sub(ld(x + o), hv)); };
      auto one = [&](size_t o, size_t jl, double& u, double&) { u += double(x[o] - h[jl]); };
      column_sums(x, S, C, j0, C - j0 < kChunk ? C - j0 : kChunk, h, dev + j0, dev + C + j0, vec, one);
    }
    for (size_t g = 0; g < G; ++g) {
      const float rstd = a.rstd[n * G + g];
      double lo = 0, dev_sum = 0;  // the true mean is mean + lo
      if (!uncentred_ok(a.mean[n * G + g], rstd)) {
        for (size_t c = g * cg; c < (g + 1) * cg; ++c) dev_sum += dev[c];
        lo = mean_residual(a.mean[n * G + g], dev_sum, M);
      }
      double sg = 0, sgxm = 0;
      for (size_t c = g * cg; c < (g + 1) * cg; ++c) {
        sdx[c] -= lo * sdy[c];  // Σ dy·(x - mean - lo)
        const double w = a.weight ? a.weight[c] : 1.0;
        sg += w * sdy[c];
        sgxm += w * sdx[c];
        if (a.dweight) a.dweight[c] += float(sdx[c] * rstd);
        if (a.dbias) a.dbias[c] += float(sdy[c]);
      }
      const double r64 = rstd, k2_64 = r64 * r64 * r64 * sgxm / M;
      for (size_t c = g * cg; c < (g + 1) * cg; ++c) {
        k[c] = a.weight ? rstd * a.weight[c] : rstd;
        k2[c] = float(k2_64);
        k1[c] = float(r64 * sg / M - lo * k2_64);  // (x - mean - lo)·k2 + k1 = (x - mean)·k2 + k1'
      }
    }
  };
  const bool streaming = a.dx && stream_rows(a.dx, a.batch * S, C, 3);
  with_flags([&](auto stream_dx) {
    auto grads = [&](size_t n, const float* hi) {
      const size_t off = n * S * C;
      for (size_t j0 = 0; j0 < C; j0 += kChunk)
        back_rows<true, stream_dx.value>(a.dy + off, a.x + off, a.dx + off, S, C, j0, C - j0 < kChunk ? C - j0 : kChunk,
                                         hi + j0, hi + C + j0, hi + 2 * C + j0, hi + 3 * C + j0);
    };
    if (two_passes) {
      for (size_t n = 0; n < a.batch; ++n) coefficients(n, coefs.data + 4 * C * n);
      for (size_t n = 0; n < a.batch; ++n) grads(n, coefs.data + 4 * C * n);
      return;
    }
    for (size_t n = 0; n < a.batch; ++n) {
      coefficients(n, coefs.data);
      if (a.dx) grads(n, coefs.data);
    }
  }, streaming);
  if (streaming) stream_fence();
}

void group_norm_forward(const GroupNormForward& a) {
  const size_t S = a.spatial, cg = a.groups ? a.channels / a.groups : 0;
  if (cg * S == 0) {  // empty groups: no statistics (NaN, as the mean of nothing)
    for (size_t k = 0; k < a.batch * a.groups; ++k) {
      if (a.mean) a.mean[k] = NAN;
      if (a.rstd) a.rstd[k] = NAN;
    }
    return;
  }
  // With one position, [N, S, C] and [N, C, S] are the same memory.
  if (a.channels_last && S > 1)
    group_norm_forward_nhwc(a, S);
  else if (S < kShortRun)
    group_norm_forward_short_runs(a, S);
  else
    group_norm_forward_nchw(a, S);
}

void group_norm_backward(const GroupNormBackward& a) {
  for (size_t c = 0; c < a.channels; ++c) {
    if (a.dweight) a.dweight[c] = 0.0f;
    if (a.dbias) a.dbias[c] = 0.0f;
  }
  const size_t S = a.spatial, cg = a.groups ? a.channels / a.groups : 0;
  if (cg * S == 0) return;
  if (a.channels_last && S > 1)
    group_norm_backward_nhwc(a, S);
  else if (S < kShortRun)
    group_norm_backward_short_runs(a, S);
  else
    group_norm_backward_nchw(a, S);
}
