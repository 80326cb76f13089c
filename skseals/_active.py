"""The machinery ActiveLearner and ActiveSearcher share: fit, teach, delegation."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._cold_start import CentroidClassifier, in_class_order
from ._labels import UNLABELED_CODE, LabelStore
from ._querying import QueryMixin
from ._session import SessionMixin
from ._training import TrainingMixin
from .base import UNLABELED, BaseCandidatePool, BaseQueryStrategy
from .pool import make_pool
from .utils import (
    RowBitmap,
    check_indices,
)
from .utils._threads import limit_threads
from .utils._validation import (
    check_strategy_when_cold,
    numeric_object_y,
    seed_if_unset,
    validate_rows,
)


def _estimator_has(attr):
    def check(self):
        est = getattr(self, "estimator_", None)
        if est is None or isinstance(est, CentroidClassifier):
            est = self._make_estimator()
        return hasattr(est, attr)

    return check


class _BaseActive(
    SessionMixin,
    TrainingMixin,
    QueryMixin,
    MetaEstimatorMixin,
    ClassifierMixin,
    BaseEstimator,
):
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
    def _check_params_read_in_teach(self):
        """The parameters a refit reads, which ``set_params`` may have changed
        since ``fit``: checked before ``teach()`` changes anything."""
        names = ("estimator", "pseudo_negatives")
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in names},
            {k: getattr(self, k) for k in names},
            caller_name=type(self).__name__,
        )

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
            rng_state = (  # (any bit generator's, as a dict)
                rng.get_state(legacy=False)
                if isinstance(rng, np.random.RandomState)
                else None
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
        y = numeric_object_y(column_or_1d(y, warn=True))
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
        strategy.check_params()
        pool = seed_if_unset(make_pool(self.pool), self._component_seed)
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
        # (made here from an int: no other code draws from it)
        self._own_rng = self.random_state_ is not self.random_state and (
            self.random_state is not None
        )
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
        self._prepare_round_data()
        self._fitted_components = self._components_in_force()
        self._create_journal(header)
        return self

    def _check_target(self, y_labeled):
        """Hook for subclasses to refuse a kind of target."""

    def _check_seed_labels(self, labels):
        """Hook for subclasses to refuse seed labels (called before any change)."""

    # -- the loop --------------------------------------------------------------
    @property
    def cold_start_(self):
        """True while fewer than two classes are labeled: candidates are then
        ranked by cosine similarity to the centroid of the labeled positives."""
        check_is_fitted(self, "X_")
        return isinstance(self.estimator_, CentroidClassifier)

    def teach(self, indices, labels):
        """Record human labels, refit the estimator and grow the pool.

        Parameters
        ----------
        indices : array-like of int
            Rows of X that were labeled (usually from ``query()``; any unlabeled
            row is accepted).
        labels : array-like
            One label per index. ``UNLABELED`` (-1) means "seen, could not
            label": the row is never offered again and is not trained on. An
            ActiveSearcher also takes booleans, e.g. an oracle's mask:
            True is ``pos_label`` and False ``neg_label``.

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
            self._check_params_read_in_teach()
            idx = check_indices(indices, self.X_.shape[0])
            labels = self._as_labels(labels)
            codes, new_values = self._labels.prepare(idx, labels)
            if idx.size == 0:
                return self
            self._journal_append(idx, labels)  # durable before anything changes
            return self._apply_teach(idx, codes, new_values)

    def _as_labels(self, labels):
        """``labels`` as given to ``teach`` (a searcher maps booleans)."""
        return labels

    def _is_taught(self, rows):
        """Whether each of ``rows`` was taught (labeled or skipped)."""
        return self._labels.codes[np.asarray(rows, dtype=np.int64)] != UNLABELED_CODE

    def _check_teach(self, indices, labels):
        """Raise what ``teach(indices, labels)`` would for bad input; change
        nothing (a labeling session checks each answer as it is given)."""
        with self._state_lock():
            check_is_fitted(self, "X_")
            idx = check_indices(indices, self.X_.shape[0])
            self._labels.prepare(idx, self._as_labels(labels))

    def _apply_teach(self, idx, codes, new_values):
        self._labels.apply(idx, codes, new_values)
        self.excluded_.add(idx)
        self.pending_.discard(idx)
        self.pool_.update(idx)
        self._timing["knn_seconds"] += self.pool_.pop_knn_seconds()
        self._refit()
        self._prepare_round_data()
        return self

    def release(self, rows=None):
        """Give rows queried but not taught back to the candidates.

        Rows ``query()`` returned stay reserved (``pending_indices_``) until
        they are taught, across ``save`` and ``load`` too, so that two
        annotators never get the same row. A person who stops before
        answering them releases them here, and a later ``query()`` may
        return them again.

        Parameters
        ----------
        rows : array-like of int or None, default=None
            Pending rows to release; None releases every pending row.

        Returns
        -------
        released : ndarray of int64
            The rows released, sorted.

        Raises
        ------
        ValueError
            If ``rows`` holds a row that is not pending (nothing is released).

        Examples
        --------
        >>> import numpy as np
        >>> from skseals import ActiveSearcher
        >>> X = np.random.RandomState(0).normal(size=(200, 4))
        >>> y = np.full(200, -1); y[:3] = 1
        >>> searcher = ActiveSearcher(batch_size=5, random_state=0).fit(X, y)
        >>> rows = searcher.query()
        >>> searcher.teach(rows[:2], [0, 1]).pending_indices_.size
        3
        >>> bool((searcher.release() == np.sort(rows[2:])).all())
        True
        >>> bool(np.isin(rows[2:], searcher.candidate_indices()).all())
        True
        """
        with self._state_lock():
            check_is_fitted(self, "X_")
            if rows is None:
                rows = self.pending_.ids().copy()
            else:
                rows = np.unique(check_indices(rows, self.X_.shape[0]))
                other = rows[~self.pending_.contains(rows)]
                if other.size:
                    raise ValueError(
                        f"`rows` holds rows that are not pending: "
                        f"{other[:5].tolist()}. Release rows query() returned "
                        "that teach() has not labeled (pending_indices_)."
                    )
            self.pool_.rejoin(rows)
            self.pending_.discard(rows)
            self.excluded_.discard(rows)
            return rows

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
    def _component_seed(self):
        """A seed for a component whose own ``random_state`` is None (the
        index a pool builds): None, or an int drawn from ``random_state`` (a
        new generator for an int, which is not consumed)."""
        if self.random_state is None:
            return None
        rng = check_random_state(self.random_state)
        return int(rng.randint(np.iinfo(np.int32).max))

    def _predict_with(self, method, X):
        """``estimator_.method`` on X checked as in fit: the same number of
        features (and names, for a DataFrame), passed as the array the
        estimator was fitted on."""
        check_is_fitted(self, "X_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        out = getattr(self.estimator_, method)(X)
        seen = np.asarray(self.estimator_.classes_)
        if seen.shape == self.classes_.shape and np.array_equal(seen, self.classes_):
            return out
        return in_class_order(method, out, seen, self.classes_)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict classes of X with the fitted estimator."""
        return self._predict_with("predict", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of X from the fitted estimator, one column per
        class of ``classes_`` (0 for a class the model has not been fitted
        on: an ActiveSearcher's negative class before its first negative)."""
        return self._predict_with("predict_proba", X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of X from the fitted estimator, one column
        per class of ``classes_`` (-inf for a class the model has not been
        fitted on)."""
        return self._predict_with("predict_log_proba", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of X from the fitted estimator; with two classes
        in ``classes_``, 1-d and higher for ``classes_[1]`` (before a second
        class is labeled: the cosine similarity to the labeled rows' centroid,
        negated when those rows are of ``classes_[0]``)."""
        return self._predict_with("decision_function", X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
