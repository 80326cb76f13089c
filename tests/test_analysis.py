"""The concept structure report (skseals.analysis) and its command line."""

import argparse
import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skseals.analysis import ConceptStructure, concept_structure
from skseals.analysis._cli import add_structure_parser, run_structure
from skseals.neighbors import ExactIndex, FaissIndex, KNNGraph

# A hand-made line of points (1-D, padded to 2-D) where every neighbour list
# is known exactly (no ties). P = positive, N = negative.
#   row  0    1    2    3    4     5     6     7     8     9     10
#   x    0.0  1.0  2.2  3.6  5.2   10.0  11.0  9.95  30.0  29.5  20.0
#        P    P    P    P    P     P     P     N     P     N     N
# k=1 lists: 0->1, 1->0, 2->1, 3->2, 4->3, 5->7, 6->5, 8->9.
# Undirected edges between positives: 0-1, 1-2, 2-3, 3-4 (a path of five;
# 2-3 and 3-4 exist only in the lists of 3 and 4) and 5-6 (only in 6's list);
# row 8 is isolated. Components 5 / 2 / 1. Path lengths over connected pairs:
# the path of five has 4 pairs at 1 hop, 3 at 2, 2 at 3, 1 at 4 (sum 20), plus
# 5-6 at 1 hop: mean 21 / 11, max 4.
LINE = np.array([0.0, 1.0, 2.2, 3.6, 5.2, 10.0, 11.0, 9.95, 30.0, 29.5, 20.0])
X_LINE = np.column_stack([LINE, np.zeros_like(LINE)])
POS = np.array([0, 1, 2, 3, 4, 5, 6, 8])


def _line(k=1, **kwargs):
    kwargs = {"index": "exact", "metric": "euclidean", **kwargs}
    return concept_structure(X_LINE, POS, n_neighbors=k, **kwargs)


def test_hand_computed_graph_k1():
    s = _line(1)
    assert isinstance(s, ConceptStructure)
    assert s.n_positives == 8
    assert s.n_components == 3
    assert s.component_sizes.tolist() == [5, 2, 1]
    assert s.largest_component_share == pytest.approx(5 / 8)
    assert s.n_isolated == 1
    assert s.n_edges == 5  # undirected union: a mutual-kNN graph would have 1
    assert s.mean_path_length == pytest.approx(21 / 11)
    assert s.max_path_length == 4
    assert not s.path_sampled and s.n_path_sources == 7
    assert s.positives.tolist() == POS.tolist()
    comp = dict(zip(s.positives.tolist(), s.component_labels.tolist(), strict=True))
    assert [comp[r] for r in (0, 1, 2, 3, 4)] == [0] * 5
    assert comp[5] == comp[6] == 1 and comp[8] == 2


def test_hand_computed_graph_k2():
    # k=2 adds 0-2 and 2-4 (and 5-6 is now in both lists): the path of five
    # gets two chords, so its pair distances are 1,1,2,2,1,2,2,1,1,1 (sum 14).
    s = _line(2)
    assert s.component_sizes.tolist() == [5, 2, 1]
    assert s.n_edges == 7
    assert s.mean_path_length == pytest.approx(15 / 11)
    assert s.max_path_length == 2


def test_large_k_gives_one_component():
    s = _line(10)  # every other row is a neighbour: a complete graph
    assert s.n_components == 1 and s.largest_component_share == 1.0
    assert s.mean_path_length == pytest.approx(1.0)
    assert s.n_edges == 8 * 7 // 2
    # k beyond the number of rows is capped, not an error
    assert _line(50).n_components == 1


def test_every_source_of_neighbours_agrees():
    expected = _line(1).as_dict()
    graph = KNNGraph(n_neighbors=3, index="exact", metric="euclidean").fit(X_LINE)
    from_graph = concept_structure(
        None, POS, n_neighbors=1, index=graph, metric="euclidean"
    )
    flat = FaissIndex("Flat", metric="euclidean").fit(X_LINE)
    from_faiss = concept_structure(
        None, POS, n_neighbors=1, index=flat, metric="euclidean"
    )
    mask = np.zeros(len(LINE), bool)
    mask[POS] = True
    from_mask = concept_structure(
        X_LINE, mask, n_neighbors=1, index="exact", metric="euclidean"
    )
    unfitted = concept_structure(
        X_LINE,
        POS[::-1].tolist() + [0, 0],
        n_neighbors=1,
        index=ExactIndex(metric="euclidean"),
        metric="euclidean",
    )
    for other in (from_graph, from_faiss, from_mask, unfitted):
        assert other.as_dict() == expected


class _CountingIndex(ExactIndex):
    """Records the rows each search_rows call asks for."""

    def search_rows(self, rows, n_neighbors, *, exclude=None):
        self.asked.append(np.asarray(rows).copy())
        return super().search_rows(rows, n_neighbors, exclude=exclude)

    def search(self, Q, n_neighbors, *, exclude=None):  # pragma: no cover
        raise AssertionError("concept_structure must not search arbitrary vectors")


