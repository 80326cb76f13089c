"""One round of query(): score the candidate pool, pick the batch greedily."""

from __future__ import annotations

import time

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._cold_start import CentroidClassifier
from ._greedy import select_batch
from ._prefilter import filters, prefiltered
from .base import BaseCandidatePool, QueryContext
from .pool import RandomSubsetPool
from .utils import (
    check_batch_size,
    head_positions,
    tie_break_keys,
    top_k,
)
from .utils._random_state import (
    RandomStateSnapshot,
    SeedRewind,
    draw_seed,
    rewind_point,
)
from .utils._threads import (
    deferred_limit_threads,
    ensure_thread_limits,
    limit_threads,
)
from .utils._validation import assume_finite

__all__ = ["QueryMixin"]

_SCORE_CHUNK = 65536  # rows scored per call
# A round draws its seed from the learner's generator (randint: no normals) and
# hands the generator to the pool's begin_round; these draw no normals either.
# (Nothing else in a round sees a generator the learner made itself, ``_own_rng``
# set where it made it; numpy's global one, or the user's, other code may draw
# normals from. A begin_round set on the pool object itself may too.)
_BEGIN_ROUNDS_WITHOUT_NORMALS = (
    BaseCandidatePool.begin_round,
    RandomSubsetPool.begin_round,
)


