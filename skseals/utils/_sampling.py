"""Uniform samples of available rows without touching every row."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_available"]


def sample_available(excluded, size, random_state):
    """``size`` distinct rows drawn uniformly from the rows not in ``excluded``.

    Rejection sampling costs O(size) expected while most rows are available;
    when the sample would be more than half of what is left, the available
    rows are enumerated instead (O(n_rows), rare).

    Parameters
    ----------
    excluded : RowBitmap
        Rows that must not be drawn (e.g. the labeled ones); its ``n_rows``
        is the number of rows drawn from.
    size : int
        Number of rows wanted.
    random_state : numpy.random.RandomState
        The source of randomness (the learner's).

    Returns
    -------
    rows : ndarray of int64 of shape (min(size, n_available),)
        Distinct row ids not in ``excluded``, sorted; fewer than ``size``
        only when fewer rows are available (none when ``size <= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import RowBitmap, sample_available
    >>> ex = RowBitmap(100); ex.add(np.arange(50))
    >>> rows = sample_available(ex, 10, np.random.RandomState(0))
    >>> len(rows), bool((rows >= 50).all())
    (10, True)
    >>> len(sample_available(ex, 80, np.random.RandomState(0)))  # 50 are left
    50
    """
    n = excluded.n_rows
    n_available = n - len(excluded)
    size = int(min(size, n_available))
    if size <= 0:
        return np.empty(0, dtype=np.int64)
    if 2 * size > n_available:
        avail = np.flatnonzero(~excluded.dense())
        rows = random_state.choice(avail, size, replace=False)
    else:
        rows = np.empty(0, dtype=np.int64)
        while rows.shape[0] < size:
            draw = random_state.randint(0, n, size=2 * (size - rows.shape[0]) + 16)
            draw = draw[~excluded.contains(draw)]
            rows = np.union1d(rows, draw)
        rows = random_state.choice(rows, size, replace=False)
    return np.sort(rows).astype(np.int64)
