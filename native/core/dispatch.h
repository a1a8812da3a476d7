// Picks the instruction set at load time, from what the CPU and the OS support, or from NORMKIT_ISA.
#pragma once
#include <string>
#include <vector>

#include "kernels.h"

namespace normkit {

// The implementations compiled into this binary, best first, that this CPU and OS can run.
std::vector<const KernelTable*> supported_kernels();

// Every implementation compiled into this binary, whether this CPU can run it or not.
std::vector<const KernelTable*> compiled_kernels();

// The best supported implementation, or the one named (avx512, avx2, neon, scalar).
// Returns null and sets *error when the name is unknown, not compiled in, or not supported here.
const KernelTable* select_kernels(const std::string& name, std::string* error);

// CPU features seen, for the diagnostics ("avx512f", "avx2", "fma", "neon", ...).
std::vector<std::string> cpu_features();

}  // namespace normkit
