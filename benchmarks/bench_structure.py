"""Benchmark (issue 4): the concept structure report vs the AP SEALS reaches.

The SEALS paper (Coleman et al., Sec. 6, Figure 3) relates how connected a
concept's positives are in the kNN graph to how well SEALS learns it. Here,
for each concept of ``bench_tight_budget.py`` (same selection, same seed):

- the structure report (:func:`skseals.analysis.concept_structure`) of all
  the concept's pool positives at k=10 and k=100, read from the shared
  KNNGraph (k=100, exact faiss Flat, cosine) over the pool rows;
- MaxEnt-SEALS (ActiveLearner, "entropy", KNNPool k=100 over the same graph)
  with the paper's protocol through :func:`skseals.simulation.simulate`: 5
  positives + 95 negatives drawn from the pool rows, batch 100, logistic
  regression, ``--budget`` labels; average precision on the test split at
  the seed (round 0) and at the budget, and recall of the pool positives.

Printed: the per-concept table, and the Spearman correlations of the largest
component share (and of the other report numbers) with the final AP, with the
seed AP (a control: does the share only say the concept is easy?) and with
the AP gained by labeling. The scatter plot goes to
``benchmarks/figures/structure_vs_ap.png``.

Examples
--------
python benchmarks/bench_structure.py --budget 2000
python benchmarks/bench_structure.py --budget 500 --sections 2 --tags 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _common as C
import numpy as np
from bench_tight_budget import CACHE, DATA, load_data, pool_graph, select_concepts

FIGURES = Path(__file__).resolve().parent / "figures"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--sections", type=int, default=12)
    p.add_argument("--tags", type=int, default=12)
    p.add_argument("--budget", type=int, default=2000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repetitions", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=str(CACHE / "structure.json"))
    p.add_argument("--figure", default=str(FIGURES / "structure_vs_ap.png"))
    p.add_argument(
        "--report",
        default=None,
        metavar="JSON",
        help="only print the tables (and the figure) from a result file",
    )
    return p.parse_args(argv)


def structure_rows(graph, names, kinds, chosen, pos_in_pool):
    from skseals.analysis import concept_structure

    rows = []
    for c in chosen:
        row = {
            "concept": str(names[c]),
            "kind": int(kinds[c]),
            "n_pool_pos": int(pos_in_pool[c].size),
        }
        for k in (10, 100):
            s = concept_structure(None, pos_in_pool[c], n_neighbors=k, index=graph)
            row[f"share{k}"] = s.largest_component_share
            row[f"comps{k}"] = s.n_components
            row[f"isolated{k}"] = s.n_isolated
            row[f"hops{k}"] = s.mean_path_length
        rows.append(row)
    return rows


def run_seals(X, split, concepts, graph, args):
    from skseals import ActiveLearner
    from skseals.pool import KNNPool
    from skseals.simulation import simulate

    learner = ActiveLearner(
        query_strategy="entropy",
        pool=KNNPool(n_neighbors=100, index=graph),
        batch_size=args.batch,
    )
    return simulate(
        {"MaxEnt-SEALS": learner},
        X,
        concepts,
        split=split,
        budget=args.budget,
        n_seed_positives=5,
        n_seed_negatives=95,
        n_repetitions=args.repetitions,
        random_state=args.seed,
        as_frame=False,
    )


def attach_ap(rows, records):
    for row in rows:
        mine = [r for r in records if r["concept"] == row["concept"]]
        last = max(r["round"] for r in mine)
        row["ap_seed"] = float(
            np.mean([r["average_precision"] for r in mine if r["round"] == 0])
        )
        row["ap"] = float(
            np.mean([r["average_precision"] for r in mine if r["round"] == last])
        )
        row["recall"] = float(
            np.mean([r["recall"] for r in mine if r["round"] == last])
        )
        row["labels"] = int(max(r["n_labeled"] for r in mine))
        row["gain"] = row["ap"] - row["ap_seed"]


def report(rows, figure):
    from scipy.stats import spearmanr

    rows = sorted(rows, key=lambda r: r["share100"])
    cols = [
        ("concept", "concept", 0),
        ("n_pool_pos", "pool positives", 0),
        ("share10", "largest share k=10", 2),
        ("comps10", "components k=10", 0),
        ("share100", "largest share k=100", 2),
        ("comps100", "components k=100", 0),
        ("hops100", "mean hops k=100", 2),
        ("ap_seed", "AP seed", 3),
        ("ap", "AP final", 3),
        ("recall", "recall final", 3),
    ]
    print(C.markdown_table(rows, cols) + "\n")
    print(f"{len(rows)} concepts; final = {rows[0]['labels']} labels (seed included)\n")
    lines = [
        "| structure number | vs AP final | vs AP seed | vs AP gain | "
        "vs recall final |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("share100", "largest share, k=100"),
        ("share10", "largest share, k=10"),
        ("comps100", "components, k=100"),
        ("hops100", "mean hops, k=100"),
        ("n_pool_pos", "pool positives"),
    ):
        x = np.array([r[key] for r in rows], float)
        cells = []
        for target in ("ap", "ap_seed", "gain", "recall"):
            y = np.array([r[target] for r in rows], float)
            ok = np.isfinite(x) & np.isfinite(y)
            rho, p = spearmanr(x[ok], y[ok])
            cells.append(f"{rho:+.2f} (p={p:.2g})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    print("Spearman rank correlation (p-value) over concepts\n")
    print("\n".join(lines))
    print(
        "\nControls for the largest share at k=100 vs AP final: within each kind "
        "of concept, and partial Spearman given the seed AP\n"
    )
    print("| subset | n | Spearman vs AP final | partial, given AP seed |")
    print("|---|---|---|---|")
    for label, subset in (
        ("all", rows),
        ("Debian sections", [r for r in rows if r["kind"] == 0]),
        ("debtags", [r for r in rows if r["kind"] == 1]),
    ):
        if len(subset) < 5:
            continue
        x, y, z = (
            np.array([r[k] for r in subset], float)
            for k in ("share100", "ap", "ap_seed")
        )
        rho, p = spearmanr(x, y)
        prho, pp = partial_spearman(x, y, z)
        print(
            f"| {label} | {len(subset)} | {rho:+.2f} (p={p:.2g}) | "
            f"{prho:+.2f} (p={pp:.2g}) |"
        )
    plot(rows, figure)


def partial_spearman(x, y, z):
    """Spearman correlation of x and y with z's (rank) linear effect removed."""
    from scipy.stats import rankdata, t

    rx, ry, rz = (rankdata(v) for v in (x, y, z))
    A = np.column_stack([np.ones_like(rz), rz])

    def resid(v):
        return v - A @ np.linalg.lstsq(A, v, rcond=None)[0]

    r = float(np.corrcoef(resid(rx), resid(ry))[0, 1])
    dof = len(x) - 3
    stat = r * np.sqrt(dof / max(1e-12, 1 - r * r))
    return r, float(2 * t.sf(abs(stat), dof))


