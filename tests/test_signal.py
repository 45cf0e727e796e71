"""convgrad.signal: true convolution and cross-correlation against loops, NumPy and SciPy."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad import functional
from convgrad.signal import convolve, correlate

MODES = ["full", "same", "valid"]


# --- references written from the definitions --------------------------------

def loop_convolve_full_1d(x, w):
    n, m = len(x), len(w)
    y = np.zeros(n + m - 1)
    for t in range(n + m - 1):
        for j in range(m):
            if 0 <= t - j < n:
                y[t] += w[j] * x[t - j]
    return y


def loop_correlate_full_2d(x, k):
    (H, W), (kh, kw) = x.shape, k.shape
    y = np.zeros((H + kh - 1, W + kw - 1))
    for r in range(H + kh - 1):
        for c in range(W + kw - 1):
            for a in range(kh):
                for b in range(kw):
                    i, j = r + a - (kh - 1), c + b - (kw - 1)
                    if 0 <= i < H and 0 <= j < W:
                        y[r, c] += k[a, b] * x[i, j]
    return y


def test_convolve_full_matches_loop_1d():
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (5, 3), (3, 5), (8, 4), (7, 7)]:
        x, w = rng.standard_normal(n), rng.standard_normal(m)
        np.testing.assert_allclose(convolve(x, w), loop_convolve_full_1d(x, w), atol=1e-12)


def test_correlate_full_matches_loop_2d():
    rng = np.random.default_rng(1)
    for xs, ks in [((4, 5), (2, 3)), ((3, 3), (3, 3)), ((2, 2), (4, 3)), ((1, 6), (1, 2))]:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        np.testing.assert_allclose(correlate(x, k), loop_correlate_full_2d(x, k), atol=1e-12)


def test_hand_worked_example():
    # [1, 2, 3] * [0, 1, 0.5]: the flipped kernel slides; correlation does not flip.
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5])
    np.testing.assert_allclose(convolve(x, w), [0, 1, 2.5, 4, 1.5])
    np.testing.assert_allclose(correlate(x, w), [0.5, 2, 3.5, 3, 0])
    np.testing.assert_allclose(convolve(x, w, "same"), [1, 2.5, 4])
    np.testing.assert_allclose(correlate(x, w, "valid"), [3.5])


# --- against NumPy and SciPy -------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_matches_numpy_1d(mode):
    rng = np.random.default_rng(2)
    for n, m in [(6, 3), (6, 4), (5, 5), (9, 1)]:   # numpy's "same" differs from scipy's when m > n
        x, w = rng.standard_normal(n), rng.standard_normal(m)
        np.testing.assert_allclose(convolve(x, w, mode), np.convolve(x, w, mode), atol=1e-12)
        np.testing.assert_allclose(correlate(x, w, mode), np.correlate(x, w, mode), atol=1e-12)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
def test_matches_scipy(mode, method):
    ss = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(3)
    shapes = [((7,), (3,)), ((7,), (4,)), ((3,), (6,)), ((4,), (5,)), ((1,), (1,)),
              ((5, 6), (3, 3)), ((5, 6), (2, 4)), ((3, 2), (4, 5)), ((4, 4), (4, 4)), ((6, 5), (1, 2)),
              ((5, 6), (5, 3)), ((3, 4), (3, 6))]    # one axis equal: "valid" is allowed both ways
    for xs, ws in shapes:
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        for ours, theirs in [(convolve, ss.convolve), (correlate, ss.correlate)]:
            expected = theirs(x, w, mode=mode, method=method)
            got = ours(x, w, mode)
            assert got.shape == expected.shape, (ours.__name__, xs, ws)
            np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_bool_inputs_keep_their_dtype(mode):
    # np.conj would turn a bool kernel into int8: correlation must conjugate complex data only.
    ss = pytest.importorskip("scipy.signal")
    x, w = np.array([True, True, False, True]), np.array([True, True])
    for ours, theirs in [(correlate, ss.correlate), (convolve, ss.convolve)]:
        got, expected = ours(x, w, mode), theirs(x, w, mode=mode)
        assert got.dtype == expected.dtype == bool
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
def test_complex_inputs_match_scipy(mode):
    # Correlation conjugates the kernel (a no-op for the course's real data), as SciPy does.
    ss = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(5)
    for xs, ws in [((6,), (3,)), ((3,), (5,)), ((4, 5), (2, 3))]:
        x = rng.standard_normal(xs) + 1j * rng.standard_normal(xs)
        w = rng.standard_normal(ws) + 1j * rng.standard_normal(ws)
        np.testing.assert_allclose(correlate(x, w, mode), ss.correlate(x, w, mode=mode, method="direct"), atol=1e-12)
        np.testing.assert_allclose(convolve(x, w, mode), ss.convolve(x, w, mode=mode, method="direct"), atol=1e-12)


def test_valid_mixed_sizes_raises_like_scipy():
    ss = pytest.importorskip("scipy.signal")
    x, w = np.ones((5, 2)), np.ones((2, 5))
    with pytest.raises(ValueError):
        ss.convolve(x, w, mode="valid")
    with pytest.raises(ValueError, match="valid"):
        convolve(x, w, "valid")
    with pytest.raises(ValueError, match="valid"):
        correlate(x, w, "valid")


# --- properties ----------------------------------------------------------------

arrays_1d = st.integers(1, 8).flatmap(
    lambda n: st.lists(st.floats(-10, 10), min_size=n, max_size=n).map(np.array))


@settings(max_examples=60, deadline=None)
@given(x=arrays_1d, w=arrays_1d, mode=st.sampled_from(MODES))
def test_convolve_is_correlate_with_flipped_kernel(x, w, mode):
    np.testing.assert_allclose(convolve(x, w, mode), correlate(x, w[::-1], mode), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), H=st.integers(1, 5), W=st.integers(1, 5),
       kh=st.integers(1, 4), kw=st.integers(1, 4), mode=st.sampled_from(MODES))
def test_2d_flip_relation_and_commutativity(seed, H, W, kh, kw, mode):
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
    if mode == "valid" and (kh - H) * (kw - W) < 0:
        return
    np.testing.assert_allclose(convolve(x, k, mode), correlate(x, k[::-1, ::-1], mode), atol=1e-12)
    if mode == "full":  # convolution commutes, correlation does not
        np.testing.assert_allclose(convolve(x, k), convolve(k, x), atol=1e-12)
        np.testing.assert_allclose(correlate(x, k), correlate(k, x)[::-1, ::-1], atol=1e-12)


# --- dtypes and errors ---------------------------------------------------------

def test_dtype_follows_input():
    x32, w32 = np.ones(5, np.float32), np.ones(3, np.float32)
    for mode in MODES:
        assert convolve(x32, w32, mode).dtype == np.float32
        assert correlate(x32, w32, mode).dtype == np.float32
    assert convolve(x32, np.ones(3)).dtype == np.float64
    assert convolve(np.arange(4), np.arange(2)).dtype.kind == "i"


@pytest.mark.parametrize("x, w, mode, match", [
    (np.ones(4), np.ones((2, 2)), "full", "1-D or both 2-D"),
    (np.ones((2, 2, 2)), np.ones((2, 2, 2)), "full", "1-D or both 2-D"),
    (np.ones(4), np.ones(2), "circular", "mode"),
    (np.ones(0), np.ones(2), "full", "empty"),
    (np.ones(3), np.ones(0), "same", r"must not be empty, got x \(3,\) and w \(0,\)"),
    (np.ones((2, 2)), np.ones((0, 2)), "full", r"must not be empty, got x \(2, 2\) and w \(0, 2\)"),
])
def test_errors(x, w, mode, match):
    with pytest.raises(ValueError, match=match):
        convolve(x, w, mode)
    with pytest.raises(ValueError, match=match):
        correlate(x, w, mode)


# --- consistency with convgrad's (cross-correlating) conv1d / conv2d ------------

def test_consistent_with_functional_conv():
    rng = np.random.default_rng(4)
    z, w = rng.standard_normal(9), rng.standard_normal(3)
    y = functional.conv1d(z[None, None], w[None, None])[0, 0]
    np.testing.assert_allclose(y, correlate(z, w, "valid"), atol=1e-12)
    x, k = rng.standard_normal((5, 6)), rng.standard_normal((3, 3))
    y = functional.conv2d(x[None, None], k[None, None], padding=1)[0, 0]
    np.testing.assert_allclose(y, correlate(x, k, "same"), atol=1e-12)
