"""The ``label`` command: a person labels queried rows at a terminal."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap

import numpy as np

from ..datasets._io import read_embeddings
from ..query import STRATEGY_ALIASES
from ..utils._argtypes import make_output_dir
from ..utils._argtypes import positive_int as _positive_int
from ..utils._argtypes import seed as _seed
from ._commands import UsageError

__all__ = ["add_label_parser", "run_label"]

_DESCRIPTION = """\
Search a data file for a rare concept with a person in the loop. Starting from a
few known positives, each round shows the queried rows one at a time (their text,
or the fields you choose) and takes an answer:

  y  yes, a positive              s  skip: can't tell (never shown again)
  n  no, a negative               u  undo the last answer of this batch
  q  quit (answers given so far are saved)

Answers are taught a batch at a time, so 'u' can take back any answer of the
current batch; a taught batch is final and durable in the journal. Run the same
command again to resume: the journal is replayed and the seeds are read from
JOURNAL.seeds.json, so --positives is needed only the first time."""

_EPILOG = """\
data format: an .npz with embeddings under 'emb' (or 'X'), and optionally the
texts as 'text_indptr' + 'text_utf8' (text of row i = text_utf8[indptr[i]:
indptr[i+1]] as UTF-8) and names under 'package', as in debian_packages.npz.

example:
  skseals label debian_packages.npz --journal shells.journal \\
      --positives bash,zsh,fish --batch-size 10"""

_HELP = (
    "y = positive, n = negative, s = skip (can't tell), u = undo the last answer "
    "of this batch, q = quit (saves the answers given)"
)


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def add_label_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``label`` command to the ``skseals`` sub-parsers."""
    p = subparsers.add_parser(
        "label",
        help="label a data file's rows at the terminal (active search, resumable)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="an .npz data file (see below)")
    p.add_argument(
        "--journal",
        required=True,
        metavar="PATH",
        help="the session's journal: created on the first run, replayed to resume",
    )
    p.add_argument(
        "--positives",
        metavar="LIST",
        help="comma-separated seed positives: row ids or names from 'package' "
        "(required on the first run; added to the saved seeds later)",
    )
    p.add_argument(
        "--field",
        metavar="LIST",
        help="comma-separated fields to show per row: 'text' or any 1-d array of "
        "the file, e.g. package,section (default: text if the file has texts, "
        "else package)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=10,
        metavar="B",
        help="rows per batch, taught together (default: %(default)s)",
    )
    p.add_argument(
        "--strategy",
        choices=list(STRATEGY_ALIASES),
        default="most_likely_positive",
        metavar="NAME",
        help="query strategy: " + ", ".join(STRATEGY_ALIASES) + " (default: "
        "%(default)s)",
    )
    p.add_argument(
        "--pseudo-negatives",
        type=_non_negative,
        default=0.0,
        metavar="F",
        help="pseudo-negatives per positive (Mullapudi et al.); 0 turns them off "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--k",
        type=_positive_int,
        default=100,
        metavar="K",
        help="neighbours per row of the SEALS pool (default: %(default)s)",
    )
    p.add_argument(
        "--index",
        choices=["faiss", "exact", "hnswlib", "annoy"],
        default="faiss",
        help="neighbour index (default: %(default)s)",
    )
    p.add_argument(
        "--max-chars",
        type=_positive_int,
        default=800,
        metavar="N",
        help="characters of a field shown per row (default: %(default)s)",
    )
    p.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        metavar="SEED",
        help="seed of the learner (default: %(default)s)",
    )
    p.set_defaults(subparser=p, func=run_label)
    return p


