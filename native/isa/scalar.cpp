// The scalar implementation. Compiled with: (the target's baseline flags only) (see native/sources.gypi).
#define NORMKIT_ISA scalar
#define NORMKIT_ISA_TABLE kScalarKernels
#include "../simd/scalar.h"
#include "implementation.inl"
