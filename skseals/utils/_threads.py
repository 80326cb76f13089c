"""One thread budget for BLAS, OpenMP (faiss) and hnswlib.

numpy/scipy and faiss each bundle a BLAS, and faiss an OpenMP runtime
(threadpoolctl lists it as ``user_api="openmp"``, ``prefix="libgomp"``). Left
alone, each sizes its pool to every core and they oversubscribe the machine.
:func:`limit_threads` caps them together around skseals's computations, to
the budget set with :func:`skseals.set_config` / :func:`skseals.config_context`.

OpenMP's thread count is a per-thread setting: a limit set in one thread does
not reach a thread started later (a joblib worker thread sees every core
again), which is why :func:`~skseals.utils.map_row_blocks` applies the budget
inside each worker too.

A BLAS with its own threads (numpy's and scipy's pthreads OpenBLAS) has one
setting for the whole process; an OpenMP BLAS (faiss's) follows each thread's
OpenMP setting. Caps on the process-wide pools held at once by several
threads are kept in one registry: the limit in force is the smallest of them
(each thread's innermost cap counting, as if it ran alone), and when the last
one is released every pool is set back to what it was before the first,
whatever the order the threads release theirs in.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import ExitStack, contextmanager
from functools import lru_cache, wraps

from .._config import _check_n_threads, get_config

__all__ = [
    "capped_n_threads",
    "effective_n_threads",
    "limit_threads",
    "thread_limited",
]

_lock = threading.Lock()
_share = threading.local()  # a worker thread's share of the budget
_controller = None
_n_modules = -1
# BLAS pools are process-wide: the caps held by every thread, under one lock.
_blas_lock = threading.Lock()
_blas_caps = {}  # token -> (thread id, n_threads, exact), in the order entered
_blas_before = {}  # filepath -> the pool's size before the first cap


def _default_n_threads():
    """``OMP_NUM_THREADS`` when set to a positive int, else joblib's cpu count."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return _cpu_count()


@lru_cache(maxsize=1)
def _cpu_count():
    """joblib's cpu count (affinity and cgroup quotas), read once per process:
    it reads files under /sys on every call, and every query() asks for it."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def effective_n_threads(n_threads=None):
    """The number of threads skseals lets each computation use.

    Parameters
    ----------
    n_threads : int >= 1 or None, default=None
        An explicit budget, returned as is; None resolves the budget in force:
        ``skseals.get_config()["n_threads"]``, else the cores this process
        may use (``OMP_NUM_THREADS`` when set, else :func:`joblib.cpu_count`,
        which honours CPU affinity and cgroup quotas).

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> import skseals
    >>> from skseals.utils import effective_n_threads
    >>> with skseals.config_context(n_threads=1):
    ...     effective_n_threads()
    1
    >>> effective_n_threads(3)
    3
    """
    n_threads = _check_n_threads(n_threads)
    if n_threads is None:
        n_threads = get_config()["n_threads"]
    return _default_n_threads() if n_threads is None else n_threads


def _threadpool_controller():
    """threadpoolctl's view of the loaded libraries, re-scanned after imports."""
    global _controller, _n_modules
    from threadpoolctl import ThreadpoolController

    with _lock:
        if _controller is None or len(sys.modules) != _n_modules:
            _controller = ThreadpoolController()
            _n_modules = len(sys.modules)
        return _controller


def _blas_target(before):
    """The BLAS pool size the caps held call for; ``before``: its size before.

    A thread's caps apply in the order entered, as nested limits of a lone
    thread would (an exact cap sets, another only lowers); the process then
    runs at the smallest thread's value, which exceeds no thread's cap.
    """
    per_thread = {}
    for thread, n, exact in _blas_caps.values():
        value = per_thread.get(thread, before)
        per_thread[thread] = n if exact else min(value, n)
    return min(per_thread.values())


def _process_wide(lib):
    """Whether a threadpoolctl library's thread count is one process-wide
    setting: a BLAS with its own threads, not one run by OpenMP (whose
    setting, like OpenMP's own, is per thread)."""
    return lib.user_api == "blas" and getattr(lib, "threading_layer", "") != "openmp"


