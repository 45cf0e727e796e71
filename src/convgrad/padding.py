"""Padding (the four modes of a PyTorch convolution) and its adjoint.

``pad`` takes PyTorch's ``F.pad`` layout: a flat tuple of (left, right) pairs
starting from the LAST dimension, ``(left, right)`` pads the last dimension,
``(left, right, top, bottom)`` the last two. Modes, for a row ``1 2 3 4``
padded by 2 on each side:

    zeros      0 0 | 1 2 3 4 | 0 0
    reflect    3 2 | 1 2 3 4 | 3 2      (mirror, the edge is not repeated)
    replicate  1 1 | 1 2 3 4 | 4 4      (repeat the edge)
    circular   3 4 | 1 2 3 4 | 1 2      (wrap around)

Every padded entry is a copy of one input entry (or a zero): padding is a
gather, ``x_pad[p] = x[src[p]]``. Its adjoint, the gradient of padding, is
therefore a scatter-add: ``grad_x[src[p]] += grad_x_pad[p]`` for every padded
position ``p``. For zero padding that is just cropping; for the other modes the
border's gradient is folded back onto the input entries it was copied from.
"""

import numpy as np

from ._args import PADDING_MODES, _check_at_least, _is_int

__all__ = ["pad", "pad_backward"]


def pad(x, pad, mode="zeros"):
    """Pad the last ``len(pad) // 2`` dimensions of ``x``.

    Parameters
    ----------
    x : array, any shape, e.g. ``(N, C, H, W)``.
    pad : tuple of non-negative ints ``(left, right[, top, bottom])``, last dimension first.
    mode : ``"zeros"`` (alias ``"constant"``), ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns
    -------
    x_pad : x's shape with each padded dimension grown by ``left + right``;
        ``x_pad[..., p] = x[..., src(p)]`` with ``src`` given by the mode
        (see the module docstring), or 0 for ``"zeros"``.

    Raises
    ------
    TypeError
        ``pad`` is not a tuple of ints of even length.
    ValueError
        An unknown mode, a negative padding, more padded dimensions than
        ``x`` has, ``"reflect"`` padding not smaller than the input size,
        ``"circular"`` padding larger than the input size, or non-zero padding
        of an empty dimension in a mode that copies input entries.
    """
    x = np.asarray(x)
    mode = _check_mode(mode, "pad")
    pairs = _pad_pairs(pad, x.ndim, "pad")
    first = x.ndim - len(pairs)
    for axis, (left, right) in enumerate(pairs, start=first):
        _check_pad_fits(x.shape[axis], left, right, mode, axis, x.shape, "pad")
    if mode == "zeros":
        # Allocate once and copy the input into the middle: the fast path
        # that every zero-padded convolution takes.
        shape = list(x.shape)
        interior = [slice(None)] * x.ndim
        for axis, (left, right) in enumerate(pairs, start=first):
            shape[axis] += left + right
            interior[axis] = slice(left, left + x.shape[axis])
        x_pad = np.zeros(shape, dtype=x.dtype)
        x_pad[tuple(interior)] = x
        return x_pad
    for axis, (left, right) in enumerate(pairs, start=first):
        if left or right:
            x = np.take(x, _source_indices(x.shape[axis], left, right, mode), axis=axis)
    return x


