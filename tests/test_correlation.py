"""convgrad.correlation and convgrad.weight_gradient: every method gives the loops' answer, the methods agree
with each other (exactly, on integer data; the FFT to rounding), the dispatchers follow their rules, and no
result depends on the number of threads."""

import numpy as np
import pytest

import convgrad
from convgrad import _threads, naive
from convgrad.correlation import (FFT_TAPS, METHODS, choose_method, correlate, correlate_by_fft, correlate_by_im2col,
                                  correlate_by_row_shifts, correlate_by_shifted_slices, correlate_on_thread)
from convgrad.weight_gradient import (WEIGHT_GRADIENT_METHODS, choose_weight_gradient_method, weight_gradient,
                                      weight_gradient_by_dots, weight_gradient_by_fft, weight_gradient_by_im2col,
                                      weight_gradient_by_row_shifts, weight_gradient_on_thread)

EXACT = [name for name in METHODS if name != "fft"]
EXACT_WEIGHT = [name for name in WEIGHT_GRADIENT_METHODS if name != "fft"]


def random_case(seed, integers=True):
    """x_pad (N, C, Hp, Wp), weight (O, C, kh, kw), grad_out and the stride and dilation of a random valid case.

    Every third case has one input and one output channel (the shifted-slice, dot-product and FFT paths),
    and some of those a kernel of FFT_TAPS taps or more. Integer values keep every sum exact.
    """
    rng = np.random.default_rng(seed)
    one_channel = seed % 3 == 0
    c, o = (1, 1) if one_channel else tuple(int(v) for v in rng.integers(1, 5, 2))
    n = int(rng.integers(1, 4))
    if one_channel and seed % 2:
        kh, kw = 9, int(rng.integers(9, 12))                                  # >= 81 taps
    else:
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    dh, dw = (int(v) for v in rng.integers(1, 3, 2))
    sh, sw = (int(v) for v in rng.integers(1, 4, 2))
    hp = dh * (kh - 1) + 1 + int(rng.integers(0, 9))
    wp = dw * (kw - 1) + 1 + int(rng.integers(0, 9))
    draw = (lambda shape: rng.integers(-3, 4, shape).astype(float)) if integers else rng.standard_normal
    x_pad, weight = draw((n, c, hp, wp)), draw((o, c, kh, kw))
    out_shape = (n, o, (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1)
    return x_pad, weight, draw(out_shape), (sh, sw), (dh, dw)


def loops(x_pad, weight, grad_out, stride, dilation):
    out = naive.conv2d(x_pad, weight, stride=stride, dilation=dilation)
    return out, naive.conv2d_backward(grad_out, x_pad, weight, stride=stride, dilation=dilation)[1]


# --- every method, every case ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(60))
def test_every_forward_method_gives_the_loops_answer(seed):
    x_pad, weight, grad_out, stride, dilation = random_case(seed)
    want, _ = loops(x_pad, weight, grad_out, stride, dilation)
    for name in EXACT:  # integer data: every sum is exact, so any order of adding gives the same bits
        assert np.array_equal(METHODS[name](x_pad, weight, stride, dilation), want), name
    by_fft = correlate_by_fft(x_pad, weight, stride, dilation)
    assert np.allclose(by_fft, want, rtol=0, atol=1e-9 * max(1, np.abs(want).max()))
    assert np.array_equal(np.round(by_fft), want)  # the FFT's error is rounding, far below the integers' spacing


@pytest.mark.parametrize("seed", range(60))
def test_every_weight_gradient_method_gives_the_loops_answer(seed):
    x_pad, weight, grad_out, stride, dilation = random_case(seed)
    _, want = loops(x_pad, weight, grad_out, stride, dilation)
    for name in EXACT_WEIGHT:
        got = WEIGHT_GRADIENT_METHODS[name](x_pad, grad_out, weight.shape[2:], stride, dilation)
        assert np.array_equal(got, want), name
    by_fft = weight_gradient_by_fft(x_pad, grad_out, weight.shape[2:], stride, dilation)
    assert np.array_equal(np.round(by_fft), want)


@pytest.mark.parametrize("seed", range(30))
def test_methods_agree_to_rounding_on_real_data(seed):
    x_pad, weight, grad_out, stride, dilation = random_case(seed + 100, integers=False)
    want, want_weight = loops(x_pad, weight, grad_out, stride, dilation)
    for name, method in METHODS.items():
        assert np.allclose(method(x_pad, weight, stride, dilation), want, rtol=1e-10, atol=1e-10), name
    for name, method in WEIGHT_GRADIENT_METHODS.items():
        got = method(x_pad, grad_out, weight.shape[2:], stride, dilation)
        assert np.allclose(got, want_weight, rtol=1e-10, atol=1e-10), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_method_keeps_the_dtype(dtype):
    x_pad, weight, grad_out, stride, dilation = random_case(4)
    x_pad, weight, grad_out = x_pad.astype(dtype), weight.astype(dtype), grad_out.astype(dtype)
    for method in METHODS.values():
        assert method(x_pad, weight, stride, dilation).dtype == dtype
    for method in WEIGHT_GRADIENT_METHODS.values():
        assert method(x_pad, grad_out, weight.shape[2:], stride, dilation).dtype == dtype


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("c, o", [(1, 1), (3, 2)])
def test_forward_methods_do_not_depend_on_the_threads(threads, one_image_per_group, name, c, o):
    rng = np.random.default_rng(c + o)
    x_pad, weight = rng.standard_normal((5, c, 11, 10)), rng.standard_normal((o, c, 3, 4))
    results = []
    for n_threads in (1, 2, 3):
        convgrad.set_num_threads(n_threads)
        results.append(METHODS[name](x_pad, weight, 1, (2, 1)))
    assert all(np.array_equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("name", list(WEIGHT_GRADIENT_METHODS))
@pytest.mark.parametrize("c, o", [(1, 1), (3, 2)])
def test_weight_gradient_methods_do_not_depend_on_the_threads(threads, one_image_per_group, name, c, o):
    rng = np.random.default_rng(c + o)
    x_pad, grad_out = rng.standard_normal((5, c, 11, 10)), rng.standard_normal((5, o, 5, 3))
    results = []
    for n_threads in (1, 2, 3):
        convgrad.set_num_threads(n_threads)
        results.append(WEIGHT_GRADIENT_METHODS[name](x_pad, grad_out, (3, 3), 2, (1, 2)))
    assert all(np.array_equal(results[0], r) for r in results[1:])


# --- the dispatchers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("weight_shape, stride, method", [
    ((1, 1, 9, 9), 1, correlate_by_fft),                 # rule 1: one channel, >= FFT_TAPS taps
    ((1, 1, 3, 27), (1, 1), correlate_by_fft),
    ((1, 1, 8, 10), 1, correlate_by_shifted_slices),     # rule 2: one channel, 80 taps
    ((1, 1, 3, 3), 1, correlate_by_shifted_slices),
    ((4, 3, 3, 2), 1, correlate_by_row_shifts),          # rule 3: O = 4 <= C*kw = 6
    ((6, 3, 3, 2), 1, correlate_by_row_shifts),
    ((7, 3, 3, 2), 1, correlate_by_im2col),              # rule 4: O > C*kw
    ((1, 1, 9, 9), 2, correlate_by_im2col),              # rule 4: a stride
    ((4, 3, 3, 3), (1, 2), correlate_by_im2col),
])
def test_choose_method_follows_its_rule(weight_shape, stride, method):
    assert FFT_TAPS == 81
    assert choose_method(weight_shape, stride) is method


