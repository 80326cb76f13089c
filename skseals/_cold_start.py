"""The estimator used while only one class is labeled (cold start)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .pool._density import unit_rows

__all__ = ["CentroidClassifier"]


class CentroidClassifier(ClassifierMixin, BaseEstimator):
    """One-class stand-in fitted while fewer than two classes are labeled.

    Following Mullapudi et al. (computeFeatureCentroid / rankByCosineSimilarity),
    rows are ranked by cosine similarity to the unit-norm centroid of the
    L2-normalised labeled embeddings. ``predict`` returns the one class seen,
    ``predict_proba`` a single column of ones, and ``decision_function`` the
    cosine similarity to the centroid (so average precision can be measured
    before the first negative is labeled).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals._cold_start import CentroidClassifier
    >>> clf = CentroidClassifier().fit([[1.0, 0.0], [0.8, 0.2]], [1, 1])
    >>> clf.predict([[0.0, 1.0]]).tolist(), clf.classes_.tolist()
    ([1], [1])
    >>> bool(clf.decision_function([[1.0, 0.1]])[0] > 0.9)
    True
    """

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        self.classes_ = np.unique(y)
        if self.classes_.shape[0] != 1:
            raise ValueError("CentroidClassifier is fitted on one class only.")
        centroid = unit_rows(X).sum(axis=0)
        norm = np.linalg.norm(centroid)
        self.centroid_ = centroid / norm if norm > 0 else centroid
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return unit_rows(X) @ self.centroid_

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.full(X.shape[0], self.classes_[0])

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.ones((X.shape[0], 1))
