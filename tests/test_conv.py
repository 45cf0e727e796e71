"""convgrad.conv: conv1d/conv2d and their backwards against loops, SciPy, finite differences and PyTorch.

Groups are tested in test_groups.py, the correlation methods one by one in test_correlation.py.
"""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
from hypothesis import given, settings, strategies as st

from convgrad import naive
from convgrad.conv import conv1d, conv1d_backward, conv2d, conv2d_backward
from convgrad.functional import conv1d as functional_conv1d, conv2d as functional_conv2d
from conv_checks import BACKWARD, FORWARD, assert_matches_pytorch, close

MODES = ["zeros", "reflect", "replicate", "circular"]
NAIVE_FORWARD = {1: naive.conv1d, 2: naive.conv2d}
NAIVE_BACKWARD = {1: naive.conv1d_backward, 2: naive.conv2d_backward}


# --- random valid configurations ------------------------------------------------------------------

def _pads(padding, k, s, d):
    if padding == "valid":
        return [(0, 0)] * len(k)
    if padding == "same":
        return [(dd * (kk - 1) // 2, dd * (kk - 1) - dd * (kk - 1) // 2) for kk, dd in zip(k, d)]
    return [(p, p) for p in padding]


def _valid(size, k, s, d, padding, mode):
    for n, kk, dd, (left, right) in zip(size, k, d, _pads(padding, k, s, d)):
        if dd * (kk - 1) + 1 > n + left + right:
            return False
        if mode == "reflect" and max(left, right) >= n:
            return False
        if mode == "circular" and max(left, right) > n:
            return False
    return True


def make_case(seed, nd, max_size=7, max_channels=3, dtype=np.float64):
    """A random valid convolution: arrays and keyword arguments (all options exercised across seeds)."""
    rng = np.random.default_rng(seed)
    while True:
        mode = MODES[rng.integers(len(MODES))]
        size = tuple(int(v) for v in rng.integers(2, max_size + 1, nd))
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        kind = rng.integers(4)
        if kind == 0:
            padding, s = "same", (1,) * nd
        elif kind == 1:
            padding = "valid"
        else:
            padding = tuple(int(v) for v in rng.integers(0, 4, nd))
        if _valid(size, k, s, d, padding, mode):
            break
    n = int(rng.integers(1, 3))
    c_in, c_out = (int(v) for v in rng.integers(1, max_channels + 1, 2))
    batched = rng.random() < 0.8
    x = rng.standard_normal(((n,) if batched else ()) + (c_in,) + size).astype(dtype)
    weight = rng.standard_normal((c_out, c_in) + k).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if rng.random() < 0.7 else None
    # ints where an int would do, tuples otherwise, to exercise both forms of every argument
    unpack = (lambda t: t[0] if nd == 1 and rng.random() < 0.7 else t)
    kwargs = dict(stride=unpack(s), padding=padding if isinstance(padding, str) else unpack(padding),
                  dilation=unpack(d), padding_mode=mode)
    return x, weight, bias, kwargs


# --- (a) against the plain loops --------------------------------------------------------------------

@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(40))
def test_forward_and_backward_match_loops(nd, seed):
    x, weight, bias, kw = make_case(seed, nd, max_size=6 if nd == 2 else 9)
    out = FORWARD[nd](x, weight, bias, **kw)
    assert close(out, NAIVE_FORWARD[nd](x, weight, bias, **kw))
    grad_out = np.random.default_rng(seed + 1000).standard_normal(out.shape)
    for got, want in zip(BACKWARD[nd](grad_out, x, weight, **kw), NAIVE_BACKWARD[nd](grad_out, x, weight, **kw)):
        assert close(got, want)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", [0, 1, 2, "same", "valid"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_conv1d_every_padding_and_mode_matches_loops(mode, padding, k):
    rng = np.random.default_rng(k)
    x, weight, bias = rng.standard_normal((2, 2, 6)), rng.standard_normal((3, 2, k)), rng.standard_normal(3)
    kw = dict(padding=padding, padding_mode=mode)
    out = conv1d(x, weight, bias, **kw)
    assert close(out, naive.conv1d(x, weight, bias, **kw))
    grad_out = rng.standard_normal(out.shape)
    for got, want in zip(conv1d_backward(grad_out, x, weight, **kw), naive.conv1d_backward(grad_out, x, weight, **kw)):
        assert close(got, want)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding, stride, dilation", [
    ((1, 2), 1, 1), ((1, 2), (2, 1), 1), ((1, 2), 1, (1, 2)), ((1, 2), 3, 2),
    ("valid", 1, 1), ("valid", (2, 1), 1), ("valid", 3, 2), ("same", 1, 1), ("same", 1, (1, 2)), ("same", 1, 2)])
