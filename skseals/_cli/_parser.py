"""Argument parsing of the ``skseals`` command."""

from __future__ import annotations

import argparse

from ..analysis._cli import add_structure_parser
from ..query import STRATEGY_ALIASES
from ..utils._argtypes import positive_int as _positive_int
from ..utils._argtypes import seed as _seed
from ._commands import run_bench, run_demo
from ._configs import INDEXES, POOLS
from ._label import add_label_parser

__all__ = ["build_parser"]

_DESCRIPTION = """\
Active learning and active search of rare concepts with SEALS candidate pools.

  skseals demo    a rare-concept data set generated on the spot: MaxEnt and MLP,
                  each with a full scan and with SEALS, and random; prints the
                  summary table and writes the learning curves (PNG) and results.
  skseals bench   the same protocol on your embeddings (.npz, or .npy plus a
                  labels file) or on generated data, with your choice of
                  strategies, pools, k, batch size, budget and repetitions.
  skseals structure
                  how a concept's positives sit in the kNN graph: can SEALS
                  reach them from a few seeds with this k?
  skseals label   label a data file's rows yourself at the terminal, from a
                  few known positives (y/n/skip/undo/quit; resumable journal).

Run 'skseals COMMAND --help' for the options of a command."""

_DEMO_DESCRIPTION = """\
Generate a rare-concept data set (200,000 rows by default) and compare, on each
concept, MaxEnt (ActiveLearner, entropy) and MLP (ActiveSearcher, most likely
positive), each with a full scan of the pool and with SEALS (k=100 nearest
neighbours over one shared faiss index), and random selection (Random-All).
Prints the Table-2-like summary (mAP, recall, pool size, seconds) and writes
the learning curves (PNG) and the results (CSV, JSON). Takes about 70 s on 2
cores with the defaults."""

_BENCH_DESCRIPTION = """\
Run the SEALS paper's protocol on each concept of a data set: a random seed of
positives and negatives from the pool rows, then rounds of --batch-size labels
from an oracle until --budget, --repetitions times; average precision on the
test rows and recall of the pool's positives after every round. Writes the
per-round table, the learning curves, the summary table and the plot."""

_BENCH_EPILOG = """\
data formats:
  .npz    the shared format: 'emb' (n, d) embeddings, 'concept_indptr' and
          'concept_members' (CSR membership: rows of concept c are
          members[indptr[c]:indptr[c+1]]), optional 'concept_name', 'split'
          (0 = pool, 1 = test) or 'test_ids'.
  .npy    an (n, d) embedding matrix (memory-mapped) with --labels: a .npy int
          vector (-1 = no concept, c >= 0 = concept c) or an .npz holding the
          membership keys above.
  generated   a data set made by skseals.datasets.make_rare_concepts with the
          --n-samples, --n-features, --n-concepts and --prevalence options.

example:
  skseals bench debian_packages.npz --concepts 30 --strategies entropy,\\
most_likely_positive --pools knn,full --k 10,100 --repetitions 3"""


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2, no usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def _choices(allowed):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}"
            )
        return list(dict.fromkeys(items))

    return parse


def _int_list(text):
    return sorted({_positive_int(t) for t in text.split(",")})


def _random_fraction(text):
    return "auto" if text == "auto" else _fraction(text)


def _add_common(p, *, budget, repetitions, out):
    run = p.add_argument_group("protocol")
    run.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        metavar="B",
        help="rows labeled per round (default: %(default)s)",
    )
    run.add_argument(
        "--budget",
        type=_count,
        default=budget,
        metavar="T",
        help="labels acquired after the seed (default: %(default)s)",
    )
    run.add_argument(
        "--repetitions",
        type=_positive_int,
        default=repetitions,
        metavar="R",
        help="runs per concept and configuration, each with another seed "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--seed-positives",
        type=_positive_int,
        default=5,
        metavar="N",
        help="random positives in the seed (default: %(default)s)",
    )
    run.add_argument(
        "--seed-negatives",
        type=_count,
        default=95,
        metavar="N",
        help="random negatives in the seed; 0 starts from positives only "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        metavar="SEED",
        help="seed of the data, the seed sets and the learners (default: %(default)s)",
    )
    output = p.add_argument_group("output")
    output.add_argument(
        "--out",
        default=out,
        metavar="DIR",
        help="directory for results.csv/.json, curves.csv, table.csv, "
        "summary.txt and learning_curves.png (default: %(default)s)",
    )
    output.add_argument(
        "--no-plot", action="store_true", help="do not draw learning_curves.png"
    )
    output.add_argument(
        "--progress", action="store_true", help="show a progress bar (needs tqdm)"
    )
    output.add_argument(
        "-v", "--verbose", action="store_true", help="log each run (logging INFO)"
    )


