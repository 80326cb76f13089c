"""All-rows passes through joblib: same results locally, on threads and on Dask."""

import contextlib
import importlib
import pickle
import threading
import warnings

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

import skseals._querying as querying_module
from skseals import ActiveLearner, ActiveSearcher
from skseals._pseudo import draw_pseudo_negatives, positive_scores
from skseals.neighbors import ExactIndex, FaissIndex, KNNGraph
from skseals.pool import FullScanPool
from skseals.pool._density import DensitySum
from skseals.utils import RowBitmap, map_row_blocks
from skseals.utils._parallel import _memmap_reference


def _block_sum(block, start, stop, scale=1.0):
    return start, stop, None if block is None else block.sum(axis=0) * scale


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # Worker processes (spawned, not forked): tasks and data really are pickled.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Workers import skseals (and faiss) once here, not in the first test.
        client.run(importlib.import_module, "skseals.neighbors")
        yield client


@pytest.fixture(params=["default", "threading", "dask"])
def backend(request):
    """A context manager factory running the code under one joblib backend."""
    if request.param == "default":
        return contextlib.nullcontext
    if request.param == "threading":
        return lambda: parallel_config(backend="threading", n_jobs=2)
    request.getfixturevalue("dask_client")
    return lambda: parallel_config(backend="dask")


@pytest.fixture(scope="module")
def data(rare_concept_data):
    X, y = rare_concept_data
    return X.copy(), y.copy()


# -- the helper -------------------------------------------------------------------
def test_map_row_blocks_is_ordered_and_covers_every_row(backend):
    X = np.arange(70.0).reshape(35, 2)
    rows = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    with backend():
        out = map_row_blocks(_block_sum, 35, 8, X=X)
        gathered = map_row_blocks(_block_sum, 8, 3, X=X, rows=rows, args=(2.0,))
        bare = map_row_blocks(_block_sum, 10, 4)
    assert [(a, b) for a, b, _ in out] == [
        (0, 8),
        (8, 16),
        (16, 24),
        (24, 32),
        (32, 35),
    ]
    for start, stop, s in out:
        np.testing.assert_array_equal(s, X[start:stop].sum(axis=0))
    for start, stop, s in gathered:
        np.testing.assert_array_equal(s, 2.0 * X[rows[start:stop]].sum(axis=0))
    assert [(a, b, c) for a, b, c in bare] == [
        (0, 4, None),
        (4, 8, None),
        (8, 10, None),
    ]


def test_memmap_is_shipped_by_reference(tmp_path):
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(40, 3))
    mm[:] = np.arange(120, dtype=np.float32).reshape(40, 3)
    mm.flush()
    view = np.asarray(mm)[10:]  # what validate_data hands on: a plain view
    ref = _memmap_reference(view)
    assert ref is not None and ref.shape == (30, 3)
    clone = pickle.loads(pickle.dumps(ref))
    assert len(pickle.dumps(ref)) < 1000  # the path, not the data
    np.testing.assert_array_equal(clone[5:9], view[5:9])
    assert _memmap_reference(np.ones((4, 3), dtype=np.float32)) is None


