"""Convolution (cross-correlation, as in PyTorch) and its gradients, in 1-D and 2-D.

Forward, for a padded input ``x_pad`` (NCHW), stride ``s`` and dilation ``d``::

    out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]

Backward, given the upstream gradient ``g = dL/dout`` (the course's derivation):

* ``dL/dbias[o]`` sums ``g[:, o]``: every output position adds ``bias[o]`` once.
* ``dL/dweight`` is a cross-correlation of the padded input with ``g``:
  ``dL/dweight[o, c, a, b] = sum_{n, i, j} g[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]``.
* ``dL/dx_pad`` is a *full convolution* of ``g`` with the kernel, i.e. a
  cross-correlation of ``g`` (padded by ``d*(k-1)`` on each side) with the
  kernel flipped by 180 degrees and with ``C_in``/``C_out`` swapped. A stride
  ``s > 1`` is handled by first dilating ``g``: inserting ``s - 1`` zeros
  between its entries puts every ``g[i]`` back at the position ``s*i`` it
  came from.
* ``dL/dx`` is the adjoint of the padding applied to ``dL/dx_pad``
  (cropping for zeros; folding the border back for the other modes).

A 1-D convolution is computed as a 2-D one on an image of height 1.

Every correlation goes through :func:`_correlate`, which picks one of three
equivalent algorithms by shape (see its docstring): shifted slices, im2col +
one matrix product, or a loop over output positions.
"""

from collections import namedtuple

import numpy as np

from ._args import (_as_real_array, _check_at_least, _check_padding_mode, _common_float, _conv_padding, _ntuple,
                    _output_size)
from .padding import pad, pad_backward
from .unfold import _patches

__all__ = ["conv1d", "conv2d", "conv1d_backward", "conv2d_backward"]

