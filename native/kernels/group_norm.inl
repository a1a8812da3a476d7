// GroupNorm forward and backward (InstanceNorm is groups == channels), S = the product of the spatial dims.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h,
// moments(), split(), with_flags() and prefetch_next() from rows.inl.
//
// NCHW: a (n, group) block is (C/G)·S contiguous floats, so it is a LayerNorm row: moments() over the block,
// then each channel's S-long run gets one per-channel affine map (weight·rstd and the bias folded in), with the
// next block prefetched meanwhile. Backward: per-channel sums over each run, combined per group, then dx.
//
// Channels last ([N, S, C]): a group is C/G consecutive channels at each of S positions, S·C floats apart.
// A "unit" of whole groups (about kUnitChannels channels, or one larger group) is done at a time: sweeps over
// the S positions keep up to kSweepVectors vectors of channels' sums in registers; the per-channel results are
// merged per group in double (Chan et al.); then a second sweep normalises the unit, still in L2.
// No streaming stores on this path (the unit is written in short strided pieces).

constexpr size_t kSweepVectors = 4;                      // channel vectors per sweep (registers)
constexpr size_t kSweepChannels = kSweepVectors * kLanes;
constexpr size_t kUnitChannels = 128;                    // channels of a channels-last unit of small groups
constexpr size_t kFlushEvery = 64;                       // positions summed in float before adding into double
constexpr size_t kAhead = 8;                             // positions prefetched ahead in channels-last sweeps

void group_norm_forward_nchw(const GroupNormForward& a, size_t S) {
  const size_t cg = a.channels / a.groups, len = cg * S, blocks = a.batch * a.groups;
  const StreamPlan plan = streaming_plan(a.y, blocks * cg, S, 2);  // each channel's run is a "row"
  with_flags([&](auto stream_y) {
    for (size_t k = 0; k < blocks; ++k) {
      const float* x = a.x + k * len;
      const float* next = k + 1 < blocks ? x + len : x;
      float* y = a.y + k * len;
      const Moments m = moments(x, len);
      const float rstd = float(1.0 / std::sqrt(m.var + double(a.eps)));
      if (a.mean) a.mean[k] = float(m.mean);
      if (a.rstd) a.rstd[k] = rstd;
      // y = (x - mean.hi) * scale + shift with scale = w·rstd, shift = b - mean.lo·scale (see split()).
      const SplitFloat mean = split(m.mean);
      const size_t c0 = (k % a.groups) * cg;
      for (size_t i = 0; i < cg; ++i) {
        const float scale = a.weight ? rstd * a.weight[c0 + i] : rstd;
        const float shift = (a.bias ? a.bias[c0 + i] : 0.0f) - mean.lo * scale;
        affine_run<stream_y.value>(x + i * S, y + i * S, S, mean.hi, scale, shift, next + i * S);
      }
    }
  }, plan.streaming);
  if (plan.streaming) stream_fence();
}

