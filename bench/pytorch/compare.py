#!/usr/bin/env python3
"""PyTorch's CPU speed at the shapes normkit's README reports, one thread, for a side-by-side table.

    /usr/bin/python3 bench/pytorch/compare.py [--json]

Not part of `npm test` or the CLI (torch is not a dependency); the README's PyTorch column comes from it.
Backward ops are timed through aten's fused backward kernels where PyTorch has one (what autograd runs),
RMSNorm through autograd of its definition (torch 1.13 has no fused RMSNorm). Each such direct call is checked
once against autograd's gradients; where they differ, autograd is timed instead and the record says so
("via": "autograd"): torch 1.13's aten::native_group_norm_backward, given channels-last tensors, reads them as
channels-first and returns wrong gradients (dx off by ~17 at [8,256,28,28]), while autograd makes them
contiguous first and is right. Outputs are allocated by PyTorch on each call, as PyTorch does; the median of
repeated calls is reported, in microseconds.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


def median_us(fn, budget=1.0, min_reps=5):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
        if len(times) >= 2000:
            break
    return statistics.median(times)


results = []


def record(op, shape, us, via=None):
    results.append({"op": op, "shape": shape, "us": round(us, 1), **({"via": via} if via else {})})


def record_backward(op, shape, direct, forward, inputs, dy):
    """Times `direct` (aten's backward kernel, a tuple of gradients of `inputs`) if it agrees with autograd
    through `forward`, else autograd itself."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    y = forward(*leaves)
    through_autograd = lambda: torch.autograd.grad(y, leaves, dy, retain_graph=True)
    want, got = through_autograd(), direct()
    agree = all(torch.allclose(g, w, rtol=1e-3, atol=1e-3 * max(1.0, w.abs().max().item()))
                for g, w in zip(got, want))
    if agree:
        record(op, shape, median_us(direct))
    else:
        record(op, shape, median_us(through_autograd), via="autograd")


for rows, cols in [(4096, 768), (8192, 1024), (512, 4096), (64, 65536), (1, 768)]:
    x = torch.randn(rows, cols)
    w = torch.randn(cols)
    b = torch.randn(cols)
    dy = torch.randn(rows, cols)
    shape = f"{rows}x{cols}"
    record("layerNorm", shape, median_us(lambda: F.layer_norm(x, (cols,), w, b)))
    _, mean, rstd = torch.native_layer_norm(x, (cols,), w, b, 1e-5)
    record_backward("layerNormBackward", shape,
                    lambda: torch.ops.aten.native_layer_norm_backward(dy, x, (cols,), mean, rstd, w, b, [True, True, True]),
                    lambda x_, w_, b_: F.layer_norm(x_, (cols,), w_, b_), (x, w, b), dy)
    record("rmsNorm", shape, median_us(lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w))
    xr = x.clone().requires_grad_()
    wr = w.clone().requires_grad_()
    yr = xr * torch.rsqrt(xr.pow(2).mean(-1, keepdim=True) + 1e-6) * wr
    record("rmsNormBackward", shape, median_us(lambda: torch.autograd.grad(yr, (xr, wr), dy, retain_graph=True)))

for layout, dims in [("nchw", (32, 64, 56, 56)), ("nchw", (8, 256, 28, 28)), ("nhwc", (32, 64, 56, 56)),
                     ("nhwc", (8, 256, 28, 28)), ("nc", (256, 512))]:
    x = torch.randn(*dims)
    if layout == "nhwc":
        x = x.contiguous(memory_format=torch.channels_last)
    c = dims[1]
    w, b = torch.randn(c), torch.randn(c)
    rm, rv = torch.zeros(c), torch.ones(c)
    dy = torch.randn_like(x)
    shape = f"{layout}:{'x'.join(map(str, dims))}"
    record("batchNormTrain", shape, median_us(lambda: F.batch_norm(x, rm, rv, w, b, training=True)))
    record("batchNormEval", shape, median_us(lambda: F.batch_norm(x, rm, rv, w, b, training=False)))
    _, save_mean, save_invstd = torch.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    record_backward("batchNormTrainBackward", shape, lambda: torch.ops.aten.native_batch_norm_backward(
        dy, x, w, rm, rv, save_mean, save_invstd, True, 1e-5, [True, True, True]),
        lambda x_, w_, b_: F.batch_norm(x_, rm.clone(), rv.clone(), w_, b_, training=True), (x, w, b), dy)
    if dims == (8, 256, 28, 28):
        record("groupNorm", shape, median_us(lambda: F.group_norm(x, 32, w, b)))
        n, cc, hw = dims[0], dims[1], dims[2] * dims[3]
        _, gmean, grstd = torch.native_group_norm(x, w, b, n, cc, hw, 32, 1e-5)
        record_backward("groupNormBackward", shape, lambda: torch.ops.aten.native_group_norm_backward(
            dy, x, gmean, grstd, w, n, cc, hw, 32, [True, True, True]),
            lambda x_, w_, b_: F.group_norm(x_, 32, w_, b_), (x, w, b), dy)

if "--json" in sys.argv:
    print(json.dumps({"torch": torch.__version__, "threads": 1, "results": results}, indent=1))
else:
    print(f"PyTorch {torch.__version__}, 1 thread, median µs")
    for r in results:
        print(f"{r['op']:<24} {r['shape']:<22} {r['us']:>10.1f}{'  (autograd)' if r.get('via') else ''}")
