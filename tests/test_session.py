"""Durable sessions: journal replay, save -> load -> continue, safety, threads."""

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skseals
from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals._persistence import _sha256
from skseals.neighbors import ExactIndex, FaissIndex, KNNGraph
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool


@pytest.fixture(scope="module")
def data():
    X, c = make_blobs(
        n_samples=500, centers=5, n_features=6, cluster_std=2.0, random_state=0
    )
    y_true = (c == 0).astype(int)
    y = np.full(500, UNLABELED)
    y[np.flatnonzero(y_true)[:4]] = 1
    y[np.flatnonzero(y_true == 0)[:8]] = 0
    return X.astype(np.float32), y, y_true


def _rounds(learner, y_true, n, skip_every=0):
    out = []
    for i in range(n):
        rows = learner.query()
        labels = y_true[rows].copy()
        if skip_every and i % skip_every == 0:
            labels[0] = UNLABELED
        learner.teach(rows, labels)
        out.append(rows)
    return out


# -- journal -------------------------------------------------------------------
def test_journal_replays_every_taught_label(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "labels.journal"
    a = ActiveSearcher(journal=str(journal), batch_size=6, random_state=0).fit(X, y)
    _rounds(a, y_true, 4, skip_every=2)
    b = ActiveSearcher(journal=str(journal), batch_size=6, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.skipped_, b.skipped_)
    assert b.n_positives_found_ == a.n_positives_found_
    assert not np.isin(b.query(), a.skipped_).any()  # skips stay skipped


def test_torn_last_record_is_ignored_and_overwritten(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "j"
    a = ActiveLearner(journal=journal, batch_size=5, random_state=0).fit(X, y)
    first = _rounds(a, y_true, 2)
    size = os.path.getsize(journal)
    with open(journal, "ab") as f:  # a crash in the middle of the third write
        f.write(b'1234abcd {"labels":[0,1],"rows":[')
    b = ActiveLearner(journal=journal, batch_size=5, random_state=0).fit(X, y)
    taught = np.concatenate(first)
    np.testing.assert_array_equal(b.labels_[taught], y_true[taught])
    assert b.n_labeled_ == a.n_labeled_
    rows = b.query()
    b.teach(rows, y_true[rows])  # appending cuts the torn tail first
    assert os.path.getsize(journal) > size
    c = ActiveLearner(journal=journal, random_state=0).fit(X, y)
    assert c.n_labeled_ == b.n_labeled_


def test_damaged_or_foreign_journals_are_refused(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "j"
    a = ActiveSearcher(journal=journal, batch_size=5, random_state=0).fit(X, y)
    _rounds(a, y_true, 3)
    with pytest.raises(ValueError, match="other data"):
        ActiveSearcher(journal=journal).fit(X + 1, y)
    with pytest.raises(ValueError, match="other data"):
        ActiveSearcher(journal=journal).fit(X[:-1], y[:-1])
    with pytest.raises(ValueError, match="another learner"):
        ActiveLearner(journal=journal).fit(X, y)
    conflicting = y.copy()
    row = np.flatnonzero(a.labels_ != UNLABELED)
    row = row[y[row] == UNLABELED][0]
    conflicting[row] = 1 - a.labels_[row]
    with pytest.raises(ValueError, match="otherwise than y"):
        ActiveSearcher(journal=journal).fit(X, conflicting)
    lines = open(journal, "rb").read().split(b"\n")
    lines[1] = lines[1].replace(b'"rows":[', b'"rows":[7,')
    damaged = tmp_path / "damaged"
    damaged.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match="damaged at line 2"):
        ActiveSearcher(journal=damaged).fit(X, y)
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(ValueError, match="not a skseals journal"):
        ActiveSearcher(journal=other).fit(X, y)


# -- save / load ---------------------------------------------------------------
CONFIGS = {
    "knn-faiss-entropy": lambda: ActiveLearner(pool=KNNPool(10), batch_size=7),
    "knn-exact-density": lambda: ActiveSearcher(
        query_strategy="information_density",
        pool=KNNPool(8, index="exact"),
        batch_size=7,
    ),
    "full-kcenter": lambda: ActiveLearner(
        query_strategy="kcenter", pool=FullScanPool(), batch_size=7
    ),
    "random-pool": lambda: ActiveSearcher(pool=RandomSubsetPool(60), batch_size=7),
    "pseudo-adaptive": lambda: ActiveSearcher(
        query_strategy="adaptive", pseudo_negatives=3.0, batch_size=7
    ),
    "pipeline-estimator": lambda: ActiveLearner(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.5)),
        query_strategy="margin",
        batch_size=7,
    ),
    "anywhere": lambda: ActiveSearcher(
        query_strategy="query_anywhere", pool=KNNPool(5, index="exact"), batch_size=7
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_save_load_continue_equals_continue(data, tmp_path, name):
    X, y, y_true = data
    learner = CONFIGS[name]().set_params(random_state=3).fit(X, y)
    _rounds(learner, y_true, 2, skip_every=2)
    learner.query(3)  # leave pending rows
    learner.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", X)
    assert type(resumed) is type(learner)
    assert (
        resumed.get_params(deep=False).keys() == learner.get_params(deep=False).keys()
    )
    np.testing.assert_array_equal(resumed.labels_, learner.labels_)
    np.testing.assert_array_equal(resumed.pending_indices_, learner.pending_indices_)
    np.testing.assert_array_equal(resumed.skipped_, learner.skipped_)
    np.testing.assert_array_equal(resumed.pseudo_negatives_, learner.pseudo_negatives_)
    assert resumed.history_ == learner.history_
    for _ in range(3):
        a, b = learner.query(), resumed.query()
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            learner.candidate_indices(), resumed.candidate_indices()
        )
        learner.teach(a, y_true[a])
        resumed.teach(b, y_true[b])
    np.testing.assert_allclose(
        learner.decision_function(X), resumed.decision_function(X), rtol=1e-6
    )


@pytest.mark.parametrize("index", ["hnswlib", "annoy", "graph"])
def test_save_load_with_other_indexes(data, tmp_path, index):
    pytest.importorskip({"hnswlib": "hnswlib", "annoy": "annoy"}.get(index, "numpy"))
    X, y, y_true = data
    if index == "graph":
        index = KNNGraph(n_neighbors=20, index=FaissIndex()).fit(X)
    learner = ActiveSearcher(
        pool=KNNPool(6, index=index), batch_size=5, random_state=0
    ).fit(X, y)
    _rounds(learner, y_true, 2)
    learner.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", X)
    np.testing.assert_array_equal(learner.query(), resumed.query())


def test_prebuilt_index_can_be_left_out_and_passed_back(data, tmp_path):
    X, y, y_true = data
    index = ExactIndex().fit(X)
    learner = ActiveSearcher(pool=KNNPool(6, index=index), random_state=0).fit(X, y)
    _rounds(learner, y_true, 1)
    learner.save(tmp_path / "s", include_index=False)
    assert not any(f.startswith("index") for f in os.listdir(tmp_path / "s"))
    with pytest.raises(ValueError, match=r"include_index=False.*index=\.\.\."):
        skseals.load(tmp_path / "s", X)  # not "KNNPool 'index' ... Got None"
    resumed = skseals.load(tmp_path / "s", X, index=index)
    assert resumed.pool_.index_ is index
    np.testing.assert_array_equal(learner.query(), resumed.query())


def test_path_journal_and_random_state_instance_save_and_continue(data, tmp_path):
    """Both are documented parameter types; the loaded session picks what the
    original picks next, and refits from the same random stream."""
    X, y, y_true = data
    learner = ActiveSearcher(
        journal=tmp_path / "labels.journal",
        batch_size=5,
        random_state=np.random.RandomState(0),
    ).fit(X, y)
    _rounds(learner, y_true, 2)
    learner.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", X)
    assert resumed.journal == str(tmp_path / "labels.journal")
    assert resumed.random_state_ is resumed.random_state  # one stream, as before
    for _ in range(3):
        np.testing.assert_array_equal(learner.query(), resumed.query())
    learner.fit(X, y)
    resumed.fit(X, y)
    np.testing.assert_array_equal(learner.query(), resumed.query())


def test_session_files_are_plain_data(data, tmp_path):
    X, y, y_true = data
    learner = ActiveSearcher(random_state=0).fit(X, y)
    learner.save(tmp_path / "s")
    files = sorted(os.listdir(tmp_path / "s"))
    assert "session.json" in files and "arrays.npz" in files
    with np.load(tmp_path / "s" / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
    assert not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)


def _refresh_manifest(directory):
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    for name in manifest["files"]:
        manifest["files"][name] = _sha256(directory / name)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("seed", [0, "instance"])
def test_an_index_rebuilt_at_load_is_seeded_as_at_fit(data, tmp_path, seed):
    # Saved without its index, a seeded learner rebuilds the same one at load.
    pytest.importorskip("annoy")
    from skseals.neighbors import AnnoyIndex

    X, y, y_true = data
    a = ActiveSearcher(
        pool=KNNPool(10, index=AnnoyIndex(n_trees=1)),
        batch_size=5,
        random_state=np.random.RandomState(5) if seed == "instance" else seed,
    ).fit(X, y)
    _rounds(a, y_true, 1)
    a.save(tmp_path / "s", include_index=False)
    b = skseals.load(tmp_path / "s", X)
    assert b.pool_.random_state == a.pool_.random_state
    np.testing.assert_array_equal(
        np.concatenate(_rounds(b, y_true, 3)), np.concatenate(_rounds(a, y_true, 3))
    )


def test_tampered_truncated_or_foreign_sessions_are_refused(data, tmp_path):
    X, y, y_true = data
    learner = ActiveSearcher(random_state=0).fit(X, y)
    learner.save(tmp_path / "s")
    with pytest.raises(ValueError, match="already exists"):
        learner.save(tmp_path / "s")
    learner.save(tmp_path / "s", overwrite=True)
    with pytest.raises(ValueError, match="not the data"):
        skseals.load(tmp_path / "s", X[::-1])
    arrays = tmp_path / "s" / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10])  # truncated
    with pytest.raises(ValueError, match="checksum"):
        skseals.load(tmp_path / "s", X)
    learner.save(tmp_path / "s", overwrite=True)
    session = tmp_path / "s" / "session.json"
    state = json.loads(session.read_text())
    state["params"]["pool"] = {"__class__": "os.system", "params": {}}
    session.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="checksum"):
        skseals.load(tmp_path / "s", X)  # the manifest notices ...
    _refresh_manifest(tmp_path / "s")
    with pytest.raises(ValueError, match="unknown component"):
        skseals.load(tmp_path / "s", X)  # ... and so does the whitelist
    with pytest.raises(ValueError, match="not a readable skseals session"):
        skseals.load(tmp_path, X)