// With xhat = (x - mean)·rstd and g = dy·w[c], over the group's M = (C/G)·S elements:
//   dx = rstd·(g - mean(g) - xhat·mean(g·xhat)) = dy·(w[c]·rstd) - ((x - mean)·k2 + k1),
//   k1 = rstd·Σg / M,  k2 = rstd³·Σ g·(x - mean) / M;  dw[c] = Σ_n rstd·Σ dy·(x - mean),  db[c] = Σ dy.
void group_norm_backward_nchw(const GroupNormBackward& a, size_t S) {
  const size_t cg = a.channels / a.groups, len = cg * S, blocks = a.batch * a.groups;
  const double M = double(len);
  for (size_t k = 0; k < blocks; ++k) {
    const float* x = a.x + k * len;
    const float* dy = a.dy + k * len;
    const bool last = k + 1 == blocks;
    const float mean = a.mean[k], rstd = a.rstd[k];
    const size_t c0 = (k % a.groups) * cg;
    with_flags([&](auto centred) {
      double sg = 0, sgxm = 0;
      for (size_t i = 0; i < cg; ++i) {
        const size_t c = c0 + i;
        double sdy = 0, sdx = 0;
        add_grad_sums<centred.value>(dy + i * S, x + i * S, S, mean, sdy, sdx);
        if constexpr (!centred.value) sdx -= double(mean) * sdy;
        const double w = a.weight ? a.weight[c] : 1.0;
        sg += w * sdy;
        sgxm += w * sdx;
        if (a.dweight) a.dweight[c] += float(sdx * rstd);
        if (a.dbias) a.dbias[c] += float(sdy);
      }
      if (!a.dx) return;
      const float k1 = float(rstd * sg / M), k2 = float(double(rstd) * rstd * rstd * sgxm / M);
      // The next block's x and dy are contiguous with this one's: prefetch both while dx is computed.
      const float* next = last ? x : x + len;
      const float* next_dy = last ? dy : dy + len;
      for (size_t i = 0; i < cg; ++i) {
        const float scale = a.weight ? rstd * a.weight[c0 + i] : rstd;
        affine_grad_run<true, false, centred.value>(dy + i * S, x + i * S, a.dx + k * len + i * S, S, scale, mean,
                                                    k2, k1, next_dy + i * S, next + i * S);
      }
    }, !uncentred_ok(mean, rstd));
  }
}

// Channels last. Sums per channel over S positions `stride` floats apart, for NV vectors of channels:
//   forward (kGrad false): u = x - m[c]; first += u, second += u·u
//   backward:              u = dy;       first += dy, second += dy·(x - m[c])
// in float over kFlushEvery positions at a time, then into double (first/second, added to).
template <bool kGrad, size_t NV>
void sweep_sums(const float* x, const float* dy, size_t stride, size_t S, const float* m, double* first,
                double* second) {
  Vf vm[NV];
  for (size_t v = 0; v < NV; ++v) vm[v] = load(m + v * kLanes);
  for (size_t s0 = 0; s0 < S; s0 += kFlushEvery) {
    const size_t s1 = s0 + kFlushEvery < S ? s0 + kFlushEvery : S;
    Vf f[NV], q[NV];
    for (size_t v = 0; v < NV; ++v) f[v] = q[v] = zero();
    for (size_t s = s0; s < s1; ++s) {
      const float* xs = x + s * stride;
      const size_t ahead = s + kAhead < S ? kAhead * stride : 0;
      for (size_t v = 0; v < NV; ++v) {
        prefetch_next(xs + ahead + v * kLanes);
        if constexpr (kGrad) prefetch_next(dy + s * stride + ahead + v * kLanes);
        const Vf d = sub(load(xs + v * kLanes), vm[v]);
        Vf u = d;
        if constexpr (kGrad) u = load(dy + s * stride + v * kLanes);
        f[v] = add(f[v], u);
        q[v] = muladd(u, d, q[v]);
      }
    }
    float lanes[kLanes];
    for (size_t v = 0; v < NV; ++v) {
      store(lanes, f[v]);
      for (size_t l = 0; l < kLanes; ++l) first[v * kLanes + l] += lanes[l];
      store(lanes, q[v]);
      for (size_t l = 0; l < kLanes; ++l) second[v * kLanes + l] += lanes[l];
    }
  }
}