def test_conv2d_every_mode_stride_dilation_matches_loops(mode, padding, stride, dilation):
    rng = np.random.default_rng(7)
    x, weight, bias = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((2, 2, 2, 3)), rng.standard_normal(2)
    kw = dict(stride=stride, padding=padding, dilation=dilation, padding_mode=mode)
    out = conv2d(x, weight, bias, **kw)
    assert close(out, naive.conv2d(x, weight, bias, **kw))
    grad_out = rng.standard_normal(out.shape)
    for got, want in zip(conv2d_backward(grad_out, x, weight, **kw), naive.conv2d_backward(grad_out, x, weight, **kw)):
        assert close(got, want)


@pytest.mark.parametrize("c_in, c_out", [(1, 1), (1, 3), (3, 1), (4, 5)])
def test_every_algorithm_matches_loops(c_in, c_out):
    # (1, 1) takes shifted slices in the forward pass and the input gradient, the others im2col.
    rng = np.random.default_rng(c_in * 10 + c_out)
    x, weight = rng.standard_normal((3, c_in, 9, 8)), rng.standard_normal((c_out, c_in, 3, 3))
    out = conv2d(x, weight, padding=1)
    assert close(out, naive.conv2d(x, weight, padding=1))
    grad_out = rng.standard_normal(out.shape)
    for got, want in zip(conv2d_backward(grad_out, x, weight, padding=1),
                         naive.conv2d_backward(grad_out, x, weight, padding=1)):
        assert close(got, want)


@pytest.mark.parametrize("x_shape, w_shape, stride", [((3, 16, 40, 40), (16, 16, 3, 3), 1),
                                                      ((600, 1, 10, 10), (1, 1, 3, 3), 1),
                                                      ((300, 2, 9, 9), (1, 2, 3, 2), 1),
                                                      ((2, 16, 41, 40), (16, 16, 3, 3), 2)])
def test_large_inputs_match_scipy(x_shape, w_shape, stride):
    # Big enough for every blocking path: several image groups, several matrix-product pieces per group,
    # several blocks of the weight gradient's sums.
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    n, c_in = x_shape[:2]
    c_out = w_shape[0]
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = conv2d(x, weight, stride=stride, padding=1)
    full = np.array([[sum(scipy.signal.correlate(x_pad[i, c], weight[o, c], mode="valid") for c in range(c_in))
                      for o in range(c_out)] for i in range(n)])
    assert close(out, full[:, :, ::stride, ::stride])
    grad_out = rng.standard_normal(out.shape)
    grad_x, grad_weight, grad_bias = conv2d_backward(grad_out, x, weight, stride=stride, padding=1)
    dilated = np.zeros(full.shape)
    dilated[:, :, ::stride, ::stride] = grad_out  # zero-stuffed: each g back where its window started
    # the rows and columns of x_pad that some window reached
    used = (Ellipsis, slice(dilated.shape[2] + w_shape[2] - 1), slice(dilated.shape[3] + w_shape[3] - 1))
    want_w = np.array([[sum(scipy.signal.correlate(x_pad[used][i, c], dilated[i, o], mode="valid") for i in range(n))
                        for c in range(c_in)] for o in range(c_out)])
    want_x = np.zeros(x_pad.shape)
    want_x[used] = np.array(
        [[sum(scipy.signal.convolve(dilated[i, o], weight[o, c], mode="full") for o in range(c_out))
          for c in range(c_in)] for i in range(n)])
    want_x = want_x[:, :, 1:1 + x_shape[2], 1:1 + x_shape[3]]
    assert close(grad_weight, want_w) and close(grad_x, want_x) and close(grad_bias, grad_out.sum(axis=(0, 2, 3)))


