"""Rare categories on a tight budget: cold start, adaptive, pseudo-negatives,
query anywhere and separate index features."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals._cold_start import CentroidClassifier
from skseals._pseudo import positive_scores
from skseals.neighbors import ExactIndex, FaissIndex
from skseals.pool import FullScanPool, KNNPool
from skseals.pool._density import unit_rows
from skseals.utils import tie_break_keys


@pytest.fixture(scope="module")
def rare():
    X, c = make_blobs(
        n_samples=1500, centers=6, n_features=8, cluster_std=1.5, random_state=3
    )
    y_true = (c == 0).astype(int)
    return X.astype(np.float32), y_true


def _positives_only(y_true, n=5):
    y = np.full(len(y_true), UNLABELED)
    y[np.flatnonzero(y_true)[:n]] = 1
    return y


@pytest.mark.parametrize("cls", [ActiveLearner, ActiveSearcher])
def test_cold_start_ranks_by_similarity_to_the_positive_centroid(rare, cls):
    X, y_true = rare
    y = _positives_only(y_true)
    learner = cls(pool=FullScanPool(), batch_size=20, random_state=0).fit(X, y)
    assert learner.cold_start_
    rows = learner.query()
    U = unit_rows(X)
    centroid = U[y == 1].sum(axis=0)
    sim = U @ (centroid / np.linalg.norm(centroid))
    sim[y == 1] = -np.inf
    expected = np.sort(sim)[::-1][:20]
    np.testing.assert_allclose(sim[rows], expected, rtol=1e-5)
    # the same inside a SEALS pool: the best of the pool's candidates
    seals = cls(pool=KNNPool(30, index="exact"), batch_size=1, random_state=0)
    seals.fit(X, y)
    cand = seals.candidate_indices()
    assert seals.query()[0] == cand[np.argmax(sim[cand])]


def test_cold_start_ends_at_the_first_negative(rare):
    X, y_true = rare
    s = ActiveSearcher(query_strategy="entropy", batch_size=10, random_state=0)
    s.fit(X, _positives_only(y_true))
    rows = s.query()
    s.teach(rows, y_true[rows])
    assert s.cold_start_ == (y_true[rows] == 1).all()  # positives found first
    negative = np.setdiff1d(np.flatnonzero(y_true == 0), s.pending_indices_)[:1]
    s.teach(negative, [0])
    assert not s.cold_start_ and s.estimator_.classes_.tolist() == [0, 1]


def _twin_queries(X, y, strategies, random_state=0):
    out = []
    for strategy in strategies:
        lr = ActiveSearcher(
            query_strategy=strategy,
            pool=KNNPool(15, index="exact"),
            batch_size=10,
            random_state=random_state,
        ).fit(X, y)
        out.append(lr.query())
    return out


def test_adaptive_is_most_likely_positive_then_margin(rare):
    X, y_true = rare
    pos, neg = np.flatnonzero(y_true == 1), np.flatnonzero(y_true == 0)
    y = np.full(len(X), UNLABELED)
    y[pos[:5]], y[neg[:6]] = 1, 0  # |Lp| < |Ln|
    adaptive, mlp, margin = _twin_queries(
        X, y, ["adaptive", "most_likely_positive", "margin"]
    )
    np.testing.assert_array_equal(adaptive, mlp)
    assert not np.array_equal(adaptive, margin)
    y[neg[5]] = UNLABELED  # |Lp| == |Ln|: margin from here on
    adaptive, mlp, margin = _twin_queries(
        X, y, ["adaptive", "most_likely_positive", "margin"]
    )
    np.testing.assert_array_equal(adaptive, margin)
    assert not np.array_equal(adaptive, mlp)


@pytest.mark.parametrize("pool", [FullScanPool(), KNNPool(20, index="exact")])
def test_pseudo_negatives_count_and_bookkeeping(rare, pool):
    X, y_true = rare
    y = _positives_only(y_true)
    y[np.flatnonzero(y_true == 0)[:30]] = 0
    f = 4.0
    s = ActiveSearcher(
        pool=pool, pseudo_negatives=f, batch_size=10, random_state=0
    ).fit(X, y)
    for _ in range(3):
        n_pos = int((s.labels_ == 1).sum())
        n_neg = int((s.labels_ == 0).sum())
        assert len(s.pseudo_negatives_) == round(f * (n_pos + 0.1 * n_neg))
        labeled = np.flatnonzero(s.labels_ != UNLABELED)
        assert not np.isin(s.pseudo_negatives_, labeled).any()
        assert not np.isin(s.pseudo_negatives_, s.pending_indices_).any()
        assert s.n_labeled_ == len(labeled)  # machine labels are not counted
        rows = s.query()
        s.teach(rows, y_true[rows])
    assert (s.labels_[s.pseudo_negatives_] == UNLABELED).all()


def test_pseudo_negatives_come_from_the_bottom_half_and_start_a_classifier(rare):
    X, y_true = rare
    y = _positives_only(y_true)
    s = ActiveSearcher(pool=FullScanPool(), pseudo_negatives=10.0, random_state=0).fit(
        X, y
    )
    assert len(s.pseudo_negatives_) == 50
    assert not s.cold_start_  # positives + pseudo-negatives train a real model
    assert s.estimator_.classes_.tolist() == [0, 1]
    U = unit_rows(X)
    c = U[y == 1].sum(axis=0)
    sim = U @ (c / np.linalg.norm(c))  # the cold-start ranking used to draw them
    assert (sim[s.pseudo_negatives_] < np.median(sim[y == UNLABELED])).all()


@pytest.mark.parametrize("cold_class", [0, 1])
def test_pseudo_negatives_after_a_cold_start_come_from_the_bottom_half(
    rare, cold_class
):
    # Cold start from one class, then the other is labeled: the first refit
    # ranks rows by similarity to the cold start's centroid. Pseudo-negatives
    # (of the most frequent class, 0) come from the bottom half of how positive
    # rows look: the rows most like class 0's centroid when the cold start was
    # of class 0, the rows least like class 1's when it was of class 1.
    X, y_true = rare
    y = np.full(len(X), UNLABELED)
    seed = np.flatnonzero(y_true == cold_class)[:10]
    y[seed] = cold_class
    lr = ActiveLearner(pool=FullScanPool(), pseudo_negatives=20.0, random_state=0)
    lr.fit(X, y)
    assert lr.cold_start_ and lr.pseudo_negatives_.size == 0
    taught = np.flatnonzero(y_true != cold_class)[: 1 if cold_class == 0 else 20]
    lr.teach(taught, y_true[taught])
    n_pos, n_neg = (1, 10) if cold_class == 0 else (10, 20)
    assert len(lr.pseudo_negatives_) == round(20.0 * (n_pos + 0.1 * n_neg))
    available = np.setdiff1d(np.flatnonzero(y == UNLABELED), taught)
    U = unit_rows(X)
    c = U[seed].sum(axis=0)
    sim = U @ (c / np.linalg.norm(c))  # the ranking of the refit's ranker
    median = np.median(sim[available])
    pseudo = sim[lr.pseudo_negatives_]
    assert np.isin(lr.pseudo_negatives_, available).all()
    if cold_class == 0:
        assert (pseudo >= median - 1e-9).all()
    else:
        assert (pseudo <= median + 1e-9).all()


def test_positive_scores_of_a_cold_start_ranker():
    clf = CentroidClassifier().fit([[1.0, 0.0], [0.8, 0.2]], [0, 0])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    sim = clf.decision_function(X)
    np.testing.assert_array_equal(positive_scores(clf, X, neg=0), -sim)
    np.testing.assert_array_equal(positive_scores(clf, X, neg=1), sim)
    np.testing.assert_array_equal(positive_scores(clf, X, pos=0), sim)
    np.testing.assert_array_equal(positive_scores(clf, X, pos=1), -sim)


def test_pseudo_negatives_of_a_class_the_ranker_never_saw(rare):
    # A third class becomes the most frequent: the model ranking the rows was
    # fitted before it was labeled and knows nothing of it, so the draw is
    # uniform over the available rows (the refit used to fail on it).
    X, y_true = rare
    y = np.full(len(X), UNLABELED)
    y[:4], y[4:8] = 0, 1
    lr = ActiveLearner(pool=FullScanPool(), pseudo_negatives=2.0, random_state=0)
    lr.fit(X, y)
    lr.teach(np.arange(8, 28), [2] * 20)
    assert len(lr.pseudo_negatives_) == round(2.0 * (8 + 0.1 * 20))
    assert (lr.labels_[lr.pseudo_negatives_] == UNLABELED).all()
    assert lr.estimator_.classes_.tolist() == [0, 1, 2]


def test_pseudo_negatives_off_by_default_and_for_one_class_learners(rare):
    X, y_true = rare
    assert (
        ActiveSearcher(random_state=0)
        .fit(X, _positives_only(y_true))
        .pseudo_negatives_.size
        == 0
    )
    lr = ActiveLearner(pseudo_negatives=5.0, random_state=0).fit(
        X, _positives_only(y_true)
    )
    assert lr.pseudo_negatives_.size == 0  # no negative class known yet


def test_pseudo_negative_draws_are_reproducible(rare):
    X, y_true = rare
    y = _positives_only(y_true)
    runs = [
        ActiveSearcher(pseudo_negatives=2.0, random_state=7).fit(X, y).pseudo_negatives_
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)


def _two_part_concept():
    rng = np.random.RandomState(0)
    background = rng.normal([0, 0, 0], 0.25, size=(400, 3))
    part_a = rng.normal([4, 0, 0], 0.2, size=(40, 3))
    part_b = rng.normal([2, 1.5, 0], 0.1, size=(20, 3))  # near the boundary
    X = np.vstack([background, part_a, part_b]).astype(np.float32)
    y_true = np.r_[np.zeros(400), np.ones(60)].astype(int)
    y = np.full(len(X), UNLABELED)
    y[400:405], y[:10] = 1, 0
    return X, y, y_true


def test_query_anywhere_reaches_an_unconnected_part_of_the_concept():
    X, y, y_true = _two_part_concept()
    part_b = np.arange(440, 460)
    reached = {}
    for strategy in ["margin", "query_anywhere"]:
        s = ActiveSearcher(
            query_strategy=strategy,
            batch_size=5,
            random_state=0,
            pool=KNNPool(5, index="exact", metric="euclidean"),
        )
        s.fit(X, y)
        for _ in range(8):
            rows = s.query()
            s.teach(rows, y_true[rows])
        reached[strategy] = int((s.labels_[part_b] == 1).sum())
    assert reached["margin"] == 0  # the kNN graph never leads to part B
    assert reached["query_anywhere"] >= 10


def test_query_anywhere_needs_a_linear_binary_model(rare):
    from sklearn.ensemble import RandomForestClassifier

    X, y_true = rare
    y = _positives_only(y_true)
    y[np.flatnonzero(y_true == 0)[:5]] = 0
    with pytest.raises(TypeError, match="linear binary classifier"):
        ActiveSearcher(
            RandomForestClassifier(n_estimators=5), query_strategy="query_anywhere"
        ).fit(X, y)


def test_separate_index_features(rare):
    """The pool's neighbours come from one embedding, the classifier another."""
    X, y_true = rare
    rng = np.random.RandomState(0)
    X_small = (X @ rng.normal(size=(8, 3))).astype(np.float32)  # a cheap embedding
    index = FaissIndex(factory="Flat").fit(X_small)
    y = _positives_only(y_true)
    y[np.flatnonzero(y_true == 0)[:10]] = 0
    s = ActiveSearcher(pool=KNNPool(10, index=index), random_state=0).fit(X, y)
    assert s.estimator_.coef_.shape == (1, 8)  # trained on the rich features
    exact_small = ActiveSearcher(
        pool=KNNPool(10, index=ExactIndex().fit(X_small)), random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(
        s.candidate_indices(), exact_small.candidate_indices()
    )
    exact_rich = ActiveSearcher(pool=KNNPool(10, index="exact"), random_state=0)
    assert not np.array_equal(
        exact_rich.fit(X, y).candidate_indices(), s.candidate_indices()
    )
    rows = s.query(5)
    assert len(rows) == 5 and tie_break_keys(rows, 0).shape == (5,)
