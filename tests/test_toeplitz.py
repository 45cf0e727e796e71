"""convgrad.toeplitz: the matrix view of a convolution, numerically and symbolically."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from convgrad import functional, naive
from convgrad.gradcheck import numerical_gradient
from convgrad.signal import convolve
from convgrad.symbolic import assert_identity, conv1d_sum, conv2d_sum, image, kernel, signal, vec
from convgrad.toeplitz import (conv2d_correlation_matrix, conv2d_matrix, convolution_matrix, kernel_embedding,
                               toeplitz_basis)


def loop_same_convolution(z, w):
    """(T z)_i = sum_{b=1..m} w_b z_{i-b+P+1}, written 1-indexed as in the chapter."""
    n, m = len(z), len(w)
    P = (m - 1) // 2
    y = np.zeros(n)
    for i in range(1, n + 1):
        for b in range(1, m + 1):
            j = i - b + P + 1
            if 1 <= j <= n:
                y[i - 1] += w[b - 1] * z[j - 1]
    return y


def loop_toeplitz(t, n):
    """T[i, k] = t[i - k + n - 1]."""
    return np.array([[t[i - k + n - 1] for k in range(n)] for i in range(n)])


def vec_np(A):
    return A.reshape(-1, order="F")  # stack the columns


# --- T(w) --------------------------------------------------------------------

def test_convolution_matrix_small_example():
    T = convolution_matrix(np.array([1, 2, 3]), 4)
    np.testing.assert_array_equal(T, [[2, 1, 0, 0], [3, 2, 1, 0], [0, 3, 2, 1], [0, 0, 3, 2]])


@pytest.mark.parametrize("n, m", [(1, 1), (5, 1), (5, 3), (6, 5), (4, 7), (3, 9)])
def test_convolution_matrix_is_same_convolution(n, m):
    rng = np.random.default_rng(n * 10 + m)
    z, w = rng.standard_normal(n), rng.standard_normal(m)
    T = convolution_matrix(w, n)
    assert T.shape == (n, n)
    np.testing.assert_allclose(T @ z, loop_same_convolution(z, w), atol=1e-12)
    np.testing.assert_allclose(T @ z, convolve(z, w, "same"), atol=1e-12)
    ss = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(T @ z, ss.convolve(z, w, mode="same"), atol=1e-12)


# --- B and S -------------------------------------------------------------------

def test_toeplitz_basis_structure():
    n = 4
    B = toeplitz_basis(n)
    assert B.shape == (n * n, 2 * n - 1) and B.dtype.kind == "i"
    assert set(np.unique(B)) == {0, 1}
    np.testing.assert_array_equal(B.sum(axis=1), 1)        # every entry of T lies on one diagonal
    np.testing.assert_array_equal(B.sum(axis=0), [1, 2, 3, 4, 3, 2, 1])   # diagonal lengths
    t = np.arange(1, 2 * n)
    np.testing.assert_array_equal(B @ t, vec_np(loop_toeplitz(t, n)))


def test_kernel_embedding_structure():
    S = kernel_embedding(4, 3)
    assert S.shape == (7, 3) and S.dtype.kind == "i"
    # w_1, w_2, w_3 go to diagonals d = -1, 0, 1, i.e. t indices 2, 3, 4
    expected = np.zeros((7, 3), int)
    expected[[2, 3, 4], [0, 1, 2]] = 1
    np.testing.assert_array_equal(S, expected)
    np.testing.assert_array_equal(kernel_embedding(2, 3), np.eye(3, dtype=int))  # m = 2n - 1 fills every diagonal


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), half=st.integers(0, 8), seed=st.integers(0, 2**32 - 1))
def test_vec_T_is_BSw_and_y_is_kron_form(n, half, seed):
    m = 2 * min(half, n - 1) + 1                 # odd, at most 2n - 1
    rng = np.random.default_rng(seed)
    z, w = rng.standard_normal(n), rng.standard_normal(m)
    T, B, S = convolution_matrix(w, n), toeplitz_basis(n), kernel_embedding(n, m)
    np.testing.assert_allclose(vec_np(T), B @ S @ w, atol=1e-12)
    np.testing.assert_allclose(loop_toeplitz(S @ w, n), T, atol=1e-12)
    np.testing.assert_allclose(np.kron(z[None, :], np.eye(n)) @ B @ S @ w, convolve(z, w, "same"), atol=1e-10)


def test_chapter_identities_symbolically():
    n, m = 4, 3
    z, w, g = signal("z", n), kernel("w", m), signal("g", n)
    T, B, S = convolution_matrix(w, n), sp.Matrix(toeplitz_basis(n)), sp.Matrix(kernel_embedding(n, m))
    assert isinstance(T, sp.MatrixBase)
    assert_identity(vec(T), B * S * w, "vec(T(w)) = B S w")
    y = sp.kronecker_product(z.T, sp.eye(n)) * B * S * w
    assert_identity(y, T * z, "T(w) z = (z^T kron I_n) B S w")
    assert_identity(T * z, conv1d_sum(z, w, padding=(m - 1) // 2, kind="convolution"),
                    "T(w) z is the same-padded convolution sum")
    L = ((g - y).T * (g - y))[0, 0]
    dL_dw = sp.Matrix([[sp.diff(L, wj) for wj in w]])
    assert_identity(dL_dw, -2 * (g - y).T * sp.kronecker_product(z.T, sp.eye(n)) * B * S,
                    "dL/dw = -2 (g-y)^T (z^T kron I_n) B S")


def test_chapter_gradient_numerically():
    rng = np.random.default_rng(5)
    n, m = 8, 5
    z, w, g = rng.standard_normal(n), rng.standard_normal(m), rng.standard_normal(n)
    K = np.kron(z[None, :], np.eye(n)) @ toeplitz_basis(n) @ kernel_embedding(n, m)
    y = K @ w
    analytic = -2 * (g - y) @ K
    numeric = numerical_gradient(lambda v: np.sum((g - convolve(z, v, "same")) ** 2), w)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_symbolic_kernel_as_list_and_numeric_agree():
    w = sp.symbols("a b c")
    T = convolution_matrix(list(w), 3)
    assert T == sp.Matrix([[w[1], w[0], 0], [w[2], w[1], w[0]], [0, w[2], w[1]]])
    values = {w[0]: 1, w[1]: 2, w[2]: 3}
    np.testing.assert_array_equal(np.array(T.subs(values), dtype=int), convolution_matrix(np.array([1, 2, 3]), 3))


# --- the 2-D doubly blocked matrix ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(H=st.integers(1, 5), W=st.integers(1, 5), kh=st.integers(1, 4), kw=st.integers(1, 4),
       mode=st.sampled_from(["full", "same", "valid"]), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matrix_matches_convolve(H, W, kh, kw, mode, seed):
    if mode == "valid" and (kh - H) * (kw - W) < 0:
        return
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
    expected = convolve(x, k, mode)
    M = conv2d_matrix(k, (H, W), mode)
    assert M.shape == (expected.size, H * W)
    np.testing.assert_allclose(M @ x.ravel(), expected.ravel(), atol=1e-12)


def test_conv2d_matrix_against_scipy():
    ss = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(6)
    for (H, W), (kh, kw) in [((4, 5), (3, 3)), ((4, 5), (2, 2)), ((3, 3), (4, 5)), ((4, 5), (4, 3)), ((3, 2), (3, 4))]:
        x, k = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
        for mode in ["full", "same", "valid"]:
            M = conv2d_matrix(k, (H, W), mode)
            np.testing.assert_allclose(M @ x.ravel(), ss.convolve(x, k, mode).ravel(), atol=1e-12)


def test_conv2d_matrix_block_structure():
    # full mode, kernel 2 x 2, input 3 x 3: a 4 x 3 grid of 4 x 3 blocks,
    # block (r, p) = T_{r-p} (Toeplitz in each row of k) or zero.
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    M = conv2d_matrix(k, (3, 3), "full")
    Ho, H, Wo, W = 4, 3, 4, 3
    blocks = M.reshape(Ho, Wo, H, W).transpose(0, 2, 1, 3)      # blocks[r, p] is (Wo, W)
    T = [np.array([[k[a, c - q] if 0 <= c - q < 2 else 0 for q in range(W)] for c in range(Wo)]) for a in range(2)]
    for r in range(Ho):
        for p in range(H):
            a = r - p
            np.testing.assert_array_equal(blocks[r, p], T[a] if 0 <= a < 2 else 0)


def test_conv2d_matrix_symbolic():
    x, k = image("x", 3, 3), image("k", 2, 2)
    M = conv2d_matrix(k, (3, 3), "full")
    assert isinstance(M, sp.MatrixBase) and M.shape == (16, 9)
    y = conv2d_sum(x, k, padding=1, kind="convolution")          # full = pad by kernel size - 1
    assert_identity(M * x.reshape(9, 1), y.reshape(16, 1), "doubly blocked Toeplitz matrix = 2-D convolution sum")
    M_same = conv2d_matrix(image("k", 3, 3), (3, 3), "same")
    y_same = conv2d_sum(x, image("k", 3, 3), padding=1, kind="convolution")
    assert_identity(M_same * x.reshape(9, 1), y_same.reshape(9, 1), "same mode")


def test_dtypes():
    assert convolution_matrix(np.ones(3, np.float32), 4).dtype == np.float32
    assert conv2d_matrix(np.ones((2, 2), np.float32), (3, 3)).dtype == np.float32
    assert conv2d_matrix(np.ones((2, 2), int), (3, 3), "same").dtype.kind == "i"
    # the dtype of the kernel, exactly, also for the narrow ones NumPy would promote
    w = np.array([True, False, True])
    T = convolution_matrix(w, 4)
    assert T.dtype == bool
    np.testing.assert_array_equal(T, convolution_matrix(w.astype(int), 4).astype(bool))
    assert conv2d_matrix(np.array([[True, False]]), (2, 3)).dtype == bool
    assert convolution_matrix(np.ones(3, np.int8), 4).dtype == np.int8


@pytest.mark.parametrize("call, error, match", [
    (lambda: convolution_matrix(np.ones(4), 5), ValueError, "odd"),
    (lambda: convolution_matrix(np.ones((3, 1)), 5), ValueError, "1-D"),
    (lambda: convolution_matrix(np.ones(3), 0), ValueError, "n must be >= 1"),
    (lambda: convolution_matrix(np.ones(3), 2.5), TypeError, "n must be an int"),
    (lambda: toeplitz_basis(0), ValueError, "n"),
    (lambda: kernel_embedding(3, 7), ValueError, "m <= 2n - 1"),
    (lambda: kernel_embedding(3, 2), ValueError, "odd"),
    (lambda: conv2d_matrix(np.ones(3), (3, 3)), ValueError, "2-D"),
    (lambda: conv2d_matrix(np.ones((2, 2)), (3, 3), "circular"), ValueError, "mode"),
    (lambda: conv2d_matrix(np.ones((2, 2)), (3,)), ValueError, "input_shape"),
    (lambda: conv2d_matrix(np.ones((2, 4)), (3, 3), "valid"), ValueError, "valid"),
    (lambda: convolution_matrix(sp.Matrix(2, 2, sp.symbols("a:4")), 3), ValueError, "vector"),
    (lambda: convolution_matrix(np.ones(3), True), TypeError, "n must be an int, got bool"),
    (lambda: toeplitz_basis(True), TypeError, "n must be an int, got bool"),
    (lambda: kernel_embedding(3, True), TypeError, "m must be an int, got bool"),
    (lambda: convolution_matrix(np.array(["a", "b", "c"]), 3), TypeError, "w must be numeric or SymPy, got dtype <U1"),
    (lambda: conv2d_matrix(np.array([["a"]]), (2, 2)), TypeError, "k must be numeric or SymPy"),
    (lambda: convolution_matrix(np.ones(0), 3), ValueError, r"w must be a non-empty 1-D kernel, got shape \(0,\)"),
    (lambda: conv2d_matrix(np.ones((0, 2)), (3, 3)), ValueError, r"k must be a non-empty 2-D kernel, got shape \(0, 2\)"),
    (lambda: conv2d_matrix([[1, 2], [3]], (2, 2)), ValueError, "k must be a rectangular 2-D kernel"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_T_w_is_convgrads_conv1d_with_flipped_kernel():
    # convgrad (like PyTorch) cross-correlates: T(w) z = conv1d(z, flip(w), padding=P).
    rng = np.random.default_rng(7)
    n, m = 10, 5
    z, w = rng.standard_normal(n), rng.standard_normal(m)
    y = functional.conv1d(z[None, None], w[::-1].copy()[None, None], padding=(m - 1) // 2)[0, 0]
    np.testing.assert_allclose(convolution_matrix(w, n) @ z, y, atol=1e-12)


# --- the matrix of conv2d (cross-correlation, stride, padding, dilation) ---------------

@settings(max_examples=30, deadline=None)
@given(H=st.integers(1, 7), W=st.integers(1, 7), kh=st.integers(1, 3), kw=st.integers(1, 3),
       s=st.tuples(st.integers(1, 3), st.integers(1, 2)), p=st.tuples(st.integers(0, 2), st.integers(0, 1)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 3)), seed=st.integers(0, 2**32 - 1))
def test_conv2d_correlation_matrix_is_conv2d(H, W, kh, kw, s, p, d, seed):
    if d[0] * (kh - 1) + 1 > H + 2 * p[0] or d[1] * (kw - 1) + 1 > W + 2 * p[1]:
        return
    rng = np.random.default_rng(seed)
    k, x = rng.standard_normal((kh, kw)), rng.standard_normal((H, W))
    C = conv2d_correlation_matrix(k, (H, W), stride=s, padding=p, dilation=d)
    y = naive.conv2d(x[None, None], k[None, None], stride=s, padding=p, dilation=d)[0, 0]   # plain loops
    assert C.shape == (y.size, H * W)
    np.testing.assert_allclose(C @ x.ravel(), y.ravel(), atol=1e-12)
    # its transpose is the input gradient (the transposed convolution)
    g = rng.standard_normal(y.shape)
    grad_x, _, _ = naive.conv2d_backward(g[None, None], x[None, None], k[None, None], stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(C.T @ g.ravel(), grad_x[0, 0].ravel(), atol=1e-12)


def test_conv2d_correlation_matrix_small_example_and_symbolic():
    k = image("k", 2, 2)
    C = conv2d_correlation_matrix(k, (3, 3))
    k11, k12, k21, k22 = k
    assert C.shape == (4, 9)
    assert list(C[0, :]) == [k11, k12, 0, k21, k22, 0, 0, 0, 0]
    assert list(C[3, :]) == [0, 0, 0, 0, k11, k12, 0, k21, k22]
    x = image("x", 4, 5)
    kernel3 = image("k", 3, 2)
    for opts in [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(0, 1), dilation=(1, 2))]:
        C = conv2d_correlation_matrix(kernel3, (4, 5), **opts)
        y = conv2d_sum(x, kernel3, **opts)
        assert_identity(C * sp.Matrix(list(x)), sp.Matrix(list(y)), f"C vec_rows(x) = conv2d_sum for {opts}")


def test_conv2d_correlation_matrix_with_padding_equals_same_convolution_matrix():
    # a same-padded correlation with k is the same-mode convolution with k turned by 180 degrees
    rng = np.random.default_rng(8)
    k = rng.standard_normal((3, 3))
    np.testing.assert_allclose(conv2d_correlation_matrix(k, (4, 5), padding=1),
                               conv2d_matrix(k[::-1, ::-1].copy(), (4, 5), "same"), atol=0)
    assert conv2d_correlation_matrix(np.ones((2, 2), int), (3, 3)).dtype.kind == "i"


@pytest.mark.parametrize("call, error, match", [
    (lambda: conv2d_correlation_matrix(np.ones((3, 3)), (2, 2)), ValueError, "larger than the input"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), (3, 3), dilation=3), ValueError, "dilation"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), (3, 3), stride=0), ValueError, "stride must be >= 1"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), (3, 3), padding=-1), ValueError, "padding must be >= 0"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), (3, 3), padding=(1, 1, 1)), ValueError, "padding must be an int or a pair"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), (3, 3), stride=True), ValueError, "stride must be an int or a pair"),
    (lambda: conv2d_correlation_matrix(np.ones(2), (3, 3)), ValueError, "2-D"),
    (lambda: conv2d_correlation_matrix(np.ones((2, 2)), 3), ValueError, "input_shape"),
])
def test_conv2d_correlation_matrix_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
