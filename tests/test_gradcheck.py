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


def test_numerical_gradient_works_on_a_copy():
    # f may read the caller's array while the copy is nudged: f(v) = <v, x0> has gradient x0, not 2 x0.
    x0 = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: v @ x0, x0), x0, atol=1e-8)
    np.testing.assert_array_equal(x0, [1.0, -2.0, 3.0])


def test_numerical_gradient_accepts_any_single_number():
    x = np.array([1.0, -2.0])
    for f in [lambda v: np.sum(v**2, keepdims=True),            # shape (1,)
              lambda v: np.sum(v**2).reshape(1, 1),              # shape (1, 1)
              lambda v: float(np.sum(v**2))]:                    # a Python float
        np.testing.assert_allclose(numerical_gradient(f, x), 2 * x, atol=1e-8)


def test_relative_error_of_empty_arrays():
    assert relative_error([], []) == 0.0
    assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_gradcheck_single_input_may_return_the_bare_gradient():
    x = np.random.default_rng(5).standard_normal((2, 3))
    assert gradcheck(lambda x: x**2, lambda g, x: 2 * g * x, [x])
    assert gradcheck(lambda x: x**2, lambda g, x: [2 * g * x], [x])     # a list is fine too


def test_gradcheck_catches_a_single_wrong_entry():
    x = np.random.default_rng(6).standard_normal(6)

    def one_wrong(g, x):
        grad = 2 * g * x
        grad[3] += 1.0
        return grad
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(lambda x: x**2, one_wrong, [x])


def test_gradcheck_uses_a_random_grad_out():
    # A backward that ignores grad_out (correct only for grad_out = 1) must fail.
    x = np.random.default_rng(7).standard_normal(5)
    with pytest.raises(AssertionError):
        gradcheck(lambda x: x**2, lambda g, x: 2 * x, [x])


def test_gradcheck_tolerances():
    """Entry i passes when |analytic_i - numeric_i| <= atol + rtol * |numeric_i| (defaults 1e-5, 1e-3)."""
    x = np.random.default_rng(8).standard_normal((3, 4))
    fn = lambda x: 1000.0 * x           # linear: the centred differences are exact up to rounding
    # relative: 5e-4 of the gradient is within rtol = 1e-3, 2e-3 is not
    assert gradcheck(fn, lambda g, x: 1000.0 * g * (1 + 5e-4), [x])
    with pytest.raises(AssertionError):
        gradcheck(fn, lambda g, x: 1000.0 * g * (1 + 2e-3), [x])
    assert gradcheck(fn, lambda g, x: 1000.0 * g * (1 + 2e-3), [x], rtol=3e-3)
    # absolute: the gradient of a constant is 0, so only atol is left
    const = lambda x: 0.0 * x
    assert gradcheck(const, lambda g, x: np.full(x.shape, 5e-6), [x])
    with pytest.raises(AssertionError):
        gradcheck(const, lambda g, x: np.full(x.shape, 1e-2), [x])
    assert gradcheck(const, lambda g, x: np.full(x.shape, 1e-2), [x], atol=2e-2)


def test_gradcheck_uses_eps():
    # For x**3 the centred difference is 3x^2 + eps^2: a step of 0.1 is off by 1e-2, far beyond the tolerance.
    x = np.random.default_rng(9).standard_normal(4)
    backward = lambda g, x: 3 * g * x**2
    assert gradcheck(lambda x: x**3, backward, [x])
    with pytest.raises(AssertionError):
        gradcheck(lambda x: x**3, backward, [x], eps=0.1)


def test_gradcheck_hands_float64_copies_to_backward():
    x_in, w_in = np.arange(3, dtype=np.float32), np.arange(1.0, 4.0)
    seen = []

    def backward(g, x, w):
        seen.append((x.dtype, w.dtype, np.shares_memory(x, x_in), np.shares_memory(w, w_in)))
        return g * w, g * x
    assert gradcheck(lambda x, w: x * w, backward, [x_in, w_in])
    assert seen == [(np.float64, np.float64, False, False)]
