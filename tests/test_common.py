"""scikit-learn's estimator checks over every public estimator configuration."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skseals import ActiveLearner, ActiveSearcher
from skseals.neighbors import ExactIndex, FaissIndex
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool

ESTIMATORS = [
    ActiveLearner(random_state=0),
    ActiveLearner(pool=FullScanPool(), random_state=0),
    ActiveLearner(pool=KNNPool(n_neighbors=5, index=ExactIndex()), random_state=0),
    ActiveLearner(
        pool=KNNPool(n_neighbors=5, index=FaissIndex(factory="Flat")),
        query_strategy="margin",
        random_state=0,
    ),
    ActiveLearner(pool=RandomSubsetPool(0.5), query_strategy="random", random_state=0),
    ActiveSearcher(random_state=0),
    ActiveSearcher(pool=FullScanPool(), query_strategy="entropy", random_state=0),
]

# check name -> why it cannot pass.
LEARNER_FAILED_CHECKS = {
    "check_classifiers_classes": (
        "string class labels need dtype=object so that -1 can mark unlabeled "
        "rows; a y of dtype str is refused with that advice (as "
        "SelfTrainingClassifier does)"
    ),
}
_THREE_CLASSES = (
    "the check fits on three classes; an ActiveSearcher is binary (its "
    "multi_class tag is False) and refuses a multiclass y"
)
SEARCHER_FAILED_CHECKS = {
    **LEARNER_FAILED_CHECKS,
    "check_classifier_data_not_an_array": _THREE_CLASSES,
    "check_estimators_dtypes": _THREE_CLASSES,
    "check_fit2d_1feature": _THREE_CLASSES,
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, ActiveSearcher):
        return SEARCHER_FAILED_CHECKS
    return LEARNER_FAILED_CHECKS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_expected_failures_are_real(estimator):
    """Each listed expected failure is named after a check that exists."""
    from sklearn.utils import estimator_checks

    for name in _expected_failed_checks(estimator):
        assert hasattr(estimator_checks, name), name


def test_predict_checks_x_as_fit_did():
    # A DataFrame's column names are checked, then the array the estimator
    # was fitted on is passed: no "fitted without feature names" warning.
    import warnings

    import numpy as np

    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    y = np.full(200, -1)
    y[:5], y[5:10] = 0, 1
    learner = ActiveLearner(batch_size=5, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = learner.estimator_.predict(X.to_numpy())
        assert (learner.predict(X) == expected).all()
        assert learner.predict_proba(X).shape == (200, 2)
    with pytest.raises(ValueError, match="feature names"):
        learner.decision_function(X[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="3 features"):
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            learner.predict(X.to_numpy()[:, :3])
