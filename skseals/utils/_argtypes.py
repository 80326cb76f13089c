"""argparse value types and output checks shared by the command-line tools."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["make_output_dir", "positive_int", "seed"]


def positive_int(text):
    """An int >= 1, or an argparse error saying what was expected."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def seed(text):
    """An int seed numpy accepts, in [0, 2**32 - 1], or an argparse error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**32 - 1], got {value}"
        )
    return value


def make_output_dir(path, option):
    """Create the directory ``path`` (and its parents) before any long work.

    Raises a ValueError naming ``option`` when it cannot be created or written,
    so that a bad output path is reported before results are computed.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(
            f"{option} {path}: cannot create this directory ({reason})"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: this directory is not writable")
    return path
