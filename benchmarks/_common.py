"""Helpers shared by the benchmark scripts (not part of the library).

Data, index builds, thread settings, timing, memory and table output. Every
benchmark measures the configurations it compares side by side in one process
and reports medians over repeats; this module only supplies the pieces.
"""

from __future__ import annotations

import copy
import datetime
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# libgomp (faiss's OpenMP) threads spin while waiting by default; on a shared,
# oversubscribed machine that made 2-thread faiss builds 2-3x slower than their
# CPU time. Passive waiting is set before faiss is loaded (override by exporting
# OMP_WAIT_POLICY yourself); it does not change 1-thread searches.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


# -- threads ------------------------------------------------------------------
def limit_threads(threads):
    """Cap BLAS and OpenMP (numpy's OpenBLAS and faiss's libgomp) at ``threads``.

    Returns the threadpoolctl controller (keep it alive) and a description of
    the pools it capped.
    """
    import faiss  # noqa: F401 - load every thread pool before capping them
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_info, threadpool_limits

    ctl = threadpool_limits(limits=threads)
    pools = sorted(
        {f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()}
    )
    return ctl, pools


# -- environment --------------------------------------------------------------
def _git(*args):
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, check=True, timeout=20
        )
        return out.stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(threads, build_threads=None):
    """Date, machine, versions, thread setting and library source state."""
    import faiss
    import numpy
    import scipy
    import sklearn

    import skseals

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "faiss-cpu": getattr(faiss, "__version__", "?"),
        "skseals": skseals.__version__,
    }
    for name in ("hnswlib", "annoy", "threadpoolctl"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # noqa: BLE001 - optional packages
            versions[name] = "missing"
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    diff = _git("diff", "HEAD", "--", "skseals")
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, no GPU",
        "threads": threads,
        "build_threads": build_threads,
        "versions": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD").strip() or "?",
        "skseals_worktree_diff_sha1": (
            hashlib.sha1(diff.encode()).hexdigest()[:10] if diff.strip() else None
        ),
        "command": "python "
        + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def describe_environment(env, pools):
    build = env.get("build_threads")
    lines = [
        f"date: {env['date']}",
        f"machine: {env['machine']}; load average at start "
        f"{env.get('load_average_at_start', '?')}"
        + (
            f", at end {env['load_average_at_end']}"
            if env.get("load_average_at_end")
            else ""
        )
        + " (the machine is shared)",
        (
            f"threads: {env['threads']} in every timed search/round (threadpoolctl "
            f"limits: {', '.join(pools)}; hnswlib num_threads and annoy n_jobs "
            f"{env['threads']}); "
            f"index builds use {build} (threadpoolctl, hnswlib num_threads, "
            "annoy n_jobs)"
            if build
            else f"threads: {env['threads']} (threadpoolctl limits: {', '.join(pools)})"
        ),
        "versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"OMP_WAIT_POLICY={env.get('omp_wait_policy')}",
        f"skseals: commit {env['git_commit']}"
        + (
            " + uncommitted skseals/ changes (diff sha1 "
            f"{env['skseals_worktree_diff_sha1']})"
            if env["skseals_worktree_diff_sha1"]
            else ""
        ),
    ]
    return "\n".join(lines)


# -- data ---------------------------------------------------------------------
def _fallback_data(n, d, seed, out):
    """Clustered unit-norm float32 rows, in chunks (used if skseals.datasets fails)."""
    rng = np.random.default_rng(seed)
    n_clusters = 100
    centers = rng.standard_normal((n_clusters, d)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    concept_center = centers[0] + 0.2 * rng.standard_normal(d).astype(np.float32)
    concept_center /= np.linalg.norm(concept_center)
    members = np.sort(rng.choice(n, max(5, n // 1000), replace=False))
    if out is not None:
        X = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(n, d))
    else:
        X = np.empty((n, d), dtype=np.float32)
    step = 1 << 16
    for s in range(0, n, step):
        e = min(n, s + step)
        crng = np.random.default_rng([seed, s])
        chunk = centers[crng.integers(n_clusters, size=e - s)]
        chunk += crng.standard_normal((e - s, d), dtype=np.float32) / np.sqrt(d)
        lo, hi = np.searchsorted(members, [s, e])
        local = members[lo:hi] - s
        chunk[local] = concept_center + 0.9 * crng.standard_normal(
            (local.size, d), dtype=np.float32
        ) / np.sqrt(d)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        X[s:e] = chunk
    return X, members


def make_data(n, d=128, seed=0, memmap_dir=None):
    """``(X, positives, generator)``: unit-norm float32 rows and one rare concept.

    Uses :func:`skseals.datasets.make_rare_concepts` (10 concepts at 0.1 %
    prevalence; concept 0 is the one searched for) when it is available, else a
    small chunked generator of the same kind. With ``memmap_dir``, X is written
    to a memory-mapped .npy file there (for 10M rows).
    """
    out = None
    if memmap_dir is not None:
        os.makedirs(memmap_dir, exist_ok=True)
        out = os.path.join(memmap_dir, f"X_{n}_{d}_{seed}.npy")
    try:
        from skseals.datasets import make_rare_concepts

        data = make_rare_concepts(
            n, d, n_concepts=10, prevalence=0.001, random_state=seed, out=out
        )
        return (
            data.X,
            np.asarray(data.concepts[0], dtype=np.int64),
            "make_rare_concepts",
        )
    except Exception as exc:  # noqa: BLE001 - the generator is still being finished
        print(
            f"# make_rare_concepts unavailable ({exc!r}); using the fallback generator"
        )
        X, members = _fallback_data(n, d, seed, out)
        return X, members, "benchmarks._common fallback"


# -- index builds -------------------------------------------------------------
def ivf_nlist(n):
    """The number of inverted lists FaissIndex picks by default: round(4 sqrt(n))."""
    return round(4 * math.sqrt(n))


def rss_bytes():
    """Resident set size of this process, from /proc/self/statm."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def saved_size(index):
    """Bytes written by ``index.save`` (all files it writes), or None."""
    if not hasattr(index, "save"):
        return None
    tmp = tempfile.mkdtemp(prefix="skseals_bench_")
    path = os.path.join(tmp, "index")
    try:
        index.save(path)
        return sum(
            os.path.getsize(os.path.join(tmp, f))
            for f in os.listdir(tmp)
            if not f.endswith(".json")
        )
    except Exception:  # noqa: BLE001 - report what can be reported
        return None
    finally:
        for f in os.listdir(tmp):
            try:
                os.unlink(os.path.join(tmp, f))
            except OSError:
                pass
        try:
            os.rmdir(tmp)
        except OSError:
            pass


def timed_build(make, X, threads=None):
    """Fit ``make()`` on X; return ``(index, seconds, rss_delta_bytes)``.

    With ``threads``, BLAS/OpenMP are capped at ``threads`` during the build
    only (the caller's cap applies again afterwards).
    """
    from threadpoolctl import threadpool_limits

    gc.collect()
    before = rss_bytes()
    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        index = make().fit(X)
        seconds = time.perf_counter() - t0
    gc.collect()
    return index, seconds, rss_bytes() - before


def with_params(index, **params):
    """A shallow copy of a fitted index with other search-time parameters.

    The copy shares the built library index (no rebuild), e.g. the same IVF
    index searched with another ``nprobe``. For FaissIndex only: an HNSWIndex
    keeps its deletion marks in the shared hnswlib index and must not be copied.
    """
    alt = copy.copy(index)
    for key, value in params.items():
        setattr(alt, key, value)
    return alt


# -- timing and output --------------------------------------------------------
def median(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(values)) if values else float("nan")


def fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if math.isnan(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def markdown_table(rows, columns):
    """``columns``: list of (key, header, digits) ; rows: list of dicts."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = [
        "| " + " | ".join(fmt(r.get(k), dg) for k, _, dg in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])


def write_json(path, payload):
    def default(o):
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1, default=default)
    print(f"# wrote {path}")


# -- backends -----------------------------------------------------------------
#: Backends of the benchmarks, by name: (description, factory(n, threads, seed)).
def backend_factory(name, n, threads, seed, nlist=None):
    """An unfitted index for backend ``name`` at ``n`` rows.

    ``nlist`` overrides the number of IVF lists (default: FaissIndex's own
    choice, round(4 sqrt(n))); the IVF is then trained on 64 rows per list.
    """
    from skseals.neighbors import AnnoyIndex, ExactIndex, FaissIndex, HNSWIndex

    train = None if nlist is None else min(n, 64 * nlist)
    nlist = ivf_nlist(n) if nlist is None else nlist
    if name == "exact":
        return ExactIndex()
    if name == "faiss-flat":
        return FaissIndex("Flat")
    if name == "faiss-default":
        return FaissIndex(random_state=seed)
    if name == "faiss-ivf":
        return FaissIndex(f"IVF{nlist},Flat", random_state=seed, train_size=train)
    if name == "faiss-hnsw32":
        return FaissIndex("HNSW32", random_state=seed)
    if name == "faiss-ivfpq":
        return FaissIndex(
            f"IVF{nlist},PQ16", random_state=seed
        )  # PQ32 trains ~15x slower in faiss (4-d sub-k-means)
    # hnswlib's num_threads and Annoy's n_jobs are also used by searches: the
    # benchmarks reset them to the timed setting after the build.
    if name == "hnswlib":
        return HNSWIndex(
            M=16, ef_construction=200, ef=100, random_state=seed, num_threads=threads
        )
    if name == "annoy":
        return AnnoyIndex(n_trees=50, random_state=seed, n_jobs=threads)
    raise ValueError(f"unknown backend {name!r}")


# -- build cache --------------------------------------------------------------
def _files_size(path):
    folder, base = os.path.split(path)
    return sum(
        os.path.getsize(os.path.join(folder, f))
        for f in os.listdir(folder)
        if f.startswith(base) and not f.endswith(".json")
    )


def _load(proto, path, X):
    from skseals.neighbors import AnnoyIndex, FaissIndex, HNSWIndex, KNNGraph

    if isinstance(proto, FaissIndex):
        return FaissIndex.load(path, X=X)
    if isinstance(proto, HNSWIndex):
        return HNSWIndex.load(path)
    if isinstance(proto, AnnoyIndex):
        return AnnoyIndex.load(path, mmap=False)
    if isinstance(proto, KNNGraph):
        return KNNGraph.load(path, mmap_mode=None)
    return None


def cached_build(make, X, threads, cache_dir=None, key=None, measure_size=True):
    """Build ``make()`` on X (timed), or load it from ``cache_dir/key``.

    Returns ``(index, info)``; ``info`` has the build seconds, RSS delta and
    saved size measured when the index was first built (``cached`` says whether
    it was loaded now). Indexes that cannot be saved are always built.
    """
    path = os.path.join(cache_dir, key) if cache_dir and key else None
    if path and os.path.exists(path + ".build.json"):
        with open(path + ".build.json", encoding="utf-8") as f:
            info = json.load(f)
        index = _load(make(), path, X)
        if index is not None:
            info["cached"] = True
            print(f"# loaded {key} from the cache (built {info.get('date')})")
            return index, info
    print(f"# building {key or type(make()).__name__} ...", flush=True)
    index, seconds, rss = timed_build(make, X, threads)
    print(f"# built in {seconds:.1f} s", flush=True)
    info = {
        "seconds": seconds,
        "rss_mb": rss / 2**20,
        "size_mb": None,
        "build_threads": threads,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cached": False,
    }
    if path and type(index).__name__ != "ExactIndex":
        os.makedirs(cache_dir, exist_ok=True)
        index.save(path)
        info["size_mb"] = _files_size(path) / 2**20
        with open(path + ".build.json", "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
    elif measure_size:
        size = saved_size(index)
        info["size_mb"] = None if size is None else size / 2**20
    return index, info


def data_tag(X, n_probe_rows=64):
    """Short fingerprint of X (shape + a few rows), to key cached builds."""
    n = X.shape[0]
    rows = np.linspace(0, n - 1, min(n, n_probe_rows)).astype(np.int64)
    h = hashlib.sha1(np.ascontiguousarray(X[rows]).tobytes())
    h.update(repr(X.shape).encode())
    return h.hexdigest()[:10]


def get_backend(
    name, X, *, build_threads, seed, cache_dir=None, measure_size=True, nlist=None
):
    """Build (or load from ``cache_dir``) backend ``name`` over X: (index, info)."""
    n = X.shape[0]
    tag = "" if nlist is None else f"_nlist{nlist}"
    key = f"{name}{tag}_n{n}_d{X.shape[1]}_s{seed}_{data_tag(X)}"
    return cached_build(
        lambda: backend_factory(name, n, build_threads, seed, nlist=nlist),
        X,
        build_threads,
        cache_dir if name != "exact" else None,
        key,
        measure_size=measure_size,
    )


def get_graph(
    source, X, *, k, source_key, build_threads, cache_dir=None, measure_size=True
):
    """A KNNGraph of k neighbours filled by ``source`` (cached by ``source_key``)."""
    from skseals.neighbors import KNNGraph

    n = X.shape[0]
    key = f"graph_k{k}_{source_key}_n{n}_d{X.shape[1]}_{data_tag(X)}"
    return cached_build(
        lambda: KNNGraph(n_neighbors=k, index=source),
        X,
        build_threads,
        cache_dir,
        key,
        measure_size=measure_size,
    )


def faiss_default_nprobe(index):
    """The nprobe a FaissIndex uses when its ``nprobe`` is None (None if not IVF).

    Asked from the library (its private ``_params``) so that the tables follow
    the library's default, whatever it is.
    """
    try:
        alt = with_params(index, nprobe=None)
        return int(alt._params(100, None).nprobe)
    except Exception:  # noqa: BLE001 - not an IVF index, or the API moved
        return None
