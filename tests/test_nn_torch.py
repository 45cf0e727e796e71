"""convgrad.autograd, convgrad.nn and convgrad.optim against PyTorch: every operation's forward and gradient,
nn.functional's layers, a small network trained for five optimiser steps from the same weights, PyTorch's
default initialisation and its errors. Float64 throughout (tensors built with dtype=torch.float64; the
global default dtype is left alone). Skipped where PyTorch is absent."""

import inspect
import math

import numpy as np
import pytest

from convgrad import nn, optim
from convgrad.autograd import Function, Tensor, is_grad_enabled
from convgrad.nn import functional as NF
from convgrad.nn import init

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL = 1e-12


# -- helpers -------------------------------------------------------------------------------------------

def _arrays(shapes, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]


def _close(convgrad_value, torch_value, rtol=RTOL, atol=1e-14, what=""):
    expected = torch_value.detach().numpy() if isinstance(torch_value, torch.Tensor) else np.asarray(torch_value)
    got = convgrad_value.data if isinstance(convgrad_value, Tensor) else np.asarray(convgrad_value)
    assert got.shape == expected.shape, what
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


def _compare(convgrad_func, torch_func, arrays, seed=1):
    """Run both functions on the same float64 data, backward with the same upstream gradient, and compare
    the outputs and every input's gradient."""
    ours = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, expected = convgrad_func(*ours), torch_func(*theirs)
    _close(out, expected, what="forward")
    upstream = np.random.default_rng(seed).standard_normal(expected.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream, dtype=torch.float64))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        _close(a.grad, b.grad, what=f"gradient of input {i}")


def _no_ties(shape, seed=0):
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) / 10.0 - 1.0


# -- every operation against torch.autograd ------------------------------------------------------------

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((4,), (3, 1)), ((2, 3, 4), (3, 1)), ((), (3,))]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_operations(op, shapes):
    a, b = _arrays(shapes, seed=2)
    _compare(BINARY[op], BINARY[op], [a, b + np.sign(b) * 0.5])


@pytest.mark.parametrize("name, func", [("neg", lambda x: -x), ("pow3", lambda x: x ** 3),
                                        ("pow-1.5", lambda x: x ** -1.5), ("rsub", lambda x: 2.0 - x),
                                        ("rdiv", lambda x: 2.0 / x), ("rpow", lambda x: 2.0 ** x),
                                        ("exp", lambda x: x.exp()), ("log", lambda x: x.log())])
def test_unary_operations(name, func):
    _compare(func, func, _arrays([(3, 4)], seed=3, positive=True))


def test_relu():
    x = _arrays([(4, 5)], seed=4)[0]
    x[0, 0] = 0.0                    # the derivative at 0 is 0 in both
    _compare(lambda t: t.relu(), torch.relu, [x])


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 4)), ((3, 4), (4,)), ((2, 3), (3, 4)),
                                    ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                                    ((3,), (2, 3, 4)), ((2, 3, 4), (4,))], ids=str)
def test_matmul(shapes):
    _compare(lambda a, b: a @ b, lambda a, b: a @ b, _arrays(shapes, seed=5))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (2, 1)], ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_reductions(reduction, dim, keepdim):
    _compare(lambda t: getattr(t, reduction)(dim, keepdim), lambda t: getattr(t, reduction)(dim=dim, keepdim=keepdim),
             _arrays([(2, 3, 4)], seed=6))


def test_broadcast_then_reduce():
    # a (3, 1) column and a (4,) row broadcast to (3, 4), reduced along each axis
    _compare(lambda a, b: (a * b).sum(0) + (a - b).mean(1, keepdim=True),
             lambda a, b: (a * b).sum(0) + (a - b).mean(1, keepdim=True), _arrays([(3, 1), (4,)], seed=7))


@pytest.mark.parametrize("shape", [(12,), (4, 3), (2, 3, 2), (-1, 2)], ids=str)
def test_reshape(shape):
    _compare(lambda t: t.reshape(shape), lambda t: t.reshape(shape), _arrays([(3, 4)], seed=8))


def test_max_without_ties():
    _compare(lambda t: t.max(), lambda t: t.max(), [_no_ties((3, 4))])


