// LayerNorm forward and backward over rows of `cols` contiguous floats.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h,
// moments(), split(), with_flags() and prefetch_next() from rows.inl.
//
// A row (3 KiB at 768 floats, 256 KiB at 65536) stays in L1/L2 between its passes, so each row costs one
// trip to memory however many passes read it; while the last passes compute from cache, the next row is
// prefetched, so memory and arithmetic overlap.

void layer_norm_forward(const LayerNormForward& a) {
  const size_t n = a.cols;
  const bool streaming = use_streaming_stores(a.rows * n * sizeof(float));
  with_flags([&](auto has_w, auto has_b, auto stream_y) {
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      const float* next = r + 1 < a.rows ? x + n : x;
      float* y = a.y + r * n;
      const Moments m = moments(x, n);
      const float rstd = float(1.0 / std::sqrt(m.var + double(a.eps)));
      if (a.mean) a.mean[r] = float(m.mean);
      if (a.rstd) a.rstd[r] = rstd;

      // y = (x - mean) * rstd * w + b, with x - mean taken as (x - mean.hi) - mean.lo (see split()).
      const SplitFloat mean = split(m.mean);
      const float lo_rstd = -mean.lo * rstd;
      auto one = [&](size_t j) {
        float v = (x[j] - mean.hi) * rstd + lo_rstd;
        if constexpr (has_w.value) v *= a.weight[j];
        if constexpr (has_b.value) v += a.bias[j];
        y[j] = v;
      };
      const Vf vhi = set1(mean.hi), vrstd = set1(rstd), vlo_rstd = set1(lo_rstd);
      size_t j = 0;
      if constexpr (stream_y.value)
        for (; j < n && !stream_aligned(y + j); ++j) one(j);
      for (; j + kLanes <= n; j += kLanes) {
        prefetch_next(next + j);
        Vf v = muladd(sub(load(x + j), vhi), vrstd, vlo_rstd);
        if constexpr (has_w.value && has_b.value)
          v = muladd(v, load(a.weight + j), load(a.bias + j));
        else if constexpr (has_w.value)
          v = mul(v, load(a.weight + j));
        else if constexpr (has_b.value)
          v = add(v, load(a.bias + j));
        if constexpr (stream_y.value)
          stream(y + j, v);
        else
          store(y + j, v);
      }
      for (; j < n; ++j) one(j);
    }
  }, a.weight != nullptr, a.bias != nullptr, streaming);
  if (streaming) stream_fence();
}

// With xhat = (x - mean) * rstd and g = dy * w:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dw = sum over rows of dy * xhat,  db = sum of dy.
// Pass 1 over a row gathers the two means and adds the row into dw/db; pass 2 (row in cache) writes dx.
void layer_norm_backward(const LayerNormBackward& a) {
  const size_t n = a.cols;
  for (size_t j = 0; j < n; ++j) {
    if (a.dweight) a.dweight[j] = 0.0f;
    if (a.dbias) a.dbias[j] = 0.0f;
  }
  with_flags([&](auto has_w, auto want_dw, auto want_db) {
    const float* w = a.weight;
    float* dw = a.dweight;
    float* db = a.dbias;
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      const float* dy = a.dy + r * n;
      const bool last = r + 1 == a.rows;
      const float* next_x = last ? x : x + n;
      const float* next_dy = last ? dy : dy + n;
      const float mean = a.mean[r], rstd = a.rstd[r];
      const Vf vmean = set1(mean), vrstd = set1(rstd);

      Vf sum_g = zero(), sum_gxh = zero();
      size_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        const Vf xh = mul(sub(load(x + j), vmean), vrstd);
        const Vf d = load(dy + j);
        Vf g = d;
        if constexpr (has_w.value) g = mul(d, load(w + j));
        sum_g = add(sum_g, g);
        sum_gxh = muladd(g, xh, sum_gxh);
        if constexpr (want_dw.value) store(dw + j, muladd(d, xh, load(dw + j)));
        if constexpr (want_db.value) store(db + j, add(load(db + j), d));
      }
      double sg = reduce_add(sum_g), sgxh = reduce_add(sum_gxh);
      for (; j < n; ++j) {
        const float xh = (x[j] - mean) * rstd;
        float g = dy[j];
        if constexpr (has_w.value) g *= w[j];
        sg += g;
        sgxh += double(g) * xh;
        if constexpr (want_dw.value) dw[j] += dy[j] * xh;
        if constexpr (want_db.value) db[j] += dy[j];
      }
      if (!a.dx) continue;

      // dx = g * rstd - ((x - mean) * k2 + k1)
      const float k1 = float(rstd * sg / double(n));
      const float k2 = float(double(rstd) * rstd * sgxh / double(n));
      const Vf vk1 = set1(k1), vk2 = set1(k2);
      float* dx = a.dx + r * n;
      j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        prefetch_next(next_x + j);
        prefetch_next(next_dy + j);
        Vf g = load(dy + j);
        if constexpr (has_w.value) g = mul(g, load(w + j));
        store(dx + j, sub(mul(g, vrstd), muladd(sub(load(x + j), vmean), vk2, vk1)));
      }
      for (; j < n; ++j) {
        float g = dy[j];
        if constexpr (has_w.value) g *= w[j];
        dx[j] = g * rstd - ((x[j] - mean) * k2 + k1);
      }
    }
  }, a.weight != nullptr, a.dweight != nullptr, a.dbias != nullptr);
}
