"""convgrad.autograd and convgrad.operations: every operation by gradcheck, the engine's bookkeeping
(accumulation, shared values, retain_graph, retain_grad, no_grad), its error messages, custom Functions,
and a training loop whose memory stays flat (the graph is freed after backward)."""

import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

from convgrad import nn, optim
from convgrad.autograd import (Function, GradcheckError, Tensor, enable_grad, gradcheck, is_grad_enabled,
                               no_grad, tensor)


# -- helpers -------------------------------------------------------------------------------------------

def _leaf(shape, seed=0, low=None, high=None):
    """A float64 leaf requiring grad: standard normal, or uniform on [low, high]."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, size=shape)
    return Tensor(data, requires_grad=True)


def _away_from_zero(shape, seed=0):
    """Entries of magnitude in [0.5, 2] with random signs (safe denominators, relu away from its kink)."""
    rng = np.random.default_rng(seed)
    return Tensor(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape), requires_grad=True)


def _distinct(shape, seed=0):
    """Entries 0.5 apart in a random order: no two tie, so max is differentiable."""
    rng = np.random.default_rng(seed)
    return Tensor(rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 1.0, requires_grad=True)


class Cube(Function):
    """x**3 on Tensors: saves x, returns 3 x**2 g only if x needs a gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True,)
        return g * 3 * x * x


class Split(Function):
    """x -> (x[:k], x[k:]) along axis 0: two outputs, the gradient is their gradients concatenated."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(k)
        return Tensor(x.data[:k]), Tensor(x.data[k:])

    @staticmethod
    def backward(ctx, g_first, g_second):
        assert ctx.needs_input_grad == (True, False)
        return Tensor(np.concatenate([g_first.data, g_second.data])), None


class ScaledAdd(Function):
    """a + s * b for Tensors a, b and a number s; records which inputs needed a gradient."""

    seen = []

    @staticmethod
    def forward(ctx, a, b, s):
        ctx.save_for_backward(s)
        ScaledAdd.seen.append(ctx.needs_input_grad)
        return a + s * b

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        need_a, need_b, _ = ctx.needs_input_grad
        return (g if need_a else None), (g * s if need_b else None), None


class WrongCount(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return g   # two inputs, one gradient


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return Tensor(np.ones(g.shape[:-1] + (g.shape[-1] + 1,)))   # one column too many


class WrongDerivative(Function):
    """sin with the derivative of cos: a backward gradcheck must reject."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return Tensor(np.sin(x.data))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Tensor(-np.sin(x.data) * g.data)


class ReportsGradMode(Function):
    modes = []

    @staticmethod
    def forward(ctx, x):
        ReportsGradMode.modes.append(("forward", is_grad_enabled()))
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        ReportsGradMode.modes.append(("backward", is_grad_enabled()))
        (x,) = ctx.saved_tensors
        out = g * 2 + x * 0   # x requires grad: recorded only if backward ran with grad mode on
        ReportsGradMode.modes.append(("result records", out.requires_grad))
        return out


def _small_network(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, generator=rng), nn.ReLU(),
                         nn.Conv2d(4, 1, 3, padding=1, generator=rng))


# -- every operation by gradcheck ----------------------------------------------------------------------

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((4,), (3, 1)), ((2, 3, 4), (3, 1)), ((3, 1), (2, 1, 4)),
                    ((), (3,)), ((2, 3), ())]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_operations_broadcast(op, shapes):
    a, b = _leaf(shapes[0], seed=1), _away_from_zero(shapes[1], seed=2)
    assert gradcheck(BINARY[op], (a, b))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


@pytest.mark.parametrize("func", [lambda x: x + 2.5, lambda x: 2.5 + x, lambda x: x - 2.5, lambda x: 2.5 - x,
                                  lambda x: 3.0 * x, lambda x: x * 3.0, lambda x: x / 4.0, lambda x: 4.0 / x,
                                  lambda x: -x, lambda x: x ** 3, lambda x: x ** -2, lambda x: 2.0 ** x],
                         ids=["x+c", "c+x", "x-c", "c-x", "c*x", "x*c", "x/c", "c/x", "-x", "x**3", "x**-2", "c**x"])
