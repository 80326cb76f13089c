"""Per-concept comparison of two configurations (SEALS against a full scan)."""

from __future__ import annotations

import warnings

import numpy as np

from ..simulation._results import _TIMES, _aligned_runs, _records
from ._curves import _LABELS, _axes, _check_configs, _check_metric, _nan_message

__all__ = ["plot_concept_scatter"]


def _per_concept(records, config, metric, n_labeled):
    """Concept -> values of ``metric`` in its runs at ``n_labeled`` (None: last).

    Runs are aligned as :func:`~skseals.simulation.summarize` aligns them: a
    run that stopped earlier counts with its last record.
    """
    aligned = _aligned_runs([r for r in records if r["config"] == config], "n_labeled")
    xs, offset, columns = aligned[config]
    if n_labeled is None:
        column = columns[-1]
    elif n_labeled - offset in xs:
        column = columns[xs.index(n_labeled - offset)]
    else:
        return {}
    values = {}
    for rec, ran in column:  # seconds only of a round ended there, as summarize
        value = float(rec[metric]) if ran or metric not in _TIMES else np.nan
        values.setdefault(rec["concept"], []).append(value)
    return values


def _finite_means(values):
    """Concept -> mean of its finite values; concepts with none are left out."""
    means = {}
    for concept, v in values.items():
        v = np.asarray(v, dtype=float)
        if np.isfinite(v).any():
            means[concept] = float(v[np.isfinite(v)].mean())
    return means


def plot_concept_scatter(
    results,
    x_config: str,
    y_config: str,
    metric: str = "average_precision",
    *,
    n_labeled: int | None = None,
    ax=None,
):
    """Plot one point per concept: one configuration's metric against another's.

    The SEALS paper's per-concept view of its claim: with the full scan on
    the x axis and SEALS on the y axis, points on the diagonal mean the
    candidate pool cost nothing on that concept, points below it mean SEALS
    did worse. Each point is the mean over the concept's repetitions.

    Parameters
    ----------
    results : pandas.DataFrame or list of dict
        Records of :func:`skseals.simulation.simulate`.
    x_config, y_config : str
        The configurations on the x axis (e.g. ``"MaxEnt-Full"``) and on the
        y axis (e.g. ``"MaxEnt-SEALS"``).
    metric : str, default="average_precision"
        ``"average_precision"``, ``"recall"`` or another metric of the records
        (see :func:`plot_learning_curves`).
    n_labeled : int, default=None
        Compare the runs when this many rows were labeled (seed included),
        aligned as :func:`~skseals.simulation.summarize` aligns them (a run
        that stopped earlier counts with its last round); None compares the
        last round of every run.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on; its first collection holds the points, in the
        order of ``ax.concepts_`` (the concepts both configurations ran,
        with a value of ``metric``: a concept where it is NaN in every run
        of either is left out, with a warning).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skseals.plot import plot_concept_scatter
    >>> results = [
    ...     {"config": c, "concept": k, "repetition": 0, "round": 0,
    ...      "n_labeled": 100, "average_precision": ap}
    ...     for c, k, ap in [("Full", "a", 0.5), ("SEALS", "a", 0.4),
    ...                      ("Full", "b", 0.8), ("SEALS", "b", 0.8)]]
    >>> ax = plot_concept_scatter(results, "Full", "SEALS")
    >>> ax.concepts_, ax.collections[0].get_offsets().tolist()
    (['a', 'b'], [[0.5, 0.4], [0.8, 0.8]])
    """
    _check_metric(metric)
    records = _records(results)
    _check_configs(
        [x_config, y_config], list(dict.fromkeys(r["config"] for r in records))
    )
    x_values = _per_concept(records, x_config, metric, n_labeled)
    y_values = _per_concept(records, y_config, metric, n_labeled)
    shared = [c for c in x_values if c in y_values]
    if not shared:
        at = "" if n_labeled is None else f" with n_labeled={n_labeled}"
        raise ValueError(
            f"no concept has runs of both {x_config!r} and {y_config!r}{at}: "
            "pass configurations (and a label count) that the results share."
        )
    xs, ys = _finite_means(x_values), _finite_means(y_values)
    concepts = [c for c in shared if c in xs and c in ys]
    missing = [c for c in shared if c not in concepts]
    where = f"{x_config!r} or {y_config!r}"
    if not concepts:
        raise ValueError(_nan_message(metric, where, "nothing to plot"))
    if missing:
        warnings.warn(
            _nan_message(metric, f"{where} on concepts {missing}", "not drawn"),
            UserWarning,
            stacklevel=2,
        )
    x = np.array([xs[c] for c in concepts])
    y = np.array([ys[c] for c in concepts])
    ax = _axes(ax)
    ax.scatter(x, y, alpha=0.8, label="one concept")
    both = np.concatenate([x, y])  # finite: NaN concepts are left out
    low, high = both.min(), both.max()
    pad = 0.05 * (high - low or 1.0)
    ends = [low - pad, high + pad]
    ax.plot(ends, ends, color="grey", ls="--", lw=1, label="equal")
    name = _LABELS[metric].split(" (")[0]
    at = "last round" if n_labeled is None else f"{n_labeled} labels"
    ax.set_xlabel(f"{name}, {x_config}")
    ax.set_ylabel(f"{name}, {y_config}")
    ax.set_title(f"{len(concepts)} concepts, {at}", fontsize="medium")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    ax.concepts_ = concepts
    return ax
