"""The ways to compute the weight gradient of a convolution, and the one :func:`weight_gradient` picks.

Chapter 8: the weight gradient is the correlation of the padded input with the upstream gradient,

    grad_weight[o, c, a, b] = sum_{n, i, j} grad_out[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]

Every method here takes ``(x_pad, grad_out, kernel_size, stride=1, dilation=1)`` and returns it,
(O, C, kh, kw), for x_pad (N, C, Hp, Wp) and grad_out (N, O, H_out, W_out):

=====================================  ===============================  ====================================
method                                 work                             memory besides x_pad and grad_out
=====================================  ===============================  ====================================
:func:`weight_gradient_by_im2col`      one product (O x positions) @    the column matrix, one block at a
                                       (positions x C*kh*kw)            time
:func:`weight_gradient_by_row_shifts`  kh products (C*kw x positions)   kw shifted copies of the input (a
                                       @ (positions x O)                block at a time), G
:func:`weight_gradient_by_dots`        O*C*kh*kw dot products as long   G (and a contiguous copy of each
                                       as the batch                     channel when there are several)
:func:`weight_gradient_by_fft`         C + O transforms per image,      the spectra of a block of images, G
                                       O*C spectrum products
=====================================  ===============================  ====================================

All but im2col read the upstream gradient zero-stuffed onto x_pad's grid, ``G[n, o, s*i, s*j] =
grad_out[n, o, i, j]`` (zero elsewhere), and so work on every position of the grid, s_h*s_w times the
output's at stride s; they make G themselves unless it is given as ``upstream=``. A sum over the
batch is made image group by image group (convgrad._threads.image_groups, fixed by the shapes) and
the groups' sums are added in order: the bits do not depend on the number of threads.
:func:`weight_gradient_on_thread` returns those sums for groups the caller chooses.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _engine
from ._args import _as_real_array, _check_at_least, _common_float, _ntuple
from .correlation import _SLICE_ELEMENTS, FFT_TAPS, _check, _shifts

__all__ = ["weight_gradient", "weight_gradient_on_thread", "choose_weight_gradient_method", "weight_gradient_by_im2col",
           "weight_gradient_by_row_shifts", "weight_gradient_by_dots", "weight_gradient_by_fft",
           "WEIGHT_GRADIENT_METHODS"]


def choose_weight_gradient_method(weight_shape):
    """The method :func:`weight_gradient` uses for a weight of ``weight_shape`` (O, C, kh, kw).

    One input and one output channel: the FFT with at least ``FFT_TAPS`` (81)
    taps, else dot products (a matrix product would have one row). Otherwise row shifts.
    """
    o, c, kh, kw = weight_shape
    if o == 1 and c == 1:
        return weight_gradient_by_fft if kh * kw >= FFT_TAPS else weight_gradient_by_dots
    return weight_gradient_by_row_shifts


def weight_gradient(x_pad, grad_out, kernel_size, stride=1, dilation=1, *, upstream=None):
    """``grad_weight[o, c, a, b] = sum_{n, i, j} grad_out[n, o, i, j] * x_pad[n, c, s*i + d*a, s*j + d*b]``,
    by the method :func:`choose_weight_gradient_method` picks."""
    method = choose_weight_gradient_method(_weight_shape(x_pad, grad_out, kernel_size))
    return method(x_pad, grad_out, kernel_size, stride, dilation, upstream=upstream)


def weight_gradient_on_thread(x_pad, grad_out, kernel_size, stride, dilation, image_groups, upstream=None):
    """What :func:`weight_gradient` does, for the images of ``image_groups`` ((first, last) pairs), on the
    calling thread and without checks: one sum per group, in a list.

    x_pad: a contiguous (N, C, Hp, Wp) array; kernel_size, stride, dilation: pairs. Added up in
    order, the sums are :func:`weight_gradient`'s result to the bit when the groups are convgrad's
    own (``convgrad._threads.image_groups(N, 2 * grad_weight.size * H_out * W_out)``); a caller that
    shares a batch among threads itself (conv2d_backward) sums them so.
    """
    name = choose_weight_gradient_method((grad_out.shape[1], x_pad.shape[1]) + tuple(kernel_size)).__name__
    out_size, g = grad_out.shape[2:], grad_out
    if name != "weight_gradient_by_im2col":
        g = _engine.zero_stuffed(grad_out, stride, (0, 0), x_pad.shape[2:]) if upstream is None else upstream
    inside = globals()["_weight_" + name[len("weight_gradient_by_"):]]  # the method's body, found by name
    return inside(x_pad, g, tuple(kernel_size), stride, dilation, out_size, image_groups)


def weight_gradient_by_im2col(x_pad, grad_out, kernel_size, stride=1, dilation=1, *, upstream=None):
    """``grad_weight[o, (c, a, b)] = sum_n grad_out[n, o, :] @ cols[n, (c, a, b), :]^T``, cols the columns of
    :func:`~convgrad.correlation.correlate_by_im2col`: source 001's ``cols^T . upstream``, summed over the batch.

    Work: O*C*kh*kw multiply-adds per output position. Memory: the column matrix, one block at a
    time. Reads ``grad_out`` as it is (``upstream`` is not used).
    """
    return _summed(_weight_im2col, "weight_gradient_by_im2col", x_pad, grad_out, kernel_size, stride,
                   dilation, upstream, needs_grid=False)


def weight_gradient_by_row_shifts(x_pad, grad_out, kernel_size, stride=1, dilation=1, *, upstream=None):
    """``grad[o, c, a, b] = sum_q xs[n, (c, b), q + d_h*a*Wp] * G[n, o, q]`` on the flat rows, with
    ``xs[n, (c, b), q] = X[n, c, q + d_w*b]``: kh products (C*kw x positions) @ (positions x O) per block.

    Work: O*C*kh*kw multiply-adds per position of the grid's rows that a window starts on. Memory:
    kw shifted copies of the input, one block at a time, and G.
    """
    return _summed(_weight_row_shifts, "weight_gradient_by_row_shifts", x_pad, grad_out, kernel_size,
                   stride, dilation, upstream)


def weight_gradient_by_dots(x_pad, grad_out, kernel_size, stride=1, dilation=1, *, upstream=None):
    """``grad[o, c, a, b] = X[:, c, q + shift(a, b)] . G[:, o, q]``: one dot product along the rows of all
    the group's images (which lie end to end) per tap and channel pair, in chunks of 2**16 terms
    added up in float64 (float32 sums stay accurate).

    Work: O*C*kh*kw dot products as long as the batch. Memory: G (and, with several channels, a
    contiguous copy of each channel).
    """
    return _summed(_weight_dots, "weight_gradient_by_dots", x_pad, grad_out, kernel_size, stride,
                   dilation, upstream)


def weight_gradient_by_fft(x_pad, grad_out, kernel_size, stride=1, dilation=1, *, upstream=None):
    """``grad[o, c, a, b] = sum_n irfft2(conj(rfft2(G[n, o])) * rfft2(x_pad[n, c]))[d_h*a, d_w*b]``: the
    correlation theorem once more. G is zero past the last window, so the lags never wrap around.

    Work: C + O transforms per image and O*C spectrum products. Memory: the spectra of a block of
    images, and G. Equal to the others to rounding, not to the bit.
    """
    return _summed(_weight_fft, "weight_gradient_by_fft", x_pad, grad_out, kernel_size, stride,
                   dilation, upstream)


WEIGHT_GRADIENT_METHODS = {"im2col": weight_gradient_by_im2col, "row shifts": weight_gradient_by_row_shifts,
                           "dots": weight_gradient_by_dots, "fft": weight_gradient_by_fft}


def _weight_shape(x_pad, grad_out, kernel_size):
    return (np.shape(grad_out)[1], np.shape(x_pad)[1]) + _ntuple(kernel_size, 2, "kernel_size", "weight_gradient")


def _arguments(fname, x_pad, grad_out, kernel_size, stride, dilation, upstream, needs_grid):
    """Checked arguments (x_pad, G or grad_out, kernel, stride, dilation, out_size, weight_shape, any work?)."""
    kernel = _ntuple(kernel_size, 2, "kernel_size", fname)
    _check_at_least(kernel, 1, "kernel_size", fname)
    arrays = _common_float({"x_pad": _as_real_array(x_pad, "x_pad", fname),
                            "grad_out": _as_real_array(grad_out, "grad_out", fname)}, fname)
    x_pad, grad_out = arrays["x_pad"], arrays["grad_out"]
    if grad_out.ndim != 4 or x_pad.ndim != 4 or grad_out.shape[0] != x_pad.shape[0]:
        raise ValueError(f"{fname}: x_pad (N, C, Hp, Wp) and grad_out (N, O, H_out, W_out) must be 4-D with "
                         f"the same N, got shapes {x_pad.shape} and {grad_out.shape}")
    x_pad, _, stride, dilation, out_size = _check(fname, x_pad, None, kernel, stride, dilation)
    if grad_out.shape[2:] != out_size:
        raise ValueError(f"{fname}: grad_out must have shape (N, O) + {out_size}, got {grad_out.shape}")
    weight_shape = (grad_out.shape[1], x_pad.shape[1]) + kernel
    busy = math.prod(weight_shape) > 0 and x_pad.shape[0] > 0
    if needs_grid and busy and upstream is None:
        upstream = _engine.zero_stuffed(grad_out, stride, (0, 0), x_pad.shape[2:])
    g = upstream if needs_grid else grad_out
    return x_pad, g, kernel, stride, dilation, out_size, weight_shape, busy


def _work(weight_shape, out_size):
    """Multiply-adds per image that set the image groups: those of the backward pass (two correlations)."""
    return 2 * math.prod(weight_shape) * math.prod(out_size)


def _summed(method, fname, x_pad, grad_out, kernel_size, stride, dilation, upstream, needs_grid=True):
    """Check, share the batch among the threads, and add the image groups' sums in order."""
    x_pad, g, kernel, stride, dilation, out_size, weight_shape, busy = _arguments(
        fname, x_pad, grad_out, kernel_size, stride, dilation, upstream, needs_grid)
    if not busy:
        return np.zeros(weight_shape, dtype=x_pad.dtype)

    def work(first, last, groups):
        return method(x_pad[first:last], g[first:last], kernel, stride, dilation, out_size, groups)
    return _engine.summed(_engine.run(work, x_pad.shape[0], _work(weight_shape, out_size)), weight_shape,
                          x_pad.dtype)