# -- data ------------------------------------------------------------------------
def _load(path):
    if not os.path.exists(path):
        raise UsageError(f"no such data file: {path}")
    if not str(path).lower().endswith(".npz"):
        raise UsageError(f"DATA must be an .npz file; got {path!r}")
    try:
        X, archive = read_embeddings(path)
        X = np.array(X, dtype=np.float32)  # a copy, normalised in place
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"the embeddings of {path} must be a non-empty 2-d array")
        if not np.isfinite(X).all():
            raise ValueError(f"the embeddings of {path} hold NaN or infinity")
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X /= np.where(norms > 0, norms, 1)  # cosine geometry, as the bench command
    return X, archive


class _Fields:
    """Reads the fields shown for a row from the archive."""

    def __init__(self, archive, spec, n):
        files = set(archive.files)
        has_text = {"text_indptr", "text_utf8"} <= files
        if spec is None:
            names = ["text"] if has_text else ["package"] if "package" in files else []
        else:
            names = [t.strip() for t in spec.split(",") if t.strip()]
        self.columns = {}
        for name in names:
            if name == "text":
                if not has_text:
                    raise UsageError(
                        "--field text: the file has no 'text_indptr'/'text_utf8'"
                    )
                self.columns[name] = None
                self._indptr = archive["text_indptr"]
                self._utf8 = archive["text_utf8"]
            elif name in files and archive[name].shape == (n,):
                self.columns[name] = archive[name]
            else:
                usable = sorted(k for k in files if archive[k].shape == (n,))
                raise UsageError(
                    f"--field {name}: not a per-row array of the file; usable: "
                    f"{', '.join(['text'] if has_text else []) or '-'}"
                    f"{', ' if usable else ''}{', '.join(usable)}"
                )
        self.names = archive["package"] if "package" in files else None

    def values(self, row):
        out = []
        for name, column in self.columns.items():
            if column is None:
                start, stop = self._indptr[row], self._indptr[row + 1]
                value = self._utf8[start:stop].tobytes().decode("utf-8", "replace")
            else:
                value = str(column[row])
            out.append((name, value))
        return out


def _parse_seeds(spec, names, n):
    rows, unknown = [], []
    lookup = None
    for item in (t.strip() for t in spec.split(",")):
        if not item:
            continue
        if item.isdigit():
            row = int(item)
            if row >= n:
                raise UsageError(f"--positives: row {row} is not in [0, {n})")
            rows.append(row)
            continue
        if lookup is None:
            lookup = {} if names is None else {str(v): i for i, v in enumerate(names)}
        if item in lookup:
            rows.append(lookup[item])
        else:
            unknown.append(item)
    if unknown:
        where = "'package'" if names is not None else "the file (it has no 'package')"
        raise UsageError(
            f"--positives: {', '.join(unknown[:5])} not found in {where}; give "
            "row ids or package names"
        )
    if not rows:
        raise UsageError("--positives is empty: give at least one row id or name")
    return sorted(set(rows))


def _seeds(args, names, n):
    """Seed positives: saved ones plus --positives; saved beside the journal."""
    path = f"{args.journal}.seeds.json"
    saved = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("n_samples") != n:
            raise UsageError(
                f"{path} was written for a data file of {meta.get('n_samples')} "
                f"rows, not {n}: pass the same DATA or another --journal"
            )
        saved = [int(r) for r in meta["positives"]]
    given = _parse_seeds(args.positives, names, n) if args.positives else []
    seeds = sorted(set(saved) | set(given))
    if not seeds:
        raise UsageError(
            "--positives is required to start a session: give a few row ids or "
            "package names of the concept"
        )
    if seeds != saved:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"n_samples": n, "positives": seeds}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return np.asarray(seeds, dtype=np.int64)


# -- the terminal loop -----------------------------------------------------------
def _progress_line(session):
    p = session.progress()
    return (
        f"labeled {p['n_labeled']:,} ({p['n_positives']:,} positives found, "
        f"{p['n_skipped']:,} skipped) | candidate pool {p['pool_size']:,} of "
        f"{p['n_samples']:,} rows"
    )


