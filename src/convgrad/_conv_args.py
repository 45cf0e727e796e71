"""The arguments of conv1d/conv2d and their backwards: every check, then the 2-D batched form.

A 1-D problem is lifted to height 1 only after all checks, so that every
message speaks of the shapes the caller passed.
"""

from collections import namedtuple

import numpy as np

from ._args import (_as_real_array, _check_at_least, _check_padding_mode, _common_float, _conv_padding, _is_int,
                    _ntuple, _output_size)
from .padding import pad_limit_violation

# The normalised arguments of one convolution, always in 2-D form.
# narrow_zeros: zero padding no wider than d*(k-1) on any side (then the input gradient is a correlation
# of its own, with no crop after it).
Spec = namedtuple("Spec", "stride dilation padding mode kernel_size out_size groups narrow_zeros")


# The Spec of every argument combination already checked, keyed by everything the checks read (the
# arrays' types, shapes and dtypes, the options' exact types and values). A training loop calls the
# same convolution thousands of times: checking once saves tens of microseconds per call, which is
# most of a small image's time. Bounded, so that a sweep over many shapes cannot grow it forever.
_checked = {}
_CHECKED_MAX = 512


def prepare(fname, nd, x, weight, bias, grad_out, stride, padding, dilation, padding_mode, groups=1):
    """Validate everything, and return batched 2-D arrays and a 2-D :data:`Spec`.

    nd is the number of spatial dimensions (1 or 2). Returns
    (x, weight, bias, grad_out, spec, unbatched) with x (N, C_in, H, W),
    weight (C_out, C_in/groups, kh, kw), grad_out (N, C_out, H_out, W_out) or None.
    """
    key = _key(fname, nd, x, weight, bias, grad_out, stride, padding, dilation, padding_mode, groups)
    if key is not None:
        known = _checked.get(key)
        if known is not None:
            spec, unbatched = known
            return _lifted(nd, x, weight, bias, grad_out, spec, unbatched)
    prepared = _prepare(fname, nd, x, weight, bias, grad_out, stride, padding, dilation, padding_mode, groups)
    if key is not None:
        if len(_checked) >= _CHECKED_MAX:
            _checked.clear()
        _checked[key] = prepared[4:]
    return prepared


def _key(fname, nd, x, weight, bias, grad_out, *options):
    """The cache key of a call whose arrays are float ndarrays of one dtype and whose options are plain
    ints, strings or tuples of ints (so that no two different arguments compare equal: no bools, no
    floats, no lists); None (check it in full) for anything else."""
    if type(x) is not np.ndarray or type(weight) is not np.ndarray:
        return None
    dtype = x.dtype
    if dtype.kind != "f" or weight.dtype != dtype:
        return None
    key = [fname, nd, dtype, x.shape, weight.shape]
    for array in (bias, grad_out):
        if array is None:
            key.append(None)
        elif type(array) is not np.ndarray or array.dtype != dtype:
            return None
        else:
            key.append(array.shape)
    for option in options:
        kind = type(option)
        if kind is not int and kind is not str and not (kind is tuple and all(type(v) is int for v in option)):
            return None
    return tuple(key) + options


def _lifted(nd, x, weight, bias, grad_out, spec, unbatched):
    """What :func:`_prepare` returns for arrays it has already checked: batched, and 1-D lifted to 2-D."""
    if unbatched:
        x = x[None]
        grad_out = None if grad_out is None else grad_out[None]
    if nd == 1:
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        grad_out = None if grad_out is None else grad_out[:, :, None, :]
    return x, weight, bias, grad_out, spec, unbatched