def test_memmap_through_workers(tmp_path, backend):
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(50, 4))
    mm[:] = np.random.default_rng(0).normal(size=(50, 4))
    mm.flush()
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(50, 4))
    ref = map_row_blocks(_block_sum, 50, 16, X=X)
    with backend():  # Dask worker processes re-open the file
        out = map_row_blocks(_block_sum, 50, 16, X=X)
    for (_, _, a), (_, _, b) in zip(ref, out, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(params=["loky", "dask"])
def process_backend(request):
    """The name of a joblib backend whose workers are other processes."""
    if request.param == "dask":
        request.getfixturevalue("dask_client")
    return request.param


def test_copy_on_write_memmap_is_sent_as_blocks(tmp_path, process_backend):
    # np.load(mmap_mode="c") then an in-place change: the pages differ from
    # the file, so workers re-opening the file would read other rows.
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    Xc = np.load(tmp_path / "X.npy", mmap_mode="c")
    Xc *= 2.0
    assert _memmap_reference(Xc) is None
    assert _memmap_reference(np.asarray(Xc)[10:]) is None  # fit's view of it
    with parallel_config(backend=process_backend, n_jobs=2):
        out = map_row_blocks(_block_sum, 50, 16, X=np.asarray(Xc)[10:])
    for start, stop, s in out:  # loky would send a view of it by file name too
        np.testing.assert_array_equal(s, 2.0 * X[10 + start : 10 + stop].sum(axis=0))


def test_a_compressed_faiss_index_ships_its_copy_on_write_rows_by_value(tmp_path):
    # A compressed index keeps X to answer search_rows; a copy-on-write X
    # must reach workers as it is in memory, not as its (unchanged) file.
    from skseals.neighbors import FaissIndex

    X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    Xc = np.load(tmp_path / "X.npy", mmap_mode="c")
    Xc *= 2.0
    index = FaissIndex("SQ8", metric="euclidean").fit(Xc)
    shipped = index.__getstate__()["_X"]
    assert type(shipped) is np.ndarray and shipped.base is None  # a plain copy
    np.testing.assert_array_equal(shipped, 2.0 * X)
    np.save(tmp_path / "R.npy", X)
    index.fit(np.load(tmp_path / "R.npy", mmap_mode="r"))
    assert type(index.__getstate__()["_X"]) is not np.ndarray  # by reference


@contextlib.contextmanager
def _dask_without_large_graphs():
    """The Dask backend; fails if a task graph tops 64 kB (a task that carries
    its own copy of X or of a shared argument, all ~190 kB here)."""
    dask = pytest.importorskip("dask")
    threshold = {"distributed.admin.large-graph-warning-threshold": "64kB"}
    with (
        dask.config.set(threshold),
        warnings.catch_warnings(record=True) as caught,
        parallel_config(backend="dask"),
    ):
        warnings.simplefilter("always")
        yield
    assert not [w for w in caught if "large graph" in str(w.message)]


def test_dask_array_is_sent_block_by_block(dask_client):
    da = pytest.importorskip("dask.array")
    X = np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32)
    dask_X = da.from_array(X, chunks=(1000, 16))
    with _dask_without_large_graphs():
        out = map_row_blocks(_block_sum, 3000, 500, X=dask_X)
    for start, stop, s in out:
        np.testing.assert_allclose(s, X[start:stop].sum(axis=0), rtol=1e-6)


def test_writable_memmap_is_flushed_and_sent_by_reference(tmp_path, dask_client):
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    Xw = np.load(tmp_path / "X.npy", mmap_mode="r+")
    Xw *= 2.0  # shared pages: the file holds the change (flushed before sending)
    assert _memmap_reference(Xw) is not None
    with parallel_config(backend="dask"):
        out = map_row_blocks(_block_sum, 50, 16, X=Xw)
    for start, stop, s in out:
        np.testing.assert_array_equal(s, 2.0 * X[start:stop].sum(axis=0))


def test_forking_backend_falls_back_to_threads():
    mp = pytest.importorskip("multiprocessing")
    if mp.get_start_method() != "fork":
        pytest.skip("multiprocessing does not fork here")
    X = np.ones((10, 2))
    with (
        parallel_config(backend="multiprocessing", n_jobs=2),
        pytest.warns(RuntimeWarning, match="forks"),
    ):
        out = map_row_blocks(_block_sum, 10, 4, X=X)
    assert [a for a, _, _ in out] == [0, 4, 8]


def test_bad_block_size():
    with pytest.raises(ValueError, match="block_size"):
        map_row_blocks(_block_sum, 10, 0)