def _weight_im2col(grid, grad_out, kernel_size, stride, dilation, out_size, groups):
    c, (kh, kw), (sh, sw), (dh, dw) = grid.shape[1], kernel_size, stride, dilation
    (h_out, w_out), o = out_size, grad_out.shape[1]
    step_n, step_c, step_h, step_w = grid.strides
    patches = as_strided(grid, (grid.shape[0], c, kh, kw, h_out, w_out),
                         (step_n, step_c, dh * step_h, dw * step_w, sh * step_h, sw * step_w), writeable=False)
    sums = []
    for first, last in groups:
        grad = np.zeros((o, c * kh * kw), dtype=grid.dtype)
        for images, rows in _engine.blocks(first, last, h_out, c * kh * kw * w_out):
            block = patches[images, :, :, :, rows]
            cols = block.reshape(block.shape[0], c * kh * kw, -1)
            g = grad_out[images, :, rows].reshape(block.shape[0], o, -1)
            grad += np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0)
        sums.append(grad.reshape(o, c, kh, kw))
    return sums


def _last_position(grid, kernel_size, stride, out_size):
    """(rows of x_pad where a window starts, the flat position of the last window's start)."""
    (sh, sw), (h_out, w_out) = stride, out_size
    window_rows = sh * (h_out - 1) + 1
    return window_rows, (window_rows - 1) * grid.shape[3] + sw * (w_out - 1)


