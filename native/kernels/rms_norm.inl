// RMSNorm forward and backward over rows of `cols` contiguous floats.
// Included inside an ISA namespace (see isa/implementation.inl); the same plan as layer_norm.inl.

// Rows of up to 4-16 KiB in pairs (use_row_pairs() in rows.inl), as LayerNorm's: y = x * rstd * w, each
// weight vector loaded once for both rows from its aligned record. A streamed output goes in pairs only on
// AVX-512 (kPairsWhenStreamed): measured in Node against row by row at 4096x768, AVX-512 1.13-1.28x, but AVX2
// 0.97-0.98x and scalar 0.87-0.89x. (AVX2 again after its whole-line streaming: 1.03-1.15x at 4096x768,
// 16384x208 and 8192x512, but with the output 0 or 32 bytes into a line, 16384x208 up to 1.4x slower in pairs.)
constexpr bool kPairsWhenStreamed = kLanes >= 16;
void rms_norm_forward_pairs(const RmsNormForward& a, const StreamPlan& plan) {
  const size_t n = a.cols;
  ColumnRecords<1> wr(plan, a.x, {a.weight}, n);
  const size_t first = wr.first, tail = wr.tail;
  with_flags([&](auto has_w, auto stream_y) {
    for (size_t r = 0; r < a.rows; r += 2) {
      // An odd last row is paired with itself (computed twice, stored twice: the same values).
      const size_t r1 = r + 1 < a.rows ? r + 1 : r;
      const float *x0 = a.x + r * n, *x1 = a.x + r1 * n;
      float *y0 = a.y + r * n, *y1 = a.y + r1 * n;
      const float* next = r + 2 < a.rows ? a.x + (r + 2) * n : x0;
      const float* next1 = r + 3 < a.rows ? next + n : next;
      const float rs0 = float(1.0 / std::sqrt(mean_square(x0, n) + double(a.eps)));
      const float rs1 = float(1.0 / std::sqrt(mean_square(x1, n) + double(a.eps)));
      if (a.rstd) a.rstd[r] = rs0, a.rstd[r1] = rs1;
      const Vf rv0 = set1(rs0), rv1 = set1(rs1);
      auto end_vectors = [&](size_t j, float* v0, float* v1) {
        Vf u0 = mul(load(x0 + j), rv0), u1 = mul(load(x1 + j), rv1);
        if constexpr (has_w.value) u0 = mul(u0, load(a.weight + j)), u1 = mul(u1, load(a.weight + j));
        store(v0, u0);
        store(v1, u1);
      };
      // Streamed pairs on AVX2 are rows of whole lines (use_row_pairs()): both rows' lines at the same steps.
      const StreamLines lines = stream_lines(y0, first, tail);
      with_pair_ends(n, first, tail, y0, y1, end_vectors, [&] {
        sweep_stream_pieces<stream_y.value>(first, tail, lines, true, [&](size_t from, size_t to, auto stream) {
          // Last column first, each group's x loads before its stores (see for_vector_quads()).
          for_vector_quads(from, to, true, [&](size_t jq, auto count) {
            Vf u0[count.value], u1[count.value];
            for (size_t q = 0; q < count.value; ++q) {
              const size_t j = jq + q * kLanes;
              prefetch_next(next + j);
              prefetch_next(next1 + j);
              u0[q] = load(x0 + j);
              u1[q] = load(x1 + j);
            }
            for (size_t q = 0; q < count.value; ++q) {
              const size_t j = jq + q * kLanes;
              Vf v0 = mul(u0[q], rv0), v1 = mul(u1[q], rv1);
              if constexpr (has_w.value) {
                const Vf w = load(wr.at(j));
                v0 = mul(v0, w), v1 = mul(v1, w);
              }
              store_as<stream.value>(y0 + j, v0);
              store_as<stream.value>(y1 + j, v1);
            }
          });
        });
      });
    }
  }, a.weight != nullptr, plan.streaming);
  if (plan.streaming) stream_fence();
}

