"""Benchmark 2 (issue 3): per-round cost of SEALS vs full scans, as n grows.

For each n, one process builds every neighbour backend once (build cost
reported apart), fits one ActiveLearner per configuration on the same labeled
set, then times ``query()`` (selection, including the within-batch expansion
and its neighbour searches) and ``teach()`` (refit) round by round. The
configurations of one round run back to back (in a rotating order), so they
share the machine's conditions; the tables give medians over rounds.

Beside them, in the same rounds, the fastest plain full scan: numpy
``X @ w + b``, sigmoid, entropy and ``argpartition`` top-b over every row, with
the coefficients of the FullScanPool learner's current model. A SEALS round
must score its |P| candidates, so its speed-up over that scan is bounded by
n/|P|; "of bound" is (plain scan time / round time) / (n / |P|).

Labeled set (``--labeled-set``): "grown" (default) starts from 5 positives and
95 random negatives and runs SEALS rounds (MaxEnt, exact index) with the true
labels until ``--labeled`` rows are labeled, so the pool looks like the pool of
a real run; "random" uses 5 positives and random negatives (the largest pool
for a given |L|: neighbourhoods barely overlap). Every configuration starts
from the same labeled rows.

Examples
--------
python benchmarks/bench_scaling.py --n 100000 1000000 --json scaling.json
python benchmarks/bench_scaling.py --n 1000000 --labeled-set random
python benchmarks/bench_scaling.py --n 10000000 --backends faiss-ivf \\
    --nprobe 16 --ivf-nlist 4096 --grow-index faiss-ivf --strategies entropy \\
    --memmap-dir /tmp/skseals_bench --cache-dir /tmp/skseals_bench
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import time

import _common as C
import numpy as np

SEALS_BACKENDS = ("faiss-default", "faiss-ivf", "hnswlib", "annoy", "graph")
STRATEGY_LABEL = {"entropy": "MaxEnt", "information_density": "ID"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--n",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="numbers of rows (default: 100000 1000000)",
    )
    p.add_argument("--d", type=int, default=128, help="features (default 128)")
    p.add_argument(
        "--labeled",
        type=int,
        default=1900,
        help="labeled rows before the timed rounds (default 1900)",
    )
    p.add_argument(
        "--labeled-set",
        choices=["grown", "random"],
        default="grown",
        help="how the labeled rows are chosen (see the module docstring)",
    )
    p.add_argument("--batch", type=int, default=100, help="b (default 100)")
    p.add_argument("--k", type=int, default=100, help="neighbours k (default 100)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument(
        "--backends",
        nargs="+",
        default=list(SEALS_BACKENDS),
        choices=SEALS_BACKENDS,
        help="KNNPool backends",
    )
    p.add_argument(
        "--strategies",
        nargs="+",
        default=["entropy", "information_density"],
        choices=["entropy", "information_density"],
    )
    p.add_argument(
        "--nprobe",
        type=int,
        nargs="+",
        default=[16, 64],
        help="nprobe values of the faiss-ivf backend, one configuration each "
        "(default 16 64)",
    )
    p.add_argument(
        "--ivf-nlist",
        type=int,
        default=None,
        help="IVF lists of faiss-ivf (default: FaissIndex's round(4 sqrt(n)), "
        "which is also what FaissIndex() picks; trained on 64 rows per list)",
    )
    p.add_argument(
        "--grow-index",
        choices=["exact", "faiss-ivf"],
        default="exact",
        help="index of the learner that grows the labeled set (faiss-ivf: the "
        "faiss-ivf build at nprobe 64; for 10M rows)",
    )
    p.add_argument(
        "--graph-nprobe",
        type=int,
        default=16,
        help="nprobe of the faiss IVF index that fills the KNNGraph (default 16)",
    )
    p.add_argument("--no-fullscan", action="store_true", help="skip FullScanPool")
    p.add_argument(
        "--no-fullscan-id",
        action="store_true",
        help="skip FullScanPool with information density",
    )
    p.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the '+assume_finite' variants (FullScanPool and KNNPool[graph] "
        "MaxEnt under sklearn.config_context(assume_finite=True))",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/hnswlib threads in the timed rounds (default 1)",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=2,
        help="threads for the one-time index builds (default 2)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--memmap-dir",
        default=None,
        help="write X to a memory-mapped .npy file in this folder",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="save built indexes and the grown labeled set here and reuse "
        "them in later runs (build times are those of the first build)",
    )
    p.add_argument(
        "--profile",
        dest="profile",
        action="store_true",
        default=True,
        help="profile one round per chosen configuration at the largest n",
    )
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument(
        "--report",
        default=None,
        metavar="JSON",
        help="print the tables of a run saved with --json, and run nothing",
    )
    p.add_argument("--json", default=None, help="write all results to this file")
    return p.parse_args(argv)


# -- the plain scan -----------------------------------------------------------
def plain_scan(X, w, b, batch, excluded_rows, chunk=1 << 16):
    """Fastest plain full scan: X @ w + b, sigmoid, entropy, top-b (argpartition)."""
    n = X.shape[0]
    ent = np.empty(n, dtype=np.float32)
    eps = np.float32(1e-12)
    for s in range(0, n, chunk):
        z = X[s : s + chunk] @ w
        z += b
        p = np.negative(z, out=z)
        np.exp(p, out=p)
        p += 1
        np.reciprocal(p, out=p)  # sigmoid
        q = 1 - p
        h = ent[s : s + chunk]
        np.multiply(p, np.log(np.maximum(p, eps)), out=h)
        h += q * np.log(np.maximum(q, eps))
        np.negative(h, out=h)
    ent[excluded_rows] = -np.inf
    top = np.argpartition(ent, n - batch)[n - batch :]
    return top[np.argsort(-ent[top], kind="stable")]


# -- labeled set --------------------------------------------------------------
def labeled_set(args, X, truth, members, rng, indexes):
    """Rows labeled before the timed rounds (same for every configuration)."""
    from skseals import ActiveLearner
    from skseals.pool import KNNPool

    n = X.shape[0]
    pos = rng.choice(members, 5, replace=False)
    negatives = np.flatnonzero(truth == 0)
    if args.labeled_set == "random":
        neg = rng.choice(negatives, args.labeled - 5, replace=False)
        return np.concatenate([pos, neg])
    neg = rng.choice(negatives, 95, replace=False)
    cache = None
    if args.cache_dir:
        os.makedirs(args.cache_dir, exist_ok=True)
        cache = os.path.join(
            args.cache_dir,
            f"labeled_grown_n{n}_d{args.d}_s{args.seed}"
            f"_L{args.labeled}_k{args.k}_b{args.batch}"
            + ("" if args.grow_index == "exact" else f"_{args.grow_index}")
            + ".npy",
        )
        if os.path.exists(cache):
            print(f"# loaded the grown labeled set from {cache}")
            return np.load(cache)
    y = np.full(n, -1)
    y[neg], y[pos] = 0, 1
    t0 = time.perf_counter()
    index = "exact"
    if args.grow_index == "faiss-ivf":
        index = C.with_params(indexes["faiss-ivf-nprobe16"], nprobe=64)
    lr = ActiveLearner(
        pool=KNNPool(args.k, index=index),
        batch_size=args.batch,
        random_state=args.seed,
    ).fit(X, y)
    while lr.n_labeled_ < args.labeled:
        rows = lr.query(min(args.batch, args.labeled - lr.n_labeled_))
        if rows.size == 0:
            break
        lr.teach(rows, truth[rows])
    rows = np.flatnonzero(lr.labels_ != -1)
    print(
        f"# grew the labeled set to {rows.size} rows ({int(truth[rows].sum())} "
        f"positive) in {time.perf_counter() - t0:.1f} s (MaxEnt, KNNPool, "
        f"{args.grow_index})"
    )
    if cache:
        np.save(cache, rows)
    return rows


# -- configurations -----------------------------------------------------------
class Config:
    def __init__(self, name, pool_name, backend, strategy, make_pool, context=None):
        self.name, self.pool_name, self.backend = name, pool_name, backend
        self.strategy, self.make_pool = strategy, make_pool
        # Context of each query(): e.g. sklearn.config_context(assume_finite=True).
        self.context = context or contextlib.nullcontext
        self.query_s, self.teach_s, self.pool_sizes = [], [], []
        self.hist = {"selection_seconds": [], "knn_seconds": [], "training_seconds": []}
        self.learner = None
        self.fit_s = None


def build_backends(args, X, n):
    """Fitted indexes by backend name, and their build costs (reported apart)."""
    from skseals.neighbors._faiss_kinds import default_factory

    builds, indexes = [], {}
    bt = args.build_threads
    need = set(args.backends)
    kw = {
        "build_threads": bt,
        "seed": args.seed,
        "cache_dir": args.cache_dir,
        "measure_size": False,
    }

    if need & {"faiss-default", "faiss-ivf", "graph"}:
        ivf, info = C.get_backend("faiss-ivf", X, nlist=args.ivf_nlist, **kw)
        for nprobe in args.nprobe:
            indexes[f"faiss-ivf-nprobe{nprobe}"] = C.with_params(ivf, nprobe=nprobe)
        default_nprobe = C.faiss_default_nprobe(ivf)
        if default_factory(n) == ivf.factory_:
            # FaissIndex() picks this very index at this n: share the build.
            indexes["faiss-default"] = C.with_params(ivf, nprobe=None)
            shared = f"; also FaissIndex() (default factory, nprobe {default_nprobe})"
        else:
            shared = ""
            if "faiss-default" in need:
                idx, dinfo = C.get_backend("faiss-default", X, **kw)
                indexes["faiss-default"] = idx
                builds.append({"backend": f"faiss default ({idx.factory_})", **dinfo})
        builds.append(
            {
                "backend": f"faiss {ivf.factory_} (faiss-ivf, nprobe "
                f"{', '.join(map(str, args.nprobe))}){shared}",
                **info,
            }
        )
    for name in ("hnswlib", "annoy"):
        if name in need:
            idx, info = C.get_backend(name, X, **kw)
            # Searches use the round setting (both also search on their threads).
            if name == "hnswlib":
                idx.num_threads = args.threads
            else:
                idx.n_jobs = args.threads
            indexes[name] = idx
            builds.append({"backend": name, **info})
    if "graph" in need:
        graph, info = C.get_graph(
            C.with_params(ivf, nprobe=args.graph_nprobe),
            X,
            k=args.k,
            source_key=f"faiss-ivf-nprobe{args.graph_nprobe}",
            build_threads=bt,
            cache_dir=args.cache_dir,
            measure_size=False,
        )
        indexes["graph"] = graph
        builds.append(
            {
                "backend": f"KNNGraph (k={args.k}) filled with faiss-ivf "
                f"(nprobe {args.graph_nprobe}); table fill only",
                **info,
            }
        )
    for b in builds:
        print(
            f"# build {b['backend']}: {b['seconds']:.1f} s, RSS +{b['rss_mb']:.0f} MB"
            + (" (cached)" if b.get("cached") else ""),
            flush=True,
        )
    return indexes, builds


def expanded_backends(args):
    """Backend names of the configurations: faiss-ivf once per --nprobe value."""
    out = []
    for b in args.backends:
        if b == "faiss-ivf":
            out += [f"faiss-ivf-nprobe{p}" for p in args.nprobe]
        else:
            out.append(b)
    return out


def make_configs(args, indexes):
    from skseals.pool import FullScanPool, KNNPool

    configs = []
    for strategy in args.strategies:
        label = STRATEGY_LABEL[strategy]
        if not args.no_fullscan and not (
            args.no_fullscan_id and strategy == "information_density"
        ):
            configs.append(
                Config(
                    f"FullScanPool {label}", "FullScanPool", "–", strategy, FullScanPool
                )
            )
        for backend in expanded_backends(args):
            index = indexes[backend]
            configs.append(
                Config(
                    f"KNNPool[{backend}] {label}",
                    "KNNPool",
                    backend,
                    strategy,
                    lambda index=index: KNNPool(n_neighbors=args.k, index=index),
                )
            )
    if not args.no_variants:
        # The same configurations with sklearn's finiteness check of every scored
        # block switched off (X was validated once in fit): measures what that
        # check costs per round, without touching the library.
        import sklearn

        def finite():
            return sklearn.config_context(assume_finite=True)

        for cfg in list(configs):
            if cfg.strategy == "entropy" and cfg.backend in ("–", "graph"):
                configs.append(
                    Config(
                        cfg.name + " +assume_finite",
                        cfg.pool_name,
                        cfg.backend,
                        cfg.strategy,
                        cfg.make_pool,
                        context=finite,
                    )
                )
    return configs


# -- profile ------------------------------------------------------------------
def _sum(stats, pred, field=3):
    """Sum a pstats field over matching functions (3: cumulative, 1: calls)."""
    return sum(v[field] for k, v in stats.stats.items() if pred(k))


def _fn(file_part, *names):
    def pred(key):
        return key[0].replace("\\", "/").endswith(file_part) and key[2] in names

    return pred


def _med_ms(f, repeats=7):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * C.median(times)


def scoring_floors(lr, batch):
    """What scoring the current pool costs, piece by piece (medians, ms).

    gather: ``X[candidates]``; predict_proba: the fitted estimator on the
    gathered rows (one call); plain: numpy X@w, sigmoid, entropy, top-b on a
    contiguous copy (what a pool storing its rows contiguously would pay).
    """
    X, est = lr.X_, lr.estimator_
    cand = np.asarray(lr.pool_.candidates())
    Xc = X[cand]
    w = np.ascontiguousarray(est.coef_.ravel(), dtype=np.float32)
    b0 = np.float32(est.intercept_[0])
    none = np.empty(0, dtype=np.int64)
    return {
        "floor_rows": int(cand.size),
        "floor_gather_ms": _med_ms(lambda: X[cand]),
        "floor_predict_ms": _med_ms(lambda: est.predict_proba(Xc)),
        "floor_plain_contiguous_ms": _med_ms(
            lambda: plain_scan(Xc, w, b0, batch, none)
        ),
    }


def instrumented_split(cfg, truth, repeats=3):
    """Unprofiled split of query() by timing wrappers (medians over rounds, ms).

    Wraps, for the duration of a few rounds, the learner's ``_score``,
    ``_score_block`` and ``_score_all``, the
    pool's searches and table look-ups and the greedy ``select_batch`` with
    timers (about a microsecond each), so the split is not inflated the way
    cProfile inflates many small Python calls.
    """
    import skseals._querying as learner_mod

    lr = cfg.learner
    pool = lr.pool_
    if not all(
        hasattr(o, a) for o, a in [(lr, "_score"), (learner_mod, "select_batch")]
    ):
        return {}
    acc, state = {}, {"in_loop": False}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                dt = time.perf_counter() - t0
                where = "loop" if state["in_loop"] else "outside"
                acc[f"{name}_{where}"] = acc.get(f"{name}_{where}", 0.0) + dt

        return wrapper

    orig_select = learner_mod.select_batch

    def select(*a, **kw):
        state["in_loop"] = True
        t0 = time.perf_counter()
        try:
            return orig_select(*a, **kw)
        finally:
            acc["loop"] = acc.get("loop", 0.0) + time.perf_counter() - t0
            state["in_loop"] = False

    rows_out = []
    learner_mod.select_batch = select
    patched_lr = [a for a in ("_score", "_score_all", "_score_block") if hasattr(lr, a)]
    for a in patched_lr:
        setattr(lr, a, timed("score", getattr(lr, a)))
    searches = ("_search", "_neighbor_table", "_search_and_cache")
    patched_pool = [a for a in searches if hasattr(pool, a)]
    for a in patched_pool:
        setattr(pool, a, timed("_search", getattr(pool, a)))
    try:
        for _ in range(repeats):
            acc.clear()
            with cfg.context():
                t0 = time.perf_counter()
                rows = lr.query()
                total = time.perf_counter() - t0
            lr.teach(rows, truth[rows])
            g = acc.get
            score = g("score_outside", 0.0) + g("score_loop", 0.0)
            search = g("_search_outside", 0.0) + g("_search_loop", 0.0)
            loop_rest = g("loop", 0.0) - g("score_loop", 0.0) - g("_search_loop", 0.0)
            rows_out.append(
                {
                    "total": total,
                    "score": score,
                    "search": search,
                    "loop_rest": loop_rest,
                    "other": total
                    - g("loop", 0.0)
                    - g("score_outside", 0.0)
                    - g("_search_outside", 0.0),
                }
            )
    finally:
        learner_mod.select_batch = orig_select
        for a in patched_lr:
            delattr(lr, a)
        for a in patched_pool:
            delattr(pool, a)
    return {
        f"inst_{k}_ms": 1e3 * C.median([r[k] for r in rows_out]) for k in rows_out[0]
    }


def cold_split(args, st, cfg, repeats=7):
    """What a KNNPool round costs in the rotation's cold state (medians, ms).

    Each measurement follows a plain scan, which evicts the caches as in the
    timed rotation. ``cold_query``: ``query()`` then ``teach()``, as timed;
    ``cold_no_expansion``: ``query()`` with the within-batch expansion
    switched off (the picks are then put back, so the state does not change);
    ``cold_score_block``: scoring the pool's row cache alone (the learner's
    ``_score_block``), which every round must do. The expansion costs the
    difference between the first two.
    """
    lr, pool = cfg.learner, cfg.learner.pool_
    if not getattr(pool, "expands", False):
        return {}
    times = {"cold_query": [], "cold_no_expansion": [], "cold_score_block": []}
    for _ in range(repeats):
        for key in times:
            time_plain(args, st, False)
            gc.collect()
            with cfg.context():
                if key == "cold_score_block":
                    strategy, ctx = lr._round_strategy(), lr._context()
                    _, block, _ = pool.candidate_block()
                    t0 = time.perf_counter()
                    lr._score_block(strategy, block, ctx)
                    times[key].append(time.perf_counter() - t0)
                    continue
                if key == "cold_no_expansion":
                    pool.expands = False  # read by the greedy loop
                t0 = time.perf_counter()
                rows = lr.query()
                times[key].append(time.perf_counter() - t0)
            if key == "cold_no_expansion":
                del pool.expands
                lr.pending_.discard(rows)
                lr.excluded_.discard(rows)
            else:
                lr.teach(rows, st.truth[rows])
    out = {key: 1e3 * C.median(v) for key, v in times.items()}
    out["cold_budget"] = 2e3 * C.median(st.plain_s) * pool.size() / st.n
    return out


def profile_round(cfg, truth, batch):
    """Profile one query() of ``cfg``; split its time into scoring / search / rest.

    scoring: the learner's ``_score``/``_score_block``/``_score_all`` (reading
    the rows, from X or the pool's row cache, and the
    strategy's ``score``, i.e. predict_proba + entropy); neighbour search: the
    pool's searches and graph look-ups (adapter and library); bookkeeping: the
    rest of ``query()`` (pool updates, bitmaps, greedy loop, top-k).
    """
    lr = cfg.learner
    floors = scoring_floors(lr, batch) if cfg.pool_name == "KNNPool" else {}
    floors.update(instrumented_split(cfg, truth))
    prof = cProfile.Profile()
    with cfg.context():
        t0 = time.perf_counter()
        prof.enable()
        rows = lr.query()
        prof.disable()
    wall = time.perf_counter() - t0
    lr.teach(rows, truth[rows])
    st = pstats.Stats(prof)
    total = _sum(st, _fn("skseals/_querying.py", "query"))
    search = _sum(
        st,
        _fn("skseals/pool/_knn.py", "_search", "_neighbor_table", "_search_and_cache"),
    )
    scoring = _sum(
        st, _fn("skseals/_querying.py", "_score", "_score_all", "_score_block")
    )
    model = _sum(
        st, lambda k: "skseals/query/" in k[0].replace("\\", "/") and k[2] == "score"
    )
    n_model = _sum(
        st,
        lambda k: "skseals/query/" in k[0].replace("\\", "/") and k[2] == "score",
        field=1,
    )
    library = _sum(
        st,
        lambda k: (
            k[0] == "~"
            and (
                "faiss" in k[2]
                or any(
                    x in k[2]
                    for x in ("knn_query", "get_nns_by_item", "get_nns_by_vector")
                )
            )
        ),
    )
    n_search = _sum(
        st,
        _fn("skseals/pool/_knn.py", "_search", "_neighbor_table", "_search_and_cache"),
        field=1,
    )
    loop = _sum(st, _fn("skseals/_greedy.py", "select_batch"))
    joins = _sum(st, _fn("skseals/pool/_knn_batch.py", "finish"))
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(14)
    top = "\n".join(
        line
        for line in buf.getvalue().splitlines()
        if line.strip() and not line.startswith(("   Ordered", "   List"))
    )
    return {
        "config": cfg.name,
        "pool_size": int(lr.history_[-2]["pool_size"]),
        "wall_ms_unprofiled_median": 1e3 * C.median(cfg.query_s),
        "profiled_ms": 1e3 * total,
        "wall_profiled_ms": 1e3 * wall,
        "scoring_ms": 1e3 * scoring,
        "scoring_model_ms": 1e3 * model,
        "scoring_gather_ms": 1e3 * (scoring - model),
        "estimator_calls": int(n_model),
        "search_ms": 1e3 * search,
        "search_library_ms": 1e3 * library,
        "search_calls": int(n_search),
        "bookkeeping_ms": 1e3 * (total - scoring - search),
        "greedy_loop_ms": 1e3 * loop,
        "joins_ms": 1e3 * joins,
        "top_functions": top,
        **floors,
    }


# -- set-up, interleaved rounds, summary ------------------------------------
class Setting:
    """Everything measured at one n: data, indexes, learners, the plain scan."""

    def __init__(self, n):
        self.n = n
        self.plain_s = []


def set_up(args, n):
    from skseals import ActiveLearner

    st = Setting(n)
    print(f"\n## n = {n:,}", flush=True)
    t0 = time.perf_counter()
    st.X, members, st.generator = C.make_data(n, args.d, args.seed, args.memmap_dir)
    print(
        f"# data: {st.generator}, {time.perf_counter() - t0:.1f} s, "
        f"{members.size} positives of concept 0",
        flush=True,
    )
    st.truth = np.zeros(n, dtype=np.int64)
    st.truth[members] = 1
    rng = np.random.default_rng(args.seed)
    st.indexes, st.builds = build_backends(args, st.X, n)
    st.seed_rows = labeled_set(args, st.X, st.truth, members, rng, st.indexes)
    y = np.full(n, -1)
    y[st.seed_rows] = st.truth[st.seed_rows]
    st.configs = make_configs(args, st.indexes)
    for cfg in st.configs:
        gc.collect()
        t0 = time.perf_counter()
        cfg.learner = ActiveLearner(
            query_strategy=cfg.strategy,
            pool=cfg.make_pool(),
            batch_size=args.batch,
            random_state=args.seed,
        ).fit(st.X, y)
        cfg.fit_s = time.perf_counter() - t0
        print(
            f"# fit {cfg.name}: {cfg.fit_s:.2f} s, |P| = {cfg.learner.pool_.size():,}",
            flush=True,
        )
    # The plain scan uses the model of the FullScanPool MaxEnt learner (or of
    # the first learner) and masks the same labeled rows.
    st.ref = next(
        (
            c
            for c in st.configs
            if c.pool_name == "FullScanPool" and c.strategy == "entropy"
        ),
        st.configs[0],
    )
    return st


def time_plain(args, st, timed):
    est = st.ref.learner.estimator_
    w = np.ascontiguousarray(est.coef_.ravel(), dtype=np.float32)
    b0 = np.float32(est.intercept_[0])
    taken = np.flatnonzero(st.ref.learner.labels_ != -1)
    t0 = time.perf_counter()
    plain_scan(st.X, w, b0, args.batch, taken)
    if timed:
        st.plain_s.append(time.perf_counter() - t0)


def time_round(st, cfg, timed):
    lr = cfg.learner
    size = lr.pool_.size()
    with cfg.context():
        t0 = time.perf_counter()
        rows = lr.query()
        t1 = time.perf_counter()
    lr.teach(rows, st.truth[rows])
    t2 = time.perf_counter()
    if timed:
        cfg.query_s.append(t1 - t0)
        cfg.teach_s.append(t2 - t1)
        cfg.pool_sizes.append(size)
        h = lr.history_[-1]
        for key in cfg.hist:
            cfg.hist[key].append(h.get(key, float("nan")))


def run_rounds(args, settings):
    """Every round visits every (n, configuration) and plain scan, rotating."""
    jobs = []
    for st in settings:
        jobs.append((st, None))
        jobs += [(st, cfg) for cfg in st.configs]
    for r in range(args.warmup + args.rounds):
        timed = r >= args.warmup
        shift = (r * 5) % len(jobs)
        for st, cfg in jobs[shift:] + jobs[:shift]:
            gc.collect()
            if cfg is None:
                time_plain(args, st, timed)
            else:
                time_round(st, cfg, timed)
        print(
            f"# round {r + 1}/{args.warmup + args.rounds} done"
            + ("" if timed else " (warm-up)"),
            flush=True,
        )


def summarize(args, st):
    n = st.n
    t_plain = C.median(st.plain_s)
    rows_out = [
        {
            "config": "plain numpy scan (X@w, sigmoid, entropy, top-b)",
            "pool": "all rows",
            "backend": "–",
            "strategy": "MaxEnt",
            "query_ms": 1e3 * t_plain,
            "P": n,
            "bound": 1.0,
            "speedup": 1.0,
            "of_bound": 1.0,
            "query_all_ms": [1e3 * x for x in st.plain_s],
        }
    ]
    by_name = {}
    for cfg in st.configs:
        tq = C.median(cfg.query_s)
        P = C.median(cfg.pool_sizes)
        row = {
            "config": cfg.name,
            "pool": cfg.pool_name,
            "backend": cfg.backend,
            "strategy": STRATEGY_LABEL[cfg.strategy],
            "query_ms": 1e3 * tq,
            "teach_ms": 1e3 * C.median(cfg.teach_s),
            "fit_s": cfg.fit_s,
            "P": P,
            "bound": n / P,
            "speedup": t_plain / tq,
            "of_bound": (t_plain / tq) / (n / P),
            "vs_plain": tq / t_plain,
            "knn_ms": 1e3 * C.median(cfg.hist["knn_seconds"]),
            "sel_ms": 1e3 * C.median(cfg.hist["selection_seconds"]),
            "train_ms": 1e3 * C.median(cfg.hist["training_seconds"]),
            "query_all_ms": [1e3 * x for x in cfg.query_s],
        }
        by_name[cfg.name] = row
        rows_out.append(row)
    for row in rows_out[1:]:
        if row["strategy"] == "ID" and "+" not in row["config"]:
            twin = by_name.get(row["config"].replace(" ID", " MaxEnt"))
            if twin:
                row["id_vs_maxent"] = row["query_ms"] / twin["query_ms"]
    return {
        "n": n,
        "d": args.d,
        "generator": st.generator,
        "labeled_start": int(st.seed_rows.size),
        "builds": st.builds,
        "rows": rows_out,
        "profiles": [],
    }


def profile_setting(args, st, result):
    seals = [c for c in st.configs if c.pool_name == "KNNPool" and "+" not in c.name]
    chosen = []
    if seals:
        best = min(seals, key=lambda c: C.median(c.query_s))
        chosen.append(best)
        chosen += [
            c
            for c in seals
            if c.strategy == best.strategy
            and c is not best
            and c.backend.startswith(("faiss-ivf", "faiss-default"))
        ]
    chosen += [
        c
        for c in st.configs
        if c.pool_name == "FullScanPool" and c.strategy == "entropy"
    ]
    for cfg in chosen:
        prof = profile_round(cfg, st.truth, args.batch)
        prof.update(cold_split(args, st, cfg))
        result["profiles"].append(prof)


# -- output -------------------------------------------------------------------
ROUND_COLUMNS = [
    ("config", "configuration", 0),
    ("P", "pool size P", 0),
    ("bound", "n / P", 1),
    ("query_ms", "query ms", 1),
    ("teach_ms", "teach ms", 1),
    ("knn_ms", "of which kNN ms", 1),
    ("speedup", "plain/round", 2),
    ("of_bound", "of bound", 2),
    ("vs_plain", "round/plain", 2),
    ("id_vs_maxent", "ID/MaxEnt", 2),
    ("fit_s", "fit s", 2),
]


def report(args, results, env, pools):
    out = [C.describe_environment(env, pools), ""]
    for res in results:
        n = res["n"]
        out.append(
            f"### n = {n:,}, d = {res['d']}, |L| = {res['labeled_start']:,} "
            f"at the first timed round ({args.labeled_set} labeled set), "
            f"b = {args.batch}, k = {args.k}; medians of {args.rounds} rounds"
        )
        out.append("")
        out.append(C.markdown_table(res["rows"], ROUND_COLUMNS))
        out.append("")
        out.append("One-time builds (not in the per-round times):")
        out.append("")
        out.append(
            C.markdown_table(
                res["builds"],
                [
                    ("backend", "index", 0),
                    ("seconds", "build s", 1),
                    ("rss_mb", "RSS delta MB", 0),
                ],
            )
        )
        out.append("")
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        lo_rows = {r["config"]: r for r in lo["rows"]}
        rows = []
        for r in hi["rows"]:
            base = lo_rows.get(r["config"])
            if base:
                rows.append(
                    {
                        "config": r["config"],
                        "lo": base["query_ms"],
                        "hi": r["query_ms"],
                        "ratio": r["query_ms"] / base["query_ms"],
                        "P_lo": base["P"],
                        "P_hi": r["P"],
                    }
                )
        out.append(f"### Per-round query time, n = {hi['n']:,} vs n = {lo['n']:,}")
        out.append("")
        out.append(
            C.markdown_table(
                rows,
                [
                    ("config", "configuration", 0),
                    ("P_lo", f"P at {lo['n']:,}", 0),
                    ("P_hi", f"P at {hi['n']:,}", 0),
                    ("lo", f"ms at {lo['n']:,}", 1),
                    ("hi", f"ms at {hi['n']:,}", 1),
                    ("ratio", "ratio", 2),
                ],
            )
        )
        out.append("")
    for res in results:
        for p in res["profiles"]:
            out.append(
                f"### Profile of one query() at n = {res['n']:,}: {p['config']} "
                f"(|P| = {p['pool_size']:,})"
            )
            out.append("")
            out.append(
                C.markdown_table(
                    [p],
                    [
                        ("wall_ms_unprofiled_median", "unprofiled median ms", 1),
                        ("profiled_ms", "profiled ms", 1),
                        ("scoring_ms", "scoring", 1),
                        ("scoring_gather_ms", "· reading the rows", 1),
                        ("scoring_model_ms", "· predict_proba+strategy", 1),
                        ("estimator_calls", "· estimator calls", 0),
                        ("search_ms", "neighbour search", 1),
                        ("search_library_ms", "· inside the library", 1),
                        ("search_calls", "· search calls", 0),
                        ("bookkeeping_ms", "bookkeeping", 1),
                    ],
                )
            )
            out.append("")
            if p.get("inst_total_ms"):
                out.append(
                    "Without cProfile (timers around the learner's `_score`/"
                    "`_score_block`/`_score_all`, the "
                    "pool's searches and graph look-ups, and `select_batch`; "
                    "medians of "
                    f"3 further rounds): query {p['inst_total_ms']:.1f} ms = scoring "
                    f"{p['inst_score_ms']:.1f} + neighbour search "
                    f"{p['inst_search_ms']:.1f} + greedy-loop bookkeeping "
                    f"{p['inst_loop_rest_ms']:.1f} + the rest of query() "
                    f"{p['inst_other_ms']:.1f} ms."
                )
                out.append("")
            if p.get("floor_rows"):
                out.append(
                    f"Floors for this pool ({p['floor_rows']:,} candidates, medians "
                    f"of 7, outside the learner): gather `X[candidates]` "
                    f"{p['floor_gather_ms']:.1f} ms; one `predict_proba` on the "
                    f"gathered rows {p['floor_predict_ms']:.1f} ms; plain numpy "
                    f"scan of a contiguous copy {p['floor_plain_contiguous_ms']:.1f} "
                    "ms."
                )
                out.append("")
            if p.get("cold_query"):
                out.append(
                    "Cold, right after the plain scan as in the rotation (medians "
                    f"of 7): query {p['cold_query']:.1f} ms; without the "
                    f"within-batch expansion {p['cold_no_expansion']:.1f} ms; "
                    f"scoring the pool's row cache alone "
                    f"{p['cold_score_block']:.1f} ms. Half the n/P bound is a "
                    f"round of {p['cold_budget']:.1f} ms at this pool size."
                )
                out.append("")
            out.append(
                f"Greedy loop (`select_batch`, includes its scoring and "
                f"searches): {p['greedy_loop_ms']:.1f} ms; applying the round's "
                f"joins (`KNNBatch.finish`): {p.get('joins_ms', 0.0):.1f} ms."
            )
            out.append("")
            out.append("```")
            out.append(p["top_functions"])
            out.append("```")
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
    settings = [set_up(args, n) for n in args.n]
    run_rounds(args, settings)
    results = [summarize(args, st) for st in settings]
    if args.profile:
        profile_setting(args, settings[-1], results[-1])
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
