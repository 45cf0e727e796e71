"""Convolutions of a small job (a few small images): each formula as one matrix product, no blocks, no threads.

A 32x32 image with a 3x3 kernel is about 10 000 multiply-adds: NumPy does
that in microseconds, and what costs is the number of calls around it. The
methods of :mod:`convgrad.correlation` cut a batch into blocks, reuse scratch
buffers and share images among threads, a few dozen calls; here every
correlation is one view, one copy and one product, the im2col method for a
whole small batch at once, and the shapes, strides and slices of those views
are worked out once per argument shapes (:class:`Plan`).

``cols[n, k, (c, a, b), (i, j)] = x_pad[n, k*C + c, s*i + d*a, s*j + d*b]`` (group k, C = C_in/groups) is a
strided view of x_pad, copied by the product's reshape, and

* forward: ``out[n, k] = kernels[k] @ cols[n, k]``, ``kernels[k, q, (c, a, b)] = weight[k*O + q, c, a, b]``;
* input gradient: the correlation of the zero-stuffed, padded upstream gradient with the turned
  kernel (chapter 8), by the forward's product;
* weight gradient: ``dL/dweight[k*O + q, (c, a, b)] = sum_n g[n, k*O + q] @ cols[n, k].T``.

At stride 1 the columns are x_pad's "wide rows" (chapter 9): column t = i*Wp + j for output (i, j), the
d_w*(kw-1) columns after each output row dropped, so that each copied run is L = (H_out-1)*Wp + W_out
entries long; the product's rows are then read back as (H_out, W_out) with row stride Wp.

Intermediate arrays (x_pad, the products' rows, the input gradient's grid and columns) are made per call,
except in jobs whose columns take ``REUSE_BYTES`` or more: those keep them between calls in their plan
(:func:`_take`, :func:`_give`), and what a call returns or records never lives in them.

conv2d and conv2d_backward take this path when the job has fewer than
``_engine._UNTHREADED_WORK`` multiply-adds and the kernel fewer than
``FFT_TAPS`` taps; the results agree with every other method to rounding
(exactly on integer data), and do not depend on the number of threads.
"""

import numpy as np

from . import _engine

# The plan of each spec in use (a spec is made once per argument shapes and kept by _conv_args), by id;
# a plan keeps its spec alive, so an id found here is that spec's. Bounded as _conv_args' cache is.
_plans = {}
_PLANS_MAX = 512
# The plans' scratch arrays (_take) made since the spares were last dropped, in bytes, and the bound at which
# they are all dropped (the next calls make them again).
_spare_bytes = [0]
_SPARE_BYTES_MAX = 64 << 20
REUSE_BYTES = 1 << 17


