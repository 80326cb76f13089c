"""Read and write embeddings with concept membership (the shared ``.npz`` format)."""

from __future__ import annotations

import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import _concept_bunch, pool_test_split

__all__ = ["load_concept_data", "save_concept_data"]

_CHUNK = 65_536
_MEMBERSHIP_KEYS = (
    "concept_indptr",
    "concept_members",
    "labels",
    "concept_name",
    "concept_names",
    "split",
    "test_ids",
    "concept_kind",
)


def _as_unit_float32(X, normalize):
    """float32 copy if needed; L2-normalised (in chunks) unless already unit
    norm. Raises when a row holds NaN or infinity."""
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(
            f"embeddings must be a non-empty 2-D array; got shape {X.shape}."
        )
    unit = True
    for i in range(0, X.shape[0], _CHUNK):
        with np.errstate(over="ignore"):  # too large for float32: inf, refused
            block = np.asarray(X[i : i + _CHUNK], dtype=np.float32)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            row = i + int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"embeddings hold NaN or infinity (first in row {row}, after "
                "conversion to float32): repair or drop those rows."
            )
        if normalize and unit:
            norms = np.linalg.norm(block, axis=1)
            unit = bool(np.allclose(norms, 1.0, atol=1e-4))
    normalize = normalize and not unit
    if X.dtype == np.float32 and not normalize:
        return X
    out = np.empty(X.shape, dtype=np.float32)
    for i in range(0, X.shape[0], _CHUNK):
        block = np.asarray(X[i : i + _CHUNK], dtype=np.float32)
        if normalize:
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            block = block / np.where(norms > 0, norms, 1)
        out[i : i + _CHUNK] = block
    return out


@contextmanager
def _reading(path, what):
    """Errors of numpy reading ``path`` as a ValueError naming the file."""
    try:
        yield
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no such {what}: {path}") from exc
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        reason = str(exc) or type(exc).__name__
        if "pickled" in reason:  # no .npy/.npz header: numpy falls back to pickle
            reason = (
                "it is not a .npy or .npz array file (numpy reads it as pickled "
                "Python objects, which are never loaded)"
            )
        raise ValueError(f"cannot read the {what} {path}: {reason}") from exc


def _membership_arrays(archive):
    """The membership keys of an open .npz, read (CRC-checked) into a dict."""
    return {k: archive[k] for k in _MEMBERSHIP_KEYS if k in archive.files}


def _check_membership(indptr, members, names, split, n):
    """Raise a ValueError when the CSR membership or the split is malformed."""
    if indptr.ndim != 1 or indptr.size == 0 or indptr.dtype.kind not in "iu":
        raise ValueError(
            "concept_indptr must be a 1-D int array of n_concepts + 1 offsets; "
            f"got dtype {indptr.dtype} and shape {indptr.shape}."
        )
    if members.ndim != 1 or (members.size and members.dtype.kind not in "iu"):
        raise ValueError(
            "concept_members must be a 1-D int array of row ids; got dtype "
            f"{members.dtype} and shape {members.shape}."
        )
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != members.size:
        raise ValueError(
            "concept_indptr must start at 0, never decrease and end at "
            f"len(concept_members) = {members.size}; got {indptr[:3].tolist()}"
            f"{' ...' if indptr.size > 3 else ''} ending at {int(indptr[-1])}."
        )
    if members.size and (members.min() < 0 or members.max() >= n):
        raise ValueError(f"concept members must be rows of X, in [0, {n}).")
    if names is not None and len(names) != indptr.size - 1:
        raise ValueError(
            f"concept_name has {len(names)} entries but the membership holds "
            f"{indptr.size - 1} concepts."
        )
    if split is not None:
        if split.shape != (n,):
            raise ValueError(f"split has shape {split.shape} but X has {n} rows.")
        if not np.isin(split, (0, 1)).all():
            raise ValueError("split must hold only 0 (pool row) and 1 (test row).")
        if not np.any(split == 0):
            raise ValueError("split has no pool row (0): nothing could be labeled.")


