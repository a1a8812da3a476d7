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

// BatchNorm: a tensor of n samples, c channels and s positions per sample (the product of the spatial
// dims; 1 for [N, C]), stored channels-first ([N, C, *spatial]: element (i, ch, k) at (i*c + ch)*s + k) or
// channels-last ([N, *spatial, C]: at (i*s + k)*c + ch). Statistics are per channel over count = n * s.
// Means travel in double: x - mean must stay exact when the mean is large next to the spread.
struct BatchNormShape {
  size_t n, c, s;
  bool channels_last;
};

// training: y = (x - batch mean) * invstd * weight + bias, invstd = 1 / sqrt(biased batch var + eps); the
// running stats (if given) become (1 - momentum) * running + momentum * batch, the variance unbiased
// (PyTorch) or biased (Keras). Inference: the same with the running stats, which are then required.
struct BatchNormForward {
  BatchNormShape shape;
  const float* x;
  const float* weight;   // [c] or null (= 1)
  const float* bias;     // [c] or null (= 0)
  float* running_mean;   // [c]; training: updated in place if given; inference: read
  float* running_var;    // [c]; as running_mean
  float* y;              // may be x itself (in place)
  double* save_mean;     // [c] or null; training only
  float* save_invstd;    // [c] or null; training only
  double momentum;
  float eps;
  bool training;
  bool unbiased_running_var;
};

// Gradients from the statistics the forward used: the batch's (training) or the running ones (inference,
// where mean and invstd are constants and dx = dy * invstd * weight). dweight/dbias are overwritten.
struct BatchNormBackward {
  BatchNormShape shape;
  const float* dy;
  const float* x;
  const double* save_mean;     // [c]: training (null in inference)
  const float* running_mean;   // [c]: inference (null in training)
  const float* invstd_or_var;  // [c]: saveInvstd (training) or the running variance (inference)
  const float* weight;         // [c] or null (= 1)
  float* dx;                   // or null
  float* dweight;              // [c] or null
  float* dbias;                // [c] or null
  bool training;
  float eps;  // inference: invstd = 1 / sqrt(running variance + eps), as batch_norm_forward() computes it
};

// SyncBatchNorm pieces (PyTorch's split). Per-channel mean and M2 = sum of squared deviations.
struct BatchNormStats {
  BatchNormShape shape;
  const float* x;
  double* mean;  // [c]
  double* m2;    // [c]
};

// y = (x - mean) * invstd * weight + bias with given statistics.
struct BatchNormElemt {
  BatchNormShape shape;
  const float* x;
  const double* mean;
  const float* invstd;
  const float* weight;  // or null
  const float* bias;    // or null
  float* y;             // may be x
};

// Per channel: sum_dy = sum(dy), sum_dy_xmu = sum(dy * (x - mean)); dweight = sum_dy_xmu * invstd,
// dbias = sum_dy. Any output may be null.
struct BatchNormBackwardReduce {
  BatchNormShape shape;
  const float* dy;
  const float* x;
  const double* mean;
  const float* invstd;
  double* sum_dy;
  double* sum_dy_xmu;
  float* dweight;
  float* dbias;
};

// dx = weight * invstd * (dy - sum_dy / count - (x - mean) * invstd^2 * sum_dy_xmu / count), with the sums
// and count of the whole (possibly distributed) batch.
struct BatchNormBackwardElemt {
  BatchNormShape shape;
  const float* dy;
  const float* x;
  const double* mean;
  const float* invstd;
  const float* weight;  // or null
  const double* sum_dy;
  const double* sum_dy_xmu;
  double count;
  float* dx;
};

struct KernelTable {
  const char* isa;  // "avx512", "avx2", "neon" or "scalar"
  void (*layer_norm_forward)(const LayerNormForward&);
  void (*layer_norm_backward)(const LayerNormBackward&);
  void (*rms_norm_forward)(const RmsNormForward&);
  void (*rms_norm_backward)(const RmsNormBackward&);
  void (*group_norm_forward)(const GroupNormForward&);
  void (*group_norm_backward)(const GroupNormBackward&);
  void (*batch_norm_forward)(const BatchNormForward&);
  void (*batch_norm_backward)(const BatchNormBackward&);
  void (*batch_norm_stats)(const BatchNormStats&);
  void (*batch_norm_elemt)(const BatchNormElemt&);
  void (*batch_norm_backward_reduce)(const BatchNormBackwardReduce&);
  void (*batch_norm_backward_elemt)(const BatchNormBackwardElemt&);
};

// One per instruction set compiled into this binary (defined in native/isa/isa_*.cpp).
extern const KernelTable kAvx512Kernels;
extern const KernelTable kAvx2Kernels;
extern const KernelTable kNeonKernels;
extern const KernelTable kScalarKernels;

}  // namespace normkit