def test_torch_max_shares_the_gradient_among_ties():
    # PyTorch's max() without dim divides the gradient equally among the tied entries; convgrad does the same.
    data = np.array([[1.0, 3.0, 0.0], [3.0, 2.0, 3.0]])
    theirs = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    (theirs.max() * 6.0).backward()
    np.testing.assert_array_equal(theirs.grad.numpy(), [[0, 2.0, 0], [2.0, 0, 2.0]])
    _compare(lambda t: t.max(), lambda t: t.max(), [data])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_along_a_dim(dim, keepdim):
    data = _no_ties((3, 4, 2), seed=9)
    _compare(lambda t: t.max(dim, keepdim)[0], lambda t: t.max(dim=dim, keepdim=keepdim).values, [data])
    _close(Tensor(data).max(dim, keepdim)[1], torch.tensor(data).max(dim=dim, keepdim=keepdim).indices)


def test_max_along_a_dim_with_ties_picks_the_first_index():
    data = np.array([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0], [2.0, 2.0, 2.0]])
    _compare(lambda t: t.max(1)[0], lambda t: t.max(dim=1).values, [data])
    indices = torch.tensor(data).max(dim=1).indices
    np.testing.assert_array_equal(indices.numpy(), [1, 0, 0])
    np.testing.assert_array_equal(Tensor(data).max(1)[1].data, indices.numpy())


INDICES = {"int": (lambda: 1), "slice": (lambda: (slice(None), slice(1, None, 2))),
           "repeated": (lambda: [0, 2, 0, 0]), "pair": (lambda: ([0, 1, 1], [3, 3, 0])), "row": (lambda: (2, Ellipsis))}


@pytest.mark.parametrize("name", INDICES)
def test_indexing(name):
    index = INDICES[name]()
    torch_index = (tuple(torch.tensor(i) if isinstance(i, list) else i for i in index) if isinstance(index, tuple)
                   else torch.tensor(index) if isinstance(index, list) else index)
    convgrad_index = (tuple(np.array(i) if isinstance(i, list) else i for i in index) if isinstance(index, tuple)
                      else index)
    _compare(lambda t: t[convgrad_index], lambda t: t[torch_index], _arrays([(3, 4)], seed=10))


def test_a_value_used_twice_and_accumulation():
    def f(x, w):
        h = x * w
        return (h * h + h.exp()).sum() + (x @ w)
    arrays = _arrays([(3,), (3,)], seed=11)
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    for _ in range(2):               # the second backward adds to .grad in both
        f(*ours).backward()
        f(*theirs).backward()
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad)


# -- engine semantics that convgrad copies from PyTorch ------------------------------------------------

