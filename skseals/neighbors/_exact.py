"""Brute-force neighbour search with numpy BLAS, in row blocks."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._common import _BaseIndex, empty_result, pair_distances, read_meta, write_meta

__all__ = ["ExactIndex"]

# Upper bound on the (queries x block) score matrix, in float32 entries (64 MB).
_SCORE_BUDGET = 1 << 24


def _block_top_k(keys, k):
    """Columns of the ``k`` smallest keys per row, lower column first on ties."""
    m, b = keys.shape
    if k >= b:
        return np.broadcast_to(np.arange(b), (m, b)).copy()
    idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
    thr = np.take_along_axis(keys, idx, axis=1).max(axis=1)
    # A tie at the threshold split between chosen and unchosen columns:
    # argpartition picked arbitrarily, so redo those rows with a stable sort.
    split = np.isfinite(thr) & ((keys <= thr[:, None]).sum(axis=1) > k)
    if split.any():
        idx[split] = np.argsort(keys[split], axis=1, kind="stable")[:, :k]
    return idx


class ExactIndex(_BaseIndex):
    """Exact nearest neighbours by brute force (numpy BLAS), block by block.

    Scores are computed ``block_size`` indexed rows at a time (and a bounded
    number of queries at a time), so memory stays small however many rows are
    indexed; each block keeps its top ``k`` with :func:`numpy.argpartition`
    and the blocks are merged. Excluded rows are masked per block through
    :meth:`RowBitmap.dense <skseals.utils.RowBitmap.dense>`.

    Rows at exactly equal computed distances come lower row id first. The
    distances are computed in float32 by BLAS, whose rounding depends on the
    shape of each product (how many queries are searched together,
    ``block_size``), so rows whose distances differ by less than that rounding
    (about ``1e-7`` relative) -- identical rows included -- may come in either
    order, or trade places at the ``k``-th result, and a query searched in
    another batch may see them in another order.

    Parameters
    ----------
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        ``"cosine"`` L2-normalises a float32 copy of the rows and uses the
        inner product; distances are ``1 - cos``, the L2 distance and
        ``-<q, x>`` respectively.
    block_size : int, default=16384
        Indexed rows scored per BLAS call.

    Attributes
    ----------
    n_samples_fit_ : int
        Number of indexed rows.
    n_features_in_ : int
        Number of features of the fitted X.
    vectors_ : ndarray of shape (``n_samples_fit_``, ``n_features_in_``)
        The indexed rows as float32 (L2-normalised for ``"cosine"``); a view
        of X when X was already float32, C-ordered and not normalised.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.neighbors import ExactIndex
    >>> from skseals.utils import RowBitmap
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> index = ExactIndex(metric="euclidean").fit(X)
    >>> dist, idx = index.search([[1.0, 1.0]], 2)
    >>> idx.tolist()
    [[2, 3]]
    >>> skip = RowBitmap(4)
    >>> skip.add([2])
    >>> index.search_rows([2], 3, exclude=skip)[1].tolist()
    [[3, 0, 1]]
    """

    _parameter_constraints: dict = {
        **_BaseIndex._parameter_constraints,
        "block_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, metric: str = "cosine", block_size: int = 16384):
        self.metric = metric
        self.block_size = block_size

    def _build(self, V):
        self.vectors_ = V
        self._sq_norms = (
            np.einsum("ij,ij->i", V, V) if self.metric == "euclidean" else None
        )

    def _row_vectors(self, rows):
        return np.asarray(self.vectors_[rows], dtype=np.float32)

    def _search_vectors(self, V, k, exclude):
        n = self.n_samples_fit_
        D_out, I_out = empty_result(V.shape[0], k)
        step = max(1, _SCORE_BUDGET // min(self.block_size, n))
        for s in range(0, V.shape[0], step):
            D_out[s : s + step], I_out[s : s + step] = self._scan(
                V[s : s + step], k, exclude
            )
        return D_out, I_out

    def _scan(self, Q, k, exclude):
        n, m = self.n_samples_fit_, Q.shape[0]
        best_keys, best_ids = empty_result(m, 0)
        sq = self._sq_norms
        for start in range(0, n, self.block_size):
            stop = min(n, start + self.block_size)
            block = np.asarray(self.vectors_[start:stop], dtype=np.float32)
            keys = Q @ block.T
            if sq is None:
                np.negative(keys, out=keys)
            else:
                keys *= -2.0
                keys += sq[start:stop]
            if exclude is not None:
                keys[:, exclude.dense(start, stop)] = np.inf
            local = _block_top_k(keys, k)
            keys = np.take_along_axis(keys, local, axis=1)
            # Merge with the best so far: by key, then by row id.
            keys = np.hstack([best_keys, keys])
            ids = np.hstack([best_ids, local + start])
            order = np.lexsort((ids, keys), axis=1)[:, :k]
            best_keys = np.take_along_axis(keys, order, axis=1)
            best_ids = np.take_along_axis(ids, order, axis=1)
        missing = ~np.isfinite(best_keys)
        best_ids[missing] = -1
        if self.metric == "euclidean":
            D = pair_distances(Q, self.vectors_, best_ids, "euclidean")
            order = np.lexsort((np.where(missing, n, best_ids), D), axis=1)
            D = np.take_along_axis(D, order, axis=1)
            best_ids = np.take_along_axis(best_ids, order, axis=1)
        elif self.metric == "cosine":
            D = np.maximum(1.0 + best_keys, 0.0)
        else:
            D = best_keys
        D = D.astype(np.float32, copy=False)
        D[best_ids < 0] = np.inf
        if D.shape[1] < k:
            D_pad, I_pad = empty_result(m, k - D.shape[1])
            D, best_ids = np.hstack([D, D_pad]), np.hstack([best_ids, I_pad])
        return D, best_ids

    # -- persistence ---------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the indexed vectors to ``path`` (.npy) and parameters to ``path.json``.

        Parameters
        ----------
        path : str or path-like
            Destination file (written as is: no suffix is appended).
        """
        check_is_fitted(self)
        with open(path, "wb") as f:
            np.save(f, np.asarray(self.vectors_))
        write_meta(path, self)

    @classmethod
    def load(cls, path: str | os.PathLike, *, mmap: bool = True) -> ExactIndex:
        """Load an index written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.
        mmap : bool, default=True
            Memory-map the vectors (read-only) instead of reading them.

        Returns
        -------
        index : ExactIndex
            A fitted index.
        """
        index, _ = read_meta(path, cls)
        index.vectors_ = np.load(path, mmap_mode="r" if mmap else None)
        index._build(index.vectors_)
        return index
