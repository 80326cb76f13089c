"""Validation, normalisation and result helpers shared by the index adapters.

Every adapter derives from :class:`_BaseIndex`, which validates data and
arguments once, then calls three backend hooks:

- ``_build(V)``: build the library index over the prepared vectors ``V``
  (float32, C-contiguous, L2-normalised for ``"cosine"``);
- ``_search_vectors(V, k, exclude)``: search prepared query vectors;
- ``_search_rows(rows, k, exclude)``: search indexed rows (default: fetch the
  stored vectors with ``_row_vectors`` and search them).
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import time
from contextlib import contextmanager

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import METRICS, BaseNeighborIndex
from ..utils import RowBitmap
from ..utils._row_array import dense_rows
from ..utils._threads import thread_limited

__all__ = [
    "check_n_neighbors",
    "compact",
    "empty_result",
    "normalize_rows",
    "pair_distances",
    "search_excluding",
]

METRIC_CONSTRAINT = [StrOptions(set(METRICS))]

logger = logging.getLogger(__name__)


def check_n_neighbors(n_neighbors) -> int:
    """Return ``n_neighbors`` as an int, or raise naming the argument."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise TypeError(
            f"n_neighbors must be a positive int, got {n_neighbors!r} of type "
            f"{type(n_neighbors).__name__}. Pass e.g. n_neighbors=10."
        )
    if n_neighbors < 1:
        raise ValueError(
            f"n_neighbors must be a positive int, got {n_neighbors}. "
            "Pass n_neighbors >= 1."
        )
    return int(n_neighbors)


