"""Benchmark 1 (issue 3): label efficiency of SEALS vs the full scan on real data.

The claim checked (Coleman et al., SEALS, Table 2): restricting the candidates
to the k nearest neighbours of the labeled rows keeps the full scan's label
efficiency -- within ~0.01 mAP and ~1 point of recall -- and stays far above
random selection.

Data: ``/work/shared/data/debian_packages.npz`` (63,440 Debian package
descriptions, MiniLM-L6 384-d embeddings, L2-normalised on load; 49,786 pool
rows, 13,654 test rows split by source package). Concepts: ``--sections``
Debian sections and ``--tags`` debtags drawn at random (``--seed``) among those
with at least ``--min-pool`` (20) positives among the pool rows and
``--min-test`` (5) in the test split.

Protocol (the paper's, via :func:`skseals.simulation.simulate`): per concept
and repetition a seed of 5 random pool positives + 95 random pool negatives,
rounds of ``--batch`` (100) labels answered by an oracle until ``--budget``
(2,000) labels beyond the seed; ``LogisticRegression(max_iter=1000)``
refitted every round; average precision of the decision function on the test
rows and recall of the pool's positives after every round. Every
configuration of a concept and repetition gets the same seed set and the same
learner ``random_state`` (``random_state`` of ``simulate`` = the concept id).

Configurations: MaxEnt (``"entropy"``), MLP (``"most_likely_positive"``, an
ActiveSearcher) and ID (``"information_density"``) each with ``FullScanPool``
("-Full") and ``KNNPool`` k = 10 and k = 100 ("-SEALS-k10/-k100"), plus
Random-All (``query_strategy="random"``, full pool) and MaxEnt-RandPool
(``RandomSubsetPool`` of a fixed number of rows: the mean pool size of
MaxEnt-SEALS-k100 over all its rounds in a pilot of ``--pilot-concepts``
concepts x 1 repetition, run first and cached in ``OUT/randpool_size.json``).

Index: ONE ``KNNGraph(k=100)`` over the pool rows (exact faiss ``Flat``,
cosine), built once (cached in ``OUT``) and shared by every SEALS learner, so
every pool expansion is a table look-up (k = 10 uses the first 10 available
entries of each row's list). A look-up can only return the 100 stored
neighbours of a row minus the unavailable ones.

Execution: tasks = (concept, configuration), all repetitions in one task, run
concept by concept by ``--workers`` spawned processes with ``--threads``
BLAS/OpenMP threads each (threadpoolctl); each task writes
``OUT/runs/<concept>__<config>.csv`` when done (a cut-off run keeps every
finished task; a rerun skips them). ``--reduced-configs`` run only on the
first ``--reduced-concepts`` concepts. ``--report`` reads the CSVs and writes
the tables (Markdown, ``OUT/report.md``) and the learning-curve PNGs.

Examples
--------
python benchmarks/bench_label_efficiency.py --sections 1 --tags 1 --repetitions 1 \
    --out /tmp/le_smoke --workers 1
nohup python benchmarks/bench_label_efficiency.py --workers 2 --threads 1 &
python benchmarks/bench_label_efficiency.py --report
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

DATA = Path("/work/shared/data/debian_packages.npz")
OUT = Path(os.environ.get("SKSEALS_LE_OUT", "/tmp/skseals_bench_le"))
FIGURES = HERE / "figures"

STRATEGIES = {
    "MaxEnt": "entropy",
    "MLP": "most_likely_positive",
    "ID": "information_density",
}
ALL_CONFIGS = [
    *(f"{s}-{p}" for s in STRATEGIES for p in ("Full", "SEALS-k100", "SEALS-k10")),
    "Random-All",
    "MaxEnt-RandPool",
]
LABEL_POINTS = (500, 1000, 2000)  # labels spent beyond the seed of 100


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--out", default=str(OUT), help="results directory")
    p.add_argument("--sections", type=int, default=20)
    p.add_argument("--tags", type=int, default=20)
    p.add_argument("--min-pool", type=int, default=20)
    p.add_argument("--min-test", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="concept selection seed")
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--budget", type=int, default=2000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--configs", nargs="+", default=ALL_CONFIGS, choices=ALL_CONFIGS)
    p.add_argument(
        "--reduced-configs",
        nargs="*",
        default=[],
        choices=ALL_CONFIGS,
        help="configurations run only on the first --reduced-concepts",
    )
    p.add_argument("--reduced-concepts", type=int, default=10)
    p.add_argument("--pilot-concepts", type=int, default=4)
    p.add_argument(
        "--randpool-size",
        type=int,
        default=None,
        help="rows of the RandPool (default: measured by the pilot)",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--report",
        action="store_true",
        help="only aggregate OUT/runs/*.csv into tables and figures",
    )
    p.add_argument("--figures", default=str(FIGURES))
    return p.parse_args(argv)


# -- data, concepts, index ---------------------------------------------------------
def load(path):
    from skseals.datasets import load_concept_data

    return load_concept_data(path)  # unit-norm float32, split, concepts


def select_concepts(data, n_sections, n_tags, seed, min_pool, min_test):
    """Concept ids: random sections and debtags with enough pool/test positives."""
    in_pool = data.split == 0
    ok = [
        c
        for c, m in enumerate(data.concepts)
        if in_pool[m].sum() >= min_pool and (~in_pool[m]).sum() >= min_test
    ]
    kind = np.asarray(data.concept_kind)
    rng = np.random.default_rng(seed)
    chosen = []
    for k, count in ((0, n_sections), (1, n_tags)):
        cands = [c for c in ok if kind[c] == k]
        chosen += sorted(
            int(c) for c in rng.choice(cands, min(count, len(cands)), replace=False)
        )
    return chosen


def pool_graph(X_pool, out, k=100):
    """One KNNGraph over the pool rows (exact faiss Flat, cosine), cached on disk."""
    from skseals.neighbors import FaissIndex, KNNGraph

    index = FaissIndex("Flat").fit(X_pool)
    path = Path(out) / f"pool_graph_k{k}_{X_pool.shape[0]}.npy"
    if path.exists():
        return KNNGraph.load(path, mmap_mode=None, index=index), 0.0
    t0 = time.perf_counter()
    graph = KNNGraph(n_neighbors=k, index=index).fit(X_pool)
    seconds = time.perf_counter() - t0
    graph.save(path)
    return graph, seconds


def make_learner(config, graph, randpool_size, batch):
    from skseals import ActiveLearner, ActiveSearcher
    from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool

    if config == "Random-All":
        return ActiveLearner(
            query_strategy="random", pool=FullScanPool(), batch_size=batch
        )
    short, pool_name = config.split("-", 1)
    if pool_name == "Full":
        pool = FullScanPool()
    elif pool_name.startswith("SEALS-k"):
        pool = KNNPool(n_neighbors=int(pool_name[len("SEALS-k") :]), index=graph)
    elif pool_name == "RandPool":
        pool = RandomSubsetPool(fraction=int(randpool_size))
    else:
        raise ValueError(config)
    strategy = STRATEGIES[short]
    if strategy == "most_likely_positive":
        return ActiveSearcher(pool=pool, batch_size=batch)
    return ActiveLearner(query_strategy=strategy, pool=pool, batch_size=batch)


# -- workers -------------------------------------------------------------------------
_W = {}


def _init_worker(args_dict, randpool_size):
    os.environ.setdefault("OMP_NUM_THREADS", str(args_dict["threads"]))
    ctl, pools = C.limit_threads(args_dict["threads"])
    data = load(args_dict["data"])
    X_pool = np.ascontiguousarray(data.X[data.split == 0])
    graph, _ = pool_graph(X_pool, args_dict["out"])
    _W.update(
        ctl=ctl,
        pools=pools,
        data=data,
        graph=graph,
        args=args_dict,
        randpool_size=randpool_size,
    )


def _task_path(out, concept_name, config):
    safe = concept_name.replace(":", "_").replace("/", "_")
    return Path(out) / "runs" / f"{safe}__{config}.csv"


def run_task(task):
    """Run one configuration on one concept, all repetitions; write its CSV."""
    from skseals.simulation import simulate, write_results

    c, config = task
    a, data = _W["args"], _W["data"]
    name = str(data.concept_names[c])
    path = _task_path(a["out"], name, config)
    learner = make_learner(config, _W["graph"], _W["randpool_size"], a["batch"])
    t0 = time.perf_counter()
    res = simulate(
        {config: learner},
        data.X,
        {name: data.concepts[c]},
        split=data.split,
        budget=a["budget"],
        n_repetitions=a["repetitions"],
        random_state=c,
        as_frame=False,
    )
    wall = time.perf_counter() - t0
    for r in res:
        r["concept_id"] = c
        r["concept_kind"] = int(data.concept_kind[c])
        r["wall_seconds_task"] = wall
    tmp = path.with_suffix(".tmp.csv")
    write_results(res, tmp)
    os.replace(tmp, path)
    last = [r for r in res if r["n_labeled"] == max(x["n_labeled"] for x in res)]
    ap = np.mean([r["average_precision"] for r in last])
    return f"{name} {config}: {wall:.1f} s, final mAP {ap:.3f}"


def pilot_pool_size(args, concepts, data, graph):
    """Mean pool size of MaxEnt-SEALS-k100 over all rounds of a short pilot."""
    from skseals.simulation import simulate

    learner = make_learner("MaxEnt-SEALS-k100", graph, None, args.batch)
    sizes = []
    for c in concepts[: args.pilot_concepts]:
        name = str(data.concept_names[c])
        res = simulate(
            {"pilot": learner},
            data.X,
            {name: data.concepts[c]},
            split=data.split,
            budget=args.budget,
            n_repetitions=1,
            random_state=c,
            as_frame=False,
        )
        # pool_size of round r is the pool the (r+1)-th query chose from.
        sizes += [r["pool_size"] for r in res[:-1]]
    return int(round(np.mean(sizes))), sizes


def run(args):
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    ctl, pools = C.limit_threads(args.threads)
    env = C.environment(args.threads)
    data = load(args.data)
    concepts = select_concepts(
        data, args.sections, args.tags, args.seed, args.min_pool, args.min_test
    )
    X_pool = np.ascontiguousarray(data.X[data.split == 0])
    graph, build_s = pool_graph(X_pool, out)
    print(
        f"# KNNGraph(k=100) over {X_pool.shape[0]} pool rows: "
        f"{f'built in {build_s:.1f} s' if build_s else 'loaded from cache'}",
        flush=True,
    )
    size_file = out / "randpool_size.json"
    if args.randpool_size is not None:
        randpool = {"size": args.randpool_size, "source": "--randpool-size"}
    elif size_file.exists():
        randpool = json.loads(size_file.read_text())
    elif "MaxEnt-RandPool" in args.configs:
        t0 = time.perf_counter()
        size, sizes = pilot_pool_size(args, concepts, data, graph)
        randpool = {
            "size": size,
            "source": f"mean pool size of MaxEnt-SEALS-k100 over all rounds of "
            f"{min(args.pilot_concepts, len(concepts))} concepts x 1 repetition",
            "min": int(min(sizes)),
            "max": int(max(sizes)),
            "seconds": time.perf_counter() - t0,
        }
        size_file.write_text(json.dumps(randpool, indent=1))
    else:
        randpool = {"size": None}
    print(f"# RandPool size: {randpool}", flush=True)
    meta = {
        "env": env,
        "pools": pools,
        "args": vars(args),
        "concepts": [
            {
                "id": c,
                "name": str(data.concept_names[c]),
                "kind": int(data.concept_kind[c]),
                "pool_positives": int((data.split[data.concepts[c]] == 0).sum()),
                "test_positives": int((data.split[data.concepts[c]] == 1).sum()),
            }
            for c in concepts
        ],
        "graph_build_seconds": build_s,
        "randpool": randpool,
        "n_pool": int(X_pool.shape[0]),
        "n_test": int((data.split == 1).sum()),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    del X_pool, graph

    tasks = []
    for i, c in enumerate(concepts):
        for config in args.configs:
            if config in args.reduced_configs and i >= args.reduced_concepts:
                continue
            if not _task_path(out, str(data.concept_names[c]), config).exists():
                tasks.append((c, config))
    print(
        f"# {len(tasks)} tasks to run ({len(concepts)} concepts, "
        f"{args.repetitions} repetitions each)",
        flush=True,
    )
    if not tasks:
        return
    a = dict(vars(args), out=str(out))
    t0 = time.perf_counter()
    if args.workers <= 1:
        _init_worker(a, randpool["size"])
        results = map(run_task, tasks)
        for i, msg in enumerate(results, 1):
            print(
                f"[{i}/{len(tasks)} {time.perf_counter() - t0:7.0f} s] {msg}",
                flush=True,
            )
        return
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    ctx = mp.get_context("spawn")  # faiss may hang in a forked child
    with ctx.Pool(args.workers, _init_worker, (a, randpool["size"])) as pool:
        for i, msg in enumerate(pool.imap(run_task, tasks, chunksize=1), 1):
            print(
                f"[{i}/{len(tasks)} {time.perf_counter() - t0:7.0f} s] {msg}",
                flush=True,
            )


# -- report ----------------------------------------------------------------------------
def _pm(mean, std, digits=3):
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def report(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skseals.plot import plot_learning_curves
    from skseals.simulation import read_results

    out = Path(args.out)
    meta = json.loads((out / "meta.json").read_text())
    records = []
    for f in sorted((out / "runs").glob("*.csv")):
        if f.name.endswith(".tmp.csv"):
            continue
        records += read_results(f, as_frame=False)
    configs = [c for c in ALL_CONFIGS if any(r["config"] == c for r in records)]
    lines = []
    w = lines.append
    w(
        f"Concepts ({len(meta['concepts'])}; name, pool / test positives): "
        + ", ".join(
            f"`{c['name']}` {c['pool_positives']}/{c['test_positives']}"
            for c in meta["concepts"]
        )
        + "."
    )
    w("")
    w(f"RandPool size: {meta['randpool']}")
    w("")
    # Table 2: one row per configuration.
    by_run = {}
    for r in records:
        by_run.setdefault((r["config"], r["concept"], r["repetition"]), []).append(r)
    seed = min(r["n_labeled"] for r in records if r["round"] == 0)
    head = ["configuration", "runs (concepts)"]
    head += [f"mAP @{n}" for n in LABEL_POINTS] + [f"recall @{n}" for n in LABEL_POINTS]
    head += ["pool % (final)", "total s/run", "selection s", "kNN s", "training s"]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    stats = {}
    for cfg in configs:
        runs = {k[1:]: v for k, v in by_run.items() if k[0] == cfg}
        row = [cfg, f"{len(runs)} ({len({k[0] for k in runs})})"]
        at = {}
        for n in LABEL_POINTS:
            at[n] = [
                next(r for r in v if r["n_labeled"] == seed + n) for v in runs.values()
            ]
        for metric in ("average_precision", "recall"):
            for n in LABEL_POINTS:
                vals = np.array([r[metric] for r in at[n]], float)
                row.append(_pm(np.nanmean(vals), np.nanstd(vals)))
        final = at[LABEL_POINTS[-1]]
        row.append(f"{np.mean([r['pool_percent'] for r in final]):.1f}")
        t = {
            k: np.mean([sum(x[k] for x in v) for v in runs.values()])
            for k in ("selection_seconds", "knn_seconds", "training_seconds")
        }
        row.append(f"{sum(t.values()):.2f}")
        row += [
            f"{t[k]:.2f}"
            for k in ("selection_seconds", "knn_seconds", "training_seconds")
        ]
        w("| " + " | ".join(row) + " |")
        stats[cfg] = {
            n: {(r["concept"], r["repetition"]): r for r in at[n]} for n in LABEL_POINTS
        }
    w("")
    # Paired differences vs the full scan, per concept (mean over repetitions).
    w(
        "Paired differences against the same strategy's full scan, at 2,000 labels: "
        "per concept, mean over repetitions; then mean over concepts with a 95 % "
        "t-interval, and wins / losses (|Δ| > 0.001) over concepts."
    )
    w("")
    w(
        "| SEALS configuration − full scan | concepts | ΔmAP @500 | ΔmAP @2000 "
        "(95 % CI) | ΔmAP wins/losses | Δrecall @500 (pts) "
        "| Δrecall @2000 (pts, 95 % CI) | Δrecall wins/losses |"
    )
    w("|---|---|---|---|---|---|---|---|")
    from scipy import stats as st

    def per_concept_diff(a, b, n, metric):
        common = set(stats[a][n]) & set(stats[b][n])
        diffs = {}
        for key in common:
            diffs.setdefault(key[0], []).append(
                stats[a][n][key][metric] - stats[b][n][key][metric]
            )
        return np.array([np.mean(v) for v in diffs.values()])

    def ci(d):
        if d.size < 2:
            return float("nan")
        return float(st.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))

    pairs = [
        (f"{s}-{p}", f"{s}-Full")
        for s in STRATEGIES
        for p in ("SEALS-k100", "SEALS-k10")
    ]
    pairs += [("MaxEnt-RandPool", "MaxEnt-Full"), ("Random-All", "MaxEnt-Full")]
    for a_cfg, b_cfg in pairs:
        if a_cfg not in stats or b_cfg not in stats:
            continue
        d500 = per_concept_diff(a_cfg, b_cfg, 500, "average_precision")
        d = per_concept_diff(a_cfg, b_cfg, 2000, "average_precision")
        r500 = 100 * per_concept_diff(a_cfg, b_cfg, 500, "recall")
        r = 100 * per_concept_diff(a_cfg, b_cfg, 2000, "recall")
        w(
            f"| {a_cfg} − {b_cfg} | {d.size} | {d500.mean():+.3f} | "
            f"{d.mean():+.3f} ± {ci(d):.3f} | {(d > 1e-3).sum()}/{(d < -1e-3).sum()} | "
            f"{r500.mean():+.1f} | {r.mean():+.1f} ± {ci(r):.1f} | "
            f"{(r > 0.1).sum()}/{(r < -0.1).sum()} |"
        )
    w("")
    # Sections vs debtags, final mAP.
    kinds = {c["name"]: c["kind"] for c in meta["concepts"]}
    w("Final mAP / recall (2,000 labels) by kind of concept:")
    w("")
    w(
        "| configuration | sections mAP | debtags mAP | sections recall "
        "| debtags recall |"
    )
    w("|---|---|---|---|---|")
    for cfg in configs:
        rs = stats[cfg][2000].values()
        cells = []
        for metric in ("average_precision", "recall"):
            for k in (0, 1):
                v = [x[metric] for x in rs if kinds.get(x["concept"]) == k]
                cells.append(f"{np.mean(v):.3f}" if v else "–")
        w(f"| {cfg} | " + " | ".join(cells) + " |")
    w("")
    # Pool size of SEALS vs RandPool.
    for cfg in ("MaxEnt-SEALS-k100", "MaxEnt-SEALS-k10"):
        if cfg in configs:
            sizes = [
                r["pool_size"]
                for r in records
                if r["config"] == cfg and r["n_labeled"] < seed + LABEL_POINTS[-1]
            ]
            w(
                f"{cfg}: pool size over all queried rounds: "
                f"mean {np.mean(sizes):,.0f}, median {np.median(sizes):,.0f}, "
                f"min {min(sizes):,}, max {max(sizes):,} rows (of {meta['n_pool']:,})."
            )
    w("")
    text = "\n".join(lines)
    (out / "report.md").write_text(text + "\n")
    print(text)

    # Figures: one panel per strategy family, mAP and recall.
    fig_dir = Path(args.figures)
    fig_dir.mkdir(parents=True, exist_ok=True)
    for metric, fname in (
        ("average_precision", "label_efficiency_map.png"),
        ("recall", "label_efficiency_recall.png"),
    ):
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), sharey=True)
        for ax, s in zip(axes, STRATEGIES, strict=True):
            sel = [
                c
                for c in (f"{s}-Full", f"{s}-SEALS-k100", f"{s}-SEALS-k10")
                if c in configs
            ]
            sel += [
                c
                for c in ("MaxEnt-RandPool", "Random-All")
                if c in configs and (s == "MaxEnt" or c == "Random-All")
            ]
            # Same concepts for every line of a panel (reduced configs ran on fewer).
            keep = set.intersection(
                *({r["concept"] for r in records if r["config"] == c} for c in sel)
            )
            recs = [r for r in records if r["config"] in sel and r["concept"] in keep]
            plot_learning_curves(recs, metric, ax=ax, configs=sel, std=True)
            ax.set_title(f"{s}: {len(keep)} concepts × {args.repetitions} reps")
        fig.suptitle(
            f"Debian packages, {metric.replace('_', ' ')} vs labels "
            "(seed of 100 included); mean ± std over concepts × repetitions"
        )
        fig.tight_layout()
        fig.savefig(fig_dir / fname, dpi=110)
        plt.close(fig)
        print(f"# wrote {fig_dir / fname}")


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        report(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
