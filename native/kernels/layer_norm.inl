// LayerNorm forward and backward over rows of `cols` contiguous floats.
// Included inside an ISA namespace (see isa/implementation.inl): Vf, load, add, ... come from simd/<isa>.h;
// moments(), split(), with_flags(), for_row_blocks(), for_vectors(), prefetch_next() and streaming_plan() from
// rows.inl.
//
// Forward reads a row from memory once for its statistics, then normalises it from cache, last column first
// (for_vectors()), while the next row is prefetched. Rows of up to 4-16 KiB go in pairs (use_row_pairs() in
// rows.inl), rows over 64 KiB two at a time, chunk by chunk (layer_norm_forward_wide()).
// (Measured alternatives that were slower on our machines: finishing 4 rows per sweep; normalising row r in
// the same sweep that gathers row r+1's statistics.)

void layer_norm_forward_pairs(const LayerNormForward& a, const StreamPlan& plan) {
  constexpr size_t kGroup = kVectorRegisters >= 32 ? 4 : 1;  // vector steps per group (below)
  const size_t n = a.cols;
  ColumnRecords<2> wb(plan, a.x, {a.weight, a.bias}, n);
  const size_t first = wb.first, tail = wb.tail;
  with_flags([&](auto stream_y) {
    for (size_t r = 0; r < a.rows; r += 2) {
      // An odd last row is paired with itself (computed twice, stored twice: the same values).
      const size_t r1 = r + 1 < a.rows ? r + 1 : r;
      const float *x0 = a.x + r * n, *x1 = a.x + r1 * n;
      float *y0 = a.y + r * n, *y1 = a.y + r1 * n;
      const float* next = r + 2 < a.rows ? a.x + (r + 2) * n : x0;
      const float* next1 = r + 3 < a.rows ? next + n : next;
      const Moments m0 = moments(x0, n), m1 = moments(x1, n);
      const float rs0 = float(1.0 / std::sqrt(m0.var + double(a.eps)));
      const float rs1 = float(1.0 / std::sqrt(m1.var + double(a.eps)));
      if (a.mean) a.mean[r] = float(m0.mean), a.mean[r1] = float(m1.mean);
      if (a.rstd) a.rstd[r] = rs0, a.rstd[r1] = rs1;
      // As in layer_norm_forward(): the mean as hi + lo keeps x - mean exact.
      const SplitFloat me0 = split(m0.mean), me1 = split(m1.mean);
      const float lo0 = -me0.lo * rs0, lo1 = -me1.lo * rs1;
      const Vf h0 = set1(me0.hi), h1 = set1(me1.hi), rv0 = set1(rs0), rv1 = set1(rs1);
      const Vf lv0 = set1(lo0), lv1 = set1(lo1);
      auto normalise = [](Vf u, Vf h, Vf rv, Vf lv, Vf w, Vf b) { return muladd(muladd(sub(u, h), rv, lv), w, b); };
      if (n < kLanes) {  // shorter than a vector: element by element
        for (size_t j = 0; j < n; ++j) {
          const float w = a.weight ? a.weight[j] : 1.0f, b = a.bias ? a.bias[j] : 0.0f;
          const float v0 = ((x0[j] - me0.hi) * rs0 + lo0) * w + b, v1 = ((x1[j] - me1.hi) * rs1 + lo1) * w + b;
          y0[j] = v0;
          y1[j] = v1;
        }
        continue;
      }
      auto end_vectors = [&](size_t j, float* v0, float* v1) {
        const Vf w = a.weight ? load(a.weight + j) : set1(1.0f), b = a.bias ? load(a.bias + j) : set1(0.0f);
        store(v0, normalise(load(x0 + j), h0, rv0, lv0, w, b));
        store(v1, normalise(load(x1 + j), h1, rv1, lv1, w, b));
      };
      // Streamed pairs on AVX2 are rows of whole lines (use_row_pairs()): both rows' lines at the same steps.
      const StreamLines lines = stream_lines(y0, first, tail);
      with_pair_ends(n, first, tail, y0, y1, end_vectors, [&] {
        sweep_stream_pieces<stream_y.value>(first, tail, lines, true, [&](size_t from, size_t to, auto stream) {
          // Last column first, as in layer_norm_forward(); each group's x loads before its stores (see
          // for_vector_quads()); one step at a time where four would not fit in the registers with the rows'
          // six constants (AVX2: 1.1x faster, 1.3x with sweep_stream_pieces()).
          for_vector_groups<kGroup>(from, to, true, [&](size_t jq, auto count) {
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
              const Vf w = load(wb.at(j)), b = load(wb.at(j) + kLanes);
              const Vf v0 = normalise(u0[q], h0, rv0, lv0, w, b), v1 = normalise(u1[q], h1, rv1, lv1, w, b);
              store_as<stream.value>(y0 + j, v0);
              store_as<stream.value>(y1 + j, v1);
            }
          });
        });
      });
    }
  }, plan.streaming);
  if (plan.streaming) stream_fence();
}

