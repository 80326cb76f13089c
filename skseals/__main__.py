"""``python -m skseals``: the ``skseals`` command (see ``skseals --help``)."""

from skseals._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
