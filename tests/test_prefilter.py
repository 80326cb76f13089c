"""Rows a round cannot pick are left unscored: int8 bounds on |z|, same picks."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, SGDClassifier

import skseals._querying as querying_module
from skseals import ActiveLearner
from skseals._prefilter import prefiltered
from skseals.base import QueryContext
from skseals.datasets import make_rare_concepts
from skseals.neighbors import KNNGraph
from skseals.pool import KNNPool
from skseals.query import (
    InformationDensity,
    LeastConfidence,
    Margin,
    MaxEntropy,
    MostLikelyPositive,
)

kernels = pytest.importorskip("skseals.pool._int8_kernels")  # needs numba


def _rows(rng, m, d, dtype):
    """Rows of very different scales, a zero row and a one-hot row among them."""
    X = rng.normal(size=(m, d)) * 10.0 ** rng.uniform(-3, 3, size=(m, 1))
    X[0] = 0.0
    X[1] = 0.0
    X[1, 0] = 5.0
    return X.astype(dtype)


def _model_z(X, w, b):
    """|z| as the learner scores a binary LogisticRegression (in X's dtype)."""
    return np.abs(np.asarray(X @ w.astype(X.dtype), dtype=np.float64) + b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 7, 128, 384, 5000])
def test_codes_bound_the_model_decision_value(dtype, d):
    rng = np.random.default_rng(d)
    X = _rows(rng, 400, d, dtype)
    codes, scales, slack, norms = kernels.int8_codes(X)
    np.testing.assert_allclose(norms, np.linalg.norm(X.astype(np.float64), axis=1))
    assert codes.dtype == np.int8 and np.abs(codes).max() <= 127
    residual = np.linalg.norm(X - scales[:, None].astype(np.float64) * codes, axis=1)
    assert np.all(residual <= slack)
    for _ in range(5):
        w = rng.normal(size=d) * 10.0 ** rng.uniform(-2, 3)
        w[rng.random(d) < 0.2] = 0.0
        b = float(rng.normal() * 5)
        lo, hi = kernels.abs_z_bounds(codes, scales, slack, w, b)
        z = _model_z(X, w, b)
        assert np.all(lo <= z) and np.all(z <= hi)
        # No wider than the codes' slack (the kernel adds rounding only).
        width = (hi - lo) / (2 * np.linalg.norm(w) * (1 + 1e-5))
        assert np.all(width <= slack + 1e-9 * (1 + hi))
    if d in (7, 128):  # the slack is the codes' residual, rounding aside
        assert np.median(slack[2:] / residual[2:]) < 1.1
    assert slack[0] == 0.0  # an exact code: rounding only
    assert slack[1] < (5e-3 if d <= 384 else 0.1)


def test_zero_weights_give_the_intercept():
    X = _rows(np.random.default_rng(2), 50, 8, np.float32)
    codes, scales, slack, _ = kernels.int8_codes(X)
    lo, hi = kernels.abs_z_bounds(codes, scales, slack, np.zeros(8), -1.5)
    np.testing.assert_allclose(lo, 1.5, rtol=1e-9)
    np.testing.assert_allclose(hi, 1.5, rtol=1e-9)


def test_a_row_that_is_not_finite_has_no_bound():
    X = np.ones((4, 3), dtype=np.float32)
    X[1, 2] = np.nan
    X[2, 0] = np.inf
    codes, scales, slack, norms = kernels.int8_codes(X)
    assert np.isnan(scales[[1, 2]]).all() and np.isnan(slack[[1, 2]]).all()
    assert np.isnan(norms[[1, 2]]).all()
    assert np.isfinite(slack[[0, 3]]).all()
    assert (codes[[1, 2]] == 0).all()
    lo, hi = kernels.abs_z_bounds(codes, scales, slack, np.ones(3), 0.0)
    assert np.isnan(lo[[1, 2]]).all() and np.isnan(hi[[1, 2]]).all()
    assert np.isfinite(lo[[0, 3]]).all()


class _Pool:
    """A pool's row cache, as ``prefiltered`` reads it."""

    def __init__(self, block):
        self.codes = kernels.int8_codes(block)

    def block_codes(self):
        return self.codes