def _weight_row_shifts(grid, upstream, kernel_size, stride, dilation, out_size, groups):
    n, c, hp, wp = grid.shape
    o = upstream.shape[1]
    (kh, kw), (dh, dw) = kernel_size, dilation
    row_shift, image = dh * wp, hp * wp
    window_rows, last_position = _last_position(grid, kernel_size, stride, out_size)
    rows, g_rows = grid.reshape(n, c, image), upstream.reshape(n, o, image)
    xs_space = _engine.Scratch(grid.dtype)
    sums = []
    for first, last in groups:
        grad = np.zeros((kh, c * kw, o), dtype=grid.dtype)
        for images, band in _engine.blocks(first, last, window_rows, wp * (c * kw + kh * o)):
            q0 = band.start * wp
            length = min(band.stop * wp, last_position + 1) - q0
            xs = _engine.column_shifts(rows[images], q0, length + (kh - 1) * row_shift, kw, dw, xs_space)
            g = g_rows[images, None, :, q0:q0 + length].swapaxes(-1, -2)             # (n, 1, length, O)
            grad += np.matmul(_engine.row_shifted(xs, kh, row_shift, length), g).sum(axis=0)
        sums.append(grad.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))
    return sums


def _weight_dots(grid, upstream, kernel_size, stride, dilation, out_size, groups):
    n, c, hp, wp = grid.shape
    o, (kh, kw), image = upstream.shape[1], kernel_size, hp * wp
    _, last_position = _last_position(grid, kernel_size, stride, out_size)
    shifts = _shifts(kernel_size, dilation, wp)
    x_rows = [np.ascontiguousarray(grid[:, k]).reshape(-1) for k in range(c)]
    g_rows = [np.ascontiguousarray(upstream[:, p]).reshape(-1) for p in range(o)]
    sums = []
    for first, last in groups:
        # positions past the last image's last window hold no gradient: stop there
        q0, q1 = first * image, (last - 1) * image + last_position + 1
        grad = np.empty((o, c, kh, kw), dtype=grid.dtype)
        for p in range(o):
            for k in range(c):
                x_flat, g_flat = x_rows[k], g_rows[p]
                # dots of at most _SLICE_ELEMENTS terms, added up in float64: float32 sums stay accurate
                taps = [sum(float(np.dot(x_flat[q + shift:min(q + _SLICE_ELEMENTS, q1) + shift],
                                         g_flat[q:min(q + _SLICE_ELEMENTS, q1)]))
                            for q in range(q0, q1, _SLICE_ELEMENTS))
                        for shift in shifts]
                grad[p, k] = np.array(taps, dtype=grid.dtype).reshape(kh, kw)
        sums.append(grad)
    return sums


