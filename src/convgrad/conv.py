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
batch is read as flat rows, one per image and channel, on which a kernel
offset is a constant shift. The forward pass at stride 1, the input gradient
(a correlation at stride 1 in any case) and the weight gradient are then kh
matrix products each, on kw shifted copies of the rows, where im2col would
make kh*kw copies. A strided forward pass, or one with more output channels
than C_in*kw, uses im2col + one matrix product. With one input and one
output channel, the correlations at stride 1 use shifted slices and the
weight gradient dot products; for a kernel of 81 taps or more, both use the
FFT (equal to rounding, not to the bit). Besides the padded input and the
(dilated) upstream gradient, intermediates are made one block of images (or
rows) at a time, of about 2**21 entries at most: the block's shifted copies
and their products, its im2col matrix, or its spectra. A batch is cut into
groups of images shared among :func:`convgrad.set_num_threads` threads; the
results are the same, bit for bit, for any number of threads. See
``benchmarks/bench_conv.py`` for the timings.
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
# The work is done on the padded batch, grid[n, c, h, w] (NCHW, Hp x Wp), read as flat rows: image n,
# channel c is a row X[n, c, q] with q = h*Wp + w. A kernel offset (a, b) is then a constant shift of
# the row, shift(a, b) = d_h*a*Wp + d_w*b, and at stride 1
#     out[n, o, q] = sum_{c, a, b} weight[o, c, a, b] * X[n, c, q + shift(a, b)]
# holds for every q = i*Wp + j with i < H_out, j < W_out: the output is computed on the grid's
# "wide" rows (the columns j >= W_out between them are computed and dropped). Every shifted row is a
# view, and one copy of the input per kernel column b (not per offset, as im2col would) makes
#     xs[n, (c, b), q] = X[n, c, q + d_w*b],   out[n, :, q] = sum_a kernels_a @ xs[n, :, q + d_h*a*Wp]
# kh matrix products with the long dimension q, kernels_a[o, (c, b)] = weight[o, c, a, b]:
#     forward      out          the sum above                                     ("row shifts")
#     dL/dx_pad    the same sum, on the grid of the dilated, padded upstream gradient, with the
#                  kernel flipped by 180 degrees and C_in/C_out swapped
#     dL/dweight   grad_a[o, (c, b)] = sum_q G[n, o, q] * xs[n, (c, b), q + d_h*a*Wp], G the dilated
#                  upstream gradient on the grid (zero at every q that is not an output position)
# A stride s > 1 forward would compute s_h*s_w times too many positions this way, and with
# O > C*kw the kh products would outgrow im2col's copy; both use im2col: the patches of the output
# positions, copied out of a strided view, times the kernel matrix.
# Work is done one block of images (or, for a large image, one band of rows) at a time. A batch is
# cut into groups of images, which convgrad's threads share (_threads.py).

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
        x_grid = _grid(x[first:last], spec.padding, spec.mode)
        if size == padded:
            upstream, start = g_grid, offset[0] * padded[1] + offset[1]
        else:
            upstream, start = _dilated_grid(g, spec.stride, (0, 0), padded), 0
        grad_weights = _correlate_with_upstream(x_grid, upstream, start, spec, _relative(groups))
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
    """x (N, C, H, W) padded by pads ((top, bottom), (left, right)) in the given mode: (N, C, Hp, Wp), contiguous."""
    (top, bottom), (left, right) = pads
    if mode != "zeros":
        return np.ascontiguousarray(pad(x, _flat_padding(pads), mode))
    return _dilated_grid(x, (1, 1), (top, left), (x.shape[2] + top + bottom, x.shape[3] + left + right))


