// The neon implementation. Compiled with: (AArch64 baseline) (see native/sources.gypi).
#define NORMKIT_ISA neon
#define NORMKIT_ISA_TABLE kNeonKernels
#include "../simd/neon.h"
#include "implementation.inl"
