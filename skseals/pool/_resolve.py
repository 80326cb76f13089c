"""Resolve the learner's ``pool`` parameter."""

from __future__ import annotations

from sklearn.base import clone

from ..base import BaseCandidatePool
from ._full import FullScanPool
from ._knn import KNNPool
from ._random import RandomSubsetPool

__all__ = ["POOL_ALIASES", "make_pool"]

#: String aliases accepted by the learner's ``pool`` parameter, and their classes.
POOL_ALIASES = {"knn": KNNPool, "full": FullScanPool, "random": RandomSubsetPool}


def make_pool(pool):
    """A new, unfitted pool from an alias, or a clone of a pool object.

    Parameters
    ----------
    pool : {"knn", "full", "random"} or BaseCandidatePool
        An alias of :data:`POOL_ALIASES` (a new instance with default
        parameters), or a pool object, which is cloned
        (:func:`sklearn.base.clone`): the object passed in is never fitted or
        shared.

    Returns
    -------
    pool : BaseCandidatePool
        A new, unfitted pool.

    Raises
    ------
    ValueError
        If ``pool`` is an unknown alias.
    TypeError
        If ``pool`` is neither a string nor a pool instance.

    Examples
    --------
    >>> from skseals.pool import KNNPool, make_pool
    >>> make_pool("full")
    FullScanPool()
    >>> given = KNNPool(n_neighbors=5)
    >>> pool = make_pool(given)
    >>> pool, pool is given
    (KNNPool(n_neighbors=5), False)
    """
    if isinstance(pool, str):
        if pool not in POOL_ALIASES:
            raise ValueError(
                f"The 'pool' parameter got the unknown alias {pool!r}: use one of "
                f"{sorted(POOL_ALIASES)} or a pool object such as KNNPool()."
            )
        return POOL_ALIASES[pool]()
    if isinstance(pool, BaseCandidatePool):
        return clone(pool)
    raise TypeError(
        "The 'pool' parameter must be an alias "
        f"{sorted(POOL_ALIASES)} or a pool instance such as KNNPool(); got "
        f"{type(pool).__name__}."
    )
