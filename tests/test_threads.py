"""convgrad's threads: set_num_threads, the split of a batch into groups, and results that do not depend on either."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import convgrad
from convgrad import _engine, _threads, naive
from convgrad.conv import conv1d, conv1d_backward, conv2d, conv2d_backward


def _blas_threads():
    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas")


# --- set_num_threads ------------------------------------------------------------------------------

def test_default_is_the_cpus_this_process_may_use(threads):
    _threads._state["threads"] = None
    assert convgrad.get_num_threads() == _threads._available_cpus() >= 1


def test_set_num_threads_is_what_get_num_threads_returns(threads):
    convgrad.set_num_threads(3)
    assert convgrad.get_num_threads() == 3
    convgrad.set_num_threads(1)
    assert convgrad.get_num_threads() == 1


@pytest.mark.parametrize("value, error, match", [
    (0, ValueError, "num_threads must be >= 1, got 0"),
    (-2, ValueError, "num_threads must be >= 1, got -2"),
    (1.5, TypeError, "num_threads must be an int, got float"),
    ("2", TypeError, "num_threads must be an int, got str"),
    (True, TypeError, "num_threads must be an int, got bool"),
])
def test_set_num_threads_rejects_bad_values(threads, value, error, match):
    convgrad.set_num_threads(2)
    with pytest.raises(error, match=match):
        convgrad.set_num_threads(value)
    assert convgrad.get_num_threads() == 2


# --- groups and runs ------------------------------------------------------------------------------

def test_an_empty_batch_has_no_groups_and_runs_nothing():
    assert _threads.image_groups(0, 100) == []
    assert _threads.run(lambda run: pytest.fail("called"), []) == []


@pytest.mark.parametrize("n_images, work", [(1, 10), (7, 1), (32, 1 << 21), (1000, 9216), (3, 1 << 40), (500, 1)])
def test_groups_cover_the_batch_in_order(n_images, work):
    groups = _threads.image_groups(n_images, work)
    assert groups[0][0] == 0 and groups[-1][1] == n_images
    assert all(a[1] == b[0] for a, b in zip(groups, groups[1:]))
    assert all(first < last for first, last in groups)
    assert 1 <= len(groups) <= _threads._MAX_GROUPS
    sizes = {last - first for first, last in groups[:-1]}
    assert len(sizes) <= 1  # equal groups but the last


def test_group_sizes_follow_the_work():
    group, small = _threads._GROUP_WORK, _threads._SMALL_GROUP_WORK
    assert len(_threads.image_groups(64, group // 4)) == 16                 # a big job: groups of _GROUP_WORK
    assert len(_threads.image_groups(32, small // 4)) == _threads._MIN_GROUPS  # a middling one is still shared
    assert len(_threads.image_groups(8, small // 16)) == 1                   # a small one: not worth a thread
    assert len(_threads.image_groups(10, 1 << 40)) == 10                     # never more groups than images


@pytest.mark.parametrize("n_threads", [1, 2, 3, 5, 8])
def test_run_returns_the_groups_results_in_order(threads, n_threads):
    convgrad.set_num_threads(n_threads)
    groups = _threads.image_groups(40, 1 << 40)
    chunks, idents = [], set()

    def work(chunk):
        chunks.append(chunk)
        idents.add(threading.get_ident())
        return [first for first, _ in chunk]

    assert _threads.run(work, groups) == [first for first, _ in groups]
    assert sorted(g for chunk in chunks for g in chunk) == groups  # every group once
    assert all(chunk == groups[groups.index(chunk[0]):groups.index(chunk[0]) + len(chunk)] for chunk in chunks)
    assert len(idents) <= n_threads


def test_blas_is_on_one_thread_inside_and_as_before_after(threads):
    convgrad.set_num_threads(2)
    before = _blas_threads()
    inside = _threads.run(lambda run: [_blas_threads() for _ in run], [(0, 1), (1, 2)])
    assert all(n == 1 for seen in inside for _, n in seen)
    assert _blas_threads() == before


def test_an_error_in_a_thread_reaches_the_caller_and_leaves_nothing_behind(threads):
    convgrad.set_num_threads(2)
    before = _blas_threads()

    def work(run):
        if run[0][0] == 1:  # the run on the pool's thread
            raise ValueError("from the worker")
        return [0]

    with pytest.raises(ValueError, match="from the worker"):
        _threads.run(work, [(0, 1), (1, 2)])
    assert _threads._state["users"] == 0 and _blas_threads() == before


def test_a_convolution_inside_a_run_runs_inline(threads):
    # A pool thread waiting on work queued behind itself would wait forever.
    convgrad.set_num_threads(2)
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    want = conv2d(x, weight, padding=1)
    results = []
    caller = threading.Thread(target=lambda: results.extend(
        _threads.run(lambda run: [conv2d(x, weight, padding=1) for _ in run], [(0, 1), (1, 2)])))
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "nested run deadlocked"
    assert len(results) == 2 and all(np.array_equal(got, want) for got in results)


# --- results do not depend on the threads -----------------------------------------------------------

CONFIGS = [
    dict(padding=1),                                              # "same" size: one shared gradient grid
    dict(padding="same", dilation=2),
    dict(padding=(2, 0), stride=2),                               # its own gradient grid, zero-stuffed
    dict(padding="valid", stride=(1, 3), dilation=(2, 1)),
    dict(padding=2, padding_mode="reflect"),                      # the padding's adjoint last
    dict(padding=(1, 3), padding_mode="circular", stride=2),
    dict(padding=3),                                              # padding wider than the kernel
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 4)])
def test_any_thread_count_gives_the_same_bits_and_the_loops_answer(threads, one_image_per_group, kw, c_in, c_out):
    rng = np.random.default_rng(c_in + c_out)
    x, weight, bias = (rng.standard_normal((5, c_in, 9, 8)), rng.standard_normal((c_out, c_in, 3, 3)),
                       rng.standard_normal(c_out))
    results = {}
    for n_threads in (1, 2, 3):
        convgrad.set_num_threads(n_threads)
        out = conv2d(x, weight, bias, **kw)
        grad_out = np.random.default_rng(1).standard_normal(out.shape)
        results[n_threads] = (out,) + conv2d_backward(grad_out, x, weight, **kw)
    for n_threads in (2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(results[1], results[n_threads]))
    want = (naive.conv2d(x, weight, bias, **kw),) + naive.conv2d_backward(grad_out, x, weight, **kw)
    for got, expected in zip(results[1], want):
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(padding=4), dict(padding="same", dilation=(1, 2)),
                                dict(padding=(4, 3), padding_mode="reflect")])
def test_any_thread_count_gives_the_same_bits_by_fft(threads, one_image_per_group, kw):
    # One channel and a 9x9 kernel: the forward pass and both gradients go by the FFT.
    rng = np.random.default_rng(9)
    x, weight = rng.standard_normal((5, 1, 12, 11)), rng.standard_normal((1, 1, 9, 9))
    results = {}
    for n_threads in (1, 2, 3):
        convgrad.set_num_threads(n_threads)
        out = conv2d(x, weight, **kw)
        grad_out = np.random.default_rng(1).standard_normal(out.shape)
        results[n_threads] = (out,) + conv2d_backward(grad_out, x, weight, **kw)
    for n_threads in (2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(results[1], results[n_threads]))
    want = (naive.conv2d(x, weight, **kw),) + naive.conv2d_backward(grad_out, x, weight, **kw)
    for got, expected in zip(results[1], want):
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_conv1d_batch_shared_among_threads(threads, one_image_per_group):
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal((6, 2, 30)), rng.standard_normal((3, 2, 5))
    convgrad.set_num_threads(2)
    out = conv1d(x, weight, padding=2, stride=2)
    grad_out = rng.standard_normal(out.shape)
    got = conv1d_backward(grad_out, x, weight, padding=2, stride=2)
    assert np.allclose(out, naive.conv1d(x, weight, padding=2, stride=2), atol=1e-10)
    for a, b in zip(got, naive.conv1d_backward(grad_out, x, weight, padding=2, stride=2)):
        assert np.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("block_elements", [200, 1000])
def test_images_cut_into_bands_of_rows(monkeypatch, stride, block_elements):
    # A block smaller than one image's work: the image is done a band of rows (one or several) at a time.
    monkeypatch.setattr(_engine, "_BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(stride)
    x, weight = rng.standard_normal((2, 3, 11, 10)), rng.standard_normal((2, 3, 3, 3))
    assert len(_engine.blocks(0, 2, 11, 10 * 3 * 3 * 3)) > 2 * 2
    out = conv2d(x, weight, padding=1, stride=stride)
    assert np.allclose(out, naive.conv2d(x, weight, padding=1, stride=stride), atol=1e-10)
    grad_out = rng.standard_normal(out.shape)
    for a, b in zip(conv2d_backward(grad_out, x, weight, padding=1, stride=stride),
                    naive.conv2d_backward(grad_out, x, weight, padding=1, stride=stride)):
        assert np.allclose(a, b, atol=1e-10)
