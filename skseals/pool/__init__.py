"""Candidate pools: which rows a learner scores each round."""

from ._full import FullScanPool
from ._knn import KNNPool
from ._random import RandomSubsetPool
from ._resolve import POOL_ALIASES, make_pool

__all__ = ["FullScanPool", "KNNPool", "RandomSubsetPool", "POOL_ALIASES", "make_pool"]
