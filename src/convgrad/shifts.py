"""Translations of images and feature maps, and how far an operation is from commuting with them.

A layer ``f`` is *translation equivariant* when moving its input moves its
output by the same amount, ``f(T_t x) = T_t f(x)``, and *invariant* when the
output does not move at all, ``f(T_t x) = f(x)``. Chapter 11 measures both for
convolution and pooling with the three helpers here:

* :func:`translate` is ``T_t``: ``T_t x[..., i, j] = x[..., i - t_h, j - t_w]``
  (0-indexed, ``t_h`` rows down and ``t_w`` columns to the right), either
  wrapped around (``"circular"``, what ``np.roll`` does) or with zeros moved in
  from outside (``"zeros"``);
* :func:`equivariance_error` is the map ``f(T_t x) - T_u f(x)``, zero
  everywhere exactly when ``f`` commutes with the shift (``u = t`` for a
  stride-1 layer, ``u = t / s`` for stride ``s``);
* :func:`border_band` marks the pixels within a given distance of an image's
  border, where zero padding makes a convolution differ from its circular
  version.

All three act on the last two axes, so they take ``(H, W)``, ``(C, H, W)`` and
``(N, C, H, W)`` arrays alike.
"""

from numbers import Integral

import numpy as np

__all__ = ["translate", "equivariance_error", "border_band"]

_MODES = ("circular", "zeros")


def translate(x, shift, mode="circular"):
    """Move ``x`` by ``shift = (t_h, t_w)`` along its last two axes.

    Parameters
    ----------
    x : array with at least 2 dimensions, ``(..., H, W)``
    shift : int or pair of ints ``(t_h, t_w)``, any sign
        Positive ``t_h`` moves the content down, positive ``t_w`` to the right;
        an int moves both axes by the same amount.
    mode : ``"circular"`` (default) or ``"zeros"``
        ``"circular"``: ``out[..., i, j] = x[..., (i - t_h) % H, (j - t_w) % W]``, the
        content that leaves one side comes back on the other (``np.roll``).
        ``"zeros"``: ``out[..., i, j] = x[..., i - t_h, j - t_w]`` where that index lies
        inside the image and 0 elsewhere; what leaves the frame is lost.

    Returns
    -------
    out : array of ``x``'s shape and dtype (a new array)

    Raises
    ------
    ValueError
        ``x`` has fewer than 2 dimensions, or ``mode`` is unknown.
    TypeError
        ``shift`` is not an int or a pair of ints.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"translate: x must have at least 2 dimensions (..., H, W), got shape {x.shape}")
    th, tw = _shift_pair(shift, "translate")
    if mode not in _MODES:
        raise ValueError(f"translate: mode must be one of {_MODES}, got {mode!r}")
    if mode == "circular":
        return np.roll(x, (th, tw), axis=(-2, -1))
    H, W = x.shape[-2:]
    out = np.zeros_like(x)
    rows_out, rows_in = _overlap(th, H)
    cols_out, cols_in = _overlap(tw, W)
    out[..., rows_out, cols_out] = x[..., rows_in, cols_in]
    return out


def equivariance_error(f, x, shift, output_shift=None, mode="circular"):
    """``f(translate(x, shift)) - translate(f(x), output_shift)``: where and by how much ``f`` fails to commute with a shift.

    Parameters
    ----------
    f : callable, array ``(..., H, W)`` -> array ``(..., H_out, W_out)``
        The operation, with its options in a closure, e.g.
        ``lambda x: conv2d(x, w, padding=1, padding_mode="circular")``.
    x : array ``(..., H, W)``
    shift : int or pair ``(t_h, t_w)``, the shift of the input
    output_shift : int or pair, default ``shift``
        The shift expected of the output: ``shift`` for a stride-1 layer,
        ``shift // stride`` for a strided one when the stride divides the shift.
    mode : ``"circular"`` or ``"zeros"``, as in :func:`translate`, for both shifts

    Returns
    -------
    error : array of ``f(x)``'s shape, 0 wherever the two sides agree exactly

    Raises
    ------
    ValueError, TypeError
        As :func:`translate`; ``ValueError`` if the shifted input changes the shape of ``f``'s output.
    """
    output_shift = shift if output_shift is None else output_shift
    moved_then_f = np.asarray(f(translate(x, shift, mode)))
    f_then_moved = translate(np.asarray(f(x)), output_shift, mode)
    if moved_then_f.shape != f_then_moved.shape:
        raise ValueError(f"equivariance_error: f gives shape {moved_then_f.shape} on the shifted input "
                         f"and {f_then_moved.shape} on the original")
    return moved_then_f - f_then_moved


def border_band(shape, width):
    """Boolean mask of the pixels within ``width`` rows or columns of the border.

    Parameters
    ----------
    shape : pair ``(H, W)``, or any shape whose last two entries are ``H, W``
    width : int >= 0, or a pair ``(w_h, w_w)``
        Pixel ``(i, j)`` is in the band when ``i < w_h``, ``i >= H - w_h``,
        ``j < w_w`` or ``j >= W - w_w``. For a ``k x k`` kernel with ``padding=k // 2``
        the band of width ``k // 2`` holds every output whose window reaches into the padding.

    Returns
    -------
    band : bool array ``(H, W)``

    Raises
    ------
    ValueError
        ``shape`` has fewer than 2 entries, or a width is negative.
    TypeError
        ``width`` is not an int or a pair of ints.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"border_band: shape must end with (H, W), got {shape}")
    H, W = shape[-2:]
    wh, ww = _shift_pair(width, "border_band", name="width")
    if wh < 0 or ww < 0:
        raise ValueError(f"border_band: width must be >= 0, got {width!r}")
    rows, cols = np.arange(H)[:, None], np.arange(W)[None, :]
    return (rows < wh) | (rows >= H - wh) | (cols < ww) | (cols >= W - ww)


def _overlap(t, n):
    """Slices (destination, source) of the entries that stay inside a length-n axis moved by t."""
    if t >= 0:
        return slice(min(t, n), n), slice(0, max(n - t, 0))
    return slice(0, max(n + t, 0)), slice(min(-t, n), n)


def _shift_pair(value, caller, name="shift"):
    values = (value, value) if isinstance(value, Integral) else value
    if not (isinstance(values, (tuple, list)) and len(values) == 2
            and all(isinstance(v, Integral) and not isinstance(v, bool) for v in values)):
        raise TypeError(f"{caller}: {name} must be an int or a pair of ints, got {value!r}")
    return int(values[0]), int(values[1])