def test_unused_trailing_rows_get_zero_gradient():
    # L + 2p - d(k-1) - 1 = 8 is not divisible by stride 3: the last two inputs are never read.
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((1, 1, 9)), rng.standard_normal((1, 1, 1))
    grad_x, _, _ = conv1d_backward(np.ones((1, 1, 3)), x, weight, stride=3)
    assert np.all(grad_x[0, 0, [1, 2, 4, 5, 7, 8]] == 0)
    assert np.allclose(grad_x[0, 0, [0, 3, 6]], weight[0, 0, 0])


def test_functional_namespace_exports_the_same_functions():
    assert functional_conv1d is conv1d and functional_conv2d is conv2d


def test_unbatched_in_unbatched_out():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
    out = conv2d(x, weight, padding=1)
    assert out.shape == (3, 5, 6)
    assert np.allclose(out, conv2d(x[None], weight, padding=1)[0])
    grads = conv2d_backward(np.ones_like(out), x, weight, padding=1)
    assert [g.shape for g in grads] == [x.shape, weight.shape, (3,)]
    assert conv1d(x[:, 0], weight[:, :, 0]).shape == (3, 4)


@pytest.mark.parametrize("nd", [1, 2])
def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients(nd):
    # As PyTorch: N = 0 is a valid batch; nothing reaches the weight or the bias.
    x, weight = np.zeros((0, 2) + (5,) * nd), np.ones((3, 2) + (3,) * nd)
    out = FORWARD[nd](x, weight, np.ones(3), padding=1)
    assert out.shape == (0, 3) + (5,) * nd
    grad_x, grad_weight, grad_bias = BACKWARD[nd](np.zeros(out.shape), x, weight, padding=1)
    assert grad_x.shape == x.shape
    assert np.array_equal(grad_weight, np.zeros_like(weight)) and np.array_equal(grad_bias, np.zeros(3))


def test_no_input_channels_gives_the_bias_alone():
    # Every sum over input channels is empty, so it is zero (PyTorch gives zero output channels here).
    x, weight, bias = np.ones((2, 0, 5, 5)), np.ones((3, 0, 3, 3)), np.arange(3.0)
    out = conv2d(x, weight, bias, padding=1)
    assert out.shape == (2, 3, 5, 5) and np.array_equal(out, np.broadcast_to(bias[:, None, None], out.shape))
    grad_x, grad_weight, grad_bias = conv2d_backward(np.ones(out.shape), x, weight, padding=1)
    assert grad_x.shape == x.shape and grad_weight.shape == weight.shape
    assert np.array_equal(grad_bias, np.full(3, 50.0))


# --- (b) against SciPy and NumPy ---------------------------------------------------------------------

@pytest.mark.parametrize("mode, numpy_mode, padding", [("valid", "valid", 0), ("same", "same", "same"),
                                                        ("full", "full", 4)])
def test_conv1d_matches_numpy_correlate(mode, numpy_mode, padding):
    rng = np.random.default_rng(0)
    signal, kernel = rng.standard_normal(20), rng.standard_normal(5)
    out = conv1d(signal[None], kernel[None, None], padding=padding)[0]
    assert close(out, np.correlate(signal, kernel, mode=numpy_mode))


def test_conv2d_matches_scipy_correlate_summed_over_channels():
    rng = np.random.default_rng(1)
    x, weight = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    want = np.array([[sum(scipy.signal.correlate(x[n, c], weight[o, c], mode="valid") for c in range(3))
                      for o in range(4)] for n in range(2)])
    assert close(conv2d(x, weight), want)
    full = np.array([[sum(scipy.signal.correlate(x[n, c], weight[o, c], mode="full") for c in range(3))
                      for o in range(4)] for n in range(2)])
    assert close(conv2d(x, weight, padding=(2, 1)), full)