// sweep_sums over nc <= kSweepChannels channels: whole vectors in registers, the rest one channel at a time.
template <bool kGrad>
void channel_sums(const float* x, const float* dy, size_t stride, size_t S, const float* m, size_t nc,
                  double* first, double* second) {
  for (size_t c = 0; c < nc; ++c) first[c] = second[c] = 0;
  const size_t nv = nc / kLanes;
  switch (nv) {
    case 4: sweep_sums<kGrad, 4>(x, dy, stride, S, m, first, second); break;
    case 3: sweep_sums<kGrad, 3>(x, dy, stride, S, m, first, second); break;
    case 2: sweep_sums<kGrad, 2>(x, dy, stride, S, m, first, second); break;
    case 1: sweep_sums<kGrad, 1>(x, dy, stride, S, m, first, second); break;
    default: break;
  }
  static_assert(kSweepVectors == 4, "channel_sums dispatches up to 4 vectors");
  for (size_t c = nv * kLanes; c < nc; ++c) {
    double f = 0, q = 0;
    for (size_t s = 0; s < S; ++s) {
      const double d = double(x[s * stride + c] - m[c]);
      const double u = kGrad ? double(dy[s * stride + c]) : d;
      f += u;
      q += u * d;
    }
    first[c] = f;
    second[c] = q;
  }
}

// Per-channel mean and sum of squared deviations (m2) of nc <= kSweepChannels channels over S > 0 positions.
// Centred as in rows.inl: shifted by the mean of the first few positions; a channel whose shift turned out
// more than one standard deviation from its mean (or whose sums overflowed) is redone around the mean found,
// and in double if the float sums still overflow.
void channel_moments(const float* x, size_t stride, size_t S, size_t nc, double* mean, double* m2) {
  float shift[kSweepChannels];
  const size_t first = S < 4 ? S : 4;
  for (size_t c = 0; c < nc; ++c) {
    float s = 0;
    for (size_t p = 0; p < first; ++p) s += x[p * stride + c];
    shift[c] = s / float(first);
  }
  double f[kSweepChannels], q[kSweepChannels];
  const double n = double(S);
  for (int attempt = 0; attempt < 2; ++attempt) {
    channel_sums<false>(x, nullptr, stride, S, shift, nc, f, q);
    bool redo = false;
    for (size_t c = 0; c < nc; ++c) {
      const double off = f[c] / n;
      mean[c] = double(shift[c]) + off;
      m2[c] = q[c] - f[c] * off;
      if (!(off * off * n <= m2[c]) || !std::isfinite(m2[c])) {
        redo = true;
        shift[c] = float(mean[c]);
      }
    }
    if (!redo) return;
  }
  for (size_t c = 0; c < nc; ++c) {
    if (std::isfinite(m2[c])) continue;
    double s = 0;
    for (size_t p = 0; p < S; ++p) s += x[p * stride + c];
    const double mu = s / n;
    double d1 = 0, d2 = 0;
    for (size_t p = 0; p < S; ++p) {
      const double d = double(x[p * stride + c]) - mu;
      d1 += d;
      d2 += d * d;
    }
    mean[c] = mu + d1 / n;
    m2[c] = d2 - d1 * d1 / n;  // NaN/Inf in the channel stays NaN
  }
}

// out = (x - m[c])·s[c] + b[c] (+ dy·a[c] for backward) at S positions `stride` apart, for NV vectors of channels.
template <bool kGrad, size_t NV>
void sweep_affine(const float* x, const float* dy, float* out, size_t stride, size_t S, const float* m,
                  const float* s, const float* b, const float* a) {
  Vf vm[NV], vs[NV], vb[NV], va[NV];
  for (size_t v = 0; v < NV; ++v) {
    vm[v] = load(m + v * kLanes);
    vs[v] = load(s + v * kLanes);
    vb[v] = load(b + v * kLanes);
    if constexpr (kGrad) va[v] = load(a + v * kLanes);
  }
  for (size_t p = 0; p < S; ++p) {
    const size_t o = p * stride, ahead = p + kAhead < S ? kAhead * stride : 0;
    for (size_t v = 0; v < NV; ++v) {
      if constexpr (kGrad) {  // the forward's x is in cache from its statistics sweep; backward's dx sweep too,
        prefetch_next(x + o + ahead + v * kLanes);  // but the unit may be larger than L2
        prefetch_next(dy + o + ahead + v * kLanes);
      }
      Vf r = muladd(sub(load(x + o + v * kLanes), vm[v]), vs[v], vb[v]);
      if constexpr (kGrad) r = muladd(load(dy + o + v * kLanes), va[v], r);
      store(out + o + v * kLanes, r);
    }
  }
}

