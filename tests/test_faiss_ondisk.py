"""Faiss beyond RAM: on-disk inverted lists and IndexShards with global ids."""

import pickle

import faiss
import numpy as np
import pytest
from joblib import parallel_config

from skseals import ActiveSearcher
from skseals.neighbors import (
    ExactIndex,
    OnDiskFaissIndex,
    build_index_shards,
    build_ondisk_ivf,
)
from skseals.neighbors._faiss_build import _trained
from skseals.neighbors._faiss_ondisk import _read
from skseals.pool import KNNPool
from skseals.utils import RowBitmap

BUILDERS = [build_ondisk_ivf, build_index_shards]


@pytest.fixture(scope="module")
def X(tmp_path_factory):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 16)) * 4
    data = (centers[rng.integers(0, 40, 4000)] + rng.normal(size=(4000, 16))).astype(
        np.float32
    )
    path = tmp_path_factory.mktemp("X") / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=data.shape)
    mm[:] = data
    mm.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=data.shape)


@pytest.fixture(scope="module")
def skip():
    s = RowBitmap(4000)
    s.add(np.random.default_rng(1).choice(4000, 1000, replace=False))
    return s


def _recall(I, I_ref):  # noqa: E741
    return np.mean(
        [len(set(a) & set(b)) / len(b) for a, b in zip(I, I_ref, strict=True)]
    )


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_recall_and_exclusion_inside_the_search(X, skip, tmp_path, build, metric):
    index = build(
        X,
        tmp_path / "idx",
        factory="IVF16,SQ8",
        metric=metric,
        shard_size=900,  # 5 shards
        nprobe=16,
        random_state=0,
    )
    assert isinstance(index, OnDiskFaissIndex) and index.n_samples_fit_ == 4000
    rows = np.arange(0, 4000, 20)
    _, I_ref = ExactIndex(metric=metric).fit(X).search_rows(rows, 10, exclude=skip)
    D, I = index.search_rows(rows, 10, exclude=skip)  # noqa: E741
    assert _recall(I, I_ref) >= 0.9
    assert not skip.contains(I[I >= 0]).any()
    assert (np.diff(D, axis=1) >= 0).all()
    # Exclusion happened inside faiss (the ID selector reached every shard),
    # not by the over-fetch-and-filter fallback.
    V = index._row_vectors(rows)
    assert index._raw_search(V, 10, skip) is not None


@pytest.mark.parametrize("build", BUILDERS)
def test_files_load_memory_mapped_and_pickle_by_path(X, skip, tmp_path, build):
    path = tmp_path / "idx"
    index = build(X, path, factory="IVF16,Flat", shard_size=1500, random_state=0)
    rows = np.arange(0, 4000, 97)
    ref = index.search_rows(rows, 5, exclude=skip)
    loaded = OnDiskFaissIndex.load(path, X=X)
    blob = pickle.dumps(loaded)
    assert len(blob) < 10_000  # neither the lists nor X are in the pickle
    for other in (loaded, pickle.loads(blob)):
        got = other.search_rows(rows, 5, exclude=skip)
        np.testing.assert_array_equal(ref[1], got[1])
    Q = np.asarray(X[:3])
    assert loaded.search(Q, 1)[1][:, 0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="shape"):
        OnDiskFaissIndex.load(path, X=np.asarray(X)[:10])
    with pytest.raises(FileNotFoundError):
        _read(str(tmp_path / "nothing"))


def test_global_ids_across_shards(X, tmp_path):
    index = build_index_shards(
        X, tmp_path / "s", factory="Flat", metric="euclidean", shard_size=1000
    )
    assert index.index_.count() == 4
    rows = np.array([5, 1500, 3999])
    _, I = index.search_rows(rows, 1)  # noqa: E741
    np.testing.assert_array_equal(I[:, 0], rows)  # each row finds itself


def test_shards_build_through_joblib_identically(X, tmp_path):
    a = build_index_shards(
        X, tmp_path / "a", factory="IVF16,SQ8", shard_size=1000, random_state=0
    )
    with parallel_config(backend="threading", n_jobs=2):
        b = build_index_shards(
            X, tmp_path / "b", factory="IVF16,SQ8", shard_size=1000, random_state=0
        )
    rows = np.arange(0, 4000, 50)
    np.testing.assert_array_equal(a.search_rows(rows, 8)[1], b.search_rows(rows, 8)[1])


def test_not_an_ivf_factory(X, tmp_path):
    with pytest.raises(ValueError, match="IVF"):
        build_ondisk_ivf(X, tmp_path / "f", factory="Flat")


@pytest.mark.parametrize("build", BUILDERS)
def test_knn_pool_learner_never_sees_labeled_rows(X, tmp_path, build):
    index = build(
        X,
        tmp_path / "idx",
        factory="IVF16,SQ8",
        shard_size=1000,
        nprobe=16,
        random_state=0,
    )
    y = np.full(4000, -1)
    y[:5], y[2000:2030] = 1, 0
    learner = ActiveSearcher(
        pool=KNNPool(index=index, n_neighbors=20), batch_size=25, random_state=0
    ).fit(X, y)
    assert learner.pool_.index_ is index  # shared, not rebuilt
    seen = set(np.flatnonzero(y != -1))
    for _ in range(3):
        picks = learner.query()
        assert picks.size and not seen.intersection(picks.tolist())
        assert not learner.excluded_.contains(learner.pool_.candidates()).any()
        learner.teach(picks, (picks % 7 == 0).astype(int))
        seen.update(picks.tolist())


