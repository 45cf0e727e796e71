"""Single-channel convolution and cross-correlation, as a signal-processing text defines them.

These are the chapters' reference for the difference between the two
operations: :func:`convolve` flips the kernel, :func:`correlate` does not.
Both take 1-D or 2-D arrays and return exactly what ``scipy.signal.convolve``
and ``scipy.signal.correlate`` return for the modes ``"full"``, ``"same"`` and
``"valid"`` (real inputs), without depending on SciPy.

Defining formulas, 0-indexed, for the ``"full"`` output (z zero outside its
support)::

    convolve:  y[t] = sum_j w[j] x[t - j]             t = 0 .. n + m - 2
    correlate: y[t] = sum_j w[j] x[t + j - (m - 1)]

``"same"`` and ``"valid"`` are centred slices of ``"full"`` (see
``_crop``). The implementation adds one shifted copy of ``x`` per kernel
entry: the loop runs over the kernel, never over pixels.
"""

import numpy as np

__all__ = ["convolve", "correlate"]

_MODES = ("full", "same", "valid")


def convolve(x, w, mode="full"):
    """True convolution of ``x`` with ``w`` (the kernel is flipped).

    Parameters
    ----------
    x : array, shape ``(n,)`` or ``(H, W)``
        The signal or image.
    w : array, same ndim as ``x``, shape ``(m,)`` or ``(kh, kw)``
        The kernel.
    mode : {"full", "same", "valid"}
        ``"full"``: every overlap, length ``n + m - 1`` per axis.
        ``"same"``: the size of ``x``, the centred part of ``"full"`` (it starts
        at index ``(m - 1) // 2``, so an even kernel is off-centre by half a sample
        towards the start, as in SciPy).
        ``"valid"``: only full overlaps, length ``|n - m| + 1`` per axis. As in
        SciPy, the kernel may be larger than ``x`` in every axis (convolution is
        commutative, so the roles swap), but not larger in one axis and
        smaller in another.

    Returns
    -------
    y : array, dtype ``np.result_type(x, w)``
        ``y[t] = sum_j w[j] x[t - j]`` (full mode; same/valid are slices of it).

    Raises
    ------
    ValueError
        ``x`` and ``w`` have different ndim, ndim is not 1 or 2, either is
        empty, ``mode`` is unknown, or ``"valid"`` is asked with mixed sizes.
    """
    x, w = _check(x, w, mode)
    return _crop(_full_convolution(x, w), x.shape, w.shape, mode)


def correlate(x, w, mode="full"):
    """Cross-correlation of ``x`` with ``w`` (the kernel slides unflipped).

    Parameters
    ----------
    x : array, shape ``(n,)`` or ``(H, W)``
    w : array, same ndim as ``x``
    mode : {"full", "same", "valid"}
        As in :func:`convolve`.

    Returns
    -------
    y : array, dtype ``np.result_type(x, w)``
        ``y[t] = sum_j w[j] x[t + j - (m - 1)]`` in full mode, which is
        ``convolve(x, flip(w))``: correlating is convolving with the kernel
        turned by 180 degrees (and conjugated, which does nothing for real data).

    Raises
    ------
    ValueError
        As :func:`convolve`.
    """
    x, w = _check(x, w, mode)
    w = np.flip(w)
    if np.iscomplexobj(w):
        w = np.conj(w)  # only for complex data: np.conj would turn a bool kernel into int8
    return _crop(_full_convolution(x, w), x.shape, w.shape, mode)


def _check(x, w, mode):
    x, w = np.asarray(x), np.asarray(w)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if x.ndim not in (1, 2) or w.ndim != x.ndim:
        raise ValueError(f"x and w must both be 1-D or both 2-D, got x {x.shape} and w {w.shape}")
    if x.size == 0 or w.size == 0:
        raise ValueError(f"x and w must not be empty, got x {x.shape} and w {w.shape}")
    if mode == "valid":
        larger = [m > n for n, m in zip(x.shape, w.shape)]
        smaller = [m < n for n, m in zip(x.shape, w.shape)]
        if any(larger) and any(smaller):
            raise ValueError(f"mode 'valid' needs w no larger than x in every axis or no smaller in every axis, "
                             f"got x {x.shape} and w {w.shape}")
    return x, w


def _full_convolution(x, w):
    # Each kernel entry w[j] adds a copy of x, scaled by w[j] and shifted by j.
    out = np.zeros(tuple(n + m - 1 for n, m in zip(x.shape, w.shape)), dtype=np.result_type(x, w))
    for j in np.ndindex(w.shape):
        out[tuple(slice(jd, jd + n) for jd, n in zip(j, x.shape))] += w[j] * x
    return out


def _crop(full, x_shape, w_shape, mode):
    """Slice ``"same"`` or ``"valid"`` out of a ``"full"`` result, axis by axis, as SciPy does."""
    if mode == "full":
        return full
    index = []
    for n, m in zip(x_shape, w_shape):
        if mode == "same":
            start, length = (m - 1) // 2, n      # centred on the full output
        else:
            start, length = min(n, m) - 1, abs(n - m) + 1   # complete overlaps only
        index.append(slice(start, start + length))
    return full[tuple(index)]
