"""Per-row memory of a labeling session beyond X and the neighbour index.

Counts every numpy array a fitted learner holds (labels, bitmaps, pool lists,
neighbour-list cache, density sums...), except X itself and the index, after
fit and after each round, and divides by n_samples. Also reports the peak of
transient allocations during one query()+teach() (tracemalloc).

    python benchmarks/bench_memory.py --n 10000000 --rounds 19 --out /tmp/mem.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from skseals import ActiveSearcher
from skseals.base import BaseNeighborIndex
from skseals.datasets import make_rare_concepts
from skseals.neighbors import FaissIndex
from skseals.pool import FullScanPool, KNNPool


def state_bytes(obj, skip, seen=None):
    """Bytes of numpy arrays reachable from ``obj``, skipping ``skip`` ids."""
    seen = set() if seen is None else seen
    if id(obj) in seen or id(obj) in skip:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        if id(base) in skip or isinstance(base, np.memmap):
            return 0
        return obj.nbytes if obj.base is None else 0
    if isinstance(obj, BaseNeighborIndex):
        return 0
    if isinstance(obj, dict):
        return sum(state_bytes(v, skip, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(state_bytes(v, skip, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return state_bytes(vars(obj), skip, seen)
    return 0


def run(name, learner, X, y, y_true, rounds):
    t0 = time.perf_counter()
    learner.fit(X, y)
    fit_s = time.perf_counter() - t0
    skip = {id(X), id(learner.X_)}
    per_row = [state_bytes(learner, skip) / X.shape[0]]
    peaks, times = [], []
    for _ in range(rounds):
        tracemalloc.start()
        t0 = time.perf_counter()
        rows = learner.query()
        learner.teach(rows, y_true[rows])
        times.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        per_row.append(state_bytes(learner, skip) / X.shape[0])
    return {
        "config": name,
        "n_samples": int(X.shape[0]),
        "fit_seconds": round(fit_s, 2),
        "n_labeled": int(learner.n_labeled_),
        "pool_size": int(learner.history_[-1]["pool_size"]),
        "state_bytes_per_row_after_fit": round(per_row[0], 3),
        "state_bytes_per_row_max": round(max(per_row), 3),
        "round_seconds_median": round(float(np.median(times)), 3),
        "transient_peak_mb_max": round(max(peaks) / 2**20, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=19)
    parser.add_argument(
        "--index-dims",
        type=int,
        default=16,
        help="the KNNPool's index is built on the first D columns "
        "(separate index features keep the build short)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="skseals-mem-")
    t0 = time.perf_counter()
    data = make_rare_concepts(
        args.n,
        args.d,
        n_concepts=1,
        prevalence=0.001,
        out=os.path.join(tmp, "X.npy"),
        random_state=0,
    )
    X = data.X
    print(f"generated {X.shape} in {time.perf_counter() - t0:.0f} s", flush=True)
    members = data.concepts[0]
    y_true = np.zeros(args.n, dtype=np.int8)
    y_true[members] = 1
    rng = np.random.RandomState(0)
    y = np.full(args.n, -1, dtype=np.int8)
    y[rng.choice(members, 5, replace=False)] = 1
    y[rng.choice(np.flatnonzero(y_true == 0), 95, replace=False)] = 0
    results = []
    with threadpool_limits(limits=2):
        t0 = time.perf_counter()
        small = np.ascontiguousarray(X[:, : args.index_dims])
        index = FaissIndex(factory="IVF1024,Flat", nprobe=16, random_state=0).fit(small)
        build = time.perf_counter() - t0
        print(f"index on {small.shape} built in {build:.0f} s", flush=True)
        del small
        configs = {
            "KNNPool(k=100)": ActiveSearcher(
                pool=KNNPool(100, index=index), query_strategy="entropy", random_state=0
            ),
            "FullScanPool": ActiveSearcher(
                pool=FullScanPool(), query_strategy="entropy", random_state=0
            ),
        }
        for name, learner in configs.items():
            rounds = args.rounds if name.startswith("KNN") else min(args.rounds, 3)
            res = run(name, learner, X, y, y_true, rounds)
            res["index_build_seconds"] = round(build, 1) if "KNN" in name else 0.0
            results.append(res)
            print(json.dumps(res), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
