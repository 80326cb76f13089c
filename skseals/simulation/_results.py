"""Result tables of simulated runs: aggregation and JSON/CSV files."""

from __future__ import annotations

import csv
import json
import math
import os
from bisect import bisect_right
from pathlib import Path

import numpy as np

from ..utils import import_optional

__all__ = [
    "RECORD_FIELDS",
    "read_results",
    "summarize",
    "summary_table",
    "write_results",
]

#: Fields of one record of :func:`simulate`, in column order.
RECORD_FIELDS = (
    "config",
    "concept",
    "repetition",
    "round",
    "n_labeled",
    "n_positives",
    "average_precision",
    "recall",
    "pool_size",
    "pool_percent",
    "selection_seconds",
    "knn_seconds",
    "training_seconds",
)

_INT_FIELDS = {"repetition", "round", "n_labeled", "n_positives", "pool_size"}
_STR_FIELDS = {"config", "concept"}
_TIMES = ("selection_seconds", "knn_seconds", "training_seconds")
_CURVE_METRICS = ("average_precision", "recall", "pool_percent", *_TIMES)
#: Fields that tell runs apart and order their rounds.
_RUN_FIELDS = ("config", "concept", "repetition", "round", "n_labeled")


def _pandas_or_none():
    try:
        return import_optional("pandas")
    except ImportError:
        return None


def _as_table(records, as_frame="auto", columns=RECORD_FIELDS):
    """A DataFrame (when asked, or "auto" and pandas is installed) or the records."""
    if as_frame not in (True, False, "auto"):
        raise ValueError(f"as_frame must be True, False or 'auto'; got {as_frame!r}.")
    pd = import_optional("pandas") if as_frame is True else None
    if as_frame == "auto":
        pd = _pandas_or_none()
    if pd is None:
        return records
    return pd.DataFrame.from_records(records, columns=list(columns))


def _records(results):
    """List of dicts from a DataFrame or a list of dicts."""
    if hasattr(results, "to_dict"):
        return results.to_dict("records")
    return list(results)


def _group(records, keys):
    groups = {}
    for rec in records:
        groups.setdefault(tuple(rec[k] for k in keys), []).append(rec)
    return groups


def _aligned_runs(records, by):
    """Each configuration's runs on one x axis, carried forward.

    Returns ``{config: (xs, offset, columns)}`` in order of first appearance:
    ``xs`` are the steps any run reached (rounds, or labels spent after the
    run's own seed for ``by="n_labeled"``), ``offset`` is added to them for
    display (the largest seed, or 0), and ``columns[i]`` holds, for every run
    started by ``xs[i]``, ``(record, ran)``: its last record at or before
    that step and whether it ended a round exactly there.
    """
    missing = sorted({f for r in records for f in _RUN_FIELDS if f not in r})
    if missing:
        raise ValueError(
            f"the records lack the fields {missing}: pass the records of "
            "simulate() or read_results() (one per config, concept, repetition "
            "and round)."
        )
    aligned = {}
    for (config,), recs in _group(records, ("config",)).items():
        runs = []
        for run in _group(recs, ("concept", "repetition")).values():
            run = sorted(run, key=lambda r: r["round"])
            start = run[0]["n_labeled"] if by == "n_labeled" else 0
            runs.append(([r[by] - start for r in run], run))
        xs = sorted({x for steps, _ in runs for x in steps})
        offset = max(run[0]["n_labeled"] for _, run in runs) if by == "n_labeled" else 0
        columns = []
        for x in xs:
            at = ((steps, run, bisect_right(steps, x) - 1) for steps, run in runs)
            columns.append([(run[i], steps[i] == x) for steps, run, i in at if i >= 0])
        aligned[config] = (xs, offset, columns)
    return aligned


def _mean_std(values):
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std())


