"""Tests of the precomputed neighbour table skseals.neighbors.KNNGraph."""

import pickle
import sys

import numpy as np
import pytest
from sklearn.base import clone

from skseals.neighbors import ExactIndex, FaissIndex, KNNGraph
from skseals.utils import RowBitmap


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(400, 12)).astype(np.float32)


@pytest.fixture(scope="module")
def graph(X):
    return KNNGraph(n_neighbors=8, index="exact", batch_size=64).fit(X)


def _brute(X, k, metric="cosine"):
    """Exact neighbours of every row, self dropped."""
    D, I = ExactIndex(metric=metric).fit(X).search_rows(np.arange(len(X)), k + 1)  # noqa: E741
    return D[:, 1:], I[:, 1:]


def test_table_matches_brute_force(X, graph):
    D_ref, I_ref = _brute(X, 8)
    assert graph.neighbors_.dtype == np.int32 and graph.distances_.dtype == np.float32
    assert graph.neighbors_.shape == (400, 8)
    np.testing.assert_array_equal(graph.neighbors_, I_ref)
    np.testing.assert_allclose(graph.distances_, D_ref, atol=1e-6)
    assert not np.any(graph.neighbors_ == np.arange(400)[:, None])


def test_faiss_graph_reuses_fitted_index(X):
    index = FaissIndex("HNSW16", metric="euclidean").fit(X)
    g = KNNGraph(n_neighbors=5, index=index, metric="euclidean").fit(X)
    assert g.index_ is index
    _, I_ref = _brute(X, 5, "euclidean")
    recall = np.mean(
        [
            np.intersect1d(a, b).size / 5
            for a, b in zip(g.neighbors_, I_ref, strict=True)
        ]
    )
    assert recall >= 0.95
    with pytest.raises(ValueError, match="fitted on 400 rows"):
        KNNGraph(index=index, metric="euclidean").fit(X[:100])
    unfitted = FaissIndex("Flat", metric="euclidean")
    g2 = KNNGraph(n_neighbors=5, index=unfitted, metric="euclidean").fit(X)
    assert g2.index_ is not unfitted and not hasattr(unfitted, "n_samples_fit_")


def test_search_rows_filters_and_pads(graph):
    exclude = RowBitmap(400)
    exclude.add(graph.neighbors_[0, :3])
    D, I = graph.search_rows([0, 1], 8, exclude=exclude)  # noqa: E741
    assert I.dtype == np.int64 and I.shape == (2, 8)
    np.testing.assert_array_equal(I[0, :5], graph.neighbors_[0, 3:])
    assert np.all(I[0, 5:] == -1) and np.all(np.isinf(D[0, 5:]))
    assert not exclude.contains(I[I >= 0]).any()
    # Asking for more than stored pads; asking for fewer cuts.
    D, I = graph.search_rows([2], 20)  # noqa: E741
    np.testing.assert_array_equal(I[0, :8], graph.neighbors_[2])
    assert np.all(I[0, 8:] == -1)
    assert graph.search_rows([2], 3)[1].tolist() == [graph.neighbors_[2, :3].tolist()]


def test_search_delegates_to_index(X, graph):
    D, I = graph.search(X[:3], 4)  # noqa: E741
    np.testing.assert_array_equal(I[:, 0], [0, 1, 2])  # the index keeps self


def test_few_rows_pad():
    g = KNNGraph(n_neighbors=5, index="faiss").fit(np.eye(3))
    assert g.neighbors_.shape == (3, 5)
    assert np.all(g.neighbors_[:, 2:] == -1)
    assert sorted(g.neighbors_[0, :2].tolist()) == [1, 2]


def test_save_load_mmap(X, graph, tmp_path):
    path = tmp_path / "graph.npy"
    graph.save(path)
    loaded = KNNGraph.load(path)
    assert isinstance(loaded.neighbors_, np.memmap)
    assert loaded.n_neighbors == 8 and loaded.n_samples_fit_ == 400
    exclude = RowBitmap(400)
    exclude.add([5, 6, 7])
    a = graph.search_rows(np.arange(50), 8, exclude=exclude)
    b = loaded.search_rows(np.arange(50), 8, exclude=exclude)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(RuntimeError, match="index"):
        loaded.search(X[:1], 3)
    with_index = KNNGraph.load(path, mmap_mode=None, index=graph.index_)
    assert with_index.search(X[:1], 3)[1][0, 0] == 0
    with pytest.raises(ValueError, match="fitted on 10 rows"):
        KNNGraph.load(path, index=ExactIndex().fit(X[:10]))


def test_pickle_and_clone(graph):
    copy = pickle.loads(pickle.dumps(graph))
    np.testing.assert_array_equal(copy.neighbors_, graph.neighbors_)
    np.testing.assert_array_equal(
        copy.search_rows([3], 4)[1], graph.search_rows([3], 4)[1]
    )
    assert clone(graph) is graph
    assert not hasattr(clone(KNNGraph(n_neighbors=3)), "neighbors_")


def test_bad_parameters(X):
    with pytest.raises(ValueError, match="'n_neighbors' parameter"):
        KNNGraph(n_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="'batch_size' parameter"):
        KNNGraph(batch_size=0).fit(X)
    with pytest.raises(ValueError, match="'index' parameter"):
        KNNGraph(index=3).fit(X)
    with pytest.raises(ValueError, match="'exact'"):
        KNNGraph(index="kd_tree").fit(X)


