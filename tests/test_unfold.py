"""convgrad.unfold: im2col/col2im against loops and PyTorch's unfold/fold, adjointness, errors."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad import naive
from convgrad.conv import conv2d
from convgrad.functional import col2im as functional_col2im, im2col as functional_im2col
from convgrad.unfold import col2im, im2col


def random_unfold(seed, max_size=7):
    """A random valid (x, kernel_size, dilation, padding, stride) with non-square everything."""
    rng = np.random.default_rng(seed)
    while True:
        size = tuple(int(v) for v in rng.integers(1, max_size + 1, 2))
        k, d = tuple(int(v) for v in rng.integers(1, 4, 2)), tuple(int(v) for v in rng.integers(1, 3, 2))
        p, s = tuple(int(v) for v in rng.integers(0, 3, 2)), tuple(int(v) for v in rng.integers(1, 4, 2))
        if all(di * (ki - 1) + 1 <= n + 2 * pi for n, ki, di, pi in zip(size, k, d, p)):
            break
    shape = ((int(rng.integers(1, 3)),) if rng.random() < 0.8 else ()) + (int(rng.integers(1, 4)),) + size
    return rng.standard_normal(shape), k, d, p, s


@pytest.mark.parametrize("seed", range(30))
def test_im2col_and_col2im_match_loops(seed):
    x, k, d, p, s = random_unfold(seed)
    cols = im2col(x, k, dilation=d, padding=p, stride=s)
    assert np.array_equal(cols, naive.im2col(x, k, dilation=d, padding=p, stride=s))
    c = np.random.default_rng(seed).standard_normal(cols.shape)
    assert np.allclose(col2im(c, x.shape[-2:], k, dilation=d, padding=p, stride=s),
                       naive.col2im(c, x.shape[-2:], k, dilation=d, padding=p, stride=s))


def test_im2col_layout_on_a_small_example():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    # one 2x2 patch per column, patches in row-major order, entries (a, b) row-major
    assert np.array_equal(im2col(x, 2)[0], [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    # col2im counts how many patches cover each pixel
    assert np.array_equal(col2im(np.ones((1, 4, 4)), 3, 2)[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_conv2d_is_one_matrix_product_with_im2col():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    cols = im2col(x, (3, 2), dilation=(1, 2), padding=1, stride=2)
    out = conv2d(x, weight, stride=2, padding=1, dilation=(1, 2))
    assert np.allclose(weight.reshape(4, -1) @ cols, out.reshape(2, 4, -1))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_col2im_is_the_adjoint_of_im2col(seed):
    x, k, d, p, s = random_unfold(seed, max_size=9)
    cols = im2col(x, k, dilation=d, padding=p, stride=s)
    c = np.random.default_rng(seed + 1).standard_normal(cols.shape)
    back = col2im(c, x.shape[-2:], k, dilation=d, padding=p, stride=s)
    assert back.shape == x.shape
    assert np.isclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-10, atol=1e-10)


def test_col2im_is_the_gradient_of_im2col_by_finite_differences():
    x, k, d, p, s = random_unfold(5)
    args = dict(dilation=d, padding=p, stride=s)
    c = np.random.default_rng(6).standard_normal(im2col(x, k, **args).shape)
    eps, numeric = 1e-6, np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        numeric[index] = (np.vdot(im2col(x + step, k, **args), c) - np.vdot(im2col(x - step, k, **args), c)) / (2 * eps)
    assert np.allclose(col2im(c, x.shape[-2:], k, **args), numeric, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(20))
def test_matches_pytorch_unfold_and_fold(seed, dtype):
    torch = pytest.importorskip("torch")
    x, k, d, p, s = random_unfold(seed + 100)
    x = x.astype(dtype)
    args = dict(kernel_size=k, dilation=d, padding=p, stride=s)
    cols = im2col(x, **args)
    want = torch.nn.functional.unfold(torch.from_numpy(x), **args).numpy()
    assert cols.shape == want.shape and cols.dtype == dtype
    assert np.array_equal(cols, want)
    c = np.random.default_rng(seed).standard_normal(cols.shape).astype(dtype)
    back = col2im(c, x.shape[-2:], **args)
    want = torch.nn.functional.fold(torch.from_numpy(c), output_size=x.shape[-2:], **args).numpy()
    assert back.shape == want.shape and back.dtype == dtype
    assert np.allclose(back, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_functional_namespace_exports_the_same_functions():
    assert functional_im2col is im2col and functional_col2im is col2im


X = np.zeros((2, 3, 5, 5))


@pytest.mark.parametrize("call, error, match", [
    (lambda: im2col(X[0, 0], 3), ValueError, r"x must have shape \(N, C, H, W\) or \(C, H, W\).*\(5, 5\)"),
    (lambda: im2col(X, 0), ValueError, r"kernel_size must be >= 1"),
    (lambda: im2col(X, 3, stride=0), ValueError, r"stride must be >= 1"),
    (lambda: im2col(X, 3, dilation=(1, 0)), ValueError, r"dilation must be >= 1"),
    (lambda: im2col(X, 3, padding=-1), ValueError, r"padding must be >= 0"),
    (lambda: im2col(X, 6), ValueError, r"dilated kernel \(6, 6\).*larger than the padded input \(5, 5\)"),
    (lambda: im2col(X, 3, dilation=3), ValueError, r"dilated kernel \(7, 7\)"),
    (lambda: im2col(X, 2.5), TypeError, r"kernel_size must be an int or a tuple of 2 ints"),
    (lambda: im2col(X + 1j, 3), TypeError, r"x must be real"),
    (lambda: col2im(np.zeros((2, 27, 10)), 5, 3), ValueError,
     r"cols.shape\[-1\]=10 must equal the number of patches 3\*3=9"),
    (lambda: col2im(np.zeros((2, 26, 9)), 5, 3), ValueError, r"cols.shape\[-2\]=26 must be a multiple of kh\*kw=9"),
    (lambda: col2im(np.zeros(27), 5, 3), ValueError, r"cols must have shape \(N, C\*kh\*kw, L\)"),
    (lambda: col2im(np.zeros((2, 27, 9)), 0, 3), ValueError, r"output_size must be >= 1"),
    (lambda: col2im(np.zeros((2, 27, 9)), (5, 5, 5), 3), TypeError, r"output_size must be an int or a tuple of 2 ints"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_unbatched_shapes_and_float32():
    x = np.random.default_rng(0).standard_normal((3, 6, 5)).astype(np.float32)
    cols = im2col(x, (2, 3), padding=1)
    assert cols.shape == (3 * 2 * 3, 7 * 5) and cols.dtype == np.float32
    back = col2im(cols, (6, 5), (2, 3), padding=1)
    assert back.shape == (3, 6, 5) and back.dtype == np.float32
