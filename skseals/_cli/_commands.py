"""The ``demo`` and ``bench`` commands."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..datasets import load_concept_data, make_rare_concepts
from ..simulation import simulate, summary_table
from ..utils._argtypes import make_output_dir
from ._configs import make_configs
from ._report import format_table, write_outputs

__all__ = ["run_bench", "run_demo"]


class UsageError(ValueError):
    """A bad argument found after parsing (reported like an argparse error)."""


def _prepare_out(args):
    """Create ``--out`` now: a bad one is reported before the simulation."""
    try:
        make_output_dir(args.out, "--out")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _generate(args):
    try:
        return make_rare_concepts(
            args.n_samples,
            args.n_features,
            args.n_concepts,
            args.prevalence,
            n_components=args.n_components,
            random_state=args.random_state,
        )
    except ValueError as exc:  # e.g. too many concept rows for --n-samples
        raise UsageError(str(exc)) from exc


def _describe(data, t):
    n, d = data.X.shape
    sizes = np.diff(data.concept_indptr)
    if sizes.size == 0:
        raise UsageError("the data set has no concept to search for.")
    return (
        f"{n:,} rows x {d} features, {len(sizes)} concepts of {sizes.min():,}-"
        f"{sizes.max():,} rows ({100 * sizes.mean() / n:.2g}% each); "
        f"{data.pool_ids.size:,} pool rows, {data.test_ids.size:,} test rows "
        f"({t:.1f} s)"
    )


def _simulate(configs, data, concepts, args):
    return simulate(
        configs,
        data.X,
        concepts,
        split=data.split,
        budget=args.budget,
        n_seed_positives=args.seed_positives,
        n_seed_negatives=args.seed_negatives,
        n_repetitions=args.repetitions,
        batch_size=args.batch_size,
        random_state=args.random_state,
        as_frame=False,
        verbose=args.progress,
    )


def _finish(results, args, title, t_start, echo):
    echo("")
    echo(format_table(results))
    paths = write_outputs(results, args.out, title=title, plot=not args.no_plot)
    (Path(args.out) / "summary.txt").write_text(format_table(results) + "\n")
    echo("")
    echo(f"Wrote to {Path(args.out).resolve()}:")
    echo(f"  per-round results  {paths['results'].name}, {paths['results_json'].name}")
    echo(f"  learning curves    {paths['curves'].name} (mean and std per labels)")
    echo(f"  summary table      {paths['table'].name}, summary.txt")
    if "plot" in paths:
        echo(f"  plot               {paths['plot'].name}")
    elif "plot_error" in paths:
        echo(f"  no plot: {paths['plot_error']}")
    echo(f"Done in {time.perf_counter() - t_start:.0f} s.")


def run_demo(args, echo=print):
    """Generated data; MaxEnt and MLP with full scan and SEALS; Random-All."""
    t_start = time.perf_counter()
    echo("skseals demo: SEALS candidate pools vs a full scan, on generated data")
    _prepare_out(args)
    data = _generate(args)
    echo("Data: " + _describe(data, time.perf_counter() - t_start))
    configs, _ = make_configs(
        ["entropy", "most_likely_positive", "random"],
        ["full", "knn"],
        [100],
        batch_size=args.batch_size,
    )
    echo(
        f"Running {len(configs)} configurations x {len(data.concepts)} concepts x "
        f"{args.repetitions} repetition(s): seed {args.seed_positives}+"
        f"{args.seed_negatives}, {args.budget} labels in batches of "
        f"{args.batch_size} ..."
    )
    concepts = _select_concepts(data, "all", args.random_state, 1)
    results = _simulate(configs, data, concepts, args)
    title = (
        f"skseals demo: {data.X.shape[0]:,} generated rows, "
        f"{len(data.concepts)} rare concepts"
    )
    _finish(results, args, title, t_start, echo)
    return 0


def _select_concepts(data, spec, random_state, min_positives):
    names = list(data.concept_names)
    if spec == "all":
        chosen = list(range(len(names)))
    elif spec.isdigit():
        n_pool = np.array([np.sum(data.split[c] == 0) for c in data.concepts])
        n_test = np.array([np.sum(data.split[c] == 1) for c in data.concepts])
        usable = np.flatnonzero((n_pool >= min_positives) & (n_test >= 1))
        count = int(spec)
        if count < 1 or count > usable.size:
            raise UsageError(
                f"--concepts {spec}: {usable.size} concepts have >= {min_positives} "
                f"pool positives (--seed-positives {min_positives - 1}, plus one "
                "to find) and a test positive; ask for 1 to that many, or seed "
                "fewer positives."
            )
        rng = np.random.default_rng(random_state)
        chosen = sorted(rng.choice(usable, size=count, replace=False).tolist())
    else:
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        if not wanted:
            raise UsageError(
                f"--concepts {spec!r} names no concept: give 'all', a number "
                "or comma-separated concept names."
            )
        missing = [w for w in wanted if w not in names]
        if missing:
            raise UsageError(
                f"--concepts: no concept named {', '.join(missing)}; the data "
                f"has {len(names)} (e.g. {', '.join(names[:3])})."
            )
        chosen = [names.index(w) for w in wanted]
    return {names[c]: data.concepts[c] for c in chosen}


#: Options of ``bench`` that shape generated data only.
_GENERATOR_OPTIONS = ("n_samples", "n_features", "n_concepts", "prevalence")


def _load(args):
    if args.data == "generated":
        return _generate(args)
    path = Path(args.data)
    for dest in (*_GENERATOR_OPTIONS, "n_components"):
        if getattr(args, dest) != args.subparser.get_default(dest):
            option = "--" + dest.replace("_", "-")
            raise UsageError(
                f"{option} shapes generated data (DATA 'generated'); it does not "
                f"apply to the data file {path}."
            )
    if path.suffix.lower() not in (".npz", ".npy"):
        raise UsageError(f"DATA must be a .npz or .npy file or 'generated'; got {path}")
    if not path.exists():
        raise UsageError(f"DATA file not found: {path}")
    if args.labels is not None and not Path(args.labels).exists():
        raise UsageError(f"--labels file not found: {args.labels}")
    if args.labels is None and path.suffix.lower() == ".npy":
        raise UsageError(
            f"{path} holds embeddings only: give the concepts with --labels (a "
            ".npy int vector, -1 for no concept, or an .npz of concept "
            "membership; see skseals bench --help)."
        )
    try:
        return load_concept_data(
            path,
            args.labels,
            normalize=not args.no_normalize,
            mmap_mode="r",
            random_state=args.random_state,
        )
    except (ValueError, OSError) as exc:
        message = str(exc)
        named = [str(f) for f in (path, args.labels) if f is not None]
        if not any(f in message for f in named):  # say which file is wrong
            message = f"{path}: {message}"
        raise UsageError(message) from exc


def run_bench(args, echo=print):
    """The harness on a data file or generated data, with the chosen configs."""
    t_start = time.perf_counter()
    _prepare_out(args)
    data = _load(args)
    echo("Data: " + _describe(data, time.perf_counter() - t_start))
    concepts = _select_concepts(
        data, args.concepts, args.random_state, args.seed_positives + 1
    )
    fraction = 0.05 if args.random_fraction == "auto" else args.random_fraction
    plain, subset = make_configs(
        args.strategies,
        args.pools,
        args.k,
        batch_size=args.batch_size,
        index=args.index,
        random_fraction=fraction,
    )
    echo(
        f"Running {len(plain) + len(subset)} configurations x {len(concepts)} "
        f"concepts x {args.repetitions} repetition(s) ..."
    )
    results = _simulate(plain, data, concepts, args) if plain else []
    if subset:
        if args.random_fraction == "auto":
            seals = [
                r
                for r in summary_table(results, as_frame=False)
                if "-SEALS" in r["config"]
            ]
            if seals:
                fraction = float(np.mean([r["pool_percent"] for r in seals])) / 100
            echo(f"Random pool: {100 * fraction:.2f}% of the pool rows")
        for learner in subset.values():
            learner.set_params(pool__fraction=fraction)
        results = results + _simulate(subset, data, concepts, args)
    title = f"skseals bench: {Path(args.data).name}, {len(concepts)} concepts"
    _finish(results, args, title, t_start, echo)
    return 0
