"""Issue 6: SEALS at 10 million rows x 128 on one 2-core, 24 GB machine.

Phases (``--phase``; each one's output is cached in ``--dir`` and reused by
the next, so ``--phase run`` can be re-run alone with the cached index and
graph; ``--phase all`` runs whatever is not cached yet, then the run):

data
    ``make_rare_concepts(n, d, n_concepts=10, prevalence=0.001,
    random_state=seed)`` written straight into a memory-mapped ``.npy`` file
    (5.1 GB at 10M x 128); concept membership and the pool/test split go to a
    small ``.meta.npz`` beside it.
index
    An on-disk faiss IVF-PQ index (``build_ondisk_ivf``, default
    ``IVF8192,PQ32``, cosine): k-means and PQ trained on a sample of
    ``--train-size`` rows (default 163,840), rows added
    in shards of ``--shard-size`` (each shard an index file), the shards'
    inverted lists merged into one ``.ivfdata`` file, loaded memory-mapped.
    Wall time of each of these steps and the process's peak memory.
estimate
    Before filling a graph: recall@k of the index against exact search
    (blocked numpy scan of X, cached) for ``--recall-queries`` rows, and its
    search throughput on ``--estimate-queries`` consecutive rows per
    (coarse quantizer, nprobe), extrapolated to the ``n`` searches of a
    KNNGraph build.
graph
    ``KNNGraph(n_neighbors=k)`` filled by searching the on-disk index at
    ``--graph-nprobe`` (``auto``: the best recall whose extrapolated fill
    fits ``--graph-minutes``), its flat coarse quantizer optionally replaced
    in memory by an HNSW over its centroids (``--graph-coarse``); ``k + 1``
    results per row, the row dropped; int32
    neighbours and float32 distances (2 x 4 GB at 10M, k = 100), saved as
    .npy and loaded memory-mapped by the run phase.
run
    MaxEnt-SEALS to ``--budget`` labels on each concept of ``--concepts``:
    5 random positives and 95 random negatives of the pool split,
    ``ActiveLearner(LogisticRegression(max_iter=1000),
    query_strategy="entropy", pool=KNNPool(k, index=graph), batch_size=b)``,
    oracle labels. Per round: query / teach wall time, the learner's kNN and
    selection seconds, pool size, resident memory. At the end: average
    precision on the test split (its rows the learner did not label) and
    recall of the concept's positives. Then, for the first concept, from
    its final labeled set, ``--compare-rounds`` rounds (after one warm-up)
    of three configurations interleaved round by round in a rotating order:
    the SEALS learner, a FullScanPool learner (same estimator and strategy)
    and the plain numpy scan (``X @ w + b``, sigmoid, entropy, top-b in
    65,536-row blocks, labeled rows masked) with the FullScanPool learner's
    coefficients. Finally the first concept once more with KNNPool over the
    on-disk index itself at ``--index-pool-nprobe`` (searches instead of
    look-ups), to show what the graph's approximation costs in AP / recall.

Timed rounds use 1 thread (threadpoolctl: BLAS and OpenMP; faiss
``omp_set_num_threads(1)``; skseals ``config_context(n_threads=1)``); builds
use ``--build-threads`` (2). Memory: a sampler thread reads
``/proc/self/status`` every 0.2 s; "RSS" counts the pages of the memory-mapped
files the process touched (X, the graph, the index), "anon" only the memory
it allocated (what cannot be given back to the page cache).

Examples
--------
python benchmarks/bench_10m.py --phase all --json /tmp/sk10m/run.json
python benchmarks/bench_10m.py --phase run --json /tmp/sk10m/run.json
python benchmarks/bench_10m.py --n 200000 --dir /tmp/sk200k --budget 500
python benchmarks/bench_10m.py --report /tmp/sk10m/run.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import threading
import time

import _common as C
import numpy as np

PHASES = ("data", "index", "estimate", "graph", "run")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--phase",
        choices=[*PHASES, "build", "all"],
        default="all",
        help="what to do: one phase; 'build' = data, index, estimate, graph; "
        "'all' = build then run (cached outputs are reused; default all)",
    )
    p.add_argument("--n", type=int, default=10_000_000, help="rows (default 10M)")
    p.add_argument("--d", type=int, default=128, help="features (default 128)")
    p.add_argument("--seed", type=int, default=0, help="data and run seed")
    p.add_argument(
        "--dir", default="/tmp/sk10m", help="cache folder (default /tmp/sk10m)"
    )
    p.add_argument(
        "--factory",
        default="IVF8192,PQ32",
        help="faiss factory of the on-disk index (default IVF8192,PQ32)",
    )
    p.add_argument(
        "--train-size",
        type=int,
        default=163_840,
        help="rows sampled to train the index (default 163840: 20 per list of "
        "IVF8192; the library's default, 40 per list, doubles the k-means time)",
    )
    p.add_argument(
        "--shard-size", type=int, default=1_000_000, help="rows per added shard"
    )
    p.add_argument("--k", type=int, default=100, help="neighbours k (default 100)")
    p.add_argument(
        "--graph-nprobe",
        default="auto",
        help="nprobe of the index when filling the graph, or 'auto' (default): "
        "the (coarse quantizer, nprobe) of the estimate phase with the best "
        "recall whose extrapolated fill fits --graph-minutes",
    )
    p.add_argument(
        "--graph-minutes",
        type=float,
        default=40.0,
        help="time budget of the graph fill for --graph-nprobe auto (default 40)",
    )
    p.add_argument(
        "--graph-batch", type=int, default=16384, help="rows per graph search call"
    )
    p.add_argument(
        "--graph-coarse",
        choices=["hnsw", "flat"],
        default="hnsw",
        help="coarse quantizer searched when filling the graph: the index's own "
        "flat one, or an HNSW over its centroids (default hnsw; see load_index)",
    )
    p.add_argument(
        "--estimate-nprobe",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="nprobe values measured by the estimate phase (default 1 2 4)",
    )
    p.add_argument(
        "--estimate-queries",
        type=int,
        default=50_000,
        help="rows searched per nprobe to measure throughput (default 50000)",
    )
    p.add_argument(
        "--recall-queries",
        type=int,
        default=500,
        help="rows whose exact neighbours are computed for recall (default 500)",
    )
    p.add_argument("--budget", type=int, default=2000, help="labels (default 2000)")
    p.add_argument(
        "--index-pool-nprobe",
        type=int,
        default=16,
        help="also run the first concept with KNNPool over the on-disk index "
        "searched at this nprobe, no graph (default 16; 0 skips)",
    )
    p.add_argument("--batch", type=int, default=100, help="b (default 100)")
    p.add_argument(
        "--concepts",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="concepts searched, one SEALS run each (default 0 1 2)",
    )
    p.add_argument(
        "--compare-rounds",
        type=int,
        default=3,
        help="timed rounds of SEALS vs FullScanPool vs plain scan (default 3)",
    )
    p.add_argument(
        "--graph-in-ram",
        action="store_true",
        help="run phase: read the graph's neighbour ids (4 GB at 10M, k=100) into "
        "RAM instead of reading them memory-mapped",
    )
    p.add_argument("--threads", type=int, default=1, help="threads in timed rounds")
    p.add_argument(
        "--build-threads", type=int, default=2, help="threads in builds (default 2)"
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="JSON",
        help="print the tables of a run saved with --json, and run nothing",
    )
    p.add_argument("--json", default=None, help="write all results to this file")
    return p.parse_args(argv)


# -- memory -------------------------------------------------------------------
def _status():
    """VmRSS, RssAnon, RssFile and VmHWM of this process, in bytes."""
    out = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


class MemoryPeak:
    """Peak RSS and anonymous memory while the block runs (sampled every 0.2 s)."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.rss = self.anon = 0
        self._stop = threading.Event()

    def _sample(self):
        s = _status()
        self.rss = max(self.rss, s.get("VmRSS", 0))
        self.anon = max(self.anon, s.get("RssAnon", 0))

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def as_dict(self):
        return {"peak_rss_gb": self.rss / 1e9, "peak_anon_gb": self.anon / 1e9}


