"""Benchmark (issue 4): rare concepts on a tight budget, from 5 positives only.

Seed 004's claim (Mullapudi et al., ICCV 2021): starting from a handful of
positives and no negatives, the adaptive rule with pseudo-negatives beats
MaxEnt-SEALS and MLP-SEALS in average precision at 100, 200 and 500 labels.

Data: ``/work/shared/data/debian_packages.npz`` (63,440 package descriptions,
MiniLM embeddings, L2-normalised here). Concepts: ``--sections`` Debian
sections and ``--tags`` debtags drawn at random (``--seed``) among those with
at least 5 positives among the pool rows and 5 in the test split.

Protocol, per concept and repetition: 5 positives drawn at random from the
pool rows, no negatives; every configuration starts from the same seed with
the same learner random_state; rounds of ``--batch`` (10) queried rows
answered by an oracle (concept membership) until ``max(--budgets)`` labels
are acquired (the 5 seeds not counted). Learners are fitted on the pool rows
only (X[pool_ids]), so test rows are never queried; at each budget the learner
is scored on X[test_ids]: average precision of ``decision_function``, F1 of
``predict`` (the classifier's own threshold, p = 0.5) and the best F1 over all
thresholds (an oracle threshold, optimistic), plus recall of the pool's
positives (labeled positives / pool positives).

All configurations are ActiveSearcher(LogisticRegression(max_iter=1000)) on
KNNPool(k=100) over ONE shared KNNGraph (k=100, exact faiss Flat search,
cosine) built once on the pool rows and cached on disk. A graph look-up can
only return the 100 stored neighbours of a row, minus those already labeled;
every configuration shares that.

Examples
--------
python benchmarks/bench_tight_budget.py --repetitions 2
python benchmarks/bench_tight_budget.py --sections 2 --tags 2 --repetitions 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import _common as C
import numpy as np

DATA = Path("/work/shared/data/debian_packages.npz")
CACHE = Path(os.environ.get("SKSEALS_BENCH_CACHE", "/tmp/skseals_bench"))

#: name -> (query_strategy, pseudo_negatives)
CONFIGS = {
    "adaptive+PN f=1": ("adaptive", 1.0),
    "adaptive+PN f=5": ("adaptive", 5.0),
    "adaptive (no PN)": ("adaptive", 0.0),
    "MaxEnt-SEALS": ("entropy", 0.0),
    "MLP-SEALS": ("most_likely_positive", 0.0),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--sections", type=int, default=12, help="sections (default 12)")
    p.add_argument("--tags", type=int, default=12, help="debtags (default 12)")
    p.add_argument("--repetitions", type=int, default=2)
    p.add_argument(
        "--only-reps",
        type=int,
        nargs="+",
        default=None,
        help="run only these repetition ids (to split a run over "
        "processes; merge with --report)",
    )
    p.add_argument(
        "--report",
        nargs="+",
        default=None,
        metavar="JSON",
        help="only print the tables from these result files",
    )
    p.add_argument("--budgets", type=int, nargs="+", default=[100, 200, 500])
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=str(CACHE / "tight_budget.json"))
    return p.parse_args(argv)


# -- data, concepts and the shared graph (also used by bench_structure.py) ------
def load_data(path=DATA):
    """``(X, pool_ids, test_ids, names, kinds, members)``; X unit-norm float32."""
    d = np.load(path, allow_pickle=False)
    X = d["emb"].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    indptr, flat = d["concept_indptr"], d["concept_members"]
    members = [flat[indptr[c] : indptr[c + 1]] for c in range(indptr.size - 1)]
    return (
        X,
        d["pool_ids"].astype(np.int64),
        d["test_ids"].astype(np.int64),
        d["concept_name"].astype(str),
        d["concept_kind"],
        members,
    )


def select_concepts(
    names,
    kinds,
    members,
    pool_ids,
    test_ids,
    n_sections,
    n_tags,
    seed,
    min_pool=5,
    min_test=5,
):
    """Concept indices: random sections and tags with enough pool/test positives."""
    in_pool = np.zeros(max(pool_ids.max(), test_ids.max()) + 1, bool)
    in_pool[pool_ids] = True
    ok = [
        c
        for c, m in enumerate(members)
        if in_pool[m].sum() >= min_pool and (~in_pool[m]).sum() >= min_test
    ]
    rng = np.random.default_rng(seed)
    chosen = []
    for kind, count in ((0, n_sections), (1, n_tags)):
        pool = [c for c in ok if kinds[c] == kind]
        chosen += sorted(rng.choice(pool, min(count, len(pool)), replace=False))
    return [int(c) for c in chosen]


def pool_graph(X_pool, k=100):
    """One KNNGraph over the pool rows (exact faiss Flat, cosine), cached on disk."""
    from skseals.neighbors import FaissIndex, KNNGraph

    index = FaissIndex("Flat").fit(X_pool)
    path = CACHE / f"pool_graph_k{k}_{X_pool.shape[0]}.npy"
    if path.exists():
        return KNNGraph.load(path, mmap_mode=None, index=index), 0.0
    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    graph = KNNGraph(n_neighbors=k, index=index).fit(X_pool)
    seconds = time.perf_counter() - t0
    graph.save(path)
    return graph, seconds


def positive_scores(learner, X):
    """Scores of class 1 (decision_function; cold start: centroid similarity)."""
    scores = np.asarray(learner.decision_function(X), dtype=np.float64)
    classes = learner.estimator_.classes_
    return scores if classes[-1] == 1 else -scores


def best_f1(y, scores):
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(y, scores)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return float(f.max())


# -- the loop ----------------------------------------------------------------------
def run_one(
    make, X_pool, X_test, y_pool, y_test, seed_pos, random_state, budgets, batch
):
    from sklearn.metrics import average_precision_score, f1_score

    y = np.full(X_pool.shape[0], -1, dtype=np.int64)
    y[seed_pos] = 1
    t0 = time.perf_counter()
    learner = make(random_state).fit(X_pool, y)
    spent, out = 0, []
    for budget in sorted(budgets):
        while spent < budget:
            rows = learner.query(min(batch, budget - spent))
            if rows.size == 0:
                break
            learner.teach(rows, y_pool[rows])
            spent += rows.size
        s = positive_scores(learner, X_test)
        pred = (learner.predict(X_test) == 1).astype(int)
        out.append(
            {
                "budget": budget,
                "labels": spent,
                "ap": float(average_precision_score(y_test, s)),
                "f1": float(f1_score(y_test, pred, zero_division=0.0)),
                "best_f1": best_f1(y_test, s),
                "recall": float(learner.n_positives_found_ / y_pool.sum()),
                "n_pos": int(learner.n_positives_found_),
                "n_pseudo": int(learner.pseudo_negatives_.size),
                "pool": int(learner.history_[-1]["pool_size"]),
                "seconds": time.perf_counter() - t0,
            }
        )
    return out


def make_factory(strategy, f, graph, k):
    from sklearn.linear_model import LogisticRegression

    from skseals import ActiveSearcher
    from skseals.pool import KNNPool

    def make(random_state):
        return ActiveSearcher(
            LogisticRegression(max_iter=1000),
            query_strategy=strategy,
            pool=KNNPool(n_neighbors=k, index=graph),
            pseudo_negatives=f,
            random_state=random_state,
        )

    return make


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        records = []
        for path in args.report:
            with open(path, encoding="utf-8") as f:
                payload = json.load(f)
            records += payload["records"]
            print(f"# {path}: {payload['env']['command']} ({payload['env']['date']})")
        report(records, payload["args"]["configs"], payload["args"]["budgets"])
        return
    ctl, pools = C.limit_threads(args.threads)  # noqa: F841 - keep the limits
    env = C.environment(args.threads)
    print(C.describe_environment(env, pools))
    X, pool_ids, test_ids, names, kinds, members = load_data(args.data)
    chosen = select_concepts(
        names, kinds, members, pool_ids, test_ids, args.sections, args.tags, args.seed
    )
    X_pool, X_test = X[pool_ids], X[test_ids]
    graph, build = pool_graph(X_pool, args.k)
    print(
        f"# {len(chosen)} concepts; KNNGraph k={args.k} on {X_pool.shape[0]} pool "
        f"rows (built in {build:.0f} s, 0 = cached)"
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    records = []
    t_start = time.perf_counter()
    for c in chosen:
        is_member = np.zeros(X.shape[0], bool)
        is_member[members[c]] = True
        y_pool = is_member[pool_ids].astype(np.int64)
        y_test = is_member[test_ids].astype(np.int64)
        for rep in args.only_reps or range(args.repetitions):
            rng = np.random.default_rng([args.seed, c, rep])
            seed_pos = rng.choice(np.flatnonzero(y_pool), 5, replace=False)
            random_state = int(rng.integers(2**31 - 1))
            for name in args.configs:
                strategy, f = CONFIGS[name]
                make = make_factory(strategy, f, graph, args.k)
                res = run_one(
                    make,
                    X_pool,
                    X_test,
                    y_pool,
                    y_test,
                    seed_pos,
                    random_state,
                    args.budgets,
                    args.batch,
                )
                for r in res:
                    records.append(
                        {
                            "config": name,
                            "concept": str(names[c]),
                            "kind": int(kinds[c]),
                            "rep": rep,
                            "n_pool_pos": int(y_pool.sum()),
                            **r,
                        }
                    )
            last = [
                r
                for r in records
                if r["concept"] == str(names[c])
                and r["rep"] == rep
                and r["budget"] == max(args.budgets)
            ]
            print(
                f"{names[c]:<30} rep {rep} "
                + " ".join(f"{r['config']}={r['ap']:.3f}" for r in last)
                + f"  [{time.perf_counter() - t_start:.0f} s]",
                flush=True,
            )
        C.write_json(args.json, {"env": env, "args": vars(args), "records": records})
    report(records, args.configs, args.budgets)


# -- report -----------------------------------------------------------------------
def _per_concept(records, config, budget, key):
    by = {}
    for r in records:
        if r["config"] == config and r["budget"] == budget:
            by.setdefault(r["concept"], []).append(r[key])
    return {c: float(np.mean(v)) for c, v in by.items()}


def _identical_runs(records, configs):
    runs = {}
    for r in records:
        runs.setdefault((r["config"], r["concept"], r["rep"]), []).append(r["ap"])
    keys = {(c, r) for _, c, r in runs}
    out = []
    for i, a in enumerate(configs):
        for b in configs[i + 1 :]:
            same = sum(runs.get((a, *k)) == runs.get((b, *k)) for k in keys)
            if same:
                out.append(f"{a} = {b} in {same} of {len(keys)}")
    return out


def report(records, configs, budgets):
    from scipy.stats import wilcoxon

    concepts = sorted({r["concept"] for r in records})
    reps = len({r["rep"] for r in records})
    print(
        f"\n{len(concepts)} concepts x {reps} repetition(s); mean over concepts "
        "of the per-concept mean over repetitions\n"
    )
    rows = []
    for name in configs:
        row = {"config": name}
        for b in budgets:
            for key in ("ap", "f1", "best_f1", "recall"):
                vals = list(_per_concept(records, name, b, key).values())
                row[f"{key}{b}"] = float(np.mean(vals)) if vals else float("nan")
        rows.append(row)
    for key, title in (
        ("ap", "AP"),
        ("f1", "F1 (predict)"),
        ("best_f1", "best F1"),
        ("recall", "recall of pool positives"),
    ):
        cols = [("config", "configuration", 0)] + [
            (f"{key}{b}", f"{title} @{b}", 3) for b in budgets
        ]
        print(C.markdown_table(rows, cols) + "\n")
    refs = [n for n in configs if "+PN" in n] or configs[:1]
    for ref in refs:
        others = [n for n in configs if n != ref and n not in refs]
        print(
            f"Paired per concept: {ref} vs the others (AP; wins / ties / "
            "losses over concepts, mean difference, Wilcoxon signed-rank p)\n"
        )
        lines = [
            "| vs | " + " | ".join(f"@{b}" for b in budgets) + " |",
            "|---|" + "---|" * len(budgets),
        ]
        for other in others:
            cells = []
            for b in budgets:
                a = _per_concept(records, ref, b, "ap")
                o = _per_concept(records, other, b, "ap")
                diff = np.array([a[c] - o[c] for c in concepts if c in a and c in o])
                wins, losses = int((diff > 1e-9).sum()), int((diff < -1e-9).sum())
                p = wilcoxon(diff).pvalue if np.any(diff != 0) else 1.0
                cells.append(
                    f"{wins}/{diff.size - wins - losses}/{losses}, "
                    f"{diff.mean():+.3f}, p={p:.2g}"
                )
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
        print("\n".join(lines) + "\n")
    same = _identical_runs(records, configs)
    if same:
        print(
            "Runs with the same AP at every budget (same picks, in effect): "
            + "; ".join(same)
        )
    secs = {
        n: np.mean(
            [
                r["seconds"]
                for r in records
                if r["config"] == n and r["budget"] == max(budgets)
            ]
        )
        for n in configs
    }
    print(
        "\nmean seconds per run (to the largest budget): "
        + ", ".join(f"{n} {s:.1f}" for n, s in secs.items())
    )


if __name__ == "__main__":
    main()
