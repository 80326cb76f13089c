"""Tests of the ``skseals`` command: demo, bench, help and argument errors."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from skseals.__main__ import main
from skseals.datasets import make_rare_concepts

pytest.importorskip("matplotlib")


def _table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--n-samples", "5000", "--n-features", "32", "--n-concepts",
            "2", "--budget", "200", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    configs = ["MaxEnt-Full", "MaxEnt-SEALS", "MLP-Full", "MLP-SEALS", "Random-All"]
    for name in configs:
        assert name in printed
    for word in ("mAP", "recall", "pool %", "total s", "select s", "kNN s"):
        assert word in printed
    assert str(out.resolve()) in printed and "learning_curves.png" in printed
    for name in ("results.csv", "results.json", "curves.csv", "table.csv",
                 "summary.txt", "learning_curves.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0
    table = _table(out / "table.csv")
    assert [row["config"] for row in table] == configs
    assert {row["n_labeled"] for row in table} == {"300"}  # 100 seed + 200
    rows = _table(out / "results.csv")
    assert len(rows) == 5 * 2 * 3  # configs x concepts x rounds
    seals = [r for r in table if r["config"] == "MLP-SEALS"][0]
    assert float(seals["pool_percent"]) < 100


def _write_shared(path, n=2000, d=16):
    """A tiny file in the format of shared/data/debian_packages.npz."""
    data = make_rare_concepts(n, d, n_concepts=3, prevalence=0.02, random_state=0)
    split = data.split
    np.savez(
        path,
        emb=(data.X * 2).astype(np.float16),
        split=split,
        pool_ids=np.flatnonzero(split == 0).astype(np.int32),
        test_ids=np.flatnonzero(split == 1).astype(np.int32),
        concept_name=np.array(["section:shells", "tag:game", "tag:x11"]),
        concept_kind=np.array([0, 1, 1], np.int8),
        concept_indptr=data.concept_indptr,
        concept_members=data.concept_members.astype(np.int32),
    )
    return data


def test_bench_shared_format(tmp_path, capsys):
    _write_shared(tmp_path / "tiny.npz")
    out = tmp_path / "bench"
    args = ["bench", str(tmp_path / "tiny.npz"), "--concepts", "tag:game,tag:x11",
            "--strategies", "most_likely_positive,random", "--pools",
            "knn,full,random", "--k", "10,20", "--budget", "100", "--batch-size",
            "50", "--repetitions", "2", "--out", str(out), "--no-plot"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Random pool:" in printed
    table = _table(out / "table.csv")
    assert [r["config"] for r in table] == [
        "MLP-SEALS-k10", "MLP-SEALS-k20", "MLP-Full", "Random-All", "MLP-RandPool"
    ]  # fmt: skip
    assert {r["n_runs"] for r in table} == {"4"}  # 2 concepts x 2 repetitions
    rows = _table(out / "results.csv")
    assert {r["concept"] for r in rows} == {"tag:game", "tag:x11"}
    assert not (out / "learning_curves.png").exists()


def test_bench_npy_labels_and_index(tmp_path, capsys):
    data = make_rare_concepts(2000, 16, n_concepts=2, prevalence=0.02, random_state=1)
    np.save(tmp_path / "X.npy", data.X)
    labels = np.full(2000, -1)
    labels[data.concepts[0]], labels[data.concepts[1]] = 0, 1
    np.save(tmp_path / "labels.npy", labels)
    out = tmp_path / "b"
    args = ["bench", str(tmp_path / "X.npy"), "--labels",
            str(tmp_path / "labels.npy"), "--concepts", "1", "--strategies",
            "entropy", "--pools", "knn", "--k", "10", "--index", "graph",
            "--budget", "50", "--repetitions", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    table = _table(out / "table.csv")
    assert [r["config"] for r in table] == ["MaxEnt-SEALS"]
    assert (out / "learning_curves.png").exists()


def test_bench_generated(tmp_path, capsys):
    args = ["bench", "generated", "--n-samples", "3000", "--n-features", "16",
            "--n-concepts", "2", "--prevalence", "0.02", "--pools", "full",
            "--budget", "50", "--repetitions", "1", "--out", str(tmp_path),
            "--no-plot"]  # fmt: skip
    (tmp_path / "learning_curves.png").write_bytes(b"an earlier run's plot")
    assert main(args) == 0
    assert [r["config"] for r in _table(tmp_path / "table.csv")] == [
        "MaxEnt-Full",
        "MLP-Full",
    ]
    assert not (tmp_path / "learning_curves.png").exists()  # it would mislead


def test_generated_concepts_can_be_fragmented():
    from skseals._cli._commands import _generate
    from skseals._cli._parser import build_parser

    args = build_parser().parse_args(
        ["bench", "generated", "--n-samples", "3000", "--n-features", "16",
         "--n-concepts", "2", "--prevalence", "0.02", "--n-components", "3"]
    )  # fmt: skip
    data = _generate(args)
    ptr = data.concept_indptr
    parts = [
        np.unique(data.concept_component[ptr[c] : ptr[c + 1]]).size for c in (0, 1)
    ]
    assert parts == [3, 3]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["demo", "--budget", "many"],
        ["demo", "--n-samples", "-5"],
        ["demo", "--prevalence", "2"],
        ["demo", "--prevalence", "0.9"],
        ["demo", "--n-samples", "10", "--prevalence", "0.01"],
        ["bench"],
        ["bench", "missing.npz"],
        ["bench", "data.csv"],
        ["bench", "TINY", "--concepts", "no-such-concept"],
        ["bench", "TINY", "--concepts", "99"],
        ["bench", "TINY", "--pools", "knn,everything"],
        ["bench", "TINY", "--strategies", "psychic"],
        ["bench", "TINY", "--k", "0"],
        ["bench", "TINY", "--index", "kdtree"],
        ["bench", "TINY", "--random-fraction", "1.5"],
        ["bench", "NPY"],
        ["bench", "TINY", "--concepts", ""],
        ["bench", "TINY", "--concepts", ","],
        ["bench", "TINY", "--random-state", "-1"],
        ["bench", "TINY", "--random-state", str(2**32)],
        ["bench", "EMPTY"],
        ["bench", "CUT"],
        ["bench", "NANS"],
        ["bench", "TINY", "--out", "FILE"],
        ["bench", "TINY", "--out", "FILE/sub"],
        ["demo", "--out", "FILE"],
        ["structure", "CUT"],
        ["structure", "TINY", "--out", "FILE/x.csv"],
        ["label", "CUT", "--positives", "1"],
        ["label", "TINY", "--positives", "1", "--journal", "FILE/j"],
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, capsys, args):
    _write_shared(tmp_path / "tiny.npz")
    np.save(tmp_path / "X.npy", np.ones((4, 2), np.float32))
    raw = (tmp_path / "tiny.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "file").write_text("not a directory")
    with np.load(tmp_path / "tiny.npz") as archive:
        arrays = dict(archive)
    arrays["emb"][3, 1] = np.nan
    np.savez(tmp_path / "nans.npz", **arrays)
    names = {"TINY": "tiny.npz", "NPY": "X.npy", "CUT": "cut.npz",
             "EMPTY": "empty.npz", "NANS": "nans.npz", "FILE": "file"}  # fmt: skip
    args = [
        str(tmp_path / names[a.split("/")[0]]) + a[len(a.split("/")[0]) :]
        if a.split("/")[0] in names
        else a
        for a in args
    ]
    if args and args[0] in ("demo", "bench") and "--out" not in args:
        args = [*args, "--out", str(tmp_path / "o")]
    if args and args[0] == "label" and "--journal" not in args:
        args = [*args, "--journal", str(tmp_path / "j")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--n-samples", "5000"], "--n-samples shapes generated data"),
        (["--prevalence", "0.1"], "--prevalence shapes generated data"),
        (["--seed-positives", "1000", "--concepts", "1"], "--seed-positives 1000"),
    ],
)
def test_bench_errors_name_the_option_at_fault(tmp_path, capsys, extra, message):
    _write_shared(tmp_path / "tiny.npz")
    with pytest.raises(SystemExit):
        main(["bench", str(tmp_path / "tiny.npz"), "--out", str(tmp_path / "o"),
              *extra])  # fmt: skip
    assert message in capsys.readouterr().err


def test_bench_npy_without_labels_asks_for_labels(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.ones((4, 2), np.float32))
    with pytest.raises(SystemExit):
        main(["bench", str(tmp_path / "X.npy"), "--out", str(tmp_path / "o")])
    assert "give the concepts with --labels" in capsys.readouterr().err


def test_help_is_complete(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--concepts",
        "--strategies",
        "--pools",
        "--k",
        "--batch-size",
        "--budget",
        "--repetitions",
        "--index",
        "--out",
        "--labels",
        "--random-fraction",
        "--seed-negatives",
        "--n-components",
        "data formats",
    ):
        assert option in text  # fmt: skip


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "skseals demo" in text and "skseals bench" in text


def test_python_dash_m():
    proc = subprocess.run(
        [sys.executable, "-m", "skseals", "demo", "--budget", "x"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        "skseals demo: error: argument --budget: expected an integer, got 'x' "
        "(see 'skseals demo --help')\n"
    )


def test_demo_without_matplotlib(tmp_path, capsys, monkeypatch):
    import skseals.utils._optional as optional

    real = optional.importlib.import_module

    def no_matplotlib(name, *args):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(optional.importlib, "import_module", no_matplotlib)
    args = ["demo", "--n-samples", "3000", "--n-features", "16", "--n-concepts",
            "1", "--budget", "0", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "no plot:" in printed and 'pip install "skseals[plot]"' in printed
    assert (tmp_path / "results.csv").exists()
    assert not (tmp_path / "learning_curves.png").exists()


def test_structure_command_is_wired(tmp_path, capsys):
    _write_shared(tmp_path / "tiny.npz")
    out = tmp_path / "structure.csv"
    args = ["structure", str(tmp_path / "tiny.npz"), "--concepts", "tag:game",
            "--k", "10", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "tag:game" in capsys.readouterr().out and out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["structure", str(tmp_path / "missing.npz")])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1
