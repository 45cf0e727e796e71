"""Activation functions and their backward passes."""

import numpy as np

__all__ = ["relu", "relu_backward"]


def relu(x):
    """Rectified linear unit, elementwise: ``relu(x) = max(x, 0)``.

    x: array of any shape. Returns an array of the same shape and dtype
    (NaN stays NaN, as in PyTorch).
    """
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.dtype.kind == "f":  # a Python 0.0 takes x's dtype (NumPy 2's rule for Python scalars)
        return np.maximum(x, 0.0)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def relu_backward(grad_out, x):
    """Gradient of :func:`relu`: ``grad_x = grad_out * (x > 0)``.

    The derivative at ``x == 0`` is taken as 0, as PyTorch does.

    Parameters
    ----------
    grad_out : array, shape of ``x``
        ``dL/d relu(x)``.
    x : array
        The input of the forward pass.

    Returns
    -------
    grad_x : array, shape of ``x``, dtype of ``np.result_type(grad_out, x)``

    Raises
    ------
    ValueError
        ``grad_out`` and ``x`` have different shapes.
    """
    if type(grad_out) is not np.ndarray or type(x) is not np.ndarray:
        grad_out, x = np.asarray(grad_out), np.asarray(x)
    if grad_out.shape != x.shape:
        raise ValueError(f"grad_out must have the shape of x, got grad_out {grad_out.shape} and x {x.shape}")
    if grad_out.dtype is x.dtype:  # the common case, without result_type's cost
        # (a Python 0.0 takes a float array's dtype, and is cheaper than a NumPy scalar)
        return np.where(x > 0, grad_out, 0.0 if x.dtype.kind == "f" else grad_out.dtype.type(0))
    dtype = np.result_type(grad_out, x)
    return np.where(x > 0, grad_out, 0).astype(dtype, copy=False)
