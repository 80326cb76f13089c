"""One round of greedy batch selection over a (possibly growing) candidate pool."""

from __future__ import annotations

import heapq

import numpy as np

from .utils import best_of, head_positions, tie_break_keys, top_k
from .utils._selection import _clean

__all__ = ["select_batch"]

# Levels of rows searched and scored ahead of the loop beyond the lists of the
# best candidates: level 1 adds the lists of rows those would add that could be
# picked. Deeper levels scored more rows for no gain in measured rounds (the
# rows they foresee form chains: one more level per pick).
_LOOKAHEAD_LEVELS = 1


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
        Its ``begin_batch`` expansion gives the rows that join after a pick.
    exclude : callable
        ``exclude(row)`` marks a picked row unavailable.
    score_rows : callable
        Scores rows that joined during the round (same fitted model). Rows
        the pool expects to join (its ``lookahead``) are scored in one call
        before the loop; the loop scores only rows it did not foresee.
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
    cand = np.asarray(cand, dtype=np.int64)
    if rescore is not None:
        keys = tie_break_keys(cand, seed)
        return _select_sequential(
            cand, scores, keys, batch_size, seed, pool, exclude, score_rows, rescore
        )
    head = head_positions(scores, batch_size)  # keys are needed for these only
    head_keys = tie_break_keys(cand[head], seed)
    best = top_k(scores[head], head_keys, batch_size)
    order, keys = head[best], head_keys[best]
    if not pool.expands or order.size == 0:
        picks = cand[order]
        for row in picks.tolist():
            exclude(row)
        return picks
    ranked_rows = cand[order].tolist()
    ranked_scores = _clean(scores[order]).tolist()
    ranked_keys = keys.tolist()
    # Only rows ranking above (floor_score, floor_key) can be picked.
    full = len(ranked_rows) == batch_size
    floor_score = ranked_scores[-1] if full else -np.inf
    floor_key = ranked_keys[-1] if full else np.iinfo(np.uint64).max

    def clean_scores(rows):
        """Scores of ``rows`` with NaN as -inf (how the ranking treats NaN)."""
        return _clean(score_rows(rows))

    def eligible(rows, row_scores):
        """Rows (and their cleaned scores, keys) that rank above the floor."""
        if not full:
            return rows, row_scores, tie_break_keys(rows, seed)
        maybe = row_scores >= floor_score
        if not maybe.any():  # the usual case: nothing joined ranks that high
            return rows[:0], row_scores[:0], np.empty(0, dtype=np.uint64)
        rows, row_scores = rows[maybe], row_scores[maybe]
        row_keys = tie_break_keys(rows, seed)
        above = (row_scores > floor_score) | (row_keys < floor_key)
        return rows[above], row_scores[above], row_keys[above]

    batch = pool.begin_batch(np.asarray(ranked_rows, dtype=np.int64), exclude)
    ahead_rows = batch.lookahead()
    ahead_scores = clean_scores(ahead_rows) if ahead_rows.size else np.empty(0)
    new_rows, new_scores = ahead_rows, ahead_scores
    for _ in range(_LOOKAHEAD_LEVELS if full else 0):
        # Rows that may join and could be picked: search their own lists in
        # one call and score the rows those lists would add, also in one call.
        rows, row_scores, row_keys = eligible(new_rows, new_scores)
        if rows.size == 0:
            break
        batch.prefetch(rows[top_k(row_scores, row_keys, batch_size)])
        new_rows = np.setdiff1d(batch.lookahead(), ahead_rows, assume_unique=True)
        if new_rows.size == 0:
            break
        new_scores = clean_scores(new_rows)
        ahead_rows = np.concatenate([ahead_rows, new_rows])
        ahead_scores = np.concatenate([ahead_scores, new_scores])
        order_ahead = np.argsort(ahead_rows, kind="stable")
        ahead_rows, ahead_scores = ahead_rows[order_ahead], ahead_scores[order_ahead]

    def scores_of(rows):
        """Scores of rows that joined: looked up if scored ahead, else scored."""
        if ahead_rows.size == 0:
            return clean_scores(rows)
        pos = np.minimum(np.searchsorted(ahead_rows, rows), ahead_rows.size - 1)
        known = ahead_rows[pos] == rows
        if known.all():
            return ahead_scores[pos]
        out = np.empty(rows.shape[0], dtype=np.float64)
        out[known] = ahead_scores[pos[known]]
        out[~known] = clean_scores(rows[~known])
        return out

    queue = []  # (-score, key, row) of joined rows that could still be picked
    picks = []
    i = 0
    while len(picks) < batch_size:
        if i < len(ranked_rows) and (
            not queue
            or ranked_scores[i] > -queue[0][0]
            or (ranked_scores[i] == -queue[0][0] and ranked_keys[i] < queue[0][1])
        ):
            row = ranked_rows[i]
            i += 1
        elif queue:
            row = heapq.heappop(queue)[2]
        else:
            break
        picks.append(row)
        joined = batch.joined_after(row)
        if joined.size:
            rows, row_scores, row_keys = eligible(joined, scores_of(joined))
            for item in zip(
                (-row_scores).tolist(), row_keys.tolist(), rows.tolist(), strict=True
            ):
                heapq.heappush(queue, item)
    batch.finish()
    return np.asarray(picks, dtype=np.int64)


def _select_sequential(
    cand, scores, keys, batch_size, seed, pool, exclude, score_rows, rescore
):
    rows = np.asarray(cand, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    alive = np.ones(rows.shape[0], dtype=bool)
    picks = []
    while len(picks) < batch_size:
        pos = best_of(scores, keys, alive)
        if pos < 0:
            break
        row = int(rows[pos])
        alive[pos] = False
        picks.append(row)
        exclude(row)
        joined = pool.expand(row) if pool.expands else np.empty(0, np.int64)
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