@pytest.mark.parametrize("mode, ndimage_mode", [("zeros", "constant"), ("reflect", "mirror"),
                                                 ("replicate", "nearest"), ("circular", "wrap")])
def test_same_padding_modes_match_scipy_ndimage(mode, ndimage_mode):
    # scipy.ndimage.correlate centres an odd kernel and extends the border by the named rule.
    rng = np.random.default_rng(2)
    image, kernel = rng.standard_normal((7, 9)), rng.standard_normal((3, 5))
    out = conv2d(image[None, None], kernel[None, None], padding="same", padding_mode=mode)[0, 0]
    assert close(out, scipy.ndimage.correlate(image, kernel, mode=ndimage_mode))


def test_grad_weight_is_correlation_of_input_and_grad_out():
    # the course's statement, checked with SciPy: dL/dw = x_pad (valid-correlated with) g
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((8, 9)), rng.standard_normal((3, 3))
    grad_out = rng.standard_normal((8, 9))
    _, grad_weight, _ = conv2d_backward(grad_out[None, None], x[None, None], weight[None, None], padding=1)
    assert close(grad_weight[0, 0], scipy.signal.correlate(np.pad(x, 1), grad_out, mode="valid"))
    # and dL/dx = full convolution of g with w, cropped by the padding
    grad_x, _, _ = conv2d_backward(grad_out[None, None], x[None, None], weight[None, None], padding=1)
    assert close(grad_x[0, 0], scipy.signal.convolve(grad_out, weight, mode="full")[1:-1, 1:-1])


# --- (c) finite differences --------------------------------------------------------------------------

def _finite_difference(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = f()
        array[index] = saved - eps
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(12))
def test_backward_matches_finite_differences(nd, seed):
    x, weight, bias, kw = make_case(seed + 500, nd, max_size=5, max_channels=2)
    if bias is None:
        bias = np.zeros(weight.shape[0])
    grad_out = np.random.default_rng(seed).standard_normal(FORWARD[nd](x, weight, bias, **kw).shape)

    def loss():
        return float(np.sum(FORWARD[nd](x, weight, bias, **kw) * grad_out))

    grad_x, grad_weight, grad_bias = BACKWARD[nd](grad_out, x, weight, **kw)
    assert np.allclose(grad_x, _finite_difference(loss, x), atol=1e-6)
    assert np.allclose(grad_weight, _finite_difference(loss, weight), atol=1e-6)
    assert np.allclose(grad_bias, _finite_difference(loss, bias), atol=1e-6)


# --- (d) properties ----------------------------------------------------------------------------------

@st.composite
def cases(draw, nd=None):
    nd = draw(st.sampled_from([1, 2])) if nd is None else nd
    return make_case(draw(st.integers(0, 10**6)), nd, max_size=8)


@settings(max_examples=40, deadline=None)
@given(case=cases(), a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_linear_in_input_and_in_weight(case, a, b):
    x, weight, _, kw = case
    nd = weight.ndim - 2
    rng = np.random.default_rng(0)
    x2, weight2 = rng.standard_normal(x.shape), rng.standard_normal(weight.shape)
    f = FORWARD[nd]
    assert close(f(a * x + b * x2, weight, **kw), a * f(x, weight, **kw) + b * f(x2, weight, **kw))
    assert close(f(x, a * weight + b * weight2, **kw), a * f(x, weight, **kw) + b * f(x, weight2, **kw))


@settings(max_examples=40, deadline=None)
@given(case=cases())
def test_backward_is_the_adjoint(case):
    # <conv(x, w), y> = <x, grad_x(y)> = <w, grad_w(y)>: the forward is linear in each argument alone.
    x, weight, _, kw = case
    nd = weight.ndim - 2
    out = FORWARD[nd](x, weight, **kw)
    y = np.random.default_rng(1).standard_normal(out.shape)
    grad_x, grad_weight, grad_bias = BACKWARD[nd](y, x, weight, **kw)
    inner = np.vdot(out, y)
    scale = 1e-10 * (1 + np.abs(out).sum() * np.abs(y).max())
    assert abs(inner - np.vdot(x, grad_x)) < scale
    assert abs(inner - np.vdot(weight, grad_weight)) < scale
    assert np.allclose(grad_bias, y.sum(axis=tuple(i for i in range(y.ndim) if i != y.ndim - nd - 1)))


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), d=st.integers(1, 3), p=st.integers(0, 4))
def test_output_size_formula(size, k, s, d, p):
    if d * (k - 1) + 1 > size + 2 * p:
        return
    out = conv1d(np.zeros((1, 1, size)), np.zeros((1, 1, k)), stride=s, padding=p, dilation=d)
    assert out.shape[-1] == (size + 2 * p - d * (k - 1) - 1) // s + 1
    # and it is the number of windows that fit, counted one by one
    assert out.shape[-1] == sum(1 for i in range(size + 2 * p) if s * i + d * (k - 1) < size + 2 * p)