def test_only_the_positives_are_searched():
    X = np.random.default_rng(0).normal(size=(300, 5))
    index = _CountingIndex(metric="euclidean").fit(X)
    index.asked = []
    pos = [3, 50, 7, 120]
    concept_structure(None, pos, n_neighbors=10, index=index, metric="euclidean")
    assert np.concatenate(index.asked).tolist() == sorted(pos)


@pytest.fixture(scope="module")
def blobs():
    X, c = make_blobs(
        n_samples=150,
        centers=[[0, 0], [20, 0], [0, 20], [20, 20], [40, 40]],
        cluster_std=1.0,
        random_state=0,
    )
    return X, c


def test_disjoint_clusters_give_several_components(blobs):
    X, c = blobs
    pos = np.flatnonzero(c < 3)  # three clusters of 30 positives, two negative
    s = concept_structure(X, pos, n_neighbors=10, index="exact", metric="euclidean")
    assert s.n_components == 3
    assert s.component_sizes.tolist() == [30, 30, 30]
    assert s.largest_component_share == pytest.approx(1 / 3)
    for comp in range(3):  # a component is a cluster
        assert np.unique(c[s.positives[s.component_labels == comp]]).size == 1
    big = concept_structure(X, pos, n_neighbors=149, index="exact", metric="euclidean")
    assert big.n_components == 1
    assert "fragmented" in s.summary() and "should reach" in big.summary()


def test_cosine_faiss_default_matches_exact():
    X, c = make_blobs(
        n_samples=300, n_features=16, centers=5, cluster_std=4.0, random_state=0
    )
    pos = np.flatnonzero(c == 4)
    a = concept_structure(X, pos, n_neighbors=5)
    b = concept_structure(X, pos, n_neighbors=5, index="exact")
    assert a.as_dict() == b.as_dict()
    assert a.metric == "cosine"


def test_path_sources_are_sampled_past_max_sources(blobs):
    X, c = blobs
    pos = np.flatnonzero(c < 3)
    exact = concept_structure(X, pos, n_neighbors=10, index="exact", metric="euclidean")
    s1 = concept_structure(
        X,
        pos,
        n_neighbors=10,
        index="exact",
        metric="euclidean",
        max_sources=20,
        random_state=1,
    )
    s2 = concept_structure(
        X,
        pos,
        n_neighbors=10,
        index="exact",
        metric="euclidean",
        max_sources=20,
        random_state=1,
    )
    assert s1.path_sampled and s1.n_path_sources == 20
    assert s1.mean_path_length == s2.mean_path_length
    assert s1.mean_path_length == pytest.approx(exact.mean_path_length, rel=0.25)
    assert s1.max_path_length <= exact.max_path_length
    assert "sampled" in s1.summary()


def test_summary_text():
    s = _line(1)
    text = s.summary()
    assert text == str(s)
    assert text.startswith("SEALS with k=1 can reach 62% of the 8 known positives")
    assert "(sizes 2, 1); 1 of them has no positive neighbour." in text
    assert "1.91 hops" in text and "partly fragmented" in text
    one = concept_structure(X_LINE, [8], n_neighbors=2, index="exact")
    assert one.n_components == 1 and np.isnan(one.mean_path_length)
    assert "One known positive" in one.summary()
    isolated = concept_structure(
        X_LINE, [0, 8], n_neighbors=1, index="exact", metric="euclidean"
    )
    assert isolated.n_components == 2 and np.isnan(isolated.mean_path_length)
    assert isolated.max_path_length == 0 and "Verdict: partly" in str(isolated)
    assert "The other 1 has no positive neighbour." in str(isolated)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"positives": None}, "positives"),
        ({"positives": []}, "positives"),
        ({"positives": [0, 11]}, "positives"),
        ({"positives": [-1, 2]}, "positives"),
        ({"positives": [0.5, 2.0]}, "positives"),
        ({"positives": np.ones(4, bool)}, "positives"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"metric": "manhattan"}, "metric"),
        ({"index": "kdtree"}, "index"),
        ({"index": object()}, "index"),
        ({"max_sources": 0}, "max_sources"),
        ({"X": None}, "X is required"),
        ({"X": [[np.nan, 0.0]] * 11}, "NaN"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    params = {"X": X_LINE, "positives": POS, "index": "exact", **kwargs}
    with pytest.raises(ValueError, match=match):
        concept_structure(**params)


def test_bad_index_objects():
    with pytest.raises(ValueError, match="unfitted KNNGraph"):
        concept_structure(X_LINE, POS, index=KNNGraph(n_neighbors=2))
    graph = KNNGraph(n_neighbors=2, index="exact").fit(X_LINE)
    with pytest.raises(ValueError, match="n_neighbors=5 exceeds"):
        concept_structure(None, POS, n_neighbors=5, index=graph)
    with pytest.raises(ValueError, match="metric"):
        concept_structure(None, POS, n_neighbors=1, index=graph, metric="euclidean")
    fitted = ExactIndex(metric="euclidean").fit(X_LINE)
    with pytest.raises(ValueError, match="X has 5 rows"):
        concept_structure(X_LINE[:5], [0, 1], index=fitted, metric="euclidean")
    with pytest.raises(ValueError, match="metric"):
        concept_structure(None, POS, index=fitted)  # cosine asked, euclidean index


# -- command line -------------------------------------------------------------------
def _parse(argv):
    parser = argparse.ArgumentParser(prog="skseals")
    add_structure_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["structure", *argv])