def _fitted(rng, m=4000, d=32):
    X = rng.normal(size=(m, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = (X[:, 0] + 0.3 * rng.normal(size=m) > 0.8).astype(int)
    return X, LogisticRegression(C=100.0).fit(X, y), y


def _context(X):
    """A round's density context for a pool holding the rows of ``X``."""
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    return QueryContext(density_sum=unit.sum(axis=0), density_count=len(X))


STRATEGIES = [
    MaxEntropy(),
    Margin(),
    LeastConfidence(),
    InformationDensity(),
    InformationDensity("margin", beta=2.0),
    InformationDensity("least_confidence", beta=0.5),
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_every_row_that_can_be_picked_is_kept(strategy):
    rng = np.random.default_rng(4)
    X, clf, _ = _fitted(rng)
    X[:2000, 1] += 0.5  # a dense region, for density to matter
    z = X @ clf.coef_[0].astype(np.float32)
    band = np.flatnonzero(np.abs(z + clf.intercept_[0]) < 0.5)
    X[band[:40]] = X[band[0]]  # exact ties (duplicates) near the top
    available = rng.random(len(X)) > 0.2
    ctx = _context(X)
    scores = strategy.score(clf, X, ctx)
    best = np.sort(scores[available])[::-1]
    batch = 100
    can_be_picked = available & (scores >= best[batch - 1])
    keep = prefiltered(strategy, clf, _Pool(X), X, available, batch, ctx)
    assert keep is not None
    assert np.all(available[keep]), "an unavailable row was kept"
    assert set(np.flatnonzero(can_be_picked)) <= set(keep.tolist())
    assert keep.size < len(X) // 4  # most rows are left unscored
    assert np.array_equal(keep, np.sort(keep))


def test_rows_that_are_not_finite_are_dropped_or_nothing_is_filtered():
    rng = np.random.default_rng(5)
    X, clf, _ = _fitted(rng, m=300)
    X[:250, 3] = np.nan  # as a row read from a memory-mapped X may be
    keep = prefiltered(MaxEntropy(), clf, _Pool(X), X, None, 20, None)
    assert keep is not None and keep.min() >= 250
    # Fewer than a batch of finite rows: every row is scored (NaN ranks last).
    assert prefiltered(MaxEntropy(), clf, _Pool(X), X, None, 60, None) is None


@pytest.mark.parametrize(
    "case",
    [
        "density_of_most_likely_positive",
        "most_likely_positive",
        "other_estimator",
        "subclass",
        "small_block",
        "confident_model",
        "density_all_zero",
        "empty_pool_density",
        "no_codes",
        "no_numba",
        "float16",
    ],
)
def test_what_is_not_filtered(case, monkeypatch):
    rng = np.random.default_rng(6)
    X, clf, y = _fitted(rng, m=1000)
    strategy, pool, batch, ctx = InformationDensity(), _Pool(X), 100, _context(X)
    assert prefiltered(strategy, clf, pool, X, None, batch, ctx) is not None
    if case == "density_of_most_likely_positive":
        strategy = InformationDensity("most_likely_positive")
    elif case == "most_likely_positive":
        strategy = MostLikelyPositive()
    elif case == "other_estimator":
        clf = SGDClassifier(random_state=0).fit(X, y)
    elif case == "subclass":

        class Shifted(LogisticRegression):
            def decision_function(self, X):
                return super().decision_function(X) + 3.0

        clf = Shifted(C=100.0).fit(X, y)
    elif case == "small_block":
        batch = 501
    elif case == "confident_model":  # every |z| far beyond where scores tie
        strategy = MaxEntropy()
        clf.coef_ = clf.coef_ * 1000.0
        clf.intercept_ = clf.intercept_ * 0.0 + 100.0
    elif case == "density_all_zero":  # every score is 0: all tie
        X = X.copy()
        X[:, 0] = np.abs(X[:, 0]) + 0.1  # every row's density is below 0
        ctx = QueryContext(density_sum=-np.eye(X.shape[1])[0], density_count=1)
        pool = _Pool(X)
    elif case == "empty_pool_density":
        ctx = QueryContext(density_sum=np.zeros(X.shape[1]), density_count=0)
    elif case == "no_codes":
        pool.codes = None
    elif case == "no_numba":
        import skseals._prefilter as prefilter_module

        monkeypatch.setattr(prefilter_module, "compiled", lambda name: None)
    elif case == "float16":  # numba has no float16 arrays
        X = X.astype(np.float16)
    assert prefiltered(strategy, clf, pool, X, None, batch, ctx) is None


def _run(X, truth, seed_rows, strategy, index, rounds=12):
    y = np.full(len(X), -1)
    y[seed_rows] = truth[seed_rows]
    lr = ActiveLearner(
        LogisticRegression(C=10.0),
        query_strategy=strategy,
        pool=KNNPool(n_neighbors=20, index=index),
        batch_size=25,
        random_state=0,
    ).fit(X, y)
    picks = []
    for r in range(rounds):
        picks.append(lr.query().tolist())
        labels = truth[picks[-1]]
        if r % 3 == 1:  # a skip, and a release, leave unavailable rows cached
            labels[0] = -1
        lr.teach(picks[-1], labels)
        if r % 4 == 2:
            lr.release(lr.query(5)[:3])
    return picks


@pytest.mark.parametrize(
    "strategy",
    [
        "entropy",
        "margin",
        "least_confidence",
        "information_density",
        InformationDensity("margin", beta=2.0),
    ],
    ids=str,
)
@pytest.mark.parametrize("graph", [False, True])
def test_a_learning_run_picks_what_scoring_every_row_picks(
    strategy, graph, monkeypatch
):
    data = make_rare_concepts(20000, 16, n_concepts=2, prevalence=0.01, random_state=1)
    X = data.X
    truth = np.zeros(len(X), dtype=int)
    truth[data.concepts[0]] = 1
    rng = np.random.default_rng(0)
    seed_rows = np.r_[
        rng.choice(data.concepts[0], 5, replace=False),
        rng.choice(np.flatnonzero(truth == 0), 45, replace=False),
    ]
    index = KNNGraph(n_neighbors=20, index="exact").fit(X) if graph else "exact"

    filtered = []

    def spy(*args):
        keep = prefiltered(*args)
        filtered.append(None if keep is None else (keep.size, args[3].shape[0]))
        return keep

    monkeypatch.setattr(querying_module, "prefiltered", spy)
    with_filter = _run(X, truth, seed_rows, strategy, index)
    kept = [f for f in filtered if f is not None]
    assert len(kept) >= 10, "the filter did not run"
    assert sum(k for k, _ in kept) < 0.5 * sum(m for _, m in kept)
    monkeypatch.setattr(querying_module, "prefiltered", lambda *args: None)
    assert _run(X, truth, seed_rows, strategy, index) == with_filter


@pytest.mark.parametrize(
    "strategy", ["entropy", "information_density", "most_likely_positive"]
)
def test_codes_are_kept_only_for_learners_that_use_them(strategy):
    X = np.random.default_rng(7).normal(size=(3000, 8)).astype(np.float32)
    y = np.full(len(X), -1)
    y[:10] = [0, 1] * 5
    lr = ActiveLearner(
        query_strategy=strategy,
        pool=KNNPool(n_neighbors=10, index="exact"),
        batch_size=10,
        random_state=0,
    ).fit(X, y)
    buffer = lr.pool_._buffer
    codes, norms = buffer._codes, buffer._norms
    for r in range(4):
        if strategy != "most_likely_positive":
            # Coded in fit() and teach(), for the next round: a first round
            # after fit() codes no row either.
            assert codes.in_use and codes._n == len(buffer) > 0, r
        else:
            assert not codes.in_use and codes.nbytes == 0
        # Information density's norms too (and only its).
        assert norms.in_use == (strategy == "information_density")
        assert not norms.in_use or norms._n == len(buffer)
        picks = lr.query()
        lr.teach(picks, (X[picks, 0] > 0).astype(int))


def test_a_failure_to_code_rows_in_teach_keeps_the_labels(monkeypatch):
    X = np.random.default_rng(8).normal(size=(2000, 8)).astype(np.float32)
    y = np.full(len(X), -1)
    y[:10] = [0, 1] * 5
    lr = ActiveLearner(
        pool=KNNPool(n_neighbors=10, index="exact"), batch_size=10, random_state=0
    ).fit(X, y)
    picks = lr.query()

    def no_memory(*args):
        raise MemoryError("injected")

    monkeypatch.setattr(type(lr.pool_._buffer), "codes", no_memory)
    lr.teach(picks, (X[picks, 0] > 0).astype(int))  # does not raise
    assert np.all(lr.labels_[picks] != -1)
    with pytest.raises(MemoryError, match="injected"):  # the round needs them
        lr.query()
    monkeypatch.undo()
    assert lr.query().shape == (10,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [3, 7, 128])
def test_a_row_scores_the_same_in_any_block(dtype, d):
    # BLAS's matrix-vector product rounds a row's last bit by the rows around
    # it; the filter scores a subset of the block, so a row's score must not.
    rng = np.random.default_rng(d)
    X = rng.normal(size=(3000, d)).astype(dtype)
    clf = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    ctx = _context(X)
    for strategy in (MaxEntropy(), InformationDensity("margin")):
        full = strategy.score(clf, X, ctx)
        for _ in range(20):
            rows = np.sort(rng.choice(len(X), rng.integers(1, 300), replace=False))
            np.testing.assert_array_equal(strategy.score(clf, X[rows], ctx), full[rows])


def test_duplicate_rows_tie_and_pick_alike_with_and_without_the_filter(monkeypatch):
    rng = np.random.default_rng(1)
    prototypes = rng.normal(size=(300, 7)).astype(np.float32)
    X = prototypes[rng.integers(0, 300, size=6000)]  # every row 20 times over
    truth = (X[:, 0] + 0.5 * X[:, 1] > 0.8).astype(int)
    seed_rows = np.r_[np.flatnonzero(truth == 1)[:5], np.flatnonzero(truth == 0)[:15]]
    for strategy in ("entropy", "information_density"):
        with_filter = _run(X, truth, seed_rows, strategy, "exact", rounds=6)
        with monkeypatch.context() as m:
            m.setattr(querying_module, "prefiltered", lambda *args: None)
            assert _run(X, truth, seed_rows, strategy, "exact", rounds=6) == with_filter


def test_rows_too_large_to_code_are_not_lost():
    X = np.random.default_rng(8).normal(size=(400, 4))
    X[0] = [1e50, -1e50, 0.0, 0.0]  # finite, but no float32 scale codes it
    clf = LogisticRegression().fit(X[1:], (X[1:, 0] > 0).astype(int))
    clf.coef_[0] = [1.0, 1.0, 0.5, 0.5]  # z = b for row 0: the most uncertain
    clf.intercept_[0] = 0.0
    codes = kernels.int8_codes(X)
    assert codes[1][0] == np.inf and codes[2][0] == np.inf
    keep = prefiltered(MaxEntropy(), clf, _Pool(X), X, None, 10, None)
    assert keep is None or 0 in keep


def test_a_density_the_model_computes_as_0_is_not_bounded_above_it():
    # float32 rows beyond 1e19 have a float32 norm of inf: density 0.
    X = np.ones((300, 2), dtype=np.float32)
    X[0] = [1e20, 0.0]
    X[1:] += np.random.default_rng(9).normal(size=(299, 2)).astype(np.float32) * 0.1
    clf = LogisticRegression().fit(X[1:], (X[1:, 0] > 1).astype(int))
    clf.coef_[0] = [1e-30, 1e-30]
    ctx = QueryContext(density_sum=np.array([1.0, 0.0]), density_count=1)
    strategy = InformationDensity()
    scores = strategy.score(clf, X, ctx)
    assert scores[0] == 0.0
    keep = prefiltered(strategy, clf, _Pool(X), X, None, 1, ctx)
    assert keep is None or np.argmax(scores) in keep


@pytest.mark.parametrize("scale", [1e-46, 1e-40, 1e39])
def test_coefficients_float32_cannot_hold_turn_the_filter_off(scale):
    X = np.random.default_rng(10).normal(size=(400, 8)).astype(np.float32)
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    assert prefiltered(MaxEntropy(), clf, _Pool(X), X, None, 10, None) is not None
    clf.coef_ = clf.coef_.astype(np.float64)  # (fitted on float32: float32)
    clf.coef_[0, 3] = scale
    assert prefiltered(MaxEntropy(), clf, _Pool(X), X, None, 10, None) is None
    X64 = X.astype(np.float64)  # float64 rows are scored with float64 weights
    if scale < 1e-38:
        assert (
            prefiltered(MaxEntropy(), clf, _Pool(X64), X64, None, 10, None) is not None
        )
