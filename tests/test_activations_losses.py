"""relu and mse_loss: definitions, finite differences, PyTorch parity."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad.activations import relu, relu_backward
from convgrad.gradcheck import gradcheck
from convgrad.losses import mse_loss, mse_loss_backward

REDUCTIONS = ["mean", "sum", "none"]


# --- relu --------------------------------------------------------------------------

def test_relu_matches_loop():
    x = np.array([[-2.0, -0.0, 0.0], [0.5, 3.0, -1e-300]])
    expected = np.array([[max(v, 0.0) for v in row] for row in x])
    np.testing.assert_array_equal(relu(x), expected)
    np.testing.assert_array_equal(relu_backward(np.full(x.shape, 7.0), x), [[0, 0, 0], [7, 7, 0]])  # 0 at x == 0


def test_relu_gradcheck():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))   # away from 0 almost surely
    assert gradcheck(relu, lambda g, x: (relu_backward(g, x),), [x])
    with pytest.raises(AssertionError):   # a wrong derivative is caught
        gradcheck(relu, lambda g, x: (g * (x >= -0.5),), [x])


def test_relu_dtypes_and_nan():
    x = np.array([-1.0, np.nan, 2.0], np.float32)
    y = relu(x)
    assert y.dtype == np.float32 and np.isnan(y[1]) and y[0] == 0 and y[2] == 2
    assert relu_backward(np.ones(3, np.float32), x).dtype == np.float32
    assert relu(np.array([-3, 4])).dtype.kind == "i"
    with pytest.raises(ValueError, match="grad_out must have the shape of x"):
        relu_backward(np.ones(2), np.ones(3))


def test_relu_backward_dtype_is_the_result_type():
    # np.result_type(grad_out, x), whichever of the two is the wider one.
    x64, x32 = np.array([1.0, -1.0]), np.array([1.0, -1.0], np.float32)
    for g, x, dtype in [(np.array([3, 4]), x64, np.float64),                 # integer grad_out
                        (np.array([3.0, 4.0]), x32, np.float64),             # grad_out wider than x
                        (np.array([3.0, 4.0], np.float32), x64, np.float64),  # x wider than grad_out
                        (np.array([3.0, 4.0], np.float32), x32, np.float32)]:
        got = relu_backward(g, x)
        assert got.dtype == dtype, (g.dtype, x.dtype)
        np.testing.assert_array_equal(got, [3, 0])


def test_relu_pytorch_parity():
    torch = pytest.importorskip("torch")
    x = np.array([-1.5, -0.0, 0.0, 1e-8, 2.0, -3.0])
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(xt)
    g = np.arange(1.0, 7.0)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(relu(x), yt.detach().numpy())
    np.testing.assert_array_equal(relu_backward(g, x), xt.grad.numpy())


# --- mse_loss --------------------------------------------------------------------------

def loop_mse(input, target, reduction):
    squares = [(a - b) ** 2 for a, b in zip(input.ravel(), target.ravel())]
    if reduction == "none":
        return np.array(squares).reshape(input.shape)
    return sum(squares) / (len(squares) if reduction == "mean" else 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_loop(reduction):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(mse_loss(a, b, reduction), loop_mse(a, b, reduction), rtol=1e-12)


def test_mse_by_hand():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    assert mse_loss(a, b) == pytest.approx(13 / 3)
    assert mse_loss(a, b, "sum") == 13
    np.testing.assert_allclose(mse_loss_backward(a, b), [0, 4 / 3, 2])
    np.testing.assert_allclose(mse_loss_backward(a, b, "sum", grad_output=0.5), [0, 2, 3])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_gradcheck(reduction):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))

    def backward(g, a, b):
        grad = mse_loss_backward(a, b, reduction, grad_output=g)
        return grad, -grad     # dL/dtarget is the negative of dL/dinput
    assert gradcheck(lambda a, b: mse_loss(a, b, reduction), backward, [a, b])


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), reduction=st.sampled_from(REDUCTIONS),
       seed=st.integers(0, 2**32 - 1))
def test_mse_pytorch_parity(shape, reduction, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    at = torch.tensor(a, requires_grad=True)
    lt = torch.nn.functional.mse_loss(at, torch.tensor(b), reduction=reduction)
    g = rng.standard_normal(tuple(lt.shape))
    lt.backward(torch.tensor(g))
    np.testing.assert_allclose(mse_loss(a, b, reduction), lt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mse_loss_backward(a, b, reduction, grad_output=g), at.grad.numpy(), rtol=1e-12)


def test_mse_dtypes():
    a32, b32 = np.ones(4, np.float32), np.zeros(4, np.float32)
    for reduction in REDUCTIONS:
        assert mse_loss(a32, b32, reduction).dtype == np.float32
        assert mse_loss_backward(a32, b32, reduction).dtype == np.float32
    assert mse_loss(np.array([1, 2]), np.array([0, 0])).dtype == np.float64
    assert np.ndim(mse_loss(a32, b32)) == 0


@pytest.mark.parametrize("call, match", [
    (lambda: mse_loss(np.ones(3), np.ones(4)), r"same shape, got input \(3,\) and target \(4,\)"),
    (lambda: mse_loss(np.ones((3, 1)), np.ones(3)), "same shape"),
    (lambda: mse_loss(np.ones(3), np.ones(3), "average"), "reduction"),
    (lambda: mse_loss_backward(np.ones(3), np.ones(3), "max"), "reduction"),
    (lambda: mse_loss_backward(np.ones(3), np.ones(2)), "same shape"),
    (lambda: mse_loss_backward(np.ones(3), np.ones(3), "mean", grad_output=np.ones(3)), "grad_output"),
    (lambda: mse_loss_backward(np.ones(3), np.ones(3), "none", grad_output=np.ones(2)), "grad_output"),
])
def test_mse_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_functional_namespace_exports():
    import convgrad.functional as F
    for name in ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
                 "relu", "relu_backward", "mse_loss", "mse_loss_backward", "convolve", "correlate"]:
        assert callable(getattr(F, name)), name