// The normalising sweep of one row over its vector steps [from, to), last first: y = ((x - hi) * rstd +
// lo_rstd) * w + b, the mean as hi + lo keeping x - mean exact (see split()). `next`, when given, is pulled
// towards L2 a line per step. With kStream, the steps within `lines` are streamed (stream_lines()).
template <bool kW, bool kB, bool kStream>
inline void normalise_steps(const LayerNormForward& a, const float* x, float* y, float hi, float rstd, float lo_rstd,
                            size_t from, size_t to, const float* next, StreamLines lines) {
  const Vf vhi = set1(hi), vrstd = set1(rstd), vlo_rstd = set1(lo_rstd);
  for_vector_quads(from, to, true, [&](size_t jq, auto count) {
    // All loads, the weight's and bias's too, before any store (see for_vector_quads()).
    Vf xv[count.value], wv[count.value], bv[count.value];
    for (size_t q = 0; q < count.value; ++q) {
      const size_t j = jq + q * kLanes;
      if (next) prefetch_next(next + j);
      xv[q] = load(x + j);
      if constexpr (kW) wv[q] = load(a.weight + j);
      if constexpr (kB) bv[q] = load(a.bias + j);
    }
    for (size_t q = 0; q < count.value; ++q) {
      const size_t j = jq + q * kLanes;
      Vf v = muladd(sub(xv[q], vhi), vrstd, vlo_rstd);
      if constexpr (kW && kB)
        v = muladd(v, wv[q], bv[q]);
      else if constexpr (kW)
        v = mul(v, wv[q]);
      else if constexpr (kB)
        v = add(v, bv[q]);
      store_or_stream<kStream>(y, j, v, lines);
    }
  });
}
// The same for the element j (before `from` or from `to` on).
template <bool kW, bool kB>
inline float normalise_one(const LayerNormForward& a, float x, size_t j, float hi, float rstd, float lo_rstd) {
  float v = (x - hi) * rstd + lo_rstd;
  if constexpr (kW) v *= a.weight[j];
  if constexpr (kB) v += a.bias[j];
  return v;
}

// Columns per chunk in for_chunks_of_rows(): 4 KiB of weight and of bias.
constexpr size_t kRowChunk = 1024;

// Calls f(i, from, to) over the vector steps [head[i], tail[i]) of rows i < count (up to 2), chunk by chunk of
// kRowChunk columns, last chunk first, each chunk for every row in turn: so that the sweeps load each chunk of
// weight and bias from L3 once for both rows, from L1 for the second. Chunks count their steps from each row's
// own head (rows need not be aligned alike).
template <typename F>
inline void for_chunks_of_rows(size_t count, const size_t (&head)[2], const size_t (&tail)[2], F&& f) {
  size_t steps = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t row_steps = (tail[i] - head[i]) / kLanes;
    steps = row_steps > steps ? row_steps : steps;
  }
  constexpr size_t kChunkSteps = kRowChunk / kLanes;
  for (size_t s1 = steps; s1 > 0;) {
    const size_t s0 = s1 > kChunkSteps ? s1 - kChunkSteps : 0;
    for (size_t i = 0; i < count; ++i) {
      const size_t from = head[i] + s0 * kLanes, end = head[i] + s1 * kLanes, to = end < tail[i] ? end : tail[i];
      if (from < to) f(i, from, to);
    }
    s1 = s0;
  }
}

