"""Faiss indexes larger than RAM, opened from disk: on-disk IVF lists, or
shards with global ids (written by the builders of ``_faiss_build``)."""

from __future__ import annotations

import json
import os

import faiss

from ..utils._parallel import shipped_rows
from ._common import read_meta
from ._faiss import FaissIndex

__all__ = ["OnDiskFaissIndex"]


class OnDiskFaissIndex(FaissIndex):
    """A :class:`FaissIndex` whose faiss index lives on disk, memory-mapped.

    Made by :func:`build_ondisk_ivf` (one IVF index, inverted lists merged
    on disk) or :func:`build_index_shards` (``faiss.IndexShards`` over
    ``faiss.IndexIDMap`` shards that keep global row ids). Searches exclude
    rows inside faiss, as :class:`FaissIndex` does (``IDSelectorBitmap``
    through ``SearchParametersIVF``, which reaches every shard). The rows it
    was built on are read from ``X`` (e.g. a ``np.memmap``) only for the rows
    :meth:`search_rows` asks for; nothing the size of X is held in memory.

    The index stays in the files its builder wrote: it pickles as their path
    (loading checks they still hold ``n_samples_fit_`` rows), and
    :meth:`save` refuses to copy it -- save a learner that uses it with
    ``learner.save(path, include_index=False)`` and resume with
    ``skseals.load(path, X, index=OnDiskFaissIndex.load(index_path, X))``.

    Parameters
    ----------
    factory, metric, nprobe, ef_search, train_size, random_state, verbose
        As for :class:`FaissIndex`. Construct it through a builder rather
        than directly: :func:`build_ondisk_ivf` and :func:`build_index_shards`
        set ``factory``, ``metric``, ``nprobe`` and ``random_state`` from their
        own arguments and record them in ``path.json``, which :meth:`load`
        reads back. ``fit`` builds an ordinary in-memory index, as
        :meth:`FaissIndex.fit` does.

    Attributes
    ----------
    index_ : faiss.Index
        The memory-mapped index: one IVF index with its inverted lists in
        ``path.ivfdata`` (:func:`build_ondisk_ivf`), or a
        ``faiss.IndexShards`` over the shard files (:func:`build_index_shards`).
    path_ : str
        The ``path`` given to the builder.
    factory_ : str
        The factory string used.
    n_samples_fit_ : int
        Number of indexed rows.
    n_features_in_ : int
        Number of features of X.

    Examples
    --------
    >>> import numpy as np, os, pickle, tempfile
    >>> from skseals.neighbors import OnDiskFaissIndex, build_index_shards
    >>> from skseals.utils import RowBitmap
    >>> X = np.random.default_rng(0).normal(size=(2000, 8)).astype(np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "X.index")
    >>> index = build_index_shards(X, path, factory="IVF16,Flat", shard_size=500,
    ...                            nprobe=16, random_state=0)
    >>> index
    OnDiskFaissIndex(factory='IVF16,Flat', nprobe=16, random_state=0)
    >>> skip = RowBitmap(2000)
    >>> skip.add([0])
    >>> index.search_rows([0], 3, exclude=skip)[1].tolist()  # row 0 is excluded
    [[1858, 993, 728]]
    >>> again = OnDiskFaissIndex.load(path, X)  # reopens the files, no rebuild
    >>> again.search_rows([0], 3)[1].tolist()
    [[0, 1858, 993]]
    >>> index.save(path + ".copy")
    Traceback (most recent call last):
    ...
    TypeError: save() does not copy an OnDiskFaissIndex: ...
    """

    def _build(self, V):
        self.path_ = None  # fitted in memory: no files behind it any more
        super()._build(V)

    def _attach(self, X):
        if X is not None and X.shape != (self.n_samples_fit_, self.n_features_in_):
            raise ValueError(
                f"X has shape {X.shape}, the index was built on "
                f"({self.n_samples_fit_}, {self.n_features_in_}) rows."
            )
        self._X = X
        self._finish_build(None)
        return self

    def _open(self):
        """Memory-map the files at ``path_``; check they hold the rows built."""
        index = _read(self.path_)
        if index.ntotal != self.n_samples_fit_:
            raise ValueError(
                f"the faiss index at {self.path_!r} holds {index.ntotal} rows, not "
                f"the {self.n_samples_fit_} it was built on: files of another build "
                "are mixed in. Build the index again at this path (the builders "
                "delete an earlier build's files first), or use another path."
            )
        self.index_ = index

    def __getstate__(self):
        if getattr(self, "path_", None) is None:  # fitted in memory by fit()
            return super().__getstate__()
        # Pickle the files' path, not the index (it may not fit in memory), and
        # a file-backed X by reference.
        state = self.__dict__.copy()
        state.pop("index_", None)
        if state.get("_X") is not None:  # a file-backed X goes by reference
            state["_X"] = shipped_rows(state["_X"])
        return state

    def __setstate__(self, state):
        if state.get("path_") is None:
            super().__setstate__(state)
            return
        self.__dict__.update(state)
        self._open()

    def save(self, path):
        """Refuse to copy an index made by a builder: its files are the saved index.

        faiss cannot write a sharded index, nor the inverted lists of an
        on-disk one, into one file, and copying an index larger than memory
        into a saved learner session is rarely wanted. The files at
        ``path_`` already hold the index: reload them with :meth:`load`. An
        index fitted in memory with ``fit`` is saved as by
        :meth:`FaissIndex.save`.

        Parameters
        ----------
        path : str or path-like
            Destination file (only for an index fitted in memory).

        Raises
        ------
        TypeError
            For an index made by :func:`build_ondisk_ivf` or
            :func:`build_index_shards`.
        """
        if getattr(self, "path_", None) is None:  # fitted in memory by fit()
            return super().save(path)
        raise TypeError(
            "save() does not copy an OnDiskFaissIndex: it lives in the files "
            f"written at {self.path_!r}, which faiss cannot write into one file. "
            "Save a learner that uses it with learner.save(path, "
            "include_index=False) and resume it with skseals.load(path, X, "
            f"index=OnDiskFaissIndex.load({self.path_!r}, X)) (or the KNNGraph "
            "built over it, loaded with KNNGraph.load(..., index=...))."
        )

    @classmethod
    def load(cls, path, X=None, *, mmap=True):
        """Load an index written by a builder of this module, memory-mapped.

        Parameters
        ----------
        path : str or path-like
            The ``path`` given to the builder.
        X : array-like of shape (n_samples, n_features) or None, default=None
            The rows the index was built on (a ``np.memmap`` is read lazily),
            needed by :meth:`search_rows`.
        mmap : bool, default=True
            Ignored: inverted lists are always memory-mapped.

        Returns
        -------
        index : OnDiskFaissIndex
            A fitted index.
        """
        index, meta = read_meta(path, cls)
        index.factory_ = meta["factory_"]
        index.path_ = os.fspath(path)
        index._open()
        return index._attach(X)


