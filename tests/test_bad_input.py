"""Bad input gets a clear error naming the parameter, and changes nothing.

The cases below are the single source of the table in ``docs/bad_inputs.md``:
``test_docs_table_is_current`` fails when the documented messages differ from
what the code raises. Regenerate the table with::

    python tests/test_bad_input.py --write
"""

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC

import skseals
from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.neighbors import ExactIndex
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool
from skseals.query import InformationDensity, KCenterGreedy, MaxEntropy, QueryAnywhere

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"


def _data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    y_true = (X[:, 0] > 0.8).astype(int)
    y = np.full(n, UNLABELED)
    y[np.flatnonzero(y_true)[:3]] = 1
    y[np.flatnonzero(y_true == 0)[:7]] = 0
    return X, y, y_true


def _as_strings(y):
    out = np.full(len(y), UNLABELED, dtype=object)
    out[y == 0], out[y == 1] = "cat", "dog"
    return out


X0, Y0, YT0 = _data()
Y3 = np.r_[np.arange(3), np.full(len(Y0) - 3, UNLABELED)]  # three classes


def _fitted(cls=ActiveLearner, y=Y0, y_true=YT0, **params):
    params.setdefault("pool", KNNPool(10, index="exact"))
    learner = cls(batch_size=4, random_state=0, **params).fit(X0, y)
    rows = learner.query()
    learner.teach(rows, y_true[rows])
    learner.query()  # leave pending rows
    return learner


# what Case.on names: a fitted learner whose state must not change
LEARNERS = {
    "learner": lambda **kw: _fitted(ActiveLearner, **kw),
    "searcher": lambda **kw: _fitted(ActiveSearcher, **kw),
    "int8 learner": lambda **kw: _fitted(y=Y0.astype(np.int8), **kw),
    "float learner": lambda **kw: _fitted(y=Y0.astype(float), **kw),
    "string learner": lambda **kw: _fitted(
        y=_as_strings(Y0), y_true=_as_strings(YT0), **kw
    ),
}


def _state(learner):
    rng = learner.random_state_.get_state()
    return (
        learner.labels_.copy(),
        learner.pending_indices_.copy(),
        learner.candidate_indices().copy(),
        learner.skipped_.copy(),
        rng[1].copy(),
        rng[2],
        len(learner.history_),
        learner.estimator_.coef_.copy(),
        learner.classes_.copy(),
    )


def _labeled(learner):
    return np.flatnonzero(learner.labels_ != UNLABELED)


def _free(learner, n=2):
    taken = set(_labeled(learner)) | set(learner.pending_indices_)
    return np.array([i for i in range(len(learner.X_)) if i not in taken][:n])


def _saved(tmp):
    learner = _fitted(ActiveSearcher)
    learner.save(tmp / "session")
    return learner


def _without_index(tmp):
    index = ExactIndex().fit(X0)
    _fitted(ActiveSearcher, pool=KNNPool(6, index=index)).save(
        tmp / "session", include_index=False
    )
    return skseals.load(tmp / "session", X0)


def _tamper(tmp):
    _saved(tmp)
    arrays = tmp / "session" / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10])
    return skseals.load(tmp / "session", X0)


@dataclass
class Case:
    call: str  # the call as a user would write it (documentation)
    on: str  # a key of LEARNERS (fitted; state must not change) or "new"
    action: object  # (learner or None, tmp path) -> performs the bad call
    error: object  # exception type(s)


