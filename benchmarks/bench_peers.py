"""Benchmark 3 (issue 3): time to pick the next 100 rows, skseals vs peer libraries.

Same data, same classifier, same labeled state, one script run:

- Data: ``make_rare_concepts(n, d, n_concepts=10, prevalence=0.001,
  random_state=seed)`` (via ``benchmarks/_common.make_data``, the data of
  the scaling benchmark), written once to a ``.npy`` file in ``--cache`` and
  read fully into RAM by every process. Concept 0 is the one learned.
- Labeled state: 5 random positives + 95 random negatives, grown to
  ``--labels`` (2,000) rows by MaxEnt-SEALS (skseals, KNNPool k=100 over the
  graph below, batch 100); cached. The last round's logistic regression is
  refitted once, ``LogisticRegression(max_iter=1000)`` on the labeled rows,
  and its ``coef_``/``intercept_`` are written to ``state.npz``: every library
  scores with exactly these coefficients (each side fits the same model on the
  same rows untimed, then the coefficients are overwritten).
- Timed: one call that returns the next ``--batch`` (100) rows, median over
  ``--reps`` calls (fewer when a call takes > 10 s: at least 3). Threads are
  capped at ``--threads`` (threadpoolctl + OMP/OPENBLAS/MKL env vars in every
  process; hnswlib ``num_threads``).

skseals side (this venv): ``ActiveLearner(query_strategy="entropy",
batch_size=100)`` with ``KNNPool(k=100)`` over a prebuilt ``KNNGraph``
(k=100, built once from a faiss IVF index and cached), ``KNNPool(k=100)``
over the faiss IVF index itself, and ``FullScanPool``; each repetition refits
the learner on the labeled state (``fit``, untimed: it seeds the pool) and
times ``query()``. Beside them, the plain numpy scan (X·w, entropy, top-b).

Peers (their own venv, created by this script at ``--peers-venv`` with pip,
run as subprocesses of this file with ``--peer-worker``):

- scikit-activeml ``UncertaintySampling(method="entropy").query(X, y, clf,
  fit_clf=False, batch_size=100)`` (``y`` has NaN for unlabeled rows).
- modAL ``entropy_sampling`` and ``uncertainty_sampling`` called on the fitted
  classifier with the unlabeled rows (the array is built untimed), and
  ``modAL.models.ActiveLearner.query`` (recorded with its error if it fails).
- small-text ``SEALS(PredictionEntropy(), k=100)`` and ``SEALS(LeastConfidence(),
  k=100)`` with small-text's ``SklearnClassifier``/``SklearnDataset`` (plus an
  ``embed`` method returning the rows); its hnswlib index is built once with
  small-text's own ``SEALS.initialize_index`` (build timed apart, 2 threads,
  ``M=16, ef_construction=100, ef=100`` instead of its default 64/200/200,
  which is faster to build and to query) and then every timed call takes the
  per-round path (mark labeled rows deleted, kNN of every labeled row,
  base strategy).

Order: skseals block, peers, skseals block again; skseals figures are the
median of both blocks. Output: ``--cache/peers.json`` and a Markdown report.

Examples
--------
python benchmarks/bench_peers.py --n 1000000 --reps 7 --threads 1
python benchmarks/bench_peers.py --n 100000 --reps 3 --peers modal
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("SKSEALS_PEERS_CACHE", "/tmp/skseals_bench_peers"))
PEER_PACKAGES = ["scikit-activeml", "modAL-python", "small-text", "hnswlib"]
PEERS = ("skactiveml", "modal", "smalltext")
MAX_SECONDS_PER_CONFIG = 60.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", type=int, default=2000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--cache", default=str(CACHE))
    p.add_argument("--peers-venv", default="/tmp/peers-venv")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    p.add_argument("--no-graph", action="store_true", help="skip the KNNGraph")
    p.add_argument(
        "--smalltext-entropy-max-n",
        type=int,
        default=200_000,
        help="skip small-text SEALS(PredictionEntropy) above this n "
        "(it takes minutes per call)",
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="build the data, indexes, labeled state and small-text's "
        "hnswlib index (all cached), time nothing",
    )
    # internal: run one peer inside the peers' venv
    p.add_argument("--peer-worker", choices=PEERS, help=argparse.SUPPRESS)
    p.add_argument("--x-path", help=argparse.SUPPRESS)
    p.add_argument("--state-path", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _thread_env(threads):
    return {
        k: str(threads)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }


def _timed(fn, reps):
    """Seconds of ``reps`` calls of ``fn()``: at least 3 unless a call takes more
    than 20 s (then one), and no new call once 60 s were spent."""
    times, out = [], None
    for i in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if (i >= 2 or times[0] > 20.0) and sum(times) > MAX_SECONDS_PER_CONFIG:
            break
    return times, out


def _entropy2(p1):
    q = 1.0 - p1
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p1 * np.log(p1) + q * np.log(q))
    return np.nan_to_num(h)


# =====================================================================================
# Peer side: runs in the peers' venv (numpy, scikit-learn and the peer only).
# =====================================================================================
def _peer_common(args):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    ctl = threadpool_limits(limits=args.threads)
    X = np.load(args.x_path)  # into RAM, as on the skseals side
    st = np.load(args.state_path)
    rows, labels = st["rows"], st["labels"]
    lr = LogisticRegression(max_iter=1000).fit(X[rows], labels)
    lr.coef_, lr.intercept_ = st["coef"].copy(), st["intercept"].copy()
    ref = st["reference_top"]
    return ctl, X, rows, labels, lr, ref


def _versions(*names):
    from importlib.metadata import version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except Exception:  # noqa: BLE001
            out[name] = "missing"
    return out


def _record(name, times, picked, ref, note=""):
    picked = np.asarray(picked).ravel()
    return {
        "config": name,
        "median_seconds": float(np.median(times)),
        "times": [float(t) for t in times],
        "n_picked": int(picked.size),
        "overlap_with_exact_top": int(np.intersect1d(picked, ref).size),
        "note": note,
    }


def peer_skactiveml(args):
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from sklearn.linear_model import LogisticRegression

    _, X, rows, labels, lr, ref = _peer_common(args)
    y = np.full(X.shape[0], np.nan)
    y[rows] = labels
    clf = SklearnClassifier(LogisticRegression(max_iter=1000), classes=[0, 1])
    clf.fit(X[rows], labels.astype(float))
    clf.estimator_.coef_, clf.estimator_.intercept_ = lr.coef_, lr.intercept_
    out = []
    for method in ("entropy", "least_confident"):
        qs = UncertaintySampling(method=method, random_state=0)
        times, picked = _timed(
            lambda qs=qs: qs.query(X, y, clf=clf, fit_clf=False, batch_size=args.batch),
            args.reps,
        )
        out.append(
            _record(
                f"scikit-activeml UncertaintySampling({method!r}), fit_clf=False",
                times,
                picked,
                ref,
            )
        )
    return out, _versions("scikit-activeml", "scikit-learn", "numpy")


def peer_modal(args):
    from modAL.uncertainty import entropy_sampling, uncertainty_sampling

    _, X, rows, labels, lr, ref = _peer_common(args)
    unl = np.setdiff1d(np.arange(X.shape[0]), rows)
    t0 = time.perf_counter()
    X_unl = X[unl]  # modAL takes the unlabeled rows themselves (untimed)
    copy_s = time.perf_counter() - t0
    out = []
    for fn in (entropy_sampling, uncertainty_sampling):
        times, picked = _timed(
            lambda fn=fn: fn(lr, X_unl, n_instances=args.batch), args.reps
        )
        idx = picked[0] if isinstance(picked, tuple) else picked
        out.append(
            _record(
                f"modAL {fn.__name__}(fitted LR, X_unlabeled)",
                times,
                unl[np.asarray(idx)],
                ref,
                note=f"building X_unlabeled (untimed): {copy_s:.3f} s",
            )
        )
    # The learner object: may fail on recent scikit-learn.
    from modAL.models import ActiveLearner
    from sklearn.linear_model import LogisticRegression

    try:
        learner = ActiveLearner(
            estimator=LogisticRegression(max_iter=1000),
            query_strategy=entropy_sampling,
            X_training=X[rows],
            y_training=labels,
        )
        learner.estimator.coef_ = lr.coef_
        learner.estimator.intercept_ = lr.intercept_
        times, picked = _timed(
            lambda: learner.query(X_unl, n_instances=args.batch), args.reps
        )
        idx = picked[0] if isinstance(picked, tuple) else picked
        out.append(
            _record(
                "modAL ActiveLearner(entropy_sampling).query",
                times,
                unl[np.asarray(idx)],
                ref,
            )
        )
    except Exception as exc:  # noqa: BLE001 - recorded, not hidden
        tb = traceback.format_exc().strip().splitlines()
        out.append(
            {
                "config": "modAL ActiveLearner(entropy_sampling)",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback_tail": tb[-6:],
            }
        )
        return out, _versions("modAL-python", "scikit-learn", "numpy")
    # The next step of the loop: teach() the picked rows their labels.
    idx = unl[np.asarray(idx)]
    try:
        learner.teach(X[idx], np.zeros(idx.size, dtype=labels.dtype))
        out.append({"config": "modAL ActiveLearner.teach", "note": "ran"})
    except Exception as exc:  # noqa: BLE001 - recorded, not hidden
        tb = traceback.format_exc().strip().splitlines()
        out.append(
            {
                "config": "modAL ActiveLearner.teach (the loop's next step)",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback_tail": tb[-5:],
            }
        )
    return out, _versions("modAL-python", "scikit-learn", "numpy")


def peer_smalltext(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize
    from small_text.classifiers import SklearnClassifier
    from small_text.data import SklearnDataset
    from small_text.query_strategies import SEALS, LeastConfidence, PredictionEntropy

    _, X, rows, labels, lr, ref = _peer_common(args)

    class EmbeddingClassifier(SklearnClassifier):
        """small-text's sklearn adapter plus the embed() SEALS needs."""

        def embed(self, data_set, pbar=None, **kwargs):
            return data_set.x

    n = X.shape[0]
    y_all = np.zeros(n, dtype=np.int64)
    y_all[rows] = labels
    dataset = SklearnDataset(X, y_all)
    clf = EmbeddingClassifier(LogisticRegression(max_iter=1000), num_classes=2)
    clf.fit(SklearnDataset(X[rows], labels.astype(np.int64)))
    clf.model.coef_, clf.model.intercept_ = lr.coef_, lr.intercept_
    unl = np.setdiff1d(np.arange(n), rows)
    hnsw_kwargs = {"M": 16, "ef_construction": 100, "ef": 100}
    # Build once with small-text's own code, as its first query() would (cached:
    # the build at 1M takes minutes; its time is kept in a sidecar file).
    import hnswlib

    embeddings = normalize(clf.embed(dataset), axis=1)
    cache = Path(args.x_path).with_name(Path(args.x_path).stem + "_smalltext_hnsw.bin")
    side = cache.with_suffix(".json")
    if cache.exists() and side.exists():
        nn = hnswlib.Index(space="l2", dim=X.shape[1])
        nn.load_index(str(cache), max_elements=n)
        nn.set_ef(hnsw_kwargs["ef"])
        build_s = json.loads(side.read_text())["build_seconds"]
    else:
        t0 = time.perf_counter()
        nn = SEALS.initialize_index(embeddings, unl, hnsw_kwargs)
        build_s = time.perf_counter() - t0
        nn.save_index(str(cache))
        side.write_text(json.dumps({"build_seconds": build_s}))
    if args.prepare_only:
        return [{"config": "small-text hnswlib build", "note": f"{build_s:.1f} s"}], {}
    nn.set_num_threads(args.threads)
    out = []
    for base in (PredictionEntropy(), LeastConfidence()):
        if isinstance(base, PredictionEntropy) and n > args.smalltext_entropy_max_n:
            out.append(
                {
                    "config": f"small-text SEALS(PredictionEntropy(), k={args.k})",
                    "note": f"not run at n = {n:,} (> --smalltext-entropy-max-n): "
                    "PredictionEntropy applies scipy.stats.entropy row by row "
                    "(np.apply_along_axis) to the predictions of ALL n rows, "
                    "not only SEALS's subset; see the smaller-n run",
                }
            )
            continue
        qs = SEALS(base, k=args.k, hnsw_kwargs=hnsw_kwargs)
        qs.nn, qs.embeddings, qs.indices_unlabeled = nn, embeddings, set(unl.tolist())
        times, picked = _timed(
            lambda qs=qs: qs.query(clf, dataset, unl, rows, labels, n=args.batch),
            args.reps,
        )
        out.append(
            _record(
                f"small-text SEALS({type(base).__name__}(), k={args.k})",
                times,
                picked,
                ref,
                note=f"hnswlib index (M=16, efC=100, ef=100) built once "
                f"in {build_s:.1f} s on {args.build_threads} threads",
            )
        )
    return out, _versions("small-text", "hnswlib", "scikit-learn", "numpy")