// Short rows (rows.inl), kLanes at a time, as layer_norm_forward_short().
template <size_t V>
void rms_norm_forward_short(const RmsNormForward& a) {
  const size_t n = a.cols, last = n - (V - 1) * kLanes;
  Vf w[V];
  load_short_columns(a.weight, last, 1.0f, w);
  for (size_t r0 = 0; r0 < a.rows; r0 += kLanes) {
    const float* x = a.x + r0 * n;
    double ms[kLanes];
    short_rows_mean_squares<V>(x, n, ms);
    alignas(64) float rstd[kLanes];
    for (size_t i = 0; i < kLanes; ++i) rstd[i] = float(1.0 / std::sqrt(ms[i] + double(a.eps)));
    if (a.rstd) store(a.rstd + r0, load(rstd));
    for (size_t i = 0; i < kLanes; ++i) {
      Vf v[V];
      load_short_row(x + i * n, last, v);
      const Vf rv = set1(rstd[i]);
      for (size_t k = 0; k < V; ++k) v[k] = mul(mul(v[k], rv), w[k]);
      store_short_row(a.y + (r0 + i) * n, last, v);
    }
  }
}

void rms_norm_forward(const RmsNormForward& all) {
  const size_t n = all.cols;
  RmsNormForward a = all;  // the rows left after the short-row batches
  if (const size_t batched = short_forward_batches(all.y, all.rows, n)) {
    a.rows = batched;
    with_short_row_vectors<kMaxShortForwardVectors>(n, [&](auto v) { rms_norm_forward_short<v.value>(a); });
    a.x += batched * n, a.y += batched * n, a.rows = all.rows - batched;
    if (a.rstd) a.rstd += batched;
  }
  const StreamPlan plan = streaming_plan(a.y, a.rows, n, 2);
  // As in layer_norm_forward(): pairs need every row aligned alike when they stream.
  const bool streamed = stream_any_rows(a.y, a.rows, n, 2);  // each row peels its own head (row_peel())
  if (n >= kLanes && a.rows >= kPairMinRows && use_row_pairs(n, streamed) && plan.streaming == streamed &&
      (!streamed || kPairsWhenStreamed))
    return rms_norm_forward_pairs(a, plan);
  with_flags([&](auto has_w, auto stream_y) {
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      float* y = a.y + r * n;
      const float* next = r + 1 < a.rows ? x + n : x;
      const bool early = prefetch_during_statistics(n);
      const float rstd = float(1.0 / std::sqrt(mean_square(x, n, early ? next : nullptr) + double(a.eps)));
      if (a.rstd) a.rstd[r] = rstd;

      auto one = [&](size_t j) {
        float v = x[j] * rstd;
        if constexpr (has_w.value) v *= a.weight[j];
        y[j] = v;
      };
      const Vf vrstd = set1(rstd);
      size_t head = 0;
      if constexpr (stream_y.value)
        for (const size_t peel = row_peel(y, n); head < peel; ++head) one(head);
      const StreamLines lines = stream_lines(y, head, n);
      const size_t tail = for_vector_quads(head, n, true, [&](size_t j, auto count) {
        Vf v[count.value], wv[count.value];  // all loads before any store (see for_vector_quads())
        for (size_t q = 0; q < count.value; ++q) {
          if (!early) prefetch_next(next + j + q * kLanes);
          v[q] = load(x + j + q * kLanes);
          if constexpr (has_w.value) wv[q] = load(a.weight + j + q * kLanes);
        }
        for (size_t q = 0; q < count.value; ++q) {
          v[q] = mul(v[q], vrstd);
          if constexpr (has_w.value) v[q] = mul(v[q], wv[q]);
          store_or_stream<stream_y.value>(y, j + q * kLanes, v[q], lines);
        }
      });
      for (size_t j = tail; j < n; ++j) one(j);
    }
  }, a.weight != nullptr, streamed);
  if (streamed) stream_fence();
}

