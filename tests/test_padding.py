"""convgrad.padding: the four modes against NumPy, loops and PyTorch; the adjoint; errors."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad import naive
from convgrad.padding import pad, pad_backward

MODES = ["zeros", "reflect", "replicate", "circular"]
NUMPY_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _max_pad(mode, size):
    return {"zeros": 4, "reflect": size - 1, "replicate": 4, "circular": size}[mode]


def random_pad(seed, mode, nd=None, lead=None):
    """A random array and a valid F.pad-style tuple for it (1 or 2 padded dimensions after ``lead``)."""
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(1, 3)) if nd is None else nd
    if lead is None:
        lead = tuple(int(v) for v in rng.integers(1, 4, int(rng.integers(0, 3))))
    shape = lead + tuple(int(v) for v in rng.integers(1, 7, nd))
    flat = []
    for size in reversed(shape[-nd:]):  # F.pad order: last dimension first
        flat += [int(rng.integers(0, _max_pad(mode, size) + 1)) for _ in range(2)]
    return rng.standard_normal(shape), tuple(flat)


def _numpy_pad_width(x, flat):
    pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
    return [(0, 0)] * (x.ndim - len(pairs)) + pairs


def test_the_four_modes_on_one_row():
    row = np.array([1.0, 2.0, 3.0, 4.0])
    assert pad(row, (2, 2), "zeros").tolist() == [0, 0, 1, 2, 3, 4, 0, 0]
    assert pad(row, (2, 2), "reflect").tolist() == [3, 2, 1, 2, 3, 4, 3, 2]
    assert pad(row, (2, 2), "replicate").tolist() == [1, 1, 1, 2, 3, 4, 4, 4]
    assert pad(row, (2, 2), "circular").tolist() == [3, 4, 1, 2, 3, 4, 1, 2]


def test_the_adjoint_on_one_row():
    # each entry collects the gradient of every padded position that copied it
    ones = np.ones(8)
    assert pad_backward(ones, (2, 2), "zeros").tolist() == [1, 1, 1, 1]
    assert pad_backward(ones, (2, 2), "reflect").tolist() == [1, 3, 3, 1]
    assert pad_backward(ones, (2, 2), "replicate").tolist() == [3, 1, 1, 3]
    assert pad_backward(ones, (2, 2), "circular").tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(15))
def test_pad_matches_numpy_and_loops(mode, seed):
    x, flat = random_pad(seed, mode)
    padded = pad(x, flat, mode)
    assert np.array_equal(padded, np.pad(x, _numpy_pad_width(x, flat), mode=NUMPY_MODE[mode]))
    assert np.array_equal(padded, naive.pad(x, flat, mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(15))
def test_pad_backward_matches_loops(mode, seed):
    x, flat = random_pad(seed, mode)
    g = np.random.default_rng(seed).standard_normal(pad(x, flat, mode).shape)
    got = pad_backward(g, flat, mode)
    assert got.shape == x.shape
    assert np.allclose(got, naive.pad_backward(g, flat, mode), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_pad_backward_is_the_adjoint(mode, seed):
    x, flat = random_pad(seed, mode)
    padded = pad(x, flat, mode)
    y = np.random.default_rng(seed + 1).standard_normal(padded.shape)
    assert np.isclose(np.vdot(padded, y), np.vdot(x, pad_backward(y, flat, mode)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_pad_backward_matches_finite_differences(mode):
    x, flat = random_pad(3, mode, nd=2, lead=(2,))
    y = np.random.default_rng(4).standard_normal(pad(x, flat, mode).shape)
    eps, numeric = 1e-6, np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        numeric[index] = (np.vdot(pad(x + step, flat, mode), y) - np.vdot(pad(x - step, flat, mode), y)) / (2 * eps)
    assert np.allclose(pad_backward(y, flat, mode), numeric, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(10))
def test_matches_pytorch_pad_and_its_gradient(mode, seed):
    torch = pytest.importorskip("torch")
    # PyTorch's non-constant modes pad the last 1 (of a 2-D/3-D input) or 2 (of a 3-D/4-D input) dimensions
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(1, 3))
    x, flat = random_pad(seed, mode, nd=nd, lead=(2, 3))
    x_t = torch.from_numpy(x).requires_grad_(True)
    padded_t = torch.nn.functional.pad(x_t, flat, mode="constant" if mode == "zeros" else mode)
    g = rng.standard_normal(tuple(padded_t.shape))
    padded_t.backward(torch.from_numpy(g))
    assert np.array_equal(pad(x, flat, mode), padded_t.detach().numpy())
    assert np.allclose(pad_backward(g, flat, mode), x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_constant_is_an_alias_of_zeros_and_dtypes_are_kept():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(pad(x, (1, 1), "constant"), pad(x, (1, 1), "zeros"))
    for mode in MODES:
        assert pad(x, (1, 1, 1, 1), mode).dtype == np.float32
        assert pad_backward(pad(x, (1, 1), mode), (1, 1), mode).dtype == np.float32


X = np.zeros((2, 3, 4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: pad(X, (1, 1), "wrap"), ValueError, r"mode must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
    (lambda: pad(X, (1,)), TypeError, r"pad must be a tuple of ints.*even length"),
    (lambda: pad(X, 1), TypeError, r"pad must be a tuple of ints"),
    (lambda: pad(X, (1.0, 1)), TypeError, r"pad must be a tuple of ints"),
    (lambda: pad(X, (1, -1)), ValueError, r"pad must be >= 0"),
    (lambda: pad(X, (1,) * 8), ValueError, r"pads 4 dimensions but the array has only 3"),
    (lambda: pad(X, (4, 0), "reflect"), ValueError, r"reflect padding must be smaller than the input size.*size 4"),
    (lambda: pad(X, (0, 0, 3, 0), "reflect"), ValueError, r"reflect padding.*dimension 1 of size 3"),
    (lambda: pad(X, (5, 0), "circular"), ValueError, r"circular padding must not exceed the input size.*size 4"),
    (lambda: pad(np.zeros((2, 0)), (1, 0), "replicate"), ValueError, r"cannot replicate-pad an empty dimension.*dimension 1 of size 0"),
    (lambda: pad_backward(X, (3, 3)), ValueError, r"grad_out.shape=\(2, 3, 4\) is smaller than the padding 3 \+ 3"),
    (lambda: pad_backward(np.zeros((2, 3)), (1, 1), "reflect"), ValueError, r"reflect padding.*size 1"),
    (lambda: pad_backward(X, (1, 1), "mirror"), ValueError, r"pad_backward: mode must be one of"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