def _one_per_row(strategy, scores, n_rows):
    """``scores`` as float64, or ValueError unless there is one per row."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n_rows,):
        raise ValueError(
            f"{type(strategy).__name__}.score() returned scores of shape "
            f"{scores.shape} for {n_rows} rows: a query strategy must return one "
            "score per row, an array of shape (n_rows,)."
        )
    return scores


class QueryMixin:
    """``query()`` of :class:`ActiveLearner` / :class:`ActiveSearcher`: the
    candidates' scores and the greedy, expanding batch."""

    def _context(self):
        labels = self._labels
        pos = self._positive_value()
        n_pos = labels.count(pos) if pos is not None else 0
        cold = isinstance(self.estimator_, CentroidClassifier)
        ctx = QueryContext(
            classes=self.estimator_.classes_,
            pos_label=pos,
            n_positive=n_pos,
            n_negative=labels.n_labeled - n_pos,
        )
        ctx.density_sum, ctx.density_count = self.pool_.density()
        strategy = self._round_strategy()
        if strategy.requires_labeled_X:
            taken = np.union1d(labels.labeled_rows, self.pending_.ids())
            ctx.labeled_X = self.X_[taken]
        if cold:
            ctx.centroid = self.estimator_.centroid_
        return ctx

    def _prepare_round_data(self):
        """Compute, after a refit, what the next ``query()`` would otherwise
        compute once: the int8 codes of the pool's row cache when the round's
        strategy filters by them, its norms for information density. (Rows
        that join later get theirs as they join.) A first round after ``fit``
        then costs what every round costs. It only fills a cache: should it
        fail (out of memory), the labels are kept and the round computes the
        values itself, raising there if it must."""
        strategy = self._round_strategy()
        try:
            if filters(strategy, self.estimator_):
                self.pool_.block_codes()
            if strategy.requires_density:
                self.pool_.block_norms()
        except Exception:  # (a cache: the round computes it again)
            pass

    def _round_strategy(self):
        if isinstance(self.estimator_, CentroidClassifier):
            from .query import CentroidSimilarity

            return CentroidSimilarity()
        return self.query_strategy_

    def _score(self, strategy, rows, ctx):
        """Scores of the rows ``rows`` of X (gathered in chunks)."""
        if rows.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        return self._score_chunks(
            strategy, ctx, rows.shape[0], lambda s, e: self.X_[rows[s:e]]
        )

    def _score_block(self, strategy, block, ctx, norms=None):
        """Scores of the rows of ``block`` (a pool's contiguous copy), whose
        L2 norms ``norms`` the pool may keep (for information density)."""
        if block.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        return self._score_chunks(
            strategy, ctx, block.shape[0], lambda s, e: block[s:e], norms
        )

    def _score_chunks(self, strategy, ctx, n_rows, rows_of, norms=None):
        # (Within query()'s assume_finite().)
        parts = []
        threadless = getattr(strategy, "_scores_without_thread_pools", None)
        try:
            for s in range(0, n_rows, _SCORE_CHUNK):
                e = min(s + _SCORE_CHUNK, n_rows)
                ctx.row_norms = None if norms is None else norms[s:e]
                rows = rows_of(s, e)
                if threadless is None or not threadless(self.estimator_, rows):
                    ensure_thread_limits()
                scores = strategy.score(self.estimator_, rows, ctx)
                parts.append(_one_per_row(strategy, scores, e - s))
        finally:
            ctx.row_norms = None
        # (a new array, the round's own: a strategy may reuse the one it
        # returned, and query-anywhere scores again while holding these)
        return np.concatenate(parts)

    def _score_all(self, strategy, ctx, head=None):
        """Full scan: score contiguous blocks of X (no gathered copy).

        With ``head``, each block returns only its rows that rank among its
        ``head`` best (ties included): every row among the ``head`` best of
        all, the only ones a greedy batch of ``head`` rows reads, is one.
        """
        from .utils import map_row_blocks

        ensure_thread_limits()  # (its workers cap only their OpenMP)

        def score_block(block, start, stop, strategy, estimator, ctx, excluded, head):
            keep = ~excluded.dense(start, stop)
            if not keep.any():
                return None
            with assume_finite():  # X was checked in fit
                s = strategy.score(estimator, block, ctx)
            rows = np.flatnonzero(keep)
            s = _one_per_row(strategy, s, block.shape[0])[rows]
            if head is not None:
                best = head_positions(s, head)
                rows, s = rows[best], s[best]
            return rows + start, s

        # Blocks run through joblib: parallel_config(backend="dask") scores them
        # on a Dask cluster; results are combined in block order (bit-identical).
        parts = map_row_blocks(
            score_block,
            self.X_.shape[0],
            _SCORE_CHUNK,
            X=self.X_,
            args=(strategy, self.estimator_, ctx, self.excluded_, head),
        )
        parts = [p for p in parts if p is not None]
        cand = [p[0] for p in parts]
        scores = [p[1] for p in parts]
        if not cand:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        return np.concatenate(cand).astype(np.int64), np.concatenate(scores)

    def _query_anywhere(self, strategy, cand, scores, seed, ctx):
        """Add the neighbours of the most uncertain row's projection to the pool
        (none when the projection is not finite in float32: a model without a
        decision boundary, all of whose coefficients are 0 or nearly)."""
        ensure_thread_limits()  # (a projection and a search)
        head = head_positions(scores, 1)
        best = cand[head[top_k(scores[head], tie_break_keys(cand[head], seed), 1)]]
        point = strategy.project(self.estimator_, self.X_[best])
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(np.asarray(point, dtype=np.float32)).all()
        if not finite:  # no decision boundary (every coefficient 0, or ~0)
            return cand, scores
        joined = self.pool_.add_near(point, strategy.n_neighbors)
        if joined.size == 0:
            return cand, scores
        cand = np.concatenate([cand, joined])
        scores = np.concatenate([scores, self._score(strategy, joined, ctx)])
        return cand, scores

    def query(self, batch_size=None):
        """Pick the rows a human should label next.

        Parameters
        ----------
        batch_size : int, default=None
            Rows to return; ``None`` uses the ``batch_size`` parameter.

        Returns
        -------
        indices : ndarray of shape (n_picked,), dtype int64
            Row indices into X, best first, no duplicates. Never a labeled or
            skipped row, nor one returned by an earlier ``query()`` and not yet
            taught. Fewer than ``batch_size`` rows (possibly none) when the
            candidate pool runs out.

        Notes
        -----
        A call that raises (a neighbour search's I/O error, KeyboardInterrupt)
        leaves the learner as it was: no row is taken, and the random state
        and the candidate pool are restored, so the next call picks as this
        one would have. (A KeyboardInterrupt that lands after the round is
        done, while it is being committed, leaves its picks pending:
        ``pending_indices_`` lists them and ``release()`` returns them.)

        The round runs with scikit-learn's ``assume_finite`` set, as under
        ``sklearn.config_context(assume_finite=True)``:
        the rows of X it scores were checked in ``fit``. A custom strategy or
        pool that validates other input during the round checks finiteness
        itself.
        """
        # X was checked finite in fit (an X read by rows is not: a non-finite
        # row scores NaN and ranks last), so the round's scoring skips the
        # check of every block it scores.
        # A pool that caps the thread pools itself before it runs one (a
        # KNNPool, before a search) lets a round that runs none skip the caps.
        # (Declared by the pool's own class: a subclass may run other code.)
        on_demand = vars(type(getattr(self, "pool_", None))).get(
            "_caps_threads_on_demand", False
        )
        caps = deferred_limit_threads() if on_demand else limit_threads()
        try:
            with (
                self._state_lock(),
                caps,
                assume_finite(),
            ):
                if "X_" not in self.__dict__:  # (check_is_fitted's tags are slow)
                    check_is_fitted(self, "X_")
                own = getattr(self, "_own_rng", False)
                begin_round = getattr(self.pool_.begin_round, "__func__", None)
                rng = None
                if own and begin_round is BaseCandidatePool.begin_round:
                    # The round draws its seed and nothing else: its undo puts the
                    # generator's position back (None near the end of its key).
                    rng = rewind_point(self.random_state_)
                if rng is None:
                    rng = RandomStateSnapshot(
                        self.random_state_,
                        draws_normals=not own
                        or begin_round not in _BEGIN_ROUNDS_WITHOUT_NORMALS,
                    )
                timing = dict(self._timing)
                taken = []  # rows the round made unavailable
                mark = self.pool_.checkpoint()
                try:
                    seed = rng.draw() if type(rng) is SeedRewind else None
                    picks = self._query(batch_size, taken, seed)
                except BaseException:
                    rows = np.concatenate(taken) if taken else np.empty(0, np.int64)
                    self.excluded_.discard(rows)
                    self.pending_.discard(rows)
                    self.pool_.rollback(mark, rows)
                    rng.restore()
                    self._timing = timing
                    raise
                self.pool_.commit(mark)
                return picks
        finally:
            if on_demand:  # (an interrupt in its with-statement left it open)
                caps.close()

    def _query(self, batch_size, taken, seed=None):
        """One round; every row it excludes is appended to ``taken`` first.
        ``seed``: the round's seed when drawn already."""
        b = check_batch_size(self.batch_size if batch_size is None else batch_size)
        t0 = time.perf_counter()
        if seed is None:
            seed = draw_seed(self.random_state_)
        self.pool_.begin_round(self.random_state_)
        strategy = self._round_strategy()
        ctx = self._context()
        if self.pool_.scans_all:
            # A batch reads only the b best rows (a sequential strategy, which
            # rescores every row after each pick, reads them all).
            head = None if strategy.sequential else b
            cand, scores = self._score_all(strategy, ctx, head)
        else:
            cand, block, available = self.pool_.candidate_block()
            keep = None
            if block is not None:
                keep = prefiltered(
                    strategy, self.estimator_, self.pool_, block, available, b, ctx
                )
            if block is None:
                scores = self._score(strategy, cand, ctx)
            else:
                norms = None
                if strategy.requires_density:
                    norms = self.pool_.block_norms()
                if keep is not None:  # only the rows that can be picked
                    cand, block, available = cand[keep], block[keep], None
                    norms = None if norms is None else norms[keep]
                scores = self._score_block(strategy, block, ctx, norms)
            if available is not None:
                cand, scores = cand[available], scores[available]
        if getattr(strategy, "queries_anywhere", False) and cand.size:
            cand, scores = self._query_anywhere(strategy, cand, scores, seed, ctx)
        rescore = None
        if strategy.sequential:
            ensure_thread_limits()  # (its updates: distances, a BLAS product)

            def rescore(s, rows, picked):
                return strategy.update_scores(s, self.X_[rows], self.X_[picked], ctx)

        def score_new(rows, block=None):
            ctx.density_sum, ctx.density_count = self.pool_.density()
            if block is not None:
                return self._score_block(strategy, block, ctx)
            return self._score(strategy, rows, ctx)

        def exclude(rows):
            rows = np.asarray(rows, dtype=np.int64)
            rows = rows[~self.excluded_.contains_ids(rows)]  # (picks: valid ids)
            taken.append(rows)
            self.excluded_.add(rows)

        picks = select_batch(
            cand,
            scores,
            b,
            seed,
            pool=self.pool_,
            exclude=exclude,
            score_rows=score_new,
            rescore=rescore,
        )
        self.pending_.add(picks)
        knn = self.pool_.pop_knn_seconds()
        self._timing["knn_seconds"] += knn
        self._timing["selection_seconds"] += time.perf_counter() - t0 - knn
        return picks