def normalize_rows(V: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """L2-normalise the rows of a float32 array (all-zero rows stay zero)."""
    V = np.array(V, dtype=np.float32, order="C", copy=copy)
    norms = np.sqrt(np.einsum("ij,ij->i", V, V, dtype=np.float64))
    norms[norms == 0] = 1.0
    V /= norms.astype(np.float32)[:, None]
    return V


def empty_result(m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All-missing result: distances ``inf``, indices ``-1``."""
    return (
        np.full((m, k), np.inf, dtype=np.float32),
        np.full((m, k), -1, dtype=np.int64),
    )


def compact(D, I, keep, k):  # noqa: E741 - faiss naming
    """Move the kept entries of each row to the front (order kept), cut to ``k``.

    Entries not kept become ``(inf, -1)``; rows are padded to ``k`` columns.
    """
    m = I.shape[0]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    D = np.take_along_axis(D, order, axis=1).astype(np.float32, copy=False)
    I = np.take_along_axis(I, order, axis=1).astype(np.int64, copy=False)  # noqa: E741
    kept = np.take_along_axis(keep, order, axis=1)
    D[~kept] = np.inf
    I[~kept] = -1
    if I.shape[1] < k:
        D_pad, I_pad = empty_result(m, k - I.shape[1])
        D, I = np.hstack([D, D_pad]), np.hstack([I, I_pad])  # noqa: E741
    return D, I


def _allowed(I, exclude):  # noqa: E741
    keep = I >= 0
    if exclude is not None and len(exclude):
        keep[keep] = ~exclude.contains(I[keep])
    return keep


def search_excluding(fetch, m, k, exclude, n_indexed):
    """Over-fetch and filter, for a library that cannot skip rows itself.

    ``fetch(queries, kk)`` returns ``(D, I)`` with ``kk`` ascending results
    (``-1`` padded) for the query positions ``queries``. Each query starts with
    ``kk = k + min(|exclude|, 3k + 64)`` results; queries that found fewer than
    ``k`` allowed rows are fetched again with ``4 kk`` until they have ``k``,
    the library returns fewer than asked (it found all it could), or ``kk``
    reaches the number of indexed rows.
    """
    D_out, I_out = empty_result(m, k)
    n_excl = len(exclude) if exclude is not None else 0
    want = min(k, n_indexed - n_excl)
    if want <= 0 or m == 0:
        return D_out, I_out
    kk = min(n_indexed, k + min(n_excl, 3 * k + 64))
    todo = np.arange(m)
    while todo.size:
        D, I = fetch(todo, kk)  # noqa: E741
        keep = _allowed(I, exclude)
        D_out[todo], I_out[todo] = compact(D, I, keep, k)
        done = (
            (keep.sum(axis=1) >= want) | ((I >= 0).sum(axis=1) < kk) | (kk >= n_indexed)
        )
        todo = todo[~done]
        kk = min(n_indexed, 4 * kk)
    return D_out, I_out


def pair_distances(Q, V, I, metric):  # noqa: E741
    """Exact distances between query ``i`` and rows ``I[i]`` (inf where -1)."""
    D = np.full(I.shape, np.inf, dtype=np.float32)
    step = max(1, (1 << 22) // max(1, I.shape[1] * V.shape[1]))
    for s in range(0, I.shape[0], step):
        Ib = I[s : s + step]
        valid = Ib >= 0
        Xb = np.asarray(V[np.where(valid, Ib, 0)], dtype=np.float32)
        q = Q[s : s + step, None, :]
        if metric == "euclidean":
            d = np.sqrt(np.einsum("mkd,mkd->mk", Xb - q, Xb - q))
        else:
            sim = np.einsum("mkd,mkd->mk", Xb, np.broadcast_to(q, Xb.shape))
            d = np.maximum(1.0 - sim, 0.0) if metric == "cosine" else -sim
        D[s : s + step] = np.where(valid, d, np.inf)
    return D


def sort_result(D, I):  # noqa: E741
    """Sort each row by distance, then row id; missing entries last."""
    order = np.lexsort((np.where(I < 0, np.iinfo(np.int64).max, I), D), axis=1)
    return np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1)


def finish(D, I, k):  # noqa: E741
    """Mark ``-1`` entries as ``inf``, sort, pad to ``k`` columns (float32/int64)."""
    D = np.asarray(D, dtype=np.float32).copy()
    I = np.asarray(I, dtype=np.int64)  # noqa: E741
    D[I < 0] = np.inf
    D, I = sort_result(D, I)  # noqa: E741
    return compact(D, I, I >= 0, k)


def write_meta(path, estimator, **extra):
    """Write the estimator's parameters and fitted sizes to ``path + ".json"``."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if value is None or isinstance(value, (str, bool, int, float)):
            params[key] = value
        elif isinstance(value, numbers.Integral):
            params[key] = int(value)
    meta = {
        "class": type(estimator).__name__,
        "params": params,
        "n_samples_fit_": int(estimator.n_samples_fit_),
        "n_features_in_": int(estimator.n_features_in_),
        **extra,
    }
    with open(os.fspath(path) + ".json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)


def read_meta(path, cls):
    """Read what :func:`write_meta` wrote; return ``(unfitted estimator, meta)``."""
    with open(os.fspath(path) + ".json", encoding="utf-8") as f:
        meta = json.load(f)
    if meta["class"] != cls.__name__:
        raise ValueError(
            f"{path!s} holds a {meta['class']}, not a {cls.__name__}: load it with "
            f"{meta['class']}.load."
        )
    est = cls(**meta["params"])
    est.n_samples_fit_ = meta["n_samples_fit_"]
    est.n_features_in_ = meta["n_features_in_"]
    if hasattr(est, "metric"):
        est.metric_ = est.metric
    return est, meta


def built_metric(index):
    """The metric ``index`` was built with (its ``metric`` parameter may
    have been changed since, by ``set_params``)."""
    return getattr(index, "metric_", getattr(index, "metric", None))


def check_built_metric(index):
    """Raise if ``index.metric`` no longer is the metric it was built with:
    its stored vectors and distances are those of the earlier one."""
    built = built_metric(index)
    if index.metric != built:
        raise ValueError(
            f"metric={index.metric!r} was set after the index was built with "
            f"metric={built!r}: set it back, or fit the index again."
        )


@contextmanager
def restored_on_error(index):
    """A ``fit`` that raises (bad parameters, a failed build, Ctrl-C) leaves
    ``index`` as it was: unfitted, or fitted on the earlier data."""
    state = index.__dict__.copy()
    try:
        yield
    except BaseException:
        index.__dict__.clear()
        index.__dict__.update(state)
        raise


class _BaseIndex(BaseNeighborIndex):
    """Validation shared by the adapters (see the module docstring)."""

    _parameter_constraints: dict = {"metric": METRIC_CONSTRAINT}

    # -- hooks ---------------------------------------------------------------
    def _build(self, V):  # pragma: no cover - abstract
        raise NotImplementedError

    def _search_vectors(self, V, k, exclude):  # pragma: no cover - abstract
        raise NotImplementedError

    def _row_vectors(self, rows):  # pragma: no cover - abstract
        raise NotImplementedError

    def _search_rows(self, rows, k, exclude):
        return self._search_vectors(self._row_vectors(rows), k, exclude)

    # -- validation ----------------------------------------------------------
    def _prepare(self, X, *, reset):
        V = validate_data(
            self,
            X,
            reset=reset,
            dtype=np.float32,
            order="C",
            ensure_min_samples=1 if reset else 0,
        )
        if self.metric == "cosine":
            shared = isinstance(X, np.ndarray) and np.may_share_memory(V, X)
            V = normalize_rows(V, copy=shared)
        return V

    def _check_search(self, n_neighbors, exclude):
        check_is_fitted(self)
        check_built_metric(self)
        k = check_n_neighbors(n_neighbors)
        if exclude is not None:
            if not isinstance(exclude, RowBitmap):
                raise TypeError(
                    "exclude must be a skseals.utils.RowBitmap or None, got "
                    f"{type(exclude).__name__}. Build one with RowBitmap(n_rows) "
                    "and .add(ids)."
                )
            if exclude.n_rows != self.n_samples_fit_:
                raise ValueError(
                    f"exclude covers {exclude.n_rows} rows but the index holds "
                    f"{self.n_samples_fit_}: build RowBitmap(n_samples_fit_)."
                )
            if len(exclude) == 0:
                exclude = None
        return k, exclude

    def _check_rows(self, rows):
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iu" and not (rows.size == 0):
            raise TypeError(f"rows must be integer row ids, got dtype {rows.dtype}.")
        rows = rows.astype(np.int64, copy=False).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_samples_fit_):
            raise IndexError(
                f"rows must lie in [0, {self.n_samples_fit_}), the indexed rows."
            )
        return rows

    # -- public API ----------------------------------------------------------
    @thread_limited
    def fit(self, X: ArrayLike, y: None = None) -> _BaseIndex:
        """Build the index over every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite vectors (converted to float32, C order).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted index.
        """
        t0 = time.perf_counter()
        with restored_on_error(self):
            self._validate_params()
            V = self._prepare(dense_rows(X), reset=True)  # zarr: block by block
            self.n_samples_fit_ = None  # not shared by clone() while half built
            self._build(V)
            self.metric_ = self.metric
            self.n_samples_fit_ = int(V.shape[0])
        logger.info(
            "built %s over %d rows in %.2f s",
            type(self).__name__,
            self.n_samples_fit_,
            time.perf_counter() - t0,
        )
        return self

    def search(
        self, Q: ArrayLike, n_neighbors: int, *, exclude: RowBitmap | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n_neighbors`` nearest indexed rows of each query vector.

        Parameters
        ----------
        Q : array-like of shape (n_queries, n_features)
            Query vectors.
        n_neighbors : int
            Results per query; missing ones are padded with ``(inf, -1)``.
        exclude : RowBitmap or None
            Rows never to return.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), float32
            Ascending distances (see :class:`~skseals.base.BaseNeighborIndex`).
        indices : ndarray of shape (n_queries, n_neighbors), int64
            Row ids into the fitted X, ``-1`` where missing.
        """
        k, exclude = self._check_search(n_neighbors, exclude)
        V = self._prepare(Q, reset=False)
        return self._search_vectors(V, k, exclude)

    def search_rows(
        self, rows: ArrayLike, n_neighbors: int, *, exclude: RowBitmap | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search`, with indexed rows as queries.

        The query row itself is not dropped (it is usually its own nearest
        neighbour); exclude it through ``exclude`` when it must not be returned.

        Parameters
        ----------
        rows : array-like of int
            Row ids of the fitted X.
        n_neighbors : int
            Results per row.
        exclude : RowBitmap or None
            Rows never to return.

        Returns
        -------
        distances, indices : ndarrays of shape (len(rows), n_neighbors)
            As for :meth:`search`.
        """
        k, exclude = self._check_search(n_neighbors, exclude)
        rows = self._check_rows(rows)
        if rows.size == 0:
            return empty_result(0, k)
        return self._search_rows(rows, k, exclude)
