"""Reverse-mode automatic differentiation on NumPy arrays (chapter 12).

A :class:`Tensor` wraps an array. Every operation on tensors that need a
gradient records a node of a graph: the :class:`Function` that ran, its
context (what it saved for backward) and its inputs. ``loss.backward()``
walks that graph from the loss back to the leaves in reverse topological
order, calling each Function's ``backward`` once with the sum of the
gradients that reached its outputs (the chain rule, summed over paths):

    dL/d input_i = sum over outputs o of  (d o / d input_i)^T  dL/do

and adds the result into the ``.grad`` of every leaf that requires one.
The graph is freed as it is used, so nothing outlives ``backward`` (pass
``retain_graph=True`` to walk it again).

The names and semantics are PyTorch's: ``Tensor.backward(gradient=None)``,
``no_grad()``, ``Function`` with static ``forward(ctx, ...)`` and
``backward(ctx, ...)``, ``ctx.save_for_backward`` / ``ctx.saved_tensors``,
``ctx.needs_input_grad``, ``MyFunction.apply(...)``. One difference: a Python
float becomes float64 (PyTorch's default is float32).
"""

import contextlib
import heapq
import itertools

import numpy as np

__all__ = ["Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "gradcheck",
           "GradcheckError"]

_state = {"grad_enabled": True}


def is_grad_enabled():
    """True when operations record the graph (outside every ``no_grad`` block)."""
    return _state["grad_enabled"]


@contextlib.contextmanager
def _grad_mode(enabled):
    before = _state["grad_enabled"]
    _state["grad_enabled"] = enabled
    try:
        yield
    finally:
        _state["grad_enabled"] = before


def no_grad():
    """Context manager: operations inside record no graph and give tensors with ``requires_grad=False``.

    Used for evaluation and for updating parameters in place, as ``torch.no_grad()``.
    """
    return _grad_mode(False)


def enable_grad():
    """Context manager: record the graph again inside a ``no_grad`` block."""
    return _grad_mode(True)