def summarize(results, *, by: str = "n_labeled", as_frame: bool | str = "auto"):
    """Mean and standard deviation across concepts and repetitions.

    One row per configuration and value of ``by`` (labels spent by default),
    as in the paper's learning-curve figures. The standard deviation is the
    population one (0 for a single run); NaN values (e.g. average precision
    without a test split) are left out.

    Every point is a mean over all the runs of its configuration. Runs are
    aligned by the labels they spent after their own seed (``by="round"``:
    by round), so that a run whose seed was smaller (its concept had fewer
    pool positives than ``n_seed_positives``) counts at the same points as
    the others; the ``n_labeled`` reported is that count plus the largest
    seed. A run that stopped early (pool exhausted), or has no round ending
    at a point, counts there with its last record before it: its labels,
    recall and average precision can no longer change. The per-round
    seconds are the exception: they are averaged over the runs that ended a
    round at that point.

    Parameters
    ----------
    results : pandas.DataFrame or list of dict
        As returned by :func:`simulate` or :func:`read_results`.
    by : {"n_labeled", "round"}, default="n_labeled"
        The x axis of the curve: labels (the largest seed plus the labels
        spent after each run's seed) or rounds.
    as_frame : bool or "auto", default="auto"
        Return a DataFrame (``"auto"``: when pandas is installed) or dicts.

    Returns
    -------
    summary : pandas.DataFrame or list of dict
        Columns ``config``, ``by``, ``n_runs`` and ``<metric>_mean``,
        ``<metric>_std`` for ``average_precision``, ``recall``,
        ``pool_percent`` and the three timings.

    Examples
    --------
    Concept ``c1`` had a seed of 98 labels (too few positives), concept
    ``c0`` ran out of candidates after one round; both count at every point:

    >>> from skseals.simulation import summarize
    >>> def record(concept, rnd, n_labeled, recall):
    ...     return {"config": "a", "concept": concept, "repetition": 0,
    ...             "round": rnd, "n_labeled": n_labeled, "recall": recall,
    ...             "average_precision": 0.5, "pool_percent": 5.0,
    ...             "selection_seconds": 0.1, "knn_seconds": 0.0,
    ...             "training_seconds": 0.1}
    >>> results = [record("c0", 0, 100, 0.1), record("c0", 1, 120, 0.3),
    ...            record("c1", 0, 98, 0.5), record("c1", 1, 118, 0.7),
    ...            record("c1", 2, 138, 0.9)]
    >>> [(row["n_labeled"], row["n_runs"], round(row["recall_mean"], 3))
    ...  for row in summarize(results, as_frame=False)]
    [(100, 2, 0.3), (120, 2, 0.5), (140, 2, 0.6)]
    """
    if by not in ("n_labeled", "round"):
        raise ValueError(f"by must be 'n_labeled' or 'round'; got {by!r}.")
    rows = []
    for config, (xs, offset, columns) in _aligned_runs(_records(results), by).items():
        for x, column in zip(xs, columns, strict=True):
            row = {"config": config, by: offset + x, "n_runs": len(column)}
            for metric in _CURVE_METRICS:
                values = [
                    r[metric] if ran or metric not in _TIMES else float("nan")
                    for r, ran in column
                ]
                row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(values)
            rows.append(row)
    columns = ["config", by, "n_runs"] + [
        f"{m}_{s}" for m in _CURVE_METRICS for s in ("mean", "std")
    ]
    return _as_table(rows, as_frame, columns)


def summary_table(results, *, as_frame: bool | str = "auto"):
    """One row per configuration at the end of the runs (the paper's Table 2).

    Average precision, recall and pool size are those of each run's last
    round (mean and standard deviation over concepts and repetitions); the
    seconds are each run's totals over all rounds, averaged over runs:
    ``total_seconds`` = selection + neighbour search + training. These are
    the last point of :func:`summarize`, and ``n_labeled`` is its x: the
    largest seed plus the most labels a run spent after its seed (a run
    that stopped earlier counts with its last round).

    Parameters
    ----------
    results : pandas.DataFrame or list of dict
        As returned by :func:`simulate` or :func:`read_results`.
    as_frame : bool or "auto", default="auto"
        Return a DataFrame (``"auto"``: when pandas is installed) or dicts.

    Returns
    -------
    table : pandas.DataFrame or list of dict
        Columns ``config``, ``n_runs``, ``n_labeled``, ``mAP``, ``mAP_std``,
        ``recall``, ``recall_std``, ``pool_percent``, ``total_seconds``,
        ``selection_seconds``, ``knn_seconds``, ``training_seconds``.

    Examples
    --------
    >>> from skseals.simulation import summary_table
    >>> base = {"config": "a", "concept": "c", "repetition": 0,
    ...         "average_precision": 0.5, "recall": 0.5, "pool_percent": 2.0,
    ...         "selection_seconds": 0.5, "knn_seconds": 0.25,
    ...         "training_seconds": 0.25}
    >>> results = [dict(base, round=0, n_labeled=100),
    ...            dict(base, round=1, n_labeled=200, average_precision=0.9)]
    >>> row = summary_table(results, as_frame=False)[0]
    >>> row["mAP"], row["n_labeled"], row["total_seconds"]
    (0.9, 200, 2.0)
    """
    rows = []
    records = _records(results)
    aligned = _aligned_runs(records, "n_labeled")
    for (config,), recs in _group(records, ("config",)).items():
        runs = _group(recs, ("concept", "repetition"))
        last = [max(run, key=lambda r: r["round"]) for run in runs.values()]
        row = {"config": config, "n_runs": len(runs)}
        xs, offset, _ = aligned[config]
        row["n_labeled"] = int(offset + xs[-1])
        row["mAP"], row["mAP_std"] = _mean_std([r["average_precision"] for r in last])
        row["recall"], row["recall_std"] = _mean_std([r["recall"] for r in last])
        row["pool_percent"] = _mean_std([r["pool_percent"] for r in last])[0]
        totals = {t: [sum(r[t] for r in run) for run in runs.values()] for t in _TIMES}
        row["total_seconds"] = float(np.mean(np.sum([totals[t] for t in _TIMES], 0)))
        for t in _TIMES:
            row[t] = float(np.mean(totals[t]))
        rows.append(row)
    columns = [
        "config", "n_runs", "n_labeled", "mAP", "mAP_std", "recall", "recall_std",
        "pool_percent", "total_seconds", *_TIMES,
    ]  # fmt: skip
    return _as_table(rows, as_frame, columns)


