"""Builders of faiss indexes larger than RAM: one IVF index with its lists on
disk, or shards with global ids, written at a path an OnDiskFaissIndex opens."""

from __future__ import annotations

import logging
import os
import time
from contextlib import closing

import faiss
import numpy as np
from sklearn.utils import check_random_state

from ..utils import iter_row_blocks
from ..utils._progress import track_rows
from ..utils._threads import thread_limited
from ._common import normalize_rows, write_meta
from ._faiss_ondisk import OnDiskFaissIndex, _remove_earlier_build

__all__ = ["build_index_shards", "build_ondisk_ivf"]

logger = logging.getLogger(__name__)


def _prepare(block, metric):
    V = np.array(block, dtype=np.float32, order="C")
    return normalize_rows(V, copy=False) if metric == "cosine" else V


def _trained(X, factory, metric, train_size, random_state):
    """An empty faiss index trained on a sample of ``X`` (read in sorted order)."""
    n, d = X.shape
    faiss_metric = (
        faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    )
    index = faiss.index_factory(d, factory, faiss_metric)
    if not index.is_trained:
        rng = check_random_state(random_state)
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.cp.seed = int(rng.randint(np.iinfo(np.int32).max))
        down = faiss.downcast_index(ivf if ivf is not None else index)
        if hasattr(down, "do_polysemous_training"):
            # On by default for "IVF...,PQ..." factories; only useful for
            # polysemous search (off by default), and very slow (as FaissIndex).
            down.do_polysemous_training = False
        size = min(n, train_size or max(50_000, 40 * (ivf.nlist if ivf else 1)))
        sample = np.sort(rng.choice(n, size, replace=False)) if size < n else None
        V = _prepare(X[sample] if sample is not None else X[:], metric)
        index.train(V)
    return index


def _add_shard(block, start, stop, trained, metric, fname, id_map):
    """Add rows ``start:stop`` with their global ids to a copy of ``trained``."""
    index = faiss.deserialize_index(trained)
    if id_map:
        index = faiss.IndexIDMap(index)
    index.add_with_ids(_prepare(block, metric), np.arange(start, stop, dtype=np.int64))
    faiss.write_index(index, fname)
    return fname


def _check(X, metric):
    if metric not in ("cosine", "euclidean", "inner_product"):
        raise ValueError(
            f"metric must be 'cosine', 'euclidean' or 'inner_product', got {metric!r}."
        )
    if getattr(X, "ndim", None) != 2 or X.shape[0] < 1:
        raise ValueError("X must be a 2-d array-like with at least one row.")


def _add_shards(func, X, shard_size, args, verbose):
    """``func(block, start, stop, *args)`` per shard, in order (a bar with verbose)."""
    n = X.shape[0]
    results = iter_row_blocks(func, n, shard_size, X=X, args=args)
    with closing(results):
        return list(
            track_rows(results, n, shard_size, verbose=verbose, desc="faiss add")
        )


def _finish(X, path, factory, metric, nprobe, random_state):
    index = OnDiskFaissIndex(
        factory=factory, metric=metric, nprobe=nprobe, random_state=random_state
    )
    index.n_samples_fit_, index.n_features_in_ = int(X.shape[0]), int(X.shape[1])
    index.factory_ = factory
    index.path_ = os.fspath(path)
    index._open()
    write_meta(path, index, factory_=factory)
    return index._attach(X)


@thread_limited
def build_ondisk_ivf(
    X,
    path,
    *,
    factory="IVF1024,SQ8",
    metric="cosine",
    train_size=None,
    shard_size=1_000_000,
    nprobe=None,
    random_state=None,
    verbose=False,
):
    """Build an IVF index whose inverted lists live on disk; load it memory-mapped.

    Trains on a sample of ``train_size`` rows, adds the rows in shards of
    ``shard_size`` (each shard an index file with global row ids, built
    through joblib, so on a Dask cluster under
    ``joblib.parallel_config(backend="dask")`` when the workers share
    ``path``'s storage), merges the shards' inverted lists into one on-disk
    file (``faiss.contrib.ondisk.merge_ondisk``) and deletes the shard files.
    Writes ``path`` (the index), ``path.ivfdata`` (the lists) and
    ``path.json``.

    An index built earlier at ``path`` (by either builder) is replaced: its
    files are deleted first, so none of them is mixed into the new index (an
    index object still open on them keeps working until released). Files at
    ``path`` that no builder wrote are never overwritten: ValueError.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows, read ``shard_size`` at a time (a ``np.memmap`` or any
        array supporting row slicing).
    path : str or path-like
        Destination of the index; the lists go to ``path.ivfdata``.
    factory : str, default="IVF1024,SQ8"
        A faiss factory string of an IVF index (``"IVF4096,PQ32"``, ...).
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        ``"cosine"`` L2-normalises each shard and uses the inner product.
    train_size : int or None, default=None
        Rows sampled to train; None means ``max(50_000, 40 nlist)``.
    shard_size : int, default=1_000_000
        Rows added per shard.
    nprobe : int or None, default=None
        Lists visited per query, as for :class:`FaissIndex`.
    random_state : int, RandomState instance or None, default=None
        Seeds the training sample and k-means.
    verbose : bool, default=False
        Show a progress bar over rows as shards are added (needs tqdm:
        ``pip install "skseals[progress]"``); shards are the same either way.

    Returns
    -------
    index : OnDiskFaissIndex
        The index, memory-mapped, with ``X`` attached for
        :meth:`~skseals.neighbors.OnDiskFaissIndex.search_rows`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skseals.neighbors import build_ondisk_ivf
    >>> X = np.random.default_rng(0).normal(size=(2000, 8)).astype(np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "X.index")
    >>> index = build_ondisk_ivf(X, path, factory="IVF16,Flat", shard_size=500,
    ...                          nprobe=16, random_state=0)
    >>> index.search_rows([0], 3)[1][0].tolist()[0]
    0
    """
    from faiss.contrib.ondisk import merge_ondisk

    _check(X, metric)
    t0 = time.perf_counter()
    path = os.fspath(path)
    if faiss.try_extract_index_ivf(faiss.index_factory(X.shape[1], factory)) is None:
        raise ValueError(f"factory={factory!r} is not an IVF index: use 'IVF...'.")
    _remove_earlier_build(path)
    trained = _trained(X, factory, metric, train_size, random_state)
    blob = faiss.serialize_index(trained)
    shards = _add_shards(
        lambda b, s, e, *a: _add_shard(b, s, e, *a, f"{path}.add{s}.tmp", False),
        X,
        shard_size,
        (blob, metric),
        verbose,
    )
    try:
        merge_ondisk(trained, shards, path + ".ivfdata")
        faiss.write_index(trained, path)
    finally:
        for fname in shards:
            os.remove(fname)
    index = _finish(X, path, factory, metric, nprobe, random_state)
    logger.info(
        "built an on-disk %s index over %d rows in %.2f s",
        factory,
        X.shape[0],
        time.perf_counter() - t0,
    )
    return index


