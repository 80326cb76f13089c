"""numba-compiled kernels, used when numba is installed (extra ``fast``).

Each kernel module imports numba at its top and caches its compiled code on
disk; :func:`compiled` imports it on first use and returns None without numba
(or, with a warning, when numba finds no writable cache directory), so that
callers fall back to their numpy path (which computes the same result).
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["compiled"]

_MODULES = {}
_PACKAGE = __name__.split(".", 1)[0]
_import = importlib.import_module  # (tests replace it)


def compiled(name):
    """The kernel module ``skseals.<name>``, or None when numba is missing."""
    module = _MODULES.get(name)
    if module is None:
        try:  # relative to this package (which a benchmark may import renamed)
            module = _import(f".{name}", _PACKAGE)
        except ImportError as exc:
            if getattr(exc, "name", None) not in ("numba", "llvmlite"):
                raise
            module = False
        except RuntimeError as exc:  # numba found no writable cache directory
            if "cannot cache" not in str(exc):
                raise
            warnings.warn(
                f"skseals runs without its compiled kernels: {exc}. Set the "
                "environment variable NUMBA_CACHE_DIR to a writable directory.",
                RuntimeWarning,
                stacklevel=2,
            )
            module = False
        _MODULES[name] = module
    return module or None