def _membership_from_labels(labels):
    """CSR membership from an int vector (-1 = no concept, c >= 0 = concept c)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            "labels must be a 1-D int array (-1 for no concept, c >= 0 for "
            f"concept c); got dtype {labels.dtype} and shape {labels.shape}."
        )
    rows = np.flatnonzero(labels >= 0)
    order = np.argsort(labels[rows], kind="stable")
    members = rows[order]
    counts = np.bincount(labels[rows], minlength=0)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return indptr, members


def _read_membership(source, n_samples):
    """(indptr, members, names or None, split or None, extras) from an npz/npy."""
    if not isinstance(source, dict):
        indptr, members = _membership_from_labels(source)
        return indptr, members, None, None, {}
    files = set(source)
    if {"concept_indptr", "concept_members"} <= files:
        indptr, members = source["concept_indptr"], source["concept_members"]
    elif "labels" in files:
        indptr, members = _membership_from_labels(source["labels"])
    else:
        raise ValueError(
            "the concept file holds neither 'concept_indptr' and "
            "'concept_members' (CSR membership of each concept) nor 'labels' "
            "(one int per row, -1 for none); the formats are listed by "
            "`skseals bench --help` and skseals.datasets.load_concept_data."
        )
    names = next(
        (source[k] for k in ("concept_name", "concept_names") if k in files), None
    )
    if "split" in files:
        split = source["split"]
    elif "test_ids" in files:
        test_ids = np.asarray(source["test_ids"])
        if test_ids.ndim != 1 or (test_ids.size and test_ids.dtype.kind not in "iu"):
            raise ValueError("test_ids must be a 1-D int array of row ids.")
        if test_ids.size and (test_ids.min() < 0 or test_ids.max() >= n_samples):
            raise ValueError(f"test_ids must be rows of X, in [0, {n_samples}).")
        split = np.zeros(n_samples, dtype=np.int8)
        split[test_ids] = 1
    else:
        split = None
    extras = {k: source[k] for k in ("concept_kind",) if k in files}
    return indptr, members, names, split, extras


def read_embeddings(path, *, mmap_mode=None):
    """``(X, archive)``: the embeddings of an ``.npz`` (under ``emb`` or ``X``)
    with its open archive, or of an ``.npy`` (``archive`` None), as stored.

    Errors name the file: a ValueError for a file numpy cannot read (corrupt,
    truncated, pickled objects) or an ``.npz`` without embeddings.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy"):
        raise ValueError(f"path must end in .npz or .npy; got {path.name!r}.")
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    if suffix == ".npy":
        with _reading(path, "data file"):
            return np.load(path, mmap_mode=mmap_mode, allow_pickle=False), None
    with _reading(path, "data file"):
        archive = np.load(path, allow_pickle=False)
    key = next((k for k in ("emb", "X") if k in archive.files), None)
    if key is None:
        raise ValueError(f"{path} holds no embeddings under 'emb' or 'X'.")
    with _reading(path, "data file"):
        return archive[key], archive


def load_concept_data(
    path: str | os.PathLike,
    labels: str | os.PathLike | np.ndarray | None = None,
    *,
    normalize: bool = True,
    mmap_mode: str | None = None,
    test_size: float = 0.2,
    random_state: int | None = 0,
) -> Bunch:
    """Load embeddings and concept membership in the form of make_rare_concepts.

    Two layouts are read:

    - One ``.npz`` file in the shared format: embeddings under ``emb`` (or
      ``X``), membership as CSR arrays ``concept_indptr``/``concept_members``
      (or an int vector ``labels``), and optionally ``concept_name``, ``split``
      (0 pool, 1 test) or ``test_ids``, and ``concept_kind``.
    - A ``.npy`` embedding matrix (may be memory-mapped) plus a ``labels``
      file: a ``.npy`` int vector with one entry per row (-1 for no concept,
      ``c >= 0`` for concept ``c``) or a ``.npz`` with the membership keys
      above (what :func:`save_concept_data` writes with ``include_X=False``).

    Parameters
    ----------
    path : str or path-like
        ``.npz`` data file or ``.npy`` embeddings.
    labels : str, path-like, array-like of int or None, default=None
        Concept membership, required for ``.npy`` embeddings; for an ``.npz``
        it replaces the membership stored in the file.
    normalize : bool, default=True
        L2-normalise the rows (no copy is made when they already have unit
        norm and are float32). Embeddings are always returned as float32.
    mmap_mode : {None, "r", "r+", "c"}, default=None
        Memory-map ``.npy`` embeddings (see :func:`numpy.load`).
    test_size, random_state : float and int, default=0.2 and 0
        Used only when the files hold no split: then a stratified one is made
        with :func:`pool_test_split`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``concepts``, ``concept_indptr``, ``concept_members``,
        ``concept_names``, ``split``, ``pool_ids``, ``test_ids`` (as in
        :func:`make_rare_concepts`), plus ``concept_kind`` when present.

    Examples
    --------
    >>> import tempfile, os
    >>> from skseals.datasets import (load_concept_data, make_rare_concepts,
    ...                               save_concept_data)
    >>> data = make_rare_concepts(2000, 8, n_concepts=2, prevalence=0.01,
    ...                           random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "data.npz")
    >>> save_concept_data(data, path)
    >>> loaded = load_concept_data(path)
    >>> loaded.X.shape, [len(c) for c in loaded.concepts]
    ((2000, 8), [20, 20])
    """
    X, archive = read_embeddings(path, mmap_mode=mmap_mode)
    if labels is None:
        if archive is None:
            raise ValueError(
                "labels is required with .npy embeddings: pass a .npy int "
                "vector or an .npz file of concept membership."
            )
        with _reading(path, "data file"):
            source = _membership_arrays(archive)
    elif isinstance(labels, (str, os.PathLike)):
        with _reading(labels, "labels file"):
            source = np.load(labels, allow_pickle=False)
            if hasattr(source, "files"):
                source = _membership_arrays(source)
    else:
        source = np.asarray(labels)
    X = _as_unit_float32(X, normalize)
    n = X.shape[0]
    if isinstance(source, np.ndarray) and source.ndim == 1 and source.size != n:
        raise ValueError(f"labels has {source.size} entries but X has {n} rows.")
    indptr, members, names, split, extras = _read_membership(source, n)
    indptr, members = np.asarray(indptr), np.asarray(members)
    split = None if split is None else np.asarray(split)
    _check_membership(indptr, members, names, split, n)
    indptr, members = indptr.astype(np.int64), members.astype(np.int64)
    if names is None:
        names = [f"concept_{c}" for c in range(indptr.size - 1)]
    if split is None:
        concepts = [members[indptr[c] : indptr[c + 1]] for c in range(indptr.size - 1)]
        split = pool_test_split(
            n, concepts, test_size=test_size, random_state=random_state
        )
    return _concept_bunch(X, indptr, members, names, split, **extras)


