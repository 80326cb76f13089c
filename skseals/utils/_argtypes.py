"""argparse value types shared by the command-line tools."""

from __future__ import annotations

import argparse

__all__ = ["positive_int"]


def positive_int(text):
    """An int >= 1, or an argparse error saying what was expected."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value
