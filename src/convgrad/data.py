"""Synthetic data for the denoising experiments: random sinusoids, random images, salt-and-pepper noise.

The settings follow the reference program of the 1-D denoising chapter
(DoKu88/simpleNeuralNet, ``1D_convolution.py``): curves of ``length`` samples
on ``[0, 2*pi]`` (both ends included), amplitude and angular frequency uniform
in ``[0.5, 3]``, phase uniform in ``[0, 2*pi]``, each curve a sine or a cosine
with probability 1/2; noise replaces a fraction of the samples by the curve's
own maximum ("salt") or minimum ("pepper").

The 2-D images (:func:`images_2d`) follow the reference program of the 2-D
denoising chapter (``2D_convolution.py`` in the same repository): a smooth
sinusoidal background with a few black or white discs.

Every function takes a ``numpy.random.Generator``; the same seed gives the
same arrays.
"""

from numbers import Integral, Real

import numpy as np

__all__ = ["sample_points", "sinusoids_1d", "images_2d", "salt_and_pepper"]


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


def images_2d(num, size, rng, *, frequency=(0.5, 2.0), discs=(2, 5), radius=(4, 7), return_params=False):
    """``num`` random grayscale images in ``[0, 1]``: a sinusoidal background and a few discs.

    On the grid ``X[r, c] = x_c``, ``Y[r, c] = y_r`` with ``x = linspace(0, 2*pi, W)`` and
    ``y = linspace(0, 2*pi, H)`` (both ends included; ``c`` is the column, ``r`` the row), image
    ``i`` (0-indexed) starts as::

        0.5 + 0.25 * sin(fx_i * X + phx_i) * cos(fy_i * Y + phy_i)

    with ``fx_i, fy_i ~ U[frequency]`` and the phases ``phx_i, phy_i ~ U[0, 2*pi]``. Then
    ``K_i`` discs, ``K_i`` uniform on the integers ``discs[0] .. discs[1]``, are painted in
    turn (a later disc covers an earlier one): centre column and row uniform on
    ``0 .. W-1`` and ``0 .. H-1``, radius uniform on the integers ``radius[0] .. radius[1]``,
    every pixel with ``(c - cx)**2 + (r - cy)**2 <= radius**2`` set to 0 or 1 (probability
    1/2 each). Finally the image is clipped to ``[0, 1]`` (the background already lies in
    ``[0.25, 0.75]``, so the clip changes nothing; it is kept because the reference has it).

    The random numbers are drawn in the reference program's order (per image: fx, fy, phx,
    phy, K, then per disc cx, cy, radius, colour). Its radius is drawn from
    ``H // 8 .. H // 4 - 1``, which is the default ``(4, 7)`` for 32 x 32 images.

    Parameters
    ----------
    num : int >= 1
        Number of images.
    size : int >= 1 or (H, W)
        Image size; an int means square images.
    rng : numpy.random.Generator
    frequency : (low, high)
        Range of the uniform angular frequencies fx, fy.
    discs, radius : (low, high) of ints, both ends included
        Number of discs per image and their radii.
    return_params : bool
        Also return the drawn background parameters.

    Returns
    -------
    images : ndarray, shape ``(num, H, W)``, float64, values in ``[0, 1]``
    params : dict, only if ``return_params``
        ``"fx", "fy", "phase_x", "phase_y"``: arrays ``(num,)``; ``"discs"``: a list of
        ``num`` lists of ``(cx, cy, radius, colour)`` tuples, in painting order.

    Raises
    ------
    ValueError
        ``num < 1``, a bad size, or a range with ``low > high`` (or negative ints).
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    num = _count(num, "num", minimum=1)
    if isinstance(size, Integral) and not isinstance(size, bool):
        size = (size, size)
    try:
        height, width = (_count(v, "size", minimum=1) for v in size)
    except TypeError:
        raise ValueError(f"size must be an int >= 1 or a pair (H, W), got {size!r}") from None
    rng = _generator(rng)
    f_lo, f_hi = _interval(frequency, "frequency")
    k_lo, k_hi = _int_interval(discs, "discs")
    r_lo, r_hi = _int_interval(radius, "radius")
    X, Y = np.meshgrid(np.linspace(0, 2 * np.pi, width), np.linspace(0, 2 * np.pi, height))
    rows, cols = np.ogrid[:height, :width]
    images = np.empty((num, height, width))
    params = {"fx": np.empty(num), "fy": np.empty(num), "phase_x": np.empty(num),
              "phase_y": np.empty(num), "discs": []}
    for i in range(num):
        fx, fy = rng.uniform(f_lo, f_hi), rng.uniform(f_lo, f_hi)
        phx, phy = rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        img = 0.5 + 0.25 * np.sin(fx * X + phx) * np.cos(fy * Y + phy)
        painted = []
        for _ in range(rng.integers(k_lo, k_hi + 1)):
            cx, cy = rng.integers(0, width), rng.integers(0, height)
            r = rng.integers(r_lo, r_hi + 1)
            colour = rng.choice([0.0, 1.0])
            img = np.where((cols - cx) ** 2 + (rows - cy) ** 2 <= r ** 2, colour, img)
            painted.append((int(cx), int(cy), int(r), float(colour)))
        images[i] = np.clip(img, 0.0, 1.0)
        params["fx"][i], params["fy"][i], params["phase_x"][i], params["phase_y"][i] = fx, fy, phx, phy
        params["discs"].append(painted)
    if return_params:
        return images, params
    return images


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


def _int_interval(pair, name):
    try:
        low, high = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of ints (low, high), got {pair!r}") from None
    if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in (low, high)) or not 0 <= low <= high:
        raise ValueError(f"{name} must be ints with 0 <= low <= high, got {pair!r}")
    return int(low), int(high)
