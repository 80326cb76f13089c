"""One all-rows pass locally and on a 2-worker Dask LocalCluster.

Times the full-scan scoring of an ActiveLearner (``pool="full"``, max
entropy; X a float32 memmap that Dask workers re-open by path) and a
KNNGraph build (exact faiss, k=10) sequentially, with joblib threads and on a
``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``, and checks
that every run returns exactly the sequential result.

    python benchmarks/bench_dask.py --n 1000000 --d 64 --graph-n 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from joblib import parallel_config

from skseals import ActiveLearner
from skseals.neighbors import KNNGraph


def _memmap(n, d, seed, folder):
    path = os.path.join(folder, "X.f32")
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    rng = np.random.default_rng(seed)
    for s in range(0, n, 100_000):
        X[s : s + 100_000] = rng.normal(size=(min(100_000, n - s), d))
    X.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))


def _timed(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--graph-n", type=int, default=20_000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        X = _memmap(args.n, args.d, args.seed, folder)
        y = np.full(args.n, -1)
        y[:10], y[10:200] = 1, 0
        learner = ActiveLearner(pool="full", random_state=0).fit(X, y)
        strategy, ctx = learner._round_strategy(), learner._context()
        Xg = np.ascontiguousarray(X[: args.graph_n])

        def scan():
            return learner._score_all(strategy, ctx)

        def graph():
            return KNNGraph(n_neighbors=10, index="exact", batch_size=8192).fit(Xg)

        passes = {"full-scan scoring": scan, "KNNGraph build": graph}
        ref = {name: _timed(fn, 1)[1] for name, fn in passes.items()}
        configs = {
            "sequential (default)": lambda: parallel_config(),
            "joblib threading, n_jobs=2": lambda: parallel_config(
                backend="threading", n_jobs=2
            ),
        }
        rows = []
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            Client(cluster),
        ):
            configs["dask LocalCluster, 2 workers x 1 thread"] = lambda: (
                parallel_config(backend="dask")
            )
            for cname, cfg in configs.items():
                for pname, fn in passes.items():
                    with cfg():
                        _timed(fn, 1)  # warm-up (Dask: workers import skseals)
                        seconds, out = _timed(fn, args.reps)
                    if pname == "KNNGraph build":
                        same = np.array_equal(
                            out.neighbors_, ref[pname].neighbors_
                        ) and np.array_equal(out.distances_, ref[pname].distances_)
                    else:
                        same = all(
                            np.array_equal(a, b)
                            for a, b in zip(out, ref[pname], strict=True)
                        )
                    rows.append((pname, cname, seconds, same))
                    print(f"{pname:18s} | {cname:40s} | {seconds:7.2f} s | "
                          f"identical: {same}", flush=True)  # fmt: skip
    print()
    print(f"| pass | run | median s ({args.reps} reps) | identical to sequential |")
    print("|---|---|---|---|")
    for pname, cname, seconds, same in rows:
        print(f"| {pname} | {cname} | {seconds:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
