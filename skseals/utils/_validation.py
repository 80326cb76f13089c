"""Validation of the arguments of ``fit``, ``query`` and ``teach``."""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["check_batch_size", "check_indices", "check_label_values"]


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