def pad_backward(grad_out, pad, mode="zeros"):
    """The gradient of :func:`pad` (its adjoint): fold the border back onto the input.

    Parameters
    ----------
    grad_out : array shaped like ``pad(x, pad, mode)``, the gradient of the padded array.
    pad, mode : as given to :func:`pad`.

    Returns
    -------
    grad_x : x's shape; ``grad_x[k] = sum of grad_out[p] over every padded
        position p with src(p) = k``. Adjointness:
        ``<pad(x), y> == <x, pad_backward(y)>`` for all x, y.

    Raises
    ------
    TypeError, ValueError
        As :func:`pad`, for the input size recovered as
        ``grad_out.shape[axis] - left - right`` (which must be >= 0).
    """
    grad_out = np.asarray(grad_out)
    mode = _check_mode(mode, "pad_backward")
    pairs = _pad_pairs(pad, grad_out.ndim, "pad_backward")
    first = grad_out.ndim - len(pairs)
    sizes = []
    for axis, (left, right) in enumerate(pairs, start=first):
        size = grad_out.shape[axis] - left - right
        if size < 0:
            raise ValueError(f"pad_backward: grad_out.shape={grad_out.shape} is smaller than the padding "
                             f"{left} + {right} in dimension {axis}")
        _check_pad_fits(size, left, right, mode, axis, grad_out.shape, "pad_backward")
        sizes.append(size)
    if mode == "zeros":
        # the padded entries were constants: their gradient goes nowhere, just crop (one copy)
        interior = tuple(slice(left, left + size) for (left, _), size in zip(pairs, sizes))
        return np.array(grad_out[(Ellipsis,) + interior], order="C")
    grad = grad_out
    for (axis, (left, right)), size in zip(enumerate(pairs, start=first), sizes):
        grad = _fold_axis(grad, axis, left, right, size, mode)
    return np.ascontiguousarray(grad)


def _fold_axis(grad, axis, left, right, size, mode):
    """Adjoint of padding one axis: keep the middle, scatter-add each border slice onto its source."""
    moved = np.moveaxis(grad, axis, 0)
    result = moved[left:left + size].copy()
    src = _source_indices(size, left, right, mode)
    for p in list(range(left)) + list(range(left + size, left + size + right)):
        result[src[p]] += moved[p]
    return np.moveaxis(result, 0, axis)


def _source_indices(size, left, right, mode):
    """For every position p of the padded axis, the input index it copies (not used for zeros)."""
    k = np.arange(-left, size + right)  # index relative to the input's first entry
    if mode == "replicate":
        return np.clip(k, 0, size - 1)
    if mode == "circular":
        return k % size
    # reflect about the first and last entries, which are not repeated
    k = np.abs(k)
    return np.where(k > size - 1, 2 * (size - 1) - k, k)


def _check_mode(mode, fname):
    if mode == "constant":
        return "zeros"
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        choices = ", ".join(repr(m) for m in PADDING_MODES)
        raise ValueError(f"{fname}: mode must be one of {choices} (or 'constant'), got {mode!r}")
    return mode


def _pad_pairs(pad, ndim, fname):
    """PyTorch's flat (last dimension first) tuple -> [(left, right), ...] in dimension order."""
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(_is_int(p) for p in pad):
        raise TypeError(f"{fname}: pad must be a tuple of ints (left, right[, top, bottom]) of even length, "
                        f"got {pad!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) // 2 > ndim:
        raise ValueError(f"{fname}: pad={pad} pads {len(pad) // 2} dimensions but the array has only {ndim}")
    _check_at_least(pad, 0, "pad", fname)
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    return pairs[::-1]


def pad_limit_violation(mode, size, left, right):
    """Why PyTorch refuses to pad a dimension of ``size`` by ``(left, right)`` in ``mode``, or None.

    Modes that copy input entries need entries to copy: reflect needs padding
    smaller than the size (the edge is not repeated), circular at most the size.
    """
    biggest = max(left, right)
    if mode == "zeros" or biggest == 0:
        return None
    if size == 0:
        return f"cannot {mode}-pad an empty dimension"
    if mode == "reflect" and biggest >= size:
        return "reflect padding must be smaller than the input size"
    if mode == "circular" and biggest > size:
        return "circular padding must not exceed the input size"
    return None


def _check_pad_fits(size, left, right, mode, axis, shape, fname, what="pad"):
    reason = pad_limit_violation(mode, size, left, right)
    if reason is not None:
        raise ValueError(f"{fname}: {reason}: {what}=({left}, {right}) in dimension {axis} "
                         f"of size {size} (shape {shape})")