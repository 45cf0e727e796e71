"""The machinery under the correlation methods: grids, blocks, scratch buffers and the threads' share.

Nothing here is mathematics. :mod:`convgrad.correlation` computes every
correlation on a *grid*, a contiguous NCHW batch already padded (or
zero-stuffed): :func:`padded` and :func:`zero_stuffed` make them. A method works one *block* of images
(or, for a large image, one band of rows) at a time, so that its
intermediates stay at about ``_BLOCK_ELEMENTS`` entries (:func:`blocks`),
in buffers reused from block to block (:class:`Scratch`). A block never
spans two of the image groups of :func:`convgrad._threads.image_groups`,
and every sum over images is made group by group, in order: the bits of
every result are the same for any number of threads.
"""

import math

import numpy as np

from . import _threads
from .padding import pad

# A block has at most about this many entries in each of its intermediates (8 MB of float32). Small
# blocks would stay in the CPU's fastest caches, but each block costs several NumPy calls, and on
# threads every call hands the GIL over and takes it back: measured, blocks this large are faster
# on two threads and no slower on one.
_BLOCK_ELEMENTS = 1 << 21


def blocks(first, last, rows, row_elements):
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


# A job of fewer multiply-adds runs on the calling thread without holding the BLAS to one thread:
# OpenBLAS does not split a product that small anyway, and setting and restoring the limit costs
# more (about 20 microseconds) than a small image's whole convolution.
_UNTHREADED_WORK = 1 << 18


def run(work, n_images, work_per_image):
    """Call ``work(first, last, groups)`` for runs of image groups on convgrad's threads; concatenate its lists.

    ``groups`` are the run's image groups counted from its first image ``first``.
    """
    if 0 < n_images * work_per_image < _UNTHREADED_WORK:  # one group (image_groups makes no more)
        return work(0, n_images, [(0, n_images)])
    def chunk(groups):
        first, last = groups[0][0], groups[-1][1]
        return work(first, last, [(start - first, stop - first) for start, stop in groups])
    return _threads.run(chunk, _threads.image_groups(n_images, work_per_image))


def summed(shares, shape, dtype):
    """The shares (one per image group, in group order) added up one by one: the same bits for any threads."""
    total = np.zeros(shape, dtype=dtype)
    for share in shares:
        total += share
    return total


def padded(x, pads, mode):
    """x (N, C, H, W) padded by pads ((top, bottom), (left, right)) in the given mode: (N, C, Hp, Wp), contiguous."""
    (top, bottom), (left, right) = pads
    if mode != "zeros":
        return np.ascontiguousarray(pad(x, flat_padding(pads), mode))
    return zero_stuffed(x, (1, 1), (top, left), (x.shape[2] + top + bottom, x.shape[3] + left + right))


def zero_stuffed(g, stride, offset, size, spare=0):
    """Zero grid (N, C, *size) holding g[n, c, i, j] at (offset + s*i, offset + s*j): the zero-stuffed,
    padded upstream gradient (or, at stride 1, a zero-padded input).

    With ``spare`` > 0 the grid is the start of a flat zero buffer ``spare``
    entries longer; :func:`shifted_grid` reads the same buffer later on.
    """
    (sh, sw), (top, left) = stride, offset
    n, o, h_out, w_out = g.shape
    shape = (n, o) + tuple(size)
    if spare:
        grid = np.zeros(math.prod(shape) + spare, dtype=g.dtype)[:math.prod(shape)].reshape(shape)
    else:
        grid = np.zeros(shape, dtype=g.dtype)
    grid[:, :, top:top + sh * (h_out - 1) + 1:sh, left:left + sw * (w_out - 1) + 1:sw] = g
    return grid


def shifted_grid(grid, start):
    """The grid of the same shape whose flat entry q is ``grid``'s flat entry q + start.

    ``grid`` must come from :func:`zero_stuffed` with ``spare >= start``: the
    entries read past its end are that buffer's zeros.
    """
    buffer = grid.base
    if buffer is None or buffer.ndim != 1 or buffer.size < grid.size + start:
        raise ValueError("shifted_grid: the grid has no spare zeros after it")
    return view(buffer, grid.shape, grid.strides, offset=start * grid.itemsize)


def flat_padding(pads):
    """((top, bottom), (left, right)) -> PyTorch's F.pad order (left, right, top, bottom)."""
    return tuple(p for pair in reversed(pads) for p in pair)


class Scratch:
    """A buffer handed out again and again, as arrays of whatever shape is asked for (grown when too small).

    Allocating it for each block would fault fresh pages in again and again,
    and threads would queue for the kernel's memory map.
    """

    def __init__(self, dtype):
        self.space = np.empty(0, dtype=dtype)

    def get(self, shape):
        size = math.prod(shape)
        if size > self.space.size:
            self.space = np.empty(size, dtype=self.space.dtype)
        return self.space[:size].reshape(shape)


def view(array, shape, strides, offset=0):
    """A view of the contiguous ``array`` with the given shape and strides (NumPy checks that it stays inside;
    cheaper than as_strided, which matters once per block)."""
    return np.ndarray(shape, array.dtype, array, offset, strides)   # positional: keywords cost more per call


def row_shifted(xs, kh, row_shift, length):
    """shifted[n, a, (c, b), q] = xs[n, (c, b), q + a*row_shift] for q < length: a view of xs."""
    return view(xs, (xs.shape[0], kh, xs.shape[1], length),
                (xs.strides[0], row_shift * xs.itemsize, xs.strides[1], xs.itemsize))


def column_shifts(rows, start, length, kw, dw, scratch):
    """xs[n, (c, b), q] = rows[n, c, start + d_w*b + q] for q < length: kw shifted copies, (N, C*kw, length)."""
    n, c = rows.shape[:2]
    xs = scratch.get((n, c, kw, length))
    for b in range(kw):
        xs[:, :, b] = rows[:, :, start + dw * b:start + dw * b + length]
    return xs.reshape(n, c * kw, length)


def fast_length(n):
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
