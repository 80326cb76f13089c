"""The greedy loop of a SEALS round over a KNNGraph's stored lists, compiled.

With numba installed (``pip install "skseals[fast]"``; imported through
:func:`skseals.utils._compiled.compiled`), a round of a
:class:`~skseals.pool.KNNPool` over a :class:`~skseals.neighbors.KNNGraph`
runs its greedy loop as one compiled call: each pick's list is read straight
from the graph's table at the moment of the pick (its ``k`` nearest rows still
available), and the rows it adds are looked up among rows scored beforehand.
The scores themselves never come from compiled code: rows are scored by the
learner, in numpy, exactly as on the interpreted path, so both paths pick the
same rows (the tests compare them).

A pick whose list holds a row not scored yet stops the loop, which says so;
the caller scores that list (and those of the best rows found so far that
could be picked) and runs the loop again from its start (it is deterministic,
so it retraces the same picks, and it is cheap next to the scoring).
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit

from ..utils._selection_kernels import key as _key

__all__ = ["advance", "unscored"]


@njit(cache=True, inline="always")
def has(bits, row):
    return (bits[row >> 3] >> (row & 7)) & 1 == 1


@njit(cache=True, inline="always")
def in_sorted(values, row):
    i = np.searchsorted(values, row)
    return i < values.shape[0] and values[i] == row


@njit(cache=True)
def unscored(table, rows, depth, excluded, members, expanded, picked, scored):
    """Rows outside the pool, not in the sorted ``scored``, among the first
    ``depth`` rows still available (not excluded, not in the sorted
    ``picked``) of each stored list of ``rows``; sorted, without repeats."""
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
def _merge(scored, rows, scores, offset, seed, full, floor_score, floor_key):
    """``scored`` with the sorted ``rows`` (none in it) and their scores added.

    ``scored`` is ``(rows, scores, keys, eligible, listed, at)``, sorted by
    row: cleaned scores (NaN as -inf), tie-break keys, whether the row ranks
    above the floor (could be picked), whether its list was read, and its
    position among the rows of X read this round (``offset`` + its position
    in ``rows`` for a new row).
    """
    o_rows, o_scores, o_keys, o_eligible, o_listed, o_at = scored
    m, n = o_rows.shape[0], rows.shape[0]
    t_rows = np.empty(m + n, dtype=np.int64)
    t_scores = np.empty(m + n, dtype=np.float64)
    t_keys = np.empty(m + n, dtype=np.uint64)
    t_eligible = np.empty(m + n, dtype=np.bool_)
    t_listed = np.empty(m + n, dtype=np.bool_)
    t_at = np.empty(m + n, dtype=np.int64)
    i = j = 0
    for t in range(m + n):
        if j == n or (i < m and o_rows[i] < rows[j]):
            t_rows[t], t_scores[t], t_keys[t] = o_rows[i], o_scores[i], o_keys[i]
            t_eligible[t], t_listed[t], t_at[t] = o_eligible[i], o_listed[i], o_at[i]
            i += 1
        else:
            s = scores[j]
            if np.isnan(s):
                s = -np.inf
            key = _key(rows[j], seed)
            t_rows[t], t_scores[t], t_keys[t] = rows[j], s, key
            t_eligible[t] = (
                not full or s > floor_score or (s == floor_score and key < floor_key)
            )
            t_listed[t], t_at[t] = False, offset + j
            j += 1
    return t_rows, t_scores, t_keys, t_eligible, t_listed, t_at


@njit(cache=True)
def _next_reads(scored, need, picks, left, full):
    """The lists to read when the loop stopped at ``need``: its own and, with
    a full floor, those of the ``left`` best rows found that could be picked
    and whose lists were not read (marked read)."""
    s_rows, s_scores, s_keys, s_eligible, s_listed, _ = scored
    open_ = s_eligible & ~s_listed
    for p in picks:  # picked rows are not read again (but ``need``)
        at = np.searchsorted(s_rows, p)
        if at < s_rows.shape[0] and s_rows[at] == p:
            open_[at] = False
    read = np.empty(1 + left, dtype=np.int64)
    read[0] = need
    n = 1
    while full and n <= left:  # the best open row, ``left`` times over
        best = -1
        for t in range(s_rows.shape[0]):
            if open_[t] and (
                best < 0
                or s_scores[t] > s_scores[best]
                or (s_scores[t] == s_scores[best] and s_keys[t] < s_keys[best])
            ):
                best = t
        if best < 0:
            break
        open_[best] = False
        read[n] = s_rows[best]
        n += 1
    for row in read[:n]:
        at = np.searchsorted(s_rows, row)
        if at < s_rows.shape[0] and s_rows[at] == row:
            s_listed[at] = True
    return read[:n]


@njit(cache=True)
def _greedy(
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


@njit(cache=True)
def advance(
    table,
    k,
    batch_size,
    excluded,
    members,
    expanded,
    ranked,
    floor,
    seed,
    scored,
    rows,
    scores,
    offset,
):
    """Add the rows just scored, then run the loop from its start.

    ``ranked`` is ``(rows, scores, keys)`` of the round's best candidates,
    best first; ``floor`` is ``(full, score, key)``; ``scored`` as in
    :func:`_merge`, ``rows`` and ``scores`` the rows just scored (sorted),
    read at ``offset`` onwards. Returns ``(need, picks, joined, read,
    scored)``: ``need`` is -1 when the loop ran to its end, else the pick
    whose list holds a row not scored yet (``picks`` then ends with it, and
    ``read`` holds the lists to score next); ``joined[i]`` tells whether the
    row ``scored[0][i]`` joins the pool.
    """
    full, floor_score, floor_key = floor
    scored = _merge(scored, rows, scores, offset, seed, full, floor_score, floor_key)
    s_rows, s_scores, s_keys, s_eligible, _, _ = scored
    r_rows, r_scores, r_keys = ranked
    need, picks, joined = _greedy(
        table, k, batch_size, excluded, members, expanded,
        r_rows, r_scores, r_keys, s_rows, s_scores, s_keys, s_eligible,
    )  # fmt: skip
    if need < 0:
        return need, picks, joined, np.empty(0, dtype=np.int64), scored
    read = _next_reads(scored, need, picks, batch_size - picks.shape[0], full)
    return need, picks, joined, read, scored
