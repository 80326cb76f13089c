"""Random sampling, without drawing a random number."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..base import BaseQueryStrategy, QueryContext
from ._uncertainty import _n_rows

__all__ = ["RandomQuery"]


class RandomQuery(BaseQueryStrategy):
    """Query rows uniformly at random.

    Every row scores 0. A strategy never draws random numbers: the learner
    breaks ties between equal scores with per-round random keys drawn from its
    own ``random_state`` (:func:`skseals.utils.tie_break_keys`), so when every
    score ties the rows queried are a uniformly random sample of the
    candidates, reproducible under the learner's ``random_state``.

    As a base of :class:`InformationDensity` its uncertainty is 1 everywhere,
    which ranks rows by density alone (representative sampling).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.base import QueryContext
    >>> from skseals.query import RandomQuery
    >>> RandomQuery().score(None, np.ones((3, 2)), QueryContext()).tolist()
    [0.0, 0.0, 0.0]
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
        """Zeros, one per row of ``X`` (the learner's tie-break decides).

        Parameters
        ----------
        estimator : ignored
            May be None.
        X : array-like of shape (n_rows, n_features)
            Rows to score (only their number is used).
        context : QueryContext
            Unused.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        return np.zeros(_n_rows(X), dtype=np.float64)

    def _uncertainty(self, estimator, X, context):
        """Ones: under InformationDensity, density alone ranks rows."""
        return np.ones(_n_rows(X), dtype=np.float64)
