"""A contiguous copy of the rows of X that a candidate pool holds."""

from __future__ import annotations

import numpy as np

__all__ = ["RowBuffer"]


class RowBuffer:
    """Rows of ``X`` copied once, when they join a pool, into one block.

    Scoring a pool of ``m`` candidates then reads one contiguous ``(m, d)``
    block instead of gathering ``X[candidates]`` every round (a random-access
    copy that costs more than the scoring itself, and a disk read when ``X`` is
    memory-mapped). Rows are kept in the order they joined; rows that left the
    pool stay until :meth:`compact` drops them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Rows are read as ``X[sorted_ids]``.
    """

    def __init__(self, X):
        self._X = X
        self._rows = np.empty(0, dtype=np.int64)
        self._block = np.empty((0, X.shape[1]), dtype=X.dtype)
        self._size = 0
        self._norms = None  # row_norms of the first _n_normed rows
        self._n_normed = 0

    def __len__(self):
        return self._size

    @property
    def nbytes(self):
        return self._rows.nbytes + self._block.nbytes

    def append(self, rows, block=None):
        """Copy the rows ``rows`` of X (ids not already held) to the end.

        ``block``, when given, holds ``X[rows]`` already read (``rows`` sorted).
        """
        if block is None:
            rows = np.sort(np.asarray(rows, dtype=np.int64))
        m = rows.shape[0]
        if m == 0:
            return
        need = self._size + m
        if need > self._rows.shape[0]:
            cap = max(need, 2 * self._rows.shape[0], 1024)
            grown_rows = np.empty(cap, dtype=np.int64)
            grown_rows[: self._size] = self._rows[: self._size]
            grown = np.empty((cap, self._block.shape[1]), dtype=self._block.dtype)
            grown[: self._size] = self._block[: self._size]
            self._rows, self._block = grown_rows, grown
        self._rows[self._size : need] = rows
        self._block[self._size : need] = self._X[rows] if block is None else block
        self._size = need

    def view(self):
        """``(rows, block)``: the ids held and their rows (views, do not modify)."""
        return self._rows[: self._size], self._block[: self._size]

    def norms(self):
        """L2 norms of the rows of :meth:`view`'s block (do not modify),
        computed once per row, when first asked for."""
        from ..query._search import row_norms

        if self._norms is None or self._norms.shape[0] < self._size:
            grown = np.empty(self._rows.shape[0], dtype=_norm_dtype(self._block))
            if self._n_normed:
                grown[: self._n_normed] = self._norms[: self._n_normed]
            self._norms = grown
        if self._n_normed < self._size:
            start, stop = self._n_normed, self._size
            self._norms[start:stop] = row_norms(self._block[start:stop])
            self._n_normed = stop
        return self._norms[: self._size]

    def compact(self, keep):
        """Keep only the rows where the boolean mask ``keep`` is True (in place)."""
        kept = int(np.count_nonzero(keep))
        rows, block = self.view()
        self._rows[:kept] = rows[keep]
        self._block[:kept] = block[keep]
        if self._norms is not None and self._n_normed == self._size:
            self._norms[:kept] = self._norms[: self._size][keep]
            self._n_normed = kept
        else:
            self._n_normed = 0
        self._size = kept


def _norm_dtype(block):
    """The dtype ``row_norms`` gives for rows of ``block``."""
    return np.float32 if block.dtype == np.float32 else np.float64
