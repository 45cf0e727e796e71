"""Loss functions and their gradients."""

import numpy as np

__all__ = ["mse_loss", "mse_loss_backward"]

_REDUCTIONS = ("mean", "sum", "none")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, as ``torch.nn.functional.mse_loss``.

    ``l_i = (input_i - target_i)**2``, then ``mean(l)``, ``sum(l)`` or ``l`` itself.

    Parameters
    ----------
    input, target : arrays of the same shape (any shape)
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    loss : a 0-d value for "mean"/"sum", an array of ``input``'s shape for "none".
        Floating dtype of ``np.result_type(input, target)`` (integers become float64).

    Raises
    ------
    ValueError
        The shapes differ (PyTorch would broadcast, with a warning; here it is
        an error) or ``reduction`` is unknown.
    """
    input, target, dtype = _check(input, target, reduction)
    diff = np.subtract(input, target, dtype=dtype)
    squared = np.multiply(diff, diff, out=diff)
    if reduction == "none":
        return squared
    total = np.add.reduce(squared, axis=None)   # what squared.sum() and squared.mean() add up, without their wrappers
    return dtype.type(total / dtype.type(squared.size) if reduction == "mean" else total)


def mse_loss_backward(input, target, reduction="mean", grad_output=1.0):
    """Gradient of :func:`mse_loss` with respect to ``input``.

    ``grad_input = 2 (input - target) * grad_output / N`` for "mean" (``N = input.size``),
    without the ``/ N`` for "sum", and elementwise for "none". (The gradient
    with respect to ``target`` is its negative.)

    Parameters
    ----------
    input, target : arrays of the same shape
    reduction : {"mean", "sum", "none"}
    grad_output : number, or for "none" an array of ``input``'s shape
        ``dL/d loss``; 1 when the loss is the final scalar.

    Returns
    -------
    grad_input : array of ``input``'s shape and the loss's dtype

    Raises
    ------
    ValueError
        Shapes differ, unknown ``reduction``, or ``grad_output`` of the wrong
        shape (a scalar is required for "mean" and "sum").
    """
    input, target, dtype = _check(input, target, reduction)
    if type(grad_output) is not np.ndarray or grad_output.dtype != dtype:
        grad_output = np.asarray(grad_output).astype(dtype)
    if grad_output.shape != () and (reduction != "none" or grad_output.shape != input.shape):
        allowed = "()" if reduction != "none" else f"() or {input.shape}"
        raise ValueError(f"grad_output must have shape {allowed} for reduction={reduction!r}, got {grad_output.shape}")
    # 2 (input - target) grad_output [/ N], in that order, on one new array
    grad = np.subtract(input, target, dtype=dtype)
    grad *= 2
    grad *= grad_output
    if reduction == "mean":
        grad /= dtype.type(input.size)  # each entry carries 1/N of the mean
    return grad


def _check(input, target, reduction):
    if type(input) is not np.ndarray or type(target) is not np.ndarray:
        input, target = np.asarray(input), np.asarray(target)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if input.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got input {input.shape} and target {target.shape}")
    if input.dtype is target.dtype and input.dtype.kind == "f":  # the common case, without result_type's cost
        return input, target, input.dtype
    dtype = np.result_type(input, target)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return input, target, np.dtype(dtype)
