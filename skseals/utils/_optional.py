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
    "ipywidgets": ("notebook", "the LabelingSession widget"),
}


def import_optional(name):
    """Import ``name`` or raise an ImportError saying which extra installs it.

    Parameters
    ----------
    name : str
        The module's dotted name, e.g. ``"matplotlib.pyplot"``.

    Returns
    -------
    module : module
        The imported module.

    Raises
    ------
    ImportError
        If the module cannot be imported. The message says what needs it and
        the command that installs it: ``pip install "skseals[EXTRA]"`` for a
        module of one of skseals' extras, else ``pip install NAME``.

    Examples
    --------
    >>> from skseals.utils import import_optional
    >>> import_optional("numpy").__name__
    'numpy'
    >>> import_optional("no_such_module")
    Traceback (most recent call last):
    ...
    ImportError: no_such_module needs the optional dependency 'no_such_module',
    which is not installed. Install it with: pip install no_such_module
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
