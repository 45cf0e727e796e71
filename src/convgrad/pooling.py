"""2-D max and average pooling and their backward passes, with PyTorch's semantics.

Shapes follow ``torch.nn.functional.max_pool2d``/``avg_pool2d``: ``x`` is
``(N, C, H, W)`` or unbatched ``(C, H, W)``; ``kernel_size``, ``stride`` and
``padding`` are ints or ``(h, w)`` pairs; ``stride`` defaults to
``kernel_size``; padding is at most half the kernel (PyTorch's rule); the
output is ``Ho = floor((H + 2*ph - kh) / sh) + 1`` (likewise ``Wo``).

Every window is a view of the padded input (``sliding_window_view``). The
backward passes loop over the ``kh * kw`` offsets inside a window, never over
pixels: offset ``(a, b)`` of every window at once sends its share of
``grad_out`` back to the input pixels it read, a strided slice. Windows
overlap when ``stride < kernel_size``, and then the shares add up.
"""

from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Largest value of each window.

    Parameters
    ----------
    x : array ``(N, C, H, W)`` or ``(C, H, W)``, real numbers
    kernel_size : int or (kh, kw)
    stride : int or (sh, sw), default ``kernel_size``
    padding : int or (ph, pw), ``0 <= p <= k // 2``
        Implicit ``-inf`` on each side, so padding never wins a window.

    Returns
    -------
    out : array ``(N, C, Ho, Wo)`` (or ``(C, Ho, Wo)``), dtype of ``x``
        ``out[n, c, i, j] = max_{a, b} xp[n, c, i*sh + a, j*sw + b]``.

    Raises
    ------
    ValueError
        Wrong ndim, kernel/stride < 1, negative padding or padding above half
        the kernel, or a kernel larger than the padded input.
    TypeError
        ``x`` is not real-valued.
    """
    p = _Pool(x, kernel_size, stride, padding, "max_pool2d")
    windows = p.windows(p.padded(_lowest(p.x.dtype)))
    out = np.take_along_axis(windows, p.argmax(windows)[..., None], axis=-1)[..., 0]
    return p.unbatch(out)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to ``x``.

    Each window's ``grad_out`` goes to the position of its maximum; a pixel
    that is the maximum of several overlapping windows collects all their
    gradients. Ties go to the first maximum in row-major window order, as in
    PyTorch. (One difference: if a window holds several NaNs PyTorch routes
    the gradient to the last, this function to the first.)

    Parameters
    ----------
    grad_out : array, the shape of ``max_pool2d(x, ...)``
    x : array ``(N, C, H, W)`` or ``(C, H, W)``, the forward input
    kernel_size, stride, padding : as in :func:`max_pool2d`

    Returns
    -------
    grad_x : array, shape of ``x``, dtype ``np.result_type(grad_out, x)`` (at least float)

    Raises
    ------
    ValueError
        As :func:`max_pool2d`, or ``grad_out`` of the wrong shape.
    """
    p = _Pool(x, kernel_size, stride, padding, "max_pool2d_backward")
    grad_out = p.check_grad_out(grad_out)
    winner = p.argmax(p.windows(p.padded(_lowest(p.x.dtype))))   # (N, C, Ho, Wo), index into kh*kw
    grad_xp = np.zeros(p.padded_shape, dtype=p.grad_dtype(grad_out))
    for a, b in np.ndindex(p.kh, p.kw):
        grad_xp[p.offset_slice(a, b)] += np.where(winner == a * p.kw + b, grad_out, 0)
    return p.unbatch(p.crop(grad_xp))


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean of each window.

    Parameters
    ----------
    x : array ``(N, C, H, W)`` or ``(C, H, W)``
    kernel_size, stride, padding : as in :func:`max_pool2d` (padding is zeros)
    count_include_pad : bool
        Divide by ``kh * kw`` (True, PyTorch's default) or by the number of
        real, unpadded pixels in the window (False).

    Returns
    -------
    out : array ``(N, C, Ho, Wo)`` (or ``(C, Ho, Wo)``), dtype of ``x`` (integers become float64)
        ``out[n, c, i, j] = sum_{a, b} xp[n, c, i*sh + a, j*sw + b] / divisor[i, j]``.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool2d`.
    """
    p = _Pool(x, kernel_size, stride, padding, "avg_pool2d", as_float=True)
    total = p.windows(p.padded(0)).sum(axis=-1)
    return p.unbatch(total / p.divisor(count_include_pad))


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Gradient of :func:`avg_pool2d` with respect to ``x``.

    Every pixel of window ``(i, j)`` receives ``grad_out[i, j] / divisor[i, j]``,
    summed over the windows that contain it. The forward pass is linear, so
    this is its adjoint: ``<avg_pool2d(x), g> = <x, avg_pool2d_backward(g, x)>``.

    Parameters
    ----------
    grad_out : array, the shape of ``avg_pool2d(x, ...)``
    x : array ``(N, C, H, W)`` or ``(C, H, W)``, the forward input (only its shape is used)
    kernel_size, stride, padding, count_include_pad : as in :func:`avg_pool2d`

    Returns
    -------
    grad_x : array, shape of ``x``, dtype ``np.result_type(grad_out, x)`` (at least float)

    Raises
    ------
    ValueError
        As :func:`avg_pool2d`, or ``grad_out`` of the wrong shape.
    """
    p = _Pool(x, kernel_size, stride, padding, "avg_pool2d_backward", as_float=True)
    grad_out = p.check_grad_out(grad_out)
    share = grad_out / p.divisor(count_include_pad)
    grad_xp = np.zeros(p.padded_shape, dtype=p.grad_dtype(grad_out))
    for a, b in np.ndindex(p.kh, p.kw):
        grad_xp[p.offset_slice(a, b)] += share
    return p.unbatch(p.crop(grad_xp))


class _Pool:
    """Checked arguments and the index arithmetic shared by the four functions."""

    def __init__(self, x, kernel_size, stride, padding, caller, as_float=False):
        x = np.asarray(x)
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise TypeError(f"{caller}: x must hold real numbers, got dtype {x.dtype}")
        if x.ndim not in (3, 4):
            raise ValueError(f"{caller}: x must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
        if as_float and not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)  # a mean of integers is not an integer
        self.batched = x.ndim == 4
        self.x = x if self.batched else x[None]
        self.kh, self.kw = _pair(kernel_size, "kernel_size", caller, minimum=1)
        self.sh, self.sw = _pair(kernel_size if stride is None else stride, "stride", caller, minimum=1)
        self.ph, self.pw = _pair(padding, "padding", caller, minimum=0)
        if self.ph > self.kh // 2 or self.pw > self.kw // 2:
            raise ValueError(f"{caller}: padding should be at most half of kernel_size, "
                             f"got padding {(self.ph, self.pw)} and kernel_size {(self.kh, self.kw)}")
        N, C, self.H, self.W = self.x.shape
        self.padded_shape = (N, C, self.H + 2 * self.ph, self.W + 2 * self.pw)
        if self.padded_shape[2] < self.kh or self.padded_shape[3] < self.kw:
            raise ValueError(f"{caller}: kernel_size {(self.kh, self.kw)} is larger than the padded input "
                             f"{self.padded_shape[2:]} (x {x.shape}, padding {(self.ph, self.pw)})")
        self.Ho = (self.padded_shape[2] - self.kh) // self.sh + 1
        self.Wo = (self.padded_shape[3] - self.kw) // self.sw + 1
        self.caller = caller

    def padded(self, value):
        pad = [(0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)]
        return np.pad(self.x, pad, constant_values=value)

    def windows(self, xp):
        """(N, C, Ho, Wo, kh*kw): window (i, j) flattened row-major."""
        view = sliding_window_view(xp, (self.kh, self.kw), axis=(2, 3))[:, :, ::self.sh, ::self.sw]
        return view.reshape(*view.shape[:4], self.kh * self.kw)

    def argmax(self, windows):
        """Index of the first maximum of each window, never a padded cell."""
        winner = np.argmax(windows, axis=-1)
        # Padding holds the lowest value, so it only ties when every real entry
        # is that value too (say all -inf); PyTorch then takes the first real entry.
        is_real = self.windows(np.pad(np.ones((1, 1, self.H, self.W), bool),
                                      [(0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)]))
        on_padding = ~np.take_along_axis(np.broadcast_to(is_real, windows.shape), winner[..., None], axis=-1)[..., 0]
        return np.where(on_padding, np.argmax(is_real, axis=-1), winner)

    def divisor(self, count_include_pad):
        """(Ho, Wo): how many pixels each window's mean is taken over."""
        if count_include_pad:
            return np.full((self.Ho, self.Wo), self.kh * self.kw, dtype=self.x.dtype)
        ones = np.pad(np.ones((1, 1, self.H, self.W), self.x.dtype), [(0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)])
        return self.windows(ones).sum(axis=-1)[0, 0]

    def offset_slice(self, a, b):
        """The padded-input pixels that offset (a, b) of every window reads: a strided slice."""
        return (slice(None), slice(None),
                slice(a, a + self.sh * (self.Ho - 1) + 1, self.sh),
                slice(b, b + self.sw * (self.Wo - 1) + 1, self.sw))

    def crop(self, xp):
        return xp[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W]

    def check_grad_out(self, grad_out):
        grad_out = np.asarray(grad_out)
        expected = self.x.shape[:2] + (self.Ho, self.Wo)
        if not self.batched:
            expected = expected[1:]
        if grad_out.shape != expected:
            raise ValueError(f"{self.caller}: grad_out must have the output's shape {expected}, got {grad_out.shape}")
        return grad_out if self.batched else grad_out[None]

    def grad_dtype(self, grad_out):
        dtype = np.result_type(grad_out, self.x)
        return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)

    def unbatch(self, out):
        return out if self.batched else out[0]


def _pair(value, name, caller, minimum):
    values = (value, value) if isinstance(value, Integral) else value
    if not (isinstance(values, (tuple, list)) and len(values) == 2
            and all(isinstance(v, Integral) and not isinstance(v, bool) for v in values)):
        raise TypeError(f"{caller}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{caller}: {name} must be >= {minimum}, got {value!r}")
    return int(values[0]), int(values[1])


def _lowest(dtype):
    """A value no entry of ``dtype`` is below: the padding of a max pool."""
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min