@pytest.mark.parametrize("weight_shape, method", [((1, 1, 9, 9), weight_gradient_by_fft),
                                                  ((1, 1, 3, 3), weight_gradient_by_dots),
                                                  ((2, 1, 3, 3), weight_gradient_by_row_shifts),
                                                  ((1, 2, 9, 9), weight_gradient_by_row_shifts)])
def test_choose_weight_gradient_method_follows_its_rule(weight_shape, method):
    assert choose_weight_gradient_method(weight_shape) is method


@pytest.mark.parametrize("seed", range(12))
def test_the_dispatchers_give_their_methods_bits(seed):
    x_pad, weight, grad_out, stride, dilation = random_case(seed + 200, integers=False)
    method = choose_method(weight.shape, stride)
    assert np.array_equal(correlate(x_pad, weight, stride, dilation), method(x_pad, weight, stride, dilation))
    kernel = weight.shape[2:]
    want = choose_weight_gradient_method(weight.shape)(x_pad, grad_out, kernel, stride, dilation)
    assert np.array_equal(weight_gradient(x_pad, grad_out, kernel, stride, dilation), want)


@pytest.mark.parametrize("seed", range(12))
def test_on_thread_versions_give_the_same_bits(seed):
    x_pad, weight, grad_out, stride, dilation = random_case(seed + 300, integers=False)
    n, kernel = x_pad.shape[0], weight.shape[2:]
    out = np.empty_like(correlate(x_pad, weight, stride, dilation))
    correlate_on_thread(x_pad, weight, stride, dilation, out, [(0, n)])
    assert np.array_equal(out, correlate(x_pad, weight, stride, dilation))
    # convgrad's own image groups: their sums, added in order, are weight_gradient's bits
    groups = _threads.image_groups(n, 2 * weight.size * int(np.prod(grad_out.shape[2:])))
    shares = weight_gradient_on_thread(x_pad, grad_out, kernel, stride, dilation, groups)
    total = np.zeros(weight.shape)
    for share in shares:
        total += share
    assert len(shares) == len(groups)
    assert np.array_equal(total, weight_gradient(x_pad, grad_out, kernel, stride, dilation))


