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


@contextmanager
def limit_threads(n_threads=None, *, exact=None, openmp_only=False):
    """Cap BLAS, OpenMP and faiss's thread pools in this thread; restore on exit.

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
        Touch only OpenMP pools (per-thread settings), not BLAS pools (set
        process-wide): for worker threads whose BLAS pools the calling thread
        capped already.

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
        if (not openmp_only or lib.user_api == "openmp")
        and (lib.num_threads > n or (exact and lib.num_threads != n))
    ]
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
