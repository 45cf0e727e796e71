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

How it is computed (same results, chosen for speed and memory): the
forward pass and the input gradient go through ``_correlate``, which uses
shifted slices for one input and one output channel and im2col + a matrix
product otherwise, one cache-sized group of images at a time; the weight
gradient is one matrix product per kernel offset (``_correlate_with_upstream``).
Stride 1 never builds the whole im2col matrix, only one block of it at a
time; the other intermediates are the size of the padded input or of the
zero-stuffed upstream gradient. A stride > 1 forward pass builds the whole
im2col matrix. See ``benchmarks/bench_conv.py`` for the timings.
"""

from collections import namedtuple

import numpy as np

from ._args import (_as_real_array, _check_at_least, _check_padding_mode, _common_float, _conv_padding, _ntuple,
                    _output_size)
from .padding import pad, pad_backward, pad_limit_violation
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
        (output length L; needs stride 1; the total ``d*(k-1)`` is split as
        ``left = total // 2``, ``right = total - left``: when it is odd (even
        k), the extra entry goes on the right, as in PyTorch).
    padding_mode : ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns
    -------
    out : ``(N, C_out, L_out)`` (``(C_out, L_out)`` if unbatched), x's dtype;
        ``out[n, o, i] = bias[o] + sum_{c, a} weight[o, c, a] * x_pad[n, c, s*i + d*a]``,
        ``L_out = floor((L + p_left + p_right - d*(k-1) - 1) / s) + 1``.

    Raises
    ------
    TypeError
        Non-real arrays, mixed floating dtypes, non-int stride/padding/dilation.
    ValueError
        A wrong ndim of x or weight, x's channels != ``weight.shape[1]``, bias
        not ``(C_out,)``, stride or dilation < 1, negative padding, an unknown
        padding string or mode, ``"same"`` with stride > 1, reflect padding
        >= L, circular padding > L, or a dilated kernel longer than the padded
        input.
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
    TypeError
        Non-real arrays, mixed floating dtypes, non-int stride/padding/dilation.
    ValueError
        A wrong ndim of x or weight, x's channels != ``weight.shape[1]``, bias
        not ``(C_out,)``, stride or dilation < 1, negative padding, an unknown
        padding string or mode, ``"same"`` with stride > 1, reflect padding
        >= the input size, circular padding > the input size, or a dilated
        kernel larger than the padded input.
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
    TypeError, ValueError
        As :func:`conv1d`; also ValueError if ``grad_out`` does not have the
        shape of ``conv1d``'s output.
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
    TypeError, ValueError
        As :func:`conv2d`; also ValueError if ``grad_out`` does not have the
        shape of ``conv2d``'s output.
    """
    grad_out, x, weight, spec, unbatched = _prepare_backward("conv2d_backward", 2, grad_out, x, weight,
                                                             stride, padding, dilation, padding_mode)
    grad_x, grad_weight, grad_bias = _backward(grad_out, x, weight, spec)
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


# --- the computation (2-D, batched, validated arrays) ---------------------------------------------
#
# The algorithms work on the padded batch stored channel-major, x_pad[c, n, h, w], because then
# each channel of the whole batch is ONE contiguous row, X[c, q] with q = (n*Hp + h)*Wp + w. With
# stride 1, the kernel offset (a, b) is a constant shift of that row:
#     x_pad[c, n, i + d_h*a, j + d_w*b] = X[c, q + shift(a, b)],   shift(a, b) = d_h*a*Wp + d_w*b,
# where q is the position of output (n, i, j). So a correlation is kh*kw products of contiguous
# slices X[:, shift : shift + M], and no patch has to be gathered element by element. The price:
# positions q whose (i, j) lies past H_out or W_out straddle an edge; they are computed and dropped
# (Hp*Wp / (H_out*W_out) - 1 of extra work: 13% for a 32x32 image padded by 1).

def _forward(x, weight, bias, spec):
    x_pad = pad(x.transpose(1, 0, 2, 3), _flat_padding(spec.padding), spec.mode)   # (C_in, N, Hp, Wp)
    out = _correlate(x_pad, weight, spec.stride, spec.dilation)
    if bias is not None:
        out += bias[:, None, None]
    return out


