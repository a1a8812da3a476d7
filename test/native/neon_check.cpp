// The NEON kernels against the scalar baseline, built for arm64 and run under qemu by test/neon.test.ts (on
// x86-64 machines, where no arm64 CPU can run them natively). Every op whose sweeps depend on where a buffer
// sits (aligned steps, rotated coefficients, end vectors) runs with its buffers at each of the four float
// offsets within a NEON vector: the results must match the scalar kernels within the tests' tolerances and
// be bit for bit the same at every offset. Prints "N failures" and exits non-zero on any.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/kernels.h"

using namespace normkit;

namespace {

unsigned seed = 1;
float uniform() {
  seed = seed * 1103515245u + 12345u;
  return float((seed >> 8) & 0xffff) / 65536.0f;
}

int failures = 0;

// Largest difference relative to the largest |expected|.
void near(const char* what, const std::vector<float>& expected, const float* got, double tol) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff = std::fmax(diff, std::fabs(double(expected[i]) - got[i]));
    scale = std::fmax(scale, std::fabs(double(expected[i])));
  }
  if (!(diff / scale <= tol)) std::printf("FAIL %s: relative error %.3g\n", what, diff / scale), ++failures;
}

void same(const char* what, const std::vector<float>& expected, const float* got) {
  if (std::memcmp(expected.data(), got, expected.size() * sizeof(float)) != 0)
    std::printf("FAIL %s: not bit for bit the same as at offset 0\n", what), ++failures;
}

// n floats starting `offset` floats past a 64-byte boundary.
struct Buffer {
  std::vector<float> storage;
  float* p;
  Buffer(size_t n, size_t offset) : storage(n + 32) {
    p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage.data()) + 63) & ~uintptr_t(63)) + offset;
  }
};

// Checks one output: against the scalar result (t == 1) or, for NEON, against its own result at offset 0.
struct Output {
  std::vector<float> neon0;
  void check(const char* what, int t, size_t offset, const float* got, size_t n, double tol) {
    if (t == 0 && offset == 0) neon0.assign(got, got + n);
    if (t == 0 && offset != 0) same(what, neon0, got);
    if (t == 1) near(what, neon0, got, tol);
  }
};

}  // namespace

