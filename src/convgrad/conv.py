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

How it is computed (same results, chosen for speed and memory): the padded
batch is copied channels last; the forward pass and the input gradient are
im2col + one matrix product, one cache-sized block of patches at a time; the
weight gradient copies no patches at all, since on the flattened grid every
kernel offset is a constant shift of the rows (one batched product of
shifted views). One input and one output channel at stride 1 use shifted
slices for the forward pass too. No intermediate is larger than the padded
input, the (dilated) upstream gradient or one block of the im2col matrix.
A batch is cut into groups of images shared among
:func:`convgrad.set_num_threads` threads; the results are the same, bit for
bit, for any number of threads. See ``benchmarks/bench_conv.py`` for the
timings.
"""

import math
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._args import (_as_real_array, _check_at_least, _check_padding_mode, _common_float, _conv_padding, _ntuple,
                    _output_size)
from . import _threads
from .padding import pad, pad_backward, pad_limit_violation

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
        A wrong ndim of x or weight, no output channels, x's channels !=
        ``weight.shape[1]``, bias not ``(C_out,)``, stride or dilation < 1,
        negative padding, an unknown padding string or mode, ``"same"`` with
        stride > 1, reflect padding >= L, circular padding > L, or a dilated
        kernel longer than the padded input.
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
        A wrong ndim of x or weight, no output channels, x's channels !=
        ``weight.shape[1]``, bias not ``(C_out,)``, stride or dilation < 1,
        negative padding, an unknown padding string or mode, ``"same"`` with
        stride > 1, reflect padding >= the input size, circular padding > the
        input size, or a dilated kernel larger than the padded input.
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
# The work is done on channels-last grids: the padded batch stored as grid[n, h, w, c]. Then each
# receptive field is a (kh, kw, C) block of the grid, and the patches of all output positions are
# one strided view of it, with no copy:
#     patches[n, i, j, a, b, c] = grid[n, s*i + d*a, s*j + d*b, c].
# With K = kh*kw*C, positions P = (n, i, j) and the kernel as a matrix kernels[(a, b, c), o],
#     forward      out[P, o]  = patches[P, K] @ kernels[K, o]                        (im2col)
#     dL/dweight   grad[K, o] = patches[P, K].T @ g[P, o]      (by shifted views: see "flat rows")
#     dL/dx_pad    the forward's product again, on the grid of the dilated, padded upstream
#                  gradient, with the flipped kernel (C_in and C_out swapped).
# The patch matrix is never built whole: one block of it at a time (about _BLOCK_ELEMENTS entries)
# is copied out of the view, multiplied and dropped while it is still in the CPU's cache. A batch
# is cut into groups of images, which convgrad's threads share (_threads.py).

def _forward(x, weight, bias, spec):
    if weight.size == 0:  # no input channels: every sum is empty
        out = np.zeros((x.shape[0], weight.shape[0]) + spec.out_size, dtype=x.dtype)
        return out if bias is None else out + bias[:, None, None]
    out = np.empty((x.shape[0], weight.shape[0]) + spec.out_size, dtype=x.dtype)

    def work(groups):  # images groups[0][0] .. groups[-1][1] - 1, on one thread
        first, last = groups[0][0], groups[-1][1]
        _correlate(_grid(x[first:last], spec.padding, spec.mode), weight, spec.stride, spec.dilation,
                   out[first:last], _relative(groups))
        return []

    _threads.run(work, _threads.image_groups(x.shape[0], weight.size * math.prod(spec.out_size)))
    if bias is not None:
        out += bias[:, None, None]
    return out


def _backward(grad_out, x, weight, spec):
    if weight.size == 0:  # no input channels: x reaches no output
        return np.zeros_like(x), np.zeros_like(weight), grad_out.sum(axis=(0, 2, 3))
    (kh, kw), (dh, dw) = spec.kernel_size, spec.dilation
    (top, bottom), (left, right) = spec.padding
    padded = (x.shape[2] + top + bottom, x.shape[3] + left + right)

    # dL/dx_pad is the full convolution of the dilated upstream gradient with the kernel: the
    # correlation of that gradient, zero-padded by d*(k-1) on each side, with the kernel flipped by
    # 180 degrees and C_in/C_out swapped. Dilating (zero-stuffing) puts g[n, o, i, j] back at
    # (s*i, s*j), where its window started; rows of x_pad that no window reached get zeros.
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    crop_first = _crop_first(spec)
    if crop_first:
        # Zero padding's adjoint only crops dL/dx_pad to its interior, so compute just the interior:
        # pad g by d*(k-1) - p instead of d*(k-1): the same numbers, with less work.
        offset = (dh * (kh - 1) - top, dw * (kw - 1) - left)
        size = (x.shape[2] + dh * (kh - 1), x.shape[3] + dw * (kw - 1))
        grad_x = np.empty(x.shape, dtype=x.dtype)
    else:
        offset = (dh * (kh - 1), dw * (kw - 1))
        size = (padded[0] + dh * (kh - 1), padded[1] + dw * (kw - 1))
        grad_x = np.empty(x.shape[:2] + padded, dtype=x.dtype)                     # dL/dx_pad

    def work(groups):  # images groups[0][0] .. groups[-1][1] - 1, on one thread
        first, last = groups[0][0], groups[-1][1]
        g = grad_out[first:last]
        g_grid = _dilated_grid(g, spec.stride, offset, size)
        _correlate(g_grid, flipped, (1, 1), spec.dilation, grad_x[first:last], _relative(groups))

        # dL/dweight: the correlation of the padded input with the dilated upstream gradient, one
        # share per group of images. It needs that gradient on x_pad's grid, with no offset. When the
        # grid above has x_pad's shape ("same" padding), that is the same array read `offset` later.
        x_rows = _grid(x[first:last], spec.padding, spec.mode).reshape(-1, x.shape[1])
        if size == padded:
            g_rows = g_grid.reshape(-1, g.shape[1])[offset[0] * padded[1] + offset[1]:]
        else:
            g_rows = _dilated_grid(g, spec.stride, (0, 0), padded).reshape(-1, g.shape[1])
        image = padded[0] * padded[1]
        ranges = [(start * image, stop * image) for start, stop in _relative(groups)]
        grad_weights = _correlate_with_upstream(x_rows, g_rows, padded[1], spec.kernel_size, spec.dilation, ranges)
        # dL/dbias: bias[o] is added at every (n, i, j).
        grad_biases = [grad_out[start:stop].sum(axis=(0, 2, 3)) for start, stop in groups]
        return list(zip(grad_weights, grad_biases))

    shares = _threads.run(work, _threads.image_groups(x.shape[0], 2 * weight.size * math.prod(spec.out_size)))
    grad_weight, grad_bias = np.zeros_like(weight), np.zeros(weight.shape[0], dtype=weight.dtype)
    for weight_share, bias_share in shares:  # group by group, in order: the same sums for any number of threads
        grad_weight += weight_share
        grad_bias += bias_share
    if not crop_first:
        # dL/dx: the adjoint of the padding, applied last.
        grad_x = pad_backward(grad_x, _flat_padding(spec.padding), spec.mode)
    return grad_x, grad_weight, grad_bias


def _relative(groups):
    """Image groups counted from the first image of the run."""
    return [(start - groups[0][0], stop - groups[0][0]) for start, stop in groups]


def _crop_first(spec):
    """Zero padding no wider than d*(k-1) on every side: the interior of dL/dx_pad is a correlation itself."""
    return spec.mode == "zeros" and all(max(pair) <= d * (k - 1)
                                        for pair, k, d in zip(spec.padding, spec.kernel_size, spec.dilation))


def _grid(x, pads, mode):
    """x (N, C, H, W) padded by pads ((top, bottom), (left, right)) in the given mode, channels last: (N, Hp, Wp, C)."""
    (top, bottom), (left, right) = pads
    if mode != "zeros":
        return np.ascontiguousarray(pad(x, _flat_padding(pads), mode).transpose(0, 2, 3, 1))
    return _dilated_grid(x, (1, 1), (top, left), (x.shape[2] + top + bottom, x.shape[3] + left + right))


def _dilated_grid(g, stride, offset, size):
    """Zero grid (N, *size, C) holding g[n, c, i, j] at (offset + s*i, offset + s*j), channels last, in one
    allocation: the zero-stuffed, padded upstream gradient (or, at stride 1, a zero-padded input)."""
    (sh, sw), (top, left) = stride, offset
    n, o, h_out, w_out = g.shape
    grid = np.zeros((n,) + tuple(size) + (o,), dtype=g.dtype)
    grid[:, top:top + sh * (h_out - 1) + 1:sh, left:left + sw * (w_out - 1) + 1:sw] = g.transpose(0, 2, 3, 1)
    return grid


def _patch_view(grid, kernel_size, stride, dilation, out_size):
    """patches[n, i, j, a, b, c] = grid[n, s*i + d*a, s*j + d*b, c], a view of the grid (no copy)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    n, _, _, c = grid.shape
    step_n, step_h, step_w, step_c = grid.strides
    return as_strided(grid, (n, out_size[0], out_size[1], kh, kw, c),
                      (step_n, sh * step_h, sw * step_w, dh * step_h, dw * step_w, step_c), writeable=False)


