"""Turn an index alias or object into an index instance."""

from __future__ import annotations

from ..base import METRICS, BaseNeighborIndex, _is_index_like
from ._common import built_metric

__all__ = ["INDEX_ALIASES", "make_index"]

#: Accepted index aliases (``"hnsw"`` is a synonym of ``"hnswlib"``).
INDEX_ALIASES = ("exact", "faiss", "hnswlib", "hnsw", "annoy")


def make_index(
    index: str | BaseNeighborIndex = "faiss",
    metric: str | None = "cosine",
    n_samples: int | None = None,
) -> BaseNeighborIndex:
    """Resolve an index alias or object into an index instance.

    Aliases give a new unfitted index with ``metric``: "exact"
    (:class:`ExactIndex`), "faiss" (:class:`FaissIndex`, which picks its
    factory by the number of rows when fitted), "hnswlib" or "hnsw"
    (:class:`HNSWIndex`) and "annoy" (:class:`AnnoyIndex`). An index object is
    returned as is (not cloned: callers clone it unless it is fitted, and a
    fitted index is shared by :func:`sklearn.base.clone` anyway).

    Parameters
    ----------
    index : str or index object, default="faiss"
        An alias, or an object with ``fit``, ``search`` and ``search_rows``.
    metric : {"cosine", "euclidean", "inner_product"} or None, default="cosine"
        Metric of the new index. For an object, a metric it does not share
        raises ValueError; None skips the check.
    n_samples : int or None, default=None
        Rows the index will serve; a fitted object built on a different number
        of rows raises ValueError. None skips the check.

    Returns
    -------
    index : BaseNeighborIndex
        The unfitted new index, or the object passed.

    Examples
    --------
    >>> from skseals.neighbors import make_index
    >>> make_index("exact", "euclidean")
    ExactIndex(metric='euclidean')
    >>> make_index("hnsw").metric
    'cosine'
    """
    if metric is not None and metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if isinstance(index, str):
        key = index.lower()
        kwargs = {} if metric is None else {"metric": metric}
        if key == "exact":
            from ._exact import ExactIndex

            return ExactIndex(**kwargs)
        if key == "faiss":
            from ._faiss import FaissIndex

            return FaissIndex(**kwargs)
        if key in ("hnswlib", "hnsw"):
            from ._hnswlib import HNSWIndex

            return HNSWIndex(**kwargs)
        if key == "annoy":
            from ._annoy import AnnoyIndex

            return AnnoyIndex(**kwargs)
        raise ValueError(
            f"index={index!r} is not a known index alias: use one of "
            f"{INDEX_ALIASES} or pass an index object (e.g. FaissIndex('HNSW32'))."
        )
    if not _is_index_like(index):
        raise TypeError(
            "index must be an alias string or an object with fit, search and "
            f"search_rows methods (e.g. skseals.neighbors.FaissIndex), got "
            f"{type(index).__name__}."
        )
    own_metric = built_metric(index)
    if metric is not None and own_metric is not None and own_metric != metric:
        raise ValueError(
            f"the index has metric={own_metric!r} but metric={metric!r} was "
            "asked for: give both the same metric."
        )
    fitted_n = getattr(index, "n_samples_fit_", None)
    if n_samples is not None and fitted_n is not None and fitted_n != n_samples:
        raise ValueError(
            f"the index was fitted on {fitted_n} rows but X has {n_samples}: "
            "fit it on the same X, or pass an unfitted index."
        )
    return index
