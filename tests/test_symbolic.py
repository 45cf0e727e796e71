"""convgrad.symbolic: the assertion helper and the symbolic convolution sums."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from convgrad import naive
from convgrad.signal import convolve, correlate
from convgrad.symbolic import (assert_identity, conv1d_sum, conv2d_channels_sum, conv2d_sum, dilate, image, images,
                               kernel, kernels, signal, vec)
from convgrad.toeplitz import convolution_matrix


def numeric(matrix):
    return np.array(matrix.tolist(), dtype=float)


def substitute(expr, *symbolic_and_values):
    mapping = {}
    for symbols, values in symbolic_and_values:
        mapping.update(zip(list(symbols), np.ravel(values).tolist()))
    return expr.subs(mapping)


# --- assert_identity ---------------------------------------------------------------

def test_assert_identity_accepts_vec_kronecker_identity(capsys):
    A, X, B = image("a", 2, 3), image("x", 3, 2), image("b", 2, 2)
    assert_identity(vec(A * X * B), sp.kronecker_product(B.T, A) * vec(X), "vec(AXB) = (B^T kron A) vec(X)")
    assert capsys.readouterr().out.strip() == "verified: vec(AXB) = (B^T kron A) vec(X)"


def test_assert_identity_rejects_transpose_slip():
    A, X, B = image("a", 2, 3), image("x", 3, 2), image("b", 2, 2)
    with pytest.raises(AssertionError, match="FAILED: wrong"):
        assert_identity(vec(A * X * B), sp.kronecker_product(B, A) * vec(X), "wrong")


def test_assert_identity_scalars_and_shapes():
    a, b = sp.symbols("a b")
    assert_identity((a + b) ** 2, a**2 + 2 * a * b + b**2, "binomial")
    with pytest.raises(AssertionError):
        assert_identity((a + b) ** 2, a**2 + b**2, "freshman's dream")
    with pytest.raises(ValueError, match="shapes differ"):
        assert_identity(signal("z", 2), signal("z", 3), "shapes")


def test_assert_identity_simplifies_beyond_expand():
    a = sp.Symbol("a", real=True)
    assert_identity(sp.sin(a) ** 2 + sp.cos(a) ** 2, 1, "Pythagoras")
    assert_identity(sp.Matrix([[sp.exp(2 * a), 1]]), sp.Matrix([[sp.exp(a) ** 2, sp.cos(a) ** 2 + sp.sin(a) ** 2]]),
                    "entrywise")
    with pytest.raises(AssertionError, match="FAILED: off by one"):
        assert_identity(sp.sin(a) ** 2 + sp.cos(a) ** 2, 2, "off by one")


def test_assert_identity_matrix_expressions():
    A, B = image("a", 2, 2), image("b", 2, 2)
    assert_identity(sp.BlockMatrix([[A, B]]), A.row_join(B), "a block matrix is its blocks side by side")
    X = sp.MatrixSymbol("X", 2, 2)
    assert_identity(X.T.T, X, "transposing twice")


def test_assert_identity_matrix_against_scalar():
    z = signal("z", 1)
    for lhs, rhs in [(z, z[0]), (z[0], z)]:
        with pytest.raises(ValueError, match="cannot compare a matrix with a scalar while checking: mixed"):
            assert_identity(lhs, rhs, "mixed")


def test_assert_identity_refuses_a_check_that_cannot_fail():
    A, X = image("a", 2, 3), image("x", 3, 2)
    a, b = sp.symbols("a b", real=True)
    product = A * X
    with pytest.raises(ValueError, match="same MutableDenseMatrix object, so the check cannot fail: one object"):
        assert_identity(product, product, "one object")
    with pytest.raises(ValueError, match="same string 'a\\*b', so the check cannot fail: strings"):
        assert_identity("a*b", "a*b", "strings")
    with pytest.raises(ValueError, match=r"same expression, vec\(A \* X\), so the check cannot fail: source"):
        assert_identity(vec(A * X),
                        vec(A * X), "source")
    with pytest.raises(ValueError, match="same expression, a \\+ b, so the check cannot fail: keywords"):
        assert_identity(lhs=a + b, rhs=a + b, claim="keywords")
    # two calls on one line: the guard looks at the one that runs
    checks = [lambda: assert_identity(a * b, b * a, "commutes"), lambda: assert_identity(a * b, a * b, "twice")]
    checks[0]()
    with pytest.raises(ValueError, match="cannot fail: twice"):
        checks[1]()


def test_assert_identity_guard_lets_independent_sides_through(capsys):
    a, b = sp.symbols("a b", real=True)
    # SymPy caches expressions, so independently built equal scalars can be one object: allowed
    lhs, rhs = sp.expand((a + b) * (a - b)), a**2 - b**2
    assert lhs is rhs
    assert_identity(lhs, rhs, "(a + b)(a - b) = a^2 - b^2")
    assert_identity(sp.Integer(3) ** 2, 9, "nine")

    def check(left, right):        # the same names inside a helper, different expressions at the call
        assert_identity(left, right, "helper")

    A = image("a", 3, 2)
    check(vec(A), sp.Matrix.vstack(A[:, 0], A[:, 1]))
    assert capsys.readouterr().out.splitlines() == ["verified: (a + b)(a - b) = a^2 - b^2", "verified: nine",
                                                    "verified: helper"]
    with pytest.raises(AssertionError, match="FAILED: still checked"):   # the guard does not replace the check
        assert_identity(a + b, a - b, "still checked")


def test_vec_stacks_columns():
    M = sp.Matrix([[1, 2], [3, 4]])
    assert vec(M) == sp.Matrix([1, 3, 2, 4])


# --- builders --------------------------------------------------------------------------

def test_builders_names_and_shapes():
    z = signal("z", 3)
    assert z.shape == (3, 1) and [s.name for s in z] == ["z_1", "z_2", "z_3"]
    assert all(s.is_real for s in z)
    assert kernel("w", 2) == sp.Matrix(sp.symbols("w_1 w_2", real=True))
    x = image("x", 2, 3)
    assert x.shape == (2, 3) and x[0, 1].name == "x_{1,2}" and x[1, 2].name == "x_{2,3}"
    assert sp.latex(x[0, 1]) == "x_{1,2}"
    for bad in [lambda: signal("z", 0), lambda: image("x", 2, 0), lambda: kernel("w", 1.5),
                lambda: signal("z", True), lambda: image("x", 2, True)]:
        with pytest.raises(ValueError, match="must be an int >= 1"):
            bad()


def test_conv1d_sum_by_hand():
    z, w = signal("z", 4), kernel("w", 2)
    z1, z2, z3, z4 = z
    w1, w2 = w
    assert conv1d_sum(z, w) == sp.Matrix([w1 * z1 + w2 * z2, w1 * z2 + w2 * z3, w1 * z3 + w2 * z4])
    assert conv1d_sum(z, w, kind="convolution") == sp.Matrix([w2 * z1 + w1 * z2, w2 * z2 + w1 * z3, w2 * z3 + w1 * z4])
    assert conv1d_sum(z, w, padding=1, stride=2) == sp.Matrix([w2 * z1, w1 * z2 + w2 * z3, w1 * z4])
    # a kernel longer than the signal still fits once padded on both sides (m = n + 2p)
    w = kernel("w", 3)
    assert conv1d_sum(z[:1, :], w, padding=1) == sp.Matrix([w[1] * z1])
    x = image("x", 1, 1)
    assert conv2d_sum(x, image("k", 3, 3), padding=1) == sp.Matrix([[sp.Symbol("k_{2,2}", real=True) * x[0, 0]]])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 7), m=st.integers(1, 5), p=st.integers(0, 2), s=st.integers(1, 3),
       kind=st.sampled_from(["correlation", "convolution"]), seed=st.integers(0, 2**32 - 1))
def test_conv1d_sum_matches_numeric(n, m, p, s, kind, seed):
    if m > n + 2 * p:
        return
    rng = np.random.default_rng(seed)
    zv, wv = rng.standard_normal(n), rng.standard_normal(m)
    z, w = signal("z", n), kernel("w", m)
    y = numeric(substitute(conv1d_sum(z, w, padding=p, stride=s, kind=kind), (z, zv), (w, wv)))[:, 0]
    op = correlate if kind == "correlation" else convolve
    expected = op(np.pad(zv, p), wv, "valid")[::s]
    np.testing.assert_allclose(y, expected, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(H=st.integers(1, 5), W=st.integers(1, 5), kh=st.integers(1, 3), kw=st.integers(1, 3),
       p=st.tuples(st.integers(0, 1), st.integers(0, 2)), s=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       kind=st.sampled_from(["correlation", "convolution"]), seed=st.integers(0, 2**32 - 1))
def test_conv2d_sum_matches_numeric(H, W, kh, kw, p, s, kind, seed):
    if kh > H + 2 * p[0] or kw > W + 2 * p[1]:
        return
    rng = np.random.default_rng(seed)
    xv, kv = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
    x, k = image("x", H, W), image("k", kh, kw)
    y = numeric(substitute(conv2d_sum(x, k, padding=p, stride=s, kind=kind), (x, xv), (k, kv)))
    op = correlate if kind == "correlation" else convolve
    expected = op(np.pad(xv, [(p[0], p[0]), (p[1], p[1])]), kv, "valid")[::s[0], ::s[1]]
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_sums_accept_numbers():
    y = conv2d_sum(np.arange(9).reshape(3, 3), [[1, 0], [0, -1]])
    assert y == sp.Matrix([[-4, -4], [-4, -4]])
    assert conv1d_sum([1, 2, 3], [1, 1]) == sp.Matrix([3, 5])
    # rectangular input, different padding and stride per axis
    x, k = np.arange(12).reshape(3, 4), np.array([[1, 2], [3, 5]])
    expected = correlate(np.pad(x, [(1, 1), (0, 0)]), k, "valid")[::2, ::1]
    assert conv2d_sum(x, k, padding=(1, 0), stride=(2, 1)) == sp.Matrix(expected)
    expected = correlate(np.pad(x, [(0, 0), (1, 1)]), k, "valid")[::1, ::3]
    assert conv2d_sum(x, k, padding=(0, 1), stride=(1, 3)) == sp.Matrix(expected)


def test_convolution_sum_equals_toeplitz_product():
    for n, m in [(5, 3), (4, 5), (6, 1)]:
        z, w = signal("z", n), kernel("w", m)
        assert_identity(conv1d_sum(z, w, padding=(m - 1) // 2, kind="convolution"), convolution_matrix(w, n) * z,
                        f"same-padded convolution sum = T(w) z for n={n}, m={m}")


def test_correlation_and_convolution_differ_by_a_flip():
    z, w = signal("z", 5), kernel("w", 3)
    flipped = sp.Matrix(list(w)[::-1])
    assert_identity(conv1d_sum(z, w, kind="convolution"), conv1d_sum(z, flipped, kind="correlation"), "flip")
    with pytest.raises(AssertionError):
        assert_identity(conv1d_sum(z, w, kind="convolution"), conv1d_sum(z, w, kind="correlation"), "no flip")
    x, k = image("x", 3, 4), image("k", 2, 2)
    assert_identity(conv2d_sum(x, k, kind="convolution"), conv2d_sum(x, k[::-1, ::-1], kind="correlation"),
                    "2-D convolution = correlation with the kernel turned by 180 degrees")


@pytest.mark.parametrize("call, match", [
    (lambda: conv1d_sum(signal("z", 2), kernel("w", 3)), "larger than the padded"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 3), stride=0), "stride"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 3), padding=-1), "padding"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 3), kind="conv"), "kind"),
    (lambda: conv1d_sum(image("z", 2, 2), kernel("w", 1)), "vector"),
    (lambda: conv2d_sum(image("x", 3, 3), image("k", 2, 2), padding=(1, 1, 1)), "padding"),
    (lambda: conv2d_sum(image("x", 3, 3), list(kernel("k", 2))), "2-D"),
    (lambda: conv2d_sum(image("x", 2, 2), image("k", 3, 1)), "larger than the padded"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 3), padding=True), "padding must be an int or a tuple of 1 ints, got True"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 3), stride=True), "stride must be an int"),
    (lambda: conv2d_sum(image("x", 3, 3), image("k", 2, 2), stride=(1, True)), r"stride must be .*got \(1, True\)"),
    (lambda: conv1d_sum(signal("z", 3), sp.zeros(0, 1)), r"w must be a vector, got a Matrix of shape \(0, 1\)"),
    (lambda: conv1d_sum(sp.zeros(1, 0), kernel("w", 1), padding=1), r"z must be a vector, got a Matrix of shape \(1, 0\)"),
    (lambda: conv1d_sum([], kernel("w", 1), padding=1), r"z must be a non-empty 1-D array or Matrix, got shape \(0,\)"),
    (lambda: conv2d_sum(image("x", 3, 3), sp.zeros(0, 2)), r"k must not be empty, got a Matrix of shape \(0, 2\)"),
    (lambda: conv2d_sum(sp.zeros(2, 0), image("k", 1, 1), padding=1), r"x must not be empty, got a Matrix of shape \(2, 0\)"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- dilation, channels, zero-stuffing ------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(H=st.integers(1, 6), W=st.integers(1, 6), kh=st.integers(1, 3), kw=st.integers(1, 3),
       p=st.tuples(st.integers(0, 1), st.integers(0, 2)), s=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       d=st.tuples(st.integers(1, 3), st.integers(1, 2)),
       kind=st.sampled_from(["correlation", "convolution"]), seed=st.integers(0, 2**32 - 1))
def test_conv2d_sum_with_dilation_matches_naive_conv2d(H, W, kh, kw, p, s, d, kind, seed):
    # the reference is convgrad.naive.conv2d, plain loops over PyTorch's definition
    if d[0] * (kh - 1) + 1 > H + 2 * p[0] or d[1] * (kw - 1) + 1 > W + 2 * p[1]:
        return
    rng = np.random.default_rng(seed)
    xv, kv = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
    x, k = image("x", H, W), image("k", kh, kw)
    y = numeric(substitute(conv2d_sum(x, k, padding=p, stride=s, dilation=d, kind=kind), (x, xv), (k, kv)))
    weight = kv if kind == "correlation" else kv[::-1, ::-1].copy()
    expected = naive.conv2d(xv[None, None], weight[None, None], stride=s, padding=p, dilation=d)[0, 0]
    np.testing.assert_allclose(y, expected, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 4), p=st.integers(0, 2), s=st.integers(1, 3), d=st.integers(1, 3),
       kind=st.sampled_from(["correlation", "convolution"]), seed=st.integers(0, 2**32 - 1))
def test_conv1d_sum_with_dilation_matches_naive_conv1d(n, m, p, s, d, kind, seed):
    if d * (m - 1) + 1 > n + 2 * p:
        return
    rng = np.random.default_rng(seed)
    zv, wv = rng.standard_normal(n), rng.standard_normal(m)
    z, w = signal("z", n), kernel("w", m)
    y = numeric(substitute(conv1d_sum(z, w, padding=p, stride=s, dilation=d, kind=kind), (z, zv), (w, wv)))[:, 0]
    weight = wv if kind == "correlation" else wv[::-1].copy()
    expected = naive.conv1d(zv[None, None], weight[None, None], stride=s, padding=p, dilation=d)[0, 0]
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_dilated_kernel_is_the_zero_stuffed_kernel():
    x, k = image("x", 6, 7), image("k", 2, 3)
    assert_identity(conv2d_sum(x, k, dilation=(2, 3)), conv2d_sum(x, dilate(k, (2, 3))),
                    "dilation d = the kernel zero-stuffed by d at dilation 1")
    with pytest.raises(AssertionError):
        assert_identity(conv2d_sum(x, k, dilation=2)[:2, :2], conv2d_sum(x, k, padding=0)[:2, :2], "no dilation")


def test_images_and_kernels_names_and_shapes():
    x = images("x", 2, 3, 4)
    assert len(x) == 2 and x[0].shape == (3, 4)
    assert x[1][0, 2] == sp.Symbol("x_{2,1,3}", real=True)
    w = kernels("w", 3, 2, 2, 1)
    assert len(w) == 3 and all(len(row) == 2 for row in w) and w[0][0].shape == (2, 1)
    assert w[2][1][1, 0] == sp.Symbol("w_{3,2,2,1}", real=True)
    everything = set().union(*(m.free_symbols for m in x)) | set().union(*(m.free_symbols for row in w for m in row))
    assert len(everything) == 2 * 3 * 4 + 3 * 2 * 2 * 1   # all distinct


def test_conv2d_channels_sum_matches_conv2d():
    rng = np.random.default_rng(3)
    C_in, C_out, H, W, kh, kw = 2, 3, 5, 4, 3, 2
    xv, wv = rng.standard_normal((C_in, H, W)), rng.standard_normal((C_out, C_in, kh, kw))
    x, w = images("x", C_in, H, W), kernels("w", C_out, C_in, kh, kw)
    y = conv2d_channels_sum(x, w, padding=1, stride=(2, 1))
    values = {**dict(zip([e for m in x for e in m], xv.ravel())),
              **dict(zip([e for row in w for m in row for e in m], wv.ravel()))}
    got = np.array([numeric(y_o.subs(values)) for y_o in y])
    expected = naive.conv2d(xv[None], wv, padding=1, stride=(2, 1))[0]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_dilate_places_entries_on_a_grid():
    M = image("m", 2, 3)
    D = dilate(M, (3, 2))
    assert D.shape == (4, 5)
    assert [D[i, j] for i in (0, 3) for j in (0, 2, 4)] == list(M)
    assert sum(1 for e in D if e != 0) == 6
    assert dilate([[1, 2], [3, 4]], 1) == sp.Matrix([[1, 2], [3, 4]])
    # numerically: a stride-2 correlation's weight gradient is a correlation with the dilated upstream
    rng = np.random.default_rng(4)
    xv, kv = rng.standard_normal((1, 1, 7, 6)), rng.standard_normal((1, 1, 3, 2))
    g = rng.standard_normal(naive.conv2d(xv, kv, stride=2).shape)
    _, grad_w, _ = naive.conv2d_backward(g, xv, kv, stride=2)
    stuffed = numeric(dilate(g[0, 0], 2))
    np.testing.assert_allclose(correlate(xv[0, 0], stuffed, "valid")[:3, :2], grad_w[0, 0], atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: conv2d_sum(image("x", 4, 4), image("k", 3, 3), dilation=2), r"dilation 2, span 5\) is larger than the padded"),
    (lambda: conv2d_sum(image("x", 4, 4), image("k", 2, 2), dilation=0), "dilation must be >= 1"),
    (lambda: conv1d_sum(signal("z", 4), kernel("w", 2), dilation=(1, 2)), "dilation must be an int or a tuple of 1"),
    (lambda: images("x", 0, 2, 2), "C must be an int >= 1"),
    (lambda: kernels("w", 1, 2, 0, 1), "kh must be an int >= 1"),
    (lambda: conv2d_channels_sum([], [[image("k", 1, 1)]]), "x must be a non-empty list"),
    (lambda: conv2d_channels_sum(images("x", 2, 2, 2), [[image("k", 1, 1)]]), r"w\[0\] must hold one kernel per input channel \(C_in = 2\), got 1"),
    (lambda: conv2d_channels_sum(images("x", 1, 2, 2), image("k", 1, 1)), "w must be a non-empty list"),
    (lambda: dilate(image("m", 2, 2), 0), "stride must be >= 1"),
    (lambda: dilate([1, 2], 2), "matrix must be a non-empty 2-D"),
])
def test_new_builders_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