def peer_worker(args):
    fn = {
        "skactiveml": peer_skactiveml,
        "modal": peer_modal,
        "smalltext": peer_smalltext,
    }[args.peer_worker]
    try:
        results, versions = fn(args)
        payload = {"peer": args.peer_worker, "results": results, "versions": versions}
    except Exception as exc:  # noqa: BLE001
        payload = {
            "peer": args.peer_worker,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc().splitlines()[-8:],
        }
    print("PEER_JSON " + json.dumps(payload))


# =====================================================================================
# skseals side
# =====================================================================================
def ensure_peers_venv(path):
    py = Path(path) / "bin" / "python"
    if py.exists():
        check = subprocess.run(
            [
                str(py),
                "-c",
                "import skactiveml, modAL, small_text, hnswlib, threadpoolctl",
            ],
            capture_output=True,
        )
        if check.returncode == 0:
            return py
    print(f"# creating the peers' venv at {path}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES, "threadpoolctl"],
        check=True,
    )
    return py


def prepare(args):
    """Data file, index, graph, labeled state and reference coefficients."""
    import _common as C
    from sklearn.linear_model import LogisticRegression

    from skseals import ActiveLearner
    from skseals.neighbors import FaissIndex, KNNGraph
    from skseals.pool import KNNPool

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"n{args.n}_d{args.d}_s{args.seed}"
    x_path = cache / f"X_{tag}.npy"
    info = {}
    members_path = cache / f"members_{tag}.npy"
    if not (x_path.exists() and members_path.exists()):
        t0 = time.perf_counter()
        X, members, gen = C.make_data(args.n, args.d, args.seed, memmap_dir=None)
        np.save(x_path, np.asarray(X, dtype=np.float32))
        np.save(members_path, members)
        info["data_seconds"] = time.perf_counter() - t0
        info["generator"] = gen
        del X
    X = np.load(x_path)
    members = np.load(members_path)
    truth = np.zeros(X.shape[0], dtype=np.int64)
    truth[members] = 1
    info["n_positives"] = int(members.size)

    from threadpoolctl import threadpool_limits

    nlist = C.ivf_nlist(args.n)
    index_path = cache / f"ivf_{tag}.faiss"
    t0 = time.perf_counter()
    if index_path.exists():
        index = FaissIndex.load(index_path, X)
        info["index"] = "loaded"
    else:
        with threadpool_limits(limits=args.build_threads):
            index = FaissIndex(f"IVF{nlist},Flat", random_state=args.seed).fit(X)
        index.save(index_path)
        info["index_build_seconds"] = time.perf_counter() - t0
    info["index_repr"] = repr(index)
    graph = None
    if not args.no_graph:
        gpath = cache / f"graph_k{args.k}_{tag}.npy"
        if gpath.exists():
            graph = KNNGraph.load(gpath, mmap_mode=None, index=index)
        else:
            t0 = time.perf_counter()
            # Built with nprobe=16 (the default nprobe, nlist/16, would take an
            # hour at 1M on 2 cores); the graph keeps that copy as its index_.
            with threadpool_limits(limits=args.build_threads):
                graph = KNNGraph(
                    n_neighbors=args.k,
                    index=C.with_params(index, nprobe=16),
                    verbose=False,
                ).fit(X)
            info["graph_build_seconds"] = time.perf_counter() - t0
            graph.save(gpath)
    grow_index = graph if graph is not None else index

    state_path = cache / f"state_{tag}_L{args.labels}.npz"
    if state_path.exists():
        st = dict(np.load(state_path))
    else:
        rng = np.random.default_rng(args.seed)
        y = np.full(X.shape[0], -1)
        y[rng.choice(np.flatnonzero(truth == 0), 95, replace=False)] = 0
        y[rng.choice(members, 5, replace=False)] = 1
        t0 = time.perf_counter()
        lr = ActiveLearner(
            query_strategy="entropy",
            batch_size=args.batch,
            pool=KNNPool(args.k, index=grow_index),
            random_state=args.seed,
        ).fit(X, y)
        while lr.n_labeled_ < args.labels:
            rows = lr.query(min(args.batch, args.labels - lr.n_labeled_))
            if rows.size == 0:
                break
            lr.teach(rows, truth[rows])
        rows = np.flatnonzero(lr.labels_ != -1)
        labels = truth[rows]
        info["grow_seconds"] = time.perf_counter() - t0
        ref_lr = LogisticRegression(max_iter=1000).fit(X[rows], labels)
        # Exact top-b by entropy over the unlabeled rows (for an overlap check).
        p1 = ref_lr.predict_proba(X)[:, 1]
        h = _entropy2(p1)
        h[rows] = -np.inf
        top = np.argsort(-h, kind="stable")[: args.batch]
        st = {
            "rows": rows,
            "labels": labels,
            "coef": ref_lr.coef_,
            "intercept": ref_lr.intercept_,
            "reference_top": top,
        }
        np.savez(state_path, **st)
    info["n_labeled"] = int(st["rows"].size)
    info["n_labeled_positive"] = int(st["labels"].sum())
    return X, x_path, state_path, st, index, graph, info


