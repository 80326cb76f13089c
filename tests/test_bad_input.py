"""Bad input gets a clear error naming the parameter, and changes nothing."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.pool import KNNPool


def _data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    y_true = (X[:, 0] > 0.8).astype(int)
    y = np.full(n, UNLABELED)
    y[np.flatnonzero(y_true)[:3]] = 1
    y[np.flatnonzero(y_true == 0)[:7]] = 0
    return X, y, y_true


def _fitted(cls=ActiveLearner, **params):
    X, y, y_true = _data()
    params.setdefault("pool", KNNPool(10, index="exact"))
    learner = cls(batch_size=4, random_state=0, **params).fit(X, y)
    rows = learner.query()
    learner.teach(rows, y_true[rows])
    learner.query()  # leave pending rows
    return learner


def _state(learner):
    return (
        learner.labels_.copy(),
        learner.pending_indices_.copy(),
        learner.candidate_indices().copy(),
        learner.skipped_.copy(),
        learner.random_state_.get_state()[1].copy(),
        learner.random_state_.get_state()[2],
        len(learner.history_),
        learner.estimator_.coef_.copy(),
        learner.classes_.copy(),
    )


def _assert_same(a, b):
    for x, y in zip(a, b, strict=False):
        np.testing.assert_array_equal(x, y)


def _labeled(learner):
    return np.flatnonzero(learner.labels_ != UNLABELED)


def _free(learner, n=2):
    taken = set(_labeled(learner)) | set(learner.pending_indices_)
    return np.array([i for i in range(len(learner.X_)) if i not in taken][:n])


# (id, make the learner, action, exception, message fragment)
ON_FITTED = [
    ("query-batch-zero", lambda lr: lr.query(0), ValueError, "batch_size"),
    ("query-batch-negative", lambda lr: lr.query(-3), ValueError, "batch_size"),
    ("query-batch-float", lambda lr: lr.query(2.5), TypeError, "batch_size"),
    ("query-batch-str", lambda lr: lr.query("10"), TypeError, "batch_size"),
    ("teach-out-of-range", lambda lr: lr.teach([10_000], [0]), ValueError, "indices"),
    ("teach-negative-index", lambda lr: lr.teach([-1], [0]), ValueError, "indices"),
    ("teach-float-index", lambda lr: lr.teach([1.5], [0]), TypeError, "indices"),
    ("teach-str-index", lambda lr: lr.teach(["a"], [0]), TypeError, "indices"),
    ("teach-bool-index", lambda lr: lr.teach([True], [0]), TypeError, "indices"),
    ("teach-2d-index", lambda lr: lr.teach([[1, 2]], [0, 1]), ValueError, "indices"),
    (
        "teach-duplicate",
        lambda lr: lr.teach(np.r_[_free(lr, 1), _free(lr, 1)], [0, 1]),
        ValueError,
        "duplicates",
    ),
    (
        "teach-already-labeled",
        lambda lr: lr.teach(_labeled(lr)[:1], [0]),
        ValueError,
        "already labeled",
    ),
    (
        "teach-length-mismatch",
        lambda lr: lr.teach(_free(lr, 2), [0]),
        ValueError,
        "one label per index",
    ),
    (
        "teach-string-label",
        lambda lr: lr.teach(_free(lr, 2), [0, "cat"]),
        TypeError,
        "labels",
    ),
    ("teach-nan-label", lambda lr: lr.teach(_free(lr, 1), [np.nan]), ValueError, "NaN"),
    (
        "teach-none-label",
        lambda lr: lr.teach(_free(lr, 1), [None]),
        TypeError,
        "labels",
    ),
    (
        "teach-partly-bad",
        lambda lr: lr.teach(_free(lr, 3), [0, 1, np.nan]),
        ValueError,
        "NaN",
    ),
]

ON_SEARCHER = [
    (
        "searcher-label-outside",
        lambda lr: lr.teach(_free(lr, 2), [1, 2]),
        ValueError,
        "pos_label or neg_label",
    ),
    (
        "searcher-string-label",
        lambda lr: lr.teach(_free(lr, 1), ["1"]),
        TypeError,
        "labels",
    ),
]


@pytest.mark.parametrize("case", ON_FITTED + ON_SEARCHER, ids=lambda c: c[0])
def test_bad_call_raises_and_leaves_learner_unchanged(case):
    name, action, exc, fragment = case
    cls = ActiveSearcher if name.startswith("searcher") else ActiveLearner
    learner = _fitted(cls)
    before = _state(learner)
    with pytest.raises(exc, match=fragment):
        action(learner)
    _assert_same(before, _state(learner))
    # ... and the learner still works afterwards.
    assert len(learner.query(2)) == 2


X0, Y0, _ = _data()
BAD_FIT = [
    (
        "X-nan",
        {},
        np.where(np.eye(120, 4, dtype=bool), np.nan, X0),
        Y0,
        ValueError,
        "NaN",
    ),
    (
        "X-inf",
        {},
        np.where(np.eye(120, 4, dtype=bool), np.inf, X0),
        Y0,
        ValueError,
        "infinity",
    ),
    ("X-1d", {}, X0[:, 0], Y0, ValueError, "2D array"),
    ("X-3d", {}, X0[:, :, None], Y0, ValueError, "dim"),
    ("y-wrong-length", {}, X0, Y0[:-1], ValueError, "inconsistent numbers"),
    (
        "y-nothing-labeled",
        {},
        X0,
        np.full(120, UNLABELED),
        ValueError,
        "no labeled row",
    ),
    (
        "y-string-dtype",
        {},
        X0,
        np.where(Y0 == 1, "a", "-1"),
        ValueError,
        "dtype=object",
    ),
    ("y-nan", {}, X0, np.where(Y0 == 1, np.nan, Y0).astype(float), ValueError, "NaN"),
    ("batch-size-zero", {"batch_size": 0}, X0, Y0, ValueError, "batch_size"),
    (
        "n-neighbors-zero",
        {"pool": KNNPool(n_neighbors=0)},
        X0,
        Y0,
        ValueError,
        "n_neighbors",
    ),
    (
        "unknown-strategy",
        {"query_strategy": "entropyy"},
        X0,
        Y0,
        ValueError,
        "query_strategy",
    ),
    (
        "strategy-class-not-instance",
        {"query_strategy": int},
        X0,
        Y0,
        (TypeError, ValueError),
        "query_strategy",
    ),
    ("unknown-pool", {"pool": "knnn"}, X0, Y0, ValueError, "pool"),
    ("unknown-index", {"pool": KNNPool(index="faisss")}, X0, Y0, ValueError, "index"),
    (
        "unknown-metric",
        {"pool": KNNPool(metric="manhattan")},
        X0,
        Y0,
        ValueError,
        "metric",
    ),
    (
        "estimator-without-fit",
        {"estimator": object()},
        X0,
        Y0,
        (TypeError, ValueError),
        "estimator",
    ),
    (
        "strategy-needs-proba",
        {"estimator": LinearSVC(), "query_strategy": "entropy"},
        X0,
        np.r_[np.arange(3), np.full(117, UNLABELED)],
        TypeError,
        "predict_proba",
    ),
]


@pytest.mark.parametrize("case", BAD_FIT, ids=lambda c: c[0])
def test_bad_fit_raises_naming_the_problem(case):
    _, params, X, y, exc, fragment = case
    with pytest.raises(exc, match=fragment):
        ActiveLearner(**params).fit(X, y)


def test_searcher_fit_errors():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="pos_label / neg_label"):
        ActiveSearcher().fit(X, np.where(y == 1, 2, y))
    with pytest.raises(ValueError, match="no positive"):
        ActiveSearcher().fit(X, np.where(y == 1, 0, y))
    with pytest.raises(ValueError, match="different labels"):
        ActiveSearcher(pos_label=0).fit(X, y)


@pytest.mark.parametrize("method", ["query", "teach", "candidate_indices", "predict"])
def test_not_fitted(method):
    learner = ActiveLearner()
    args = {
        "query": (),
        "teach": ([0], [1]),
        "candidate_indices": (),
        "predict": (np.zeros((1, 4)),),
    }[method]
    with pytest.raises(NotFittedError):
        getattr(learner, method)(*args)


def test_refit_failure_keeps_the_labels():
    """An estimator that fails during teach() loses no human label."""

    class Fragile(LogisticRegression):
        def fit(self, X, y):
            if len(y) > 14:
                raise RuntimeError("out of memory")
            return super().fit(X, y)

    X, y, y_true = _data()
    learner = ActiveLearner(Fragile(), pool="full", batch_size=5, random_state=0).fit(
        X, y
    )
    rows = learner.query()
    with pytest.raises(RuntimeError):
        learner.teach(rows, y_true[rows])
    np.testing.assert_array_equal(learner.labels_[rows], y_true[rows])
