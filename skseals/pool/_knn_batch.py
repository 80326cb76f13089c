"""The within-batch expansion of one SEALS round over a :class:`KNNPool`."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["KNNBatch"]

_EMPTY = np.empty(0, dtype=np.int64)

# Rows a list is read beyond k: it stays exact until more of its rows than
# this are picked in the round, and is then read again. Deeper
# lists (k + b) made Annoy rounds 1.5x slower at 1M (an exact index picks the
# same rows either way).
_SPARE = 16


def _offsets(lengths):
    """``[0, l0, l0 + l1, ...]``: the bounds of consecutive segments."""
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _segment_sums(mask, lengths):
    """Number of True values of ``mask`` in each consecutive segment."""
    total = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(mask, out=total[1:])
    offsets = _offsets(lengths)
    return total[offsets[1:]] - total[offsets[:-1]]


def _ranks(mask, lengths):
    """For each position, the number of True values of ``mask`` up to it
    (included) within its segment."""
    total = np.cumsum(mask)
    before = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    before[1:] = total
    return total - np.repeat(before[_offsets(lengths)[:-1]], lengths)


class KNNBatch:
    """Neighbour lists of one round's likely picks, read in batches.

    The greedy loop (``skseals._greedy``) asks for the lists of many rows at
    once (:meth:`lists`), scores the rows outside the pool they hold in one
    call (:meth:`read_rows` gives their rows of ``X``), and applies every join
    of the round at the end (:meth:`finish`). Membership and the row cache do
    not change between :meth:`lists` and :meth:`finish`; the learner's
    exclusion set grows only by the picks.

    A list is read with the exclusions of the moment it is read, a few rows
    deeper than ``k``, so that it still holds its ``k`` nearest available rows
    after some of its rows are picked; :meth:`may_run_short` tells when it
    could hold fewer than ``k`` available rows at a pick (more of its rows were
    picked, or a live index's list was cached by an earlier round and lost
    rows since), and the loop then reads it again. A graph's list is read the
    same way: the first available rows of its stored row, as deep (all of
    them when fewer are left: the list is then whole). With 100 stored
    neighbours and ``k = 10``, the rows beyond are not scored: they could join
    only if the round picked most of the rows before them.
    """

    def __init__(self, pool, batch_size):
        self._pool = pool
        self.n_neighbors = pool.n_neighbors
        self._depth = pool.n_neighbors + min(batch_size, _SPARE)
        self._listed = {}  # row -> (entries, start, stop, complete)
        self._parts = []  # (rows, counts, entries) of each lists() call
        self._read = []  # (sorted rows, X[rows]) read for scoring

    # -- a graph's table, for the compiled loop -------------------------------
    def graph_table(self):
        """The graph's table of stored lists (an ndarray), or None when the
        pool searches a live index (or the table is not a plain array)."""
        if self._pool._caches_lists():
            return None
        table = self._pool.index_.neighbors_
        if isinstance(table, np.memmap):
            table = table.view(np.ndarray)
        if type(table) is not np.ndarray or not table.flags.c_contiguous:
            return None
        return table

    def bitmaps(self):
        """The packed bits of the exclusions, the pool's members and the rows
        whose neighbours were added (the compiled loop sets and clears the
        bits of its picks in the first while it runs)."""
        pool = self._pool
        return pool._excluded.bits, pool._members.bits, pool._expanded.bits

    @property
    def depth(self):
        """Available rows read per list beyond which a list is read again."""
        return self._depth

    def timed(self, func, *args):
        """``func(*args)``, its seconds counted as neighbour search."""
        t0 = time.perf_counter()
        try:
            return func(*args)
        finally:
            self._pool._knn_seconds += time.perf_counter() - t0

    # -- reading ------------------------------------------------------------
    def lists(self, rows):
        """``(rows, indptr, entries)``: the available neighbours of each row.

        ``entries[indptr[i]:indptr[i + 1]]`` is the list of ``rows[i]``, nearest
        first, without rows unavailable now. Rows whose neighbours were already
        added (labeled or picked before) have empty lists. A row listed before
        in this batch is searched again.
        """
        pool = self._pool
        rows = np.asarray(rows, dtype=np.int64)
        m = rows.shape[0]
        if pool._caches_lists():
            flat, lengths, complete = self._raw_cached(rows)
        else:  # a graph: one read of its table
            table = pool._neighbor_table(rows)
            table[pool._expanded.contains_ids(rows)] = -1
            flat = table.ravel()
        ok = ~pool._excluded.contains_ids(np.maximum(flat, 0))
        ok &= flat >= 0
        if pool._caches_lists():
            counts = _segment_sums(ok, lengths)
        elif table.shape[1] <= self._depth:  # every stored list is read whole
            counts = ok.reshape(table.shape).sum(axis=1)
            complete = np.ones(m, dtype=bool)
        else:  # only the first `depth` available rows of each stored list
            grid = ok.reshape(table.shape)  # a view: cuts `ok` too
            rank = np.cumsum(grid, axis=1)
            grid &= rank <= self._depth
            available = rank[:, -1]
            complete = available <= self._depth
            counts = np.minimum(available, self._depth)
        entries = flat[ok]
        indptr = _offsets(counts)
        self._parts.append((rows, counts, entries))
        self._listed.update(
            (row, (entries, start, stop, whole))
            for row, start, stop, whole in zip(
                rows.tolist(),
                indptr[:-1].tolist(),
                indptr[1:].tolist(),
                complete.tolist(),
                strict=True,
            )
        )
        return rows, indptr, entries

    def _raw_cached(self, rows):
        """Lists of a live index: cached ones (unless listed before in this
        batch, or left with fewer than ``k`` available rows), the rest searched
        in one call. Returns ``(flat ids, lengths, complete)``."""
        pool = self._pool
        expanded = pool._expanded.contains_ids(rows).tolist()
        raw, need = {}, []  # raw: row -> (ids, complete)
        for row, done in zip(rows.tolist(), expanded, strict=True):
            if done:
                raw[row] = (_EMPTY, True)
                continue
            ids = pool._cache.get(row) if row not in self._listed else None
            if ids is not None:
                valid = ids[ids >= 0]
                available = valid.shape[0] - np.count_nonzero(
                    pool._excluded.contains_ids(valid)
                )
                whole = ids.shape[0] == 0 or ids[-1] < 0  # the search ran out
                if whole or available >= self.n_neighbors:
                    raw[row] = (ids, whole)
                    continue
            need.append(row)
        if need:
            need = np.asarray(need, dtype=np.int64)
            found = pool._search_and_cache(need, self._depth)
            for row, ids in zip(need.tolist(), found, strict=True):
                raw[row] = (ids, bool(ids[-1] < 0))
        arrays = [raw[row][0] for row in rows.tolist()]
        lengths = np.fromiter((a.shape[0] for a in arrays), np.int64, len(arrays))
        flat = np.concatenate(arrays) if arrays else _EMPTY
        complete = np.array([raw[row][1] for row in rows.tolist()], dtype=bool)
        return flat, lengths, complete

    def is_listed(self, row):
        """Whether the list of ``row`` was read in this batch."""
        return row in self._listed

    def list_of(self, row):
        """The list of ``row`` as read."""
        entries, start, stop, _ = self._listed[row]
        return entries[start:stop]

    def may_run_short(self, row, picked):
        """Whether the list of ``row`` holds fewer than ``k`` rows not in ``picked``
        and the index may have more (it must then be read again)."""
        _, start, stop, whole = self._listed[row]
        if whole or stop - start >= self.n_neighbors + len(picked):
            return False
        listed = self.list_of(row).tolist()
        return len(listed) - sum(1 for r in listed if r in picked) < self.n_neighbors

    def is_member(self, rows):
        """Whether each of ``rows`` (valid ids) is in the pool."""
        return self._pool._members.contains_ids(rows)

    def read_rows(self, rows):
        """``X[rows]`` for sorted ``rows``, kept to fill the row cache on join."""
        block = np.asarray(self._pool._X[rows])
        self._read.append((rows, block))
        return block

    # -- applying the picks ---------------------------------------------------
    def _kept(self, picks):
        """Rows of the picks' lists that join: each list minus the rows picked
        up to (and including) its own pick, cut at ``k``; only rows not yet in
        the pool are returned (sorted)."""
        pool = self._pool
        if max(int(c.max(initial=0)) for _, c, _ in self._parts) <= self.n_neighbors:
            # Every list joins whole (the rows picked before it are picks, in
            # the pool or joining through an earlier list): the lists of the
            # listed rows now excluded, which are the picks. A list read twice
            # (a search that may have run short) adds its nearest rows twice.
            flat = np.concatenate(
                [
                    entries[np.repeat(pool._excluded.contains_ids(rows), counts)]
                    for rows, counts, entries in self._parts
                ]
            )
        else:
            listed = [row for row in picks.tolist() if row in self._listed]
            if not listed:
                return _EMPTY
            arrays = [self.list_of(row) for row in listed]
            lengths = np.fromiter((a.shape[0] for a in arrays), np.int64, len(arrays))
            flat = np.concatenate(arrays)
            flat = flat[self._within_k(picks, listed, flat, lengths)]
        flat = flat[~pool._members.contains_ids(flat)]
        return np.unique(flat)

    def _within_k(self, picks, listed, flat, lengths):
        """Mask of the rows of the concatenated lists that join: those left
        among the first ``k`` once the rows picked up to (and including) the
        list's own pick are removed."""
        # Rows excluded now but listed were picked this round (a list holds no
        # row excluded when it was read, and only picks were excluded since).
        picked = np.flatnonzero(self._pool._excluded.contains_ids(flat))
        alive = np.ones(flat.shape[0], dtype=bool)
        if picked.size:
            order = np.argsort(picks, kind="stable")
            at = np.searchsorted(picks[order], flat[picked])
            owner = np.repeat(np.arange(len(listed)), lengths)[picked]
            pick_no = {row: i for i, row in enumerate(picks.tolist())}
            owner_no = np.array([pick_no[row] for row in listed], dtype=np.int64)
            alive[picked] = order[at] > owner_no[owner]
        return alive & (_ranks(alive, lengths) <= self.n_neighbors)

    def _rows_read(self, rows):
        """``X[rows]`` for sorted ``rows`` from the blocks read for scoring, or
        None if some were not read."""
        if not self._read:
            return None
        read = np.concatenate([r for r, _ in self._read])
        order = np.argsort(read)
        pos = np.minimum(np.searchsorted(read, rows, sorter=order), read.size - 1)
        at = order[pos]
        if not np.array_equal(read[at], rows):
            return None
        if len(self._read) == 1:
            return self._read[0][1][at]
        return np.concatenate([b for _, b in self._read])[at]

    def finish(self, picks, joined=None, block=None):
        """Apply the round's picks: their neighbours join, they leave the pool.

        ``joined``, when given, holds the rows that join (sorted, none in the
        pool yet), as the compiled loop found them, and ``block`` their rows
        of X when they were read; else both are worked out from the lists and
        rows read.
        """
        pool = self._pool
        picks = np.asarray(picks, dtype=np.int64)
        if picks.size == 0:
            return
        if joined is None:
            joined = self._kept(picks)  # rows not yet in the pool
        pool._expanded.add(picks)
        if pool._cache:
            for row in picks.tolist():
                pool._cache_pop(row)
        if joined.size:
            if block is None:
                block = self._rows_read(joined)
            pool._record_joined(joined, block)
        pool.leave(picks)
