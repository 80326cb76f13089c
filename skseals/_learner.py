"""ActiveLearner and ActiveSearcher: the fit -> query -> teach loop."""

from __future__ import annotations

import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._cold_start import CentroidClassifier
from ._greedy import select_batch
from ._labels import LabelStore
from ._pseudo import draw_pseudo_negatives, n_pseudo_negatives, positive_scores
from ._session import SessionMixin
from .base import UNLABELED, BaseCandidatePool, BaseQueryStrategy, QueryContext
from .pool import make_pool
from .utils import (
    RowBitmap,
    check_batch_size,
    check_indices,
    head_positions,
    tie_break_keys,
    top_k,
)
from .utils._threads import limit_threads
from .utils._validation import (
    check_strategy_scores,
    check_strategy_when_cold,
    validate_rows,
)

__all__ = ["ActiveLearner"]

_SCORE_CHUNK = 65536


def _estimator_has(attr):
    def check(self):
        est = getattr(self, "estimator_", None)
        if est is None or isinstance(est, CentroidClassifier):
            est = self._make_estimator()
        return hasattr(est, attr)

    return check


class _BaseActive(SessionMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Shared machinery of ActiveLearner and ActiveSearcher."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "query_strategy": [str, BaseQueryStrategy],
        "pool": [str, BaseCandidatePool],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "pseudo_negatives": [Interval(Real, 0, None, closed="left")],
        "journal": [str, os.PathLike, None],
        "random_state": ["random_state"],
    }

    # -- set-up ----------------------------------------------------------------
    def _make_estimator(self):
        if self.estimator is None:
            return LogisticRegression(max_iter=1000)
        return self.estimator

    def _fixed_classes(self):
        return None

    def _positive_value(self):
        return None

    def fit(self, X, y):
        """Take every example, labeled or not, and start the loop.

        Fits the estimator on the labeled rows, builds (or reuses) the
        neighbour index and seeds the candidate pool.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Every example, labeled and unlabeled. Kept by reference (no copy
            when it is already a float32/float64 C-contiguous array or memmap);
            an array read by rows (``zarr.Array``, ``h5py.Dataset``) is kept
            unread and only the rows needed are read.
        y : array-like of shape (n_samples,)
            Class labels, with ``UNLABELED`` (-1) for unlabeled rows. String
            classes need ``dtype=object`` so that -1 can mark unlabeled rows.

        Returns
        -------
        self : object
            The fitted learner.

        Raises
        ------
        ValueError, TypeError
            On bad input, or an estimator that cannot serve the query strategy
            (while one class only is labeled, checked on a small probe fit).
            The learner is then left exactly as it was, and no journal is
            created.

        Notes
        -----
        ``fit`` opens the file of the ``journal`` parameter: it stays the
        journal in force, where ``teach()`` appends, until the next ``fit``,
        even if ``set_params`` changes the parameter in between.
        """
        with self._state_lock(), limit_threads():
            before = dict(self.__dict__)
            rng = self.random_state
            rng_state = (
                rng.get_state() if isinstance(rng, np.random.RandomState) else None
            )
            try:
                return self._fit(X, y)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(before)
                if rng_state is not None:
                    rng.set_state(rng_state)
                raise

    def _fit(self, X, y):
        from .query import make_strategy

        self._validate_params()
        if self.estimator is not None and not callable(
            getattr(self.estimator, "fit", None)
        ):
            raise TypeError("`estimator` must have a fit method.")
        X, y = validate_rows(
            self,
            X,
            y,
            dtype=[np.float32, np.float64],
            ensure_min_samples=1,
            y_numeric=False,
        )
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "US":
            raise ValueError(
                "y has a string dtype, which cannot hold the UNLABELED marker -1: "
                "pass y as dtype=object with -1 for unlabeled rows."
            )
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("y contains NaN: use -1 (UNLABELED) for unlabeled rows.")
        labeled = y != UNLABELED
        if labeled.any():
            check_classification_targets(y[labeled])
        self._check_target(y[labeled])
        labels = LabelStore(y, fixed_classes=self._fixed_classes())
        if labels.n_labeled == 0:
            raise ValueError(
                "y has no labeled row: give at least one row its class (unlabeled "
                "rows are -1)."
            )
        self._check_seed_labels(labels)
        strategy = make_strategy(self.query_strategy)
        pool = make_pool(self.pool)
        header = self._open_journal(X, labels)  # replays an existing journal
        present = labels.present_classes()
        if len(present) == 1:  # cold start: probe the model the 2nd class brings
            check_strategy_when_cold(
                strategy,
                self._make_estimator(),
                X,
                labels.labeled_rows,
                present[0],
                labels.values,
                self._positive_value(),
            )

        self.random_state_ = check_random_state(self.random_state)
        self.X_ = X
        self._labels = labels
        self.excluded_ = RowBitmap(X.shape[0])
        self.excluded_.add(labels.labeled_rows)
        self.excluded_.add(labels.skipped_rows)
        self.pending_ = RowBitmap(X.shape[0])
        self.query_strategy_ = strategy
        self.history_ = []
        self._timing = {"selection_seconds": 0.0, "knn_seconds": 0.0}
        self.estimator_ = None
        pool.fit(
            X,
            self.excluded_,
            labels.labeled_rows,
            track_density=strategy.requires_density,
        )
        self.pool_ = pool
        self._timing["knn_seconds"] += pool.pop_knn_seconds()
        self._refit()
        self._fitted_components = self._components_in_force()
        self._create_journal(header)
        return self

    def _check_target(self, y_labeled):
        """Hook for subclasses to refuse a kind of target."""

    def _check_seed_labels(self, labels):
        """Hook for subclasses to refuse seed labels (called before any change)."""

    # -- training --------------------------------------------------------------
    def _negative_value(self):
        """Class given to pseudo-negatives (None: none can be drawn yet)."""
        present = self._labels.present_classes()
        if len(present) < 2:
            return None
        return max(present, key=self._labels.count)  # the background class

    def _fit_estimator(self, rows, values):
        X = self.X_[rows]
        if np.unique(values).shape[0] < 2:
            return CentroidClassifier().fit(X, values)
        est = clone(self._make_estimator()).fit(X, values)
        pos = self._positive_value()
        n_pos = self._labels.count(pos) if pos is not None else 0
        n_neg = self._labels.n_labeled - n_pos
        # a strategy that cannot use this model fails here, not in query()
        check_strategy_scores(self.query_strategy_, est, X[:1], pos, n_pos, n_neg)
        return est

    def _pseudo_negative_rows(self, ranker):
        """Draw this refit's pseudo-negatives with ``ranker``'s ranking."""
        neg = self._negative_value()
        if not self.pseudo_negatives or neg is None:
            return np.empty(0, dtype=np.int64), neg
        n_neg = self._labels.count(neg)
        count = n_pseudo_negatives(
            self.pseudo_negatives, self._labels.n_labeled - n_neg, n_neg
        )
        pos = self._positive_value()

        def rank(X):
            if pos is not None:
                return positive_scores(ranker, X, pos=pos)
            return positive_scores(ranker, X, neg=neg)

        rows = draw_pseudo_negatives(
            self.X_,
            self.excluded_,
            count,
            rank,
            self.random_state_,
            scans_all=self.pool_.scans_all,
        )
        return rows, neg

    def _refit(self):
        """Refit on every label; if that fails, keep the previous model.

        Without a previous model (in ``fit``) the error is raised. Otherwise
        ``estimator_`` and ``pseudo_negatives_`` stay those of the last refit
        that succeeded (``_model_rows``: the labeled rows it was trained on),
        everything else is updated, the round's ``history_`` entry holds the
        error and a ``FitFailedWarning`` tells why (see ``teach``).
        """
        t0 = time.perf_counter()
        rows, values = self._labels.training_set()
        previous = getattr(self, "estimator_", None)
        failure = None
        try:
            ranker = previous
            if ranker is None:
                ranker = self._fit_estimator(rows, values)
            pseudo, neg = self._pseudo_negative_rows(ranker)
            if pseudo.size:
                estimator = self._fit_estimator(
                    np.concatenate([rows, pseudo]),
                    np.concatenate(
                        [values, np.full(pseudo.shape[0], neg, dtype=values.dtype)]
                    ),
                )
            elif ranker is not previous:
                estimator = ranker
            else:
                estimator = self._fit_estimator(rows, values)
        except BaseException as exc:
            if previous is None:
                raise
            failure = exc
        else:
            self.estimator_ = estimator
            self.pseudo_negatives_ = pseudo
            self._model_rows = rows
        self.classes_ = self._labels.classes()
        self.n_labeled_ = self._labels.n_labeled
        self._after_labels()
        error = None if failure is None else f"{type(failure).__name__}: {failure}"
        self._record_round(time.perf_counter() - t0, refit_error=error)
        if failure is not None and not isinstance(failure, Exception):
            raise failure  # interrupted: the state is consistent, stop
        if error is not None:
            kept = "kept and journaled" if self._journal_path else "kept"
            warnings.warn(
                f"The estimator could not be refit on the {rows.shape[0]} labeled "
                f"rows ({error}). Every label is {kept}; the model fitted on "
                f"{self._model_rows.shape[0]} of them stays in use and each "
                "teach() tries again. To train on every label, set an estimator "
                "or query_strategy that fits them and fit again (with the same "
                "journal, or y=labels_).",
                FitFailedWarning,
                stacklevel=4,
            )

    def _after_labels(self):
        """Hook for subclasses to update counters after labels change."""

    def _record_round(self, training_seconds, refit_error=None):
        entry = {
            "round": len(self.history_),
            "n_labeled": self._labels.n_labeled,
            "pool_size": self.pool_.size(),
            "selection_seconds": self._timing["selection_seconds"],
            "knn_seconds": self._timing["knn_seconds"],
            "training_seconds": training_seconds,
        }
        entry.update(self._extra_history())
        if refit_error is not None:
            entry["refit_error"] = refit_error
        self.history_.append(entry)
        self._timing = {"selection_seconds": 0.0, "knn_seconds": 0.0}

    def _extra_history(self):
        return {}

    # -- the loop --------------------------------------------------------------
    @property
    def cold_start_(self):
        """True while fewer than two classes are labeled: candidates are then
        ranked by cosine similarity to the centroid of the labeled positives."""
        check_is_fitted(self, "X_")
        return isinstance(self.estimator_, CentroidClassifier)

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
        # X was checked finite in fit (an X read by rows is not: a non-finite
        # row scores NaN and ranks last), so skip the check of every block.
        parts = []
        try:
            with config_context(assume_finite=True):
                for s in range(0, n_rows, _SCORE_CHUNK):
                    e = min(s + _SCORE_CHUNK, n_rows)
                    ctx.row_norms = None if norms is None else norms[s:e]
                    parts.append(strategy.score(self.estimator_, rows_of(s, e), ctx))
        finally:
            ctx.row_norms = None
        return np.concatenate(parts).astype(np.float64, copy=False)

    def _score_all(self, strategy, ctx):
        """Full scan: score contiguous blocks of X (no gathered copy)."""
        from .utils import map_row_blocks

        def score_block(block, start, stop, strategy, estimator, ctx, excluded):
            keep = ~excluded.dense(start, stop)
            if not keep.any():
                return None
            with config_context(assume_finite=True):  # X was checked in fit
                s = strategy.score(estimator, block, ctx)
            return np.flatnonzero(keep) + start, np.asarray(s, dtype=np.float64)[keep]

        # Blocks run through joblib: parallel_config(backend="dask") scores them
        # on a Dask cluster; results are combined in block order (bit-identical).
        parts = map_row_blocks(
            score_block,
            self.X_.shape[0],
            _SCORE_CHUNK,
            X=self.X_,
            args=(strategy, self.estimator_, ctx, self.excluded_),
        )
        parts = [p for p in parts if p is not None]
        cand = [p[0] for p in parts]
        scores = [p[1] for p in parts]
        if not cand:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        return np.concatenate(cand).astype(np.int64), np.concatenate(scores)

    def _query_anywhere(self, strategy, cand, scores, seed, ctx):
        """Add the neighbours of the most uncertain row's projection to the pool."""
        head = head_positions(scores, 1)
        best = cand[head[top_k(scores[head], tie_break_keys(cand[head], seed), 1)]]
        point = strategy.project(self.estimator_, self.X_[best])
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
        one would have.
        """
        with self._state_lock(), limit_threads():
            check_is_fitted(self, "X_")
            rng, timing = self.random_state_.get_state(), dict(self._timing)
            taken = []  # rows the round made unavailable
            mark = self.pool_.checkpoint()
            try:
                picks = self._query(batch_size, taken)
            except BaseException:
                rows = np.concatenate(taken) if taken else np.empty(0, np.int64)
                self.excluded_.discard(rows)
                self.pending_.discard(rows)
                self.pool_.rollback(mark, rows)
                self.random_state_.set_state(rng)
                self._timing = timing
                raise
            self.pool_.commit(mark)
            return picks

    def _query(self, batch_size, taken):
        """One round; every row it excludes is appended to ``taken`` first."""
        b = check_batch_size(self.batch_size if batch_size is None else batch_size)
        t0 = time.perf_counter()
        seed = int(
            self.random_state_.randint(0, np.iinfo(np.int64).max, dtype=np.int64)
        )
        self.pool_.begin_round(self.random_state_)
        strategy = self._round_strategy()
        ctx = self._context()
        if self.pool_.scans_all:
            cand, scores = self._score_all(strategy, ctx)
        else:
            cand, block, available = self.pool_.candidate_block()
            if block is None:
                scores = self._score(strategy, cand, ctx)
            else:
                norms = None
                if strategy.requires_density:
                    norms = self.pool_.block_norms()
                scores = self._score_block(strategy, block, ctx, norms)
            if available is not None:
                cand, scores = cand[available], scores[available]
        if getattr(strategy, "queries_anywhere", False) and cand.size:
            cand, scores = self._query_anywhere(strategy, cand, scores, seed, ctx)
        rescore = None
        if strategy.sequential:

            def rescore(s, rows, picked):
                return strategy.update_scores(s, self.X_[rows], self.X_[picked], ctx)

        def score_new(rows, block=None):
            ctx.density_sum, ctx.density_count = self.pool_.density()
            if block is not None:
                return self._score_block(strategy, block, ctx)
            return self._score(strategy, rows, ctx)

        def exclude(rows):
            rows = np.asarray(rows, dtype=np.int64)
            rows = rows[~self.excluded_.contains(rows)]
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

    def teach(self, indices, labels):
        """Record human labels, refit the estimator and grow the pool.

        Parameters
        ----------
        indices : array-like of int
            Rows of X that were labeled (usually from ``query()``; any unlabeled
            row is accepted).
        labels : array-like
            One label per index. ``UNLABELED`` (-1) means "seen, could not
            label": the row is never offered again and is not trained on.

        Returns
        -------
        self : object
            The learner.

        Raises
        ------
        ValueError, TypeError
            On bad input, naming the argument; the learner and its journal are
            left exactly as they were. A label must be one y's dtype stores
            exactly (2.0 on integer y, not 2.5, inf or a value out of range)
            and, if it is a new class, sort with the other classes.

        Warns
        -----
        FitFailedWarning
            When the estimator cannot be refit (it raises, or cannot serve the
            query strategy with the new classes). No label is lost: the labels
            are recorded and journaled, ``labels_``, ``n_labeled_``,
            ``classes_`` and ``history_`` are current, the previous model stays
            in ``estimator_`` (with its ``pseudo_negatives_``), the round's
            ``history_`` entry holds the error as ``"refit_error"``, and each
            later ``teach()`` tries the refit again. ``teach`` does not raise
            then: its labels are kept, and teaching them again would be refused.
        """
        with self._state_lock(), limit_threads():
            check_is_fitted(self, "X_")
            idx = check_indices(indices, self.X_.shape[0])
            codes, new_values = self._labels.prepare(idx, labels)
            if idx.size == 0:
                return self
            self._journal_append(idx, labels)  # durable before anything changes
            return self._apply_teach(idx, codes, new_values)

    def _apply_teach(self, idx, codes, new_values):
        self._labels.apply(idx, codes, new_values)
        self.excluded_.add(idx)
        self.pending_.discard(idx)
        self.pool_.update(idx)
        self._timing["knn_seconds"] += self.pool_.pop_knn_seconds()
        self._refit()
        return self

    def candidate_indices(self):
        """The current candidate pool as a sorted int64 array."""
        check_is_fitted(self, "X_")
        return np.asarray(self.pool_.candidates(), dtype=np.int64).copy()

    @property
    def labels_(self):
        """Labels of every row (n_samples,), ``UNLABELED`` where unknown."""
        check_is_fitted(self, "X_")
        return self._labels.labels()

    @property
    def skipped_(self):
        """Rows taught as ``UNLABELED`` (seen, could not label), sorted."""
        check_is_fitted(self, "X_")
        return self._labels.skipped_rows.copy()

    @property
    def pending_indices_(self):
        """Rows returned by ``query()`` and not yet taught, sorted."""
        check_is_fitted(self, "X_")
        return self.pending_.ids().copy()

    # -- delegation ------------------------------------------------------------
    def _predict_with(self, method, X):
        """``estimator_.method`` on X checked as in fit: the same number of
        features (and names, for a DataFrame), passed as the array the
        estimator was fitted on."""
        check_is_fitted(self, "X_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return getattr(self.estimator_, method)(X)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict classes of X with the fitted estimator."""
        return self._predict_with("predict", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of X from the fitted estimator."""
        return self._predict_with("predict_proba", X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of X from the fitted estimator."""
        return self._predict_with("predict_log_proba", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of X from the fitted estimator."""
        return self._predict_with("decision_function", X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class ActiveLearner(_BaseActive):
    """Pool-based active learning of a classifier with SEALS candidate pools.

    Each round, ``query()`` scores the candidate pool with the fitted
    estimator and returns the rows a human should label; ``teach()`` records
    the labels and refits. With the default ``pool="knn"`` the candidates are
    the nearest unlabeled neighbours of the labeled rows (SEALS), so a round
    costs work proportional to the pool, not to ``n_samples``.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier (a Pipeline included), cloned and refit on
        the labeled rows after each ``teach()``. ``None`` means
        ``LogisticRegression(max_iter=1000)``.
    query_strategy : str or strategy object, default="entropy"
        "entropy", "margin", "least_confidence", "most_likely_positive",
        "information_density", "random", "kcenter", "adaptive", or an object
        from :mod:`skseals.query` (cloned in ``fit``).
    pool : {"knn", "full", "random"} or pool object, default="knn"
        Candidate pool: :class:`~skseals.pool.KNNPool` (SEALS),
        :class:`~skseals.pool.FullScanPool` or
        :class:`~skseals.pool.RandomSubsetPool` (cloned in ``fit``).
    batch_size : int, default=100
        Rows returned by ``query()`` when it is called without a size.
    pseudo_negatives : float >= 0, default=0.0
        Mullapudi et al.'s pseudo-negatives: at each refit, ``f·(|Lp| + 0.1·|Ln|)``
        unlabeled rows drawn uniformly from the bottom half of the current
        ranking join the training set as negatives (0 turns it off). For an
        ActiveLearner the negative class is the most frequent labeled class
        (none are drawn before two classes are labeled); ``|Lp|`` counts the other
        labeled rows. See ``pseudo_negatives_``.
    journal : str or path-like, default=None
        A file that makes the session durable: every ``teach()`` appends its
        rows and labels (skips included) and fsyncs before returning. ``fit``
        with an existing journal replays it on top of ``y``, so a crashed
        session resumes with every label whose ``teach()`` had returned. A torn
        last record is ignored; a journal written for other data is refused.
        The journal ``fit`` opens stays in force until the next ``fit``.
    random_state : int, RandomState instance or None, default=None
        The one source of randomness (tie-breaking, random pools).

    Attributes
    ----------
    estimator_ : classifier
        The estimator fitted on the labeled rows. While fewer than two classes
        are labeled it is a ``CentroidClassifier`` ranking rows by cosine
        similarity to the labeled rows' centroid (see ``cold_start_``).
    classes_ : ndarray
        Classes labeled so far.
    labels_ : ndarray of shape (n_samples,)
        Every row's label, ``UNLABELED`` where unknown.
    n_labeled_ : int
        Rows with a human label (skips not counted).
    query_strategy_, pool_ : objects
        The resolved strategy and the fitted pool.
    history_ : list of dict
        One entry per round (round 0 is ``fit``): ``n_labeled``, ``pool_size``
        and the seconds spent in selection, neighbour search and training;
        ``refit_error`` when the round's refit failed (see ``teach``).
    pseudo_negatives_ : ndarray of int64
        Rows used as pseudo-negatives in the last refit (sorted). They are
        machine labels: never in ``labels_``, never counted in ``n_labeled_``,
        and still unlabeled candidates.
    random_state_ : RandomState
        The random state in use.
    X_ : ndarray
        The X passed to ``fit`` (a reference).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skseals import ActiveLearner, UNLABELED
    >>> X, y_true = make_classification(n_samples=2000, random_state=0)
    >>> y = np.full(2000, UNLABELED)
    >>> y[:20] = y_true[:20]
    >>> learner = ActiveLearner(batch_size=10, random_state=0).fit(X, y)
    >>> for _ in range(5):
    ...     rows = learner.query()
    ...     learner = learner.teach(rows, y_true[rows])   # a human would label
    >>> learner.n_labeled_
    70
    >>> len(learner.history_)
    6
    """

    def __init__(
        self,
        estimator=None,
        *,
        query_strategy="entropy",
        pool="knn",
        batch_size=100,
        pseudo_negatives=0.0,
        journal=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.pool = pool
        self.batch_size = batch_size
        self.pseudo_negatives = pseudo_negatives
        self.journal = journal
        self.random_state = random_state
