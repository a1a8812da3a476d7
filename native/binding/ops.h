// Each op the addon exports: its JavaScript name, how its positional arguments map onto the kernel's
// parameter struct (the order of the parse() calls is the order of the arguments), and which kernel runs it.
// Arguments are named as in the public TypeScript API ('out.output', 'options.mean'), so that an error
// reads the same whichever layer raises it.
#pragma once
#include "../core/kernels.h"
#include "args.h"

namespace normkit {

// layerNorm(rows, cols, input, weight?, bias?, eps, output, mean?, rstd?)
struct LayerNormForwardOp {
  static constexpr const char* kName = "layerNorm";
  using Params = LayerNormForward;
  static Params parse(Args& in) {
    Params p{};
    p.rows = in.dim("rows");
    p.cols = in.positive_dim("cols");
    const size_t n = in.product(p.rows, p.cols, "rows * cols");
    p.x = in.input("input", n);
    p.weight = in.optional_input("weight", p.cols);
    p.bias = in.optional_input("bias", p.cols);
    p.eps = in.non_negative("eps");
    p.y = in.output("out.output", n, "input");
    p.mean = in.optional_output("out.mean", p.rows);
    p.rstd = in.optional_output("out.rstd", p.rows);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.layer_norm_forward(p); }
};

// layerNormBackward(rows, cols, gradOutput, input, mean, rstd, weight?, gradInput?, gradWeight?, gradBias?)
struct LayerNormBackwardOp {
  static constexpr const char* kName = "layerNormBackward";
  using Params = LayerNormBackward;
  static Params parse(Args& in) {
    Params p{};
    p.rows = in.dim("rows");
    p.cols = in.positive_dim("cols");
    const size_t n = in.product(p.rows, p.cols, "rows * cols");
    p.dy = in.input("gradOutput", n);
    p.x = in.input("input", n);
    p.mean = in.input("options.mean", p.rows);
    p.rstd = in.input("options.rstd", p.rows);
    p.weight = in.optional_input("options.weight", p.cols);
    p.dx = in.optional_output("out.gradInput", n);
    p.dweight = in.optional_output("out.gradWeight", p.cols);
    p.dbias = in.optional_output("out.gradBias", p.cols);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.layer_norm_backward(p); }
};

// rmsNorm(rows, cols, input, weight?, eps, output, rstd?)
struct RmsNormForwardOp {
  static constexpr const char* kName = "rmsNorm";
  using Params = RmsNormForward;
  static Params parse(Args& in) {
    Params p{};
    p.rows = in.dim("rows");
    p.cols = in.positive_dim("cols");
    const size_t n = in.product(p.rows, p.cols, "rows * cols");
    p.x = in.input("input", n);
    p.weight = in.optional_input("weight", p.cols);
    p.eps = in.non_negative("eps");
    p.y = in.output("out.output", n, "input");
    p.rstd = in.optional_output("out.rstd", p.rows);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.rms_norm_forward(p); }
};

// rmsNormBackward(rows, cols, gradOutput, input, rstd, weight?, gradInput?, gradWeight?)
struct RmsNormBackwardOp {
  static constexpr const char* kName = "rmsNormBackward";
  using Params = RmsNormBackward;
  static Params parse(Args& in) {
    Params p{};
    p.rows = in.dim("rows");
    p.cols = in.positive_dim("cols");
    const size_t n = in.product(p.rows, p.cols, "rows * cols");
    p.dy = in.input("gradOutput", n);
    p.x = in.input("input", n);
    p.rstd = in.input("options.rstd", p.rows);
    p.weight = in.optional_input("options.weight", p.cols);
    p.dx = in.optional_output("out.gradInput", n);
    p.dweight = in.optional_output("out.gradWeight", p.cols);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.rms_norm_backward(p); }
};

// The [batch, channels, spatial] dims and grouping shared by the GroupNorm ops; returns the element count.
template <typename Params>
size_t parse_groups(Args& in, Params& p) {
  p.batch = in.dim("batch");
  p.channels = in.dim("channels");
  p.spatial = in.dim("spatial");
  p.groups = in.dim("groups");
  in.require(p.groups >= 1 && p.channels % p.groups == 0, "groups",
             "a positive divisor of channels (" + std::to_string(p.channels) + "), got " + std::to_string(p.groups));
  p.channels_last = in.boolean("channelsLast");
  return in.product(in.product(p.batch, p.channels, "batch * channels"), p.spatial, "batch * channels * spatial");
}

// groupNorm(batch, channels, spatial, groups, channelsLast, input, weight?, bias?, eps, output, mean?, rstd?)
struct GroupNormForwardOp {
  static constexpr const char* kName = "groupNorm";
  using Params = GroupNormForward;
  static Params parse(Args& in) {
    Params p{};
    const size_t n = parse_groups(in, p);
    const size_t stats = in.product(p.batch, p.groups, "batch * groups");
    p.x = in.input("input", n);
    p.weight = in.optional_input("weight", p.channels);
    p.bias = in.optional_input("bias", p.channels);
    p.eps = in.non_negative("eps");
    p.y = in.output("out.output", n, "input");
    p.mean = in.optional_output("out.mean", stats);
    p.rstd = in.optional_output("out.rstd", stats);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.group_norm_forward(p); }
};

// groupNormBackward(batch, channels, spatial, groups, channelsLast, gradOutput, input, mean, rstd, weight?,
//                   gradInput?, gradWeight?, gradBias?)
struct GroupNormBackwardOp {
  static constexpr const char* kName = "groupNormBackward";
  using Params = GroupNormBackward;
  static Params parse(Args& in) {
    Params p{};
    const size_t n = parse_groups(in, p);
    const size_t stats = in.product(p.batch, p.groups, "batch * groups");
    p.dy = in.input("gradOutput", n);
    p.x = in.input("input", n);
    p.mean = in.input("options.mean", stats);
    p.rstd = in.input("options.rstd", stats);
    p.weight = in.optional_input("options.weight", p.channels);
    p.dx = in.optional_output("out.gradInput", n);
    p.dweight = in.optional_output("out.gradWeight", p.channels);
    p.dbias = in.optional_output("out.gradBias", p.channels);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.group_norm_backward(p); }
};

// ---- BatchNorm. Every op starts with the tensor's shape: (n, c, s, channelsLast), s = the product of the
// spatial dims. Means, M2s and gradient sums are Float64Arrays (they must not lose precision); the rest
// Float32Arrays.
inline BatchNormShape parse_bn_shape(Args& in, size_t* total) {
  BatchNormShape sh{};
  sh.n = in.dim("n");
  sh.c = in.dim("c");
  sh.s = in.dim("s");
  sh.channels_last = in.boolean("channelsLast");
  *total = in.product(in.product(sh.n, sh.c, "n * c"), sh.s, "n * c * s");
  return sh;
}

// batchNorm(n, c, s, channelsLast, input, weight?, bias?, runningMean?, runningVar?, training, momentum, eps,
//           unbiasedRunningVar, output, saveMean, saveInvstd)
struct BatchNormForwardOp {
  static constexpr const char* kName = "batchNorm";
  using Params = BatchNormForward;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    const size_t c = p.shape.c;
    p.x = in.input("input", total);
    p.weight = in.optional_input("weight", c);
    p.bias = in.optional_input("bias", c);
    p.running_mean = in.optional_output("runningMean", c);
    p.running_var = in.optional_output("runningVar", c);
    p.training = in.boolean("training");
    p.momentum = in.number_in("momentum", 0, 1);
    p.eps = in.non_negative("eps");
    p.unbiased_running_var = in.boolean("unbiasedRunningVar");
    p.y = in.output("out.output", total, "input");
    p.save_mean = in.output_f64("out.saveMean", c);
    p.save_invstd = in.output("out.saveInvstd", c);
    if (!p.training && (!p.running_mean || !p.running_var))
      throw Napi::TypeError::New(in.env(), "normkit.batchNorm: inference (training false) needs 'runningMean' and 'runningVar'");
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_forward(p); }
};

