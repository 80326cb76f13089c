"""Uncertainty sampling: maximum entropy, smallest margin, least confidence.

Each strategy reads the fitted estimator's ``predict_proba``. Without it, a
``decision_function`` is used instead when it still ranks rows the same way
(a binary one always; a multiclass one for :class:`Margin` and
:class:`LeastConfidence`); the values are then not probabilities, only their
order is meaningful.

Every strategy here also has a private ``_uncertainty`` (non-negative, same
order as ``score``) that :class:`~skseals.query.InformationDensity` multiplies
by a density weight.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, xlogy
from sklearn.linear_model import LogisticRegression

from ..base import BaseQueryStrategy, QueryContext

__all__ = ["MaxEntropy", "Margin", "LeastConfidence"]

_CALIBRATE = (
    "use an estimator with predict_proba (e.g. SVC(probability=True), or wrap it "
    "in sklearn.calibration.CalibratedClassifierCV)"
)


def _name(strategy):
    return type(strategy).__name__


def _n_rows(X):
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _known_classes(estimator, classes=None):
    """The estimator's classes when known (fitted, or told), else None."""
    if classes is None:
        classes = getattr(estimator, "classes_", None)
    return None if classes is None else np.asarray(classes)


def _requirement(owner, multiclass_decision):
    if multiclass_decision:
        return f"{owner} needs an estimator with predict_proba or decision_function"
    return (
        f"{owner} needs an estimator with predict_proba, or a binary classifier "
        "with decision_function"
    )


def _check_outputs(owner, estimator, classes, *, multiclass_decision, hint=""):
    """Raise TypeError unless ``estimator`` gives outputs ``owner`` can rank by.

    ``classes`` may be None (estimator not fitted yet): then only the presence
    of the methods is checked.
    """
    if hasattr(estimator, "predict_proba"):
        return
    need = _requirement(owner, multiclass_decision)
    if not hasattr(estimator, "decision_function"):
        raise TypeError(
            f"{need}; got {estimator!r}, which has neither: pass a classifier "
            "with predict_proba (e.g. LogisticRegression())."
        )
    classes = _known_classes(estimator, classes)
    if not multiclass_decision and classes is not None and len(classes) > 2:
        raise TypeError(
            f"{need}; got {estimator!r} with {len(classes)} classes: "
            f"{_CALIBRATE}{hint}."
        )


def _logit_applies(estimator, X):
    """Whether :func:`_binary_logit` scores ``X`` (numpy alone, no thread
    pool: neither BLAS nor OpenMP)."""
    if type(estimator) is not LogisticRegression:  # subclasses may override
        return False
    coef = getattr(estimator, "coef_", None)
    return not (
        coef is None
        or coef.shape[0] != 1
        or type(X) is not np.ndarray
        or X.ndim != 2
        or X.dtype.kind != "f"
        or X.shape[1] != coef.shape[1]
    )


def _binary_logit(estimator, X):
    """Decision values of a binary ``LogisticRegression`` on a float ndarray.

    ``p(classes_[1]) = expit(z)``. The same values (up to rounding) as
    scikit-learn's ``decision_function``, which multiplies X by ``coef_.T``, a
    one-column matrix (in float64 when the coefficients are): a product in X's
    own dtype is several times faster on a large block. It is an ``einsum``,
    not BLAS's matrix-vector product, whose last bit for a row depends on the
    rows around it: a row scores the same in any block (a pool's whole block,
    the rows a round keeps, a full scan's block), so exact ties stay ties and
    every path picks the same rows. None when this does not apply (another
    estimator, a DataFrame, more classes...).
    """
    if not _logit_applies(estimator, X):
        return None
    w = estimator.coef_[0].astype(X.dtype, copy=False)
    z = np.asarray(np.einsum("ij,j->i", X, w), dtype=np.float64)
    z += float(estimator.intercept_[0])
    return z


_LOG2 = float(np.log(2.0))


def _logit_entropy(z):
    """Binary entropy of ``expit(z)``, from ``z`` (no probability columns).

    With ``a = |z|`` and ``q = expit(-a)`` (the smaller probability):
    ``H = log(1 + exp(-a)) + a q``.
    """
    a = np.abs(z)
    e = np.exp(-a)
    h = np.log1p(e)
    e /= 1.0 + e  # q
    e *= a
    h += e
    # (h >= 0; np.clip's values, without its Python-level dispatch, which
    # costs a cold round more than the arithmetic)
    return np.minimum(h, _LOG2, out=h)


