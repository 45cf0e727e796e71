"""convgrad.nn: Module bookkeeping (registration, names, state_dict), nn.init's formulas, and the layers as
wrappers of convgrad.functional (same forward, gradients from convgrad.functional's derived backward)."""

import math

import numpy as np
import pytest

import convgrad.conv as CC
import convgrad.functional as CF
from convgrad import nn
from convgrad.autograd import Tensor, gradcheck
from convgrad.nn import functional as NF
from convgrad.nn import init


# -- helpers -------------------------------------------------------------------------------------------

class Net(nn.Module):
    """A module whose attributes are assigned in a known order: a layer, a parameter, a nested Sequential."""

    def __init__(self, generator):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1, generator=generator)
        self.scale = nn.Parameter(np.ones(1))
        self.body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, generator=generator), nn.ReLU(),
                                  nn.Sequential(nn.Conv2d(2, 1, 1, bias=False, generator=generator)))
        self.note = "not registered"

    def forward(self, x):
        return self.body(self.stem(x)) * self.scale


def _rng(seed=0):
    return np.random.default_rng(seed)


def _array(shape, seed=0):
    return _rng(seed).standard_normal(shape)


def _count(module):
    return sum(p.data.size for p in module.parameters())


class _Spy:
    """Wraps a function of ``module`` (convgrad.functional unless given), recording the arguments of each call."""

    def __init__(self, monkeypatch, name, module=CF):
        self.calls, self.function = [], getattr(module, name)
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.function(*args, **kwargs)


# -- Module, Parameter, Sequential ---------------------------------------------------------------------

def test_registration_follows_assignment_order():
    net = Net(_rng())
    assert list(net._modules) == ["stem", "body"]
    assert list(net.children()) == [net.stem, net.body]
    assert list(net._parameters) == ["scale"]
    assert "note" not in net._parameters and "note" not in net._modules


def test_named_parameters_have_dotted_names_for_nested_sequentials():
    names = [name for name, _ in Net(_rng()).named_parameters()]
    assert names == ["scale", "stem.weight", "stem.bias", "body.0.weight", "body.0.bias", "body.2.0.weight"]


def test_reassigning_an_attribute_replaces_its_registration():
    net = Net(_rng())
    net.scale = np.ones(1)           # a plain array is no Parameter any more
    net.stem = nn.ReLU()
    assert "scale" not in dict(net.named_parameters())
    assert [name for name, _ in net.named_parameters()][:1] == ["body.0.weight"]


def test_module_needs_super_init():
    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(2))
    with pytest.raises(AttributeError, match="super"):
        Forgetful()


@pytest.mark.parametrize("layer, count", [
    (lambda: nn.Conv2d(3, 8, 3), 8 * 3 * 9 + 8),
    (lambda: nn.Conv2d(3, 8, (3, 5)), 8 * 3 * 15 + 8),
    (lambda: nn.Conv2d(3, 8, 3, bias=False), 8 * 3 * 9),
    (lambda: nn.Conv2d(4, 8, 3, groups=2), 8 * 2 * 9 + 8),
    (lambda: nn.Conv2d(4, 4, 3, groups=4), 4 * 1 * 9 + 4),
    (lambda: nn.Conv1d(2, 16, 3), 16 * 2 * 3 + 16),
    (lambda: nn.Conv1d(6, 4, 5, groups=2, bias=False), 4 * 3 * 5),
    (lambda: nn.ReLU(), 0), (lambda: nn.MaxPool2d(2), 0), (lambda: nn.AvgPool2d(2), 0), (lambda: nn.MSELoss(), 0),
], ids=["Conv2d(3,8,3)", "Conv2d(3,8,(3,5))", "bias=False", "groups=2", "depthwise", "Conv1d(2,16,3)",
        "Conv1d groups no bias", "ReLU", "MaxPool2d", "AvgPool2d", "MSELoss"])
def test_parameter_counts(layer, count):
    assert _count(layer()) == count


def test_bias_false_registers_no_bias():
    conv = nn.Conv2d(3, 8, 3, bias=False)
    assert conv.bias is None
    assert [name for name, _ in conv.named_parameters()] == ["weight"]
    assert conv.weight.shape == (8, 3, 3, 3)


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(3, 8, 3, groups=2), lambda: nn.Conv2d(4, 6, 3, groups=4),
                                  lambda: nn.Conv1d(4, 6, 3, groups=4)], ids=["in", "out", "conv1d"])
