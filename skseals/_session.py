"""Durable labeling sessions: the journal, save / resume, and the state lock."""

from __future__ import annotations

import os
import threading
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ._journal import Journal, data_fingerprint, to_json_labels
from ._labels import UNLABELED_CODE, LabelStore
from .base import UNLABELED
from .utils import RowBitmap
from .utils._validation import seed_if_unset

__all__ = ["SessionMixin"]


class SessionMixin:
    """Journal, ``save`` and the lock shared by ActiveLearner and ActiveSearcher.

    Thread safety: ``fit``, ``query``, ``teach`` and ``save`` hold one
    re-entrant lock per learner, so two annotator threads may call
    ``query``/``teach`` on one learner; each call sees and leaves a consistent
    state, and rows pending for one thread are never returned to the other.
    """

    # -- lock ------------------------------------------------------------------
    def _state_lock(self):
        """The learner's lock (an RLock, entered with ``with``), made once."""
        lock = self.__dict__.get("_lock")
        if lock is None:  # (setdefault: two threads get the same one)
            lock = self.__dict__.setdefault("_lock", threading.RLock())
        return lock

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_lock", None)
        return state

    # -- journal ---------------------------------------------------------------
    def _journal_header(self, X, labels):
        classes = labels.values if labels.fixed else sorted(labels.present_classes())
        return {
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "fingerprint": data_fingerprint(X),
            "kind": type(self).__name__,
            "classes": to_json_labels(classes),
        }

    def _open_journal(self, X, labels):
        """Make ``journal`` the journal in force; replay it on ``labels`` (fit).

        The file opened here is where ``teach()`` appends until the next
        ``fit``, whatever ``set_params(journal=...)`` says in between. Returns
        the header of a journal to create once ``fit`` succeeds (see
        ``_create_journal``), or None when there is nothing to create.
        """
        self._journal_records = 0
        self._journal_path = None
        # kept without a journal too: load(..., journal=path) checks against it
        header = self._journal_head = self._journal_header(X, labels)
        if self.journal is None:
            return None
        # absolute: a later chdir must not move the journal in force
        self._journal_path = os.path.abspath(os.fspath(self.journal))
        journal = Journal(self._journal_path)
        if not journal.exists():
            return header
        found, records = journal.read()
        journal.check_header(found, header)
        for record in records:
            _replay(labels, record)
        self._journal_records = len(records)
        return None

    def _create_journal(self, header):
        """Write the header of a new journal (the last step of ``fit``)."""
        if header is not None:
            Journal(self._journal_path).create(header)

    def _journal_append(self, idx, labels):
        if self._journal_path is not None:
            values = np.asarray(labels, dtype=object).ravel()
            journal = Journal(self._journal_path)
            if not journal.exists():
                self._write_journal_again(journal)
            journal.append(idx, values)
            self._journal_records += 1

    def _write_journal_again(self, journal, warn=True):
        """The journal in force is gone (deleted, moved): write it again, its
        header and one record of every human label and skip so far, so that
        no label is only in memory and a later ``fit`` can resume from it."""
        header = self._journal_head or self._journal_header(self.X_, self._labels)
        rows, values, skips = self._labels_missing_from([])
        journal.create(header, rows, values)  # at once: whole or not at all
        self._journal_records = 1
        rows = rows.size - skips
        if warn:
            warnings.warn(
                f"journal {journal.path!r} was missing: written again with the "
                f"{rows} labels and {skips} skips of this session.",
                UserWarning,
                stacklevel=4,
            )

    # -- save / restore --------------------------------------------------------
    def save(self, path, *, overwrite=False, include_index=True):
        """Save the session to the directory ``path``; resume with ``skseals.load``.

        Stores the parameters, labels and skips, pending rows, the candidate
        pool's membership and neighbour lists, pseudo-negatives, the round
        history and the random state, as JSON and ``.npz`` (plus a skops file
        for a non-default estimator), each file listed with its SHA-256 in a
        manifest. The index (or KNNGraph) is written in its own library's
        format (faiss ``write_index``, hnswlib ``save_index``, Annoy ``save``,
        .npy); with ``include_index=False`` it is not, and ``skseals.load``
        takes it back through its ``index`` argument. The write is atomic: a
        crash leaves the previous session intact.

        Parameters
        ----------
        path : str or path-like
            Directory to create.
        overwrite : bool, default=False
            Replace an existing directory.
        include_index : bool, default=True
            Save the neighbour index with the session. An
            :class:`~skseals.neighbors.OnDiskFaissIndex` already lives in its
            own files and is not copied: save with ``include_index=False`` and
            load with ``index=OnDiskFaissIndex.load(its_path, X)``.

        Raises
        ------
        ValueError
            When ``pool`` or ``query_strategy`` was changed with ``set_params``
            since ``fit`` (they are resolved in ``fit``): the session would not
            resume as this learner continues. Fit again, or set them back.
        """
        from ._persistence import save_session

        with self._state_lock():
            check_is_fitted(self, "X_")
            changed = [
                k
                for k, v in self._components_in_force().items()
                if v != getattr(self, "_fitted_components", {}).get(k, v)
            ]
            if changed:
                raise ValueError(
                    f"{' and '.join(changed)} changed (set_params) since fit: this "
                    "learner still uses the fitted one, but the saved session "
                    "would resume with the new one. Fit again, or set it back, "
                    "before saving."
                )
            save_session(self, path, overwrite=overwrite, include_index=include_index)

    def _components_in_force(self):
        """The parameters resolved in ``fit`` into fitted components
        (``pool_``, ``query_strategy_``), as text to tell a later change."""
        params = self.get_params(deep=False)
        return {k: repr(params[k]) for k in ("pool", "query_strategy")}

    def _session_state(self):
        labels = self._labels
        from ._persistence import mt19937_state

        keys, pos, has_gauss, cached = mt19937_state(self.random_state_)
        arrays = {
            "labeled_rows": labels.labeled_rows,
            "labeled_codes": labels.codes[labels.labeled_rows].astype(np.int16),
            "skipped_rows": labels.skipped_rows,
            "pending_rows": self.pending_.ids(),
            "pseudo_negatives": self.pseudo_negatives_,
            "rng_keys": keys,
        }
        if self._model_rows.shape[0] != labels.n_labeled:  # the last refit failed
            arrays["model_rows"] = self._model_rows
        arrays.update({f"pool__{k}": v for k, v in self.pool_.get_state().items()})
        return {
            "format": "skseals-session",
            "version": 1,
            "class": type(self).__name__,
            "n_samples": int(self.X_.shape[0]),
            "n_features": int(self.X_.shape[1]),
            "fingerprint": data_fingerprint(self.X_),
            "labels": {
                "dtype": labels.dtype.str,
                "numeric": labels.numeric,
                "values": to_json_labels(labels.values),
                "fixed": labels.fixed,
            },
            "rng": {
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
                # random_state=RandomState(...): the param is the state in use
                "is_param": self.random_state_ is self.random_state,
            },
            "history": self.history_,
            "timing": self._timing,
            "journal_records": self._journal_records,
            "journal": self._journal_path,
            "journal_header": self._journal_head,
            "pool_seed": _json_seed(getattr(self.pool_, "random_state", None)),
            "arrays": arrays,
        }

    def _restore(self, X, state, arrays, index, journal=None):
        """Rebuild the fitted state saved by ``_session_state`` (used by load)."""
        from .pool import make_pool
        from .query import make_strategy

        self._validate_params()
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=True)
        n = X.shape[0]
        labels = LabelStore.from_state(n, state["labels"], arrays)
        rng = self.random_state
        if not isinstance(rng, np.random.RandomState) or not state["rng"].get(
            "is_param"
        ):
            rng = np.random.RandomState()  # else one object again, as in fit
        rng.set_state(
            (
                "MT19937",
                arrays["rng_keys"],
                state["rng"]["pos"],
                state["rng"]["has_gauss"],
                state["rng"]["cached_gaussian"],
            )
        )
        self.X_ = X
        self._labels = labels
        self.random_state_ = rng
        self._own_rng = rng is not self.random_state  # (made here)
        self.pending_ = RowBitmap(n)
        self.pending_.add(arrays["pending_rows"])
        self.excluded_ = RowBitmap(n)
        for rows in (labels.labeled_rows, labels.skipped_rows, arrays["pending_rows"]):
            self.excluded_.add(rows)
        self.query_strategy_ = make_strategy(self.query_strategy)
        pool_state = {k[6:]: v for k, v in arrays.items() if k.startswith("pool__")}
        # an index rebuilt here (saved without it) gets the seed fit gave it
        seed = state.get("pool_seed")
        if "pool_seed" not in state and isinstance(self.random_state, Integral):
            seed = self._component_seed  # a session saved before it was kept
        self.pool_ = seed_if_unset(make_pool(self.pool), seed).set_state(
            X, self.excluded_, pool_state, index=index
        )
        # the model in use: fitted on every label, or before a failed refit
        self._model_rows = arrays.get("model_rows", labels.labeled_rows)
        if not np.isin(self._model_rows, labels.labeled_rows).all():
            raise ValueError("saved model rows are not labeled rows.")
        rows = self._model_rows.astype(np.int64)
        values = labels.class_array()[labels.codes[rows]]
        pseudo = arrays["pseudo_negatives"].astype(np.int64)
        if pseudo.size:
            neg = self._negative_value()
            rows = np.concatenate([rows, pseudo])
            values = np.concatenate([values, np.full(pseudo.size, neg, values.dtype)])
        self.estimator_ = self._fit_estimator(rows, values)
        self.pseudo_negatives_ = pseudo
        self.classes_ = labels.classes()
        self.n_labeled_ = labels.n_labeled
        self._after_labels()
        self.history_ = [dict(h) for h in state["history"]]
        self._timing = dict(state["timing"])
        self._journal_records = state["journal_records"]
        self._journal_head = state.get("journal_header")
        self._resume_journal(state, journal)
        self._fitted_components = self._components_in_force()
        return self

    def _resume_journal(self, state, journal):
        """Make the journal in force the saved one (or ``journal``: a path, or
        False for none) and teach what it holds that the session lacks."""
        path = state.get("journal", self.journal) if journal is None else journal
        if path is False or path is None:
            self._journal_path = None
            if journal is False:
                self.set_params(journal=None)
            return
        self._journal_path = os.path.abspath(os.fspath(path))
        if journal is not None:
            self.set_params(journal=self._journal_path)
        found = Journal(self._journal_path)
        if not found.exists():
            if journal is not None:  # a new journal at the path given
                saved = state.get("journal")
                if saved and Journal(saved).exists():
                    warnings.warn(
                        f"a new journal is written at {self._journal_path!r}; "
                        f"the session's journal {saved!r} exists, and labels it "
                        "holds that were taught after the save are not loaded: "
                        "load with journal=None (or its path) to have them.",
                        UserWarning,
                        stacklevel=4,
                    )
                self._write_journal_again(found, warn=False)
                return
            raise FileNotFoundError(
                f"the session's journal {self._journal_path!r} is missing: labels "
                "taught after the save would be lost. Restore it (a relative "
                "journal path of an older session is read from the current "
                "directory), pass its new path with skseals.load(..., "
                "journal=path), or journal=False to go on without it."
            )
        header, records = found.read()
        expected = self._journal_head
        if expected is None:  # a session saved before headers were kept
            expected = self._journal_header(self.X_, self._labels)
            found.check_header(
                header,
                expected,
                keys=("n_samples", "n_features", "fingerprint", "kind"),
            )
        else:
            found.check_header(header, expected)
        # Teach, record by record as they were taught, what the journal holds
        # that the session lacks: the records after the save, and those of
        # anyone else who taught into it since (another load of the same
        # save, a journal written again); then append there the session's
        # labels it lacks (taught without it, or before it was written again).
        for record in records:
            self._teach_missing(record)
        self._journal_records = len(records)
        self._append_labels_missing_from(found, records)

    def _teach_missing(self, record):
        """Teach the labels of a journal ``record`` the session lacks (one
        ``teach()``); a label that contradicts the session's is refused."""
        path = self._journal_path
        idx, values = _unknown_part(
            self._labels,
            record,
            lambda rows: (
                f"journal {path!r} and the session disagree on rows {rows}: it is "
                "another session's journal, or two sessions loaded from one save "
                "taught these rows differently. Pass another journal, or "
                "journal=False to go on from the saved session alone."
            ),
        )
        if idx.size:
            codes, fresh = self._labels.prepare(idx, values)
            self._apply_teach(idx, codes, fresh)

    def _labels_missing_from(self, records):
        """``(rows, labels, n_skips)``: the session's labels and skips that
        the journal ``records`` lack (a journal skip is no label)."""
        held, labeled = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for record in records:  # rows the journal holds; rows it labels
            idx = np.asarray(record["rows"], dtype=np.int64)
            held.append(idx)
            labeled.append(idx[~_skips(record["labels"])])
        held, labeled = np.concatenate(held), np.concatenate(labeled)
        rows, values = self._labels.training_set()
        keep = ~np.isin(rows, labeled)
        rows, values = rows[keep], values[keep]
        skipped = np.setdiff1d(self._labels.skipped_rows, held)
        values = np.concatenate(
            [values.astype(object), np.full(skipped.size, UNLABELED, dtype=object)]
        )
        return np.concatenate([rows, skipped]), values, skipped.size

    def _append_labels_missing_from(self, journal, records):
        """Append to ``journal`` one record of what :meth:`_labels_missing_from`
        finds (nothing when it finds nothing)."""
        rows, values, _ = self._labels_missing_from(records)
        if rows.size:
            journal.append(rows, values)
            self._journal_records += 1


