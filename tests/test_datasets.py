"""Tests of skseals.datasets: the rare-concept generator and the loaders."""

import numpy as np
import pytest

from skseals.datasets import (
    load_concept_data,
    make_rare_concepts,
    pool_test_split,
    save_concept_data,
)

KW = dict(n_samples=6000, n_features=16, n_concepts=3, prevalence=0.01)


@pytest.fixture(scope="module")
def data():
    return make_rare_concepts(**KW, n_components=[1, 2, 3], random_state=0)


def test_shapes_dtype_unit_norm(data):
    X = data.X
    assert X.shape == (6000, 16) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert data.concept_indptr.tolist() == [0, 60, 120, 180]
    assert len(data.concepts) == 3 and data.concept_names.tolist() == [
        "concept_0",
        "concept_1",
        "concept_2",
    ]
    for c, rows in enumerate(data.concepts):
        assert rows.dtype == np.int64
        assert np.all(np.diff(rows) > 0)  # sorted, unique
        comp = data.concept_component[
            data.concept_indptr[c] : data.concept_indptr[c + 1]
        ]
        assert sorted(set(comp.tolist())) == list(range(c + 1))
    assert np.unique(data.concept_members).size == 180  # disjoint concepts


def test_prevalence_per_concept_and_split(data):
    d = make_rare_concepts(**{**KW, "prevalence": [0.001, 0.005, 0.02]}, random_state=1)
    assert [len(r) for r in d.concepts] == [6, 30, 120]
    # The split is exact overall and stratified per concept.
    assert d.split.dtype == np.int8 and int(d.split.sum()) == 1200
    assert [int(d.split[r].sum()) for r in d.concepts] == [1, 6, 24]
    np.testing.assert_array_equal(d.pool_ids, np.flatnonzero(d.split == 0))
    np.testing.assert_array_equal(d.test_ids, np.flatnonzero(d.split == 1))


def test_deterministic_and_seed_dependent(data):
    again = make_rare_concepts(**KW, n_components=[1, 2, 3], random_state=0)
    np.testing.assert_array_equal(again.X, data.X)
    np.testing.assert_array_equal(again.concept_members, data.concept_members)
    np.testing.assert_array_equal(again.split, data.split)
    other = make_rare_concepts(**KW, n_components=[1, 2, 3], random_state=1)
    assert not np.array_equal(other.X, data.X)
    assert not np.array_equal(other.concept_members, data.concept_members)
    # None draws from numpy's global RandomState, as in scikit-learn
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(5)  # noqa: NPY002
        first = make_rare_concepts(**KW, random_state=None)
        np.random.seed(5)  # noqa: NPY002
        assert np.array_equal(make_rare_concepts(**KW, random_state=None).X, first.X)
    finally:
        np.random.set_state(state)  # noqa: NPY002


@pytest.mark.parametrize("chunk_size", [1, 1000, 2048, 5000])
def test_independent_of_chunk_size(data, chunk_size):
    chunked = make_rare_concepts(
        **KW, n_components=[1, 2, 3], chunk_size=chunk_size, random_state=0
    )
    np.testing.assert_array_equal(chunked.X, data.X)
    whole = make_rare_concepts(
        **KW, n_components=[1, 2, 3], chunk_size=None, random_state=0
    )
    np.testing.assert_array_equal(whole.X, data.X)


def test_memmap_output(tmp_path, data):
    path = tmp_path / "X.npy"
    d = make_rare_concepts(
        **KW, n_components=[1, 2, 3], out=path, chunk_size=1024, random_state=0
    )
    assert isinstance(d.X, np.memmap)
    np.testing.assert_array_equal(np.load(path), data.X)


