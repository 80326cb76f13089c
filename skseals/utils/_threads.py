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
one is released every pool a cap set is set back to what it was before the
first, whatever the order the threads release theirs in (when no cap set a
pool, nothing is read or set again). A pool found at another size than the
caps left it at was set outside skseals (threadpoolctl, the user): that size
is kept, as the pool's own.

A thread's caps may also be left out of order (two generators holding one
each): a cap left before one entered after it hands its settings to that one.
A cap left from another thread hands them back to the thread that entered
it, which restores them when it next enters or leaves a cap. Settings are
recorded before they are made, so an interrupt (Ctrl-C) in between loses
none; a child forked while other threads held caps drops theirs. The loaded
libraries are listed again after an import (``sys.modules`` grew): one loaded
otherwise (``ctypes``) is capped from the next import on.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import ContextDecorator, contextmanager
from functools import lru_cache

from .._config import _check_n_threads, get_config

__all__ = [
    "capped_n_threads",
    "deferred_limit_threads",
    "effective_n_threads",
    "ensure_thread_limits",
    "limit_threads",
    "thread_limited",
]

_lock = threading.Lock()
_share = threading.local()  # a worker thread's share of the budget
_split = None  # (len(sys.modules), per-thread libraries, process-wide ones)
# BLAS pools are process-wide: the caps held by every thread, under one lock.
_blas_lock = threading.Lock()
_blas_caps = {}  # token -> (thread id, n_threads, exact), in the order entered
# filepath -> the pool's size outside skseals's caps: before the first cap, or
# as set outside skseals since (threadpoolctl, the user)
_blas_base = {}
# filepath -> the sizes the caps may have left the pool at: the one they set or
# found, or, while a set is under way, the sizes before and after it
_blas_last = {}
_blas_set = False  # whether a cap set a pool since the registry was last empty
# The caps open in each thread, in the order entered (thread id -> list), and
# the per-thread settings a cap left from another thread handed back to the
# thread that set them (thread id -> [(setter, size before)], to undo in order).
_open_lock = threading.Lock()
_open_caps = {}
_handed_back = {}
_deferred = threading.local()  # .stack: a thread's open deferred_limit_threads


