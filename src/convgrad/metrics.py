"""Image-quality metrics for the denoising chapter."""

import numpy as np

__all__ = ["psnr"]


def psnr(input, target, data_range=1.0, axis=None):
    """Peak signal-to-noise ratio in decibels: ``10 * log10(data_range**2 / MSE)``.

    ``MSE`` is the mean of ``(input - target)**2``, over all entries (``axis=None``: one number
    for the whole array, the PSNR of the overall mean squared error) or over ``axis`` (an int or
    a tuple, e.g. ``(-2, -1)`` for one PSNR per image). ``data_range`` is the span of the pixel
    values, 1 for images in ``[0, 1]``. A perfect match (MSE 0) gives ``inf``.

    Parameters
    ----------
    input, target : arrays of the same shape
    data_range : float > 0
    axis : None, int or tuple of ints

    Returns
    -------
    psnr : float (``axis=None``) or ndarray of the remaining axes, float64

    Raises
    ------
    ValueError
        The shapes differ, the arrays are empty, or ``data_range <= 0``.
    """
    input, target = np.asarray(input, dtype=float), np.asarray(target, dtype=float)
    if input.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got {input.shape} and {target.shape}")
    if input.size == 0:
        raise ValueError("input and target must not be empty")
    if not np.isscalar(data_range) or not data_range > 0:
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    mse = np.mean((input - target) ** 2, axis=axis)
    with np.errstate(divide="ignore"):
        value = 10 * np.log10(data_range ** 2 / mse)
    return float(value) if np.ndim(value) == 0 else value