// Rows whose next row is fetched during their statistics (over 64 KiB, prefetch_during_statistics()) go two
// at a time, their normalising sweeps taken chunk by chunk (for_chunks_of_rows()). Every element is computed as
// row by row; only the order of the vector steps differs. Measured in Node against row by row: 64x65536
// 1.07-1.11x, 32x131072 1.04-1.07x, 128x32768 1.04-1.06x, 256x20000 1.05x, 8x100000 1.14-1.17x.
void layer_norm_forward_wide(const LayerNormForward& a, bool streamed) {
  const size_t n = a.cols;
  with_flags([&](auto has_w, auto has_b, auto stream_y) {
    for (size_t r0 = 0; r0 < a.rows; r0 += 2) {
      const size_t count = a.rows - r0 < 2 ? a.rows - r0 : 2;
      const float* x[2];
      float* y[2];
      float hi[2], rstd[2], lo_rstd[2];
      size_t head[2], tail[2];  // row i's vector steps: [head, tail)
      auto one = [&](size_t i, size_t j) {
        return normalise_one<has_w.value, has_b.value>(a, x[i][j], j, hi[i], rstd[i], lo_rstd[i]);
      };
      for (size_t i = 0; i < count; ++i) {
        const size_t r = r0 + i;
        x[i] = a.x + r * n;
        y[i] = a.y + r * n;
        const Moments m = moments(x[i], n, r + 1 < a.rows ? x[i] + n : nullptr);
        rstd[i] = float(1.0 / std::sqrt(m.var + double(a.eps)));
        if (a.mean) a.mean[r] = float(m.mean);
        if (a.rstd) a.rstd[r] = rstd[i];
        const SplitFloat mean = split(m.mean);
        hi[i] = mean.hi;
        lo_rstd[i] = -mean.lo * rstd[i];
        head[i] = stream_y.value ? row_peel(y[i], n) : 0;
        tail[i] = head[i] + (n - head[i]) / kLanes * kLanes;
        for (size_t j = 0; j < head[i]; ++j) y[i][j] = one(i, j);
      }
      for_chunks_of_rows(count, head, tail, [&](size_t i, size_t from, size_t to) {
        normalise_steps<has_w.value, has_b.value, stream_y.value>(a, x[i], y[i], hi[i], rstd[i], lo_rstd[i], from, to,
                                                                  nullptr, stream_lines(y[i], head[i], tail[i]));
      });
      for (size_t i = 0; i < count; ++i)
        for (size_t j = tail[i]; j < n; ++j) y[i][j] = one(i, j);
    }
  }, a.weight != nullptr, a.bias != nullptr, streamed);
  if (streamed) stream_fence();
}

// Short rows (rows.inl), kLanes at a time: their statistics side by side, then each row normalised from L1.
template <size_t V>
void layer_norm_forward_short(const LayerNormForward& a) {
  const size_t n = a.cols, last = n - (V - 1) * kLanes;
  Vf w[V], b[V];
  load_short_columns(a.weight, last, 1.0f, w);
  load_short_columns(a.bias, last, 0.0f, b);
  for (size_t r0 = 0; r0 < a.rows; r0 += kLanes) {
    const float* x = a.x + r0 * n;
    double mean[kLanes], var[kLanes];
    short_rows_moments<V>(x, n, mean, var);
    alignas(64) float rstd[kLanes], hi[kLanes], lo_rstd[kLanes];
    for (size_t i = 0; i < kLanes; ++i) {  // the mean as hi + lo, as in layer_norm_forward_pairs()
      rstd[i] = float(1.0 / std::sqrt(var[i] + double(a.eps)));
      hi[i] = float(mean[i]);
      lo_rstd[i] = -float(mean[i] - double(hi[i])) * rstd[i];
    }
    if (a.mean) store(a.mean + r0, load(hi));
    if (a.rstd) store(a.rstd + r0, load(rstd));
    for (size_t i = 0; i < kLanes; ++i) {
      Vf v[V];
      load_short_row(x + i * n, last, v);
      const Vf h = set1(hi[i]), rv = set1(rstd[i]), lr = set1(lo_rstd[i]);
      for (size_t k = 0; k < V; ++k) v[k] = muladd(muladd(sub(v[k], h), rv, lr), w[k], b[k]);
      store_short_row(a.y + (r0 + i) * n, last, v);
    }
  }
}

