"""A synthetic embedding data set with rare concepts, generated in chunks."""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.utils import Bunch

from ._base import _concept_bunch, _seed_sequence, pool_test_split

__all__ = ["make_rare_concepts"]

# Rows drawn from one random stream. Each block has its own stream, so the
# output never depends on how many blocks are generated at once (chunk_size).
_BLOCK = 1024


def _per_concept(value, n_concepts, name, kind):
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n_concepts, arr.item())
    if arr.shape != (n_concepts,):
        raise ValueError(
            f"{name} must be a single {kind} or one per concept (length "
            f"n_concepts={n_concepts}); got shape {arr.shape}."
        )
    return arr


def _check_int(value, name, low):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    return int(value)


def _check_float(value, name, low, high=np.inf, low_open=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"{name} must be a finite float in {bracket}{low}, {high}"
            f"{']' if np.isfinite(high) else ')'}; got {value!r}."
        )
    return float(value)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def make_rare_concepts(
    n_samples: int = 100_000,
    n_features: int = 128,
    n_concepts: int = 10,
    prevalence: float | np.ndarray = 0.001,
    *,
    n_background_clusters: int = 100,
    n_components: int | np.ndarray = 1,
    concept_spread: float = 1.0,
    background_spread: float = 1.0,
    concept_offset: float = 0.15,
    test_size: float = 0.2,
    chunk_size: int | None = 65_536,
    out: str | os.PathLike | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
) -> Bunch:
    """Make unit-norm embeddings with rare concepts hidden near background clusters.

    The background is a mixture of ``n_background_clusters`` Gaussian clusters
    of unequal sizes around random unit directions. Each rare concept is one or
    more small clusters (its *components*, as an OpenImages concept is
    fragmented into several visual modes), each centred ``concept_offset`` away
    from the centre of a background cluster, in a random direction: a concept
    overlaps a crowd of background rows, so it is hard to find by chance and
    its nearest neighbours are only partly its own members, but a linear model
    on the embeddings can learn it, as in the SEALS paper's set-up. Every row
    is ``centre + spread * noise / sqrt(n_features)``, then L2-normalised.
    With the default spreads and offset (200,000 rows, prevalence 0.5%),
    logistic regression reaches an average precision of about 0.7 on the test
    split after 1,000 actively chosen labels, from about 0.35 with the seed.

    Rows are generated in chunks of ``chunk_size`` rows, so memory beyond ``X``
    is O(chunk_size * n_features) plus O(n_samples) bytes for the split; with
    ``out`` set, ``X`` itself is a memory-mapped ``.npy`` file, so 10M x 128
    rows fit on a small machine. The result depends only on ``random_state``,
    never on ``chunk_size``.

    Parameters
    ----------
    n_samples : int, default=100_000
        Number of rows.
    n_features : int, default=128
        Embedding dimension.
    n_concepts : int, default=10
        Number of rare concepts (disjoint sets of rows).
    prevalence : float or array-like of shape (n_concepts,), default=0.001
        Fraction of the rows in each concept; a concept has exactly
        ``round(prevalence * n_samples)`` members.
    n_background_clusters : int, default=100
        Number of background clusters.
    n_components : int or array-like of shape (n_concepts,), default=1
        Number of separate clusters each concept is split into. Each component
        sits near a different background cluster when there are enough.
    concept_spread : float, default=1.0
        Noise scale of a concept component (relative to its unit centre).
    background_spread : float, default=1.0
        Noise scale of a background cluster.
    concept_offset : float, default=0.15
        Distance from a background cluster centre to the centre of a concept
        component near it, before normalisation. Smaller is harder.
    test_size : float, default=0.2
        Fraction of rows in the held-out test split (stratified for concept
        members, see :func:`pool_test_split`).
    chunk_size : int or None, default=65_536
        Rows generated at once (rounded up to a multiple of 1024); None
        generates everything at once.
    out : str or path-like, default=None
        If given, ``X`` is written to this ``.npy`` file through
        :func:`numpy.lib.format.open_memmap` and returned as a memory map.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the data set; None draws one from numpy's global RandomState.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        X : ndarray or memmap of shape (n_samples, n_features), float32
            Unit-norm embeddings.
        concepts : list of ndarray of int64
            Sorted member rows of each concept (views into ``concept_members``).
        concept_indptr, concept_members : ndarray of int64
            The same membership in CSR form: the rows of concept ``c`` are
            ``concept_members[concept_indptr[c]:concept_indptr[c + 1]]``.
        concept_component : ndarray of int64
            Component of each entry of ``concept_members``.
        concept_names : ndarray of str
            ``"concept_0"``, ``"concept_1"``, ...
        split : ndarray of int8 of shape (n_samples,)
            0 for the unlabeled pool, 1 for the test split.
        pool_ids, test_ids : ndarray of int64
            Rows of the pool and of the test split.

    See Also
    --------
    load_concept_data : Read real embeddings and concepts in the same form.

    Examples
    --------
    >>> from skseals.datasets import make_rare_concepts
    >>> data = make_rare_concepts(5000, 16, n_concepts=2, prevalence=0.01,
    ...                           random_state=0)
    >>> data.X.shape, data.X.dtype
    ((5000, 16), dtype('float32'))
    >>> [len(rows) for rows in data.concepts]
    [50, 50]
    >>> int(data.split.sum())  # test rows
    1000
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 2)
    n_concepts = _check_int(n_concepts, "n_concepts", 0)
    n_bg = _check_int(n_background_clusters, "n_background_clusters", 1)
    concept_spread = _check_float(concept_spread, "concept_spread", 0.0)
    background_spread = _check_float(background_spread, "background_spread", 0.0)
    concept_offset = _check_float(concept_offset, "concept_offset", 0.0)
    test_size = _check_float(test_size, "test_size", 0.0, 1.0)
    if test_size == 1.0:
        raise ValueError("test_size must be < 1 (the pool would be empty).")
    if chunk_size is not None:
        chunk_size = _check_int(chunk_size, "chunk_size", 1)
    prevalence = _per_concept(prevalence, n_concepts, "prevalence", "float")
    if prevalence.dtype.kind not in "fiu" or not np.all(
        np.isfinite(prevalence) & (prevalence > 0)
    ):
        raise ValueError(
            f"prevalence must be a finite number > 0; got {prevalence.tolist()}."
        )
    sizes = np.rint(prevalence.astype(np.float64) * n_samples).astype(np.int64)
    if sizes.sum() > n_samples // 2:
        raise ValueError(
            "prevalence is too large: the concepts would hold more than half "
            f"of the n_samples={n_samples} rows; lower prevalence or n_concepts."
        )
    n_components = _per_concept(n_components, n_concepts, "n_components", "int")
    if n_components.dtype.kind not in "iu" or np.any(n_components < 1):
        raise ValueError(
            f"n_components must be ints >= 1; got {n_components.tolist()}."
        )
    n_components = n_components.astype(np.int64)
    if np.any(sizes < n_components):
        c = int(np.flatnonzero(sizes < n_components)[0])
        raise ValueError(
            f"prevalence gives concept {c} {sizes[c]} members, fewer than its "
            f"n_components={n_components[c]}; raise prevalence or n_samples."
        )

    seq = _seed_sequence(random_state)
    structure_seq, block_seq, split_seq = seq.spawn(3)
    rng = np.random.default_rng(structure_seq)

    # Background: unit centres, unequal cluster sizes.
    centers = _unit(rng.standard_normal((n_bg, n_features)))
    weights = rng.dirichlet(np.full(n_bg, 5.0))
    cdf = np.cumsum(weights)
    cdf[-1] = 1.0

    # Concepts: each component near the centre of its own background cluster.
    total = int(n_components.sum())
    parents = rng.choice(n_bg, size=total, replace=total > n_bg)
    u = rng.standard_normal((total, n_features))
    u -= np.sum(u * centers[parents], axis=1, keepdims=True) * centers[parents]
    comp_centers = _unit(centers[parents] + concept_offset * _unit(u))
    comp_start = np.concatenate([[0], np.cumsum(n_components)])

    members_all = rng.choice(n_samples, size=int(sizes.sum()), replace=False)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    members = np.empty_like(members_all)
    component = np.empty_like(members_all)
    for c in range(n_concepts):
        lo, hi = indptr[c], indptr[c + 1]
        rows = members_all[lo:hi]
        comp = rng.integers(n_components[c], size=hi - lo)
        comp[: n_components[c]] = np.arange(n_components[c])
        order = np.argsort(rows)
        members[lo:hi] = rows[order]
        component[lo:hi] = comp[order]
    # Row -> global component, for the rows of any concept, sorted by row.
    flat_comp = component + np.repeat(comp_start[:-1], sizes)
    by_row = np.argsort(members, kind="stable")
    member_rows, member_comp = members[by_row], flat_comp[by_row]

    if out is not None:
        X = np.lib.format.open_memmap(
            os.fspath(out), mode="w+", dtype=np.float32, shape=(n_samples, n_features)
        )
    else:
        X = np.empty((n_samples, n_features), dtype=np.float32)
    step = n_samples if chunk_size is None else chunk_size
    step = -(-step // _BLOCK) * _BLOCK
    bg_scale = np.float32(background_spread / np.sqrt(n_features))
    c_scale = np.float32(concept_spread / np.sqrt(n_features))
    centers32, comp32 = centers.astype(np.float32), comp_centers.astype(np.float32)
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        noise = np.empty((stop - start, n_features), dtype=np.float32)
        cluster = np.empty(stop - start, dtype=np.intp)
        for b0 in range(start, stop, _BLOCK):
            b1 = min(b0 + _BLOCK, stop)
            block_rng = np.random.default_rng(
                np.random.SeedSequence(
                    block_seq.entropy, spawn_key=(*block_seq.spawn_key, b0 // _BLOCK)
                )
            )
            cluster[b0 - start : b1 - start] = np.searchsorted(
                cdf, block_rng.random(b1 - b0), side="right"
            )
            block_rng.standard_normal(
                out=noise[b0 - start : b1 - start], dtype=np.float32
            )
        chunk = centers32[np.minimum(cluster, n_bg - 1)]
        chunk += bg_scale * noise
        lo, hi = np.searchsorted(member_rows, [start, stop])
        local = member_rows[lo:hi] - start
        chunk[local] = comp32[member_comp[lo:hi]] + c_scale * noise[local]
        chunk /= np.sqrt(np.einsum("ij,ij->i", chunk, chunk))[:, None]
        X[start:stop] = chunk
    if out is not None:
        X.flush()

    concepts = [members[indptr[c] : indptr[c + 1]] for c in range(n_concepts)]
    split = pool_test_split(
        n_samples, concepts, test_size=test_size, random_state=split_seq
    )
    names = [f"concept_{c}" for c in range(n_concepts)]
    return _concept_bunch(X, indptr, members, names, split, concept_component=component)