def _gb(nbytes):
    return nbytes / 1e9


def _files_gb(*paths):
    return _gb(sum(os.path.getsize(p) for p in paths if os.path.exists(p)))


# -- paths and cache ------------------------------------------------------------
def _paths(args):
    base = os.path.join(args.dir, f"X_{args.n}_{args.d}_{args.seed}")
    tag = args.factory.replace(",", "_") + f"_t{args.train_size}"
    index = f"{base}.{tag}.index"
    graph = f"{index}.graph_k{args.k}_np{args.graph_nprobe}_{args.graph_coarse}"
    return {
        "X": base + ".npy",
        "meta": base + ".meta.npz",
        "data_info": base + ".gen.json",
        "index": index,
        "index_info": index + ".build.json",
        "estimate": index + ".estimate.json",
        "graph": f"{graph}.npy",
        "graph_info": f"{graph}.build.json",
    }


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_info(path, info):
    info = {
        **info,
        "date": C.environment(None)["date"],
        "git_commit": C.environment(None)["git_commit"],
    }
    C.write_json(path + ".tmp", info)
    os.replace(path + ".tmp", path)


# -- data -------------------------------------------------------------------------
def phase_data(args, paths):
    info = _read_json(paths["data_info"])
    if info is not None and os.path.exists(paths["X"]):
        print(f"# data: cached {paths['X']}")
        return info
    from skseals.datasets import make_rare_concepts

    os.makedirs(args.dir, exist_ok=True)
    tmp = paths["X"][: -len(".npy")] + ".tmp.npy"
    print(f"# data: generating {args.n:,} x {args.d} into {paths['X']} ...")
    with MemoryPeak() as mem:
        t0 = time.perf_counter()
        data = make_rare_concepts(
            args.n,
            args.d,
            n_concepts=10,
            prevalence=0.001,
            random_state=args.seed,
            out=tmp,
        )
        data.X.flush()
        seconds = time.perf_counter() - t0
    np.savez(
        paths["meta"],
        concept_indptr=data.concept_indptr,
        concept_members=data.concept_members,
        split=data.split,
    )
    del data
    os.replace(tmp, paths["X"])
    info = {"seconds": seconds, "size_gb": _files_gb(paths["X"]), **mem.as_dict()}
    _write_info(paths["data_info"], info)
    print(f"# data: {seconds:.1f} s")
    return info