def plot(rows, figure):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    ap = np.array([r["ap"] for r in rows])
    kind = np.array([r["kind"] for r in rows])
    for ax, k in zip(axes, (10, 100), strict=True):
        share = np.array([r[f"share{k}"] for r in rows])
        for value, label, marker in ((0, "Debian section", "o"), (1, "debtag", "^")):
            m = kind == value
            ax.scatter(100 * share[m], ap[m], marker=marker, label=label, alpha=0.8)
        rho = spearmanr(share, ap)[0]
        ax.set_title(f"k={k}: Spearman ρ = {rho:+.2f}")
        ax.set_xlabel("positives in the largest connected component (%)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"MaxEnt-SEALS test AP at {rows[0]['labels']} labels")
    axes[0].legend(loc="lower right")
    fig.suptitle("Concept structure vs the AP SEALS reaches (Debian packages)")
    fig.tight_layout()
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    print(f"\n# wrote {figure}")


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        with open(args.report, encoding="utf-8") as f:
            payload = json.load(f)
        print(f"# {payload['env']['command']} ({payload['env']['date']})")
        report(payload["rows"], args.figure)
        return
    ctl, pools = C.limit_threads(args.threads)  # noqa: F841 - keep the limits
    env = C.environment(args.threads)
    print(C.describe_environment(env, pools))
    X, pool_ids, test_ids, names, kinds, members = load_data(args.data)
    chosen = select_concepts(
        names, kinds, members, pool_ids, test_ids, args.sections, args.tags, args.seed
    )
    where = np.full(X.shape[0], -1, dtype=np.int64)
    where[pool_ids] = np.arange(pool_ids.size)
    pos_in_pool = {
        c: np.sort(where[members[c]][where[members[c]] >= 0]) for c in chosen
    }
    graph, _ = pool_graph(X[pool_ids], 100)
    t0 = time.perf_counter()
    rows = structure_rows(graph, names, kinds, chosen, pos_in_pool)
    print(
        f"# structure reports of {len(chosen)} concepts x 2 k: "
        f"{time.perf_counter() - t0:.2f} s"
    )
    split = np.zeros(X.shape[0], np.int8)
    split[test_ids] = 1
    concepts = {str(names[c]): members[c] for c in chosen}
    t0 = time.perf_counter()
    records = run_seals(X, split, concepts, graph, args)
    print(f"# MaxEnt-SEALS runs: {time.perf_counter() - t0:.0f} s")
    attach_ap(rows, records)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    C.write_json(
        args.json, {"env": env, "args": vars(args), "rows": rows, "records": records}
    )
    report(rows, args.figure)


if __name__ == "__main__":
    main()
