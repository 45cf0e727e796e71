"""Chapters 1-3's statements about PyTorch, tested against PyTorch itself (skipped when it is absent).

The chapters run convgrad and NumPy only; wherever one of them says what
PyTorch does, the cell names the test here that checks it, and each test
compares PyTorch with an independent reference (NumPy, SciPy or a loop),
never with convgrad alone. CI installs PyTorch (requirements-torch.txt), so
these tests run there.
"""

import itertools

import numpy as np
import pytest
import scipy.signal

torch = pytest.importorskip("torch")
nn = torch.nn
tF = torch.nn.functional


# PyTorch warns that an even kernel with padding="same" may copy its input: the copy is what is tested
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


def t(a):
    return torch.tensor(np.array(a, dtype=np.float64))       # a copy: never negative strides


def n(tensor):
    return tensor.detach().numpy()


def params(module):
    return sum(p.numel() for p in module.parameters())


def conv1d_1ch(z, w, **kwargs):
    """PyTorch's conv1d of one signal with one kernel, as a NumPy vector."""
    return n(tF.conv1d(t(z)[None, None], t(w)[None, None], **kwargs))[0, 0]


# --- chapter 1 ------------------------------------------------------------------------------------------------

def test_conv1d_and_conv2d_compute_cross_correlation():
    """Ch 1 and 3: PyTorch's conv1d/conv2d compute cross-correlation (np.correlate), not convolution."""
    rng = np.random.default_rng(0)
    for n_, m in [(9, 3), (10, 4), (7, 7), (12, 1)]:
        z, w = rng.standard_normal(n_), rng.standard_normal(m)
        ours = conv1d_1ch(z, w)
        assert np.allclose(ours, np.correlate(z, w, mode="valid"))
        assert np.allclose(ours, np.convolve(z, w[::-1], mode="valid"))
        if m > 1:
            assert not np.allclose(ours, np.convolve(z, w, mode="valid"))
    x, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    out = n(tF.conv2d(t(x)[None, None], t(k)[None, None]))[0, 0]
    assert np.allclose(out, scipy.signal.correlate2d(x, k, mode="valid"))
    assert not np.allclose(out, scipy.signal.convolve2d(x, k, mode="valid"))


