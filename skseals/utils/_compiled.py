"""numba-compiled kernels, used when numba is installed (extra ``fast``).

Each kernel module imports numba at its top; :func:`compiled` imports it on
first use and returns None without numba, so that callers fall back to their
numpy path (which computes the same result).
"""

from __future__ import annotations

import importlib

__all__ = ["compiled"]

_MODULES = {}
_PACKAGE = __name__.split(".", 1)[0]


def compiled(name):
    """The kernel module ``skseals.<name>``, or None when numba is missing."""
    module = _MODULES.get(name)
    if module is None:
        try:  # relative to this package (which a benchmark may import renamed)
            module = importlib.import_module(f".{name}", _PACKAGE)
        except ImportError as exc:
            if getattr(exc, "name", None) not in ("numba", "llvmlite"):
                raise
            module = False
        _MODULES[name] = module
    return module or None