// batchNormBackward(n, c, s, channelsLast, gradOutput, input, weight?, training, eps, mean, invstdOrVar,
//                   gradInput?, gradWeight?, gradBias?): mean and invstdOrVar are saveMean (Float64Array) and
// saveInvstd in training, runningMean and runningVar (Float32Arrays) in inference.
struct BatchNormBackwardOp {
  static constexpr const char* kName = "batchNormBackward";
  using Params = BatchNormBackward;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    const size_t c = p.shape.c;
    p.dy = in.input("gradOutput", total);
    p.x = in.input("input", total);
    p.weight = in.optional_input("options.weight", c);
    p.training = in.boolean("training");
    p.eps = in.non_negative("options.eps");
    if (p.training) {
      p.save_mean = in.input_f64("options.saveMean", c);
      p.invstd_or_var = in.input("options.saveInvstd", c);
    } else {
      p.running_mean = in.input("options.runningMean", c);
      p.invstd_or_var = in.input("options.runningVar", c);
    }
    p.dx = in.optional_output("out.gradInput", total);
    p.dweight = in.optional_output("out.gradWeight", c);
    p.dbias = in.optional_output("out.gradBias", c);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_backward(p); }
};

// batchNormStats(n, c, s, channelsLast, input, mean, m2)
struct BatchNormStatsOp {
  static constexpr const char* kName = "batchNormStats";
  using Params = BatchNormStats;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    p.x = in.input("input", total);
    p.mean = in.output_f64("out.mean", p.shape.c);
    p.m2 = in.output_f64("out.m2", p.shape.c);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_stats(p); }
};

