"""A contiguous copy of the rows of X that a candidate pool holds."""

from __future__ import annotations

import numpy as np

from ..utils._compiled import compiled

__all__ = ["RowBuffer"]


class RowBuffer:
    """Rows of ``X`` copied once, when they join a pool, into one block.

    Scoring a pool of ``m`` candidates then reads one contiguous ``(m, d)``
    block instead of gathering ``X[candidates]`` every round (a random-access
    copy that costs more than the scoring itself, and a disk read when ``X`` is
    memory-mapped). Rows are kept in the order they joined; rows that left the
    pool stay until :meth:`compact` drops them. Values derived from each row
    (its L2 norm, its int8 code) are computed once per row, when first asked
    for, and kept beside it.

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
        self._norms = _PerRow(_row_norms)
        self._codes = _PerRow(_int8_codes)

    def __len__(self):
        return self._size

    @property
    def nbytes(self):
        derived = self._norms.nbytes + self._codes.nbytes
        return self._rows.nbytes + self._block.nbytes + derived

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
        return self._norms.values(self._block, self._size)[0]

    def codes(self):
        """``(codes, scales, slack, norms)`` of
        :func:`~skseals.pool._int8_kernels.int8_codes` for the rows of
        :meth:`view`'s block (do not modify), computed once per row, when
        first asked for; None without numba."""
        if compiled("pool._int8_kernels") is None:
            return None
        return self._codes.values(self._block, self._size)

    def refresh(self):
        """Compute the derived values already asked for (norms, codes) of the
        rows added since, so that the next round finds them ready."""
        for derived in (self._norms, self._codes):
            if derived.in_use:
                derived.values(self._block, self._size)

    def compact(self, keep):
        """Keep only the rows where the boolean mask ``keep`` is True (in place).

        Every copy is made first, then written back: a MemoryError leaves the
        cache as it was.
        """
        kept = int(np.count_nonzero(keep))
        rows, block = self.view()
        rows, block = rows[keep], block[keep]
        derived = [d.compacted(keep, self._size) for d in (self._norms, self._codes)]
        self._rows[:kept] = rows
        self._block[:kept] = block
        for d, arrays in zip((self._norms, self._codes), derived, strict=True):
            d.set_first(arrays, kept)
        self._size = kept


def _row_norms(block):
    from ..query._search import row_norms

    return (row_norms(block),)


def _int8_codes(block):
    return compiled("pool._int8_kernels").int8_codes(block)


class _PerRow:
    """Arrays of values derived from each row of a block, computed once per
    row: ``compute(rows)`` gives a tuple of arrays whose first axis is the
    rows'."""

    def __init__(self, compute):
        self._compute = compute
        self._arrays = None
        self._n = 0  # rows computed: the first _n of the block

    @property
    def in_use(self):
        return self._arrays is not None

    @property
    def nbytes(self):
        return 0 if self._arrays is None else sum(a.nbytes for a in self._arrays)

    def values(self, block, size):
        """The values of ``block[:size]``, computing those of new rows."""
        if self._n < size or self._arrays is None:
            new = self._compute(block[self._n : size])
            if self._arrays is None or self._arrays[0].shape[0] < size:
                cap = block.shape[0]
                grown = tuple(np.empty((cap, *a.shape[1:]), a.dtype) for a in new)
                if self._n:
                    for g, a in zip(grown, self._arrays, strict=True):
                        g[: self._n] = a[: self._n]
                self._arrays = grown
            for g, a in zip(self._arrays, new, strict=True):
                g[self._n : size] = a
            self._n = size
        return tuple(a[:size] for a in self._arrays)

    def compacted(self, keep, size):
        """The values of the rows :meth:`RowBuffer.compact` keeps (``keep``
        over the first ``size``), or None when they are not all computed."""
        if self._arrays is not None and self._n == size:
            return [a[:size][keep] for a in self._arrays]
        return None

    def set_first(self, arrays, kept):
        """Write :meth:`compacted`'s ``arrays`` as the first ``kept`` rows'
        values (None: none computed, all computed again when asked for)."""
        if arrays is None:
            self._n = 0
            return
        for a, values in zip(self._arrays, arrays, strict=True):
            a[:kept] = values
        self._n = kept
