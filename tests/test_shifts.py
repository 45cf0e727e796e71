"""convgrad.shifts (translations, equivariance errors, border bands), and chapter 11's claims
about convolution, pooling and PyTorch (the PyTorch tests skip when torch is absent)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convgrad.functional import avg_pool2d, conv2d, max_pool2d, max_pool2d_backward
from convgrad.shifts import border_band, equivariance_error, translate


# --- translate -----------------------------------------------------------------------------------

def loop_translate(x, th, tw, mode):
    H, W = x.shape[-2:]
    out = np.zeros_like(x)
    for i in range(H):
        for j in range(W):
            r, c = i - th, j - tw
            if mode == "circular":
                out[..., i, j] = x[..., r % H, c % W]
            elif 0 <= r < H and 0 <= c < W:
                out[..., i, j] = x[..., r, c]
    return out


@settings(max_examples=80, deadline=None)
@given(H=st.integers(1, 6), W=st.integers(1, 6), th=st.integers(-8, 8), tw=st.integers(-8, 8),
       mode=st.sampled_from(["circular", "zeros"]), seed=st.integers(0, 2**32 - 1))
def test_translate_matches_loops(H, W, th, tw, mode, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, H, W))
    np.testing.assert_array_equal(translate(x, (th, tw), mode), loop_translate(x, th, tw, mode))


def test_translate_details():
    x = np.arange(12).reshape(3, 4)
    assert translate(x, (1, 0)).tolist() == [[8, 9, 10, 11], [0, 1, 2, 3], [4, 5, 6, 7]]
    assert translate(x, (0, -1), "zeros").tolist() == [[1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]]
    np.testing.assert_array_equal(translate(x, 2), translate(x, (2, 2)))
    np.testing.assert_array_equal(translate(x, (3, 4)), x)                     # a full turn
    np.testing.assert_array_equal(translate(translate(x, (1, 2)), (-1, -2)), x)  # circular shifts invert
    assert not translate(x, (3, 0), "zeros").any()                              # everything left the frame
    assert translate(x, (1, 1)).dtype == x.dtype
    y = translate(x, (0, 0))
    y[0, 0] = 99
    assert x[0, 0] == 0                                                         # a new array, not a view


@pytest.mark.parametrize("call, error, match", [
    (lambda: translate(np.zeros(3), 1), ValueError, "at least 2 dimensions"),
    (lambda: translate(np.zeros((3, 3)), 1, "reflect"), ValueError, "mode"),
    (lambda: translate(np.zeros((3, 3)), 1.5), TypeError, "shift"),
    (lambda: translate(np.zeros((3, 3)), (1, 2, 3)), TypeError, "shift"),
    (lambda: translate(np.zeros((3, 3)), True), TypeError, "shift"),
    (lambda: border_band((3,), 1), ValueError, "end with"),
    (lambda: border_band((3, 3), -1), ValueError, ">= 0"),
    (lambda: border_band((3, 3), 1.0), TypeError, "width"),
    (lambda: equivariance_error(lambda z: z if z[0, 0] == 0 else z[:-1], np.diag([0.0, 1.0, 2.0]), 1),
     ValueError, "shape"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- border_band and equivariance_error ------------------------------------------------------------

def test_border_band():
    band = border_band((5, 6), 1)
    assert band.sum() == 5 * 6 - 3 * 4 and not band[1:4, 1:5].any()
    assert border_band((2, 1, 5, 6), (2, 0)).sum() == 4 * 6    # rows only
    assert not border_band((4, 4), 0).any() and border_band((4, 4), 2).all()


def test_equivariance_error_of_convolutions():
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 6, (1, 2, 9, 10)).astype(float)     # integers: every sum is exact
    w = rng.integers(-3, 4, (3, 2, 3, 5)).astype(float)
    circular = lambda z: conv2d(z, w, padding=(1, 2), padding_mode="circular")
    zeros = lambda z: conv2d(z, w, padding=(1, 2))
    for t in [(0, 0), (1, 0), (0, 3), (-2, 4), (9, 10)]:
        assert not equivariance_error(circular, x, t).any()
    # zero padding, circular shift: wrong only within (1, 2) of the border or of the seam the shift moved inside
    err = equivariance_error(zeros, x, (3, 4))
    allowed = border_band(err.shape, (1, 2)) | translate(border_band(err.shape, (1, 2)), (3, 4))
    assert err[..., allowed].any() and not err[..., ~allowed].any()
    # stride 2: shifts by multiples of the stride move the output by half as much; odd shifts do not
    strided = lambda z: conv2d(z, w, stride=2, padding=(1, 2), padding_mode="circular")
    x = rng.integers(-5, 6, (1, 2, 8, 10)).astype(float)
    assert not equivariance_error(strided, x, (2, 4), (1, 2)).any()
    assert all(equivariance_error(strided, x, (1, 0), (u, 0)).any() for u in range(4))


# --- chapter 11's claims about pooling, checked against convgrad and PyTorch -----------------------

def test_max_pool_ties_and_overlaps():
    # each window's gradient goes to its first maximum in row-major order, and overlapping windows add up
    x = np.array([[[[7.0, 7.0, 7.0]]]])
    np.testing.assert_array_equal(max_pool2d_backward(np.array([[[[1.0, 10.0]]]]), x, (1, 2), 1), [[[[1, 10, 0]]]])
    np.testing.assert_array_equal(max_pool2d_backward(np.ones((1, 1, 1, 1)), np.full((1, 1, 2, 2), 3.0), 2),
                                  [[[[1, 0], [0, 0]]]])


def test_max_pool_pads_with_minus_infinity():
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    assert max_pool2d(x, 3, 1, 1)[0, 0, 0, 0] == -1.0       # zeros in the padding would give 0


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_pytorch_max_pool_ties_go_to_the_first_maximum_per_window(torch):
    x = torch.tensor([[[[7.0, 7.0, 7.0]]]], requires_grad=True)
    torch.nn.functional.max_pool2d(x, (1, 2), 1).backward(torch.tensor([[[[1.0, 10.0]]]]))
    assert x.grad.tolist() == [[[[1.0, 10.0, 0.0]]]]
    x = torch.full((1, 1, 2, 2), 3.0, requires_grad=True)
    torch.nn.functional.max_pool2d(x, 2).backward(torch.ones(1, 1, 1, 1))
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]
    # a larger tied input: convgrad's rule is PyTorch's, window by window, overlaps included
    rng = np.random.default_rng(1)
    xn = rng.integers(0, 2, (2, 3, 7, 8)).astype(float)
    for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)]:
        xt = torch.tensor(xn, requires_grad=True)
        yt = torch.nn.functional.max_pool2d(xt, k, s, p)
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(max_pool2d_backward(g, xn, k, s, p), xt.grad.numpy(), atol=1e-12)


def test_pytorch_max_pool_pads_with_minus_infinity_and_limits_padding(torch):
    x = -torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    assert torch.nn.functional.max_pool2d(x, 3, 1, 1)[0, 0, 0, 0].item() == -1.0
    with pytest.raises(RuntimeError, match="at most half"):
        torch.nn.functional.max_pool2d(x, 3, 1, 2)
    with pytest.raises(ValueError, match="at most half"):
        max_pool2d(x.numpy(), 3, 1, 2)


def test_pytorch_avg_pool_counts_padding_by_default(torch):
    ones = np.ones((1, 1, 5, 5))
    theirs = torch.nn.functional.avg_pool2d(torch.tensor(ones), 3, 1, 1)
    assert np.isclose(theirs[0, 0, 0, 0].item(), 4 / 9)
    np.testing.assert_allclose(avg_pool2d(ones, 3, 1, 1), theirs.numpy())


def test_pytorch_pooling_layers_have_no_parameters(torch):
    for layer in (torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(3, 1, 1), torch.nn.AdaptiveMaxPool2d(1)):
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


def test_pytorch_circular_convolution_commutes_with_roll(torch):
    rng = np.random.default_rng(2)
    x = rng.integers(-5, 6, (1, 2, 9, 10)).astype(float)
    w = rng.integers(-3, 4, (3, 2, 3, 3)).astype(float)
    layer = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w))
        for t in [(1, 0), (2, 5), (-3, 4)]:
            moved = layer(torch.roll(torch.tensor(x), t, dims=(2, 3)))
            assert torch.equal(moved, torch.roll(layer(torch.tensor(x)), t, dims=(2, 3)))
            np.testing.assert_array_equal(moved.numpy(), conv2d(translate(x, t), w, padding=1, padding_mode="circular"))


def test_pytorch_pooling_stride_defaults_to_the_window(torch):
    x = np.random.default_rng(3).standard_normal((1, 2, 7, 9))
    for pool, ours in [(torch.nn.functional.max_pool2d, max_pool2d), (torch.nn.functional.avg_pool2d, avg_pool2d)]:
        theirs = pool(torch.tensor(x), (2, 3)).numpy()
        assert theirs.shape == (1, 2, 3, 3)
        np.testing.assert_allclose(theirs, pool(torch.tensor(x), (2, 3), (2, 3)).numpy())
        np.testing.assert_allclose(ours(x, (2, 3)), theirs)