def test_groups_must_divide_both_channel_counts(make):
    with pytest.raises(ValueError, match="divisible by groups"):
        make()


@pytest.mark.parametrize("kwargs", [dict(in_channels=0), dict(out_channels=2.0), dict(groups=0),
                                    dict(kernel_size=0), dict(kernel_size=(3, 3, 3))], ids=str)
def test_bad_layer_arguments(kwargs):
    arguments = dict(in_channels=2, out_channels=2, kernel_size=3) | kwargs
    with pytest.raises(ValueError):
        nn.Conv2d(**arguments)


def test_zero_grad():
    net = Net(_rng())
    net(Tensor(_array((1, 1, 5, 5)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_copies_the_arrays():
    net = Net(_rng())
    before = net.stem.weight.data.copy()
    state = net.state_dict()
    assert list(state) == [name for name, _ in net.named_parameters()]
    state["stem.weight"][...] = 0.0
    np.testing.assert_array_equal(net.stem.weight.data, before)


def test_load_state_dict_round_trip():
    a, b = Net(_rng(0)), Net(_rng(1))
    x = Tensor(_array((2, 1, 5, 5)))
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    assert b.load_state_dict(state) == ([], [])
    np.testing.assert_array_equal(a(x).data, b(x).data)
    state["stem.bias"][...] = 5.0    # the model holds copies, not the dict's arrays
    assert not np.any(b.stem.bias.data == 5.0)


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    net = Net(_rng())
    state = net.state_dict()
    del state["stem.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "stem.bias"'):
        net.load_state_dict(state)
    state = net.state_dict()
    state["head.weight"] = np.ones(2)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "head.weight"'):
        net.load_state_dict(state)


def test_load_state_dict_not_strict_loads_the_common_keys():
    net = Net(_rng())
    state = {"stem.bias": np.array([7.0, 8.0]), "head.weight": np.ones(2)}
    result = net.load_state_dict(state, strict=False)
    missing, unexpected = result
    assert (result.missing_keys, result.unexpected_keys) == (missing, unexpected)
    assert unexpected == ["head.weight"] and "stem.bias" not in missing and "stem.weight" in missing
    np.testing.assert_array_equal(net.stem.bias.data, [7.0, 8.0])


def test_load_state_dict_shape_mismatch():
    net = Net(_rng())
    state = net.state_dict()
    state["stem.weight"] = np.ones((2, 1, 5, 5))
    state["stem.bias"] = np.full(2, 9.0)
    before = net.state_dict()
    for strict in (True, False):   # a shape that differs is an error even without strict, as in PyTorch
        with pytest.raises(RuntimeError, match=r"size mismatch for stem.weight: copying a param with shape "
                                               r"\(2, 1, 5, 5\) from checkpoint, the shape in current model is "
                                               r"\(2, 1, 3, 3\)"):
            net.load_state_dict(state, strict=strict)
    # nothing was loaded, not even the bias whose shape fits
    assert all(np.array_equal(before[name], value) for name, value in net.state_dict().items())


def test_train_and_eval_flags_reach_every_submodule():
    net = Net(_rng())
    modules = [net, net.stem, net.body, net.body[0], net.body[1], net.body[2], net.body[2][0]]
    assert all(m.training for m in modules)
    assert net.eval() is net
    assert not any(m.training for m in modules)
    net.train()
    assert all(m.training for m in modules)


def test_sequential_indexing_len_and_iter():
    layers = [nn.Conv2d(1, 2, 3, generator=_rng()), nn.ReLU(), nn.Conv2d(2, 1, 3, generator=_rng(1))]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[1:]
    x = Tensor(_array((1, 1, 7, 7)))
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)


def test_sequential_takes_only_modules():
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_parameter_requires_grad_and_shares_float_data():
    data = np.ones(3)
    p = nn.Parameter(data)
    assert p.requires_grad and p.data is data
    assert nn.Parameter(np.arange(3)).dtype == np.float64
    assert repr(p).startswith("Parameter containing:")


# -- nn.init -------------------------------------------------------------------------------------------

BIG = (256, 64, 3, 3)                # fan_in = 576, fan_out = 2304, 147456 entries
FAN_IN, FAN_OUT = 64 * 9, 256 * 9


def _filled(function, shape=BIG, seed=0, **kwargs):
    t = Tensor(np.zeros(shape))
    assert function(t, generator=np.random.default_rng(seed), **kwargs) is t   # filled in place
    return t.data


def _assert_uniform(values, low, high):
    n = values.size
    assert values.min() >= low and values.max() <= high
    width = high - low
    assert values.min() - low < 1e-3 * width and high - values.max() < 1e-3 * width   # the bounds are reached
    assert abs(values.mean() - (low + high) / 2) < 4 * width / math.sqrt(12 * n)
    assert values.std() == pytest.approx(width / math.sqrt(12), rel=0.01)


def _assert_normal(values, mean, std):
    assert abs(values.mean() - mean) < 4 * std / math.sqrt(values.size)
    assert values.std() == pytest.approx(std, rel=0.01)
    assert abs(values - mean).max() > 3 * std   # not clipped


def test_uniform():
    _assert_uniform(_filled(init.uniform_, a=-1.0, b=3.0), -1.0, 3.0)


def test_normal():
    _assert_normal(_filled(init.normal_, mean=2.0, std=0.5), 2.0, 0.5)


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_uniform(gain):
    bound = gain * math.sqrt(6 / (FAN_IN + FAN_OUT))
    _assert_uniform(_filled(init.xavier_uniform_, gain=gain), -bound, bound)


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_normal(gain):
    _assert_normal(_filled(init.xavier_normal_, gain=gain), 0.0, gain * math.sqrt(2 / (FAN_IN + FAN_OUT)))


KAIMING = [(0.0, "fan_in", "leaky_relu", math.sqrt(2) / math.sqrt(FAN_IN)),
           (0.0, "fan_out", "relu", math.sqrt(2) / math.sqrt(FAN_OUT)),
           (0.2, "fan_in", "leaky_relu", math.sqrt(2 / (1 + 0.2 ** 2)) / math.sqrt(FAN_IN)),
           (math.sqrt(5), "fan_in", "leaky_relu", 1 / math.sqrt(3 * FAN_IN)),
           (0.0, "fan_in", "tanh", 5 / 3 / math.sqrt(FAN_IN)),
           (0.0, "fan_out", "linear", 1 / math.sqrt(FAN_OUT))]


@pytest.mark.parametrize("a, mode, nonlinearity, std", KAIMING, ids=[f"{k[1]}-{k[2]}-a={k[0]:.2f}" for k in KAIMING])
def test_kaiming_uniform(a, mode, nonlinearity, std):
    bound = math.sqrt(3) * std
    _assert_uniform(_filled(init.kaiming_uniform_, a=a, mode=mode, nonlinearity=nonlinearity), -bound, bound)


@pytest.mark.parametrize("a, mode, nonlinearity, std", KAIMING, ids=[f"{k[1]}-{k[2]}-a={k[0]:.2f}" for k in KAIMING])
def test_kaiming_normal(a, mode, nonlinearity, std):
    _assert_normal(_filled(init.kaiming_normal_, a=a, mode=mode, nonlinearity=nonlinearity), 0.0, std)


def test_kaiming_with_a_sqrt5_is_one_over_sqrt_fan_in():
    # the docstring's claim: b = sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in) = 1 / sqrt(fan_in)
    values = _filled(init.kaiming_uniform_, a=math.sqrt(5))
    _assert_uniform(values, -1 / math.sqrt(FAN_IN), 1 / math.sqrt(FAN_IN))


def test_constant_fills():
    t = Tensor(np.empty((2, 3)))
    np.testing.assert_array_equal(init.zeros_(t).data, 0.0)
    np.testing.assert_array_equal(init.ones_(t).data, 1.0)
    np.testing.assert_array_equal(init.constant_(t, 0.25).data, 0.25)


def test_calculate_gain():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.3) == math.sqrt(2 / (1 + 0.3 ** 2))
    assert init.calculate_gain("linear") == init.calculate_gain("conv2d") == init.calculate_gain("sigmoid") == 1
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("softplus")


@pytest.mark.parametrize("function", [init.normal_, init.uniform_, init.xavier_uniform_, init.xavier_normal_,
                                      init.kaiming_uniform_, init.kaiming_normal_])
def test_the_same_seed_gives_the_same_weights(function):
    a, b = _filled(function, (8, 4, 3), seed=5), _filled(function, (8, 4, 3), seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _filled(function, (8, 4, 3), seed=6))


def test_the_same_seed_gives_the_same_layer():
    a = nn.Conv2d(3, 8, 3, generator=np.random.default_rng(3))
    b = nn.Conv2d(3, 8, 3, generator=np.random.default_rng(3))
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    c = nn.Conv2d(3, 8, 3, generator=np.random.default_rng(4))
    assert not np.array_equal(a.weight.data, c.weight.data)


@pytest.mark.parametrize("function", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                      init.kaiming_normal_])
def test_fans_need_two_dimensions(function):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        function(Tensor(np.zeros(5)), generator=np.random.default_rng(0))


@pytest.mark.parametrize("generator", [0, np.random.RandomState(0), "seed"], ids=["int", "RandomState", "str"])
def test_generator_must_be_a_numpy_generator(generator):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.normal_(Tensor(np.zeros(3)), generator=generator)


def test_kaiming_mode_is_checked():
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(Tensor(np.zeros((2, 2))), mode="fan_avg", generator=np.random.default_rng(0))


@pytest.mark.parametrize("groups", [1, 4])
def test_conv2d_default_init_bounds(groups):
    # PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/groups * kh * kw
    conv = nn.Conv2d(64, 256, 5, groups=groups, generator=np.random.default_rng(7))
    bound = 1 / math.sqrt(64 // groups * 25)
    _assert_uniform(conv.weight.data, -bound, bound)
    assert np.abs(conv.bias.data).max() <= bound and conv.bias.data.std() > bound / 3


# -- the layers are convgrad.functional, differentiated by convgrad.functional's backward ----------------

CONV2D_OPTIONS = [dict(), dict(stride=2), dict(padding=1), dict(padding="same", dilation=2),
                  dict(padding=(1, 2), padding_mode="reflect"), dict(padding=1, padding_mode="circular"),
                  dict(groups=2, stride=(1, 2)), dict(bias=False)]


# (2, 4, 7, 8) takes convgrad.conv's path for small jobs (the weight gradient reuses the forward's
# columns), (4, 7, 8) is unbatched, (6, 4, 30, 32) is large enough for the blocked, threaded path.
@pytest.mark.parametrize("shape", [(2, 4, 7, 8), (4, 7, 8), (6, 4, 30, 32)], ids=str)
@pytest.mark.parametrize("options", CONV2D_OPTIONS, ids=str)
def test_conv2d_layer_is_functional_conv2d(options, shape):
    layer_options = dict(options)
    bias = layer_options.pop("bias", True)
    conv = nn.Conv2d(4, 6, 3, bias=bias, generator=_rng(1), **layer_options)
    x = Tensor(_array(shape, seed=2), requires_grad=True)
    out = conv(x)
    b = None if conv.bias is None else conv.bias.data
    functional_options = dict(stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros") | layer_options
    np.testing.assert_array_equal(out.data, CF.conv2d(x.data, conv.weight.data, b, **functional_options))
    g = _array(out.shape, seed=3)
    out.backward(g)
    gx, gw, gb = CF.conv2d_backward(g, x.data, conv.weight.data, **functional_options)
    np.testing.assert_array_equal(x.grad, gx)
    np.testing.assert_array_equal(conv.weight.grad, gw)
    if conv.bias is not None:
        np.testing.assert_array_equal(conv.bias.grad, gb)


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=2), dict(padding="same", dilation=3),
                                     dict(padding=2, padding_mode="replicate", groups=2)], ids=str)
