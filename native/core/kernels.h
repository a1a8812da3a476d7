// The contract between the instruction-set implementations and everything else.
//
// Each op's arguments travel in one plain struct (pointers already checked by the caller: lengths match,
// outputs do not overlap inputs). Every instruction set (native/isa/) fills one KernelTable with its
// versions of the same kernels; dispatch.h picks the table at load time.
#pragma once
#include <cstddef>

namespace normkit {

// y[r, :] = (x[r, :] - mean[r]) * rstd[r] * weight + bias, over rows of `cols` contiguous floats.
struct LayerNormForward {
  const float* x;
  const float* weight;  // [cols] or null (= 1)
  const float* bias;    // [cols] or null (= 0)
  float* y;             // [rows * cols]; may be x itself (in place)
  float* mean;          // [rows] or null
  float* rstd;          // [rows] or null; 1 / sqrt(biased var + eps)
  size_t rows, cols;
  float eps;
};

// From the saved mean/rstd. Any of dx, dweight, dbias may be null (not wanted).
// dweight/dbias are overwritten (sums over rows), not accumulated into.
struct LayerNormBackward {
  const float* dy;
  const float* x;
  const float* mean;
  const float* rstd;
  const float* weight;  // [cols] or null (= 1)
  float* dx;            // [rows * cols] or null
  float* dweight;       // [cols] or null
  float* dbias;         // [cols] or null
  size_t rows, cols;
};

// y[r, :] = x[r, :] * rstd[r] * weight, rstd = 1 / sqrt(mean(x^2) + eps).
struct RmsNormForward {
  const float* x;
  const float* weight;  // [cols] or null (= 1)
  float* y;             // may be x itself (in place)
  float* rstd;          // [rows] or null
  size_t rows, cols;
  float eps;
};

struct RmsNormBackward {
  const float* dy;
  const float* x;
  const float* rstd;
  const float* weight;  // [cols] or null (= 1)
  float* dx;            // [rows * cols] or null
  float* dweight;       // [cols] or null; overwritten
  size_t rows, cols;
};

// GroupNorm over [batch, channels, spatial] (NCHW) or [batch, spatial, channels] (channels_last), the
// channels split into `groups` consecutive groups (channels % groups == 0); statistics per (batch, group),
// weight/bias per channel. InstanceNorm is groups == channels.
struct GroupNormForward {
  const float* x;
  const float* weight;  // [channels] or null (= 1)
  const float* bias;    // [channels] or null (= 0)
  float* y;             // same layout as x; may be x itself (in place)
  float* mean;          // [batch * groups] or null
  float* rstd;          // [batch * groups] or null
  size_t batch, channels, spatial, groups;
  bool channels_last;
  float eps;
};

// From the saved mean/rstd. Any of dx, dweight, dbias may be null; dweight/dbias are overwritten.
struct GroupNormBackward {
  const float* dy;
  const float* x;
  const float* mean;    // [batch * groups]
  const float* rstd;    // [batch * groups]
  const float* weight;  // [channels] or null (= 1)
  float* dx;            // same layout as x, or null
  float* dweight;       // [channels] or null
  float* dbias;         // [channels] or null
  size_t batch, channels, spatial, groups;
  bool channels_last;
};

struct KernelTable {
  const char* isa;  // "avx512", "avx2", "neon" or "scalar"
  void (*layer_norm_forward)(const LayerNormForward&);
  void (*layer_norm_backward)(const LayerNormBackward&);
  void (*rms_norm_forward)(const RmsNormForward&);
  void (*rms_norm_backward)(const RmsNormBackward&);
  void (*group_norm_forward)(const GroupNormForward&);
  void (*group_norm_backward)(const GroupNormBackward&);
};

// One per instruction set compiled into this binary (defined in native/isa/isa_*.cpp).
extern const KernelTable kAvx512Kernels;
extern const KernelTable kAvx2Kernels;
extern const KernelTable kNeonKernels;
extern const KernelTable kScalarKernels;

}  // namespace normkit