def test_concepts_are_learnable_and_clustered(data):
    # A concept is far from random: its members' nearest neighbours are
    # enriched in members (SEALS can grow a pool from them) ...
    X, rows = data.X, data.concepts[0]
    sims = X[rows[:10]] @ X.T
    nearest = np.argsort(-sims, axis=1)[:, 1:51]
    enrichment = np.isin(nearest, rows).mean() / 0.01
    assert enrichment > 10
    # ... and a linear model separates it on held-out rows.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    y = np.zeros(len(X), bool)
    y[rows] = True
    pool, test = data.pool_ids, data.test_ids
    clf = LogisticRegression(C=10, class_weight="balanced", max_iter=500)
    clf.fit(X[pool], y[pool])
    ap = average_precision_score(y[test], clf.decision_function(X[test]))
    assert ap > 15 * 0.01  # 15 times chance (the prevalence)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_features": 1.5}, "n_features"),
        ({"prevalence": -0.1}, "prevalence"),
        ({"prevalence": [0.01, 0.01]}, "prevalence"),
        ({"prevalence": 0.3}, "prevalence"),
        ({"prevalence": 1e-6}, "prevalence"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": [1, 2]}, "n_components"),
        ({"n_background_clusters": 0}, "n_background_clusters"),
        ({"concept_spread": -1.0}, "concept_spread"),
        ({"concept_spread": float("inf")}, "concept_spread"),
        ({"prevalence": float("nan")}, "prevalence"),
        ({"prevalence": float("inf")}, "prevalence"),
        ({"background_spread": "wide"}, "background_spread"),
        ({"concept_offset": -0.5}, "concept_offset"),
        ({"test_size": 1.0}, "test_size"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_rare_concepts(**{**KW, **kwargs})


def test_pool_test_split_overlapping_concepts():
    concepts = [np.arange(0, 10), np.arange(5, 25)]
    split = pool_test_split(200, concepts, test_size=0.2, random_state=0)
    assert split.sum() == 40
    assert split[:10].sum() == 2  # first concept: round(0.2 * 10)
    assert split[10:25].sum() == 3  # rows 10-24 not placed by the first
    np.testing.assert_array_equal(
        split, pool_test_split(200, concepts, test_size=0.2, random_state=0)
    )
    with pytest.raises(ValueError, match="test_size"):
        pool_test_split(10, test_size=1.5)


def _shared_format(path, rng, n=300, d=8):
    """A tiny file in the format of shared/data/debian_packages.npz."""
    emb = (rng.normal(size=(n, d)) * 3).astype(np.float16)
    members = [np.array([1, 5, 7, 9], np.int32), np.array([2, 5, 100], np.int32)]
    split = (rng.random(n) < 0.25).astype(np.int8)
    np.savez(
        path,
        emb=emb,
        split=split,
        pool_ids=np.flatnonzero(split == 0).astype(np.int32),
        test_ids=np.flatnonzero(split == 1).astype(np.int32),
        concept_name=np.array(["section:a", "tag:b"]),
        concept_kind=np.array([0, 1], np.int8),
        concept_indptr=np.array([0, 4, 7], np.int64),
        concept_members=np.concatenate(members),
        concept_size=np.array([4, 3], np.int32),
    )
    return emb, members, split


def test_load_shared_npz(tmp_path):
    emb, members, split = _shared_format(tmp_path / "d.npz", np.random.default_rng(0))
    data = load_concept_data(tmp_path / "d.npz")
    assert data.X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(data.X, axis=1), 1.0, atol=1e-5)
    ref = emb.astype(np.float32)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(data.X, ref, rtol=1e-6)
    assert [c.tolist() for c in data.concepts] == [m.tolist() for m in members]
    assert data.concept_names.tolist() == ["section:a", "tag:b"]
    assert data.concept_kind.tolist() == [0, 1]
    np.testing.assert_array_equal(data.split, split)
    raw = load_concept_data(tmp_path / "d.npz", normalize=False)
    np.testing.assert_array_equal(raw.X, emb.astype(np.float32))


def test_load_npy_with_label_vector_or_npz(tmp_path, data):
    np.save(tmp_path / "X.npy", data.X)
    labels = np.full(len(data.X), -1)
    for c, rows in enumerate(data.concepts):
        labels[rows] = c
    np.save(tmp_path / "labels.npy", labels)
    loaded = load_concept_data(
        tmp_path / "X.npy", tmp_path / "labels.npy", mmap_mode="r"
    )
    assert isinstance(loaded.X, np.memmap)  # unit-norm float32: no copy
    for got, want in zip(loaded.concepts, data.concepts, strict=True):
        np.testing.assert_array_equal(got, want)
    # No split in the files: a stratified one, deterministic.
    assert [int(loaded.split[r].sum()) for r in loaded.concepts] == [12, 12, 12]
    again = load_concept_data(tmp_path / "X.npy", labels)
    np.testing.assert_array_equal(again.split, loaded.split)
    # A labels .npz written by save_concept_data keeps names and split.
    save_concept_data(data, tmp_path / "labels.npz", include_X=False)
    with np.load(tmp_path / "labels.npz") as f:
        assert "emb" not in f.files
        assert f["concept_test_size"].tolist() == [12, 12, 12]
    loaded = load_concept_data(tmp_path / "X.npy", tmp_path / "labels.npz")
    np.testing.assert_array_equal(loaded.split, data.split)
    np.testing.assert_array_equal(loaded.concept_members, data.concept_members)


def test_save_load_round_trip(tmp_path, data):
    save_concept_data(data, tmp_path / "all.npz")
    loaded = load_concept_data(tmp_path / "all.npz")
    np.testing.assert_array_equal(loaded.X, data.X)
    for key in ("concept_indptr", "concept_members", "split", "concept_names"):
        np.testing.assert_array_equal(loaded[key], data[key])


def test_load_errors(tmp_path, data):
    np.save(tmp_path / "X.npy", data.X)
    with pytest.raises(ValueError, match="labels is required"):
        load_concept_data(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="labels has 3 entries"):
        load_concept_data(tmp_path / "X.npy", np.array([0, 1, -1]))
    with pytest.raises(ValueError, match="1-D int"):
        load_concept_data(tmp_path / "X.npy", np.zeros(len(data.X)))
    with pytest.raises(ValueError, match=r"\.npz or \.npy"):
        load_concept_data(tmp_path / "X.csv")
    with pytest.raises(FileNotFoundError):
        load_concept_data(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", emb=data.X[:10], concept_indptr=[0, 1],
             concept_members=[50])  # fmt: skip
    with pytest.raises(ValueError, match="rows of X"):
        load_concept_data(tmp_path / "bad.npz")
    np.savez(tmp_path / "nolabels.npz", emb=data.X[:10])
    with pytest.raises(ValueError, match="concept_indptr"):
        load_concept_data(tmp_path / "nolabels.npz")


def _shared_file(path, data, **replace):
    """``data`` in the shared .npz format, some keys replaced (None drops one)."""
    arrays = dict(
        emb=data.X,
        concept_indptr=data.concept_indptr,
        concept_members=data.concept_members,
        concept_name=np.asarray(data.concept_names),
        split=data.split,
    )
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    "replace, match",
    [
        ({"concept_indptr": [0, 10, 5, 60]}, "concept_indptr must start at 0"),
        ({"concept_indptr": [0, 20, 40, 500]}, "end at len"),
        ({"concept_indptr": [1, 20, 40, 60]}, "start at 0"),
        ({"concept_indptr": np.array([0.0, 20, 40, 60])}, "1-D int"),
        ({"concept_members": np.arange(60) + 0.5}, "concept_members must be"),
        ({"concept_name": np.array(["a"])}, "concept_name has 1 entries"),
        ({"split": np.full(6000, 1)}, "no pool row"),
        ({"split": np.full(6000, 7)}, "only 0"),
        ({"split": None, "test_ids": np.array([5, 6000])}, "test_ids must be rows"),
        ({"split": None, "test_ids": np.array([0.5])}, "test_ids must be a 1-D int"),
    ],
)
def test_load_checks_the_membership(tmp_path, data, replace, match):
    path = _shared_file(tmp_path / "bad.npz", data, **replace)
    with pytest.raises(ValueError, match=match):
        load_concept_data(path)