def _prepare(fname, nd, x, weight, bias, grad_out, stride, padding, dilation, padding_mode, groups):
    """:func:`prepare`'s checks, in full."""
    layout = {1: "L", 2: "H, W"}[nd]
    kernel = {1: "k", 2: "kh, kw"}[nd]
    x = _as_real_array(x, "x", fname)
    weight = _as_real_array(weight, "weight", fname)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fname}: x must have shape (N, C_in, {layout}) or (C_in, {layout}), got shape {x.shape}")
    if weight.ndim != nd + 2:
        raise ValueError(f"{fname}: weight must have shape (C_out, C_in/groups, {kernel}), got shape {weight.shape}")
    if weight.shape[0] == 0:
        raise ValueError(f"{fname}: weight must have at least one output channel, got weight.shape={weight.shape}")
    if bias is not None:
        bias = _as_real_array(bias, "bias", fname)
    if grad_out is not None:
        grad_out = _as_real_array(grad_out, "grad_out", fname)
    arrays = _common_float({"x": x, "weight": weight, "bias": bias, "grad_out": grad_out}, fname)
    x, weight, bias, grad_out = arrays["x"], arrays["weight"], arrays["bias"], arrays["grad_out"]

    unbatched = x.ndim == nd + 1
    shown_x = f"x.shape={x.shape}"
    if unbatched:
        x = x[None]
    _check_groups(fname, groups, x.shape[1], weight.shape, shown_x)
    if x.shape[1] != weight.shape[1] * groups:
        per_group = "" if groups == 1 else f" * groups={weight.shape[1] * groups}"
        raise ValueError(f"{fname}: x has {x.shape[1]} input channels but weight expects weight.shape[1]="
                         f"{weight.shape[1]}{per_group} ({shown_x}, weight.shape={weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{fname}: bias must have shape (C_out,) = ({weight.shape[0]},), got bias.shape={bias.shape} "
                         f"(weight.shape={weight.shape})")

    stride = _ntuple(stride, nd, "stride", fname)
    dilation = _ntuple(dilation, nd, "dilation", fname)
    _check_at_least(stride, 1, "stride", fname)
    _check_at_least(dilation, 1, "dilation", fname)
    _check_padding_mode(padding_mode, fname)
    kernel_size = weight.shape[2:]
    pads = _conv_padding(padding, kernel_size, stride, dilation, fname)
    size = x.shape[2:]
    _check_mode_fits(fname, padding_mode, size, pads, shown_x)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    padded = tuple(n + left + right for n, (left, right) in zip(size, pads))
    if any(s > p for s, p in zip(spans, padded)):
        raise ValueError(f"{fname}: the dilated kernel {_show(spans)} (weight.shape={weight.shape}, "
                         f"dilation={_show(dilation)}) is larger than the padded input {_show(padded)} "
                         f"({shown_x}, padding={_show(tuple(pads))})")
    out_size = tuple(_output_size(n, k, s, d, left, right)
                     for n, k, s, d, (left, right) in zip(size, kernel_size, stride, dilation, pads))

    if grad_out is not None:
        expected = (weight.shape[0],) + out_size
        if not unbatched:
            expected = (x.shape[0],) + expected
        if grad_out.shape != expected:
            names = f"(N, C_out, {'L_out' if nd == 1 else 'H_out, W_out'})"
            raise ValueError(f"{fname}: grad_out must have the output's shape {names} = {expected}, got "
                             f"grad_out.shape={grad_out.shape} ({shown_x}, weight.shape={weight.shape})")
        if unbatched:
            grad_out = grad_out[None]

    if nd == 1:  # a 1-D convolution is a 2-D one on an image of height 1
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        grad_out = None if grad_out is None else grad_out[:, :, None, :]
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        kernel_size, out_size = (1,) + kernel_size, (1,) + out_size
    narrow_zeros = padding_mode == "zeros" and all(max(pair) <= d * (k - 1)
                                                   for pair, k, d in zip(pads, kernel_size, dilation))
    spec = Spec(stride, dilation, pads, padding_mode, kernel_size, out_size, int(groups), narrow_zeros)
    return x, weight, bias, grad_out, spec, unbatched


def prepare_backward(fname, nd, grad_out, x, weight, stride, padding, dilation, padding_mode, groups=1):
    """:func:`prepare` for a backward pass: (grad_out, x, weight, spec, unbatched)."""
    if grad_out is None:
        raise TypeError(f"{fname}: grad_out must be a real-valued array, got None")
    x, weight, _, grad_out, spec, unbatched = prepare(fname, nd, x, weight, None, grad_out,
                                                      stride, padding, dilation, padding_mode, groups)
    return grad_out, x, weight, spec, unbatched


def _check_groups(fname, groups, c_in, weight_shape, shown_x):
    """PyTorch's rule: groups >= 1 divides both C_in and C_out."""
    if not _is_int(groups):
        raise TypeError(f"{fname}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{fname}: groups must be >= 1, got {groups}")
    if groups == 1:
        return
    if c_in % groups:
        raise ValueError(f"{fname}: groups={groups} must divide the input channels C_in={c_in} ({shown_x})")
    if weight_shape[0] % groups:
        raise ValueError(f"{fname}: groups={groups} must divide the output channels C_out=weight.shape[0]="
                         f"{weight_shape[0]} (weight.shape={weight_shape})")


def _check_mode_fits(fname, mode, size, pads, shown_x):
    """PyTorch's limits on padding that copies input entries (the rule lives in padding.py)."""
    for n, (left, right) in zip(size, pads):
        reason = pad_limit_violation(mode, n, left, right)
        if reason is not None:
            raise ValueError(f"{fname}: padding_mode={mode!r}: {reason}: got padding {_show(tuple(pads))} "
                             f"for input size {_show(size)} ({shown_x})")


def _show(values):
    """A 1-tuple shown as its entry, so 1-D messages read 'padding 3' rather than 'padding (3,)'."""
    return values[0] if len(values) == 1 else values
