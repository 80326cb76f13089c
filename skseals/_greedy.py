"""One round of greedy batch selection over a (possibly growing) candidate pool."""

from __future__ import annotations

import heapq

import numpy as np

from .utils import best_of, head_positions, tie_break_keys
from .utils._compiled import compiled
from .utils._selection import _clean

__all__ = ["select_batch"]

_EMPTY_ROWS = np.empty(0, dtype=np.int64)
_NO_KEY_FLOOR = np.uint64(np.iinfo(np.uint64).max)
_NO_SCORES = np.empty(0, dtype=np.float64)
# The compiled loop's rows scored so far, before any (see _graph_kernels._merge;
# empty arrays: nothing writes to them).
_NONE_SCORED = (
    _EMPTY_ROWS,
    _NO_SCORES,
    np.empty(0, dtype=np.uint64),
    np.empty(0, dtype=bool),
    np.empty(0, dtype=bool),
    _EMPTY_ROWS,
)


def select_batch(
    cand, scores, batch_size, seed, *, pool, exclude, score_rows, rescore=None
):
    """Greedy SEALS selection (Algorithm 2); returns picked rows, best first.

    Parameters
    ----------
    cand, scores : arrays
        Current candidates and their scores (scored once this round).
    batch_size : int
        Rows to pick at most.
    seed : int
        The round's tie-break seed (ties: lower ``tie_break_keys`` first).
    pool : candidate pool
        Its ``begin_batch`` expansion gives the rows that join after a pick;
        a pool that does not expand is told of the picks with ``leave``.
    exclude : callable
        ``exclude(rows)`` marks picked rows (an int64 array) unavailable.
    score_rows : callable
        ``score_rows(rows, block=None)`` scores rows that may join during the
        round (same fitted model); ``block``, when given, holds ``X[rows]``.
    rescore : callable or None
        For sequential strategies: ``rescore(scores, rows, picked_row)`` gives
        updated scores of ``rows`` after a pick (k-center greedy).

    Notes
    -----
    With ``b = batch_size`` and at least ``b`` candidates, every pick ranks at
    or above the ``b``-th best candidate: before each of the ``b`` picks, one
    of the ``b`` best candidates is still available. A row that joins during
    the round and ranks below it can never be picked, so it joins the pool
    but not the loop's queue, which holds only rows that could still be
    picked. The picks are exactly those of the plain greedy loop.
    """
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    if rescore is not None:
        keys = tie_break_keys(cand, seed)
        return _select_sequential(
            cand, scores, keys, batch_size, seed, pool, exclude, score_rows, rescore
        )
    order, scores, keys = _best_first(cand, scores, batch_size, seed)
    if not pool.expands or order.size == 0:
        picks = cand[order]
        exclude(picks)
        pool.leave(picks)  # pending rows are no candidates (nor in the density)
        return picks
    rows = cand[order]
    batch = pool.begin_batch(rows, exclude)
    table = batch.graph_table() if hasattr(batch, "graph_table") else None
    kernels = None if table is None else graph_kernels()
    if kernels is not None:
        return _select_compiled(
            kernels, table, (rows, scores, keys), batch_size, seed, batch, exclude,
            score_rows,
        )  # fmt: skip
    ranked = _Ranked(rows.tolist(), scores.tolist(), keys.tolist())
    floor = _Floor(ranked, batch_size, seed)
    if hasattr(batch, "lists"):
        return _select_by_lists(ranked, floor, batch, batch_size, exclude, score_rows)
    return _select_by_expansion(ranked, floor, batch, batch_size, score_rows)


def _best_first(cand, scores, batch_size, seed):
    """``(positions, cleaned scores, keys)`` of the ``batch_size`` best
    candidates, best first (:func:`~skseals.utils.top_k`'s order)."""
    scores = np.ascontiguousarray(scores, np.float64)  # (one per candidate)
    kernels = compiled("utils._selection_kernels")  # None without numba
    if kernels is not None:  # (batch_size may exceed int64: cut at the rows)
        k = min(batch_size, cand.shape[0])
        return kernels.best_first(cand, scores, np.uint64(seed), k)
    head = head_positions(scores, batch_size)  # keys are needed for these only
    head_scores = _clean(scores[head])
    head_keys = tie_break_keys(cand[head], seed)
    # (Every row of the head ranks at or above the b-th: sorting it is top_k.)
    best = np.lexsort((head_keys, -head_scores))[:batch_size]
    return head[best], head_scores[best], head_keys[best]


def graph_kernels():
    """``(unscored, advance)`` of the compiled loop over a graph, or None."""
    kernels = compiled("pool._graph_kernels")
    return None if kernels is None else (kernels.unscored, kernels.advance)


class _Ranked:
    """The round's best candidates, best first, as Python lists."""

    def __init__(self, rows, scores, keys):
        self.rows, self.scores, self.keys = rows, scores, keys

    def picks(self, queue, batch_size):
        """Yield up to ``batch_size`` picks: each the better of the next ranked
        row and the best row of ``queue`` (a heap the caller may push to)."""
        i = n = 0
        while n < batch_size:
            if i < len(self.rows) and (
                not queue
                or self.scores[i] > -queue[0][0]
                or (self.scores[i] == -queue[0][0] and self.keys[i] < queue[0][1])
            ):
                row = self.rows[i]
                i += 1
            elif queue:
                row = heapq.heappop(queue)[2]
            else:
                return
            n += 1
            yield row


