"""convgrad.optim: SGD and Adam against the formulas their docstrings state, written out by hand on arrays."""

import math

import numpy as np
import pytest

from convgrad.autograd import Tensor
from convgrad.nn import Parameter
from convgrad.optim import SGD, Adam

STEPS = 6


# -- helpers: the docstrings' formulas, one step at a time ------------------------------------------------

def _sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Every iterate of SGD's rule:
    g = grad + wd p;  b = g (first step), else momentum b + (1 - dampening) g;
    g = g + momentum b if nesterov else b (when momentum != 0);  p = p - lr g."""
    p, b, path = p.copy(), None, []
    for grad in grads:
        g = grad + weight_decay * p
        if momentum != 0:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        path.append(p)
    return path


def _adam_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Every iterate of Adam's rule at steps t = 1, 2, ...:
    g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    beta1, beta2 = betas
    p, m, v, path = p.copy(), np.zeros_like(p), np.zeros_like(p), []
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        p = p - (lr / (1 - beta1 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps)
        path.append(p)
    return path


def _run(optimizer_class, start, grads, **options):
    """The optimiser's iterates on one Parameter whose grad is set to grads[k] before step k."""
    p = Parameter(start.copy())
    data = p.data
    opt = optimizer_class([p], **options)
    path = []
    for grad in grads:
        p.grad = grad.copy()
        opt.step()
        assert p.data is data     # updated in place
        path.append(p.data.copy())
    return path


def _problem(seed=0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(STEPS)]


# -- SGD --------------------------------------------------------------------------------------------------

SGD_CASES = {
    "plain": dict(lr=0.1),
    "weight decay": dict(lr=0.1, weight_decay=0.01),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.1, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "all": dict(lr=0.05, momentum=0.8, weight_decay=1e-3, nesterov=True),
    "dampening and decay": dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1),
}


@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_follows_its_formula(case):
    start, grads = _problem(seed=1)
    got = _run(SGD, start, grads, **SGD_CASES[case])
    expected = _sgd_reference(start, grads, **SGD_CASES[case])
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {k + 1}")


def test_sgd_cases_differ_from_one_another():
    # The cases above test different rules: their iterates after several steps are not the same.
    start, grads = _problem(seed=1)
    finals = {case: _sgd_reference(start, grads, **options)[-1] for case, options in SGD_CASES.items()}
    names = list(finals)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.allclose(finals[a], finals[b]), (a, b)


def test_sgd_first_momentum_step_is_a_plain_step():
    # b = g on the first step (no dampening), so the first iterate equals plain SGD's.
    start, grads = _problem(seed=2)
    damped = _run(SGD, start, grads[:1], lr=0.1, momentum=0.9, dampening=0.5)
    plain = _run(SGD, start, grads[:1], lr=0.1)
    np.testing.assert_array_equal(damped[0], plain[0])


# -- Adam -------------------------------------------------------------------------------------------------

ADAM_CASES = {
    "default": dict(lr=1e-3),
    "large lr": dict(lr=0.1),
    "betas": dict(lr=0.01, betas=(0.5, 0.9)),
    "eps": dict(lr=0.01, eps=0.1),
    "weight decay": dict(lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_follows_its_formula(case):
    start, grads = _problem(seed=3)
    got = _run(Adam, start, grads, **ADAM_CASES[case])
    expected = _adam_reference(start, grads, **ADAM_CASES[case])
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {k + 1}")


def test_adam_first_step_moves_each_entry_by_about_lr():
    # At t = 1, m / sqrt(v) after bias correction is sign(g): every entry moves by lr (up to eps).
    start, grads = _problem(seed=4)
    (first,) = _run(Adam, start, grads[:1], lr=0.01)
    np.testing.assert_allclose(first - start, -0.01 * np.sign(grads[0]), rtol=1e-6)


# -- bookkeeping ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer_class, options", [(SGD, dict(lr=0.1, momentum=0.9)),
                                                      (Adam, dict(lr=0.1))], ids=["SGD", "Adam"])
def test_parameters_without_grad_are_skipped(optimizer_class, options):
    start, grads = _problem(seed=5)
    p, q = Parameter(start.copy()), Parameter(start.copy())
    opt = optimizer_class([p, q], **options)
    for grad in grads[:3]:
        p.grad, q.grad = grad.copy(), None
        opt.step()
    np.testing.assert_array_equal(q.data, start)
    assert opt.state[1] == {}
    # q's first gradient is q's first step (Adam's counter and SGD's buffer start there)
    q.grad, p.grad = grads[3].copy(), None
    opt.step()
    reference = _sgd_reference if optimizer_class is SGD else _adam_reference
    np.testing.assert_allclose(q.data, reference(start, grads[3:4], **options)[0], rtol=1e-13)


def test_zero_grad_sets_none_or_zeros():
    p, q = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = SGD([p, q], lr=0.1)
    p.grad, q.grad = np.full(3, 2.0), None
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, np.zeros(3))
    assert q.grad is None
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_a_step_from_the_engine_gradient():
    # The optimiser reads the .grad backward leaves: one step of plain SGD on L = sum(p^2) is p (1 - 2 lr).
    p = Parameter(np.array([1.0, -2.0, 3.0]))
    opt = SGD([p], lr=0.25)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_array_equal(p.data, [0.5, -1.0, 1.5])


def test_parameters_may_come_from_a_generator():
    params = [Parameter(np.ones(2)), Parameter(np.ones(3))]
    opt = Adam(p for p in params)
    assert opt.params == params and len(opt.state) == 2


@pytest.mark.parametrize("options", [dict(lr=-0.1), dict(lr=float("nan")), dict(lr=0.1, momentum=-0.5),
                                     dict(lr=0.1, weight_decay=-1e-4), dict(lr=0.1, nesterov=True),
                                     dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)],
                         ids=["lr", "nan lr", "momentum", "weight_decay", "nesterov without momentum",
                              "nesterov with dampening"])
def test_sgd_invalid_arguments(options):
    with pytest.raises(ValueError):
        SGD([Parameter(np.ones(2))], **options)


@pytest.mark.parametrize("options", [dict(lr=-0.1), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.0)),
                                     dict(betas=(-0.1, 0.999)), dict(eps=-1e-8), dict(weight_decay=-1e-4)],
                         ids=["lr", "beta1", "beta2", "negative beta1", "eps", "weight_decay"])
def test_adam_invalid_arguments(options):
    with pytest.raises(ValueError):
        Adam([Parameter(np.ones(2))], **options)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_an_empty_parameter_list_raises(optimizer_class):
    with pytest.raises(ValueError, match="empty parameter list"):
        optimizer_class([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optimizer_class(iter(()), lr=0.1)


def test_parameters_must_be_leaf_tensors_and_a_leaf_without_gradient_is_left_alone():
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is ndarray"):
        SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([Parameter(np.ones(2)) * 2], lr=0.1)
    frozen, free = Tensor(np.ones(2)), Parameter(np.ones(2))
    opt = SGD([frozen, free], lr=0.5)
    (free * 3.0).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.data, [1.0, 1.0])
    np.testing.assert_array_equal(free.data, [-0.5, -0.5])
