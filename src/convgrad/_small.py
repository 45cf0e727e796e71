"""Convolutions of a small job (a few small images): each formula as one matrix product, no blocks, no threads.

A 32x32 image with a 3x3 kernel is about 10 000 multiply-adds: NumPy does
that in microseconds, and what costs is the number of calls around it. The
methods of :mod:`convgrad.correlation` cut a batch into blocks, reuse scratch
buffers and share images among threads, a few dozen calls; here every
correlation is one view, one copy and one product, the im2col method for a
whole small batch at once:

``cols[n, (c, a, b), (i, j)] = x_pad[n, c, s*i + d*a, s*j + d*b]`` is a strided view of x_pad
(no copy until the product needs it), and

* forward: ``out[n] = kernels @ cols[n]``, ``kernels[o, (c, a, b)] = weight[o, c, a, b]``;
* weight gradient: ``dL/dweight[o, (c, a, b)] = sum_n g[n] @ cols[n].T`` with ``g[n, o, (i, j)]``;
* input gradient: the correlation of the zero-stuffed, padded upstream gradient with the turned
  kernel (chapter 8), by the forward product.

conv2d and conv2d_backward take this path when the job has fewer than
``_engine._UNTHREADED_WORK`` multiply-adds and the kernel fewer than
``FFT_TAPS`` taps; the results agree with every other method to rounding
(exactly on integer data), and do not depend on the number of threads.
"""

import numpy as np

from . import _engine
from ._engine import view


def padded(x, pads, mode):
    """x (N, C, H, W) padded by pads ((top, bottom), (left, right)): (N, C, Hp, Wp), contiguous
    (zeros: one allocation and one copy, what :func:`convgrad._engine.padded` does, with fewer calls)."""
    if mode != "zeros":
        return _engine.padded(x, pads, mode)
    (top, bottom), (left, right) = pads
    n, c, h, w = x.shape
    grid = np.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    grid[:, :, top:top + h, left:left + w] = x
    return grid


def windows(x_pad, kernel_size, stride, dilation, out_size):
    """cols (N, C, kh, kw, H_out, W_out), ``cols[n, c, a, b, i, j] = x_pad[n, c, s*i + d*a, s*j + d*b]``:
    a view of the contiguous x_pad."""
    n_s, c_s, h_s, w_s = x_pad.strides
    (sh, sw), (dh, dw) = stride, dilation
    return view(x_pad, x_pad.shape[:2] + tuple(kernel_size) + tuple(out_size),
                (n_s, c_s, dh * h_s, dw * w_s, sh * h_s, sw * w_s))