class _Floor:
    """Rows that join can be picked only if they rank above the b-th candidate."""

    def __init__(self, ranked, batch_size, seed):
        self.full = len(ranked.rows) == batch_size
        self.score = ranked.scores[-1] if self.full else -np.inf
        self.key = ranked.keys[-1] if self.full else np.iinfo(np.uint64).max
        self.seed = seed
        self.batch_size = batch_size

    def eligible(self, rows, scores):
        """Rows (their cleaned scores, keys) that rank above the floor."""
        scores = _clean(scores)
        if not self.full:
            return rows, scores, tie_break_keys(rows, self.seed)
        maybe = scores >= self.score
        if not maybe.any():  # the usual case: nothing joined ranks that high
            return rows[:0], scores[:0], np.empty(0, dtype=np.uint64)
        rows, scores = rows[maybe], scores[maybe]
        keys = tie_break_keys(rows, self.seed)
        above = (scores > self.score) | (keys < self.key)
        return rows[above], scores[above], keys[above]


def _push(queue, rows, scores, keys):
    for item in zip((-scores).tolist(), keys.tolist(), rows.tolist(), strict=True):
        heapq.heappush(queue, item)


def _select_by_expansion(ranked, floor, batch, batch_size, score_rows):
    """The greedy loop over a pool that only tells which rows join after a pick."""
    queue = []  # (-score, key, row) of joined rows that could still be picked
    picks = []
    for row in ranked.picks(queue, batch_size):
        picks.append(row)
        joined = batch.joined_after(row)
        if joined.size:
            _push(queue, *floor.eligible(joined, score_rows(joined)))
    batch.finish()
    return np.asarray(picks, dtype=np.int64)


def _in_sorted(values, sorted_ids):
    """Boolean mask: which of ``values`` are in the sorted array ``sorted_ids``."""
    if sorted_ids.size == 0:
        return np.zeros(values.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, values), sorted_ids.size - 1)
    return sorted_ids[pos] == values


class _Lookahead:
    """Neighbour lists read ahead of the picks, and the rows they could add.

    ``batch.lists(rows)`` gives each row's nearest available rows as they were
    when read (nearest first; ``batch.may_run_short`` tells when picks have
    left one too short). Every row outside the pool that a list holds is
    scored once; those ranking above the floor are the only ones the loop
    needs to know about (``hits``: per listed row, the positions of such rows
    in its list; ``unlisted``: those whose own lists were not read yet).
    """

    def __init__(self, batch, floor, score_rows):
        self.batch, self.floor, self.score_rows = batch, floor, score_rows
        self.eligible = {}  # row outside the pool -> (-score, key)
        self._eligible_ids = np.empty(0, dtype=np.int64)  # sorted
        self._scored = np.empty(0, dtype=np.int64)  # sorted
        self.hits = {}  # listed row -> [(position in its list, eligible row)]
        self.unlisted = set()  # eligible rows whose lists were not read yet

    def read(self, rows):
        """Read the lists of ``rows`` and score the rows they could add."""
        batch = self.batch
        listed, indptr, entries = batch.lists(rows)
        listed = listed.tolist()
        self.unlisted.difference_update(listed)
        if self.hits:  # rows read again: their old hits are void
            for row in listed:
                self.hits.pop(row, None)
        new = np.unique(entries[~batch.is_member(entries)])
        new = new[~_in_sorted(new, self._scored)]
        if new.size:
            scores = self.score_rows(new, batch.read_rows(new))
            self._scored = np.sort(np.concatenate([self._scored, new]))
            rows_e, scores_e, keys_e = self.floor.eligible(new, scores)
            if rows_e.size:
                for row, neg, key in zip(
                    rows_e.tolist(), (-scores_e).tolist(), keys_e.tolist(), strict=True
                ):
                    self.eligible[row] = (neg, key)
                self.unlisted.update(rows_e.tolist())
                self._eligible_ids = np.union1d(self._eligible_ids, rows_e)
        if self._eligible_ids.size == 0:
            return
        at = np.flatnonzero(_in_sorted(entries, self._eligible_ids))
        if at.size:
            owners = np.searchsorted(indptr, at, side="right") - 1
            for a, o in zip(at.tolist(), owners.tolist(), strict=True):
                self.hits.setdefault(listed[o], []).append(
                    (a - int(indptr[o]), int(entries[a]))
                )


