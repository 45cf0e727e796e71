"""convgrad.metrics: PSNR."""

import numpy as np
import pytest

from convgrad.metrics import psnr


def test_psnr_of_a_known_error():
    target = np.zeros((4, 8, 8))
    assert psnr(target + 0.1, target) == pytest.approx(20.0)           # MSE 0.01 -> 20 dB
    assert psnr(target + 0.1, target, data_range=2.0) == pytest.approx(20 + 20 * np.log10(2))
    assert psnr(target, target) == np.inf


def test_psnr_per_image_and_overall():
    rng = np.random.default_rng(0)
    target = rng.random((5, 6, 6))
    noisy = target + rng.normal(0, 0.05, target.shape) * np.arange(1, 6)[:, None, None]
    per_image = psnr(noisy, target, axis=(-2, -1))
    assert per_image.shape == (5,) and np.all(np.diff(per_image) < 0)  # more noise, lower PSNR
    mse = np.mean((noisy - target) ** 2, axis=(1, 2))
    np.testing.assert_allclose(per_image, -10 * np.log10(mse))
    assert psnr(noisy, target) == pytest.approx(-10 * np.log10(mse.mean()))


@pytest.mark.parametrize("args", [(np.ones(3), np.ones(4)), (np.ones(0), np.ones(0)),
                                  (np.ones(3), np.zeros(3), 0.0)])
def test_psnr_rejects_bad_input(args):
    with pytest.raises(ValueError):
        psnr(*args)
