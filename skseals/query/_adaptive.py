"""Mullapudi et al.'s adaptive rule: search while positives are scarce, then refine."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..base import BaseQueryStrategy, QueryContext
from ._search import MostLikelyPositive, _check_positive, _positive_outputs
from ._uncertainty import Margin, _name

__all__ = ["Adaptive"]


class Adaptive(BaseQueryStrategy):
    """Most-likely-positive while positives are the minority, else smallest margin.

    The rule of Mullapudi et al. ("Learning Rare Category Classifiers on a
    Tight Labeling Budget", ICCV 2021): while ``context.n_positive <
    context.n_negative`` the rows most likely to be positive are queried
    (scores of :class:`MostLikelyPositive`, to find more of the rare class);
    once positives are at least as many as negatives, the rows nearest the
    decision boundary are (scores of :class:`Margin`, to refine it). The switch
    happens exactly at ``n_positive == n_negative``, and the whole round uses
    one rule: scores of the two regimes are never compared.

    Parameters
    ----------
    pos_label : object or None, default=None
        The positive class, as for :class:`MostLikelyPositive`: None means
        ``context.pos_label``, then the greater class of a binary problem.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import Adaptive
    >>> clf = LogisticRegression().fit([[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1])
    >>> X = np.array([[0.0], [3.0]])
    >>> scarce = QueryContext(n_positive=1, n_negative=5)
    >>> int(np.argmax(Adaptive().score(clf, X, scarce)))  # most likely positive
    1
    >>> balanced = QueryContext(n_positive=5, n_negative=5)
    >>> int(np.argmax(Adaptive().score(clf, X, balanced)))  # nearest the boundary
    0
    """

    _parameter_constraints = {"pos_label": "no_validation"}

    def __init__(self, pos_label: object = None) -> None:
        self.pos_label = pos_label

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """Raise TypeError unless ``estimator`` serves both regimes.

        That is ``predict_proba``, or a binary ``decision_function``; raises
        ValueError when ``pos_label`` is set, the classes are known and do not
        contain it.

        Parameters
        ----------
        estimator : estimator object
            The classifier the learner fits (fitted or not).
        classes : array-like or None, default=None
            Classes it will be fitted on, when it is not fitted yet.

        Raises
        ------
        TypeError
            If ``estimator`` has neither ``predict_proba`` nor
            ``decision_function``, or only ``decision_function`` with more
            than two known classes.
        ValueError
            If ``pos_label`` is set and the known classes lack it.
        """
        _check_positive(_name(self), estimator, classes, self.pos_label)

    @staticmethod
    def _searching(context):
        return context.n_positive < context.n_negative

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Score rows of ``X`` with the rule of this round.

        Parameters
        ----------
        estimator : fitted classifier
            Not modified.
        X : array-like of shape (n_rows, n_features)
            Rows to score.
        context : QueryContext
            ``n_positive`` and ``n_negative`` pick the rule; ``pos_label`` is
            read when the parameter is None.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        if self._searching(context):
            _, values = _positive_outputs(
                _name(self), estimator, X, context, self.pos_label
            )
            return np.ascontiguousarray(values, dtype=np.float64)
        self.check_estimator(estimator)
        return Margin().score(estimator, X, context)

    def _uncertainty(self, estimator, X, context):
        """Non-negative version for InformationDensity (p(pos) or 1 - margin)."""
        if self._searching(context):
            base = MostLikelyPositive(pos_label=self.pos_label)
        else:
            self.check_estimator(estimator)
            base = Margin()
        return base._uncertainty(estimator, X, context)
