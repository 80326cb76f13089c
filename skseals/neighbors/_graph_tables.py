"""A KNNGraph's neighbour table: its id dtype, and the checks a table read
from disk passes before the compiled SEALS loop may use it."""

from __future__ import annotations

import numpy as np

__all__ = ["check_tables", "id_dtype"]

#: Table entries whose ids are checked at once: a memory-mapped table is read
#: a block at a time, never held in memory whole.
_CHECK_ENTRIES = 1 << 22


def id_dtype(n_rows: int) -> type:
    """The dtype of a table of row ids: int32 if every id fits, else int64."""
    return np.int32 if n_rows - 1 <= np.iinfo(np.int32).max else np.int64


def _first_bad_row(ids, n_rows):
    """First row of ``ids`` holding an id other than -1 outside [0, n_rows), or None.

    Read ``_CHECK_ENTRIES`` entries at a time.
    """
    step = max(1, _CHECK_ENTRIES // max(1, ids.shape[1]))
    for start in range(0, ids.shape[0], step):
        block = np.asarray(ids[start : start + step])
        if block.size and (block.min() < -1 or block.max() >= n_rows):
            bad = ((block < -1) | (block >= n_rows)).any(axis=1)
            return start + int(np.flatnonzero(bad)[0])
    return None


def check_tables(neighbors, distances, n_samples, n_neighbors, source):
    """Check a neighbour table (and its distances) from ``source`` before use.

    The compiled SEALS loop reads the table without bounds checks, so a table
    of other rows would crash the process; this refuses it with a ValueError.
    """
    if (
        not isinstance(neighbors, np.ndarray)
        or neighbors.ndim != 2
        or neighbors.dtype.kind not in "iu"
    ):
        raise ValueError(
            f"{source} must be a 2-d integer array of row ids, got "
            f"{type(neighbors).__name__} of dtype {getattr(neighbors, 'dtype', '?')} "
            f"and shape {getattr(neighbors, 'shape', '?')}: pass the file written "
            "by KNNGraph.save."
        )
    if neighbors.shape != (n_samples, n_neighbors):
        raise ValueError(
            f"{source} has shape {neighbors.shape} but the graph holds "
            f"{n_samples} rows of {n_neighbors} neighbours (n_samples_fit_, "
            "n_neighbors): the table and its .json do not belong together; "
            "save the graph again with KNNGraph.save."
        )
    if (
        not isinstance(distances, np.ndarray)
        or distances.shape != neighbors.shape
        or distances.dtype.kind != "f"
    ):
        raise ValueError(
            f"the distances of {source} must be a float array of shape "
            f"{neighbors.shape}, got {type(distances).__name__} of dtype "
            f"{getattr(distances, 'dtype', '?')} and shape "
            f"{getattr(distances, 'shape', '?')}: save the graph again with "
            "KNNGraph.save."
        )
    bad = _first_bad_row(neighbors, n_samples)
    if bad is not None:
        raise ValueError(
            f"{source} holds row ids outside [0, {n_samples}) (first in row "
            f"{bad}; -1 marks a missing neighbour): it was not built on these "
            f"{n_samples} rows. Rebuild it with KNNGraph(...).fit(X) on the rows "
            "it is used with."
        )
