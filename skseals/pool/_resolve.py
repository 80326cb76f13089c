"""Resolve the learner's ``pool`` parameter."""

from __future__ import annotations

from sklearn.base import clone

from ..base import BaseCandidatePool
from ._full import FullScanPool
from ._knn import KNNPool
from ._random import RandomSubsetPool

__all__ = ["POOL_ALIASES", "make_pool"]

POOL_ALIASES = {"knn": KNNPool, "full": FullScanPool, "random": RandomSubsetPool}


def make_pool(pool):
    """A new, unfitted pool from an alias, or a clone of a pool object."""
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
