"""Argument normalisation and validation shared by the convolution modules.

Every public function checks its arguments here first, so that bad input
fails with a ``TypeError``/``ValueError`` that names the argument and the
shapes involved, instead of a broadcasting error from deep inside NumPy.
Each helper takes the calling function's name (``fname``) for its messages.
"""

import numbers

import numpy as np

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, n, name, fname):
    """``value`` as a tuple of ``n`` Python ints: an int is repeated, a tuple/list of n ints is kept.

    Raises ``TypeError`` for anything else (floats, bools, strings, wrong length).
    """
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    if n == 1:
        expected = "an int or a tuple of 1 int"
    else:
        expected = f"an int or a tuple of {n} ints"
    raise TypeError(f"{fname}: {name} must be {expected}, got {value!r}")


def _int_tuple(value, n, name, minimum):
    """``value`` as a tuple of ``n`` ints, each >= ``minimum``; an int is repeated.

    The symbolic and drawing helpers' version of :func:`_ntuple` +
    :func:`_check_at_least`: every failure is a ``ValueError`` naming the argument.
    """
    values = (value,) * n if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or len(values) != n or not all(_is_int(v) for v in values):
        expected = "a pair of ints" if n == 2 else f"a tuple of {n} ints"
        raise ValueError(f"{name} must be an int or {expected}, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _is_int(value):
    # bool is an int subclass, but stride=True is a bug, not a 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_at_least(values, minimum, name, fname):
    """Raise ``ValueError`` unless every entry of the tuple ``values`` is >= ``minimum``."""
    if any(v < minimum for v in values):
        shown = values[0] if len(values) == 1 else values
        raise ValueError(f"{fname}: {name} must be >= {minimum}, got {shown}")


def _as_real_array(value, name, fname):
    """``value`` as an ndarray of real numbers (float or int dtype; ints are cast later).

    Raises ``TypeError`` for None, strings, objects, booleans and complex numbers.
    """
    if value is None or isinstance(value, str):
        raise TypeError(f"{fname}: {name} must be a real-valued array, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype.kind == "c":
        raise TypeError(f"{fname}: {name} must be real, got complex dtype {array.dtype}")
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: {name} must be a real-valued (float or int) array, got dtype {array.dtype}")
    return array


def _common_float(arrays, fname):
    """Cast the named arrays (a dict name -> array or None) to one floating dtype.

    The floating arrays set the dtype (integer arrays are cast to it; to
    float64 if none is floating). Two different floating dtypes raise
    ``TypeError``, as they do in PyTorch: silently upcasting float32 data
    would double the memory and time, silently downcasting would lose digits.
    """
    floats = {name: a.dtype for name, a in arrays.items() if a is not None and a.dtype.kind == "f"}
    if len(set(floats.values())) > 1:
        shown = ", ".join(f"{name} has dtype {dtype}" for name, dtype in floats.items())
        raise TypeError(f"{fname}: the arrays must share one floating dtype, but {shown}; "
                        f"convert them with .astype(...)")
    dtype = next(iter(floats.values()), np.dtype(np.float64))
    return {name: (None if a is None else a.astype(dtype, copy=False)) for name, a in arrays.items()}


def _check_padding_mode(padding_mode, fname):
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        choices = ", ".join(repr(m) for m in PADDING_MODES)
        raise ValueError(f"{fname}: padding_mode must be one of {choices}, got {padding_mode!r}")


def _conv_padding(padding, kernel_size, stride, dilation, fname):
    """The (left, right) zero-or-mode padding of each spatial dimension.

    padding: int, tuple of ints (one per spatial dimension, applied to both
    sides), ``"valid"`` (no padding) or ``"same"`` (output size = input size;
    needs stride 1). For ``"same"`` the total padding of a dimension is
    ``dilation * (k - 1)``; when it is odd the extra row goes on the right,
    as in PyTorch: ``left = total // 2``, ``right = total - left``.
    """
    nd = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                shown = stride[0] if nd == 1 else stride
                raise ValueError(f"{fname}: padding='same' is not supported for strided convolutions "
                                 f"(stride={shown}), as in PyTorch; use an explicit padding")
            totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{fname}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    pads = _ntuple(padding, nd, "padding", fname)
    _check_at_least(pads, 0, "padding", fname)
    return tuple((p, p) for p in pads)


def _output_size(size, kernel, stride, dilation, left, right):
    """floor((size + left + right - dilation*(kernel-1) - 1) / stride) + 1."""
    return (size + left + right - dilation * (kernel - 1) - 1) // stride + 1
