"""Output sizes (chapter 7): the floor formula, as convgrad and PyTorch apply it.

Chapter 7 states that a convolution's output has
``floor((H + 2p - d(k-1) - 1)/s) + 1`` rows, that rows left over by the
floor are dropped rather than padded, and that PyTorch offers the ceiling
only for pooling (``ceil_mode``). The PyTorch claims are tested against
PyTorch itself, and skip when it is absent.
"""

import numpy as np
import pytest

from convgrad.diagrams import output_shape
from convgrad.functional import conv2d

GRID = [(H, k, p, s, d) for H in range(1, 10) for k in range(1, 4) for p in range(3) for s in range(1, 4)
        for d in range(1, 3) if d * (k - 1) + 1 <= H + 2 * p]


def floor_formula(H, k, p, s, d):
    return (H + 2 * p - d * (k - 1) - 1) // s + 1


def test_convgrad_output_sizes_follow_the_floor_formula():
    for H, k, p, s, d in GRID:
        y = conv2d(np.zeros((1, 1, H, H + 1)), np.zeros((1, 1, k, k)), stride=s, padding=p, dilation=d)
        assert y.shape[2:] == (floor_formula(H, k, p, s, d), floor_formula(H + 1, k, p, s, d))
        assert output_shape((H, H + 1), k, s, p, d) == y.shape[2:]


def test_pytorch_output_sizes_follow_the_floor_formula():
    torch = pytest.importorskip("torch")
    for H, k, p, s, d in GRID:
        y = torch.nn.functional.conv2d(torch.zeros(1, 1, H, H + 1), torch.zeros(1, 1, k, k),
                                       stride=s, padding=p, dilation=d)
        assert tuple(y.shape[2:]) == (floor_formula(H, k, p, s, d), floor_formula(H + 1, k, p, s, d))


def test_pytorch_offers_the_ceiling_for_pooling_only():
    torch = pytest.importorskip("torch")
    import inspect

    assert "ceil_mode" not in inspect.signature(torch.nn.Conv2d).parameters
    assert "ceil_mode" in inspect.signature(torch.nn.MaxPool2d).parameters
    x = torch.zeros(1, 1, 6, 6)                 # kernel 3, stride 2: (6 - 3)/2 + 1 = 2.5 windows
    assert torch.nn.functional.max_pool2d(x, 3, stride=2).shape[2:] == (2, 2)
    assert torch.nn.functional.max_pool2d(x, 3, stride=2, ceil_mode=True).shape[2:] == (3, 3)
    assert torch.nn.functional.conv2d(x, torch.zeros(1, 1, 3, 3), stride=2).shape[2:] == (2, 2)