def _default_n_threads():
    """``OMP_NUM_THREADS`` when set to a positive int, else joblib's cpu count."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isascii() and value.isdigit() and int(value) > 0:  # ("²": not one)
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
        which honours CPU affinity and cgroup quotas, read once per process:
        a later change of the affinity is not seen), and in a worker thread of
        a parallel pass (:func:`~skseals.utils.map_row_blocks`) at most that
        worker's share.

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
    if n_threads is not None:
        return n_threads
    n_threads = get_config()["n_threads"]
    if n_threads is None:
        n_threads = _default_n_threads()
    return _within_share(n_threads)


def _within_share(n_threads):
    """``n_threads``, or this thread's share of the budget when it is a worker
    of a parallel pass (:func:`worker_share`) given fewer."""
    share = getattr(_share, "n_threads", None)
    return n_threads if share is None else min(n_threads, share)


def _libraries():
    """threadpoolctl's controllers of the loaded libraries, re-scanned after
    imports, in two lists: per-thread settings (OpenMP, an OpenMP BLAS) and
    process-wide BLAS pools."""
    global _split
    split = _split
    if split is None or split[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        with _lock:
            n_modules = len(sys.modules)
            libs = ThreadpoolController().lib_controllers
            per_thread = [lib for lib in libs if not _process_wide(lib)]
            process_wide = [lib for lib in libs if _process_wide(lib)]
            _split = split = (n_modules, per_thread, process_wide)
    return split[1], split[2]


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


def _apply_blas_caps(libs):
    """Set the process-wide BLAS pools ``libs`` to what the caps held call for
    (``_blas_lock`` held); with none held, back to their size outside the caps.

    A pool found at another size than the caps last left it at was set outside
    skseals meanwhile: that size becomes its size outside the caps (a cap that
    only lowers never raises it, and the last release does not undo it).
    """
    global _blas_set
    for lib in libs:
        path = lib.filepath
        current = lib.num_threads  # (a call into the library: read once)
        if path in _blas_last and current not in _blas_last[path]:
            _blas_base[path] = current
        if _blas_caps:
            target = _blas_target(_blas_base.setdefault(path, current))
        else:
            target = _blas_base.get(path)
        if target is not None and current != target:
            # (recorded first: an interrupt during the call leaves the pool at
            # one of the two sizes, both known to come from the caps)
            _blas_set = True
            _blas_last[path] = (current, target)
            # threadpoolctl >= 3.8 lets one "controlling" thread set OpenBLAS
            # and ignores the others; the registry already orders skseals's
            # threads (under _blas_lock), so it sets the pool from any thread.
            getattr(lib, "_real_set_num_threads", lib.set_num_threads)(target)
            current = target
        _blas_last[path] = (current,)
    if not _blas_caps:
        _clear_blas_registry()


def _clear_blas_registry():
    global _blas_set
    _blas_base.clear()
    _blas_last.clear()
    _blas_set = False


class limit_threads(ContextDecorator):
    """Cap BLAS, OpenMP and faiss's thread pools; restore on exit.

    A context manager (and decorator). OpenMP's limits (faiss's and an OpenMP BLAS's
    included) are per thread: set in this thread and restored on exit. A
    pthreads BLAS pool is process-wide: the cap joins those other threads
    hold, the smallest is in force, and the pool is restored when the last cap
    is released (see the module docstring).

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

    Notes
    -----
    ``with limit_threads() as n:`` binds ``n`` to the cap applied. It calls
    the libraries' controllers directly (not through a new threadpoolctl
    limiter) and sets only the pools above the cap. Every ``query()`` enters
    one; with a pool that asks for it (``KNNPool``) only when the round runs
    a thread pool (:class:`deferred_limit_threads`).
    """

    def __init__(self, n_threads=None, *, exact=None, openmp_only=False):
        self._n_threads = n_threads
        self._exact = exact
        self._openmp_only = openmp_only
        self._undo = None  # None: not entered
        self._blas = None
        self._owner = None  # the thread that entered it

    def _recreate_cm(self):  # (as a decorator: a fresh cap per call)
        return type(self)(
            self._n_threads, exact=self._exact, openmp_only=self._openmp_only
        )

    def __enter__(self):
        if self._undo is not None:
            raise RuntimeError(
                "This limit_threads(...) is already entered: enter a new one for "
                "each with-block (they nest)."
            )
        n = _check_n_threads(self._n_threads)
        explicit = n is not None
        if n is None:
            n = get_config()["n_threads"]
        exact = n is not None if self._exact is None else bool(self._exact)
        if n is None:
            n = _default_n_threads()
        if not explicit:  # (the budget in force: a worker's share at most)
            n = _within_share(n)
        per_thread, process_wide = _libraries()
        self._undo = undo = []  # (setter, size before), in the order set
        self._blas = None
        self._owner = me = threading.get_ident()
        try:
            with _open_lock:
                _open_caps.setdefault(me, []).append(self)
                handed = _handed_back.pop(me, ())
            _undo_settings(handed)  # (left to this thread by a cap left elsewhere)
            # (each undo recorded before its setter runs: an interrupt
            # between the two still restores the pool on exit)
            for lib in per_thread:
                before = lib.num_threads
                if before > n or (exact and before != n):
                    undo.append((lib.set_num_threads, before))
                    lib.set_num_threads(n)
            faiss = sys.modules.get("faiss")  # never imported just to cap it
            omp_get = getattr(faiss, "omp_get_max_threads", None)
            if omp_get is not None:
                before = omp_get()
                if before > n or (exact and before != n):
                    undo.append((faiss.omp_set_num_threads, before))
                    faiss.omp_set_num_threads(n)
            # The process-wide cap last: released first, the per-thread
            # limits after it.
            if not self._openmp_only:
                # (held before it joins the registry: the exit of a cap
                # interrupted in between still finds it)
                self._blas = token = object()
                with _blas_lock:
                    _blas_caps[token] = (threading.get_ident(), n, exact)
                    _apply_blas_caps(process_wide)
            return n  # (in the try: an interrupt here still undoes the cap)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            token = self._blas
            if token is not None:
                with _blas_lock:
                    _blas_caps.pop(token, None)  # (then forgotten: not before)
                    self._blas = None
                    if _blas_caps or _blas_set:
                        # (the libraries loaded now: one may have joined since)
                        _apply_blas_caps(_libraries()[1])
                    else:  # no cap set a pool since the first: none to restore
                        _clear_blas_registry()
        finally:
            self._restore()
        return False

    def _restore(self):
        """Undo this cap's per-thread settings (OpenMP's), which belong to the
        thread that entered it. Left before a cap entered after it in that
        thread, it hands them to that cap, which undoes them when it leaves;
        left from another thread, it hands them back to the thread that set
        them, which undoes them when it next enters or leaves a cap."""
        undo, owner, me = self._undo or [], self._owner, threading.get_ident()
        handed = ()
        with _open_lock:
            stack = _open_caps.get(owner, [])
            at = next((i for i, cap in enumerate(stack) if cap is self), None)
            if at is not None:
                del stack[at]
                if at < len(stack):  # a cap entered after it is still open
                    _hand_over(undo, stack[at]._undo)
                    undo = []
                if not stack:
                    del _open_caps[owner]
            if owner != me and undo:  # (another thread's settings)
                _handed_back.setdefault(owner, []).extend(reversed(undo))
                undo = []
            if owner == me:
                handed = _handed_back.pop(me, ())
        try:
            _undo_settings([*handed, *reversed(undo)])
        finally:
            self._undo = None


class deferred_limit_threads:
    """A :func:`limit_threads` entered only when needed: at the first
    :func:`ensure_thread_limits` in the block, in the thread that entered it.

    Capping reads and sets every pool (about ten calls into the libraries);
    code that may run none of them (a round that scores with numpy alone and
    reads its neighbours from a table) skips that. Left, it leaves the cap if
    one was entered. The budget is read when the cap is entered.

    An interrupt (Ctrl-C) can land between the ``with`` statement and the
    block, leaving it open, or inside its exit: its owner also calls
    :meth:`close` in a ``finally`` of its own.
    """

    def __init__(self):
        self._cap = None
        self._closed = False

    def __enter__(self):
        _open_deferred().append(self)
        return self

    def ensure(self):
        """Enter the cap now, unless entered already (or closed)."""
        if self._cap is None and not self._closed:
            # (recorded first: an interrupt after the cap is entered still
            # finds it on exit; leaving a cap never entered changes nothing)
            self._cap = cap = limit_threads()
            try:
                cap.__enter__()
            except BaseException:
                self._cap = None
                raise

    def close(self):
        """Leave the cap if one was entered, and the block; again, nothing."""
        self._closed = True  # (first: ensure_thread_limits skips it now)
        try:
            cap = self._cap
            if cap is not None:
                cap.__exit__(None, None, None)  # (left twice: the second is void)
                self._cap = None
        finally:
            stack = getattr(_deferred, "stack", None) or []
            stack[:] = [d for d in stack if d is not self]

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
        return False


def _open_deferred():
    """This thread's open :class:`deferred_limit_threads`, innermost last."""
    stack = getattr(_deferred, "stack", None)
    if stack is None:
        stack = _deferred.stack = []
    return stack


