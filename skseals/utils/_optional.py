"""Lazy imports of optional dependencies with an error that names the extra."""

from __future__ import annotations

import importlib

__all__ = ["import_optional"]

# module name -> (pip extra of skseals, what it is for)
_EXTRAS = {
    "hnswlib": ("hnsw", "HNSWIndex"),
    "annoy": ("annoy", "AnnoyIndex"),
    "matplotlib": ("plot", "plotting"),
    "matplotlib.pyplot": ("plot", "plotting"),
    "tqdm": ("progress", "progress bars"),
    "tqdm.auto": ("progress", "progress bars"),
    "pandas": ("bench", "result tables"),
    "skops.io": ("persist", "saving a session with a custom estimator"),
}


def import_optional(name):
    """Import ``name`` or raise an ImportError saying which extra installs it.

    Examples
    --------
    >>> from skseals.utils import import_optional
    >>> import_optional("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra, purpose = _EXTRAS.get(name, (None, name))
        hint = f'pip install "skseals[{extra}]"' if extra else f"pip install {name}"
        raise ImportError(
            f"{purpose} needs the optional dependency {name!r}, which is not "
            f"installed. Install it with: {hint}"
        ) from exc