# The normalised arguments of one convolution, always in 2-D form.
_Spec = namedtuple("_Spec", "stride dilation padding mode kernel_size out_size")


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros"):
    """1-D convolution (cross-correlation, no kernel flip), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
    weight : ``(C_out, C_in, k)``.
    bias : ``(C_out,)`` or None.
    stride, dilation : int >= 1 (or a 1-tuple).
    padding : int >= 0, a 1-tuple, ``"valid"`` (no padding) or ``"same"``
        (output length L; needs stride 1; for an even ``d*(k-1)`` the extra
        entry goes on the right, as in PyTorch).
    padding_mode : ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns
    -------
    out : ``(N, C_out, L_out)`` (``(C_out, L_out)`` if unbatched), x's dtype;
        ``out[n, o, i] = bias[o] + sum_{c, a} weight[o, c, a] * x_pad[n, c, s*i + d*a]``,
        ``L_out = floor((L + p_left + p_right - d*(k-1) - 1) / s) + 1``.

    Raises
    ------
    TypeError for non-real arrays, mixed floating dtypes, non-int
    stride/padding/dilation. ValueError for a wrong ndim of x or weight, x's
    channels != ``weight.shape[1]``, bias not ``(C_out,)``, stride or
    dilation < 1, negative padding, an unknown padding string or mode,
    ``"same"`` with stride > 1, reflect padding >= L, circular padding > L,
    or a dilated kernel longer than the padded input.
    """
    x, weight, bias, _, spec, unbatched = _prepare("conv1d", 1, x, weight, bias, None,
                                                  stride, padding, dilation, padding_mode)
    out = _forward(x, weight, bias, spec)[:, :, 0, :]
    return out[0] if unbatched else out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros"):
    """2-D convolution (cross-correlation, no kernel flip), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
    weight : ``(C_out, C_in, kh, kw)``.
    bias : ``(C_out,)`` or None.
    stride, dilation : int >= 1 or a tuple ``(along H, along W)``.
    padding : int >= 0, a tuple ``(p_h, p_w)`` (both sides), ``"valid"`` or
        ``"same"`` (output ``(H, W)``; needs stride 1; an odd total padding
        ``d*(k-1)`` puts the extra row/column at the bottom/right, as PyTorch).
    padding_mode : ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns
    -------
    out : ``(N, C_out, H_out, W_out)`` (no N if unbatched), x's dtype;
        ``out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]``,
        ``H_out = floor((H + p_top + p_bottom - d_h*(kh-1) - 1) / s_h) + 1`` (same for W).

    Raises
    ------
    TypeError for non-real arrays, mixed floating dtypes, non-int
    stride/padding/dilation. ValueError for a wrong ndim of x or weight, x's
    channels != ``weight.shape[1]``, bias not ``(C_out,)``, stride or
    dilation < 1, negative padding, an unknown padding string or mode,
    ``"same"`` with stride > 1, reflect padding >= the input size, circular
    padding > the input size, or a dilated kernel larger than the padded input.
    """
    x, weight, bias, _, spec, unbatched = _prepare("conv2d", 2, x, weight, bias, None,
                                                  stride, padding, dilation, padding_mode)
    out = _forward(x, weight, bias, spec)
    return out[0] if unbatched else out


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros"):
    """Gradients of :func:`conv1d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : ``(N, C_out, L_out)`` (``(C_out, L_out)`` if x is unbatched), dL/dout.
    x, weight, stride, padding, dilation, padding_mode : as given to :func:`conv1d`.

    Returns
    -------
    grad_x : x's shape. The full convolution of the zero-stuffed ``grad_out``
        with ``weight``, then the padding's adjoint.
    grad_weight : ``(C_out, C_in, k)``;
        ``grad_weight[o, c, a] = sum_{n, i} grad_out[n, o, i] * x_pad[n, c, s*i + d*a]``.
    grad_bias : ``(C_out,)``, ``grad_out`` summed over the batch and positions.

    Raises
    ------
    The errors of :func:`conv1d`, and ValueError if ``grad_out`` does not
    have the shape of ``conv1d``'s output.
    """
    grad_out, x, weight, spec, unbatched = _prepare_backward("conv1d_backward", 1, grad_out, x, weight,
                                                             stride, padding, dilation, padding_mode)
    grad_x, grad_weight, grad_bias = _backward(grad_out, x, weight, spec)
    grad_x, grad_weight = grad_x[:, :, 0, :], grad_weight[:, :, 0, :]
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros"):
    """Gradients of :func:`conv2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : ``(N, C_out, H_out, W_out)`` (no N if x is unbatched), dL/dout.
    x, weight, stride, padding, dilation, padding_mode : as given to :func:`conv2d`.

    Returns
    -------
    grad_x : x's shape. ``grad_x_pad`` is the full convolution of the
        zero-stuffed ``grad_out`` with ``weight`` (a correlation with the
        180-degree-flipped kernel, C_in and C_out swapped); ``grad_x`` is the
        padding's adjoint applied to it. Input rows the strided kernel never
        reached get zero gradient.
    grad_weight : ``(C_out, C_in, kh, kw)``;
        ``grad_weight[o, c, a, b] = sum_{n, i, j} grad_out[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]``.
    grad_bias : ``(C_out,)``, ``grad_out`` summed over the batch and positions.

    Raises
    ------
    The errors of :func:`conv2d`, and ValueError if ``grad_out`` does not
    have the shape of ``conv2d``'s output.
    """
    grad_out, x, weight, spec, unbatched = _prepare_backward("conv2d_backward", 2, grad_out, x, weight,
                                                             stride, padding, dilation, padding_mode)
    grad_x, grad_weight, grad_bias = _backward(grad_out, x, weight, spec)
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


# --- the computation (2-D, batched, validated arrays) ---------------------------------------------

def _forward(x, weight, bias, spec):
    x_pad = pad(x, _flat_padding(spec.padding), spec.mode)
    out = _correlate(x_pad, weight, spec.stride, spec.dilation)
    if bias is not None:
        out += bias[:, None, None]
    return out


