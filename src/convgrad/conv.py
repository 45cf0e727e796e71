"""Convolution (cross-correlation, as in PyTorch) and its gradients, in 1-D and 2-D: the derivation.

Forward (chapter 7): pad, then correlate. For the padded input ``x_pad`` (NCHW), stride ``s`` and
dilation ``d``::

    out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]

Backward (chapter 8), given the upstream gradient ``g = dL/dout``, three formulas:

* ``dL/dbias[o]`` sums ``g[:, o]``: every output position adds ``bias[o]`` once.
* ``dL/dweight`` is the cross-correlation of the padded input with ``g``:
  ``dL/dweight[o, c, a, b] = sum_{n, i, j} g[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]``.
* ``dL/dx_pad`` is the *full convolution* of ``g`` with the kernel: the cross-correlation of ``g``,
  zero-padded by ``d*(k-1)`` on each side, with the kernel turned by 180 degrees and ``C_in``/``C_out``
  swapped. A stride ``s > 1`` first dilates ``g``: ``s - 1`` zeros between its entries put every
  ``g[i]`` back at the position ``s*i`` where its window started. ``dL/dx`` is the adjoint of the
  padding applied to ``dL/dx_pad`` (cropping for zeros; folding the border back for the other modes).

With ``groups`` (PyTorch's semantics), the channels are cut into ``groups`` equal runs: output
channels ``g*C_out/groups ..`` see only input channels ``g*C_in/groups ..``, and the weight is
``(C_out, C_in/groups, *kernel)``; each group is a convolution of its own, in all three formulas.
``groups = C_in`` is a depthwise convolution. A 1-D convolution is a 2-D one on an image of height 1.

The functions below read as those formulas. Each correlation is done by the method that
:func:`convgrad.correlation.correlate` (or :func:`convgrad.weight_gradient.weight_gradient`) would
pick, with its rule documented there (im2col, row shifts, shifted slices, the FFT): conv2d shares
the batch among :func:`convgrad.set_num_threads` threads itself and calls
:func:`~convgrad.correlation.correlate_on_thread` and
:func:`~convgrad.weight_gradient.weight_gradient_on_thread` on each thread's images, so that
padding, correlating and summing one run of images happen while it is in the cache. Arguments are
checked first (``_conv_args.py``). Results are the same, bit for bit, for any number of threads.
See ``benchmarks/bench_conv.py`` for the timings.
"""

import math

import numpy as np

from . import _engine, _small
from ._conv_args import prepare, prepare_backward
from .correlation import FFT_TAPS, correlate_on_thread
from .padding import pad_backward
from .weight_gradient import weight_gradient_on_thread

__all__ = ["conv1d", "conv2d", "conv1d_backward", "conv2d_backward", "convolution", "convolution_backward"]