def test_operations_with_numbers(func):
    assert gradcheck(func, (_away_from_zero((2, 3), seed=3),))


def test_fractional_power_on_positive_data():
    assert gradcheck(lambda x: x ** 0.5, (_leaf((2, 3), low=0.5, high=2.0),))


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 4)), ((3, 4), (4,)), ((2, 3), (3, 4)),
                                    ((2, 3, 4), (4, 5)), ((4, 5), (2, 5, 3)), ((2, 3, 4), (2, 4, 5)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4)), ((2, 3, 4), (4,))], ids=str)
def test_matmul(shapes):
    a, b = _leaf(shapes[0], seed=4), _leaf(shapes[1], seed=5)
    assert gradcheck(lambda a, b: a @ b, (a, b))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_reductions(reduction, dim, keepdim):
    x = _leaf((2, 3, 4), seed=6)
    assert gradcheck(lambda x: getattr(x, reduction)(dim, keepdim), (x,))


def test_mean_gradient_is_one_over_the_count():
    x = _leaf((2, 3, 4))
    x.mean(dim=(0, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3, 4), 1 / 8))


def test_numpy_names_axis_and_keepdims_mean_the_same():
    x = _leaf((2, 3, 4))
    np.testing.assert_array_equal(x.sum(axis=1, keepdims=True).data, x.sum(1, True).data)
    with pytest.raises(TypeError, match="dim or axis"):
        x.sum(dim=0, axis=0)


@pytest.mark.parametrize("shape", [(12,), (4, 3), (2, 2, 3), (-1,), (3, -1)], ids=str)
def test_reshape(shape):
    assert gradcheck(lambda x: x.reshape(shape), (_leaf((3, 4), seed=7),))
    assert gradcheck(lambda x: x.reshape(*shape), (_leaf((3, 4), seed=7),))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=str)
def test_exp(shape):
    assert gradcheck(lambda x: x.exp(), (_leaf(shape, seed=8),))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=str)
def test_log_on_positive_data(shape):
    assert gradcheck(lambda x: x.log(), (_leaf(shape, low=0.1, high=3.0),))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=str)
def test_relu_away_from_zero(shape):
    x = _away_from_zero(shape, seed=9)
    assert gradcheck(lambda x: x.relu(), (x,))
    np.testing.assert_array_equal(x.grad != 0, x.data > 0)


def test_relu_gradient_at_zero_is_zero():
    x = Tensor(np.array([-1.0, 0.0, 1.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_max_without_ties_by_gradcheck():
    assert gradcheck(lambda x: x.max(), (_distinct((3, 4)),))


def test_max_shares_the_gradient_equally_among_ties():
    x = Tensor(np.array([[1.0, 3.0, 0.0], [3.0, 2.0, 3.0]]), requires_grad=True)
    out = x.max()
    assert out.item() == 3.0
    (out * 6.0).backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 2.0, 0.0], [2.0, 0.0, 2.0]])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_along_a_dim_by_gradcheck(dim, keepdim):
    x = _distinct((3, 4, 2), seed=10)
    assert gradcheck(lambda x: x.max(dim, keepdim)[0], (x,))
    values, indices = x.max(dim, keepdim)
    np.testing.assert_array_equal(values.data, np.max(x.data, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.data, np.argmax(x.data, axis=dim) if not keepdim
                                  else np.expand_dims(np.argmax(x.data, axis=dim), dim))
    assert not indices.requires_grad


def test_max_along_a_dim_sends_the_gradient_to_the_index():
    x = Tensor(np.array([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0]]), requires_grad=True)
    values, indices = x.max(1)
    np.testing.assert_array_equal(indices.data, [1, 0])    # ties: the first index
    (values * Tensor(np.array([10.0, 20.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]])


@pytest.mark.parametrize("index", [1, (1, 2), slice(1, None), (slice(None), slice(None, None, 2)), [0, 2],
                                   (np.array([0, 2]), np.array([1, 3])), (Ellipsis, 1), (None, 0)],
                         ids=["int", "pair", "slice", "step", "list", "fancy pair", "ellipsis", "newaxis"])
def test_indexing(index):
    assert gradcheck(lambda x: x[index], (_leaf((3, 4), seed=11),))


def test_repeated_fancy_indices_add_up():
    x = _leaf((4,))
    x[[0, 2, 0, 0, 3]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0, 1.0])
    y = _leaf((2, 3))
    (y[np.array([1, 1]), np.array([2, 2])] * Tensor(np.array([2.0, 5.0]))).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0, 0, 0], [0, 0, 7.0]])


