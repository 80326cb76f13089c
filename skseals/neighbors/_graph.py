"""A precomputed k-nearest-neighbour table, usable as an index by a pool."""

from __future__ import annotations

import os
from contextlib import closing
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import RowBitmap, import_optional, iter_row_blocks
from ..utils._threads import thread_limited
from ..utils._validation import seed_if_unset, validate_rows
from ._common import _BaseIndex, compact, read_meta, restored_on_error, write_meta
from ._graph_tables import _first_bad_row, check_tables, id_dtype
from ._resolve import make_index

__all__ = ["KNNGraph"]


def _graph_batch(block, start, stop, index, k):
    """Neighbour table rows ``start:stop``: ``k + 1`` searched, the row dropped."""
    rows = np.arange(start, stop)
    D, I = index.search_rows(rows, k + 1)  # noqa: E741
    # Drop the row itself (or the last result if it was not found).
    order = np.argsort(I == rows[:, None], axis=1, kind="stable")[:, :k]
    return (
        start,
        np.take_along_axis(I, order, axis=1),
        np.take_along_axis(D, order, axis=1),
    )


class KNNGraph(_BaseIndex):
    """The ``n_neighbors`` nearest rows of every row, computed once.

    ``fit(X)`` asks an index for the neighbours of all rows in large batched
    :meth:`search_rows` calls (``n_neighbors + 1`` each, the row itself
    dropped) and stores them as an ``(n_samples, n_neighbors)`` table. The
    graph then serves as an index for a candidate pool: :meth:`search_rows`
    is a table look-up that filters excluded rows, so SEALS pool expansion
    costs no search at all.

    A look-up can only return what was stored: at most ``n_neighbors`` rows,
    fewer once excluded rows are removed (missing entries are ``-1`` with
    distance ``inf``). A row is never its own neighbour in the table.

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours stored per row.
    index : str or index object, default="faiss"
        Index used to build the table: an alias ("exact", "faiss", "hnswlib",
        "annoy") or an index object. A fitted index object is reused as is
        (it must be fitted on the same X); an unfitted one is cloned and
        fitted.
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        Metric of the index.
    batch_size : int, default=8192
        Rows searched per call to the index.
    verbose : bool, default=False
        Show a progress bar (needs tqdm: ``pip install "skseals[progress]"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the index the graph builds (from an alias, or an unfitted index
        object whose own ``random_state`` is None); a learner whose pool
        builds the graph sets it from its own ``random_state``.

    Attributes
    ----------
    neighbors_ : ndarray of shape (``n_samples_fit_``, n_neighbors)
        Neighbour row ids, nearest first, ``-1`` padded: int32, or int64 when
        ``n_samples_fit_`` exceeds ``2**31`` (any integer dtype once loaded).
    distances_ : ndarray of shape (``n_samples_fit_``, n_neighbors), float32
        Their distances, ``inf`` where missing.
    index_ : BaseNeighborIndex or None
        The fitted index (None when loaded from disk without one).
    n_samples_fit_ : int
        Number of rows.
    n_features_in_ : int
        Number of features of the fitted X.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.neighbors import KNNGraph
    >>> from skseals.utils import RowBitmap
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> graph = KNNGraph(n_neighbors=2, index="exact", metric="euclidean").fit(X)
    >>> graph.neighbors_.tolist()
    [[1, 2], [0, 2], [1, 0], [2, 1]]
    >>> skip = RowBitmap(4)
    >>> skip.add([1])
    >>> graph.search_rows([0, 3], 2, exclude=skip)[1].tolist()
    [[2, -1], [2, -1]]
    """

    _parameter_constraints: dict = {
        **_BaseIndex._parameter_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "index": [str, HasMethods(["fit", "search", "search_rows"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors: int = 100,
        index="faiss",
        metric: str = "cosine",
        batch_size: int = 8192,
        verbose: bool = False,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.index = index
        self.metric = metric
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    @thread_limited
    def fit(self, X: ArrayLike, y: None = None) -> KNNGraph:
        """Compute the neighbour table of every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows (those the index was fitted on, if it is fitted).
        y : None
            Ignored.

        Returns
        -------
        self : KNNGraph
            The fitted graph.
        """
        with restored_on_error(self):
            self._validate_params()
            X = validate_rows(
                self, X, dtype=np.float32, order="C", ensure_min_samples=1
            )
            n, k = X.shape[0], self.n_neighbors
            index = make_index(self.index, self.metric, n)
            if getattr(index, "n_samples_fit_", None) is None:
                index = seed_if_unset(clone(index), self.random_state).fit(X)
            self.n_samples_fit_ = None
            self.index_ = index
            neighbors = np.full((n, k), -1, dtype=id_dtype(n))
            distances = np.full((n, k), np.inf, dtype=np.float32)
            # Batches run through joblib: parallel_config(backend="dask") searches
            # them on a Dask cluster (the index is shipped once per worker).
            blocks = iter_row_blocks(_graph_batch, n, self.batch_size, args=(index, k))
            parts = blocks
            if self.verbose:
                tqdm = import_optional("tqdm.auto").tqdm
                total = -(-n // self.batch_size)
                parts = tqdm(blocks, desc="kNN graph", unit="batch", total=total)
            # closing: an error below ends the pass now (its workers, its thread
            # caps), not when the traceback is garbage-collected.
            with closing(blocks):
                for start, I, D in parts:  # noqa: E741
                    if _first_bad_row(I, n) is not None:
                        raise ValueError(
                            f"index returned row ids outside [0, {n}): it is not an "
                            "index over the rows of X. Pass an index fitted on X, or "
                            "an unfitted one."
                        )
                    neighbors[start : start + I.shape[0]] = I
                    distances[start : start + I.shape[0]] = D
            self.neighbors_, self.distances_ = neighbors, distances
            self.metric_ = self.metric
            self.n_samples_fit_ = n
        return self

    def search_rows(
        self, rows: ArrayLike, n_neighbors: int, *, exclude: RowBitmap | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The stored neighbours of indexed rows: a table look-up.

        Unlike the search indexes, whose answer for a row usually starts with
        the row itself, a graph's table holds other rows only: the row is
        never returned, and at most the ``n_neighbors`` stored are.

        Parameters
        ----------
        rows : array-like of int
            Row ids of the fitted X.
        n_neighbors : int
            Results per row; beyond the stored ones, ``-1`` / ``inf``.
        exclude : RowBitmap or None
            Rows never to return.

        Returns
        -------
        distances, indices : ndarrays of shape (len(rows), n_neighbors)
            Ascending distances (float32) and row ids (int64), ``inf`` /
            ``-1`` where missing.
        """
        return super().search_rows(rows, n_neighbors, exclude=exclude)

    def _search_rows(self, rows, k, exclude):
        I = np.asarray(self.neighbors_[rows], dtype=np.int64)  # noqa: E741
        D = np.asarray(self.distances_[rows], dtype=np.float32)
        keep = I >= 0
        if exclude is not None:
            keep[keep] = ~exclude.contains(I[keep])
        return compact(D, I, keep, k)

    def neighbor_ids(
        self, rows: ArrayLike, n_neighbors: int, *, exclude: RowBitmap | None = None
    ) -> np.ndarray:
        """The ids :meth:`search_rows` returns, without reading distances.

        A candidate pool needs only the ids; skipping ``distances_`` halves the
        pages read when the tables are memory-mapped.

        Parameters
        ----------
        rows : array-like of int
            Row ids of the fitted X.
        n_neighbors : int
            Results per row (at most the ``n_neighbors`` stored).
        exclude : RowBitmap or None
            Rows never to return.

        Returns
        -------
        indices : ndarray of shape (len(rows), n_neighbors), int64
            Nearest first, ``-1`` padded.

        Examples
        --------
        >>> import numpy as np
        >>> from skseals.neighbors import KNNGraph
        >>> X = np.random.RandomState(0).normal(size=(50, 4)).astype(np.float32)
        >>> graph = KNNGraph(n_neighbors=5, index="exact").fit(X)
        >>> ids = graph.neighbor_ids([0, 1], 3)
        >>> bool((ids == graph.search_rows([0, 1], 3)[1]).all())
        True
        """
        k, exclude = self._check_search(n_neighbors, exclude)
        rows = self._check_rows(rows)
        I = np.asarray(self.neighbors_[rows], dtype=np.int64)  # noqa: E741
        keep = I >= 0
        if exclude is not None and len(exclude):
            keep &= ~exclude.contains_ids(np.where(keep, I, 0))
        if not keep.all():
            order = np.argsort(~keep, axis=1, kind="stable")
            I = np.take_along_axis(I, order, axis=1)  # noqa: E741
            I[~np.take_along_axis(keep, order, axis=1)] = -1
        if I.shape[1] >= k:
            return I[:, :k]
        return np.hstack([I, np.full((I.shape[0], k - I.shape[1]), -1, np.int64)])

    def search(
        self, Q: ArrayLike, n_neighbors: int, *, exclude: RowBitmap | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Search query vectors with the index the graph was built with.

        Parameters
        ----------
        Q : array-like of shape (n_queries, n_features)
            Query vectors.
        n_neighbors : int
            Results per query.
        exclude : RowBitmap or None
            Rows never to return.

        Returns
        -------
        distances, indices : ndarrays of shape (n_queries, n_neighbors)
            As for :meth:`~skseals.base.BaseNeighborIndex.search`.
        """
        check_is_fitted(self)
        if getattr(self, "index_", None) is None:
            raise RuntimeError(
                "this KNNGraph has no index to search arbitrary vectors (it was "
                "loaded from disk): pass a fitted index to KNNGraph.load(path, "
                "index=...), or use search_rows."
            )
        return self.index_.search(Q, n_neighbors, exclude=exclude)

    # -- persistence -------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write ``neighbors_`` to ``path``, ``distances_`` to ``path.distances.npy``.

        Both are .npy files (no suffix is appended to ``path``); parameters go
        to ``path.json``. The index is not saved (save it separately).

        Parameters
        ----------
        path : str or path-like
            Destination of the neighbour table.
        """
        check_is_fitted(self)
        with open(path, "wb") as f:
            np.save(f, np.asarray(self.neighbors_))
        with open(os.fspath(path) + ".distances.npy", "wb") as f:
            np.save(f, np.asarray(self.distances_))
        write_meta(path, self)

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, mmap_mode: str | None = "r", index=None
    ) -> KNNGraph:
        """Load a graph written by :meth:`save`, memory-mapped by default.

        The tables are checked first: the neighbour table must be a 2-d integer
        array of shape ``(n_samples_fit_, n_neighbors)`` (from ``path.json``)
        whose ids are all ``-1`` or in ``[0, n_samples_fit_)`` -- read block by
        block, so a memory-mapped table is never held in memory whole -- and
        the distances must have the same shape. A table of other rows raises
        ValueError here rather than crashing a search later.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.
        mmap_mode : {"r", "r+", "c"} or None, default="r"
            Passed to :func:`numpy.load`; None reads the tables into memory.
        index : BaseNeighborIndex or None, default=None
            A fitted index over the same rows, to answer :meth:`search`.

        Returns
        -------
        graph : KNNGraph
            A fitted graph.
        """
        graph, _ = read_meta(path, cls)
        neighbors = np.load(path, mmap_mode=mmap_mode)
        distances = np.load(os.fspath(path) + ".distances.npy", mmap_mode=mmap_mode)
        check_tables(
            neighbors,
            distances,
            graph.n_samples_fit_,
            graph.n_neighbors,
            f"the neighbour table in {os.fspath(path)!r}",
        )
        graph.neighbors_, graph.distances_ = neighbors, distances
        if index is not None:
            make_index(index, None, graph.n_samples_fit_)
            if getattr(index, "n_samples_fit_", None) is None:
                raise ValueError("index must be fitted on the rows of the graph.")
        graph.index_ = index
        return graph