# output_mask's default: all three gradients
_ALL_GRADIENTS = (True, True, True)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """1-D convolution (cross-correlation, no kernel flip), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
    weight : ``(C_out, C_in/groups, k)``.
    bias : ``(C_out,)`` or None.
    stride, dilation : int >= 1 (or a 1-tuple).
    padding : int >= 0, a 1-tuple, ``"valid"`` (no padding) or ``"same"``
        (output length L; needs stride 1; the total ``d*(k-1)`` is split as
        ``left = total // 2``, ``right = total - left``: when it is odd (even
        k), the extra entry goes on the right, as in PyTorch).
    padding_mode : ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    groups : int >= 1 dividing C_in and C_out (as PyTorch's): output channel ``o`` sees only the
        input channels of its group, ``c = (o // (C_out/groups)) * C_in/groups + c'``; ``groups = C_in``
        is a depthwise convolution. (Last, after padding_mode, which PyTorch's functional API lacks.)

    Returns
    -------
    out : ``(N, C_out, L_out)`` (``(C_out, L_out)`` if unbatched), x's dtype;
        ``out[n, o, i] = bias[o] + sum_{c', a} weight[o, c', a] * x_pad[n, c, s*i + d*a]`` (c as above),
        ``L_out = floor((L + p_left + p_right - d*(k-1) - 1) / s) + 1``.

    Raises
    ------
    TypeError
        Non-real arrays, mixed floating dtypes, non-int stride/padding/dilation/groups.
    ValueError
        A wrong ndim of x or weight, no output channels, groups < 1 or not
        dividing C_in and C_out, x's channels != ``weight.shape[1] * groups``,
        bias not ``(C_out,)``, stride or dilation < 1, negative padding, an
        unknown padding string or mode, ``"same"`` with stride > 1, reflect
        padding >= L, circular padding > L, or a dilated kernel longer than
        the padded input.
    """
    x, weight, bias, _, spec, unbatched = prepare("conv1d", 1, x, weight, bias, None,
                                                 stride, padding, dilation, padding_mode, groups)
    return _output(_forward(x, weight, bias, spec), 1, unbatched)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """2-D convolution (cross-correlation, no kernel flip), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
    weight : ``(C_out, C_in/groups, kh, kw)``.
    bias : ``(C_out,)`` or None.
    stride, dilation : int >= 1 or a tuple ``(along H, along W)``.
    padding : int >= 0, a tuple ``(p_h, p_w)`` (both sides), ``"valid"`` or
        ``"same"`` (output ``(H, W)``; needs stride 1; an odd total padding
        ``d*(k-1)`` puts the extra row/column at the bottom/right, as PyTorch).
    padding_mode : ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    groups : int >= 1 dividing C_in and C_out (as PyTorch's): output channel ``o`` sees only the
        input channels of its group, ``c = (o // (C_out/groups)) * C_in/groups + c'``; ``groups = C_in``
        is a depthwise convolution. (Last, after padding_mode, which PyTorch's functional API lacks.)

    Returns
    -------
    out : ``(N, C_out, H_out, W_out)`` (no N if unbatched), x's dtype;
        ``out[n, o, i, j] = bias[o] + sum_{c', a, b} weight[o, c', a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]``
        (c as above),
        ``H_out = floor((H + p_top + p_bottom - d_h*(kh-1) - 1) / s_h) + 1`` (same for W).

    Raises
    ------
    TypeError
        Non-real arrays, mixed floating dtypes, non-int stride/padding/dilation/groups.
    ValueError
        A wrong ndim of x or weight, no output channels, groups < 1 or not
        dividing C_in and C_out, x's channels != ``weight.shape[1] * groups``,
        bias not ``(C_out,)``, stride or dilation < 1, negative padding, an
        unknown padding string or mode, ``"same"`` with stride > 1, reflect
        padding >= the input size, circular padding > the input size, or a
        dilated kernel larger than the padded input.
    """
    x, weight, bias, _, spec, unbatched = prepare("conv2d", 2, x, weight, bias, None,
                                                 stride, padding, dilation, padding_mode, groups)
    return _output(_forward(x, weight, bias, spec), 2, unbatched)


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1,
                    output_mask=_ALL_GRADIENTS):
    """Gradients of :func:`conv1d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : ``(N, C_out, L_out)`` (``(C_out, L_out)`` if x is unbatched), dL/dout.
    x, weight, stride, padding, dilation, padding_mode, groups : as given to :func:`conv1d`.
    output_mask : three bools, which of (grad_x, grad_weight, grad_bias) to compute (PyTorch's name in
        ``torch.ops.aten.convolution_backward``); the others are returned as None. An autograd
        engine passes which inputs need a gradient: nobody needs the first layer's grad_x.

    Returns
    -------
    grad_x : x's shape. The full convolution of the zero-stuffed ``grad_out``
        with ``weight``, then the padding's adjoint.
    grad_weight : ``(C_out, C_in/groups, k)``;
        ``grad_weight[o, c', a] = sum_{n, i} grad_out[n, o, i] * x_pad[n, c, s*i + d*a]`` (c as in conv1d).
    grad_bias : ``(C_out,)``, ``grad_out`` summed over the batch and positions.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`; also ValueError if ``grad_out`` does not have the
        shape of ``conv1d``'s output.
    """
    grad_out, x, weight, spec, unbatched = prepare_backward("conv1d_backward", 1, grad_out, x, weight,
                                                            stride, padding, dilation, padding_mode, groups)
    mask = _output_mask(output_mask, "conv1d_backward")
    return _gradients(_backward(grad_out, x, weight, spec, mask), 1, unbatched)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1,
                    output_mask=_ALL_GRADIENTS):
    """Gradients of :func:`conv2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : ``(N, C_out, H_out, W_out)`` (no N if x is unbatched), dL/dout.
    x, weight, stride, padding, dilation, padding_mode, groups : as given to :func:`conv2d`.
    output_mask : three bools, which of (grad_x, grad_weight, grad_bias) to compute (PyTorch's name in
        ``torch.ops.aten.convolution_backward``); the others are returned as None.

    Returns
    -------
    grad_x : x's shape. ``grad_x_pad`` is the full convolution of the
        zero-stuffed ``grad_out`` with ``weight`` (a correlation with the
        180-degree-flipped kernel, C_in and C_out swapped); ``grad_x`` is the
        padding's adjoint applied to it. Input rows the strided kernel never
        reached get zero gradient.
    grad_weight : ``(C_out, C_in/groups, kh, kw)``;
        ``grad_weight[o, c', a, b] = sum_{n, i, j} grad_out[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]``
        (c as in conv2d).
    grad_bias : ``(C_out,)``, ``grad_out`` summed over the batch and positions.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv2d`; also ValueError if ``grad_out`` does not have the
        shape of ``conv2d``'s output.
    """
    grad_out, x, weight, spec, unbatched = prepare_backward("conv2d_backward", 2, grad_out, x, weight,
                                                            stride, padding, dilation, padding_mode, groups)
    mask = _output_mask(output_mask, "conv2d_backward")
    return _gradients(_backward(grad_out, x, weight, spec, mask), 2, unbatched)


