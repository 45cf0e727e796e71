"""Synthetic data for the denoising experiments: random sinusoids and salt-and-pepper noise.

The settings follow the reference program of the 1-D denoising chapter
(DoKu88/simpleNeuralNet, ``1D_convolution.py``): curves of ``length`` samples
on ``[0, 2*pi]`` (both ends included), amplitude and angular frequency uniform
in ``[0.5, 3]``, phase uniform in ``[0, 2*pi]``, each curve a sine or a cosine
with probability 1/2; noise replaces a fraction of the samples by the curve's
own maximum ("salt") or minimum ("pepper").

Every function takes a ``numpy.random.Generator``; the same seed gives the
same arrays.
"""

from numbers import Integral, Real

import numpy as np

__all__ = ["sample_points", "sinusoids_1d", "salt_and_pepper"]


def sample_points(length, start=0.0, stop=2 * np.pi):
    """The sample positions ``t_k = start + k (stop - start)/(length - 1)``, k = 0 .. length-1.

    Both ends are included (``numpy.linspace``). Returns shape ``(length,)``.

    Raises ``ValueError`` if ``length < 2``.
    """
    length = _count(length, "length", minimum=2)
    return np.linspace(start, stop, length)


def sinusoids_1d(num, length, rng, *, amplitude=(0.5, 3.0), frequency=(0.5, 3.0),
                 start=0.0, stop=2 * np.pi, return_params=False):
    """``num`` random sine/cosine curves sampled at ``length`` points.

    Curve ``i`` (0-indexed) at the points ``t = sample_points(length, start, stop)`` is::

        g[i, k] = A_i * sin(f_i * t_k + phi_i)   if kind_i == 0
        g[i, k] = A_i * cos(f_i * t_k + phi_i)   if kind_i == 1

    with, independently for every curve, ``kind_i`` 0 or 1 with probability
    1/2, ``A_i ~ U[amplitude]``, ``f_i ~ U[frequency]`` (angular frequency:
    ``f_i`` radians per unit of ``t``) and ``phi_i ~ U[0, 2*pi]``.

    Parameters
    ----------
    num : int >= 1
        Number of curves.
    length : int >= 2
        Samples per curve.
    rng : numpy.random.Generator
    amplitude, frequency : (low, high)
        The ranges of the uniform draws.
    start, stop : float
        The interval sampled (both ends included).
    return_params : bool
        Also return the drawn parameters.

    Returns
    -------
    g : ndarray, shape ``(num, length)``, float64
    params : dict of arrays of shape ``(num,)``, only if ``return_params``
        ``"kind"`` (0 sine, 1 cosine), ``"amplitude"``, ``"frequency"``, ``"phase"``.

    Raises
    ------
    ValueError
        ``num < 1``, ``length < 2`` or a range with ``low > high``.
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    num = _count(num, "num", minimum=1)
    t = sample_points(length, start, stop)
    rng = _generator(rng)
    a_lo, a_hi = _interval(amplitude, "amplitude")
    f_lo, f_hi = _interval(frequency, "frequency")
    kind = rng.integers(0, 2, size=num)
    amp = rng.uniform(a_lo, a_hi, size=num)
    freq = rng.uniform(f_lo, f_hi, size=num)
    phase = rng.uniform(0.0, 2 * np.pi, size=num)
    angle = freq[:, None] * t[None, :] + phase[:, None]
    g = amp[:, None] * np.where(kind[:, None] == 0, np.sin(angle), np.cos(angle))
    if return_params:
        return g, {"kind": kind, "amplitude": amp, "frequency": freq, "phase": phase}
    return g


def salt_and_pepper(x, fraction, rng, *, axis=-1, salt=None, pepper=None, return_masks=False):
    """A copy of ``x`` with a random ``fraction`` of its entries replaced by salt or pepper.

    Every entry is corrupted independently with probability ``fraction``; a
    corrupted entry becomes salt or pepper with probability 1/2 each. So, for
    an entry ``x_k`` of a curve whose extremes are ``M = max(curve)`` and
    ``m = min(curve)`` (taken over ``axis``)::

        z_k = x_k  with probability 1 - fraction
        z_k = M    with probability fraction / 2      (salt)
        z_k = m    with probability fraction / 2      (pepper)

    and the number of corrupted entries of a curve of ``L`` samples is
    Binomial(L, fraction). ``salt``/``pepper`` given as numbers replace ``M``/``m``
    (for images in ``[0, 1]``: ``salt=1.0, pepper=0.0``).

    Parameters
    ----------
    x : array, any shape, e.g. ``(N, L)`` curves
    fraction : float in [0, 1]
    rng : numpy.random.Generator
    axis : int or tuple of ints
        The axes over which one "curve" extends (its max and min are taken
        over them); default the last axis.
    salt, pepper : float or None
        Fixed replacement values; None means the curve's own max / min.
    return_masks : bool
        Also return the boolean masks of the salted and peppered entries.

    Returns
    -------
    z : ndarray, the shape of ``x``, float
    salt_mask, pepper_mask : bool ndarrays of that shape, only if ``return_masks``

    Raises
    ------
    ValueError
        ``fraction`` outside [0, 1] or ``x`` empty.
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    if not isinstance(fraction, Real) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    rng = _generator(rng)
    corrupted = rng.random(x.shape) < fraction
    is_salt = rng.random(x.shape) < 0.5
    salt_mask, pepper_mask = corrupted & is_salt, corrupted & ~is_salt
    high = np.max(x, axis=axis, keepdims=True) if salt is None else salt
    low = np.min(x, axis=axis, keepdims=True) if pepper is None else pepper
    z = np.where(salt_mask, high, np.where(pepper_mask, low, x))
    if return_masks:
        return z, salt_mask, pepper_mask
    return z


def _count(value, name, minimum):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _generator(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng


def _interval(pair, name):
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {pair!r}") from None
    if low > high:
        raise ValueError(f"{name} must have low <= high, got {pair!r}")
    return low, high