# -- every all-rows pass ----------------------------------------------------------
@pytest.mark.parametrize("cls", [ActiveLearner, ActiveSearcher])
def test_full_scan_scoring_is_identical(data, backend, monkeypatch, cls):
    X, y = data
    monkeypatch.setattr(querying_module, "_SCORE_CHUNK", 512)  # 6 blocks

    def run():
        learner = cls(pool="full", batch_size=20, random_state=0).fit(X, y)
        strategy = learner._round_strategy()
        cand, scores = learner._score_all(strategy, learner._context())
        picks = learner.query()
        return cand, scores, picks

    ref = run()
    with backend():
        got = run()
    for a, b in zip(ref, got, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    cand = ref[0]
    assert cand.shape[0] == 3000 - 45 and not np.isin(cand, np.arange(5)).any()


def test_density_seeding_is_identical(data, backend):
    X, y = data

    def run():
        return ActiveLearner(
            pool=FullScanPool(block_size=256),
            query_strategy="information_density",
            random_state=0,
        ).fit(X, y)

    ref = run()
    with backend():
        got = run()
    np.testing.assert_array_equal(ref.pool_.density_.sum, got.pool_.density_.sum)
    assert ref.pool_.density_.counted == got.pool_.density_.counted
    # The previous loop (DensitySum.add_block, in block order) gives the same bits.
    old = DensitySum(X, X.shape[0])
    for start in range(0, X.shape[0], 256):
        stop = min(start + 256, X.shape[0])
        old.add_block(start, stop, ~ref.excluded_.dense(start, stop))
    np.testing.assert_array_equal(old.sum, ref.pool_.density_.sum)
    np.testing.assert_array_equal(ref.query(), got.query())


@pytest.mark.parametrize("index", ["exact", "faiss"])
def test_knn_graph_build_is_identical(data, backend, index):
    X, _ = data
    ref = KNNGraph(n_neighbors=10, index=index, batch_size=700).fit(X)
    with backend():
        got = KNNGraph(n_neighbors=10, index=index, batch_size=700).fit(X)
    np.testing.assert_array_equal(ref.neighbors_, got.neighbors_)
    np.testing.assert_array_equal(ref.distances_, got.distances_)
    assert not np.any(got.neighbors_ == np.arange(len(X))[:, None])


def test_dask_sends_the_fitted_index_once_per_worker(data, dask_client):
    X, _ = data
    index = FaissIndex(metric="cosine").fit(X)
    ref = KNNGraph(n_neighbors=5, index=index, batch_size=500).fit(X)
    with _dask_without_large_graphs():  # the index is not inside each task
        got = KNNGraph(n_neighbors=5, index=index, batch_size=500).fit(X)
    np.testing.assert_array_equal(ref.neighbors_, got.neighbors_)
    np.testing.assert_array_equal(ref.distances_, got.distances_)


class _ForeignIdsIndex(ExactIndex):
    """Answers with ids outside the rows of X from row 400 on."""

    def search_rows(self, rows, k, exclude=None):
        D, I = super().search_rows(rows, k, exclude=exclude)  # noqa: E741
        return D, I + 10**6 if np.min(rows) >= 400 else I


def _blas_pools():
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas"}  # fmt: skip


def _pool_workers():
    """joblib's threading workers (multiprocessing.pool.ThreadPool threads)."""
    return [t for t in threading.enumerate() if t.name.endswith("(worker)")]


def test_knn_graph_error_ends_the_pass_at_once(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the budget: 2, as found
    X = np.random.default_rng(0).normal(size=(1000, 4)).astype(np.float32)
    index = _ForeignIdsIndex(metric="euclidean").fit(X)
    with threadpool_limits(limits=2, user_api="blas"):  # each worker's share: 1
        before, workers = _blas_pools(), _pool_workers()
        with (
            parallel_config(backend="threading", n_jobs=2),
            pytest.raises(ValueError, match="outside") as excinfo,
        ):
            KNNGraph(n_neighbors=3, index=index, metric="euclidean",
                     batch_size=100).fit(X)  # fmt: skip
        # excinfo keeps fit's frame alive: the pass must have ended already,
        # its BLAS cap released and its worker threads told to stop.
        assert excinfo.traceback and _blas_pools() == before
        for thread in set(_pool_workers()) - set(workers):
            thread.join(timeout=10)  # ends at once unless left waiting for work
            assert not thread.is_alive()


def test_pseudo_negatives_full_scan_is_identical(backend):
    rng = np.random.default_rng(1)
    n = 70_000  # two blocks of 65,536 available rows
    X = rng.normal(size=(n, 6)).astype(np.float32)
    train = rng.choice(n, 200, replace=False)
    est = LogisticRegression().fit(X[train], (X[train, 0] > 0).astype(int))
    excluded = RowBitmap(n)
    excluded.add(train)

    def rank(Xb):
        return positive_scores(est, Xb, pos=1)

    def run():
        return draw_pseudo_negatives(
            X, excluded, 500, rank, np.random.RandomState(0), scans_all=True
        )

    ref = run()
    with backend():
        got = run()
    np.testing.assert_array_equal(ref, got)
    assert ref.shape == (500,) and not excluded.contains(ref).any()
    assert (X[ref, 0] < np.median(X[:, 0]) + 0.5).all()  # the bottom of the ranking


def test_learner_with_pseudo_negatives_is_identical(data, backend):
    X, y = data

    def run():
        learner = ActiveSearcher(
            pool="full", pseudo_negatives=1.0, batch_size=10, random_state=0
        ).fit(X, y)
        picks = learner.query()
        learner.teach(picks, (picks < 60).astype(int))
        return learner.pseudo_negatives_, learner.query()

    ref = run()
    with backend(), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = run()
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)


# -- memory-mapped X ----------------------------------------------------------------
def _memmap(tmp_path, X):
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


def _file_backed(tmp_path, X, source, chunk=256):
    if source == "memmap":
        return _memmap(tmp_path, X)
    return _zarr_on_disk(tmp_path, X, chunk=chunk)


@pytest.mark.parametrize("source", ["memmap", "zarr"])
def test_fit_keeps_X_by_reference_and_gathers_only_candidates(tmp_path, source):
    import tracemalloc

    from skseals.neighbors import FaissIndex
    from skseals.pool import KNNPool

    rng = np.random.default_rng(0)
    n = 100_000
    X = rng.normal(size=(n, 32)).astype(np.float32)
    y = np.full(n, -1)
    y[:5], y[1000:1050] = 1, 0
    index = FaissIndex("Flat", metric="euclidean").fit(X)  # built once, shared
    # Chunks of 128 KB: each read decodes two, far less than X (12.8 MB).
    X = _file_backed(tmp_path, X, source, chunk=1024)
    tracemalloc.start()
    try:
        learner = ActiveSearcher(
            pool=KNNPool(index=index, metric="euclidean", n_neighbors=50),
            batch_size=20,
            random_state=0,
        ).fit(X, y)
        for _ in range(3):
            picks = learner.query()
            learner.teach(picks, np.zeros(picks.shape[0], dtype=int))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if source == "memmap":
        assert np.shares_memory(learner.X_, X)  # no copy of X
        assert learner.X_.base is X and not learner.X_.flags.writeable
    else:
        assert learner.X_.array is X  # kept unread
    # Only candidate rows were gathered: far less than X itself (12.8 MB).
    assert learner.pool_.size() < n // 10
    assert peak < n * 32 * 4 / 4, (peak, source)


@pytest.mark.parametrize("source", ["memmap", "zarr"])
def test_full_scan_on_file_backed_X_is_identical(
    tmp_path, data, backend, monkeypatch, source
):
    X, y = data
    monkeypatch.setattr(querying_module, "_SCORE_CHUNK", 512)
    X_file = _file_backed(tmp_path, X, source)

    def run(X):
        learner = ActiveSearcher(
            pool="full", query_strategy="information_density", random_state=0
        )
        return learner.fit(X, y).query(), learner

    ref, _ = run(X)
    with backend():  # on Dask, worker processes re-open the file / the store
        got, learner = run(X_file)
    np.testing.assert_array_equal(ref, got)
    if source == "memmap":
        assert np.shares_memory(learner.X_, X_file)
    else:
        assert learner.X_.array is X_file


# -- zarr X ----------------------------------------------------------------------------
def _zarr_on_disk(tmp_path, X, chunk=256):
    zarr = pytest.importorskip("zarr", minversion="3")
    z = zarr.create_array(
        store=str(tmp_path / "X.zarr"),
        shape=X.shape,
        chunks=(chunk, X.shape[1]),
        dtype=X.dtype,
    )
    z[:] = X
    return z


def test_zarr_through_workers(tmp_path, backend):
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    z = _zarr_on_disk(tmp_path, X, chunk=8)
    rows = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    with backend():  # Dask worker processes open the store by its path
        out = map_row_blocks(_block_sum, 50, 16, X=z)
        gathered = map_row_blocks(_block_sum, 8, 3, X=z, rows=rows)
    for start, stop, s in out:
        np.testing.assert_array_equal(s, X[start:stop].sum(axis=0))
    for start, stop, s in gathered:
        np.testing.assert_array_equal(s, X[rows[start:stop]].sum(axis=0))


def test_knn_graph_from_zarr_is_identical(tmp_path, data, backend):
    X, _ = data
    z = _zarr_on_disk(tmp_path, X)
    ref = KNNGraph(n_neighbors=5, index="faiss", batch_size=700).fit(X)
    with backend():  # the index is built from blocks read on the workers
        got = KNNGraph(n_neighbors=5, index="faiss", batch_size=700).fit(z)
    np.testing.assert_array_equal(ref.neighbors_, got.neighbors_)
    np.testing.assert_array_equal(ref.distances_, got.distances_)


def test_scaling_dask_recipe_runs_as_written(tmp_path, data, dask_client):
    """docs/scaling_dask.md's zarr recipe, run on a LocalCluster as written."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "scaling_dask.md"
    text = doc.read_text(encoding="utf-8")
    recipe = text[text.index("## Recipe: a real cluster") : text.index("## Caveats")]
    settings, code = re.findall(r"```python\n(.*?)```", recipe, flags=re.S)
    assert "SCHEDULER" in settings and "zarr.open_array(ZARR" in code
    X, y = data
    _zarr_on_disk(tmp_path, X)
    seed = np.flatnonzero(y != -1)
    namespace = {
        "SCHEDULER": dask_client.scheduler.address,
        "ZARR": str(tmp_path / "X.zarr"),
        "SHARDS": str(tmp_path / "X.shards"),
        "FACTORY": "IVF16,Flat",
        "SHARD_SIZE": 1000,
        "SEED_ROWS": seed,
        "SEED_LABELS": y[seed],
    }
    try:
        exec(compile(code, str(doc), "exec"), namespace)
    finally:
        if "client" in namespace:
            namespace["client"].close()
    assert namespace["index"].n_samples_fit_ == X.shape[0]
    rows = namespace["rows"]
    assert rows.shape == (20,) and not np.isin(rows, seed).any()
    local = ActiveLearner(pool="full", random_state=0).fit(X, y).query(20)
    np.testing.assert_array_equal(namespace["baseline_rows"], local)
