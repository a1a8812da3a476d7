// One instruction set's implementation: the kernel sources compiled in namespace normkit::NORMKIT_ISA with
// this translation unit's flags, gathered into a KernelTable. Each isa/<name>.cpp defines NORMKIT_ISA and
// NORMKIT_ISA_TABLE, includes its simd/<name>.h, then this file.
//
// Everything here lives in the ISA's own namespace so that no inline function compiled with AVX-512 flags
// can be merged by the linker with its twin from the scalar baseline (that would put AVX-512 instructions
// on the baseline's path). For the same reason kernels use no std:: templates, only <cmath> built-ins.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/kernels.h"

namespace normkit {
namespace NORMKIT_ISA {
#include "../kernels/rows.inl"
#include "../kernels/columns.inl"
#include "../kernels/layer_norm.inl"
#include "../kernels/rms_norm.inl"
#include "../kernels/group_norm.inl"
#include "../kernels/batch_norm.inl"
}  // namespace NORMKIT_ISA

#define NORMKIT_STRINGIFY2(x) #x
#define NORMKIT_STRINGIFY(x) NORMKIT_STRINGIFY2(x)

extern const KernelTable NORMKIT_ISA_TABLE = {
    NORMKIT_STRINGIFY(NORMKIT_ISA),
    NORMKIT_ISA::layer_norm_forward,
    NORMKIT_ISA::layer_norm_backward,
    NORMKIT_ISA::rms_norm_forward,
    NORMKIT_ISA::rms_norm_backward,
    NORMKIT_ISA::group_norm_forward,
    NORMKIT_ISA::group_norm_backward,
    NORMKIT_ISA::batch_norm_forward,
    NORMKIT_ISA::batch_norm_backward,
    NORMKIT_ISA::batch_norm_stats,
    NORMKIT_ISA::batch_norm_elemt,
    NORMKIT_ISA::batch_norm_backward_reduce,
    NORMKIT_ISA::batch_norm_backward_elemt,
};
}  // namespace normkit