@pytest.mark.parametrize("k, d", [(2, 1), (4, 1), (3, 2), (2, 3)])
def test_same_padding_keeps_the_size_and_puts_the_extra_row_on_the_right(k, d):
    x, weight = np.arange(7.0)[None, None], np.zeros((1, 1, k))
    weight[0, 0, 0] = 1.0  # out[i] = x_pad[i]: reads the left padding
    out = conv1d(x, weight, padding="same")
    left = d * (k - 1) // 2
    assert out.shape == x.shape
    out = conv1d(x, weight, padding="same", dilation=d)
    assert np.array_equal(out[0, 0], np.concatenate([np.zeros(left), np.arange(7.0)])[:7])


# --- (e) PyTorch parity --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(30))
def test_matches_pytorch(seed, nd, dtype):
    torch = pytest.importorskip("torch")
    x, weight, bias, kw = make_case(seed + 2000, nd, max_size=10, max_channels=4, dtype=dtype)
    assert_matches_pytorch(torch, nd, x, weight, bias, kw, seed, dtype)


# --- (f) bad input -------------------------------------------------------------------------------------

X2, W2 = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
X1, W1 = np.zeros((2, 3, 8)), np.zeros((4, 3, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda: conv2d(X2[0, 0], W2), ValueError, r"x must have shape \(N, C_in, H, W\).*\(5, 5\)"),
    (lambda: conv2d(X2, W2[0]), ValueError, r"weight must have shape \(C_out, C_in/groups, kh, kw\).*\(3, 3, 3\)"),
    (lambda: conv1d(X1, W2), ValueError, r"weight must have shape \(C_out, C_in/groups, k\)"),
    (lambda: conv2d(X2, np.zeros((0, 3, 3, 3))), ValueError, r"at least one output channel.*\(0, 3, 3, 3\)"),
    (lambda: conv1d_backward(np.zeros((2, 0, 6)), X1, np.zeros((0, 3, 3))), ValueError, r"at least one output channel"),
    (lambda: conv2d(X2, np.zeros((4, 2, 3, 3))), ValueError, r"x has 3 input channels.*weight.shape\[1\]=2"),
    (lambda: conv1d(X1, np.zeros((4, 5, 3))), ValueError, r"x has 3 input channels.*\(2, 3, 8\).*\(4, 5, 3\)"),
    (lambda: conv2d(X2, W2, bias=np.zeros(3)), ValueError, r"bias must have shape \(C_out,\) = \(4,\).*\(3,\)"),
    (lambda: conv2d(X2, W2, bias=np.zeros((4, 1))), ValueError, r"bias must have shape"),
    (lambda: conv2d(X2, W2, stride=0), ValueError, r"stride must be >= 1, got \(0, 0\)"),
    (lambda: conv1d(X1, W1, stride=-1), ValueError, r"stride must be >= 1, got -1"),
    (lambda: conv2d(X2, W2, dilation=(1, 0)), ValueError, r"dilation must be >= 1"),
    (lambda: conv2d(X2, W2, padding=-1), ValueError, r"padding must be >= 0"),
    (lambda: conv1d(X1, W1, padding="full"), ValueError, r"padding must be an int, a tuple, 'same' or 'valid'.*'full'"),
    (lambda: conv2d(X2, W2, padding_mode="constant"), ValueError, r"padding_mode must be one of.*'constant'"),
    (lambda: conv2d(X2, W2, padding="same", stride=2), ValueError, r"padding='same' is not supported.*stride"),
    (lambda: conv1d(X1, W1, padding="same", stride=(2,)), ValueError, r"padding='same' is not supported.*stride=2"),
    (lambda: conv2d(X2, np.zeros((4, 3, 6, 3))), ValueError,
     r"dilated kernel \(6, 3\).*larger than the padded input \(5, 5\)"),
    (lambda: conv2d(X2, W2, dilation=3), ValueError, r"dilated kernel \(7, 7\).*dilation=\(3, 3\).*\(5, 5\)"),
    (lambda: conv1d(X1, np.zeros((4, 3, 9))), ValueError, r"dilated kernel 9.*padded input 8"),
    (lambda: conv2d(X2, W2, padding=5, padding_mode="reflect"), ValueError, r"reflect.*padding.*input size \(5, 5\)"),
    (lambda: conv1d(X1, W1, padding=8, padding_mode="reflect"), ValueError, r"reflect.*smaller than the input size"),
    (lambda: conv1d(X1, W1, padding=9, padding_mode="circular"), ValueError,
     r"circular padding must not exceed the input size"),
    (lambda: conv2d(X2, W2, stride=1.5), TypeError, r"stride must be an int or a tuple of 2 ints, got 1.5"),
    (lambda: conv2d(X2, W2, padding=(1, 2, 3)), TypeError, r"padding must be an int or a tuple of 2 ints"),
    (lambda: conv1d(X1, W1, dilation=True), TypeError, r"dilation must be an int"),
    (lambda: conv2d(X2 + 1j, W2), TypeError, r"x must be real, got complex"),
    (lambda: conv2d(X2, None), TypeError, r"weight must be a real-valued array"),
    (lambda: conv2d(X2.astype(bool), W2), TypeError, r"x must be a real-valued.*bool"),
    (lambda: conv2d(X2.astype(np.float32), W2), TypeError, r"x has dtype float32, weight has dtype float64"),
    (lambda: conv2d_backward(np.zeros((2, 4, 3, 4)), X2, W2), ValueError,
     r"grad_out must have the output's shape \(N, C_out, H_out, W_out\) = \(2, 4, 3, 3\).*\(2, 4, 3, 4\)"),
    (lambda: conv1d_backward(np.zeros((4, 6)), X1, W1), ValueError, r"grad_out must have.*\(2, 4, 6\).*\(4, 6\)"),
    (lambda: conv1d_backward(None, X1, W1), TypeError, r"grad_out must be a real-valued array"),
    (lambda: conv2d_backward(np.zeros((2, 4, 3, 3)), X2, W2, padding_mode="wrap"), ValueError, r"padding_mode"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_int_input_is_cast_to_float64():
    out = conv1d(np.arange(5)[None, None], np.ones((1, 1, 2), dtype=int))
    assert out.dtype == np.float64 and np.array_equal(out[0, 0], [1.0, 3.0, 5.0, 7.0])


# --- (g) dtypes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 2)])
def test_float32_stays_float32(nd, c_in, c_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c_in) + (9,) * nd).astype(np.float32)
    weight = rng.standard_normal((c_out, c_in) + (3,) * nd).astype(np.float32)
    bias = np.ones(c_out, dtype=np.float32)
    out = FORWARD[nd](x, weight, bias, stride=2, padding=1, padding_mode="reflect")
    assert out.dtype == np.float32
    grads = BACKWARD[nd](np.ones_like(out), x, weight, stride=2, padding=1, padding_mode="reflect")
    assert [g.dtype for g in grads] == [np.float32] * 3
    # an int grad_out takes the dtype of the floats around it
    assert BACKWARD[nd](np.ones(out.shape, dtype=int), x, weight, stride=2, padding=1)[0].dtype == np.float32


@pytest.mark.parametrize("c_in, c_out", [(1, 1), (4, 3)])
def test_float32_gradients_of_a_large_batch_stay_accurate(c_in, c_out):
    # The weight gradient sums over every position of the batch (here 600*34*34, over 10**5 terms
    # per entry with one channel): its float32 sums must not drift from the float64 result.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600 // c_in, c_in, 32, 32))
    weight, grad_out = rng.standard_normal((c_out, c_in, 3, 3)), rng.standard_normal((600 // c_in, c_out, 32, 32))
    want = conv2d_backward(grad_out, x, weight, padding=1)
    got = conv2d_backward(grad_out.astype(np.float32), x.astype(np.float32), weight.astype(np.float32), padding=1)
    for a, b in zip(got, want):
        assert np.abs(a - b).max() <= 2e-6 * np.abs(b).max()  # measured: below 5e-7


# --- each of the four methods behind conv2d ----------------------------------------------------------
# conv2d calls correlation.correlate_on_thread, which runs the body (_fft, _shifted_slices, ...) of the
# method choose_method names: watching the bodies shows which one ran.

@pytest.mark.parametrize("method, x_shape, w_shape, kw", [
    ("_fft", (2, 1, 14, 13), (1, 1, 9, 10), dict(padding=(4, 5))),
    ("_fft", (3, 1, 12, 20), (1, 1, 3, 27), dict(padding="same", dilation=(2, 1))),
    ("_fft", (2, 1, 10, 11), (1, 1, 9, 9), dict(padding=3, padding_mode="circular")),
    ("_shifted_slices", (2, 1, 7, 6), (1, 1, 3, 2), dict(padding=1)),
    ("_row_shifts", (2, 3, 7, 6), (4, 3, 3, 2), dict(padding=2, dilation=(2, 1))),
    ("_im2col", (2, 3, 7, 6), (4, 3, 3, 2), dict(padding=1, stride=(2, 1))),
    ("_im2col", (2, 1, 7, 6), (3, 1, 3, 2), dict(padding="same")),  # O > C_in*kw
])
def test_each_method_matches_the_loops(monkeypatch, method, x_shape, w_shape, kw):
    from convgrad import _engine, correlation
    monkeypatch.setattr(_engine, "_UNTHREADED_WORK", 0)  # these cases are small jobs: take the methods' path
    calls = []
    original = getattr(correlation, method)
    monkeypatch.setattr(correlation, method, lambda *args: calls.append(method) or original(*args))
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out = conv2d(x, weight, **kw)
    assert calls, f"{method} was not used for the forward pass"
    assert close(out, naive.conv2d(x, weight, **kw))
    grad_out = rng.standard_normal(out.shape)
    for got, want in zip(conv2d_backward(grad_out, x, weight, **kw), naive.conv2d_backward(grad_out, x, weight, **kw)):
        assert close(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_long_one_channel_kernel_goes_by_fft_in_every_pass(monkeypatch, dtype):
    from convgrad import correlation, weight_gradient
    calls = []
    for module, name in ((correlation, "_fft"), (weight_gradient, "_weight_fft")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *args, _name=name, _f=original: calls.append(_name) or _f(*args))
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((4, 1, 300)), rng.standard_normal((1, 1, 101))
    out = conv1d(x.astype(dtype), weight.astype(dtype), padding=50)
    grad_out = rng.standard_normal(out.shape)
    grads = conv1d_backward(grad_out.astype(dtype), x.astype(dtype), weight.astype(dtype), padding=50)
    # forward, input gradient and weight gradient
    assert calls == ["_fft", "_fft", "_weight_fft"]
    assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert close(out, naive.conv1d(x, weight, padding=50), dtype)
    for got, want in zip(grads, naive.conv1d_backward(grad_out, x, weight, padding=50)):
        assert close(got, want, dtype)
