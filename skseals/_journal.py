"""Append-only, crash-safe journal of human labels."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zlib

import numpy as np

__all__ = ["Journal", "data_fingerprint", "to_json_labels"]

_FORMAT = "skseals-journal"
_VERSION = 1


def data_fingerprint(X):
    """A short hash of X's shape, dtype and 64 evenly spaced rows (O(64·d)).

    Tells a journal or a saved session written for other data apart from this
    data without reading every row.
    """
    n = X.shape[0]
    rows = np.unique(np.linspace(0, n - 1, num=min(n, 64)).astype(np.int64))
    h = hashlib.sha256()
    h.update(f"{X.shape}".encode())
    h.update(np.ascontiguousarray(np.asarray(X[rows], dtype=np.float64)).tobytes())
    return h.hexdigest()[:32]


def to_json_labels(values):
    """Labels as JSON-safe Python values (numpy scalars unwrapped)."""
    out = []
    for v in values:
        v = v.item() if isinstance(v, np.generic) else v
        if not isinstance(v, (int, float, str, bool)):
            raise TypeError(
                f"label {v!r} of type {type(v).__name__} cannot be written to a "
                "journal or session: use int, float or str class labels."
            )
        out.append(v)
    return out


def _record(rows, labels):
    return {"rows": [int(r) for r in rows], "labels": to_json_labels(labels)}


def _encode(record):
    payload = json.dumps(record, separators=(",", ":"), sort_keys=True)
    crc = zlib.crc32(payload.encode()) & 0xFFFFFFFF
    return f"{crc:08x} {payload}\n".encode()


def _decode(line):
    """The record of a complete line, or None if the line is torn or corrupt."""
    if not line.endswith(b"\n"):
        return None
    try:
        crc_hex, payload = line[:-1].decode().split(" ", 1)
        if int(crc_hex, 16) != zlib.crc32(payload.encode()) & 0xFFFFFFFF:
            return None
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None


class Journal:
    """Human labels as a file of checksummed JSON lines, fsynced per record.

    The first line is a header describing the data (rows, features, a
    fingerprint of X) and the learner's classes; every later line is one
    ``teach()`` call: its rows and labels, skips included. Each line carries a
    CRC-32 of its payload. A torn last line (a crash during the write) fails
    its checksum or lacks its newline and is ignored; a bad line anywhere else
    means the file was damaged and is refused.
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def exists(self):
        return os.path.exists(self.path) and os.path.getsize(self.path) > 0

    def read(self):
        """``(header, records)``; the torn tail, if any, is dropped."""
        with open(self.path, "rb") as f:
            lines = f.readlines()
        decoded = [_decode(line) for line in lines]
        if decoded and decoded[-1] is None:
            decoded = decoded[:-1]  # a crash mid-write: the label never returned
        if any(rec is None for rec in decoded):
            bad = next(i for i, rec in enumerate(decoded) if rec is None) + 1
            raise ValueError(
                f"journal {self.path!r} is damaged at line {bad} (checksum "
                "mismatch): it was modified or corrupted. Restore it from a backup "
                "or start a new journal."
            )
        if not decoded or decoded[0].get("format") != _FORMAT:
            raise ValueError(
                f"{self.path!r} is not a skseals journal: pass another `journal` "
                "path, or remove the file to start a new journal."
            )
        return decoded[0], decoded[1:]

    def check_header(self, header, expected, keys=None):
        """Raise unless ``header`` matches ``expected`` on ``keys`` (None: the
        data's shape and fingerprint, the learner's kind and its classes)."""
        if keys is None:
            keys = ("n_samples", "n_features", "fingerprint", "kind", "classes")
        for key in keys:
            if header.get(key) != expected.get(key):
                raise ValueError(
                    f"journal {self.path!r} was written for other data or another "
                    f"learner ({key}: journal has {header.get(key)!r}, this fit has "
                    f"{expected.get(key)!r}): pass the same X and y, or another "
                    "`journal` path."
                )

    def create(self, header, rows=None, labels=None):
        """Write a new journal: ``header``, and a first record when ``rows``
        are given. Atomic: the file appears whole or not at all (a journal
        that lost its first record would look complete)."""
        data = _encode({"format": _FORMAT, "version": _VERSION, **header})
        if rows is not None:
            data += _encode(_record(rows, labels))
        # a name no other writer uses; "xb" keeps the umask's permissions
        tmp = f"{self.path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def append(self, rows, labels):
        self._write(_encode(_record(rows, labels)), mode="ab")

    def _write(self, data, mode):
        with open(self.path, mode) as f:
            if mode == "ab":
                self._drop_torn_tail(f)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def _drop_torn_tail(self, f):
        """Cut a torn last line left by a crash, so the next record starts clean."""
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        with open(self.path, "rb") as r:
            r.seek(max(0, size - 1))
            if r.read(1) == b"\n":
                return
            r.seek(0)
            data = r.read()
        f.truncate(data.rfind(b"\n") + 1)
        f.seek(0, os.SEEK_END)
