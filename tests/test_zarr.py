"""X as a zarr array: same picks as with numpy, and never read whole."""

import pickle

import numpy as np
import pytest

import skseals._querying as querying_module
from skseals import ActiveLearner, ActiveSearcher
from skseals.neighbors import ExactIndex, FaissIndex, KNNGraph
from skseals.pool import KNNPool
from skseals.utils._parallel import _reference
from skseals.utils._row_array import RowArray, dense_rows, is_row_array

zarr = pytest.importorskip("zarr", minversion="3")


def _zarr(X, store=None, chunk=256):
    z = zarr.create_array(
        store={} if store is None else str(store),
        shape=X.shape,
        chunks=(chunk, X.shape[1]),
        dtype=X.dtype,
    )
    z[:] = X
    return z


class _Counting:
    """A zarr array that counts the rows read through it (and the largest read)."""

    def __init__(self, z):
        self.z, self.shape, self.dtype, self.chunks = z, z.shape, z.dtype, z.chunks
        self.rows_read, self.largest = 0, 0
        outer = self

        class _OIndex:
            def __getitem__(self, key):
                return outer._count(outer.z.oindex[key])

        self.oindex = _OIndex()

    def _count(self, values):
        n = 1 if values.ndim == 1 else values.shape[0]
        self.rows_read += n
        self.largest = max(self.largest, n)
        return values

    def __getitem__(self, key):
        return self._count(self.z[key])


@pytest.fixture(scope="module")
def data(rare_concept_data):
    X, y = rare_concept_data
    return X.copy(), y.copy()


# -- the row adapter --------------------------------------------------------------
def test_row_array_indexes_like_numpy():
    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    R = RowArray(_zarr(X, chunk=4))
    for key in (
        np.array([7, 2, 2, 19, 0]),
        [3, -1, 5],
        np.array([], dtype=np.int64),
        np.arange(20) % 3 == 0,
        slice(4, 11),
        slice(None, None, 3),
        5,
        -2,
        (np.array([1, 4]), 0),
        (slice(2, 5), slice(1, 3)),
        np.array([[1, 2], [3, 3]]),
    ):
        got, want = R[key], X[key]
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    assert R.shape == (20, 3) and len(R) == 20 and R.ndim == 2
    np.testing.assert_array_equal(np.asarray(R), X)
    with pytest.raises(IndexError, match="rows must lie in"):
        R[np.array([20])]
    with pytest.raises(IndexError, match="out of bounds"):
        R[-21]


def test_row_array_casts_and_recognises_lazy_arrays():
    Xi = np.arange(12, dtype=np.int32).reshape(4, 3)
    z = _zarr(Xi)
    assert is_row_array(z) and not is_row_array(Xi) and not is_row_array([[1.0]])
    got = RowArray(z, dtype=np.float64)[[2, 0]]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, Xi[[2, 0]])


def test_dense_rows_reads_in_blocks():
    X = np.random.default_rng(1).normal(size=(1000, 5))
    counting = _Counting(_zarr(X, chunk=64))
    out = np.asarray(dense_rows(counting, block_size=100))
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.astype(np.float32))
    assert counting.largest == 100 and counting.rows_read == 1000
    assert dense_rows(X) is X  # an ndarray is left alone


# -- the learner: same picks --------------------------------------------------------
@pytest.mark.parametrize(
    "cls, pool, strategy",
    [
        (ActiveSearcher, "knn", "most_likely_positive"),
        (ActiveSearcher, "full", "information_density"),
        (ActiveLearner, "knn", "entropy"),
        (ActiveLearner, "full", "entropy"),
    ],
)
def test_same_picks_as_numpy(data, cls, pool, strategy):
    X, y = data
    z = _zarr(X)

    def run(X):
        learner = cls(pool=pool, query_strategy=strategy, batch_size=10)
        learner.set_params(random_state=0).fit(X, y)
        picks = []
        for _ in range(3):
            rows = learner.query()
            learner.teach(rows, (rows < 60).astype(int))
            picks.append(rows)
        return np.concatenate(picks), learner

    ref, _ = run(X)
    got, learner = run(z)
    np.testing.assert_array_equal(ref, got)
    assert isinstance(learner.X_, RowArray) and learner.X_.array is z
    assert learner.n_features_in_ == 16


