"""groups in conv1d/conv2d and their backwards: PyTorch's semantics, against the loops, per-group convolutions
and PyTorch itself; depthwise convolutions; clear errors; the same bits for any number of threads."""

import numpy as np
import pytest

import convgrad
from convgrad import _threads, naive
from convgrad.conv import conv1d, conv1d_backward, conv2d, conv2d_backward
from conv_checks import BACKWARD, FORWARD, assert_matches_pytorch, close
NAIVE_FORWARD = {1: naive.conv1d, 2: naive.conv2d}
NAIVE_BACKWARD = {1: naive.conv1d_backward, 2: naive.conv2d_backward}
MODES = ["zeros", "reflect", "replicate", "circular"]


def grouped_case(seed, nd, dtype=np.float64):
    """A random valid grouped convolution: x, weight (C_out, C_in/groups, *k), bias, keyword arguments."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3, 4]))
    per_in, per_out = (int(v) for v in rng.integers(1, 4, 2))
    c_in, c_out = groups * per_in, groups * per_out
    if seed % 5 == 0:                                     # depthwise, with a channel multiplier
        per_in, c_in = 1, groups
    k = tuple(int(v) for v in rng.integers(1, 4, nd))
    s = tuple(int(v) for v in rng.integers(1, 3, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    size = tuple(int(dd * (kk - 1) + v) for kk, dd, v in zip(k, d, rng.integers(2, 7, nd)))
    padding = tuple(int(v) for v in rng.integers(0, 2, nd))
    mode = MODES[seed % 4]
    n = int(rng.integers(1, 3))
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    weight = rng.standard_normal((c_out, per_in) + k).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if seed % 2 else None
    return x, weight, bias, dict(stride=s, padding=padding, dilation=d, padding_mode=mode, groups=groups)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(30))
def test_grouped_convolution_matches_the_loops(nd, seed):
    x, weight, bias, kw = grouped_case(seed, nd)
    out = FORWARD[nd](x, weight, bias, **kw)
    assert close(out, NAIVE_FORWARD[nd](x, weight, bias, **kw))
    grad_out = np.random.default_rng(seed + 1).standard_normal(out.shape)
    for got, want in zip(BACKWARD[nd](grad_out, x, weight, **kw), NAIVE_BACKWARD[nd](grad_out, x, weight, **kw)):
        assert close(got, want)


@pytest.mark.parametrize("seed", range(12))
def test_a_grouped_convolution_is_one_convolution_per_group(seed):
    # Independent of the loops: group g's output channels are conv2d of group g's input channels alone.
    x, weight, bias, kw = grouped_case(seed, 2)
    groups = kw.pop("groups")
    ci, co = x.shape[1] // groups, weight.shape[0] // groups
    out = conv2d(x, weight, bias, groups=groups, **kw)
    grad_out = np.random.default_rng(seed).standard_normal(out.shape)
    grad_x, grad_weight, grad_bias = conv2d_backward(grad_out, x, weight, groups=groups, **kw)
    for g in range(groups):
        inputs, outputs = slice(g * ci, (g + 1) * ci), slice(g * co, (g + 1) * co)
        part_bias = None if bias is None else bias[outputs]
        assert close(out[:, outputs], conv2d(x[:, inputs], weight[outputs], part_bias, **kw))
        want = conv2d_backward(grad_out[:, outputs], x[:, inputs], weight[outputs], **kw)
        for got, expected in zip((grad_x[:, inputs], grad_weight[outputs], grad_bias[outputs]), want):
            assert close(got, expected)


def test_depthwise_is_one_kernel_per_channel():
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((2, 5, 9, 8)), rng.standard_normal((5, 1, 3, 3))
    out = conv2d(x, weight, padding=1, groups=5)
    for c in range(5):
        assert close(out[:, c:c + 1], conv2d(x[:, c:c + 1], weight[c:c + 1], padding=1))
    # and none of channel c's output comes from another channel
    x_one = np.zeros_like(x)
    x_one[:, 2] = x[:, 2]
    touched = np.abs(conv2d(x_one, weight, padding=1, groups=5)).sum(axis=(0, 2, 3)) > 0
    assert touched.tolist() == [False, False, True, False, False]


def test_groups_one_is_the_plain_convolution_to_the_bit():
    rng = np.random.default_rng(4)
    x, weight = rng.standard_normal((3, 4, 10, 9)), rng.standard_normal((6, 4, 3, 2))
    out = conv2d(x, weight, padding=1)
    assert np.array_equal(conv2d(x, weight, padding=1, groups=1), out)
    grad_out = rng.standard_normal(out.shape)
    for a, b in zip(conv2d_backward(grad_out, x, weight, padding=1),
                    conv2d_backward(grad_out, x, weight, padding=1, groups=1)):
        assert np.array_equal(a, b)


def test_unbatched_and_float32_grouped():
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal((4, 12)).astype(np.float32), rng.standard_normal((6, 2, 3)).astype(np.float32)
    out = conv1d(x, weight, groups=2, padding=1)
    assert out.shape == (6, 12) and out.dtype == np.float32
    grads = conv1d_backward(np.ones_like(out), x, weight, groups=2, padding=1)
    assert [g.shape for g in grads] == [(4, 12), (6, 2, 3), (6,)] and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("groups, c_in, c_out", [(2, 4, 6), (3, 3, 3), (4, 4, 8)])
def test_grouped_bits_do_not_depend_on_the_threads(threads, one_image_per_group, groups, c_in, c_out):
    rng = np.random.default_rng(groups)
    x, weight = rng.standard_normal((5, c_in, 9, 8)), rng.standard_normal((c_out, c_in // groups, 3, 3))
    results = []
    for n_threads in (1, 2, 3):
        convgrad.set_num_threads(n_threads)
        out = conv2d(x, weight, padding=1, groups=groups)
        grad_out = np.random.default_rng(1).standard_normal(out.shape)
        results.append((out,) + conv2d_backward(grad_out, x, weight, padding=1, groups=groups))
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))


# --- PyTorch parity ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(20))
def test_grouped_matches_pytorch(seed, nd, dtype):
    torch = pytest.importorskip("torch")
    x, weight, bias, kw = grouped_case(seed + 500, nd, dtype)
    assert_matches_pytorch(torch, nd, x, weight, bias, kw, seed, dtype)


def test_depthwise_matches_pytorch_functional():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, weight = rng.standard_normal((2, 6, 11, 10)), rng.standard_normal((12, 1, 3, 3))  # multiplier 2
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight), padding=1, groups=6)
    assert close(conv2d(x, weight, padding=1, groups=6), want.numpy())


# --- bad groups ----------------------------------------------------------------------------------------

X, W = np.zeros((2, 6, 5, 5)), np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda: conv2d(X, W, groups=0), ValueError, r"conv2d: groups must be >= 1, got 0"),
    (lambda: conv2d(X, W, groups=-2), ValueError, r"groups must be >= 1, got -2"),
    (lambda: conv2d(X, W, groups=1.5), TypeError, r"groups must be an int, got 1.5"),
    (lambda: conv2d(X, W, groups=True), TypeError, r"groups must be an int, got True"),
    (lambda: conv2d(X, np.zeros((4, 1, 3, 3)), groups=4), ValueError,
     r"groups=4 must divide the input channels C_in=6"),
    (lambda: conv2d(X, np.zeros((3, 1, 3, 3)), groups=3), ValueError, r"weight.shape\[1\]=1 \* groups=3"),
    (lambda: conv2d(X, np.zeros((5, 2, 3, 3)), groups=3), ValueError,
     r"groups=3 must divide the output channels C_out=weight.shape\[0\]=5"),
    (lambda: conv2d(X, np.zeros((4, 2, 3, 3)), groups=2), ValueError,
     r"x has 6 input channels but weight expects weight.shape\[1\]=2 \* groups=4"),
    (lambda: conv1d(np.zeros((2, 6, 8)), np.zeros((4, 6, 3)), groups=2), ValueError, r"weight.shape\[1\]=6 \* groups=12"),
    (lambda: conv2d_backward(np.zeros((2, 4, 3, 3)), X, W, groups=3), ValueError, r"conv2d_backward: groups=3 must divide"),
    (lambda: conv1d_backward(np.zeros((2, 4, 6)), np.zeros((2, 6, 8)), np.zeros((4, 3, 3)), groups=0), ValueError,
     r"conv1d_backward: groups must be >= 1"),
])
def test_bad_groups_raise_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_naive_rejects_bad_groups():
    with pytest.raises(ValueError, match="groups=4 must divide"):
        naive.conv2d(X, np.zeros((6, 1, 3, 3)), groups=4)
