"""Convolution as a matrix (chapter 4).

In this module "convolution" is TRUE convolution (the kernel is flipped), as
in the chapter's source. The maths is 1-indexed, the code 0-indexed:

* signal ``z`` of length ``n``, kernel ``w`` of odd length ``m``, ``P = (m-1)/2``;
* the same-padded convolution, 1-indexed,
  ``y_i = sum_{b=1..m} w_b z_{i-b+P+1}`` (``z`` zero outside ``1..n``),
  is ``y = T(w) z`` with, 0-indexed, ``T[i, k] = w[i - k + P]`` when
  ``0 <= i - k + P < m`` and 0 otherwise;
* every n x n Toeplitz matrix is ``T[i, k] = t[i - k + n - 1]``, one number
  per diagonal ``d = i - k`` in ``-(n-1) .. n-1`` (``t[0]`` is the bottom-left
  corner, ``t[n-1]`` the main diagonal, ``t[2n-2]`` the top-right corner);
* ``vec`` stacks columns (column-major), so ``vec(T)[i + k*n] = T[i, k]`` and
  ``vec(A X B) = (B^T kron A) vec(X)``;
* then ``vec(T) = B t`` (:func:`toeplitz_basis`), ``t = S w``
  (:func:`kernel_embedding`), so ``vec(T(w)) = B S w`` and
  ``y = T(w) z = (z^T kron I_n) B S w``.

The exception is :func:`conv2d_correlation_matrix`, the matrix of what
``convgrad.functional.conv2d`` computes (a cross-correlation, with PyTorch's
stride, zero padding and dilation): chapter 8 uses it to show that the input
gradient is the transposed convolution, ``dL/dx = C^T dL/dy``.

:func:`convolution_matrix`, :func:`conv2d_matrix` and
:func:`conv2d_correlation_matrix` accept a NumPy array, or
a SymPy Matrix / list of SymPy expressions, for the kernel; with SymPy input
they return a SymPy Matrix so the chapter can check the identities with
symbolic entries. :func:`toeplitz_basis` and :func:`kernel_embedding` hold
only 0s and 1s and return integer NumPy arrays.
"""

import numpy as np
import sympy as sp

from ._args import _int_tuple, _output_size

__all__ = ["convolution_matrix", "toeplitz_basis", "kernel_embedding", "conv2d_matrix", "conv2d_correlation_matrix"]


def convolution_matrix(w, n):
    """The n x n Toeplitz matrix T(w) of a same-padded 1-D true convolution.

    Parameters
    ----------
    w : array ``(m,)``, or SymPy Matrix ``(m, 1)``/``(1, m)``, or list of SymPy expressions
        The kernel, ``m`` odd.
    n : int >= 1
        The signal length.

    Returns
    -------
    T : array ``(n, n)`` with the dtype of ``w`` (a SymPy Matrix for SymPy input)
        ``T[i, k] = w[i - k + P]`` if ``0 <= i - k + P < m`` else 0, ``P = (m-1)//2``
        (1-indexed: ``(T z)_i = sum_{b=1..m} w_b z_{i-b+P+1}``). ``T @ z`` equals
        ``signal.convolve(z, w, mode="same")``. ``m`` may exceed ``n``; kernel
        entries that never meet the signal then simply do not appear.

    Raises
    ------
    ValueError
        ``w`` is not 1-D or is empty, ``m`` is even (same padding needs
        ``P = (m-1)/2`` to be a whole number), or ``n < 1``.
    """
    w, symbolic = _as_kernel(w, ndim=1, name="w")
    m = len(w)
    if m % 2 == 0:
        raise ValueError(f"w must have odd length m so that P = (m-1)/2 is whole, got m = {m}")
    n = _positive_int(n, "n")
    P = (m - 1) // 2
    return _gather(w, _diagonal_index(m, n_in=n, start=P, n_out=n), symbolic)


def toeplitz_basis(n):
    """The basis B of n x n Toeplitz matrices, in vec (column-stacking) form.

    Parameters
    ----------
    n : int >= 1

    Returns
    -------
    B : int array ``(n*n, 2n-1)`` of 0s and 1s
        Column ``d + n - 1`` is ``vec`` of the matrix with ones on diagonal
        ``d = i - k``, so for any ``t`` of length ``2n-1``,
        ``B @ t = vec(T)`` with ``T[i, k] = t[i - k + n - 1]``; that is,
        ``B[i + k*n, i - k + n - 1] = 1`` and every other entry is 0.

    Raises
    ------
    ValueError
        ``n < 1``.
    """
    n = _positive_int(n, "n")
    B = np.zeros((n * n, 2 * n - 1), dtype=int)
    i, k = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    B[(i + k * n).ravel(), (i - k + n - 1).ravel()] = 1   # row = position of T[i, k] in vec(T)
    return B