void layer_norm_forward(const LayerNormForward& all) {
  const size_t n = all.cols;
  LayerNormForward a = all;  // the rows left after the short-row batches
  if (const size_t batched = short_forward_batches(all.y, all.rows, n)) {
    a.rows = batched;
    with_short_row_vectors<kMaxShortForwardVectors>(n, [&](auto v) { layer_norm_forward_short<v.value>(a); });
    a.x += batched * n, a.y += batched * n, a.rows = all.rows - batched;
    if (a.mean) a.mean += batched;
    if (a.rstd) a.rstd += batched;
  }
  const StreamPlan plan = streaming_plan(a.y, a.rows, n, 2);
  // Row pairs need every row aligned alike when they stream (their records start where the output is aligned);
  // a streamed output whose rows are not goes row by row, each row peeling its own head.
  const bool streamed = stream_any_rows(a.y, a.rows, n, 2);
  if (a.rows >= kPairMinRows && use_row_pairs(n, streamed) && plan.streaming == streamed)
    return layer_norm_forward_pairs(a, plan);
  if (prefetch_during_statistics(n) && a.rows >= 2) return layer_norm_forward_wide(a, streamed);
  with_flags([&](auto has_w, auto has_b, auto stream_y) {
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * n;
      float* y = a.y + r * n;
      const float* next = r + 1 < a.rows ? x + n : x;
      const bool early = prefetch_during_statistics(n);
      const Moments m = moments(x, n, early ? next : nullptr);
      const float rstd = float(1.0 / std::sqrt(m.var + double(a.eps)));
      if (a.mean) a.mean[r] = float(m.mean);
      if (a.rstd) a.rstd[r] = rstd;

      const SplitFloat mean = split(m.mean);
      const float lo_rstd = -mean.lo * rstd;
      auto one = [&](size_t j) {
        y[j] = normalise_one<has_w.value, has_b.value>(a, x[j], j, mean.hi, rstd, lo_rstd);
      };
      size_t head = 0;
      if constexpr (stream_y.value)
        for (const size_t peel = row_peel(y, n); head < peel; ++head) one(head);
      const size_t tail = head + (n - head) / kLanes * kLanes;
      normalise_steps<has_w.value, has_b.value, stream_y.value>(a, x, y, mean.hi, rstd, lo_rstd, head, tail,
                                                                early ? nullptr : next, stream_lines(y, head, tail));
      for (size_t j = tail; j < n; ++j) one(j);
    }
  }, a.weight != nullptr, a.bias != nullptr, streamed);
  if (streamed) stream_fence();
}

