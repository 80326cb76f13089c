"""The concept structure report of the SEALS paper (Sec. 6, Figures 3 and 10)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_array

from ..base import METRICS
from ..neighbors import KNNGraph, make_index
from ._result import ConceptStructure

__all__ = ["concept_structure"]

#: Positives searched per call to the index.
_SEARCH_BATCH = 4096
#: BFS sources per call to ``shortest_path`` (bounds its (sources x m) output).
_PATH_BATCH = 256


def _check_positives(positives, n_rows):
    """Sorted distinct row ids from ids or a boolean mask, else ValueError."""
    if positives is None:
        raise ValueError(
            "positives is required: pass the row indices of the known positives "
            "(or a boolean mask over the rows)."
        )
    pos = np.asarray(positives)
    if pos.dtype == bool:
        if pos.ndim != 1 or (n_rows is not None and pos.shape[0] != n_rows):
            raise ValueError(
                f"positives is a boolean mask of shape {pos.shape}; a mask needs "
                f"one entry per row ({n_rows})."
            )
        pos = np.flatnonzero(pos)
    elif pos.size and pos.dtype.kind not in "iu":
        raise ValueError(
            f"positives must be integer row indices or a boolean mask; got dtype "
            f"{pos.dtype}."
        )
    pos = np.unique(pos.astype(np.int64).ravel())
    if pos.size == 0:
        raise ValueError("positives is empty: give at least one known positive row.")
    if pos[0] < 0 or (n_rows is not None and pos[-1] >= n_rows):
        raise ValueError(
            f"positives must be row indices in [0, {n_rows}); got values from "
            f"{pos[0]} to {pos[-1]}."
        )
    return pos


def _check_X(X):
    if X is None:
        return None
    return check_array(X, dtype=[np.float32, np.float64], input_name="X")


def _neighbor_table(X, positives, k, index, metric):
    """``(table, n_rows)``: the k nearest neighbours of each positive, -1 padded.

    Only the positives are searched (one batched ``search_rows`` per
    ``_SEARCH_BATCH`` rows), or looked up in a fitted KNNGraph.
    """
    if isinstance(index, KNNGraph):
        n = getattr(index, "n_samples_fit_", None)
        if n is None:
            raise ValueError(
                "index is an unfitted KNNGraph, which would compute the neighbours "
                "of every row: pass a fitted KNNGraph, or the index it is built "
                "with (only the positives' neighbours are searched)."
            )
        if index.metric != metric:
            raise ValueError(
                f"the KNNGraph has metric={index.metric!r} but metric={metric!r} "
                "was asked for: give both the same metric."
            )
        if k > index.n_neighbors:
            raise ValueError(
                f"n_neighbors={k} exceeds the {index.n_neighbors} neighbours stored "
                "per row in the KNNGraph: use n_neighbors <= "
                f"{index.n_neighbors} or a graph with more."
            )
        _check_rows(X, n)
        positives = _check_positives(positives, n)
        table = np.asarray(index.neighbors_[positives, :k], dtype=np.int64)
        return positives, table, n
    index = make_index(index, metric)
    fitted = getattr(index, "n_samples_fit_", None) is not None
    if not fitted and X is None:
        raise ValueError(
            "X is required when index is an alias or an unfitted index: pass the "
            "embeddings, or a fitted index (or KNNGraph) built on them."
        )
    n = index.n_samples_fit_ if fitted else X.shape[0]
    _check_rows(X, n)
    positives = _check_positives(positives, n)
    if not fitted:
        index = clone(index).fit(X)
    kk = min(k + 1, n)
    parts = []
    for start in range(0, positives.size, _SEARCH_BATCH):
        rows = positives[start : start + _SEARCH_BATCH]
        _, ind = index.search_rows(rows, kk)
        ind = np.asarray(ind, dtype=np.int64)
        # Drop the row itself (or the last result when it was not returned).
        order = np.argsort(ind == rows[:, None], axis=1, kind="stable")[:, : kk - 1]
        parts.append(np.take_along_axis(ind, order, axis=1))
    return positives, np.concatenate(parts), n


def _check_rows(X, n):
    if X is not None and X.shape[0] != n:
        raise ValueError(
            f"X has {X.shape[0]} rows but the index was built on {n}: pass the X "
            "the index was fitted on (or X=None)."
        )


def _positive_graph(positives, table):
    """Symmetric CSR adjacency among positives: i - j if either lists the other."""
    m = positives.size
    valid = table >= 0
    where = np.searchsorted(positives, np.where(valid, table, 0))
    where = np.minimum(where, m - 1)
    hit = valid & (positives[where] == table)
    src = np.repeat(np.arange(m), table.shape[1]).reshape(table.shape)[hit]
    dst = where[hit]
    A = coo_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(m, m)).tocsr()
    A = ((A + A.T) > 0).astype(np.int8)
    A.setdiag(0)
    A.eliminate_zeros()
    return A


def _path_lengths(A, labels, sizes, max_sources, rng):
    """Mean and max hops over connected pairs; sources sampled past max_sources."""
    connected = np.flatnonzero(sizes[labels] >= 2)
    if connected.size == 0:
        return float("nan"), 0, False, 0
    sampled = connected.size > max_sources
    sources = connected
    if sampled:
        sources = np.sort(rng.choice(connected, max_sources, replace=False))
    total, count, longest = 0.0, 0, 0
    for start in range(0, sources.size, _PATH_BATCH):
        dist = shortest_path(
            A,
            method="D",
            directed=False,
            unweighted=True,
            indices=sources[start : start + _PATH_BATCH],
        )
        d = dist[np.isfinite(dist) & (dist > 0)]
        total += float(d.sum())
        count += d.size
        longest = max(longest, int(d.max()))
    return total / count, longest, bool(sampled), int(sources.size)


@validate_params(
    {
        "X": ["array-like", None],
        "positives": ["array-like", None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "index": [
            StrOptions({"exact", "faiss", "hnswlib", "hnsw", "annoy"}),
            HasMethods(["fit", "search", "search_rows"]),
        ],
        "metric": [StrOptions(set(METRICS))],
        "max_sources": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def concept_structure(
    X: ArrayLike | None = None,
    positives: ArrayLike | None = None,
    *,
    n_neighbors: int = 100,
    index="faiss",
    metric: str = "cosine",
    max_sources: int = 1000,
    random_state: int | np.random.RandomState | None = 0,
) -> ConceptStructure:
    """Connected components of a concept's positives in the kNN graph.

    The SEALS paper's analysis (Coleman et al., Sec. 6, Figures 3 and 10):
    take the k-nearest-neighbour graph over all rows, keep only the known
    positives, and ask how they hang together. SEALS grows its candidate pool
    from the neighbours of labeled rows, so positives in the same connected
    component can be reached from one another through chains of positives;
    a concept whose positives mostly share one component is one SEALS finds
    well, and the paper found this share to track the average precision SEALS
    reaches. Use it before labeling to choose k, or to see that a concept is
    split into separate groups that each need a seed.

    The graph is **undirected**, as in the paper: positives ``i`` and ``j``
    are joined when ``j`` is among the ``n_neighbors`` nearest neighbours of
    ``i`` over *all* rows (positives or not), or ``i`` among those of ``j``.
    Only the positives' neighbours are needed: they are searched with one
    batched :meth:`~skseals.base.BaseNeighborIndex.search_rows` call per
    4,096 positives, or looked up in a fitted
    :class:`~skseals.neighbors.KNNGraph`; no all-rows graph is built.

    Shortest paths (in hops, :func:`scipy.sparse.csgraph.shortest_path`) are
    measured by breadth-first search from every positive that has a
    connected partner; past ``max_sources`` such positives, from a uniform
    random sample of ``max_sources`` of them (seeded by ``random_state``), and
    the mean over the pairs found estimates the mean over all connected pairs.

    The undirected graph is a guide to what SEALS reaches, not a bound: the
    pool grows along each labeled row's own list (the directed graph), so a
    positive joined only through another's list is reached from that side;
    and SEALS also expands through labeled negatives, which can bridge
    components. Reaching a positive (having it in the candidate pool) is not
    finding it either: the classifier must still rank it high.

    The report is only as complete as the positives it is given: with a few
    known positives, unknown positives that would bridge two of them are
    missing, so the known ones look more fragmented than the concept is.
    The paper computes it with all the positives of a labeled data set.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or None, default=None
        Every row (the rows SEALS will search). Needed when ``index`` is an
        alias or an unfitted index; may be None with a fitted index or graph.
    positives : array-like of int or of bool
        Row indices of the known positives (duplicates ignored), or a boolean
        mask with one entry per row.
    n_neighbors : int, default=100
        The k of the kNN graph (the ``n_neighbors`` of
        :class:`~skseals.pool.KNNPool`).
    index : {"faiss", "exact", "hnswlib", "annoy"}, index object or KNNGraph, \
