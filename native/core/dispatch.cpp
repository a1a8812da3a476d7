#include "dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#define NORMKIT_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace normkit {
namespace {

struct Features {
  bool avx2_fma = false;
  bool avx512 = false;  // F + DQ + VL + BW, with the OS saving the ZMM and opmask state
  bool neon = false;
  std::vector<std::string> names;
};

#if NORMKIT_X86
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  __cpuidex(reinterpret_cast<int*>(r), int(leaf), int(sub));
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

// XCR0: which register state the OS saves on a context switch. A CPU flag alone is not enough.
unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}
#endif

Features detect() {
  Features f;
#if NORMKIT_X86
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(1, 0, r);
  const bool fma = r[2] & (1u << 12), osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28);
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;          // + opmask, ZMM_Hi256, Hi16_ZMM
  bool avx2 = false, f512 = false, dq = false, bw = false, vl = false;
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    avx2 = r[1] & (1u << 5);
    f512 = r[1] & (1u << 16);
    dq = r[1] & (1u << 17);
    bw = r[1] & (1u << 30);
    vl = r[1] & (1u << 31);
  }
  auto add = [&](bool on, const char* name) { if (on) f.names.push_back(name); };
  add(avx, "avx"); add(fma, "fma"); add(avx2, "avx2"); add(f512, "avx512f"); add(dq, "avx512dq");
  add(bw, "avx512bw"); add(vl, "avx512vl"); add(os_ymm, "os-ymm-state"); add(os_zmm, "os-zmm-state");
  f.avx2_fma = avx && avx2 && fma && os_ymm;
  f.avx512 = f.avx2_fma && f512 && dq && bw && vl && os_zmm;
#elif defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;  // Advanced SIMD is part of every AArch64 CPU
  f.names.push_back("neon");
#endif
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

}  // namespace

std::vector<const KernelTable*> compiled_kernels() {
  std::vector<const KernelTable*> all;
#if NORMKIT_X86
  all.push_back(&kAvx512Kernels);
  all.push_back(&kAvx2Kernels);
#elif defined(__aarch64__) || defined(_M_ARM64)
  all.push_back(&kNeonKernels);
#endif
  all.push_back(&kScalarKernels);
  return all;
}

std::vector<const KernelTable*> supported_kernels() {
  const Features& f = features();
  std::vector<const KernelTable*> out;
  for (const KernelTable* k : compiled_kernels()) {
    const std::string isa = k->isa;
    const bool ok = isa == "scalar" || (isa == "avx2" && f.avx2_fma) || (isa == "avx512" && f.avx512) ||
                    (isa == "neon" && f.neon);
    if (ok) out.push_back(k);
  }
  return out;
}

const KernelTable* select_kernels(const std::string& name, std::string* error) {
  const std::vector<const KernelTable*> supported = supported_kernels();
  if (name.empty()) return supported.front();  // best first; scalar is always there
  for (const KernelTable* k : supported)
    if (name == k->isa) return k;
  bool compiled = false;
  for (const KernelTable* k : compiled_kernels()) compiled = compiled || name == k->isa;
  std::string have;
  for (const KernelTable* k : supported) have += std::string(have.empty() ? "" : ", ") + k->isa;
  if (!compiled && name != "avx512" && name != "avx2" && name != "neon" && name != "scalar")
    *error = "unknown instruction set '" + name + "' (expected avx512, avx2, neon or scalar)";
  else if (!compiled)
    *error = "instruction set '" + name + "' is not compiled into this build (this CPU architecture)";
  else
    *error = "this CPU or OS does not support instruction set '" + name + "'";
  *error += "; available here: " + have;
  return nullptr;
}

std::vector<std::string> cpu_features() { return features().names; }

}  // namespace normkit
