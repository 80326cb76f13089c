"""Query anywhere (SEALS §7.3): reach parts of the concept the pool has not touched."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from ..base import BaseQueryStrategy
from ._wrapping import _WrapsStrategy

__all__ = ["QueryAnywhere"]


class QueryAnywhere(_WrapsStrategy):
    """Add the nearest rows of a point on the decision hyperplane to the pool.

    A SEALS pool only grows through nearest-neighbour lists, so a part of the
    concept that no labeled row's neighbours reach stays invisible. Each round,
    for a linear binary model ``f(x) = w·x + b``, this strategy takes the most
    uncertain candidate ``x*`` (highest base score), projects it onto the
    hyperplane ``f = 0``,

        ``p = x* - f(x*) / ||w||² · w``,

    and asks the pool's index for the ``n_neighbors`` nearest available rows of
    ``p`` over the whole data set (one vector search). Those rows join the
    candidate pool and are scored with the base strategy like any candidate,
    so rows near the decision boundary anywhere in the embedding can be
    queried. The cost is one index search per round; on a full-scan pool it
    changes nothing (every row is already a candidate).

    Parameters
    ----------
    base_strategy : str or strategy object, default="margin"
        The strategy that ranks candidates (and picks ``x*``).
    n_neighbors : int or None, default=None
        Rows added around ``p`` per round; None uses the pool's
        ``n_neighbors``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.query import QueryAnywhere
    >>> clf = LogisticRegression().fit([[0.0, 0.0], [2.0, 0.0]], [0, 1])
    >>> p = QueryAnywhere().project(clf, np.array([[1.7, 3.0]]))
    >>> bool(abs(clf.decision_function(p)[0]) < 1e-9)
    True
    """

    queries_anywhere = True

    _parameter_constraints = {
        "base_strategy": [str, BaseQueryStrategy],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, base_strategy="margin", n_neighbors=None):
        self.base_strategy = base_strategy
        self.n_neighbors = n_neighbors

    def _base(self):
        """A fresh strategy from ``base_strategy`` (an alias or a clone)."""
        from ._resolve import _make_strategy

        if isinstance(self.base_strategy, QueryAnywhere):
            raise TypeError(
                "base_strategy must not be another QueryAnywhere: pass the "
                "strategy that ranks the candidates, e.g. 'margin'."
            )
        return _make_strategy(self.base_strategy, "base_strategy")

    @property
    def requires_density(self):
        return self._base().requires_density

    def check_estimator(self, estimator, **kwargs):
        """Check ``estimator`` for the base strategy, then that it is linear binary.

        Parameters
        ----------
        estimator : fitted classifier
            Must have ``coef_`` of shape (1, n_features) and ``intercept_``
            (e.g. a fitted binary LogisticRegression or LinearSVC); an
            unfitted estimator has no ``coef_`` and is refused.
        **kwargs
            Passed to the base strategy's ``check_estimator`` (e.g.
            ``classes``).

        Raises
        ------
        TypeError
            If the base strategy refuses ``estimator``, or ``estimator`` is not
            a fitted linear binary classifier (a pipeline included).
        """
        self._base().check_estimator(estimator, **kwargs)
        coef = getattr(estimator, "coef_", None)
        if coef is None or np.asarray(coef).ndim != 2 or np.shape(coef)[0] != 1:
            raise TypeError(
                "QueryAnywhere needs a linear binary classifier with coef_ of shape "
                f"(1, n_features) and intercept_ (e.g. LogisticRegression); got "
                f"{estimator!r}. Use another strategy for non-linear models or "
                "pipelines."
            )

    def score(self, estimator, X, context):
        return self._base().score(estimator, X, context)

    def project(self, estimator, X):
        """Orthogonal projection of rows of ``X`` onto ``w·x + b = 0``.

        ``p = x - f(x) / ||w||² · w`` with ``f(x) = w·x + b``: the nearest
        point of the decision hyperplane to each row.

        Parameters
        ----------
        estimator : fitted classifier
            A linear binary model: ``coef_`` of shape (1, n_features) and
            ``intercept_`` (see :meth:`check_estimator`).
        X : array-like of shape (n_rows, n_features)
            Rows to project.

        Returns
        -------
        P : ndarray of shape (n_rows, n_features), dtype float64
            The projections; ``estimator.decision_function(P)`` is 0 up to
            rounding. NaN when every coefficient is 0 (there is no hyperplane;
            the learner then searches around no point).
        """
        w = np.asarray(estimator.coef_, dtype=np.float64).ravel()
        b = float(np.ravel(estimator.intercept_)[0])
        X = np.asarray(X, dtype=np.float64)
        f = X @ w + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return X - np.outer(f / (w @ w), w)