def _add_generator(p, *, n_samples, n_concepts, prevalence):
    gen = p.add_argument_group("generated data")
    gen.add_argument(
        "--n-samples",
        type=_positive_int,
        default=n_samples,
        metavar="N",
        help="rows of the generated data set (default: %(default)s)",
    )
    gen.add_argument(
        "--n-features",
        type=_positive_int,
        default=128,
        metavar="D",
        help="embedding dimension (default: %(default)s)",
    )
    gen.add_argument(
        "--n-concepts",
        type=_positive_int,
        default=n_concepts,
        metavar="C",
        help="rare concepts generated (default: %(default)s)",
    )
    gen.add_argument(
        "--prevalence",
        type=_fraction,
        default=prevalence,
        metavar="P",
        help="fraction of the rows in each concept (default: %(default)s)",
    )
    gen.add_argument(
        "--n-components",
        type=_positive_int,
        default=1,
        metavar="M",
        help="separate clusters each concept is split into, as a concept of "
        "several visual modes (default: %(default)s)",
    )


def build_parser():
    """The ``skseals`` parser: ``demo``, ``bench`` and ``structure`` commands.

    Each sub-parser's defaults hold ``func`` (the command) and ``subparser``
    (itself, to report bad arguments found after parsing).
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="skseals", description=_DESCRIPTION, formatter_class=fmt)
    from .. import __version__

    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="compare SEALS with a full scan on generated data (1-2 minutes)",
        description=_DEMO_DESCRIPTION,
        formatter_class=fmt,
    )
    _add_generator(demo, n_samples=200_000, n_concepts=6, prevalence=0.005)
    _add_common(demo, budget=1000, repetitions=1, out="skseals-output")
    demo.set_defaults(subparser=demo, func=run_demo)

    bench = sub.add_parser(
        "bench",
        help="run the simulation on a data file or generated data",
        description=_BENCH_DESCRIPTION,
        epilog=_BENCH_EPILOG,
        formatter_class=fmt,
    )
    bench.add_argument(
        "data",
        metavar="DATA",
        help="a .npz or .npy data file (see 'data formats' below), or 'generated'",
    )
    bench.add_argument(
        "--labels",
        metavar="FILE",
        help="concept membership for .npy embeddings (.npy int vector or .npz)",
    )
    bench.add_argument(
        "--concepts",
        default="all",
        metavar="N|NAMES",
        help="'all', a number of concepts drawn at random, or comma-separated "
        "concept names (default: %(default)s)",
    )
    bench.add_argument(
        "--strategies",
        type=_choices(list(STRATEGY_ALIASES)),
        default=["entropy", "most_likely_positive"],
        metavar="LIST",
        help="comma-separated query strategies: "
        + ", ".join(STRATEGY_ALIASES)
        + " (default: entropy,most_likely_positive)",
    )
    bench.add_argument(
        "--pools",
        type=_choices(list(POOLS)),
        default=["knn", "full"],
        metavar="LIST",
        help="comma-separated candidate pools: knn (SEALS), full (scan every "
        "row), random (RandPool) (default: knn,full)",
    )
    bench.add_argument(
        "--k",
        type=_int_list,
        default=[100],
        metavar="LIST",
        help="comma-separated neighbours per row of the knn pool (default: 100)",
    )
    bench.add_argument(
        "--index",
        choices=INDEXES,
        default="faiss",
        help="neighbour index of the knn pool, built once and shared; 'graph' "
        "precomputes a kNN graph with faiss (default: %(default)s)",
    )
    bench.add_argument(
        "--random-fraction",
        type=_random_fraction,
        default="auto",
        metavar="F",
        help="size of the random pool as a fraction of the rows; 'auto' uses "
        "the mean SEALS pool size of the same run, or 0.05 when the run has no "
        "knn pool (default: %(default)s)",
    )
    bench.add_argument(
        "--no-normalize",
        action="store_true",
        help="use the embeddings as they are (default: L2-normalise them)",
    )
    _add_generator(bench, n_samples=100_000, n_concepts=10, prevalence=0.001)
    _add_common(bench, budget=2000, repetitions=3, out="skseals-output/bench")
    bench.set_defaults(subparser=bench, func=run_bench)
    add_structure_parser(sub)
    add_label_parser(sub)
    return parser
