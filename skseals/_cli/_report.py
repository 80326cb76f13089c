"""What the commands print and write: the Table-2 summary, CSV/JSON, the PNG."""

from __future__ import annotations

import math
from pathlib import Path

from ..simulation import summarize, summary_table, write_results

__all__ = ["format_table", "write_outputs"]


def _pm(mean, std):
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}"


def format_table(results):
    """The paper's Table 2 as text: one line per configuration."""
    rows = summary_table(results, as_frame=False)
    head = (
        "config",
        "mAP",
        "recall",
        "pool %",
        "total s",
        "select s",
        "kNN s",
        "train s",
    )
    body = [
        (
            r["config"],
            _pm(r["mAP"], r["mAP_std"]),
            _pm(r["recall"], r["recall_std"]),
            f"{r['pool_percent']:.1f}",
            f"{r['total_seconds']:.2f}",
            f"{r['selection_seconds']:.2f}",
            f"{r['knn_seconds']:.2f}",
            f"{r['training_seconds']:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def fmt(line):
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    n_runs = rows[0]["n_runs"] if rows else 0
    n_labeled = rows[0]["n_labeled"] if rows else 0
    note = (
        f"mAP and recall after {n_labeled} labels (seed included), mean ± std "
        f"over {n_runs} runs (concepts x repetitions); pool % at the end; "
        "seconds per run, summed over rounds."
    )
    rule = "-" * len(fmt(head))
    return "\n".join([fmt(head), rule, *map(fmt, body), "", note])


def _plot(results, path, title):
    from ..utils import import_optional

    matplotlib = import_optional("matplotlib")
    matplotlib.use("Agg")
    plt = import_optional("matplotlib.pyplot")
    from ..plot import plot_learning_curves

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for ax, metric in zip(
        axes, ("average_precision", "recall", "pool_percent"), strict=True
    ):
        plot_learning_curves(results, metric, ax=ax)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(results, out, *, title, plot=True):
    """Write results, curves and table (CSV and JSON) and the PNG to ``out``.

    Returns the paths written, by kind (``plot_error`` says why there is no
    plot when matplotlib is missing).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": write_results(results, out / "results.csv"),
        "results_json": write_results(results, out / "results.json"),
        "curves": write_results(summarize(results), out / "curves.csv"),
        "table": write_results(summary_table(results), out / "table.csv"),
    }
    png = out / "learning_curves.png"
    png.unlink(missing_ok=True)  # an earlier run's plot would not match
    if plot:
        try:
            paths["plot"] = _plot(results, png, title)
        except ImportError as exc:  # matplotlib is optional
            paths["plot_error"] = str(exc)
    return paths