def skseals_block(args, X, st, index, graph, reps):
    """Time skseals query() for each configuration; fit (untimed) before each."""
    import _common as C
    from sklearn.linear_model import LogisticRegression

    from skseals import ActiveLearner
    from skseals.pool import FullScanPool, KNNPool

    y = np.full(X.shape[0], -1)
    y[st["rows"]] = st["labels"]
    configs = []
    if graph is not None:
        configs.append(
            (
                f"skseals MaxEnt, KNNPool(k={args.k}) over a KNNGraph",
                lambda: KNNPool(args.k, index=graph),
            )
        )
    configs.append(
        (
            f"skseals MaxEnt, KNNPool(k={args.k}) over faiss IVF "
            f"(nprobe={index.nprobe or 'default'})",
            lambda: KNNPool(args.k, index=index),
        )
    )
    fast = C.with_params(index, nprobe=16)
    configs.append(
        (
            f"skseals MaxEnt, KNNPool(k={args.k}) over faiss IVF (nprobe=16)",
            lambda: KNNPool(args.k, index=fast),
        )
    )
    configs.append(("skseals MaxEnt, FullScanPool", FullScanPool))
    out = []
    for name, make_pool in configs:
        times, fit_s, pool_sizes, knn_s, overlap, coef_diff = [], [], [], [], [], []
        for rep in range(reps):
            learner = ActiveLearner(
                estimator=LogisticRegression(max_iter=1000),
                query_strategy="entropy",
                pool=make_pool(),
                batch_size=args.batch,
                random_state=rep,
            )
            t0 = time.perf_counter()
            learner.fit(X, y)
            fit_s.append(time.perf_counter() - t0)
            est = learner.estimator_
            coef_diff.append(float(np.abs(est.coef_ - st["coef"]).max()))
            est.coef_, est.intercept_ = st["coef"].copy(), st["intercept"].copy()
            pool_sizes.append(learner.pool_.size())
            t0 = time.perf_counter()
            picked = learner.query()
            times.append(time.perf_counter() - t0)
            knn_s.append(learner._timing["knn_seconds"])
            overlap.append(int(np.intersect1d(picked, st["reference_top"]).size))
            if rep >= 2 and sum(times) > MAX_SECONDS_PER_CONFIG:
                break
        out.append(
            {
                "config": name,
                "median_seconds": float(np.median(times)),
                "times": times,
                "n_picked": int(picked.size),
                "overlap_with_exact_top": int(np.median(overlap)),
                "pool_size": int(np.median(pool_sizes)),
                "knn_seconds_in_query": float(np.median(knn_s)),
                "fit_seconds": float(np.median(fit_s)),
                "max_coef_diff_before_overwrite": max(coef_diff),
            }
        )
        print(
            f"#   {name}: {1000 * out[-1]['median_seconds']:.1f} ms "
            f"(pool {out[-1]['pool_size']:,})",
            flush=True,
        )
    # The fastest possible full scan: plain numpy X.w, entropy, top-b.
    w = st["coef"].ravel().astype(np.float32)
    b = float(st["intercept"][0])
    excluded = np.zeros(X.shape[0], bool)
    excluded[st["rows"]] = True

    def numpy_scan():
        z = X @ w + b
        p1 = 1.0 / (1.0 + np.exp(-z))
        h = _entropy2(p1)
        h[excluded] = -np.inf
        top = np.argpartition(h, -args.batch)[-args.batch :]
        return top[np.argsort(-h[top])]

    times, picked = _timed(numpy_scan, reps)
    out.append(
        _record(
            "plain numpy scan (X·w, entropy, top-100)",
            times,
            picked,
            st["reference_top"],
        )
    )
    return out


