"""Tests of skseals.simulation: the oracle harness and its result tables."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from skseals import ActiveLearner, ActiveSearcher
from skseals.datasets import make_rare_concepts
from skseals.pool import KNNPool
from skseals.simulation import (
    RECORD_FIELDS,
    read_results,
    simulate,
    summarize,
    summary_table,
    write_results,
)


class ScriptedLearner(BaseEstimator):
    """A learner whose choices and scores are fixed, so metrics can be hand-checked.

    ``query`` returns unlabeled rows by decreasing ``X[:, 0]``;
    ``decision_function`` is ``X[:, 0]``. Every fitted X and taught row is kept.
    """

    log = []

    def __init__(self, batch_size=2, random_state=None):
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y):
        self.X_, self.y_ = np.asarray(X), np.array(y)
        self.classes_ = np.array([0, 1])
        self.history_ = []
        self._record()
        ScriptedLearner.log.append(self)
        return self

    def _record(self):
        self.history_.append(
            {
                "round": len(self.history_),
                "n_labeled": int(np.sum(self.y_ != -1)),
                "pool_size": int(np.sum(self.y_ == -1)),
                "selection_seconds": 0.5,
                "knn_seconds": 0.25,
                "training_seconds": 0.125,
            }
        )

    def query(self, batch_size=None):
        free = np.flatnonzero(self.y_ == -1)
        order = free[np.argsort(-self.X_[free, 0], kind="stable")]
        return order[: batch_size or self.batch_size]

    def teach(self, rows, labels):
        self.y_[rows] = labels
        self._record()
        return self

    def decision_function(self, X):
        return np.asarray(X)[:, 0]


@pytest.fixture
def scripted():
    """X[:, 0] of 12 rows: pool rows 0-7, test rows 8-11; positives 2, 3, 6, 9, 11.

    Test scores 0.9, 0.8, 0.7, 0.6 for labels 0, 1, 0, 1:
    AP = (1/2 + 2/4) / 2 = 0.5.
    """
    ScriptedLearner.log = []
    x0 = [0.1, 0.2, 0.95, 0.3, 0.85, 0.4, 0.5, 0.05, 0.9, 0.8, 0.7, 0.6]
    X = np.column_stack([x0, np.zeros(12)])
    split = np.array([0] * 8 + [1] * 4)
    return X, [np.array([2, 3, 6, 9, 11])], split


def test_records_hand_checked(scripted):
    X, concepts, split = scripted
    seeds = []
    res = simulate(
        ScriptedLearner(), X, concepts, split=split, budget=4, n_seed_positives=1,
        n_seed_negatives=1, n_repetitions=1, as_frame=False,
        callback=lambda lr, rec: seeds.append(np.flatnonzero(lr.y_ != -1))
        if rec["round"] == 0 else None,
    )  # fmt: skip
    assert [list(r) for r in res] == [list(RECORD_FIELDS)] * 3
    assert [r["round"] for r in res] == [0, 1, 2]
    assert [r["n_labeled"] for r in res] == [2, 4, 6]
    assert all(r["average_precision"] == pytest.approx(0.5) for r in res)
    (learner,) = ScriptedLearner.log
    np.testing.assert_array_equal(learner.X_, X[:8])  # fitted on pool rows only
    # The seed: one positive of the pool (2, 3, 6), one negative.
    truth = np.isin(np.arange(8), [2, 3, 6]).astype(int)
    (seed,) = seeds
    assert sorted(truth[seed].tolist()) == [0, 1]
    # Then 4 rows by decreasing X[:, 0], labeled by the oracle.
    order = [r for r in [2, 4, 6, 5, 3, 1, 0, 7] if r not in seed]
    labeled = np.flatnonzero(learner.y_ != -1)
    assert sorted(labeled.tolist()) == sorted(seed.tolist() + order[:4])
    np.testing.assert_array_equal(learner.y_[labeled], truth[labeled])
    # Recall: labeled positives (seed included) / the 3 pool positives.
    assert res[0]["n_positives"] == 1 and res[0]["recall"] == pytest.approx(1 / 3)
    found = int(truth[labeled].sum())
    assert res[-1]["n_positives"] == found
    assert res[-1]["recall"] == pytest.approx(found / 3)
    assert res[1]["selection_seconds"] == 0.5 and res[1]["knn_seconds"] == 0.25
    assert res[1]["training_seconds"] == 0.125
    assert res[1]["pool_size"] == 4 and res[1]["pool_percent"] == 50.0


class ReversedClasses(ScriptedLearner):
    """1-D scores that rank classes_[-1] = 0: the harness must negate them."""

    def fit(self, X, y):
        super().fit(X, y)
        self.classes_ = np.array([1, 0])
        return self

    def decision_function(self, X):
        return -np.asarray(X)[:, 0]


class ProbaOnly(ScriptedLearner):
    """No decision_function: the harness uses predict_proba[:, pos]."""

    def __getattribute__(self, name):
        if name == "decision_function":
            raise AttributeError(name)
        return super().__getattribute__(name)

    def predict_proba(self, X):
        p = np.asarray(X)[:, 0]
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("learner", [ReversedClasses(), ProbaOnly()])
def test_average_precision_from_any_score(scripted, learner):
    X, concepts, split = scripted
    res = simulate(learner, X, concepts, split=split, budget=0, n_seed_positives=1,
                   n_seed_negatives=1, n_repetitions=1, as_frame=False)  # fmt: skip
    assert res[0]["average_precision"] == pytest.approx(0.5)


def test_budget_is_exact_and_pool_exhaustion_stops(scripted):
    X, concepts, split = scripted
    res = simulate(ScriptedLearner(batch_size=4), X, concepts, split=split,
                   budget=5, n_seed_positives=1, n_seed_negatives=1,
                   n_repetitions=1, as_frame=False)  # fmt: skip
    assert [r["n_labeled"] for r in res] == [2, 6, 7]
    res = simulate(ScriptedLearner(batch_size=4), X, concepts, split=split,
                   budget=100, n_seed_positives=1, n_seed_negatives=1,
                   n_repetitions=1, as_frame=False)  # fmt: skip
    assert [r["n_labeled"] for r in res] == [2, 6, 8]
    assert res[-1]["recall"] == 1.0


def test_no_split_means_no_average_precision(scripted):
    X, concepts, _ = scripted
    res = simulate(ScriptedLearner(), X, concepts, budget=2, n_seed_positives=1,
                   n_seed_negatives=1, n_repetitions=1, as_frame=False)  # fmt: skip
    assert np.isnan(res[0]["average_precision"])
    assert ScriptedLearner.log[0].X_.shape[0] == 12


@pytest.fixture(scope="module")
def small():
    return make_rare_concepts(3000, 16, n_concepts=2, prevalence=0.02, random_state=0)


def test_real_learners_seed_repetitions_and_test_rows(small):
    seen = []

    def callback(learner, record):
        seen.append((record["config"], record["concept"], record["repetition"],
                     record["round"], learner.labels_.copy(), learner))  # fmt: skip

    learners = {
        "MLP-SEALS": ActiveSearcher(pool=KNNPool(n_neighbors=10, index="exact")),
        "MaxEnt-Full": ActiveLearner(query_strategy="entropy", pool="full"),
    }
    res = simulate(learners, small.X, small.concepts, split=small.split, budget=60,
                   batch_size=30, n_repetitions=2, callback=callback,
                   as_frame=False)  # fmt: skip
    assert len(res) == 2 * 2 * 2 * 3
    n_pool = small.pool_ids.size
    for *_, rnd, labels, learner in seen:
        assert labels.shape == (n_pool,)  # test rows cannot even be indexed
        if rnd == 0:
            np.testing.assert_array_equal(learner.X_, small.X[small.pool_ids])
            assert np.sum(labels == 1) == 5 and np.sum(labels == 0) == 95
    # Same seed for every configuration of a concept and repetition,
    # another seed for another repetition.
    seeds = {(c, cp, r): lab for c, cp, r, rnd, lab, _ in seen if rnd == 0}
    np.testing.assert_array_equal(
        seeds["MLP-SEALS", "concept_0", 0], seeds["MaxEnt-Full", "concept_0", 0]
    )
    assert not np.array_equal(
        seeds["MLP-SEALS", "concept_0", 0], seeds["MLP-SEALS", "concept_0", 1]
    )
    # Recall is measured against the pool's positives.
    member = np.isin(small.pool_ids, small.concepts[0])
    last = [s for s in seen if s[:3] == ("MLP-SEALS", "concept_0", 0)][-1]
    rec = [r for r in res if (r["config"], r["concept"], r["repetition"])
           == ("MLP-SEALS", "concept_0", 0)][-1]  # fmt: skip
    assert rec["recall"] == pytest.approx(np.sum(last[4] == 1) / member.sum())
    assert all(0 <= r["average_precision"] <= 1 for r in res)
    # Shared index: built once, the same object in every SEALS run.
    indexes = {id(s[5].pool_.index_) for s in seen if s[0] == "MLP-SEALS"}
    assert len(indexes) == 1


def test_positives_only_start_and_frame(small):
    pd = pytest.importorskip("pandas")
    res = simulate(ActiveSearcher(pool="full", batch_size=50), small.X,
                   {"a": small.concepts[0]}, split=small.split, budget=100,
                   n_seed_negatives=0, n_repetitions=1)  # fmt: skip
    assert isinstance(res, pd.DataFrame)
    assert list(res.columns) == list(RECORD_FIELDS)
    assert res["n_labeled"].tolist() == [5, 55, 105]
    assert res["config"].unique().tolist() == ["ActiveSearcher"]
    assert res["average_precision"].notna().all()


def test_progress_bar(small, capsys):
    pytest.importorskip("tqdm")
    simulate(ActiveSearcher(pool="full"), small.X, small.concepts[:1],
             split=small.split, budget=0, n_repetitions=1, verbose=True)  # fmt: skip
    assert "simulate" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"budget": -1}, "budget"),
        ({"n_seed_positives": 0}, "n_seed_positives"),
        ({"n_repetitions": 1.5}, "n_repetitions"),
        ({"batch_size": 0}, "batch_size"),
        ({"split": np.zeros(5)}, "split"),
        ({"as_frame": "yes"}, "as_frame"),
    ],
)
def test_bad_arguments(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate(ActiveSearcher(), small.X, small.concepts, **{"budget": 0, **kwargs})


@pytest.mark.parametrize(
    "concept, match",
    [
        (np.array([True, False, True]), "1-D array of row indices"),
        (np.array([0.0, 3.0]), "1-D array of row indices"),
        (np.array([[1, 2]]), "1-D array of row indices"),
        (np.array([-1, 4]), "outside"),
        (np.array([0, 10**9]), "outside"),
    ],
)
def test_bad_concept_members(small, concept, match):
    with pytest.raises(ValueError, match=match):
        simulate(ActiveSearcher(), small.X, {"bad": concept}, budget=0)


def test_split_without_pool_rows(small):
    with pytest.raises(ValueError, match="no pool row"):
        simulate(ActiveSearcher(), small.X, small.concepts, budget=0,
                 split=np.ones(small.X.shape[0], dtype=int))  # fmt: skip


def test_many_repetitions_are_not_planned_up_front(small):
    # The runs are generated one by one: a huge n_repetitions costs nothing
    # until it runs (here the callback stops the simulation at once).
    def stop(learner, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(ActiveSearcher(), small.X, small.concepts, budget=0,
                 n_repetitions=10**15, callback=stop)  # fmt: skip


def test_bad_learners(small):
    with pytest.raises(ValueError, match="empty"):
        simulate({}, small.X, small.concepts)
    with pytest.raises(TypeError, match="fit"):
        simulate({"x": object()}, small.X, small.concepts)


def test_concept_without_pool_positive_is_skipped(scripted):
    X, _, split = scripted
    with pytest.warns(UserWarning, match="no positive"):
        res = simulate(ScriptedLearner(), X, [np.array([9])], split=split,
                       as_frame=False)  # fmt: skip
    assert res == []


def _rec(config, concept, rep, rnd, ap, recall, pool=10.0, sel=1.0):
    return {"config": config, "concept": concept, "repetition": rep, "round": rnd,
            "n_labeled": 100 * (rnd + 1), "n_positives": 0,
            "average_precision": ap, "recall": recall, "pool_size": 0,
            "pool_percent": pool, "selection_seconds": sel, "knn_seconds": 0.5,
            "training_seconds": 0.25}  # fmt: skip


RESULTS = [
    _rec("A", "c0", 0, 0, 0.1, 0.0), _rec("A", "c0", 0, 1, 0.5, 0.4),
    _rec("A", "c1", 0, 0, 0.3, 0.2), _rec("A", "c1", 0, 1, 0.7, 0.6, pool=20.0),
    _rec("B", "c0", 0, 0, 0.2, 0.1), _rec("B", "c0", 0, 1, float("nan"), 0.3),
]  # fmt: skip


def test_summarize():
    rows = summarize(RESULTS, as_frame=False)
    assert [(r["config"], r["n_labeled"], r["n_runs"]) for r in rows] == [
        ("A", 100, 2), ("A", 200, 2), ("B", 100, 1), ("B", 200, 1)]  # fmt: skip
    assert rows[1]["average_precision_mean"] == pytest.approx(0.6)
    assert rows[1]["average_precision_std"] == pytest.approx(0.1)
    assert rows[1]["pool_percent_mean"] == pytest.approx(15.0)
    assert np.isnan(rows[3]["average_precision_mean"])  # NaN left out
    by_round = summarize(RESULTS, by="round", as_frame=False)
    assert [r["round"] for r in by_round] == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="by"):
        summarize(RESULTS, by="concept")


def test_summarize_counts_every_run_at_every_point():
    # c1's seed is smaller (98 labels: its concept had too few positives) and
    # c0 stops after one round (pool exhausted): both count at every point.
    def rec(concept, rnd, n_labeled, recall, sel=1.0):
        return {**_rec("A", concept, 0, rnd, 0.5, recall, sel=sel),
                "n_labeled": n_labeled}  # fmt: skip

    results = [
        rec("c0", 0, 100, 0.1), rec("c0", 1, 120, 0.3),
        rec("c1", 0, 98, 0.5), rec("c1", 1, 118, 0.7), rec("c1", 2, 138, 0.9, 3.0),
    ]  # fmt: skip
    rows = summarize(results, as_frame=False)
    assert [(r["n_labeled"], r["n_runs"]) for r in rows] == [
        (100, 2), (120, 2), (140, 2)]  # fmt: skip
    # c0 carried forward at 140: its recall can no longer change.
    np.testing.assert_allclose([r["recall_mean"] for r in rows], [0.3, 0.5, 0.6])
    # Seconds per round: of the runs that ran a round there (c1 only at 140).
    assert rows[2]["selection_seconds_mean"] == pytest.approx(3.0)
    by_round = summarize(results, by="round", as_frame=False)
    assert [(r["round"], r["n_runs"]) for r in by_round] == [(0, 2), (1, 2), (2, 2)]
    assert by_round[2]["recall_mean"] == pytest.approx(0.6)
    # The table is the curve's last point, at a label count a run reached.
    (row,) = summary_table(results, as_frame=False)
    assert row["n_labeled"] == 140 and row["recall"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="simulate"):
        summarize([{"config": "a", "n_labeled": 100, "recall": 0.1}])


def test_summary_table():
    a, b = summary_table(RESULTS, as_frame=False)
    assert a["config"] == "A" and a["n_runs"] == 2 and a["n_labeled"] == 200
    assert a["mAP"] == pytest.approx(0.6) and a["recall"] == pytest.approx(0.5)
    assert a["pool_percent"] == pytest.approx(15.0)
    # Per run: 2 rounds x (1 + 0.5 + 0.25) seconds.
    assert a["total_seconds"] == pytest.approx(3.5)
    assert a["selection_seconds"] == pytest.approx(2.0)
    assert b["n_runs"] == 1 and np.isnan(b["mAP"])


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_write_read_round_trip(tmp_path, suffix):
    path = write_results(RESULTS, tmp_path / f"r{suffix}")
    back = read_results(path, as_frame=False)
    assert len(back) == len(RESULTS)
    for got, want in zip(back, RESULTS, strict=True):
        assert list(got) == list(want)
        for key, value in want.items():
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(got[key])
            else:
                assert got[key] == value
    with pytest.raises(ValueError, match="csv or .json"):
        write_results(RESULTS, tmp_path / "r.txt")


def test_write_read_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame.from_records(RESULTS)
    write_results(frame, tmp_path / "r.csv")
    back = read_results(tmp_path / "r.csv")
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)
