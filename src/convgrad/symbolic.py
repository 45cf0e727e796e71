"""SymPy builders and the assertion helper used by the chapters' check cells.

A check cell states an identity, builds both sides from symbolic entries, and
calls :func:`assert_identity`. The helper raises ``AssertionError`` (so the
notebook, and therefore the test suite, fails) unless ``lhs - rhs`` simplifies
to exactly zero, and prints one line saying what was proved.

The builders make symbolic inputs with 1-indexed names, as in the maths:
:func:`signal` and :func:`kernel` give column vectors ``z_1 .. z_n`` and
:func:`image` gives a matrix of ``x_{i,j}`` (rendered :math:`x_{i,j}`). All
symbols are declared real, since the course's signals are. :func:`conv1d_sum`
and :func:`conv2d_sum` write the convolution sums straight from their
definitions, one loop per index, with no NumPy and no matrices: they are the
independent reference the chapters compare everything else against.
"""

from numbers import Integral

import numpy as np
import sympy as sp

__all__ = ["assert_identity", "vec", "signal", "kernel", "image", "conv1d_sum", "conv2d_sum"]


def _residual(lhs, rhs):
    """``lhs - rhs`` expanded and simplified (entry by entry for matrices)."""
    diff = lhs - rhs
    return diff.applyfunc(_simplify_to_zero) if _is_matrix(diff) else _simplify_to_zero(diff)


def _simplify_to_zero(expr):
    # expand() settles every polynomial identity exactly; simplify() is the
    # slower fallback for the rare entry that expand leaves non-zero.
    expr = sp.expand(expr)
    return expr if expr == 0 else sp.simplify(expr)


def _is_matrix(obj):
    return isinstance(obj, (sp.MatrixBase, sp.matrices.expressions.MatrixExpr))


def assert_identity(lhs, rhs, claim):
    """Assert that ``lhs == rhs`` holds identically and print ``claim``.

    lhs, rhs: SymPy expressions, or matrices of the same shape.
    claim:    one line saying what the identity is, printed on success.

    Raises ``ValueError`` if the shapes differ and ``AssertionError`` naming
    the claim and the first entries that differ if ``lhs - rhs`` does not
    simplify to zero.
    """
    if _is_matrix(lhs) != _is_matrix(rhs):
        raise ValueError(f"cannot compare a matrix with a scalar while checking: {claim}")
    if _is_matrix(lhs):
        lhs, rhs = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs.shape != rhs.shape:
            raise ValueError(f"shapes differ, lhs {lhs.shape} vs rhs {rhs.shape}, while checking: {claim}")
        residual = _residual(lhs, rhs)
        wrong = [(i, j, residual[i, j]) for i in range(residual.rows)
                 for j in range(residual.cols) if residual[i, j] != 0]
        if wrong:
            shown = "; ".join(f"entry ({i}, {j}) differs by {d}" for i, j, d in wrong[:3])
            raise AssertionError(f"FAILED: {claim}: {len(wrong)} of {lhs.rows * lhs.cols} entries differ ({shown})")
    else:
        residual = _residual(sp.sympify(lhs), sp.sympify(rhs))
        if residual != 0:
            raise AssertionError(f"FAILED: {claim}: lhs - rhs = {residual}")
    print(f"verified: {claim}")


def vec(matrix):
    """Stack the columns of ``matrix`` into one column: vec(A)[i + j*rows] = A[i, j].

    matrix: (rows, cols) SymPy matrix -> (rows*cols, 1).
    """
    matrix = sp.Matrix(matrix)
    return sp.Matrix([matrix[i, j] for j in range(matrix.cols) for i in range(matrix.rows)])


def signal(name, n):
    """A column of real symbols named like the maths: ``{name}_1 .. {name}_n``.

    Parameters
    ----------
    name : str
        The letter, e.g. ``"z"`` (LaTeX is allowed: ``r"\\hat{z}"``).
    n : int >= 1

    Returns
    -------
    SymPy Matrix ``(n, 1)``; entry ``i`` (0-indexed) is the symbol ``{name}_{i+1}``.

    Raises
    ------
    ValueError
        ``n`` is not an int >= 1.
    """
    n = _count(n, "n")
    return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True) for i in range(1, n + 1)])