template <bool kGrad>
void channel_affine(const float* x, const float* dy, float* out, size_t stride, size_t S, size_t nc,
                    const float* m, const float* s, const float* b, const float* a) {
  const size_t nv = nc / kLanes;
  switch (nv) {
    case 4: sweep_affine<kGrad, 4>(x, dy, out, stride, S, m, s, b, a); break;
    case 3: sweep_affine<kGrad, 3>(x, dy, out, stride, S, m, s, b, a); break;
    case 2: sweep_affine<kGrad, 2>(x, dy, out, stride, S, m, s, b, a); break;
    case 1: sweep_affine<kGrad, 1>(x, dy, out, stride, S, m, s, b, a); break;
    default: break;
  }
  for (size_t c = nv * kLanes; c < nc; ++c)
    for (size_t p = 0; p < S; ++p) {
      const size_t o = p * stride + c;
      float r = (x[o] - m[c]) * s[c] + b[c];
      if constexpr (kGrad) r += dy[o] * a[c];
      out[o] = r;
    }
}

// Channels per unit: whole groups, a multiple of the vector width when that fits (no one-channel remainders).
inline size_t unit_channels(size_t cg) {
  if (cg >= kUnitChannels) return cg;
  size_t x = cg, y = kLanes;
  while (y) {
    const size_t t = x % y;
    x = y;
    y = t;
  }
  const size_t lcm = cg / x * kLanes;
  return lcm <= kUnitChannels ? kUnitChannels / lcm * lcm : kUnitChannels / cg * cg;
}

void group_norm_forward_nhwc(const GroupNormForward& a, size_t S) {
  const size_t C = a.channels, cg = C / a.groups, unit = unit_channels(cg);
  const double group_n = double(cg) * double(S);
  double gmean[kUnitChannels], gm2[kUnitChannels];  // per group of the unit (at most kUnitChannels groups)
  float gm_hi[kUnitChannels], gm_lo[kUnitChannels], grstd[kUnitChannels];
  double cmean[kSweepChannels], cm2[kSweepChannels];
  float m[kSweepChannels], sc[kSweepChannels], sh[kSweepChannels];
  for (size_t n = 0; n < a.batch; ++n) {
    const float* x = a.x + n * S * C;
    float* y = a.y + n * S * C;
    for (size_t u0 = 0; u0 < C; u0 += unit) {
      const size_t u1 = u0 + unit < C ? u0 + unit : C, g0 = u0 / cg;
      // Statistics: per channel, merged into its group in channel order (Chan et al.'s pairwise update).
      for (size_t c0 = u0; c0 < u1; c0 += kSweepChannels) {
        const size_t nc = u1 - c0 < kSweepChannels ? u1 - c0 : kSweepChannels;
        channel_moments(x + c0, C, S, nc, cmean, cm2);
        for (size_t i = 0; i < nc; ++i) {
          const size_t c = c0 + i, g = c / cg - g0, before = c % cg;
          if (before == 0) {
            gmean[g] = cmean[i];
            gm2[g] = cm2[i];
            continue;
          }
          const double na = double(before) * double(S), nb = double(S), delta = cmean[i] - gmean[g];
          gmean[g] += delta * (nb / (na + nb));
          gm2[g] += cm2[i] + delta * delta * (na * nb / (na + nb));
        }
      }
      for (size_t g = 0; g < (u1 - u0) / cg; ++g) {
        const double var = gm2[g] > 0 || std::isnan(gm2[g]) ? gm2[g] / group_n : 0.0;
        const float rstd = float(1.0 / std::sqrt(var + double(a.eps)));
        const SplitFloat sm = split(gmean[g]);
        gm_hi[g] = sm.hi;
        gm_lo[g] = sm.lo;
        grstd[g] = rstd;
        if (a.mean) a.mean[n * a.groups + g0 + g] = float(gmean[g]);
        if (a.rstd) a.rstd[n * a.groups + g0 + g] = rstd;
      }
      // Normalise: y = (x - mean.hi)·scale + shift per channel, as on the NCHW path.
      for (size_t c0 = u0; c0 < u1; c0 += kSweepChannels) {
        const size_t nc = u1 - c0 < kSweepChannels ? u1 - c0 : kSweepChannels;
        for (size_t i = 0; i < nc; ++i) {
          const size_t c = c0 + i, g = c / cg - g0;
          sc[i] = a.weight ? grstd[g] * a.weight[c] : grstd[g];
          sh[i] = (a.bias ? a.bias[c] : 0.0f) - gm_lo[g] * sc[i];
          m[i] = gm_hi[g];
        }
        channel_affine<false>(x + c0, nullptr, y + c0, C, S, nc, m, sc, sh, nullptr);
      }
    }
  }
}