def load_data(paths):
    X = np.load(paths["X"], mmap_mode="r")
    meta = np.load(paths["meta"])
    indptr, members = meta["concept_indptr"], meta["concept_members"]
    concepts = [members[indptr[c] : indptr[c + 1]] for c in range(indptr.size - 1)]
    return X, concepts, meta["split"]


# -- on-disk index ----------------------------------------------------------------
@contextlib.contextmanager
def _phase_timers(steps):
    """Time the steps of ``build_ondisk_ivf`` by wrapping the functions it calls."""
    import faiss.contrib.ondisk as ondisk

    from skseals.neighbors import _faiss_build as mod

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                steps[name] = steps.get(name, 0.0) + time.perf_counter() - t0
                print(f"# index: {name} {steps[name]:.1f} s", flush=True)

        return wrapper

    saved = [
        (mod, "_trained", "train (sample read, k-means, PQ)"),
        (mod, "_add_shards", "add shards (encode, write)"),
        (ondisk, "merge_ondisk", "merge lists on disk"),
        (mod, "_finish", "load memory-mapped"),
    ]
    originals = [(m, a, getattr(m, a)) for m, a, _ in saved]
    for m, attr, name in saved:
        setattr(m, attr, timed(name, getattr(m, attr)))
    try:
        yield steps
    finally:
        for m, attr, fn in originals:
            setattr(m, attr, fn)


def phase_index(args, paths, X):
    info = _read_json(paths["index_info"])
    if info is not None and os.path.exists(paths["index"]):
        print(f"# index: cached {paths['index']}")
        return info
    from threadpoolctl import threadpool_limits

    from skseals.neighbors import build_ondisk_ivf

    print(f"# index: building {args.factory} on disk ...", flush=True)
    steps = {}
    with (
        MemoryPeak() as mem,
        _phase_timers(steps),
        threadpool_limits(args.build_threads),
    ):
        t0 = time.perf_counter()
        build_ondisk_ivf(
            X,
            paths["index"],
            factory=args.factory,
            metric="cosine",
            train_size=args.train_size,
            shard_size=args.shard_size,
            random_state=args.seed,
        )
        seconds = time.perf_counter() - t0
    info = {
        "factory": args.factory,
        "seconds": seconds,
        "steps": steps,
        "size_gb": _files_gb(paths["index"], paths["index"] + ".ivfdata"),
        "build_threads": args.build_threads,
        "shard_size": args.shard_size,
        **mem.as_dict(),
    }
    _write_info(paths["index_info"], info)
    print(f"# index: built in {seconds:.1f} s", flush=True)
    return info


def load_index(paths, X, nprobe=None, coarse="flat"):
    """The on-disk index, memory-mapped; ``coarse="hnsw"`` swaps its quantizer.

    The IVF's flat coarse quantizer compares every query with all ``nlist``
    centroids (1M multiply-adds per query at IVF8192 x 128, as much as the
    list scans at small nprobe); for the ``n`` searches of a graph fill it is
    replaced in memory by an HNSW graph over the same centroids (M = 32,
    efSearch = max(32, 4 nprobe)), which finds the nprobe nearest lists with
    fewer distance computations. The files on disk are unchanged.
    """
    import faiss

    from skseals.neighbors import OnDiskFaissIndex

    index = OnDiskFaissIndex.load(paths["index"], X=X)
    index.nprobe = nprobe
    if coarse == "hnsw":
        ivf = faiss.extract_index_ivf(index.index_)
        quantizer = faiss.IndexHNSWFlat(ivf.d, 32, ivf.metric_type)
        quantizer.hnsw.efConstruction = 128
        quantizer.add(ivf.quantizer.reconstruct_n(0, ivf.nlist))
        quantizer.hnsw.efSearch = max(32, 4 * (nprobe or 16))
        ivf.quantizer = quantizer
        index._coarse = quantizer  # faiss does not own it: keep it alive
    return index