def test_load_rejects_non_finite_embeddings(tmp_path, data):
    X = data.X.copy()
    X[17, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity .*row 17"):
        load_concept_data(_shared_file(tmp_path / "nan.npz", data, emb=X))
    big = data.X.astype(np.float64)
    big[5, 0] = 1e300  # finite in float64, infinite in float32
    path = _shared_file(tmp_path / "big.npz", data, emb=big)
    with pytest.raises(ValueError, match="row 5"):
        load_concept_data(path, normalize=False)


def test_load_names_the_unreadable_file(tmp_path, data):
    good = _shared_file(tmp_path / "good.npz", data)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read the data file .*empty.npz"):
        load_concept_data(tmp_path / "empty.npz")
    raw = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cannot read the data file .*cut.npz"):
        load_concept_data(tmp_path / "cut.npz")
    np.save(tmp_path / "X.npy", data.X)
    (tmp_path / "labels.txt").write_text("1 2 3\n")
    not_npy = r"labels file .*labels.txt: it is not a \.npy or \.npz .*never loaded"
    with pytest.raises(ValueError, match=not_npy):
        load_concept_data(tmp_path / "X.npy", tmp_path / "labels.txt")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="cannot read the labels file .*objects.npy"):
        load_concept_data(tmp_path / "X.npy", tmp_path / "objects.npy")
