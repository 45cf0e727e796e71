"""convgrad.data: the synthetic curves and the salt-and-pepper noise of the denoising chapter."""

import numpy as np
import pytest

from convgrad.data import images_2d, salt_and_pepper, sample_points, sinusoids_1d


# --- sinusoids_1d ------------------------------------------------------------

def test_sample_points_cover_zero_to_two_pi():
    t = sample_points(100)
    assert t.shape == (100,)
    assert t[0] == 0.0 and np.isclose(t[-1], 2 * np.pi)
    np.testing.assert_allclose(np.diff(t), 2 * np.pi / 99)


def test_sinusoids_shape_and_dtype():
    g = sinusoids_1d(7, 100, np.random.default_rng(0))
    assert g.shape == (7, 100) and g.dtype == np.float64


def test_sinusoids_match_their_formula():
    g, p = sinusoids_1d(50, 64, np.random.default_rng(1), return_params=True)
    t = sample_points(64)
    for i in range(50):
        wave = np.sin if p["kind"][i] == 0 else np.cos
        np.testing.assert_allclose(g[i], p["amplitude"][i] * wave(p["frequency"][i] * t + p["phase"][i]),
                                   atol=1e-12)


def test_sinusoid_parameters_lie_in_their_ranges():
    _, p = sinusoids_1d(2000, 10, np.random.default_rng(2), return_params=True)
    assert set(np.unique(p["kind"])) == {0, 1}
    assert 0.5 <= p["amplitude"].min() and p["amplitude"].max() <= 3.0
    assert 0.5 <= p["frequency"].min() and p["frequency"].max() <= 3.0
    assert 0.0 <= p["phase"].min() and p["phase"].max() <= 2 * np.pi
    # the draws fill their ranges (2000 uniform draws: gaps at the ends are tiny)
    assert p["amplitude"].min() < 0.52 and p["amplitude"].max() > 2.98
    assert abs(p["kind"].mean() - 0.5) < 0.05


def test_sinusoid_values_bounded_by_amplitude():
    g, p = sinusoids_1d(300, 100, np.random.default_rng(3), return_params=True)
    assert np.all(np.abs(g) <= p["amplitude"][:, None] + 1e-12)
    assert np.abs(g).max() <= 3.0


def test_sinusoids_are_deterministic_under_a_seed():
    a = sinusoids_1d(20, 30, np.random.default_rng(42))
    b = sinusoids_1d(20, 30, np.random.default_rng(42))
    c = sinusoids_1d(20, 30, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs", [dict(num=0, length=10), dict(num=3, length=1),
                                    dict(num=2.5, length=10), dict(num=3, length=10, amplitude=(3, 1))])
def test_sinusoids_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        sinusoids_1d(rng=np.random.default_rng(0), **kwargs)


def test_sinusoids_need_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        sinusoids_1d(3, 10, 0)


# --- salt_and_pepper ---------------------------------------------------------

def curves(num=400, length=100, seed=5):
    return sinusoids_1d(num, length, np.random.default_rng(seed))


def test_noise_keeps_shape_and_input():
    g = curves()
    before = g.copy()
    z = salt_and_pepper(g, 0.1, np.random.default_rng(0))
    assert z.shape == g.shape
    np.testing.assert_array_equal(g, before)  # the input is not modified


def test_noise_fraction_is_close_to_the_requested_one():
    g = curves()                                  # 40 000 samples
    z, salt, pepper = salt_and_pepper(g, 0.1, np.random.default_rng(1), return_masks=True)
    corrupted = salt | pepper
    # Binomial(40000, 0.1): standard deviation of the fraction 0.0015; allow 4 of them
    assert abs(corrupted.mean() - 0.1) < 0.006
    assert abs(salt.mean() - 0.05) < 0.005 and abs(pepper.mean() - 0.05) < 0.005
    assert not np.any(salt & pepper)
    np.testing.assert_array_equal(z[~corrupted], g[~corrupted])


def test_salt_is_each_curves_max_and_pepper_its_min():
    g = curves()
    z, salt, pepper = salt_and_pepper(g, 0.1, np.random.default_rng(2), return_masks=True)
    high = np.broadcast_to(g.max(axis=1, keepdims=True), g.shape)
    low = np.broadcast_to(g.min(axis=1, keepdims=True), g.shape)
    np.testing.assert_array_equal(z[salt], high[salt])
    np.testing.assert_array_equal(z[pepper], low[pepper])
    # so the noisy curve never leaves the clean curve's range
    assert np.all(z.max(axis=1) <= g.max(axis=1)) and np.all(z.min(axis=1) >= g.min(axis=1))