# -- estimate ---------------------------------------------------------------------
def exact_neighbors(X, rows, k, block=1 << 18):
    """Exact cosine top-k (the row itself dropped) of ``rows``, by a blocked scan."""
    from skseals.neighbors._common import normalize_rows

    Q = normalize_rows(X[np.sort(rows)])
    order = np.argsort(np.argsort(rows))
    Q = Q[order]
    best_s = np.full((len(rows), k + 1), -np.inf, dtype=np.float32)
    best_i = np.full((len(rows), k + 1), -1, dtype=np.int64)
    for s in range(0, X.shape[0], block):
        B = normalize_rows(X[s : s + block])
        S = Q @ B.T
        top = np.argpartition(-S, k, axis=1)[:, : k + 1]
        cand_s = np.concatenate([best_s, np.take_along_axis(S, top, 1)], axis=1)
        cand_i = np.concatenate([best_i, top + s], axis=1)
        keep = np.argpartition(-cand_s, k, axis=1)[:, : k + 1]
        best_s = np.take_along_axis(cand_s, keep, 1)
        best_i = np.take_along_axis(cand_i, keep, 1)
    out = []
    for r, ids, sims in zip(rows, best_i, best_s, strict=True):
        ids = ids[np.argsort(-sims, kind="stable")]
        out.append(ids[ids != r][:k])
    return out


def exact_cached(args, paths, X):
    """Rows sampled for recall and their exact neighbours (cached in ``--dir``)."""
    from threadpoolctl import threadpool_limits

    path = paths["X"][: -len(".npy")] + f".exact_k{args.k}_q{args.recall_queries}.npz"
    if os.path.exists(path):
        saved = np.load(path)
        return saved["rows"], list(saved["neighbors"]), float(saved["seconds"])
    n = X.shape[0]
    rng = np.random.default_rng([args.seed, 1])
    rows = np.sort(rng.choice(n, min(n, args.recall_queries), replace=False))
    t0 = time.perf_counter()
    with threadpool_limits(args.build_threads):
        truth = exact_neighbors(X, rows, args.k)
    seconds = time.perf_counter() - t0
    print(f"# estimate: exact neighbours of {rows.size} rows in {seconds:.0f} s")
    np.savez(path, rows=rows, neighbors=np.asarray(truth), seconds=seconds)
    return rows, truth, seconds


def phase_estimate(args, paths, X):
    info = _read_json(paths["estimate"])
    if info is not None:
        print(f"# estimate: cached {paths['estimate']}")
        return info
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(args.seed)
    n, k = X.shape[0], args.k
    recall_rows, truth, exact_s = exact_cached(args, paths, X)
    start = int(rng.integers(0, max(1, n - args.estimate_queries)))
    block = np.arange(start, min(n, start + args.estimate_queries))
    rows_out = []
    combos = [("hnsw", p) for p in args.estimate_nprobe]
    combos += [("flat", p) for p in args.estimate_nprobe[:2]]
    for coarse, nprobe in combos:
        index = load_index(paths, X, nprobe, coarse)
        with threadpool_limits(args.build_threads):
            _, I = index.search_rows(recall_rows, k + 1)  # noqa: E741
            got = [i[i != r][:k] for r, i in zip(recall_rows, I, strict=True)]
            recall = np.mean(
                [np.isin(g, t).sum() / k for g, t in zip(got, truth, strict=True)]
            )
            t0 = time.perf_counter()
            for s in range(0, block.size, args.graph_batch):
                index.search_rows(block[s : s + args.graph_batch], k + 1)
            seconds = time.perf_counter() - t0
        qps = block.size / seconds
        row = {
            "coarse": coarse,
            "nprobe": nprobe,
            "recall": float(recall),
            "queries": int(block.size),
            "seconds": seconds,
            "qps": qps,
            "graph_minutes": n / qps / 60,
        }
        rows_out.append(row)
        print(
            f"# estimate: {coarse} nprobe {nprobe}: recall@{k} {recall:.3f}, "
            f"{qps:,.0f} "
            f"rows/s -> graph fill ~{row['graph_minutes']:.0f} min",
            flush=True,
        )
    info = {
        "recall_queries": int(recall_rows.size),
        "exact_seconds": exact_s,
        "rows": rows_out,
        "build_threads": args.build_threads,
    }
    _write_info(paths["estimate"], info)
    return info


# -- graph ------------------------------------------------------------------------
def choose_graph_search(args, estimate):
    """Resolve ``--graph-nprobe auto`` from the estimate; return the paths."""
    if args.graph_nprobe == "auto":
        if estimate is None:
            raise SystemExit("--graph-nprobe auto needs the estimate phase first")
        fits = [r for r in estimate["rows"] if r["graph_minutes"] <= args.graph_minutes]
        if not fits:
            fits = [min(estimate["rows"], key=lambda r: r["graph_minutes"])]
        best = max(fits, key=lambda r: (round(r["recall"], 2), -r["graph_minutes"]))
        args.graph_nprobe, args.graph_coarse = best["nprobe"], best["coarse"]
        print(
            f"# graph: chose {best['coarse']} coarse, nprobe {best['nprobe']} "
            f"(recall {best['recall']:.3f}, ~{best['graph_minutes']:.0f} min)"
        )
    args.graph_nprobe = int(args.graph_nprobe)
    return _paths(args)


