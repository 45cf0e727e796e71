"""convgrad.gradcheck: finite differences that can tell a right gradient from a wrong one."""

import numpy as np
import pytest

from convgrad.gradcheck import gradcheck, numerical_gradient, relative_error
from convgrad.signal import correlate


def test_numerical_gradient_of_known_functions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, atol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), atol=1e-8)
    A = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    np.testing.assert_allclose(numerical_gradient(lambda u: u @ A @ u, v), (A + A.T) @ v, atol=1e-8)


def test_numerical_gradient_leaves_input_alone_and_is_float64():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = x.copy()
    g = numerical_gradient(lambda v: np.sum(v**3), x)
    assert g.dtype == np.float64 and g.shape == x.shape
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, 3 * before.astype(float) ** 2, rtol=1e-6, atol=1e-6)
    assert numerical_gradient(lambda v: v**2, 3.0) == pytest.approx(6.0)   # 0-d input


def test_numerical_gradient_errors():
    with pytest.raises(ValueError, match="single number"):
        numerical_gradient(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda v: v.sum(), np.ones(3), eps=0)


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(1.0)   # opposite signs: the maximum
    # max|a-b| = 0.5, max(|a|+|b|) = 8.5
    assert relative_error([1.0, 4.0], [1.5, 4.5]) == pytest.approx(0.5 / 8.5)
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.ones(2), np.ones(3))


def matmul_backward(g, A, x):
    return g @ x.T, A.T @ g


def test_gradcheck_passes_correct_backward():
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    assert gradcheck(lambda A, x: A @ x, matmul_backward, (A, x)) is True


def test_gradcheck_catches_wrong_backward_and_names_input():
    rng = np.random.default_rng(2)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    wrong = lambda g, A, x: (g @ x.T, A @ g)   # A instead of A.T for the second input
    with pytest.raises(AssertionError, match=r"input 1: .*relative error"):
        gradcheck(lambda A, x: A @ x, wrong, (A, x))
    off_by_factor = lambda g, A, x: (2 * g @ x.T, None)
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(lambda A, x: A @ x, off_by_factor, (A, x))


def test_gradcheck_none_skips_input_and_shapes_are_checked():
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal(5), rng.standard_normal(5)
    assert gradcheck(lambda x, t: (x - t) ** 2, lambda g, x, t: (2 * g * (x - t), None), (x, t))
    with pytest.raises(AssertionError, match="shape"):
        gradcheck(lambda x, t: (x - t) ** 2, lambda g, x, t: ((2 * g * (x - t))[:-1], None), (x, t))
    with pytest.raises(AssertionError, match="1 gradients for 2 inputs"):
        gradcheck(lambda x, t: (x - t) ** 2, lambda g, x, t: (2 * g * (x - t),), (x, t))


def test_gradcheck_on_a_correlation():
    # The gradient of y = correlate(x, w, valid) w.r.t. w is correlate(x, g, valid),
    # and w.r.t. x it is the full convolution of g with w.
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(9), rng.standard_normal(3)
    fn = lambda x, w: correlate(x, w, "valid")
    backward = lambda g, x, w: (np.convolve(g, w, "full"), correlate(x, g, "valid"))
    assert gradcheck(fn, backward, (x, w))
    with pytest.raises(AssertionError):
        gradcheck(fn, lambda g, x, w: (np.convolve(g, w[::-1], "full"), correlate(x, g, "valid")), (x, w))
