"""Run an all-rows pass block by block through joblib (local, threads or Dask).

Every pass over all rows of X (full-scan scoring, information-density seeding,
kNN-graph building, pseudo-negative ranking) goes through
:func:`map_row_blocks`, so that::

    with joblib.parallel_config(backend="dask"):
        learner.query()

runs it on a Dask cluster and returns exactly what the local run returns:
blocks are the same whatever the backend, and results come back in block order
for the caller to combine in that order.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import sys
import warnings
from contextlib import closing, nullcontext
from numbers import Number

import numpy as np
from joblib import Parallel, delayed, parallel_config
from joblib.parallel import get_active_backend

from .._config import get_config
from ._row_array import RowArray, is_row_array
from ._threads import effective_n_threads, limit_threads, worker_share

__all__ = ["iter_row_blocks", "map_row_blocks"]


class _MemmapRows:
    """A file-backed array shipped to another process by reference.

    Pickles as ``(filename, offset, dtype, shape)`` and re-opens the file
    read-only, memory-mapped, where it is read: a worker with access to the
    same file (local disk, shared storage) reads only the rows it is given.
    """

    def __init__(self, filename, offset, dtype, shape):
        self.filename = filename
        self.offset = offset
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self._array = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_array"] = None
        return state

    def __getitem__(self, key):
        if self._array is None:
            self._array = np.memmap(
                self.filename,
                dtype=self.dtype,
                mode="r",
                offset=self.offset,
                shape=self.shape,
            )
        return self._array[key]


#: np.memmap modes whose pages are the file's: what another process re-opening
#: the file reads is what this one sees ("c", copy-on-write, keeps changes private).
_SHARED_MODES = {"r", "r+", "w+"}


def _memmap_reference(X):
    """A :class:`_MemmapRows` for a C-contiguous array backed by a file, or None.

    Only a memmap whose pages are the file's (mode ``"r"``, ``"r+"`` or
    ``"w+"``) goes by reference; writes to a writable one are flushed first.
    A copy-on-write memmap (``np.load(..., mmap_mode="c")``) may differ from
    its file, so it is never sent by reference (None: sent block by block).
    """
    if not isinstance(X, np.ndarray) or not X.flags.c_contiguous:
        return None
    base = X
    while isinstance(base, np.ndarray):
        if (
            isinstance(base, np.memmap)
            and isinstance(base.base, mmap.mmap)
            and getattr(base, "filename", None)
        ):
            if getattr(base, "mode", None) not in _SHARED_MODES:
                return None
            if base.mode != "r":
                base.flush()  # the file holds what the array shows
            start = base.__array_interface__["data"][0]
            offset = base.offset + X.__array_interface__["data"][0] - start
            return _MemmapRows(base.filename, offset, X.dtype, X.shape)
        base = base.base
    return None


def _reference(X):
    """What to ship to other processes instead of X's data, or None.

    A file-backed ndarray goes as a :class:`_MemmapRows`, a lazily read X
    whose store pickles by address (a zarr array on disk or shared storage)
    goes as itself; workers then read their block where they run.
    """
    if is_row_array(X):
        rows = X if isinstance(X, RowArray) else RowArray(X)
        return rows if rows.by_reference else None
    return _memmap_reference(X)


def _on_memmap(block):
    """Whether ``block`` is a view of a memory-mapped file."""
    base = block
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return True
        base = base.base
    return isinstance(base, mmap.mmap)


def shipped_rows(X):
    """X as an object pickles it for another process: by reference when it
    can go so, a plain copy when it is a view of a memmap that cannot (a
    copy-on-write one: loky would send its file name, and the worker would
    read the unchanged file), else X itself."""
    ref = _memmap_reference(X)
    if ref is not None:
        return ref
    if isinstance(X, np.ndarray) and _on_memmap(X):
        return np.array(X)
    return X


def _read_here(X, key):
    """``X[key]`` as an ndarray of its own, read here to go with its task.

    A view of a memmap is copied: loky would send it as the file's name and
    offset, and a copy-on-write memmap may differ from its file. This runs
    inside joblib's dispatch, which the Dask backend also drives from the
    client's event loop: a dask array's block is computed with dask's
    synchronous scheduler (on the cluster, it would deadlock).
    """
    dask = sys.modules.get("dask")
    lazy = dask is not None and dask.is_dask_collection(getattr(X, "array", X))
    with dask.config.set(scheduler="sync") if lazy else nullcontext():
        block = np.asarray(X[key])
    return block.copy() if _on_memmap(block) else block


def _call(func, source, key, start, stop, limit, *args):
    """``func(source[key], start, stop, *args)`` under the thread ``limit``.

    ``key=None`` passes ``source`` itself (a block shipped whole). ``limit``
    is ``(n_threads, exact, openmp_only)`` for :func:`limit_threads`, or
    None for the worker's own default; ``n_threads`` also caps the thread
    count hnswlib and Annoy are given inside ``func``. ``args`` come last,
    one by one, so that the Dask futures :func:`_scatter_shared` puts in
    their place are arguments of the task, resolved on the worker.
    """
    block = source if source is None or key is None else source[key]
    n_threads, exact, openmp_only = limit if limit is not None else (None, None, False)
    with (
        worker_share(n_threads),
        limit_threads(n_threads, exact=exact, openmp_only=openmp_only),
    ):
        return func(block, start, stop, *args)


def _forks(name):
    """Whether joblib backend ``name`` would fork this process (unsafe after faiss)."""
    if name != "MultiprocessingBackend":
        return False
    method = os.environ.get("JOBLIB_START_METHOD", "").strip() or (
        multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_all_start_methods()[0]
    )
    return method == "fork"


def _results(tasks, n_jobs):
    """Yield joblib's results of ``tasks`` in order; if the consumer stops
    early (an error, :func:`contextlib.closing`), cancel the tasks left,
    without joblib's warning that they were cancelled."""
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    done = False
    try:
        # Not `yield from`: on close it would end `results` before this
        # finally, with joblib's warning.
        for result in results:  # noqa: UP028
            yield result
        done = True
    finally:
        if not done:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "[^ ]+ tasks", UserWarning)
                results.close()


