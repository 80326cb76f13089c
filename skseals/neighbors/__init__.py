"""Nearest-neighbour indexes: exact, faiss, hnswlib, Annoy, and a kNN graph.

Every index follows :class:`skseals.base.BaseNeighborIndex`: ``fit(X)`` builds
it, ``search(Q, k, exclude=...)`` and ``search_rows(rows, k, exclude=...)``
return ascending distances and int64 row ids, never an excluded row, padded
with ``-1`` / ``inf``. :func:`make_index` turns an alias ("exact", "faiss",
"hnswlib", "annoy") into an unfitted index.
"""

from ._annoy import AnnoyIndex
from ._exact import ExactIndex
from ._faiss import FaissIndex
from ._faiss_build import build_index_shards, build_ondisk_ivf
from ._faiss_ondisk import OnDiskFaissIndex
from ._graph import KNNGraph
from ._hnswlib import HNSWIndex
from ._resolve import INDEX_ALIASES, make_index

__all__ = [
    "INDEX_ALIASES",
    "AnnoyIndex",
    "ExactIndex",
    "FaissIndex",
    "HNSWIndex",
    "KNNGraph",
    "OnDiskFaissIndex",
    "build_index_shards",
    "build_ondisk_ivf",
    "make_index",
]
