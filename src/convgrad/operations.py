"""The Tensor operations of :mod:`convgrad.autograd`, each a Function with its derivative.

Each works on NumPy arrays (``on_arrays = True``). The engine sums a returned gradient over the axes
an input was broadcast along, so ``Add.backward`` may return ``g`` for both inputs of ``x + b``.
Arguments that are not Tensors (numbers, arrays, axes) get ``None`` as their gradient.
"""

import numpy as np

from . import functional as F
from .autograd import Function

__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "MatMul", "Sum", "Mean", "Reshape", "Exp", "Log",
           "ReLU", "Max", "Gather", "Index"]


class _ArrayFunction(Function):
    on_arrays = True


class Add(_ArrayFunction):
    """a + b: d/da = d/db = 1."""

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(_ArrayFunction):
    """a - b: d/da = 1, d/db = -1."""

    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(_ArrayFunction):
    """a * b: d/da = b, d/db = a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


class Div(_ArrayFunction):
    """a / b: d/da = 1/b, d/db = -a/b**2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g / b if da else None), (-g * a / np.square(b) if db else None)


class Neg(_ArrayFunction):
    """-a: d/da = -1."""

    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(_ArrayFunction):
    """a ** p for a number p: d/da = p a**(p-1)."""

    @staticmethod
    def forward(ctx, a, p):
        if not np.isscalar(p):
            raise TypeError(f"the exponent of a Tensor must be a number, got {type(p).__name__}")
        ctx.save_for_backward(a, p)
        return np.power(a, p)

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        return g * p * np.power(a, p - 1), None


class MatMul(_ArrayFunction):
    """a @ b (NumPy's rules, 1-D and batched included): d/da = g b^T, d/db = a^T g."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        # Treat a 1-D a as a row and a 1-D b as a column, as matmul does, then drop the added axis.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:   # first the column's axis, so that a 0-d g (1-D @ 1-D) becomes (1, 1)
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        da, db = ctx.needs_input_grad
        ga = gb = None
        if da:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if db:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


class Sum(_ArrayFunction):
    """sum over axes: every entry summed gets the output's gradient."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims   # sizes, not tensors: never freed
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
        return np.broadcast_to(_restore_axes(g, shape, axis, keepdims), shape), None, None


class Mean(_ArrayFunction):
    """mean over axes: each entry gets the output's gradient divided by the count averaged."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = np.mean(a, axis=axis, keepdims=keepdims)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = a.size // max(np.size(out), 1)
        return out

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims, count = ctx.shape, ctx.axis, ctx.keepdims, ctx.count
        return np.broadcast_to(_restore_axes(g, shape, axis, keepdims) / count, shape), None, None


class Reshape(_ArrayFunction):
    """reshape: the gradient reshaped back."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.reshape(a, shape)

    @staticmethod
    def backward(ctx, g):
        shape = ctx.shape
        return np.reshape(g, shape), None


class Exp(_ArrayFunction):
    """exp(a): d/da = exp(a), the output itself."""

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(_ArrayFunction):
    """log(a): d/da = 1/a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class ReLU(_ArrayFunction):
    """max(a, 0): d/da = 1 where a > 0, else 0 (0 at a = 0, as PyTorch): ``convgrad.functional.relu`` and its
    derived backward."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return F.relu(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return F.relu_backward(g, a)


class Max(_ArrayFunction):
    """The largest entry: its gradient shared equally among the entries that tie for it (PyTorch's ``max()``)."""

    @staticmethod
    def forward(ctx, a):
        if a.size == 0:
            raise RuntimeError("max() of an empty tensor: it has no largest entry")
        out = np.max(a)
        ctx.save_for_backward(a == out)
        return out

    @staticmethod
    def backward(ctx, g):
        (winners,) = ctx.saved_tensors
        return winners * (g / np.count_nonzero(winners))


class Gather(_ArrayFunction):
    """a's entries at ``indices`` along ``dim`` (np.take_along_axis); the gradient goes back to those entries."""

    @staticmethod
    def forward(ctx, a, dim, indices):
        ctx.save_for_backward(a.shape, dim, indices)
        return np.take_along_axis(a, indices, axis=dim)

    @staticmethod
    def backward(ctx, g):
        shape, dim, indices = ctx.saved_tensors
        grad = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(grad, indices, g, axis=dim)
        return grad, None, None


class Index(_ArrayFunction):
    """a[index] (NumPy's indexing): the gradient added back at the indexed places (repeats add up)."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.save_for_backward(a.shape, a.dtype, index)
        return a[index]

    @staticmethod
    def backward(ctx, g):
        shape, dtype, index = ctx.saved_tensors
        grad = np.zeros(shape, dtype=dtype)
        np.add.at(grad, index, g)
        return grad, None


def _restore_axes(g, shape, axis, keepdims):
    """Put back the axes a reduction removed, so that g broadcasts against the input."""
    if keepdims or axis is None and np.ndim(g) == 0:
        return g
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))
