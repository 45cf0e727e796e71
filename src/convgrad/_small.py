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


def correlate(x_pad, weight, stride, dilation, out):
    """out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b], written into out."""
    n, o, h_out, w_out = out.shape
    kernels = weight.reshape(o, -1)
    if stride != (1, 1):
        cols = windows(x_pad, weight.shape[2:], stride, dilation, out.shape[2:])
        out[...] = np.matmul(kernels, cols.reshape(n, -1, h_out * w_out)).reshape(out.shape)
        return
    # At stride 1, the columns of x_pad's flat rows (chapter 9's "wide rows": Wp entries per output
    # row, the last d_w*(kw-1) of them dropped) copy faster than the exact windows: one run per row.
    (kh, kw), (dh, dw) = weight.shape[2:], dilation
    wp, item = x_pad.shape[3], x_pad.itemsize
    length = (h_out - 1) * wp + w_out
    wide = view(x_pad, (n, x_pad.shape[1], kh, kw, length),
                (x_pad.strides[0], x_pad.strides[1], dh * wp * item, dw * item, item))
    rows = np.matmul(kernels, wide.reshape(n, -1, length))
    out[...] = view(rows, out.shape, (rows.strides[0], rows.strides[1], wp * rows.itemsize, rows.itemsize))


def weight_gradient(x_pad, g, kernel_size, stride, dilation):
    """dL/dweight[o, c, a, b] = sum_{n, i, j} g[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]: (O, C, kh, kw)."""
    n, o = g.shape[:2]
    cols = windows(x_pad, kernel_size, stride, dilation, g.shape[2:])
    per_image = np.matmul(g.reshape(n, o, -1), cols.reshape(n, -1, g.shape[2] * g.shape[3]).swapaxes(1, 2))
    total = per_image[0] if n == 1 else per_image.sum(axis=0)
    return total.reshape((o, x_pad.shape[1]) + tuple(kernel_size))