def _built_files(path, prefix, suffix):
    """Names of the files ``path + prefix + ... + suffix`` in ``path``'s directory."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        return []
    return sorted(
        os.path.join(directory, f)
        for f in names
        if f.startswith(base + prefix) and f.endswith(suffix)
    )


def _written_by_builder(path):
    """Whether ``path.json`` says a builder of this module wrote the index at path."""
    try:
        with open(path + ".json", encoding="utf-8") as f:
            return json.load(f).get("class") == OnDiskFaissIndex.__name__
    except (OSError, ValueError, AttributeError):
        return False


def _remove_earlier_build(path):
    """Delete the files an earlier build left at ``path``; never others' files.

    Shard and temporary files are recognised by their names; ``path``,
    ``path.ivfdata`` and ``path.json`` are deleted when ``path.json`` names an
    OnDiskFaissIndex or ``path.ivfdata`` exists. Any other file at ``path`` (or
    ``path.json``) raises ValueError. Files are unlinked, not rewritten: an
    index still mapping them keeps working (POSIX) until it is released.
    """
    ours = _written_by_builder(path) or os.path.exists(path + ".ivfdata")
    if not ours and (os.path.lexists(path) or os.path.lexists(path + ".json")):
        raise ValueError(
            f"path={path!r} (or {path + '.json'!r}) exists and is not an index "
            "written by build_ondisk_ivf or build_index_shards: choose another "
            "path, or delete it first."
        )
    stale = _built_files(path, ".shard", ".faissindex")
    stale += _built_files(path, ".add", ".tmp")
    if ours:
        own = (path, path + ".ivfdata", path + ".json")
        stale += [fname for fname in own if os.path.lexists(fname)]
    for fname in stale:
        os.remove(fname)


def _read(path):
    """The faiss index (or shards) written at ``path``, memory-mapped."""
    if os.path.exists(path):  # one merged index with on-disk inverted lists
        return faiss.read_index(path, faiss.IO_FLAG_ONDISK_SAME_DIR)
    index = None
    for fname in _built_files(path, ".shard", ".faissindex"):
        shard = faiss.read_index(fname, faiss.IO_FLAG_MMAP)
        if index is None:
            index = faiss.IndexShards(shard.d, False, False)
            index.metric_type = shard.metric_type
        index.add_shard(shard)  # the faiss wrapper keeps a reference to shard
    if index is None:
        raise FileNotFoundError(f"no index written at {path!s}")
    return index