def _plain(value):
    """A JSON-able Python value (NaN becomes None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_results(results, path: str | os.PathLike) -> Path:
    """Write results (or a summary) to ``.csv`` or ``.json``, by the file suffix.

    Parameters
    ----------
    results : pandas.DataFrame or list of dict
        Any table of this module: :func:`simulate`, :func:`summarize` or
        :func:`summary_table` output.
    path : str or path-like
        Output file; ``.json`` holds a list of records (NaN as null).

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import os, tempfile
    >>> from skseals.simulation import read_results, write_results
    >>> path = os.path.join(tempfile.mkdtemp(), "results.json")
    >>> _ = write_results([{"config": "a", "round": 0, "recall": 0.5}], path)
    >>> read_results(path, as_frame=False)
    [{'config': 'a', 'round': 0, 'recall': 0.5}]
    """
    path = Path(path)
    records = [{k: _plain(v) for k, v in r.items()} for r in _records(results)]
    if path.suffix == ".json":
        path.write_text(json.dumps(records, indent=1) + "\n")
    elif path.suffix == ".csv":
        fields = list(records[0]) if records else list(RECORD_FIELDS)
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(records)
    else:
        raise ValueError(f"path must end in .csv or .json; got {path.name!r}.")
    return path


def _parse(field, text):
    if field in _STR_FIELDS:
        return text
    if text in ("", "None", "nan", "NaN"):
        return float("nan")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_results(path: str | os.PathLike, *, as_frame: bool | str = "auto"):
    """Read a table written by :func:`write_results` (CSV or JSON).

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` or ``.json`` file.
    as_frame : bool or "auto", default="auto"
        Return a DataFrame (``"auto"``: when pandas is installed) or dicts.

    Returns
    -------
    results : pandas.DataFrame or list of dict
        NaN where the file has null or an empty cell.

    Examples
    --------
    Values come back typed by column (``round`` and ``pool_size`` as ints), an
    empty cell as NaN:

    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from skseals.simulation import read_results, write_results
    >>> path = os.path.join(tempfile.mkdtemp(), "results.csv")
    >>> _ = write_results([
    ...     {"config": "SEALS", "round": 0, "recall": 0.25, "pool_size": 120},
    ...     {"config": "SEALS", "round": 1, "recall": None, "pool_size": 180},
    ... ], path)
    >>> print(Path(path).read_text().strip())
    config,round,recall,pool_size
    SEALS,0,0.25,120
    SEALS,1,,180
    >>> rows = read_results(path, as_frame=False)
    >>> rows[0]
    {'config': 'SEALS', 'round': 0, 'recall': 0.25, 'pool_size': 120}
    >>> rows[1]["recall"]
    nan
    """
    path = Path(path)
    if path.suffix == ".json":
        records = json.loads(path.read_text())
        records = [
            {k: float("nan") if v is None else v for k, v in r.items()} for r in records
        ]
    elif path.suffix == ".csv":
        with path.open(newline="") as fh:
            records = [
                {k: _parse(k, v) for k, v in r.items()} for r in csv.DictReader(fh)
            ]
    else:
        raise ValueError(f"path must end in .csv or .json; got {path.name!r}.")
    columns = list(records[0]) if records else list(RECORD_FIELDS)
    return _as_table(records, as_frame, columns)