default="faiss"
        An alias builds a new index over ``X``; an unfitted index object is
        cloned and fitted on ``X``; a fitted index is searched as is; a fitted
        :class:`~skseals.neighbors.KNNGraph` (with at least ``n_neighbors``
        neighbours per row) is read and never searched.
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        Metric of a new index; must match an index object's.
    max_sources : int, default=1000
        Most positives to measure shortest paths from (see above).
    random_state : int, RandomState instance or None, default=0
        Seeds the sample of path sources.

    Returns
    -------
    structure : ConceptStructure
        Counts, component sizes, the largest component's share, path lengths,
        and :meth:`~ConceptStructure.summary` for a user.

    Examples
    --------
    Two groups of points on a line; with k=1 each point is joined to its
    nearest neighbour:

    >>> import numpy as np
    >>> from skseals.analysis import concept_structure
    >>> X = np.array([[0.0], [1.0], [2.5], [10.0], [11.0], [30.0]])
    >>> s = concept_structure(X, [0, 1, 2, 3, 4], n_neighbors=1,
    ...                       index="exact", metric="euclidean")
    >>> s.n_components, s.component_sizes.tolist(), s.largest_component_share
    (2, [3, 2], 0.6)
    >>> round(s.mean_path_length, 3)  # pairs 0-1, 1-2 (1 hop), 0-2 (2), 3-4 (1)
    1.25
    >>> print(s.summary().splitlines()[0])
    SEALS with k=1 can reach 60% of the 5 known positives from any one of them: \
3 form one connected component of the 1-nearest-neighbour graph (euclidean).
    """
    X = _check_X(X)
    positives, table, _ = _neighbor_table(X, positives, n_neighbors, index, metric)
    A = _positive_graph(positives, table)
    n_comp, labels = connected_components(A, directed=False)
    sizes = np.bincount(labels, minlength=n_comp)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_comp)
    labels, sizes = rank[labels].astype(np.int64), sizes[order].astype(np.int64)
    mean_path, max_path, sampled, n_sources = _path_lengths(
        A, labels, sizes, max_sources, check_random_state(random_state)
    )
    return ConceptStructure(
        n_neighbors=int(n_neighbors),
        metric=metric,
        n_positives=int(positives.size),
        n_components=int(n_comp),
        component_sizes=sizes,
        largest_component_share=float(sizes[0] / positives.size),
        n_isolated=int((sizes == 1).sum()),
        n_edges=int(A.nnz // 2),
        mean_path_length=mean_path,
        max_path_length=max_path,
        path_sampled=sampled,
        n_path_sources=n_sources,
        positives=positives,
        component_labels=labels,
    )