def test_fixed_salt_and_pepper_values_and_image_axes():
    img = np.random.default_rng(3).uniform(0.2, 0.8, size=(4, 16, 16))
    z, salt, pepper = salt_and_pepper(img, 0.2, np.random.default_rng(4), axis=(-2, -1),
                                      salt=1.0, pepper=0.0, return_masks=True)
    assert np.all(z[salt] == 1.0) and np.all(z[pepper] == 0.0)
    z2, salt2, _ = salt_and_pepper(img, 0.2, np.random.default_rng(4), axis=(-2, -1), return_masks=True)
    high = np.broadcast_to(img.max(axis=(1, 2), keepdims=True), img.shape)
    np.testing.assert_array_equal(z2[salt2], high[salt2])


def test_fraction_zero_and_one():
    g = curves(20, 50)
    np.testing.assert_array_equal(salt_and_pepper(g, 0.0, np.random.default_rng(0)), g)
    z = salt_and_pepper(g, 1.0, np.random.default_rng(0))
    extremes = (z == g.max(axis=1, keepdims=True)) | (z == g.min(axis=1, keepdims=True))
    assert extremes.all()


def test_noise_is_deterministic_under_a_seed():
    g = curves(30, 40)
    a = salt_and_pepper(g, 0.1, np.random.default_rng(9))
    b = salt_and_pepper(g, 0.1, np.random.default_rng(9))
    c = salt_and_pepper(g, 0.1, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("fraction", [-0.1, 1.5, "0.1", None])
def test_noise_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="fraction"):
        salt_and_pepper(np.ones((2, 5)), fraction, np.random.default_rng(0))


def test_noise_rejects_empty_input_and_non_generators():
    with pytest.raises(ValueError, match="empty"):
        salt_and_pepper(np.ones((0, 5)), 0.1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        salt_and_pepper(np.ones((2, 5)), 0.1, 123)


# --- images_2d ---------------------------------------------------------------

def test_images_shape_range_and_determinism():
    a = images_2d(20, 32, np.random.default_rng(0))
    assert a.shape == (20, 32, 32) and a.dtype == np.float64
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, images_2d(20, 32, np.random.default_rng(0)))
    assert not np.array_equal(a, images_2d(20, 32, np.random.default_rng(1)))
    assert images_2d(3, (16, 24), np.random.default_rng(0)).shape == (3, 16, 24)


def test_images_match_their_formula():
    imgs, p = images_2d(30, (20, 28), np.random.default_rng(2), return_params=True)
    x, y = np.linspace(0, 2 * np.pi, 28), np.linspace(0, 2 * np.pi, 20)
    rows, cols = np.arange(20)[:, None], np.arange(28)[None, :]
    for i in range(30):
        expected = 0.5 + 0.25 * np.sin(p["fx"][i] * x[None, :] + p["phase_x"][i]) * np.cos(
            p["fy"][i] * y[:, None] + p["phase_y"][i])
        for cx, cy, r, colour in p["discs"][i]:
            expected = np.where((cols - cx) ** 2 + (rows - cy) ** 2 <= r ** 2, colour, expected)
        np.testing.assert_allclose(imgs[i], expected, atol=1e-12)


def test_image_parameters_lie_in_their_ranges():
    imgs, p = images_2d(500, 32, np.random.default_rng(3), return_params=True)
    for key in ("fx", "fy"):
        assert 0.5 <= p[key].min() and p[key].max() <= 2.0
    for key in ("phase_x", "phase_y"):
        assert 0.0 <= p[key].min() and p[key].max() <= 2 * np.pi
    counts = [len(d) for d in p["discs"]]
    assert set(counts) == {2, 3, 4, 5}
    radii = {r for d in p["discs"] for _, _, r, _ in d}
    colours = {c for d in p["discs"] for _, _, _, c in d}
    centres = np.array([(cx, cy) for d in p["discs"] for cx, cy, _, _ in d])
    assert radii == {4, 5, 6, 7} and colours == {0.0, 1.0}
    assert centres.min() == 0 and centres.max() == 31
    # pixels away from every disc keep the background, which lies in [0.25, 0.75]
    assert np.all((imgs == 0) | (imgs == 1) | ((imgs >= 0.25) & (imgs <= 0.75)))


@pytest.mark.parametrize("kwargs", [dict(num=0, size=8), dict(num=2, size=0), dict(num=2, size=(8,)),
                                    dict(num=2, size=8, discs=(3, 2)), dict(num=2, size=8, radius=(1.5, 3)),
                                    dict(num=2, size=8, frequency=(2, 1))])
def test_images_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        images_2d(rng=np.random.default_rng(0), **kwargs)


def test_images_need_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        images_2d(2, 8, 0)


def test_image_noise_as_in_the_reference():
    imgs = images_2d(50, 32, np.random.default_rng(4))
    z, salt, pepper = salt_and_pepper(imgs, 0.1, np.random.default_rng(5), salt=1.0, pepper=0.0,
                                      return_masks=True)
    assert np.all(z[salt] == 1.0) and np.all(z[pepper] == 0.0)
    np.testing.assert_array_equal(z[~(salt | pepper)], imgs[~(salt | pepper)])
    assert abs((salt | pepper).mean() - 0.1) < 0.006