def _model_outputs(owner, estimator, X, *, multiclass_decision, hint=""):
    """``(kind, values)``, kind one of ``"proba"``, ``"binary"``, ``"multiclass"``
    and ``"logit"``.

    ``"proba"``: probabilities clipped to [0, 1], shape (n, n_classes).
    ``"logit"`` (a binary ``LogisticRegression`` on a float ndarray): ``z`` of
    shape (n,) with ``p(classes_[1]) = expit(z)``.
    ``"binary"``: decision values, shape (n,), positive for ``classes_[1]``.
    ``"multiclass"``: decision values, shape (n, n_classes).
    """
    if _n_rows(X) == 0:  # many estimators reject empty input
        n_classes = len(getattr(estimator, "classes_", (0, 1)))
        return "proba", np.empty((0, max(n_classes, 1)))
    z = _binary_logit(estimator, X)
    if z is not None:
        return "logit", z
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        if proba.ndim == 1:
            proba = proba[:, None]
        return "proba", np.clip(proba, 0.0, 1.0)
    _check_outputs(
        owner, estimator, None, multiclass_decision=multiclass_decision, hint=hint
    )
    f = np.asarray(estimator.decision_function(X), dtype=np.float64)
    if f.ndim == 2 and f.shape[1] == 1:
        f = f[:, 0]
    elif f.ndim == 2 and f.shape[1] == 2:
        f = f[:, 1] - f[:, 0]
    if f.ndim == 1:
        return "binary", f
    if not multiclass_decision:
        raise TypeError(
            f"{_requirement(owner, False)}; got {estimator!r} with {f.shape[1]} "
            f"classes: {_CALIBRATE}{hint}."
        )
    return "multiclass", f


def _top_two(values):
    """Largest and second largest value of each row (second is 0 for 1 column)."""
    n, c = values.shape
    if c == 1:
        return values[:, 0], np.zeros(n)
    part = np.partition(values, c - 2, axis=1)
    return part[:, -1], part[:, -2]


def _entropy(proba):
    """Row entropies (natural log), 0·log 0 = 0, clipped to [0, log C]."""
    c = proba.shape[1]
    if c < 2:
        return np.zeros(proba.shape[0])
    if c == 2:  # two 1-d columns: cheaper than a reduction over axis 1
        h = xlogy(proba[:, 0], proba[:, 0])
        h += xlogy(proba[:, 1], proba[:, 1])
        return np.clip(-h, 0.0, np.log(2.0))
    logp = np.log(np.where(proba > 0.0, proba, 1.0))
    return np.clip(-(proba * logp).sum(axis=1), 0.0, np.log(c))


def _gap_uncertainty(gap):
    """Map a non-negative decision gap to (0, 1]: 1 at the boundary.

    ``2 * sigmoid(-gap)``, i.e. ``1 - (p1 - p2)`` for the pseudo-probabilities
    ``sigmoid(f)`` of a binary decision value ``f`` with ``|f| = gap``.
    """
    return 2.0 * expit(-gap)


class _UncertaintyStrategy(BaseQueryStrategy):
    """Shared plumbing: probability or decision-function outputs, one rule each."""

    _multiclass_decision = False
    _hint = ""

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """Raise TypeError if ``estimator`` gives no outputs this strategy ranks by.

        Parameters
        ----------
        estimator : estimator object
            The classifier the learner will fit (fitted or not).
        classes : array-like or None, default=None
            Classes it will be fitted on, when it is not fitted yet.
        """
        _check_outputs(
            _name(self),
            estimator,
            classes,
            multiclass_decision=self._multiclass_decision,
            hint=self._hint,
        )

    def _outputs(self, estimator, X):
        return _model_outputs(
            _name(self),
            estimator,
            X,
            multiclass_decision=self._multiclass_decision,
            hint=self._hint,
        )

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Score rows of ``X``: higher means more uncertain.

        Parameters
        ----------
        estimator : fitted classifier
            Not modified.
        X : array-like of shape (n_rows, n_features)
            Rows to score (anything ``estimator`` accepts).
        context : QueryContext
            Unused by this strategy.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        kind, values = self._outputs(estimator, X)
        return np.ascontiguousarray(self._score(kind, values), dtype=np.float64)

    def _uncertainty(self, estimator, X, context):
        """Non-negative uncertainty, in the same order as ``score``."""
        kind, values = self._outputs(estimator, X)
        return np.ascontiguousarray(self._nonneg(kind, values), dtype=np.float64)

    def _scores_without_thread_pools(self, estimator, X):
        """Whether :meth:`score` runs no BLAS or OpenMP thread pool on ``X``
        (the learner then leaves the pools uncapped for it): not known of a
        subclass that scores otherwise."""
        cls = type(self)
        if not (
            cls.score is _UncertaintyStrategy.score
            and cls._uncertainty is _UncertaintyStrategy._uncertainty
            and cls._outputs is _UncertaintyStrategy._outputs
        ):
            return False
        return _n_rows(X) == 0 or _logit_applies(estimator, X)

    def _score(self, kind, values):
        raise NotImplementedError

    def _nonneg(self, kind, values):
        raise NotImplementedError