def test_backward_runs_with_grad_mode_off_in_both():
    modes = []

    class TorchSquare(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            modes.append(torch.is_grad_enabled())
            (x,) = ctx.saved_tensors
            return 2 * x * g

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            modes.append(is_grad_enabled())
            (x,) = ctx.saved_tensors
            return 2 * x * g

    TorchSquare.apply(torch.ones(2, dtype=torch.float64, requires_grad=True)).sum().backward()
    Square.apply(Tensor(np.ones(2), requires_grad=True)).sum().backward()
    assert modes == [False, False]


def test_a_retained_root_keeps_the_given_gradient_in_both():
    theirs = torch.ones(3, dtype=torch.float64, requires_grad=True) * 2
    theirs.retain_grad()
    theirs.backward(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    ours = Tensor(np.ones(3), requires_grad=True) * 2
    ours.retain_grad()
    ours.backward(np.array([1.0, 2.0, 3.0]))
    _close(ours.grad, theirs.grad)


def test_an_unused_output_gets_a_zero_gradient_of_its_shape_in_both():
    seen = []

    class TorchSplit(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2].clone(), x[2:].clone()

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append(tuple(g2.shape))
            return torch.cat([g1, g2])

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return Tensor(x.data[:2]), Tensor(x.data[2:])

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append(g2.shape)
            assert not g2.data.any()
            return Tensor(np.concatenate([g1.data, g2.data]))

    theirs = torch.arange(5.0, dtype=torch.float64, requires_grad=True)
    TorchSplit.apply(theirs)[0].sum().backward()
    ours = Tensor(np.arange(5.0), requires_grad=True)
    Split.apply(ours)[0].sum().backward()
    assert seen == [(3,), (3,)]
    _close(ours.grad, theirs.grad)


def test_a_python_float_is_float32_in_torch_and_float64_in_convgrad():
    # convgrad.autograd's docstring: "a Python float becomes float64 (PyTorch's default is float32)"
    assert torch.tensor(1.5).dtype == torch.float32
    assert Tensor(1.5).dtype == np.float64


def test_backward_errors_are_runtime_errors_in_both():
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (torch.ones(3, requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (Tensor(np.ones(3), requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(()).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(())).backward()


def test_integer_tensors_cannot_require_grad_in_both():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.ones(3, dtype=torch.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(np.ones(3, dtype=np.int64), requires_grad=True)


def test_numpy_refused_while_requires_grad_in_both():
    with pytest.raises(RuntimeError, match="detach"):
        torch.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="detach"):
        Tensor(np.ones(2), requires_grad=True).numpy()


# -- nn.functional against torch.nn.functional ---------------------------------------------------------

def _torch_conv(nd, x, w, b, padding_mode="zeros", padding=0, **options):
    conv = TF.conv2d if nd == 2 else TF.conv1d
    if padding_mode == "zeros":
        return conv(x, w, b, padding=padding, **options)
    pads = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    flat = tuple(p for size in reversed(pads) for p in (size, size))   # F.pad lists the last axis first
    return conv(TF.pad(x, flat, mode=padding_mode), w, b, **options)


CONV2D = [dict(), dict(stride=2), dict(stride=(2, 1), padding=1), dict(padding=(1, 2)), dict(padding="same"),
          dict(padding="same", dilation=2), dict(padding="valid"), dict(dilation=(2, 1), padding=2),
          dict(groups=2), dict(groups=4, padding=1), dict(padding=1, padding_mode="reflect"),
          dict(padding=(2, 1), padding_mode="circular", stride=2), dict(padding=1, padding_mode="replicate")]


@pytest.mark.parametrize("options", CONV2D, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_conv2d(options, bias):
    groups = options.get("groups", 1)
    x, w, b = _arrays([(2, 4, 7, 8), (8, 4 // groups, 3, 3), (8,)], seed=12)
    arrays = [x, w, b] if bias else [x, w]
    _compare(lambda x, w, b=None: NF.conv2d(x, w, b, **options),
             lambda x, w, b=None: _torch_conv(2, x, w, b, **options), arrays)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("kernel", [(2, 4), (1, 3), (4, 1)], ids=str)
def test_conv2d_same_with_an_even_kernel(kernel):
    # PyTorch pads the extra row/column of an even kernel's "same" padding at the end
    x, w, b = _arrays([(1, 2, 6, 7), (3, 2) + kernel, (3,)], seed=13)
    _compare(lambda x, w, b: NF.conv2d(x, w, b, padding="same"),
             lambda x, w, b: TF.conv2d(x, w, b, padding="same"), [x, w, b])


CONV1D = [dict(), dict(stride=3), dict(padding=2), dict(padding="same", dilation=2), dict(groups=2),
          dict(padding=2, padding_mode="reflect"), dict(padding=3, padding_mode="circular")]


@pytest.mark.parametrize("options", CONV1D, ids=str)
def test_conv1d(options):
    groups = options.get("groups", 1)
    _compare(lambda x, w, b: NF.conv1d(x, w, b, **options),
             lambda x, w, b: _torch_conv(1, x, w, b, **options),
             _arrays([(2, 4, 11), (6, 4 // groups, 3), (6,)], seed=14))


def test_unbatched_conv2d():
    _compare(lambda x, w, b: NF.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
             _arrays([(3, 5, 5), (2, 3, 3, 3), (2,)], seed=15))


@pytest.mark.parametrize("options", [dict(kernel_size=2), dict(kernel_size=3, stride=1),
                                     dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(1, 2))],
                         ids=str)
def test_max_pool2d(options):
    _compare(lambda x: NF.max_pool2d(x, **options), lambda x: TF.max_pool2d(x, **options), [_no_ties((2, 3, 7, 8))])


def test_max_pool2d_with_ties():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = 1.0   # ties inside a window and across overlapping windows
    _compare(lambda x: NF.max_pool2d(x, 2, stride=1), lambda x: TF.max_pool2d(x, 2, stride=1), [x])


@pytest.mark.parametrize("options", [dict(kernel_size=2), dict(kernel_size=3, stride=1),
                                     dict(kernel_size=3, stride=2, padding=1),
                                     dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)], ids=str)
def test_avg_pool2d(options):
    _compare(lambda x: NF.avg_pool2d(x, **options), lambda x: TF.avg_pool2d(x, **options),
             _arrays([(2, 3, 7, 8)], seed=16))


def test_functional_relu():
    x = _arrays([(2, 3, 4)], seed=17)[0]
    x[0, 0, 0] = 0.0
    _compare(NF.relu, TF.relu, [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    _compare(lambda a, b: NF.mse_loss(a, b, reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction),
             _arrays([(2, 3, 4), (2, 3, 4)], seed=18))


# -- a small network, five optimiser steps from the same weights ----------------------------------------

def _networks(with_pool, seed):
    ours = [nn.Conv2d(1, 4, 3, padding=1, generator=np.random.default_rng(seed)), nn.ReLU()]
    theirs = [torch.nn.Conv2d(1, 4, 3, padding=1, dtype=torch.float64), torch.nn.ReLU()]
    if with_pool:
        ours.append(nn.MaxPool2d(2))
        theirs.append(torch.nn.MaxPool2d(2))
    ours.append(nn.Conv2d(4, 1, 3, padding=1, generator=np.random.default_rng(seed + 1)))
    theirs.append(torch.nn.Conv2d(4, 1, 3, padding=1, dtype=torch.float64))
    return nn.Sequential(*ours), torch.nn.Sequential(*theirs)


def _copy_weights(ours, theirs, direction):
    """Make both networks hold the same weights: convgrad's copied into torch's, or torch's into convgrad's."""
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)      # the same dotted names
    with torch.no_grad():
        for name, p in ours_params.items():
            if direction == "convgrad to torch":
                theirs_params[name].copy_(torch.from_numpy(p.data))
            else:
                ours.load_state_dict({name: theirs_params[name].numpy().copy()}, strict=False)
    for name, p in ours_params.items():
        np.testing.assert_array_equal(p.data, theirs_params[name].detach().numpy())


OPTIMISERS = {
    "SGD momentum": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4)),
    "SGD nesterov": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True)),
    "Adam": (lambda ps: optim.Adam(ps, lr=0.01),
             lambda ps: torch.optim.Adam(ps, lr=0.01)),
    "Adam weight decay": (lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-2),
                          lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=1e-2)),
}


@pytest.mark.parametrize("direction", ["convgrad to torch", "torch to convgrad"])
@pytest.mark.parametrize("with_pool", [False, True], ids=["conv-relu-conv", "with max pool"])
@pytest.mark.parametrize("optimiser", OPTIMISERS)
def test_training_steps_match_pytorch(optimiser, with_pool, direction):
    ours, theirs = _networks(with_pool, seed=19)
    _copy_weights(ours, theirs, direction)
    make_ours, make_theirs = OPTIMISERS[optimiser]
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    rng = np.random.default_rng(20)
    x = rng.standard_normal((4, 1, 8, 8))
    target = rng.standard_normal((4, 1, 4, 4) if with_pool else (4, 1, 8, 8))
    x_t, target_t = torch.tensor(x, dtype=torch.float64), torch.tensor(target, dtype=torch.float64)
    for step in range(1, 6):
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        loss = nn.MSELoss()(ours(Tensor(x)), Tensor(target))
        loss_t = TF.mse_loss(theirs(x_t), target_t)
        _close(loss, loss_t, what=f"loss at step {step}")
        loss.backward()
        loss_t.backward()
        opt_ours.step()
        opt_theirs.step()
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            _close(p, q, atol=1e-15, what=f"{name} after step {step}")


def test_optimiser_defaults_match_pytorch():
    def defaults(function, names):
        parameters = inspect.signature(function).parameters
        return {name: parameters[name].default for name in names}
    sgd = ["lr", "momentum", "dampening", "weight_decay", "nesterov"]
    adam = ["lr", "betas", "eps", "weight_decay"]
    assert defaults(optim.SGD.__init__, sgd) == defaults(torch.optim.SGD.__init__, sgd)
    assert defaults(optim.Adam.__init__, adam) == defaults(torch.optim.Adam.__init__, adam)


# -- PyTorch's default initialisation ----------------------------------------------------------------------

def test_pytorch_conv2d_default_init_bounds():
    # torch.nn.Conv2d's weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 3 * 5 * 5
    bound = 1 / math.sqrt(3 * 5 * 5)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weights = [torch.nn.Conv2d(3, 8, 5, dtype=torch.float64) for _ in range(20)]
    w = torch.stack([c.weight.detach() for c in weights]).numpy()
    b = torch.stack([c.bias.detach() for c in weights]).numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size)


def test_convgrad_conv2d_default_init_follows_the_same_formula():
    bound = 1 / math.sqrt(3 * 5 * 5)
    rng = np.random.default_rng(21)
    layers = [nn.Conv2d(3, 8, 5, generator=rng) for _ in range(20)]
    w = np.stack([c.weight.data for c in layers])
    b = np.stack([c.bias.data for c in layers])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size)


@pytest.mark.parametrize("nonlinearity, param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                                 ("tanh", None), ("relu", None), ("leaky_relu", None),
                                                 ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5))])
def test_calculate_gain_matches_pytorch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


@pytest.mark.parametrize("name, kwargs", [("xavier_uniform_", dict(gain=1.5)), ("xavier_normal_", dict()),
                                          ("kaiming_uniform_", dict(a=math.sqrt(5))),
                                          ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
                                          ("kaiming_normal_", dict(nonlinearity="relu"))], ids=str)
def test_init_spreads_match_pytorch(name, kwargs):
    # same formula: the two libraries' draws on a (128, 32, 3, 3) tensor have the same spread
    shape = (128, 32, 3, 3)
    gen = torch.Generator().manual_seed(22)
    theirs = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), generator=gen, **kwargs)
    ours = getattr(init, name)(Tensor(np.empty(shape)), generator=np.random.default_rng(22), **kwargs)
    assert ours.data.std() == pytest.approx(theirs.std().item(), rel=0.02)
    if "uniform" in name:
        assert np.abs(ours.data).max() == pytest.approx(theirs.abs().max().item(), rel=1e-3)