N = len(X0)
CASES = [
    # -- fit ------------------------------------------------------------------
    Case(
        "fit(X with NaN, y)",
        "new",
        lambda _, t: ActiveLearner().fit(np.where(np.eye(N, 4) > 0, np.nan, X0), Y0),
        ValueError,
    ),
    Case(
        "fit(X with inf, y)",
        "new",
        lambda _, t: ActiveLearner().fit(np.where(np.eye(N, 4) > 0, np.inf, X0), Y0),
        ValueError,
    ),
    Case(
        "fit(X 1-d, y)",
        "new",
        lambda _, t: ActiveLearner().fit(X0[:, 0], Y0),
        ValueError,
    ),
    Case(
        "fit(X 3-d, y)",
        "new",
        lambda _, t: ActiveLearner().fit(X0[:, :, None], Y0),
        ValueError,
    ),
    Case(
        "fit(X, y one row short)",
        "new",
        lambda _, t: ActiveLearner().fit(X0, Y0[:-1]),
        ValueError,
    ),
    Case(
        "fit(X, y all -1)",
        "new",
        lambda _, t: ActiveLearner().fit(X0, np.full(N, UNLABELED)),
        ValueError,
    ),
    Case(
        "fit(X, y of dtype str)",
        "new",
        lambda _, t: ActiveLearner().fit(X0, np.where(Y0 == 1, "a", "-1")),
        ValueError,
    ),
    Case(
        "fit(X, y with NaN)",
        "new",
        lambda _, t: ActiveLearner().fit(X0, np.where(Y0 == 1, np.nan, Y0)),
        ValueError,
    ),
    Case(
        "fit(X, y continuous)",
        "new",
        lambda _, t: ActiveLearner().fit(X0, np.where(Y0 == 1, 0.5, Y0)),
        ValueError,
    ),
    Case(
        "ActiveSearcher().fit(X, y with a label 2)",
        "new",
        lambda _, t: ActiveSearcher().fit(X0, np.where(Y0 == 1, 2, Y0)),
        ValueError,
    ),
    Case(
        "ActiveSearcher().fit(X, y with classes 0, 1, 2)",
        "new",
        lambda _, t: ActiveSearcher().fit(
            X0, np.r_[np.arange(3), np.full(N - 3, UNLABELED)]
        ),
        ValueError,
    ),
    Case(
        "ActiveSearcher().fit(X, y without a positive)",
        "new",
        lambda _, t: ActiveSearcher().fit(X0, np.where(Y0 == 1, 0, Y0)),
        ValueError,
    ),
    # -- parameters -------------------------------------------------------------
    Case(
        "ActiveLearner(batch_size=0)",
        "new",
        lambda _, t: ActiveLearner(batch_size=0).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(batch_size=2.5)",
        "new",
        lambda _, t: ActiveLearner(batch_size=2.5).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pseudo_negatives=-1)",
        "new",
        lambda _, t: ActiveLearner(pseudo_negatives=-1).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(query_strategy='entropyy')",
        "new",
        lambda _, t: ActiveLearner(query_strategy="entropyy").fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(query_strategy=MaxEntropy)  # the class",
        "new",
        lambda _, t: ActiveLearner(query_strategy=MaxEntropy).fit(X0, Y0),
        (TypeError, ValueError),
    ),
    Case(
        "ActiveLearner(query_strategy=QueryAnywhere(n_neighbors=2.5))",
        "new",
        lambda _, t: ActiveLearner(query_strategy=QueryAnywhere(n_neighbors=2.5)).fit(
            X0, Y0
        ),
        ValueError,
    ),
    Case(
        "ActiveLearner(query_strategy=QueryAnywhere('marginn'))",
        "new",
        lambda _, t: ActiveLearner(query_strategy=QueryAnywhere("marginn")).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(query_strategy=InformationDensity(beta=-1))",
        "new",
        lambda _, t: ActiveLearner(query_strategy=InformationDensity(beta=-1)).fit(
            X0, Y0
        ),
        ValueError,
    ),
    Case(
        "ActiveLearner(query_strategy=KCenterGreedy(metric='manhattan'))",
        "new",
        lambda _, t: ActiveLearner(
            query_strategy=KCenterGreedy(metric="manhattan")
        ).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=FullScanPool(block_size=0))",
        "new",
        lambda _, t: ActiveLearner(pool=FullScanPool(block_size=0)).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=RandomSubsetPool(fraction=True))",
        "new",
        lambda _, t: ActiveLearner(pool=RandomSubsetPool(fraction=True)).fit(X0, Y0),
        TypeError,
    ),
    Case(
        "ActiveLearner(pool='knnn')",
        "new",
        lambda _, t: ActiveLearner(pool="knnn").fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=KNNPool(n_neighbors=0))",
        "new",
        lambda _, t: ActiveLearner(pool=KNNPool(n_neighbors=0)).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=KNNPool(index='faisss'))",
        "new",
        lambda _, t: ActiveLearner(pool=KNNPool(index="faisss")).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=KNNPool(metric='manhattan'))",
        "new",
        lambda _, t: ActiveLearner(pool=KNNPool(metric="manhattan")).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(pool=RandomSubsetPool(fraction=1.5))",
        "new",
        lambda _, t: ActiveLearner(pool=RandomSubsetPool(1.5)).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveLearner(estimator=object())",
        "new",
        lambda _, t: ActiveLearner(estimator=object()).fit(X0, Y0),
        (TypeError, ValueError),
    ),
    Case(
        "ActiveLearner(LinearSVC(), query_strategy='entropy') on 3 classes",
        "new",
        lambda _, t: ActiveLearner(LinearSVC(), query_strategy="entropy").fit(
            X0, np.r_[np.arange(3), np.full(N - 3, UNLABELED)]
        ),
        TypeError,
    ),
    Case(
        "ActiveSearcher(GaussianNB(), query_strategy='query_anywhere') on positives",
        "new",
        lambda _, t: ActiveSearcher(GaussianNB(), query_strategy="query_anywhere").fit(
            X0, np.where(Y0 == 0, UNLABELED, Y0)
        ),
        TypeError,
    ),
    Case(
        "ActiveLearner(query_strategy='most_likely_positive') on 3 classes",
        "new",
        lambda _, t: ActiveLearner(query_strategy="most_likely_positive").fit(X0, Y3),
        ValueError,
    ),
    Case(
        "learner.set_params(estimator=GaussianNB(), "
        "query_strategy='query_anywhere').fit(X, y)",
        "learner",
        lambda lr, t: lr.set_params(
            estimator=GaussianNB(), query_strategy="query_anywhere"
        ).fit(X0, Y0),
        TypeError,
    ),
    Case(
        "ActiveSearcher(pos_label=0)  # same as neg_label",
        "new",
        lambda _, t: ActiveSearcher(pos_label=0).fit(X0, Y0),
        ValueError,
    ),
    Case(
        "ActiveSearcher(journal=3)",
        "new",
        lambda _, t: ActiveSearcher(journal=3).fit(X0, Y0),
        ValueError,
    ),
    # -- not fitted -------------------------------------------------------------
    Case(
        "ActiveLearner().query()",
        "new",
        lambda _, t: ActiveLearner().query(),
        NotFittedError,
    ),
    Case(
        "ActiveLearner().teach([0], [1])",
        "new",
        lambda _, t: ActiveLearner().teach([0], [1]),
        NotFittedError,
    ),
    Case(
        "ActiveLearner().candidate_indices()",
        "new",
        lambda _, t: ActiveLearner().candidate_indices(),
        NotFittedError,
    ),
    Case(
        "ActiveLearner().predict(X)",
        "new",
        lambda _, t: ActiveLearner().predict(X0),
        NotFittedError,
    ),
    Case(
        "ActiveLearner().save(path)",
        "new",
        lambda _, t: ActiveLearner().save(t / "s"),
        NotFittedError,
    ),
    # -- query ----------------------------------------------------------------
    Case("query(0)", "learner", lambda lr, t: lr.query(0), ValueError),
    Case("query(-3)", "learner", lambda lr, t: lr.query(-3), ValueError),
    Case("query(2.5)", "learner", lambda lr, t: lr.query(2.5), TypeError),
    Case("query('10')", "learner", lambda lr, t: lr.query("10"), TypeError),
    # -- teach ----------------------------------------------------------------
    Case(
        "teach([10_000], [0])  # out of range",
        "learner",
        lambda lr, t: lr.teach([10_000], [0]),
        ValueError,
    ),
    Case(
        "set_params(pseudo_negatives=-1).teach(rows, [0, 0])",
        "searcher",
        lambda lr, t: lr.set_params(pseudo_negatives=-1).teach(_free(lr), [0, 0]),
        ValueError,
    ),
    Case(
        "set_params(estimator='lr').teach(rows, [0, 0])",
        "learner",
        lambda lr, t: lr.set_params(estimator="lr").teach(_free(lr), [0, 0]),
        ValueError,
    ),
    Case("teach([-1], [0])", "learner", lambda lr, t: lr.teach([-1], [0]), ValueError),
    Case("teach([1.5], [0])", "learner", lambda lr, t: lr.teach([1.5], [0]), TypeError),
    Case("teach(['a'], [0])", "learner", lambda lr, t: lr.teach(["a"], [0]), TypeError),
    Case(
        "teach([True], [0])", "learner", lambda lr, t: lr.teach([True], [0]), TypeError
    ),
    Case(
        "teach([[1, 2]], [0, 1])",
        "learner",
        lambda lr, t: lr.teach([[1, 2]], [0, 1]),
        ValueError,
    ),
    Case(
        "teach([r, r], [0, 1])  # duplicate row",
        "learner",
        lambda lr, t: lr.teach(np.r_[_free(lr, 1), _free(lr, 1)], [0, 1]),
        ValueError,
    ),
    Case(
        "teach([labeled row], [0])",
        "learner",
        lambda lr, t: lr.teach(_labeled(lr)[:1], [0]),
        ValueError,
    ),
    Case(
        "teach([r1, r2], [0])  # lengths differ",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 2), [0]),
        ValueError,
    ),
    Case(
        "teach([r1, r2], [0, 'cat'])",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 2), [0, "cat"]),
        TypeError,
    ),
    Case(
        "teach([r], [nan])",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 1), [np.nan]),
        ValueError,
    ),
    Case(
        "teach([r], [None])",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 1), [None]),
        TypeError,
    ),
    Case(
        "teach([r1, r2, r3], [0, 1, nan])  # one bad label",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 3), [0, 1, np.nan]),
        ValueError,
    ),
    Case(
        "teach([r], [2.5])  # y of dtype int64",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 1), [2.5]),
        ValueError,
    ),
    Case(
        "teach([r], [inf])  # y of dtype int64",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 1), [np.inf]),
        ValueError,
    ),
    Case(
        "teach([r], [1e30])  # y of dtype int64",
        "learner",
        lambda lr, t: lr.teach(_free(lr, 1), [1e30]),
        ValueError,
    ),
    Case(
        "teach([r], [200])  # y of dtype int8",
        "int8 learner",
        lambda lr, t: lr.teach(_free(lr, 1), [200]),
        ValueError,
    ),
    Case(
        "teach([r], [2.5])  # y of dtype float64",
        "float learner",
        lambda lr, t: lr.teach(_free(lr, 1), [2.5]),
        ValueError,
    ),
    Case(
        "teach([r], [None])  # string classes",
        "string learner",
        lambda lr, t: lr.teach(_free(lr, 1), [None]),
        TypeError,
    ),
    Case(
        "teach([r], [True])  # string classes",
        "string learner",
        lambda lr, t: lr.teach(_free(lr, 1), [True]),
        TypeError,
    ),
    Case(
        "teach([r], [b'cat'])  # string classes",
        "string learner",
        lambda lr, t: lr.teach(_free(lr, 1), [b"cat"]),
        TypeError,
    ),
    Case(
        "teach([r1, r2], ['cat', ('a', 'b')])  # string classes",
        "string learner",
        lambda lr, t: lr.teach(_free(lr, 2), np.array(["cat", ("a", "b")], object)),
        TypeError,
    ),
    Case(
        "searcher.teach([r1, r2], [1, 2])",
        "searcher",
        lambda lr, t: lr.teach(_free(lr, 2), [1, 2]),
        ValueError,
    ),
    Case(
        "searcher.teach([r], ['1'])",
        "searcher",
        lambda lr, t: lr.teach(_free(lr, 1), ["1"]),
        TypeError,
    ),
    # -- save / load ------------------------------------------------------------
    Case(
        "save(existing path)",
        "searcher",
        lambda lr, t: (lr.save(t / "s"), lr.save(t / "s")),
        ValueError,
    ),
    Case(
        "skseals.load(not a session, X)",
        "new",
        lambda _, t: skseals.load(t, X0),
        ValueError,
    ),
    Case(
        "skseals.load(path, other X)",
        "new",
        lambda _, t: (_saved(t), skseals.load(t / "session", X0[::-1])),
        ValueError,
    ),
    Case(
        "skseals.load(path, X with other shape)",
        "new",
        lambda _, t: (_saved(t), skseals.load(t / "session", X0[:, :3])),
        ValueError,
    ),
    Case(
        "skseals.load(truncated session, X)", "new", lambda _, t: _tamper(t), ValueError
    ),
    Case(
        "skseals.load(session saved with include_index=False, X)  # no index=",
        "new",
        lambda _, t: _without_index(t),
        ValueError,
    ),
]


