"""What chapter 12 says PyTorch does, tested against PyTorch.

Chapter 12 replays source 003's autograd examples in ``convgrad.autograd``; the
notebook must not import torch, so each statement it makes about PyTorch's own
behaviour is one test here, named in the chapter's cell. Skipped where PyTorch
is absent.
"""

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _doubling_loop(x):
    # source 003's loop, as printed
    y = x * 2
    i = 0
    while y.data.norm() < 1000:
        y = y * 2
        i += 1
    return y, i


def test_doubling_loop_stops_once_the_norm_reaches_1000():
    # The loop runs *while* the norm is below 1000, so it stops at the first y whose
    # norm is at least 1000 (not "until its norm is smaller than 1000").
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        x = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
        y, i = _doubling_loop(x)
        assert y.data.norm() >= 1000
        assert (y.data / 2).norm() < 1000 or i == 0
        assert torch.equal(y.data, x.data * 2 ** (i + 1))


def test_doubling_loop_gradient_is_the_vector_times_2_to_the_i_plus_1():
    # y = 2^(i+1) x, so y.backward(v) leaves x.grad = 2^(i+1) v; the source's printed
    # tensor([102.4, 1024, 0.1024]) is 1024 v: 2^(i+1) = 1024, i = 9.
    gen = torch.Generator().manual_seed(1)
    v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float64)
    for _ in range(20):
        x = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
        y, i = _doubling_loop(x)
        y.backward(v)
        assert torch.allclose(x.grad, 2 ** (i + 1) * v, rtol=1e-15, atol=0)
    printed = torch.tensor([1.0240e+02, 1.0240e+03, 1.0240e-01], dtype=torch.float64)
    assert torch.allclose(printed, 1024 * v) and math.log2(1024) - 1 == 9


def test_backward_without_a_gradient_on_the_doubled_vector_raises():
    x = torch.randn(3, requires_grad=True)
    y, _ = _doubling_loop(x)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()


def _dot(x_requires_grad, w_requires_grad, n=4):
    x = torch.arange(1., n + 1, requires_grad=x_requires_grad)
    w = torch.ones(n, requires_grad=w_requires_grad)
    return x, w, w @ x


def test_before_backward_both_grads_are_none():
    # The source prints x.grad and w.grad right after z = w @ x: no backward has run.
    x, w, z = _dot(True, True)
    assert x.grad is None and w.grad is None


def test_backward_works_when_both_require_grad():
    x, w, z = _dot(True, True)
    z.backward()
    assert torch.equal(x.grad, w.detach()) and torch.equal(w.grad, x.detach())


def test_backward_works_when_only_x_requires_grad():
    # The source: omitting requires_grad on either x or w makes backward() raise. It does not.
    x, w, z = _dot(True, False)
    z.backward()
    assert torch.equal(x.grad, torch.ones(4)) and w.grad is None


def test_backward_works_when_only_w_requires_grad():
    x, w, z = _dot(False, True)
    z.backward()
    assert torch.equal(w.grad, torch.arange(1., 5.)) and x.grad is None


def test_backward_raises_when_neither_requires_grad():
    x, w, z = _dot(False, False)
    assert not z.requires_grad and z.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        z.backward()


def test_no_grad_records_no_graph_and_backward_raises():
    x = torch.arange(1., 5.)
    w = torch.ones(4, requires_grad=True)
    with torch.no_grad():
        z = w @ x
    assert w.requires_grad                                   # the leaf keeps its flag
    assert not z.requires_grad and z.grad_fn is None         # nothing was recorded
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        z.backward()


def test_grad_fn_of_x_minus_2_and_next_functions_reach_x():
    x = torch.arange(4., dtype=torch.float64).reshape(2, 2).requires_grad_()
    y = x - 2
    assert type(y.grad_fn).__name__ == "SubBackward0"
    assert y.grad_fn.next_functions[0][0].variable is x


def test_the_2x2_example_gradient_has_the_shape_of_x():
    # a = mean(3 (x - 2)^2): da/dx = 6 (x - 2) / 4, stored with x's shape.
    x = torch.arange(4., dtype=torch.float64).reshape(2, 2).requires_grad_()
    a = (3 * (x - 2) ** 2).mean()
    a.backward()
    assert x.grad.shape == x.shape
    assert torch.allclose(x.grad, 1.5 * (x.detach() - 2))