#: Arguments small enough to travel inside every task (never scattered).
_INLINE = (Number, str, np.dtype, np.generic, type, type(None))


def _scatter_shared(args):
    """``args`` with each large one replaced by a Dask future, sent once to
    every worker (the active joblib backend is Dask).

    joblib's Dask backend scatters only top-level arguments that
    ``dask.sizeof`` reports above 1 kB, and a fitted index reports a few
    bytes: without this, every task would carry its own copy. The futures
    live as long as the returned tuple (the pass).
    """
    client = getattr(get_active_backend()[0], "client", None)
    shared = [i for i, arg in enumerate(args) if not isinstance(arg, _INLINE)]
    if client is None or not shared:
        return args
    futures = client.scatter([args[i] for i in shared], broadcast=True, hash=False)
    out = list(args)
    for i, future in zip(shared, futures, strict=True):
        out[i] = future
    return tuple(out)


def _n_workers(n_jobs):
    cores = os.cpu_count() or 1
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


def _resolve_backend(n_jobs):
    """``(n_jobs, uses_threads, backend_name)`` of the backend joblib would use."""
    backend, config_n_jobs = get_active_backend()
    if n_jobs is None:
        n_jobs = config_n_jobs
    if n_jobs is None:
        n_jobs = getattr(backend, "default_n_jobs", 1)
    return n_jobs, bool(getattr(backend, "uses_threads", False)), type(backend).__name__


