"""Validation of the arguments of ``fit``, ``query`` and ``teach``."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn import get_config, set_config
from sklearn.base import clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, validate_data

from ..base import QueryContext
from ._row_array import RowArray, is_row_array

__all__ = [
    "assume_finite",
    "check_batch_size",
    "check_class_values",
    "check_indices",
    "check_label_values",
    "check_strategy_scores",
    "check_strategy_when_cold",
    "numeric_object_y",
    "seed_if_unset",
    "validate_rows",
]


class assume_finite:
    """``sklearn.config_context(assume_finite=True)``, restoring that key alone.

    A context manager: scikit-learn skips its finiteness checks inside (in
    this thread), for rows of an X already checked in ``fit``. Every
    ``query()`` enters one; ``config_context`` saves and restores every
    setting and takes about four times as long when its code is out of cache
    (0.11 against 0.03 ms).

    Examples
    --------
    >>> import sklearn
    >>> from skseals.utils._validation import assume_finite
    >>> with assume_finite():
    ...     sklearn.get_config()["assume_finite"]
    True
    >>> sklearn.get_config()["assume_finite"]
    False
    """

    __slots__ = ("_before",)

    def __enter__(self):
        self._before = get_config()["assume_finite"]
        set_config(assume_finite=True)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        set_config(assume_finite=self._before)
        return False


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
    """Return ``batch_size`` as an int >= 1 or raise naming ``name``.

    Parameters
    ----------
    batch_size : int
        Rows per query. Any integral number (a numpy integer included) but
        a bool.
    name : str, default="batch_size"
        The parameter's name, used in the error message.

    Returns
    -------
    batch_size : int
        The value as a Python int.

    Raises
    ------
    TypeError
        If ``batch_size`` is not an integer (a float such as 2.0, or a bool).
    ValueError
        If ``batch_size`` is smaller than 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import check_batch_size
    >>> check_batch_size(np.int64(5))
    5
    >>> check_batch_size(0, name="n")
    Traceback (most recent call last):
    ...
    ValueError: `n` must be >= 1 (rows per query); got 0.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise TypeError(
            f"`{name}` must be a positive int (rows per query); got "
            f"{batch_size!r} of type {type(batch_size).__name__}."
        )
    if batch_size < 1:
        raise ValueError(f"`{name}` must be >= 1 (rows per query); got {batch_size}.")
    return int(batch_size)


def check_indices(indices, n_samples, name="indices"):
    """1-d int64 array of unique row ids in ``[0, n_samples)``, or raise.

    Parameters
    ----------
    indices : int or array-like of int
        Row ids into X, as returned by ``query()``; a single int is read as
        one id. Negative ids are refused (no counting from the end).
    n_samples : int
        Number of rows of X.
    name : str, default="indices"
        The parameter's name, used in the error messages.

    Returns
    -------
    indices : ndarray of shape (n_indices,), dtype int64
        The ids in the order given (an empty array when none is given).

    Raises
    ------
    TypeError
        If the ids are not integers (bools and floats included).
    ValueError
        If ``indices`` is not 1-d, an id is outside ``[0, n_samples)``, or an
        id appears twice.

    Examples
    --------
    >>> from skseals.utils import check_indices
    >>> ids = check_indices([3, 0, 2], n_samples=5)
    >>> ids.tolist(), ids.dtype.name
    ([3, 0, 2], 'int64')
    >>> check_indices(4, n_samples=5).tolist()
    [4]
    >>> check_indices([1, 1], n_samples=5)
    Traceback (most recent call last):
    ...
    ValueError: `indices` holds duplicates [1]: give each row once, with one label.
    """
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


