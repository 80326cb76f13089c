"""Membership tests and updates of a :class:`~skseals.utils.RowBitmap`, compiled.

With numba installed (``pip install "skseals[fast]"``; imported through
:func:`skseals.utils._compiled.compiled`), a bitmap reads or sets each id's
bit in one pass, without numpy's temporary arrays, sort and ``ufunc.at`` (a
round of a 1M-row pool tests about 20,000 ids at once and adds its picks to
three bitmaps).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["add", "contains", "discard"]


@njit(cache=True)
def contains(bits, rows):
    """Whether each of ``rows`` (int64) has its bit set in the packed
    little-endian ``bits``; IndexError for an id beyond them or negative."""
    out = np.empty(rows.shape[0], dtype=np.bool_)
    n_bytes = bits.shape[0]
    for i in range(rows.shape[0]):
        row = rows[i]
        if row < 0 or (row >> 3) >= n_bytes:
            raise IndexError("row id out of range")
        out[i] = (bits[row >> 3] >> (row & 7)) & 1 == 1
    return out


@njit(cache=True)
def add(bits, rows):
    """Set the bits of ``rows`` (in-range int64 ids); return the ids whose bit
    was not set yet, once each, in order of first appearance."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    n = 0
    for i in range(rows.shape[0]):
        row = rows[i]
        mask = np.uint8(1 << (row & 7))
        if (bits[row >> 3] & mask) == 0:
            bits[row >> 3] |= mask
            out[n] = row
            n += 1
    return out[:n]


@njit(cache=True)
def discard(bits, rows):
    """Clear the bits of ``rows`` (in-range int64 ids); return the ids whose
    bit was set, once each, in order of first appearance."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    n = 0
    for i in range(rows.shape[0]):
        row = rows[i]
        mask = np.uint8(1 << (row & 7))
        if (bits[row >> 3] & mask) != 0:
            bits[row >> 3] &= ~mask
            out[n] = row
            n += 1
    return out[:n]
