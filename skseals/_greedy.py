"""One round of greedy batch selection over a (possibly growing) candidate pool."""

from __future__ import annotations

import numpy as np

from .utils import best_of, tie_break_keys, top_k

__all__ = ["select_batch"]


class _Growing:
    """Rows that joined the pool during this round, with their scores."""

    def __init__(self):
        self.rows = np.empty(0, dtype=np.int64)
        self.scores = np.empty(0, dtype=np.float64)
        self.keys = np.empty(0, dtype=np.uint64)
        self.alive = np.empty(0, dtype=bool)

    def extend(self, rows, scores, keys):
        self.rows = np.concatenate([self.rows, rows])
        self.scores = np.concatenate([self.scores, scores])
        self.keys = np.concatenate([self.keys, keys])
        self.alive = np.concatenate([self.alive, np.ones(rows.shape[0], bool)])

    def best(self):
        pos = best_of(self.scores, self.keys, self.alive)
        return pos


def _better(score_a, key_a, score_b, key_b):
    """Whether (score_a, key_a) ranks before (score_b, key_b)."""
    score_a = -np.inf if np.isnan(score_a) else score_a
    score_b = -np.inf if np.isnan(score_b) else score_b
    return score_a > score_b or (score_a == score_b and key_a < key_b)


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
        ``expand(row)`` returns rows that join after ``row`` is picked.
    exclude : callable
        Marks a picked row unavailable before the pool expands around it.
    score_rows : callable
        Scores rows that joined during the round (same fitted model). Rows
        the pool expects to join (its ``lookahead``) are scored in one call
        before the loop; the loop scores only rows it did not foresee.
    rescore : callable or None
        For sequential strategies: ``rescore(scores, rows, picked_row)`` gives
        updated scores of ``rows`` after a pick (k-center greedy).
    """
    keys = tie_break_keys(cand, seed)
    if rescore is not None:
        return _select_sequential(
            cand, scores, keys, batch_size, seed, pool, exclude, score_rows, rescore
        )
    order = top_k(scores, keys, batch_size)
    ahead_rows = ahead_scores = np.empty(0)
    if pool.expands and order.size:
        pool.prefetch(cand[order])
        ahead_rows = pool.lookahead()
        ahead_scores = score_rows(ahead_rows) if ahead_rows.size else ahead_scores

    def score_joined(rows):
        """Scores of rows that joined: looked up if scored ahead, else scored."""
        if ahead_rows.size == 0:
            return score_rows(rows)
        pos = np.minimum(np.searchsorted(ahead_rows, rows), ahead_rows.size - 1)
        known = ahead_rows[pos] == rows
        out = np.empty(rows.shape[0], dtype=np.float64)
        out[known] = ahead_scores[pos[known]]
        if not known.all():
            out[~known] = score_rows(rows[~known])
        return out

    grown = _Growing()
    picks = []
    i = 0
    while len(picks) < batch_size:
        g = grown.best() if grown.rows.size else -1
        if i < order.shape[0]:
            e = order[i]
            take_existing = g < 0 or not _better(
                grown.scores[g], grown.keys[g], scores[e], keys[e]
            )
        elif g >= 0:
            take_existing = False
        else:
            break
        if take_existing:
            row = int(cand[e])
            i += 1
        else:
            row = int(grown.rows[g])
            grown.alive[g] = False
        picks.append(row)
        exclude(row)
        if pool.expands:
            joined = pool.expand(row)
            if joined.size:
                grown.extend(joined, score_joined(joined), tie_break_keys(joined, seed))
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