def test_a_given_upstream_grid_is_used_as_it_is():
    x_pad, weight, grad_out, stride, dilation = random_case(7, integers=False)
    upstream = np.zeros(grad_out.shape[:2] + x_pad.shape[2:])
    upstream[:, :, :stride[0] * (grad_out.shape[2] - 1) + 1:stride[0],
             :stride[1] * (grad_out.shape[3] - 1) + 1:stride[1]] = grad_out
    for name, method in WEIGHT_GRADIENT_METHODS.items():
        want = method(x_pad, grad_out, weight.shape[2:], stride, dilation)
        assert np.array_equal(method(x_pad, grad_out, weight.shape[2:], stride, dilation, upstream=upstream), want)


def test_out_is_written_in_place_and_checked():
    x_pad, weight, *_ = random_case(2)
    want = correlate(x_pad, weight)
    for method in METHODS.values():
        out = np.full(want.shape, np.nan)
        assert method(x_pad, weight, out=out) is out
        assert np.array_equal(out, method(x_pad, weight))
    with pytest.raises(ValueError, match="out must be a float64 array of shape"):
        correlate_by_im2col(x_pad, weight, out=np.empty(want.shape[:-1]))


@pytest.mark.parametrize("call, match", [
    (lambda: correlate(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3))), r"same C"),
    (lambda: correlate_by_fft(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 6, 3))), r"dilated kernel \(6, 3\)"),
    (lambda: correlate_by_row_shifts(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=0), r"stride must be >= 1"),
    (lambda: weight_gradient(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 4)), 3), r"grad_out must have shape"),
    (lambda: weight_gradient_by_im2col(np.zeros((2, 1, 5, 5)), np.zeros((1, 1, 3, 3)), 3), r"the same N"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_no_channels_give_zeros():
    x_pad, grad_out = np.zeros((2, 0, 5, 5)), np.ones((2, 3, 3, 3))
    for method in METHODS.values():
        assert np.array_equal(method(x_pad, np.zeros((3, 0, 3, 3))), np.zeros((2, 3, 3, 3)))
    for method in WEIGHT_GRADIENT_METHODS.values():
        assert method(x_pad, grad_out, 3).shape == (3, 0, 3, 3)
