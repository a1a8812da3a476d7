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
    p.cols = in.dim("cols");
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
    p.cols = in.dim("cols");
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
    p.cols = in.dim("cols");
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
    p.cols = in.dim("cols");
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

// Every op, for registration (addon.cpp exports NAME and NAMEAsync for each).
#define NORMKIT_FOR_EACH_OP(X) \
  X(LayerNormForwardOp)        \
  X(LayerNormBackwardOp)       \
  X(RmsNormForwardOp)          \
  X(RmsNormBackwardOp)         \
  X(GroupNormForwardOp)        \
  X(GroupNormBackwardOp)

}  // namespace normkit
