"""numba kernels of the greedy loop over a KNNGraph's stored lists.

Imported by :func:`skseals.pool._graph_loop.graph_kernels` when numba is
installed; compiled on first use and cached next to this file.
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit

__all__ = ["greedy", "unscored"]


@njit(cache=True, inline="always")
def has(bits, row):
    return (bits[row >> 3] >> (row & 7)) & 1 == 1


@njit(cache=True, inline="always")
def in_sorted(values, row):
    i = np.searchsorted(values, row)
    return i < values.shape[0] and values[i] == row


@njit(cache=True)
def unscored(table, rows, depth, excluded, members, expanded, picked, scored):
    """Sorted distinct rows outside the pool, not in ``scored``, among the
    first ``depth`` rows still available (not excluded, not in the sorted
    ``picked``) of each stored list of ``rows``."""
    width = table.shape[1]
    out = np.empty(rows.shape[0] * min(depth, width), dtype=np.int64)
    m = 0
    for row in rows:
        if has(expanded, row):
            continue
        seen = 0
        for j in range(width):
            e = np.int64(table[row, j])
            if e < 0 or has(excluded, e) or in_sorted(picked, e):
                continue
            if not has(members, e) and not in_sorted(scored, e):
                out[m] = e
                m += 1
            seen += 1
            if seen == depth:
                break
    return np.unique(out[:m])


@njit(cache=True)
def greedy(
    table,
    k,
    batch_size,
    excluded,
    members,
    expanded,
    r_rows,
    r_scores,
    r_keys,
    s_rows,
    s_scores,
    s_keys,
    s_eligible,
):
    """Run the loop; returns ``(need, picks, joined)``.

    ``need`` is -1 when the loop ran to its end, else the pick whose list
    holds a row outside the pool that is not in ``s_rows`` (``picks`` then
    ends with it). ``joined[i]``: ``s_rows[i]`` joins the pool.
    """
    width = table.shape[1]
    picks = np.empty(batch_size, dtype=np.int64)
    joined = np.zeros(s_rows.shape[0], dtype=np.bool_)
    heap = [(0.0, np.uint64(0), np.int64(0))]
    heap.pop()
    n = i = 0
    need = -1
    while n < batch_size:
        if i < r_rows.shape[0] and (
            len(heap) == 0
            or r_scores[i] > -heap[0][0]
            or (r_scores[i] == -heap[0][0] and r_keys[i] < heap[0][1])
        ):
            row = r_rows[i]
            i += 1
        elif len(heap) > 0:
            row = heapq.heappop(heap)[2]
        else:
            break
        picks[n] = row
        n += 1
        excluded[row >> 3] |= np.uint8(1 << (row & 7))  # undone below
        if has(expanded, row):
            continue
        seen = 0
        for j in range(width):
            e = np.int64(table[row, j])
            if e < 0 or has(excluded, e):
                continue
            if not has(members, e):
                at = np.searchsorted(s_rows, e)
                if at == s_rows.shape[0] or s_rows[at] != e:
                    need = row
                    break
                if not joined[at]:
                    joined[at] = True
                    if s_eligible[at]:
                        heapq.heappush(heap, (-s_scores[at], s_keys[at], e))
            seen += 1
            if seen == k:
                break
        if need >= 0:
            break
    for t in range(n):
        row = picks[t]
        excluded[row >> 3] &= np.uint8(~(1 << (row & 7)) & 0xFF)
    return need, picks[:n], joined
