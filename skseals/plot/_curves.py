"""Learning curves of simulated runs and per-round cost of one learner."""

from __future__ import annotations

import warnings

import numpy as np

from ..simulation import summarize
from ..utils import import_optional

__all__ = ["plot_history", "plot_learning_curves"]

_LABELS = {
    "average_precision": "Average precision (test split)",
    "recall": "Recall of the pool's positives",
    "pool_percent": "Candidate pool (% of pool rows)",
    "selection_seconds": "Selection seconds per round",
    "knn_seconds": "Neighbour search seconds per round",
    "training_seconds": "Training seconds per round",
}
_X_LABELS = {"n_labeled": "Labels (seed included)", "round": "Round"}


def _check_metric(metric):
    if metric not in _LABELS:
        raise ValueError(f"metric must be one of {sorted(_LABELS)}; got {metric!r}.")


def _check_x(x):
    if x not in _X_LABELS:
        raise ValueError(f"x must be one of {sorted(_X_LABELS)}; got {x!r}.")


def _nan_message(metric, where, outcome):
    """``metric`` is NaN in every run of ``where``: ``outcome``, and why."""
    hint = ""
    if metric == "average_precision":
        hint = (
            " Average precision is measured on the test split: run simulate() "
            "with split= (0 for pool rows, 1 for test rows)."
        )
    return f"metric {metric!r} is NaN in every run of {where}: {outcome}.{hint}"


def _check_configs(configs, known):
    unknown = [c for c in configs if c not in known]
    if unknown:
        raise ValueError(f"configs {unknown} are not in the results; known: {known}.")


def _axes(ax):
    if ax is None:
        plt = import_optional("matplotlib.pyplot")
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_learning_curves(
    results,
    metric: str = "average_precision",
    *,
    x: str = "n_labeled",
    ax=None,
    configs=None,
    std: bool = True,
):
    """Plot a metric against labels spent, one line per configuration.

    Each line is the mean over concepts and repetitions
    (:func:`~skseals.simulation.summarize`), with a band of plus/minus one
    standard deviation, as in the SEALS paper's figures. A configuration
    whose ``metric`` is NaN in every run (average precision of runs without
    a test split) is not drawn, with a warning.

    Parameters
    ----------
    results : pandas.DataFrame or list of dict
        Records of :func:`skseals.simulation.simulate`.
    metric : str, default="average_precision"
        ``"average_precision"``, ``"recall"``, ``"pool_percent"`` or one of
        the timings (``"selection_seconds"``, ``"knn_seconds"``,
        ``"training_seconds"``).
    x : {"n_labeled", "round"}, default="n_labeled"
        The x axis: labels (seed included) or rounds; runs are aligned and
        carried forward as in :func:`~skseals.simulation.summarize`, so that
        every point is a mean over all runs.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    configs : list of str, default=None
        Configurations to draw, in this order; None draws all.
    std : bool, default=True
        Draw the standard-deviation band.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skseals.plot import plot_learning_curves
    >>> results = [
    ...     {"config": c, "concept": "c0", "repetition": 0, "round": r,
    ...      "n_labeled": 100 * (r + 1), "average_precision": ap,
    ...      "recall": 0.0, "pool_percent": 1.0, "selection_seconds": 0.0,
    ...      "knn_seconds": 0.0, "training_seconds": 0.0}
    ...     for c, r, ap in [("a", 0, 0.2), ("a", 1, 0.5), ("b", 0, 0.1),
    ...                      ("b", 1, 0.2)]]
    >>> ax = plot_learning_curves(results)
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    """
    _check_metric(metric)
    _check_x(x)
    summary = summarize(results, by=x, as_frame=False)
    known = list(dict.fromkeys(row["config"] for row in summary))
    if configs is None:
        configs = known
    _check_configs(configs, known)
    rows_of = {c: [r for r in summary if r["config"] == c] for c in configs}
    empty = [
        c
        for c, rows in rows_of.items()
        if np.isnan([r[f"{metric}_mean"] for r in rows]).all()
    ]
    if empty:  # a warning, not an error: other panels of a figure still draw
        warnings.warn(
            _nan_message(metric, f"configs {empty}", "not drawn"),
            UserWarning,
            stacklevel=2,
        )
    ax = _axes(ax)
    for config in configs:
        if config in empty:
            continue
        rows = rows_of[config]
        xs = np.array([r[x] for r in rows], dtype=float)
        mean = np.array([r[f"{metric}_mean"] for r in rows])
        (line,) = ax.plot(xs, mean, marker=".", label=config)
        if std:
            sd = np.array([r[f"{metric}_std"] for r in rows])
            ax.fill_between(
                xs, mean - sd, mean + sd, color=line.get_color(), alpha=0.15, lw=0
            )
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel(_LABELS[metric])
    ax.grid(True, alpha=0.3)
    if len(empty) < len(configs):
        ax.legend(fontsize="small")
    return ax


def plot_history(history, *, ax=None):
    """Plot one learner's per-round seconds and its candidate pool size.

    Parameters
    ----------
    history : list of dict or fitted learner
        A learner's ``history_`` (keys ``n_labeled``, ``pool_size``,
        ``selection_seconds``, ``knn_seconds``, ``training_seconds``), or
        the learner itself.
    ax : matplotlib Axes, default=None
        Where to draw the timings; the pool size goes on a twin y axis. None
        makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The axes of the timings (the twin axis is ``ax.right_ax``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skseals.plot import plot_history
    >>> history = [
    ...     {"round": r, "n_labeled": 100 * (r + 1), "pool_size": 500 * (r + 1),
    ...      "selection_seconds": 0.01, "knn_seconds": 0.02,
    ...      "training_seconds": 0.03} for r in range(3)]
    >>> ax = plot_history(history)
    >>> len(ax.get_lines()), len(ax.right_ax.get_lines())
    (3, 1)
    """
    if hasattr(history, "get_params"):  # a learner
        history = getattr(history, "history_", None)
    if not history:
        raise ValueError("history is empty: fit a learner first.")
    ax = _axes(ax)
    xs = [h["n_labeled"] for h in history]
    for key in ("selection_seconds", "knn_seconds", "training_seconds"):
        ax.plot(xs, [h[key] for h in history], marker=".", label=key.split("_")[0])
    ax.set_xlabel(_X_LABELS["n_labeled"])
    ax.set_ylabel("Seconds per round")
    ax.grid(True, alpha=0.3)
    right = ax.twinx()
    right.plot(xs, [h["pool_size"] for h in history], color="grey", ls="--")
    right.set_ylabel("Candidate pool size (dashed)")
    ax.right_ax = right
    ax.legend(fontsize="small", loc="upper left")
    return ax