def _case_id(case):
    return re.sub(r"\W+", "-", case.call).strip("-")


def _run(case):
    """Perform ``case``; return the exception it raised (or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        learner = None
        journal = Path(tmp) / "labels.journal"
        if case.on != "new":
            learner = LEARNERS[case.on](journal=str(journal))
            before = _state(learner), journal.read_bytes()
        try:
            case.action(learner, Path(tmp))
        except Exception as exc:  # noqa: BLE001 - the case decides
            error = exc
        else:
            error = None
        if learner is not None:
            for a, b in zip(before[0], _state(learner), strict=True):
                np.testing.assert_array_equal(a, b)
            assert journal.read_bytes() == before[1]
            assert len(learner.query(2)) == 2  # still works
    return error


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_bad_input_raises_and_leaves_learner_unchanged(case):
    error = _run(case)
    assert isinstance(error, case.error), f"{case.call}: got {error!r}"
    if not isinstance(error, NotFittedError):
        assert len(str(error)) > 20  # says what is wrong and what to do


def _sorted_set(match):
    items = sorted(item.strip() for item in match.group(1).split(","))
    return "{" + ", ".join(items) + "}"


def _row(case, error):
    message = " ".join(str(error).split())
    message = re.sub(r"0x[0-9a-f]+", "0x…", message)
    message = re.sub(r"/tmp/[\w./-]+", "<tmp>", message)
    message = re.sub(r"\{('[^{}]*')\}", _sorted_set, message)  # sets print unordered
    if len(message) > 300:
        message = message[:300] + " …"
    message = message.replace("|", "\\|")
    return f"| `{case.call}` | `{type(error).__name__}` | {message} |"


def make_table():
    lines = [
        "# Bad input and the error it gets",
        "",
        "Every row is a call the test suite makes (`tests/test_bad_input.py`), with",
        "the exact error it raises. Calls on a fitted learner leave it exactly as it",
        "was: labels, skips, pending rows, candidate pool, random state, history,",
        "model and journal file. Generated by `python tests/test_bad_input.py",
        "--write`; a test fails when this page and the code disagree.",
        "",
        "| call | error | message |",
        "| --- | --- | --- |",
    ]
    lines += [_row(case, _run(case)) for case in CASES]
    return "\n".join(lines) + "\n"


def test_docs_table_is_current():
    assert len(CASES) >= 40
    assert DOC.read_text(encoding="utf-8") == make_table(), (
        "docs/bad_inputs.md is out of date: run python tests/test_bad_input.py --write"
    )


class _Fragile(LogisticRegression):
    """Fails to fit on 15 to 19 rows (as if out of memory), fits otherwise."""

    def fit(self, X, y):
        if 14 < len(y) < 20:
            raise RuntimeError("out of memory")
        return super().fit(X, y)


def test_refit_failure_keeps_every_label_and_a_usable_learner(tmp_path):
    """An estimator that fails during teach() loses no human label: the learner
    keeps its previous model, stays consistent, saves, loads and resumes."""
    journal = str(tmp_path / "labels.journal")
    learner = ActiveLearner(
        _Fragile(), pool="full", batch_size=5, journal=journal, random_state=0
    ).fit(X0, Y0)
    coef = learner.estimator_.coef_.copy()
    rows = learner.query()
    with pytest.warns(FitFailedWarning, match="out of memory"):
        learner.teach(rows, YT0[rows])
    np.testing.assert_array_equal(learner.labels_[rows], YT0[rows])
    assert learner.n_labeled_ == 15 and len(learner.history_) == 2
    assert learner.history_[-1]["n_labeled"] == 15
    assert learner.history_[-1]["refit_error"] == "RuntimeError: out of memory"
    np.testing.assert_array_equal(learner.estimator_.coef_, coef)  # previous model
    learner.save(tmp_path / "s")
    trusted = [f"{_Fragile.__module__}._Fragile"]
    resumed = skseals.load(tmp_path / "s", X0, trusted=trusted)
    np.testing.assert_array_equal(resumed.estimator_.coef_, coef)
    np.testing.assert_array_equal(resumed.query(), learner.query())
    rows = learner.query()
    learner.teach(rows, YT0[rows])  # 20 labels: the refit works again
    assert "refit_error" not in learner.history_[-1]
    assert learner.estimator_.n_features_in_ == 4 and learner.n_labeled_ == 20
    again = ActiveLearner(_Fragile(), journal=journal).fit(X0, Y0)
    np.testing.assert_array_equal(again.labels_, learner.labels_)


if __name__ == "__main__" and "--write" in sys.argv:
    os.makedirs(DOC.parent, exist_ok=True)
    DOC.write_text(make_table(), encoding="utf-8")
    print(f"wrote {DOC} ({len(CASES)} cases)")
