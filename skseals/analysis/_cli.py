"""The ``skseals structure`` command: the concept structure report from a file.

Wired into the ``skseals`` command by ``add_structure_parser(subparsers)``
(which sets ``subparser`` and ``func`` defaults) and ``run_structure(args)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from ..datasets._io import (
    _as_unit_float32,
    _check_membership,
    _read_membership,
    _reading,
    read_embeddings,
)
from ..simulation._results import _plain
from ..utils._argtypes import make_output_dir
from ..utils._argtypes import positive_int as _positive_int
from ..utils._argtypes import seed as _seed

__all__ = ["add_structure_parser", "run_structure"]

_DESCRIPTION = """\
Before labeling: can SEALS reach the concept? For each concept and each k, the
known positives are joined when one is among the k nearest neighbours (over all
rows) of the other; the report gives the share of positives in the largest
connected component (reachable from any one of them), the number of components
and the mean shortest path between connected positives (SEALS paper, Sec. 6).
Only the positives' neighbours are searched; one index is built and shared."""

_EPILOG = """\
data:
  .npz    the shared format ('emb', 'concept_indptr', 'concept_members',
          optional 'concept_name', 'split' or 'test_ids'); see skseals bench.
  .npy    an (n, d) embedding matrix, with --labels (concept membership: .npy
          int vector, -1 = none, or an .npz) or --positives.
  --positives FILE   row ids of one concept's positives: a .npy int vector or
          a text file with one row id per line (rows of DATA, before --rows).

examples:
  skseals structure debian_packages.npz --concepts section:ocaml,section:web
  skseals structure emb.npy --positives known.txt --k 10,50,100"""


class _Usage(ValueError):
    """A bad argument found after parsing."""