# --- a forward that keeps what its backward reuses (for convgrad.nn) -----------------------------

def convolution(nd, x, weight, bias, stride, padding, dilation, padding_mode, groups):
    """conv1d (nd = 1) or conv2d (nd = 2), arguments as theirs, and a record for
    :func:`convolution_backward`: ``(out, saved)``.

    x: ``(N, C_in, L)`` / ``(N, C_in, H, W)`` (or unbatched), weight ``(C_out, C_in/groups, *kernel)``,
    bias ``(C_out,)`` or None; out as :func:`conv1d` / :func:`conv2d` return it,
    ``out[n, o, i, j] = bias[o] + sum_{c', a, b} weight[o, c', a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]``.

    ``saved`` holds the checked arguments and, for a small job, the padded input's columns that the
    forward multiplied: the weight gradient reuses them instead of padding and copying x again. An
    autograd Function (``convgrad.nn.functional``) calls this pair, so that the arguments are checked
    once per forward and backward, not twice.
    """
    x, weight, bias, _, spec, unbatched = prepare(_NAMES[nd], nd, x, weight, bias, None,
                                                 stride, padding, dilation, padding_mode, groups)
    out, cols = _forward(x, weight, bias, spec, keep_columns=True)
    return _output(out, nd, unbatched), (nd, x, weight, spec, unbatched, cols)


def convolution_backward(grad_out, saved, output_mask=_ALL_GRADIENTS):
    """conv1d_backward / conv2d_backward from :func:`convolution`'s record: (grad_x, grad_weight, grad_bias),
    None for what ``output_mask`` (three bools) leaves out.

    grad_out: the output's shape and dtype, ``(N, C_out, *out_size)`` (what an autograd engine passes; not
    checked again). The gradients have the shapes of x, weight and bias, by chapter 8's three formulas
    (see :func:`conv2d_backward`).
    """
    nd, x, weight, spec, unbatched, cols = saved
    if unbatched:
        grad_out = grad_out[None]
    if nd == 1:
        grad_out = grad_out[:, :, None, :]
    return _gradients(_backward(grad_out, x, weight, spec, output_mask, cols), nd, unbatched)


_NAMES = {1: "conv1d", 2: "conv2d"}


def _output(out, nd, unbatched):
    """The batched 2-D result in the shape the caller's arguments had (1-D: height 1 dropped)."""
    if nd == 1:
        out = out[:, :, 0, :]
    return out[0] if unbatched else out


def _gradients(grads, nd, unbatched):
    """(grad_x, grad_weight, grad_bias) of the batched 2-D form, in the shapes of the caller's arguments."""
    grad_x, grad_weight, grad_bias = grads
    if nd == 1:
        grad_x = None if grad_x is None else grad_x[:, :, 0, :]
        grad_weight = None if grad_weight is None else grad_weight[:, :, 0, :]
    if unbatched and grad_x is not None:
        grad_x = grad_x[0]
    return grad_x, grad_weight, grad_bias


