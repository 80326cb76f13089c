"""Top-k selection with ties broken by per-round random keys."""

from __future__ import annotations

import numpy as np

from ._compiled import compiled

__all__ = ["tie_break_keys", "top_k", "best_of", "head_positions"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def tie_break_keys(rows, seed):
    """Pseudo-random uint64 key per row id for one round (splitmix64 of row ^ seed).

    The key depends only on the row id and the round's seed, never on the order
    or the set in which rows are enumerated. A candidate pool that holds every
    unlabeled row therefore ranks exactly as a full scan does under the same
    seed, whatever order its candidates come in. The learner draws ``seed`` from
    its single random state once per round; strategies never draw randomness.

    Parameters
    ----------
    rows : array-like of int
        Row ids (non-negative).
    seed : int
        The round's seed, in ``[0, 2**64)``.

    Returns
    -------
    keys : ndarray of uint64, same shape as ``rows``
        One key per row id; a lower key wins a tie.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import tie_break_keys
    >>> a = tie_break_keys(np.array([5, 1, 9]), seed=7)
    >>> b = tie_break_keys(np.array([9, 5]), seed=7)
    >>> bool(a[0] == b[1] and a[2] == b[0])
    True
    """
    z = np.asarray(rows, dtype=np.int64).astype(np.uint64) ^ np.uint64(seed)
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return z


def _clean(scores):
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    return scores


def top_k(scores, keys, k):
    """Positions of the ``k`` best entries, best first.

    Order: higher score first; among equal scores, lower key first. NaN scores
    rank last. Cost O(m + t log t) for ``m`` scores, where ``t`` is the number
    of entries at least as good as the k-th (``k`` plus its ties).

    Parameters
    ----------
    scores : array-like of shape (m,)
        Scores, higher is better.
    keys : ndarray of shape (m,)
        Tie-break key of each entry (e.g. :func:`tie_break_keys` of the rows),
        lower first.
    k : int
        Number of positions wanted.

    Returns
    -------
    positions : ndarray of shape (min(k, m),), dtype intp
        Positions into ``scores``, best first (empty when ``k <= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import top_k
    >>> top_k(np.array([0.1, 0.9, 0.5, 0.9]), np.array([4, 3, 2, 1]), 3).tolist()
    [3, 1, 2]
    """
    scores = _clean(scores)
    pos = head_positions(scores, k)
    order = np.lexsort((keys[pos], -scores[pos]))
    return pos[order[: int(min(k, pos.shape[0]))]]


def head_positions(scores, k):
    """Positions whose score is at least the ``k``-th best (ties included).

    The ``k`` best entries, whatever their tie-break keys, are among them, so
    a caller may compute keys for these positions only. NaN ranks last.

    Parameters
    ----------
    scores : array-like of shape (m,)
        Scores, higher is better.
    k : int
        Number of best entries the caller will choose among these.

    Returns
    -------
    positions : ndarray of intp
        Positions into ``scores`` in increasing order: at least
        ``min(k, m)`` of them (more when the ``k``-th score is tied), none
        when ``k <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import head_positions
    >>> head_positions(np.array([0.1, 0.9, 0.5, 0.9]), 1).tolist()
    [1, 3]
    """
    scores = _clean(scores)
    m = scores.shape[0]
    k = int(min(k, m))
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k == m:
        return np.arange(m)
    kernels = compiled("utils._selection_kernels")  # None without numba
    if kernels is not None and scores.ndim == 1 and scores.flags.c_contiguous:
        kth = kernels.kth_largest(scores, k)  # (one read, no partitioned copy)
    else:
        kth = np.partition(scores, m - k)[m - k]
    return np.flatnonzero(scores >= kth)


def best_of(scores, keys, alive):
    """Position of the best entry among ``alive`` ones, or -1 if none is alive.

    The greedy batch step: as :func:`top_k` with ``k=1``, restricted to the
    entries still alive. Higher score first; among equal scores, lower key
    first; NaN ranks last.

    Parameters
    ----------
    scores : array-like of shape (m,)
        Scores, higher is better.
    keys : ndarray of shape (m,)
        Tie-break key of each entry, lower first.
    alive : ndarray of bool of shape (m,)
        Which entries may be chosen.

    Returns
    -------
    position : int
        Position into ``scores`` of the best alive entry, -1 when none is
        alive.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import best_of
    >>> scores = np.array([0.2, 0.9, 0.9, 0.4])
    >>> keys = np.array([3, 2, 1, 0])
    >>> best_of(scores, keys, np.ones(4, dtype=bool))  # a tie: the lower key wins
    2
    >>> best_of(scores, keys, np.array([True, False, False, True]))
    3
    >>> best_of(scores, keys, np.zeros(4, dtype=bool))
    -1
    """
    if not alive.any():
        return -1
    s = np.where(alive, _clean(scores), -np.inf)
    top = s.max()
    tied = np.flatnonzero(alive & (s == top))
    if tied.shape[0] == 1:
        return int(tied[0])
    return int(tied[np.argmin(keys[tied])])