def phase_graph(args, paths, X):
    info = _read_json(paths["graph_info"])
    if info is not None and os.path.exists(paths["graph"]):
        print(f"# graph: cached {paths['graph']}")
        return info
    from threadpoolctl import threadpool_limits

    from skseals.neighbors import KNNGraph

    index = load_index(paths, X, args.graph_nprobe, args.graph_coarse)
    print(
        f"# graph: k = {args.k}, nprobe {args.graph_nprobe}, {X.shape[0]:,} rows ...",
        flush=True,
    )
    with MemoryPeak() as mem, threadpool_limits(args.build_threads):
        t0 = time.perf_counter()
        graph = KNNGraph(
            n_neighbors=args.k, index=index, batch_size=args.graph_batch, verbose=True
        ).fit(X)
        fill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tmp = paths["graph"][: -len(".npy")] + ".tmp.npy"
        graph.save(tmp)
        for suffix in ("", ".distances.npy", ".json"):
            os.replace(tmp + suffix, paths["graph"] + suffix)
        save_s = time.perf_counter() - t0
    info = {
        "k": args.k,
        "nprobe": args.graph_nprobe,
        "coarse": args.graph_coarse,
        "fill_seconds": fill_s,
        "save_seconds": save_s,
        "missing_entries": int((graph.neighbors_ < 0).sum()),
        "size_gb": _files_gb(paths["graph"], paths["graph"] + ".distances.npy"),
        "build_threads": args.build_threads,
        "batch": args.graph_batch,
        **mem.as_dict(),
    }
    del graph
    gc.collect()
    _write_info(paths["graph_info"], info)
    print(f"# graph: filled in {fill_s:.0f} s, saved in {save_s:.0f} s", flush=True)
    return info


def load_graph(paths, in_ram=False):
    """The saved graph, memory-mapped; ``in_ram`` reads its neighbour ids into RAM.

    A SEALS round looks up a few hundred rows scattered over the 4 GB id table:
    memory-mapped, each is a page fault when the page cache does not hold it.
    The distances (not used by a pool) stay memory-mapped either way.
    """
    from skseals.neighbors import KNNGraph

    graph = KNNGraph.load(paths["graph"], mmap_mode="r")
    if in_ram:
        graph.neighbors_ = np.array(graph.neighbors_)
    return graph


# -- run --------------------------------------------------------------------------
def plain_scan(X, w, b, batch, excluded_rows, chunk=1 << 16):
    """X @ w + b, sigmoid, entropy, top-b (argpartition), as bench_scaling's."""
    from bench_scaling import plain_scan as scan

    return scan(X, w, b, batch, excluded_rows, chunk)


def seed_labels(concept, members, split, n, seed):
    """5 random positives and 95 random negatives of the pool split."""
    rng = np.random.default_rng([seed, concept])
    pos = rng.choice(members[split[members] == 0], 5, replace=False)
    neg = []
    while len(neg) < 95:
        cand = rng.integers(0, n, 200)
        cand = cand[split[cand] == 0]
        cand = cand[~np.isin(cand, members)]
        neg = list(dict.fromkeys([*neg, *cand.tolist()]))
    y = np.full(n, -1, dtype=np.int64)
    y[np.asarray(neg[:95])] = 0
    y[pos] = 1
    return y


def evaluate(learner, X, truth, split, block=1 << 18):
    """AP on the test rows the learner did not label; recall of all positives."""
    from sklearn.metrics import average_precision_score

    labeled = learner.labels_ != -1
    test = np.flatnonzero((split == 1) & ~labeled)
    scores = np.empty(test.size, dtype=np.float64)
    est = learner.estimator_
    for s in range(0, test.size, block):
        scores[s : s + block] = est.decision_function(X[test[s : s + block]])
    return {
        "ap_test": float(average_precision_score(truth[test], scores)),
        "test_rows": int(test.size),
        "test_positives": int(truth[test].sum()),
        "test_rows_labeled": int(((split == 1) & labeled).sum()),
        "labeled": int(labeled.sum()),
        "labeled_positives": int(truth[labeled].sum()),
        "recall": float(truth[labeled].sum() / truth.sum()),
    }


def _timed_context(threads):
    """1 thread everywhere: faiss OpenMP, and the skseals thread budget if any."""
    import faiss

    import skseals

    faiss.omp_set_num_threads(threads)
    ctx = getattr(skseals, "config_context", None)
    return ctx(n_threads=threads) if ctx is not None else contextlib.nullcontext()


