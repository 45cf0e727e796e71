"""Finite differences: the independent check of every backward pass.

A backward pass claims ``dL/dx``. Nudging each entry of ``x`` by ``+-eps`` and
watching ``L`` move gives the same numbers to about ``eps**2`` (centred
differences), without trusting any derivation. :func:`gradcheck` does this for
every input of an operation at once.
"""

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradcheck"]


def numerical_gradient(f, x, eps=1e-6):
    """Centred finite-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar``. It receives a float64 array of ``x``'s shape, which
        is modified in place between calls (and restored), so ``f`` must not keep it.
    x : array-like, any shape
    eps : float > 0
        The step.

    Returns
    -------
    grad : float64 array, shape of ``x``
        ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, error ``O(eps**2)``.

    Raises
    ------
    ValueError
        ``eps <= 0``, or ``f`` returns something that is not a single number.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    x = np.array(x, dtype=np.float64)  # a copy: the caller's array is never touched
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = _scalar(f(x))
        x[i] = old - eps
        f_minus = _scalar(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """Largest difference between ``a`` and ``b``, relative to their size.

    ``max|a - b| / max(max(|a| + |b|), tiny)``, with ``tiny`` the smallest
    positive normal float64, so two all-zero arrays give 0 rather than 0/0.
    It is 0 for equal arrays, at most 1 always, and about 1e-10 or smaller
    when a correct analytic gradient is compared with centred differences.

    Raises ``ValueError`` if the shapes differ.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def gradcheck(fn, backward, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check an operation's backward pass against finite differences.

    A random ``grad_out`` ``g`` turns the operation into the scalar
    ``L(inputs) = sum(g * fn(*inputs))``, whose gradient with respect to each
    input is exactly what ``backward(g, *inputs)`` must return.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs) -> array``. Options that are not inputs (stride, ...)
        belong in a closure: ``lambda x, w: conv2d(x, w, stride=2)``.
    backward : callable
        ``backward(grad_out, *inputs) -> tuple`` with one gradient per input,
        each of the input's shape, or ``None`` for an input that is not
        differentiated (an integer target, say).
    inputs : sequence of arrays
        Converted to float64 copies first: finite differences in float32 are
        too coarse to check anything.
    eps : float
        Finite-difference step.
    atol, rtol : float
        Entry ``i`` passes when ``|analytic_i - numeric_i| <= atol + rtol * |numeric_i|``
        (PyTorch's ``gradcheck`` defaults).
    seed : int
        Seed of the random ``grad_out`` (standard normal).

    Returns
    -------
    True, if every gradient passes.

    Raises
    ------
    AssertionError
        Naming the first input whose gradient is wrong (index, shape or
        ``relative_error``), or when ``backward`` returns the wrong number of gradients.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    out = np.asarray(fn(*inputs))
    grad_out = np.random.default_rng(seed).standard_normal(out.shape)
    grads = backward(grad_out, *inputs)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)  # a single-input backward may return the gradient itself
    if len(grads) != len(inputs):
        raise AssertionError(f"backward returned {len(grads)} gradients for {len(inputs)} inputs")

    for index, (analytic, x) in enumerate(zip(grads, inputs)):
        if analytic is None:
            continue
        analytic = np.asarray(analytic, dtype=np.float64)
        if analytic.shape != x.shape:
            raise AssertionError(f"input {index}: gradient has shape {analytic.shape}, input has shape {x.shape}")

        def loss(xi, index=index):
            args = list(inputs)
            args[index] = xi
            return np.sum(grad_out * fn(*args))

        numeric = numerical_gradient(loss, x, eps)
        if not np.all(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric)):
            raise AssertionError(f"input {index}: analytic and numerical gradients differ, "
                                 f"relative error {relative_error(analytic, numeric):.3e} "
                                 f"(max abs difference {np.max(np.abs(analytic - numeric)):.3e})")
    return True


def _scalar(value):
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"f must return a single number, got an array of shape {value.shape}")
    return float(value.reshape(()))