def test_same_padding_equals_numpy_same_for_odd_kernels():
    """Ch 1: with padding="same" and an odd kernel, PyTorch's conv1d is np.correlate(z, w, "same"),
    i.e. np.convolve with the flipped kernel; with the flipped kernel it is np.convolve(z, w, "same")."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal(9)
    for m in (1, 3, 5, 7, 9):
        w = rng.standard_normal(m)
        assert np.allclose(conv1d_1ch(z, w, padding="same"), np.correlate(z, w, mode="same"))
        assert np.allclose(conv1d_1ch(z, w[::-1], padding="same"), np.convolve(z, w, mode="same"))


def test_nchw_layout_weight_shapes_and_strides():
    """Ch 1: PyTorch's layout: input (N, C, H, W), weight (C_out, C_in, kH, kW) or (C_out, C_in, kW),
    (N, C_in, L) -> (N, C_out, L_out); a contiguous tensor is row-major, entry [n, c, h, w] at
    ((nC + c)H + h)W + w."""
    N, C, H, W = 2, 3, 4, 5
    x = torch.arange(N * C * H * W).reshape(N, C, H, W)
    assert x.stride() == (C * H * W, H * W, W, 1)
    nn_, cc, hh, ww = np.indices((N, C, H, W))
    assert np.array_equal(n(x), ((nn_ * C + cc) * H + hh) * W + ww)
    conv2 = nn.Conv2d(3, 4, (3, 2))
    assert tuple(conv2.weight.shape) == (4, 3, 3, 2) and tuple(conv2.bias.shape) == (4,)
    conv1 = nn.Conv1d(3, 4, 3, bias=False)
    assert tuple(conv1.weight.shape) == (4, 3, 3)
    assert tuple(conv1(torch.ones(2, 3, 10)).shape) == (2, 4, 8)


# --- chapter 2 ------------------------------------------------------------------------------------------------

def test_dense_layer_parameter_count_for_a_megapixel_image():
    """Ch 2: a dense layer from a flattened 1024 x 1024 image to 1000 units has HW * N + N = 1,048,577,000
    parameters (built on the meta device: shapes only, no memory)."""
    layer = nn.Linear(1024 * 1024, 1000, device="meta")
    assert tuple(layer.weight.shape) == (1000, 1024 * 1024) and tuple(layer.bias.shape) == (1000,)
    assert params(layer) == 1024 * 1024 * 1000 + 1000 == 1_048_577_000


def test_conv2d_parameter_counts_and_shapes():
    """Ch 2: a Conv2d layer stores its M kernels as one weight (M, C, K1, K2) and its biases as (M,), so it has
    (K1 K2 C + 1) M parameters, whatever the image size: 10 for one 3 x 3 map, 640 for 64 maps, 1792 for
    64 maps of an RGB image; on a 224 x 224 RGB image it gives 64 maps of 222 x 222."""
    for C, M, K1, K2 in [(1, 1, 3, 3), (1, 64, 3, 3), (3, 64, 3, 3), (2, 5, 2, 4), (3, 1, 1, 5)]:
        layer = nn.Conv2d(C, M, (K1, K2))
        assert tuple(layer.weight.shape) == (M, C, K1, K2) and tuple(layer.bias.shape) == (M,)
        assert params(layer) == (K1 * K2 * C + 1) * M
    assert [params(nn.Conv2d(c, m, 3)) for c, m in [(1, 1), (1, 64), (3, 64)]] == [10, 640, 1792]
    layer = nn.Conv2d(3, 64, 3, device="meta")
    assert tuple(layer(torch.empty(1, 3, 224, 224, device="meta")).shape) == (1, 64, 222, 222)
    assert tuple(layer(torch.empty(1, 3, 1024, 1024, device="meta")).shape) == (1, 64, 1022, 1022)


def test_conv2d_is_a_sparse_tied_matrix():
    """Ch 2: PyTorch's conv2d is y = W x with W[i Wo + j, r W + s] = k[r - i + p, s - j + p] (row-major
    flattening), the matrix the chapter builds by loops; it has at most kh kw non-zeros per row."""
    rng = np.random.default_rng(2)
    k = (rng.permutation(9) + 1).reshape(3, 3).astype(float)
    for H, W, p in [(6, 6, 0), (6, 6, 1), (4, 7, 1), (5, 3, 0)]:
        Ho, Wo = H + 2 * p - 2, W + 2 * p - 2

        def layer(flat):
            return tF.conv2d(flat.reshape(1, 1, H, W), t(k)[None, None], padding=p).reshape(-1)

        J = n(torch.autograd.functional.jacobian(layer, torch.zeros(H * W, dtype=torch.float64)))
        expected = np.zeros((Ho * Wo, H * W))
        for i, j, r, s in itertools.product(range(Ho), range(Wo), range(H), range(W)):
            a, c = r - i + p, s - j + p
            if 0 <= a < 3 and 0 <= c < 3:
                expected[i * Wo + j, r * W + s] = k[a, c]
        assert np.array_equal(J, expected)
        assert (np.count_nonzero(J, axis=1) <= 9).all() and set(np.unique(J[J != 0])) <= set(k.ravel())


# --- chapter 3 ------------------------------------------------------------------------------------------------

def test_output_lengths_valid_same_full():
    """Ch 3: padding 0 (or "valid"), m - 1 and "same" give n - m + 1, n + m - 1 and n outputs, for every
    m <= n <= 24 (even m included for "same")."""
    for n_ in range(1, 25):
        z = torch.zeros(1, 1, n_)
        for m in range(1, n_ + 1):
            w = torch.zeros(1, 1, m)
            for padding, length in [(0, n_ - m + 1), ("valid", n_ - m + 1), (m - 1, n_ + m - 1), ("same", n_)]:
                assert tF.conv1d(z, w, padding=padding).shape[-1] == length


def test_three_outputs_side_by_side():
    """Ch 3: the full, valid and same outputs are the padded cross-correlations with p = m - 1, 0 and P, and
    the valid and same ones are slices of the full one: valid = full[m-1 : n], same = full[P : P + n]."""
    rng = np.random.default_rng(3)
    for n_, m in [(8, 3), (11, 5), (6, 1), (9, 7)]:
        z, w = rng.standard_normal(n_), rng.standard_normal(m)
        P = (m - 1) // 2
        full = conv1d_1ch(z, w, padding=m - 1)
        assert np.allclose(full, np.correlate(z, w, mode="full"))
        assert np.allclose(conv1d_1ch(z, w), full[m - 1:n_])
        assert np.allclose(conv1d_1ch(z, w, padding="same"), full[P:P + n_])


def test_kernel_longer_than_the_signal_is_refused():
    """Ch 3: unlike np.convolve, which swaps its arguments, PyTorch refuses a kernel longer than the
    padded input."""
    assert np.convolve(np.ones(5), np.ones(7), mode="valid").size == 3
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        tF.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 7))
    assert tF.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 7), padding=1).shape[-1] == 1


def test_same_padding_puts_the_smaller_half_on_the_left():
    """Ch 3: padding="same" pads d(m - 1) in total and floor(d(m - 1)/2) on the left, so for even m output i
    is centred at i + 1/2, one sample left of NumPy's "same" (which pads floor(m/2) on the left):
    conv1d(same)[i] = np.correlate(same)[i + 1]."""
    ramp = np.arange(1.0, 25.0)
    for d in (1, 2, 3):
        for m in range(1, 9):
            first = np.zeros(m)
            first[0] = 1.0                                   # y[i] = z[i - L]: the first tap reads L back
            y = conv1d_1ch(ramp, first, padding="same", dilation=d)
            i = np.flatnonzero(y)[0]
            assert y.size == ramp.size and int(i - (y[i] - 1)) == d * (m - 1) // 2
    rng = np.random.default_rng(4)
    for m in range(2, 11, 2):
        z, w = rng.standard_normal(20), rng.standard_normal(m)
        ours = conv1d_1ch(z, w, padding="same")
        assert np.allclose(ours[:-1], np.correlate(z, w, mode="same")[1:])
        assert not np.allclose(ours, np.correlate(z, w, mode="same"))
    interior = slice(1, 19)
    avg = conv1d_1ch(np.arange(20.0), [0.5, 0.5], padding="same")
    assert np.allclose(avg[interior], np.arange(20)[interior] + 0.5)


def test_integer_padding_is_symmetric_and_explicit_padding_gives_numpy_same():
    """Ch 3, exercise 3: an integer padding p puts p zeros on both sides, so NumPy's even-kernel "same"
    takes an explicit np.pad(z, (m // 2, m // 2 - 1)) before a padding-0 conv1d."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal(11)
    one = conv1d_1ch(z, [1.0], padding=3)
    assert np.array_equal(one, np.pad(z, 3))
    for m in (2, 4, 6):
        w = rng.standard_normal(m)
        y = conv1d_1ch(np.pad(z, (m // 2, m // 2 - 1)), w)
        assert y.shape == (11,) and np.allclose(y, np.correlate(z, w, mode="same"))


def test_gradients_of_a_valid_cross_correlation():
    """Ch 3: for y = conv1d(z, w) (a valid cross-correlation) and upstream gradient r, autograd gives the
    input gradient as the full convolution of r with w, and the kernel gradient as the valid
    cross-correlation of z with r: np.correlate(z, r, "valid"), not a convolution np.convolve(z, r, "valid")."""
    rng = np.random.default_rng(6)
    for n_, m in [(10, 3), (9, 4), (7, 7), (12, 5)]:
        z = t(rng.standard_normal(n_)).requires_grad_()
        w = t(rng.standard_normal(m)).requires_grad_()
        r = rng.standard_normal(n_ - m + 1)
        y = tF.conv1d(z[None, None], w[None, None])[0, 0]
        y.backward(t(r))
        assert np.allclose(n(z.grad), np.convolve(r, n(w), mode="full"))
        assert np.allclose(n(w.grad), np.correlate(n(z), r, mode="valid"))
        if m > 1 and n_ - m + 1 > 1:
            assert not np.allclose(n(w.grad), np.convolve(n(z), r, mode="valid"))
            assert not np.allclose(n(z.grad), np.correlate(r, n(w), mode="full"))


def test_stride_and_dilation_output_length():
    """Ch 3: with stride s, dilation d and padding p there are floor((n + 2p - d(m - 1) - 1)/s) + 1
    outputs, output i reading z_pad[i s + j d], j = 0..m-1; every setting of a grid."""
    rng = np.random.default_rng(7)
    cases = 0
    for n_, m, p, s, d in itertools.product(range(1, 13), range(1, 5), range(3), range(1, 4), range(1, 4)):
        if d * (m - 1) + 1 > n_ + 2 * p:
            continue
        z, w = rng.standard_normal(n_), rng.standard_normal(m)
        y = conv1d_1ch(z, w, padding=p, stride=s, dilation=d)
        length = (n_ + 2 * p - d * (m - 1) - 1) // s + 1
        zp = np.pad(z, p)
        loop = [sum(w[j] * zp[i * s + j * d] for j in range(m)) for i in range(length)]
        assert y.shape == (length,) and np.allclose(y, loop)
        cases += 1
    assert cases > 1000
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        tF.conv1d(torch.ones(1, 1, 10), torch.ones(1, 1, 3), padding="same", stride=2)


def test_source_003_conv1d_shapes_and_bias_count():
    """Ch 3: nn.Conv1d(2, 16, 3) has weight (16, 2, 3) (96 weights) and bias (16,), one per output channel,
    added at every position of that channel; (1, 2, 64) -> (1, 16, 62); with kernels of 5, (1, 16, 60)."""
    torch.manual_seed(0)
    x = torch.rand(1, 2, 64, dtype=torch.float64)
    conv = nn.Conv1d(2, 16, 3).double()
    assert tuple(conv.weight.shape) == (16, 2, 3) and tuple(conv.bias.shape) == (16,)
    assert conv.weight.numel() == 96 and conv.bias.numel() == 16
    out = conv(x)
    assert tuple(out.shape) == (1, 16, 62)
    without = tF.conv1d(x, conv.weight)
    assert np.allclose(n(out - without), n(conv.bias)[None, :, None] * np.ones((1, 16, 62)))
    assert tuple(nn.Conv1d(2, 16, 5)(x.float()).shape) == (1, 16, 60)


def test_multichannel_conv1d_is_a_sum_of_correlations():
    """Ch 3: output channel o is bias[o] plus the sum over input channels c of np.correlate(x[c], W[o, c])."""
    rng = np.random.default_rng(8)
    x, W, beta = rng.standard_normal((2, 64)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)
    out = n(tF.conv1d(t(x)[None], t(W), t(beta)))[0]
    per_channel = np.stack([beta[o] + sum(np.correlate(x[c], W[o, c], mode="valid") for c in range(2))
                            for o in range(3)])
    assert out.shape == (3, 62) and np.allclose(out, per_channel)


def test_padding_modes():
    """Ch 3: Conv1d accepts padding_mode 'zeros', 'reflect', 'replicate' and 'circular' (np.pad's 'constant',
    'reflect', 'edge', 'wrap'), and refuses any other name; a one-tap kernel returns the padded signal."""
    z = np.arange(1.0, 6.0)
    numpy_name = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    for mode, np_mode in numpy_name.items():
        conv = nn.Conv1d(1, 1, 1, padding=3, padding_mode=mode, bias=False).double()
        with torch.no_grad():
            conv.weight.fill_(1.0)
        assert np.array_equal(n(conv(t(z)[None, None]))[0, 0], np.pad(z, 3, mode=np_mode))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(1, 1, 1, padding=3, padding_mode="symmetric")


def test_exercise_conv1d_2_16_5():
    """Ch 3, exercise 2: nn.Conv1d(2, 16, 5) has 176 parameters and maps (1, 2, 64) to (1, 16, 64) with
    padding=2 or "same", and to (1, 16, 32) with padding=2, stride=2."""
    x = torch.rand(1, 2, 64)
    assert params(nn.Conv1d(2, 16, 5)) == 16 * 2 * 5 + 16 == 176
    shapes = [tuple(nn.Conv1d(2, 16, 5, **kwargs)(x).shape)
              for kwargs in ({"padding": 2}, {"padding": "same"}, {"padding": 2, "stride": 2})]
    assert shapes == [(1, 16, 64), (1, 16, 64), (1, 16, 32)]


def test_stacked_cross_correlations_are_one_with_the_convolved_kernel():
    """Ch 3, exercise 1: two cross-correlation layers with g then f are one with the kernel np.convolve(f, g),
    not with np.correlate(f, g, "full")."""
    rng = np.random.default_rng(9)
    z, g, f = rng.standard_normal(40), rng.standard_normal(3), rng.standard_normal(4)
    two = n(tF.conv1d(tF.conv1d(t(z)[None, None], t(g)[None, None]), t(f)[None, None]))[0, 0]
    assert np.allclose(two, conv1d_1ch(z, np.convolve(f, g)))
    assert not np.allclose(two, conv1d_1ch(z, np.correlate(f, g, mode="full")))
