"""X as a chunked, lazily read array (zarr, h5py, ...), never copied whole.

A learner keeps such an X wrapped in :class:`RowArray`: every ``X[rows]``
reads just those rows (one orthogonal selection, sorted and de-duplicated),
and every all-rows pass reads ``X[start:stop]`` block by block through
:func:`~skseals.utils.map_row_blocks`.
"""

from __future__ import annotations

from contextlib import closing
from numbers import Integral

import numpy as np

__all__ = ["RowArray", "dense_rows", "is_row_array"]

#: Chunks (along rows) decoded per read when gathering scattered rows.
_CHUNKS_PER_READ = 2
#: zarr store classes (zarr 3, then zarr 2) that pickle as an address -- a
#: path or a URL -- which another process opens to read the same data. Any
#: other store (in memory, a user's own) and any other array (dask, h5py)
#: is not shipped by reference: its rows go block by block.
_ADDRESS_STORES = {
    *("LocalStore", "FsspecStore", "ObjectStore", "ZipStore"),
    *("DirectoryStore", "NestedDirectoryStore", "TempStore", "FSStore"),
    *("N5Store", "N5FSStore", "LMDBStore", "SQLiteStore", "ABSStore"),
}
#: zarr 3 stores that only wrap ``_store`` (and pickle as it does).
_WRAPPER_STORES = {"LoggingStore", "WrapperStore"}


def _has_address(store):
    """Whether a zarr ``store`` pickles as an address other processes can read."""
    while type(store).__name__ in _WRAPPER_STORES:
        store = getattr(store, "_store", None)
    name = type(store).__name__
    if name not in _ADDRESS_STORES:
        return False
    protocol = getattr(getattr(store, "fs", None), "protocol", ())
    if "memory" in ((protocol,) if isinstance(protocol, str) else protocol):
        return False  # fsspec's memory:// lives in this process only
    if type(getattr(store, "store", None)).__name__ == "MemoryStore":
        return False  # an ObjectStore over obstore's MemoryStore
    if name == "ZipStore":  # being written: no central directory to read yet
        return bool(getattr(store, "read_only", getattr(store, "mode", "") == "r"))
    return True


def is_row_array(X):
    """Whether ``X`` is read lazily by rows: 2-d-shaped, numeric, not an ndarray.

    Anything with ``shape``, a numpy-compatible ``dtype`` and ``__getitem__``
    that is not an ndarray, a scipy sparse matrix or a pandas object (zarr,
    h5py and dask arrays, :class:`RowArray`).
    """
    if isinstance(X, RowArray):
        return True
    if isinstance(X, (np.ndarray, list, tuple)) or not hasattr(X, "__getitem__"):
        return False
    if hasattr(X, "iloc") or hasattr(X, "tocsr") or hasattr(X, "columns"):
        return False  # pandas, scipy.sparse
    shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    if shape is None or dtype is None:
        return False
    try:
        return np.dtype(dtype).kind in "biufcOSUV" and len(tuple(shape)) >= 1
    except TypeError:
        return False  # e.g. a torch dtype


