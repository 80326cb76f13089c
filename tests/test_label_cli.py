"""The person in the loop: ``skseals label`` driven by scripted input, and
:class:`skseals.labeling.LabelingSession`."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.__main__ import main
from skseals._cli._label import run_label
from skseals._cli._parser import build_parser
from skseals._journal import Journal
from skseals.labeling import LabelingSession

N = 400


def _write_npz(path, n=N, d=8):
    """A tiny data file in the shared format: emb, package, texts."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d)).astype(np.float16)
    X[:20] += np.float16(4.0)  # a rare concept: rows 0-19
    names = np.array([f"pkg{i}" for i in range(n)])
    texts = [
        f"pkg{i}: {'a positive thing' if i < 20 else 'something else'} #{i}"
        for i in range(n)
    ]
    data = [t.encode() for t in texts]
    indptr = np.concatenate([[0], np.cumsum([len(b) for b in data])]).astype(np.int64)
    np.savez(
        path,
        emb=X,
        package=names,
        section=np.where(np.arange(n) < 20, "shells", "misc"),
        text_indptr=indptr,
        text_utf8=np.frombuffer(b"".join(data), dtype=np.uint8),
    )
    return texts


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.npz"
    texts = _write_npz(path)
    return str(path), texts, str(tmp_path / "labels.journal")


def _run(argv, answers):
    """Run ``skseals label`` in-process with scripted answers; (status, output)."""
    args = build_parser().parse_args(["label", *argv])
    out = io.StringIO()
    status = run_label(args, stdin=io.StringIO("".join(a + "\n" for a in answers)),
                       stdout=out)  # fmt: skip
    return status, out.getvalue()


def _records(journal):
    header, records = Journal(journal).read()
    return header, records


def _shown_rows(output):
    """Row ids in the order they were shown."""
    return [int(line.split()[2]) for line in output.splitlines()
            if line.startswith("[") and "] row " in line]  # fmt: skip


def test_answers_undo_skip_and_quit(data):
    path, texts, journal = data
    answers = ["y", "n", "u", "n", "s", "q"]
    status, out = _run([path, "--journal", journal, "--positives", "pkg1,pkg2,3",
                        "--batch-size", "3"], answers)  # fmt: skip
    assert status == 0
    shown = _shown_rows(out)
    # row 1, row 2, undo shows row 2 again, row 3, then the next batch's first
    first = shown[:3]
    assert shown[3] == first[1] and shown[4] == first[2]
    assert len(shown) == 6
    for row in shown:
        assert texts[row] in out  # the text of every queried row is shown
    _, records = _records(journal)
    assert len(records) == 1  # the completed batch; quit with nothing buffered
    assert records[0]["rows"] == first
    assert records[0]["labels"] == [1, 0, -1]
    assert "labeled 5 (4 positives found, 1 skipped)" in out
    assert "candidate pool" in out and f"of {N:,} rows" in out
    seeds = json.load(open(journal + ".seeds.json"))
    assert seeds == {"n_samples": N, "positives": [1, 2, 3]}


def test_quit_saves_the_answers_of_an_unfinished_batch(data):
    path, _, journal = data
    status, out = _run([path, "--journal", journal, "--positives", "0",
                        "--batch-size", "5"], ["y", "y", "q"])  # fmt: skip
    assert status == 0
    assert "2 answers of this batch saved" in out
    _, records = _records(journal)
    assert records[0]["labels"] == [1, 1]
    assert records[0]["rows"] == _shown_rows(out)[:2]


def test_end_of_input_is_quit(data):
    path, _, journal = data
    status, out = _run([path, "--journal", journal, "--positives", "0"], ["n"])
    assert status == 0
    _, records = _records(journal)
    assert records[0]["labels"] == [0]


def test_resume_replays_the_journal_and_never_repeats_a_row(data):
    path, _, journal = data
    argv = [path, "--journal", journal, "--batch-size", "4"]
    _, out1 = _run([*argv, "--positives", "pkg0"], ["y", "n", "y", "s", "y", "q"])
    status, out2 = _run(argv, ["n", "n", "n", "n", "q"])  # seeds read back
    assert status == 0
    assert "(resumed)" in out2
    lines = out2.splitlines()
    assert lines[0].startswith("Building the faiss neighbour index over 400 rows")
    assert "labeled 5 (4 positives found, 1 skipped)" in lines[2]
    _, records = _records(journal)
    assert [len(r["rows"]) for r in records] == [4, 1, 4]
    taught = [row for r in records for row in r["rows"]]
    assert len(taught) == len(set(taught)) and 0 not in taught
    first_session = set(_shown_rows(out1)[:5])
    assert not first_session & set(_shown_rows(out2))
    # a learner fitted on the journal holds every answer
    learner = ActiveSearcher(journal=journal)
    X = np.load(path)["emb"].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.full(N, -1)
    y[0] = 1
    learner.fit(X, y)
    assert learner.n_labeled_ == 1 + 8 and learner.skipped_.size == 1