def test_grad_accumulates_across_two_backwards_until_zeroed():
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (x ** 2).sum().backward()
    (x ** 2).sum().backward()
    assert torch.equal(x.grad, 4 * x.detach())
    x.grad.zero_()
    (x ** 2).sum().backward()
    assert torch.equal(x.grad, 2 * x.detach())


def test_broadcast_gradient_is_summed_to_the_input_shape():
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.shape == (4,) and torch.allclose(b.grad, a.detach().sum(0))


class MyAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x1, x2):
        ctx.save_for_backward(x1, x2)
        return x1 + x2

    @staticmethod
    def backward(ctx, grad_output):
        x1, x2 = ctx.saved_tensors
        return grad_output * torch.ones_like(x1), grad_output * torch.ones_like(x2)


class MySplit(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone(), x.clone()

    @staticmethod
    def backward(ctx, grad1, grad2):
        return grad1 + grad2


class MyMax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        index = torch.argmax(x)
        ctx.save_for_backward(x, index)
        return x[index]

    @staticmethod
    def backward(ctx, grad_output):
        x, index = ctx.saved_tensors
        grad = torch.zeros_like(x)
        grad[index] = grad_output
        return grad


def test_custom_add_split_max_pass_gradcheck():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(MyAdd.apply, (a, b))
    assert torch.autograd.gradcheck(lambda t: MySplit.apply(t)[0] * 2 + MySplit.apply(t)[1] ** 2, (a,))
    assert torch.autograd.gradcheck(MyMax.apply, (a,))


def test_split_sums_the_gradients_and_max_is_one_hot():
    x = torch.tensor([0.5, 3.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    u, v = MySplit.apply(x)
    (2 * u + 3 * v).sum().backward()
    assert torch.equal(x.grad, torch.full((4,), 5.0, dtype=torch.float64))
    x.grad = None
    MyMax.apply(x).backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64))


def test_source_myadd_without_staticmethod_still_runs():
    # The source's MyAdd defines forward/backward without @staticmethod; apply calls them
    # on the class, so the functions still receive ctx first.
    class SourceAdd(torch.autograd.Function):
        def forward(ctx, x1, x2):
            ctx.save_for_backward(x1, x2)
            return x1 + x2

        def backward(ctx, grad_output):
            x1, x2 = ctx.saved_tensors
            return grad_output * torch.ones_like(x1), grad_output * torch.ones_like(x2)

    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SourceAdd.apply(a, b).sum().backward()
    assert torch.equal(a.grad, torch.ones(3)) and torch.equal(b.grad, torch.ones(3))


def test_custom_function_needs_input_grad():
    seen = []

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            return None, None

    Probe.apply(torch.ones(2, requires_grad=True), torch.ones(2))
    assert seen == [(True, False)]


def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * x                      # missing the factor 2

    x = torch.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    assert not torch.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False)


def _cube(derivative):
    # y = x^3 whose backward multiplies grad_output by derivative(x)
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * derivative(x)

    return Cube


def test_backward_multiplies_by_d_output_d_input_not_its_inverse():
    # The source: a custom module needs "the partial derivatives of the input respect to the output". For
    # y = x^3 a backward using dx/dy = 1/(3x^2) fails gradcheck; dy/dx = 3x^2 passes.
    x = torch.tensor([0.5, 1.3, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_cube(lambda v: 3 * v ** 2).apply, (x,))
    assert not torch.autograd.gradcheck(_cube(lambda v: 1 / (3 * v ** 2)).apply, (x,), raise_exception=False)


def test_max_shares_the_gradient_among_ties():
    # max() over all entries splits the gradient equally among tied maxima (chapter 12, exercise 4).
    x = torch.tensor([1.0, 3.0, 3.0, 0.0], dtype=torch.float64, requires_grad=True)
    x.max().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 0.5, 0.5, 0.0], dtype=torch.float64))
    x = torch.tensor([1.0, 3.0, 3.0, 3.0], dtype=torch.float64, requires_grad=True)
    x.max().backward()
    assert torch.allclose(x.grad, torch.tensor([0.0, 1 / 3, 1 / 3, 1 / 3], dtype=torch.float64), rtol=1e-15, atol=0)
