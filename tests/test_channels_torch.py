"""Chapter 10's claims about PyTorch, tested against PyTorch (skipped when it is absent).

The chapter states PyTorch's conventions and checks convgrad against them
without importing torch: the NCHW layout (also under the channels_last memory
format), the weight shape ``(C_out, C_in/groups, kh, kw)`` and bias ``(C_out,)``,
the default arguments of ``nn.Conv1d``/``nn.Conv2d``, source 003's shapes, the
order of a padding pair, what ``groups`` computes (one convolution per slice of
channels, a block-diagonal weight), the parameter counts, the 1x1 convolution
with stride 2, receptive fields through autograd, and the modern LeNet-5's
shapes and 61,706 parameters. Each test also runs convgrad on the same numbers.
"""

import inspect

import numpy as np
import pytest

import convgrad.functional as F

torch = pytest.importorskip("torch")
nn = torch.nn


def params(module):
    return sum(p.numel() for p in module.parameters())


def as_numpy(t):
    return t.detach().numpy().astype(np.float64)


def test_conv_defaults_and_layout():
    for cls in (nn.Conv1d, nn.Conv2d):
        sig = inspect.signature(cls)
        assert list(sig.parameters)[:3] == ["in_channels", "out_channels", "kernel_size"]
        defaults = {name: sig.parameters[name].default for name in
                    ("stride", "padding", "dilation", "groups", "bias", "padding_mode")}
        assert defaults == {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True,
                            "padding_mode": "zeros"}
    conv = nn.Conv2d(3, 5, (3, 2))
    assert tuple(conv.weight.shape) == (5, 3, 3, 2) and tuple(conv.bias.shape) == (5,)
    assert nn.Conv2d(3, 5, 3, bias=False).bias is None


def test_source_003_shapes_and_convgrad_values():
    torch.manual_seed(0)
    x1 = torch.rand(1, 2, 64, dtype=torch.float64)
    conv = nn.Conv1d(2, 16, 3).double()
    assert tuple(conv.weight.shape) == (16, 2, 3) and tuple(conv.bias.shape) == (16,)
    assert tuple(conv(x1).shape) == (1, 16, 62)
    assert np.allclose(as_numpy(conv(x1)), F.conv1d(as_numpy(x1), as_numpy(conv.weight), as_numpy(conv.bias)))
    assert tuple(nn.Conv1d(2, 16, 5)(x1.float()).shape) == (1, 16, 60)

    x2 = torch.rand(1, 20, 64, 128, dtype=torch.float64)
    conv2 = nn.Conv2d(20, 16, (3, 5)).double()
    assert tuple(conv2.weight.shape) == (16, 20, 3, 5) and conv2.weight.dim() == 4
    assert tuple(conv2(x2).shape) == (1, 16, 62, 124)
    padded = nn.Conv2d(20, 16, (3, 5), 1, (1, 2)).double()
    y = padded(x2)
    assert tuple(y.shape) == (1, 16, 64, 128)
    # the pair is (rows, columns): 1 row top and bottom, 2 columns left and right (F.pad lists the last axis first)
    explicit = torch.nn.functional.conv2d(torch.nn.functional.pad(x2, (2, 2, 1, 1)), padded.weight, padded.bias)
    assert torch.allclose(y, explicit)
    assert np.allclose(as_numpy(y), F.conv2d(as_numpy(x2), as_numpy(padded.weight), as_numpy(padded.bias),
                                             padding=(1, 2)))


def test_channels_last_keeps_the_nchw_shape():
    x = torch.rand(2, 3, 6, 7)
    cl = x.to(memory_format=torch.channels_last)
    assert tuple(cl.shape) == (2, 3, 6, 7) and torch.equal(cl, x)
    assert cl.stride() == (3 * 6 * 7, 1, 7 * 3, 3)          # the channel is the fastest axis in memory
    conv = nn.Conv2d(3, 4, 3)
    assert torch.allclose(conv(cl), conv(x), atol=1e-6)