def _stored_exactly(value, dtype, name):
    """``value`` as the Python scalar y's ``dtype`` stores, or raise.

    Round-trip equality decides: 2.0 becomes 2 on integer y, but 2.5 (stored
    as 2), inf and 200 on int8 y (stored as -56) are refused.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            stored = np.asarray([value]).astype(dtype)[0]
        except (OverflowError, TypeError, ValueError):
            stored = None
    if stored is not None and stored == value:
        return stored.item()
    if dtype.kind in "iu":
        if not (isinstance(value, Integral) or float(value).is_integer()):
            raise ValueError(
                f"`{name}` holds {value!r}, which is not a finite whole number, "
                f"but y's classes are integers (dtype {dtype}): give integer class "
                "labels (2.0 is accepted, 2.5 is not)."
            )
        info = np.iinfo(dtype)
        fix = "give a class label within that range"
        if dtype.itemsize < 8:
            fix = "fit with y of a wider dtype (e.g. int64) to use this class"
        raise ValueError(
            f"`{name}` holds {value!r}, outside the range [{info.min}, {info.max}] "
            f"of y's dtype {dtype}: {fix}."
        )
    raise ValueError(
        f"`{name}` holds {value!r}, which y's dtype {dtype} cannot store exactly: "
        "give class labels y could hold."
    )


def check_label_values(labels, n_expected, numeric, dtype=None, name="labels"):
    """1-d object array of labels matching the learner's label kind, or raise.

    ``numeric`` says whether the learner's classes are numbers (then strings
    and bools are refused) or not (then numbers other than the UNLABELED
    marker -1 are refused). NaN is always refused. With a numeric ``dtype``
    (y's), each label is cast to that dtype and must compare equal to the
    value given, so that y can hold it: 2.0 is accepted on integer y and
    returned as 2, while 2.5, infinity, or 200 on int8 y (which would be
    stored as -56) are refused; on float y a label is rounded to y's precision.
    Numpy scalars become Python ones.

    Parameters
    ----------
    labels : scalar or array-like
        The labels given to ``teach()``; a scalar is read as one label.
    n_expected : int
        Number of labels expected (one per index).
    numeric : bool
        Whether the learner's classes are numbers.
    dtype : numpy dtype or None, default=None
        y's dtype; None skips the storage check.
    name : str, default="labels"
        The parameter's name, used in the error messages.

    Returns
    -------
    labels : ndarray of shape (n_expected,), dtype object
        The labels as Python scalars (as y stores them when ``dtype`` is
        numeric).

    Raises
    ------
    TypeError
        If a label's kind (number or not) differs from the classes'.
    ValueError
        If ``labels`` is not 1-d, does not have ``n_expected`` entries, holds
        NaN, or holds a number ``dtype`` cannot store exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils import check_label_values
    >>> check_label_values([np.int64(1), 2.0, -1], 3, numeric=True,
    ...                    dtype=np.dtype("int64")).tolist()
    [1, 2, -1]
    >>> check_label_values(["cat", -1], 2, numeric=False).tolist()
    ['cat', -1]
    >>> check_label_values([200], 1, numeric=True, dtype=np.dtype("int8"))
    Traceback (most recent call last):
    ...
    ValueError: `labels` holds 200, outside the range [-128, 127] of y's dtype int8: ...
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
    out = np.empty(arr.shape[0], dtype=object)
    for i, value in enumerate(arr):
        if _is_nan(value):
            raise ValueError(
                f"`{name}` contains NaN: give a class label, or -1 (UNLABELED) "
                "for a row that was seen but could not be labeled."
            )
        is_number = isinstance(value, (Integral, float, np.number)) and not isinstance(
            value, (bool, np.bool_)
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
        out[i] = value.item() if isinstance(value, np.generic) else value
    if dtype is not None and dtype.kind in "biuf" and out.size:
        out = _as_stored(out, dtype, name)
    return out


def _as_stored(values, dtype, name):
    """``values`` (numbers) as y's ``dtype`` stores them, or raise.

    One vectorised cast, compared with the values given; the per-value
    ``_stored_exactly`` runs only on values that did not come back equal.
    """
    out = np.empty(values.shape[0], dtype=object)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out[:] = np.asarray(values.tolist()).astype(dtype).tolist()
            same = out == values
        except (OverflowError, TypeError, ValueError):  # e.g. an int past 2**64
            same = np.zeros(values.shape[0], dtype=bool)
    for i in np.flatnonzero(~same):
        out[i] = _stored_exactly(values[i], dtype, name)
    return out


def check_class_values(new, classes, dtype, name="labels"):
    """Raise unless the class labels ``new`` can join ``classes``.

    A class must be an int, float, str or bool (what a journal and a saved
    session store), sort with the other classes (``classes_`` is sorted) and,
    with them, be a discrete target (``check_classification_targets``, as
    ``fit`` checks y). ``dtype`` is y's. Checks everything, changes nothing.
    """
    for value in new:
        if not isinstance(value, (int, float, str)):
            raise TypeError(
                f"`{name}` holds {value!r} of type {type(value).__name__}: class "
                "labels must be int, float, str or bool, like y's."
            )
    every = [*classes, *new]
    for value in new:
        try:
            sorted([value, *every])
        except TypeError:
            raise TypeError(
                f"`{name}` holds {value!r} ({type(value).__name__}), which cannot "
                f"be ordered with the classes {_shown(classes)}: give labels of "
                "the same type as y's classes."
            ) from None
    target = np.array(every, dtype=dtype if dtype.kind in "biuf" else object)
    try:
        with np.errstate(invalid="ignore"):
            check_classification_targets(target)
    except ValueError as exc:
        reason = str(exc).split(". ")[0]  # e.g. "Unknown label type: continuous"
        raise ValueError(
            f"`{name}` holds {_shown(new)}, which with the classes {_shown(classes)} "
            f"are not discrete class labels ({reason}): give labels like y's "
            "(whole numbers or strings)."
        ) from None


def _shown(values):
    try:
        values = sorted(values)
    except TypeError:
        values = list(values)
    return values[:5] + ["..."] if len(values) > 5 else values


def check_strategy_scores(strategy, estimator, rows, pos_label, n_positive, n_negative):
    """Raise if ``strategy`` cannot score the rows ``rows`` with ``estimator``.

    ``estimator`` is fitted; ``rows`` are a few rows of X. The strategy's own
    check runs, then it scores ``rows`` with the learner's positive class and
    label counts, so that a mismatch (e.g. most-likely-positive without a
    positive class among three) is caught when the model is fitted, not in
    ``query()``. Pool density is not known here: an empty one is passed.
    """
    if not strategy.requires_estimator:
        return
    strategy.check_estimator(estimator)
    ctx = QueryContext(
        classes=getattr(estimator, "classes_", None),
        pos_label=pos_label,
        n_positive=n_positive,
        n_negative=n_negative,
        density_sum=np.zeros(rows.shape[1]),
        density_count=0,
        labeled_X=rows,
    )
    strategy.score(estimator, rows, ctx)


def check_strategy_when_cold(strategy, estimator, X, labeled_rows, first, classes, pos):
    """While one class ``first`` is labeled, check ``estimator`` for ``strategy``.

    A clone is fitted on up to five labeled rows and as many other rows given
    a second class (the other of ``classes``, the learner's classes, or one
    made up), as the first refit with two classes will be. When
    that small fit fails nothing can be told and nothing is raised; when the
    fitted clone cannot serve ``strategy``, its error is raised, so that
    ``fit`` refuses the pair at once instead of the ``teach()`` that labels a
    second class failing to refit.
    """
    if not strategy.requires_estimator:
        return
    k = min(5, labeled_rows.shape[0])
    span = np.arange(min(X.shape[0], labeled_rows.shape[0] + k))
    others = np.setdiff1d(span, labeled_rows)[:k]
    if others.shape[0] == 0:
        return
    second = next((c for c in classes if c != first), None)
    if second is None:
        second = first + 1 if isinstance(first, (int, float)) else f"not {first}"
    rows = np.r_[labeled_rows[:k], others]
    values = [first] * k + [second] * others.shape[0]
    X_probe = np.asarray(X[rows])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. no convergence on ten rows
            probe = clone(estimator).fit(X_probe, values)
    except Exception:  # noqa: BLE001 - too few rows to tell; the refit will
        return
    n_pos = values.count(pos) if pos is not None else 0
    check_strategy_scores(strategy, probe, X_probe, pos, n_pos, len(values) - n_pos)


def seed_if_unset(estimator, random_state):
    """``estimator`` with its ``random_state`` parameter set to ``random_state``
    when it has one left None. ``random_state`` may be a function giving the
    seed, called only then; a seed of None changes nothing."""
    params = estimator.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        seed = random_state() if callable(random_state) else random_state
        if seed is not None:
            estimator.set_params(random_state=seed)
    return estimator


def numeric_object_y(y):
    """``y`` of dtype object holding only numbers, as an int64 (or float64)
    array; scikit-learn takes such a y for an unknown target type.

    Booleans are refused with what to pass instead; strings (with -1 for
    unlabeled rows) stay as they are. Only labeled rows are inspected.
    """
    if y.dtype != object:
        return y
    values = y[y != -1].tolist()
    if any(isinstance(v, (bool, np.bool_)) for v in values):
        raise ValueError(
            "y holds booleans: classes are ints, floats or strings (e.g. "
            "y.astype(int), with -1 for unlabeled rows); an ActiveSearcher's "
            "teach() takes True / False for pos_label / neg_label."
        )
    if all(isinstance(v, (int, np.integer)) for v in values):
        return y.astype(np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        return y.astype(np.float64)
    return y