def run_peer(args, py, name, x_path, state_path):
    cmd = [
        str(py),
        str(Path(__file__).resolve()),
        "--peer-worker",
        name,
        "--x-path",
        str(x_path),
        "--state-path",
        str(state_path),
        "--reps",
        str(args.reps),
        "--threads",
        str(args.threads),
        "--batch",
        str(args.batch),
        "--k",
        str(args.k),
        "--build-threads",
        str(args.build_threads),
        "--smalltext-entropy-max-n",
        str(args.smalltext_entropy_max_n),
        *(["--prepare-only"] if args.prepare_only else []),
    ]
    env = dict(os.environ, **_thread_env(args.threads))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    line = next(
        (x for x in proc.stdout.splitlines() if x.startswith("PEER_JSON ")), None
    )
    if line is None:
        return {
            "peer": name,
            "error": f"exit {proc.returncode}",
            "stderr_tail": proc.stderr.splitlines()[-10:],
            "wall_seconds": wall,
        }
    payload = json.loads(line[len("PEER_JSON ") :])
    payload["wall_seconds"] = wall
    return payload


def report(payload):
    lines = []
    w = lines.append
    info = payload["info"]
    w(
        f"Labeled state: {info['n_labeled']:,} rows ({info['n_labeled_positive']} "
        f"positive) of n = {payload['args']['n']:,} × {payload['args']['d']}; "
        f"{info['n_positives']:,} positives in the data."
    )
    w("")
    rows = []
    for block in ("skseals_1", "skseals_2"):
        for r in payload[block]:
            rows.append(dict(r, block=block))
    sk = {}
    for r in rows:
        sk.setdefault(r["config"], []).append(r)
    merged = []
    for rs in sk.values():
        times = [t for r in rs for t in r["times"]]
        m = dict(rs[0])
        m["median_seconds"] = float(np.median(times))
        m["n_reps"] = len(times)
        m["blocks"] = " / ".join(f"{1000 * r['median_seconds']:.1f}" for r in rs)
        merged.append(m)
    peers = []
    errors = []
    for p in payload["peers"]:
        if "error" in p:
            errors.append(
                (p["peer"], p["error"], p.get("traceback") or p.get("stderr_tail"))
            )
            continue
        for r in p["results"]:
            if "error" in r:
                errors.append((r["config"], r["error"], r.get("traceback_tail")))
            elif "median_seconds" not in r:
                errors.append((r["config"], r.get("note", ""), None))
            else:
                peers.append(dict(r, n_reps=len(r["times"]), versions=p["versions"]))
    fastest_peer = min(peers, key=lambda r: r["median_seconds"]) if peers else None
    best_sk = min(
        (m for m in merged if m["config"].startswith("skseals")),
        key=lambda r: r["median_seconds"],
    )
    w(
        "| library / configuration | median ms per pick of 100 | reps "
        "| candidates scored | overlap with exact top-100 | vs fastest peer | note |"
    )
    w("|---|---|---|---|---|---|---|")
    for r in merged + sorted(peers, key=lambda r: r["median_seconds"]):
        ratio = (
            fastest_peer["median_seconds"] / r["median_seconds"]
            if fastest_peer
            else float("nan")
        )
        note = r.get("note", "")
        if "blocks" in r:
            note = f"medians of the two blocks: {r['blocks']} ms"
            if "fit_seconds" in r:
                note += (
                    f"; fit (untimed, seeds the pool): {r['fit_seconds']:.2f} s"
                    f"; kNN in query: {1000 * r['knn_seconds_in_query']:.1f} ms"
                )
        cand = f"{r['pool_size']:,}" if "pool_size" in r else "–"
        w(
            f"| {r['config']} | {1000 * r['median_seconds']:,.1f} | {r['n_reps']} | "
            f"{cand} | {r['overlap_with_exact_top']}/100 | {ratio:.1f}× | {note} |"
        )
    w("")
    if fastest_peer:
        w(
            f"Fastest peer: {fastest_peer['config']} "
            f"({1000 * fastest_peer['median_seconds']:.1f} ms). Best skseals: "
            f"{best_sk['config']} ({1000 * best_sk['median_seconds']:.1f} ms): "
            f"**{fastest_peer['median_seconds'] / best_sk['median_seconds']:.1f}× "
            "faster** "
            "(target ≥ 20×)."
        )
    w("")
    for name, err, tb in errors:
        w(f"- {name}: `{err}`")
        if tb:
            w("  ```")
            for t in tb:
                w(f"  {t}")
            w("  ```")
    vers = {}
    for p in payload["peers"]:
        vers.update(p.get("versions", {}))
    w("")
    w("Peer venv versions: " + ", ".join(f"{k} {v}" for k, v in sorted(vers.items())))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.peer_worker:
        peer_worker(args)
        return
    sys.path.insert(0, str(HERE))
    for k, v in _thread_env(args.threads).items():
        os.environ.setdefault(k, v)
    import _common as C

    ctl, pools = C.limit_threads(args.threads)
    env = C.environment(args.threads, args.build_threads)
    print(C.describe_environment(env, pools), flush=True)
    py = ensure_peers_venv(args.peers_venv) if args.peers else None
    X, x_path, state_path, st, index, graph, info = prepare(args)
    print(f"# prepared: {info}", flush=True)
    if args.prepare_only:
        if "smalltext" in args.peers:
            print(run_peer(args, py, "smalltext", x_path, state_path), flush=True)
        return
    payload = {"env": env, "pools": pools, "args": vars(args), "info": info}
    print("# skseals, block 1", flush=True)
    payload["skseals_1"] = skseals_block(args, X, st, index, graph, args.reps)
    payload["peers"] = []
    for name in args.peers:
        print(f"# peer {name}", flush=True)
        res = run_peer(args, py, name, x_path, state_path)
        payload["peers"].append(res)
        for r in res.get("results", []):
            if "median_seconds" in r:
                print(
                    f"#   {r['config']}: {1000 * r['median_seconds']:.1f} ms",
                    flush=True,
                )
            else:
                print(f"#   {r['config']}: {r.get('error')}", flush=True)
        if "error" in res:
            print(
                f"#   error: {res['error']} "
                f"{res.get('traceback') or res.get('stderr_tail')}",
                flush=True,
            )
    print("# skseals, block 2", flush=True)
    payload["skseals_2"] = skseals_block(args, X, st, index, graph, args.reps)
    out = Path(args.cache) / f"peers_n{args.n}.json"
    C.write_json(out, payload)
    text = report(payload)
    (Path(args.cache) / f"peers_n{args.n}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
