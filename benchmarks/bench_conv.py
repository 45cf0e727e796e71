"""Forward + backward of convgrad's convolutions against plain loops, scipy.signal and PyTorch (CPU).

    python benchmarks/bench_conv.py            # the full run (about a minute)
    python benchmarks/bench_conv.py --quick    # fewer repeats, smaller samples for loops and SciPy
    python benchmarks/bench_conv.py --repeat 11
    python benchmarks/bench_conv.py --threads 1   # convgrad, NumPy's BLAS and PyTorch all on one thread

Every timing is the median of ``--repeat`` runs of one forward pass plus one
backward pass (gradients for the input and the weight; convgrad also returns
the bias gradient, a sum). Competitors take turns, so that a machine busy
with other work slows them alike, and each timed run follows an untimed run
of the same competitor. cg/torch is the median, over the rounds, of the
ratio of the two times within a round. What each computes:

* convgrad   ``conv2d`` (or ``conv1d``) then ``conv2d_backward`` (``conv1d_backward``), on
             ``convgrad.set_num_threads(threads)`` threads.
* PyTorch    ``torch.nn.functional.conv2d`` (``conv1d``) then ``.backward(grad_out)`` with
             ``requires_grad`` on input and weight, on ``torch.set_num_threads(threads)`` threads.
* loops      ``convgrad.naive`` (plain Python loops), timed once on a slice of the batch (and, where
             noted, of the output channels) and scaled linearly: their cost is exactly proportional.
* scipy      ``scipy.signal.correlate``/``convolve`` (method "auto") once per (image, output channel,
             input channel) for each of: forward, weight gradient, input gradient.

``threads`` is ``--threads``, else what NumPy's BLAS may use (the usual
environment variables, else the CPUs this process may run on): the same for
convgrad and PyTorch.

The table ends with the ratios the course promises: convgrad/torch <= 1.0 for
cases 1 and 2 and <= 2.0 for case 3; loops/convgrad >= 100 everywhere.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np
import scipy.signal

import convgrad
from convgrad import naive
from convgrad.conv import conv1d, conv1d_backward, conv2d, conv2d_backward

CASES = [
    # name, x shape, weight shape, padding, dtype, torch target, loops sample (images, output channels)
    ("1  2-D, 1000 x 1x32x32, 3x3, float32", (1000, 1, 32, 32), (1, 1, 3, 3), 1, np.float32, 1.0, (5, 1)),
    ("2  2-D, 1000 x 1x32x32, 3x3, float64", (1000, 1, 32, 32), (1, 1, 3, 3), 1, np.float64, 1.0, (5, 1)),
    ("3  2-D, 32 x 16x32x32, 16x16x3x3, float32", (32, 16, 32, 32), (16, 16, 3, 3), 1, np.float32, 2.0, (1, 2)),
    ("4  1-D, 500 x 1x100, 1x1x11, float64", (500, 1, 100), (1, 1, 11), 5, np.float64, None, (50, 1)),
]


def numpy_threads():
    """How many threads NumPy's BLAS may use: the usual environment variables, else the CPUs we may run on."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name]), name
    return len(os.sched_getaffinity(0)), "CPU affinity"


def timed_runs(steps, repeat):
    """Seconds of ``repeat`` runs of each step, in rounds: every round times each step once, in turn.

    Each timed run follows an untimed run of the same step: what the other
    competitor leaves behind (PyTorch's OpenMP threads spin for a while after
    each call, taking a core; a cache full of the other's data) then slows
    the untimed run, not the timed one.
    """
    times = [[] for _ in steps]
    for _ in range(repeat):
        for step, record in zip(steps, times):
            step()
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return times


def median_time(step, repeat):
    return float(np.median(timed_runs([step], repeat)[0]))


def convgrad_step(x, weight, grad_out, padding):
    forward, backward = (conv1d, conv1d_backward) if x.ndim == 3 else (conv2d, conv2d_backward)

    def step():
        forward(x, weight, padding=padding)
        backward(grad_out, x, weight, padding=padding)
    return step


def loops_step(x, weight, grad_out, padding):
    forward, backward = ((naive.conv1d, naive.conv1d_backward) if x.ndim == 3
                         else (naive.conv2d, naive.conv2d_backward))

    def step():
        forward(x, weight, padding=padding)
        backward(grad_out, x, weight, padding=padding)
    return step


def scipy_step(x, weight, grad_out, padding):
    spatial = x.ndim - 2
    x_pad = np.pad(x, [(0, 0), (0, 0)] + [(padding, padding)] * spatial)
    crop = (Ellipsis,) + (slice(padding, -padding if padding else None),) * spatial

    def step():
        n_images, c_in = x.shape[:2]
        c_out = weight.shape[0]
        out = np.zeros(grad_out.shape, dtype=x.dtype)
        grad_weight = np.zeros_like(weight)
        grad_x_pad = np.zeros_like(x_pad)
        for n in range(n_images):
            for o in range(c_out):
                for c in range(c_in):
                    out[n, o] += scipy.signal.correlate(x_pad[n, c], weight[o, c], mode="valid")
                    grad_weight[o, c] += scipy.signal.correlate(x_pad[n, c], grad_out[n, o], mode="valid")
                    grad_x_pad[n, c] += scipy.signal.convolve(grad_out[n, o], weight[o, c], mode="full")
        return out, grad_weight, grad_x_pad[crop]
    return step


