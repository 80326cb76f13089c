"""The fit -> query -> teach loop of ActiveLearner and ActiveSearcher."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import skseals
from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.neighbors import FaissIndex
from skseals.pool import KNNPool
from skseals.query import MaxEntropy


@pytest.fixture
def blobs():
    X, y_true = make_blobs(n_samples=600, centers=3, n_features=6, random_state=0)
    y = np.full(600, UNLABELED)
    seed = np.r_[
        np.flatnonzero(y_true == 0)[:3],
        np.flatnonzero(y_true == 1)[:3],
        np.flatnonzero(y_true == 2)[:3],
    ]
    y[seed] = y_true[seed]
    return X.astype(np.float32), y, y_true


def _loop(learner, y_true, rounds, batch=None):
    for _ in range(rounds):
        rows = learner.query(batch)
        learner.teach(rows, y_true[rows])
    return learner


def test_query_never_returns_labeled_pending_or_duplicates(blobs):
    X, y, y_true = blobs
    learner = ActiveLearner(
        pool=KNNPool(10, index="exact"), batch_size=7, random_state=0
    ).fit(X, y)
    first = learner.query()
    second = learner.query()  # a second annotator asks before the first answers
    assert len(set(first) | set(second)) == 14
    assert not np.isin(np.r_[first, second], np.flatnonzero(y != UNLABELED)).any()
    np.testing.assert_array_equal(
        learner.pending_indices_, np.sort(np.r_[first, second])
    )
    learner.teach(first, y_true[first])
    third = learner.query()
    taken = np.r_[np.flatnonzero(y != UNLABELED), first, second]
    assert not np.isin(third, taken).any()


def test_full_scan_returns_best_scored_rows_in_order(blobs):
    X, y, _ = blobs
    learner = ActiveLearner(pool="full", batch_size=15, random_state=0).fit(X, y)
    rows = learner.query()
    entropy = MaxEntropy().score(learner.estimator_, X, None)
    entropy[y != UNLABELED] = -np.inf
    expected = np.argsort(-entropy, kind="stable")[:15]
    np.testing.assert_allclose(entropy[rows], entropy[expected])
    assert np.all(np.diff(entropy[rows]) <= 0)


def test_teach_records_labels_and_refits(blobs):
    X, y, y_true = blobs
    learner = ActiveLearner(batch_size=10, random_state=0).fit(X, y)
    coef_before = learner.estimator_.coef_.copy()
    rows = learner.query()
    learner.teach(rows, y_true[rows])
    np.testing.assert_array_equal(learner.labels_[rows], y_true[rows])
    assert learner.n_labeled_ == 19
    assert not np.allclose(coef_before, learner.estimator_.coef_)
    assert learner.history_[-1]["n_labeled"] == 19
    assert set(learner.history_[-1]) >= {
        "round",
        "n_labeled",
        "pool_size",
        "selection_seconds",
        "knn_seconds",
        "training_seconds",
    }


def test_skipped_rows_are_never_offered_and_never_trained_on(blobs):
    X, y, y_true = blobs
    learner = ActiveLearner(pool="full", batch_size=20, random_state=0).fit(X, y)
    rows = learner.query()
    labels = y_true[rows].copy()
    labels[:5] = UNLABELED
    learner.teach(rows, labels)
    assert learner.n_labeled_ == 9 + 15
    np.testing.assert_array_equal(learner.skipped_, np.sort(rows[:5]))
    assert (learner.labels_[rows[:5]] == UNLABELED).all()
    for _ in range(10):
        assert not np.isin(learner.query(), rows[:5]).any()
    assert not np.isin(rows[:5], learner.candidate_indices()).any()


def test_learner_accepts_a_new_class_in_teach(blobs):
    X, y, y_true = blobs
    y2 = np.where(y == 2, UNLABELED, y)
    learner = ActiveLearner(pool="full", random_state=0).fit(X, y2)
    assert learner.classes_.tolist() == [0, 1]
    row = np.flatnonzero((y_true == 2) & (y2 == UNLABELED))[:1]
    learner.teach(row, [2])
    assert learner.classes_.tolist() == [0, 1, 2]
    assert learner.estimator_.classes_.tolist() == [0, 1, 2]


def _as_names(y):
    names = np.array(["a", "b", "c"], dtype=object)
    out = np.full(len(y), UNLABELED, dtype=object)
    out[y != UNLABELED] = names[y[y != UNLABELED]]
    return out


@pytest.mark.parametrize(
    "dtype, bad, journaled",
    [
        ("int64", np.inf, True),
        ("int64", 1e30, False),
        ("int8", 200, True),
        (object, None, False),
        (object, True, True),
        (object, b"a", False),
    ],
)
def test_a_label_y_cannot_hold_is_refused_and_every_label_stays(
    blobs, tmp_path, dtype, bad, journaled
):
    """Refused before anything changes, so labels_, teach, save/load and journal
    resume keep working (they all failed once such a label was stored)."""
    X, y, y_true = blobs
    if dtype is object:
        y, y_true = _as_names(y), _as_names(y_true)
    else:
        y = y.astype(dtype)
    journal = str(tmp_path / "labels.journal") if journaled else None
    learner = ActiveLearner(batch_size=5, journal=journal, random_state=0).fit(X, y)
    _loop(learner, y_true, 1)
    rows = learner.query()
    labels = y_true[rows].astype(object)
    labels[2] = bad
    with pytest.raises((TypeError, ValueError), match="`labels` holds"):
        learner.teach(rows, labels)
    learner.teach(rows, y_true[rows])
    assert learner.n_labeled_ == 19 and learner.labels_.dtype == y.dtype
    learner.save(tmp_path / "s")
    resumed = [skseals.load(tmp_path / "s", X)]
    if journaled:
        resumed.append(ActiveLearner(journal=journal).fit(X, y))
    for other in resumed:
        np.testing.assert_array_equal(other.labels_, learner.labels_)


def test_a_float_label_on_integer_y_is_stored_exactly_or_refused(blobs):
    X, y, _ = blobs
    learner = ActiveLearner(pool="full", batch_size=2, random_state=0).fit(X, y)
    a, b = learner.query()
    with pytest.raises(ValueError, match="2.5 is not"):
        learner.teach([a], [3.5])  # was stored as 3
    learner.teach([a], [3.0])
    learner.teach([b], [np.int8(3)])
    assert learner.classes_.tolist() == [0, 1, 2, 3]
    assert learner.classes_.dtype == y.dtype
    assert learner.labels_[[a, b]].tolist() == [3, 3]


def test_fit_refuses_an_estimator_the_strategy_cannot_use(blobs, tmp_path):
    X, y, _ = blobs
    positives = np.where(y == 1, 1, UNLABELED)  # cold start: one class
    journal = tmp_path / "labels.journal"
    searcher = ActiveSearcher(
        GaussianNB(), query_strategy="query_anywhere", journal=str(journal)
    )
    with pytest.raises(TypeError, match="QueryAnywhere needs a linear"):
        searcher.fit(X, positives)  # the first negative could never be taught
    assert not journal.exists() and not hasattr(searcher, "X_")
    ActiveSearcher(query_strategy="query_anywhere").fit(X, positives)  # linear: ok
    with pytest.raises(ValueError, match="positive class among 3 classes"):
        ActiveLearner(query_strategy="most_likely_positive").fit(X, y)


def test_a_failed_refit_keeps_the_labels_and_the_previous_model(blobs, tmp_path):
    """most_likely_positive fits two classes; teach() brings a third one."""
    X, y, y_true = blobs
    two = np.where(y == 2, UNLABELED, y)
    journal = str(tmp_path / "labels.journal")
    learner = ActiveLearner(
        query_strategy="most_likely_positive",
        batch_size=5,
        journal=journal,
        random_state=0,
    ).fit(X, two)
    model = learner.estimator_
    rows = learner.query()
    with pytest.warns(FitFailedWarning, match="positive class among 3 classes"):
        learner.teach(rows, [2, 0, 1, 2, 2])
    assert learner.estimator_ is model and not learner.cold_start_
    assert learner.classes_.tolist() == [0, 1, 2] and learner.n_labeled_ == 11
    assert len(learner.history_) == 2
    assert learner.history_[-1]["refit_error"].startswith("ValueError")
    rows = learner.query()  # the previous model still ranks
    with pytest.warns(FitFailedWarning):
        learner.teach(rows, y_true[rows])  # each teach() tries again
    learner.save(tmp_path / "s")
    resumed = skseals.load(tmp_path / "s", X)
    np.testing.assert_array_equal(resumed.labels_, learner.labels_)
    np.testing.assert_array_equal(resumed.query(), learner.query())
    fixed = ActiveLearner(query_strategy="margin", journal=journal).fit(X, two)
    np.testing.assert_array_equal(fixed.labels_, learner.labels_)
    assert fixed.estimator_.classes_.tolist() == [0, 1, 2]


def test_positives_only_start_then_first_negative(blobs):
    X, _, y_true = blobs
    y = np.full(len(X), UNLABELED)
    y[np.flatnonzero(y_true == 1)[:5]] = 1
    learner = ActiveLearner(pool=KNNPool(20, index="exact"), random_state=0).fit(X, y)
    assert learner.cold_start_
    rows = learner.query(10)
    assert len(rows) == 10
    learner.teach(rows[:1], [0])
    assert not learner.cold_start_
    assert learner.classes_.tolist() == [0, 1]


def test_outputs_follow_classes_before_the_second_class(blobs):
    # An ActiveSearcher knows both classes from the start; its one-class
    # model's outputs are laid out for them, as scikit-learn scorers expect.
    from sklearn.metrics import get_scorer

    X, _, y_true = blobs
    y = np.full(len(X), UNLABELED)
    y[np.flatnonzero(y_true == 1)[:5]] = 1
    searcher = ActiveSearcher(pool="full", random_state=0).fit(X, y)
    assert searcher.cold_start_ and searcher.classes_.tolist() == [0, 1]
    proba = searcher.predict_proba(X[:7])
    assert proba.shape == (7, 2)
    np.testing.assert_array_equal(proba, np.tile([0.0, 1.0], (7, 1)))
    log_proba = searcher.predict_log_proba(X[:7])
    assert np.isneginf(log_proba[:, 0]).all() and (log_proba[:, 1] == 0).all()
    similarity = searcher.estimator_.decision_function(X)
    np.testing.assert_array_equal(searcher.decision_function(X), similarity)
    truth = (y_true == 1).astype(int)
    assert np.isfinite(get_scorer("neg_brier_score")(searcher, X, truth))
    assert get_scorer("average_precision")(searcher, X, truth) > 0.9
    # A learner knows the classes labeled so far: its outputs are the model's.
    learner = ActiveLearner(pool="full", random_state=0).fit(X, y)
    assert learner.classes_.tolist() == [1]
    assert learner.predict_proba(X[:3]).shape == (3, 1)


class _NeverFits(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("cannot fit")


def test_outputs_of_a_kept_one_class_model_follow_classes(blobs):
    # The first positive's refit fails: the negatives' centroid model stays,
    # and its decision values, higher for classes_[1], are negated.
    X, _, y_true = blobs
    y = np.full(len(X), UNLABELED)
    negatives = np.flatnonzero(y_true == 0)[:5]
    y[negatives] = 0
    learner = ActiveLearner(_NeverFits(), pool="full", random_state=0).fit(X, y)
    similarity = learner.estimator_.decision_function(X)
    with pytest.warns(FitFailedWarning):
        learner.teach([np.flatnonzero(y_true == 1)[0]], [1])
    assert learner.cold_start_ and learner.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(learner.decision_function(X), -similarity)
    np.testing.assert_array_equal(learner.predict_proba(X[:2]), [[1, 0], [1, 0]])


def test_searcher_counts_positives_and_rejects_other_labels(blobs):
    X, _, y_true = blobs
    pos = (y_true == 1).astype(int)
    y = np.full(len(X), UNLABELED)
    y[np.flatnonzero(pos)[:5]] = 1
    y[np.flatnonzero(pos == 0)[:20]] = 0
    searcher = ActiveSearcher(batch_size=20, random_state=0).fit(X, y)
    assert searcher.n_positives_found_ == 5
    _loop(searcher, pos, 5)
    found = int(pos[searcher.labels_ == 1].sum())
    assert searcher.n_positives_found_ == found == (searcher.labels_ == 1).sum()
    assert searcher.n_positives_found_ > 5 + 20  # it finds more than random would
    assert searcher.history_[-1]["n_positives"] == searcher.n_positives_found_
    rows = searcher.query(2)
    with pytest.raises(ValueError, match="pos_label or neg_label"):
        searcher.teach(rows, [1, 2])


def test_searcher_with_string_labels():
    X, y_true = make_classification(300, random_state=0)
    names = np.where(y_true == 1, "cat", "dog").astype(object)
    y = np.full(300, UNLABELED, dtype=object)
    y[:20] = names[:20]
    s = ActiveSearcher(
        pos_label="cat", neg_label="dog", pool="full", random_state=0
    ).fit(X, y)
    rows = s.query(5)
    s.teach(rows, names[rows])
    assert s.n_positives_found_ == int(
        (names[np.r_[np.arange(20), rows]] == "cat").sum()
    )
    with pytest.raises(TypeError, match="labels"):
        s.teach(s.query(1), [1])


def test_delegation_matches_fitted_estimator(blobs):
    X, y, _ = blobs
    learner = ActiveLearner(random_state=0).fit(X, y)
    np.testing.assert_array_equal(learner.predict(X), learner.estimator_.predict(X))
    np.testing.assert_allclose(
        learner.predict_proba(X), learner.estimator_.predict_proba(X)
    )
    np.testing.assert_allclose(
        learner.decision_function(X), learner.estimator_.decision_function(X)
    )
    assert learner.score(X, learner.predict(X)) == 1.0
    svc = ActiveLearner(LinearSVC(), query_strategy="margin", pool="full").fit(X, y)
    assert not hasattr(svc, "predict_proba")


def test_pipeline_estimator_and_learner_as_last_pipeline_step(blobs):
    X, y, y_true = blobs
    est = make_pipeline(StandardScaler(), LogisticRegression())
    learner = ActiveLearner(est, random_state=0).fit(X, y)
    _loop(learner, y_true, 2, 5)
    assert learner.n_labeled_ == 19
    pipe = make_pipeline(StandardScaler(), ActiveLearner(random_state=0)).fit(X, y)
    inner = pipe[-1]
    rows = inner.query(5)
    inner.teach(rows, y_true[rows])
    np.testing.assert_allclose(inner.X_, StandardScaler().fit_transform(X), rtol=1e-5)
    assert pipe.predict(X).shape == (len(X),)


def test_nested_params_and_clone_share_a_prebuilt_index(blobs):
    X, y, _ = blobs
    index = FaissIndex(factory="Flat").fit(X)
    learner = ActiveLearner(pool=KNNPool(n_neighbors=5, index=index))
    learner.set_params(pool__n_neighbors=12)
    assert learner.get_params()["pool__n_neighbors"] == 12
    copy = clone(learner)
    assert copy.pool.index is index
    copy.fit(X, y)
    assert copy.pool_.index_ is index
    assert copy.pool_.n_neighbors == 12


def test_same_random_state_same_sequence(blobs):
    X, y, y_true = blobs
    runs = []
    for _ in range(2):
        lr = ActiveLearner(
            query_strategy="random",
            pool=KNNPool(10, index="exact"),
            batch_size=8,
            random_state=3,
        ).fit(X, y)
        runs.append(np.concatenate([_loop(lr, y_true, 1).query() for _ in range(3)]))
    np.testing.assert_array_equal(*runs)


def _annoy_one_tree():
    from skseals.neighbors import AnnoyIndex

    pytest.importorskip("annoy")
    return AnnoyIndex(n_trees=1)


def _graph_of_annoy():
    from skseals.neighbors import KNNGraph

    pytest.importorskip("annoy")
    return KNNGraph(5, index="annoy")


@pytest.mark.parametrize(
    "make_index",
    [lambda: FaissIndex("IVF16,Flat", nprobe=1), _annoy_one_tree, _graph_of_annoy],
    ids=["faiss-ivf", "annoy", "graph"],
)
def test_learner_seed_builds_the_same_index(blobs, make_index):
    # An index whose build is random (k-means, a forest) and left unseeded
    # takes its seed from the learner's: the same int, the same queries.
    X, y, y_true = blobs
    given = make_index()
    runs, learners = [], []
    for _ in range(2):
        lr = ActiveLearner(
            pool=KNNPool(5, index=given), batch_size=10, random_state=4
        ).fit(X, y)
        learners.append(lr)
        runs.append(np.concatenate([_loop(lr, y_true, 1).query() for _ in range(4)]))
    np.testing.assert_array_equal(*runs)
    seed = learners[0].pool_.random_state
    assert isinstance(seed, int) and learners[0].pool_.index_.random_state == seed
    assert given.random_state is None and not hasattr(given, "n_samples_fit_")
    # An index's own seed is kept; without a learner seed nothing is set.
    own = ActiveLearner(
        pool=KNNPool(5, index=FaissIndex(random_state=7)), random_state=4
    )
    assert own.fit(X, y).pool_.index_.random_state == 7
    unseeded = ActiveLearner(pool=KNNPool(5, index=make_index())).fit(X, y)
    assert unseeded.pool_.random_state is None
    assert unseeded.pool_.index_.random_state is None


def test_pickle_round_trip_continues_identically(blobs):
    X, y, y_true = blobs
    learner = ActiveLearner(
        pool=KNNPool(10, index="faiss"), batch_size=6, random_state=0
    ).fit(X, y)
    _loop(learner, y_true, 2)
    copy = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(learner.query(), copy.query())
    np.testing.assert_array_equal(learner.candidate_indices(), copy.candidate_indices())


def test_empty_pool_returns_fewer_rows():
    X = np.random.RandomState(0).normal(size=(12, 3))
    y = np.full(12, UNLABELED)
    y[:4] = [0, 1, 0, 1]
    learner = ActiveLearner(pool="full", batch_size=5, random_state=0).fit(X, y)
    assert len(learner.query()) == 5
    assert len(learner.query()) == 3
    assert len(learner.query()) == 0


def test_object_y_of_numbers_is_taken_and_booleans_are_refused(blobs):
    X, y, _ = blobs
    learner = ActiveLearner(pool="full", random_state=0).fit(X, y.astype(object))
    reference = ActiveLearner(pool="full", random_state=0).fit(X, y)
    assert learner.classes_.tolist() == [0, 1, 2] and learner.labels_.dtype == np.int64
    np.testing.assert_array_equal(learner.query(), reference.query())
    flags = np.full(len(X), UNLABELED, dtype=object)
    flags[:4] = [True, False, True, False]
    with pytest.raises(ValueError, match=r"y holds booleans.*astype\(int\)"):
        ActiveSearcher(pool="full").fit(X, flags)


class _KeptScores(MaxEntropy):
    """Returns its scores array itself, the same object for the same rows."""

    def __init__(self):
        super().__init__()
        self.kept_ = {}

    def score(self, estimator, X, context):
        key = np.asarray(X).tobytes()
        if key not in self.kept_:
            self.kept_[key] = super().score(estimator, X, context)
        return self.kept_[key]


class _KeptSequentialScores(_KeptScores):
    """Sequential (each pick rescores the rest), like KCenterGreedy."""

    sequential = True

    def update_scores(self, scores, X, x_picked, context):
        return np.asarray(scores, dtype=np.float64) - 1.0


def _pool_over_exact_graph():
    from skseals.neighbors import KNNGraph

    return KNNPool(10, index=KNNGraph(10, index="exact"))


def _random_subset_pool():
    from skseals.pool import RandomSubsetPool

    return RandomSubsetPool(0.2)


@pytest.mark.parametrize("strategy", [_KeptScores, _KeptSequentialScores])
@pytest.mark.parametrize(
    "make_pool",
    [lambda: KNNPool(10, index="exact"), _pool_over_exact_graph, _random_subset_pool],
    ids=["exact", "graph", "random-subset"],
)
def test_query_does_not_write_to_the_scores_a_strategy_returns(
    blobs, strategy, make_pool
):
    # The greedy loop may update scores in place (a sequential strategy's):
    # on its own copy, never on the array the strategy returned.
    X, y, _ = blobs
    learner = ActiveLearner(
        query_strategy=strategy(),
        pool=make_pool(),
        batch_size=5,
        random_state=0,
    ).fit(X, y)
    learner.query()
    fresh = strategy()
    kept = learner.query_strategy_.kept_
    assert kept  # (the learner scores with its clone)
    for key, scores in kept.items():
        rows = np.frombuffer(key, dtype=X.dtype).reshape(-1, X.shape[1])
        np.testing.assert_array_equal(
            scores, fresh.score(learner.estimator_, rows, None)
        )


def test_query_anywhere_keeps_its_scores_when_the_strategy_reuses_a_buffer():
    # Query-anywhere scores the rows it adds while it holds the pool's
    # scores: a strategy that writes every result into one buffer must not
    # change them.
    from skseals.query import QueryAnywhere

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 16)).astype(np.float32)
    X[:60] += 2.5
    y = np.full(3000, UNLABELED)
    y[:5], y[100:140] = 1, 0

    class ReusedAnywhere(QueryAnywhere):
        def score(self, estimator, X, context):
            scores = super().score(estimator, X, context)
            buffer = self.__dict__.setdefault("buffer_", np.empty(100_000))
            out = buffer[: scores.shape[0]]
            out[:] = scores
            return out

    picks = [
        ActiveLearner(
            query_strategy=strategy("entropy", n_neighbors=50),
            pool=KNNPool(8, index="exact"),
            batch_size=10,
            random_state=0,
        )
        .fit(X, y)
        .query()
        for strategy in (QueryAnywhere, ReusedAnywhere)
    ]
    np.testing.assert_array_equal(*picks)
