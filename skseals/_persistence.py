"""Save and resume a labeling session in a format that never runs code on load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
from sklearn.base import BaseEstimator

from ._journal import data_fingerprint
from .base import BaseNeighborIndex, _is_index_like
from .utils import import_optional

__all__ = ["save_session", "load"]

_FORMAT = "skseals-session"
_VERSION = 1
_MANIFEST = "manifest.json"


# -- components as JSON ------------------------------------------------------
def _registry():
    """Classes a session may name: the public skseals components, nothing else."""
    from . import ActiveLearner, ActiveSearcher, neighbors, pool, query

    names = {"ActiveLearner": ActiveLearner, "ActiveSearcher": ActiveSearcher}
    for module in (query, pool, neighbors):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                names[name] = obj
    return names


def mt19937_state(rng):
    """``(keys, pos, has_gauss, cached_gaussian)`` of a RandomState, which a
    session stores; ValueError for one over another bit generator."""
    kind = rng.get_state(legacy=False)["bit_generator"]
    if kind != "MT19937":
        raise ValueError(
            f"random_state: a saved session stores a RandomState's MT19937 state, "
            f"and this one runs on {kind}. Pass an int or "
            "np.random.RandomState(seed) to save the learner."
        )
    return rng.get_state()[1:]


def _rng_to_json(rng):
    keys, pos, has_gauss, cached = mt19937_state(rng)
    return [keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _rng_from_json(value):
    keys, pos, has_gauss, cached = value
    rng = np.random.RandomState()
    rng.set_state(
        ("MT19937", np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
    )
    return rng


def _param_to_json(value, saved_index):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, os.PathLike):  # e.g. journal=pathlib.Path(...)
        return os.fsdecode(value)
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": _rng_to_json(value)}
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    if _is_index_like(value) and getattr(value, "n_samples_fit_", None):
        if value is not saved_index:
            raise ValueError(
                "This learner's pool parameter holds a fitted index that is not the "
                "index in use; save() can only store the index in use."
            )
        return {"__index__": True}
    if type(value).__name__ in _registry() and isinstance(value, BaseEstimator):
        params = value.get_params(deep=False)
        return {
            "__class__": type(value).__name__,
            "params": {k: _param_to_json(v, saved_index) for k, v in params.items()},
        }
    hint = ""
    if _is_index_like(value):
        hint = (
            " An index of another kind is saved by reference once fitted: fit "
            "it, pass it fitted, save with include_index=False and give it back "
            "to skseals.load(path, X, index=...)."
        )
    raise TypeError(
        f"Cannot save parameter value {value!r} of type {type(value).__name__}: "
        "sessions store numbers, strings, paths, RandomState instances and skseals "
        f"components (estimators go through skops).{hint}"
    )


def _param_from_json(value, index):
    if isinstance(value, dict):
        if "__random_state__" in value:
            return _rng_from_json(value["__random_state__"])
        if value.get("__index__"):
            if index is None:
                raise ValueError(
                    "This session's pool uses a prebuilt index that was saved "
                    "without it (include_index=False): pass that index, fitted on "
                    "X, as skseals.load(path, X, index=...)."
                )
            return index
        registry = _registry()
        name = value.get("__class__")
        if name not in registry:
            raise ValueError(
                f"The session names an unknown component {name!r}; only skseals "
                "components are accepted. The file may have been tampered with."
            )
        params = {k: _param_from_json(v, index) for k, v in value["params"].items()}
        return registry[name](**params)
    return value


# -- files -------------------------------------------------------------------
def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(directory):
    files = sorted(
        f for f in os.listdir(directory) if f != _MANIFEST and not f.startswith(".")
    )
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "files": {f: _sha256(os.path.join(directory, f)) for f in files},
    }
    with open(os.path.join(directory, _MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)


def _check_manifest(directory):
    path = os.path.join(directory, _MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{directory!r} is not a readable skseals session ({exc}); pass the "
            "directory written by save()."
        ) from None
    if manifest.get("format") != _FORMAT or manifest.get("version") != _VERSION:
        raise ValueError(f"{directory!r} is not a skseals session (version 1).")
    for name, digest in manifest["files"].items():
        file = os.path.join(directory, os.path.basename(name))
        if not os.path.exists(file) or _sha256(file) != digest:
            raise ValueError(
                f"session file {name!r} is missing, truncated or modified (its "
                "checksum does not match the manifest): the session cannot be "
                "trusted. Load another copy."
            )
    return manifest


def _save_index(index, directory, X):
    if index is None:
        return None
    from . import neighbors

    if type(index).__name__ not in neighbors.__all__:
        raise TypeError(
            f"the index in use, a {type(index).__name__}, is not one of skseals's "
            "index classes and cannot be written into the session: save with "
            "include_index=False and pass it back with skseals.load(path, X, "
            "index=...)."
        )
    index.save(os.path.join(directory, "index"))
    entry = {"class": type(index).__name__}
    inner = getattr(index, "index_", None)
    if entry["class"] == "KNNGraph" and isinstance(inner, BaseNeighborIndex):
        inner.save(os.path.join(directory, "graph_index"))
        entry["graph_index"] = type(inner).__name__
    return entry


def _load_one(name, path, X, **kwargs):
    from . import neighbors

    if name not in neighbors.__all__ or not isinstance(getattr(neighbors, name), type):
        raise ValueError(f"unknown index class {name!r} in the session.")
    cls = getattr(neighbors, name)
    if name == "FaissIndex":
        return cls.load(path, X)
    return cls.load(path, **kwargs)


def _load_index(entry, directory, X):
    if entry is None:
        return None
    path = os.path.join(directory, "index")
    if entry["class"] != "KNNGraph":
        return _load_one(entry["class"], path, X)
    inner = None
    if entry.get("graph_index"):
        inner = _load_one(
            entry["graph_index"], os.path.join(directory, "graph_index"), X
        )
    return _load_one("KNNGraph", path, X, mmap_mode=None, index=inner)


# -- save / load -------------------------------------------------------------
def save_session(learner, path, *, overwrite=False, include_index=True):
    """Write ``learner``'s session to the directory ``path`` (see ``save``)."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"path={path!r} already exists: pass overwrite=True to replace it, or "
            "another path."
        )
    state = learner._session_state()
    index = getattr(learner.pool_, "index_", None) if include_index else None
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=".skseals-", dir=parent)
    try:
        params = learner.get_params(deep=False)
        estimator = params.pop("estimator")
        state["params"] = {
            k: _param_to_json(v, getattr(learner.pool_, "index_", None))
            for k, v in params.items()
        }
        state["estimator"] = None
        if estimator is not None:
            sio = import_optional("skops.io")
            sio.dump(estimator, os.path.join(tmp, "estimator.skops"))
            state["estimator"] = "estimator.skops"
        state["index"] = _save_index(index, tmp, learner.X_)
        arrays = state.pop("arrays")
        with open(os.path.join(tmp, "arrays.npz"), "wb") as f:
            np.savez(f, **arrays)
        with open(os.path.join(tmp, "session.json"), "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1)
        _write_manifest(tmp)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(path, X, *, index=None, trusted=None, journal=None):
    """Resume a session written by ``learner.save(path)``.

    Loading reads only JSON and ``.npz`` arrays (``allow_pickle=False``) and,
    for a non-default estimator, a skops file checked against skops' trusted
    types: nothing in the files can run code. Every file's SHA-256 is checked
    against the session's manifest first, so a truncated or modified session is
    refused with a clear error. The estimator is refit from the saved labels and
    pseudo-negatives (deterministically) and the pool, pending rows and random
    state are restored, so a loaded session queries exactly what the original
    would have queried next.

    Parameters
    ----------
    path : str or path-like
        The directory written by ``save``.
    X : array-like of shape (n_samples, n_features)
        The same data the session was fitted on (checked by shape and a
        fingerprint of its rows).
    index : index object, default=None
        A fitted index (or KNNGraph) over X to use instead of the saved one,
        e.g. a large prebuilt index saved on its own.
    trusted : list of str, default=None
        Extra types to trust when reading the estimator with skops.
    journal : str, path-like or False, default=None
        The journal to continue. None: the one in force when the session was
        saved (a missing file raises FileNotFoundError rather than lose the
        labels taught after the save). A path: that journal instead (e.g.
        the saved one, moved; it must be of the same data and learner), or a
        new one written there with the session's labels. The journal's
        labels the session lacks (taught after the save, by it or by another
        load of the same save) are taught record by record, as they were;
        the session's labels it lacks are appended to it; a label that
        contradicts the session's is refused. False: go on without a journal.

    Returns
    -------
    learner : ActiveLearner or ActiveSearcher
        The resumed learner.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import skseals
    >>> from skseals import ActiveSearcher
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 5)).astype(np.float32)
    >>> y = np.full(300, -1); y[:5] = 1; y[5:20] = 0
    >>> s = ActiveSearcher(batch_size=5, random_state=0).fit(X, y)
    >>> rows = s.query(); s = s.teach(rows, np.zeros(5, dtype=int))
    >>> path = os.path.join(tempfile.mkdtemp(), "session")
    >>> s.save(path)
    >>> resumed = skseals.load(path, X)
    >>> bool((resumed.query() == s.query()).all())
    True
    """
    from ._learner import ActiveLearner
    from ._searcher import ActiveSearcher

    path = os.fspath(path)
    _check_manifest(path)
    with open(os.path.join(path, "session.json"), encoding="utf-8") as f:
        state = json.load(f)
    classes = {"ActiveLearner": ActiveLearner, "ActiveSearcher": ActiveSearcher}
    if state.get("format") != _FORMAT or state.get("class") not in classes:
        raise ValueError(f"{path!r} does not hold a skseals learner session.")
    with np.load(os.path.join(path, "arrays.npz"), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    from sklearn.utils.validation import check_array

    X_given = X  # a DataFrame keeps its column names for the learner
    X = check_array(X, dtype=[np.float32, np.float64])
    if (X.shape[0], X.shape[1]) != (state["n_samples"], state["n_features"]) or (
        data_fingerprint(X) != state["fingerprint"]
    ):
        raise ValueError(
            f"X (shape {X.shape}) is not the data this session was fitted on "
            f"(shape ({state['n_samples']}, {state['n_features']}), fingerprint "
            f"{state['fingerprint']}): pass the same X, in the same row order."
        )
    if index is None:
        index = _load_index(state["index"], path, X)
    params = {k: _param_from_json(v, index) for k, v in state["params"].items()}
    if state["estimator"] is not None:
        sio = import_optional("skops.io")
        params["estimator"] = _load_estimator(
            sio, os.path.join(path, state["estimator"]), trusted
        )
    learner = classes[state["class"]](**params)
    return learner._restore(X_given, state, arrays, index, journal=journal)


def _load_estimator(sio, file, trusted):
    """The saved estimator, read by skops; types skops does not trust by
    default are refused with the ``trusted`` list that would accept them."""
    try:
        return sio.load(file, trusted=trusted)
    except Exception as exc:
        if type(exc).__name__ != "UntrustedTypesFoundException":
            raise
        untrusted = sio.get_untrusted_types(file=file)
        raise TypeError(
            f"the saved estimator holds types skops does not trust by default: "
            f"{untrusted}. If you trust them (e.g. your own estimator class, "
            f"importable here), pass them: skseals.load(path, X, "
            f"trusted={untrusted!r})."
        ) from exc