def seals_run(args, X, index, concept, members, split, pool_name="KNNGraph"):
    from sklearn.linear_model import LogisticRegression

    from skseals import ActiveLearner
    from skseals.pool import KNNPool

    n = X.shape[0]
    truth = np.zeros(n, dtype=np.int64)
    truth[members] = 1
    y = seed_labels(concept, members, split, n, args.seed)
    lr = ActiveLearner(
        LogisticRegression(max_iter=1000),
        query_strategy="entropy",
        pool=KNNPool(n_neighbors=args.k, index=index),
        batch_size=args.batch,
        random_state=args.seed,
    )
    rounds = []
    with MemoryPeak() as mem:
        t0 = time.perf_counter()
        lr.fit(X, y)
        fit_s = time.perf_counter() - t0
        while lr.n_labeled_ < args.budget:
            size = lr.pool_.size()
            t0 = time.perf_counter()
            picks = lr.query(min(args.batch, args.budget - lr.n_labeled_))
            t1 = time.perf_counter()
            lr.teach(picks, truth[picks])
            t2 = time.perf_counter()
            h = lr.history_[-1]
            st = _status()
            rounds.append(
                {
                    "round": len(rounds) + 1,
                    "labeled": int(lr.n_labeled_),
                    "positives": int(truth[lr.labels_ != -1].sum()),
                    "pool_size": int(size),
                    "query_ms": 1e3 * (t1 - t0),
                    "knn_ms": 1e3 * h.get("knn_seconds", float("nan")),
                    "selection_ms": 1e3 * h.get("selection_seconds", float("nan")),
                    "teach_ms": 1e3 * (t2 - t1),
                    "rss_gb": _gb(st.get("VmRSS", 0)),
                    "anon_gb": _gb(st.get("RssAnon", 0)),
                }
            )
            r = rounds[-1]
            print(
                f"# concept {concept} round {r['round']}: |L| {r['labeled']}, "
                f"{r['positives']} pos, |P| {r['pool_size']:,}, query "
                f"{r['query_ms']:.0f} ms (kNN {r['knn_ms']:.0f}), teach "
                f"{r['teach_ms']:.0f} ms, RSS {r['rss_gb']:.2f} GB",
                flush=True,
            )
            if picks.size == 0:
                break
    result = {
        "concept": concept,
        "pool": pool_name,
        "positives_total": int(members.size),
        "fit_s": fit_s,
        "rounds": rounds,
        **mem.as_dict(),
    }
    result.update(evaluate(lr, X, truth, split))
    print(
        f"# concept {concept}: AP {result['ap_test']:.3f}, recall "
        f"{result['recall']:.3f} ({result['labeled_positives']} of "
        f"{members.size}), peak RSS {result['peak_rss_gb']:.2f} GB, anon "
        f"{result['peak_anon_gb']:.2f} GB",
        flush=True,
    )
    return result, lr, truth


def compare(args, X, seals, truth):
    """SEALS vs FullScanPool vs plain scan from the same labeled set, interleaved."""
    from sklearn.base import clone

    from skseals import ActiveLearner
    from skseals.pool import FullScanPool

    y = np.where(seals.labels_ != -1, seals.labels_, -1)
    full = ActiveLearner(
        clone(seals.estimator),
        query_strategy="entropy",
        pool=FullScanPool(),
        batch_size=args.batch,
        random_state=args.seed,
    )
    t0 = time.perf_counter()
    full.fit(X, y)
    fit_s = time.perf_counter() - t0
    times = {"SEALS": [], "FullScanPool": [], "plain": []}
    extra = {"SEALS": [], "FullScanPool": []}

    def learner_round(name, lr, timed):
        size = lr.pool_.size()
        t0 = time.perf_counter()
        picks = lr.query()
        t1 = time.perf_counter()
        lr.teach(picks, truth[picks])
        t2 = time.perf_counter()
        if timed:
            h = lr.history_[-1]
            times[name].append(t1 - t0)
            extra[name].append(
                {
                    "pool_size": int(size),
                    "teach_ms": 1e3 * (t2 - t1),
                    "knn_ms": 1e3 * h.get("knn_seconds", float("nan")),
                }
            )

    def plain_round(timed):
        est = full.estimator_
        w = np.ascontiguousarray(est.coef_.ravel(), dtype=np.float32)
        b = np.float32(est.intercept_[0])
        taken = np.flatnonzero(full.labels_ != -1)
        t0 = time.perf_counter()
        plain_scan(X, w, b, args.batch, taken)
        if timed:
            times["plain"].append(time.perf_counter() - t0)

    jobs = [
        ("SEALS", lambda t: learner_round("SEALS", seals, t)),
        ("FullScanPool", lambda t: learner_round("FullScanPool", full, t)),
        ("plain", plain_round),
    ]
    with MemoryPeak() as mem:
        for r in range(1 + args.compare_rounds):
            shift = r % len(jobs)
            for _, job in jobs[shift:] + jobs[:shift]:
                gc.collect()
                job(r >= 1)
            print(
                f"# compare round {r + 1}/{1 + args.compare_rounds}"
                + (" (warm-up)" if r == 0 else "")
                + ": "
                + ", ".join(f"{k} {1e3 * v[-1]:.0f} ms" for k, v in times.items() if v),
                flush=True,
            )
    rows = []
    t_plain = C.median(times["plain"])
    for name in ("plain", "SEALS", "FullScanPool"):
        tq = C.median(times[name])
        ex = extra.get(name, [])
        rows.append(
            {
                "config": {
                    "plain": "plain numpy scan (X@w, sigmoid, entropy, top-b)",
                    "SEALS": "KNNPool[KNNGraph] MaxEnt (SEALS)",
                    "FullScanPool": "FullScanPool MaxEnt",
                }[name],
                "P": C.median([e["pool_size"] for e in ex]) if ex else X.shape[0],
                "query_ms": 1e3 * tq,
                "query_all_ms": [1e3 * t for t in times[name]],
                "teach_ms": C.median([e["teach_ms"] for e in ex]) if ex else None,
                "knn_ms": C.median([e["knn_ms"] for e in ex]) if ex else None,
                "vs_plain": tq / t_plain,
                "speedup": t_plain / tq,
            }
        )
    return {
        "labeled_start": int((y != -1).sum()),
        "fullscan_fit_s": fit_s,
        "rows": rows,
        **mem.as_dict(),
    }