def _backward(grad_out, x, weight, spec):
    (kh, kw), (dh, dw) = spec.kernel_size, spec.dilation
    x_pad = pad(x.transpose(1, 0, 2, 3), _flat_padding(spec.padding), spec.mode)   # (C_in, N, Hp, Wp)
    hp, wp = x_pad.shape[2:]

    # dL/dbias: bias[o] is added at every (n, i, j).
    grad_bias = grad_out.sum(axis=(0, 2, 3))

    # dL/dweight: the correlation of the padded input with the upstream gradient, dilated by the
    # stride (zero-stuffing puts g[n, o, i, j] at (s*i, s*j), where its window started).
    g = _dilate_and_place(grad_out, spec.stride, (0, 0), (hp, wp))
    grad_weight = _correlate_with_upstream(x_pad, g, spec.kernel_size, spec.dilation)

    # dL/dx_pad: the full convolution of the dilated upstream gradient with the kernel = the
    # correlation of that gradient, zero-padded by d*(k-1) on each side, with the kernel flipped
    # by 180 degrees and C_in/C_out swapped. Rows of x_pad that no window reached get zeros.
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    if _crop_first(spec):
        # Zero padding's adjoint only crops dL/dx_pad to its interior, so compute just the interior:
        # pad g by d*(k-1) - p instead of d*(k-1): the same numbers, with less work.
        (top, _), (left, _) = spec.padding
        g = _dilate_and_place(grad_out, spec.stride, (dh * (kh - 1) - top, dw * (kw - 1) - left),
                              (x.shape[2] + dh * (kh - 1), x.shape[3] + dw * (kw - 1)))
        return _correlate(g, flipped, (1, 1), spec.dilation), grad_weight, grad_bias
    g = _dilate_and_place(grad_out, spec.stride, (dh * (kh - 1), dw * (kw - 1)),
                          (hp + dh * (kh - 1), wp + dw * (kw - 1)))
    grad_x_pad = _correlate(g, flipped, (1, 1), spec.dilation)                       # (N, C_in, Hp, Wp)

    # dL/dx: the adjoint of the padding, applied last.
    grad_x = pad_backward(grad_x_pad, _flat_padding(spec.padding), spec.mode)
    return grad_x, grad_weight, grad_bias


def _crop_first(spec):
    """Zero padding no wider than d*(k-1) on every side: the interior of dL/dx_pad is a correlation itself."""
    return spec.mode == "zeros" and all(max(pair) <= d * (k - 1)
                                        for pair, k, d in zip(spec.padding, spec.kernel_size, spec.dilation))


def _dilate_and_place(g, stride, offset, grid):
    """Zero grid (C_out, N, *grid) holding g[n, o, i, j] at (offset + s*i, offset + s*j).

    The zero-stuffed ("dilated") upstream gradient, padded, channel-major: one allocation.
    """
    (sh, sw), (top, left) = stride, offset
    n, o, h_out, w_out = g.shape
    placed = np.zeros((o, n) + tuple(grid), dtype=g.dtype)
    placed[:, :, top:top + sh * (h_out - 1) + 1:sh, left:left + sw * (w_out - 1) + 1:sw] = g.transpose(1, 0, 2, 3)
    return placed


