#!/usr/bin/env python3
"""PyTorch's LayerNorm and GroupNorm input gradient on rows far from zero, against a float64 reference.

    /usr/bin/python3 bench/pytorch/hard_rows.py

The README's Numerics section quotes it. PyTorch's backward takes the float32 mean of the forward as given,
so on 1e4 + N(0, 1e-2) data (the mean's rounding is ~5% of the spread) its dx is off by far more than float
precision; normkit's backward corrects that rounding (test/layerNorm.test.ts and test/groupNorm.test.ts hold
it to 1e-5 of the same reference on the same kinds of rows). Not part of `npm test` (torch is not a dependency).
"""
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
EPS = 1e-5


def reference_dx(x, dy, w, groups=None):
    """float64 dx of LayerNorm over the last dim (groups None) or GroupNorm, from exact statistics."""
    x, dy, w = x.double(), dy.double(), w.double()
    if groups is None:
        g = dy * w
        xs, gs = x, g
    else:
        n, c, s = x.shape
        xs, gs = x.reshape(n, groups, -1), (dy * w.view(1, c, 1)).reshape(n, groups, -1)
    m = xs.mean(-1, keepdim=True)
    rstd = 1 / torch.sqrt(((xs - m) ** 2).mean(-1, keepdim=True) + EPS)
    xhat = (xs - m) * rstd
    dx = rstd * (gs - gs.mean(-1, keepdim=True) - xhat * (gs * xhat).mean(-1, keepdim=True))
    return dx.reshape(x.shape)


def relative_error(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def main():
    kinds = [(0.0, 1.0), (1e4, 1e-2), (3e5, 1.0), (-1e3, 1e-3)]
    for offset, spread in kinds:
        errors = []
        for _ in range(5):
            x = (offset + spread * torch.randn(1, 768)).float().requires_grad_()
            w, dy = (1 + 0.1 * torch.randn(768)).float(), torch.randn(1, 768)
            F.layer_norm(x, [768], w, None, EPS).backward(dy)
            errors.append(relative_error(x.grad, reference_dx(x.detach(), dy, w)))
        print(f"LayerNorm [1,768]   {offset:g} + N(0, {spread:g}): dx max relative error "
              + ", ".join(f"{e:.1e}" for e in errors))
    for offset, spread in kinds:
        errors = []
        for _ in range(5):
            x = (offset + spread * torch.randn(2, 24, 60)).float().requires_grad_()
            w, dy = (1 + 0.1 * torch.randn(24)).float(), torch.randn(2, 24, 60)
            F.group_norm(x, 6, w, None, EPS).backward(dy)
            errors.append(relative_error(x.grad, reference_dx(x.detach(), dy, w, groups=6)))
        print(f"GroupNorm [2,24,60] {offset:g} + N(0, {spread:g}): dx max relative error "
              + ", ".join(f"{e:.1e}" for e in errors))


if __name__ == "__main__":
    main()