def _backward(grad_out, x, weight, spec):
    (sh, sw), (dh, dw), (kh, kw) = spec.stride, spec.dilation, spec.kernel_size
    h_out, w_out = spec.out_size
    x_pad = pad(x, _flat_padding(spec.padding), spec.mode)

    # dL/dbias: bias[o] is added at every (n, i, j).
    grad_bias = grad_out.sum(axis=(0, 2, 3))

    # dL/dweight: correlate the padded input with grad_out. Viewed as a convolution, x_pad is the
    # input with the batch as its channels, grad_out is the kernel (C_out kernels of depth N),
    # and stride and dilation trade places: the s*i + d*a of the forward sum read the other way round.
    # Input rows past the last window the forward pass used carry no gradient, so cut them off.
    used_h, used_w = sh * (h_out - 1) + dh * (kh - 1) + 1, sw * (w_out - 1) + dw * (kw - 1) + 1
    x_used = x_pad[:, :, :used_h, :used_w]
    grad_weight = _correlate(x_used.transpose(1, 0, 2, 3), grad_out.transpose(1, 0, 2, 3),
                             stride=spec.dilation, dilation=spec.stride)
    grad_weight = np.ascontiguousarray(grad_weight.transpose(1, 0, 2, 3))

    # dL/dx_pad: the full convolution of the dilated grad_out with the kernel, i.e. the correlation
    # of the dilated grad_out, padded by d*(k-1), with the flipped kernel (C_in <-> C_out).
    g = _dilate_and_pad(grad_out, spec.stride,
                        before=(dh * (kh - 1), dw * (kw - 1)),
                        # + the unused trailing rows/columns of x_pad, whose gradient is zero
                        after=(dh * (kh - 1) + x_pad.shape[2] - used_h, dw * (kw - 1) + x_pad.shape[3] - used_w))
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    grad_x_pad = _correlate(g, flipped, stride=(1, 1), dilation=spec.dilation)

    # dL/dx: the adjoint of the padding, applied last.
    grad_x = pad_backward(grad_x_pad, _flat_padding(spec.padding), spec.mode)
    return grad_x, grad_weight, grad_bias


def _dilate_and_pad(g, stride, before, after):
    """Zero-stuff g (s - 1 zeros between neighbours) and zero-pad it, in one allocation."""
    (sh, sw), (top, left), (bottom, right) = stride, before, after
    n, c, h, w = g.shape
    dilated_h, dilated_w = sh * (h - 1) + 1, sw * (w - 1) + 1
    out = np.zeros((n, c, top + dilated_h + bottom, left + dilated_w + right), dtype=g.dtype)
    out[:, :, top:top + dilated_h:sh, left:left + dilated_w:sw] = g
    return out


def _correlate(x, weight, stride, dilation):
    """Valid cross-correlation of an already padded x: (N, C, H, W), (O, C, kh, kw) -> (N, O, H_out, W_out).

    ``out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * x[n, c, s*i + d*a, s*j + d*b]``,
    computed by whichever of three equivalent algorithms suits the shapes:

    * few output positions, big kernel (the weight gradient, whose "kernel"
      is grad_out): loop over the output positions, one matrix product each;
    * one input and one output channel: shifted slices, one vectorised
      multiply-add over the whole batch per kernel offset (no copies);
    * otherwise im2col: copy the patches into one matrix, one matrix product.
    """
    (n, c, h, w), (o, _, kh, kw) = x.shape, weight.shape
    h_out = _output_size(h, kh, stride[0], dilation[0], 0, 0)
    w_out = _output_size(w, kw, stride[1], dilation[1], 0, 0)
    if h_out * w_out < kh * kw:
        return _correlate_by_output_positions(x, weight, stride, dilation, (h_out, w_out))
    if c * o <= _SHIFTED_SLICES_MAX_CHANNEL_PAIRS:
        return _correlate_by_shifted_slices(x, weight, stride, dilation, (h_out, w_out))
    return _correlate_by_im2col(x, weight, stride, dilation, (h_out, w_out))


# Shifted slices cost one pass over the batch per (o, c, a, b); im2col one
# pass per (c, a, b) plus a matrix product. With C_in * C_out <= this, the
# slices' absence of copies wins (measured with benchmarks/bench_conv.py).
_SHIFTED_SLICES_MAX_CHANNEL_PAIRS = 1


def _correlate_by_shifted_slices(x, weight, stride, dilation, out_size):
    (sh, sw), (dh, dw), (h_out, w_out) = stride, dilation, out_size
    o_channels, c_channels, kh, kw = weight.shape
    out = np.zeros((x.shape[0], o_channels, h_out, w_out), dtype=x.dtype)
    product = np.empty((x.shape[0], h_out, w_out), dtype=x.dtype)  # reused: no allocation per offset
    for a in range(kh):
        for b in range(kw):
            # x[n, c, s*i + d*a, s*j + d*b] for all (n, c, i, j): a strided view, no copy
            shifted = x[:, :, dh * a:dh * a + sh * (h_out - 1) + 1:sh, dw * b:dw * b + sw * (w_out - 1) + 1:sw]
            for o in range(o_channels):
                for c in range(c_channels):
                    np.multiply(shifted[:, c], weight[o, c, a, b], out=product)
                    out[:, o] += product
    return out


