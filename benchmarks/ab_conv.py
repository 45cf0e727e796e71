"""Two versions of convgrad in one process, timed in alternation: does a change make conv*d slower?

    git worktree add /tmp/base <commit>                   # the version to compare with
    python benchmarks/ab_conv.py /tmp/base/src            # bench_conv.py's four cases, forward and backward
    python benchmarks/ab_conv.py /tmp/base/src --threads 1 --repeat 40

On a machine that other work keeps busy, two runs of bench_conv.py a minute apart can differ by more
than the change being measured. Here the other version is imported under another name (convgrad_other)
and every round times the forward pass, then the backward pass, of both versions back to back, in an
order that alternates from round to round. Printed per case: the minimum and the median over the
rounds, in ms, and the median of the per-round ratio this/other (below 1: this version is faster).
"""

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

import convgrad
import convgrad.conv as this

CASES = [  # bench_conv.py's four cases: x shape, weight shape, padding, dtype
    ("1  2-D, 1000 x 1x32x32, 3x3, float32", (1000, 1, 32, 32), (1, 1, 3, 3), 1, np.float32),
    ("2  2-D, 1000 x 1x32x32, 3x3, float64", (1000, 1, 32, 32), (1, 1, 3, 3), 1, np.float64),
    ("3  2-D, 32 x 16x32x32, 16x16x3x3, float32", (32, 16, 32, 32), (16, 16, 3, 3), 1, np.float32),
    ("4  1-D, 500 x 1x100, 1x1x11, float64", (500, 1, 100), (1, 1, 11), 5, np.float64),
]


def load_other(src):
    """The convgrad package under ``src`` (a ``src`` folder holding ``convgrad/``), as convgrad_other."""
    package = os.path.join(src, "convgrad")
    spec = importlib.util.spec_from_file_location("convgrad_other", os.path.join(package, "__init__.py"),
                                                  submodule_search_locations=[package])
    module = importlib.util.module_from_spec(spec)
    sys.modules["convgrad_other"] = module
    spec.loader.exec_module(module)
    importlib.import_module("convgrad_other.conv")
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other_src", help="the other version's src folder (holding convgrad/)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: convgrad's default)")
    parser.add_argument("--repeat", type=int, default=30, help="rounds per case (default 30)")
    args = parser.parse_args()
    other_package = load_other(args.other_src)
    other = other_package.conv
    threads = args.threads or convgrad.get_num_threads()
    convgrad.set_num_threads(threads)
    other_package.set_num_threads(threads)
    print(f"this: {os.path.dirname(convgrad.__file__)}; other: {os.path.dirname(other_package.__file__)}; "
          f"{threads} threads, {args.repeat} rounds; times in ms as min/median")
    header = f"{'case':<44} {'other fwd':>12} {'this fwd':>12} {'ratio':>6} {'other bwd':>12} {'this bwd':>12} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for name, x_shape, w_shape, padding, dtype in CASES:
        x, weight = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
        kind = "conv1d" if len(x_shape) == 3 else "conv2d"
        grad_out = rng.standard_normal(getattr(this, kind)(x, weight, padding=padding).shape).astype(dtype)
        times = {key: [] for key in ("other f", "this f", "other b", "this b")}
        versions = [("other", other), ("this", this)]
        for r in range(args.repeat):
            for label, module in (versions if r % 2 else versions[::-1]):
                forward, backward = getattr(module, kind), getattr(module, kind + "_backward")
                start = time.perf_counter()
                forward(x, weight, padding=padding)
                times[label + " f"].append(time.perf_counter() - start)
                start = time.perf_counter()
                backward(grad_out, x, weight, padding=padding)
                times[label + " b"].append(time.perf_counter() - start)
        cells = []
        for step in ("f", "b"):
            a, b = np.array(times["other " + step]), np.array(times["this " + step])
            cells += [f"{1e3 * a.min():.2f}/{1e3 * np.median(a):.2f}", f"{1e3 * b.min():.2f}/{1e3 * np.median(b):.2f}",
                      f"{np.median(b / a):.2f}"]
        print(f"{name:<44} {cells[0]:>12} {cells[1]:>12} {cells[2]:>6} {cells[3]:>12} {cells[4]:>12} {cells[5]:>6}")


if __name__ == "__main__":
    main()
