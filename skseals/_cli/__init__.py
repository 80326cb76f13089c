"""The ``skseals`` command (``python -m skseals``): demo, bench, structure, label."""

from __future__ import annotations

import logging
import sys

from ._commands import UsageError
from ._parser import build_parser

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``skseals`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success. Bad arguments print one line on stderr and exit with
        status 2 (:class:`SystemExit`), as argparse does; a missing optional
        dependency, a failed write or running out of memory print one line
        and exit with status 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sub = args.subparser
    try:
        return args.func(args)
    except UsageError as exc:
        sub.error(str(exc))
    except ImportError as exc:  # an optional dependency the options need
        sub.exit(1, f"{sub.prog}: error: {exc}\n")
    except OSError as exc:  # e.g. the disk filled up while writing results
        sub.exit(1, f"{sub.prog}: error: {exc}\n")
    except MemoryError:
        sub.exit(
            1,
            f"{sub.prog}: error: out of memory; use fewer rows (--n-samples, a "
            "smaller data file) or a smaller --k\n",
        )
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
