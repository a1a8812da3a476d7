// Every kernel of every instruction set this CPU runs, with each buffer a caller passes placed flush against a
// page that cannot be touched, and each input on read-only pages. A kernel that reads past the end of a buffer
// or before its start (a vector load that runs over, a prefetch is fine), or writes into an input, faults
// here, and the report names the case, the buffer and by how many bytes. Built by test/bounds.test.ts from
// native/sources.gypi's list of sources, and also with AddressSanitizer and UBSan (which watch the kernels'
// own stack arrays and arithmetic); test/neon.test.ts runs it for NEON under qemu.
//
// It checks bounds, not values: test/differential.test.ts and the op tests compare results.
// Usage: bounds_check [quick]   (quick: without the large shapes, for slow builds). Prints "N cases, 0 faults".
//        bounds_check overread|underread|write-input   (the harness's own check: must fault and say where)
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/dispatch.h"

using namespace normkit;

namespace {

// ---- buffers between inaccessible pages

struct Guarded {
  const char* name;
  char* map;         // [one inaccessible page][data pages][one inaccessible page]
  size_t map_bytes;
  char* data;        // flush with the end of the data pages, or with their start
  size_t bytes;
};

std::vector<Guarded> live;   // the current case's buffers, for the fault report
std::string current;         // the current case
bool flush_end = true;       // buffers end where the trailing inaccessible page starts (else start after the leading one)
size_t cases = 0;

size_t page_size() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}

void say(const char* s) {
  if (write(2, s, std::strlen(s)) < 0) _exit(3);
}

// On a fault: which case, which buffer, where; then exit (the test reads stderr).
void on_fault(int sig, siginfo_t* info, void*) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  char where[256];
  std::snprintf(where, sizeof where, "address %p, outside every buffer of the case", info->si_addr);
  for (const Guarded& g : live) {
    const uintptr_t m = reinterpret_cast<uintptr_t>(g.map), d = reinterpret_cast<uintptr_t>(g.data);
    if (a < m || a >= m + g.map_bytes) continue;
    if (a < d)
      std::snprintf(where, sizeof where, "%zu bytes before the start of '%s' (%zu bytes)", size_t(d - a), g.name, g.bytes);
    else if (a >= d + g.bytes)
      std::snprintf(where, sizeof where, "%zu bytes past the end of '%s' (%zu bytes)", size_t(a - d - g.bytes), g.name,
                    g.bytes);
    else
      std::snprintf(where, sizeof where, "a write into the input '%s', %zu bytes in", g.name, size_t(a - d));
  }
  char msg[768];
  std::snprintf(msg, sizeof msg, "FAULT (signal %d) in %s: %s\n", sig, current.c_str(), where);
  say(msg);
  _exit(2);
}

void* guarded_bytes(const char* name, size_t bytes) {
  const size_t page = page_size(), data_pages = (bytes + page - 1) / page;
  const size_t map_bytes = (data_pages + 2) * page;
  void* p = mmap(nullptr, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    say("mmap failed\n");
    _exit(3);
  }
  char* map = static_cast<char*>(p);
  if (data_pages && mprotect(map + page, data_pages * page, PROT_READ | PROT_WRITE) != 0) {
    say("mprotect failed\n");
    _exit(3);
  }
  char* data = flush_end ? map + (data_pages + 1) * page - bytes : map + page;
  live.push_back({name, map, map_bytes, data, bytes});
  return data;
}

// After filling: the data pages of the last buffer read-only.
void seal(const void* data) {
  for (const Guarded& g : live)
    if (g.data == data && g.bytes) {
      const size_t page = page_size();
      const uintptr_t first = (reinterpret_cast<uintptr_t>(g.data) / page) * page;
      const uintptr_t end = reinterpret_cast<uintptr_t>(g.data) + g.bytes;
      mprotect(reinterpret_cast<void*>(first), ((end - first + page - 1) / page) * page, PROT_READ);
    }
}

unsigned seed = 1;
float uniform() {  // [0, 1)
  seed = seed * 1103515245u + 12345u;
  return float((seed >> 8) & 0xffff) / 65536.0f;
}

// The kinds of data: ordinary, far from zero next to its spread (the kernels' second passes and mean
// corrections), and large enough that float sums of squares overflow (their passes in double).
float value(int kind) {
  const float u = uniform();
  return kind == 0 ? 1 + 2 * u : kind == 1 ? 1e4f + 1e-2f * u : 1e20f * (u - 0.5f);
}

