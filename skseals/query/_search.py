"""Active search: rank by how likely a row is to be positive.

:class:`MostLikelyPositive` exploits the fitted estimator;
:class:`CentroidSimilarity` ranks without one, by cosine similarity to the
centroid of the labeled positives (the cold start, while fewer than two
classes are labeled).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from ..base import BaseQueryStrategy, QueryContext
from ._uncertainty import _check_outputs, _known_classes, _model_outputs, _name

__all__ = ["MostLikelyPositive", "CentroidSimilarity"]


def _as_scored(X):
    """X as ``_unit_dot`` computes with it: float32 kept, anything else float64."""
    X = np.asarray(X)
    return X if X.dtype == np.float32 else X.astype(np.float64, copy=False)


def row_norms(X):
    """L2 norm of each row of ``X``, as ``_unit_dot`` computes it.

    A row's norm does not depend on the rows computed with it (numpy's einsum
    sums each row on its own), so norms kept from an earlier call are the
    values a later call would compute.
    """
    X = _as_scored(X)
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def _unit_dot(X, v, norms=None):
    """``(x / |x|) . v`` for each row ``x`` of ``X`` (0 for a zero row).

    O(n_rows * n_features), no copy of a float array. float32 rows are computed
    in float32 (their own precision), anything else in float64. ``norms``,
    when given, holds ``row_norms(X)`` already computed.
    """
    X = _as_scored(X)
    v = np.asarray(v, dtype=X.dtype).ravel()
    if norms is None:
        norms = row_norms(X)
    dots = np.einsum("ij,j->i", X, v)  # a row's value, whatever its block
    out = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return out.astype(np.float64, copy=False)


def _pos_index(owner, classes, pos_label, context):
    """Column of the positive class in ``classes``.

    ``pos_label`` (the strategy's parameter) wins over ``context.pos_label``;
    when both are None, the greater class of a binary problem is positive.
    """
    label = pos_label
    if label is None and context is not None:
        label = context.pos_label
    if classes is None:
        raise ValueError(
            f"{owner} needs the estimator's classes: fit the estimator first "
            "(it has no classes_) or pass a QueryContext with classes."
        )
    if label is None:
        if len(classes) != 2:
            raise ValueError(
                f"{owner} cannot tell the positive class among {len(classes)} "
                "classes: pass pos_label (or search with a learner that sets it)."
            )
        return 1
    matches = [i for i, c in enumerate(classes) if c == label]
    if not matches:
        raise ValueError(
            f"pos_label={label!r} is not one of the estimator's classes "
            f"{list(classes)}: pass pos_label equal to one of them."
        )
    return matches[0]


def _positive_outputs(owner, estimator, X, context, pos_label):
    """``(kind, values)``: ``"proba"`` with p(pos) or ``"binary"`` with f(pos)."""
    kind, values = _model_outputs(owner, estimator, X, multiclass_decision=False)
    classes = _known_classes(estimator)
    if classes is None and context is not None and context.classes is not None:
        classes = np.asarray(context.classes)
    idx = _pos_index(owner, classes, pos_label, context)
    if kind == "logit":  # p(classes_[1]) = expit(z)
        return "proba", expit(values if idx == 1 else -values)
    if kind == "proba":
        return kind, values[:, idx]
    return kind, (values if idx == 1 else -values)


def _check_positive(owner, estimator, classes, pos_label):
    _check_outputs(owner, estimator, classes, multiclass_decision=False)
    classes = _known_classes(estimator, classes)
    if classes is not None and pos_label is not None:
        _pos_index(owner, classes, pos_label, None)


class MostLikelyPositive(BaseQueryStrategy):
    """Query the rows most likely to be positive (greedy active search).

    The score is the predicted probability of the positive class, in [0, 1].
    Without ``predict_proba``, a binary classifier's ``decision_function`` is
    used (its value for the positive class, which ranks rows the same way;
    values are then in decision units). A multiclass ``decision_function`` is
    rejected: its per-class values need not order rows by probability.

    Parameters
    ----------
    pos_label : object or None, default=None
        The positive class. None means ``context.pos_label`` (the learner's
        class searched for) and, when that is None too, the greater of the two
        classes of a binary problem (``classes_[1]``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import MostLikelyPositive
    >>> X_train = [[-2.0], [-1.0], [1.0], [2.0]]
    >>> clf = LogisticRegression().fit(X_train, ["a", "a", "b", "b"])
    >>> X = np.array([[-3.0], [0.0], [3.0]])
    >>> MostLikelyPositive().score(clf, X, QueryContext()).round(2).tolist()
    [0.05, 0.5, 0.95]
    >>> ctx = QueryContext(pos_label="a")
    >>> MostLikelyPositive().score(clf, X, ctx).round(2).tolist()
    [0.95, 0.5, 0.05]
    """

    _parameter_constraints = {"pos_label": "no_validation"}

    def __init__(self, pos_label: object = None) -> None:
        self.pos_label = pos_label

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """Raise TypeError if ``estimator`` cannot rank rows by p(positive).

        Also raises ValueError when ``pos_label`` is set and the classes are
        known (fitted estimator or ``classes``) but do not contain it.

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

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Probability (or binary decision value) of the positive class per row.

        Parameters
        ----------
        estimator : fitted classifier
            Not modified.
        X : array-like of shape (n_rows, n_features)
            Rows to score.
        context : QueryContext
            ``pos_label`` is read when the parameter ``pos_label`` is None.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        _, values = _positive_outputs(
            _name(self), estimator, X, context, self.pos_label
        )
        return np.ascontiguousarray(values, dtype=np.float64)

    def _uncertainty(self, estimator, X, context):
        """Non-negative version for InformationDensity: p(pos), or sigmoid(f)."""
        kind, values = _positive_outputs(
            _name(self), estimator, X, context, self.pos_label
        )
        if kind == "binary":
            values = expit(values)
        return np.ascontiguousarray(values, dtype=np.float64)


class CentroidSimilarity(BaseQueryStrategy):
    """Rank rows by cosine similarity to ``context.centroid``; no estimator needed.

    The learner uses it for the cold start, while fewer than two classes are
    labeled and no classifier can be fitted: the centroid is the unit-norm mean
    of the normalised embeddings of the labeled positives, and candidates are
    ranked by their cosine similarity to it, as in Mullapudi et al.'s
    ``rankByCosineSimilarity`` ("Learning Rare Category Classifiers on a
    Tight Labeling Budget", ICCV 2021). Scores are in [-1, 1]; a zero row
    scores 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.base import QueryContext
    >>> from skseals.query import CentroidSimilarity
    >>> ctx = QueryContext(centroid=np.array([1.0, 0.0]))
    >>> X = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0], [-1.0, 0.0]])
    >>> CentroidSimilarity().score(None, X, ctx).round(3).tolist()
    [1.0, 0.707, 0.0, -1.0]
    """

    requires_estimator = False

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """Nothing to check: no estimator is used.

        Parameters
        ----------
        estimator : object or None
            Ignored.
        classes : array-like or None, default=None
            Ignored.
        """

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Cosine similarity of each row of ``X`` to ``context.centroid``.

        Parameters
        ----------
        estimator : ignored
            May be None.
        X : array-like of shape (n_rows, n_features)
            Embeddings of the rows to score.
        context : QueryContext
            ``centroid`` must be set.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        if context is None or context.centroid is None:
            raise ValueError(
                "CentroidSimilarity needs context.centroid (the unit-norm centroid "
                "of the labeled positives); the learner sets it at cold start."
            )
        centroid = np.asarray(context.centroid, dtype=np.float64).ravel()
        norm_c = np.linalg.norm(centroid)
        if norm_c > 0:
            centroid = centroid / norm_c
        out = _unit_dot(X, centroid)
        return np.clip(out, -1.0, 1.0)
