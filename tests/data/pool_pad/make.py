#!/usr/bin/python3
"""Writes pytorch.txt: padded pooling as PyTorch computes it, forward and
input gradient, for tests/test_layers.c (pools_with_padding_match_pytorch).

    /usr/bin/python3 tests/data/pool_pad/make.py > tests/data/pool_pad/pytorch.txt

(Debian's python3-torch is seen by /usr/bin/python3.)  The suite reads the
file only: it needs no PyTorch.

PyTorch pads both sides alike; an asymmetric case (ONNX's pads, top, left,
bottom, right) pads with F.pad (-inf for a max, 0 otherwise) and pools that
without padding: a sum, or an average whose divisor is the window clipped to
the padded input (count_include_pad), or, without countpad, the sum divided
by the pixels it covers (the same sum over a padded plane of ones).  Then it
keeps the outputs PyTorch's own rule for ceil_mode keeps with those pads
(pooling_output_shape_pad_lr: no window starts in the end padding), which
F.pad's bigger input would not drop.  The symmetric cases run both ways and
must agree: the check that the emulation is PyTorch's padding.

x is a permutation of multiples of 1/8 (no ties for a max; every sum
exact) and dy multiples of 1/4 in [-1, 1], so that the sums agree in any
order and the averages to the last bit.
"""
import sys

import torch
import torch.nn.functional as F

H, W = 6, 6

# kind, window, stride, pads (top, left, bottom, right), ceil, countpad
CASES = [
    ("max", (3, 3), (2, 2), (1, 1, 1, 1), 0, 0),
    ("max", (3, 2), (2, 2), (1, 1, 1, 1), 1, 0),
    ("max", (3, 2), (2, 1), (1, 1, 1, 1), 0, 0),
    ("avg", (3, 3), (2, 2), (1, 1, 1, 1), 0, 0),
    ("avg", (3, 3), (2, 2), (1, 1, 1, 1), 0, 1),
    ("avg", (3, 3), (2, 2), (1, 1, 1, 1), 1, 1),
    ("avg", (3, 3), (2, 2), (1, 1, 1, 1), 1, 0),
    ("sum", (3, 3), (2, 2), (1, 1, 1, 1), 1, 0),
    ("max", (2, 2), (2, 2), (1, 1, 0, 0), 0, 0),  # 2x2 stride 2, yet not the fast path
    ("max", (3, 3), (2, 2), (0, 2, 2, 1), 1, 0),  # pad 2 > 3/2; a window dropped by ceil
    ("avg", (3, 3), (2, 2), (2, 0, 1, 2), 0, 0),
    ("avg", (3, 3), (2, 2), (2, 0, 1, 2), 1, 1),
    ("avg", (2, 3), (1, 2), (1, 0, 0, 2), 0, 1),
    ("sum", (3, 2), (2, 2), (0, 1, 2, 0), 1, 0),
]


def out_size(n, k, s, begin, end, ceil):
    """PyTorch's pooling_output_shape_pad_lr (dilation 1)."""
    o = (n + begin + end - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + begin:
        o -= 1
    return o


def emulated(x, kind, k, s, pads, ceil, countpad):
    t, l, b, r = pads
    fill = float("-inf") if kind == "max" else 0.0
    xp = F.pad(x, (l, r, t, b), value=fill)
    if kind == "max":
        y = F.max_pool2d(xp, k, s, 0, ceil_mode=bool(ceil))
    elif kind == "sum":
        y = F.avg_pool2d(xp, k, s, 0, ceil_mode=bool(ceil), divisor_override=1)
    elif countpad:
        y = F.avg_pool2d(xp, k, s, 0, ceil_mode=bool(ceil))
    else:
        ones = F.pad(torch.ones_like(x), (l, r, t, b), value=0.0)
        count = F.avg_pool2d(ones, k, s, 0, ceil_mode=bool(ceil), divisor_override=1)
        y = F.avg_pool2d(xp, k, s, 0, ceil_mode=bool(ceil), divisor_override=1) / count
    oh = out_size(x.shape[2], k[0], s[0], t, b, ceil)
    ow = out_size(x.shape[3], k[1], s[1], l, r, ceil)
    return y[:, :, :oh, :ow]


def native(x, kind, k, s, pads, ceil, countpad):
    p = (pads[0], pads[1])
    if kind == "max":
        return F.max_pool2d(x, k, s, p, ceil_mode=bool(ceil))
    return F.avg_pool2d(x, k, s, p, ceil_mode=bool(ceil), count_include_pad=bool(countpad),
                        divisor_override=1 if kind == "sum" else None)


def forward_backward(pool, x0, dy_of, *case):
    x = x0.clone().requires_grad_(True)
    y = pool(x, *case)
    dy = dy_of(y.shape)
    (y * dy).sum().backward()
    return y.detach(), dy, x.grad


def line(kind, k, s, pads, ceil, countpad):
    """The layer as cnn's network text writes it."""
    words = [kind + "pool", "%dx%d" % k]
    if s != k:
        words += ["stride", "%dx%d" % s]
    t, l, b, r = pads
    if (t, l) != (b, r):
        words += ["pad", "%d,%d,%d,%d" % pads]
    elif (t, l) != (0, 0):
        words += ["pad", "%dx%d" % (t, l)]
    if ceil:
        words.append("ceil")
    if countpad:
        words.append("countpad")
    return " ".join(words)


def values(t):
    return " ".join("%.9g" % v for v in t.flatten().tolist())


def main():
    gen = torch.Generator().manual_seed(7)
    x = ((torch.randperm(H * W, generator=gen) - H * W // 2).float() / 8).reshape(1, 1, H, W)

    def dy_of(shape):
        return (torch.randint(-4, 5, shape, generator=gen).float() / 4)

    out = sys.stdout
    out.write("# Padded pooling as PyTorch %s computes it (make.py beside, which says how).\n"
              "# input: the plane x; then per layer: dy, y = layer(x), dx = dL/dx for\n"
              "# L = sum(dy * y).\n" % torch.__version__)
    out.write("input %dx%dx1\nx %s\n" % (H, W, values(x)))
    for case in CASES:
        kind, k, s, pads, ceil, countpad = case
        y, dy, dx = forward_backward(emulated, x, dy_of, *case)
        if pads[:2] == pads[2:]:
            y2, _, dx2 = forward_backward(native, x, lambda shape: dy, *case)
            assert torch.equal(y, y2) and torch.equal(dx, dx2), case
        out.write("layer %s\ndy %s\ny %s\ndx %s\n" % (line(*case), values(dy), values(y),
                                                      values(dx)))


main()
