"""conv2d's path for small jobs (convgrad._small: each formula one matrix product) and output_mask.

A small job must give the loops' answer in every case the general path handles (strides, dilations,
padding modes, groups, 1-D and 2-D, float32), be taken only for small jobs, and agree with the general
path; output_mask must leave out exactly the gradients it is asked to.
"""

import numpy as np
import pytest

from convgrad import _engine, _small, naive
from convgrad.conv import convolution, convolution_backward
from convgrad.functional import conv1d, conv1d_backward, conv2d, conv2d_backward

from conv_checks import close


def small_case(seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    dh, dw = (int(v) for v in rng.integers(1, 3, 2))
    sh, sw = (int(v) for v in rng.integers(1, 3, 2))
    mode = str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]))
    h, w = int(rng.integers(dh * (kh - 1) + 2, 12)), int(rng.integers(dw * (kw - 1) + 2, 12))
    padding = (int(rng.integers(0, min(2, h - 1) + 1)), int(rng.integers(0, min(2, w - 1) + 1)))
    x = rng.integers(-3, 4, (int(rng.integers(1, 3)), c_in, h, w)).astype(float)
    weight = rng.integers(-3, 4, (c_out, c_in // groups, kh, kw)).astype(float)
    bias = rng.integers(-3, 4, c_out).astype(float)
    kw_args = dict(stride=(sh, sw), padding=padding, dilation=(dh, dw), padding_mode=mode, groups=groups)
    return x, weight, bias, kw_args


@pytest.mark.parametrize("seed", range(80))
def test_a_small_job_gives_the_loops_answer_to_the_bit_on_integers(monkeypatch, seed):
    x, weight, bias, kw = small_case(seed)
    calls = []
    original = _small.forward
    monkeypatch.setattr(_small, "forward", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    out = conv2d(x, weight, bias, **kw)
    assert calls, "a small job did not take the small path"
    assert np.array_equal(out, naive.conv2d(x, weight, bias, **kw))
    grad_out = np.random.default_rng(seed).integers(-3, 4, out.shape).astype(float)
    for got, want in zip(conv2d_backward(grad_out, x, weight, **kw), naive.conv2d_backward(grad_out, x, weight, **kw)):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(80))
def test_the_backward_from_the_forwards_record_gives_the_loops_answer(seed):
    # convolution() keeps the forward's columns, and convolution_backward's weight gradient reuses them.
    x, weight, bias, kw = small_case(seed)
    options = [kw[name] for name in ("stride", "padding")] + [kw["dilation"], kw["padding_mode"], kw["groups"]]
    out, saved = convolution(2, x, weight, bias, *options)
    assert np.array_equal(out, naive.conv2d(x, weight, bias, **kw))
    grad_out = np.random.default_rng(seed).integers(-3, 4, out.shape).astype(float)
    want = naive.conv2d_backward(grad_out, x, weight, **kw)
    for mask in [(True, True, True), (False, True, True), (True, False, False)]:
        for got, expected, needed in zip(convolution_backward(grad_out, saved, mask), want, mask):
            assert (got is None) if not needed else np.array_equal(got, expected)


# More output than input channels per group at stride 1 with "same" widths: the input gradient by col2im.
@pytest.mark.parametrize("n, c_in, c_out, groups, kernel, dilation, padding", [
    (1, 1, 16, 1, 3, 1, 1), (2, 1, 4, 1, 3, 1, (0, 1)), (1, 2, 6, 2, (3, 5), (2, 1), (1, 2)),
    (3, 2, 8, 1, (2, 3), 1, (1, 1)), (1, 3, 6, 3, 1, 1, 0)], ids=str)
def test_more_output_channels_take_col2im_and_give_the_loops_answer(n, c_in, c_out, groups, kernel, dilation,
                                                                    padding):
    rng = np.random.default_rng(c_out)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.integers(-3, 4, (n, c_in, 7, 9)).astype(float)
    weight = rng.integers(-3, 4, (c_out, c_in // groups, kh, kw)).astype(float)
    kw_args = dict(padding=padding, dilation=dilation, groups=groups)
    grad_out = rng.integers(-3, 4, conv2d(x, weight, **kw_args).shape).astype(float)
    _small._plans.clear()
    want = naive.conv2d_backward(grad_out, x, weight, **kw_args)
    for mask in [(True, True, True), (True, False, False), (False, True, False)]:
        got = conv2d_backward(grad_out, x, weight, output_mask=mask, **kw_args)
        for a, b, needed in zip(got, want, mask):
            assert (a is None) if not needed else (a.flags.c_contiguous and np.array_equal(a, b))
    assert [p.col2im for p in _small._plans.values()] == [True]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_small_path_agrees_with_the_general_path(monkeypatch, seed, dtype):
    x, weight, bias, kw = small_case(seed + 1000)
    rng = np.random.default_rng(seed)
    x, weight, bias = (rng.standard_normal(a.shape).astype(dtype) for a in (x, weight, bias))
    small = conv2d(x, weight, bias, **kw)
    grad_out = rng.standard_normal(small.shape).astype(dtype)
    small_grads = conv2d_backward(grad_out, x, weight, **kw)
    monkeypatch.setattr(_engine, "_UNTHREADED_WORK", 0)
    general = conv2d(x, weight, bias, **kw)
    assert small.dtype == general.dtype == dtype and close(small, general, dtype)
    for a, b in zip(small_grads, conv2d_backward(grad_out, x, weight, **kw)):
        assert a.dtype == dtype and a.shape == b.shape and close(a, b, dtype)


def test_a_large_job_or_a_long_kernel_does_not_take_the_small_path(monkeypatch):
    calls = []
    monkeypatch.setattr(_small, "forward", lambda *args, **kwargs: calls.append(1))
    rng = np.random.default_rng(0)
    conv2d(rng.standard_normal((8, 16, 32, 32)), rng.standard_normal((16, 16, 3, 3)), padding=1)  # 2.4M madds/image
    conv2d(rng.standard_normal((1, 1, 20, 20)), rng.standard_normal((1, 1, 9, 9)))                # FFT_TAPS taps
    assert calls == []


def test_output_mask_leaves_out_what_it_is_asked_to():
    rng = np.random.default_rng(1)
    for big in (False, True):
        n = 40 if big else 1
        x, weight = rng.standard_normal((n, 3, 16, 16)), rng.standard_normal((4, 3, 3, 3))
        grad_out = rng.standard_normal((n, 4, 16, 16))
        full = conv2d_backward(grad_out, x, weight, padding=1)
        for mask in [(False, True, True), (True, False, False), (False, False, True), (False, False, False)]:
            got = conv2d_backward(grad_out, x, weight, padding=1, output_mask=mask)
            for keep, a, b in zip(mask, got, full):
                assert (a is None) if not keep else np.array_equal(a, b)
    x1, w1 = rng.standard_normal((2, 1, 30)), rng.standard_normal((3, 1, 5))
    g1 = rng.standard_normal((2, 3, 26))
    grad_x, grad_weight, grad_bias = conv1d_backward(g1, x1, w1, output_mask=[False, True, False])
    assert grad_x is None and grad_bias is None
    assert np.array_equal(grad_weight, conv1d_backward(g1, x1, w1)[1])


@pytest.mark.parametrize("mask", [(True, True), (1, 1, 1), "all", None, (True, True, True, True)])
def test_a_bad_output_mask_raises(mask):
    x, weight = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    with pytest.raises(TypeError, match="output_mask must be three bools"):
        conv2d_backward(np.ones((1, 1, 3, 3)), x, weight, output_mask=mask)


def test_the_argument_cache_does_not_mistake_a_bool_or_a_float_for_an_int():
    x, weight = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    conv2d(x, weight, stride=1)           # cached for stride=1
    with pytest.raises(TypeError):
        conv2d(x, weight, stride=True)
    with pytest.raises((TypeError, ValueError)):
        conv2d(x, weight, stride=1.0)
    with pytest.raises(TypeError):
        conv2d(x, weight.astype(np.float32))  # mixed dtypes still refused after a float64 call
    assert conv1d(np.ones((1, 4)), np.ones((1, 1, 2))).shape == (1, 3)


# -- the plans' scratch arrays (_small._take): reused between calls, never handed out --------------------

@pytest.fixture
def reuse_everything(monkeypatch):
    """Every plan keeps scratch arrays (normally only those of jobs with columns of REUSE_BYTES or more)."""
    monkeypatch.setattr(_small, "REUSE_BYTES", 0)
    _small._plans.clear()
    yield
    _small._plans.clear()


def test_only_jobs_with_large_columns_keep_scratch_arrays():
    rng = np.random.default_rng(0)
    for groups, reuse in ((1, False), (8, True)):
        x, weight = rng.standard_normal((1, groups, 32, 32)), rng.standard_normal((groups, 1, 3, 3))
        conv2d_backward(conv2d(x, weight, padding=1, groups=groups), x, weight, padding=1, groups=groups)
        plans = [p for p in _small._plans.values() if p.x_shape == x.shape and p.weight_shape == weight.shape]
        assert plans and all(p.reuse is reuse for p in plans)
        assert bool(plans[0].spares) is reuse


@pytest.mark.parametrize("seed", range(40))
def test_a_second_call_of_the_same_shapes_changes_nothing_the_first_returned(reuse_everything, seed):
    # The same shapes share a plan, and with it the scratch arrays (x_pad, rows, grid, columns): results and
    # the forward's record must not live in them. The cases include 1x1 kernels, whose columns are x_pad.
    x, weight, bias, kw = small_case(seed)
    options = [kw[name] for name in ("stride", "padding")] + [kw["dilation"], kw["padding_mode"], kw["groups"]]
    rng = np.random.default_rng(1000 + seed)
    out, saved = convolution(2, x, weight, bias, *options)
    grad_out = rng.integers(-3, 4, out.shape).astype(float)
    grads = conv2d_backward(grad_out, x, weight, **kw)
    kept = [out.copy(), *[g.copy() for g in grads]]
    x2, grad_out2 = rng.integers(-3, 4, x.shape).astype(float), rng.integers(-3, 4, out.shape).astype(float)
    out2, saved2 = convolution(2, x2, weight, bias, *options)          # the same plan, other values
    grads2 = conv2d_backward(grad_out2, x2, weight, **kw)
    for now, before in zip([out, *grads], kept):
        assert np.array_equal(now, before)
    # the first record still gives the first backward, the second the second
    want, want2 = naive.conv2d_backward(grad_out, x, weight, **kw), naive.conv2d_backward(grad_out2, x2, weight, **kw)
    for got, expected in zip(convolution_backward(grad_out, saved, (True, True, True)), want):
        assert np.array_equal(got, expected)
    for got, expected, again in zip(convolution_backward(grad_out2, saved2, (True, True, True)), want2, grads2):
        assert np.array_equal(got, expected) and np.array_equal(again, expected)
    assert np.array_equal(out2, naive.conv2d(x2, weight, bias, **kw))


@pytest.mark.parametrize("padding", [0, 1])
def test_a_1x1_kernels_record_survives_the_next_forward(reuse_everything, padding):
    # At stride 1 a 1x1 kernel's columns are x_pad itself (a view): the record must keep x_pad, not lend it.
    rng = np.random.default_rng(padding)
    weight, bias = rng.integers(-3, 4, (2, 1, 1, 1)).astype(float), rng.integers(-3, 4, 2).astype(float)
    x, x2 = (rng.integers(-3, 4, (1, 1, 6, 7)).astype(float) for _ in range(2))
    out, saved = convolution(2, x, weight, bias, 1, padding, 1, "zeros", 1)
    convolution(2, x2, weight, bias, 1, padding, 1, "zeros", 1)
    grad_out = rng.integers(-3, 4, out.shape).astype(float)
    for got, expected in zip(convolution_backward(grad_out, saved, (True, True, True)),
                             naive.conv2d_backward(grad_out, x, weight, padding=padding)):
        assert np.array_equal(got, expected)


def test_a_strided_backward_keeps_its_grid_zero_between_the_stuffed_entries(reuse_everything):
    # The input gradient's grid is zeroed once; the strided writes must leave the zeros between them alone.
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((1, 1, 9, 9)), rng.standard_normal((1, 1, 3, 3))
    for _ in range(3):
        grad_out = rng.standard_normal((1, 1, 5, 5))
        got = conv2d_backward(grad_out, x, weight, stride=2, padding=1)
        for g, expected in zip(got, naive.conv2d_backward(grad_out, x, weight, stride=2, padding=1)):
            assert close(g, expected)


def test_float32_and_float64_calls_of_one_shape_in_turn_keep_their_own_scratch(reuse_everything):
    rng = np.random.default_rng(4)
    x, weight, grad_out = (rng.standard_normal(shape) for shape in ((1, 1, 8, 8), (1, 1, 3, 3), (1, 1, 8, 8)))
    want = naive.conv2d_backward(grad_out, x, weight, padding=1)
    for dtype in (np.float64, np.float32, np.float64, np.float32):
        got = conv2d_backward(grad_out.astype(dtype), x.astype(dtype), weight.astype(dtype), padding=1)
        assert all(g.dtype == dtype and close(g, w.astype(dtype), dtype=dtype) for g, w in zip(got, want))


def test_the_scratch_arrays_are_dropped_past_their_bound(reuse_everything, monkeypatch):
    # Many shapes in use: the spares stay within _SPARE_BYTES_MAX (dropped and made again), results unchanged.
    monkeypatch.setattr(_small, "_SPARE_BYTES_MAX", 20_000)
    rng = np.random.default_rng(5)
    for size in range(6, 20):
        x, weight = rng.standard_normal((1, 1, size, size)), rng.standard_normal((1, 1, 3, 3))
        grad_out = rng.standard_normal((1, 1, size, size))
        assert close(conv2d(x, weight, padding=1), naive.conv2d(x, weight, padding=1))
        for g, expected in zip(conv2d_backward(grad_out, x, weight, padding=1),
                               naive.conv2d_backward(grad_out, x, weight, padding=1)):
            assert close(g, expected)
        spares = [a.nbytes for p in _small._plans.values() for a in p.spares.values()]
        assert sum(spares) <= 20_000 + 2 * max(spares)     # without the bound: the sum over all 14 shapes