def test_labels_taught_after_a_save_come_back_from_the_journal(data, tmp_path):
    X, y, y_true = data
    learner = ActiveSearcher(
        journal=str(tmp_path / "j"), batch_size=5, random_state=0
    ).fit(X, y)
    _rounds(learner, y_true, 1)
    learner.save(tmp_path / "s")
    _rounds(learner, y_true, 2)  # then the process dies
    resumed = skseals.load(tmp_path / "s", X)
    np.testing.assert_array_equal(resumed.labels_, learner.labels_)


def test_a_missing_journal_is_written_again_by_teach(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "labels.journal"
    a = ActiveSearcher(journal=str(journal), batch_size=5, random_state=0).fit(X, y)
    _rounds(a, y_true, 2, skip_every=2)
    journal.unlink()  # deleted mid-session: the labels are only in memory
    rows = a.query()
    with pytest.warns(UserWarning, match="was missing: written again"):
        a.teach(rows, y_true[rows])
    b = ActiveSearcher(journal=str(journal), random_state=0).fit(X, y)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    np.testing.assert_array_equal(b.skipped_, a.skipped_)


def test_load_never_drops_the_labels_of_a_missing_journal(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "labels.journal"
    a = ActiveSearcher(journal=str(journal), batch_size=5, random_state=0).fit(X, y)
    _rounds(a, y_true, 1)
    a.save(tmp_path / "s")
    _rounds(a, y_true, 1)  # journaled after the save
    moved = tmp_path / "moved.journal"
    journal.rename(moved)
    with pytest.raises(FileNotFoundError, match="journal=path"):
        skseals.load(tmp_path / "s", X)
    b = skseals.load(tmp_path / "s", X, journal=moved)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    rows = b.query()
    b.teach(rows, y_true[rows])  # appends to the moved journal
    c = ActiveSearcher(journal=str(moved), random_state=0).fit(X, y)
    np.testing.assert_array_equal(c.labels_, b.labels_)
    d = skseals.load(tmp_path / "s", X, journal=False)  # without it, knowingly
    assert d.n_labeled_ == a.n_labeled_ - 5 and d.journal is None
    e = skseals.load(tmp_path / "s", X, journal=tmp_path / "new.journal")
    f = ActiveSearcher(journal=str(tmp_path / "new.journal")).fit(X, y)
    np.testing.assert_array_equal(f.labels_, e.labels_)  # the session's labels
    other = tmp_path / "other.journal"  # a header, no record: it gets them
    ActiveSearcher(journal=str(other)).fit(X, y)
    g = skseals.load(tmp_path / "s", X, journal=other)
    h = ActiveSearcher(journal=str(other)).fit(X, y)
    np.testing.assert_array_equal(h.labels_, g.labels_)
    rival = tmp_path / "rival.journal"  # another session's labels
    r = ActiveSearcher(journal=str(rival), batch_size=5, random_state=1).fit(X, y)
    rows = r.query()
    r.teach(rows, 1 - y_true[rows])  # the opposite answers
    with pytest.raises(ValueError, match="disagree on rows"):
        skseals.load(tmp_path / "s", X, journal=rival)


def test_a_journal_written_again_after_the_save_gives_every_label(data, tmp_path):
    X, y, y_true = data
    journal = tmp_path / "labels.journal"
    a = ActiveSearcher(journal=str(journal), batch_size=5, random_state=0).fit(X, y)
    _rounds(a, y_true, 3)
    a.save(tmp_path / "s")  # counts 3 records of this journal
    journal.unlink()
    with pytest.warns(UserWarning, match="written again"):
        _rounds(a, y_true, 3)  # a new journal: 1 record of all labels, then 2
    b = skseals.load(tmp_path / "s", X)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    # a journal given at load, taught into, and given again
    with pytest.warns(UserWarning, match="not loaded: load with journal=None"):
        c = skseals.load(tmp_path / "s", X, journal=tmp_path / "new.journal")
    _rounds(c, y_true, 2)
    d = skseals.load(tmp_path / "s", X, journal=tmp_path / "new.journal")
    np.testing.assert_array_equal(d.labels_, c.labels_)


def test_two_loads_of_one_save_teaching_into_its_journal(data, tmp_path):
    X, y, y_true = data
    journal = str(tmp_path / "j")
    ActiveSearcher(journal=journal, batch_size=3, random_state=0).fit(X, y).save(
        tmp_path / "s"
    )
    one, two = skseals.load(tmp_path / "s", X), skseals.load(tmp_path / "s", X)
    rows = one.query()
    assert (two.query() == rows).all()  # the same rows, taught by both
    one.teach(rows[:1], y_true[rows[:1]])
    two.teach(rows[1:2], y_true[rows[1:2]])
    two.save(tmp_path / "s2")
    again = skseals.load(tmp_path / "s2", X)  # has both records
    refit = ActiveSearcher(journal=journal).fit(X, y)
    np.testing.assert_array_equal(again.labels_, refit.labels_)
    assert (again.labels_[rows[:2]] != UNLABELED).all()
    two.teach(rows[:1], 1 - y_true[rows[:1]])  # the other answer to row 0
    with pytest.raises(ValueError, match="loaded from one save"):
        skseals.load(tmp_path / "s2", X)


def test_labels_taught_without_the_journal_reach_it_later(data, tmp_path):
    X, y, y_true = data
    journal = str(tmp_path / "j")
    ActiveSearcher(journal=journal, batch_size=3, random_state=0).fit(X, y).save(
        tmp_path / "s"
    )
    alone = skseals.load(tmp_path / "s", X, journal=False)
    rows = alone.query()
    alone.teach(rows, [UNLABELED, 0, 1])
    alone.save(tmp_path / "s2")
    back = skseals.load(tmp_path / "s2", X, journal=journal)
    refit = ActiveSearcher(journal=journal).fit(X, y)
    np.testing.assert_array_equal(refit.labels_, back.labels_)
    np.testing.assert_array_equal(refit.skipped_, back.skipped_)


def test_a_journal_skip_does_not_stand_for_the_sessions_label(data, tmp_path):
    X, y, _ = data
    a_path, b_path = str(tmp_path / "a"), str(tmp_path / "b")
    a = ActiveSearcher(journal=a_path, batch_size=3, random_state=0).fit(X, y)
    b = ActiveSearcher(journal=b_path, batch_size=3, random_state=0).fit(X, y)
    rows = a.query()
    a.teach(rows, [UNLABELED] * 3)
    b.teach(rows, [0, 0, 0])
    b.save(tmp_path / "sb")
    merged = skseals.load(tmp_path / "sb", X, journal=a_path)
    assert merged.labels_[rows].tolist() == [0, 0, 0]
    refit = ActiveSearcher(journal=a_path).fit(X, y)  # skip, then the label
    assert refit.labels_[rows].tolist() == [0, 0, 0]


def test_a_row_is_skipped_once_and_old_journals_skipping_twice_replay(data, tmp_path):
    from skseals._journal import Journal

    X, y, y_true = data
    journal = tmp_path / "j"
    a = ActiveSearcher(journal=str(journal), batch_size=3, random_state=0).fit(X, y)
    rows = a.query()
    a.teach(rows, [UNLABELED, 0, 0])
    n_records = len(Journal(journal).read()[1])
    with pytest.raises(ValueError, match="already skipped"):
        a.teach(rows[:1], [UNLABELED])
    assert len(Journal(journal).read()[1]) == n_records  # nothing journaled
    a.teach(rows[:1], [1])  # a skipped row may still be labeled
    Journal(journal).append(rows[1:2], [0])  # as an older version could write:
    Journal(journal).append(rows[:1], [UNLABELED])  # a label, a skip, again
    b = ActiveSearcher(journal=str(journal)).fit(X, y)
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_a_journal_written_again_appears_whole_or_not_at_all(
    data, tmp_path, monkeypatch
):
    X, y, y_true = data
    journal = tmp_path / "j"
    a = ActiveSearcher(journal=str(journal), batch_size=3, random_state=0).fit(X, y)
    _rounds(a, y_true, 2)
    journal.unlink()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    rows = a.query()
    with pytest.raises(OSError):
        a.teach(rows, y_true[rows])
    assert list(tmp_path.iterdir()) == []  # no header-only journal, no temp file
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="written again"):
        a.teach(rows, y_true[rows])
    b = ActiveSearcher(journal=str(journal)).fit(X, y)
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_a_journal_of_other_data_is_refused_at_load(data, tmp_path):
    X, y, y_true = data
    a = ActiveLearner(pool="full", random_state=0).fit(X, y)  # no journal
    a.save(tmp_path / "s")
    foreign = tmp_path / "foreign.journal"
    ActiveLearner(journal=str(foreign)).fit(X[::-1].copy(), y)
    with pytest.raises(ValueError, match="other data"):
        skseals.load(tmp_path / "s", X, journal=foreign)


def test_a_relative_journal_stays_where_fit_found_it(data, tmp_path, monkeypatch):
    X, y, y_true = data
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    a = ActiveSearcher(journal="rel.journal", batch_size=5, random_state=0).fit(X, y)
    a.save(tmp_path / "s")
    monkeypatch.chdir(tmp_path / "b")
    _rounds(a, y_true, 1)  # still appended to a/rel.journal
    assert not (tmp_path / "b" / "rel.journal").exists()
    b = skseals.load(tmp_path / "s", X)
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_save_load_keeps_feature_names(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    a = ActiveSearcher(random_state=0).fit(df, y)
    a.save(tmp_path / "s")
    b = skseals.load(tmp_path / "s", df)
    assert b.feature_names_in_.tolist() == a.feature_names_in_.tolist()
    np.testing.assert_array_equal(b.predict(df.iloc[:5]), a.predict(df.iloc[:5]))


class _OwnClassifier(LogisticRegression):
    pass


def test_an_untrusted_estimator_type_names_the_trusted_argument(data, tmp_path):
    pytest.importorskip("skops")
    X, y, _ = data
    ActiveSearcher(_OwnClassifier(), random_state=0).fit(X, y).save(tmp_path / "s")
    with pytest.raises(TypeError, match=r"trusted=\['.*_OwnClassifier'\]"):
        skseals.load(tmp_path / "s", X)
    name = f"{__name__}._OwnClassifier"
    resumed = skseals.load(tmp_path / "s", X, trusted=[name])
    assert type(resumed.estimator_) is _OwnClassifier


def test_a_journal_set_after_fit_takes_effect_at_the_next_fit(data, tmp_path):
    X, y, y_true = data
    first, second = tmp_path / "first.journal", tmp_path / "second.journal"
    learner = ActiveSearcher(journal=str(first), batch_size=5, random_state=0)
    learner.fit(X, y).set_params(journal=str(second))
    _rounds(learner, y_true, 1)
    learner.save(tmp_path / "s")
    _rounds(learner, y_true, 1)
    assert not second.exists()  # every record went to the journal opened in fit
    for resumed in (
        ActiveSearcher(journal=str(first)).fit(X, y),
        skseals.load(tmp_path / "s", X),  # replays what followed the save
    ):
        np.testing.assert_array_equal(resumed.labels_, learner.labels_)
    learner.fit(X, y)  # now the new journal is in force
    _rounds(learner, y_true, 1)
    resumed = ActiveSearcher(journal=str(second)).fit(X, y)
    np.testing.assert_array_equal(resumed.labels_, learner.labels_)
    none = ActiveSearcher(batch_size=5).fit(X, y).set_params(journal=str(first))
    _rounds(none, y_true, 1)  # no journal in force: the file is not touched
    assert ActiveSearcher(journal=str(first)).fit(X, y).n_labeled_ == 22


def test_pickle_drops_and_recreates_the_lock(data):
    X, y, y_true = data
    learner = ActiveLearner(random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(copy.query(), learner.query())


# -- threads -------------------------------------------------------------------
def test_two_annotator_threads_never_get_the_same_row(data):
    X, y, y_true = data
    learner = ActiveSearcher(
        pool=KNNPool(10, index="exact"), batch_size=4, random_state=0
    ).fit(X, y)
    seen, errors = [], []

    def annotate():
        try:
            for _ in range(6):
                rows = learner.query()
                seen.append(rows)
                learner.teach(rows, y_true[rows])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=annotate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = np.concatenate(seen)
    assert len(rows) == len(np.unique(rows)) == 48
    assert learner.n_labeled_ == 12 + 48
    assert len(learner.history_) == 1 + 12


# -- a crash for real ----------------------------------------------------------
_LOOP = """
import sys, numpy as np
from sklearn.datasets import make_blobs
from skseals import ActiveSearcher
X, c = make_blobs(n_samples=3000, centers=5, n_features=8, random_state=0)
y_true = (c == 0).astype(int)
y = np.full(3000, -1)
y[np.flatnonzero(y_true)[:4]] = 1
y[np.flatnonzero(y_true == 0)[:8]] = 0
s = ActiveSearcher(journal=sys.argv[1], batch_size=3, random_state=0).fit(X, y)
for _ in range(10_000):
    rows = s.query()
    if len(rows) == 0:
        break
    s.teach(rows, y_true[rows])
    print(" ".join(map(str, rows)), flush=True)
"""


def test_sigkill_at_a_random_moment_loses_no_returned_label(tmp_path):
    journal = tmp_path / "j"
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOOP, str(journal)], stdout=subprocess.PIPE, text=True
    )
    rng = np.random.RandomState(int(time.time()))
    wanted = rng.randint(5, 40)
    taught = []
    for line in proc.stdout:
        taught.extend(int(r) for r in line.split())
        if len(taught) >= 3 * wanted:
            break
    time.sleep(rng.uniform(0, 0.05))  # somewhere inside a later teach()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from sklearn.datasets import make_blobs

    X, c = make_blobs(n_samples=3000, centers=5, n_features=8, random_state=0)
    y_true = (c == 0).astype(int)
    y = np.full(3000, UNLABELED)
    y[np.flatnonzero(y_true)[:4]] = 1
    y[np.flatnonzero(y_true == 0)[:8]] = 0
    resumed = ActiveSearcher(journal=journal, random_state=0).fit(X, y)
    np.testing.assert_array_equal(resumed.labels_[taught], y_true[taught])
    assert resumed.n_labeled_ >= 12 + len(taught)


def test_a_component_changed_after_fit_is_not_saved_as_in_force(data, tmp_path):
    # pool and query_strategy are resolved in fit: a session saved after
    # set_params would resume with the new ones, unlike the learner in memory.
    X, y, _ = data
    learner = ActiveSearcher(pool=KNNPool(10, index="exact"), batch_size=5,
                             random_state=0).fit(X, y)  # fmt: skip
    learner.teach(learner.query(), [0] * 5)
    learner.set_params(pool__n_neighbors=50)
    with pytest.raises(ValueError, match="pool changed .*since fit"):
        learner.save(tmp_path / "s")
    assert not (tmp_path / "s").exists()
    learner.set_params(pool__n_neighbors=10, batch_size=7)  # read at each query
    learner.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", X)
    assert np.array_equal(resumed.query(), learner.query())
    learner.set_params(query_strategy="entropy")
    with pytest.raises(ValueError, match="query_strategy changed"):
        learner.save(tmp_path / "t")


def test_a_random_state_over_another_bit_generator_fits_but_is_not_saved(tmp_path):
    # A session stores MT19937 states: a RandomState over PCG64 works for
    # fitting and querying, and save() says what to pass instead, writing
    # nothing.
    import warnings

    X = np.random.default_rng(0).normal(size=(300, 4))
    y = np.full(300, -1)
    y[:4] = [0, 1, 0, 1]
    rng = np.random.RandomState(np.random.PCG64(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no legacy get_state warning)
        lr = ActiveLearner(
            pool=KNNPool(5, index="exact"), random_state=rng, batch_size=3
        ).fit(X, y)
        assert lr.query().shape == (3,)
    with pytest.raises(ValueError, match="random_state.*PCG64.*RandomState\\(seed\\)"):
        lr.save(tmp_path / "session")
    assert not (tmp_path / "session").exists()
