"""The estimator used while only one class is labeled (cold start), and the
outputs of a model fitted on fewer classes than the learner knows."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .pool._density import unit_rows

__all__ = ["CentroidClassifier", "in_class_order"]


class CentroidClassifier(ClassifierMixin, BaseEstimator):
    """One-class stand-in fitted while fewer than two classes are labeled.

    Following Mullapudi et al. (computeFeatureCentroid / rankByCosineSimilarity),
    rows are ranked by cosine similarity to the unit-norm centroid of the
    L2-normalised labeled embeddings. ``predict`` returns the one class seen,
    ``predict_proba`` a single column of ones (``predict_log_proba`` zeros),
    and ``decision_function`` the cosine similarity to the centroid (so
    average precision can be measured before the first negative is labeled).

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

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


def in_class_order(method, out, seen, classes):
    """``out``, what ``method`` of a model fitted on the classes ``seen`` gave,
    arranged for the learner's ``classes`` (which hold ``seen``).

    ``predict_proba`` / ``predict_log_proba``: one column per class of
    ``classes``, 0 / -inf for a class the model was not fitted on. A 1-d
    ``decision_function`` of a one-class model, with two ``classes``: higher
    for ``classes[1]``. Anything else is returned as it is.
    """
    where = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    pos = [where.get(c) for c in np.asarray(seen).tolist()]
    if None in pos:
        return out
    out = np.asarray(out)
    if method in ("predict_proba", "predict_log_proba"):
        if out.ndim != 2 or out.shape[1] != len(pos):
            return out
        fill = 0.0 if method == "predict_proba" else -np.inf
        dtype = out.dtype if out.dtype.kind == "f" else np.float64
        full = np.full((out.shape[0], len(where)), fill, dtype=dtype)
        full[:, pos] = out
        return full
    if method == "decision_function" and out.ndim == 1 and len(pos) == 1:
        if len(where) == 2 and pos[0] == 0:
            return -out
    return out
