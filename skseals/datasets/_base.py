"""The shape of a concept data set (a Bunch) and its pool/test split."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["pool_test_split"]


def _seed_sequence(random_state):
    """A SeedSequence from an int, None, RandomState, Generator or SeedSequence.

    None draws the seed from numpy's global RandomState (scikit-learn's
    convention: ``np.random.seed`` makes it reproducible).
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:  # numpy's global RandomState, as scikit-learn
        random_state = check_random_state(None)
    if isinstance(random_state, numbers.Integral):
        return np.random.SeedSequence(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2**31 - 1)))
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63 - 1)))
    raise ValueError(
        "random_state must be an int, a numpy RandomState or Generator, or "
        f"None; got {random_state!r}."
    )


def pool_test_split(
    n_samples: int,
    concepts=(),
    *,
    test_size: float = 0.2,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
) -> np.ndarray:
    """Split rows into an unlabeled pool (0) and a held-out test split (1).

    Exactly ``round(test_size * n)`` rows go to the test split, stratified by
    concept: of each concept's members not already placed by an earlier
    concept, ``round(test_size * m)`` go to the test split, so every concept
    with enough members has positives on both sides. The other rows are split
    uniformly at random.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    concepts : sequence of array-like of int, default=()
        Member rows of each concept.
    test_size : float, default=0.2
        Fraction of the rows in the test split, in [0, 1).
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the split.

    Returns
    -------
    split : ndarray of int8 of shape (n_samples,)
        0 for a pool row, 1 for a test row.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.datasets import pool_test_split
    >>> split = pool_test_split(100, [np.arange(10)], test_size=0.3,
    ...                         random_state=0)
    >>> int(split.sum()), int(split[:10].sum())
    (30, 3)
    """
    if not (isinstance(test_size, numbers.Real) and 0 <= test_size < 1):
        raise ValueError(f"test_size must be a float in [0, 1); got {test_size!r}.")
    rng = np.random.default_rng(_seed_sequence(random_state))
    split = np.zeros(n_samples, dtype=np.int8)
    placed = np.zeros(n_samples, dtype=bool)
    for rows in concepts:
        rows = np.asarray(rows, dtype=np.int64)
        rows = np.unique(rows[~placed[rows]])
        k = int(round(test_size * rows.size))
        if k:
            split[rng.choice(rows, size=k, replace=False)] = 1
        placed[rows] = True
    free = np.flatnonzero(~placed)
    del placed
    k = int(round(test_size * n_samples)) - int(split.sum())
    k = min(max(k, 0), free.size)
    if k:
        split[free[rng.choice(free.size, size=k, replace=False)]] = 1
    return split


def _concept_bunch(X, indptr, members, names, split, **extra):
    """The Bunch every loader and generator returns (see make_rare_concepts)."""
    indptr = np.asarray(indptr, dtype=np.int64)
    members = np.asarray(members, dtype=np.int64)
    split = np.asarray(split, dtype=np.int8)
    concepts = [members[indptr[c] : indptr[c + 1]] for c in range(indptr.size - 1)]
    return Bunch(
        X=X,
        concepts=concepts,
        concept_indptr=indptr,
        concept_members=members,
        concept_names=np.asarray(names).astype(str),
        split=split,
        pool_ids=np.flatnonzero(split == 0),
        test_ids=np.flatnonzero(split == 1),
        **extra,
    )
