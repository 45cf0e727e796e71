"""Max and average pooling: loops, finite differences, adjointness and PyTorch parity."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad.gradcheck import gradcheck
from convgrad.pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

# (kernel_size, stride, padding): overlapping windows (stride < kernel) in most of them,
# because a backward that overwrites instead of accumulating passes when stride == kernel.
CONFIGS = [
    (2, None, 0),
    (3, 1, 1),
    (3, 2, 1),
    ((3, 2), (1, 2), (1, 0)),
    ((2, 4), (2, 1), (1, 2)),
    (1, 2, 0),
]


def pairs(v, default=None):
    v = default if v is None else v
    return (v, v) if isinstance(v, int) else v


# --- plain-loop references -------------------------------------------------------

def loop_pool(x, kernel_size, stride, padding, reduce):
    """reduce(list of window values, list of 'is real pixel' flags) for every window, by loops."""
    (kh, kw), (sh, sw), (ph, pw) = pairs(kernel_size), pairs(stride, kernel_size), pairs(padding)
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    vals, real = [], []
                    for a in range(kh):
                        for b in range(kw):
                            r, s = i * sh + a - ph, j * sw + b - pw
                            inside = 0 <= r < H and 0 <= s < W
                            vals.append(x[n, c, r, s] if inside else None)
                            real.append(inside)
                    out[n, c, i, j] = reduce(vals, real)
    return out


def loop_max(x, k, s, p):
    return loop_pool(x, k, s, p, lambda vals, real: max(v for v in vals if v is not None))


def loop_avg(x, k, s, p, count_include_pad=True):
    def mean(vals, real):
        total = sum(v for v in vals if v is not None)
        return total / (len(vals) if count_include_pad else sum(real))
    return loop_pool(x, k, s, p, mean)


def loop_max_backward(grad_out, x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = pairs(kernel_size), pairs(stride, kernel_size), pairs(padding)
    grad_x = np.zeros_like(x, dtype=float)
    N, C, Ho, Wo = grad_out.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best = None
                    for a in range(kh):            # row-major: the first maximum wins ties
                        for b in range(kw):
                            r, s = i * sh + a - ph, j * sw + b - pw
                            if 0 <= r < x.shape[2] and 0 <= s < x.shape[3]:
                                if best is None or x[n, c, r, s] > x[n, c, best[0], best[1]]:
                                    best = (r, s)
                    grad_x[n, c, best[0], best[1]] += grad_out[n, c, i, j]
    return grad_x


# --- forward -------------------------------------------------------------------------

@pytest.mark.parametrize("k, s, p", CONFIGS)
def test_forward_matches_loops(k, s, p):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    np.testing.assert_allclose(max_pool2d(x, k, s, p), loop_max(x, k, s, p))
    np.testing.assert_allclose(avg_pool2d(x, k, s, p), loop_avg(x, k, s, p), atol=1e-12)
    np.testing.assert_allclose(avg_pool2d(x, k, s, p, count_include_pad=False),
                               loop_avg(x, k, s, p, count_include_pad=False), atol=1e-12)


def test_hand_worked_example():
    x = np.array([[[[1.0, 3.0, 2.0, 0.0],
                    [4.0, 0.0, 1.0, 5.0],
                    [0.0, 2.0, 6.0, 1.0],
                    [1.0, 1.0, 0.0, 2.0]]]])
    np.testing.assert_array_equal(max_pool2d(x, 2), [[[[4, 5], [2, 6]]]])
    np.testing.assert_array_equal(avg_pool2d(x, 2), [[[[2, 2], [1, 2.25]]]])
    # with padding 1 the corner window holds 1 real pixel: 1/4 vs 1/1
    assert avg_pool2d(x, 2, padding=1)[0, 0, 0, 0] == 0.25
    assert avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0, 0, 0] == 1.0


def test_overlapping_windows_accumulate_in_backward():
    # kernel (1, 2), stride 1: the 3 is the maximum of both windows and gets both gradients.
    x = np.array([[[[1.0, 3.0, 2.0]]]])
    assert max_pool2d(x, (1, 2), 1).tolist() == [[[[3.0, 3.0]]]]
    grad = max_pool2d_backward(np.array([[[[10.0, 1.0]]]]), x, (1, 2), 1)
    np.testing.assert_array_equal(grad, [[[[0.0, 11.0, 0.0]]]])
    grad = avg_pool2d_backward(np.array([[[[10.0, 1.0]]]]), x, (1, 2), 1)
    np.testing.assert_array_equal(grad, [[[[5.0, 5.5, 0.5]]]])


def test_ties_go_to_first_maximum():
    x = np.array([[[[7.0, 7.0], [7.0, 7.0]]]])
    np.testing.assert_array_equal(max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2), [[[[1, 0], [0, 0]]]])


# --- backward ------------------------------------------------------------------------------

@pytest.mark.parametrize("k, s, p", CONFIGS)
def test_backward_finite_differences(k, s, p):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 7))      # distinct values: max is differentiable there
    assert gradcheck(lambda x: max_pool2d(x, k, s, p), lambda g, x: (max_pool2d_backward(g, x, k, s, p),), [x])
    for cip in (True, False):
        assert gradcheck(lambda x: avg_pool2d(x, k, s, p, cip),
                         lambda g, x: (avg_pool2d_backward(g, x, k, s, p, cip),), [x])


@pytest.mark.parametrize("k, s, p", CONFIGS)
def test_max_backward_matches_loop_with_ties(k, s, p):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (2, 2, 6, 7)).astype(float)   # many ties
    g = rng.standard_normal(max_pool2d(x, k, s, p).shape)
    np.testing.assert_allclose(max_pool2d_backward(g, x, k, s, p), loop_max_backward(g, x, k, s, p), atol=1e-12)


pool_cases = st.tuples(
    st.integers(1, 4), st.integers(1, 4),     # kh, kw
    st.integers(1, 3), st.integers(1, 3),     # sh, sw
    st.integers(0, 2), st.integers(0, 2),     # ph, pw (clipped to k // 2 below)
    st.integers(1, 7), st.integers(1, 7),     # H, W
    st.booleans(), st.integers(0, 2**32 - 1),
)


def _case(case):
    kh, kw, sh, sw, ph, pw, H, W, cip, seed = case
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    if H + 2 * ph < kh or W + 2 * pw < kw:
        return None
    return dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw)), (H, W), cip, np.random.default_rng(seed)


@settings(max_examples=60, deadline=None)
@given(case=pool_cases)
def test_backwards_are_adjoint(case):
    """avg pooling is linear and max pooling picks entries, so <pool(x), g> = <x, backward(g, x)>."""
    case = _case(case)
    if case is None:
        return
    args, (H, W), cip, rng = case
    x = rng.standard_normal((2, 3, H, W))
    y = avg_pool2d(x, count_include_pad=cip, **args)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(np.sum(y * g), np.sum(x * avg_pool2d_backward(g, x, count_include_pad=cip, **args)))
    y = max_pool2d(x, **args)
    np.testing.assert_allclose(np.sum(y * g), np.sum(x * max_pool2d_backward(g, x, **args)))


# --- PyTorch parity ------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(case=pool_cases, ties=st.booleans())
def test_pytorch_parity(case, ties):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    case = _case(case)
    if case is None:
        return
    args, (H, W), cip, rng = case
    x = rng.integers(-2, 2, (2, 2, H, W)).astype(float) if ties else rng.standard_normal((2, 2, H, W))
    for ours, ours_backward, theirs, extra in [
        (max_pool2d, max_pool2d_backward, F.max_pool2d, {}),
        (avg_pool2d, avg_pool2d_backward, F.avg_pool2d, {"count_include_pad": cip}),
    ]:
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt, **args, **extra)
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(ours(x, **args, **extra), yt.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(ours_backward(g, x, **args, **extra), xt.grad.numpy(), atol=1e-12)


def test_pytorch_parity_unbatched_float32_and_minus_inf():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    x[0, :2, :2] = -np.inf      # a window of -inf next to -inf padding: the gradient must stay inside
    for ours, ours_backward, theirs in [(max_pool2d, max_pool2d_backward, F.max_pool2d),
                                        (avg_pool2d, avg_pool2d_backward, F.avg_pool2d)]:
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt, 3, 2, 1)
        g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        yt.backward(torch.tensor(g))
        y, gx = ours(x, 3, 2, 1), ours_backward(g, x, 3, 2, 1)
        assert y.dtype == np.float32 and gx.dtype == np.float32 and gx.shape == x.shape
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6)


# --- dtypes and errors -----------------------------------------------------------------------------

def test_dtypes():
    xi = np.arange(16).reshape(1, 4, 4)
    assert max_pool2d(xi, 2).dtype == xi.dtype                 # max of integers stays integer
    assert avg_pool2d(xi, 2).dtype == np.float64               # a mean does not
    x32 = xi.astype(np.float32)
    assert max_pool2d(x32, 2).dtype == np.float32 and avg_pool2d(x32, 2).dtype == np.float32
    g32 = np.ones((1, 2, 2), np.float32)
    assert max_pool2d_backward(g32, x32, 2).dtype == np.float32
    assert avg_pool2d_backward(g32, x32, 2).dtype == np.float32


def test_integer_inputs():
    # All entries negative and increasing, so a max pool whose padding could win would not
    # return the window's maximum (its last real entry).
    x = np.arange(-32, 0).reshape(2, 4, 4)
    y = max_pool2d(x, 3, 1, 1)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, loop_max(x[None], 3, 1, 1)[0])
    # Integer grad_out and integer x: the gradient is float64 and equals the float computation.
    for backward, k, s, p in [(max_pool2d_backward, 3, 1, 1), (avg_pool2d_backward, 3, 1, 1), (avg_pool2d_backward, 2, 1, 0)]:
        g = np.arange(32).reshape(2, 4, 4)[:, :(4 + 2 * p - k) // s + 1, :(4 + 2 * p - k) // s + 1] % 3 - 1
        got = backward(g, x, k, s, p)
        assert got.dtype == np.float64, backward.__name__
        np.testing.assert_array_equal(got, backward(g.astype(float), x.astype(float), k, s, p))
    # The mean is taken in float64: summing the integers first would overflow here.
    big = np.full((1, 2, 2), 2**62, dtype=np.int64)
    assert avg_pool2d(big, 2)[0, 0, 0] == 2.0**62


x4 = np.zeros((1, 1, 4, 4))


@pytest.mark.parametrize("call, error, match", [
    (lambda f: f(np.zeros((4, 4)), 2), ValueError, r"\(N, C, H, W\) or \(C, H, W\)"),
    (lambda f: f(np.zeros((1, 1, 1, 4, 4)), 2), ValueError, "got shape"),
    (lambda f: f(x4, 0), ValueError, "kernel_size must be >= 1"),
    (lambda f: f(x4, 2, 0), ValueError, "stride must be >= 1"),
    (lambda f: f(x4, 2, 1, -1), ValueError, "padding must be >= 0"),
    (lambda f: f(x4, 3, 1, 2), ValueError, "at most half"),
    (lambda f: f(x4, (2, 3), 1, (1, 2)), ValueError, "at most half"),
    (lambda f: f(x4, 3, 1, (2, 1)), ValueError, r"at most half .*padding \(2, 1\) and kernel_size \(3, 3\)"),  # rows only
    (lambda f: f(x4, 5), ValueError, "larger than the padded input"),
    (lambda f: f(x4, (5, 1)), ValueError, r"kernel_size \(5, 1\) is larger than the padded input \(4, 4\)"),
    (lambda f: f(x4, (1, 5)), ValueError, r"kernel_size \(1, 5\) is larger than the padded input \(4, 4\)"),
    (lambda f: f(x4, 2.0), TypeError, "kernel_size"),
    (lambda f: f(x4, (2, 2, 2)), TypeError, "kernel_size"),
    (lambda f: f(x4, True), TypeError, "kernel_size must be an int or a pair of ints, got True"),
    (lambda f: f(x4, 2, (1, True)), TypeError, r"stride must be an int or a pair of ints, got \(1, True\)"),
    (lambda f: f(x4.astype(complex), 2), TypeError, "real"),
])
@pytest.mark.parametrize("f", [max_pool2d, avg_pool2d,
                               lambda x, *a: max_pool2d_backward(np.zeros(1), x, *a),
                               lambda x, *a: avg_pool2d_backward(np.zeros(1), x, *a)])
def test_errors(call, error, match, f):
    with pytest.raises(error, match=match):
        call(f)


@pytest.mark.parametrize("backward", [max_pool2d_backward, avg_pool2d_backward])
def test_grad_out_shape_checked(backward):
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(1, 1, 2, 2\)"):
        backward(np.zeros((1, 1, 3, 3)), x4, 2)
    with pytest.raises(ValueError, match="grad_out"):
        backward(np.zeros((1, 2, 2)), x4, 2)       # unbatched grad for a batched input