// With xm = x - mean, xhat = xm * rstd and g = dy * w:
//   dx = rstd * g - (xm * k2 + k1),  k1 = rstd * mean(g),  k2 = rstd^3 * mean(g * xm)
//   dw = sum over rows of dy * xhat,  db = sum over rows of dy.
// Pass 1 (each row of the block) gathers the two means; pass 2 sweeps the block's columns once, writing dx
// and adding the block into dw/db, kept with the weight in aligned records (ColumnRecords) and so loaded and
// stored once per block. Without dx, pass 1 is skipped.
void layer_norm_backward_blocks(const LayerNormBackward& a) {
  const size_t n = a.cols;
  PhasedRecords<3> recs(a.dx, a.x, a.rows, {a.weight, nullptr, nullptr}, n);  // weight, dweight, dbias
  for (size_t j = 0; j < n; ++j) {
    if (a.dweight) a.dweight[j] = 0.0f;
    if (a.dbias) a.dbias[j] = 0.0f;
  }
  with_flags([&](auto has_w, auto want_dx, auto want_dw, auto want_db, auto stream_dx) {
    const float* w = a.weight;
    for_row_blocks(a.rows, row_block(n), recs.phases, [&](const RowBlock& blk, auto block) {
      constexpr size_t R = decltype(block)::value;
      const float *x[R], *dy[R];
      float* dx[R];
      float mean[R], lo[R], rstd[R], k1[R] = {}, k2[R] = {};
      for (size_t i = 0; i < R; ++i) {
        x[i] = a.x + (blk.first + i * blk.step) * n;
        dy[i] = a.dy + (blk.first + i * blk.step) * n;
        dx[i] = want_dx.value ? a.dx + (blk.first + i * blk.step) * n : nullptr;
        mean[i] = a.mean[blk.first + i * blk.step];
        rstd[i] = a.rstd[blk.first + i * blk.step];
        // The true mean is mean + lo (mean_residual(); 0 for ordinary rows): dw takes x - mean - lo, and dx
        // folds lo into k1 and k2 below. Its own read of the row, only for rows that need it: summed in pass 1
        // it would cost every row an add per element (and pass 1 is skipped without dx).
        lo[i] = want_dx.value || want_dw.value ? float(mean_residual(x[i], n, mean[i], rstd[i])) : 0.0f;
      }
      // Pass 1 for rows [i0, i0 + K) side by side, so that each weight vector is loaded once for all K; each
      // row still adds its own columns in order, so K does not change the result.
      auto pass1 = [&](size_t i0, auto rows_tag) {
        constexpr size_t K = decltype(rows_tag)::value;
        Vf vmean[K], sum_g[K], sum_gxm[K];
        for (size_t i = 0; i < K; ++i) vmean[i] = set1(mean[i0 + i]), sum_g[i] = sum_gxm[i] = zero();
        size_t j = 0;
        for (; j + kLanes <= n; j += kLanes) {
          const Vf vw = has_w.value ? load(w + j) : zero();
          for (size_t i = 0; i < K; ++i) {
            Vf g = load(dy[i0 + i] + j);
            if constexpr (has_w.value) g = mul(g, vw);
            sum_g[i] = add(sum_g[i], g);
            sum_gxm[i] = muladd(g, sub(load(x[i0 + i] + j), vmean[i]), sum_gxm[i]);
          }
        }
        for (size_t i = i0; i < i0 + K; ++i) {
          double sg = reduce_add(sum_g[i - i0]), sgxm = reduce_add(sum_gxm[i - i0]);
          for (size_t t = j; t < n; ++t) {
            const float g = has_w.value ? dy[i][t] * w[t] : dy[i][t];
            sg += g;
            sgxm += double(g) * (x[i][t] - mean[i]);
          }
          sgxm -= double(lo[i]) * sg;  // sums of g * (x - mean - lo)
          const double r64 = rstd[i], k2_64 = r64 * r64 * r64 * sgxm / double(n);
          k1[i] = float(r64 * sg / double(n) - double(lo[i]) * k2_64);  // (x - mean - lo) k2 + k1 = (x - mean) k2 + k1'
          k2[i] = float(k2_64);
        }
      };
      // Together when the weight is too long to stay in L1 (measured 1.05-1.09x at 512x4096 and 64x65536),
      // else row by row (together measured 3-5% slower at 768 and 1024 floats).
      if constexpr (want_dx.value) {
        if (n >= kJointPass1MinCols)
          pass1(0, block);
        else
          for (size_t i = 0; i < R; ++i) pass1(i, SizeTag<1>{});
      }

      if (!recs.vectors) {  // rows shorter than a vector: element by element
        for (size_t j = 0; j < n; ++j)
          for (size_t i = 0; i < R; ++i) {
            const float xm = x[i][j] - mean[i], d_rstd = dy[i][j] * rstd[i];
            if constexpr (want_dw.value) a.dweight[j] += d_rstd * (xm - lo[i]);
            if constexpr (want_db.value) a.dbias[j] += dy[i][j];
            if constexpr (want_dx.value) dx[i][j] = (has_w.value ? d_rstd * w[j] : d_rstd) - (xm * k2[i] + k1[i]);
          }
        return;
      }
      const bool last = blk.next >= a.rows;
      const float* next_x = last ? a.x : a.x + blk.next * n;
      const float* next_dy = last ? a.dy : a.dy + blk.next * n;
      Vf vmean[R], vlo[R], vrstd[R], vk1[R], vk2[R];
      for (size_t i = 0; i < R; ++i) {
        vmean[i] = set1(mean[i]), vlo[i] = set1(lo[i]), vrstd[i] = set1(rstd[i]);
        vk1[i] = set1(k1[i]), vk2[i] = set1(k2[i]);
      }
      // The step at column j: the block's dx there, handed to out(i, v), and its sums added into record r.
      auto step = [&](size_t j, float* r, auto&& out) {
        Vf vw = zero(), dw = zero(), db = zero();
        if constexpr (has_w.value) vw = load(r);
        if constexpr (want_dw.value) dw = load(r + kLanes);
        if constexpr (want_db.value) db = load(r + 2 * kLanes);
        Vf xm[R], d[R];
        for (size_t i = 0; i < R; ++i) xm[i] = sub(load(x[i] + j), vmean[i]), d[i] = load(dy[i] + j);
        for (size_t i = 0; i < R; ++i) {
          const Vf d_rstd = mul(d[i], vrstd[i]);
          if constexpr (want_dw.value) dw = muladd(d_rstd, sub(xm[i], vlo[i]), dw);
          if constexpr (want_db.value) db = add(db, d[i]);
          if constexpr (want_dx.value)
            out(i, sub(has_w.value ? mul(d_rstd, vw) : d_rstd, muladd(xm[i], vk2[i], vk1[i])));
        }
        if constexpr (want_dw.value) store(r + kLanes, dw);
        if constexpr (want_db.value) store(r + 2 * kLanes, db);
      };
      const bool backwards = dx_sweep_backwards(n, dx, x, dy);
      recs.phase(blk.phase).template sweep<R, want_dx.value, stream_dx.value>(dx, next_x, next_dy, blk.next_step * n,
                                                                             backwards, recs.prefetch_twice, step);
    });
  }, a.weight != nullptr, a.dx != nullptr, a.dweight != nullptr, a.dbias != nullptr, recs.streaming);
  if (recs.streaming) stream_fence();
  if (!recs.vectors) return;
  if (a.dweight) recs.sums_to(1, a.dweight);
  if (a.dbias) recs.sums_to(2, a.dbias);
}