def test_boolean_mask_and_tensor_index():
    x = _leaf((3, 4), seed=12)
    mask = x.data > 0
    assert gradcheck(lambda x: x[mask], (x,))
    np.testing.assert_array_equal(x.grad != 0, mask)
    assert gradcheck(lambda x: x[Tensor(np.array([2, 2, 0]))], (x,))


# -- the engine's bookkeeping --------------------------------------------------------------------------

def test_gradients_accumulate_over_two_backward_calls():
    x = _leaf((3,))
    (x * x).sum().backward()
    first = x.grad.copy()
    (x * x).sum().backward()
    np.testing.assert_allclose(first, 2 * x.data, rtol=1e-15)
    np.testing.assert_allclose(x.grad, 4 * x.data, rtol=1e-15)


def test_a_value_used_twice_gets_the_summed_gradient():
    x = _leaf((3,))
    h = x * 3.0                      # used by both branches of the diamond
    y = (h * h + h.exp()).sum()      # dy/dh = 2h + exp(h)
    y.backward()
    np.testing.assert_allclose(x.grad, 3.0 * (2 * h.data + np.exp(h.data)), rtol=1e-14)
    z = _leaf((3,), seed=1)
    (z * z).sum().backward()         # one operation taking the same leaf twice
    np.testing.assert_allclose(z.grad, 2 * z.data, rtol=1e-15)


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    depth = 5000
    assert depth > sys.getrecursionlimit()
    x = _leaf((2,))
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_allclose(y.data, x.data + depth)
    del y   # freeing the chain must not recurse either


def test_no_grad_records_nothing_and_restores_the_mode():
    x = _leaf((3,))
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2 + 1
        with enable_grad():
            z = x * 2
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()
    assert (_leaf((2,)) * 2).requires_grad


def test_no_grad_as_a_decorator():
    @no_grad()
    def double(t):
        return t * 2
    assert not double(_leaf((2,))).requires_grad
    assert is_grad_enabled()


def test_second_backward_needs_retain_graph():
    x = _leaf((3,))
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_lets_backward_run_twice_and_gradients_double():
    x = _leaf((3,))
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    once = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * once, rtol=1e-15)
    np.testing.assert_allclose(once, 2 * x.data * np.exp(x.data ** 2), rtol=1e-14)


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = _leaf((3,))
    h = x * 2.0
    h.retain_grad()
    k = x * 3.0                      # not retained
    (h * h + k).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data, rtol=1e-15)
    assert k.grad is None
    assert not h.is_leaf and x.is_leaf


def test_retain_grad_on_the_root_keeps_the_given_gradient():
    x = _leaf((3,))
    y = x * 2.0
    y.retain_grad()
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_retain_grad_refused_without_requires_grad():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        Tensor(np.ones(2)).retain_grad()


