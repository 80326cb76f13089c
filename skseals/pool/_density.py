"""Running sum of unit-norm embeddings of a candidate pool (information density)."""

from __future__ import annotations

import numpy as np

from ..utils import RowBitmap

__all__ = ["DensitySum"]


def unit_rows(X):
    """L2-normalised float64 copy of the rows of ``X`` (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


class DensitySum:
    """Sum of the unit-norm embeddings of the rows counted, kept current in O(m·d).

    For unit vectors the mean cosine similarity of ``z`` to a set equals
    ``z · mean(set)``, so information density needs only this sum and a count.
    ``add``/``remove`` ignore rows already counted / not counted, so callers can
    report every join and leave without tracking duplicates themselves.
    """

    _undo = None  # (sum, changes) while a checkpoint is open

    def __init__(self, X, n_rows):
        self._X = X
        self.counted = RowBitmap(n_rows)
        self.sum = np.zeros(X.shape[1], dtype=np.float64)

    @property
    def count(self):
        return len(self.counted)

    def add(self, rows, block=None, chunk_size=65536):
        """Count ``rows``; ``block``, when given, holds ``X[rows]`` (rows sorted)."""
        rows = np.asarray(rows, dtype=np.int64)
        if block is not None:
            new = ~self.counted.contains(rows)
            self._record(rows[new], True)
            self.sum += unit_rows(np.asarray(block)[new]).sum(axis=0)
            self.counted.add(rows[new])
            return
        rows = np.unique(rows[~self.counted.contains(rows)])
        self._record(rows, True)
        for start in range(0, rows.shape[0], chunk_size):
            part = rows[start : start + chunk_size]
            self.sum += unit_rows(self._X[part]).sum(axis=0)
        self.counted.add(rows)

    def remove(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        rows = np.unique(rows[self.counted.contains(rows)])
        self._record(rows, False)
        if rows.size:
            self.sum -= unit_rows(self._X[rows]).sum(axis=0)
            self.counted.discard(rows)

    def checkpoint(self):
        """Record the changes from now on, until :meth:`commit` or :meth:`rollback`."""
        self._undo = (self.sum.copy(), [])  # the sum; (rows, added) of each change

    def commit(self):
        """Stop recording."""
        self._undo = None

    def rollback(self):
        """Undo every change since :meth:`checkpoint`, in O(rows changed): the
        sum is set back exactly (adding rows back would round)."""
        total, changes = self._undo
        self._undo = None
        self.sum = total
        for rows, added in reversed(changes):
            if added:
                self.counted.discard(rows)
            else:
                self.counted.add(rows)

    def _record(self, rows, added):
        if self._undo is not None and rows.size:
            self._undo[1].append((rows, added))

    def get_state(self):
        return {"density_sum": self.sum.copy(), "density_rows": self.counted.ids()}

    @classmethod
    def from_state(cls, X, n_rows, state):
        new = cls(X, n_rows)
        new.sum = np.asarray(state["density_sum"], dtype=np.float64).copy()
        new.counted.add(state["density_rows"])
        return new

    def add_block(self, start, stop, mask):
        """Count rows ``start:stop`` where ``mask`` is True (full-scan seeding)."""
        rows = np.arange(start, stop, dtype=np.int64)[mask]
        self.sum += unit_rows(self._X[start:stop][mask]).sum(axis=0)
        self.counted.add(rows)