def test_a_sequential_slice_keeps_the_names_as_in_pytorch():
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 1, 3))
    ours = nn.Sequential(nn.Conv2d(1, 2, 3, generator=np.random.default_rng(0)), nn.ReLU(),
                         nn.Conv2d(2, 1, 3, generator=np.random.default_rng(1)))
    expected = [name for name, _ in theirs[1:].named_parameters()]
    assert expected == ["2.weight", "2.bias"]
    assert [name for name, _ in ours[1:].named_parameters()] == expected
    assert list(ours[1:].state_dict()) == list(theirs[1:].state_dict())


def test_a_second_backward_through_a_graph_that_saved_nothing_works_in_both():
    # PyTorch refuses a second backward only when a node needs the tensors it saved; x + 1 saves none
    theirs = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    loss = (theirs + 1).sum()
    loss.backward()
    loss.backward()
    ours = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    ours_loss = (ours + 1).sum()
    ours_loss.backward()
    ours_loss.backward()
    assert np.array_equal(ours.grad, theirs.grad.numpy()) and np.array_equal(ours.grad, [2.0, 2.0])


def test_pytorch_numbers_its_nodes_in_creation_order_as_convgrad_does():
    # autograd.Node's docstring: the decreasing order of seq is a reverse topological order, and PyTorch's
    # nodes carry such numbers too. Both number a chain's nodes in the order the operations ran.
    x = torch.ones(3, requires_grad=True)
    a = x * 2
    b = a.exp()
    c = b.sum()
    assert a.grad_fn._sequence_nr() < b.grad_fn._sequence_nr() < c.grad_fn._sequence_nr()
    t = Tensor(np.ones(3), requires_grad=True)
    p = t * 2
    q = p.exp()
    r = q.sum()
    assert p.grad_fn.seq < q.grad_fn.seq < r.grad_fn.seq