def torch_step(torch, x, weight, grad_out, padding):
    conv = torch.nn.functional.conv1d if x.ndim == 3 else torch.nn.functional.conv2d
    x_t = torch.from_numpy(x).requires_grad_(True)
    weight_t = torch.from_numpy(weight).requires_grad_(True)
    grad_out_t = torch.from_numpy(grad_out)

    def step():
        x_t.grad = weight_t.grad = None
        conv(x_t, weight_t, padding=padding).backward(grad_out_t)
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, smaller loop and SciPy samples")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 7, quick 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for PyTorch (default: what NumPy may use)")
    args = parser.parse_args()
    if args.threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # BLAS reads its thread count when NumPy is imported: restart with it set.
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
        os.execv(sys.executable, [sys.executable] + sys.argv)
    repeat = args.repeat or (3 if args.quick else 7)

    threads, source = numpy_threads()
    convgrad.set_num_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
        torch_note = f"PyTorch {torch.__version__}, torch.set_num_threads({threads})"
    except ImportError:
        torch = None
        torch_note = "PyTorch not installed: its column is skipped (pip install torch to compare)"

    print(f"convgrad conv benchmark: forward + backward, median of {repeat} runs, times in ms")
    print(f"convgrad on {threads} threads (from {source}); NumPy {np.__version__}, SciPy {scipy.__version__}; "
          f"{torch_note}")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print()
    header = (f"{'case':<44} {'convgrad':>9} {'torch':>9} {'loops*':>10} {'scipy*':>9} "
              f"{'cg/torch':>9} {'target':>7} {'loops/cg':>9} {'scipy/cg':>9}")
    print(header)
    print("-" * len(header))
    notes = []
    rng = np.random.default_rng(0)
    for name, x_shape, w_shape, padding, dtype, target, (loop_images, loop_channels) in CASES:
        x = rng.standard_normal(x_shape).astype(dtype)
        weight = rng.standard_normal(w_shape).astype(dtype)
        forward = conv1d if x.ndim == 3 else conv2d
        grad_out = rng.standard_normal(forward(x, weight, padding=padding).shape).astype(dtype)

        if torch:
            runs_convgrad, runs_torch = timed_runs([convgrad_step(x, weight, grad_out, padding),
                                                    torch_step(torch, x, weight, grad_out, padding)], repeat)
            t_convgrad, t_torch = float(np.median(runs_convgrad)), float(np.median(runs_torch))
            # The ratio within each round (both timed back to back), then its median: a slow spell
            # that lasts a round moves it less than it moves a ratio of two medians.
            ratio = float(np.median(np.array(runs_convgrad) / np.array(runs_torch)))
        else:
            t_convgrad, t_torch, ratio = median_time(convgrad_step(x, weight, grad_out, padding), repeat), None, None

        if args.quick:
            loop_images = max(1, loop_images // 5)
        n, c_out = x.shape[0], weight.shape[0]
        loop_scale = (n / loop_images) * (c_out / loop_channels)
        t_loops = loop_scale * median_time(
            loops_step(x[:loop_images], weight[:loop_channels], grad_out[:loop_images, :loop_channels], padding), 1)
        notes.append(f"case {name.split()[0]}: loops timed once on {loop_images} of {n} images"
                     + (f" x {loop_channels} of {c_out} output channels" if loop_channels < c_out else "")
                     + f", scaled x{loop_scale:g}")

        scipy_images = max(1, n // 10) if args.quick else n
        t_scipy = (n / scipy_images) * median_time(
            scipy_step(x[:scipy_images], weight, grad_out[:scipy_images], padding), min(repeat, 3))
        if scipy_images < n:
            notes.append(f"case {name.split()[0]}: scipy timed on {scipy_images} of {n} images, "
                         f"scaled x{n / scipy_images:g}")

        verdict = "" if target is None or ratio is None else f"<={target:.1f} {'ok' if ratio <= target else 'MISS'}"
        print(f"{name:<44} {1e3 * t_convgrad:9.2f} {_ms(t_torch):>9} {1e3 * t_loops:10.0f} {1e3 * t_scipy:9.1f} "
              f"{_ratio(ratio):>9} {verdict:>7} {t_loops / t_convgrad:9.0f} {t_scipy / t_convgrad:9.1f}")
    print()
    print("* " + "\n* ".join(notes))
    print("* loops: convgrad.naive.conv*d + conv*d_backward (pure Python loops, one multiply-add per iteration).")
    print("* scipy: per (image, output channel, input channel): scipy.signal.correlate (forward), correlate "
          "(weight gradient), convolve 'full' (input gradient).")
    print("* torch: F.conv*d forward + .backward(grad_out), gradients for input and weight.")
    print("* cg/torch: the median over rounds of convgrad time / PyTorch time, both timed back to back in each "
          "round (lower is better for convgrad); loops/cg and scipy/cg: how many times faster convgrad is. "
          "Target for loops/cg: >= 100 in every case.")


def _ms(seconds):
    return "-" if seconds is None else f"{1e3 * seconds:.2f}"


def _ratio(value):
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
