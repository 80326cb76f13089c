"""Tests of the query strategies (skseals.query)."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from scipy.stats import entropy as scipy_entropy
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import SVC, LinearSVC

from skseals.base import BaseQueryStrategy, QueryContext
from skseals.query import (
    STRATEGY_ALIASES,
    Adaptive,
    CentroidSimilarity,
    InformationDensity,
    KCenterGreedy,
    LeastConfidence,
    Margin,
    MaxEntropy,
    MostLikelyPositive,
    QueryAnywhere,
    RandomQuery,
    _diversity,
    make_strategy,
)

LOG2, LOG3 = np.log(2.0), np.log(3.0)


class FixedProba:
    """Test fixture: row ``i`` of X (its first column) -> row ``i`` of ``proba``."""

    def __init__(self, proba, classes=None):
        self.proba = np.asarray(proba, dtype=np.float64)
        n_classes = self.proba.shape[1]
        self.classes_ = np.arange(n_classes) if classes is None else classes

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0].astype(int)]


class ProbaFromDecision:
    """Test fixture: a binary decision function turned into sigmoid probabilities."""

    def __init__(self, clf):
        self.clf = clf
        self.classes_ = clf.classes_

    def predict_proba(self, X):
        p = expit(self.clf.decision_function(X))
        return np.column_stack([1.0 - p, p])


def _index_rows(n):
    return np.arange(n, dtype=np.float64)[:, None]


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = np.argmax(X[:, :3] + 0.5 * rng.normal(size=(60, 3)), axis=1)
    return X, y


@pytest.fixture(scope="module")
def multiclass_lr(data):
    X, y = data
    return LogisticRegression().fit(X, y)


@pytest.fixture(scope="module")
def context(data):
    X, y = data
    labeled = X[:5]
    return QueryContext(
        classes=np.array([0, 1, 2]),
        pos_label=2,
        n_positive=1,
        n_negative=4,
        density_sum=_unit(X).sum(axis=0),
        density_count=X.shape[0],
        labeled_X=labeled,
        centroid=_unit(labeled.mean(axis=0, keepdims=True))[0],
    )


def all_strategies():
    return [
        MaxEntropy(),
        Margin(),
        LeastConfidence(),
        MostLikelyPositive(),
        MostLikelyPositive(pos_label=0),
        InformationDensity(),
        InformationDensity("margin", beta=2.0),
        InformationDensity(LeastConfidence(), beta=0.5),
        InformationDensity("most_likely_positive"),
        InformationDensity("adaptive"),
        InformationDensity("random"),
        RandomQuery(),
        KCenterGreedy(),
        KCenterGreedy(metric="cosine"),
        CentroidSimilarity(),
        Adaptive(),
    ]


STRATEGY_IDS = [repr(s) for s in all_strategies()]


# --- hand-checked values -----------------------------------------------------

PROBA = np.array(
    [
        [1.0, 0.0, 0.0],
        [1 / 3, 1 / 3, 1 / 3],
        [0.5, 0.5, 0.0],
        [0.7, 0.2, 0.1],
    ]
)


def test_fixed_probability_matrix_values():
    est, X, ctx = FixedProba(PROBA), _index_rows(4), QueryContext()
    h3 = -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1))
    assert_allclose(MaxEntropy().score(est, X, ctx), [0.0, LOG3, LOG2, h3])
    assert_allclose(Margin().score(est, X, ctx), [-1.0, 0.0, 0.0, -0.5], atol=1e-15)
    assert_allclose(LeastConfidence().score(est, X, ctx), [0.0, 2 / 3, 0.5, 0.3])
    mlp = MostLikelyPositive(pos_label=2).score(est, X, ctx)
    assert_allclose(mlp, [0.0, 1 / 3, 0.0, 0.1])
    ctx2 = QueryContext(pos_label=1)
    assert_allclose(MostLikelyPositive().score(est, X, ctx2), [0.0, 1 / 3, 0.5, 0.2])


def test_string_classes_and_pos_label():
    est = FixedProba(PROBA, classes=np.array(["cat", "dog", "eel"]))
    X = _index_rows(4)
    scores = MostLikelyPositive(pos_label="dog").score(est, X, QueryContext())
    assert_allclose(scores, PROBA[:, 1])
    with pytest.raises(ValueError, match="pos_label='cow'"):
        MostLikelyPositive(pos_label="cow").score(est, X, QueryContext())
    with pytest.raises(ValueError, match="pos_label"):
        MostLikelyPositive().score(est, X, QueryContext())  # 3 classes, no label


def test_binary_logistic_regression_values():
    X_train = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    clf = LogisticRegression().fit(X_train, [0, 0, 1, 1])
    X = np.array([[-3.0], [-0.5], [0.0], [0.7], [3.0]])
    p = expit(clf.coef_[0, 0] * X[:, 0] + clf.intercept_[0])
    ctx = QueryContext()
    ent = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert_allclose(MaxEntropy().score(clf, X, ctx), ent)
    assert_allclose(Margin().score(clf, X, ctx), -np.abs(2 * p - 1), atol=1e-12)
    assert_allclose(LeastConfidence().score(clf, X, ctx), 1 - np.maximum(p, 1 - p))
    assert_allclose(MostLikelyPositive().score(clf, X, ctx), p)
    assert_allclose(MostLikelyPositive(pos_label=0).score(clf, X, ctx), 1 - p)
    # The boundary (x = 0 by symmetry) is the most uncertain row.
    assert_allclose(MaxEntropy().score(clf, X[2:3], ctx), [LOG2])


def test_centroid_similarity_values():
    ctx = QueryContext(centroid=np.array([0.0, 2.0]))  # normalised defensively
    X = np.array([[0.0, 5.0], [1.0, 1.0], [3.0, 0.0], [0.0, -1.0], [0.0, 0.0]])
    expected = [1.0, np.sqrt(0.5), 0.0, -1.0, 0.0]
    assert_allclose(CentroidSimilarity().score(None, X, ctx), expected, atol=1e-15)
    with pytest.raises(ValueError, match="centroid"):
        CentroidSimilarity().score(None, X, QueryContext())


def test_random_query_is_constant_and_needs_no_estimator():
    scores = RandomQuery().score(None, np.ones((5, 3)), QueryContext())
    assert scores.dtype == np.float64
    assert_array_equal(scores, np.zeros(5))
    RandomQuery().check_estimator(None)


def test_class_attributes():
    assert InformationDensity.requires_density
    assert KCenterGreedy.requires_labeled_X and KCenterGreedy.sequential
    for cls in (RandomQuery, KCenterGreedy, CentroidSimilarity):
        assert not cls.requires_estimator
    for cls in (MaxEntropy, Margin, LeastConfidence, MostLikelyPositive, Adaptive):
        assert cls.requires_estimator and not cls.sequential
        assert not cls.requires_density and not cls.requires_labeled_X


# --- ranges (property tests) -------------------------------------------------


@st.composite
def probability_matrices(draw):
    n = draw(st.integers(1, 8))
    c = draw(st.integers(2, 6))
    raw = draw(arrays(np.float64, (n, c), elements=st.floats(0.0, 1.0)))
    sums = raw.sum(axis=1, keepdims=True)
    return np.where(sums > 0, raw / np.where(sums > 0, sums, 1.0), 1.0 / c)


@settings(max_examples=80, deadline=None)
@given(proba=probability_matrices())
def test_score_ranges(proba):
    n, c = proba.shape
    est, X, ctx = FixedProba(proba), _index_rows(n), QueryContext(pos_label=c - 1)
    eps = 1e-12
    ent = MaxEntropy().score(est, X, ctx)
    assert np.all((ent >= 0) & (ent <= np.log(c)))
    assert_allclose(ent, scipy_entropy(proba, axis=1), atol=1e-12)
    margin = Margin().score(est, X, ctx)
    assert np.all((margin >= -1 - eps) & (margin <= 0))
    lc = LeastConfidence().score(est, X, ctx)
    assert np.all((lc >= 0) & (lc <= 1 - 1 / c + eps))
    mlp = MostLikelyPositive().score(est, X, ctx)
    assert np.all((mlp >= 0) & (mlp <= 1))
    for base in ("entropy", "margin", "least_confidence", "most_likely_positive"):
        strategy = InformationDensity(base)
        assert np.all(strategy._base()._uncertainty(est, X, ctx) >= 0)


@settings(max_examples=30, deadline=None)
@given(c=st.integers(2, 7), n=st.integers(1, 5))
def test_extremes_of_the_ranges(c, n):
    X, ctx = _index_rows(n), QueryContext()
    uniform = FixedProba(np.full((n, c), 1.0 / c))
    assert_allclose(MaxEntropy().score(uniform, X, ctx), np.log(c))
    assert_allclose(LeastConfidence().score(uniform, X, ctx), 1 - 1 / c)
    one_hot = FixedProba(np.eye(c)[np.arange(n) % c])
    assert_array_equal(MaxEntropy().score(one_hot, X, ctx), 0.0)
    assert_array_equal(LeastConfidence().score(one_hot, X, ctx), 0.0)
    assert_array_equal(Margin().score(one_hot, X, ctx), -1.0)


# --- row-wise: permutation equivariance and chunk invariance -------------------


@pytest.mark.parametrize("strategy", all_strategies(), ids=STRATEGY_IDS)
def test_scores_shape_dtype(strategy, data, multiclass_lr, context):
    X, _ = data
    scores = strategy.score(multiclass_lr, X, context)
    assert scores.shape == (X.shape[0],) and scores.dtype == np.float64
    assert not np.isnan(scores).any()
    # float32 input scores the same (up to float32 rounding of X).
    scores32 = strategy.score(multiclass_lr, X.astype(np.float32), context)
    assert_allclose(scores32, scores, rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(list(range(60))), cuts=st.lists(st.integers(0, 60)))
def test_permutation_and_chunk_invariance(perm, cuts, data, multiclass_lr, context):
    X, _ = data
    perm = np.asarray(perm)
    bounds = [0, *sorted(cuts), 60]
    for strategy in all_strategies():
        full = strategy.score(multiclass_lr, X, context)
        permuted = strategy.score(multiclass_lr, X[perm], context)
        # atol: a distance of a row to itself is 0 or ~1e-8 depending on the
        # block it is computed in (cancellation in |a|^2 + |b|^2 - 2ab).
        assert_allclose(permuted, full[perm], rtol=1e-10, atol=1e-7)
        chunks = [
            strategy.score(multiclass_lr, X[perm[a:b]], context)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        assert_allclose(np.concatenate(chunks), full[perm], rtol=1e-10, atol=1e-7)


# --- information density -----------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
def test_information_density_equals_naive_mean_cosine(beta, multiclass_lr):
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(80, 4)) + np.array([1.0, 0.0, 0.0, 0.0])
    pool[7] = 0.0  # a zero row has density 0 (and does not add to the sum)
    norms = np.linalg.norm(pool, axis=1, keepdims=True)
    unit = np.divide(pool, norms, out=np.zeros_like(pool), where=norms > 0)
    ctx = QueryContext(density_sum=unit.sum(axis=0), density_count=len(pool))
    naive = np.clip((unit @ unit.T).mean(axis=1), 0.0, None)  # O(n^2)
    assert (naive == 0).sum() > 1  # some rows are clipped
    dens = InformationDensity("random", beta=beta).score(None, pool, ctx)
    assert_allclose(dens, naive**beta, atol=1e-12)
    ent = MaxEntropy().score(multiclass_lr, pool, ctx)
    weighted = InformationDensity("entropy", beta=beta).score(multiclass_lr, pool, ctx)
    assert_allclose(weighted, ent * naive**beta, atol=1e-12)
    assert np.all(weighted >= 0)


def test_information_density_margin_is_non_negative_uncertainty():
    est = FixedProba(PROBA)
    X = np.column_stack([np.arange(4.0), np.ones(4)])  # first column: PROBA row
    ctx = QueryContext(density_sum=np.array([0.0, 3.0]), density_count=3)
    density = 1.0 / np.sqrt(np.arange(4.0) ** 2 + 1.0)  # cos to (0, 1)
    uncertainty = np.array([0.0, 1.0, 1.0, 0.5])  # 1 - (p1 - p2)
    assert_allclose(Margin()._uncertainty(est, X, ctx), uncertainty, atol=1e-15)
    scores = InformationDensity("margin").score(est, X, ctx)
    assert_allclose(scores, uncertainty * density, atol=1e-15)
    scores = InformationDensity(Margin(), beta=2.0).score(est, X, ctx)
    assert_allclose(scores, uncertainty * density**2, atol=1e-15)


def test_information_density_errors(multiclass_lr, data):
    X, _ = data
    with pytest.raises(ValueError, match="density_sum"):
        InformationDensity().score(multiclass_lr, X, QueryContext())
    empty_pool = QueryContext(density_sum=np.zeros(X.shape[1]), density_count=0)
    assert_array_equal(InformationDensity().score(multiclass_lr, X, empty_pool), 0.0)
    with pytest.raises(TypeError, match="KCenterGreedy"):
        InformationDensity("kcenter").check_estimator(multiclass_lr)
    with pytest.raises(TypeError, match="InformationDensity"):
        InformationDensity(InformationDensity()).check_estimator(multiclass_lr)
    with pytest.raises(ValueError, match="base_strategy='nope'"):
        InformationDensity("nope").check_estimator(multiclass_lr)
    with pytest.raises(ValueError, match="beta"):
        InformationDensity(beta=-1.0).check_estimator(multiclass_lr)
    InformationDensity("random").check_estimator(None)


def test_information_density_does_not_modify_its_base():
    base = Margin()
    strategy = InformationDensity(base)
    assert strategy._base() is not base
    assert clone(strategy).get_params()["base_strategy"] is not base


# --- k-center greedy ---------------------------------------------------------


def _naive_kcenter(X, labeled, k, metric):
    def dist(a, b):
        if metric == "cosine":
            return 1.0 - _unit(a) @ _unit(b).T
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)

    chosen = []
    for _ in range(k):
        centers = np.vstack([labeled, X[chosen]]) if chosen else labeled
        d = dist(X, centers).min(axis=1)
        d[chosen] = -np.inf
        chosen.append(int(np.argmax(d)))
    return chosen


def _strategy_kcenter(strategy, X, ctx, k):
    scores = strategy.score(None, X, ctx)
    alive = np.ones(len(X), dtype=bool)
    chosen = []
    for _ in range(k):
        best = int(np.argmax(np.where(alive, scores, -np.inf)))
        chosen.append(best)
        alive[best] = False
        scores = strategy.update_scores(scores, X, X[best], ctx)
    return chosen


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("block", [3, 2048])
def test_kcenter_greedy_matches_naive(metric, block, monkeypatch):
    monkeypatch.setattr(_diversity, "_BLOCK", block)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    labeled = rng.normal(size=(7, 3))
    ctx = QueryContext(labeled_X=labeled)
    strategy = KCenterGreedy(metric=metric)
    expected = _naive_kcenter(X, labeled, 15, metric)
    assert _strategy_kcenter(strategy, X, ctx, 15) == expected
    naive_d = (
        np.linalg.norm(X[:, None] - labeled[None], axis=2).min(axis=1)
        if metric == "euclidean"
        else (1.0 - _unit(X) @ _unit(labeled).T).min(axis=1)
    )
    assert_allclose(strategy.score(None, X, ctx), naive_d, atol=1e-10)


def test_kcenter_empty_labeled_and_update():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    for labeled in (None, np.empty((0, 2))):
        scores = KCenterGreedy().score(None, X, QueryContext(labeled_X=labeled))
        assert np.all(np.isinf(scores))
    before = scores.copy()
    updated = KCenterGreedy().update_scores(scores, X, X[0], QueryContext())
    assert_allclose(updated, [0.0, 1.0, 5.0])
    assert_array_equal(scores, before)  # not modified in place
    with pytest.raises(ValueError, match="metric"):
        KCenterGreedy(metric="manhattan").score(None, X, QueryContext())


# --- decision_function fallbacks ---------------------------------------------


@pytest.fixture(scope="module")
def binary_svc(data):
    X, y = data
    return LinearSVC().fit(X, (y == 2).astype(int))


@pytest.mark.parametrize(
    "strategy", [MaxEntropy(), Margin(), LeastConfidence(), MostLikelyPositive()]
)
def test_binary_decision_function_ranks_like_probabilities(strategy, binary_svc, data):
    X, _ = data
    ctx = QueryContext()
    f = binary_svc.decision_function(X)
    assert np.abs(f).max() < 30  # sigmoid does not saturate into ties
    from_decision = strategy.score(binary_svc, X, ctx)
    from_proba = strategy.score(ProbaFromDecision(binary_svc), X, ctx)
    assert_array_equal(np.argsort(from_decision), np.argsort(from_proba))
    # ... and InformationDensity's uncertainty too.
    u = strategy._uncertainty(binary_svc, X, ctx)
    assert np.all(u >= 0)
    assert_array_equal(np.argsort(u), np.argsort(from_proba))


def test_binary_decision_function_values(binary_svc, data):
    X, _ = data
    f, ctx = binary_svc.decision_function(X), QueryContext()
    assert_allclose(MaxEntropy().score(binary_svc, X, ctx), -np.abs(f))
    assert_allclose(MostLikelyPositive().score(binary_svc, X, ctx), f)
    assert_allclose(MostLikelyPositive(pos_label=0).score(binary_svc, X, ctx), -f)


def test_multiclass_decision_function_margin(data):
    X, y = data
    svc = LinearSVC().fit(X, y)
    f = np.sort(svc.decision_function(X), axis=1)
    gap = f[:, -1] - f[:, -2]
    assert_allclose(Margin().score(svc, X, QueryContext()), -gap)
    assert_allclose(LeastConfidence().score(svc, X, QueryContext()), -gap)
    Margin().check_estimator(svc)


# --- check_estimator ---------------------------------------------------------


def test_check_estimator_rejects_multiclass_decision_function(data):
    X, y = data
    svc = LinearSVC().fit(X, y)
    for strategy in (MaxEntropy(), MostLikelyPositive(pos_label=2), Adaptive(2)):
        name = type(strategy).__name__
        with pytest.raises(TypeError, match=rf"{name} needs .* 3 classes"):
            strategy.check_estimator(svc)
        with pytest.raises(TypeError, match=name):
            strategy.score(svc, X, QueryContext(n_positive=1, n_negative=1))
    # An unfitted estimator is checked against the classes it will be fitted on.
    with pytest.raises(TypeError, match="SVC"):
        MaxEntropy().check_estimator(SVC(), classes=[0, 1, 2])
    MaxEntropy().check_estimator(SVC(), classes=[0, 1])
    MaxEntropy().check_estimator(SVC(probability=True), classes=[0, 1, 2])
    InformationDensity("margin").check_estimator(svc)
    with pytest.raises(TypeError, match="MaxEntropy"):
        InformationDensity("entropy").check_estimator(svc)


def test_check_estimator_rejects_estimator_without_outputs(data):
    X, y = data
    ridge = Ridge().fit(X, y)
    for strategy in (MaxEntropy(), Margin(), LeastConfidence(), MostLikelyPositive()):
        with pytest.raises(TypeError, match="neither"):
            strategy.check_estimator(ridge)


def test_check_estimator_pos_label(multiclass_lr, data):
    X, _ = data
    with pytest.raises(ValueError, match="pos_label=7"):
        MostLikelyPositive(pos_label=7).check_estimator(multiclass_lr)
    with pytest.raises(ValueError, match="pos_label=7"):
        MostLikelyPositive().score(multiclass_lr, X, QueryContext(pos_label=7))
    MostLikelyPositive(pos_label=1).check_estimator(multiclass_lr)
    Adaptive(pos_label=1).check_estimator(multiclass_lr)


# --- make_strategy -----------------------------------------------------------


@pytest.mark.parametrize("alias", sorted(STRATEGY_ALIASES))
def test_make_strategy_aliases(alias):
    strategy = make_strategy(alias)
    assert type(strategy) is STRATEGY_ALIASES[alias]
    assert isinstance(strategy, BaseQueryStrategy)
    assert make_strategy(alias) is not strategy


def test_make_strategy_aliases_are_complete():
    assert set(STRATEGY_ALIASES) == {
        "entropy",
        "margin",
        "least_confidence",
        "most_likely_positive",
        "information_density",
        "random",
        "kcenter",
        "adaptive",
        "query_anywhere",
    }


@pytest.mark.parametrize("strategy", all_strategies(), ids=STRATEGY_IDS)
def test_make_strategy_clones(strategy):
    made = make_strategy(strategy)
    assert made is not strategy and type(made) is type(strategy)
    assert repr(made) == repr(strategy)
    assert repr(pickle.loads(pickle.dumps(made))) == repr(made)


def test_make_strategy_errors():
    with pytest.raises(ValueError, match=r"query_strategy='entropyy'.*'margin'"):
        make_strategy("entropyy")
    with pytest.raises(TypeError, match=r"query_strategy.*Margin\(\)"):
        make_strategy(Margin)
    for bad in (3, None, LogisticRegression()):
        with pytest.raises(TypeError, match="query_strategy"):
            make_strategy(bad)


# --- adaptive ----------------------------------------------------------------


@pytest.mark.parametrize(
    "n_pos, n_neg, searching",
    [(0, 1, True), (4, 5, True), (5, 5, False), (6, 5, False)],
)
def test_adaptive_switches_at_equal_counts(
    n_pos, n_neg, searching, multiclass_lr, data
):
    X, _ = data
    ctx = QueryContext(pos_label=2, n_positive=n_pos, n_negative=n_neg)
    scores = Adaptive().score(multiclass_lr, X, ctx)
    expected = (MostLikelyPositive() if searching else Margin()).score(
        multiclass_lr, X, ctx
    )
    assert_array_equal(scores, expected)


# --- purity: no refit, no mutation, no global randomness ---------------------


def _global_state_equal(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("strategy", all_strategies(), ids=STRATEGY_IDS)
def test_strategies_are_pure(strategy, data, multiclass_lr, context):
    X, _ = data
    X_before = X.copy()
    coef, intercept = multiclass_lr.coef_.copy(), multiclass_lr.intercept_.copy()
    keys = set(vars(multiclass_lr))
    ctx_before = pickle.dumps(context)
    params = strategy.get_params()
    np.random.seed(123)  # noqa: NPY002 (the legacy global state is the point)
    state = np.random.get_state()  # noqa: NPY002
    strategy.check_estimator(multiclass_lr)
    scores = strategy.score(multiclass_lr, X, context)
    if strategy.sequential:
        strategy.update_scores(scores, X, X[0], context)
    assert _global_state_equal(state, np.random.get_state())  # noqa: NPY002
    assert_array_equal(multiclass_lr.coef_, coef)
    assert_array_equal(multiclass_lr.intercept_, intercept)
    assert set(vars(multiclass_lr)) == keys
    assert_array_equal(X, X_before)
    assert pickle.dumps(context) == ctx_before
    assert strategy.get_params() == params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_logistic_fast_path_gives_predict_proba(dtype):
    from sklearn.linear_model import LogisticRegression

    from skseals.query._uncertainty import _binary_logit

    def _binary_logistic_proba(clf, X):
        z = _binary_logit(clf, X)
        return None if z is None else np.column_stack([expit(-z), expit(z)])

    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 16)).astype(dtype)
    clf = LogisticRegression().fit(X[:300], (X[:300, 0] > 0).astype(int))
    fast = _binary_logistic_proba(clf, X)
    np.testing.assert_allclose(fast, clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    ctx = QueryContext()
    expected = scipy_entropy(clf.predict_proba(X).astype(np.float64), axis=1)
    np.testing.assert_allclose(
        MaxEntropy().score(clf, X, ctx), expected, rtol=1e-5, atol=1e-6
    )
    # The other strategies' scores from the decision values equal those from
    # predict_proba, as does the search strategy's p(positive).
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(
        Margin().score(clf, X, ctx), -np.abs(proba[:, 1] - proba[:, 0]), atol=1e-6
    )
    np.testing.assert_allclose(
        LeastConfidence().score(clf, X, ctx), 1.0 - proba.max(axis=1), atol=1e-6
    )
    np.testing.assert_allclose(
        MostLikelyPositive().score(clf, X, ctx), proba[:, 1], atol=1e-6
    )
    # At the boundary the entropy is log 2, and saturated rows score 0, not NaN.
    far = np.zeros((3, X.shape[1]), dtype=dtype)
    far[1] = 1e4 * clf.coef_[0]
    far[2] = -1e4 * clf.coef_[0]
    h = MaxEntropy().score(clf, far, ctx)
    assert np.isfinite(h).all() and h[1] == 0.0 and h[2] == 0.0

    class Tempered(LogisticRegression):  # may override predict_proba
        pass

    three = LogisticRegression().fit(X[:300], np.arange(300) % 3)
    assert _binary_logistic_proba(Tempered().fit(X[:300], X[:300, 0] > 0), X) is None
    assert _binary_logistic_proba(three, X) is None
    assert _binary_logistic_proba(clf, X.tolist()) is None


def test_query_anywhere_follows_set_params():
    # The base strategy is resolved from the parameter each time, never a
    # copy kept from an earlier call.
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    X = np.array([[1.5], [0.2], [2.9]])
    strategy = QueryAnywhere("margin")
    assert_array_equal(
        strategy.score(clf, X, QueryContext()), Margin().score(clf, X, QueryContext())
    )
    strategy.set_params(base_strategy="entropy")
    assert_array_equal(
        strategy.score(clf, X, QueryContext()),
        MaxEntropy().score(clf, X, QueryContext()),
    )
    with pytest.raises(TypeError, match="another QueryAnywhere"):
        QueryAnywhere(QueryAnywhere()).check_params()


@pytest.mark.parametrize("index", ["exact", "hnswlib", "annoy"])
def test_query_anywhere_without_a_decision_boundary_searches_nowhere(index):
    """Every coefficient 0 (strong L1): the projection is NaN. The round adds
    no rows around it (an index would return arbitrary rows for a NaN point)
    and still picks; add_near itself refuses points that are not finite."""
    from skseals import UNLABELED, ActiveLearner
    from skseals.pool import KNNPool

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = np.full(300, UNLABELED)
    y[:6] = [0, 1, 0, 1, 0, 1]
    est = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=1e-3)
    lr = ActiveLearner(
        est, query_strategy="query_anywhere", pool=KNNPool(5, index=index),
        batch_size=3, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert not lr.estimator_.coef_.any()
    joined = []
    add_near = lr.pool_.add_near
    lr.pool_.add_near = lambda *a: joined.append(add_near(*a)) or joined[-1]
    picks = lr.query()
    assert picks.size == 3 and not joined  # no search around the NaN point
    for bad in (np.nan, np.inf, 1e39):  # 1e39 overflows float32
        with pytest.raises(ValueError, match="`vectors` holds values that are not"):
            add_near(np.full((1, 4), bad))


def test_a_batch_size_beyond_int64_returns_every_candidate():
    from skseals import UNLABELED, ActiveLearner

    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    y = np.full(50, UNLABELED)
    y[:4] = [0, 1, 0, 1]
    for pool in ("full", "knn"):
        lr = ActiveLearner(pool=pool, random_state=0).fit(X, y)
        picks = lr.query(2**63)
        assert sorted(picks.tolist()) == sorted(set(picks.tolist()))
        if pool == "full":
            assert picks.size == 46
