"""Diversity sampling: greedy k-center (core-set) selection."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import StrOptions

from ..base import BaseQueryStrategy, QueryContext

__all__ = ["KCenterGreedy"]

# Rows of X and of the reference set per block: at most _BLOCK**2 distances
# (32 MB of float64) exist at once, whatever the sizes of X and labeled_X.
_BLOCK = 2048


def _as_rows(A, start, stop, metric):
    block = np.asarray(A[start:stop], dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block = np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)
    return block


def _min_distances(X, Y, metric, block=None):
    """Distance of each row of ``X`` to its nearest row of ``Y``, in blocks.

    ``"euclidean"``: L2 distance; ``"cosine"``: ``1 - cos`` (a zero row has
    cosine 0 to everything). Never builds the full ``(len(X), len(Y))`` matrix:
    memory is O(block**2) besides the output. Empty ``Y`` gives +inf.
    """
    block = _BLOCK if block is None else block
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[None, :]
    n = X.shape[0]
    out = np.full(n, np.inf)
    if Y.shape[0] == 0 or n == 0:
        return out
    Y = _as_rows(Y, 0, Y.shape[0], metric)
    # Euclidean: min_j |x - y_j|^2 = |x|^2 + min_j (|y_j|^2 - 2 x.y_j);
    # cosine: min_j (1 - x.y_j) = 1 - max_j x.y_j (rows normalised).
    half_yy = 0.5 * np.einsum("ij,ij->i", Y, Y)
    for i in range(0, n, block):
        xb = _as_rows(X, i, i + block, metric)
        best = np.full(xb.shape[0], np.inf)
        for j in range(0, Y.shape[0], block):
            prod = xb @ Y[j : j + block].T
            if metric == "cosine":
                np.negative(prod, out=prod)
            else:
                np.subtract(half_yy[None, j : j + block], prod, out=prod)
            np.minimum(best, prod.min(axis=1), out=best)
        if metric == "cosine":
            best += 1.0
        else:
            best = np.sqrt(np.maximum(np.einsum("ij,ij->i", xb, xb) + 2.0 * best, 0.0))
        out[i : i + block] = np.maximum(best, 0.0)
    return out


class KCenterGreedy(BaseQueryStrategy):
    """Greedy k-center: repeatedly query the row farthest from all chosen rows.

    A row's score is its distance to the nearest labeled (or pending) row,
    ``context.labeled_X``. After each greedy pick the learner calls
    :meth:`update_scores`, which lowers every score to the distance to the row
    just picked when that is nearer, so a batch of ``k`` picks is the greedy
    2-approximation of the k-center (core-set) problem of Sener and Savarese
    (ICLR 2018). No estimator is used.

    Distances are computed block by block (never an ``n_rows x n_labeled``
    matrix). With no labeled row (``labeled_X`` None or empty) every score is
    +inf, so the first pick is the learner's random tie-break.

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` uses ``1 - cos``.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.base import QueryContext
    >>> from skseals.query import KCenterGreedy
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    >>> ctx = QueryContext(labeled_X=np.array([[0.0, 0.0]]))
    >>> kc = KCenterGreedy()
    >>> scores = kc.score(None, X, ctx)
    >>> scores.round(3).tolist()
    [0.0, 5.0, 10.0]
    >>> kc.update_scores(scores, X, X[2], ctx).round(3).tolist()  # picked row 2
    [0.0, 5.0, 0.0]
    """

    requires_labeled_X = True
    sequential = True
    requires_estimator = False

    _parameter_constraints = {"metric": [StrOptions({"euclidean", "cosine"})]}

    def __init__(self, metric: str = "euclidean") -> None:
        self.metric = metric

    def check_estimator(
        self, estimator: object, *, classes: ArrayLike | None = None
    ) -> None:
        """No estimator is needed; validates ``metric``.

        Parameters
        ----------
        estimator : object or None
            Ignored.
        classes : array-like or None, default=None
            Ignored.

        Raises
        ------
        ValueError
            If ``metric`` is not a valid value (``InvalidParameterError``).
        """
        self._validate_params()

    def score(
        self, estimator: object, X: ArrayLike, context: QueryContext
    ) -> np.ndarray:
        """Distance of each row of ``X`` to its nearest row of ``context.labeled_X``.

        Parameters
        ----------
        estimator : ignored
            May be None.
        X : array-like of shape (n_rows, n_features)
            Embeddings of the rows to score.
        context : QueryContext
            ``labeled_X``: embeddings of the labeled and pending rows.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
            Non-negative; +inf when there is no labeled row.
        """
        self._validate_params()
        X = _as_2d(X)
        labeled = None if context is None else context.labeled_X
        if labeled is None:
            return np.full(X.shape[0], np.inf)
        return _min_distances(X, labeled, self.metric)

    def update_scores(
        self,
        scores: ArrayLike,
        X: ArrayLike,
        x_picked: ArrayLike,
        context: QueryContext,
    ) -> np.ndarray:
        """Scores after picking ``x_picked``: ``min(scores, dist(X, x_picked))``.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Current scores of the rows of ``X`` (not modified).
        X : array-like of shape (n_rows, n_features)
            The rows those scores belong to.
        x_picked : array-like of shape (n_features,) or (n_picked, n_features)
            Embedding(s) of the row(s) just picked.
        context : QueryContext
            Unused.

        Returns
        -------
        scores : ndarray of shape (n_rows,), dtype float64
        """
        X = _as_2d(X)
        return np.minimum(
            np.asarray(scores, dtype=np.float64),
            _min_distances(X, x_picked, self.metric),
        )


def _as_2d(X):
    # Arrays (and memory maps) are kept as they are: blocks are converted lazily.
    if not hasattr(X, "ndim"):
        X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_features); got shape {X.shape}.")
    return X