def test_ivf_pq_trains_without_polysemous_training(X, tmp_path):
    # faiss's factory turns polysemous training on for "IVF...,PQ..." (slow at
    # scale, useless without polysemous search); the builders turn it off.
    trained = _trained(X, "IVF16,PQ8", "cosine", None, 0)
    pq = faiss.downcast_index(faiss.try_extract_index_ivf(trained))
    assert isinstance(pq, faiss.IndexIVFPQ) and not pq.do_polysemous_training
    index = build_ondisk_ivf(
        X,
        tmp_path / "pq",
        factory="IVF16,PQ8",
        shard_size=1500,
        nprobe=16,
        random_state=0,
    )
    assert index._vectors is None  # query rows come from X, no copy is kept
    rows = np.arange(0, 4000, 40)
    _, I_ref = ExactIndex().fit(X).search_rows(rows, 10)
    assert _recall(index.search_rows(rows, 10)[1], I_ref) >= 0.5


# -- a build replaces an earlier build at its path, and never mixes files in --
def _files(tmp_path):
    return sorted(f.name for f in tmp_path.iterdir())


def test_rebuild_with_fewer_shards_drops_the_old_shard_files(X, tmp_path):
    path = tmp_path / "s"
    build_index_shards(X, path, factory="Flat", metric="euclidean", shard_size=500)
    index = build_index_shards(
        X, path, factory="Flat", metric="euclidean", shard_size=1000
    )
    assert index.index_.ntotal == 4000 and index.index_.count() == 4
    shards = [f"s.shard0000{i}.faissindex" for i in range(4)]
    assert _files(tmp_path) == ["s.json", *shards]
    _, I = index.search_rows([1500], 4)  # noqa: E741
    assert I[0, 0] == 1500 and len(set(I[0].tolist())) == 4  # no row twice


@pytest.mark.parametrize("first, second", [BUILDERS, BUILDERS[::-1]])
def test_a_build_replaces_a_build_of_the_other_kind(X, tmp_path, first, second):
    path = tmp_path / "idx"
    old = first(X, path, factory="IVF8,Flat", shard_size=2000, random_state=0)
    X2 = np.ascontiguousarray(np.asarray(X)[::-1])  # other rows at the same path
    new = second(X2, path, factory="IVF8,Flat", shard_size=2000, random_state=0)
    Q = X2[:3]
    assert new.search(Q, 1)[1][:, 0].tolist() == [0, 1, 2]
    assert OnDiskFaissIndex.load(path, X2).search(Q, 1)[1][:, 0].tolist() == [0, 1, 2]
    # Only the new build's files are left; the old index object still works.
    names = _files(tmp_path)
    assert ("idx.ivfdata" in names) == (second is build_ondisk_ivf)
    assert any(".shard" in n for n in names) == (second is build_index_shards)
    assert old.search(Q, 1)[1][:, 0].tolist() == [3999, 3998, 3997]


def test_load_refuses_files_of_another_build(X, tmp_path):
    path = tmp_path / "s"
    build_index_shards(X, path, factory="Flat", shard_size=1000)
    # A shard file of another build (say, copied in by hand) next to this one.
    extra = build_index_shards(X[:10], tmp_path / "t", factory="Flat", shard_size=10)
    (tmp_path / "t.shard00000.faissindex").rename(tmp_path / "s.shard00009.faissindex")
    with pytest.raises(ValueError, match="holds 4010 rows, not the 4000"):
        OnDiskFaissIndex.load(path, X)
    del extra


@pytest.mark.parametrize("build", BUILDERS)
def test_a_build_never_overwrites_a_file_it_did_not_write(X, tmp_path, build):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(3))
    with pytest.raises(ValueError, match="not an index written by"):
        build(X, path, factory="IVF8,Flat", random_state=0)
    assert np.load(path).tolist() == [0, 1, 2] and _files(tmp_path) == ["data.npy"]


# -- a learner over an on-disk index saves without it --------------------------
@pytest.mark.parametrize("build", BUILDERS)
def test_learner_saves_with_the_index_by_reference(X, tmp_path, build):
    import skseals

    path = tmp_path / "idx"
    index = build(X, path, factory="IVF8,Flat", shard_size=2000, random_state=0)
    y = np.full(4000, -1)
    y[:3], y[3:13] = 1, 0
    learner = ActiveSearcher(
        pool=KNNPool(10, index=index), batch_size=5, random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match="include_index=False") as err:
        learner.save(tmp_path / "session")
    assert f"OnDiskFaissIndex.load({str(path)!r}, X)" in str(err.value)
    with pytest.raises(TypeError, match="include_index=False"):
        index.save(tmp_path / "copy")
    assert not (tmp_path / "session").exists()
    learner.save(tmp_path / "session", include_index=False)
    resumed = skseals.load(
        tmp_path / "session", X, index=OnDiskFaissIndex.load(path, X)
    )
    np.testing.assert_array_equal(resumed.query(), learner.query())


def test_index_fitted_in_memory_still_saves_and_pickles(X, tmp_path):
    index = OnDiskFaissIndex("Flat", metric="euclidean").fit(X[:500])
    copy = pickle.loads(pickle.dumps(index))
    assert copy.search_rows([7], 1)[1].tolist() == [[7]]
    index.save(tmp_path / "mem")
    assert (tmp_path / "mem").exists()
    # an index opened from its files and fitted again lives in memory
    built = build_ondisk_ivf(
        X, str(tmp_path / "disk"), factory="IVF8,Flat", metric="euclidean"
    )
    refit = pickle.loads(pickle.dumps(built.fit(X[:300])))
    assert refit.path_ is None and refit.search_rows([7], 1)[1].tolist() == [[7]]