int main() {
  const KernelTable* tables[2] = {&kNeonKernels, &kScalarKernels};
  const char* names[2] = {"neon", "scalar"};
  char what[128];

  // LayerNorm forward/backward (row pairs, backward records) and RMSNorm backward.
  const size_t rows_cols[][2] = {{17, 768}, {16, 100}, {19, 40}, {5, 1000}, {6, 7}, {33, 64}, {2, 4099}, {37, 13}, {20, 32}, {21, 60}};
  for (const auto& shape : rows_cols) {
    const size_t R = shape[0], C = shape[1], n = R * C;
    std::vector<float> x(n), dy(n), w(C), b(C);
    for (float& v : x) v = 1 + 2 * uniform();
    for (float& v : dy) v = uniform() - 0.5f;
    for (float& v : w) v = 1 + 0.2f * uniform();
    for (float& v : b) v = uniform();
    Output y, dx, dw, db, rdx, rdw;
    for (size_t offset = 0; offset < 4; ++offset)
      for (int t = 0; t < 2; ++t) {
        Buffer X(n, offset), DY(n, (offset + 1) % 4), Y(n, (offset * 3) % 4), DX(n, (offset * 3) % 4);
        std::memcpy(X.p, x.data(), n * sizeof(float));
        std::memcpy(DY.p, dy.data(), n * sizeof(float));
        std::vector<float> mean(R), rstd(R), gw(C), gb(C);
        tables[t]->layer_norm_forward({X.p, w.data(), b.data(), Y.p, mean.data(), rstd.data(), R, C, 1e-5f});
        tables[t]->layer_norm_backward(
            {DY.p, X.p, mean.data(), rstd.data(), w.data(), DX.p, gw.data(), gb.data(), R, C});
        std::snprintf(what, sizeof what, "layerNorm %zux%zu, offset %zu, %s", R, C, offset, names[t]);
        y.check(what, t, offset, Y.p, n, 1e-5);
        dx.check(what, t, offset, DX.p, n, 1e-4);
        dw.check(what, t, offset, gw.data(), C, 1e-4);
        db.check(what, t, offset, gb.data(), C, 1e-4);

        Buffer RY(n, 0), RDX(n, (offset * 3) % 4);
        std::vector<float> rrstd(R), rgw(C);
        tables[t]->rms_norm_forward({X.p, w.data(), RY.p, rrstd.data(), R, C, 1e-6f});
        tables[t]->rms_norm_backward({DY.p, X.p, rrstd.data(), w.data(), RDX.p, rgw.data(), R, C});
        std::snprintf(what, sizeof what, "rmsNorm %zux%zu, offset %zu, %s", R, C, offset, names[t]);
        rdx.check(what, t, offset, RDX.p, n, 1e-4);
        rdw.check(what, t, offset, rgw.data(), C, 1e-4);
      }
  }

  // BatchNorm and GroupNorm channels-last (per-column sums over aligned vectors, flat sweeps with rotated
  // coefficients), forward and backward; the shapes span several row blocks of the sums. With one position
  // (40x1x24) GroupNorm takes its short-channel path, the forward's statistics four groups at a time.
  const size_t nsc[][3] = {{3, 5, 16}, {2, 21, 48}, {4, 7, 12}, {1, 10, 64}, {2, 60, 16}, {1, 90, 20}, {40, 1, 24}};
  for (const auto& shape : nsc) {
    const size_t N = shape[0], S = shape[1], C = shape[2], n = N * S * C, G = C / 4;
    std::vector<float> x(n), dy(n), w(C);
    for (float& v : x) v = 0.5f + 1.5f * uniform();
    for (float& v : dy) v = uniform() - 0.5f;
    for (float& v : w) v = 1 + 0.2f * uniform();
    Output by, bdx, bdw, bdb, gy, gdx, gdw, gdb;
    for (size_t offset = 0; offset < 4; ++offset)
      for (int t = 0; t < 2; ++t) {
        Buffer X(n, offset), DY(n, (offset + 1) % 4), Y(n, (offset * 3) % 4), DX(n, (offset * 3) % 4);
        Buffer GY(n, (offset + 2) % 4), GDX(n, offset);
        std::memcpy(X.p, x.data(), n * sizeof(float));
        std::memcpy(DY.p, dy.data(), n * sizeof(float));
        std::vector<double> save_mean(C);
        std::vector<float> save_invstd(C), gw(C), gb(C), mean(N * G), rstd(N * G);
        const BatchNormShape bn{N, C, S, true};
        tables[t]->batch_norm_forward({bn, X.p, w.data(), nullptr, nullptr, nullptr, Y.p, save_mean.data(),
                                       save_invstd.data(), 0.1, 1e-5f, true, true});
        tables[t]->batch_norm_backward(
            {bn, DY.p, X.p, save_mean.data(), nullptr, save_invstd.data(), w.data(), DX.p, gw.data(), gb.data(), true,
             1e-5f});
        std::snprintf(what, sizeof what, "batchNorm NHWC %zux%zux%zu, offset %zu, %s", N, S, C, offset, names[t]);
        by.check(what, t, offset, Y.p, n, 1e-5);
        bdx.check(what, t, offset, DX.p, n, 1e-4);
        bdw.check(what, t, offset, gw.data(), C, 1e-4);
        bdb.check(what, t, offset, gb.data(), C, 1e-4);
        tables[t]->group_norm_forward({X.p, w.data(), nullptr, GY.p, mean.data(), rstd.data(), N, C, S, G, true, 1e-5f});
        tables[t]->group_norm_backward(
            {DY.p, X.p, mean.data(), rstd.data(), w.data(), GDX.p, gw.data(), gb.data(), N, C, S, G, true});
        std::snprintf(what, sizeof what, "groupNorm NHWC %zux%zux%zu, offset %zu, %s", N, S, C, offset, names[t]);
        gy.check(what, t, offset, GY.p, n, 1e-5);
        gdx.check(what, t, offset, GDX.p, n, 1e-4);
        gdw.check(what, t, offset, gw.data(), C, 1e-4);
        gdb.check(what, t, offset, gb.data(), C, 1e-4);
      }
  }

  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