def phase_run(args, paths, X, concepts, split):
    graph = load_graph(paths, in_ram=args.graph_in_ram)
    ctl, pools = C.limit_threads(args.threads)
    results, comparison = [], None
    with _timed_context(args.threads):
        for i, c in enumerate(args.concepts):
            gc.collect()
            res, lr, truth = seals_run(args, X, graph, c, concepts[c], split)
            results.append(res)
            if i == 0:
                comparison = compare(args, X, lr, truth)
            del lr
        if args.index_pool_nprobe:
            # The same first concept with neighbours searched in the on-disk
            # index at a larger nprobe instead of looked up in the graph.
            c, nprobe = args.concepts[0], args.index_pool_nprobe
            index = load_index(paths, X, nprobe)
            name = f"OnDiskFaissIndex nprobe {nprobe}"
            res, lr, _ = seals_run(args, X, index, c, concepts[c], split, name)
            res["index_recall"] = index_recall(args, paths, X, index)
            results.append(res)
            del lr, index
    return {"pools": pools, "concepts": results, "compare": comparison}


def index_recall(args, paths, X, index):
    """recall@k of ``index`` on the rows of the estimate phase (1 thread)."""
    rows, truth, _ = exact_cached(args, paths, X)
    _, I = index.search_rows(rows, args.k + 1)  # noqa: E741
    got = [i[i != r][: args.k] for r, i in zip(rows, I, strict=True)]
    return float(
        np.mean([np.isin(g, t).sum() / args.k for g, t in zip(got, truth, strict=True)])
    )


