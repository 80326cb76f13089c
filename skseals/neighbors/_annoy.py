"""Adapter for Annoy (random projection forests), with over-fetch exclusion."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import import_optional
from ..utils._progress import add_rows
from ..utils._threads import capped_n_threads
from ._common import (
    _BaseIndex,
    empty_result,
    finish,
    read_meta,
    search_excluding,
    write_meta,
)

__all__ = ["AnnoyIndex"]

_ANNOY_METRICS = {"cosine": "angular", "euclidean": "euclidean", "inner_product": "dot"}

logger = logging.getLogger(__name__)


class _SharedLock:
    """Any number of shared holders, or one exclusive holder.

    A thread waiting for exclusive use holds back new shared holders, so a
    steady stream of searches cannot starve a save. Not re-entrant.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self):
        with self._cond:
            self._cond.wait_for(lambda: not (self._exclusive or self._waiting))
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self):
        with self._cond:
            self._waiting += 1
            try:
                self._cond.wait_for(lambda: not (self._exclusive or self._shared))
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class AnnoyIndex(_BaseIndex):
    """Approximate nearest neighbours with an Annoy forest.

    Needs the optional dependency annoy (``pip install "skseals[annoy]"``).

    Annoy has no way to skip rows during a search, so excluded rows are
    filtered out of over-fetched results: each query first asks for
    ``n_neighbors + min(|exclude|, 3 n_neighbors + 64)`` results and asks for
    four times more until ``n_neighbors`` allowed rows are found or the forest
    is exhausted. Many excluded rows near a query make its search slower.
    Annoy also has no batched query: queries are answered one by one, each
    in one call to Annoy, spread over ``n_jobs`` threads (Annoy releases the
    GIL while it searches).

    Annoy's ``"angular"`` distance ``sqrt(2 - 2 cos)`` is converted to
    ``1 - cos``. Items cannot be added after the forest is built (refit
    instead). Annoy indexes do not pickle natively: pickling saves the forest
    to a temporary file and stores its bytes.

    One fitted index may serve several learners and threads: searches run
    concurrently, while :meth:`save` and pickling -- Annoy's ``save`` unmaps
    the live forest and maps the written file -- wait for the searches in
    progress and hold new ones back until they are done.

    Parameters
    ----------
    n_trees : int, default=50
        Trees in the forest (more: better recall, larger index).
    search_k : int, default=-1
        Nodes inspected per query; -1 means ``n_trees * n_results``.
    metric : {"cosine", "euclidean", "inner_product"}, default="cosine"
        Mapped to Annoy's "angular", "euclidean" and "dot".
    random_state : int, RandomState instance or None, default=None
        Seeds Annoy (``set_seed``): the same seed gives the same forest.
    n_jobs : int, default=-1
        Threads used to build the forest and to answer a batch of queries
        (-1: all cores; always within skseals's thread budget,
        :func:`skseals.set_config`). The results do not depend on it.
    verbose : bool, default=False
        Show a progress bar (needs tqdm: ``pip install "skseals[progress]"``)
        while rows are added; the forest itself is built in one call, logged
        with its duration (``logging``, at INFO).

    Attributes
    ----------
    index_ : annoy.AnnoyIndex
        The Annoy forest.
    n_samples_fit_ : int
        Number of indexed rows.
    n_features_in_ : int
        Number of features of the fitted X.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.neighbors import AnnoyIndex
    >>> from skseals.utils import RowBitmap
    >>> X = np.random.default_rng(0).normal(size=(300, 8))
    >>> index = AnnoyIndex(n_trees=10, random_state=0).fit(X)
    >>> skip = RowBitmap(300)
    >>> skip.add([0, 1])
    >>> dist, idx = index.search_rows([0, 1], 5, exclude=skip)
    >>> idx.shape, bool(np.isin(idx, [0, 1]).any())
    ((2, 5), False)
    """

    _parameter_constraints: dict = {
        **_BaseIndex._parameter_constraints,
        "n_trees": [Interval(Integral, 1, None, closed="left")],
        "search_k": [Interval(Integral, -1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, -1, None, closed="left")],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        n_trees: int = 50,
        search_k: int = -1,
        metric: str = "cosine",
        random_state=None,
        n_jobs: int = -1,
        verbose: bool = False,
    ):
        self.n_trees = n_trees
        self.search_k = search_k
        self.metric = metric
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _new_index(self, dim):
        annoy = import_optional("annoy")
        return annoy.AnnoyIndex(int(dim), _ANNOY_METRICS[self.metric])

    def _build(self, V):
        index = self._new_index(V.shape[1])
        index.set_seed(int(check_random_state(self.random_state).randint(2**31 - 1)))

        def add(start, stop):
            for i in range(start, stop):
                index.add_item(i, V[i])

        add_rows(add, V.shape[0], verbose=self.verbose, desc="annoy add")
        logger.info("annoy: building %d trees over %d rows", self.n_trees, len(V))
        t0 = time.perf_counter()
        index.build(self.n_trees, n_jobs=capped_n_threads(self.n_jobs))
        logger.info("annoy: built the trees in %.2f s", time.perf_counter() - t0)
        self.index_ = index
        self._lock = _SharedLock()

    def _convert(self, dist):
        if self.metric == "cosine":
            dist = np.nan_to_num(dist, nan=0.0)  # sqrt(2 - 2cos) of a tiny negative
            return 0.5 * dist * dist  # 1 - cos
        if self.metric == "inner_product":
            return -dist
        return dist

    def _search(self, get_nns, targets, k, exclude):
        """One Annoy call per query (``get_nns(target, kk)``), then filter.

        The queries are split into contiguous parts, one per thread; each
        thread writes its own rows of the result.
        """
        n_threads = capped_n_threads(self.n_jobs)

        def fetch(queries, kk):
            D, I = empty_result(len(queries), kk)  # noqa: E741

            def answer(rows):
                for row in rows:
                    ids, dist = get_nns(targets[queries[row]], kk)
                    I[row, : len(ids)] = ids
                    D[row, : len(ids)] = self._convert(
                        np.asarray(dist, dtype=np.float32)
                    )

            parts = np.array_split(np.arange(len(queries)), n_threads)
            parts = [part.tolist() for part in parts if part.size]
            if len(parts) > 1:
                with ThreadPoolExecutor(len(parts)) as pool:
                    list(pool.map(answer, parts))
            elif parts:
                answer(parts[0])
            return D, I

        with self._lock.shared():  # save() must not remap the forest meanwhile
            D, I = search_excluding(  # noqa: E741
                fetch, len(targets), k, exclude, self.n_samples_fit_
            )
        return finish(D, I, k)

    def _search_vectors(self, V, k, exclude):
        index, search_k = self.index_, self.search_k

        def get_nns(v, kk):
            return index.get_nns_by_vector(v, kk, search_k, include_distances=True)

        return self._search(get_nns, V, k, exclude)

    def _search_rows(self, rows, k, exclude):
        index, search_k = self.index_, self.search_k

        def get_nns(row, kk):
            return index.get_nns_by_item(int(row), kk, search_k, include_distances=True)

        return self._search(get_nns, rows, k, exclude)

    # -- persistence -------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_lock", None)
        if "index_" in state:
            fd, tmp = tempfile.mkstemp(suffix=".ann")
            os.close(fd)
            try:
                with self._lock.exclusive():
                    self.index_.save(tmp)  # the live index now maps tmp
                with open(tmp, "rb") as f:
                    state["index_"] = f.read()
            finally:
                _unlink(tmp)
        return state

    def __setstate__(self, state):
        blob = state.get("index_")
        self.__dict__.update(state)
        self._lock = _SharedLock()
        if blob is not None:
            fd, tmp = tempfile.mkstemp(suffix=".ann")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            self.index_ = self._new_index(self.n_features_in_)
            self.index_.load(tmp, prefault=True)
            _unlink(tmp)

    def save(self, path: str | os.PathLike) -> None:
        """Write the forest with Annoy ``save`` and parameters to ``path.json``.

        Parameters
        ----------
        path : str or path-like
            Destination file (the live index memory-maps it afterwards; the
            searches of other threads wait while it is written).
        """
        check_is_fitted(self)
        with self._lock.exclusive():
            self.index_.save(os.fspath(path))
        write_meta(path, self)

    @classmethod
    def load(cls, path: str | os.PathLike, *, mmap: bool = True) -> AnnoyIndex:
        """Load a forest written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.
        mmap : bool, default=True
            Annoy always memory-maps; False pre-faults the whole file.

        Returns
        -------
        index : AnnoyIndex
            A fitted index.
        """
        index, _ = read_meta(path, cls)
        index.index_ = index._new_index(index.n_features_in_)
        index.index_.load(os.fspath(path), prefault=not mmap)
        index._lock = _SharedLock()
        return index


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:  # pragma: no cover - Windows keeps mapped files
        pass