def test_relu_backward_gives_plus_zero_where_the_input_is_not_positive_as_pytorch():
    # Why relu_backward keeps np.where rather than g * (x > 0): a negative or NaN gradient at an inactive
    # input must give +0.0, as PyTorch's threshold_backward does (g * False would give -0.0 and NaN).
    x = np.array([-1.0, 0.0, 2.0, -3.0])
    g = np.array([-5.0, np.nan, 7.0, np.nan])
    ours = Tensor(x, requires_grad=True)
    NF.relu(ours).backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    torch.relu(theirs).backward(torch.tensor(g))
    expected = theirs.grad.numpy()
    assert not np.signbit(expected).any() and not np.isnan(expected).any()
    np.testing.assert_array_equal(ours.grad, expected)
    assert np.array_equal(np.signbit(ours.grad), np.signbit(expected))


# -- load_state_dict's and the optimisers' refusals, as PyTorch's ----------------------------------------

def _state_dict_error(model, state, strict):
    try:
        model.load_state_dict(state, strict=strict)
    except Exception as error:  # noqa: BLE001  (the type is what is compared)
        return type(error), str(error)
    return None, ""


def test_load_state_dict_errors_and_result_as_pytorchs():
    ours, theirs = nn.Sequential(nn.Conv2d(1, 1, 3)), torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3)).double()
    mine, yours = ours.state_dict(), theirs.state_dict()
    # all keys match: both return (missing_keys, unexpected_keys), both empty
    result, torch_result = ours.load_state_dict(mine), theirs.load_state_dict(yours)
    assert result._fields == torch_result._fields == ("missing_keys", "unexpected_keys")
    assert tuple(result) == tuple(torch_result) == ([], [])
    def edited(state, what):
        if what == "missing":
            del state["0.bias"]
        elif what == "unexpected":
            state["1.weight"] = state["0.weight"]
        else:  # two output channels' kernels for a layer with one
            weight = state["0.weight"]
            state["0.weight"] = weight.repeat(2, 0) if isinstance(weight, np.ndarray) else weight.repeat(2, 1, 1, 1)
        return state

    for what, strict in (("missing", True), ("unexpected", True), ("size mismatch", False)):
        kind, message = _state_dict_error(ours, edited(ours.state_dict(), what), strict)
        torch_kind, torch_message = _state_dict_error(theirs, edited(theirs.state_dict(), what), strict)
        assert kind is torch_kind is RuntimeError, what
        first_line = "Error(s) in loading state_dict for Sequential:"
        assert message.splitlines()[0] == torch_message.splitlines()[0] == first_line, what
        label = {"missing": "Missing key(s)", "unexpected": "Unexpected key(s)", "size mismatch": "size mismatch for 0.weight"}
        assert label[what] in message and label[what] in torch_message, what
    # without strict, the missing and unexpected names are returned, not raised, by both
    state, torch_state = ours.state_dict(), theirs.state_dict()
    for s in (state, torch_state):
        s.pop("0.bias")
    assert tuple(ours.load_state_dict(state, strict=False)) == tuple(theirs.load_state_dict(torch_state, strict=False))


def test_optimizers_accept_a_leaf_without_gradient_and_refuse_what_pytorch_refuses():
    for ours_class, torch_class in ((optim.SGD, torch.optim.SGD), (optim.Adam, torch.optim.Adam)):
        ours_class([Tensor(np.ones(2))], lr=0.1)                         # requires_grad=False: accepted
        torch_class([torch.ones(2, dtype=torch.float64)], lr=0.1)        # by both
        for ours_bad, torch_bad in ((np.ones(2), 1.0),
                                    (nn.Parameter(np.ones(2)) * 2,
                                     torch.ones(2, dtype=torch.float64, requires_grad=True) * 2)):
            with pytest.raises((TypeError, ValueError)) as ours_error:
                ours_class([ours_bad], lr=0.1)
            with pytest.raises((TypeError, ValueError)) as torch_error:
                torch_class([torch_bad], lr=0.1)
            assert ours_error.type is torch_error.type
            if ours_error.type is ValueError:
                assert str(ours_error.value) == str(torch_error.value) == "can't optimize a non-leaf Tensor"
            else:
                assert str(ours_error.value).startswith("optimizer can only optimize Tensors, but one of the params is")
                assert str(torch_error.value).startswith("optimizer can only optimize Tensors, but one of the params is")
