"""Same-process A/B of ``query()``: this tree's skseals against a git revision.

A change to a SEALS round that saves a few percent of a ~5 ms round cannot be
seen by comparing two runs of ``bench_scaling.py`` on a shared machine, whose
run-to-run spread is 20-40 %. This script fits both versions on the same data
and labeled set (bench_scaling's set-up, one backend, MaxEnt, cached indexes)
and times their rounds alternately in one process, each right after a plain
scan (caches evicted, as in bench_scaling's rotation), the order swapped every
round. Both learners are taught the same labels, so their picks must agree in
every round (checked): the two time the same computation.

The paired differences come with a distribution-free 95 % interval of their
median and a sign test. Run against ``HEAD`` with a clean tree (the same code
twice) to see what the machine resolves: two runs of 40 rounds on the shared
2-core machine differed by 0.3 ms in their medians.

The revision's ``skseals/`` is extracted with ``git archive`` and imported as
``skseals_ab_old`` (the package imports itself relatively). Both learners
share one index object; hnswlib is left out because it mirrors each learner's
exclusions into the shared index as deletion marks.

Examples
--------
python benchmarks/bench_ab.py --old HEAD --rounds 30 --cache-dir /tmp/sk/cache
python benchmarks/bench_ab.py --old HEAD~2 --n 100000 --backend faiss-ivf
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time

import bench_scaling as B
import numpy as np

OLD_NAME = "skseals_ab_old"
BACKENDS = [b for b in B.SEALS_BACKENDS if b != "hnswlib"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--old", default="HEAD", help="git revision to compare against")
    p.add_argument("--n", type=int, default=1_000_000, help="rows (default 1M)")
    p.add_argument("--rounds", type=int, default=30, help="rounds of each (default 30)")
    p.add_argument(
        "--backend", default="graph", choices=BACKENDS, help="index (default graph)"
    )
    p.add_argument("--cache-dir", default=None, help="bench_scaling's index cache")
    p.add_argument("--seed", type=int, default=0, help="data and run seed")
    return p.parse_args(argv)


def import_revision(rev, where):
    """Extract ``skseals/`` at ``rev`` into ``where`` and import it as OLD_NAME."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tar = subprocess.run(
        ["git", "-C", repo, "archive", rev, "skseals"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        try:
            t.extractall(where, filter="data")
        except TypeError:  # Python < 3.10.12 has no extraction filters
            t.extractall(where)
    os.rename(os.path.join(where, "skseals"), os.path.join(where, OLD_NAME))
    sys.path.insert(0, where)
    return importlib.import_module(OLD_NAME)


def old_twin(old, new_learner, X, y, seed):
    """The revision's learner with the same parameters and the same index object."""
    pool = new_learner.pool_
    index = pool.index
    index_cls = getattr(
        importlib.import_module(f"{OLD_NAME}.neighbors"), type(index).__name__
    )
    old_index = index_cls.__new__(index_cls)
    old_index.__dict__.update(index.__dict__)
    pool_cls = getattr(importlib.import_module(f"{OLD_NAME}.pool"), type(pool).__name__)
    accepted = inspect.signature(pool_cls).parameters  # params added since drop
    params = {k: v for k, v in pool.get_params(deep=False).items() if k in accepted}
    params["index"] = old_index
    learner = old.ActiveLearner(
        query_strategy=new_learner.query_strategy,
        pool=pool_cls(**params),
        batch_size=new_learner.batch_size,
        random_state=seed,
    )
    return learner.fit(X, y)


def main(argv=None):
    args = parse_args(argv)
    from threadpoolctl import threadpool_limits

    bargs = ["--n", str(args.n), "--backends", args.backend, "--strategies", "entropy"]
    bargs += ["--no-fullscan", "--no-variants", "--seed", str(args.seed)]
    if args.cache_dir:
        bargs += ["--cache-dir", args.cache_dir]
    bench = B.parse_args(bargs)
    with tempfile.TemporaryDirectory() as where:
        old_pkg = import_revision(args.old, where)
        st = B.set_up(bench, args.n)
        new = st.configs[0].learner
        y = np.full(args.n, -1)
        y[st.seed_rows] = st.truth[st.seed_rows]
        old = old_twin(old_pkg, new, st.X, y, args.seed)
        threadpool_limits(1)
        times = {"old": [], "new": [], "plain": []}
        for r in range(args.rounds):
            pair = [("old", old), ("new", new)]
            picks = {}
            for name, learner in pair if r % 2 == 0 else pair[::-1]:
                t0 = time.perf_counter()
                B.time_plain(bench, st, False)
                times["plain"].append(time.perf_counter() - t0)
                gc.collect()
                t0 = time.perf_counter()
                picks[name] = learner.query()
                times[name].append(time.perf_counter() - t0)
                learner.teach(picks[name], st.truth[picks[name]])
            if not np.array_equal(picks["old"], picks["new"]):
                raise SystemExit(f"round {r}: the two versions picked different rows")
    report(args, times, new.pool_.size())


def report(args, times, pool_size):
    plain = 1e3 * np.median(times["plain"])
    old, new = (1e3 * np.asarray(times[k]) for k in ("old", "new"))
    diff = old - new
    print(
        f"\n# {args.rounds} rounds at n = {args.n:,} ({args.backend}, MaxEnt), "
        f"same picks in every round; plain scan {plain:.1f} ms; P = {pool_size:,} "
        "after the last round"
    )
    print("| version | query ms (median) | of bound |")
    print("|---|---|---|")
    for name, t in (("old " + args.old, old), ("this tree", new)):
        q = np.median(t)
        print(f"| {name} | {q:.2f} | {(plain / q) / (args.n / pool_size):.3f} |")
    q1, q3 = np.percentile(diff, [25, 75])
    lo, hi = median_interval(diff)
    faster = int((diff > 0).sum())
    print(
        f"old - new per round: median {np.median(diff):+.3f} ms "
        f"(quartiles {q1:+.3f}, {q3:+.3f}; 95 % interval of the median "
        f"{lo:+.3f}, {hi:+.3f}); this tree faster in {faster} of {diff.size} "
        f"rounds (sign test p = {sign_test(faster, diff.size):.2f})"
    )


def median_interval(values, level=0.95):
    """Distribution-free interval of the median: the order statistics
    ``(values_(j), values_(m+1-j))`` with ``P(Binomial(m, 1/2) < j) <= (1 -
    level) / 2`` (NaN when ``m`` is too small for one)."""
    from scipy.stats import binom

    v = np.sort(np.asarray(values, dtype=np.float64))
    m = v.size
    # (the smallest j with P(B <= j) >= (1 - level) / 2: P(B <= j - 1) is below)
    j = int(binom.ppf((1 - level) / 2, m, 0.5))
    if j < 1:
        return np.nan, np.nan
    return v[j - 1], v[m - j]


def sign_test(wins, m):
    """Two-sided sign test: how likely ``wins`` of ``m`` (or further from m/2)
    when either version is as likely to be faster."""
    from scipy.stats import binomtest

    return binomtest(wins, m, 0.5).pvalue


if __name__ == "__main__":
    main()
