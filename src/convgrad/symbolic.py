"""SymPy builders and the assertion helper used by the chapters' check cells.

A check cell states an identity, builds both sides from symbolic entries, and
calls :func:`assert_identity`. The helper raises ``AssertionError`` (so the
notebook, and therefore the test suite, fails) unless ``lhs - rhs`` simplifies
to exactly zero, and prints one line saying what was proved.

The builders make symbolic inputs with 1-indexed names, as in the maths:
:func:`signal` and :func:`kernel` give column vectors ``z_1 .. z_n`` and
:func:`image` gives a matrix of ``x_{i,j}`` (rendered :math:`x_{i,j}`);
:func:`images` and :func:`kernels` give the channels of an input and the
kernels of a layer. All symbols are declared real, since the course's signals
are. :func:`conv1d_sum`, :func:`conv2d_sum` and :func:`conv2d_channels_sum`
write the convolution sums straight from their definitions, one loop per
index, with no NumPy and no matrices: they are the independent reference the
chapters compare everything else against. :func:`dilate` inserts zeros
between the entries of a matrix, the step a strided backward pass needs.
"""

import numpy as np
import sympy as sp

from ._args import _int_tuple, _is_int, _output_size
from ._identity_guard import refuse_a_check_that_cannot_fail

__all__ = ["assert_identity", "vec", "signal", "kernel", "image", "images", "kernels",
           "conv1d_sum", "conv2d_sum", "conv2d_channels_sum", "dilate"]


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

    Raises ``ValueError`` ("... so the check cannot fail") for a check that
    passes whatever the mathematics says: the two sides are one and the same
    object (a matrix, a string, any non-SymPy value), the same string, or the
    same expression in the calling source (``assert_identity(e, e, ...)``,
    ``assert_identity(f(x), f(x), ...)``). Two SymPy scalars may be one object
    although they were built independently (SymPy caches its expressions), so
    for them only the source is compared.
    """
    refuse_a_check_that_cannot_fail(lhs, rhs, claim)
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


def images(name, C, H, W):
    """The C channels of a symbolic input: a list of ``(H, W)`` matrices of ``{name}_{c,i,j}``.

    All three indices are 1-indexed in the names: entry ``[i, j]`` of item ``c``
    (0-indexed) is the symbol ``{name}_{c+1,i+1,j+1}``, so ``images("x", 2, 2, 2)[1][0, 1]``
    is ``x_{2,1,2}``. Raises ``ValueError`` unless ``C``, ``H``, ``W`` are ints >= 1.
    """
    C, H, W = _count(C, "C"), _count(H, "H"), _count(W, "W")
    return [sp.Matrix(H, W, lambda i, j, c=c: sp.Symbol(f"{name}_{{{c + 1},{i + 1},{j + 1}}}", real=True))
            for c in range(C)]


def kernels(name, C_out, C_in, kh, kw):
    """The weights of a symbolic layer: ``w[o][c]`` is a ``(kh, kw)`` matrix of ``{name}_{o,c,a,b}``.

    A nested list, ``C_out`` lists of ``C_in`` matrices, indexed like a PyTorch
    weight ``(C_out, C_in, kh, kw)``; the names are 1-indexed, so
    ``kernels("w", 2, 2, 3, 3)[0][1][2, 0]`` is ``w_{1,2,3,1}``. Raises
    ``ValueError`` unless every size is an int >= 1.
    """
    C_out, C_in = _count(C_out, "C_out"), _count(C_in, "C_in")
    kh, kw = _count(kh, "kh"), _count(kw, "kw")

    def entry(o, c, a, b):
        return sp.Symbol(f"{name}_{{{o + 1},{c + 1},{a + 1},{b + 1}}}", real=True)

    return [[sp.Matrix(kh, kw, lambda a, b, o=o, c=c: entry(o, c, a, b)) for c in range(C_in)] for o in range(C_out)]


def conv1d_sum(z, w, padding=0, stride=1, dilation=1, kind="correlation"):
    """A 1-D convolution written as its sum, entry by entry, for symbolic (or numeric) inputs.

    With 1-indexed maths, ``p`` zeros on each side (``zp_j = z_{j-p}`` for
    ``p < j <= n + p``, else 0), stride ``s`` and dilation ``d``:

    * ``kind="correlation"`` (what convgrad and PyTorch compute):
      ``y_i = sum_{b=1..m} w_b zp_{(i-1)s + (b-1)d + 1}``
    * ``kind="convolution"`` (the kernel flipped):
      ``y_i = sum_{b=1..m} w_{m+1-b} zp_{(i-1)s + (b-1)d + 1}``

    for ``i = 1 .. floor((n + 2p - d(m-1) - 1)/s) + 1``. For ``d = 1`` these are
    ``sum_b w_b zp_{(i-1)s + b}`` and ``sum_b w_b zp_{(i-1)s + m + 1 - b}``. With ``p = P = (m-1)/2``,
    ``s = 1`` and ``kind="convolution"`` this is ``y_i = sum_b w_b z_{i-b+P+1}``,
    i.e. ``T(w) z`` of chapter 4.

    Parameters
    ----------
    z : SymPy Matrix ``(n, 1)`` or ``(1, n)``, list or 1-D array
    w : same, length ``m``
    padding : int >= 0
    stride : int >= 1
    dilation : int >= 1
        Spacing between the kernel's taps (``d - 1`` skipped samples between them).
    kind : {"correlation", "convolution"}

    Returns
    -------
    y : SymPy Matrix ``(n_out, 1)``

    Raises
    ------
    ValueError
        ``z``/``w`` not vectors, bad padding/stride/dilation, unknown ``kind``,
        or the (dilated) kernel longer than the padded signal.
    """
    z, w = _entries(z, 1, "z"), _entries(w, 1, "w")
    (p,), (s,) = _int_tuple(padding, 1, "padding", 0), _int_tuple(stride, 1, "stride", 1)
    (d,) = _int_tuple(dilation, 1, "dilation", 1)
    n, m = len(z), len(w)
    flip = _flip(kind)
    n_out = _out_size(n, m, p, s, d, "z", "w")

    def zp(j):  # the zero-padded signal, 1-indexed
        return z[j - p - 1] if 1 <= j - p <= n else 0

    def tap(b):  # the kernel entry that meets tap b; a convolution reads the kernel backwards
        return w[m - b] if flip else w[b - 1]

    return sp.Matrix([sum((tap(b) * zp((i - 1) * s + (b - 1) * d + 1) for b in range(1, m + 1)), sp.S.Zero)
                      for i in range(1, n_out + 1)])


def conv2d_sum(x, k, padding=0, stride=1, dilation=1, kind="correlation"):
    """A 2-D convolution written as its double sum, entry by entry.

    1-indexed, zero padding ``xp`` (``ph`` rows and ``pw`` columns of zeros on
    each side), strides ``(sh, sw)``, dilations ``(dh, dw)``, kernel ``kh x kw``:

    * ``kind="correlation"``:
      ``y_{i,j} = sum_{a=1..kh} sum_{b=1..kw} k_{a,b} xp_{(i-1)sh + (a-1)dh + 1, (j-1)sw + (b-1)dw + 1}``
    * ``kind="convolution"`` (kernel turned by 180 degrees):
      ``y_{i,j} = sum_{a,b} k_{kh+1-a, kw+1-b} xp_{(i-1)sh + (a-1)dh + 1, (j-1)sw + (b-1)dw + 1}``

    With ``dh = dw = 1`` the correlation reads ``xp_{(i-1)sh + a, (j-1)sw + b}``.

    Parameters
    ----------
    x : SymPy Matrix ``(H, W)``, nested list or 2-D array
    k : same, ``(kh, kw)``
    padding : int or (ph, pw), >= 0
    stride : int or (sh, sw), >= 1
    dilation : int or (dh, dw), >= 1
    kind : {"correlation", "convolution"}

    Returns
    -------
    y : SymPy Matrix ``(Ho, Wo)``, ``Ho = floor((H + 2ph - dh(kh-1) - 1)/sh) + 1``, likewise ``Wo``.

    Raises
    ------
    ValueError
        ``x``/``k`` not 2-D, bad padding/stride/dilation, unknown ``kind``, or
        the (dilated) kernel larger than the padded input.
    """
    x, k = _entries(x, 2, "x"), _entries(k, 2, "k")
    (ph, pw), (sh, sw) = _int_tuple(padding, 2, "padding", 0), _int_tuple(stride, 2, "stride", 1)
    dh, dw = _int_tuple(dilation, 2, "dilation", 1)
    (H, W), (kh, kw) = x.shape, k.shape
    flip = _flip(kind)
    Ho, Wo = _out_size(H, kh, ph, sh, dh, "x", "k"), _out_size(W, kw, pw, sw, dw, "x", "k")

    def xp(r, c):  # the zero-padded image, 1-indexed
        return x[r - ph - 1, c - pw - 1] if 1 <= r - ph <= H and 1 <= c - pw <= W else 0

    def tap(a, b):  # the kernel entry at tap (a, b); a convolution reads it turned by 180 degrees
        return k[kh - a, kw - b] if flip else k[a - 1, b - 1]

    def y(i, j):
        return sum((tap(a, b) * xp((i - 1) * sh + (a - 1) * dh + 1, (j - 1) * sw + (b - 1) * dw + 1)
                    for a in range(1, kh + 1) for b in range(1, kw + 1)), sp.S.Zero)

    return sp.Matrix(Ho, Wo, lambda i, j: y(i + 1, j + 1))


def conv2d_channels_sum(x, w, padding=0, stride=1, dilation=1, kind="correlation"):
    """A layer with several input and output channels, as sums of single-channel sums.

    ``y[o] = sum_{c=1..C_in} conv2d_sum(x[c], w[o][c], ...)``: output channel ``o``
    adds the convolution of every input channel with its own kernel, as
    ``conv2d`` does for a weight of shape ``(C_out, C_in, kh, kw)`` (no bias).

    Parameters
    ----------
    x : list of ``C_in`` matrices ``(H, W)`` (e.g. from :func:`images`)
    w : nested list ``[C_out][C_in]`` of matrices ``(kh, kw)`` (e.g. from :func:`kernels`)
    padding, stride, dilation, kind : as in :func:`conv2d_sum`

    Returns
    -------
    y : list of ``C_out`` SymPy matrices ``(Ho, Wo)``

    Raises
    ------
    ValueError
        ``x`` or ``w`` empty, or a row of ``w`` without one kernel per input
        channel; and whatever :func:`conv2d_sum` raises.
    """
    if not isinstance(x, (list, tuple)) or not x:
        raise ValueError("x must be a non-empty list of input channels (matrices)")
    if not isinstance(w, (list, tuple)) or not w:
        raise ValueError("w must be a non-empty list of C_out lists of kernels")
    for o, row in enumerate(w):
        if not isinstance(row, (list, tuple)) or len(row) != len(x):
            got = len(row) if isinstance(row, (list, tuple)) else type(row).__name__
            raise ValueError(f"w[{o}] must hold one kernel per input channel (C_in = {len(x)}), got {got}")
    outputs = []
    for row in w:
        y = conv2d_sum(x[0], row[0], padding, stride, dilation, kind)
        for x_c, w_oc in zip(x[1:], row[1:]):
            y = y + conv2d_sum(x_c, w_oc, padding, stride, dilation, kind)
        outputs.append(y)
    return outputs


def dilate(matrix, stride):
    """``matrix`` with ``s - 1`` zeros inserted between neighbouring entries ("zero-stuffing").

    1-indexed: ``D_{(i-1)sh + 1, (j-1)sw + 1} = M_{i,j}`` and every other entry of
    ``D`` is 0, so an ``(R, C)`` matrix becomes ``(sh(R-1) + 1, sw(C-1) + 1)``.
    The gradient of a strided convolution is a stride-1 one applied to the
    upstream gradient dilated this way.

    Parameters
    ----------
    matrix : SymPy Matrix, nested list or 2-D array
    stride : int or (sh, sw), >= 1

    Returns
    -------
    D : SymPy Matrix

    Raises
    ------
    ValueError
        ``matrix`` is not 2-D or is empty, or ``stride`` is not an int >= 1 or a pair of them.
    """
    M = _entries(matrix, 2, "matrix")
    sh, sw = _int_tuple(stride, 2, "stride", 1)
    D = sp.zeros(sh * (M.rows - 1) + 1, sw * (M.cols - 1) + 1)
    for i in range(M.rows):
        for j in range(M.cols):
            D[i * sh, j * sw] = M[i, j]
    return D


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


def _flip(kind):
    if kind not in ("correlation", "convolution"):
        raise ValueError(f"kind must be 'correlation' or 'convolution', got {kind!r}")
    return kind == "convolution"


def _out_size(n, m, p, s, d, input_name, kernel_name):
    span = d * (m - 1) + 1   # the input samples a dilated kernel covers
    if span > n + 2 * p:
        what = f"size {m}" if d == 1 else f"size {m}, dilation {d}, span {span}"
        raise ValueError(f"{kernel_name} ({what}) is larger than the padded {input_name} (size {n} + 2*{p})")
    return _output_size(n, m, s, d, p, p)


def _count(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)