def iter_row_blocks(
    func, n_rows, block_size, *, X=None, rows=None, args=(), n_jobs=None
):
    """Yield ``func(block, start, stop, *args)`` for consecutive row blocks, in order.

    Same as :func:`map_row_blocks`, but results are yielded as they come (in
    block order), e.g. to drive a progress bar. Until it is exhausted or
    closed, the generator holds the pass's thread caps and joblib workers:
    a caller that may stop early (an error) closes it, e.g. with
    ``contextlib.closing``.

    Parameters
    ----------
    func : callable
        Called as ``func(block, start, stop, *args)``; see :func:`map_row_blocks`.
    n_rows : int
        Number of positions to cover: ``range(n_rows)`` is cut into blocks.
    block_size : int
        Positions per block (the last block may be shorter).
    X : array-like or None, default=None
        Rows to read for each block: an ndarray, a memmap, or a lazily read
        array (``zarr.Array``, ``h5py.Dataset``); None passes ``block=None``.
    rows : ndarray of int or None, default=None
        Row ids of ``X`` at each position: the block of positions
        ``start:stop`` is ``X[rows[start:stop]]`` (default ``X[start:stop]``).
    args : tuple, default=()
        Extra arguments shared by every call: on Dask, each one but numbers
        and strings is sent once to every worker; loky pickles them with each
        batch of tasks.
    n_jobs : int or None, default=None
        Passed to :class:`joblib.Parallel`; None uses the active
        ``joblib.parallel_config`` (sequential when none is set).

    Yields
    ------
    result : object
        What ``func`` returned for each block, in block order.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import iter_row_blocks
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> def first_value(block, start, stop, scale):
    ...     return start, stop, float(block[0, 0]) * scale
    >>> for result in iter_row_blocks(first_value, 5, 2, X=X, args=(10,)):
    ...     print(result)
    (0, 2, 0.0)
    (2, 4, 40.0)
    (4, 5, 80.0)
    >>> rows = np.array([4, 0, 3])  # positions 0:2 read rows 4 and 0 of X
    >>> [r for r in iter_row_blocks(first_value, 3, 2, X=X, rows=rows, args=(1,))]
    [(0, 2, 8.0), (2, 3, 6.0)]
    """
    block_size = int(block_size)
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}.")
    starts = range(0, int(n_rows), block_size)

    def key(start):
        stop = min(start + block_size, n_rows)
        return slice(start, stop) if rows is None else rows[start:stop]

    budget = effective_n_threads()
    exact = get_config()["n_threads"] is not None
    n_jobs, uses_threads, name = _resolve_backend(n_jobs)
    if n_jobs == 1:  # in process, in order: the default for every user
        for start in starts:
            stop = min(start + block_size, n_rows)
            yield _call(func, X, key(start), start, stop, (budget, exact, False), *args)
        return

    if _forks(name):
        # faiss can hang in a child forked after OpenMP ran in the parent.
        warnings.warn(
            "the joblib 'multiprocessing' backend forks, which can hang after "
            "faiss ran: skseals runs this pass with threads instead. Use the "
            "'loky', 'threading' or 'dask' backend.",
            RuntimeWarning,
            stacklevel=3,
        )
        parts = iter_row_blocks(
            func, n_rows, block_size, X=X, rows=rows, args=args, n_jobs=n_jobs
        )
        with parallel_config(backend="threading", n_jobs=n_jobs), closing(parts):
            yield from parts
        return

    # Each worker gets budget // n_workers threads. Dask workers run elsewhere,
    # on cores of their own: they keep their own default (Dask sets
    # OMP_NUM_THREADS=1 in its workers).
    per_worker = max(1, budget // _n_workers(n_jobs))
    if uses_threads:
        # BLAS pools are process-wide: capped once here. OpenMP's setting is
        # per thread: capped again inside each worker thread.
        limit = (per_worker, exact, True)
        tasks = (
            delayed(_call)(
                func, X, key(s), s, min(s + block_size, n_rows), limit, *args
            )
            for s in starts
        )
        with limit_threads(per_worker, exact=exact):
            yield from _results(tasks, n_jobs)
        return

    dask = "Dask" in name
    limit = None if dask else (per_worker, exact, False)
    # Dask: the shared args (a fitted index, an estimator) go once to every
    # worker. loky pickles them with each batch of tasks, as before.
    shared = _scatter_shared(args) if dask else args
    # Other processes / machines: ship a file-backed or store-backed X by
    # reference, else the block itself (never the whole X).
    ref = None if X is None else _reference(X)
    if ref is not None:
        tasks = (
            delayed(_call)(
                func, ref, key(s), s, min(s + block_size, n_rows), limit, *shared
            )
            for s in starts
        )
    else:
        tasks = (
            delayed(_call)(
                func,
                None if X is None else _read_here(X, key(s)),
                None,
                s,
                min(s + block_size, n_rows),
                limit,
                *shared,
            )
            for s in starts
        )
    yield from _results(tasks, n_jobs)


def map_row_blocks(
    func, n_rows, block_size, *, X=None, rows=None, args=(), n_jobs=None
):
    """Apply ``func`` to consecutive row blocks through joblib; results in order.

    ``range(n_rows)`` is cut into blocks ``[start, stop)`` of ``block_size``
    and ``func(block, start, stop, *args)`` is called for each, where
    ``block`` is ``X[start:stop]`` (or ``X[rows[start:stop]]``), read where
    the call runs. The blocks do not depend on the backend, so combining the
    results in order gives bit-identical output whether the pass ran
    sequentially, on threads, in loky processes or on a Dask cluster.

    With no ``joblib.parallel_config`` active (and ``n_jobs=None``) the calls
    run one after the other in this process, as a plain loop. Under
    ``parallel_config(backend="dask")`` they run on the Dask cluster of the
    current ``distributed.Client``. Process-based backends receive a
    file-backed (``np.memmap``) X, or a zarr X on disk or shared storage, by
    reference and read their block where they run; any other X is sent block
    by block, never whole. No process is forked: the ``multiprocessing``
    backend with the ``fork`` start method (unsafe after faiss ran OpenMP) is
    replaced by threads, with a warning.

    Threads: every call runs under the thread budget
    (:func:`skseals.config_context`): in this process with the whole budget;
    on threads or loky processes each worker gets ``budget // n_workers``
    BLAS and OpenMP (faiss) threads, applied inside the worker since
    OpenMP's limit is per thread; Dask workers keep their own default.

    Parameters
    ----------
    func : callable
        Called as ``func(block, start, stop, *args)``. Must be picklable
        (cloudpickle) for process and Dask backends; pass large shared objects
        through ``args`` rather than a closure, so that Dask sends them once
        to every worker (loky pickles ``args`` with each batch of tasks).
    n_rows : int
        Number of positions to cover.
    block_size : int
        Positions per block (the last block may be shorter).
    X : array-like or None, default=None
        Rows to read for each block: an ndarray, a memmap, or a lazily read
        array (``zarr.Array``, ``h5py.Dataset``); None passes ``block=None``.
    rows : ndarray of int or None, default=None
        Row ids of ``X`` at each position: the block of positions
        ``start:stop`` is ``X[rows[start:stop]]`` (default ``X[start:stop]``).
    args : tuple, default=()
        Extra arguments shared by every call.
    n_jobs : int or None, default=None
        Passed to :class:`joblib.Parallel`; None uses the active
        ``joblib.parallel_config`` (sequential when none is set).

    Returns
    -------
    results : list
        What ``func`` returned for each block, in block order.

    Examples
    --------
    >>> import numpy as np
    >>> from joblib import parallel_config
    >>> from skseals.utils import map_row_blocks
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> def block_sum(block, start, stop):
    ...     return block.sum()
    >>> map_row_blocks(block_sum, 5, 2, X=X)
    [np.float64(6.0), np.float64(22.0), np.float64(17.0)]
    >>> with parallel_config(backend="threading", n_jobs=2):
    ...     map_row_blocks(block_sum, 5, 2, X=X)
    [np.float64(6.0), np.float64(22.0), np.float64(17.0)]
    """
    with closing(
        iter_row_blocks(
            func, n_rows, block_size, X=X, rows=rows, args=args, n_jobs=n_jobs
        )
    ) as parts:
        return list(parts)