@pytest.mark.parametrize("shape", [(3, 2, 11), (2, 11), (40, 2, 900)], ids=str)
def test_conv1d_layer_is_functional_conv1d(options, shape):
    conv = nn.Conv1d(2, 4, 3, generator=_rng(4), **options)
    x = Tensor(_array(shape, seed=5), requires_grad=True)
    out = conv(x)
    functional_options = dict(stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros") | options
    np.testing.assert_array_equal(out.data, CF.conv1d(x.data, conv.weight.data, conv.bias.data,
                                                      **functional_options))
    g = _array(out.shape, seed=6)
    out.backward(g)
    gx, gw, gb = CF.conv1d_backward(g, x.data, conv.weight.data, **functional_options)
    np.testing.assert_array_equal(x.grad, gx)
    np.testing.assert_array_equal(conv.weight.grad, gw)
    np.testing.assert_array_equal(conv.bias.grad, gb)


@pytest.mark.parametrize("layer, forward, backward", [
    (nn.MaxPool2d(2), lambda x: CF.max_pool2d(x, 2), lambda g, x: CF.max_pool2d_backward(g, x, 2)),
    (nn.MaxPool2d(3, stride=2, padding=1), lambda x: CF.max_pool2d(x, 3, 2, 1),
     lambda g, x: CF.max_pool2d_backward(g, x, 3, 2, 1)),
    (nn.AvgPool2d(2), lambda x: CF.avg_pool2d(x, 2), lambda g, x: CF.avg_pool2d_backward(g, x, 2)),
    (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
     lambda x: CF.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
     lambda g, x: CF.avg_pool2d_backward(g, x, 3, 2, 1, count_include_pad=False)),
    (nn.ReLU(), CF.relu, CF.relu_backward),
], ids=["max2", "max3-s2-p1", "avg2", "avg3-s2-p1-exclude", "relu"])
def test_parameter_free_layers_are_functional(layer, forward, backward):
    x = Tensor(_array((2, 3, 6, 7), seed=7), requires_grad=True)
    out = layer(x)
    np.testing.assert_array_equal(out.data, forward(x.data))
    g = _array(out.shape, seed=8)
    out.backward(g)
    np.testing.assert_array_equal(x.grad, backward(g, x.data))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_layer_is_functional(reduction):
    x = Tensor(_array((2, 3, 4), seed=9), requires_grad=True)
    target = Tensor(_array((2, 3, 4), seed=10), requires_grad=True)
    loss = nn.MSELoss(reduction)(x, target)
    np.testing.assert_array_equal(loss.data, CF.mse_loss(x.data, target.data, reduction=reduction))
    g = _array(loss.shape, seed=11)
    loss.backward(g)
    expected = CF.mse_loss_backward(x.data, target.data, reduction=reduction, grad_output=g)
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(target.grad, -expected)


def test_mse_loss_reduction_is_checked():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("max")


@pytest.mark.parametrize("module, name, call", [
    (CC, "_backward", lambda x, w, b: NF.conv2d(x, w, b, padding=1)),
    (CC, "_backward", lambda x, w, b: NF.conv1d(x[..., 0], w[..., 0], b, padding=1)),
    (CF, "max_pool2d_backward", lambda x, w, b: NF.max_pool2d(x, 2)),
    (CF, "avg_pool2d_backward", lambda x, w, b: NF.avg_pool2d(x, 2)),
    (CF, "relu_backward", lambda x, w, b: NF.relu(x)),
    (CF, "mse_loss_backward", lambda x, w, b: NF.mse_loss(x, Tensor(np.zeros(x.shape)))),
])
def test_each_function_calls_the_derived_backward(monkeypatch, module, name, call):
    # The Function is a wrapper: its backward goes through convgrad.functional's (for a convolution,
    # convgrad.conv._backward, the derivation conv1d_backward and conv2d_backward run), patched with a spy.
    spy = _Spy(monkeypatch, name, module)
    x = Tensor(_array((1, 2, 4, 4), seed=12), requires_grad=True)
    w, b = Tensor(_array((3, 2, 3, 3), seed=13), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)
    out = call(x, w, b)
    assert spy.calls == []
    out.sum().backward()
    assert len(spy.calls) == 1


@pytest.mark.parametrize("need_x", [False, True])
def test_convolution_asks_only_for_the_gradients_needed(monkeypatch, need_x):
    # nn.functional's docstring: the output mask is needs_input_grad, so a first layer's input gradient is skipped.
    spy = _Spy(monkeypatch, "_backward", CC)
    layer = nn.Conv2d(2, 3, 3, generator=_rng(14))
    x = Tensor(_array((1, 2, 5, 5), seed=15), requires_grad=need_x)
    layer(x).sum().backward()
    (_, _, _, _, mask, _), _ = spy.calls[0]
    assert mask == (need_x, True, True)
    assert (x.grad is not None) == need_x and layer.weight.grad is not None


def test_a_frozen_bias_gets_no_gradient():
    conv = nn.Conv2d(2, 3, 3, generator=_rng(16))
    conv.bias.requires_grad = False
    conv(Tensor(_array((1, 2, 5, 5)))).sum().backward()
    assert conv.bias.grad is None and conv.weight.grad is not None


# -- every nn.functional Function by gradcheck ---------------------------------------------------------

@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                     dict(padding=1, padding_mode="reflect", groups=2)], ids=str)
def test_conv2d_by_gradcheck(options):
    x = Tensor(_array((2, 2, 5, 6), seed=17), requires_grad=True)
    w = Tensor(_array((4, 2 // options.get("groups", 1), 3, 3), seed=18), requires_grad=True)
    b = Tensor(_array((4,), seed=19), requires_grad=True)
    assert gradcheck(lambda x, w, b: NF.conv2d(x, w, b, **options), (x, w, b))


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                     dict(padding=1, padding_mode="circular")], ids=str)
def test_conv1d_by_gradcheck(options):
    x = Tensor(_array((2, 2, 9), seed=20), requires_grad=True)
    w = Tensor(_array((3, 2, 3), seed=21), requires_grad=True)
    b = Tensor(_array((3,), seed=22), requires_grad=True)
    assert gradcheck(lambda x, w, b: NF.conv1d(x, w, b, **options), (x, w, b))


@pytest.mark.parametrize("pool, options", [(NF.max_pool2d, dict(kernel_size=2)),
                                           (NF.max_pool2d, dict(kernel_size=3, stride=1, padding=1)),
                                           (NF.avg_pool2d, dict(kernel_size=2)),
                                           (NF.avg_pool2d, dict(kernel_size=3, stride=2, padding=1,
                                                                count_include_pad=False))],
                         ids=["max2", "max3-overlapping", "avg2", "avg3-exclude-pad"])
def test_pooling_by_gradcheck(pool, options):
    x = Tensor(_rng(23).permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) / 10.0, requires_grad=True)  # no ties
    assert gradcheck(lambda x: pool(x, **options), (x,))


