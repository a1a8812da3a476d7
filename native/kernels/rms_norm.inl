// RMSNorm forward and backward over rows of `cols` contiguous floats.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h,
// mean_square(), with_flags() and prefetch_next() from rows.inl. Same row-at-a-time plan as layer_norm.inl.

void rms_norm_forward(const RmsNormForward& a) {
  const size_t n = a.cols;
  const bool streaming = use_streaming_stores(a.rows * n * sizeof(float));
  with_flags([&](auto has_w, auto stream_y) {
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      const float* next = r + 1 < a.rows ? x + n : x;
      float* y = a.y + r * n;
      const float rstd = float(1.0 / std::sqrt(mean_square(x, n) + double(a.eps)));
      if (a.rstd) a.rstd[r] = rstd;

      auto one = [&](size_t j) {
        float v = x[j] * rstd;
        if constexpr (has_w.value) v *= a.weight[j];
        y[j] = v;
      };
      const Vf vrstd = set1(rstd);
      size_t j = 0;
      if constexpr (stream_y.value)
        for (; j < n && !stream_aligned(y + j); ++j) one(j);
      for (; j + kLanes <= n; j += kLanes) {
        prefetch_next(next + j);
        Vf v = mul(load(x + j), vrstd);
        if constexpr (has_w.value) v = mul(v, load(a.weight + j));
        if constexpr (stream_y.value)
          stream(y + j, v);
        else
          store(y + j, v);
      }
      for (; j < n; ++j) one(j);
    }
  }, a.weight != nullptr, streaming);
  if (streaming) stream_fence();
}

// With g = dy * w:  dx = rstd * g - x * rstd^3 * mean(g * x),  dw = sum over rows of dy * x * rstd.
// Pass 1 over a row gathers mean(g * x) and adds the row into dw; pass 2 (row in cache) writes dx.
void rms_norm_backward(const RmsNormBackward& a) {
  const size_t n = a.cols;
  if (a.dweight)
    for (size_t j = 0; j < n; ++j) a.dweight[j] = 0.0f;
  with_flags([&](auto has_w, auto want_dw) {
    const float* w = a.weight;
    float* dw = a.dweight;
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      const float* dy = a.dy + r * n;
      const bool last = r + 1 == a.rows;
      const float* next_x = last ? x : x + n;
      const float* next_dy = last ? dy : dy + n;
      const float rstd = a.rstd[r];
      const Vf vrstd = set1(rstd);

      Vf sum_gx = zero();
      size_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        const Vf xv = load(x + j), d = load(dy + j);
        Vf g = d;
        if constexpr (has_w.value) g = mul(d, load(w + j));
        sum_gx = muladd(g, xv, sum_gx);
        if constexpr (want_dw.value) store(dw + j, muladd(mul(d, xv), vrstd, load(dw + j)));
      }
      double sgx = reduce_add(sum_gx);
      for (; j < n; ++j) {
        float g = dy[j];
        if constexpr (has_w.value) g *= w[j];
        sgx += double(g) * x[j];
        if constexpr (want_dw.value) dw[j] += dy[j] * x[j] * rstd;
      }
      if (!a.dx) continue;

      const double r64 = rstd;
      const float k = float(r64 * r64 * r64 * sgx / double(n));
      const Vf vk = set1(k);
      float* dx = a.dx + r * n;
      j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        prefetch_next(next_x + j);
        prefetch_next(next_dy + j);
        const Vf xv = load(x + j);
        Vf g = load(dy + j);
        if constexpr (has_w.value) g = mul(g, load(w + j));
        store(dx + j, negmuladd(xv, vk, mul(g, vrstd)));
      }
      for (; j < n; ++j) {
        float g = dy[j];
        if constexpr (has_w.value) g *= w[j];
        dx[j] = g * rstd - x[j] * k;
      }
    }
  }, a.weight != nullptr, a.dweight != nullptr);
}