def _skips(values):
    """Which of a record's labels are skips (``UNLABELED``)."""
    return np.array(
        [v == UNLABELED and not isinstance(v, bool) for v in values], dtype=bool
    )


def _json_seed(seed):
    """An int seed as JSON (None for anything else)."""
    return int(seed) if isinstance(seed, Integral) else None


def _unknown_part(labels, record, clash_message):
    """``(rows, labels)`` of a journal ``record`` that the LabelStore
    ``labels`` lacks: rows it labels alike already pass, a skip never undoes
    a label nor repeats a skip; a contradicting label raises ValueError with
    ``clash_message(rows)``."""
    idx = np.asarray(record["rows"], dtype=np.int64)
    values = np.asarray(record["labels"], dtype=object)
    if idx.size and (idx.min() < 0 or idx.max() >= labels.codes.shape[0]):
        raise ValueError("journal rows lie outside X: it was written for other data.")
    current = labels.codes[idx]
    skip = _skips(values)
    check = (current >= 0) & ~skip
    have = labels.class_array()[current[check]]
    pairs = zip(idx[check], have, values[check], strict=True)
    clash = [int(r) for r, a, b in pairs if a != b]
    if clash:
        raise ValueError(clash_message(clash[:5]))
    fresh = np.where(skip, current == UNLABELED_CODE, current < 0)
    return idx[fresh], values[fresh]


def _replay(labels, record):
    """Apply one journal record to a LabelStore (see :func:`_unknown_part`)."""
    idx, values = _unknown_part(
        labels,
        record,
        lambda rows: (
            f"the journal labels rows {rows} otherwise than y or an earlier "
            "record of it does: pass the original y (the journal holds the "
            "labels taught after it was made), or another `journal` path (two "
            "sessions loaded from one save may have taught these rows "
            "differently)."
        ),
    )
    if idx.size:
        codes, new = labels.prepare(idx, values)
        labels.apply(idx, codes, new)
