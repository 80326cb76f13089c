"""Information density: uncertainty weighted by representativeness."""

from __future__ import annotations

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import Interval

from ..base import BaseQueryStrategy, QueryContext
from ._search import _unit_dot
from ._uncertainty import _n_rows
from ._wrapping import _WrapsStrategy

__all__ = ["InformationDensity"]

#: Aliases of the strategies that can be weighted by density.
BASE_ALIASES = (
    "entropy",
    "margin",
    "least_confidence",
    "most_likely_positive",
    "adaptive",
    "random",
)


class InformationDensity(_WrapsStrategy):
    """Base uncertainty times mean cosine similarity to the candidate pool.

    The score of a row ``x`` is ``u(x) * density(x) ** beta`` (Settles and
    Craven, EMNLP 2008), where ``u`` is the non-negative uncertainty of
    ``base_strategy`` and ``density(x)`` the mean cosine similarity of ``x`` to
    the rows of the current candidate pool. For unit vectors the mean of dot
    products is the dot product with the mean, so with ``z = x / |x|``::

        density(x) = z . context.density_sum / context.density_count

    which is exact and costs O(n_features) per row, never O(pool size). The
    pool keeps ``density_sum`` (the sum of its L2-normalised rows) current
    (``requires_density = True``). A zero row has density 0.

    Density is clipped below at 0: a negative mean similarity times a positive
    uncertainty would give a negative score, so among dissimilar rows the more
    uncertain would rank *lower* (and a fractional ``beta`` of a negative
    number is undefined). Rows dissimilar to the pool on average score 0.

    Non-negative uncertainty per base (``p1 >= p2`` the top two probabilities):

    - ``"entropy"``: the entropy, in [0, log C];
    - ``"margin"``: ``1 - (p1 - p2)``, in [0, 1];
    - ``"least_confidence"``: ``1 - p1``, in [0, 1 - 1/C];
    - ``"most_likely_positive"``: p(positive), in [0, 1];
    - ``"adaptive"``: that of the regime of the round (one of the two above);
    - ``"random"``: 1, so density alone ranks rows (representative sampling).

    With a ``decision_function`` instead of probabilities, a decision gap
    ``g >= 0`` (``|f|`` binary, top-two gap multiclass) maps to
    ``2 * sigmoid(-g)`` in (0, 1], and a positive-class decision value ``f`` to
    ``sigmoid(f)``; order within the base is kept, but the trade-off with
    density then depends on the scale of ``f``.

    Parameters
    ----------
    base_strategy : str or BaseQueryStrategy, default="entropy"
        An alias among ``"entropy"``, ``"margin"``, ``"least_confidence"``,
        ``"most_likely_positive"``, ``"adaptive"``, ``"random"``, or a
        strategy object of one of those kinds (cloned, never modified).
    beta : float, default=1.0
        Exponent of the density weight (>= 0; 0 ignores density).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.base import QueryContext
    >>> from skseals.query import InformationDensity
    >>> pool = np.array([[1.0, 0.0], [1.0, 0.1], [0.9, 0.0], [0.0, 1.0]])
    >>> unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    >>> ctx = QueryContext(density_sum=unit.sum(axis=0), density_count=4)
    >>> ID = InformationDensity(base_strategy="random")  # density alone
    >>> scores = ID.score(None, pool, ctx)
    >>> int(np.argmin(scores)), bool(scores.max() <= 1.0)  # the outlier is last
    (3, True)
    """

    requires_density = True

    _parameter_constraints = {
        "base_strategy": "no_validation",  # resolved by _base()
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, base_strategy: str | BaseQueryStrategy = "entropy", beta: float = 1.0
    ) -> None:
        self.base_strategy = base_strategy
        self.beta = beta

    def _base(self):
        """A fresh strategy from ``base_strategy`` (an alias or a clone)."""
        from ._resolve import _make_strategy

        base = _make_strategy(self.base_strategy, "base_strategy")
        if not hasattr(base, "_uncertainty") or base.sequential:
            raise TypeError(
                f"InformationDensity cannot weight {type(base).__name__}: "
                f"base_strategy must be one of {list(BASE_ALIASES)} or a strategy "
                "object of one of those kinds."
            )
        return base

    def _scores_without_thread_pools(self, estimator, X):
        """Whether :meth:`score` runs no BLAS or OpenMP thread pool on ``X``:
        the density is an ``einsum``, so the base strategy's scoring decides
        (read from ``base_strategy`` without cloning it)."""
        from ._resolve import STRATEGY_ALIASES

        if type(self).score is not InformationDensity.score:  # (scores otherwise)
            return False
        base = self.base_strategy
        if isinstance(base, str):
            make = STRATEGY_ALIASES.get(base)
            base = None if make is None else make()
        check = getattr(base, "_scores_without_thread_pools", None)
        return check is not None and bool(check(estimator, X))

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """Validate the parameters, then check ``estimator`` for the base strategy.

        Parameters
        ----------
        estimator : estimator object or None
            The classifier the learner fits (fitted or not); None is accepted
            when the base strategy needs no estimator.
        classes : array-like or None, default=None
            Classes it will be fitted on, when it is not fitted yet; passed to
            the base strategy's check.

        Raises
        ------
        TypeError
            If the base strategy or ``estimator`` cannot be used.
        ValueError
            If a parameter is invalid.
        """
        self._validate_params()
        base = self._base()
        if estimator is None and not base.requires_estimator:
            return
        if classes is None:
            base.check_estimator(estimator)
        else:
            base.check_estimator(estimator, classes=classes)

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Density-weighted uncertainty of each row of ``X``.

        Parameters
        ----------
        estimator : fitted classifier or None
            Passed to the base strategy (None only for ``"random"``).
        X : array-like of shape (n_rows, n_features)
            Embeddings of the rows to score (also the estimator's input).
        context : QueryContext
            ``density_sum`` and ``density_count`` must be set.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
            Non-negative.
        """
        self._validate_params()
        base = self._base()
        uncertainty = base._uncertainty(estimator, X, context)
        density = _density(X, context)
        return uncertainty * density ** float(self.beta)


def _density(X, context):
    """Mean cosine similarity of each row to the pool, clipped below at 0.

    An empty pool (``density_count == 0``) gives density 0 everywhere.
    """
    if context is None or context.density_sum is None:
        raise ValueError(
            "InformationDensity needs context.density_sum and "
            "context.density_count: the learner's candidate pool must track "
            "density (it does when the strategy has requires_density=True)."
        )
    if context.density_count <= 0:
        return np.zeros(_n_rows(X))
    mean = np.asarray(context.density_sum, dtype=np.float64).ravel()
    mean = mean / context.density_count
    norms = context.row_norms
    if norms is not None and norms.shape[0] != _n_rows(X):
        norms = None
    return np.clip(_unit_dot(X, mean, norms), 0.0, 1.0)
