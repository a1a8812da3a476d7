// The avx512 implementation. Compiled with: -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma (see native/sources.gypi).
#define NORMKIT_ISA avx512
#define NORMKIT_ISA_TABLE kAvx512Kernels
#include "../simd/avx512.h"
#include "implementation.inl"