class RowArray:
    """Read-only row access to a lazily read 2-d array, returning ndarrays.

    ``X[rows]`` (int array, list, bool mask, slice or int, optionally with a
    column key) reads only those rows of the wrapped array: integer rows are
    read once each, in increasing order, through ``oindex`` when the array
    has it (zarr), and put back in the order asked. Values are cast to
    ``dtype``. ``np.asarray(X)`` reads the whole array (skseals never does).

    Parameters
    ----------
    array : zarr.Array, h5py.Dataset or array-like
        Shape ``(n_samples, n_features)``; supports ``array[start:stop]`` and
        ``array[sorted_unique_int_rows]``.
    dtype : dtype or None, default=None
        dtype of what is returned; None keeps the array's.
    """

    ndim = 2

    def __init__(self, array, dtype=None):
        if isinstance(array, RowArray):
            array = array.array
        self.array = array
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype if dtype is None else dtype)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"RowArray({type(self.array).__name__}, shape={self.shape})"

    @property
    def by_reference(self):
        """True when pickling ships the store's address, not its data: a zarr
        array on disk or at a URL (see ``_ADDRESS_STORES``)."""
        return _has_address(getattr(self.array, "store", None))

    def __getitem__(self, key):
        cols = None
        if isinstance(key, tuple):
            if len(key) > 2:
                raise IndexError(f"X is 2-d; got {len(key)} indices.")
            key, cols = key if len(key) == 2 else (key[0], None)
        out = self._rows(key)
        if cols is not None:
            out = out[..., cols] if out.ndim == 1 else out[:, cols]
        return out

    def _rows(self, key):
        n = self.shape[0]
        if key is Ellipsis:
            key = slice(None)
        if isinstance(key, slice):
            return self._cast(self.array[key])
        if isinstance(key, Integral) and not isinstance(key, bool):
            if not -n <= key < n:
                raise IndexError(f"row {key} is out of bounds for X with {n} rows.")
            return self._cast(self.array[int(key) % n])
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"a boolean row mask must have shape ({n},).")
            idx = np.flatnonzero(idx)
        if idx.size and idx.dtype.kind not in "iu":
            raise IndexError(f"rows must be integers; got dtype {idx.dtype}.")
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"rows must lie in [-{n}, {n}) for X with {n} rows.")
        flat = np.where(idx < 0, idx + n, idx).ravel()
        uniq, inverse = np.unique(flat, return_inverse=True)
        data = self._take(uniq)
        return data[inverse].reshape(idx.shape + self.shape[1:])

    def _take(self, rows):
        """Rows ``rows`` (sorted, unique) as an ndarray of ``dtype``.

        Rows spread over many chunks are read a few chunks at a time: a
        chunked store decodes every chunk a read touches at once.
        """
        if rows.size == 0:
            return np.empty((0,) + self.shape[1:], dtype=self.dtype)
        chunks = getattr(self.array, "chunks", None)
        try:
            span = int(chunks[0]) * _CHUNKS_PER_READ
        except (TypeError, ValueError, IndexError):
            span = 0
        if span <= 0 or rows[-1] // span == rows[0] // span:
            return self._read(rows)
        cuts = np.flatnonzero(np.diff(rows // span)) + 1
        return np.concatenate([self._read(part) for part in np.split(rows, cuts)])

    def _read(self, rows):
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if hi - lo == rows.size:  # a contiguous run: one slice read
            return self._cast(self.array[lo:hi])
        oindex = getattr(self.array, "oindex", None)
        if oindex is not None:
            return self._cast(oindex[rows])
        return self._cast(self.array[rows])

    def _cast(self, values):
        return np.asarray(values, dtype=self.dtype)

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("reading a RowArray into an ndarray always copies.")
        return np.asarray(self.array[:], dtype=self.dtype if dtype is None else dtype)


def _read_block(block, start, stop, dtype):
    return start, np.asarray(block, dtype=dtype)


class _OwnedRows:
    """An ndarray skseals read itself: an index may normalise it in place."""

    def __init__(self, values):
        self.values = values
        self.shape, self.dtype, self.ndim = values.shape, values.dtype, values.ndim

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype, copy=False)


def dense_rows(X, dtype=np.float32, block_size=65536):
    """``X`` unchanged, or a lazily read X read into memory block by block.

    For building an in-memory index, which holds the vectors anyway: the
    blocks go through :func:`~skseals.utils.iter_row_blocks` (so a Dask
    cluster under ``parallel_config(backend="dask")``) straight into one
    C-contiguous ``dtype`` array, wrapped so that the index owns it.
    """
    if not is_row_array(X) or len(X.shape) != 2:
        return X
    from ._parallel import iter_row_blocks

    X = X if isinstance(X, RowArray) else RowArray(X)
    out = np.empty(X.shape, dtype=dtype)
    parts = iter_row_blocks(_read_block, X.shape[0], block_size, X=X, args=(dtype,))
    with closing(parts):  # an error here ends the pass and its thread caps now
        for start, block in parts:
            out[start : start + block.shape[0]] = block
    return _OwnedRows(out)
