"""KNNPool's state beyond its lists: undoing a round that raised, and the
state a saved session stores and restores."""

from __future__ import annotations

import numpy as np

from ..utils import RowBitmap
from ._buffer import RowBuffer
from ._density import DensitySum

__all__ = ["KNNPoolStateMixin"]


class KNNPoolStateMixin:
    """Checkpoint / rollback of a ``query()`` round and ``get_state`` /
    ``set_state`` of :class:`~skseals.pool.KNNPool` (its attributes are
    set in ``KNNPool.fit``)."""

    _round = None  # the open round's checkpoint (see checkpoint), else None

    # -- undoing a round -------------------------------------------------------
    def checkpoint(self):
        """Mark the start of a round (see :class:`~skseals.base.BaseCandidatePool`).

        While the round is open, the pool records the rows that join it and
        the old value of each cached list it replaces or drops, O(1) per
        change.
        """
        mark = super().checkpoint()
        mark.update(
            joined=[],  # rows that joined the pool since
            cache={},  # row -> its cached list before the round (None: none)
            member_list=self._member_list,
            member_chunks=list(self._member_chunks),
            knn_seconds=self._knn_seconds,
        )
        self._round = mark
        return mark

    def commit(self, checkpoint):
        self._round = None
        super().commit(checkpoint)

    def rollback(self, checkpoint, rows):
        """Undo the round: the rows that joined leave (the row cache too),
        the picks ``rows`` are unexpanded candidates again and each cached
        list is back as it was (lists searched during the round were searched
        without the picks). O(pool) at most."""
        self._round = None
        super().rollback(checkpoint, rows)
        joined = checkpoint["joined"]
        joined = np.concatenate(joined) if joined else np.empty(0, dtype=np.int64)
        self._members.discard(joined)
        if self._buffer is not None and joined.size:
            held, _ = self._buffer.view()
            self._buffer.compact(~np.isin(held, joined))
        self._expanded.discard(rows)  # an available row is never expanded
        for row, ids in checkpoint["cache"].items():
            if ids is None:
                self._cache.pop(row, None)
            else:
                self._cache[row] = ids
        self._member_list = checkpoint["member_list"]
        self._member_chunks = checkpoint["member_chunks"]
        self._knn_seconds = checkpoint["knn_seconds"]

    def get_state(self):
        rows = np.fromiter(self._cache, dtype=np.int64, count=len(self._cache))
        width = max((len(v) for v in self._cache.values()), default=0)
        lists = np.full((rows.shape[0], width), -1, dtype=np.int64)
        for i, neigh in enumerate(self._cache.values()):
            lists[i, : len(neigh)] = neigh
        state = {
            "members": self._members.ids(),
            "expanded": self._expanded.ids(),
            "cache_rows": rows,
            "cache_lists": lists,
            "cache_lengths": np.array([len(v) for v in self._cache.values()], np.int64),
            "build_seconds": np.float64(self.build_seconds_),
        }
        if self.density_ is not None:
            state.update(self.density_.get_state())
        return state

    def set_state(self, X, excluded, state, index=None):
        self._validate_params()
        n = X.shape[0]
        self.index_ = index if index is not None else self._fit_index(X)
        self.build_seconds_ = float(state.get("build_seconds", 0.0))
        self._knn_seconds = 0.0
        self.n_samples_fit_ = n
        self._X = X
        self._excluded = excluded
        self._members = RowBitmap(n)
        self._members.add(state["members"])
        self._member_list = self._members.ids().copy()
        self._member_chunks = []
        self._expanded = RowBitmap(n)
        self._expanded.add(state["expanded"])
        self._cache = {}
        for row, neigh, length in zip(
            state["cache_rows"].tolist(),
            state["cache_lists"],
            state["cache_lengths"].tolist(),
            strict=True,
        ):
            self._cache[row] = np.array(neigh[:length], dtype=np.int64)
        self.density_ = None
        if "density_sum" in state:
            self.density_ = DensitySum.from_state(X, n, state)
        self._buffer = None
        if self.row_cache:
            self._buffer = RowBuffer(X)
            self._buffer.append(self.candidates())
        return self