def test_knn_pool_reads_only_candidate_rows(data):
    X, y = data
    index = FaissIndex("Flat").fit(X)  # built once, shared
    counting = _Counting(_zarr(X))
    learner = ActiveSearcher(
        pool=KNNPool(index=index, n_neighbors=5), batch_size=10, random_state=0
    ).fit(counting, y)
    for _ in range(3):
        before = counting.rows_read
        rows = learner.query()
        read = counting.rows_read - before
        learner.teach(rows, (rows < 60).astype(int))
        # The round read its candidates (and their neighbours), not X.
        assert read <= 2 * learner.pool_.size() + 200 < X.shape[0] // 4, read
    assert counting.largest < X.shape[0] // 4


def test_full_scan_reads_in_blocks(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(querying_module, "_SCORE_CHUNK", 512)
    counting = _Counting(_zarr(X))
    learner = ActiveLearner(pool="full", random_state=0).fit(counting, y)
    before = counting.rows_read
    learner.query(5)
    assert counting.largest <= 512
    assert 3000 <= counting.rows_read - before < 2 * 3000


# -- all-rows passes ------------------------------------------------------------------
@pytest.mark.parametrize("index", ["exact", "faiss"])
def test_index_and_graph_built_from_zarr(data, index):
    X, _ = data
    z = _zarr(X)
    ref = KNNGraph(n_neighbors=8, index=index).fit(X)
    got = KNNGraph(n_neighbors=8, index=index).fit(z)
    np.testing.assert_array_equal(ref.neighbors_, got.neighbors_)
    np.testing.assert_array_equal(ref.distances_, got.distances_)
    assert got.n_features_in_ == 16


def test_cosine_index_does_not_touch_the_store(data):
    X, _ = data
    z = _zarr(X)
    index = ExactIndex(metric="cosine").fit(z)
    np.testing.assert_array_equal(z[:], X)  # normalised a copy, not the store
    ref = ExactIndex(metric="cosine").fit(X)
    np.testing.assert_array_equal(index.vectors_, ref.vectors_)


# -- bad input ------------------------------------------------------------------------
def test_bad_zarr_inputs(data):
    X, y = data
    flat = zarr.create_array(store={}, shape=(30,), dtype="f4")
    with pytest.raises(ValueError, match="`X` must be 2-d"):
        ActiveLearner().fit(flat, y[:30])
    cube = zarr.create_array(store={}, shape=(30, 2, 2), dtype="f4")
    with pytest.raises(ValueError, match="`X` must be 2-d"):
        KNNGraph().fit(cube)
    empty = zarr.create_array(store={}, shape=(0, 4), dtype="f4")
    with pytest.raises(ValueError, match="`X` has shape"):
        ActiveLearner().fit(empty, y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ActiveLearner().fit(_zarr(X), y[:100])
    index = ExactIndex().fit(_zarr(X))
    with pytest.raises(ValueError, match="features"):
        index.search(np.ones((1, 3)), 2)


# -- shipped to other processes by reference -----------------------------------------
def test_store_on_disk_is_shipped_by_reference(tmp_path, data):
    X, _ = data
    on_disk = RowArray(_zarr(X, store=tmp_path / "X.zarr"))
    ref = _reference(on_disk)
    assert ref is on_disk and len(pickle.dumps(ref)) < 5000
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ref))[10:14], X[10:14])
    assert _reference(RowArray(_zarr(X))) is None  # in memory: sent block by block


def _zarr_in(store, X):
    z = zarr.create_array(store=store, shape=X.shape, chunks=(256, X.shape[1]),
                          dtype=X.dtype)  # fmt: skip
    z[:] = X
    return z


def test_only_stores_with_an_address_go_by_reference(tmp_path, data):
    from zarr.storage import LocalStore, LoggingStore, MemoryStore

    X, _ = data
    quiet = {"log_level": "ERROR"}
    on_disk = _zarr_in(LoggingStore(LocalStore(str(tmp_path / "X.zarr")), **quiet), X)
    assert _reference(on_disk) is not None  # the wrapper pickles as its store
    # Pickled with their data: sent block by block, never whole into each task.
    in_memory = [
        _zarr_in(LoggingStore(MemoryStore(), **quiet), X),
        _zarr_in(f"memory://{tmp_path.name}.zarr", X),  # in this process only
    ]
    for z in in_memory:
        assert _reference(z) is None and _reference(RowArray(z)) is None
    da = pytest.importorskip("dask.array")
    dask_X = da.from_array(X, chunks=(500, X.shape[1]))  # its `store` is a method
    assert is_row_array(dask_X) and _reference(dask_X) is None