// With g = dy * w:  dx = rstd * g - x * k,  k = rstd^3 * mean(g * x);  dw = sum over rows of dy * x * rstd.
// Pass 1 (each row of the block) gathers mean(g * x); pass 2 sweeps the block's columns once, writing dx and
// adding the block into dw. Without dx, pass 1 is skipped.
void rms_norm_backward_blocks(const RmsNormBackward& a) {
  const size_t n = a.cols;
  if (a.dweight)
    for (size_t j = 0; j < n; ++j) a.dweight[j] = 0.0f;
  PhasedRecords<2> recs(a.dx, a.x, a.rows, {a.weight, nullptr}, n);  // weight, dweight
  with_flags([&](auto has_w, auto want_dx, auto want_dw, auto stream_dx) {
    const float* w = a.weight;
    for_row_blocks(a.rows, row_block(n), recs.phases, [&](const RowBlock& blk, auto block) {
      constexpr size_t R = decltype(block)::value;
      const float *x[R], *dy[R];
      float* dx[R];
      float rstd[R], k[R] = {};
      for (size_t i = 0; i < R; ++i) {
        x[i] = a.x + (blk.first + i * blk.step) * n;
        dy[i] = a.dy + (blk.first + i * blk.step) * n;
        dx[i] = want_dx.value ? a.dx + (blk.first + i * blk.step) * n : nullptr;
        rstd[i] = a.rstd[blk.first + i * blk.step];
      }
      // Pass 1 for rows [i0, i0 + K) side by side (see layer_norm_backward()).
      auto pass1 = [&](size_t i0, auto rows_tag) {
        constexpr size_t K = decltype(rows_tag)::value;
        Vf sum_gx[K];
        for (size_t i = 0; i < K; ++i) sum_gx[i] = zero();
        size_t j = 0;
        for (; j + kLanes <= n; j += kLanes) {
          const Vf vw = has_w.value ? load(w + j) : zero();
          for (size_t i = 0; i < K; ++i) {
            Vf g = load(dy[i0 + i] + j);
            if constexpr (has_w.value) g = mul(g, vw);
            sum_gx[i] = muladd(g, load(x[i0 + i] + j), sum_gx[i]);
          }
        }
        for (size_t i = i0; i < i0 + K; ++i) {
          double sgx = reduce_add(sum_gx[i - i0]);
          for (size_t t = j; t < n; ++t) sgx += double(has_w.value ? dy[i][t] * w[t] : dy[i][t]) * x[i][t];
          const double r64 = rstd[i];
          k[i] = float(r64 * r64 * r64 * sgx / double(n));
        }
      };
      if constexpr (want_dx.value) {
        if (n >= kJointPass1MinCols)
          pass1(0, block);
        else
          for (size_t i = 0; i < R; ++i) pass1(i, SizeTag<1>{});
      }

      if (!recs.vectors) {  // rows shorter than a vector: element by element
        for (size_t j = 0; j < n; ++j)
          for (size_t i = 0; i < R; ++i) {
            const float d_rstd = dy[i][j] * rstd[i];
            if constexpr (want_dw.value) a.dweight[j] += d_rstd * x[i][j];
            if constexpr (want_dx.value) dx[i][j] = (has_w.value ? d_rstd * w[j] : d_rstd) - x[i][j] * k[i];
          }
        return;
      }
      const bool last = blk.next >= a.rows;
      const float* next_x = last ? a.x : a.x + blk.next * n;
      const float* next_dy = last ? a.dy : a.dy + blk.next * n;
      Vf vrstd[R], vk[R];
      for (size_t i = 0; i < R; ++i) vrstd[i] = set1(rstd[i]), vk[i] = set1(k[i]);
      // The step at column j: the block's dx there, handed to out(i, v), and its dweight sums added into
      // record r.
      auto step = [&](size_t j, float* r, auto&& out) {
        Vf vw = zero(), dw = zero();
        if constexpr (has_w.value) vw = load(r);
        if constexpr (want_dw.value) dw = load(r + kLanes);
        Vf xv[R], d_rstd[R];
        for (size_t i = 0; i < R; ++i) xv[i] = load(x[i] + j), d_rstd[i] = mul(load(dy[i] + j), vrstd[i]);
        for (size_t i = 0; i < R; ++i) {
          if constexpr (want_dw.value) dw = muladd(d_rstd[i], xv[i], dw);
          if constexpr (want_dx.value) out(i, negmuladd(xv[i], vk[i], has_w.value ? mul(d_rstd[i], vw) : d_rstd[i]));
        }
        if constexpr (want_dw.value) store(r + kLanes, dw);
      };
      const bool backwards = dx_sweep_backwards(n, dx, x, dy);
      recs.phase(blk.phase).template sweep<R, want_dx.value, stream_dx.value>(dx, next_x, next_dy, blk.next_step * n,
                                                                             backwards, recs.prefetch_twice, step);
    });
  }, a.weight != nullptr, a.dx != nullptr, a.dweight != nullptr, recs.streaming);
  if (recs.streaming) stream_fence();
  if (recs.vectors && a.dweight) recs.sums_to(1, a.dweight);
}