class Tensor:
    """An array that can record how it was computed.

    data: the ``numpy.ndarray`` (any shape). grad: ``dL/d data`` after ``backward`` (same shape), or None.
    requires_grad: whether operations on it are recorded. grad_fn: the node that made it (None for a
    leaf, a tensor made by the user rather than by an operation).
    """

    # NumPy hands mixed expressions (array + Tensor, array @ Tensor) to Tensor's reflected methods.
    __array_ufunc__ = None
    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_output_index", "_retains_grad", "__weakref__")

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.asarray(data)
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None        # the Node that computed this tensor, if any
        self._output_index = 0     # which output of grad_fn's Function this is
        self._retains_grad = False

    # -- what it holds --------------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)

    def size(self, dim=None):
        """The shape, or its entry ``dim`` (as ``torch.Tensor.size``)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The array itself (shared, not copied). Refused while the tensor requires grad, as in PyTorch."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad: use tensor.detach().numpy()")
        return self.data

    def item(self):
        """The one number a one-element tensor holds, as a Python scalar."""
        if self.data.size != 1:
            raise RuntimeError(f"a tensor with {self.data.size} elements cannot be converted to a Python scalar")
        return self.data.item()

    def detach(self):
        """The same data (shared), cut from the graph: requires_grad False, no grad_fn."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (leaves only) and return the tensor."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor: use detach()")
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after ``backward`` (leaves keep theirs anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        self._retains_grad = True

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        if self.grad_fn is not None:
            return f"tensor({body}, grad_fn=<{self.grad_fn.name()}>)"
        return f"tensor({body}, requires_grad=True)" if self.requires_grad else f"tensor({body})"

    # -- backward ---------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Add ``d self / d leaf`` (times ``gradient``) into the ``.grad`` of every leaf that requires grad.

        gradient: ``dL/d self``, shape of self; may be left out only when self holds one number (then 1).
        The graph is freed afterwards unless ``retain_graph``.
        """
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                               "backward() needs a tensor computed from one with requires_grad=True")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs: this tensor has "
                                   f"shape {self.shape}; pass gradient= (dL/d this tensor) to backward()")
            gradient = np.array(1, dtype=self.data.dtype).reshape(self.data.shape)   # (np.ones costs 1 us more)
        else:
            gradient = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if gradient.shape != self.shape:
                raise RuntimeError(f"mismatch in shape: gradient has shape {gradient.shape} and the tensor has "
                                   f"shape {self.shape}")
        if self._retains_grad and self.grad_fn is not None:   # a retained root keeps the gradient it was given
            self.grad = gradient.copy() if self.grad is None else self.grad + gradient
        enabled, _state["grad_enabled"] = _state["grad_enabled"], False
        try:   # backward records nothing, as PyTorch's without create_graph
            _run_backward(self, gradient, retain_graph)
        finally:
            _state["grad_enabled"] = enabled

    # -- operations (each a Function in convgrad.operations) --------------------------------------------
    def __add__(self, other):
        return _ops.Add.apply(self, other)

    def __radd__(self, other):
        return _ops.Add.apply(other, self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return _ops.Sub.apply(other, self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return _ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return _ops.Div.apply(other, self)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(other, self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        return _ops.Pow.apply(self, exponent)

    def __rpow__(self, base):
        return _ops.Exp.apply(_ops.Mul.apply(self, float(np.log(base))))

    def __getitem__(self, index):
        return _ops.Index.apply(self, index)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Sum over ``dim`` (an int, a tuple, or None for all); ``axis``/``keepdims`` are NumPy's names for the same."""
        return _ops.Sum.apply(self, _axes(dim, axis), _keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over ``dim`` (an int, a tuple, or None for all); ``axis``/``keepdims`` as in NumPy."""
        return _ops.Mean.apply(self, _axes(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim=False):
        """The largest entry (ties share the gradient equally, as PyTorch's ``max()``), or with ``dim``
        the pair (values, indices) along it (the gradient goes to the index, as ``max(dim)``)."""
        if dim is None:
            return _ops.Max.apply(self)
        indices = np.expand_dims(np.argmax(self.data, axis=dim), dim)
        values = _ops.Gather.apply(self, dim, indices)
        if not keepdim:
            values = values.reshape(tuple(np.delete(values.shape, dim)))
            indices = np.squeeze(indices, axis=dim)
        return values, Tensor(indices)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _ops.Reshape.apply(self, tuple(shape))

    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)


def tensor(data, requires_grad=False):
    """A new leaf tensor holding a copy of ``data`` (as ``torch.tensor``)."""
    return Tensor(np.array(data.data if isinstance(data, Tensor) else data), requires_grad=requires_grad)


def _axes(dim, axis):
    if dim is not None and axis is not None:
        raise TypeError("give dim or axis, not both")
    dim = axis if dim is None else dim
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _keep(keepdim, keepdims):
    return bool(keepdim if keepdims is None else keepdims)


class _Context:
    """What a Function's forward leaves for its backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad   # one bool per argument of apply
        self._saved = ()
        self._freed = False

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError("trying to backward through the graph a second time (or to read saved tensors "
                               "after they were freed): call backward(retain_graph=True) the first time")
        return self._saved


class Node:
    """One recorded operation: the Function, its context, its inputs (the graph's edges) and the shapes and
    dtypes of its outputs (an output no path reaches gets a zero gradient of its shape).

    ``seq`` counts the nodes in the order they were made. A node's inputs were computed before it, so
    their nodes have smaller numbers: the decreasing order of ``seq`` is a reverse topological order
    (PyTorch numbers its nodes in the same order, ``grad_fn._sequence_nr()``; tests/test_nn_torch.py)."""

    __slots__ = ("function", "ctx", "inputs", "outputs", "seq", "__weakref__")

    def __init__(self, function, ctx, inputs, outputs):
        self.function, self.ctx, self.inputs, self.outputs = function, ctx, inputs, outputs
        self.seq = next(_node_count)

    def name(self):
        """The node's name as PyTorch spells it: the Function's name + "Backward"."""
        return self.function.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"


_node_count = itertools.count()


class Function:
    """An operation with a hand-written backward, used as ``MyFunction.apply(*args)``.

    Subclasses define two static methods::

        forward(ctx, *args)             -> a Tensor (or a tuple of Tensors)
        backward(ctx, *grad_outputs)    -> one gradient (or None) per argument of forward

    forward receives the arguments as given (tensors as Tensors) and runs with recording off; backward
    receives one Tensor ``dL/d output`` per output and returns ``dL/d input`` for each argument. Each
    gradient is summed down to its input's shape where the input was broadcast.

    convgrad's own operations set ``on_arrays = True``: their forward and backward take and return NumPy
    arrays, which saves wrapping each intermediate value in a Tensor. Those whose backward returns a new
    array per gradient, shared with nothing, set ``new_gradients = True``: a leaf then keeps that array as
    its ``.grad`` instead of a copy.
    """

    on_arrays = False
    new_gradients = False

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass defines forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass defines backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args):
        needs, values, inputs = [], [], []   # per argument: needs a gradient, what forward gets, the graph's edge
        record = False
        for a in args:  # one pass over the arguments
            if isinstance(a, Tensor):
                values.append(a.data)
                if a.requires_grad:
                    needs.append(True)
                    inputs.append(a)
                    record = True
                    continue
            else:
                values.append(a)
            needs.append(False)
            inputs.append(None)
        ctx = _Context(tuple(needs))
        enabled = _state["grad_enabled"]
        _state["grad_enabled"] = False   # forward records nothing (a plain toggle: this runs on every operation)
        try:
            result = cls.forward(ctx, *(values if cls.on_arrays else args))
        finally:
            _state["grad_enabled"] = enabled
        record = record and enabled
        if not isinstance(result, tuple):  # the common case: one output
            out = _wrap(result)
            data = out.data
            if record and data.dtype.kind == "f":
                out.requires_grad, out.grad_fn = True, Node(cls, ctx, tuple(inputs), ((data.shape, data.dtype),))
            return out
        outputs = tuple([_wrap(r) for r in result])
        if record:
            node = Node(cls, ctx, tuple(inputs), tuple([(o.data.shape, o.data.dtype) for o in outputs]))
            for i, o in enumerate(outputs):
                if o.data.dtype.kind == "f":
                    o.requires_grad, o.grad_fn, o._output_index = True, node, i
        return outputs


def _wrap(value):
    """A new Tensor around a forward's result (an array, a NumPy scalar or a Tensor), without the checks."""
    t = Tensor.__new__(Tensor)
    data = value.data if isinstance(value, Tensor) else value
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t.requires_grad, t.grad, t.grad_fn, t._output_index, t._retains_grad = False, None, None, 0, False
    return t


def _run_backward(root, gradient, retain_graph):
    """Run the nodes reachable from ``root`` latest first, each once, with the sum of its outputs' gradients.

    A node waits in a heap keyed by ``-seq`` from the moment a gradient first reaches it; it is taken out
    only when every node made after it has run, so every path into it has delivered its share by then.
    """
    start = root.grad_fn
    if start is None:  # a leaf: its gradient is the given one
        _accumulate_leaf(root, gradient)
        return
    pending = {start: [None] * len(start.outputs)}   # node -> the gradients of its outputs, summed so far
    pending[start][root._output_index] = gradient
    heap = [(-start.seq, start)]
    while heap:
        node = heapq.heappop(heap)[1]
        grads = pending.pop(node)
        ctx = node.ctx   # a freed ctx raises (explaining retain_graph) only if backward reads what it saved
        for k, g in enumerate(grads):
            if g is None:  # an output nothing used: its gradient is zero
                grads[k] = np.zeros(*node.outputs[k])
        function = node.function
        new = function.new_gradients
        if function.on_arrays:
            input_grads = function.backward(ctx, *grads)
        else:
            input_grads = function.backward(ctx, *[Tensor(g) for g in grads])
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"{function.__name__}.backward returned {len(input_grads)} gradients, "
                               f"expected {len(node.inputs)} (one per argument of forward, None for non-tensors)")
        for inp, g in zip(node.inputs, input_grads):
            if inp is None or g is None:
                continue
            data = inp.data
            if type(g) is not np.ndarray:
                g = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=data.dtype)
            elif g.dtype is not data.dtype and g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if g.shape != data.shape:
                g = _sum_to_shape(g, data.shape, node)
            fn = inp.grad_fn
            if fn is None:
                _accumulate_leaf(inp, g, new)
                continue
            slots = pending.get(fn)
            if slots is None:
                slots = pending[fn] = [None] * len(fn.outputs)
                heapq.heappush(heap, (-fn.seq, fn))
            k = inp._output_index
            slots[k] = g if slots[k] is None else slots[k] + g
            if inp._retains_grad:
                inp.grad = g.copy() if inp.grad is None else inp.grad + g
        if not retain_graph:
            ctx._saved, ctx._freed = (), True


def _accumulate_leaf(leaf, g, new=False):
    """Add g into leaf.grad; a first gradient is copied unless ``new`` says g is an array nobody else holds."""
    if leaf.requires_grad:
        if leaf.grad is None:
            leaf.grad = g if new else g.copy()
        else:
            leaf.grad = np.asarray(leaf.grad + g)   # 0-d stays an array


def _sum_to_shape(g, shape, node):
    """Sum a gradient over the axes its input was broadcast along (as PyTorch does)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    try:
        if lead < 0:
            raise ValueError
        g = g.sum(axis=tuple(range(lead))) if lead else g
        axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape)) if n == 1 and m != 1)
        g = g.sum(axis=axes, keepdims=True) if axes else g
        if g.shape != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{node.function.__name__}.backward returned a gradient of shape {g.shape} for an "
                           f"input of shape {shape}") from None
    return g


# Defined after Function and Tensor, which they use:
from . import operations as _ops  # noqa: E402  (the Tensor operations, each a Function)
from .tensor_gradcheck import GradcheckError, gradcheck  # noqa: E402
