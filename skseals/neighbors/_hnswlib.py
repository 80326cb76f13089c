"""Adapter for hnswlib, with exclusion through its native deletion marks."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import import_optional
from ..utils._progress import add_rows
from ..utils._threads import capped_n_threads
from ._common import _BaseIndex, empty_result, finish, read_meta, write_meta

__all__ = ["HNSWIndex"]

_SPACES = {"cosine": "ip", "inner_product": "ip", "euclidean": "l2"}


class HNSWIndex(_BaseIndex):
    """Approximate nearest neighbours with an hnswlib HNSW graph.

    Needs the optional dependency hnswlib (``pip install "skseals[hnsw]"``).

    Excluded rows are skipped with hnswlib's native deletion marks
    (``mark_deleted`` / ``unmark_deleted``), not with a Python filter callable
    (which runs under the GIL). One fitted index may serve several learners
    with different exclusion sets: the index mirrors the last set it applied
    (remembering the marked ids and the set's identity and ``version``), and
    each search marks and unmarks only the difference.

    Because marks and ``ef`` are state of the shared graph, searches on one
    index are serialised with a lock (each search still uses ``num_threads``
    threads inside hnswlib); searching the same index from several Python
    threads is safe but not concurrent.

    Parameters
    ----------
    M : int, default=16
        Graph degree.
    ef_construction : int, default=200
        Size of the candidate list while building.
    ef : int, default=100
        Size of the candidate list while searching (raised to ``n_neighbors``
        when smaller).
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        ``"cosine"`` L2-normalises a copy of the rows and uses the inner
        product.
    random_state : int, RandomState instance or None, default=None
        Seeds the level generator. The graph is identical between builds only
        with ``num_threads=1``: parallel insertion order is not reproducible.
    num_threads : int, default=-1
        Threads used to build and search (-1: all cores).
    verbose : bool, default=False
        Show a progress bar (needs tqdm: ``pip install "skseals[progress]"``).
        Rows are then added in blocks, in the same order with the same ids.

    Attributes
    ----------
    index_ : hnswlib.Index
        The hnswlib index.
    n_samples_fit_ : int
        Number of indexed rows.
    n_features_in_ : int
        Number of features of the fitted X.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.neighbors import HNSWIndex
    >>> from skseals.utils import RowBitmap
    >>> X = np.random.default_rng(0).normal(size=(300, 8))
    >>> index = HNSWIndex(random_state=0, num_threads=1).fit(X)
    >>> skip = RowBitmap(300)
    >>> skip.add([0, 1])
    >>> dist, idx = index.search_rows([0, 1], 5, exclude=skip)
    >>> idx.shape, bool(np.isin(idx, [0, 1]).any())
    ((2, 5), False)
    """

    _parameter_constraints: dict = {
        **_BaseIndex._parameter_constraints,
        "M": [Interval(Integral, 2, None, closed="left")],
        "ef_construction": [Interval(Integral, 1, None, closed="left")],
        "ef": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "num_threads": [Interval(Integral, -1, None, closed="left")],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 100,
        metric: str = "cosine",
        random_state=None,
        num_threads: int = -1,
        verbose: bool = False,
    ):
        self.M = M
        self.ef_construction = ef_construction
        self.ef = ef
        self.metric = metric
        self.random_state = random_state
        self.num_threads = num_threads
        self.verbose = verbose

    def _new_index(self, dim):
        hnswlib = import_optional("hnswlib")
        return hnswlib.Index(space=_SPACES[self.metric], dim=int(dim))

    def _threads(self):
        return capped_n_threads(self.num_threads)  # within skseals's budget

    def _reset_marks(self):
        self._marked = np.empty(0, dtype=np.int64)
        self._mirror = None
        self._lock = threading.RLock()

    def _build(self, V):
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        index = self._new_index(V.shape[1])
        index.init_index(
            max_elements=V.shape[0],
            M=self.M,
            ef_construction=self.ef_construction,
            random_seed=seed,
        )
        n_threads = self._threads()

        def add(start, stop):
            rows = np.arange(start, stop)
            index.add_items(V[start:stop], rows, num_threads=n_threads)

        add_rows(add, V.shape[0], verbose=self.verbose, desc="hnswlib add")
        index.set_ef(self.ef)
        self.index_ = index
        self._reset_marks()

    def _search_rows(self, rows, k, exclude):
        with self._lock:
            # hnswlib will not give back a row marked deleted: unmark it first
            # (the search below marks again whatever ``exclude`` holds).
            hidden = np.intersect1d(rows, self._marked)
            if hidden.size:
                self._mirror = None
                for row in hidden.tolist():
                    self.index_.unmark_deleted(row)
                self._marked = np.setdiff1d(self._marked, hidden, assume_unique=True)
            V = self.index_.get_items(rows, return_type="numpy")
            return self._search_vectors(np.asarray(V, dtype=np.float32), k, exclude)

    # -- exclusion mirror ------------------------------------------------------
    def _apply(self, exclude):
        """Make the deletion marks equal ``exclude`` (changing only the diff)."""
        if exclude is None:
            if self._marked.size == 0:
                return
            target, key = np.empty(0, dtype=np.int64), None
        else:
            mirror = self._mirror
            if (
                mirror is not None
                and mirror[0]() is exclude
                and mirror[1] == exclude.version
            ):
                return
            target, key = exclude.ids(), (weakref.ref(exclude), exclude.version)
        index = self.index_
        marked = self._marked
        self._mirror = None  # a failure midway leaves marks unknown to the mirror
        for row in np.setdiff1d(target, marked, assume_unique=True).tolist():
            index.mark_deleted(row)
        for row in np.setdiff1d(marked, target, assume_unique=True).tolist():
            index.unmark_deleted(row)
        self._marked = np.array(target, dtype=np.int64)
        self._mirror = key

    def _query(self, V, k, ef):
        """``knn_query`` with ``ef``; None when a query found fewer than ``k``."""
        self.index_.set_ef(ef)
        try:
            return self.index_.knn_query(V, k=k, num_threads=self._threads())
        except RuntimeError:
            return None

    def _answer(self, V, queries, k, ef, labels, dist):
        """Fill the results of ``queries``; return those that found fewer than k.

        hnswlib refuses a whole batch when one query comes up short, so a
        refused batch is split in halves, down to the queries at fault.
        """
        parts, short = [queries], []
        while parts:
            part = parts.pop()
            found = self._query(V[part], k, ef)
            if found is not None:
                labels[part], dist[part] = found
            elif part.size == 1:
                short.append(part)
            else:
                parts += [part[part.size // 2 :], part[: part.size // 2]]
        return np.concatenate(short) if short else queries[:0]

    def _knn(self, V, k, n_allowed):
        """``k`` nearest allowed rows of each query, each as if searched alone.

        A query that finds fewer than ``k`` rows is searched again (alone among
        the others, which keep their results) with ``ef`` four times wider, up
        to the number of allowed rows, and then for the most rows it can fill
        (``-1`` / ``inf`` padded).
        """
        k = min(k, n_allowed)
        dist, labels = empty_result(V.shape[0], k)
        ef = max(self.ef, k)
        short = self._answer(V, np.arange(V.shape[0]), k, ef, labels, dist)
        while short.size and ef < n_allowed:
            ef = min(n_allowed, 4 * ef)
            short = self._answer(V, short, k, ef, labels, dist)
        for q in short.tolist():  # the most rows it can fill: bisect on k
            have, lack = 0, k  # k = have succeeds, k = lack fails
            while lack - have > 1:
                mid = (have + lack) // 2
                found = self._query(V[q : q + 1], mid, ef)
                if found is None:
                    lack = mid
                else:
                    have = mid
                    labels[q, :mid], dist[q, :mid] = found[0][0], found[1][0]
        return labels, dist

    def _search_vectors(self, V, k, exclude):
        n_allowed = self.n_samples_fit_ - (len(exclude) if exclude is not None else 0)
        if V.shape[0] == 0 or n_allowed <= 0:
            return empty_result(V.shape[0], k)
        with self._lock:
            self._apply(exclude)
            labels, dist = self._knn(V, k, n_allowed)
        if self.metric == "euclidean":
            dist = np.sqrt(np.maximum(dist, 0.0))
        elif self.metric == "inner_product":
            dist = dist - 1.0  # hnswlib "ip" distance is 1 - <q, x>
        else:
            dist = np.maximum(dist, 0.0)
        return finish(dist, labels, k)

    # -- persistence -------------------------------------------------------------
    def __getstate__(self):
        # The graph's deletion marks and ``_marked`` change with every search
        # of another thread: snapshot both together, under the search lock.
        lock = self.__dict__.get("_lock") or contextlib.nullcontext()
        with lock:
            state = self.__dict__.copy()
            for key in ("_lock", "_mirror"):
                state.pop(key, None)
            if "index_" in state:
                state["_marked"] = self._marked.copy()
                state["index_"] = _GraphSnapshot(self.index_)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._mirror = None
        self._lock = threading.RLock()
        if "index_" in state:
            self.index_.set_ef(self.ef)  # hnswlib does not always keep ef

    def save(self, path: str | os.PathLike) -> None:
        """Write the graph with hnswlib ``save_index``, parameters to ``path.json``.

        Deletion marks (exclusions) are not saved.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        """
        check_is_fitted(self)
        with self._lock:
            self._apply(None)
            self.index_.save_index(os.fspath(path))
        write_meta(path, self)

    @classmethod
    def load(cls, path: str | os.PathLike, *, mmap: bool = False) -> HNSWIndex:
        """Load an index written by :meth:`save` (hnswlib reads it into memory).

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.
        mmap : bool, default=False
            Accepted for symmetry with the other indexes; hnswlib cannot
            memory-map, so True raises ValueError.

        Returns
        -------
        index : HNSWIndex
            A fitted index.
        """
        if mmap:
            raise ValueError("hnswlib cannot memory-map an index: use mmap=False.")
        index, _ = read_meta(path, cls)
        index.index_ = index._new_index(index.n_features_in_)
        index.index_.load_index(os.fspath(path), max_elements=index.n_samples_fit_)
        index.index_.set_ef(index.ef)
        index._reset_marks()
        return index


class _GraphSnapshot:
    """A copy of an hnswlib index taken now, which unpickles as an hnswlib index.

    hnswlib's own pickling copies the graph only when the pickler reaches it,
    by then possibly out of the lock that kept it consistent.
    """

    def __init__(self, index):
        self._type = type(index)
        self._state = index.__getstate__()  # a copy of the graph and its marks

    def __reduce__(self):
        return _rebuild_graph, (self._type, self._state)


def _rebuild_graph(cls, state):
    index = cls.__new__(cls)
    index.__setstate__(state)
    return index