// Short rows (rows.inl), kLanes at a time, as layer_norm_backward_short().
template <size_t V>
void rms_norm_backward_short(const RmsNormBackward& a, size_t rows) {
  const size_t n = a.cols, last = n - (V - 1) * kLanes;
  const double inv_n = 1.0 / double(n);
  Vf w[V], dw[V];
  load_short_columns(a.weight, last, 1.0f, w);
  for (size_t k = 0; k < V; ++k) dw[k] = zero();
  for (size_t r0 = 0; r0 < rows; r0 += kLanes) {
    const float *x = a.x + r0 * n, *dy = a.dy + r0 * n, *rstd = a.rstd + r0;
    alignas(64) float sum_gx[kLanes], coef[kLanes];
    Vf sgx[kLanes];
    for (size_t i = 0; i < kLanes; ++i) {
      Vf xv[V], d[V];
      load_short_row(x + i * n, last, xv);
      load_short_row(dy + i * n, last, d);
      sgx[i] = zero();
      for (size_t k = 0; k < V; ++k) sgx[i] = muladd(mul(d[k], w[k]), xv[k], sgx[i]);
    }
    store(sum_gx, reduce_add_each(sgx));
    for (size_t i = 0; i < kLanes; ++i) {
      const double r64 = rstd[i];
      coef[i] = float(r64 * r64 * r64 * double(sum_gx[i]) * inv_n);
    }
    for (size_t i = 0; i < kLanes; ++i) {
      Vf xv[V], d[V];
      load_short_row(x + i * n, last, xv);
      load_short_row(dy + i * n, last, d);
      const Vf r = set1(rstd[i]), k = set1(coef[i]);
      for (size_t j = 0; j < V; ++j) {
        const Vf d_rstd = mul(d[j], r);
        dw[j] = muladd(d_rstd, xv[j], dw[j]);
        xv[j] = negmuladd(xv[j], k, mul(d_rstd, w[j]));  // dx
      }
      if (a.dx) store_short_row(a.dx + (r0 + i) * n, last, xv);
    }
  }
  if (a.dweight) add_to_short_row(a.dweight, last, dw);
}

// As layer_norm_backward(): the rows after the short-row batches first, then the batches.
void rms_norm_backward(const RmsNormBackward& all) {
  const size_t n = all.cols, batched = short_row_batches(all.rows, n, kMaxShortBackwardVectors);
  RmsNormBackward rest = all;
  rest.dy += batched * n, rest.x += batched * n, rest.rstd += batched, rest.rows -= batched;
  if (rest.dx) rest.dx += batched * n;
  rms_norm_backward_blocks(rest);
  if (batched) with_short_row_vectors<kMaxShortBackwardVectors>(n, [&](auto v) { rms_norm_backward_short<v.value>(all, batched); });
}