def _shower(fields, out, max_chars, session):
    width = max(40, min(100, shutil.get_terminal_size((100, 20)).columns) - 4)

    def show(row):
        done, size = session.position
        name = "" if fields.names is None else f"  {fields.names[row]}"
        out.write(f"\n[{done + 1}/{size}] row {row}{name}\n")
        for field, value in fields.values(row):
            if len(value) > max_chars:
                value = value[: max_chars - 1] + "…"
            label = f"{field}: " if len(fields.columns) > 1 else ""
            for para in (label + value).splitlines() or [""]:
                out.write(textwrap.fill(para, width, initial_indent="    ",
                                        subsequent_indent="    ") + "\n")  # fmt: skip
        out.flush()

    return show


def _ask(inp, out):
    out.write("  [y/n/s/u/q] > ")
    out.flush()
    line = inp.readline()
    if not line:  # end of input: same as quit
        out.write("\n")
        return "q"
    return line.strip().lower()


def _loop(session, inp, out):
    """Answer batches until quit or exhaustion; returns True on quit."""
    while True:
        batch = session.next_batch()
        if batch.size == 0:
            out.write("\nThe candidate pool is exhausted: nothing left to query.\n")
            return False
        while session.current_row is not None:
            reply = _ask(inp, out)
            if reply in ("q", "quit"):
                return True
            if reply in ("u", "undo"):
                if session.undo() is None:
                    out.write(
                        "  nothing to undo in this batch: earlier batches are "
                        "taught and final.\n"
                    )
                continue
            if reply in ("y", "yes", "n", "no", "s", "skip"):
                session.answer(reply)
                if session.current_row is None:
                    out.write(f"\nbatch saved. {_progress_line(session)}\n")
                continue
            out.write(f"  {_HELP}\n")


def run_label(args, stdin=None, stdout=None) -> int:
    """Run ``skseals label`` (``stdin``/``stdout`` default to the process's)."""
    from .. import ActiveSearcher
    from ..labeling import LabelingSession
    from ..pool import KNNPool

    inp = sys.stdin if stdin is None else stdin
    out = sys.stdout if stdout is None else stdout
    try:
        make_output_dir(os.path.dirname(os.path.abspath(args.journal)), "--journal")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    X, archive = _load(args.data)
    n = X.shape[0]
    fields = _Fields(archive, args.field, n)
    seeds = _seeds(args, fields.names, n)
    y = np.full(n, -1, dtype=np.int64)
    y[seeds] = 1
    resumed = os.path.exists(args.journal) and os.path.getsize(args.journal) > 0
    searcher = ActiveSearcher(
        query_strategy=args.strategy,
        pool=KNNPool(n_neighbors=args.k, index=args.index),
        batch_size=args.batch_size,
        pseudo_negatives=args.pseudo_negatives,
        journal=args.journal,
        random_state=args.random_state,
    )
    # the index build takes a while on a large file (IVF above 50,000 rows)
    out.write(f"Building the {args.index} neighbour index over {n:,} rows ...\n")
    out.flush()
    try:
        searcher.fit(X, y)
    except ValueError as exc:  # e.g. a journal written for other data
        raise UsageError(str(exc)) from exc
    session = LabelingSession(searcher)
    session.show = _shower(fields, out, args.max_chars, session)
    out.write(
        f"skseals label: {n:,} rows of {args.data}; journal {args.journal}"
        f"{' (resumed)' if resumed else ''}; {seeds.size} seed positives\n"
        f"{_progress_line(session)}\n{_HELP}\n"
    )
    try:
        quit_ = _loop(session, inp, out)
    except KeyboardInterrupt:
        saved = session.commit()
        out.write(f"\ninterrupted; {saved} answers of this batch saved.\n")
        return 130
    saved = session.commit()
    if quit_:
        out.write(f"\nquit; {saved} answers of this batch saved.\n")
    out.write(
        f"{_progress_line(session)}\nResume with the same command; labels are in "
        f"{args.journal}.\n"
    )
    out.flush()
    return 0