void group_norm_backward_nhwc(const GroupNormBackward& a, size_t S) {
  const size_t C = a.channels, cg = C / a.groups, unit = unit_channels(cg);
  const double M = double(cg) * double(S);
  double sg[kUnitChannels], sgxm[kUnitChannels];
  double sdy[kSweepChannels], sdyxm[kSweepChannels];
  float m[kSweepChannels], ks[kSweepChannels], kb[kSweepChannels], ka[kSweepChannels];
  for (size_t n = 0; n < a.batch; ++n) {
    const size_t off = n * S * C;
    const float* stats_mean = a.mean + n * a.groups;
    const float* stats_rstd = a.rstd + n * a.groups;
    for (size_t u0 = 0; u0 < C; u0 += unit) {
      const size_t u1 = u0 + unit < C ? u0 + unit : C, g0 = u0 / cg, ng = (u1 - u0) / cg;
      for (size_t g = 0; g < ng; ++g) sg[g] = sgxm[g] = 0;
      for (size_t c0 = u0; c0 < u1; c0 += kSweepChannels) {
        const size_t nc = u1 - c0 < kSweepChannels ? u1 - c0 : kSweepChannels;
        for (size_t i = 0; i < nc; ++i) m[i] = stats_mean[(c0 + i) / cg];
        channel_sums<true>(a.x + off + c0, a.dy + off + c0, C, S, m, nc, sdy, sdyxm);
        for (size_t i = 0; i < nc; ++i) {
          const size_t c = c0 + i, g = c / cg - g0;
          const double w = a.weight ? a.weight[c] : 1.0;
          sg[g] += w * sdy[i];
          sgxm[g] += w * sdyxm[i];
          if (a.dweight) a.dweight[c] += float(sdyxm[i] * stats_rstd[c / cg]);
          if (a.dbias) a.dbias[c] += float(sdy[i]);
        }
      }
      if (!a.dx) continue;
      // dx = dy·(w·rstd) + (x - mean)·(-k2) + (-k1), as on the NCHW path.
      for (size_t c0 = u0; c0 < u1; c0 += kSweepChannels) {
        const size_t nc = u1 - c0 < kSweepChannels ? u1 - c0 : kSweepChannels;
        for (size_t i = 0; i < nc; ++i) {
          const size_t c = c0 + i, g = c / cg - g0;
          const float rstd = stats_rstd[c / cg];
          m[i] = stats_mean[c / cg];
          ks[i] = -float(double(rstd) * rstd * rstd * sgxm[g] / M);
          kb[i] = -float(rstd * sg[g] / M);
          ka[i] = a.weight ? rstd * a.weight[c] : rstd;
        }
        channel_affine<true>(a.x + off + c0, a.dy + off + c0, a.dx + off + c0, C, S, nc, m, ks, kb, ka);
      }
    }
  }
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
  else
    group_norm_backward_nchw(a, S);
}
