"""Validation of the arguments of ``fit``, ``query`` and ``teach``."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_consistent_length, validate_data

from ._row_array import RowArray, is_row_array

__all__ = ["check_batch_size", "check_indices", "check_label_values", "validate_rows"]


def validate_rows(
    estimator,
    X,
    y="no_validation",
    *,
    reset=True,
    dtype=(np.float32, np.float64),
    **kwargs,
):
    """``validate_data`` that keeps a lazily read X (zarr, h5py) unread.

    An ndarray, memmap, list or DataFrame goes through
    :func:`sklearn.utils.validation.validate_data` (``dtype`` and ``kwargs``
    passed on; a float C-contiguous memmap stays a view). An array read by
    rows (see ``is_row_array``) is checked for shape and dtype only --
    reading every row to check finiteness would be a full pass -- and
    returned as a ``RowArray`` casting to the first of ``dtype`` unless
    it already has one of them; ``n_features_in_`` is set or checked as
    ``validate_data`` does. Returns ``X`` or ``(X, y)`` like ``validate_data``.
    """
    if not is_row_array(X):
        return validate_data(estimator, X, y, reset=reset, dtype=dtype, **kwargs)
    dtypes = [
        np.dtype(d) for d in (dtype if isinstance(dtype, (list, tuple)) else [dtype])
    ]
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"`X` must be 2-d (n_samples, n_features); got a "
            f"{type(X).__name__} of shape {shape}."
        )
    kind = np.dtype(X.dtype).kind
    if kind not in "biuf":
        raise ValueError(
            f"`X` must hold numbers; got a {type(X).__name__} of dtype {X.dtype}."
        )
    minimum = kwargs.get("ensure_min_samples", 1)
    if shape[0] < minimum or shape[1] < 1:
        raise ValueError(
            f"`X` has shape {shape}: at least {minimum} row(s) and one feature "
            "are needed."
        )
    out = np.dtype(X.dtype) if np.dtype(X.dtype) in dtypes else dtypes[0]
    X = RowArray(X, dtype=out)
    if reset:
        estimator.n_features_in_ = shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif shape[1] != getattr(estimator, "n_features_in_", shape[1]):
        raise ValueError(
            f"X has {shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    if isinstance(y, str) and y == "no_validation":
        return X
    y = validate_data(estimator, X="no_validation", y=y)  # y=None: sklearn's error
    check_consistent_length(X, y)
    return X, y


def check_batch_size(batch_size, name="batch_size"):
    """Return ``batch_size`` as an int >= 1 or raise naming ``name``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise TypeError(
            f"`{name}` must be a positive int (rows per query); got "
            f"{batch_size!r} of type {type(batch_size).__name__}."
        )
    if batch_size < 1:
        raise ValueError(f"`{name}` must be >= 1 (rows per query); got {batch_size}.")
    return int(batch_size)


def check_indices(indices, n_samples, name="indices"):
    """1-d int64 array of unique row ids in ``[0, n_samples)``, or raise."""
    arr = np.asarray(indices)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-d array of row indices into X; got shape "
            f"{arr.shape}."
        )
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"`{name}` must hold integer row indices into X (as returned by "
            f"query()); got dtype {arr.dtype}."
        )
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n_samples)]
    if bad.size:
        raise ValueError(
            f"`{name}` must lie in [0, {n_samples}) (rows of X); got "
            f"{bad[:5].tolist()}. Negative indices are not accepted."
        )
    uniq, counts = np.unique(arr, return_counts=True)
    if uniq.shape[0] != arr.shape[0]:
        raise ValueError(
            f"`{name}` holds duplicates {uniq[counts > 1][:5].tolist()}: give "
            "each row once, with one label."
        )
    return arr


def _is_nan(value):
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def check_label_values(labels, n_expected, numeric, name="labels"):
    """1-d object array of labels matching the learner's label kind, or raise.

    ``numeric`` says whether the learner's classes are numbers (then strings
    are refused) or not (then numbers other than the UNLABELED marker are
    refused). NaN is always refused.
    """
    arr = np.asarray(labels, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-d; got shape {arr.shape}.")
    if arr.shape[0] != n_expected:
        raise ValueError(
            f"`{name}` has {arr.shape[0]} entries but `indices` has {n_expected}: "
            "give exactly one label per index."
        )
    for value in arr:
        if _is_nan(value):
            raise ValueError(
                f"`{name}` contains NaN: give a class label, or -1 (UNLABELED) "
                "for a row that was seen but could not be labeled."
            )
        is_number = isinstance(value, (Integral, float, np.number)) and not isinstance(
            value, bool
        )
        if numeric and not is_number:
            raise TypeError(
                f"`{name}` contains {value!r} ({type(value).__name__}) but the "
                "classes are numbers: give labels of the same type as y."
            )
        if not numeric and is_number and value != -1:
            raise TypeError(
                f"`{name}` contains the number {value!r} but the classes are "
                "not numbers: give labels of the same type as y (or -1 to skip)."
            )
    return arr