def kernel_embedding(n, m):
    """The embedding S that places a length-m kernel on the diagonals of T(w).

    Parameters
    ----------
    n : int >= 1
        The signal length.
    m : int, odd, ``1 <= m <= 2n - 1``
        The kernel length.

    Returns
    -------
    S : int array ``(2n-1, m)`` of 0s and 1s
        ``t = S @ w`` is the diagonal vector of T(w): ``t[d + n - 1] = w[d + P]``,
        i.e. ``S[j - P + n - 1, j] = 1`` for ``j = 0 .. m-1``; every other entry
        is 0. Hence ``vec(T(w)) = B S w`` with ``B = toeplitz_basis(n)``.

    Raises
    ------
    ValueError
        ``m`` even, ``m < 1`` or ``m > 2n - 1`` (the kernel would stick out of
        the ``2n - 1`` diagonals), or ``n < 1``.
    """
    n, m = _positive_int(n, "n"), _positive_int(m, "m")
    if m % 2 == 0 or m > 2 * n - 1:
        raise ValueError(f"kernel_embedding needs an odd m <= 2n - 1 = {2 * n - 1}, got m = {m} (n = {n})")
    P = (m - 1) // 2
    S = np.zeros((2 * n - 1, m), dtype=int)
    j = np.arange(m)
    S[j - P + n - 1, j] = 1      # kernel entry j sits on diagonal d = j - P
    return S


def conv2d_matrix(k, input_shape, mode="full"):
    """The doubly blocked Toeplitz matrix of a single-channel 2-D true convolution.

    For an ``H x W`` input ``x`` the matrix acts on the row-major flattening:
    ``M @ x.ravel() == signal.convolve(x, k, mode).ravel()``.

    Structure (``Ho x Wo`` output, kernel ``kh x kw``): ``M`` is an ``Ho x H``
    grid of ``Wo x W`` blocks. Block ``(r, p)`` maps input row ``p`` to output
    row ``r``; it is zero unless ``a = r - p + r0`` is a kernel row
    (``0 <= a < kh``), and then it is ``T_a``, the 1-D convolution matrix of
    kernel row ``k[a]`` (itself Toeplitz). Blocks depend only on ``r - p``, so
    the grid is block-Toeplitz. For ``kh = 2``, ``H = 3``, full mode::

        M = [[T_0, 0,   0  ],
             [T_1, T_0, 0  ],
             [0,   T_1, T_0],
             [0,   0,   T_1]]

    ``r0``/``c0`` are where ``mode`` starts in the full output (0 for full,
    ``(kh-1)//2`` for same, ``min(H, kh) - 1`` for valid), so "same" and
    "valid" keep a contiguous band of block rows and of rows inside each block.

    Parameters
    ----------
    k : array ``(kh, kw)``, or 2-D SymPy Matrix / nested list of SymPy expressions
    input_shape : (H, W) ints >= 1
    mode : {"full", "same", "valid"}
        As in :func:`convgrad.signal.convolve` (including SciPy's rule for
        "valid" with a kernel larger than the input).

    Returns
    -------
    M : array ``(Ho*Wo, H*W)`` with the dtype of ``k`` (a SymPy Matrix for SymPy input)

    Raises
    ------
    ValueError
        ``k`` not 2-D or empty, bad ``input_shape``, unknown ``mode``, or
        "valid" with the kernel larger than the input in one axis and smaller
        in the other.
    """
    k, symbolic = _as_kernel(k, ndim=2, name="k")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"mode must be 'full', 'same' or 'valid', got {mode!r}")
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 2):
        raise ValueError(f"input_shape must be (H, W), got {input_shape!r}")
    H, W = (_positive_int(s, "input_shape") for s in input_shape)
    kh, kw = k.shape
    if mode == "valid" and (kh - H) * (kw - W) < 0:
        raise ValueError(f"mode 'valid' needs k no larger than the input in every axis or no smaller in every axis, "
                         f"got k {k.shape} and input_shape {(H, W)}")
    (r0, Ho), (c0, Wo) = _band(H, kh, mode), _band(W, kw, mode)

    # T_a: the 1-D convolution matrix of kernel row a (Wo x W, Toeplitz).
    col_index = _diagonal_index(kw, n_in=W, start=c0, n_out=Wo)
    blocks = [_gather(k[a], col_index, symbolic) for a in range(kh)]
    zero = sp.zeros(Wo, W) if symbolic else np.zeros((Wo, W), dtype=k.dtype)
    # Which kernel row links output row r to input row p: the same rule one level up.
    row_index = _diagonal_index(kh, n_in=H, start=r0, n_out=Ho)
    grid = [[blocks[row_index[r, p]] if row_index[r, p] >= 0 else zero for p in range(H)] for r in range(Ho)]
    return sp.BlockMatrix(grid).as_explicit() if symbolic else np.block(grid)