@thread_limited
def build_index_shards(
    X,
    path,
    *,
    factory="IVF1024,SQ8",
    metric="cosine",
    train_size=None,
    shard_size=1_000_000,
    nprobe=None,
    random_state=None,
    verbose=False,
):
    """Build one index per shard of rows, searched together with global ids.

    Each shard of ``shard_size`` rows becomes ``faiss.IndexIDMap`` over a
    copy of one trained index, written to ``path.shard{i:05d}.faissindex``
    (built through joblib, so on a Dask cluster under
    ``joblib.parallel_config(backend="dask")`` when the workers share the
    storage). The shards are loaded memory-mapped into ``faiss.IndexShards``,
    which passes the search parameters -- the ID selector that excludes
    labeled rows and ``nprobe`` -- to every shard (``IndexShardsIVF`` would
    drop the selector).

    An index built earlier at ``path`` (by either builder) is replaced: its
    files -- shard files included, whatever their number -- are deleted
    first (an index object still open on them keeps working until released).
    Files at ``path`` that no builder wrote are never overwritten: ValueError.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows, read ``shard_size`` at a time.
    path : str or path-like
        Prefix of the shard files; ``path.json`` holds the parameters.
    factory : str, default="IVF1024,SQ8"
        A faiss factory string (``"Flat"`` too).
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        ``"cosine"`` L2-normalises each shard and uses the inner product.
    train_size : int or None, default=None
        Rows sampled to train; None means ``max(50_000, 40 nlist)``.
    shard_size : int, default=1_000_000
        Rows per shard.
    nprobe : int or None, default=None
        Lists visited per query in every shard.
    random_state : int, RandomState instance or None, default=None
        Seeds the training sample and k-means.
    verbose : bool, default=False
        Show a progress bar over rows as shards are added (needs tqdm:
        ``pip install "skseals[progress]"``); shards are the same either way.

    Returns
    -------
    index : OnDiskFaissIndex
        The shards behind one index, with ``X`` attached for
        :meth:`~skseals.neighbors.OnDiskFaissIndex.search_rows`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skseals.neighbors import build_index_shards
    >>> X = np.random.default_rng(0).normal(size=(2000, 8)).astype(np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "X.index")
    >>> index = build_index_shards(X, path, factory="IVF16,Flat", shard_size=500,
    ...                            nprobe=16, random_state=0)
    >>> sorted(os.listdir(os.path.dirname(path)))  # one file per 500 rows
    ['X.index.json', 'X.index.shard00000.faissindex',
     'X.index.shard00001.faissindex', 'X.index.shard00002.faissindex',
     'X.index.shard00003.faissindex']
    >>> index.index_.count(), index.n_samples_fit_
    (4, 2000)
    >>> index.search_rows([0, 1999], 2)[1].tolist()  # global row ids
    [[0, 1858], [1999, 1099]]
    """
    _check(X, metric)
    t0 = time.perf_counter()
    path = os.fspath(path)
    _remove_earlier_build(path)
    blob = faiss.serialize_index(_trained(X, factory, metric, train_size, random_state))

    def shard(block, start, stop, blob, metric):
        fname = f"{path}.shard{start // shard_size:05d}.faissindex"
        return _add_shard(block, start, stop, blob, metric, fname, True)

    fnames = _add_shards(shard, X, shard_size, (blob, metric), verbose)
    index = _finish(X, path, factory, metric, nprobe, random_state)
    logger.info(
        "built %d %s shards over %d rows in %.2f s",
        len(fnames),
        factory,
        X.shape[0],
        time.perf_counter() - t0,
    )
    return index