// Short rows (rows.inl), kLanes at a time: the two means of each row side by side, then each row's dx, with
// gradWeight and gradBias summed in registers and added to a.dweight/a.dbias at the end.
template <size_t V>
void layer_norm_backward_short(const LayerNormBackward& a, size_t rows) {
  const size_t n = a.cols, last = n - (V - 1) * kLanes;
  const double inv_n = 1.0 / double(n);
  Vf w[V], dw[V], db[V];
  load_short_columns(a.weight, last, 1.0f, w);
  for (size_t k = 0; k < V; ++k) dw[k] = db[k] = zero();
  for (size_t r0 = 0; r0 < rows; r0 += kLanes) {
    const float *x = a.x + r0 * n, *dy = a.dy + r0 * n, *mean = a.mean + r0, *rstd = a.rstd + r0;
    alignas(64) float sum_g[kLanes], sum_gxm[kLanes], lo[kLanes], k1[kLanes], k2[kLanes];
    Vf sg[kLanes], sgxm[kLanes];
    for (size_t i = 0; i < kLanes; ++i) {
      // The true mean is mean + lo, as in layer_norm_backward_blocks().
      lo[i] = a.dx || a.dweight ? float(mean_residual(x + i * n, n, mean[i], rstd[i])) : 0.0f;
      Vf xv[V], d[V];
      load_short_row(x + i * n, last, xv);
      load_short_row(dy + i * n, last, d);
      const Vf m = set1(mean[i]);
      sg[i] = sgxm[i] = zero();
      for (size_t k = 0; k < V; ++k) {
        const Vf g = mul(d[k], w[k]);
        sg[i] = add(sg[i], g);
        sgxm[i] = muladd(g, sub(xv[k], m), sgxm[i]);
      }
    }
    store(sum_g, reduce_add_each(sg));
    store(sum_gxm, reduce_add_each(sgxm));
    for (size_t i = 0; i < kLanes; ++i) {
      const double r64 = rstd[i], sgd = sum_g[i], sgx = double(sum_gxm[i]) - double(lo[i]) * sgd;
      const double k2_64 = r64 * r64 * r64 * sgx * inv_n;
      k1[i] = float(r64 * sgd * inv_n - double(lo[i]) * k2_64);
      k2[i] = float(k2_64);
    }
    for (size_t i = 0; i < kLanes; ++i) {
      Vf xv[V], d[V];
      load_short_row(x + i * n, last, xv);
      load_short_row(dy + i * n, last, d);
      const Vf m = set1(mean[i]), r = set1(rstd[i]), vlo = set1(lo[i]), vk1 = set1(k1[i]), vk2 = set1(k2[i]);
      for (size_t k = 0; k < V; ++k) {
        const Vf xm = sub(xv[k], m), d_rstd = mul(d[k], r);
        dw[k] = muladd(d_rstd, sub(xm, vlo), dw[k]);
        db[k] = add(db[k], d[k]);
        xv[k] = sub(mul(d_rstd, w[k]), muladd(xm, vk2, vk1));  // dx
      }
      if (a.dx) store_short_row(a.dx + (r0 + i) * n, last, xv);
    }
  }
  if (a.dweight) add_to_short_row(a.dweight, last, dw);
  if (a.dbias) add_to_short_row(a.dbias, last, db);
}

// The rows after the short-row batches first: layer_norm_backward_blocks() sets dweight/dbias to their sums
// (zeros when there are none), which the batches then add to.
void layer_norm_backward(const LayerNormBackward& all) {
  const size_t n = all.cols, batched = short_row_batches(all.rows, n, kMaxShortBackwardVectors);
  LayerNormBackward rest = all;
  rest.dy += batched * n, rest.x += batched * n, rest.mean += batched, rest.rstd += batched, rest.rows -= batched;
  if (rest.dx) rest.dx += batched * n;
  layer_norm_backward_blocks(rest);
  if (batched) with_short_row_vectors<kMaxShortBackwardVectors>(n, [&](auto v) { layer_norm_backward_short<v.value>(all, batched); });
}