// batchNormElemt(n, c, s, channelsLast, input, mean, invstd, weight?, bias?, output)
struct BatchNormElemtOp {
  static constexpr const char* kName = "batchNormElemt";
  using Params = BatchNormElemt;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    const size_t c = p.shape.c;
    p.x = in.input("input", total);
    p.mean = in.input_f64("mean", c);
    p.invstd = in.input("invstd", c);
    p.weight = in.optional_input("weight", c);
    p.bias = in.optional_input("bias", c);
    p.y = in.output("out.output", total, "input");
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_elemt(p); }
};

// batchNormBackwardReduce(n, c, s, channelsLast, gradOutput, input, mean, invstd, sumDy?, sumDyXmu?,
//                         gradWeight?, gradBias?)
struct BatchNormBackwardReduceOp {
  static constexpr const char* kName = "batchNormBackwardReduce";
  using Params = BatchNormBackwardReduce;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    const size_t c = p.shape.c;
    p.dy = in.input("gradOutput", total);
    p.x = in.input("input", total);
    p.mean = in.input_f64("mean", c);
    p.invstd = in.input("invstd", c);
    p.sum_dy = in.optional_output_f64("out.sumDy", c);
    p.sum_dy_xmu = in.optional_output_f64("out.sumDyXmu", c);
    p.dweight = in.optional_output("out.gradWeight", c);
    p.dbias = in.optional_output("out.gradBias", c);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_backward_reduce(p); }
};

// batchNormBackwardElemt(n, c, s, channelsLast, gradOutput, input, mean, invstd, weight?, sumDy, sumDyXmu,
//                        count, gradInput)
struct BatchNormBackwardElemtOp {
  static constexpr const char* kName = "batchNormBackwardElemt";
  using Params = BatchNormBackwardElemt;
  static Params parse(Args& in) {
    Params p{};
    size_t total;
    p.shape = parse_bn_shape(in, &total);
    const size_t c = p.shape.c;
    p.dy = in.input("gradOutput", total);
    p.x = in.input("input", total);
    p.mean = in.input_f64("mean", c);
    p.invstd = in.input("invstd", c);
    p.weight = in.optional_input("weight", c);
    p.sum_dy = in.input_f64("sumDy", c);
    p.sum_dy_xmu = in.input_f64("sumDyXmu", c);
    p.count = in.number_in("count", 1, 9007199254740992.0);
    p.dx = in.output("out.gradInput", total);
    return p;
  }
  static void run(const KernelTable& k, const Params& p) { k.batch_norm_backward_elemt(p); }
};

// Every op, for registration (addon.cpp exports NAME and NAMEAsync for each).
#define NORMKIT_FOR_EACH_OP(X) \
  X(LayerNormForwardOp)        \
  X(LayerNormBackwardOp)       \
  X(RmsNormForwardOp)          \
  X(RmsNormBackwardOp)         \
  X(GroupNormForwardOp)        \
  X(GroupNormBackwardOp)       \
  X(BatchNormForwardOp)         \
  X(BatchNormBackwardOp)        \
  X(BatchNormStatsOp)           \
  X(BatchNormElemtOp)           \
  X(BatchNormBackwardReduceOp)  \
  X(BatchNormBackwardElemtOp)

}  // namespace normkit
