"""One small image through conv2d and conv2d_backward: convgrad against PyTorch, in the same run.

A training step on a 32x32 image is a handful of tiny convolutions, so what counts is each call's
fixed cost. This times, for each case, convgrad.functional's conv2d + conv2d_backward against
PyTorch's F.conv2d + torch.ops.aten.convolution_backward (the kernel its autograd calls, without
the autograd bookkeeping), both on one thread, float64, the same arrays. The two are timed in
alternating rounds, so that a busy machine slows both alike; the ratio is the median over rounds
of convgrad's time / PyTorch's.

    .venv/bin/python benchmarks/bench_small_conv.py [--rounds 15] [--calls 2000]

Needs PyTorch (`pip install -r requirements-torch.txt`); without it, prints convgrad's times only.
"""

import argparse
import statistics
import time

import numpy as np

import convgrad
from convgrad import functional as F

# (name, x shape, weight shape, padding, stride, groups): chapter 13's layers and a few neighbours, and its
# seed study's layers (8 and 16 networks as one grouped network)
CASES = [
    ("32x32, 1 -> 1, 3x3, pad 1 (chapter 13)", (1, 1, 32, 32), (1, 1, 3, 3), 1, 1, 1),
    ("32x32, 1 -> 16, 3x3, pad 1", (1, 1, 32, 32), (16, 1, 3, 3), 1, 1, 1),
    ("32x32, 16 -> 16, 3x3, pad 1", (1, 16, 32, 32), (16, 16, 3, 3), 1, 1, 1),
    ("28x28, 1 -> 1, 5x5, pad 2", (1, 1, 28, 28), (1, 1, 5, 5), 2, 1, 1),
    ("32x32, 1 -> 1, 3x3, stride 2", (1, 1, 32, 32), (1, 1, 3, 3), 1, 2, 1),
    ("32x32, 8 -> 8, 3x3, groups 8", (1, 8, 32, 32), (8, 1, 3, 3), 1, 1, 8),
    ("32x32, 16 -> 16, 3x3, groups 16", (1, 16, 32, 32), (16, 1, 3, 3), 1, 1, 16),
    ("1-D 100, 1 -> 1, k=11, pad 5", (1, 1, 100), (1, 1, 11), 5, 1, 1),
]


def per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: convgrad's times only (pip install -r requirements-torch.txt)")
    convgrad.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)

    print(f"{'case':42s} {'convgrad us':>12s} {'PyTorch us':>11s} {'ratio':>6s}")
    for name, x_shape, w_shape, padding, stride, groups in CASES:
        rng = np.random.default_rng(0)
        x, weight, bias = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
        one_d = len(x_shape) == 3
        conv, conv_backward = (F.conv1d, F.conv1d_backward) if one_d else (F.conv2d, F.conv2d_backward)
        kw = dict(stride=stride, padding=padding, groups=groups)
        grad_out = rng.standard_normal(conv(x, weight, bias, **kw).shape)

        def ours():
            conv(x, weight, bias, **kw)
            conv_backward(grad_out, x, weight, **kw)

        timers = [ours]
        if torch is not None:
            xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, weight, bias, grad_out))
            torch_conv = torch.nn.functional.conv1d if one_d else torch.nn.functional.conv2d
            nd = 1 if one_d else 2
            options = ([stride] * nd, [padding] * nd, [1] * nd, False, [0] * nd, groups, [True, True, True])

            def theirs():
                torch_conv(xt, wt, bt, stride=stride, padding=padding, groups=groups)
                torch.ops.aten.convolution_backward(gt, xt, wt, [w_shape[0]], *options)

            # the same numbers: the comparison is of like with like
            ref = torch.ops.aten.convolution_backward(gt, xt, wt, [w_shape[0]], *options)
            mine = conv_backward(grad_out, x, weight, **kw)
            assert all(np.allclose(a, b.numpy(), rtol=1e-10, atol=1e-10) for a, b in zip(mine, ref)), name
            timers.append(theirs)
        for fn in timers:  # warm up
            per_call(fn, args.calls // 10)
        times = [[] for _ in timers]
        for _ in range(args.rounds):
            for k, fn in enumerate(timers):
                times[k].append(per_call(fn, args.calls))
        ours_us = statistics.median(times[0]) * 1e6
        if torch is None:
            print(f"{name:42s} {ours_us:12.1f}")
            continue
        theirs_us = statistics.median(times[1]) * 1e6
        ratio = statistics.median(a / b for a, b in zip(times[0], times[1]))
        print(f"{name:42s} {ours_us:12.1f} {theirs_us:11.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