// An input of n values of a kind (read-only); an output (writable, filled with NaN); a read-only copy.
const float* input(const char* name, size_t n, int kind = 0) {
  float* p = static_cast<float*>(guarded_bytes(name, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) p[i] = value(kind);
  seal(p);
  return p;
}
float* output(const char* name, size_t n) {
  float* p = static_cast<float*>(guarded_bytes(name, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) p[i] = NAN;
  return p;
}
double* output64(const char* name, size_t n) {
  double* p = static_cast<double*>(guarded_bytes(name, n * sizeof(double)));
  for (size_t i = 0; i < n; ++i) p[i] = NAN;
  return p;
}
template <typename T>
const T* frozen(const char* name, const T* from, size_t n) {
  T* p = static_cast<T*>(guarded_bytes(name, n * sizeof(T)));
  if (n) std::memcpy(p, from, n * sizeof(T));
  seal(p);
  return p;
}
float* copy_of(const char* name, const float* from, size_t n) {  // writable (an in-place op's input)
  float* p = output(name, n);
  if (n) std::memcpy(p, from, n * sizeof(float));
  return p;
}

// One case: its buffers are unmapped after it.
void run_case(const std::string& name, const std::function<void()>& body) {
  current = name;
  body();
  for (const Guarded& g : live) munmap(g.map, g.map_bytes);
  live.clear();
  ++cases;
}

std::string label(const KernelTable& k, const char* op, const std::string& shape, int kind) {
  return std::string(k.isa) + " " + op + " " + shape + " data kind " + std::to_string(kind) +
         (flush_end ? " (buffers end at a page)" : " (buffers start at a page)");
}

// ---- the ops

void rows_ops(const KernelTable& k, size_t R, size_t C, int kind, bool all_variants) {
  const size_t n = R * C;
  const std::string shape = std::to_string(R) + "x" + std::to_string(C);
  for (int wb = all_variants ? 0 : 3; wb < 4; ++wb) {
    const bool hw = wb & 1, hb = wb & 2;
    run_case(label(k, hw ? (hb ? "layerNorm +w +b" : "layerNorm +w") : hb ? "layerNorm +b" : "layerNorm", shape, kind), [&] {
      const float* x = input("x", n, kind);
      const float* w = hw ? input("weight", C) : nullptr;
      const float* b = hb ? input("bias", C) : nullptr;
      float *y = output("y", n), *mean = output("mean", R), *rstd = output("rstd", R);
      k.layer_norm_forward({x, w, b, y, mean, rstd, R, C, 1e-5f});
      if (all_variants) k.layer_norm_forward({x, w, b, y, nullptr, nullptr, R, C, 1e-5f});
      float* inplace = copy_of("x (in place)", x, n);
      k.layer_norm_forward({inplace, w, b, inplace, nullptr, nullptr, R, C, 1e-5f});
      const float *m = frozen("mean (saved)", mean, R), *r = frozen("rstd (saved)", rstd, R);
      const float* dy = input("dy", n);
      for (int mask = all_variants ? 1 : 7; mask < 8; ++mask)  // which of dx, dweight, dbias are wanted
        k.layer_norm_backward({dy, x, m, r, w, mask & 1 ? output("dx", n) : nullptr,
                               mask & 2 ? output("dweight", C) : nullptr, mask & 4 ? output("dbias", C) : nullptr, R, C});
    });
    if (all_variants && hb) continue;  // RMSNorm has no bias: its two variants are wb = 0 and 1
    run_case(label(k, hw ? "rmsNorm +w" : "rmsNorm", shape, kind), [&] {
      const float* x = input("x", n, kind);
      const float* w = hw ? input("weight", C) : nullptr;
      float *y = output("y", n), *rstd = output("rstd", R);
      k.rms_norm_forward({x, w, y, rstd, R, C, 1e-6f});
      if (all_variants) k.rms_norm_forward({x, w, y, nullptr, R, C, 1e-6f});
      float* inplace = copy_of("x (in place)", x, n);
      k.rms_norm_forward({inplace, w, inplace, nullptr, R, C, 1e-6f});
      const float* r = frozen("rstd (saved)", rstd, R);
      const float* dy = input("dy", n);
      for (int mask = all_variants ? 1 : 3; mask < 4; ++mask)
        k.rms_norm_backward({dy, x, r, w, mask & 1 ? output("dx", n) : nullptr, mask & 2 ? output("dweight", C) : nullptr,
                             R, C});
    });
  }
}

void group_ops(const KernelTable& k, size_t N, size_t C, size_t S, size_t G, bool last, int kind, bool all_variants) {
  const size_t n = N * C * S;
  const std::string shape = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(S) + "/g" +
                            std::to_string(G) + (last ? " channels-last" : " channels-first");
  for (int wb = all_variants ? 0 : 3; wb < 4; wb += 3) {
    const bool affine = wb == 3;
    run_case(label(k, affine ? "groupNorm +w +b" : "groupNorm", shape, kind), [&] {
      const float* x = input("x", n, kind);
      const float* w = affine ? input("weight", C) : nullptr;
      const float* b = affine ? input("bias", C) : nullptr;
      float *y = output("y", n), *mean = output("mean", N * G), *rstd = output("rstd", N * G);
      k.group_norm_forward({x, w, b, y, mean, rstd, N, C, S, G, last, 1e-5f});
      float* inplace = copy_of("x (in place)", x, n);
      k.group_norm_forward({inplace, w, b, inplace, nullptr, nullptr, N, C, S, G, last, 1e-5f});
      const float *m = frozen("mean (saved)", mean, N * G), *r = frozen("rstd (saved)", rstd, N * G);
      const float* dy = input("dy", n);
      for (int mask = all_variants ? 1 : 7; mask < 8; ++mask)
        k.group_norm_backward({dy, x, m, r, w, mask & 1 ? output("dx", n) : nullptr,
                               mask & 2 ? output("dweight", C) : nullptr, mask & 4 ? output("dbias", C) : nullptr, N,
                               C, S, G, last});
    });
  }
}

void batch_ops(const KernelTable& k, size_t N, size_t C, size_t S, bool last, int kind, bool all_variants) {
  const size_t n = N * C * S;
  const BatchNormShape sh{N, C, S, last};
  const std::string shape = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(S) +
                            (last ? " channels-last" : " channels-first");
  for (int wb = all_variants ? 0 : 3; wb < 4; wb += 3) {
    const bool affine = wb == 3;
    run_case(label(k, affine ? "batchNorm +w +b" : "batchNorm", shape, kind), [&] {
      const float* x = input("x", n, kind);
      const float* w = affine ? input("weight", C) : nullptr;
      const float* b = affine ? input("bias", C) : nullptr;
      float *y = output("y", n), *rm = copy_of("runningMean", input("runningMean (start)", C), C);
      float* rv = copy_of("runningVar", input("runningVar (start)", C), C);
      double* save_mean = output64("saveMean", C);
      float* save_invstd = output("saveInvstd", C);
      // Training, with and without running statistics, and in place.
      k.batch_norm_forward({sh, x, w, b, rm, rv, y, save_mean, save_invstd, 0.1, 1e-5f, true, true});
      k.batch_norm_forward({sh, x, w, b, nullptr, nullptr, y, save_mean, save_invstd, 0.1, 1e-5f, true, false});
      float* inplace = copy_of("x (in place)", x, n);
      k.batch_norm_forward({sh, inplace, w, b, nullptr, nullptr, inplace, save_mean, save_invstd, 0.1, 1e-5f, true, true});
      // Inference: the running statistics are read, never written (read-only here).
      const float *frm = frozen("runningMean (inference)", rm, C), *frv = frozen("runningVar (inference)", rv, C);
      k.batch_norm_forward({sh, x, w, b, const_cast<float*>(frm), const_cast<float*>(frv), y, output64("saveMean (inference)", C),
                            output("saveInvstd (inference)", C), 0.1, 1e-5f, false, true});
      // Backward from the batch statistics (training) and from the running ones (inference).
      const double* m = frozen("saveMean (saved)", save_mean, C);
      const float* is = frozen("saveInvstd (saved)", save_invstd, C);
      const float* dy = input("dy", n);
      for (int training = 0; training < 2; ++training)
        for (int mask = all_variants ? 0 : 7; mask < 8; ++mask)
          k.batch_norm_backward({sh, dy, x, training ? m : nullptr, training ? nullptr : frm, training ? is : frv, w,
                                 mask & 1 ? output("dx", n) : nullptr, mask & 2 ? output("dweight", C) : nullptr,
                                 mask & 4 ? output("dbias", C) : nullptr, training == 1, 1e-5f});
      // The SyncBatchNorm pieces.
      k.batch_norm_stats({sh, x, output64("mean", C), output64("m2", C)});
      k.batch_norm_elemt({sh, x, m, is, w, b, output("y (elemt)", n)});
      float* inplace2 = copy_of("x (elemt in place)", x, n);
      k.batch_norm_elemt({sh, inplace2, m, is, w, b, inplace2});
      double *sdy = output64("sumDy", C), *sdx = output64("sumDyXmu", C);
      k.batch_norm_backward_reduce({sh, dy, x, m, is, sdy, sdx, output("dweight (reduce)", C), output("dbias (reduce)", C)});
      if (all_variants) k.batch_norm_backward_reduce({sh, dy, x, m, is, nullptr, nullptr, nullptr, nullptr});
      const double *fsdy = frozen("sumDy (reduced)", sdy, C), *fsdx = frozen("sumDyXmu (reduced)", sdx, C);
      k.batch_norm_backward_elemt({sh, dy, x, m, is, w, fsdy, fsdx, double(N * S > 0 ? N * S : 1), output("dx (elemt)", n)});
    });
  }
}

void all_ops(const KernelTable& k, bool quick) {
  // Rows: widths around vector and cache-line sizes and the kernels' thresholds (row pairs up to 4 KiB, rows
  // 4 KiB apart, blocks of 2 or 4 rows, rows of odd length that are not all aligned alike); 0 to 33 rows.
  const size_t widths[] = {1, 3, 8, 15, 16, 17, 31, 33, 64, 100, 255, 768, 1000, 1001, 1024, 4096, 4099};
  const size_t rows[] = {0, 1, 2, 3, 16, 17, 33};
  for (size_t C : widths)
    for (size_t R : rows)
      for (int kind = 0; kind < 3; ++kind) rows_ops(k, R, C, kind, kind == 0);
  // GroupNorm: (N, C, S, G), InstanceNorm (G = C) and G = 1 among them.
  const size_t groups[][4] = {{2, 6, 5, 3}, {1, 4, 1, 2}, {3, 32, 49, 8}, {2, 64, 17, 64}, {2, 16, 100, 1},
                              {1, 48, 21, 4}, {0, 4, 3, 2}, {2, 4, 0, 2}, {2, 16, 784, 4}, {5, 64, 3, 16},
                              {17, 32, 1, 2}, {7, 12, 1, 12}, {5, 10, 2, 10}};
  for (const auto& g : groups)
    for (int last = 0; last < 2; ++last)
      for (int kind = 0; kind < 3; ++kind) group_ops(k, g[0], g[1], g[2], g[3], last == 1, kind, kind == 0);
  // BatchNorm: (N, C, S), with [N, C] (S = 1), C above one chunk of columns, and an empty batch.
  const size_t batches[][3] = {{2, 3, 5}, {4, 16, 1}, {3, 17, 9}, {2, 64, 49}, {256, 33, 1}, {2, 5, 257},
                               {5, 1100, 3}, {0, 4, 3}, {3, 4, 0}, {64, 512, 1}};
  for (const auto& s : batches)
    for (int last = 0; last < 2; ++last)
      for (int kind = 0; kind < 3; ++kind) batch_ops(k, s[0], s[1], s[2], last == 1, kind, kind == 0);
  if (quick) return;
  // Large enough for streaming stores (the op's data >= 16 MiB) and for the kernels' big-row paths.
  const size_t big_rows[][2] = {{2100, 1001}, {2048, 1024}, {1500, 1001}, {64, 65536}, {2, 2100001}};
  for (const auto& s : big_rows) rows_ops(k, s[0], s[1], 0, false);
  for (int last = 0; last < 2; ++last) {
    group_ops(k, 4, 64, 8193, 32, last == 1, 0, false);
    batch_ops(k, 16, 64, 2049, last == 1, 0, false);
    batch_ops(k, 2049, 64, 16, last == 1, 0, false);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
  if (mode == "overread" || mode == "underread" || mode == "write-input") {  // what a faulty kernel would do
    flush_end = mode != "underread";
    run_case("self-check " + mode, [&] {
      const float* x = input("x", 5);
      volatile float v = mode == "overread" ? x[5] : mode == "underread" ? x[-1] : 0.0f;
      if (mode == "write-input") const_cast<volatile float*>(x)[2] = v;
    });
    std::printf("no fault\n");
    return 1;
  }
  const bool quick = mode == "quick";
  for (const KernelTable* k : supported_kernels()) {
    for (int end = 1; end >= 0; --end) {
      flush_end = end == 1;
      all_ops(*k, quick);
    }
    std::printf("%s checked\n", k->isa);
    std::fflush(stdout);
  }
  std::printf("%zu cases, 0 faults\n", cases);
  return 0;
}