def conv2d_correlation_matrix(k, input_shape, stride=1, padding=0, dilation=1):
    """The matrix C of a single-channel ``conv2d``: cross-correlation with stride, zero padding and dilation.

    For an ``H x W`` input ``x``, ``C @ x.ravel()`` equals
    ``conv2d(x[None, None], k[None, None], stride=stride, padding=padding,
    dilation=dilation).ravel()`` (row-major flattening of input and output).
    0-indexed, output ``(i, j)`` reads input ``(i sh + a dh - ph, j sw + b dw - pw)``
    for kernel entry ``(a, b)``, so

        ``C[i Wo + j, r W + c] = k[a, b]`` when ``r = i sh + a dh - ph`` and ``c = j sw + b dw - pw``,

    and 0 where no kernel entry links the two (including the taps that fall on
    the zero padding, which read no input at all). ``Ho = floor((H + 2ph -
    dh(kh-1) - 1)/sh) + 1``, likewise ``Wo``. C is square only when the output has
    the input's size; with stride > 1 or no padding it is wide (fewer rows than
    columns), and ``C.T`` maps an output-sized gradient back to the input's size:
    the transposed convolution.

    Parameters
    ----------
    k : array ``(kh, kw)``, or 2-D SymPy Matrix / nested list of SymPy expressions
    input_shape : (H, W) ints >= 1
    stride, padding, dilation : int or pair of ints (>= 1, >= 0, >= 1), as in ``conv2d``

    Returns
    -------
    C : array ``(Ho*Wo, H*W)`` with the dtype of ``k`` (a SymPy Matrix for SymPy input)

    Raises
    ------
    ValueError
        ``k`` not 2-D or empty, bad ``input_shape``/stride/padding/dilation, or
        the dilated kernel larger than the padded input.
    """
    k, symbolic = _as_kernel(k, ndim=2, name="k")
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 2):
        raise ValueError(f"input_shape must be (H, W), got {input_shape!r}")
    H, W = (_positive_int(v, "input_shape") for v in input_shape)
    (sh, sw), (ph, pw), (dh, dw) = (_int_tuple(stride, 2, "stride", 1), _int_tuple(padding, 2, "padding", 0),
                                    _int_tuple(dilation, 2, "dilation", 1))
    kh, kw = k.shape
    if dh * (kh - 1) + 1 > H + 2 * ph or dw * (kw - 1) + 1 > W + 2 * pw:
        raise ValueError(f"the kernel {k.shape} with dilation {(dh, dw)} is larger than the input {(H, W)} "
                         f"padded by {(ph, pw)}")
    Ho, Wo = _output_size(H, kh, sh, dh, ph, ph), _output_size(W, kw, sw, dw, pw, pw)

    # index[output, input] = flat kernel position linking them, -1 for none; distinct taps
    # land on distinct inputs, so each place holds at most one kernel entry.
    i, j, a, b = np.meshgrid(np.arange(Ho), np.arange(Wo), np.arange(kh), np.arange(kw), indexing="ij")
    r, c = i * sh + a * dh - ph, j * sw + b * dw - pw
    inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    index = np.full((Ho * Wo, H * W), -1)
    index[(i * Wo + j)[inside], (r * W + c)[inside]] = (a * kw + b)[inside]
    return _gather(k.ravel(), index, symbolic)


def _diagonal_index(m, n_in, start, n_out):
    """Which kernel entry sits at each place of a 1-D convolution matrix, -1 for none.

    Rows ``start .. start + n_out - 1`` of the full convolution matrix
    ((n_in + m - 1) x n_in), whose entry ``[t, q]`` is ``w[t - q]``.
    """
    t = np.arange(start, start + n_out)[:, None]
    j = t - np.arange(n_in)[None, :]
    return np.where((j >= 0) & (j < m), j, -1)


def _gather(w, index, symbolic):
    """Fill a matrix with ``w[index]``, 0 where ``index`` is -1."""
    if symbolic:
        return sp.Matrix(*index.shape, lambda i, j: w[index[i, j]] if index[i, j] >= 0 else 0)
    return np.where(index >= 0, w[np.maximum(index, 0)], 0).astype(w.dtype)


def _band(n, m, mode):
    """(start, length) of ``mode`` inside a full output of length ``n + m - 1``."""
    if mode == "full":
        return 0, n + m - 1
    if mode == "same":
        return (m - 1) // 2, n
    return min(n, m) - 1, abs(n - m) + 1


def _as_kernel(w, ndim, name):
    """A kernel as a NumPy array or, for SymPy input, an object array of SymPy entries.

    Returns ``(array, symbolic)``; the object array lets both cases share the indexing code.
    """
    symbolic = isinstance(w, sp.MatrixBase) or any(isinstance(e, sp.Basic) for e in np.ravel(np.array(w, dtype=object)))
    if symbolic:
        if isinstance(w, sp.MatrixBase):
            arr = np.array(w.tolist(), dtype=object)
            if ndim == 1:
                if 1 not in w.shape:
                    raise ValueError(f"{name} must be a vector, got a SymPy Matrix of shape {w.shape}")
                arr = arr.ravel()
        else:
            arr = np.array([sp.sympify(e) for e in np.ravel(np.array(w, dtype=object))], dtype=object)
            arr = arr.reshape(np.shape(np.array(w, dtype=object)))
    else:
        try:
            arr = np.asarray(w)
        except ValueError:  # a ragged nested list
            raise ValueError(f"{name} must be a rectangular {ndim}-D kernel, got rows of different lengths") from None
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be numeric or SymPy, got dtype {arr.dtype}")
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D kernel, got shape {arr.shape}")
    return arr, symbolic


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
