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
import warnings

import numpy as np
from joblib import Parallel, delayed, parallel_config
from joblib.parallel import get_active_backend

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


def _memmap_reference(X):
    """A :class:`_MemmapRows` for a C-contiguous array backed by a file, or None."""
    if not isinstance(X, np.ndarray) or not X.flags.c_contiguous:
        return None
    base = X
    while isinstance(base, np.ndarray):
        if (
            isinstance(base, np.memmap)
            and isinstance(base.base, mmap.mmap)
            and getattr(base, "filename", None)
        ):
            start = base.__array_interface__["data"][0]
            offset = base.offset + X.__array_interface__["data"][0] - start
            return _MemmapRows(base.filename, offset, X.dtype, X.shape)
        base = base.base
    return None


def _call(func, source, key, start, stop, args):
    block = None if source is None else source[key]
    return func(block, start, stop, *args)


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
    block order), e.g. to drive a progress bar.

    Parameters
    ----------
    func : callable
        Called as ``func(block, start, stop, *args)``; see :func:`map_row_blocks`.
    n_rows : int
        Number of positions to cover: ``range(n_rows)`` is cut into blocks.
    block_size : int
        Positions per block (the last block may be shorter).
    X : array-like or None, default=None
        Rows to read for each block; None passes ``block=None``.
    rows : ndarray of int or None, default=None
        Row ids of ``X`` at each position: the block of positions
        ``start:stop`` is ``X[rows[start:stop]]`` (default ``X[start:stop]``).
    args : tuple, default=()
        Extra arguments shared by every call (Dask scatters large ones once).
    n_jobs : int or None, default=None
        Passed to :class:`joblib.Parallel`; None uses the active
        ``joblib.parallel_config`` (sequential when none is set).

    Yields
    ------
    result : object
        What ``func`` returned for each block, in block order.
    """
    block_size = int(block_size)
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}.")
    starts = range(0, int(n_rows), block_size)

    def key(start):
        stop = min(start + block_size, n_rows)
        return slice(start, stop) if rows is None else rows[start:stop]

    n_jobs, uses_threads, name = _resolve_backend(n_jobs)
    if n_jobs == 1:  # in process, in order: the default for every user
        for start in starts:
            stop = min(start + block_size, n_rows)
            yield _call(func, X, key(start), start, stop, args)
        return

    if (
        name == "MultiprocessingBackend"
        and multiprocessing.get_start_method() == "fork"
    ):
        # faiss can hang in a child forked after OpenMP ran in the parent.
        warnings.warn(
            "the joblib 'multiprocessing' backend forks, which can hang after "
            "faiss ran: skseals runs this pass with threads instead. Use the "
            "'loky', 'threading' or 'dask' backend.",
            RuntimeWarning,
            stacklevel=3,
        )
        with parallel_config(backend="threading", n_jobs=n_jobs):
            yield from iter_row_blocks(
                func, n_rows, block_size, X=X, rows=rows, args=args, n_jobs=n_jobs
            )
        return

    if uses_threads:
        tasks = (
            delayed(_call)(func, X, key(s), s, min(s + block_size, n_rows), args)
            for s in starts
        )
        yield from _threaded(tasks, n_jobs)
        return

    # Other processes / machines: ship a file-backed X by reference, else the
    # block itself (never the whole X).
    ref = None if X is None else _memmap_reference(X)
    if ref is not None:
        tasks = (
            delayed(_call)(func, ref, key(s), s, min(s + block_size, n_rows), args)
            for s in starts
        )
    else:
        tasks = (
            delayed(func)(
                None if X is None else np.asarray(X[key(s)]),
                s,
                min(s + block_size, n_rows),
                *args,
            )
            for s in starts
        )
    yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)


def _threaded(tasks, n_jobs):
    """Run on threads with the BLAS / OpenMP pools shared out between them."""
    from threadpoolctl import threadpool_limits

    n_threads = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    per_thread = max(1, (os.cpu_count() or 1) // max(1, n_threads))
    with threadpool_limits(limits=per_thread):
        yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)


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
    file-backed (``np.memmap``) X by reference and re-open it read-only; any
    other X is sent block by block, never whole. No process is forked:
    the ``multiprocessing`` backend with the ``fork`` start method (unsafe
    after faiss ran OpenMP) is replaced by threads, with a warning. Threads
    share the BLAS / OpenMP thread pools out between them (threadpoolctl).

    Parameters
    ----------
    func : callable
        Called as ``func(block, start, stop, *args)``. Must be picklable
        (cloudpickle) for process and Dask backends; pass large shared objects
        through ``args`` rather than a closure, so that Dask scatters them once.
    n_rows : int
        Number of positions to cover.
    block_size : int
        Positions per block (the last block may be shorter).
    X : array-like or None, default=None
        Rows to read for each block; None passes ``block=None``.
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
    return list(
        iter_row_blocks(
            func, n_rows, block_size, X=X, rows=rows, args=args, n_jobs=n_jobs
        )
    )