# A block of the patch matrix has at most about this many entries (1 MB of float32), so that it
# stays in the CPU's cache between being copied and being multiplied.
_BLOCK_ELEMENTS = 1 << 18


def _blocks(first, last, patches_shape):
    """(images, rows) slices cutting images first..last-1 of the patches (N, H_out, W_out, kh, kw, C)
    into blocks of at most about _BLOCK_ELEMENTS entries."""
    h_out = patches_shape[1]
    per_image = math.prod(patches_shape[1:])
    if per_image > _BLOCK_ELEMENTS:  # a large image: equal bands of output rows
        bands = -(-per_image // _BLOCK_ELEMENTS)
        rows = -(-h_out // bands)
        return [(slice(i, i + 1), slice(r, min(r + rows, h_out)))
                for i in range(first, last) for r in range(0, h_out, rows)]
    images = _BLOCK_ELEMENTS // per_image
    return [(slice(i, min(i + images, last)), slice(0, h_out)) for i in range(first, last, images)]


def _correlate(grid, weight, stride, dilation, out, groups):
    """Valid cross-correlation: grid (N, Hp, Wp, C) channels last, weight (O, C, kh, kw) -> out (N, O, H_out, W_out).

    ``out[n, o, i, j] = sum_{a, b, c} weight[o, c, a, b] * grid[n, s*i + d*a, s*j + d*b, c]``:
    im2col, one block of patches at a time, then a matrix product with the
    kernels. A block never spans two of the image ``groups`` (first, last),
    so the blocks, and so the bits of every product, do not depend on how
    the groups were shared among threads. One input and one output channel at
    stride 1 go by shifted slices instead: im2col would copy the input kh*kw
    times only to multiply it by a one-column matrix.
    """
    o, c, kh, kw = weight.shape
    if o == 1 and c == 1 and stride == (1, 1):
        _correlate_by_shifted_slices(grid, weight.reshape(-1), (kh, kw), dilation, out)
        return
    patches = _patch_view(grid, (kh, kw), stride, dilation, out.shape[2:])
    kernels = weight.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)        # rows ordered (a, b, c), as a patch
    for first, last in groups:
        for images, rows in _blocks(first, last, patches.shape):
            block = patches[images, rows]
            cols = block.reshape(-1, kh * kw * c)                         # im2col of the block: the one copy
            out[images, :, rows] = (cols @ kernels).reshape(block.shape[:3] + (o,)).transpose(0, 3, 1, 2)


# --- flat rows: a kernel offset is a constant shift ----------------------------------------------
#
# Flattened, the grid (N, Hp, Wp, C) is rows X[q, c] with q = (n*Hp + h)*Wp + w, and the kernel
# offset (a, b) is a constant shift of them: grid[n, i + d_h*a, j + d_w*b] = X[q + shift(a, b)],
# shift(a, b) = d_h*a*Wp + d_w*b, where q is the position of output (n, i, j). Every shifted copy of
# X is then a view, and no patch has to be copied. The price: positions q whose (i, j) lies past
# H_out or W_out straddle an edge. The weight gradient gives them a zero upstream gradient; the
# shifted-slice correlation computes them and drops them (13% of extra work for a 32x32 image
# padded by 1).

def _shifts(kernel_size, dilation, width):
    (kh, kw), (dh, dw) = kernel_size, dilation
    return [dh * a * width + dw * b for a in range(kh) for b in range(kw)]


def _correlate_with_upstream(rows, upstream, width, kernel_size, dilation, ranges):
    """grad[o, c, a, b] = sum_q G[q, o] * X[q + shift(a, b), c], one sum per range of positions q.

    rows: X[q, c], the padded input's grid (N, Hp, Wp, C) flattened to rows
    q = (n*Hp + h)*Wp + w; upstream: G[q, o], the dilated upstream gradient
    on the same grid (g[n, o, i, j] at (s*i, s*j), zeros elsewhere), at least
    as long as X less the largest shift; width: Wp; ranges: (start, stop)
    pairs of positions. The kernel offset (a, b) is a constant shift of the
    rows, so ``grad[:, :, a, b] = (X[q + shift(a, b), :].T @ G[q, :]).T`` for
    all kh*kw offsets at once is one batched matrix product of views: no
    patch is copied. (G is zero at the positions that straddle an edge, so
    they add nothing.) Returns one (O, C, kh, kw) sum per range.
    """
    c, o = rows.shape[1], upstream.shape[1]
    shifts = _shifts(kernel_size, dilation, width)
    length = rows.shape[0] - shifts[-1]
    (kh, kw), (dh, dw), item = kernel_size, dilation, rows.itemsize
    # shifted[a, b, :, q] = X[q + shift(a, b), :]: every shifted copy of X as one view
    shifted = as_strided(rows, (kh, kw, c, length), (dh * width * c * item, dw * c * item, item, c * item),
                         writeable=False)
    step = _positions_per_product(c, o)
    sums = []
    for first, last in ranges:
        # The last image of a range ends with positions that straddle its bottom edge (G is zero
        # there): stopping before them keeps X's reads inside the array, and the blocks of a range
        # the same wherever the range lies in its run.
        last -= shifts[-1]
        grad = np.zeros((kh, kw, c, o), dtype=rows.dtype)
        for start in range(first, last, step):
            stop = min(start + step, last)
            grad += shifted[..., start:stop] @ upstream[start:stop]
        sums.append(grad.transpose(3, 2, 0, 1))
    return sums


def _positions_per_product(c, o):
    """How many positions each product of _correlate_with_upstream sums over.

    Measured: products of about 2**19 multiply-adds run fastest, and 8192
    positions keep a block in the cache (and float32 sums accurate).
    """
    return max(256, min(8192, (1 << 19) // (c * o)))


def _image_groups(n_images, image_size, length, images_per_group):
    """(first, last, start, stop): images first..last-1 fill the flat positions start..stop-1.

    The last group stops at ``length``: past it, a shifted read would leave the array, and
    only positions that straddle the bottom edge (never part of the output) lie there.
    """
    for first in range(0, n_images, images_per_group):
        last = min(first + images_per_group, n_images)
        yield first, last, first * image_size, min(last * image_size, length)


# The two buffers of a shifted-slice correlation have this many entries (512 KB each in float64).
_SLICE_ELEMENTS = 1 << 16


def _correlate_by_shifted_slices(grid, taps, kernel_size, dilation, out):
    """out[:, 0] <- sum_k taps[k] * X[q + shift_k], one whole-row multiply-add per kernel offset."""
    hp, wp = grid.shape[1:3]
    h_out, w_out = out.shape[2:]
    row = grid.reshape(-1)
    shifts = _shifts(kernel_size, dilation, wp)
    image = hp * wp
    images = max(1, _SLICE_ELEMENTS // image)
    total = np.empty(images * image, dtype=row.dtype)
    product = np.empty(images * image, dtype=row.dtype)  # reused: no allocation per offset
    for first, last, start, stop in _image_groups(out.shape[0], image, row.size - shifts[-1], images):
        acc, prod = total[:stop - start], product[:stop - start]
        np.multiply(row[start + shifts[0]:stop + shifts[0]], taps[0], out=acc)
        for shift, tap in zip(shifts[1:], taps[1:]):
            np.multiply(row[start + shift:stop + shift], tap, out=prod)
            acc += prod
        kept = total[:(last - first) * image].reshape(last - first, hp, wp)
        out[first:last, 0] = kept[:, :h_out, :w_out]


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