# --- the derivation (2-D, batched, validated arrays) ----------------------------------------------
#
# A batch is shared among the threads as runs of images (_engine.run); each function below does the
# formulas on one run, and the correlations inside it run on that thread. The weight and bias
# gradients are summed image group by image group, in order: the same bits for any number of threads.

def _forward(x, weight, bias, spec, keep_columns=False):
    """out = correlate(pad(x), weight) + bias, group of channels by group. With ``keep_columns``: (out, cols),
    cols a small job's columns of x_pad for the weight gradient (None when there are none to keep)."""
    if _is_small(x.shape[0], weight, spec):
        return _small.forward(x, weight, bias, spec, keep_columns)
    out = np.empty((x.shape[0], weight.shape[0]) + spec.out_size, dtype=x.dtype)
    if weight.size == 0:  # no input channels: every sum is empty
        out[...] = 0
    else:
        groups = _channel_groups(spec.groups, x.shape[1], weight.shape[0])

        def forward(first, last, image_groups):  # images first..last-1, on one thread
            x_pad = _engine.padded(x[first:last], spec.padding, spec.mode)
            for inputs, outputs in groups:
                correlate_on_thread(_contiguous(x_pad, inputs), weight[outputs], spec.stride, spec.dilation,
                                    out[first:last, outputs], image_groups)
            return []
        _engine.run(forward, x.shape[0], weight.size * math.prod(spec.out_size))
    if bias is not None:
        out += bias[:, None, None]
    return (out, None) if keep_columns else out


def _backward(grad_out, x, weight, spec, mask=(True, True, True), cols=None):
    """(dL/dx, dL/dweight, dL/dbias) by chapter 8's three formulas, group of channels by group;
    None for those ``mask`` leaves out. ``cols``: a small job's wide columns of x_pad, from its forward."""
    if spec.narrow_zeros and _is_small(x.shape[0], weight, spec):
        return _small.backward(grad_out, x, weight, spec, mask, cols)
    need_x, need_weight, need_bias = mask
    # dL/dbias[o] = sum_{n, i, j} g[n, o, i, j]: bias[o] is added at every output position.
    # (Summed image group by image group below when the batch is shared among threads.)
    if weight.size == 0:  # no input channels: x reaches no output
        return (np.zeros_like(x) if need_x else None, np.zeros_like(weight) if need_weight else None,
                grad_out.sum(axis=(0, 2, 3)) if need_bias else None)
    groups = _channel_groups(spec.groups, x.shape[1], weight.shape[0])
    grad_x = None
    if need_x:
        grad_x = np.empty(x.shape if spec.narrow_zeros else x.shape[:2] + _padded_size(x.shape[2:], spec),
                          dtype=x.dtype)
    grad_weight, grad_bias = _threaded_backward(grad_out, x, weight, spec, groups, grad_x, mask)
    # dL/dx = the padding's adjoint applied to dL/dx_pad (narrow zero padding: g_full made it a crop already).
    if need_x and not spec.narrow_zeros:
        grad_x = pad_backward(grad_x, _engine.flat_padding(spec.padding), spec.mode)
    return grad_x, grad_weight, grad_bias