def _correlate(x_pad, weight, stride, dilation):
    """Valid cross-correlation: x_pad (C, N, Hp, Wp) channel-major, weight (O, C, kh, kw) -> (N, O, H_out, W_out).

    ``out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * x_pad[c, n, s*i + d*a, s*j + d*b]``,
    by whichever of two equivalent algorithms suits the shapes:

    * one input and one output channel: shifted slices, a multiply-add of a
      whole shifted row per kernel offset (im2col would copy the input kh*kw
      times only to multiply it by a one-row matrix);
    * otherwise im2col: gather the patches into a matrix, one matrix product.

    Stride 1 works on the flat rows (see above), a group of images at a time
    so that the group's data stays in the CPU cache across the kh*kw offsets.
    A stride > 1 breaks the constant-shift picture: it gathers strided
    patches with ``im2col``'s copy instead. Matrix products are cut into
    pieces that BLAS runs on the calling thread (:func:`_one_thread_length`).
    """
    c, n, hp, wp = x_pad.shape
    o, _, kh, kw = weight.shape
    (dh, dw) = dilation
    out_size = (_output_size(hp, kh, stride[0], dh, 0, 0), _output_size(wp, kw, stride[1], dw, 0, 0))
    if stride != (1, 1):
        return _correlate_by_strided_im2col(x_pad.transpose(1, 0, 2, 3), weight, stride, dilation, out_size)
    rows = x_pad.reshape(c, n * hp * wp)
    shifts = [dh * a * wp + dw * b for a in range(kh) for b in range(kw)]
    out = np.empty((n, o) + out_size, dtype=x_pad.dtype)
    if c == 1 and o == 1:
        _correlate_by_shifted_slices(rows[0], weight.reshape(-1), shifts, out, (hp, wp))
    else:
        _correlate_by_im2col(rows, weight.reshape(o, -1), shifts, out, (hp, wp))
    return out


# Blocks of work are sized to touch about this many elements (1 MB of float64),
# so that what a block reads and writes stays in the CPU's cache.
_BLOCK_ELEMENTS = 1 << 17


def _one_thread_length(m, n):
    """How long the third dimension of a product with dimensions m and n may be to stay on one thread.

    OpenBLAS, NumPy's BLAS, splits a product across threads above a size:
    m*n*k > 2**18 for a matrix product, a matrix of more than 9216 entries for
    a matrix-vector product, more than 10000 for a dot product. When the other
    cores are busy (a shared 2-core runner, a laptop running a notebook server),
    each split waits for a descheduled thread: on a 2-core machine we measured
    single products taking 4 to 8 ms instead of 0.01 to 0.1 ms. Cut into pieces
    under those sizes, every product runs at full speed on the calling thread.
    (Products with many channels get at least 64 columns: they are big enough
    to amortise a split.)
    """
    if m > 1 and n > 1:
        length = (1 << 18) // (m * n)
    else:
        length = 8192 // (m * n)
    return max(64, length)


def _image_groups(n_images, image_size, length, images_per_group):
    """(first, last, start, stop): images first..last-1 fill the flat positions start..stop-1.

    The last group stops at ``length``: past it, a shifted read would leave the array, and
    only positions that straddle the bottom edge (never part of the output) lie there.
    """
    for first in range(0, n_images, images_per_group):
        last = min(first + images_per_group, n_images)
        yield first, last, first * image_size, min(last * image_size, length)


def _store_valid(out, first, last, block, grid):
    """out[first:last] = the positions of block (O, flat) whose (i, j) lie inside the output."""
    (hp, wp), (h_out, w_out) = grid, out.shape[2:]
    images = block[:, :(last - first) * hp * wp].reshape(-1, last - first, hp, wp)
    out[first:last] = images[:, :, :h_out, :w_out].transpose(1, 0, 2, 3)