@pytest.fixture()
def npz(tmp_path, blobs):
    X, c = blobs
    X = X + 50.0
    split = np.zeros(len(c), np.int8)
    split[::5] = 1
    members = [np.flatnonzero(c == j) for j in range(3)]
    indptr = np.concatenate([[0], np.cumsum([m.size for m in members])])
    path = tmp_path / "data.npz"
    np.savez(
        path,
        emb=X.astype(np.float32),
        concept_indptr=indptr,
        concept_members=np.concatenate(members),
        concept_name=np.array(["a", "b", "c"]),
        split=split,
    )
    return path, X, c, split


def test_cli_npz_table_and_csv(npz, tmp_path):
    path, X, c, split = npz
    out = tmp_path / "s.csv"
    lines = []
    args = _parse(
        [
            str(path),
            "--index",
            "exact",
            "--k",
            "3,10",
            "--concepts",
            "a,c",
            "--out",
            str(out),
        ]
    )
    assert args.func is run_structure
    assert run_structure(args, echo=lines.append) == 0
    text = "\n".join(lines)
    assert "120 pool rows" in text and "\na " in text and "\nc " in text
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 and rows[0].startswith("concept,n_neighbors")
    pool = np.flatnonzero(split == 0)
    expected = concept_structure(X[pool], c[pool] == 0, n_neighbors=3, index="exact")
    assert rows[1].startswith(
        f"a,3,cosine,{expected.n_positives},{expected.n_components},"
    )


def test_cli_npy_with_positives_file(npz, tmp_path):
    _, X, c, _ = npz
    emb = tmp_path / "emb.npy"
    np.save(emb, X)
    ids = tmp_path / "known.txt"
    ids.write_text("\n".join(map(str, np.flatnonzero(c == 1))))
    out = tmp_path / "s.json"
    lines = []
    args = _parse(
        [
            str(emb),
            "--positives",
            str(ids),
            "--k",
            "5",
            "--index",
            "exact",
            "--out",
            str(out),
        ]
    )
    run_structure(args, echo=lines.append)
    assert any(line.startswith("SEALS with k=5") for line in lines)  # one concept
    (row,) = json.loads(out.read_text())
    assert row["concept"] == "known" and row["n_positives"] == 30


def test_cli_bad_arguments_exit_2(npz, tmp_path, capsys):
    path, *_ = npz
    for argv, msg in [
        ([str(tmp_path / "missing.npz")], "no such data file"),
        ([str(path), "--concepts", "zzz"], "unknown concept"),
        ([str(path), "--out", str(tmp_path / "x.txt")], "--out"),
        ([str(tmp_path / "e.npy")], "needs --labels or --positives"),
    ]:
        if argv[0].endswith("e.npy"):
            np.save(argv[0], np.zeros((3, 2), np.float32))
        with pytest.raises(SystemExit) as exc:
            run_structure(_parse(argv), echo=lambda *a: None)
        assert exc.value.code == 2
        assert msg in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse([str(path), "--k", "0"])


def test_cli_json_writes_null_for_nan(npz, tmp_path):
    _, X, c, _ = npz
    emb = tmp_path / "emb.npy"
    np.save(emb, X)
    ids = tmp_path / "one.txt"
    ids.write_text(f"{np.flatnonzero(c == 1)[0]}\n")  # one positive: no path
    out = tmp_path / "s.json"
    argv = [str(emb), "--positives", str(ids), "--min-positives", "1", "--k", "5",
            "--index", "exact", "--out", str(out)]  # fmt: skip
    assert run_structure(_parse(argv), echo=lambda *a: None) == 0
    text = out.read_text()
    assert "NaN" not in text  # not JSON: other readers reject it
    (row,) = json.loads(text)
    assert row["mean_path_length"] is None and row["n_positives"] == 1


def test_cli_positives_honour_test_ids(npz, tmp_path, capsys):
    path, X, c, split = npz
    arrays = dict(np.load(path))
    del arrays["split"]
    arrays["test_ids"] = np.flatnonzero(split == 1)
    as_test_ids = tmp_path / "test_ids.npz"
    np.savez(as_test_ids, **arrays)
    ids = tmp_path / "known.txt"
    ids.write_text("\n".join(map(str, np.flatnonzero(c == 1))))
    for data in (path, as_test_ids):
        lines = []
        argv = [str(data), "--positives", str(ids), "--k", "5", "--index", "exact"]
        assert run_structure(_parse(argv), echo=lines.append) == 0
        assert "120 pool rows" in lines[0], lines[0]
    bad = tmp_path / "bad_test_ids.npz"
    np.savez(bad, emb=arrays["emb"], test_ids=np.array([len(c)]))
    with pytest.raises(SystemExit) as exc:
        run_structure(_parse([str(bad), "--positives", str(ids)]))
    assert exc.value.code == 2 and "test_ids must be rows" in capsys.readouterr().err
