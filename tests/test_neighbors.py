"""Tests of the neighbour indexes in skseals.neighbors."""

import logging
import pickle
import sys
import threading
from functools import partial

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from skseals import config_context
from skseals.base import METRICS, BaseNeighborIndex
from skseals.neighbors import (
    INDEX_ALIASES,
    AnnoyIndex,
    ExactIndex,
    FaissIndex,
    HNSWIndex,
    KNNGraph,
    build_index_shards,
    build_ondisk_ivf,
    make_index,
)
from skseals.neighbors._faiss_kinds import adds_rows_alike, default_factory
from skseals.pool import KNNPool
from skseals.utils import RowBitmap

N_SMALL = 300


def _hnsw(metric="cosine", **kw):
    pytest.importorskip("hnswlib")
    return HNSWIndex(metric=metric, random_state=0, num_threads=1, **kw)


def _annoy(metric="cosine", **kw):
    pytest.importorskip("annoy")
    return AnnoyIndex(metric=metric, n_trees=20, random_state=0, **kw)


# name -> factory(metric); "search inside" backends and the over-fetch ones.
BACKENDS = {
    "exact": lambda m: ExactIndex(metric=m, block_size=64),
    "faiss-flat": lambda m: FaissIndex("Flat", metric=m),
    "faiss-ivf": lambda m: FaissIndex("IVF8,Flat", metric=m, nprobe=8, random_state=0),
    "faiss-hnsw": lambda m: FaissIndex("HNSW16", metric=m),
    "faiss-refine": lambda m: FaissIndex("Flat,RFlat", metric=m),  # rejects params
    "faiss-lsh": lambda m: FaissIndex("LSH", metric=m),
    "hnswlib": _hnsw,
    "annoy": _annoy,
}
# Backends guaranteed to return min(k, allowed) rows (exhaustive search).
EXHAUSTIVE = {"exact", "faiss-flat", "faiss-ivf", "faiss-refine"}


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(2000, n_features=32, centers=20, random_state=0)
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def small():
    return np.random.default_rng(0).normal(size=(N_SMALL, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted_small(small):
    """Every backend fitted on ``small`` with the cosine metric (built once)."""
    out = {}
    for name, make in BACKENDS.items():
        try:
            out[name] = make("cosine").fit(small)
        except pytest.skip.Exception:
            pass
    return out


def _bitmap(n, ids):
    b = RowBitmap(n)
    b.add(np.asarray(list(ids), dtype=np.int64))
    return b


def _check_result(D, I, n, k, exclude):  # noqa: E741
    assert D.dtype == np.float32 and I.dtype == np.int64
    assert D.shape == I.shape and I.shape[1] == k
    valid = I >= 0
    assert np.all(I < n)
    assert np.all(np.isinf(D[~valid])) and np.all(np.isfinite(D[valid]))
    # valid entries first, then padding; ascending distances
    assert np.all(np.diff(valid.astype(int), axis=1) <= 0)
    assert np.all(np.diff(np.where(valid, D, D[valid].max(initial=0)), axis=1) >= -1e-6)
    for row in I:
        got = row[row >= 0]
        assert len(np.unique(got)) == len(got)
        if exclude is not None:
            assert not exclude.contains(got).any()


# -- exact search ------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_agrees_with_sklearn_brute(small, metric):
    Q = np.random.default_rng(1).normal(size=(40, 16)).astype(np.float32)
    D, I = ExactIndex(metric=metric, block_size=50).fit(small).search(Q, 7)  # noqa: E741
    nn = NearestNeighbors(n_neighbors=7, algorithm="brute", metric=metric)
    D_ref, I_ref = nn.fit(small.astype(np.float64)).kneighbors(Q.astype(np.float64))
    np.testing.assert_array_equal(I, I_ref)
    np.testing.assert_allclose(D, D_ref, atol=1e-5)


def test_exact_inner_product_and_blocks(small):
    Q = small[:25]
    D, I = ExactIndex("inner_product", block_size=37).fit(small).search(Q, 9)  # noqa: E741
    scores = Q.astype(np.float64) @ small.T.astype(np.float64)
    I_ref = np.argsort(-scores, axis=1, kind="stable")[:, :9]
    np.testing.assert_array_equal(I, I_ref)
    np.testing.assert_allclose(D, -np.take_along_axis(scores, I_ref, 1), rtol=1e-5)
    one_block = ExactIndex("inner_product").fit(small).search(Q, 9)
    np.testing.assert_array_equal(one_block[1], I)


def test_exact_ties_lower_row_first():
    X = np.tile([[1.0, 0.0], [0.0, 1.0]], (20, 1))  # rows 0, 2, 4, ... identical
    for block_size in (3, 7, 1000):
        idx = ExactIndex(metric="euclidean", block_size=block_size).fit(X)
        _, I = idx.search([[1.0, 0.0]], 5)  # noqa: E741
        assert I.tolist() == [[0, 2, 4, 6, 8]]
        _, I = idx.search_rows([5], 3, exclude=_bitmap(40, [1, 3]))  # noqa: E741
        assert I.tolist() == [[5, 7, 9]]


def test_exact_near_ties_differ_by_rounding_only():
    """Identical rows: their float32 BLAS distances may differ by rounding, with
    the batch; exactly equal computed distances come lower row id first."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(300, 6))
    X = np.vstack([base, base[:150], base[:60], base[:20]])[rng.permutation(530)]
    index = ExactIndex().fit(X)
    rows = np.arange(0, 530, 5)
    D, I = index.search_rows(rows, 4)  # noqa: E741
    for i, row in enumerate(rows):
        D_one, I_one = index.search_rows([row], 4)
        np.testing.assert_allclose(D_one[0], D[i], atol=1e-6)
        np.testing.assert_array_equal(X[I_one[0]], X[I[i]])  # copies may trade
    tied = np.diff(D, axis=1) == 0
    assert tied.any() and (np.diff(I, axis=1)[tied] > 0).all()


def test_cosine_zero_vector_is_finite():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    D, I = ExactIndex().fit(X).search(X, 3)  # noqa: E741
    assert np.all(np.isfinite(D)) and np.all(I >= 0)


# -- recall of the approximate backends ------------------------------------------------
RECALL_CASES = [
    (
        "faiss-ivf",
        lambda m: FaissIndex("IVF32,Flat", metric=m, nprobe=2, random_state=0),
    ),
    ("faiss-hnsw", lambda m: FaissIndex("HNSW32", metric=m)),
    ("faiss-ivfpq", lambda m: FaissIndex("IVF16,PQ32", metric=m, random_state=0)),
    ("hnswlib", lambda m: _hnsw(m)),
    ("annoy", lambda m: _annoy(m)),
]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name,make", RECALL_CASES, ids=[c[0] for c in RECALL_CASES])
def test_recall_vs_exact(blobs, name, make, metric):
    if name == "faiss-ivfpq" and metric == "cosine":
        pytest.skip("PQ32 on normalised blobs: recall@10 ~0.88 here")
    if name == "annoy" and metric == "inner_product":
        pytest.skip("Annoy's dot metric reaches ~0.8 recall@10 here")
    rows, k = np.arange(0, len(blobs), 4), 10
    _, I_ref = ExactIndex(metric=metric).fit(blobs).search_rows(rows, k)
    D, I = make(metric).fit(blobs).search_rows(rows, k)  # noqa: E741
    recall = np.mean(
        [np.intersect1d(a, b).size / k for a, b in zip(I, I_ref, strict=True)]
    )
    assert recall >= 0.9, f"{name} {metric}: recall@{k} = {recall:.3f}"
    _check_result(D, I, len(blobs), k, None)


@pytest.mark.parametrize("metric", METRICS)
def test_lsh_distances_are_exact(blobs, metric):
    X, rows = blobs[:500], np.arange(20)
    D, I = FaissIndex("LSH", metric=metric).fit(X).search_rows(rows, 5)  # noqa: E741
    D_all, I_all = ExactIndex(metric=metric).fit(X).search_rows(rows, 500)
    for d, i, d_all, i_all in zip(D, I, D_all, I_all, strict=True):
        full = np.empty(500, np.float32)
        full[i_all] = d_all
        np.testing.assert_allclose(d, full[i], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name", list(BACKENDS))
def test_distances_in_metric_units(small, name, metric):
    rows = np.arange(0, N_SMALL, 10)
    D, I = BACKENDS[name](metric).fit(small).search_rows(rows, 6)  # noqa: E741
    assert np.all(I >= 0)
    X = small.astype(np.float64)
    q, x = X[rows][:, None, :], X[I]
    if metric == "euclidean":
        ref = np.linalg.norm(q - x, axis=2)
    elif metric == "inner_product":
        ref = -(q * x).sum(axis=2)
    else:
        norms = np.linalg.norm(q, axis=2) * np.linalg.norm(x, axis=2)
        ref = 1.0 - (q * x).sum(axis=2) / norms
    np.testing.assert_allclose(D, ref, rtol=1e-4, atol=1e-4)


# -- exclusion ----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BACKENDS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_excluded_rows_never_returned(fitted_small, name, data):
    if name not in fitted_small:
        pytest.skip(f"{name} not installed")
    index = fitted_small[name]
    n = N_SMALL
    dense = data.draw(st.booleans())
    ids = data.draw(
        st.sets(st.integers(0, n - 1), max_size=n if dense else 30), label="excluded"
    )
    rows = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8))
    k = data.draw(st.integers(1, 40))
    exclude = _bitmap(n, ids)
    D, I = index.search_rows(rows, k, exclude=exclude)  # noqa: E741
    _check_result(D, I, n, k, exclude)
    n_found = (I >= 0).sum(axis=1)
    assert np.all(n_found <= min(k, n - len(ids)))
    if name in EXHAUSTIVE:
        assert np.all(n_found == min(k, n - len(ids)))
    Q = np.random.default_rng(len(rows)).normal(size=(len(rows), 16))
    D2, I2 = index.search(Q, k, exclude=exclude)
    _check_result(D2, I2, n, k, exclude)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_padding_when_few_rows_allowed(fitted_small, name):
    if name not in fitted_small:
        pytest.skip(f"{name} not installed")
    index = fitted_small[name]
    keep = [3, 150, 299]
    exclude = _bitmap(N_SMALL, np.setdiff1d(np.arange(N_SMALL), keep))
    D, I = index.search_rows([0, 3], 10, exclude=exclude)  # noqa: E741
    _check_result(D, I, N_SMALL, 10, exclude)
    assert set(I[I >= 0].tolist()) <= set(keep)
    assert np.all(I[:, 3:] == -1) and np.all(np.isinf(D[:, 3:]))
    D, I = index.search_rows([5], N_SMALL + 20)  # noqa: E741
    assert np.all(I[0, N_SMALL:] == -1)
    if name in EXHAUSTIVE:
        assert sorted(I[0, :N_SMALL].tolist()) == list(range(N_SMALL))
        assert sorted(I[I >= 0].tolist()) == list(range(N_SMALL))
    exclude_all = _bitmap(N_SMALL, range(N_SMALL))
    D, I = index.search_rows([1], 4, exclude=exclude_all)  # noqa: E741
    assert np.all(I == -1) and np.all(np.isinf(D))


@pytest.mark.parametrize("factory", ["Flat", "IVF4,Flat", "HNSW16"])
def test_faiss_bit_order(small, factory):
    # Big-endian packing would hide row 14 instead of row 9 (and 1 <-> 6).
    index = FaissIndex(factory, nprobe=4, random_state=0).fit(small)
    exclude = _bitmap(N_SMALL, [1, 9])
    _, I = index.search_rows([9, 1, 14, 6], N_SMALL, exclude=exclude)  # noqa: E741
    assert not np.isin(I, [1, 9]).any()
    if factory != "HNSW16":
        assert all(14 in row and 6 in row for row in I)


def test_bad_exclude(fitted_small):
    index = fitted_small["exact"]
    with pytest.raises(TypeError, match="RowBitmap"):
        index.search_rows([0], 3, exclude=[1, 2])
    with pytest.raises(ValueError, match="RowBitmap"):
        index.search_rows([0], 3, exclude=RowBitmap(N_SMALL + 1))


# -- hnswlib deletion marks shared by two exclusion sets --------------------------
def test_hnsw_shared_index_two_bitmaps(small):
    index = _hnsw(ef=300).fit(small)
    exact = ExactIndex().fit(small)
    rng = np.random.default_rng(0)
    A = _bitmap(N_SMALL, rng.choice(N_SMALL, 120, replace=False))
    B = _bitmap(N_SMALL, rng.choice(N_SMALL, 60, replace=False))
    rows = np.arange(0, N_SMALL, 7)
    for step in range(6):
        exclude = (A, B, None)[step % 3]
        if step == 3:
            A.add([0, 1, 2, 3])  # same object, new version: must be re-applied
        _, I = index.search_rows(rows, 10, exclude=exclude)  # noqa: E741
        _, I_ref = exact.search_rows(rows, 10, exclude=exclude)
        if exclude is not None:
            assert not exclude.contains(I[I >= 0]).any()
        recall = np.mean(
            [np.intersect1d(a, b).size / 10 for a, b in zip(I, I_ref, strict=True)]
        )
        assert recall >= 0.95
    # A RowBitmap copy is a different object with the same version.
    C = A.copy()
    C.discard(A.ids()[:50])
    _, I = index.search_rows(rows, 20, exclude=C)  # noqa: E741
    assert not C.contains(I[I >= 0]).any()
    assert np.isin(I, A.ids()[:50]).any()


def test_hnsw_short_query_does_not_shorten_the_others():
    """hnswlib refuses a whole batch when one query finds fewer than k rows;
    each query must still get what it gets when searched alone."""
    rng = np.random.default_rng(0)
    X = np.vstack(
        [np.repeat(rng.normal(size=(20, 8)), 40, axis=0), rng.normal(size=(200, 8))]
    )
    n = len(X)
    index = _hnsw("euclidean", M=2, ef_construction=10, ef=10).fit(X)
    exclude = _bitmap(n, rng.choice(n, n // 2, replace=False))
    rows = np.arange(0, n, 7)
    D, I = index.search_rows(rows, 60, exclude=exclude)  # noqa: E741
    _check_result(D, I, n, 60, exclude)
    found = (I >= 0).sum(axis=1)
    assert (found == 60).sum() > len(rows) // 4 and (found < 60).any()
    for i, row in enumerate(rows):
        D_one, I_one = index.search_rows([row], 60, exclude=exclude)
        np.testing.assert_array_equal(I_one[0], I[i])
        np.testing.assert_array_equal(D_one[0], D[i])


@settings(max_examples=20, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "none"]),
            st.sampled_from(["add", "discard", "search"]),
            st.sets(st.integers(0, N_SMALL - 1), max_size=40),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_hnsw_mirror_follows_any_sequence(fitted_small, small, ops):
    """Interleaved searches and edits of two bitmaps on one shared hnswlib index."""
    if "hnswlib" not in fitted_small:
        pytest.skip("hnswlib not installed")
    index, exact = fitted_small["hnswlib"], fitted_small["exact"]
    sets = {"A": RowBitmap(N_SMALL), "B": RowBitmap(N_SMALL), "none": None}
    for which, op, ids in ops:
        exclude = sets[which]
        if exclude is not None and op != "search":
            getattr(exclude, op)(np.array(sorted(ids), dtype=np.int64))
        rows = np.array(sorted(ids)[:5] or [0])
        _, I = index.search_rows(rows, 5, exclude=exclude)  # noqa: E741
        _, I_ref = exact.search_rows(rows, 5, exclude=exclude)
        if exclude is not None:
            assert not exclude.contains(I[I >= 0]).any()
        hits = [np.intersect1d(a, b).size for a, b in zip(I, I_ref, strict=True)]
        assert np.mean(hits) >= 4


class _CallingThreads:
    """Stands in front of an Annoy index, recording which threads search it."""

    def __init__(self, index):
        self._index, self.threads = index, set()

    def get_nns_by_item(self, *args, **kwargs):
        self.threads.add(threading.get_ident())
        return self._index.get_nns_by_item(*args, **kwargs)


def test_annoy_answers_a_batch_on_its_threads(small):
    pytest.importorskip("annoy")
    index = _annoy("cosine", n_jobs=2).fit(small)
    skip = RowBitmap(N_SMALL)
    skip.add(np.arange(0, N_SMALL, 3))
    rows = np.arange(1, N_SMALL, 3)
    with config_context(n_threads=1):
        D1, I1 = index.search_rows(rows, 12, exclude=skip)  # noqa: N806
    calls = _CallingThreads(index.index_)
    index.index_ = calls
    with config_context(n_threads=2):
        D2, I2 = index.search_rows(rows, 12, exclude=skip)  # noqa: N806
    assert len(calls.threads) == 2  # n_jobs=2 within a budget of 2
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    assert not skip.contains(I2[I2 >= 0]).any()
    calls.threads.clear()
    with config_context(n_threads=1):  # the budget caps n_jobs
        index.search_rows(rows, 12, exclude=skip)
    assert calls.threads == {threading.get_ident()}


# -- determinism, pickling, persistence, clone -----------------------------------
@pytest.mark.parametrize("name", ["faiss-ivf", "faiss-lsh", "hnswlib", "annoy"])
def test_same_random_state_same_results(small, name):
    a = BACKENDS[name]("euclidean").fit(small).search_rows(np.arange(50), 8)
    b = BACKENDS[name]("euclidean").fit(small).search_rows(np.arange(50), 8)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("name", list(BACKENDS))
def test_pickle_round_trip(fitted_small, name):
    if name not in fitted_small:
        pytest.skip(f"{name} not installed")
    index = fitted_small[name]
    exclude = _bitmap(N_SMALL, range(0, N_SMALL, 3))
    before = index.search_rows(np.arange(30), 6, exclude=exclude)
    copy = pickle.loads(pickle.dumps(index))
    for ex in (exclude, None):
        a = index.search_rows(np.arange(30), 6, exclude=ex)
        b = copy.search_rows(np.arange(30), 6, exclude=ex)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(
        before[1], copy.search_rows(np.arange(30), 6, exclude=exclude)[1]
    )


@pytest.mark.parametrize("name", list(BACKENDS))
def test_save_load(fitted_small, small, name, tmp_path):
    if name not in fitted_small:
        pytest.skip(f"{name} not installed")
    index = fitted_small[name]
    path = tmp_path / "index.bin"
    index.save(path)
    kwargs = {"X": small} if name == "faiss-lsh" else {}
    loaded = type(index).load(path, **kwargs)
    assert loaded.get_params() == index.get_params()
    exclude = _bitmap(N_SMALL, [0, 5, 9])
    a = index.search_rows(np.arange(20), 5, exclude=exclude)
    b = loaded.search_rows(np.arange(20), 5, exclude=exclude)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
    c = loaded.search(small[:5], 5)
    np.testing.assert_array_equal(c[1], index.search(small[:5], 5)[1])


def test_load_mmap_and_missing_vectors(small, tmp_path):
    ExactIndex().fit(small).save(tmp_path / "x.npy")
    assert isinstance(ExactIndex.load(tmp_path / "x.npy").vectors_, np.memmap)
    FaissIndex("IVF4,Flat", random_state=0).fit(small).save(tmp_path / "ivf")
    loaded = FaissIndex.load(tmp_path / "ivf", mmap=True)
    assert loaded.search_rows([1], 3)[1][0, 0] == 1
    FaissIndex("LSH").fit(small).save(tmp_path / "lsh")
    with pytest.raises(RuntimeError, match="pass X"):
        FaissIndex.load(tmp_path / "lsh").search_rows([1], 3)
    with pytest.raises(ValueError, match="ExactIndex"):
        FaissIndex.load(tmp_path / "x.npy")


@pytest.mark.parametrize("factory", ["IVF4,PQ8", "SQ8"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_compressed_index_reads_query_rows_from_x(small, tmp_path, factory, metric):
    # A PQ/SQ index cannot give its rows back: search_rows reads them from the
    # X passed to fit/load (a memmap at 10M rows) and keeps no copy of X.
    path = tmp_path / "X.f32"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=small.shape)
    X[:] = small
    index = FaissIndex(factory, metric=metric, random_state=0).fit(X)
    held = [v for v in vars(index).values() if isinstance(v, np.ndarray)]
    assert all(v is X or v.nbytes < X.nbytes / 10 for v in held)
    rows = np.arange(0, N_SMALL, 7)
    ref = index.search(small[rows], 5)
    for got in (
        index.search_rows(rows, 5),
        pickle.loads(pickle.dumps(index)).search_rows(rows, 5),
    ):
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
    # X goes by reference: the pickle is the faiss index and a few fields.
    blob = faiss.serialize_index(index.index_).nbytes
    assert len(pickle.dumps(index)) < blob + X.nbytes / 4
    index.save(tmp_path / "pq")
    loaded = FaissIndex.load(tmp_path / "pq", X=X)
    np.testing.assert_array_equal(loaded.search_rows(rows, 5)[1], ref[1])
    assert all(
        v is X or v.nbytes < X.nbytes / 10
        for v in vars(loaded).values()
        if isinstance(v, np.ndarray)
    )
    # Rows given as a list: nothing to read back, the prepared copy is kept.
    listed = FaissIndex(factory, metric=metric, random_state=0).fit(small.tolist())
    np.testing.assert_array_equal(listed.search_rows(rows, 5)[1], ref[1])


@pytest.mark.parametrize("name", list(BACKENDS))
def test_clone_shares_fitted_index(fitted_small, name):
    if name not in fitted_small:
        pytest.skip(f"{name} not installed")
    index = fitted_small[name]
    assert isinstance(index, BaseNeighborIndex)
    assert clone(index) is index
    fresh = clone(BACKENDS[name]("euclidean"))
    assert fresh.get_params()["metric"] == "euclidean"
    assert not hasattr(fresh, "n_samples_fit_")


class _BuildFails(RuntimeError):
    pass


def _failing_build(*args, **kwargs):
    raise _BuildFails("build interrupted")


@pytest.mark.parametrize("name", ["exact", "faiss-ivf", "hnswlib", "annoy"])
def test_failed_fit_leaves_the_index_as_it_was(small, name, monkeypatch, tmp_path):
    make = BACKENDS[name]
    index = make("cosine")
    if name not in ("exact", "faiss-ivf"):
        pytest.importorskip(name)
    monkeypatch.setattr(type(index), "_build", _failing_build)
    with pytest.raises(_BuildFails):
        index.fit(small)
    assert not hasattr(index, "n_samples_fit_") and not hasattr(index, "_source")
    with pytest.raises(NotFittedError):
        index.search(small[:2], 3)
    with pytest.raises(NotFittedError):
        index.save(tmp_path / "never")
    monkeypatch.undo()
    index.fit(small)
    before = index.search_rows([0, 5], 4)
    monkeypatch.setattr(type(index), "_build", _failing_build)
    with pytest.raises(_BuildFails):
        index.fit(small[:100])  # a refit that fails keeps the earlier index
    assert index.n_samples_fit_ == N_SMALL
    np.testing.assert_array_equal(index.search_rows([0, 5], 4)[1], before[1])


def test_failed_graph_fit_leaves_the_graph_as_it_was(small, monkeypatch, tmp_path):
    import skseals.neighbors._graph as graph_module

    graph = KNNGraph(n_neighbors=5, index="exact")
    with pytest.raises(NotFittedError):
        graph.save(tmp_path / "never")
    graph.fit(small)
    before = graph.neighbors_.copy()

    def interrupted(*args, **kwargs):
        raise _BuildFails("search interrupted")

    monkeypatch.setattr(graph_module, "_graph_batch", interrupted)
    with pytest.raises(_BuildFails):
        graph.fit(small[:100])
    assert graph.n_samples_fit_ == N_SMALL
    np.testing.assert_array_equal(graph.neighbors_, before)
    np.testing.assert_array_equal(graph.search_rows([3], 5)[1], before[[3]])


@pytest.mark.parametrize("name", ["exact", "faiss-flat", "hnswlib", "annoy", "graph"])
def test_metric_changed_after_the_build_is_refused(small, name, tmp_path):
    # The vectors and distances stored are those of the metric built with:
    # set_params(metric=...) on a fitted index must not search with another.
    from skseals import ActiveLearner

    if name == "graph":
        index = KNNGraph(n_neighbors=5, index="exact").fit(small)
    else:
        if name in ("hnswlib", "annoy"):
            pytest.importorskip(name)
        index = BACKENDS[name]("cosine").fit(small)
    expected = index.search_rows([0, 1], 4)
    index.set_params(metric="euclidean")
    with pytest.raises(ValueError, match="built with metric='cosine'"):
        index.search_rows([0, 1], 4)
    y = np.full(N_SMALL, -1)
    y[:4] = [0, 1, 0, 1]
    pool = KNNPool(4, index=index, metric="euclidean")
    with pytest.raises(ValueError, match="metric='cosine'"):
        ActiveLearner(pool=pool).fit(small, y)
    index.set_params(metric="cosine")
    np.testing.assert_array_equal(index.search_rows([0, 1], 4)[1], expected[1])
    index.save(tmp_path / "index")
    loaded = type(index).load(tmp_path / "index")
    assert loaded.metric_ == "cosine"
    index.set_params(metric="euclidean").fit(small)  # a refit takes the new one
    assert index.metric_ == "euclidean"
    assert index.search_rows([0], 3)[1].shape == (1, 3)


# -- validation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "index,param",
    [
        (ExactIndex(metric="cosin"), "metric"),
        (ExactIndex(block_size=0), "block_size"),
        (FaissIndex(nprobe=0), "nprobe"),
        (FaissIndex(factory=3), "factory"),
        (HNSWIndex(M=1), "M"),
        (HNSWIndex(ef=0), "ef"),
        (AnnoyIndex(n_trees=0), "n_trees"),
    ],
)
def test_bad_parameters_name_the_parameter(small, index, param):
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        index.fit(small)


def test_bad_metric_lists_valid_ones(small):
    with pytest.raises(ValueError, match="euclidean"):
        FaissIndex(metric="l2").fit(small)


def test_bad_data_and_arguments(small, fitted_small):
    X = small.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ExactIndex().fit(X)
    with pytest.raises(ValueError, match="infinity"):
        FaissIndex().fit(np.where(np.isnan(X), np.inf, X))
    with pytest.raises(NotFittedError):
        ExactIndex().search(small, 3)
    index = fitted_small["faiss-flat"]
    for bad in (0, -2):
        with pytest.raises(ValueError, match="n_neighbors"):
            index.search(small[:2], bad)
    with pytest.raises(TypeError, match="n_neighbors"):
        index.search_rows([0], 2.5)
    with pytest.raises(ValueError, match="features"):
        index.search(small[:2, :5], 3)
    with pytest.raises(IndexError, match="rows"):
        index.search_rows([N_SMALL], 3)
    D, I = index.search(np.empty((0, 16)), 3)  # noqa: E741
    assert D.shape == I.shape == (0, 3)
    assert index.search_rows([], 3)[1].shape == (0, 3)


def test_faiss_factory_errors_and_default(small):
    with pytest.raises(ValueError, match="factory"):
        FaissIndex("NotAnIndex").fit(small)
    with pytest.raises(ValueError, match="inverted lists"):
        FaissIndex("IVF1024,Flat").fit(small)
    assert FaissIndex().fit(small).factory_ == "Flat"
    assert default_factory(49_999) == "Flat"
    assert default_factory(1_000_000) == "IVF4000,Flat"


@pytest.mark.parametrize(
    "cls,module,extra",
    [
        (HNSWIndex, "hnswlib", "hnsw"),
        (AnnoyIndex, "annoy", "annoy"),
        (partial(FaissIndex, verbose=True), "tqdm.auto", "progress"),
    ],
)
def test_missing_optional_dependency(small, monkeypatch, cls, module, extra):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"skseals\[{extra}\]"):
        cls().fit(small)


# -- make_index ----------------------------------------------------------------------
def test_make_index_aliases_and_objects(fitted_small):
    kinds = {"exact": ExactIndex, "faiss": FaissIndex, "hnswlib": HNSWIndex}
    kinds.update(hnsw=HNSWIndex, annoy=AnnoyIndex)
    assert set(kinds) == set(INDEX_ALIASES)
    for alias, cls in kinds.items():
        index = make_index(alias, "euclidean", 100)
        assert type(index) is cls and index.metric == "euclidean"
        assert not hasattr(index, "n_samples_fit_")
    obj = FaissIndex("HNSW32")
    assert make_index(obj, "cosine", 10) is obj
    fitted = fitted_small["exact"]
    assert make_index(fitted, "cosine", N_SMALL) is fitted
    with pytest.raises(ValueError, match="fitted on 300 rows"):
        make_index(fitted, "cosine", 10)
    with pytest.raises(ValueError, match="metric"):
        make_index(fitted, "euclidean", N_SMALL)
    with pytest.raises(ValueError, match="'exact'"):
        make_index("kdtree", "cosine", 10)
    with pytest.raises(TypeError, match="index must be"):
        make_index(42, "cosine", 10)


# -- progress and logging ------------------------------------------------------------
# Backends with a verbose build, and the name their progress bar shows.
VERBOSE_DESC = {
    "faiss-flat": "faiss add",
    "faiss-ivf": "faiss add",
    "faiss-hnsw": "faiss add",
    "faiss-refine": "faiss add",
    "faiss-lsh": "faiss add",
    "hnswlib": "hnswlib add",
    "annoy": "annoy add",
}


@pytest.mark.parametrize("name", list(VERBOSE_DESC))
def test_verbose_build_same_index(small, name, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr("skseals.utils._progress.ADD_BLOCK", 64)  # 5 blocks
    with config_context(n_threads=1):  # multithreaded HNSW builds may differ
        quiet = BACKENDS[name]("euclidean").fit(small)
        assert capsys.readouterr() == ("", "")
        loud = BACKENDS[name]("euclidean").set_params(verbose=True).fit(small)
    err = capsys.readouterr().err
    assert VERBOSE_DESC[name] in err and f"{N_SMALL}/{N_SMALL}" in err
    for exclude in (None, _bitmap(N_SMALL, range(0, N_SMALL, 4))):
        a = quiet.search_rows(np.arange(40), 7, exclude=exclude)
        b = loud.search_rows(np.arange(40), 7, exclude=exclude)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize(
    "factory,alike",
    [
        ("Flat", True),
        ("IVF8,Flat", True),
        ("IVF8,SQ8", True),
        ("IVF8,PQ4", True),
        ("PCA8,IVF8,Flat", True),
        ("IVF8,Flat,RFlat", True),
        ("LSH", True),
        ("HNSW16", False),
        ("HNSW16,RFlat", False),
        ("RQ2x4", False),
    ],
)
def test_faiss_adds_in_blocks_only_when_alike(factory, alike):
    assert adds_rows_alike(faiss.index_factory(16, factory)) is alike


@pytest.mark.parametrize("builder", [build_ondisk_ivf, build_index_shards])
def test_ondisk_builders_verbose(small, builder, tmp_path, capsys):
    pytest.importorskip("tqdm")
    kw = dict(factory="IVF8,Flat", shard_size=100, nprobe=8, random_state=0)
    quiet = builder(small, tmp_path / "quiet", **kw)
    assert capsys.readouterr() == ("", "")
    loud = builder(small, tmp_path / "loud", verbose=True, **kw)
    err = capsys.readouterr().err
    assert "faiss add" in err and f"{N_SMALL}/{N_SMALL}" in err
    np.testing.assert_array_equal(
        quiet.search_rows(np.arange(20), 5)[1], loud.search_rows(np.arange(20), 5)[1]
    )


@pytest.mark.parametrize("name", ["exact", "faiss-ivf", "hnswlib", "annoy"])
def test_build_time_is_logged(small, name, caplog):
    index = BACKENDS[name]("cosine")
    with caplog.at_level(logging.INFO, logger="skseals"):
        index.fit(small)
    assert f"built {type(index).__name__} over {N_SMALL} rows in" in caplog.text
    if name == "annoy":
        assert "annoy: building 20 trees" in caplog.text
        assert "annoy: built the trees in" in caplog.text


def test_ondisk_build_time_is_logged(small, tmp_path, caplog):
    kw = dict(factory="IVF8,Flat", shard_size=100, random_state=0)
    with caplog.at_level(logging.INFO, logger="skseals"):
        build_ondisk_ivf(small, tmp_path / "ivf", **kw)
        build_index_shards(small, tmp_path / "shards", **kw)
    assert "built an on-disk IVF8,Flat index over 300 rows in" in caplog.text
    assert "built 3 IVF8,Flat shards over 300 rows in" in caplog.text


@pytest.mark.parametrize("name", ["faiss-flat", "hnswlib", "annoy"])
def test_verbose_survives_save_load(small, name, tmp_path, capsys):
    pytest.importorskip("tqdm")
    index = BACKENDS[name]("cosine").set_params(verbose=True).fit(small)
    index.save(tmp_path / "index.bin")
    loaded = type(index).load(tmp_path / "index.bin")
    assert loaded.verbose is True
    assert loaded.get_params() == index.get_params()