class Plan:
    """The shapes, strides (in bytes) and slices of one small job's views, for batched 2-D arrays x
    (N, C_in, H, W) and weight (C_out, C_in/groups, kh, kw) of one dtype and a :data:`~convgrad._conv_args.Spec`."""

    def __init__(self, x_shape, weight_shape, dtype, spec):
        self.spec, self.x_shape, self.weight_shape, self.dtype = spec, x_shape, weight_shape, dtype
        n, c_in, h, w = x_shape
        o, c, kh, kw = weight_shape
        groups, item = spec.groups, dtype.itemsize
        (top, bottom), (left, right) = spec.padding
        (sh, sw), (dh, dw), (h_out, w_out) = spec.stride, spec.dilation, spec.out_size
        hp, wp = h + top + bottom, w + left + right
        q = o // groups  # output channels per group
        # forward: x_pad (contiguous) -> cols -> rows = kernels @ cols -> out
        self.padded = (n, c_in, hp, wp)
        self.interior = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
        self.kernels, self.bias = (groups, q, c * kh * kw), (groups, q, 1)
        x_strides = (c_in * hp * wp * item, c * hp * wp * item, hp * wp * item)
        # the exact windows, (N, groups, C, kh, kw, H_out, W_out)
        self.windows = ((n, groups, c, kh, kw, h_out, w_out),
                        x_strides + (dh * wp * item, dw * item, sh * wp * item, sw * item))
        self.window_cols = (n, groups, c * kh * kw, h_out * w_out)
        self.out_shape = (n, o, h_out, w_out)
        if spec.stride == (1, 1):
            length = (h_out - 1) * wp + w_out   # the wide columns' length L
            self.cols_view = ((n, groups, c, kh, kw, length), x_strides + (dh * wp * item, dw * item, item))
            self.cols = (n, groups, c * kh * kw, length)
            self.out_strides = (o * length * item, length * item, wp * item, item)
        else:
            self.cols_view, self.cols, self.out_strides = self.windows, self.window_cols, None
        # With "same" widths the input gradient's grid below has x_pad's width, and g read from the grid
        # is g on x_pad's wide rows: the weight gradient is a product with the forward's columns.
        self.wide_rows = spec.stride == (1, 1) and left + right == dw * (kw - 1)
        # backward (narrow zero padding, p <= d*(k-1)): g zero-stuffed into a grid d*(k-1) - p from its
        # edges, correlated at stride 1 with the turned kernel, gives dL/dx (the full convolution, cropped).
        hg, wg = h + dh * (kh - 1), w + dw * (kw - 1)
        first_row, first_col = dh * (kh - 1) - top, dw * (kw - 1) - left
        self.grid = (n, o, hg, wg)
        self.grid_interior = (slice(None), slice(None), slice(first_row, first_row + sh * (h_out - 1) + 1, sh),
                              slice(first_col, first_col + sw * (w_out - 1) + 1, sw))
        grid_strides = (o * hg * wg * item, q * hg * wg * item, hg * wg * item)
        length_x = (h - 1) * wg + w
        self.turned, self.turned_kernels = (groups, q, c, kh, kw), (groups, c, q * kh * kw)
        self.grid_cols_view = ((n, groups, q, kh, kw, length_x), grid_strides + (dh * wg * item, dw * item, item))
        self.grid_cols = (n, groups, q * kh * kw, length_x)
        self.grad_x_strides = (c_in * length_x * item, length_x * item, wg * item, item)
        self.g_rows = (n, groups, q, h_out * w_out)
        if self.wide_rows:  # g on x_pad's wide rows: g[n, o, i, j] at t = i*Wp + j, zeros between
            self.g_wide = ((n, groups, q, length), grid_strides + (item,), (first_row * wg + first_col) * item)
        # With more output than input channels per group, the input gradient's columns would be q/C times
        # larger than the forward's: then dL/dx goes the other way (col2im), the columns' gradient
        # kernels^T @ g_wide added back onto x_pad, one shifted add per kernel offset (a, b).
        self.col2im = self.wide_rows and q > c
        self.rows = self.cols[:2] + (q, self.cols[3])                         # the forward's product
        self.grad_rows = self.grid_cols[:2] + (c, self.grid_cols[3])          # the input gradient's
        # One image and one group: the products' operands are 2-D and ndarray.dot computes them, about
        # 1 us faster than matmul's stacked product; otherwise (images, groups, ...) stacks and matmul.
        self.single = n == 1 and groups == 1
        cut = 2 if self.single else 0
        self.kernels_product = self.kernels[cut // 2:]
        self.bias_product = self.bias[cut // 2:]
        self.cols_product, self.rows_product = self.cols[cut:], self.rows[cut:]
        self.turned_product = self.turned_kernels[cut // 2:]
        self.grid_cols_product, self.grad_rows_product = self.grid_cols[cut:], self.grad_rows[cut:]
        if self.wide_rows and self.single:
            self.g_wide = (self.g_wide[0][2:], self.g_wide[1][2:], self.g_wide[2])
        # Scratch arrays kept between calls (_take) for the intermediate values of jobs whose columns
        # take REUSE_BYTES or more. Why: an array made anew on every call costs more than its allocation.
        # Once a call's arrays add up to a few MB, the C library gives their memory back to the system when
        # they are freed and must map fresh zeroed pages for the next call: a conv2d_backward of 8 groups on
        # one 32x32 image took 9 times longer for it. Smaller jobs allocate faster than they would look up.
        self.reuse = spec.mode == "zeros" and item * int(np.prod(self.cols)) >= REUSE_BYTES
        self.spares = {}
        if self.col2im:
            self.g_rows_wide = (n, o, h_out, wp)
            self.offsets = [(a, b, dh * a * wp + dw * b) for a in range(kh) for b in range(kw)]
            self.column_grads = (n, groups, c, kh, kw, length)
            self.padded_rows = (n, groups, c, hp * wp)


def plan(x, weight, spec):
    """The :class:`Plan` of these arrays and spec (made on first use)."""
    found = _plans.get(id(spec))
    if (found is None or found.spec is not spec or found.x_shape != x.shape or found.weight_shape != weight.shape
            or found.dtype != x.dtype):
        if len(_plans) >= _PLANS_MAX:
            _plans.clear()
            _spare_bytes[0] = 0
        found = _plans[id(spec)] = Plan(x.shape, weight.shape, x.dtype, spec)
    return found


def _take(p, name, shape, dtype, zeros=False):
    """The plan's scratch array ``name`` (a plan with ``p.reuse``), made on first use, for one call's
    intermediate values; the caller gives it back with :func:`_give` once nothing refers to it. Taking it
    out of the dict makes it the caller's alone, even with other threads running the same plan (they make
    their own meanwhile). ``zeros``: a grid whose border nobody writes (x_pad, the input gradient's grid),
    zeroed when made."""
    found = p.spares.pop(name, None)   # a plan is for one dtype, and conv's checks give all arrays that dtype
    if found is None:
        found = np.zeros(shape, dtype=dtype) if zeros else np.empty(shape, dtype=dtype)
        _spare_bytes[0] += found.nbytes
        if _spare_bytes[0] > _SPARE_BYTES_MAX:  # many shapes in use: keep memory bounded
            for other in list(_plans.values()):
                other.spares.clear()
            _spare_bytes[0] = found.nbytes
    return found


def _give(p, name, array, unless_shared_with=None):
    """Give a scratch array back to its plan, unless it shares memory with ``unless_shared_with`` (an array
    the caller keeps or returns)."""
    if unless_shared_with is None or not np.may_share_memory(array, unless_shared_with):
        p.spares[name] = array


def _padded(x, p):
    """x_pad, contiguous: for zeros one allocation and one copy (what _engine.padded does, with fewer calls),
    into the plan's scratch x_pad with ``p.reuse`` (the caller gives it back)."""
    if p.spec.mode != "zeros":
        return _engine.padded(x, p.spec.padding, p.spec.mode)
    x_pad = _take(p, "x_pad", p.padded, x.dtype, zeros=True) if p.reuse else np.zeros(p.padded, dtype=x.dtype)
    x_pad[p.interior] = x
    return x_pad


def _times(p, a, b, out=None):
    """a @ b: by ndarray.dot for one image of one group (2-D a and b), by np.matmul for stacks."""
    if p.single:
        return a.dot(b) if out is None else a.dot(b, out)
    return np.matmul(a, b, out=out)


def _view(array, shape_and_strides, offset=0):
    shape, strides = shape_and_strides
    return np.ndarray(shape, array.dtype, array, offset, strides)


def forward(x, weight, bias, spec, keep_columns=False):
    """conv2d's forward for a small job: out = correlate(pad(x), weight) + bias, (N, C_out, H_out, W_out).

    With ``keep_columns``: (out, cols), cols the columns :func:`backward` can reuse for dL/dweight (None
    where it cannot: strides, or widths other than "same").
    """
    p = plan(x, weight, spec)
    x_pad = _padded(x, p)
    cols = _view(x_pad, p.cols_view).reshape(p.cols)           # a copy, except for 1x1 kernels at stride 1
    if p.reuse:
        _give(p, "x_pad", x_pad, unless_shared_with=cols)
    kernels, columns = weight.reshape(p.kernels_product), cols.reshape(p.cols_product)
    if p.reuse and p.out_strides is not None:
        rows = _times(p, kernels, columns, out=_take(p, "rows", p.rows_product, np.result_type(kernels, cols)))
    else:
        rows = _times(p, kernels, columns)                      # (N, groups, C_out/groups, columns)
    if bias is not None:  # on the contiguous rows: cheaper than on the strided view
        rows += bias.reshape(p.bias_product)
    if p.out_strides is None:
        out = rows.reshape(p.out_shape)
    else:
        # At stride 1 the output is the rows read with row stride Wp, copied into a compact array: every
        # elementwise operation after it (a ReLU, its backward, a loss) runs faster on contiguous memory.
        out = _view(rows, (p.out_shape, p.out_strides)).copy()
        if p.reuse:
            _give(p, "rows", rows)
    if keep_columns:
        return out, (cols if p.wide_rows else None)
    return out


def backward(grad_out, x, weight, spec, mask, cols=None):
    """conv2d_backward's three formulas for a small job with narrow zero padding (every side's padding
    p <= d*(k-1)): (dL/dx, dL/dweight, dL/dbias), None for what ``mask`` leaves out; ``cols`` the
    forward's columns (made again from x when None)."""
    need_x, need_weight, need_bias = mask
    p = plan(x, weight, spec)
    if p.col2im:
        return _backward_by_col2im(grad_out, x, weight, p, mask, cols)
    grad_x = grad_weight = grid = None
    if need_x or (need_weight and p.wide_rows):
        # zero-stuffed: only the interior's (strided) positions are ever written
        grid = (_take(p, "grid", p.grid, grad_out.dtype, zeros=True) if p.reuse
                else np.zeros(p.grid, dtype=grad_out.dtype))
        grid[p.grid_interior] = grad_out
    if need_x:
        # Group k's kernels turned by 180 degrees, its input and output channels swapped:
        # turned[k, c, q] = weight[k*O + q, c, ::-1, ::-1] (O = C_out/groups). A copy: the product is
        # three times slower on a kernel of negative strides.
        turned = weight[:, :, ::-1, ::-1].reshape(p.turned).swapaxes(1, 2).copy().reshape(p.turned_product)
        if p.reuse:
            grid_cols = _take(p, "grid_cols", p.grid_cols_product, grid.dtype)
            np.copyto(grid_cols.reshape(p.grid_cols_view[0]), _view(grid, p.grid_cols_view))
            rows = _times(p, turned, grid_cols,
                          out=_take(p, "grad_rows", p.grad_rows_product, np.result_type(turned, grid)))
            _give(p, "grid_cols", grid_cols)
        else:
            rows = _times(p, turned, _view(grid, p.grid_cols_view).reshape(p.grid_cols_product))
        grad_x = _view(rows, (x.shape, p.grad_x_strides)).copy()
        if p.reuse:
            _give(p, "grad_rows", rows)
    if need_weight and p.wide_rows:
        grad_weight = _wide_weight_gradient(_view(grid, p.g_wide[:2], p.g_wide[2]), x, weight, p, cols)
    elif need_weight:
        x_pad = _padded(x, p)
        windows = _view(x_pad, p.windows).reshape(p.window_cols)
        if p.reuse:
            _give(p, "x_pad", x_pad, unless_shared_with=windows)
        grad_weight = _summed(np.matmul(grad_out.reshape(p.g_rows), windows.swapaxes(2, 3)), weight.shape)
    if grid is not None and p.reuse:
        _give(p, "grid", grid)
    return grad_x, grad_weight, (np.add.reduce(grad_out, axis=(0, 2, 3)) if need_bias else None)


def _wide_weight_gradient(g_wide, x, weight, p, cols):
    """dL/dweight = sum_n g_wide[n] @ cols[n]^T, g on x_pad's wide rows (N, groups, C_out/groups, L), or
    (C_out, L) for one image of one group, and cols x_pad's wide columns (the forward's, or made again from
    x when None)."""
    if cols is not None:
        return _wide_product(g_wide, cols, weight.shape)
    x_pad = _padded(x, p)
    if not p.reuse:
        return _wide_product(g_wide, _view(x_pad, p.cols_view).reshape(p.cols), weight.shape)
    cols = _take(p, "cols", p.cols, x_pad.dtype)
    np.copyto(cols.reshape(p.cols_view[0]), _view(x_pad, p.cols_view))
    _give(p, "x_pad", x_pad)
    grad_weight = _wide_product(g_wide, cols, weight.shape)
    _give(p, "cols", cols)
    return grad_weight


def _wide_product(g_wide, cols, shape):
    """sum_n g_wide[n] @ cols[n]^T in ``shape``; a 2-D g_wide (one image, one group) by ndarray.dot, and for
    one output channel as cols @ g^T (a matrix-vector product), whose (C*kh*kw, 1) is the kernel's order."""
    if g_wide.ndim == 4:
        return _summed(np.matmul(g_wide, cols.swapaxes(2, 3)), shape)
    columns = cols.reshape(cols.shape[2:])
    return (columns.dot(g_wide.T) if g_wide.shape[0] == 1 else g_wide.dot(columns.T)).reshape(shape)


def _summed(per_image, shape):
    """The per-image weight gradients (N, groups, C_out/groups, C*kh*kw) summed over the images, in ``shape``."""
    return (per_image[0] if per_image.shape[0] == 1 else per_image.sum(axis=0)).reshape(shape)


def _backward_by_col2im(grad_out, x, weight, p, mask, cols):
    """:func:`backward` at stride 1 with "same" widths and more output than input channels per group:
    g on x_pad's wide rows (``g_wide``, zeros after each output row), then

    * dL/dcols = kernels^T @ g_wide, and dL/dx_pad[n, k*C + c, d_h*a*Wp + d_w*b + t] += dL/dcols[n, k, (c, a, b), t]
      for every (a, b) (the adjoint of the forward's columns), cropped to x;
    * dL/dweight = g_wide @ cols^T, as in :func:`backward`.
    """
    need_x, need_weight, need_bias = mask
    n, length = x.shape[0], p.cols[3]
    wide = np.zeros(p.g_rows_wide, dtype=grad_out.dtype)
    wide[:, :, :, :grad_out.shape[3]] = grad_out
    g_wide = wide.reshape(n, p.kernels[0], p.kernels[1], -1)[..., :length]     # (N, groups, C_out/groups, L)
    grad_x = grad_weight = None
    if need_x:
        column_grads = np.matmul(weight.reshape(p.kernels).swapaxes(1, 2), g_wide).reshape(p.column_grads)
        grad_x_pad = np.zeros(p.padded, dtype=grad_out.dtype)
        rows = grad_x_pad.reshape(p.padded_rows)
        for a, b, offset in p.offsets:
            rows[..., offset:offset + length] += column_grads[:, :, :, a, b]
        grad_x = grad_x_pad[p.interior].copy()
    if need_weight:
        grad_weight = _wide_weight_gradient(g_wide, x, weight, p, cols)
    return grad_x, grad_weight, (np.add.reduce(grad_out, axis=(0, 2, 3)) if need_bias else None)


def channel_groups(groups, c_in, c_out):
    """(input channels, output channels) of each group: equal runs, in order, as in PyTorch."""
    i, o = c_in // groups, c_out // groups
    return [(slice(g * i, (g + 1) * i), slice(g * o, (g + 1) * o)) for g in range(groups)]