def ensure_thread_limits():
    """Enter the innermost open :class:`deferred_limit_threads` of this thread
    (if any, and not entered yet): call before running a thread pool (a BLAS
    product, a faiss search) in code that may run under one."""
    stack = getattr(_deferred, "stack", None)
    while stack:
        if not stack[-1]._closed:
            stack[-1].ensure()
            return
        stack.pop()  # (one whose close was interrupted)


def _hand_over(undo, later):
    """Settings ``undo`` of a cap left before the cap ``later`` (an undo list,
    changed in place): ``later`` restores them to their size before both."""
    for set_num_threads, before in undo:
        for i, (setter, _) in enumerate(later):
            if setter == set_num_threads:
                later[i] = (setter, before)
                break
        else:
            later.insert(0, (set_num_threads, before))


def _undo_settings(undo):
    """Apply ``(setter, size)`` pairs in order; an interrupt (Ctrl-C) during
    the loop still applies the rest before it propagates."""
    done = 0
    try:
        for set_num_threads, before in undo:
            set_num_threads(before)
            done += 1
    except BaseException:
        for set_num_threads, before in undo[done:]:
            set_num_threads(before)
        raise


@contextmanager
def worker_share(n_threads):
    """Within the block: this thread is a worker whose share of the budget is
    ``n_threads`` (None: no share of its own), for :func:`capped_n_threads`,
    :func:`effective_n_threads` and :func:`limit_threads`'s budget in force.
    A worker of a pass run inside another's worker keeps the smaller share.

    BLAS and OpenMP pools are capped by :func:`limit_threads`; hnswlib and
    Annoy take a thread count per call instead, read from here.
    """
    before = getattr(_share, "n_threads", None)
    # (nested: the smaller share; None keeps the share of an outer pass)
    if before is not None:
        n_threads = before if n_threads is None else min(before, n_threads)
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
    n = effective_n_threads()  # (a worker's share at most)
    if num_threads is None or num_threads <= 0:
        return n
    return min(int(num_threads), n)


def thread_limited(func):
    """Decorator: run ``func`` under :func:`limit_threads` (the budget in force,
    read at each call)."""
    return limit_threads()(func)


def _after_fork_in_child():
    """In a child forked while other threads held caps: only the forking
    thread lives on, so the caps of the others are dropped (the next cap sets
    and restores the pools from the registry left), and the locks, which a
    thread gone with the fork may have held, are new."""
    global _lock, _blas_lock, _open_lock
    _lock = threading.Lock()
    _blas_lock = threading.Lock()
    _open_lock = threading.Lock()
    me = threading.get_ident()
    for token, (thread, _, _) in list(_blas_caps.items()):
        if thread != me:
            del _blas_caps[token]
    for registry in (_open_caps, _handed_back):
        for thread in [t for t in registry if t != me]:
            del registry[thread]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