def save_concept_data(
    data: Bunch, path: str | os.PathLike, *, include_X: bool = True
) -> None:
    """Write a concept data set in the shared ``.npz`` format.

    Keys written: ``emb`` (float32, unless ``include_X=False``),
    ``concept_indptr``, ``concept_members``, ``concept_name``,
    ``concept_size``, ``concept_pool_size``, ``concept_test_size``, ``split``,
    ``pool_ids`` and ``test_ids``; :func:`load_concept_data` reads them back.

    Parameters
    ----------
    data : Bunch
        As returned by :func:`make_rare_concepts` or :func:`load_concept_data`.
    path : str or path-like
        Output ``.npz`` file.
    include_X : bool, default=True
        Whether to store the embeddings; without them the file is a labels
        file for ``.npy`` embeddings (e.g. those written by
        ``make_rare_concepts(out=...)``).

    Examples
    --------
    A labels file without the embeddings, read back with them from a
    ``.npy`` file (:func:`load_concept_data` shows the full round trip):

    >>> import os, tempfile
    >>> import numpy as np
    >>> from skseals.datasets import (load_concept_data, make_rare_concepts,
    ...                               save_concept_data)
    >>> data = make_rare_concepts(2000, 8, n_concepts=2, prevalence=0.01,
    ...                           random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> labels = os.path.join(folder, "labels.npz")
    >>> save_concept_data(data, labels, include_X=False)
    >>> with np.load(labels) as f:
    ...     "emb" in f.files, f["concept_size"].tolist(), f["split"].shape
    (False, [20, 20], (2000,))
    >>> np.save(os.path.join(folder, "emb.npy"), data.X)
    >>> loaded = load_concept_data(os.path.join(folder, "emb.npy"), labels=labels)
    >>> loaded.X.shape, [len(c) for c in loaded.concepts]
    ((2000, 8), [20, 20])
    """
    indptr = np.asarray(data.concept_indptr, dtype=np.int64)
    members = np.asarray(data.concept_members, dtype=np.int64)
    split = np.asarray(data.split, dtype=np.int8)
    in_test = split[members] == 1
    per_concept = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    n_concepts = indptr.size - 1
    arrays = dict(
        concept_indptr=indptr,
        concept_members=members,
        concept_name=np.asarray(data.concept_names).astype(str),
        concept_size=np.diff(indptr),
        concept_pool_size=np.bincount(per_concept[~in_test], minlength=n_concepts),
        concept_test_size=np.bincount(per_concept[in_test], minlength=n_concepts),
        split=split,
        pool_ids=np.flatnonzero(split == 0),
        test_ids=np.flatnonzero(split == 1),
    )
    if "concept_kind" in data:
        arrays["concept_kind"] = np.asarray(data.concept_kind)
    if include_X:
        arrays["emb"] = np.asarray(data.X, dtype=np.float32)
    np.savez(path, **arrays)