def test_grads_are_arrays_of_the_leaf_shape_even_for_one_number():
    s = Tensor(2.0, requires_grad=True)
    (s * s * s).backward()           # three contributions to one 0-d leaf
    assert isinstance(s.grad, np.ndarray) and s.grad.shape == () and s.grad == 12.0


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = (x * 2.0).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_detach_shares_data_and_has_no_grad_fn():
    x = _leaf((3,))
    h = x * 2.0
    d = h.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, h.data)
    d.data[0] = 100.0
    assert h.data[0] == 100.0


def test_tensor_copies_and_Tensor_shares():
    a = np.ones(3)
    assert not np.shares_memory(tensor(a).data, a)
    assert np.shares_memory(Tensor(a).data, a)


def test_numpy_refused_while_requires_grad():
    x = _leaf((3,))
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy() is x.data
    assert Tensor(np.ones(2)).numpy().shape == (2,)


def test_item_of_one_element_and_its_error_otherwise():
    assert Tensor(np.array([[2.5]])).item() == 2.5
    assert isinstance(Tensor(np.array(3.0)).item(), float)
    with pytest.raises(RuntimeError, match="3 elements cannot be converted to a Python scalar"):
        Tensor(np.ones(3)).item()


def test_backward_runs_with_recording_off():
    ReportsGradMode.modes.clear()
    x = _leaf((3,))
    ReportsGradMode.apply(x).sum().backward()
    assert ReportsGradMode.modes == [("forward", False), ("backward", False), ("result records", False)]
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


# -- the engine's error messages -----------------------------------------------------------------------

def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(())).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor(np.ones(3)) * 2).sum().backward()


def test_backward_on_a_non_scalar_without_gradient():
    y = _leaf((2, 3)) * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = _leaf((2, 3)) * 2
    with pytest.raises(RuntimeError, match=r"mismatch in shape: gradient has shape \(3, 2\)"):
        y.backward(np.ones((3, 2)))


def test_backward_with_a_gradient_of_the_right_shape():
    x = _leaf((2, 3))
    (x * 2).backward(Tensor(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(x.grad, 2 * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("data", [np.arange(3), np.array([True, False])], ids=["int", "bool"])
def test_requires_grad_on_a_non_float_tensor(data):
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(data).requires_grad_()


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    with pytest.raises(RuntimeError, match="leaf"):
        (_leaf((2,)) * 2).requires_grad_(False)


def test_custom_function_returning_the_wrong_number_of_gradients():
    y = WrongCount.apply(_leaf((3,)), _leaf((3,), seed=1))
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradients, expected 2"):
        y.sum().backward()


def test_custom_function_whose_gradient_cannot_be_summed_to_the_input():
    y = WrongShape.apply(_leaf((2, 3)))
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(2, 4\) for an "
                                           r"input of shape \(2, 3\)"):
        y.sum().backward()


def test_power_with_a_tensor_exponent_is_refused():
    with pytest.raises(TypeError, match="exponent"):
        _leaf((2,)) ** Tensor(np.ones(2))


def test_max_of_an_empty_tensor():
    with pytest.raises(RuntimeError, match="empty"):
        Tensor(np.ones((0,)), requires_grad=True).max()


# -- custom Functions and gradcheck itself --------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4,), (2, 3)], ids=str)
def test_custom_function_with_one_output(shape):
    x = _leaf(shape, seed=13)
    assert gradcheck(Cube.apply, (x,))
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward" and y.grad_fn.inputs == (x,)
    np.testing.assert_allclose(y.data, x.data ** 3, rtol=1e-15)


def test_custom_function_with_two_outputs():
    x = _leaf((5, 2), seed=14)
    assert gradcheck(lambda x: Split.apply(x, 2), (x,))
    first, second = Split.apply(x, 2)
    assert first.shape == (2, 2) and second.shape == (3, 2)
    assert first.grad_fn is second.grad_fn


def test_custom_function_with_one_of_two_outputs_used():
    x = _leaf((5,), seed=15)
    first, _ = Split.apply(x, 2)
    (first * 3.0).sum().backward()   # the unused output's gradient is zero, of its shape
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 0.0, 0.0, 0.0])


