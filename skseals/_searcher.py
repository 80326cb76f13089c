"""ActiveSearcher: active search for the positives of one rare concept."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils.multiclass import type_of_target

from ._active import _BaseActive

__all__ = ["ActiveSearcher"]


class ActiveSearcher(_BaseActive):
    """Active search: find as many positives of a rare concept as the budget allows.

    The same loop as :class:`ActiveLearner` for a binary problem, with
    most-likely-positive selection by default and the positives found counted.
    It accepts only its two classes (and ``UNLABELED`` for skipped rows). It
    may start from positives only: until a negative is labeled, candidates are
    ranked by cosine similarity to the centroid of the labeled positives.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn binary classifier; ``None`` means
        ``LogisticRegression(max_iter=1000)``.
    query_strategy : str or strategy object, default="most_likely_positive"
        As for :class:`ActiveLearner`.
    pool : {"knn", "full", "random"} or pool object, default="knn"
        As for :class:`ActiveLearner`.
    batch_size : int, default=100
        Rows returned by ``query()`` when it is called without a size.
    pos_label : int, float or str, default=1
        The class searched for.
    neg_label : int, float or str, default=0
        The other class.
    pseudo_negatives : float >= 0, default=0.0
        Mullapudi et al.'s pseudo-negatives: at each refit, ``f·(|Lp| + 0.1·|Ln|)``
        unlabeled rows drawn uniformly from the bottom half of the current
        ranking are trained on as ``neg_label`` (0 turns it off). With
        positives only, this trains a real classifier from the first round.
        On a pool that does not scan every row, the bottom half is estimated
        from a uniform sample of max(10·count, 1000) rows (rows below the
        sample's median), so the cost does not grow with ``n_samples``.
    journal : str or path-like, default=None
        Durable session journal, as for :class:`ActiveLearner`.
    random_state : int, RandomState instance or None, default=None
        The one source of randomness, as for :class:`ActiveLearner`.

    Attributes
    ----------
    n_positives_found_ : int
        Rows labeled ``pos_label``, seeds included.
    estimator_, classes_, labels_, n_labeled_, history_, pool_, query_strategy_
        As for :class:`ActiveLearner`; ``history_`` entries also hold
        ``n_positives``.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals import ActiveSearcher, UNLABELED
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(5000, 16)).astype(np.float32)
    >>> X[:50] += 3.0                                   # a rare concept: rows 0-49
    >>> y_true = (np.arange(5000) < 50).astype(int)
    >>> y = np.full(5000, UNLABELED)
    >>> y[[0, 1, 2, 3, 4]] = 1                          # five known positives
    >>> y[rng.choice(np.arange(50, 5000), 95, replace=False)] = 0
    >>> searcher = ActiveSearcher(batch_size=20, random_state=0).fit(X, y)
    >>> for _ in range(3):
    ...     rows = searcher.query()
    ...     searcher = searcher.teach(rows, y_true[rows])
    >>> searcher.n_positives_found_ >= 40
    True
    """

    _parameter_constraints = {
        **_BaseActive._parameter_constraints,
        "pos_label": [Real, str],
        "neg_label": [Real, str],
    }

    def __init__(
        self,
        estimator=None,
        *,
        query_strategy="most_likely_positive",
        pool="knn",
        batch_size=100,
        pos_label=1,
        neg_label=0,
        pseudo_negatives=0.0,
        journal=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.pool = pool
        self.batch_size = batch_size
        self.pos_label = pos_label
        self.neg_label = neg_label
        self.pseudo_negatives = pseudo_negatives
        self.journal = journal
        self.random_state = random_state

    def _fixed_classes(self):
        if self.pos_label == self.neg_label:
            raise ValueError(
                f"pos_label and neg_label are both {self.pos_label!r}: give the "
                "searched class and the other class different labels."
            )
        if self.pos_label == -1 or self.neg_label == -1:
            raise ValueError(
                "pos_label and neg_label must not be -1, which marks unlabeled rows."
            )
        return [self.neg_label, self.pos_label]

    def _check_target(self, y_labeled):
        kind = type_of_target(y_labeled)
        if kind not in ("binary", "unknown") and np.unique(y_labeled).shape[0] > 2:
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {kind}: an ActiveSearcher searches for pos_label="
                f"{self.pos_label!r} against neg_label={self.neg_label!r}."
            )

    def _as_labels(self, labels):
        """Booleans (an oracle's mask) are ``pos_label`` / ``neg_label``."""
        values = np.asarray(labels, dtype=object)
        is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in values.flat])
        if not is_bool.any():
            return labels
        values = values.copy()
        flat = values.reshape(-1)
        flat[is_bool] = [self.pos_label if v else self.neg_label for v in flat[is_bool]]
        return values

    def _positive_value(self):
        return self.pos_label

    def _negative_value(self):
        return self.neg_label

    def _check_seed_labels(self, labels):
        if labels.count(self.pos_label) == 0:
            raise ValueError(
                f"y has no positive (pos_label={self.pos_label!r}): active search "
                "starts from at least one known positive."
            )

    def _after_labels(self):
        self.n_positives_found_ = self._labels.count(self.pos_label)

    def _extra_history(self):
        return {"n_positives": self._labels.count(self.pos_label)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