def _weight_fft(grid, upstream, kernel_size, stride, dilation, out_size, groups):
    c, o = grid.shape[1], upstream.shape[1]
    (kh, kw), (dh, dw) = kernel_size, dilation
    shape = (_engine.fast_length(grid.shape[2]), _engine.fast_length(grid.shape[3]))
    sums = []
    for first, last in groups:
        spectrum = {(p, k): 0 for p in range(o) for k in range(c)}
        for images, _ in _engine.blocks(first, last, 1, math.prod(shape) * (c + o) // 2):  # whole images
            x_spectra = [np.fft.rfft2(grid[images, k], s=shape) for k in range(c)]
            g_spectra = [np.conj(np.fft.rfft2(upstream[images, p], s=shape)) for p in range(o)]
            for p in range(o):
                for k in range(c):
                    spectrum[p, k] = spectrum[p, k] + (g_spectra[p] * x_spectra[k]).sum(axis=0)
        grad = np.empty((o, c, kh, kw), dtype=grid.dtype)
        for (p, k), total in spectrum.items():
            lags = np.fft.irfft2(total, s=shape)
            grad[p, k] = lags[:dh * (kh - 1) + 1:dh, :dw * (kw - 1) + 1:dw].astype(grid.dtype)
        sums.append(grad)
    return sums