def test_relu_by_gradcheck():
    rng = _rng(24)
    x = Tensor(rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4)), requires_grad=True)
    assert gradcheck(NF.relu, (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_by_gradcheck(reduction):
    x, t = Tensor(_array((2, 5), seed=25), requires_grad=True), Tensor(_array((2, 5), seed=26), requires_grad=True)
    assert gradcheck(lambda x, t: NF.mse_loss(x, t, reduction), (x, t))


def test_a_network_by_gradcheck():
    net = Net(_rng(27))
    x = Tensor(_array((1, 1, 5, 5), seed=28), requires_grad=True)
    params = list(net.parameters())
    originals = [p.data for p in params]

    def run(x, *values):             # the network at other parameter values (gradcheck's perturbations)
        for p, v in zip(params, values):
            p.data = v.data
        try:
            return net(x)
        finally:
            for p, data in zip(params, originals):
                p.data = data
    assert gradcheck(run, (x, *params))


@pytest.mark.parametrize("kwargs, message", [
    (dict(padding_mode="mirror"), "padding_mode"),
    (dict(padding="same", stride=2), "strided"),
    (dict(padding="full"), "padding must be"),
])
def test_conv2d_refuses_bad_options_when_built(kwargs, message):
    # PyTorch refuses these in the constructor, not at the first forward
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(1, 1, 3, **kwargs)


def test_a_layers_gradients_are_its_own_and_accumulate():
    # A convolution's backward makes new arrays, which its leaves keep without a copy (new_gradients):
    # they must still accumulate over two backward passes and belong to no other tensor.
    layer = nn.Conv2d(2, 3, 3, padding=1, generator=_rng(17))
    x = Tensor(_array((1, 2, 6, 6), seed=18))
    layer(x).sum().backward()
    first_weight, first_bias = layer.weight.grad.copy(), layer.bias.grad.copy()
    assert not np.shares_memory(layer.weight.grad, layer.bias.grad)
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad, 2 * first_weight)
    np.testing.assert_array_equal(layer.bias.grad, 2 * first_bias)
    kept = layer.weight.grad
    layer.zero_grad()
    layer(x).sum().backward()
    assert layer.weight.grad is not kept and not np.shares_memory(layer.weight.grad, kept)