# -- report -----------------------------------------------------------------------
def report(args, out):
    env, b = out["env"], out["builds"]
    lines = [C.describe_environment(env, out.get("run", {}).get("pools", ["?"])), ""]
    lines.append(f"command: `{env['command']}`")
    lines.append("")
    rows = []
    if b.get("data"):
        rows.append(
            {
                "what": "data: make_rare_concepts -> memmap "
                f"({b['data']['size_gb']:.1f} GB)",
                "s": b["data"]["seconds"],
                "rss": b["data"].get("peak_rss_gb"),
                "anon": b["data"].get("peak_anon_gb"),
            }
        )
    if b.get("index"):
        ix = b["index"]
        for name, s in ix["steps"].items():
            rows.append({"what": f"index {ix['factory']}: {name}", "s": s})
        rows.append(
            {
                "what": f"index {ix['factory']}: total ({ix['size_gb']:.2f} GB on "
                f"disk, {ix['build_threads']} threads)",
                "s": ix["seconds"],
                "rss": ix.get("peak_rss_gb"),
                "anon": ix.get("peak_anon_gb"),
            }
        )
    if b.get("graph"):
        g = b["graph"]
        rows.append(
            {
                "what": f"KNNGraph k = {g['k']} fill ({g.get('coarse', 'flat')} "
                f"coarse, nprobe {g['nprobe']}, {g['build_threads']} threads)",
                "s": g["fill_seconds"],
                "rss": g.get("peak_rss_gb"),
                "anon": g.get("peak_anon_gb"),
            }
        )
        rows.append(
            {
                "what": f"KNNGraph save ({g['size_gb']:.1f} GB: int32 ids + float32 "
                "distances)",
                "s": g["save_seconds"],
            }
        )
    lines.append("Builds (one-time; each cached on disk):")
    lines.append("")
    lines.append(
        C.markdown_table(
            rows,
            [
                ("what", "step", 0),
                ("s", "wall s", 1),
                ("rss", "peak RSS GB", 2),
                ("anon", "peak anon GB", 2),
            ],
        )
    )
    lines.append("")
    if b.get("estimate"):
        e = b["estimate"]
        lines.append(
            f"Index recall and throughput ({e['recall_queries']} rows vs exact for "
            f"recall; {e['rows'][0]['queries']:,} rows for throughput, "
            f"{e['build_threads']} threads):"
        )
        lines.append("")
        lines.append(
            C.markdown_table(
                e["rows"],
                [
                    ("coarse", "coarse quantizer", 0),
                    ("nprobe", "nprobe", 0),
                    ("recall", f"recall@{args.k}", 3),
                    ("qps", "rows/s", 0),
                    ("graph_minutes", "graph fill, extrapolated min", 0),
                ],
            )
        )
        lines.append("")
    run = out.get("run")
    if not run:
        return "\n".join(lines)
    summary = []
    for res in run["concepts"]:
        rs = res["rounds"]
        summary.append(
            {
                "concept": res["concept"],
                "pool": res.get("pool", "KNNGraph")
                + (
                    f" (recall@{args.k} {res['index_recall']:.2f})"
                    if "index_recall" in res
                    else ""
                ),
                "rounds": len(rs),
                "labeled": res["labeled"],
                "pos": f"{res['labeled_positives']} / {res['positives_total']}",
                "recall": res["recall"],
                "ap": res["ap_test"],
                "P_end": rs[-1]["pool_size"] if rs else None,
                "q_med": C.median([r["query_ms"] for r in rs]),
                "q_max": max((r["query_ms"] for r in rs), default=None),
                "knn_med": C.median([r["knn_ms"] for r in rs]),
                "t_med": C.median([r["teach_ms"] for r in rs]),
                "total": sum(r["query_ms"] + r["teach_ms"] for r in rs) / 1e3,
                "rss": res["peak_rss_gb"],
                "anon": res["peak_anon_gb"],
            }
        )
    lines.append(
        f"MaxEnt-SEALS to {args.budget} labels (b = {args.batch}, k = {args.k}, "
        "KNNPool over the KNNGraph unless said otherwise; 1 thread):"
    )
    lines.append("")
    lines.append(
        C.markdown_table(
            summary,
            [
                ("concept", "concept", 0),
                ("pool", "KNNPool index", 0),
                ("rounds", "rounds", 0),
                ("labeled", "labels", 0),
                ("pos", "positives found", 0),
                ("recall", "recall", 3),
                ("ap", "test AP", 3),
                ("P_end", "pool at last round", 0),
                ("q_med", "query ms (median)", 0),
                ("q_max", "query ms (max)", 0),
                ("knn_med", "of which kNN ms", 1),
                ("t_med", "teach ms (median)", 0),
                ("total", "all rounds s", 1),
                ("rss", "peak RSS GB", 2),
                ("anon", "peak anon GB", 2),
            ],
        )
    )
    lines.append("")
    first = run["concepts"][0]
    lines.append(f"Rounds of concept {first['concept']}:")
    lines.append("")
    lines.append(
        C.markdown_table(
            first["rounds"],
            [
                ("round", "round", 0),
                ("labeled", "labels after", 0),
                ("positives", "positives", 0),
                ("pool_size", "pool size", 0),
                ("query_ms", "query ms", 0),
                ("knn_ms", "kNN ms", 1),
                ("teach_ms", "teach ms", 0),
                ("rss_gb", "RSS GB", 2),
                ("anon_gb", "anon GB", 2),
            ],
        )
    )
    lines.append("")
    cmp_ = run.get("compare")
    if cmp_:
        lines.append(
            f"Per round from the same {cmp_['labeled_start']:,} labels, interleaved "
            f"(medians of {args.compare_rounds} rounds after 1 warm-up; 1 thread):"
        )
        lines.append("")
        lines.append(
            C.markdown_table(
                cmp_["rows"],
                [
                    ("config", "configuration", 0),
                    ("P", "pool size", 0),
                    ("query_ms", "query ms", 0),
                    ("knn_ms", "of which kNN ms", 1),
                    ("teach_ms", "teach ms", 0),
                    ("vs_plain", "round / plain scan", 2),
                    ("speedup", "plain scan / round", 1),
                ],
            )
        )
        lines.append("")
        lines.append(
            f"Peak during the comparison: RSS {cmp_['peak_rss_gb']:.2f} GB, anon "
            f"{cmp_['peak_anon_gb']:.2f} GB."
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        with open(args.report, encoding="utf-8") as f:
            saved = json.load(f)
        saved_args = argparse.Namespace(**{**vars(args), **saved["args"]})
        print(report(saved_args, saved))
        return
    paths = _paths(args)
    env = C.environment(args.threads, args.build_threads)
    todo = {
        "all": PHASES,
        "build": PHASES[:-1],
    }.get(args.phase, (args.phase,))
    builds = {}
    builds["data"] = phase_data(args, paths)
    X, concepts, split = load_data(paths)
    if {"index", "estimate", "graph", "run"} & set(todo):
        builds["index"] = phase_index(args, paths, X)
    if "estimate" in todo:
        builds["estimate"] = phase_estimate(args, paths, X)
    else:
        builds["estimate"] = _read_json(paths["estimate"])
    if {"graph", "run"} & set(todo):
        paths = choose_graph_search(args, builds["estimate"])
        builds["graph"] = phase_graph(args, paths, X)
    out = {"env": env, "args": vars(args), "builds": builds}
    if "run" in todo:
        out["run"] = phase_run(args, paths, X, concepts, split)
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    env["peak_rss_process_gb"] = _gb(hwm)
    env["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    text = report(args, out)
    print("\n" + text)
    if args.json:
        C.write_json(args.json, out)


if __name__ == "__main__":
    main()