def _correlate_by_shifted_slices(row, taps, shifts, out, grid):
    """out <- sum_k taps[k] * row[q + shifts[k]], one whole-row multiply-add per kernel offset."""
    image = grid[0] * grid[1]
    images = max(1, _BLOCK_ELEMENTS // (2 * image))
    total = np.empty(images * image, dtype=row.dtype)
    product = np.empty(images * image, dtype=row.dtype)  # reused: no allocation per offset
    for first, last, start, stop in _image_groups(out.shape[0], image, row.size - shifts[-1], images):
        acc, prod = total[:stop - start], product[:stop - start]
        np.multiply(row[start + shifts[0]:stop + shifts[0]], taps[0], out=acc)
        for shift, tap in zip(shifts[1:], taps[1:]):
            np.multiply(row[start + shift:stop + shift], tap, out=prod)
            acc += prod
        _store_valid(out, first, last, total[None], grid)


def _correlate_by_im2col(rows, kernels, shifts, out, grid):
    """out <- kernels @ cols, with cols[c*K + k, q] = rows[c, q + shifts[k]] built for a group of images.

    rows: (C, T); kernels: (O, C*K), K = len(shifts). Each block of the patch
    matrix is K contiguous copies of the rows, shifted.
    """
    c, k = rows.shape[0], len(shifts)
    image = grid[0] * grid[1]
    images = max(1, _BLOCK_ELEMENTS // (c * k * image))
    cols = np.empty((c, k, images * image), dtype=rows.dtype)
    block = np.empty((kernels.shape[0], images * image), dtype=rows.dtype)
    piece = _one_thread_length(kernels.shape[0], c * k)
    for first, last, start, stop in _image_groups(out.shape[0], image, rows.shape[1] - shifts[-1], images):
        width = stop - start
        for index, shift in enumerate(shifts):
            cols[:, index, :width] = rows[:, start + shift:stop + shift]
        patches = cols.reshape(c * k, -1)
        for left in range(0, width, piece):
            right = min(left + piece, width)
            np.matmul(kernels, patches[:, left:right], out=block[:, left:right])
        _store_valid(out, first, last, block, grid)


def _correlate_with_upstream(x_pad, g, kernel_size, dilation):
    """grad_weight[o, c, a, b] = sum_q G[o, q] * X[c, q + shift(a, b)]: one dot product per offset.

    x_pad: (C, N, Hp, Wp); g: (O, N, Hp, Wp), the dilated upstream gradient on the same grid.
    Both operands of every product are contiguous rows, so nothing is copied.
    """
    c, n, hp, wp = x_pad.shape
    o = g.shape[0]
    (kh, kw), (dh, dw) = kernel_size, dilation
    rows, g_rows = x_pad.reshape(c, -1), g.reshape(o, -1)
    shifts = [dh * a * wp + dw * b for a in range(kh) for b in range(kw)]
    length = rows.shape[1] - shifts[-1]  # g is zero beyond this: no window starts there
    grad = np.zeros((o, c, kh * kw), dtype=x_pad.dtype)
    block = _one_thread_length(o, c)  # each product below sums over `block` positions
    for start in range(0, length, block):
        stop = min(start + block, length)
        g_block = g_rows[:, start:stop]
        for index, shift in enumerate(shifts):
            grad[:, :, index] += g_block @ rows[:, start + shift:stop + shift].T
    return grad.reshape(o, c, kh, kw)


def _correlate_by_strided_im2col(x_pad, weight, stride, dilation, out_size):
    """x_pad (N, C, Hp, Wp), any strides: im2col (unfold's patch copy), then kernels @ patches."""
    o, _, kh, kw = weight.shape
    cols = _patches(x_pad, (kh, kw), dilation, stride, out_size)       # (N, C*kh*kw, H_out*W_out)
    kernels = weight.reshape(o, -1)
    out = np.empty((x_pad.shape[0], o, cols.shape[2]), dtype=x_pad.dtype)
    piece = _one_thread_length(o, cols.shape[1])
    for n in range(cols.shape[0]):
        for left in range(0, cols.shape[2], piece):
            np.matmul(kernels, cols[n, :, left:left + piece], out=out[n, :, left:left + piece])
    return out.reshape(x_pad.shape[0], o, *out_size)


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
    """PyTorch's limits on padding that copies input entries (the rule lives in padding.py)."""
    for n, (left, right) in zip(size, pads):
        reason = pad_limit_violation(mode, n, left, right)
        if reason is not None:
            raise ValueError(f"{fname}: padding_mode={mode!r}: {reason}: got padding {_show(tuple(pads))} "
                             f"for input size {_show(size)} ({shown_x})")


def _show(values):
    """A 1-tuple shown as its entry, so 1-D messages read 'padding 3' rather than 'padding (3,)'."""
    return values[0] if len(values) == 1 else values


def _flat_padding(pads):
    """((top, bottom), (left, right)) -> PyTorch's F.pad order (left, right, top, bottom)."""
    return tuple(p for pair in reversed(pads) for p in pair)