def _select_by_lists(ranked, floor, batch, batch_size, exclude, score_rows):
    """The greedy loop over neighbour lists read in batches ahead of the picks.

    A pick's list, when it is used, is its list as read minus the rows picked
    so far, cut at ``k``: a row of the list joins when fewer than ``k`` rows
    before it remain. Only rows that could be picked are tracked here;
    ``batch.finish(picks)`` applies every join at once.
    """
    k = batch.n_neighbors
    ahead = _Lookahead(batch, floor, score_rows)
    ahead.read(np.asarray(ranked.rows, dtype=np.int64))
    queue = []  # (-score, key, row) of joined rows that could still be picked
    picks, picked, joined = [], set(), set()
    excluded = 0  # picks[:excluded] are marked unavailable
    for row in ranked.picks(queue, batch_size):
        picks.append(row)
        picked.add(row)
        if not batch.is_listed(row):
            # Read its list now, with those of the best rows found so far that
            # could be picked, as many as picks are left (they are usually
            # picked soon after; with fewer than b candidates every row found
            # could be, so only its own).
            exclude(np.asarray(picks[excluded:], dtype=np.int64))
            excluded = len(picks)
            rows = {row}
            if floor.full:
                left = batch_size - len(picks)
                rows.update(heapq.nsmallest(left, ahead.unlisted, ahead.eligible.get))
            ahead.read(np.array(sorted(rows), dtype=np.int64))
        elif batch.may_run_short(row, picked):
            exclude(np.asarray(picks[excluded:], dtype=np.int64))
            excluded = len(picks)
            ahead.read(np.array([row], dtype=np.int64))  # read again, as it is now
        for pos, row_e in ahead.hits.get(row, ()):
            if row_e in joined:
                continue
            if pos >= k:
                before = batch.list_of(row)[:pos].tolist()
                if pos - sum(1 for r in before if r in picked) >= k:
                    continue
            joined.add(row_e)
            heapq.heappush(queue, (*ahead.eligible[row_e], row_e))
    picks = np.asarray(picks, dtype=np.int64)
    exclude(picks[excluded:])
    batch.finish(picks)
    return picks


def _select_compiled(
    kernels, table, ranked, batch_size, seed, batch, exclude, score_rows
):
    """The greedy loop over a graph's stored lists, as one compiled call.

    Each pick's list is read from the table when the pick is made (its ``k``
    first rows still available), and the rows it adds are looked up among the
    rows scored beforehand: those of the lists of the round's best candidates
    (``depth`` available rows deep). When a pick's list holds a row not scored
    yet (a pick that joined this round, or a list its picks left short), the
    loop stops there; that list, and those of the best rows found so far that
    could be picked, are scored and the loop runs again from its start (it
    retraces the same picks).
    """
    unscored, advance = kernels
    excluded, members, expanded = batch.bitmaps()
    # The floor (as _Floor's), from the ranked arrays.
    full = ranked[0].shape[0] == batch_size
    bounds = (
        (full, float(ranked[1][-1]), ranked[2][-1])
        if full
        else (False, -np.inf, _NO_KEY_FLOOR)
    )
    seed = np.uint64(seed)
    most = min(batch_size, table.shape[0])  # (picks: rows of the table at most)
    scored = _NONE_SCORED
    read, picks, blocks, offset = ranked[0], _EMPTY_ROWS, [], 0
    while True:
        new = batch.timed(  # sorted, distinct
            unscored, table, read, batch.depth, excluded, members, expanded,
            np.sort(picks) if picks.size else picks, scored[0],
        )  # fmt: skip
        if new.size:
            blocks.append(batch.read_rows(new))
            scores = np.ascontiguousarray(score_rows(new, blocks[-1]), np.float64)
        else:
            scores = _NO_SCORES
        need, picks, joined, read, scored = advance(
            table, batch.n_neighbors, most, excluded, members,
            expanded, ranked, bounds, seed, scored, new, scores, offset,
        )  # fmt: skip
        offset += new.shape[0]
        if need < 0:
            break
    exclude(picks)
    at = scored[5][joined]
    block = None
    if blocks:
        block = blocks[0][at] if len(blocks) == 1 else np.concatenate(blocks)[at]
    batch.finish(picks, joined=scored[0][joined], block=block)
    return picks


def _select_sequential(
    cand, scores, keys, batch_size, seed, pool, exclude, score_rows, rescore
):
    rows = np.asarray(cand, dtype=np.int64)
    scores = np.array(scores, dtype=np.float64)  # (updated in place: a copy)
    alive = np.ones(rows.shape[0], dtype=bool)
    picks = []
    while len(picks) < batch_size:
        pos = best_of(scores, keys, alive)
        if pos < 0:
            break
        row = int(rows[pos])
        alive[pos] = False
        picks.append(row)
        exclude(np.array([row], dtype=np.int64))
        joined = pool.expand(row)  # a pool that does not expand: none join
        if joined.size:
            new_scores = score_rows(joined)
            for earlier in picks[:-1]:  # joined rows must also see earlier picks
                new_scores = rescore(new_scores, joined, earlier)
            rows = np.concatenate([rows, joined])
            scores = np.concatenate([scores, new_scores])
            keys = np.concatenate([keys, tie_break_keys(joined, seed)])
            alive = np.concatenate([alive, np.ones(joined.shape[0], bool)])
        live = np.flatnonzero(alive)
        scores[live] = rescore(scores[live], rows[live], row)
    return np.asarray(picks, dtype=np.int64)