@pytest.mark.parametrize("C_in, C_out, groups", [(8, 8, 1), (8, 8, 2), (8, 12, 4), (8, 8, 8), (4, 12, 4)])
def test_groups_weight_shape_count_and_meaning(C_in, C_out, groups):
    torch.manual_seed(1)
    conv = nn.Conv2d(C_in, C_out, 3, padding=1, groups=groups).double()
    assert tuple(conv.weight.shape) == (C_out, C_in // groups, 3, 3)
    assert params(conv) == C_out * (C_in // groups) * 9 + C_out
    x = torch.rand(2, C_in, 7, 6, dtype=torch.float64)
    y = conv(x)
    # one ordinary convolution per slice of channels, concatenated
    cin, cout = C_in // groups, C_out // groups
    parts = [torch.nn.functional.conv2d(x[:, j * cin:(j + 1) * cin], conv.weight[j * cout:(j + 1) * cout],
                                        conv.bias[j * cout:(j + 1) * cout], padding=1) for j in range(groups)]
    assert torch.allclose(y, torch.cat(parts, dim=1))
    # the same as convgrad's slicing, and as an ordinary convgrad conv2d with a block-diagonal weight
    w = as_numpy(conv.weight)
    full = np.zeros((C_out, C_in, 3, 3))
    for j in range(groups):
        full[j * cout:(j + 1) * cout, j * cin:(j + 1) * cin] = w[j * cout:(j + 1) * cout]
    assert np.allclose(as_numpy(y), F.conv2d(as_numpy(x), full, as_numpy(conv.bias), padding=1))
    if "groups" in inspect.signature(F.conv2d).parameters:
        assert np.allclose(as_numpy(y), F.conv2d(as_numpy(x), w, as_numpy(conv.bias), padding=1, groups=groups))


def test_groups_must_divide_both_channel_counts():
    with pytest.raises(ValueError):
        nn.Conv2d(6, 8, 3, groups=4)
    with pytest.raises(ValueError):
        nn.Conv2d(8, 6, 3, groups=4)


def test_pointwise_stride_2_is_subsampling_then_a_channel_mix():
    torch.manual_seed(2)
    conv = nn.Conv2d(6, 2, 1, stride=2).double()
    for H, W in [(8, 8), (7, 10)]:
        x = torch.rand(1, 6, H, W, dtype=torch.float64, requires_grad=True)
        y = conv(x)
        assert tuple(y.shape[2:]) == ((H + 1) // 2, (W + 1) // 2)
        W_mat = conv.weight[:, :, 0, 0]
        assert torch.allclose(y, torch.einsum("oc,nchw->nohw", W_mat, x[:, :, ::2, ::2]) + conv.bias[:, None, None])
        y.backward(torch.randn_like(y))
        read = torch.zeros(H, W, dtype=torch.bool)
        read[::2, ::2] = True
        assert torch.all(x.grad[:, :, ~read] == 0) and torch.all(x.grad[:, :, read] != 0)
        assert np.allclose(as_numpy(y), F.conv2d(as_numpy(x), as_numpy(conv.weight), as_numpy(conv.bias), stride=2))


@pytest.mark.parametrize("specs, r", [
    ([(3, 1, 1)], 3), ([(3, 1, 1)] * 2, 5), ([(3, 1, 1)] * 3, 7),
    ([(3, 2, 1), (3, 1, 1), (3, 1, 1)], 11), ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15),
    ([(3, 1, 1)] * 7 + [(2, 1, 1)], 16)])
def test_receptive_field_by_autograd(specs, r):
    x = torch.zeros(1, 1, 41, 41, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, d in specs:
        h = torch.nn.functional.conv2d(h, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, dilation=d)
    h[0, 0, h.shape[2] // 2, h.shape[3] // 2].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert rows.max() - rows.min() + 1 == r and cols.max() - cols.min() + 1 == r
    assert len(rows) == r * r


def test_modern_lenet5_shapes_and_parameters():
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Conv2d(120, 84, 1), nn.ReLU(), nn.Conv2d(84, 10, 1)).double()
    assert params(net) == 61_706
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    h, shapes = x, []
    for layer in net:
        h = layer(h)
        if not isinstance(layer, nn.ReLU):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84, 1, 1), (10, 1, 1)]
    # convgrad computes the same network, layer by layer, on the same weights
    g = as_numpy(x)
    for layer in net:
        if isinstance(layer, nn.Conv2d):
            g = F.conv2d(g, as_numpy(layer.weight), as_numpy(layer.bias))
        elif isinstance(layer, nn.ReLU):
            g = F.relu(g)
        else:
            g = F.max_pool2d(g, 2)
    assert np.allclose(g, as_numpy(h))