def kernel(name, m):
    """A column of real symbols ``{name}_1 .. {name}_m``: :func:`signal` under the kernel's name.

    Returns a SymPy Matrix ``(m, 1)``; raises ``ValueError`` unless ``m`` is an int >= 1.
    """
    return signal(name, m)


def image(name, H, W):
    """A matrix of real symbols ``{name}_{i,j}``, 1-indexed.

    Parameters
    ----------
    name : str
    H, W : int >= 1

    Returns
    -------
    SymPy Matrix ``(H, W)``; entry ``[i, j]`` (0-indexed) is the symbol named
    ``"{name}_{i+1,j+1}"`` with the braces, e.g. ``x_{1,2}``, which LaTeX renders
    as :math:`x_{1,2}` and which stays unambiguous past 9 (``x_{12,3}``).

    Raises
    ------
    ValueError
        ``H`` or ``W`` is not an int >= 1.
    """
    H, W = _count(H, "H"), _count(W, "W")
    return sp.Matrix(H, W, lambda i, j: sp.Symbol(f"{name}_{{{i + 1},{j + 1}}}", real=True))


def conv1d_sum(z, w, padding=0, stride=1, kind="correlation"):
    """A 1-D convolution written as its sum, entry by entry, for symbolic (or numeric) inputs.

    With 1-indexed maths, ``p`` zeros on each side (``zp_j = z_{j-p}`` for
    ``p < j <= n + p``, else 0) and stride ``s``:

    * ``kind="correlation"`` (what convgrad and PyTorch compute):
      ``y_i = sum_{b=1..m} w_b zp_{(i-1)s + b}``
    * ``kind="convolution"`` (the kernel flipped):
      ``y_i = sum_{b=1..m} w_b zp_{(i-1)s + m + 1 - b}``

    for ``i = 1 .. floor((n + 2p - m)/s) + 1``. With ``p = P = (m-1)/2``,
    ``s = 1`` and ``kind="convolution"`` this is ``y_i = sum_b w_b z_{i-b+P+1}``,
    i.e. ``T(w) z`` of chapter 4.

    Parameters
    ----------
    z : SymPy Matrix ``(n, 1)`` or ``(1, n)``, list or 1-D array
    w : same, length ``m``
    padding : int >= 0
    stride : int >= 1
    kind : {"correlation", "convolution"}

    Returns
    -------
    y : SymPy Matrix ``(n_out, 1)``

    Raises
    ------
    ValueError
        ``z``/``w`` not vectors, bad padding/stride, unknown ``kind``, or the
        kernel longer than the padded signal.
    """
    z, w = _entries(z, 1, "z"), _entries(w, 1, "w")
    (p,), (s,) = _pair(padding, 1, "padding", 0), _pair(stride, 1, "stride", 1)
    n, m = len(z), len(w)
    flip = _flip(kind)
    n_out = _out_size(n, m, p, s, "z", "w")

    def zp(j):  # the zero-padded signal, 1-indexed
        return z[j - p - 1] if 1 <= j - p <= n else 0

    y = []
    for i in range(1, n_out + 1):
        if flip:
            y.append(sum((w[b - 1] * zp((i - 1) * s + m + 1 - b) for b in range(1, m + 1)), sp.S.Zero))
        else:
            y.append(sum((w[b - 1] * zp((i - 1) * s + b) for b in range(1, m + 1)), sp.S.Zero))
    return sp.Matrix(y)