def _dilated_grid(g, stride, offset, size):
    """Zero grid (N, C, *size) holding g[n, c, i, j] at (offset + s*i, offset + s*j): the zero-stuffed,
    padded upstream gradient (or, at stride 1, a zero-padded input)."""
    (sh, sw), (top, left) = stride, offset
    n, o, h_out, w_out = g.shape
    grid = np.zeros((n, o) + tuple(size), dtype=g.dtype)
    grid[:, :, top:top + sh * (h_out - 1) + 1:sh, left:left + sw * (w_out - 1) + 1:sw] = g
    return grid


# A block has at most about this many entries in each of its intermediates (8 MB of float32). Small
# blocks would stay in the CPU's fastest caches, but each block costs several NumPy calls, and on
# threads every call hands the GIL over and takes it back: measured, blocks this large are faster
# on two threads and no slower on one.
_BLOCK_ELEMENTS = 1 << 21


def _blocks(first, last, rows, row_elements):
    """(images, rows) slices cutting images first..last-1, of ``rows`` rows that cost ``row_elements``
    entries each, into blocks of at most about _BLOCK_ELEMENTS entries (a large image: bands of rows)."""
    per_image = rows * row_elements
    if per_image > _BLOCK_ELEMENTS:
        bands = -(-per_image // _BLOCK_ELEMENTS)
        step = -(-rows // bands)
        return [(slice(i, i + 1), slice(r, min(r + step, rows)))
                for i in range(first, last) for r in range(0, rows, step)]
    images = _BLOCK_ELEMENTS // per_image
    return [(slice(i, min(i + images, last)), slice(0, rows)) for i in range(first, last, images)]


def _correlate(grid, weight, stride, dilation, out, groups):
    """Valid cross-correlation: grid (N, C, Hp, Wp), weight (O, C, kh, kw) -> out (N, O, H_out, W_out).

    ``out[n, o, i, j] = sum_{c, a, b} weight[o, c, a, b] * grid[n, c, s*i + d*a, s*j + d*b]``,
    by one of four methods with the same result (to rounding): the FFT (one
    input and one output channel at stride 1, a kernel of _FFT_TAPS taps or
    more), shifted slices (the same, smaller kernels), row shifts (stride 1,
    O <= C*kw) or im2col (the rest). A block never spans two of the image ``groups`` (first,
    last), so the blocks, and so the bits of every product, do not depend on
    how the groups were shared among threads.
    """
    o, c, kh, kw = weight.shape
    if stride == (1, 1) and o == 1 and c == 1 and kh * kw >= _FFT_TAPS:
        _correlate_by_fft(grid, weight[0, 0], dilation, out, groups)
    elif stride == (1, 1) and o == 1 and c == 1:
        # im2col or row shifts would copy the input kh*kw (or kw) times, only to multiply it by one column
        _correlate_by_shifted_slices(grid, weight.reshape(-1), (kh, kw), dilation, out)
    elif stride == (1, 1) and o <= c * kw:
        # row shifts' products, kh*O per position, are then no larger than im2col's copy, kh*kw*C
        _correlate_by_row_shifts(grid, weight, dilation, out, groups)
    else:
        _correlate_by_im2col(grid, weight, stride, dilation, out, groups)


def _correlate_by_im2col(grid, weight, stride, dilation, out, groups):
    """out[n, :, i, j] = kernels @ patches[n, :, i, j], kernels[o, (c, a, b)] = weight[o, c, a, b]."""
    o, c, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    h_out, w_out = out.shape[2:]
    step_n, step_c, step_h, step_w = grid.strides
    # patches[n, c, a, b, i, j] = grid[n, c, s*i + d*a, s*j + d*b], a view (no copy)
    patches = as_strided(grid, (grid.shape[0], c, kh, kw, h_out, w_out),
                         (step_n, step_c, dh * step_h, dw * step_w, sh * step_h, sw * step_w), writeable=False)
    kernels = weight.reshape(o, c * kh * kw)
    for first, last in groups:
        for images, rows in _blocks(first, last, h_out, c * kh * kw * w_out):
            block = patches[images, :, :, :, rows]
            cols = block.reshape(block.shape[0], c * kh * kw, -1)                  # im2col: the one copy
            out[images, :, rows] = (kernels @ cols).reshape(block.shape[0], o, -1, w_out)


def _correlate_by_row_shifts(grid, weight, dilation, out, groups):
    """Stride 1: out[n, :, q] = sum_a kernels_a @ xs[n, :, q + d_h*a*Wp] on the grid's flat rows (see above)."""
    o, c, kh, kw = weight.shape
    (dh, dw), item = dilation, grid.itemsize
    hp, wp = grid.shape[2:]
    h_out, w_out = out.shape[2:]
    rows = grid.reshape(grid.shape[0], c, hp * wp)
    kernels = weight.transpose(2, 0, 1, 3).reshape(kh, o, c * kw)                  # kernels[a, o, (c, b)]
    row_shift = dh * wp
    blocks = [block for first, last in groups for block in _blocks(first, last, h_out, wp * (c * kw + kh * o))]
    # Scratch space for the largest block, reused by every block: allocating it each time would
    # fault fresh pages in again and again, and threads would queue for the kernel's memory map.
    xs_space, products_space = _Scratch(grid.dtype), _Scratch(grid.dtype)
    for images, band in blocks:
        n = images.stop - images.start
        # output rows band.start .. band.stop-1: positions q0 + (0 .. length-1) of the wide rows
        q0, length = band.start * wp, (band.stop - band.start - 1) * wp + w_out
        xs = _column_shifts(rows[images], q0, length + (kh - 1) * row_shift, kw, dw, xs_space)
        products = np.matmul(kernels, _row_shifted(xs, kh, row_shift, length),
                             out=products_space.get((n, kh, o, length)))
        total = products[:, 0]
        for a in range(1, kh):
            total += products[:, a]
        # the wide rows' first w_out columns
        out[images, :, band] = _view(products, (n, o, band.stop - band.start, w_out),
                                     (products.strides[0], products.strides[2], wp * item, item))


class _Scratch:
    """A buffer handed out again and again, as arrays of whatever shape is asked for (grown when too small)."""

    def __init__(self, dtype):
        self.space = np.empty(0, dtype=dtype)

    def get(self, shape):
        size = math.prod(shape)
        if size > self.space.size:
            self.space = np.empty(size, dtype=self.space.dtype)
        return self.space[:size].reshape(shape)


def _view(array, shape, strides):
    """A view of the contiguous ``array`` with the given shape and strides (NumPy checks that it stays inside;
    cheaper than as_strided, which matters once per block)."""
    return np.ndarray(shape, dtype=array.dtype, buffer=array, strides=strides)


def _row_shifted(xs, kh, row_shift, length):
    """shifted[n, a, (c, b), q] = xs[n, (c, b), q + a*row_shift] for q < length: a view of xs."""
    return _view(xs, (xs.shape[0], kh, xs.shape[1], length),
                 (xs.strides[0], row_shift * xs.itemsize, xs.strides[1], xs.itemsize))


def _column_shifts(rows, start, length, kw, dw, scratch):
    """xs[n, (c, b), q] = rows[n, c, start + d_w*b + q] for q < length: kw shifted copies, (N, C*kw, length)."""
    n, c = rows.shape[:2]
    xs = scratch.get((n, c, kw, length))
    for b in range(kw):
        xs[:, :, b] = rows[:, :, start + dw * b:start + dw * b + length]
    return xs.reshape(n, c * kw, length)


def _correlate_with_upstream(grid, upstream, start, spec, groups):
    """grad[o, c, a, b] = sum_{n, q} G[n, o, q] * X[n, c, q + shift(a, b)], one sum per group of images.

    grid: the padded input (N, C, Hp, Wp), X its flat rows; upstream: a grid
    (N, O, Hp, Wp) whose flat rows hold G from ``start`` on: the dilated
    upstream gradient on X's positions, g[n, o, i, j] at q = s_h*i*Wp + s_w*j,
    zeros elsewhere. With xs the kw column shifts of X,
    ``grad[o, c, a, b] = sum_q xs[n, (c, b), q + d_h*a*Wp] * G[n, o, q]``: kh
    matrix products with the long dimension q. (One channel each: kh*kw dot
    products along the rows of all the group's images, which lie end to end;
    or, for a kernel of _FFT_TAPS taps or more, the FFT.) Returns one
    (O, C, kh, kw) sum per group.
    """
    n, c, hp, wp = grid.shape
    o = upstream.shape[1]
    (kh, kw), (dh, dw), (sh, sw) = spec.kernel_size, spec.dilation, spec.stride
    h_out, w_out = spec.out_size
    row_shift, image = dh * wp, hp * wp
    window_rows = sh * (h_out - 1) + 1                 # rows of x_pad where a window starts
    last_position = (window_rows - 1) * wp + sw * (w_out - 1)
    if c == 1 and o == 1 and kh * kw >= _FFT_TAPS:
        g_grid = upstream.reshape(n, 1, hp, wp)
        if start:
            # G read `start` later: moved onto X's grid (its positions past the last window hold no gradient)
            g_grid = np.zeros((n, image), dtype=upstream.dtype)
            g_grid[:, :image - start] = upstream.reshape(n, -1)[:, start:]
            g_grid = g_grid.reshape(n, 1, hp, wp)
        return _correlate_with_upstream_by_fft(grid, g_grid, spec, groups)
    if c == 1 and o == 1:
        x_flat, g_flat = grid.reshape(-1), upstream.reshape(-1)[start:]
        shifts = _shifts(spec.kernel_size, spec.dilation, wp)
        sums = []
        for first, last in groups:
            # positions past the last image's last window hold no gradient: stop there
            q0, q1 = first * image, (last - 1) * image + last_position + 1
            # dots of at most _SLICE_ELEMENTS terms, added up in float64: float32 sums stay accurate
            grad = [sum(float(np.dot(x_flat[p + shift:min(p + _SLICE_ELEMENTS, q1) + shift],
                                     g_flat[p:min(p + _SLICE_ELEMENTS, q1)]))
                        for p in range(q0, q1, _SLICE_ELEMENTS))
                    for shift in shifts]
            sums.append(np.array(grad, dtype=grid.dtype).reshape(1, 1, kh, kw))
        return sums
    rows = grid.reshape(n, c, image)
    g_rows = upstream.reshape(n, o, -1)[:, :, start:]
    xs_space = _Scratch(grid.dtype)
    sums = []
    for first, last in groups:
        grad = np.zeros((kh, c * kw, o), dtype=grid.dtype)
        for images, band in _blocks(first, last, window_rows, wp * (c * kw + kh * o)):
            q0 = band.start * wp
            length = min(band.stop * wp, last_position + 1) - q0
            xs = _column_shifts(rows[images], q0, length + (kh - 1) * row_shift, kw, dw, xs_space)
            g = g_rows[images, None, :, q0:q0 + length].swapaxes(-1, -2)             # (n, 1, length, O)
            grad += np.matmul(_row_shifted(xs, kh, row_shift, length), g).sum(axis=0)
        sums.append(grad.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))
    return sums


# --- the FFT: one channel and a large kernel ------------------------------------------------------
#
# By the correlation theorem, a circular cross-correlation is a product of spectra:
#     sum_{a, b} k[a, b] * X[i + a, j + b] = irfft2(rfft2(X) * conj(rfft2(k)))[i, j]
# with the kernel (dilated) zero-padded to X's size. It wraps around only past the last valid
# output, so the valid part is the convolution's output. Its cost hardly grows with the kernel:
# measured against shifted slices, it wins from about 9x9 taps (and by 17 times at 31x31, 64x64
# images); with several channels it would need a transform per channel pair, and does not pay.

# One input and one output channel at stride 1, and at least this many taps: the FFT.
_FFT_TAPS = 81


def _fast_length(n):
    """The smallest m >= n with no prime factors but 2, 3 and 5: the FFT's fastest sizes."""
    m = n
    while True:
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 1


def _correlate_by_fft(grid, kernel, dilation, out, groups):
    """out[n, 0] = the valid part of irfft2(rfft2(grid[n, 0]) * conj(rfft2(kernel, dilated and zero-padded)))."""
    (kh, kw), (dh, dw) = kernel.shape, dilation
    h_out, w_out = out.shape[2:]
    shape = (_fast_length(grid.shape[2]), _fast_length(grid.shape[3]))
    padded_kernel = np.zeros(shape, dtype=grid.dtype)
    padded_kernel[:dh * (kh - 1) + 1:dh, :dw * (kw - 1) + 1:dw] = kernel
    spectrum = np.conj(np.fft.rfft2(padded_kernel))
    for first, last in groups:
        for images, _ in _blocks(first, last, 1, math.prod(shape)):  # whole images: one "row" each
            product = np.fft.rfft2(grid[images, 0], s=shape) * spectrum
            out[images, 0] = np.fft.irfft2(product, s=shape)[:, :h_out, :w_out]


def _correlate_with_upstream_by_fft(grid, g_grid, spec, groups):
    """grad[0, 0, a, b] = sum_n irfft2(conj(rfft2(G_n)) * rfft2(X_n))[d_h*a, d_w*b], one sum per group.

    grid: X, the padded input (N, 1, Hp, Wp); g_grid: G, the dilated upstream
    gradient on the same grid. G is zero past the last window, so the lags
    (d_h*a, d_w*b) never wrap around.
    """
    (kh, kw), (dh, dw) = spec.kernel_size, spec.dilation
    shape = (_fast_length(grid.shape[2]), _fast_length(grid.shape[3]))
    sums = []
    for first, last in groups:
        spectrum = 0
        for images, _ in _blocks(first, last, 1, math.prod(shape)):  # whole images: one "row" each
            products = np.conj(np.fft.rfft2(g_grid[images, 0], s=shape)) * np.fft.rfft2(grid[images, 0], s=shape)
            spectrum = spectrum + products.sum(axis=0)
        lags = np.fft.irfft2(spectrum, s=shape)
        sums.append(lags[:dh * (kh - 1) + 1:dh, :dw * (kw - 1) + 1:dw].astype(grid.dtype)[None, None])
    return sums


# --- shifted slices: one channel, a small kernel -------------------------------------------------
#
# With one input and one output channel there is no matrix to multiply: the correlation is kh*kw
# multiply-adds of whole shifted rows of the flat grid (shift(a, b) as above), and the weight
# gradient kh*kw dot products of them with the upstream gradient.

def _shifts(kernel_size, dilation, width):
    (kh, kw), (dh, dw) = kernel_size, dilation
    return [dh * a * width + dw * b for a in range(kh) for b in range(kw)]


def _image_groups(n_images, image_size, length, images_per_group):
    """(first, last, start, stop): images first..last-1 fill the flat positions start..stop-1.

    The last group stops at ``length``: past it, a shifted read would leave the array, and
    only positions that straddle the bottom edge (never part of the output) lie there.
    """
    for first in range(0, n_images, images_per_group):
        last = min(first + images_per_group, n_images)
        yield first, last, first * image_size, min(last * image_size, length)


# The two buffers of a shifted-slice correlation have this many entries (512 KB each in float64);
# a one-channel weight gradient's dot products have at most this many terms.
_SLICE_ELEMENTS = 1 << 16


def _correlate_by_shifted_slices(grid, taps, kernel_size, dilation, out):
    """out[:, 0] <- sum_k taps[k] * X[q + shift_k], one whole-row multiply-add per kernel offset."""
    hp, wp = grid.shape[2:]
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
