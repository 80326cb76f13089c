"""One fitted index shared by threads: saving or pickling it while others search.

Annoy's ``save`` unmaps the live forest and maps the written file, and
hnswlib's deletion marks change with every search: a copy must never be taken
half-way through a search of another thread.
"""

import pickle
import sys
import threading
import time

import numpy as np
import pytest

from skseals.neighbors import AnnoyIndex, HNSWIndex
from skseals.utils import RowBitmap

N = 400


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(N, 8)).astype(np.float32)


def _bitmaps(n_sets, size, seed=0):
    rng = np.random.default_rng(seed)
    sets = [RowBitmap(N) for _ in range(n_sets)]
    for s in sets:
        s.add(rng.choice(N, size, replace=False))
    return sets


# -- Annoy: save and pickle wait for the searches in progress ---------------------
class _GatedForest:
    """Stands in front of an Annoy forest: a search waits at a gate inside it,
    and save() records whether it ran while a search was inside."""

    def __init__(self, forest):
        self.forest = forest
        self.inside, self.gate = threading.Event(), threading.Event()
        self.searching = 0
        self.saved_during_search = False

    def _search(self, name, *args, **kwargs):
        self.searching += 1
        self.inside.set()
        try:
            self.gate.wait(10)
            return getattr(self.forest, name)(*args, **kwargs)
        finally:
            self.searching -= 1

    def get_nns_by_item(self, *args, **kwargs):
        return self._search("get_nns_by_item", *args, **kwargs)

    def get_nns_by_vector(self, *args, **kwargs):
        return self._search("get_nns_by_vector", *args, **kwargs)

    def save(self, fname):
        self.saved_during_search |= self.searching > 0
        return self.forest.save(fname)


@pytest.mark.parametrize("write", ["pickle", "save"])
@pytest.mark.parametrize("search", ["search_rows", "search"])
def test_annoy_save_and_pickle_wait_for_searches(X, tmp_path, write, search):
    pytest.importorskip("annoy")
    index = AnnoyIndex(n_trees=5, random_state=0, n_jobs=1).fit(X)
    expected = index.search_rows([0, 1], 3)
    gated = index.index_ = _GatedForest(index.index_)
    query = [0, 1] if search == "search_rows" else X[:2]
    out = {}
    searcher = threading.Thread(
        target=lambda: out.update(found=getattr(index, search)(query, 3))
    )
    searcher.start()
    assert gated.inside.wait(10)  # a search is inside the forest
    if write == "pickle":
        writer = threading.Thread(target=lambda: out.update(blob=pickle.dumps(index)))
    else:
        writer = threading.Thread(target=index.save, args=(tmp_path / "a.ann",))
    writer.start()
    writer.join(0.2)  # without the lock, the write would run now, mid-search
    gated.gate.set()
    searcher.join(10)
    writer.join(10)
    assert not gated.saved_during_search
    np.testing.assert_array_equal(out["found"][1], expected[1])
    copy = (
        pickle.loads(out["blob"])
        if write == "pickle"
        else AnnoyIndex.load(tmp_path / "a.ann")
    )
    np.testing.assert_array_equal(copy.search_rows([0, 1], 3)[1], expected[1])


def test_annoy_searches_share_the_forest(X):
    """Searches of several threads still run at the same time (a shared lock)."""
    pytest.importorskip("annoy")
    index = AnnoyIndex(n_trees=5, random_state=0, n_jobs=1).fit(X)
    gated = index.index_ = _GatedForest(index.index_)
    threads = [
        threading.Thread(target=index.search_rows, args=([i], 3)) for i in range(2)
    ]
    for t in threads:
        t.start()
    for _ in range(1000):  # until both searches are inside the forest together
        if gated.searching == 2:
            break
        time.sleep(0.01)
    together = gated.searching == 2
    gated.gate.set()
    for t in threads:
        t.join(10)
    assert together


# -- hnswlib: a pickle is a consistent snapshot of graph and marks ----------------
def _hnsw(X):
    pytest.importorskip("hnswlib")
    return HNSWIndex(random_state=0, num_threads=1).fit(X)


def test_hnsw_state_is_a_snapshot_of_graph_and_marks(X):
    index = _hnsw(X)
    A, B = _bitmaps(2, 150)
    rows = np.arange(20)
    expected = {id(s): index.search_rows(rows, 10, exclude=s)[1] for s in (A, B)}
    index.search_rows(rows, 10, exclude=A)  # the graph marks A
    state = index.__getstate__()
    index.search_rows(rows, 10, exclude=B)  # another learner searches meanwhile
    copy = HNSWIndex.__new__(HNSWIndex)
    copy.__setstate__(pickle.loads(pickle.dumps(state)))
    for s in (B, A, None, B):
        got = copy.search_rows(rows, 10, exclude=s)[1]
        if s is not None:
            np.testing.assert_array_equal(got, expected[id(s)])
    np.testing.assert_array_equal(
        index.search_rows(rows, 10, exclude=A)[1], expected[id(A)]
    )


def test_hnsw_pickles_while_another_thread_searches(X):
    index = _hnsw(X)
    sets = _bitmaps(4, 200, seed=1)
    rows = np.arange(30)
    expected = [index.search_rows(rows, 8, exclude=s)[1] for s in sets]
    stop = threading.Event()

    def other_learner():
        i = 0
        while not stop.is_set():
            index.search_rows(rows[:5], 5, exclude=sets[i % 4])
            i += 1

    thread = threading.Thread(target=other_learner)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible
    thread.start()
    try:
        copies = [pickle.loads(pickle.dumps(index)) for _ in range(15)]
    finally:
        stop.set()
        thread.join(10)
        sys.setswitchinterval(switch)
    for copy in copies:
        for s, ids in zip(sets, expected, strict=True):
            np.testing.assert_array_equal(copy.search_rows(rows, 8, exclude=s)[1], ids)
