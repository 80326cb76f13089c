"""A set of row ids over n rows: a packed bitmap plus a sorted id list."""

from __future__ import annotations

import numpy as np

__all__ = ["RowBitmap"]


class RowBitmap:
    """Set of row ids in ``[0, n_rows)`` with O(m) updates and O(1) memory per 8 rows.

    The set is stored twice: as a packed little-endian bitmap (``bits``, one bit
    per row, the layout ``faiss.IDSelectorBitmap`` reads) and as a sorted array of
    the ids it holds (``ids()``), so that a backend can use whichever its library
    needs. Adding or removing ``m`` rows costs O(m log m + |set|) for the id list
    and O(m) for the bitmap; nothing is ever O(n_rows) after construction.

    ``version`` increases on every change, so a consumer that mirrors the set
    (hnswlib's deletion marks) can tell cheaply whether it is up to date.

    Parameters
    ----------
    n_rows : int
        Number of rows the ids index into.

    Examples
    --------
    >>> from skseals.utils import RowBitmap
    >>> s = RowBitmap(10)
    >>> s.add([3, 8])
    >>> s.contains([2, 3, 8]).tolist()
    [False, True, True]
    >>> s.ids().tolist(), len(s)
    ([3, 8], 2)
    """

    def __init__(self, n_rows):
        self.n_rows = int(n_rows)
        self.bits = np.zeros((self.n_rows + 7) // 8, dtype=np.uint8)
        self._ids = np.empty(0, dtype=np.int64)
        self.version = 0

    def __len__(self):
        return int(self._ids.shape[0])

    def __eq__(self, other):
        if not isinstance(other, RowBitmap):
            return NotImplemented
        return self.n_rows == other.n_rows and np.array_equal(self._ids, other._ids)

    def _as_rows(self, rows):
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"row ids must lie in [0, {self.n_rows})")
        return rows

    def contains(self, rows):
        """Boolean array: for each row id, whether it is in the set."""
        rows = self._as_rows(rows)
        return ((self.bits[rows >> 3] >> (rows & 7).astype(np.uint8)) & 1).astype(bool)

    def add(self, rows):
        """Add row ids (duplicates and members already present are fine)."""
        rows = self._as_rows(rows)
        if rows.size == 0:
            return
        new = np.unique(rows[~self.contains(rows)])
        if new.size == 0:
            return
        np.bitwise_or.at(self.bits, new >> 3, (1 << (new & 7)).astype(np.uint8))
        self._ids = np.union1d(self._ids, new)
        self.version += 1

    def discard(self, rows):
        """Remove row ids (ids not in the set are ignored)."""
        rows = self._as_rows(rows)
        if rows.size == 0:
            return
        old = np.unique(rows[self.contains(rows)])
        if old.size == 0:
            return
        np.bitwise_and.at(self.bits, old >> 3, (~(1 << (old & 7))).astype(np.uint8))
        self._ids = np.setdiff1d(self._ids, old, assume_unique=True)
        self.version += 1

    def ids(self):
        """Sorted int64 array of the ids in the set (a view: do not modify)."""
        return self._ids

    def dense(self, start=0, stop=None):
        """Unpacked boolean membership of rows ``start:stop`` (for block scans)."""
        stop = self.n_rows if stop is None else min(stop, self.n_rows)
        lo, hi = start >> 3, (stop + 7) >> 3
        block = np.unpackbits(self.bits[lo:hi], bitorder="little").astype(bool)
        off = start - (lo << 3)
        return block[off : off + (stop - start)]

    def copy(self):
        """An independent copy."""
        new = RowBitmap.__new__(RowBitmap)
        new.n_rows = self.n_rows
        new.bits = self.bits.copy()
        new._ids = self._ids.copy()
        new.version = self.version
        return new

    def __getstate__(self):
        # The bitmap is derived from the ids: store only the ids.
        return {"n_rows": self.n_rows, "ids": self._ids, "version": self.version}

    def __setstate__(self, state):
        self.n_rows = state["n_rows"]
        self.bits = np.zeros((self.n_rows + 7) // 8, dtype=np.uint8)
        self._ids = np.empty(0, dtype=np.int64)
        self.version = 0
        self.add(state["ids"])
        self.version = state["version"]

    def __repr__(self):
        return f"RowBitmap(n_rows={self.n_rows}, size={len(self)})"