def test_needs_input_grad_says_which_inputs_need_a_gradient():
    ScaledAdd.seen.clear()
    a, b = _leaf((3,)), Tensor(np.ones(3))
    out = ScaledAdd.apply(a, b, 2.0)
    ScaledAdd.apply(b, a, 2.0)
    assert ScaledAdd.seen == [(True, False, False), (False, True, False)]
    assert gradcheck(lambda a, b: ScaledAdd.apply(a, b, 2.0), (a, _leaf((3,), seed=1)))
    assert out.grad_fn.inputs == (a, None, None)


def test_gradcheck_rejects_a_wrong_backward():
    with pytest.raises(GradcheckError, match="gradient of input 0 disagrees"):
        gradcheck(WrongDerivative.apply, (_leaf((4,), seed=16),))


def test_gradcheck_needs_float64_and_an_input_requiring_grad():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda x: x * 2, (Tensor(np.ones(2, dtype=np.float32), requires_grad=True),))
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, (Tensor(np.ones(2)),))


def test_ndarray_on_the_left_gives_tensors_with_gradients():
    rng = np.random.default_rng(17)
    A, v = rng.standard_normal((2, 3)), rng.standard_normal(3)
    x = _leaf((3,))
    for out in (A @ x, v + x, v - x, v * x, v / x):
        assert isinstance(out, Tensor) and out.requires_grad
    (A @ x).sum().backward()
    np.testing.assert_allclose(x.grad, A.sum(axis=0), rtol=1e-15)
    x.grad = None
    (v + x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))
    assert gradcheck(lambda x: A @ x, (x,)) and gradcheck(lambda x: v / x, (_away_from_zero((3,)),))


def test_grad_fn_names_and_inputs_walk_the_graph():
    x, w = _leaf((3,)), _leaf((3,), seed=1)
    loss = ((x * w).exp() - 1.0).sum()
    nodes, node = [], loss.grad_fn
    while node is not None:          # follow each node's first input down to a leaf
        nodes.append(node)
        node = node.inputs[0].grad_fn
    assert [n.name() for n in nodes] == ["SumBackward", "SubBackward", "ExpBackward", "MulBackward"]
    assert nodes[1].inputs[1] is None                      # the number 1.0 is no edge
    assert nodes[-1].inputs[0] is x and nodes[-1].inputs[1] is w and x.is_leaf
    assert repr(loss).endswith("grad_fn=<SumBackward>)")


# -- memory: the graph is freed after backward ---------------------------------------------------------

def test_training_memory_stays_flat():
    rng = np.random.default_rng(18)
    model, loss_fn = _small_network(), nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, target = Tensor(rng.standard_normal((2, 1, 8, 8))), Tensor(rng.standard_normal((2, 1, 8, 8)))
    traced = {}
    gc.collect()
    gc.disable()                     # reference counting alone must free each step's graph
    tracemalloc.start()
    try:
        for step in range(1, 301):
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            opt.step()
            del loss
            if step in (50, 300):
                traced[step] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert traced[300] - traced[50] <= 64 * 1024, traced


def test_an_intermediate_node_is_freed_with_the_loss():
    rng = np.random.default_rng(19)
    model, loss_fn = _small_network(), nn.MSELoss()
    x, target = Tensor(rng.standard_normal((1, 1, 6, 6))), Tensor(rng.standard_normal((1, 1, 6, 6)))
    hidden = model[1](model[0](x))
    node, tensor_ref = weakref.ref(hidden.grad_fn), weakref.ref(hidden)
    loss = loss_fn(model[2](hidden), target)
    del hidden
    loss.backward()
    assert node() is not None        # the loss still holds its graph
    del loss
    assert node() is None and tensor_ref() is None
    assert all(p.grad is not None for p in model.parameters())
