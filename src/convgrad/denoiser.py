"""Chapter 13's denoiser: source 001's three-layer network, its initialisation, and many copies of it
trained as one grouped network (the seed study of chapter 13, ``tools/plateau_study.py``).

The network is ``conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> conv 3x3`` with padding 1 (1 -> channels ->
channels -> 1), kernels normal with standard deviation ``sqrt(2 / (9 C_in + 9 C_out))`` (Xavier-normal:
``sqrt(2/18)`` for one channel), biases 0.

S such networks train as **one** network of three ``Conv2d(S, S, 3, groups=S)`` layers: group s of a
grouped convolution sees only channel s of its input, so with the image copied into all S input channels,
channel s of every layer is network s. The loss is the sum of the S per-pixel losses, ``sum_s L_s``; L_s
depends only on network s's parameters, so each group receives ``dL_s/d theta_s`` and one SGD step of the
grouped network is S independent SGD steps (tests/test_denoiser.py checks it against separate runs).
"""

import json
from importlib import resources
from numbers import Integral

import numpy as np

from . import nn, optim
from .autograd import Tensor
from .data import salt_and_pepper

__all__ = ["make_denoiser", "make_grouped", "train_grouped", "load_plateau_study"]


def make_denoiser(seed, channels=1):
    """The network, an ``nn.Sequential`` (1 -> channels -> channels -> 1), initialised from
    ``numpy.random.default_rng(seed)``: for each convolution in order, its kernel normal with mean 0 and
    std ``sqrt(2 / (9 C_in + 9 C_out))``, its bias 0."""
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(channels, 1, 3, padding=1))
    for conv in (net[0], net[2], net[4]):
        c_out, c_in = conv.weight.shape[:2]
        nn.init.normal_(conv.weight, mean=0.0, std=np.sqrt(2 / (9 * c_in + 9 * c_out)), generator=rng)
        nn.init.zeros_(conv.bias)
    return net


def make_grouped(seeds):
    """One network whose channel s is ``make_denoiser(seeds[s])``: three ``Conv2d(S, S, 3, padding=1,
    groups=S)`` with ReLUs between, S = len(seeds). Weights (S, 1, 3, 3), biases (S,)."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("make_grouped needs at least one seed")
    size = len(seeds)
    grouped = nn.Sequential(nn.Conv2d(size, size, 3, padding=1, groups=size), nn.ReLU(),
                            nn.Conv2d(size, size, 3, padding=1, groups=size), nn.ReLU(),
                            nn.Conv2d(size, size, 3, padding=1, groups=size))
    singles = [make_denoiser(seed).state_dict() for seed in seeds]
    grouped.load_state_dict({name: np.concatenate([single[name] for single in singles]) for name in singles[0]})
    return grouped


def train_grouped(seeds, epochs, images, *, noise_seed, fraction=0.1, lr=1e-3):
    """Source 001's faithful schedule for ``len(seeds)`` networks at once, on ``make_grouped(seeds)``.

    images: (N, 1, H, W), the clean training images. Every epoch draws fresh salt-and-pepper noise
    (``fraction`` of the pixels, salt 1, pepper 0, from ``default_rng(noise_seed)``) and visits the images
    in order, one SGD step (``lr``) per image on ``sum_s L_s``, L_s the per-pixel MSE of network s.

    Returns (curves, grouped): curves (epochs, S), the training loss of each network averaged over each
    epoch's images (the loss of image i taken before its own step, as chapter 13's single runs record it).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W), got shape {images.shape}")
    if not isinstance(epochs, Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    seeds = list(seeds)
    size = len(seeds)
    grouped = make_grouped(seeds)
    opt, summed = optim.SGD(grouped.parameters(), lr=lr), nn.MSELoss(reduction="sum")
    noise_rng, curves = np.random.default_rng(noise_seed), []
    pixels = images[0].size
    for _ in range(epochs):
        noisy = salt_and_pepper(images, fraction, noise_rng, salt=1.0, pepper=0.0)
        total = np.zeros(size)
        for i in range(len(images)):
            x = np.repeat(noisy[i:i + 1], size, axis=1)          # the image in all S channels
            target = np.repeat(images[i:i + 1], size, axis=1)
            output = grouped(Tensor(x))
            opt.zero_grad()
            (summed(output, Tensor(target)) / pixels).backward()  # sum over s of the per-pixel MSE of channel s
            opt.step()
            total += ((output.data - target) ** 2).mean(axis=(0, 2, 3))
        curves.append(total / len(images))
    return np.array(curves).reshape(epochs, size), grouped


# Chapter 13's seed study: written by tools/plateau_study.py, read by the chapter.
STUDY_FILE = "results/plateau_study.json"


def load_plateau_study():
    """The seed study's record (tools/plateau_study.py computes it; CI computes it again and compares):
    a dict with ``settings`` (seeds, epochs, group size, noise seed, images, fraction, lr),
    ``train_loss``, an array (epochs, seeds) of :func:`train_grouped`'s curves, and ``final_state``, the
    grouped network's parameters at the end (``"0.weight"``: (seeds, 1, 3, 3), ``"0.bias"``: (seeds,), ...;
    entry s of each is network s's)."""
    record = json.loads(resources.files("convgrad").joinpath(STUDY_FILE).read_text())
    record["train_loss"] = np.array(record["train_loss"])
    record["final_state"] = {name: np.array(value) for name, value in record["final_state"].items()}
    return record