def correlate(x_pad, weight, stride, dilation, out_size, groups=1, bias=None):
    """out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_pad[n, g*C + c, s*i + d*a, s*j + d*b],
    (N, C_out, H_out, W_out), with g = o // (C_out/groups) the group of output channel o and C = C_in/groups
    (groups=1: every c); no bias term when bias is None.

    All groups are one batched product: ``rows[n, g] = kernels[g] @ cols[n, g]``.
    """
    if stride == (1, 1):
        return correlate_wide(x_pad, weight, dilation, out_size, groups, bias)[0]
    n, c = x_pad.shape[0], x_pad.shape[1] // groups
    o = weight.shape[0]
    h_out, w_out = out_size
    n_s, c_s, h_s, w_s = x_pad.strides
    (kh, kw), (dh, dw), (sh, sw) = weight.shape[2:], dilation, stride
    cols = view(x_pad, (n, groups, c, kh, kw, h_out, w_out), (n_s, c * c_s, c_s, dh * h_s, dw * w_s,
                                                              sh * h_s, sw * w_s))
    rows = np.matmul(weight.reshape(groups, o // groups, -1), cols.reshape(n, groups, -1, h_out * w_out))
    if bias is not None:
        rows += bias.reshape(groups, o // groups, 1)
    return rows.reshape(n, o, h_out, w_out)


def wide_columns(x_pad, kernel_size, dilation, out_size, groups=1):
    """x_pad's "wide rows" (chapter 9), copied: ``cols[n, k, (c, a, b), t] = x_pad_flat[n, k*C + c, d_h*a*Wp + d_w*b + t]``
    for t < L = (H_out - 1)*Wp + W_out, (N, groups, C*kh*kw, L), C = C_in/groups.

    Output (i, j) of a stride-1 correlation is column t = i*Wp + j; the d_w*(kw-1) columns after each
    output row are dropped. Copying these runs of L entries is faster than copying the exact windows.
    """
    n, c_in, _, wp = x_pad.shape
    c = c_in // groups
    (kh, kw), (dh, dw), (h_out, w_out) = kernel_size, dilation, out_size
    length, item = (h_out - 1) * wp + w_out, x_pad.itemsize
    n_s, c_s, h_s = x_pad.strides[:3]
    wide = view(x_pad, (n, groups, c, kh, kw, length), (n_s, c * c_s, c_s, dh * h_s, dw * item, item))
    return wide.reshape(n, groups, c * kh * kw, length)


def correlate_wide(x_pad, weight, dilation, out_size, groups=1, bias=None):
    """:func:`correlate` at stride 1, and the wide columns it multiplied (:func:`wide_columns`).

    The result is a view of the product's rows (row stride Wp, not W_out): copying it into a compact
    array would cost as much as the product.
    """
    n, o = x_pad.shape[0], weight.shape[0]
    cols = wide_columns(x_pad, weight.shape[2:], dilation, out_size, groups)
    rows = np.matmul(weight.reshape(groups, o // groups, -1), cols)        # (n, groups, o/groups, L)
    if bias is not None:  # on the contiguous rows: cheaper than on the strided view
        rows += bias.reshape(groups, o // groups, 1)
    wp, item = x_pad.shape[3], rows.itemsize
    return view(rows, (n, o) + tuple(out_size), (rows.strides[0], rows.strides[2], wp * item, item)), cols


def weight_gradient(x_pad, g, kernel_size, stride, dilation, groups=1):
    """dL/dweight[o, c, a, b] = sum_{n, i, j} g[n, o, i, j] * x_pad[n, k*C + c, s*i + d*a, s*j + d*b], k the group of
    o and C = C_in/groups: (O, C, kh, kw), every group in one batched product."""
    n, o, h_out, w_out = g.shape
    c = x_pad.shape[1] // groups
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    n_s, c_s, h_s, w_s = x_pad.strides
    cols = view(x_pad, (n, groups, c, kh, kw, h_out, w_out), (n_s, c * c_s, c_s, dh * h_s, dw * w_s, sh * h_s, sw * w_s))
    cols = cols.reshape(n, groups, c * kh * kw, h_out * w_out)
    per_image = np.matmul(g.reshape(n, groups, o // groups, h_out * w_out), cols.swapaxes(2, 3))
    total = per_image[0] if n == 1 else per_image.sum(axis=0)
    return total.reshape((o, c, kh, kw))


def _wide_rows(spec):
    """At stride 1 with "same" widths (left + right = d_w*(kw-1)), the input gradient's grid has x_pad's width."""
    (left, right), (kw, dw) = spec.padding[1], (spec.kernel_size[1], spec.dilation[1])
    return spec.stride == (1, 1) and left + right == dw * (kw - 1)


def forward(x, weight, bias, spec, keep_columns=False):
    """conv2d's forward for a small job: out = correlate(pad(x), weight) + bias, (N, C_out, H_out, W_out).

    With ``keep_columns``: (out, cols), cols the wide columns :func:`backward` can reuse for dL/dweight
    (None where it cannot: strides, or widths other than "same").
    """
    x_pad = padded(x, spec.padding, spec.mode)
    if not keep_columns:
        return correlate(x_pad, weight, spec.stride, spec.dilation, spec.out_size, spec.groups, bias)
    if not _wide_rows(spec):
        return correlate(x_pad, weight, spec.stride, spec.dilation, spec.out_size, spec.groups, bias), None
    return correlate_wide(x_pad, weight, spec.dilation, spec.out_size, spec.groups, bias)


def backward(grad_out, x, weight, spec, mask, cols=None):
    """conv2d_backward's three formulas for a small job with narrow zero padding (every side's padding
    p <= d*(k-1)): (dL/dx, dL/dweight, dL/dbias), None for what ``mask`` leaves out.

    dL/dx is the full convolution of g with the kernel, cropped by the padding: the correlation of g,
    zero-stuffed by the stride and set ``d*(k-1) - p`` entries into a zero grid, with the turned kernel.
    At stride 1 with "same" widths that grid has x_pad's width, and its flat rows, read from g's first
    entry, are g on x_pad's wide rows (zeros where the wide rows run past W_out): dL/dweight is then
    one product with x_pad's wide columns (``cols``, the forward's, or made again from x).
    """
    need_x, need_weight, need_bias = mask
    groups = spec.groups
    (kh, kw), (dh, dw), (sh, sw) = spec.kernel_size, spec.dilation, spec.stride
    (top, _), (left, _) = spec.padding
    n, o, h_out, w_out = grad_out.shape
    h, w = x.shape[2:]
    wide_rows = _wide_rows(spec)
    grad_x = grad_weight = None
    if need_x or (need_weight and wide_rows):
        grid = np.zeros((n, o, h + dh * (kh - 1), w + dw * (kw - 1)), dtype=grad_out.dtype)
        first_row, first_col = dh * (kh - 1) - top, dw * (kw - 1) - left
        grid[:, :, first_row:first_row + sh * (h_out - 1) + 1:sh,
             first_col:first_col + sw * (w_out - 1) + 1:sw] = grad_out
    if need_x:
        # Group k's kernels turned by 180 degrees, its input and output channels swapped:
        # turned[k*C + c, q] = weight[k*O + q, c, ::-1, ::-1] (C = C_in/groups, O = C_out/groups).
        c = x.shape[1] // groups
        # (A copy: the product is three times slower on a kernel of negative strides.)
        turned = weight[:, :, ::-1, ::-1].reshape(groups, o // groups, c, kh, kw).swapaxes(1, 2).copy()
        grad_x = correlate(grid, turned.reshape(groups * c, o // groups, kh, kw), (1, 1), spec.dilation, (h, w),
                           groups)
    if need_weight and wide_rows:
        if cols is None:
            cols = wide_columns(padded(x, spec.padding, spec.mode), spec.kernel_size, spec.dilation, (h_out, w_out),
                                groups)
        # g_wide[n, k, q, t] = grid_flat[n, k*O + q, start + t]: g on x_pad's wide rows, zeros between
        item, start = grid.itemsize, first_row * grid.shape[3] + first_col
        g_wide = view(grid, (n, groups, o // groups, cols.shape[3]),
                      (grid.strides[0], (o // groups) * grid.strides[1], grid.strides[1], item), start * item)
        per_image = np.matmul(g_wide, cols.swapaxes(2, 3))
        grad_weight = (per_image[0] if n == 1 else per_image.sum(axis=0)).reshape(weight.shape)
    elif need_weight:
        grad_weight = weight_gradient(padded(x, spec.padding, spec.mode), grad_out, spec.kernel_size, spec.stride,
                                      spec.dilation, groups)
    return grad_x, grad_weight, (grad_out.sum(axis=(0, 2, 3)) if need_bias else None)


def channel_groups(groups, c_in, c_out):
    """(input channels, output channels) of each group: equal runs, in order, as in PyTorch."""
    i, o = c_in // groups, c_out // groups
    return [(slice(g * i, (g + 1) * i), slice(g * o, (g + 1) * o)) for g in range(groups)]
