"""SEALS: the candidate pool is the k nearest unlabeled neighbours of labeled rows."""

from __future__ import annotations

import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..base import METRICS, BaseCandidatePool
from ..utils import RowBitmap
from ..utils._threads import ensure_thread_limits
from ..utils._validation import seed_if_unset
from ._buffer import RowBuffer
from ._density import DensitySum
from ._knn_batch import KNNBatch
from ._knn_state import KNNPoolStateMixin

__all__ = ["KNNPool"]


class KNNPool(KNNPoolStateMixin, BaseCandidatePool):
    """SEALS candidate pool (Coleman et al., Algorithm 2).

    The pool starts as the union of the ``n_neighbors`` nearest unlabeled
    neighbours of the labeled rows. Within one ``query()``, selection is greedy:
    after each pick, the pick leaves the pool and its nearest unlabeled
    neighbours join it, scored with the same fitted model, so later picks of
    the batch may come from them. After ``teach()``, labeled rows are out of the
    pool and their neighbours are in it.

    Cost per round is proportional to the pool, never to ``n_samples``: the pool
    keeps its members as a sorted id list plus bitmaps (one bit per row) and a
    contiguous copy of their rows (``row_cache``), each row's neighbour list is
    searched at most once, and the neighbour lists of the round's best-scored
    candidates are read in one batched call and the rows they would add scored
    in one more, before the greedy loop (so the loop rarely searches or scores
    a single row). Only rows that could still be picked (those ranking above
    the ``batch_size``-th best candidate) are tracked pick by pick; every other
    join of the round is applied at once after the last pick. With a
    :class:`~skseals.neighbors.KNNGraph` as ``index``, expansion is a table
    look-up and no search runs at all; with numba installed (the ``fast``
    extra), the round's greedy loop then runs as compiled code, with the same
    picks (the first round of a process compiles it, or loads it from numba's
    cache on disk). With numba, the row cache also keeps each row as int8
    codes when a learner asks for them (a quarter of its float32 bytes, coded
    in ``teach()``): a round that ranks rows by the ``|decision value|`` of a
    binary ``LogisticRegression`` (MaxEntropy, Margin, LeastConfidence, and
    InformationDensity over one of them) bounds every candidate's score from
    the codes in one compiled pass and scores only those that can be among
    the batch's best (2-4 % of a pool of 20,000 rows in the 1M-row
    benchmark), with the same picks.

    Unavailable rows (labeled, skipped, pending) are excluded inside the
    search. A prefetched list is fetched deeper than ``n_neighbors`` and
    re-searched if too many of its rows became unavailable before it is used,
    so every expansion adds exactly the ``n_neighbors`` nearest rows available
    at that moment (as far as the index is exact).

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours added per labeled or selected row (the paper's k).
    index : {"faiss", "exact", "hnswlib", "annoy"} or index object, default="faiss"
        Nearest-neighbour backend. An alias builds a new index over ``X`` in
        ``fit``. A fitted index object (or :class:`~skseals.neighbors.KNNGraph`)
        built on the same rows is used as it is and shared, never rebuilt or
        copied, so one index serves many learners. It may be built on another
        embedding of the same rows (separate index features). Any object with
        :class:`~skseals.base.BaseNeighborIndex`'s ``fit``, ``search`` and
        ``search_rows`` (and ``n_samples_fit_`` once fitted) serves; an unfitted
        one is cloned, so it must be a scikit-learn estimator.
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        Metric of an index built from an alias; must match an index object's.
    row_cache : bool, default=True
        Keep a contiguous copy of the rows of ``X`` that joined the pool, made
        once when they join, so that each round scores its candidates as one
        block instead of gathering ``X[candidates]`` (a random-access read of
        the whole pool every round, from disk when ``X`` is memory-mapped). It
        holds about ``pool size x n_features`` values of ``X``'s dtype (and,
        with numba, ``n_features + 20`` bytes per row for the int8 codes);
        pass False when the pool itself does not fit in memory.
    random_state : int, RandomState instance or None, default=None
        Seeds an index this pool builds in ``fit`` (from an alias, or an
        unfitted index object whose own ``random_state`` is None): faiss's
        training sample and k-means, hnswlib's levels, Annoy's forest. A
        learner sets it, when None, from its own ``random_state``, so the same
        seed builds the same index. A fitted index is used as it is.

    Attributes
    ----------
    index_ : index object
        The fitted index (the object passed in when it was already fitted).
    n_samples_fit_ : int
        Number of rows of ``X``.
    build_seconds_ : float
        Seconds spent building the index in ``fit`` (0 for a prebuilt index);
        kept apart from the per-round neighbour-search time.

    Examples
    --------
    One index built once serves several learners (one per concept):

    >>> import numpy as np
    >>> from skseals import ActiveSearcher
    >>> from skseals.neighbors import FaissIndex
    >>> from skseals.pool import KNNPool
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 8)).astype(np.float32)
    >>> index = FaissIndex(factory="Flat").fit(X)
    >>> learners = []
    >>> for concept in range(3):
    ...     y = np.full(500, -1)
    ...     y[rng.choice(500, 10, replace=False)] = [1] * 5 + [0] * 5
    ...     pool = KNNPool(n_neighbors=10, index=index)
    ...     learners.append(ActiveSearcher(pool=pool, random_state=0).fit(X, y))
    >>> all(lr.pool_.index_ is index for lr in learners)
    True
    >>> learners[0].query(5).shape
    (5,)
    """

    expands = True
    # query() caps the thread pools only when the round runs one: this pool
    # calls ensure_thread_limits() before each search (a KNNGraph's table
    # look-ups run none).
    _caps_threads_on_demand = True

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "index": [
            StrOptions({"faiss", "exact", "hnswlib", "hnsw", "annoy"}),
            HasMethods(["fit", "search", "search_rows"]),
        ],
        "metric": [StrOptions(set(METRICS))],
        "row_cache": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors=100,
        index="faiss",
        metric="cosine",
        row_cache=True,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.index = index
        self.metric = metric
        self.row_cache = row_cache
        self.random_state = random_state

    def __sklearn_clone__(self):
        # A fitted index object is shared, never copied: clone() keeps
        # skseals's indexes as they are but would deep-copy any other.
        params = self.get_params(deep=False)
        index = params.pop("index")
        if getattr(index, "n_samples_fit_", None) is None:
            index = clone(index, safe=False)
        params = {k: clone(v, safe=False) for k, v in params.items()}
        return type(self)(index=index, **params)

    def _fit_index(self, X):
        from ..neighbors import make_index
        from ..neighbors._common import built_metric

        index = make_index(self.index, self.metric, X.shape[0])
        fitted = getattr(index, "n_samples_fit_", None) is not None
        if not fitted:
            index = seed_if_unset(clone(index), self.random_state).fit(X)
        elif index.n_samples_fit_ != X.shape[0]:
            raise ValueError(
                f"The index passed as `index` was built on {index.n_samples_fit_} "
                f"rows but X has {X.shape[0]}: build it on the same rows (in the "
                "same order) or pass an alias to build a new one."
            )
        index_metric = built_metric(index) or self.metric
        if index_metric != self.metric:
            raise ValueError(
                f"The index uses metric={index_metric!r} but the pool has "
                f"metric={self.metric!r}: pass KNNPool(metric={index_metric!r}) "
                "or an index built with the pool's metric."
            )
        stored = getattr(getattr(index, "neighbors_", None), "shape", (0, None))[1]
        if stored is not None and stored < self.n_neighbors:
            warnings.warn(
                f"the KNNGraph stores {stored} neighbours per row, fewer than "
                f"n_neighbors={self.n_neighbors}: the pool adds {stored} per row. "
                f"Build the graph with n_neighbors >= {self.n_neighbors}, or pass "
                f"KNNPool(n_neighbors={stored}).",
                UserWarning,
                stacklevel=5,  # the caller of the learner's fit
            )
        return index

    def fit(self, X, excluded, labeled_rows, *, track_density=False):
        self._validate_params()
        t0 = time.perf_counter()
        self.index_ = self._fit_index(X)
        self.build_seconds_ = time.perf_counter() - t0
        self._knn_seconds = 0.0
        self.n_samples_fit_ = n = X.shape[0]
        self._X = X
        self._excluded = excluded
        self._members = RowBitmap(n)  # rows that ever joined the pool
        self._member_list = np.empty(0, dtype=np.int64)
        self._member_chunks = []  # rows joined since the list was last rebuilt
        self._expanded = RowBitmap(n)  # rows whose neighbours were added
        self._cache = {}  # row -> neighbour ids searched but not yet used
        self.density_ = DensitySum(X, n) if track_density else None
        self._buffer = RowBuffer(X) if self.row_cache else None
        self._expand_rows(np.asarray(labeled_rows, dtype=np.int64))
        return self

    # -- neighbour lists -------------------------------------------------------
    def _depth(self, n_neighbors):
        """A search depth of at most every row of X: deeper lists would only
        be -1 padding (``n_neighbors`` may exceed the number of rows)."""
        return min(int(n_neighbors), self.n_samples_fit_)

    def _search(self, rows, n_neighbors):
        """Neighbour lists of ``rows`` (int64 ids, -1 padded), one batched call."""
        t0 = time.perf_counter()
        n_neighbors = self._depth(n_neighbors)
        ids_only = getattr(self.index_, "neighbor_ids", None)  # a KNNGraph
        if not self._reads_a_table():
            ensure_thread_limits()
        if ids_only is not None:
            n_neighbors = min(n_neighbors, self.index_.neighbors_.shape[1])
            ind = ids_only(rows, n_neighbors, exclude=self._excluded)
        else:
            _, ind = self.index_.search_rows(rows, n_neighbors, exclude=self._excluded)
        self._knn_seconds += time.perf_counter() - t0
        return np.asarray(ind, dtype=np.int64)

    def _reads_a_table(self):
        """Whether neighbour lists are read from a KNNGraph's table, which
        runs no thread pool (see ``_caps_threads_on_demand``)."""
        from ..neighbors import KNNGraph  # (imports faiss's adapter: not before)

        return isinstance(self.index_, KNNGraph)

    def _caches_lists(self):
        """Whether neighbour lists come from a live search (and are cached)."""
        return getattr(self.index_, "neighbor_ids", None) is None

    def _neighbor_table(self, rows):
        """A :class:`~skseals.neighbors.KNNGraph`'s stored lists of ``rows``,
        unavailable rows included (the caller filters them): int64, -1 padded."""
        t0 = time.perf_counter()
        ids = np.asarray(self.index_.neighbors_[rows], dtype=np.int64)  # valid ids
        self._knn_seconds += time.perf_counter() - t0
        return ids

    def _search_and_cache(self, rows, depth):
        """Search the ``depth`` nearest available rows of each of ``rows`` in one
        call (-1 padded when the index runs out) and cache each list."""
        ensure_thread_limits()
        t0 = time.perf_counter()
        depth = self._depth(depth)
        _, ids = self.index_.search_rows(rows, depth, exclude=self._excluded)
        ids = np.asarray(ids, dtype=np.int64)
        self._knn_seconds += time.perf_counter() - t0
        for row, neigh in zip(rows.tolist(), ids, strict=True):
            self._cache_put(row, neigh)
        return ids

    def _cache_put(self, row, ids):
        """Cache the list ``ids`` of ``row`` (what it replaces is recorded
        while a round is open)."""
        if self._round is not None:
            self._round["cache"].setdefault(row, self._cache.get(row))
        self._cache[row] = ids

    def _cache_pop(self, row):
        """Pop the cached list of ``row`` (None if there is none)."""
        if self._round is not None and row in self._cache:
            self._round["cache"].setdefault(row, self._cache[row])
        return self._cache.pop(row, None)

    def prefetch(self, rows, depth=None):
        """Search the lists of ``rows`` in one call, ``len(rows)`` extra deep.

        Up to ``len(rows)`` of them may be picked (and so excluded) before a
        list is used, so fetching ``n_neighbors + len(rows)`` (or ``depth``)
        keeps each list holding its ``n_neighbors`` nearest available rows
        when it is used. Rows already expanded or already cached are not
        searched again; the lists are kept for :meth:`expand`.

        Parameters
        ----------
        rows : array-like of int
            Rows likely to be picked this round (duplicates are fine).
        depth : int or None, default=None
            Neighbours fetched per row (capped at the number of rows); None
            means ``n_neighbors`` plus the number of rows searched (those
            neither expanded nor cached yet).
        """
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        rows = rows[~self._expanded.contains(rows)]
        rows = np.array([r for r in rows.tolist() if r not in self._cache], np.int64)
        if rows.size:
            if depth is None:
                depth = self.n_neighbors + rows.shape[0]
            for row, neigh in zip(
                rows.tolist(), self._search(rows, depth), strict=False
            ):
                self._cache_put(row, neigh)

    def _take_cached(self, row):
        """Pop the cached list of ``row``: its ``n_neighbors`` nearest available
        rows, or None when it must be searched again (or was never searched).

        A cached list was exact when it was searched; rows excluded since are
        filtered out, and since the available set only shrinks, its first
        ``n_neighbors`` survivors are still the nearest. A list left with fewer
        survivors than that (and that was not already short) is searched again.
        """
        cached = self._cache_pop(row)
        if cached is None:
            return None
        valid = cached[cached >= 0]
        valid = valid[~self._excluded.contains_ids(valid)]
        if valid.shape[0] >= self.n_neighbors or cached.size == 0 or cached[-1] < 0:
            return valid[: self.n_neighbors]
        return None

    def _lists(self, rows):
        """The ``n_neighbors`` nearest available rows of each of ``rows``."""
        out, again = [], []
        for row in rows.tolist():
            listed = self._take_cached(row)
            if listed is None:
                again.append(row)
            else:
                out.append(listed)
        if again:
            out.extend(
                self._search(np.asarray(again, dtype=np.int64), self.n_neighbors)
            )
        return out

    def _expand_rows(self, rows):
        """Add the neighbours of ``rows`` not yet expanded; return rows that joined."""
        rows = np.unique(rows)
        rows = rows[~self._expanded.contains(rows)]
        if rows.size == 0:
            return np.empty(0, dtype=np.int64)
        neigh = np.concatenate(self._lists(rows))
        self._expanded.add(rows)
        neigh = neigh[neigh >= 0]
        if neigh.size == 0:
            return np.empty(0, dtype=np.int64)
        neigh = np.unique(neigh)
        joined = neigh[
            ~(self._members.contains(neigh) | self._excluded.contains(neigh))
        ]
        if joined.size:
            self._record_joined(joined)
        return joined

    def _record_joined(self, joined, block=None):
        """Rows that just joined: distinct ids, none in ``_members`` yet.

        ``block``, when given, holds ``X[joined]`` (``joined`` sorted).
        """
        if self._round is not None:
            self._round["joined"].append(joined)
        self._members.add_new_ids(joined)
        self._member_chunks.append(joined)
        if self.density_ is not None:
            self.density_.add(joined, block)
        if self._buffer is not None:
            self._buffer.append(joined, block)

    # -- pool protocol ---------------------------------------------------------
    def candidate_block(self):
        """``(rows, X[rows], available)`` from the row cache, or
        ``(candidates(), None, None)``.

        ``rows`` may still hold rows that became unavailable since the cache
        was last compacted (``available`` is False there, and None when there
        are none); the cache is compacted when they are more than a quarter of
        it.
        """
        if self._buffer is None:
            return self.candidates(), None, None
        rows, block = self._buffer.view()
        available = ~self._excluded.contains_ids(rows)
        n_dead = rows.shape[0] - np.count_nonzero(available)
        if 4 * n_dead > rows.shape[0]:
            self._buffer.compact(available)
            return (*self._buffer.view(), None)
        return rows, block, (available if n_dead else None)

    def block_norms(self):
        """L2 norms of the rows of :meth:`candidate_block`'s block, kept with
        the row cache (computed once per row); None without a row cache."""
        return None if self._buffer is None else self._buffer.norms()

    def block_codes(self):
        """int8 codes of the rows of :meth:`candidate_block`'s block (see
        :meth:`~skseals.base.BaseCandidatePool.block_codes`), kept with the
        row cache (computed once per row); None without a row cache."""
        return None if self._buffer is None else self._buffer.codes()

    def candidates(self):
        if self._member_chunks:  # joined rows are never already members
            self._member_list = np.sort(
                np.concatenate([self._member_list, *self._member_chunks])
            )
            self._member_chunks = []
        keep = ~self._excluded.contains(self._member_list)
        if not keep.all():
            self._member_list = self._member_list[keep]
        return self._member_list

    def add_near(self, vectors, n_neighbors=None):
        """Add the nearest available rows of each vector (a search over all rows).

        One :meth:`~skseals.base.BaseNeighborIndex.search` of the index with
        the learner's unavailable rows excluded; the rows found that are not
        candidates yet join the pool (the learner calls it each round with
        the point :class:`~skseals.query.QueryAnywhere` projects).

        Parameters
        ----------
        vectors : array-like of shape (n_vectors, n_features) or (n_features,)
            Points in the index's feature space.
        n_neighbors : int or None, default=None
            Rows searched per vector (capped at the number of rows); None means
            the pool's ``n_neighbors``.

        Returns
        -------
        joined : ndarray of int64
            The rows that joined the pool, sorted (empty when every row found
            was already a candidate).

        Raises
        ------
        ValueError
            If ``vectors`` do not have as many features as the index, or are
            not finite in float32.
        """
        k = self._depth(self.n_neighbors if n_neighbors is None else n_neighbors)
        vectors = np.atleast_2d(vectors)
        n_index = getattr(self.index_, "n_features_in_", vectors.shape[1])
        if vectors.shape[1] != n_index:
            raise ValueError(
                f"Cannot search the index ({n_index} features) with vectors of "
                f"{vectors.shape[1]} features: the index was built on other "
                "features than the classifier's, and query-anywhere works in the "
                "classifier's space. Build the index on the classifier's features."
            )
        with np.errstate(over="ignore", invalid="ignore"):
            vectors = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():  # (query() skips scikit-learn's check)
            raise ValueError(
                "`vectors` holds values that are not finite in float32 (NaN, "
                "infinite, or beyond float32's range): pass finite points to "
                "search around."
            )
        ensure_thread_limits()
        t0 = time.perf_counter()
        _, ind = self.index_.search(vectors, k, exclude=self._excluded)
        self._knn_seconds += time.perf_counter() - t0
        rows = np.unique(np.asarray(ind, dtype=np.int64).ravel())
        rows = rows[rows >= 0]
        joined = rows[~(self._members.contains(rows) | self._excluded.contains(rows))]
        if joined.size:
            self._record_joined(joined)
        return joined

    def begin_batch(self, rows, exclude):
        return KNNBatch(self, len(rows))

    def expand(self, row):
        self.leave([row])
        return self._expand_rows(np.array([row], dtype=np.int64))

    def update(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        self.leave(rows)
        self._expand_rows(rows)
        if self._buffer is not None:  # (between rounds, not in the next one)
            self._buffer.refresh()

    def rejoin(self, rows):
        """Released picks are candidates again (their neighbours, which joined
        when they were picked, stay; their lists are not searched again)."""
        rows = np.asarray(rows, dtype=np.int64)
        listed = self.candidates()  # merged, and without the excluded rows
        back = np.setdiff1d(rows, listed)
        if back.size:
            self._member_chunks.append(back)
        if self._buffer is not None:
            held, _ = self._buffer.view()
            self._buffer.append(np.setdiff1d(rows, held))  # the others revive
        super().rejoin(rows)

    def pop_knn_seconds(self):
        seconds, self._knn_seconds = self._knn_seconds, 0.0
        return seconds
