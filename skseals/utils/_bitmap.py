"""A set of row ids over n rows: a packed bitmap plus a sorted id list."""

from __future__ import annotations

import numpy as np

from ._compiled import compiled

__all__ = ["RowBitmap"]

_BIT = (1 << np.arange(8)).astype(np.uint8)  # _BIT[i]: the mask of bit i


class RowBitmap:
    """Set of row ids in ``[0, n_rows)`` with O(m) updates and O(1) memory per 8 rows.

    The set is stored twice: as a packed little-endian bitmap (``bits``, one bit
    per row, the layout ``faiss.IDSelectorBitmap`` reads) and as a sorted array of
    the ids it holds (``ids()``), so that a backend can use whichever its library
    needs. Adding or removing ``m`` rows costs O(m); the sorted id list is rebuilt
    lazily when asked for. Nothing is O(n_rows) after construction.

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
        self._added = []  # id chunks added since the id list was last rebuilt
        self._dirty = False  # ids were discarded since then
        self._count = 0
        self.version = 0

    _busy = False  # an update is under way (left set: it was interrupted)

    def __len__(self):
        if self._busy:
            self._settle()
        return self._count

    def _settle(self):
        """After an update interrupted between its bits and its bookkeeping
        (a Ctrl-C, an error): the bits are the truth, the rest is rebuilt
        from them (O(n_rows), only then)."""
        bits = np.unpackbits(self.bits, bitorder="little")[: self.n_rows]
        ids = np.flatnonzero(bits).astype(np.int64)
        self._ids, self._added, self._dirty = ids, [], False
        self._count = int(ids.size)
        self.version += 1
        self._busy = False

    def __eq__(self, other):
        if not isinstance(other, RowBitmap):
            return NotImplemented
        return self.n_rows == other.n_rows and np.array_equal(self.ids(), other.ids())

    def _as_rows(self, rows):
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"row ids must lie in [0, {self.n_rows})")
        return rows

    def contains(self, rows):
        """Boolean array: for each row id, whether it is in the set.

        Parameters
        ----------
        rows : int or array-like of int
            Row ids in ``[0, n_rows)`` (raveled to 1-d).

        Returns
        -------
        mask : ndarray of bool of shape (rows.size,)
            ``mask[i]`` is True when ``rows[i]`` is in the set.

        Raises
        ------
        IndexError
            If an id lies outside ``[0, n_rows)``.
        """
        return self.contains_ids(self._as_rows(rows))

    def contains_ids(self, rows):
        """:meth:`contains` for an int64 array of ids known to lie in range.

        Skips the argument checks, for hot loops over ids the library made.

        Parameters
        ----------
        rows : ndarray of int64
            Row ids in ``[0, n_rows)``; not checked (an id out of range reads
            the wrong bit or raises ``IndexError``).

        Returns
        -------
        mask : ndarray of bool, same shape as ``rows``
            Whether each id is in the set.
        """
        if rows.dtype == np.int64 and rows.ndim == 1 and rows.flags.c_contiguous:
            kernels = compiled("utils._bitmap_kernels")  # None without numba
            if kernels is not None:
                return kernels.contains(self.bits, rows)
        return (self.bits[rows >> 3] & _BIT[rows & 7]) != 0

    def add(self, rows):
        """Add row ids (duplicates and members already present are fine). O(m).

        Parameters
        ----------
        rows : int or array-like of int
            Row ids in ``[0, n_rows)``.

        Raises
        ------
        IndexError
            If an id lies outside ``[0, n_rows)`` (nothing is added).
        """
        rows = self._as_rows(rows)
        if rows.size == 0:
            return
        if self._busy:
            self._settle()
        self._busy = True  # (until the bookkeeping follows the bits)
        kernels = compiled("utils._bitmap_kernels")  # None without numba
        if kernels is not None:
            new = kernels.add(self.bits, rows)  # (distinct, their bits now set)
        else:
            new = rows[~self.contains_ids(rows)]
            if new.size > 1:
                new = np.unique(new)
            np.bitwise_or.at(self.bits, new >> 3, _BIT[new & 7])
        if new.size:
            self._added.append(new)
            self._count += int(new.size)
            self.version += 1
        self._busy = False

    def add_new_ids(self, rows):
        """:meth:`add` for an int64 array of distinct in-range ids not in the set.

        Skips the checks and the de-duplication, for hot loops over ids the
        library has just filtered with :meth:`contains_ids`.

        Parameters
        ----------
        rows : ndarray of int64
            Distinct row ids in ``[0, n_rows)``, none of them in the set; not
            checked (breaking this leaves ``len`` and ``ids()`` wrong). The
            array is kept, not copied: do not modify it afterwards.
        """
        if rows.size == 0:
            return
        if self._busy:
            self._settle()
        self._busy = True
        np.bitwise_or.at(self.bits, rows >> 3, _BIT[rows & 7])
        self._added.append(rows)
        self._count += int(rows.size)
        self.version += 1
        self._busy = False

    def discard(self, rows):
        """Remove row ids (ids not in the set are ignored). O(m).

        Parameters
        ----------
        rows : int or array-like of int
            Row ids in ``[0, n_rows)``.

        Raises
        ------
        IndexError
            If an id lies outside ``[0, n_rows)`` (nothing is removed).
        """
        rows = self._as_rows(rows)
        if rows.size == 0:
            return
        if self._busy:
            self._settle()
        self._busy = True
        kernels = compiled("utils._bitmap_kernels")  # None without numba
        if kernels is not None:
            old = kernels.discard(self.bits, rows)  # (distinct, bits now clear)
        else:
            old = rows[self.contains_ids(rows)]
            if old.size > 1:
                old = np.unique(old)
            np.bitwise_and.at(self.bits, old >> 3, ~_BIT[old & 7])
        if old.size:
            self._dirty = True
            self._count -= int(old.size)
            self.version += 1
        self._busy = False

    def ids(self):
        """Sorted int64 array of the ids in the set (do not modify).

        The list is rebuilt from the chunks added since the last call, in
        O(size log size) once, so many small ``add`` calls stay O(m) each.

        Returns
        -------
        ids : ndarray of int64 of shape (len(self),)
            The ids in increasing order; the bitmap's own array, not a copy.
        """
        if self._busy:
            self._settle()
        if self._added or self._dirty:
            ids = np.concatenate([self._ids, *self._added])
            if self._dirty:
                ids = ids[self.contains(ids)]
            ids = np.unique(ids)
            self._ids, self._added, self._dirty = ids, [], False
        return self._ids

    def dense(self, start=0, stop=None):
        """Unpacked boolean membership of rows ``start:stop`` (for block scans).

        Parameters
        ----------
        start : int, default=0
            First row of the block.
        stop : int or None, default=None
            Row after the last one (clipped to ``n_rows``); None means
            ``n_rows``.

        Returns
        -------
        mask : ndarray of bool of shape (stop - start,)
            ``mask[i]`` is True when row ``start + i`` is in the set.
        """
        stop = self.n_rows if stop is None else min(stop, self.n_rows)
        lo, hi = start >> 3, (stop + 7) >> 3
        block = np.unpackbits(self.bits[lo:hi], bitorder="little").astype(bool)
        off = start - (lo << 3)
        return block[off : off + (stop - start)]

    def copy(self):
        """An independent copy.

        Returns
        -------
        bitmap : RowBitmap
            The same ids and ``version``; changing either leaves the other
            alone.
        """
        new = RowBitmap.__new__(RowBitmap)
        new.n_rows = self.n_rows
        new.bits = self.bits.copy()
        new._ids = self.ids().copy()
        new._added, new._dirty, new._count = [], False, self._count
        new.version = self.version
        return new

    def __getstate__(self):
        # The bitmap is derived from the ids: store only the ids.
        return {"n_rows": self.n_rows, "ids": self.ids(), "version": self.version}

    def __setstate__(self, state):
        self.__init__(state["n_rows"])
        self.add(state["ids"])
        self.version = state["version"]

    def __repr__(self):
        return f"RowBitmap(n_rows={self.n_rows}, size={len(self)})"
