"""Benchmark 4 (issue 3): the neighbour backends side by side.

For each n, every backend is built once over the same rows (build time, RSS
delta of the process and the size of what ``save`` writes), then searched the
way a SEALS pool searches: ``search_rows`` (neighbours of indexed rows), k
neighbours, with an exclusion set of ``--exclude`` random rows (the labeled
rows of a round). Reported per backend and search setting:

- batched throughput: queries/s for ``--batch``-row calls;
- single-row latency: median ms of a one-row call;
- recall@k against :class:`~skseals.neighbors.ExactIndex` with the same
  exclusion, on ``--queries`` query rows.

Timings of all backends are interleaved (every repeat visits every backend in
a rotating order) and reported as medians, so they share the machine's state.
Several search settings of one built index (IVF nprobe, HNSW ef) share that
build.

Examples
--------
python benchmarks/bench_backends.py --n 100000 1000000 --json backends.json
python benchmarks/bench_backends.py --n 1000000 --backends faiss-ivf hnswlib
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time

import _common as C
import numpy as np

ALL = (
    "exact",
    "faiss-flat",
    "faiss-ivf",
    "faiss-hnsw32",
    "faiss-ivfpq",
    "hnswlib",
    "annoy",
    "graph",
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--k", type=int, default=100, help="neighbours (default 100)")
    p.add_argument(
        "--queries",
        type=int,
        default=200,
        help="query rows for recall and throughput (default 200)",
    )
    p.add_argument(
        "--single",
        type=int,
        default=50,
        help="one-row calls timed per repeat (default 50)",
    )
    p.add_argument("--batch", type=int, default=100, help="rows per batched call")
    p.add_argument(
        "--exclude",
        type=int,
        default=2000,
        help="random rows excluded from every search (default 2000)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timing repeats")
    p.add_argument("--backends", nargs="+", default=list(ALL), choices=ALL)
    p.add_argument(
        "--graph-nprobe",
        type=int,
        nargs="+",
        default=[16, 64],
        help="nprobe of the faiss IVF index that fills the KNNGraph, one graph "
        "each (default 16 64)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of every timed search (default 1)",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=2,
        help="threads of the one-time builds (default 2)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memmap-dir", default=None)
    p.add_argument(
        "--cache-dir",
        default=None,
        help="save built indexes here and reuse them in later runs "
        "(build figures are those of the first build)",
    )
    p.add_argument(
        "--no-size",
        action="store_true",
        help="skip measuring saved index sizes (writes to a temp dir)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="JSON",
        help="print the tables of a run saved with --json, and run nothing",
    )
    p.add_argument("--json", default=None)
    return p.parse_args(argv)


class Entry:
    """One backend under one search setting (``params`` set on the shared index).

    Settings of one build share the index object itself (hnswlib keeps its
    deletion marks in it), with their search parameters set before each use.
    """

    def __init__(self, name, backend, index, setting, build, **params):
        self.name, self.backend, self._index = name, backend, index
        self.setting, self.build, self.params = setting, build, params
        self.batched_s, self.single_s = [], []
        self.recall = None

    @property
    def index(self):
        for key, value in self.params.items():
            setattr(self._index, key, value)
        return self._index


def build_all(args, X, n):
    from skseals.utils import effective_n_threads

    bt = args.build_threads
    entries, builds = [], {}
    kw = {
        "build_threads": bt,
        "seed": args.seed,
        "cache_dir": args.cache_dir,
        "measure_size": not args.no_size,
    }

    def build(name):
        idx, info = C.get_backend(name, X, **kw)
        builds[name] = info
        print(
            f"# build {name}: {info['seconds']:.1f} s, RSS +{info['rss_mb']:.0f} MB"
            + (
                ""
                if info.get("size_mb") is None
                else f", saved {info['size_mb']:.0f} MB"
            )
            + (" (cached)" if info.get("cached") else ""),
            flush=True,
        )
        return idx, info

    want = set(args.backends)
    exact, info = build("exact")
    if "exact" in want:
        entries.append(Entry("ExactIndex (numpy BLAS)", "exact", exact, "–", info))
    if "faiss-flat" in want:
        idx, info = build("faiss-flat")
        entries.append(Entry("faiss Flat", "faiss-flat", idx, "–", info))
    if want & {"faiss-ivf", "graph"}:
        ivf, info = build("faiss-ivf")
        if "faiss-ivf" in want:
            # FaissIndex's own default nprobe (asked from the library) is marked,
            # and measured as a row of its own when it is not 16 or 64.
            default = C.faiss_default_nprobe(ivf)
            settings = [16, 64] + ([None] if default not in (16, 64) else [])
            for nprobe in settings:
                shown = default if nprobe is None else nprobe
                entries.append(
                    Entry(
                        f"faiss {ivf.factory_}",
                        "faiss-ivf",
                        ivf,
                        f"nprobe {shown}" + (" (default)" if shown == default else ""),
                        info,
                        nprobe=nprobe,
                    )
                )
    if "graph" in want:
        for nprobe in args.graph_nprobe:
            idx, info = C.get_graph(
                C.with_params(ivf, nprobe=nprobe),
                X,
                k=args.k,
                source_key=f"faiss-ivf-nprobe{nprobe}",
                build_threads=bt,
                cache_dir=args.cache_dir,
                measure_size=not args.no_size,
            )
            info = {**info, "note": "table fill only (the IVF build is above)"}
            builds[f"graph-nprobe{nprobe}"] = info
            print(
                f"# build graph (nprobe {nprobe}): {info['seconds']:.1f} s"
                + (" (cached)" if info.get("cached") else ""),
                flush=True,
            )
            entries.append(
                Entry(
                    f"KNNGraph look-up (k={args.k})",
                    "graph",
                    idx,
                    f"filled by the IVF at nprobe {nprobe}",
                    info,
                )
            )
    if "faiss-hnsw32" in want:
        idx, info = build("faiss-hnsw32")
        for ef in (None, 200):
            shown = max(64, args.k) if ef is None else ef
            entries.append(
                Entry(
                    "faiss HNSW32",
                    "faiss-hnsw32",
                    idx,
                    f"efSearch {shown}",
                    info,
                    ef_search=ef,
                )
            )
    if "faiss-ivfpq" in want:
        idx, info = build("faiss-ivfpq")
        for nprobe in (16, 64):
            entries.append(
                Entry(
                    f"faiss {idx.factory_}",
                    "faiss-ivfpq",
                    idx,
                    f"nprobe {nprobe}",
                    info,
                    nprobe=nprobe,
                )
            )
    if "hnswlib" in want:
        idx, info = build("hnswlib")
        idx.num_threads = args.threads
        for ef in (100, 200):
            entries.append(
                Entry("hnswlib M=16", "hnswlib", idx, f"ef {ef}", info, ef=ef)
            )
    if "annoy" in want:
        idx, info = build("annoy")
        # Annoy answers a batch on n_jobs threads: the timed setting, and every
        # core (within skseals's budget) when that is more.
        for jobs in sorted({args.threads, effective_n_threads()}):
            entries.append(
                Entry(
                    "Annoy",
                    "annoy",
                    idx,
                    f"n_trees 50, search_k -1, n_jobs {jobs}",
                    info,
                    n_jobs=jobs,
                )
            )
    return exact, entries, builds


def measure(args, exact, entries, n):
    from skseals.utils import RowBitmap

    rng = np.random.default_rng(args.seed + 1)
    exclude = RowBitmap(n)
    exclude.add(rng.choice(n, args.exclude, replace=False))
    available = np.flatnonzero(~exclude.dense())
    queries = np.sort(rng.choice(available, args.queries, replace=False))
    k = args.k

    def others(ind):  # the k nearest rows other than the query row itself
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for j, (row, ids) in enumerate(zip(queries, ind, strict=True)):
            ids = ids[(ids >= 0) & (ids != row)][:k]
            out[j, : ids.size] = ids
        return out

    # Recall of the k nearest *other* rows (a KNNGraph never stores a row as its
    # own neighbour; an index returns it first): every backend is asked for
    # k + 1, the query row is dropped and the first k are kept.
    truth = others(exact.search_rows(queries, k + 1, exclude=exclude)[1])
    for e in entries:  # recall (and a warm-up of every index)
        found = others(e.index.search_rows(queries, k + 1, exclude=exclude)[1])
        e.recall = float(
            np.mean(
                [
                    np.intersect1d(f[f >= 0], t[t >= 0]).size / max(1, (t >= 0).sum())
                    for f, t in zip(found, truth, strict=True)
                ]
            )
        )
        e.found = float((found >= 0).sum(axis=1).mean())
        e.leaked = bool(exclude.contains(found[found >= 0]).any())

    batches = [queries[s : s + args.batch] for s in range(0, len(queries), args.batch)]
    singles = queries[: args.single]
    order = list(range(len(entries)))
    for r in range(args.repeats):
        rot = order[r % len(order) :] + order[: r % len(order)]
        for i in rot:
            e = entries[i]
            gc.collect()
            t0 = time.perf_counter()
            for rows in batches:
                e.index.search_rows(rows, k, exclude=exclude)
            e.batched_s.append((time.perf_counter() - t0) / len(queries))
            t0 = time.perf_counter()
            for row in singles:
                e.index.search_rows(row[None], k, exclude=exclude)
            e.single_s.append((time.perf_counter() - t0) / len(singles))
        print(f"# repeat {r + 1}/{args.repeats} done")


def run_n(args, n):
    print(f"\n## n = {n:,}")
    t0 = time.perf_counter()
    X, _, generator = C.make_data(n, args.d, args.seed, args.memmap_dir)
    print(f"# data: {generator}, {time.perf_counter() - t0:.1f} s")
    exact, entries, builds = build_all(args, X, n)
    measure(args, exact, entries, n)
    rows = []
    for e in entries:
        per_q = C.median(e.batched_s)
        rows.append(
            {
                "backend": e.name,
                "setting": e.setting,
                "build_s": e.build["seconds"],
                "rss_mb": e.build["rss_mb"],
                "size_mb": e.build["size_mb"],
                "qps": 1.0 / per_q,
                "batched_ms_per_query": 1e3 * per_q,
                "single_ms": 1e3 * C.median(e.single_s),
                "recall": e.recall,
                "found": e.found,
                "leaked": e.leaked,
                "batched_all": e.batched_s,
                "single_all": e.single_s,
            }
        )
    del exact, entries
    gc.collect()
    return {"n": n, "d": args.d, "generator": generator, "rows": rows, "builds": builds}


COLUMNS = [
    ("backend", "backend", 0),
    ("setting", "search setting", 0),
    ("build_s", "build s", 1),
    ("rss_mb", "RSS delta MB", 0),
    ("size_mb", "saved MB", 0),
    ("qps", "queries/s (batches)", 0),
    ("single_ms", "single-row ms", 2),
    ("recall", "recall@k", 3),
    ("found", "mean found", 1),
]


def report(args, results, env, pools):
    out = [C.describe_environment(env, pools), ""]
    for res in results:
        out.append(
            f"### n = {res['n']:,}, d = {res['d']}: search_rows, k = {args.k}, "
            f"{args.queries} query rows, batches of {args.batch}, "
            f"{args.exclude:,} random rows excluded; medians of "
            f"{args.repeats} repeats"
        )
        out.append("")
        out.append(
            f"recall@k: the k = {args.k} nearest rows other than the query "
            "row, vs ExactIndex with the same exclusion; mean found: "
            "non-missing results of those k. Throughput and latency: "
            f"`search_rows(rows, {args.k}, exclude=...)`."
        )
        out.append("")
        out.append(C.markdown_table(res["rows"], COLUMNS))
        leaked = [r["backend"] for r in res["rows"] if r["leaked"]]
        if leaked:
            out.append("")
            out.append(f"**Excluded rows returned by: {', '.join(leaked)}**")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    args = parse_args(argv)
    if args.report:  # re-render the tables of a saved run
        with open(args.report, encoding="utf-8") as f:
            saved = json.load(f)
        saved_args = argparse.Namespace(**{**vars(args), **saved["args"]})
        print(report(saved_args, saved["results"], saved["env"], saved["thread_pools"]))
        return
    ctl, pools = C.limit_threads(args.threads)
    env = C.environment(args.threads, args.build_threads)
    print(C.describe_environment(env, pools))
    results = [run_n(args, n) for n in args.n]
    env["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    text = report(args, results, env, pools)
    print("\n" + text)
    if args.json:
        C.write_json(
            args.json,
            {
                "env": env,
                "thread_pools": pools,
                "args": vars(args),
                "results": results,
                "markdown": text,
            },
        )


if __name__ == "__main__":
    main()
