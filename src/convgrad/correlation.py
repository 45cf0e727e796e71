"""The ways to compute a valid cross-correlation, and the one :func:`correlate` picks for each case.

Every forward method takes ``(x_pad, weight, stride=1, dilation=1)`` and returns, for a padded
batch ``x_pad`` (N, C, Hp, Wp) and a weight (O, C, kh, kw),
``out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]``
of shape (N, O, H_out, W_out), ``H_out = floor((Hp - d_h*(kh-1) - 1) / s_h) + 1`` (so for W):

====================================  ============================  ==========================================
method                                work                          memory besides x_pad and out
====================================  ============================  ==========================================
:func:`correlate_by_im2col`           one product (O x C*kh*kw)     the column matrix, kh*kw copies of the
                                      @ (C*kh*kw x positions)       input (one block at a time)
:func:`correlate_by_row_shifts`       kh products (O x C*kw) @      kw shifted copies of the input and kh
                                      (C*kw x positions)            products, one block at a time
:func:`correlate_by_shifted_slices`   O*C*kh*kw multiply-adds of    two rows of 2**16 entries (one channel)
                                      whole shifted rows
:func:`correlate_by_fft`              C + O*C transforms and        the spectra of a block of images
                                      O*C spectrum products
====================================  ============================  ==========================================

Each also takes ``out=``, an array of the output's shape to write into. The weight gradient's
methods, with a signature of their own, are in :mod:`convgrad.weight_gradient`.

All methods give the same result for every case they are given, the FFT to rounding and the others
to rounding of a different order of the same sums; each is exact to the bit for any number of
threads. The FFT and shifted slices compute a strided correlation at stride 1 and keep every s-th
output, and so do row shifts: s_h*s_w times the work of the output they return.

How the fast ones work: the padded batch is read as flat rows, one per image and channel,
``X[n, c, q]`` with ``q = h*Wp + w``. A kernel offset (a, b) is then a constant shift of the row,
``shift(a, b) = d_h*a*Wp + d_w*b``, and at stride 1 ``out[n, o, q] = sum_{c, a, b} weight[o, c, a, b] *
X[n, c, q + shift(a, b)]`` holds at every ``q = i*Wp + j`` with ``i < H_out``, ``j < W_out`` (the
"wide" rows' columns ``j >= W_out`` are computed and dropped). Shifted slices take those shifted rows
as they are; row shifts copy the rows once per kernel column b, ``xs[n, (c, b), q] = X[n, c, q + d_w*b]``,
and add kh products ``kernels_a @ xs[n, :, q + d_h*a*Wp]``; im2col copies every patch. By the
correlation theorem, ``sum_{a, b} k[a, b] * X[i + a, j + b] = irfft2(rfft2(X) * conj(rfft2(k)))[i, j]``
with k zero-padded to X's size; it wraps around only past the last valid output.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _engine
from ._args import _as_real_array, _check_at_least, _common_float, _ntuple, _output_size

__all__ = ["correlate", "choose_method", "correlate_on_thread", "correlate_by_im2col", "correlate_by_row_shifts",
           "correlate_by_shifted_slices", "correlate_by_fft", "METHODS", "FFT_TAPS"]

# One input and one output channel at stride 1, and at least this many taps: the FFT. Measured
# against shifted slices, it wins from about 9x9 taps (by 17 times at 31x31 on 64x64 images); with
# several channels it needs a transform product per channel pair, and does not pay.
FFT_TAPS = 81

# The two buffers of a shifted-slice correlation have this many entries (512 KB each in float64);
# a one-channel weight gradient's dot products have at most this many terms.
_SLICE_ELEMENTS = 1 << 16


# --- the dispatchers ------------------------------------------------------------------------------

def choose_method(weight_shape, stride=1):
    """The forward method :func:`correlate` uses for a weight of ``weight_shape`` (O, C, kh, kw).

    The rule, in order:

    1. stride 1, one input and one output channel, at least ``FFT_TAPS`` (81) taps: the FFT
       (its cost hardly grows with the kernel);
    2. stride 1, one input and one output channel: shifted slices (any copy of the input would
       be multiplied by a single column);
    3. stride 1 and ``O <= C*kw``: row shifts (their kh*O products per position are then no
       larger than im2col's copy, kh*kw*C entries per position);
    4. anything else (a stride, or many output channels): im2col.
    """
    o, c, kh, kw = weight_shape
    if stride == 1 or (isinstance(stride, (tuple, list)) and tuple(stride) == (1, 1)):
        if o == 1 and c == 1:
            return correlate_by_fft if kh * kw >= FFT_TAPS else correlate_by_shifted_slices
        if o <= c * kw:
            return correlate_by_row_shifts
    return correlate_by_im2col


def correlate(x_pad, weight, stride=1, dilation=1, *, out=None):
    """Valid cross-correlation of a padded batch, by the method :func:`choose_method` picks.

    x_pad: (N, C, Hp, Wp); weight: (O, C, kh, kw); returns (N, O, H_out, W_out),
    ``out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * x_pad[n, c, s*i + d*a, s*j + d*b]``.
    """
    return choose_method(np.shape(weight), stride)(x_pad, weight, stride, dilation, out=out)


def correlate_on_thread(x_pad, weight, stride, dilation, out, image_groups):
    """What :func:`correlate` does, for the images of ``image_groups`` ((first, last) pairs), on the
    calling thread and without checks: x_pad a contiguous (N, C, Hp, Wp) array, stride and dilation
    pairs, ``out`` the output's (N, O, H_out, W_out) array, written in place.

    For a caller that shares a batch among threads itself, as conv2d and conv2d_backward do.
    """
    name = choose_method(weight.shape, stride).__name__
    # the method's body, _im2col for correlate_by_im2col and so on (looked up by name: a test can watch it)
    globals()["_" + name[len("correlate_by_"):]](x_pad, weight, stride, dilation, out, image_groups)


# --- the forward methods --------------------------------------------------------------------------

def correlate_by_im2col(x_pad, weight, stride=1, dilation=1, *, out=None):
    """``out[n, :, i, j] = kernels @ cols[n, :, (i, j)]``, ``kernels[o, (c, a, b)] = weight[o, c, a, b]``,
    ``cols[n, (c, a, b), (i, j)] = x_pad[n, c, s*i + d*a, s*j + d*b]`` (PyTorch's unfold layout).

    Work: O*C*kh*kw multiply-adds per output position, in one matrix product per image.
    Memory: the column matrix, C*kh*kw entries per output position (kh*kw times the input at
    stride 1), made one block of images or rows at a time. Any stride.
    """
    return _forward(_im2col, "correlate_by_im2col", x_pad, weight, stride, dilation, out)


def correlate_by_row_shifts(x_pad, weight, stride=1, dilation=1, *, out=None):
    """``out[n, :, q] = sum_a kernels_a @ xs[n, :, q + d_h*a*Wp]`` on x_pad's flat rows,
    ``kernels_a[o, (c, b)] = weight[o, c, a, b]``, ``xs[n, (c, b), q] = X[n, c, q + d_w*b]``.

    Work: O*C*kh*kw multiply-adds per position of the wide rows (Wp per output row), in kh matrix
    products. Memory: kw shifted copies of the input and kh*O products per position, one block at
    a time. At stride s it computes the stride-1 output and keeps every s-th entry.
    """
    return _forward(_row_shifts, "correlate_by_row_shifts", x_pad, weight, stride, dilation, out)


def correlate_by_shifted_slices(x_pad, weight, stride=1, dilation=1, *, out=None):
    """``out[n, o, q] = sum_{c, a, b} weight[o, c, a, b] * X[n, c, q + shift(a, b)]``: one whole-row
    multiply-add per kernel tap and channel pair, on x_pad's flat rows.

    Work: O*C*kh*kw multiply-adds per position of the grid, no matrix product. Memory: two buffers
    of 2**16 entries (and, with several channels, a contiguous copy of each input channel and one
    stride-1 output). At stride s it computes the stride-1 output and keeps every s-th entry.
    """
    return _forward(_shifted_slices, "correlate_by_shifted_slices", x_pad, weight, stride, dilation, out)


def correlate_by_fft(x_pad, weight, stride=1, dilation=1, *, out=None):
    """``out[n, o] = valid part of irfft2(sum_c rfft2(x_pad[n, c]) * conj(rfft2(weight[o, c], dilated and
    zero-padded)))``, on transforms of the grid's size rounded up to 2^i 3^j 5^k.

    Work: O(Hp*Wp*log(Hp*Wp)) per transform, C per image and O*C per kernel, plus O*C spectrum
    products: almost independent of the kernel's size. Memory: the spectra of a block of images.
    Equal to the others to rounding, not to the bit. At stride s it keeps every s-th entry.
    """
    return _forward(_fft, "correlate_by_fft", x_pad, weight, stride, dilation, out)


METHODS = {"im2col": correlate_by_im2col, "row shifts": correlate_by_row_shifts,
           "shifted slices": correlate_by_shifted_slices, "fft": correlate_by_fft}


def _forward(method, fname, x_pad, weight, stride, dilation, out):
    """Check, then share the batch among the threads: method(grid, weight, stride, dilation, out, image_groups)."""
    x_pad, weight, stride, dilation, out_size = _check(fname, x_pad, weight, None, stride, dilation)
    n, o = x_pad.shape[0], weight.shape[0]
    if out is None:
        out = np.empty((n, o) + out_size, dtype=x_pad.dtype)
    elif out.shape != (n, o) + out_size or out.dtype != x_pad.dtype:
        raise ValueError(f"{fname}: out must be a {x_pad.dtype} array of shape {(n, o) + out_size}, "
                         f"got {out.dtype} {out.shape}")
    if weight.size == 0:  # no input channels: every sum is empty
        out[...] = 0
        return out

    def work(first, last, groups):
        method(x_pad[first:last], weight, stride, dilation, out[first:last], groups)
        return []
    _engine.run(work, n, weight.size * math.prod(out_size))
    return out


def _im2col(grid, weight, stride, dilation, out, groups):
    o, c, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    h_out, w_out = out.shape[2:]
    step_n, step_c, step_h, step_w = grid.strides
    # patches[n, c, a, b, i, j] = grid[n, c, s*i + d*a, s*j + d*b], a view (no copy)
    patches = as_strided(grid, (grid.shape[0], c, kh, kw, h_out, w_out),
                         (step_n, step_c, dh * step_h, dw * step_w, sh * step_h, sw * step_w), writeable=False)
    kernels = weight.reshape(o, c * kh * kw)
    for first, last in groups:
        for images, rows in _engine.blocks(first, last, h_out, c * kh * kw * w_out):
            block = patches[images, :, :, :, rows]
            cols = block.reshape(block.shape[0], c * kh * kw, -1)                  # im2col: the one copy
            out[images, :, rows] = (kernels @ cols).reshape(block.shape[0], o, -1, w_out)


def _row_shifts(grid, weight, stride, dilation, out, groups):
    if stride != (1, 1):
        full = np.empty(out.shape[:2] + _stride_one_size(grid, weight, dilation), dtype=out.dtype)
        _row_shifts(grid, weight, (1, 1), dilation, full, groups)
        out[...] = full[:, :, ::stride[0], ::stride[1]]
        return
    o, c, kh, kw = weight.shape
    (dh, dw), item = dilation, grid.itemsize
    hp, wp = grid.shape[2:]
    h_out, w_out = out.shape[2:]
    rows = grid.reshape(grid.shape[0], c, hp * wp)
    kernels = weight.transpose(2, 0, 1, 3).reshape(kh, o, c * kw)                  # kernels[a, o, (c, b)]
    row_shift = dh * wp
    blocks = [block for first, last in groups for block in _engine.blocks(first, last, h_out, wp * (c * kw + kh * o))]
    xs_space, products_space = _engine.Scratch(grid.dtype), _engine.Scratch(grid.dtype)  # reused by every block
    for images, band in blocks:
        n = images.stop - images.start
        # output rows band.start .. band.stop-1: positions q0 + (0 .. length-1) of the wide rows
        q0, length = band.start * wp, (band.stop - band.start - 1) * wp + w_out
        xs = _engine.column_shifts(rows[images], q0, length + (kh - 1) * row_shift, kw, dw, xs_space)
        products = np.matmul(kernels, _engine.row_shifted(xs, kh, row_shift, length),
                             out=products_space.get((n, kh, o, length)))
        total = products[:, 0]
        for a in range(1, kh):
            total += products[:, a]
        # the wide rows' first w_out columns
        out[images, :, band] = _engine.view(products, (n, o, band.stop - band.start, w_out),
                                            (products.strides[0], products.strides[2], wp * item, item))


def _shifted_slices(grid, weight, stride, dilation, out, groups):
    o, c, kh, kw = weight.shape
    if (o, c) == (1, 1) and stride == (1, 1):
        _slices_one_channel(grid, weight.reshape(-1), (kh, kw), dilation, out)
        return
    channels = [np.ascontiguousarray(grid[:, k:k + 1]) for k in range(c)]
    part = np.empty((grid.shape[0], 1) + _stride_one_size(grid, weight, dilation), dtype=out.dtype)
    for p in range(o):
        _slices_one_channel(channels[0], weight[p, 0].reshape(-1), (kh, kw), dilation, part)
        total = part.copy()
        for k in range(1, c):
            _slices_one_channel(channels[k], weight[p, k].reshape(-1), (kh, kw), dilation, part)
            total += part
        out[:, p] = total[:, 0, ::stride[0], ::stride[1]]


def _slices_one_channel(grid, taps, kernel_size, dilation, out):
    """out[:, 0] <- sum_k taps[k] * X[q + shift_k], one whole-row multiply-add per kernel offset."""
    hp, wp = grid.shape[2:]
    h_out, w_out = out.shape[2:]
    row = grid.reshape(-1)
    shifts = _shifts(kernel_size, dilation, wp)
    image = hp * wp
    images = max(1, _SLICE_ELEMENTS // image)
    total = np.empty(images * image, dtype=row.dtype)
    product = np.empty(images * image, dtype=row.dtype)  # reused: no allocation per offset
    # Images first..last-1 fill the flat positions start..stop-1; the last stops where a shifted read
    # would leave the array: only positions straddling the bottom edge (never an output) lie past it.
    for first in range(0, out.shape[0], images):
        last = min(first + images, out.shape[0])
        start, stop = first * image, min(last * image, row.size - shifts[-1])
        acc, prod = total[:stop - start], product[:stop - start]
        np.multiply(row[start + shifts[0]:stop + shifts[0]], taps[0], out=acc)
        for shift, tap in zip(shifts[1:], taps[1:]):
            np.multiply(row[start + shift:stop + shift], tap, out=prod)
            acc += prod
        kept = total[:(last - first) * image].reshape(last - first, hp, wp)
        out[first:last, 0] = kept[:, :h_out, :w_out]


def _fft(grid, weight, stride, dilation, out, groups):
    o, c, kh, kw = weight.shape
    (dh, dw), (sh, sw) = dilation, stride
    h_out, w_out = out.shape[2:]
    shape = (_engine.fast_length(grid.shape[2]), _engine.fast_length(grid.shape[3]))
    kernel_spectra = {}
    for p in range(o):
        for k in range(c):
            padded_kernel = np.zeros(shape, dtype=grid.dtype)
            padded_kernel[:dh * (kh - 1) + 1:dh, :dw * (kw - 1) + 1:dw] = weight[p, k]
            kernel_spectra[p, k] = np.conj(np.fft.rfft2(padded_kernel))
    kept = (slice(None), slice(0, sh * (h_out - 1) + 1, sh), slice(0, sw * (w_out - 1) + 1, sw))
    for first, last in groups:
        for images, _ in _engine.blocks(first, last, 1, math.prod(shape) * c):  # whole images: one "row" each
            spectra = [np.fft.rfft2(grid[images, k], s=shape) for k in range(c)]
            for p in range(o):
                product = spectra[0] * kernel_spectra[p, 0]
                for k in range(1, c):
                    product += spectra[k] * kernel_spectra[p, k]
                out[images, p] = np.fft.irfft2(product, s=shape)[kept]


def _shifts(kernel_size, dilation, width):
    (kh, kw), (dh, dw) = kernel_size, dilation
    return [dh * a * width + dw * b for a in range(kh) for b in range(kw)]


def _stride_one_size(grid, weight, dilation):
    return tuple(n - d * (k - 1) for n, k, d in zip(grid.shape[2:], weight.shape[2:], dilation))


# --- arguments ------------------------------------------------------------------------------------

def _check(fname, x_pad, weight, kernel_size, stride, dilation):
    """Light checks (the public convolutions check everything first): x_pad contiguous, the output size."""
    x_pad = _as_real_array(x_pad, "x_pad", fname)
    if weight is not None:
        weight = _as_real_array(weight, "weight", fname)
        arrays = _common_float({"x_pad": x_pad, "weight": weight}, fname)
        x_pad, weight = arrays["x_pad"], arrays["weight"]
        if weight.ndim != 4 or x_pad.ndim != 4 or weight.shape[1] != x_pad.shape[1]:
            raise ValueError(f"{fname}: x_pad must be (N, C, Hp, Wp) and weight (O, C, kh, kw) with the same C, "
                             f"got shapes {x_pad.shape} and {weight.shape}")
        kernel_size = weight.shape[2:]
    stride, dilation = _ntuple(stride, 2, "stride", fname), _ntuple(dilation, 2, "dilation", fname)
    _check_at_least(stride, 1, "stride", fname)
    _check_at_least(dilation, 1, "dilation", fname)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(s > p for s, p in zip(spans, x_pad.shape[2:])):
        raise ValueError(f"{fname}: the dilated kernel {spans} is larger than x_pad's {x_pad.shape[2:]}")
    out_size = tuple(_output_size(p, k, s, d, 0, 0)
                     for p, k, s, d in zip(x_pad.shape[2:], kernel_size, stride, dilation))
    return np.ascontiguousarray(x_pad), weight, stride, dilation, out_size