def _int_list(text):
    try:
        values = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def add_structure_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``structure`` sub-command to an argparse ``subparsers`` object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The new sub-parser; its defaults hold ``subparser`` (itself) and
        ``func`` (:func:`run_structure`).
    """
    p = subparsers.add_parser(
        "structure",
        help="concept structure report: can SEALS reach the concept with this k?",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="a .npz or .npy data file")
    src = p.add_argument_group("positives")
    src.add_argument(
        "--labels",
        metavar="FILE",
        help="concept membership for .npy embeddings (.npy int vector or .npz)",
    )
    src.add_argument(
        "--positives",
        metavar="FILE",
        help="row ids of one concept's positives (.npy, or text: one per line)",
    )
    src.add_argument(
        "--concepts",
        default="all",
        metavar="N|NAMES",
        help="'all', a number of concepts drawn at random, or comma-separated "
        "concept names (default: %(default)s)",
    )
    src.add_argument(
        "--min-positives",
        type=_positive_int,
        default=2,
        metavar="N",
        help="skip concepts with fewer positives among the rows (default: %(default)s)",
    )
    graph = p.add_argument_group("graph")
    graph.add_argument(
        "--k",
        type=_int_list,
        default=[10, 100],
        metavar="LIST",
        help="comma-separated neighbours per row (default: 10,100)",
    )
    graph.add_argument(
        "--index",
        choices=("exact", "faiss", "hnswlib", "annoy"),
        default="faiss",
        help="neighbour index, built once on the rows (default: %(default)s)",
    )
    graph.add_argument(
        "--metric",
        choices=("cosine", "euclidean", "inner_product"),
        default="cosine",
        help="(default: %(default)s)",
    )
    graph.add_argument(
        "--rows",
        choices=("pool", "all"),
        default="pool",
        help="'pool': the unlabeled pool rows of a file with a split (split == 0, "
        "the rows SEALS searches); 'all': every row (default: %(default)s)",
    )
    graph.add_argument(
        "--max-sources",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="positives to measure shortest paths from; more are sampled "
        "(default: %(default)s)",
    )
    graph.add_argument(
        "--random-state", type=_seed, default=0, metavar="SEED", help="(default: 0)"
    )
    graph.add_argument(
        "--no-normalize",
        action="store_true",
        help="use the embeddings as they are (default: L2-normalise them)",
    )
    p.add_argument(
        "--out", metavar="FILE", help="also write the table to a .csv or .json file"
    )
    p.set_defaults(subparser=p, func=run_structure)
    return p


def _read_ids(path):
    path = Path(path)
    if not path.exists():
        raise _Usage(f"no such positives file: {path}")
    if path.suffix.lower() == ".npy":
        ids = np.load(path, allow_pickle=False)
    else:
        try:
            ids = np.loadtxt(path, dtype=np.int64, ndmin=1)
        except ValueError as exc:
            raise _Usage(
                f"{path}: expected one integer row id per line ({exc})"
            ) from None
    return np.asarray(ids).ravel()


def _archive_split(archive, path, n):
    """The split of an open ``.npz`` ('split' or 'test_ids'), or None.

    Read as :func:`~skseals.datasets.load_concept_data` reads it, with an
    empty membership standing in for the concepts (--positives gives them).
    """
    with _reading(path, "data file"):
        source = {k: archive[k] for k in ("split", "test_ids") if k in archive.files}
    if not source:
        return None
    empty = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    source["concept_indptr"], source["concept_members"] = empty
    _, _, _, split, _ = _read_membership(source, n)
    split = np.asarray(split)
    _check_membership(*empty, None, split, n)
    return split


def _load(args):
    """``(X, {name: positive rows}, description)`` on the chosen rows."""
    from ..datasets import load_concept_data

    path = Path(args.data)
    if not path.exists():
        raise _Usage(f"no such data file: {path}")
    normalize = not args.no_normalize
    if args.positives is not None and args.labels is None:
        if path.suffix.lower() not in (".npz", ".npy"):
            raise _Usage(f"DATA must end in .npz or .npy; got {path.name!r}")
        X, archive = read_embeddings(path, mmap_mode="r")
        split = None
        if archive is not None:
            split = _archive_split(archive, path, X.shape[0])
        X = _as_unit_float32(X, normalize)
        concepts = {Path(args.positives).stem: _read_ids(args.positives)}
        names = list(concepts)
    else:
        if path.suffix.lower() == ".npy" and args.labels is None:
            raise _Usage("a .npy DATA needs --labels or --positives")
        data = load_concept_data(path, args.labels, normalize=normalize)
        X = data.X
        split = data.split if "split" in data else None
        concepts = dict(zip(map(str, data.concept_names), data.concepts, strict=True))
        names = _pick(list(concepts), args.concepts, args.random_state)
        if args.positives is not None:
            concepts = {Path(args.positives).stem: _read_ids(args.positives)}
            names = list(concepts)
    n = X.shape[0]
    rows = np.arange(n)
    if args.rows == "pool" and split is not None:
        rows = np.flatnonzero(np.asarray(split) == 0)
    where = np.full(n, -1, dtype=np.int64)
    where[rows] = np.arange(rows.size)
    out = {}
    for name in names:
        ids = np.asarray(concepts[name])
        bad = ids.size and (ids.min() < 0 or ids.max() >= n)
        if ids.dtype.kind not in "iu" or bad:
            raise _Usage(f"positives of {name!r} must be row ids in [0, {n})")
        local = where[ids]
        out[name] = np.unique(local[local >= 0])
    X = np.asarray(X[rows] if rows.size < n else X, dtype=np.float32)
    what = "pool rows" if rows.size < n else "rows"
    return X, out, f"{rows.size:,} {what} x {X.shape[1]} features"


def _pick(names, spec, seed):
    if spec == "all":
        return names
    if spec.isdigit():
        count = int(spec)
        if count < 1:
            raise _Usage("--concepts: expected a number >= 1")
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(names), min(count, len(names)), replace=False)
        return [names[i] for i in np.sort(chosen)]
    wanted = [t.strip() for t in spec.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in names]
    if unknown:
        raise _Usage(
            f"--concepts: unknown concept(s) {', '.join(unknown)}; the file has "
            f"{len(names)} (e.g. {', '.join(names[:3])})"
        )
    return wanted


def _fmt_row(row):
    return (
        f"{row['concept'][:32]:<32} {row['n_neighbors']:>5} {row['n_positives']:>9} "
        f"{row['n_components']:>10} {row['largest_component_share']:>8.1%} "
        f"{row['n_isolated']:>8} {row['mean_path_length']:>9.2f}"
    )


def _write(rows, out):
    out = Path(out)
    fields = [k for k in rows[0] if k != "component_sizes"] + ["component_sizes"]
    if out.suffix.lower() == ".json":  # NaN (no path measured) as null
        plain = [{k: _plain(v) for k, v in row.items()} for row in rows]
        out.write_text(json.dumps(plain, indent=1, allow_nan=False) + "\n")
        return
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, "component_sizes": " ".join(map(str, row["component_sizes"]))}
            )


def run_structure(args: argparse.Namespace, echo=print) -> int:
    """Run ``skseals structure`` with parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the sub-parser of :func:`add_structure_parser`. Bad
        arguments found here are reported with ``args.subparser.error`` (one
        line, exit status 2) when there is one, else raised as ValueError.
    echo : callable, default=print
        Where the report lines go.

    Returns
    -------
    status : int
        0 on success.
    """
    from ..neighbors import make_index
    from ._structure import concept_structure

    try:
        if args.out is not None and Path(args.out).suffix.lower() not in (
            ".csv",
            ".json",
        ):
            raise _Usage(f"--out must end in .csv or .json; got {args.out!r}")
        if args.out is not None:
            make_output_dir(Path(args.out).resolve().parent, "--out")
        t0 = time.perf_counter()
        X, concepts, described = _load(args)
    except (_Usage, ValueError, OSError) as exc:
        parser = getattr(args, "subparser", None)
        if parser is None:
            raise
        parser.error(str(exc))
    kept = {c: p for c, p in concepts.items() if p.size >= args.min_positives}
    echo(
        f"Data: {described}; {len(kept)} concept(s) with >= {args.min_positives} "
        f"positives ({time.perf_counter() - t0:.1f} s)"
    )
    if not kept:
        echo("Nothing to report.")
        return 0
    t0 = time.perf_counter()
    index = make_index(args.index, args.metric).fit(X)
    seconds = time.perf_counter() - t0
    echo(f"Index: {args.index} ({args.metric}) built in {seconds:.1f} s")
    echo("")
    head = (
        f"{'concept':<32} {'k':>5} {'positives':>9} {'components':>10} "
        f"{'largest':>8} {'isolated':>8} {'mean hops':>9}"
    )
    echo(head)
    echo("-" * len(head))
    rows, reports = [], []
    for name, pos in kept.items():
        for k in args.k:
            s = concept_structure(
                None,
                pos,
                n_neighbors=min(k, X.shape[0] - 1) if X.shape[0] > 1 else 1,
                index=index,
                metric=args.metric,
                max_sources=args.max_sources,
                random_state=args.random_state,
            )
            row = {"concept": name, **s.as_dict()}
            rows.append(row)
            reports.append(s)
            echo(_fmt_row(row))
    if len(kept) == 1:
        for s in reports:
            echo("")
            echo(s.summary())
    if args.out is not None:
        _write(rows, args.out)
        echo("")
        echo(f"Wrote {Path(args.out).resolve()}")
    return 0
