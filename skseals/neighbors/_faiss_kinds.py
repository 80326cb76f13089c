"""What skseals needs to know about a faiss index's type: the default factory
for a number of rows, whether rows can be added in blocks, and the search
parameters (``nprobe``, ``efSearch``, an ID selector) each type takes."""

from __future__ import annotations

import math

import faiss

__all__ = ["FLAT_MAX_ROWS", "default_factory"]

#: Below this many rows ``factory=None`` picks "Flat" (exact search).
FLAT_MAX_ROWS = 50_000

# Index types whose content does not depend on how rows are split between
# add() calls: each row is stored or encoded on its own.
_ROW_BY_ROW = (
    faiss.IndexFlatCodes,  # Flat, SQ, PQ, LSH (additive quantizers excluded below)
    faiss.IndexIVFFlat,
    faiss.IndexIVFScalarQuantizer,
    faiss.IndexIVFPQ,
)


def default_factory(n_samples: int) -> str:
    """``"Flat"`` below 50,000 rows, else ``"IVF{round(4 sqrt(n))},Flat"``."""
    if n_samples < FLAT_MAX_ROWS:
        return "Flat"
    return f"IVF{round(4 * math.sqrt(n_samples))},Flat"


def adds_rows_alike(index):
    """Whether adding rows in blocks builds the same ``index`` as one add()."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexPreTransform):
        return adds_rows_alike(index.index)
    if isinstance(index, faiss.IndexRefine):
        return adds_rows_alike(index.base_index) and adds_rows_alike(index.refine_index)
    return isinstance(index, _ROW_BY_ROW) and not isinstance(
        index, faiss.IndexAdditiveQuantizer
    )


def _shards(index):
    """The sub-indexes of an ``IndexShards`` (shards built with global ids)."""
    if not isinstance(index, faiss.IndexShards):
        return []
    return [faiss.downcast_index(index.at(s)) for s in range(index.count())]


def _ivf(index):
    """The IVF inside ``index`` (or inside its first shard), or None."""
    shards = _shards(index)
    return faiss.try_extract_index_ivf(shards[0] if shards else index)


def search_params(index, k, sel, *, nprobe, ef_search):
    """faiss search parameters for ``index`` and ``k`` neighbours, with the ID
    selector ``sel`` (or None); None knobs take skseals's defaults:
    ``max(16, nlist // 100)`` probes, a queue of ``max(64, k)``."""
    ivf = _ivf(index)
    if ivf is not None:
        nprobe = nprobe or max(16, ivf.nlist // 100)
        return faiss.SearchParametersIVF(sel=sel, nprobe=min(nprobe, ivf.nlist))
    if isinstance(faiss.downcast_index(index), faiss.IndexHNSW):
        ef = max(ef_search or 64, k)
        return faiss.SearchParametersHNSW(sel=sel, efSearch=ef, bounded_queue=True)
    return faiss.SearchParameters(sel=sel)


def set_search_defaults(index, k, *, nprobe, ef_search):
    """The knobs of :func:`search_params` set on ``index`` itself, for
    searches without parameters (indexes that reject them)."""
    params = search_params(index, k, None, nprobe=nprobe, ef_search=ef_search)
    for sub in [index, *_shards(index)]:
        ivf = faiss.try_extract_index_ivf(sub)
        if ivf is not None:
            ivf.nprobe = params.nprobe
    for sub in (index, getattr(index, "base_index", None)):
        sub = faiss.downcast_index(sub) if sub is not None else None
        if isinstance(sub, faiss.IndexHNSW):
            sub.hnsw.efSearch = max(ef_search or 64, k)