def test_undo_at_the_start_of_a_batch_is_refused_honestly(data):
    path, _, journal = data
    status, out = _run([path, "--journal", journal, "--positives", "0",
                        "--batch-size", "1"], ["y", "u", "q"])  # fmt: skip
    assert "nothing to undo in this batch" in out
    assert len(_records(journal)[1]) == 1


def test_field_option_and_help_on_unknown_answer(data):
    path, texts, journal = data
    status, out = _run([path, "--journal", journal, "--positives", "0",
                        "--field", "package,section"], ["what", "q"])  # fmt: skip
    assert status == 0
    row = _shown_rows(out)[0]
    assert f"package: pkg{row}" in out and "section: " in out
    assert texts[row] not in out
    assert "y = positive, n = negative" in out.split("[y/n/s/u/q] >")[1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--positives", "nosuchpkg"], "nosuchpkg not found in 'package'"),
        (["--positives", "99999"], "row 99999 is not in [0, 400)"),
        ([], "--positives is required"),
        (["--positives", "0", "--field", "colour"], "--field colour"),
    ],
)
def test_bad_arguments_exit_2(data, argv, message, capsys):
    path, _, journal = data
    with pytest.raises(SystemExit) as exc:
        main(["label", path, "--journal", journal, *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_journal_for_other_data_is_refused(data, tmp_path, capsys):
    path, _, journal = data
    _run([path, "--journal", journal, "--positives", "0"], ["y", "q"])
    other = tmp_path / "other.npz"
    _write_npz(other, n=N, d=6)
    os.remove(journal + ".seeds.json")
    with pytest.raises(SystemExit) as exc:
        main(["label", str(other), "--journal", journal, "--positives", "0"])
    assert exc.value.code == 2
    assert "written for other data" in capsys.readouterr().err


def test_command_with_real_stdin(data):
    path, _, journal = data
    proc = subprocess.run(
        [sys.executable, "-m", "skseals", "label", path, "--journal", journal,
         "--positives", "pkg0,pkg1", "--batch-size", "2"],
        input="y\nn\nq\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "batch saved" in proc.stdout
    assert _records(journal)[1][0]["labels"] == [1, 0]


# -- LabelingSession ---------------------------------------------------------------
def _searcher(batch_size=3, journal=None):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.full(300, UNLABELED)
    y[:3] = 1
    return ActiveSearcher(batch_size=batch_size, journal=journal,
                          random_state=0).fit(X, y)  # fmt: skip


def test_session_shows_buffers_and_teaches_batches():
    shown = []
    searcher = _searcher()
    session = LabelingSession(searcher, show=shown.append)
    batch = session.next_batch()
    assert shown == [batch[0]] and session.current_row == batch[0]
    assert session.next_batch().tolist() == batch.tolist()  # unfinished: same batch
    session.answer("y")
    session.answer("no")
    assert searcher.n_labeled_ == 3  # buffered, not taught
    assert session.progress()["n_buffered"] == 2
    assert session.answer("skip") is None  # the batch is complete: taught
    assert searcher.n_labeled_ == 5 and searcher.n_positives_found_ == 4
    assert searcher.skipped_.tolist() == [batch[2]]
    assert session.n_taught_ == 3 and session.current_row is None
    with pytest.raises(RuntimeError, match="next_batch"):
        session.answer("y")
    assert session.undo() is None  # taught answers are final


def test_session_commit_keeps_unanswered_rows_current(tmp_path):
    journal = tmp_path / "j"
    searcher = _searcher(batch_size=4, journal=journal)
    session = LabelingSession(searcher)
    batch = session.next_batch()
    session.answer("y")
    assert session.commit() == 1
    assert session.current_row == batch[1]
    assert session.next_batch().tolist() == batch[1:].tolist()
    assert Journal(journal).read()[1][0] == {"rows": [int(batch[0])], "labels": [1]}


def test_session_with_an_active_learner_takes_class_values():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = np.full(200, UNLABELED, dtype=object)
    y[:6] = ["cat", "dog", "cow", "cat", "dog", "cow"]
    learner = ActiveLearner(batch_size=2, random_state=0).fit(X, y)
    session = LabelingSession(learner)
    session.next_batch()
    with pytest.raises(ValueError, match="class value"):
        session.answer("y")
    session.answer("dog")
    session.answer(UNLABELED)
    assert learner.n_labeled_ == 7
    assert session.progress()["n_positives"] is None


def test_an_interrupted_refit_does_not_teach_the_answers_twice(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    searcher = _searcher(batch_size=2)
    session = LabelingSession(searcher)
    rows = session.next_batch()
    session.answer("y")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(LogisticRegression, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        session.answer("n")  # completes the batch: teach, then the refit
    monkeypatch.undo()
    assert searcher.labels_[rows].tolist() == [1, 0]  # recorded before it
    assert session.answers_ == [] and session.n_taught_ == 2
    assert session.commit() == 0  # nothing left to teach (twice)


def test_a_failed_commit_keeps_answers_of_released_rows(tmp_path):
    journal_dir = tmp_path / "j"
    journal_dir.mkdir()
    searcher = _searcher(batch_size=3, journal=journal_dir / "labels.journal")
    session = LabelingSession(searcher)
    batch = session.next_batch()
    session.answer("y")
    session.answer("n")
    searcher.release()  # e.g. from another notebook cell: no longer pending
    (journal_dir / "labels.journal").unlink()
    journal_dir.rmdir()  # the journal cannot be written: teach() raises
    with pytest.raises(OSError):
        session.commit()
    assert session.answers_ == [1, 0]  # kept: nothing was taught
    assert searcher.labels_[batch[:2]].tolist() == [-1, -1]
    journal_dir.mkdir()
    with pytest.warns(UserWarning, match="written again"):
        assert session.commit() == 2
    assert searcher.labels_[batch[:2]].tolist() == [1, 0]


def test_class_values_win_over_command_words():
    # Sizes "s", "m", "l": "s" is a class here, never a skip; "no" too.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = np.full(200, UNLABELED, dtype=object)
    y[:6] = ["s", "m", "l", "no", "s", "m"]
    learner = ActiveLearner(batch_size=4, random_state=0).fit(X, y)
    session = LabelingSession(learner)
    rows = session.next_batch()
    for answer in ("s", "no", UNLABELED, "skip"):
        session.answer(answer)
    assert learner.labels_[rows[:2]].tolist() == ["s", "no"]
    assert learner.skipped_.tolist() == sorted(rows[2:].tolist())


def test_widget_needs_ipywidgets_or_builds():
    session = LabelingSession(_searcher(batch_size=2))
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="ipywidgets"):
            session.widget()
        return
    rendered = []
    box = session.widget(render=rendered.append)
    status, _, buttons = box.children
    yes, no, skip, undo = buttons.children
    assert [b.description for b in buttons.children] == ["Yes", "No", "Skip", "Undo"]
    first = session.batch_.tolist()
    assert rendered == [first[0]] and "batch 0/2" in status.value
    yes.click()
    undo.click()
    assert session.position == (0, 2)
    no.click()
    skip.click()  # completes the batch: taught, next batch shown
    assert session.learner.labels_[first[0]] == 0
    assert session.learner.skipped_.tolist() == [first[1]]
    assert rendered[-1] == session.current_row and "labeled 4" in status.value


def test_answers_true_false_for_a_searcher():
    searcher = _searcher(batch_size=2)
    session = LabelingSession(searcher)
    rows = session.next_batch()
    session.answer(True)
    session.answer(np.False_)
    assert searcher.labels_[rows].tolist() == [1, 0]


def test_an_answer_teach_would_refuse_is_refused_at_once():
    searcher = _searcher(batch_size=3)
    session = LabelingSession(searcher)
    batch = session.next_batch()
    with pytest.raises(TypeError, match=f"answer 'maybe' for row {batch[0]} refused"):
        session.answer("maybe")  # neither a command word nor a class
    assert session.answers_ == [] and session.current_row == batch[0]
    with pytest.raises(ValueError, match="not one of this searcher's classes"):
        session.answer(7)
    session.answer("n")
    session.answer("y")
    assert session.answer("s") is None  # the batch is taught whole
    assert searcher.labels_[batch[:2]].tolist() == [0, 1]
    assert searcher.skipped_.tolist() == [batch[2]]


def test_a_searcher_is_taught_an_oracles_boolean_mask():
    searcher = _searcher(batch_size=4)
    is_positive = np.zeros(300, dtype=bool)
    rows = searcher.query()
    is_positive[rows[:2]] = True
    searcher.teach(rows, is_positive[rows])
    assert searcher.labels_[rows].tolist() == [1, 1, 0, 0]
    learner = ActiveLearner(pool="full").fit(searcher.X_, searcher.labels_)
    with pytest.raises(TypeError, match="bool"):
        learner.teach(learner.query(2), [True, False])  # no pos_label to map to


def test_stop_teaches_the_answers_and_gives_the_rest_back(tmp_path):
    import skseals

    searcher = _searcher(batch_size=4)
    session = LabelingSession(searcher)
    batch = session.next_batch()
    session.answer("y")
    session.commit()  # the rest stays reserved, across save and load too
    searcher.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", searcher.X_)
    np.testing.assert_array_equal(resumed.pending_indices_, np.sort(batch[1:]))
    released = LabelingSession(resumed).stop()  # a new session: no batch
    assert released.size == 0 and resumed.pending_indices_.size == 3
    resumed.release()
    assert resumed.pending_indices_.size == 0
    session.answer("n")
    np.testing.assert_array_equal(session.stop(), np.sort(batch[2:]))
    assert searcher.labels_[batch[:2]].tolist() == [1, 0]
    assert searcher.pending_indices_.size == 0 and session.current_row is None
    assert np.isin(batch[2:], searcher.candidate_indices()).all()