def conv2d_sum(x, k, padding=0, stride=1, kind="correlation"):
    """A 2-D convolution written as its double sum, entry by entry.

    1-indexed, zero padding ``xp`` (``ph`` rows and ``pw`` columns of zeros on
    each side), strides ``(sh, sw)``, kernel ``kh x kw``:

    * ``kind="correlation"``:
      ``y_{i,j} = sum_{a=1..kh} sum_{b=1..kw} k_{a,b} xp_{(i-1)sh + a, (j-1)sw + b}``
    * ``kind="convolution"`` (kernel turned by 180 degrees):
      ``y_{i,j} = sum_{a,b} k_{a,b} xp_{(i-1)sh + kh + 1 - a, (j-1)sw + kw + 1 - b}``

    Parameters
    ----------
    x : SymPy Matrix ``(H, W)``, nested list or 2-D array
    k : same, ``(kh, kw)``
    padding : int or (ph, pw), >= 0
    stride : int or (sh, sw), >= 1
    kind : {"correlation", "convolution"}

    Returns
    -------
    y : SymPy Matrix ``(Ho, Wo)``, ``Ho = floor((H + 2ph - kh)/sh) + 1``, likewise ``Wo``.

    Raises
    ------
    ValueError
        ``x``/``k`` not 2-D, bad padding/stride, unknown ``kind``, or the
        kernel larger than the padded input.
    """
    x, k = _entries(x, 2, "x"), _entries(k, 2, "k")
    (ph, pw), (sh, sw) = _pair(padding, 2, "padding", 0), _pair(stride, 2, "stride", 1)
    (H, W), (kh, kw) = x.shape, k.shape
    flip = _flip(kind)
    Ho, Wo = _out_size(H, kh, ph, sh, "x", "k"), _out_size(W, kw, pw, sw, "x", "k")

    def xp(r, c):  # the zero-padded image, 1-indexed
        return x[r - ph - 1, c - pw - 1] if 1 <= r - ph <= H and 1 <= c - pw <= W else 0

    def y(i, j):
        terms = []
        for a in range(1, kh + 1):
            for b in range(1, kw + 1):
                if flip:
                    terms.append(k[a - 1, b - 1] * xp((i - 1) * sh + kh + 1 - a, (j - 1) * sw + kw + 1 - b))
                else:
                    terms.append(k[a - 1, b - 1] * xp((i - 1) * sh + a, (j - 1) * sw + b))
        return sum(terms, sp.S.Zero)

    return sp.Matrix(Ho, Wo, lambda i, j: y(i + 1, j + 1))


def _entries(a, ndim, name):
    """Vector (ndim=1: a list) or matrix (ndim=2: a SymPy Matrix) of SymPy entries."""
    if isinstance(a, sp.MatrixBase):
        if ndim == 1:
            if 1 not in a.shape or a.rows * a.cols == 0:
                raise ValueError(f"{name} must be a vector, got a Matrix of shape {a.shape}")
            return list(a)
        if a.rows * a.cols == 0:
            raise ValueError(f"{name} must not be empty, got a Matrix of shape {a.shape}")
        return sp.Matrix(a)
    # lists and NumPy arrays: the nesting depth is the ndim
    arr = np.array(a, dtype=object)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array or Matrix, got shape {arr.shape}")
    if ndim == 1:
        return [sp.sympify(e) for e in arr]
    return sp.Matrix(arr.shape[0], arr.shape[1], lambda i, j: sp.sympify(arr[i, j]))


def _is_int(v):
    return isinstance(v, Integral) and not isinstance(v, bool)


def _pair(value, count, name, minimum):
    values = (value,) * count if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or len(values) != count or not all(_is_int(v) for v in values):
        raise ValueError(f"{name} must be an int or a tuple of {count} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _flip(kind):
    if kind not in ("correlation", "convolution"):
        raise ValueError(f"kind must be 'correlation' or 'convolution', got {kind!r}")
    return kind == "convolution"


def _out_size(n, m, p, s, input_name, kernel_name):
    if m > n + 2 * p:
        raise ValueError(f"{kernel_name} (size {m}) is larger than the padded {input_name} (size {n} + 2*{p})")
    return (n + 2 * p - m) // s + 1


def _count(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)
