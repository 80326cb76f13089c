"""Human labels of every row, kept in 1-2 bytes per row."""

from __future__ import annotations

import numpy as np

from .base import UNLABELED
from .utils import check_label_values
from .utils._validation import check_class_values

__all__ = ["LabelStore", "SKIPPED_CODE", "UNLABELED_CODE"]

UNLABELED_CODE = -1
SKIPPED_CODE = -2


def _is_numeric_dtype(dtype):
    return dtype.kind in "biuf"


class LabelStore:
    """Per-row label codes (int8, or int16 past 127 classes) and the class list.

    Codes index ``values`` (classes in order of first appearance, so a new
    class never recodes existing rows); ``UNLABELED_CODE`` marks rows without a
    label and ``SKIPPED_CODE`` rows seen but not labelable. ``labeled_rows`` is
    the sorted list of rows with a class, so training sets are gathered in
    O(n_labeled), never by scanning every row.
    """

    def __init__(self, y, fixed_classes=None):
        y = np.asarray(y)
        self.dtype = y.dtype
        self.numeric = _is_numeric_dtype(y.dtype)
        labeled = np.flatnonzero(y != UNLABELED)
        seen = list(dict.fromkeys(y[labeled].tolist()))
        check_class_values(seen, [], y.dtype, name="y")
        if fixed_classes is not None:
            extra = [v for v in seen if v not in fixed_classes]
            if extra:
                raise ValueError(
                    f"y holds labels {extra[:5]} outside this searcher's two "
                    f"classes {list(fixed_classes)} (and -1 for unlabeled rows): "
                    "set pos_label / neg_label to match y."
                )
            seen = list(fixed_classes)
        if not self.numeric:
            self.numeric = all(
                isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                for v in seen
            )
        self.values = seen
        self.code_of = {v: i for i, v in enumerate(seen)}
        self.fixed = fixed_classes is not None
        dtype = np.int8 if len(seen) < 127 else np.int16
        self.codes = np.full(y.shape[0], UNLABELED_CODE, dtype=dtype)
        self.codes[labeled] = [self.code_of[v] for v in y[labeled].tolist()]
        self.labeled_rows = labeled.astype(np.int64)
        self.skipped_rows = np.empty(0, dtype=np.int64)
        self.counts = np.bincount(self.codes[labeled], minlength=len(seen)).astype(
            np.int64
        )

    @classmethod
    def from_state(cls, n_samples, meta, arrays):
        """Rebuild a store saved as labeled rows + codes (see SessionMixin)."""
        new = cls.__new__(cls)
        new.dtype = np.dtype(meta["dtype"])
        new.numeric = meta["numeric"]
        new.values = list(meta["values"])
        new.code_of = {v: i for i, v in enumerate(new.values)}
        new.fixed = meta["fixed"]
        dtype = np.int8 if len(new.values) < 127 else np.int16
        new.codes = np.full(n_samples, UNLABELED_CODE, dtype=dtype)
        rows = arrays["labeled_rows"].astype(np.int64)
        codes = arrays["labeled_codes"].astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n_samples):
            raise ValueError("saved labeled rows lie outside X.")
        if codes.size and (codes.min() < 0 or codes.max() >= len(new.values)):
            raise ValueError("saved label codes do not match the saved classes.")
        new.codes[rows] = codes
        new.labeled_rows = rows
        new.skipped_rows = arrays["skipped_rows"].astype(np.int64)
        new.codes[new.skipped_rows] = SKIPPED_CODE
        new.counts = np.bincount(codes, minlength=len(new.values)).astype(np.int64)
        return new

    # -- reading -------------------------------------------------------------
    @property
    def n_labeled(self):
        return int(self.labeled_rows.shape[0])

    def class_array(self):
        """Classes in code order, with the dtype of y."""
        dtype = self.dtype if self.dtype.kind != "U" else object
        return np.array(self.values, dtype=dtype)

    def classes(self):
        """Classes seen so far (sorted), as ``classes_``."""
        return np.array(sorted(self.values), dtype=self.class_array().dtype)

    def present_classes(self):
        """Classes with at least one human label."""
        return [v for v, c in zip(self.values, self.counts, strict=False) if c > 0]

    def count(self, value):
        code = self.code_of.get(value)
        return 0 if code is None else int(self.counts[code])

    def labels(self):
        """Decoded labels of every row, UNLABELED where none (O(n_samples))."""
        out = np.full(self.codes.shape[0], UNLABELED, dtype=self.class_array().dtype)
        rows = self.labeled_rows
        out[rows] = self.class_array()[self.codes[rows]]
        return out

    def training_set(self):
        """(rows, labels) of every human-labeled row, rows sorted."""
        rows = self.labeled_rows
        return rows, self.class_array()[self.codes[rows]]

    # -- writing (validate fully, then apply) --------------------------------
    def prepare(self, indices, labels):
        """Check labels for ``indices``; return the codes and new classes.

        Raises without changing anything. ``indices`` are already validated.
        Every label must be stored exactly by y's dtype and every new class
        must sort with the others (see ``check_class_values``), so that
        ``class_array`` and ``classes`` never fail once labels are applied.
        """
        labels = check_label_values(
            labels, indices.shape[0], self.numeric, dtype=self.dtype
        )
        already = indices[self.codes[indices] >= 0]
        if already.size:
            raise ValueError(
                f"`indices` holds rows that are already labeled: "
                f"{already[:5].tolist()}. Each row is labeled once; query() never "
                "returns labeled rows."
            )
        new_values = []
        codes = np.empty(indices.shape[0], dtype=np.int64)
        for i, value in enumerate(labels.tolist()):
            if value == UNLABELED and not isinstance(value, bool):
                if self.codes[indices[i]] == SKIPPED_CODE:
                    raise ValueError(
                        f"`indices` holds row {int(indices[i])}, which is already "
                        "skipped: skip a row once (it may still be labeled later)."
                    )
                codes[i] = SKIPPED_CODE
                continue
            code = self.code_of.get(value)
            if code is None:
                if value in new_values:
                    code = len(self.values) + new_values.index(value)
                elif self.fixed:
                    raise ValueError(
                        f"`labels` holds {value!r}, which is not one of this "
                        f"searcher's classes {self.values}: label each row "
                        "pos_label or neg_label (or -1 to skip it)."
                    )
                else:
                    new_values.append(value)
                    code = len(self.values) + len(new_values) - 1
            codes[i] = code
        if new_values:
            check_class_values(new_values, self.values, self.dtype)
        return codes, new_values

    def apply(self, indices, codes, new_values):
        for value in new_values:
            self.code_of[value] = len(self.values)
            self.values.append(value)
        if len(self.values) >= 127 and self.codes.dtype == np.int8:
            self.codes = self.codes.astype(np.int16)
        self.counts = np.concatenate(
            [self.counts, np.zeros(len(new_values), dtype=np.int64)]
        )
        self.codes[indices] = codes
        labeled = indices[codes >= 0]
        skipped = indices[codes == SKIPPED_CODE]
        self.labeled_rows = np.union1d(self.labeled_rows, labeled)
        self.skipped_rows = np.setdiff1d(
            np.union1d(self.skipped_rows, skipped), labeled, assume_unique=True
        )
        np.add.at(self.counts, codes[codes >= 0], 1)