def _correlate_by_im2col(x, weight, stride, dilation, out_size):
    o_channels, _, kh, kw = weight.shape
    cols = _patches(x, (kh, kw), dilation, stride, out_size)        # (N, C*kh*kw, H_out*W_out)
    out = weight.reshape(o_channels, -1) @ cols                      # (N, O, H_out*W_out)
    return out.reshape(x.shape[0], o_channels, *out_size)


def _correlate_by_output_positions(x, weight, stride, dilation, out_size):
    (sh, sw), (dh, dw), (h_out, w_out) = stride, dilation, out_size
    o_channels, _, kh, kw = weight.shape
    kernels = weight.reshape(o_channels, -1).T                       # (C*kh*kw, O)
    out = np.empty((x.shape[0], o_channels, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, sh * i:sh * i + dh * (kh - 1) + 1:dh, sw * j:sw * j + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = patch.reshape(x.shape[0], -1) @ kernels
    return out


# --- argument checking ---------------------------------------------------------------------------

def _prepare(fname, nd, x, weight, bias, grad_out, stride, padding, dilation, padding_mode):
    """Validate everything, and return batched 2-D arrays and a 2-D _Spec.

    nd is the number of spatial dimensions (1 or 2). Returns
    (x, weight, bias, grad_out, spec, unbatched) with x (N, C_in, H, W),
    weight (C_out, C_in, kh, kw), grad_out (N, C_out, H_out, W_out) or None.
    A 1-D problem is lifted to height 1 only after all checks, so that every
    message speaks of the shapes the caller passed.
    """
    layout = {1: "L", 2: "H, W"}[nd]
    kernel = {1: "k", 2: "kh, kw"}[nd]
    x = _as_real_array(x, "x", fname)
    weight = _as_real_array(weight, "weight", fname)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fname}: x must have shape (N, C_in, {layout}) or (C_in, {layout}), got shape {x.shape}")
    if weight.ndim != nd + 2:
        raise ValueError(f"{fname}: weight must have shape (C_out, C_in, {kernel}), got shape {weight.shape}")
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
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{fname}: x has {x.shape[1]} input channels but weight expects weight.shape[1]="
                         f"{weight.shape[1]} ({shown_x}, weight.shape={weight.shape})")
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
    spec = _Spec(stride, dilation, pads, padding_mode, kernel_size, out_size)
    return x, weight, bias, grad_out, spec, unbatched


def _prepare_backward(fname, nd, grad_out, x, weight, stride, padding, dilation, padding_mode):
    if grad_out is None:
        raise TypeError(f"{fname}: grad_out must be a real-valued array, got None")
    x, weight, _, grad_out, spec, unbatched = _prepare(fname, nd, x, weight, None, grad_out,
                                                      stride, padding, dilation, padding_mode)
    return grad_out, x, weight, spec, unbatched


def _check_mode_fits(fname, mode, size, pads, shown_x):
    """PyTorch's limits on padding that copies input entries: reflect < size, circular <= size."""
    for n, (left, right) in zip(size, pads):
        biggest = max(left, right)
        if mode == "zeros" or biggest == 0:
            continue
        if mode == "reflect" and biggest >= n:
            raise ValueError(f"{fname}: padding_mode='reflect' needs padding smaller than the input size, got "
                             f"padding {_show(tuple(pads))} for input size {_show(size)} ({shown_x})")
        if mode == "circular" and biggest > n:
            raise ValueError(f"{fname}: padding_mode='circular' needs padding no larger than the input size, got "
                             f"padding {_show(tuple(pads))} for input size {_show(size)} ({shown_x})")
        if n == 0:
            raise ValueError(f"{fname}: padding_mode={mode!r} cannot pad an empty input ({shown_x})")


def _show(values):
    """A 1-tuple shown as its entry, so 1-D messages read 'padding 3' rather than 'padding (3,)'."""
    return values[0] if len(values) == 1 else values


def _flat_padding(pads):
    """((top, bottom), (left, right)) -> PyTorch's F.pad order (left, right, top, bottom)."""
    return tuple(p for pair in reversed(pads) for p in pair)