def _apply_blas_caps():
    """Set every process-wide BLAS pool to what the caps held call for
    (``_blas_lock`` held); with none held, back to its size before the first."""
    for lib in _threadpool_controller().lib_controllers:
        if not _process_wide(lib):
            continue
        current = lib.num_threads  # (a call into the library: read once)
        if _blas_caps:
            before = _blas_before.setdefault(lib.filepath, current)
            target = _blas_target(before)
        else:
            target = _blas_before.get(lib.filepath)
        if target is not None and current != target:
            # threadpoolctl >= 3.8 lets one "controlling" thread set OpenBLAS
            # and ignores the others; the registry already orders skseals's
            # threads (under _blas_lock), so it sets the pool from any thread.
            getattr(lib, "_real_set_num_threads", lib.set_num_threads)(target)
    if not _blas_caps:
        _blas_before.clear()


@contextmanager
def _blas_cap(n_threads, exact):
    """Hold a cap on the (process-wide) BLAS pools, in the registry."""
    token = object()
    with _blas_lock:
        _blas_caps[token] = (threading.get_ident(), n_threads, exact)
        _apply_blas_caps()
    try:
        yield
    finally:
        with _blas_lock:
            del _blas_caps[token]
            _apply_blas_caps()


@contextmanager
def limit_threads(n_threads=None, *, exact=None, openmp_only=False):
    """Cap BLAS, OpenMP and faiss's thread pools; restore on exit.

    OpenMP's limits (faiss's and an OpenMP BLAS's included) are per thread:
    set in this thread and restored on exit. A pthreads BLAS pool is
    process-wide: the cap joins those other threads hold, the smallest is in
    force, and the pool is restored when the last cap is released (see the
    module docstring).

    Parameters
    ----------
    n_threads : int >= 1 or None, default=None
        The cap; None takes the budget in force (:func:`effective_n_threads`).
    exact : bool or None, default=None
        True sets every pool to exactly ``n_threads``; False only lowers
        pools above it (a limit set outside skseals stays). None: exact when
        the budget was set explicitly (``n_threads`` or ``set_config``), else
        lower only.
    openmp_only : bool, default=False
        Touch only the per-thread settings (OpenMP, an OpenMP BLAS), not the
        process-wide BLAS pools: for worker threads whose BLAS pools the
        calling thread capped already.

    Yields
    ------
    n_threads : int
        The cap applied.
    """
    explicit = n_threads is not None or get_config()["n_threads"] is not None
    n = effective_n_threads(n_threads)
    exact = explicit if exact is None else bool(exact)
    controller = _threadpool_controller()
    chosen = [
        lib.filepath
        for lib in controller.lib_controllers
        if not _process_wide(lib)
        and (lib.num_threads > n or (exact and lib.num_threads != n))
    ]
    # The process-wide cap last: released first, per-thread limits after it.
    with ExitStack() as stack:
        if chosen:
            stack.enter_context(controller.select(filepath=chosen).limit(limits=n))
        faiss = sys.modules.get("faiss")  # never imported just to cap it
        omp_get = getattr(faiss, "omp_get_max_threads", None)
        if omp_get is not None:
            before = omp_get()
            if before > n or (exact and before != n):
                faiss.omp_set_num_threads(n)
                stack.callback(faiss.omp_set_num_threads, before)
        if not openmp_only:
            stack.enter_context(_blas_cap(n, exact))
        yield n


@contextmanager
def worker_share(n_threads):
    """Within the block: this thread is a worker whose share of the budget is
    ``n_threads`` (None: no share set), for :func:`capped_n_threads`.

    BLAS and OpenMP pools are capped by :func:`limit_threads`; hnswlib and
    Annoy take a thread count per call instead, read from here.
    """
    before = getattr(_share, "n_threads", None)
    _share.n_threads = n_threads
    try:
        yield
    finally:
        _share.n_threads = before


def capped_n_threads(num_threads):
    """A library's own thread count for one call (hnswlib, Annoy), capped.

    ``-1``, 0 or None -- the library's "every core" -- becomes the budget in
    force (in a worker of :func:`~skseals.utils.map_row_blocks`, its share of
    it); a positive setting is lowered to it.
    """
    n = effective_n_threads()
    share = getattr(_share, "n_threads", None)
    if share is not None:
        n = min(n, share)
    if num_threads is None or num_threads <= 0:
        return n
    return min(int(num_threads), n)


def thread_limited(func):
    """Decorator: run ``func`` under :func:`limit_threads` (the budget in force)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        with limit_threads():
            return func(*args, **kwargs)

    return wrapper
