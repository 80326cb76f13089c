"""Training a learner's model: the refit on every label and its pseudo-negatives."""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning

from ._cold_start import CentroidClassifier
from ._pseudo import draw_pseudo_negatives, n_pseudo_negatives, positive_scores
from .utils._validation import (
    check_strategy_scores,
)

__all__ = ["TrainingMixin"]


class TrainingMixin:
    """Refit of :class:`ActiveLearner` / :class:`ActiveSearcher` on their labels
    (with pseudo-negatives), and the per-round history."""

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
