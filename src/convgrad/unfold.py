"""Patches: ``im2col`` (PyTorch's ``F.unfold``) and its adjoint ``col2im`` (``F.fold``).

``im2col`` copies every receptive field of the (zero-padded) image into one
column, so that a convolution becomes one matrix product:
``conv2d(x, w) == (w.reshape(C_out, -1) @ im2col(x, k)).reshape(N, C_out, H_out, W_out)``.
Rows are ordered ``(c, a, b)`` with ``c`` slowest, as ``weight.reshape(C_out, -1)``
orders a kernel; columns are the output positions ``(i, j)`` in row-major
order. ``col2im`` is the adjoint: it adds each column back onto the patch it
came from, so overlapping patches sum (it is not an inverse).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._args import _as_real_array, _check_at_least, _ntuple, _output_size

__all__ = ["im2col", "col2im"]


def im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    """Unfold the sliding patches of ``x`` into columns (PyTorch's ``F.unfold``).

    Parameters
    ----------
    x : ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    kernel_size, dilation, padding, stride : int or tuple of 2 ints
        (padding is zero padding on both sides of each dimension).

    Returns
    -------
    cols : ``(N, C*kh*kw, L)``, or ``(C*kh*kw, L)`` for unbatched x, with
        ``L = H_out * W_out`` and
        ``cols[n, (c*kh + a)*kw + b, i*W_out + j] = x_pad[n, c, s*i + d*a, s*j + d*b]``,
        ``H_out = floor((H + 2p - d*(kh-1) - 1) / s) + 1`` (same for W).

    Raises
    ------
    TypeError
        A non-real x or non-int sizes.
    ValueError
        The wrong ndim, kernel_size/stride/dilation < 1, negative padding, or
        a dilated kernel larger than the padded input.
    """
    x = _as_real_array(x, "x", "im2col")
    if x.ndim not in (3, 4):
        raise ValueError(f"im2col: x must have shape (N, C, H, W) or (C, H, W), got shape {x.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    k, d, p, s = _unfold_args("im2col", kernel_size, dilation, padding, stride)
    out_size = _blocks(x.shape[2:], k, d, p, s, "im2col", f"x.shape={x.shape[1:] if unbatched else x.shape}")
    x_pad = _zero_pad(x, p)
    cols = _patches(x_pad, k, d, s, out_size)
    return cols[0] if unbatched else cols


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Add columns back onto the image they were unfolded from (PyTorch's ``F.fold``).

    Parameters
    ----------
    cols : ``(N, C*kh*kw, L)`` or unbatched ``(C*kh*kw, L)``.
    output_size : int or tuple ``(H, W)``, the size of the (unpadded) image.
    kernel_size, dilation, padding, stride : as given to :func:`im2col`.

    Returns
    -------
    x : ``(N, C, H, W)`` or ``(C, H, W)``;
        ``x_pad[n, c, s*i + d*a, s*j + d*b] += cols[n, (c*kh + a)*kw + b, i*W_out + j]``
        summed over all (a, b, i, j), then the padding cropped. It is the
        adjoint of :func:`im2col`: ``<im2col(x), c> == <x, col2im(c)>``.

    Raises
    ------
    TypeError, ValueError
        As :func:`im2col`; also ValueError if ``cols.shape[-2]`` is not a
        multiple of ``kh*kw`` or ``cols.shape[-1]`` is not the number of
        patches ``L`` that ``output_size`` and the other arguments give.
    """
    cols = _as_real_array(cols, "cols", "col2im")
    if cols.ndim not in (2, 3):
        raise ValueError(f"col2im: cols must have shape (N, C*kh*kw, L) or (C*kh*kw, L), got shape {cols.shape}")
    unbatched = cols.ndim == 2
    if unbatched:
        cols = cols[None]
    size = _ntuple(output_size, 2, "output_size", "col2im")
    _check_at_least(size, 1, "output_size", "col2im")
    k, d, p, s = _unfold_args("col2im", kernel_size, dilation, padding, stride)
    out_size = _blocks(size, k, d, p, s, "col2im", f"output_size={size}")
    n, rows, length = cols.shape
    if rows % (k[0] * k[1]):
        raise ValueError(f"col2im: cols.shape[-2]={rows} must be a multiple of kh*kw={k[0] * k[1]} "
                         f"(cols.shape={cols.shape}, kernel_size={k})")
    if length != out_size[0] * out_size[1]:
        raise ValueError(f"col2im: cols.shape[-1]={length} must equal the number of patches "
                         f"{out_size[0]}*{out_size[1]}={out_size[0] * out_size[1]} for output_size={size}, "
                         f"kernel_size={k}, dilation={d}, padding={p}, stride={s} (cols.shape={cols.shape})")
    channels = rows // (k[0] * k[1])
    x_pad = np.zeros((n, channels, size[0] + 2 * p[0], size[1] + 2 * p[1]), dtype=cols.dtype)
    _add_patches(x_pad, cols.reshape(n, channels, k[0], k[1], *out_size), d, s)
    x = x_pad[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    x = np.ascontiguousarray(x)
    return x[0] if unbatched else x


def _patches(x_pad, kernel_size, dilation, stride, out_size):
    """im2col of an already padded (N, C, Hp, Wp) array -> (N, C*kh*kw, H_out*W_out), one copy."""
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    n, c = x_pad.shape[:2]
    # Every dilated window as a view (no copy): (N, C, Hp-span+1, Wp-span+1, span_h, span_w) ...
    windows = sliding_window_view(x_pad, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    # ... keep every stride-th window and every dilation-th element: (N, C, H_out, W_out, kh, kw).
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :out_size[0], :out_size[1]]
    # Order the axes as (N, C, kh, kw, H_out, W_out); reshape then makes the single copy.
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, out_size[0] * out_size[1])


def _add_patches(x_pad, cols, dilation, stride):
    """col2im's scatter-add onto a padded image: one vectorised add per kernel offset (a, b).

    cols: (N, C, kh, kw, H_out, W_out). Patches overlap, so their sums must
    accumulate; looping over the kh*kw offsets (not the patches) keeps each
    add a single strided slice of the whole batch.
    """
    (dh, dw), (sh, sw) = dilation, stride
    kh, kw, h_out, w_out = cols.shape[2:]
    for a in range(kh):
        for b in range(kw):
            rows = slice(dh * a, dh * a + sh * (h_out - 1) + 1, sh)
            columns = slice(dw * b, dw * b + sw * (w_out - 1) + 1, sw)
            x_pad[:, :, rows, columns] += cols[:, :, a, b]


def _zero_pad(x, padding):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    x_pad = np.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    x_pad[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return x_pad


def _unfold_args(fname, kernel_size, dilation, padding, stride):
    k = _ntuple(kernel_size, 2, "kernel_size", fname)
    d = _ntuple(dilation, 2, "dilation", fname)
    p = _ntuple(padding, 2, "padding", fname)
    s = _ntuple(stride, 2, "stride", fname)
    _check_at_least(k, 1, "kernel_size", fname)
    _check_at_least(d, 1, "dilation", fname)
    _check_at_least(p, 0, "padding", fname)
    _check_at_least(s, 1, "stride", fname)
    return k, d, p, s


def _blocks(size, k, d, p, s, fname, shown):
    """(H_out, W_out), after checking that the dilated kernel fits the padded image."""
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    padded = tuple(n + 2 * pi for n, pi in zip(size, p))
    if any(sp > pd for sp, pd in zip(span, padded)):
        raise ValueError(f"{fname}: the dilated kernel {span} (kernel_size={k}, dilation={d}) is larger than "
                         f"the padded input {padded} ({shown}, padding={p})")
    return tuple(_output_size(n, ki, si, di, pi, pi) for n, ki, si, di, pi in zip(size, k, s, d, p))
