"""Chapter 13's seed study: source 001's faithful schedule for many initialisations, to see how long each
sits on the plateau (sec-ch13-plateau-study).

    python -m tools.plateau_study            # compute it, write src/convgrad/results/plateau_study.json
    python -m tools.plateau_study --check    # compute it again and compare with that file (CI)

The seeds 1000, 1001, ... (chapter 13's ``make_denoiser(seed)``) train in groups of ``GROUP`` as one grouped
network (``convgrad.denoiser.train_grouped``): 1000 images, fresh 10 % salt-and-pepper noise every epoch,
one SGD step per image at lr 1e-3, ``EPOCHS`` epochs. The groups run in parallel processes (one
convgrad thread each). The record keeps every network's training loss of every epoch and its parameters
at the end, at full precision.

The study takes several minutes, more than a notebook may (chapter 13 is held to 180 s), so the chapter
reads the record; it recomputes the first epochs of the first group itself and checks them against it,
and ``--check`` (run by .ci/run) recomputes all of it. The comparison allows a difference of
``TOLERANCE``: on another CPU, BLAS may round differently, and 300 000 steps carry that along.
"""

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import convgrad
from convgrad.data import images_2d
from convgrad.denoiser import train_grouped

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "src" / "convgrad" / "results" / "plateau_study.json"

FIRST_SEED, SEEDS, GROUP, EPOCHS = 1000, 32, 8, 300
NOISE_SEED, IMAGES_SEED, FRACTION, LR = 17, 13, 0.1, 1e-3
TOLERANCE = 1e-6


def settings():
    return {"seeds": list(range(FIRST_SEED, FIRST_SEED + SEEDS)), "group": GROUP, "epochs": EPOCHS,
            "noise_seed": NOISE_SEED, "images": f"images_2d(1000, 32, default_rng({IMAGES_SEED}))",
            "fraction": FRACTION, "lr": LR}


def train_group(seeds):
    """One group on one convgrad thread: its training-loss curves (EPOCHS, len(seeds)) and its final
    parameters (the grouped network's state_dict: weights (S, 1, 3, 3), biases (S,))."""
    convgrad.set_num_threads(1)
    clean = images_2d(1000, 32, np.random.default_rng(IMAGES_SEED))[:, None]
    curves, grouped = train_grouped(seeds, EPOCHS, clean, noise_seed=NOISE_SEED, fraction=FRACTION, lr=LR)
    return curves, grouped.state_dict()


def compute(jobs):
    """(train_loss (EPOCHS, SEEDS), final_state {name: array (SEEDS, ...)}) of all the groups."""
    seeds = settings()["seeds"]
    groups = [seeds[k:k + GROUP] for k in range(0, len(seeds), GROUP)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(train_group, groups))
    train_loss = np.concatenate([curves for curves, _ in results], axis=1)
    final_state = {name: np.concatenate([state[name] for _, state in results]) for name in results[0][1]}
    return train_loss, final_state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"compute again and compare with {RECORD.relative_to(ROOT)} instead of writing it")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="groups trained at the same time (default: 2, or 1 on one core)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    train_loss, final_state = compute(args.jobs)
    seconds = time.perf_counter() - start
    print(f"plateau study: {SEEDS} seeds x {EPOCHS} epochs in groups of {GROUP}, {args.jobs} processes: "
          f"{seconds:.0f} s")
    if args.check:
        record = json.loads(RECORD.read_text())
        if record["settings"] != settings():
            print(f"{RECORD.name}: its settings are not the script's; run python -m tools.plateau_study")
            return 1
        gap = max([float(np.abs(np.array(record["train_loss"]) - train_loss).max())] +
                  [float(np.abs(np.array(record["final_state"][name]) - value).max())
                   for name, value in final_state.items()])
        print(f"largest difference from {RECORD.name} (losses and final parameters): {gap:.1e} "
              f"(allowed {TOLERANCE:.0e})")
        return 0 if gap <= TOLERANCE else 1
    record = {"settings": settings(),
              "computed_with": {"python": platform.python_version(), "numpy": np.__version__,
                                "machine": platform.machine()},
              "train_loss": train_loss.tolist(),
              "final_state": {name: value.tolist() for name, value in final_state.items()}}
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=None) + "\n")
    print(f"wrote {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
