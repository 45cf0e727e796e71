"""How convgrad uses the CPU's cores: a batch is cut into groups of images, which threads share.

The threads are the calling one and a small pool of Python threads. NumPy
releases the GIL inside a matrix product or an array copy, so they really do
run side by side. While they run, the BLAS library under NumPy is held to one
thread of its own (with ``threadpoolctl``): the threads already keep every
core busy, and a BLAS that split each product again would have its threads
wait on each other (on a busy 2-core machine we measured single products
taking 4 to 8 ms instead of 0.1 ms that way).

The groups depend only on the problem's shapes, and the convolutions do every
sum group by group (never across two groups, always in group order), so the
results are the same, bit for bit, for any number of threads.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["get_num_threads", "set_num_threads"]

# A group of images has about this many multiply-adds (several milliseconds' work). Groups are
# large because every NumPy call a thread makes hands the GIL over and takes it back: many short
# calls keep the threads waiting on each other (we measured 2 threads slower than 1 that way).
_GROUP_WORK = 1 << 24
# A smaller job is still cut into up to _MIN_GROUPS groups of at least _SMALL_GROUP_WORK, so that
# it too is shared.
_MIN_GROUPS = 4
_SMALL_GROUP_WORK = 1 << 22
_MAX_GROUPS = 64
_CHUNKS_PER_THREAD = 2

_lock = threading.Lock()
_state = {"threads": None, "pool": None, "controller": None, "limiter": None, "users": 0}
_inside_task = threading.local()


def _available_cpus():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def get_num_threads():
    """The number of threads convgrad's convolutions use (default: the CPUs this process may run on)."""
    threads = _state["threads"]
    return _available_cpus() if threads is None else threads


def set_num_threads(num_threads):
    """Use ``num_threads`` threads for convolutions (as ``torch.set_num_threads``).

    Results do not depend on it: only the time does. ``set_num_threads(1)``
    runs everything on the calling thread.

    Raises
    ------
    TypeError
        ``num_threads`` is not an int.
    ValueError
        ``num_threads`` < 1.
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise TypeError(f"set_num_threads: num_threads must be an int, got {type(num_threads).__name__}")
    if num_threads < 1:
        raise ValueError(f"set_num_threads: num_threads must be >= 1, got {num_threads}")
    with _lock:
        _state["threads"] = num_threads
        pool, _state["pool"] = _state["pool"], None
    if pool is not None:
        pool.shutdown(wait=False)


def image_groups(n_images, work_per_image):
    """Cut images 0..n_images-1 into consecutive (first, last) groups of about _GROUP_WORK multiply-adds
    (a smaller job: up to _MIN_GROUPS groups of at least _SMALL_GROUP_WORK).

    The groups depend on the shapes only. They are the units in which the
    weight gradient is summed (group by group, in order: the same sum for any
    number of threads) and in which the threads share the work.
    """
    if n_images == 0:
        return []
    work = n_images * work_per_image
    groups = max(work // _GROUP_WORK, min(_MIN_GROUPS, work // _SMALL_GROUP_WORK))
    groups = min(n_images, _MAX_GROUPS, max(1, groups))
    size = -(-n_images // groups)
    return [(first, min(first + size, n_images)) for first in range(0, n_images, size)]


def run(work, groups):
    """Call ``work(chunk)`` on runs of consecutive groups, shared among the threads; concatenate the lists returned.

    The groups are cut into a few chunks per thread, and each thread (the
    calling one too) takes the next chunk as soon as it is free, so a thread
    that a busy machine slows down does fewer. Handing out a chunk costs
    microseconds, so chunks are few and large.
    """
    if not groups:
        return []
    with _blas_on_one_thread():
        threads = min(get_num_threads(), len(groups))
        if threads == 1 or getattr(_inside_task, "active", False):
            return work(groups)
        count = min(len(groups), _CHUNKS_PER_THREAD * threads)
        bounds = [len(groups) * k // count for k in range(count + 1)]
        chunks = [groups[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
        results = [None] * count
        taken = iter(range(count))
        lock = threading.Lock()

        def take_chunks():
            _inside_task.active = True  # a convolution called from inside a chunk runs inline: no deadlock
            try:
                while True:
                    with lock:
                        index = next(taken, None)
                    if index is None:
                        return
                    results[index] = work(chunks[index])
            finally:
                _inside_task.active = False

        pool = _pool()
        futures = [pool.submit(take_chunks) for _ in range(threads - 1)]
        try:
            take_chunks()
        finally:
            for future in futures:
                future.result()
        return [result for chunk in results for result in chunk]


def _pool():
    """The worker threads: one fewer than get_num_threads(), as the calling thread works too."""
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(max_workers=max(1, get_num_threads() - 1),
                                                thread_name_prefix="convgrad")
        return _state["pool"]


@contextmanager
def _blas_on_one_thread():
    """Hold NumPy's BLAS to one thread; with calls from several threads, the first in sets, the last out restores."""
    with _lock:
        if _state["users"] == 0:
            if _state["controller"] is None:
                _state["controller"] = ThreadpoolController()
            _state["limiter"] = _state["controller"].limit(limits=1, user_api="blas")
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None


def _forget_pool_after_fork():
    # A forked child inherits the pool object but not its threads (and maybe a lock some thread held).
    global _lock
    _lock = threading.Lock()
    _state["pool"] = None
    _state["users"] = 0
    _state["limiter"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