class MaxEntropy(_UncertaintyStrategy):
    """Query the rows whose predicted class distribution has maximal entropy.

    The score is ``-sum_c p_c log p_c`` over ``predict_proba`` (natural log,
    ``0 log 0 = 0``), in ``[0, log C]`` for ``C`` classes.

    Without ``predict_proba``, a binary classifier's ``decision_function`` is
    used: the score is ``-|f(x)|``, which orders rows as the entropy of any
    probability monotone in ``f`` would, but whose values are not entropies
    (they are <= 0). A multiclass ``decision_function`` does not determine an
    entropy; :meth:`check_estimator` rejects it (use :class:`Margin` instead).

    As a base of :class:`InformationDensity` the uncertainty is the entropy,
    or ``2 * sigmoid(-|f|)`` in (0, 1] for a decision function.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import MaxEntropy
    >>> clf = LogisticRegression().fit([[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1])
    >>> scores = MaxEntropy().score(clf, np.array([[0.0], [3.0]]), QueryContext())
    >>> bool(scores[0] > scores[1]), round(float(scores[0]), 4)  # 0 is the boundary
    (True, 0.6931)
    """

    _hint = (
        ", or use Margin or LeastConfidence, which accept a multiclass "
        "decision_function"
    )

    def _score(self, kind, values):
        if kind == "logit":
            return _logit_entropy(values)
        if kind == "proba":
            return _entropy(values)
        return 0.0 - np.abs(values)

    def _nonneg(self, kind, values):
        if kind in ("logit", "proba"):
            return self._score(kind, values)
        return _gap_uncertainty(np.abs(values))


class Margin(_UncertaintyStrategy):
    """Query the rows with the smallest gap between the two likeliest classes.

    The score is ``-(p1 - p2)`` for the largest and second largest predicted
    probabilities ``p1 >= p2``, in ``[-1, 0]``: higher means a smaller margin.

    Without ``predict_proba``, ``decision_function`` is used: ``-|f(x)|`` for a
    binary classifier and ``-(f1 - f2)`` (top two decision values) for a
    multiclass one; the values are then in decision units.

    As a base of :class:`InformationDensity` the uncertainty is
    ``1 - (p1 - p2)`` in [0, 1], or ``2 * sigmoid(-(f1 - f2))`` in (0, 1] for a
    decision function.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import Margin
    >>> clf = LogisticRegression().fit([[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1])
    >>> scores = Margin().score(clf, np.array([[0.0], [3.0]]), QueryContext())
    >>> bool(scores[0] > scores[1]), round(float(scores[1]), 2)  # 0 is the boundary
    (True, -0.91)
    """

    _multiclass_decision = True

    def _gap(self, kind, values):
        if kind == "logit":  # p1 - p2 = |2 expit(z) - 1| = tanh(|z| / 2)
            return np.tanh(np.abs(values) / 2.0)
        if kind == "binary":
            return np.abs(values)
        first, second = _top_two(values)
        return first - second

    def _score(self, kind, values):
        return 0.0 - self._gap(kind, values)  # 0.0 - 0.0 is 0.0, not -0.0

    def _nonneg(self, kind, values):
        gap = self._gap(kind, values)
        if kind in ("logit", "proba"):
            return np.clip(1.0 - gap, 0.0, 1.0)
        return _gap_uncertainty(gap)


class LeastConfidence(_UncertaintyStrategy):
    """Query the rows whose likeliest class has the lowest probability.

    The score is ``1 - max_c p_c``, in ``[0, 1 - 1/C]`` for ``C`` classes (and
    is its own non-negative uncertainty for :class:`InformationDensity`).

    Without ``predict_proba``, ``decision_function`` is used exactly as
    :class:`Margin` uses it (``-|f|`` binary, ``-(f1 - f2)`` multiclass): raw
    decision values are not comparable across rows the way probabilities are,
    so their top-two gap is the safer confidence measure.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import LeastConfidence
    >>> clf = LogisticRegression().fit([[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1])
    >>> scores = LeastConfidence().score(clf, np.array([[0.0], [3.0]]), QueryContext())
    >>> bool(scores[0] > scores[1]), round(float(scores[0]), 4)
    (True, 0.5)
    """

    _multiclass_decision = True

    def _score(self, kind, values):
        if kind == "logit":  # 1 - max(p, 1 - p) = expit(-|z|)
            return expit(-np.abs(values))
        if kind == "proba":
            return 1.0 - values.max(axis=1)
        return Margin()._score(kind, values)

    def _nonneg(self, kind, values):
        if kind == "logit":
            return np.clip(self._score(kind, values), 0.0, 1.0)
        if kind == "proba":
            return np.clip(1.0 - values.max(axis=1), 0.0, 1.0)
        return Margin()._nonneg(kind, values)