def test_verbose_progress(X, capsys):
    pytest.importorskip("tqdm")
    KNNGraph(n_neighbors=2, index="exact", batch_size=100, verbose=True).fit(X)
    assert "kNN graph" in capsys.readouterr().err


def test_verbose_without_tqdm(X, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"skseals\[progress\]"):
        KNNGraph(n_neighbors=2, index="exact", verbose=True).fit(X)


def test_neighbor_ids_are_search_rows_ids_without_distances():
    from skseals.utils import RowBitmap

    X = np.random.RandomState(3).normal(size=(120, 6)).astype(np.float32)
    graph = KNNGraph(n_neighbors=8, index="exact").fit(X)
    exclude = RowBitmap(120)
    exclude.add(np.arange(0, 120, 3))
    rows = np.array([1, 4, 5, 119])
    for k in (3, 8, 12):  # fewer, as many and more than the graph stores
        for excl in (None, exclude):
            _, expected = graph.search_rows(rows, k, exclude=excl)
            ids = graph.neighbor_ids(rows, k, exclude=excl)
            assert ids.shape == (4, k) and ids.dtype == np.int64
            np.testing.assert_array_equal(ids, expected)
    assert not np.isin(
        graph.neighbor_ids(rows, 8, exclude=exclude), exclude.ids()
    ).any()


# -- tables from outside are checked (a bad id would crash the compiled loop) --
def _saved(graph, tmp_path, neighbors=None, distances=None):
    """Save ``graph``, then overwrite its tables with the ones given."""
    path = tmp_path / "graph.npy"
    graph.save(path)
    if neighbors is not None:
        np.save(path, neighbors)
    if distances is not None:
        np.save(str(path) + ".distances.npy", distances)
    return path


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: np.where(np.arange(400)[:, None] == 15, 10**9, t), "row 15"),
        (lambda t: np.where(t == t[3, 2], -7, t), "outside \\[0, 400\\)"),
        (lambda t: t[:-1], "shape \\(399, 8\\)"),
        (lambda t: t[:, :5], "shape \\(400, 5\\)"),
        (lambda t: t.astype(np.float32), "integer array"),
        (lambda t: t.ravel(), "integer array"),
    ],
)
def test_load_refuses_a_table_of_other_rows(graph, tmp_path, change, match):
    path = _saved(graph, tmp_path, change(np.array(graph.neighbors_)))
    for mmap_mode in ("r", None):
        with pytest.raises(ValueError, match=match):
            KNNGraph.load(path, mmap_mode=mmap_mode)


def test_load_refuses_distances_of_another_shape(graph, tmp_path):
    path = _saved(graph, tmp_path, distances=np.zeros((400, 3), np.float32))
    with pytest.raises(ValueError, match="distances"):
        KNNGraph.load(path)


def test_load_checks_ids_block_by_block(graph, tmp_path, monkeypatch):
    import skseals.neighbors._graph_tables as graph_module

    table = np.array(graph.neighbors_)
    table[397, 7] = 400  # in the last block only
    monkeypatch.setattr(graph_module, "_CHECK_ENTRIES", 8 * 10)  # 10 rows a block
    with pytest.raises(ValueError, match="row 397"):
        KNNGraph.load(_saved(graph, tmp_path, table))

    class Recorder:  # a table that records the rows read at once
        shape, read = table.shape, []

        def __getitem__(self, rows):
            self.read.append(len(range(*rows.indices(400))))
            return table[rows]

    assert graph_module._first_bad_row(Recorder(), 400) == 397
    assert len(Recorder.read) == 40 and max(Recorder.read) == 10


def test_fit_refuses_an_index_returning_foreign_ids(X):
    class Foreign(ExactIndex):
        def search_rows(self, rows, n_neighbors, *, exclude=None):
            D, I = super().search_rows(rows, n_neighbors, exclude=exclude)  # noqa: E741
            return D, I + 1000

    with pytest.raises(ValueError, match="outside \\[0, 400\\)"):
        KNNGraph(n_neighbors=3, index=Foreign()).fit(X)


def test_ids_are_int64_beyond_int32(X, graph, tmp_path):
    from skseals import ActiveSearcher
    from skseals.neighbors._graph_tables import id_dtype
    from skseals.pool import KNNPool

    assert id_dtype(400) is np.int32 and id_dtype(2**31) is np.int32
    assert id_dtype(2**31 + 1) is np.int64
    wide = KNNGraph.load(
        _saved(graph, tmp_path, np.array(graph.neighbors_, dtype=np.int64))
    )
    assert wide.neighbors_.dtype == np.int64
    y = np.full(400, -1)
    y[:3], y[3:13] = 1, 0
    picks = [
        ActiveSearcher(pool=KNNPool(5, index=g), batch_size=10, random_state=0)
        .fit(X, y)
        .query()
        for g in (graph, wide)
    ]
    np.testing.assert_array_equal(picks[0], picks[1])
    np.testing.assert_array_equal(
        wide.neighbor_ids([0, 399], 8), graph.neighbor_ids([0, 399], 8)
    )
