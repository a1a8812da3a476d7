// The avx2 implementation. Compiled with: -mavx2 -mfma (see native/sources.gypi).
#define NORMKIT_ISA avx2
#define NORMKIT_ISA_TABLE kAvx2Kernels
#include "../simd/avx2.h"
#include "implementation.inl"