def _threaded_backward(grad_out, x, weight, spec, groups, grad_x, mask):
    """The three formulas, the batch shared among threads; dL/dx_pad written into grad_x."""
    need_x, need_weight, need_bias = mask

    def backward(first, last, image_groups):  # images first..last-1, on one thread
        g = grad_out[first:last]
        # dL/dx_pad = g (zero-stuffed by the stride, zero-padded by d*(k-1)) correlated with the kernel
        # turned by 180 degrees, C_in and C_out swapped: the full convolution of g with the kernel.
        g_on_x_pad = None
        if need_x or need_weight:
            g_full, g_on_x_pad = _upstream_grids(g, x.shape[2:], spec)
        if need_x:
            for inputs, outputs in groups:
                correlate_on_thread(_contiguous(g_full, outputs), _turned(weight[outputs]), (1, 1), spec.dilation,
                                    grad_x[first:last, inputs], image_groups)
        # dL/dweight = x_pad correlated with g (zero-stuffed by the stride): one sum per image group.
        weight_shares = [None] * len(image_groups)
        if need_weight:
            x_pad = _engine.padded(x[first:last], spec.padding, spec.mode)
            per_group = [weight_gradient_on_thread(_contiguous(x_pad, inputs), g[:, outputs], spec.kernel_size,
                                                   spec.stride, spec.dilation, image_groups,
                                                   None if g_on_x_pad is None else g_on_x_pad[:, outputs])
                         for inputs, outputs in groups]
            weight_shares = [_stacked([shares[k] for shares in per_group]) for k in range(len(image_groups))]
        bias_shares = [g[start:stop].sum(axis=(0, 2, 3)) if need_bias else None for start, stop in image_groups]
        return list(zip(weight_shares, bias_shares))

    shares = _engine.run(backward, x.shape[0], 2 * weight.size * math.prod(spec.out_size))
    grad_weight = _engine.summed([share for share, _ in shares], weight.shape, weight.dtype) if need_weight else None
    grad_bias = _engine.summed([share for _, share in shares], weight.shape[0], weight.dtype) if need_bias else None
    return grad_weight, grad_bias


def _is_small(n_images, weight, spec):
    """A job for ``_small``: few multiply-adds, and a kernel short enough that the FFT would not win."""
    (kh, kw), (h_out, w_out) = spec.kernel_size, spec.out_size
    return kh * kw < FFT_TAPS and 0 < n_images * weight.size * h_out * w_out < _engine._UNTHREADED_WORK


def _output_mask(output_mask, fname):
    """Three bools (grad_x, grad_weight, grad_bias)."""
    if output_mask is _ALL_GRADIENTS:  # the default: nothing to check
        return output_mask
    if type(output_mask) is tuple and len(output_mask) == 3 and all(type(m) is bool for m in output_mask):
        return output_mask
    mask = tuple(output_mask) if isinstance(output_mask, (tuple, list)) else None
    if mask is None or len(mask) != 3 or not all(isinstance(m, (bool, np.bool_)) for m in mask):
        raise TypeError(f"{fname}: output_mask must be three bools (grad_x, grad_weight, grad_bias), "
                        f"got {output_mask!r}")
    return tuple(bool(m) for m in mask)


def _turned(weight):
    """The kernel turned by 180 degrees with input and output channels swapped: (C_in, C_out, kh, kw)."""
    return weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


_channel_groups = _small.channel_groups


def _stacked(parts):
    """The output channels of the groups, in order (one group: the array itself, no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _contiguous(grid, channels):
    """The grid's channels (all of them: the grid itself), as a contiguous array."""
    return np.ascontiguousarray(grid[:, channels])


def _padded_size(size, spec):
    return tuple(n + left + right for n, (left, right) in zip(size, spec.padding))


def _upstream_grids(g, size, spec):
    """g zero-stuffed by the stride and padded by d*(k-1) for the full convolution; and, when that grid has
    x_pad's shape ("same" padding), g on x_pad's grid as a view of the same zeros (else None).

    For narrow zero padding the grid is padded by d*(k-1) - p instead: the full convolution's interior, the
    same numbers as cropping dL/dx_pad, with less work.
    """
    (kh, kw), (dh, dw) = spec.kernel_size, spec.dilation
    padded = _padded_size(size, spec)
    if spec.narrow_zeros:  # the interior of dL/dx_pad is a correlation itself
        (top, _), (left, _) = spec.padding
        offset, grid = (dh * (kh - 1) - top, dw * (kw - 1) - left), (size[0] + dh * (kh - 1), size[1] + dw * (kw - 1))
    else:
        offset, grid = (dh * (kh - 1), dw * (kw - 1)), (padded[0] + dh * (kh - 1), padded[1] + dw * (kw - 1))
    if grid != padded:
        return _engine.zero_stuffed(g, spec.stride, offset, grid), None
    # g sits `start` entries into each flat image: read that much later, the same zeros are g on x_pad's grid
    start = offset[0] * padded[1] + offset[1]
    g_full = _engine.zero_stuffed(g, spec.stride, offset, grid, spare=start)
    return g_full, (g_full if start == 0 else _engine.shifted_grid(g_full, start))
