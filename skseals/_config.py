"""Library-wide settings: how many threads skseals's computations may use.

Shaped after :func:`sklearn.get_config` / :func:`sklearn.set_config` /
:func:`sklearn.config_context`. ``set_config`` changes the process-wide
setting; ``config_context`` overrides it in the current thread for the
duration of a ``with`` block (contexts nest, the innermost wins).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from numbers import Integral

__all__ = ["config_context", "get_config", "set_config"]

_global_config = {"n_threads": None}
_local = threading.local()  # a stack of overrides per thread


def _check_n_threads(n_threads):
    if n_threads is None:
        return None
    if isinstance(n_threads, bool) or not isinstance(n_threads, Integral):
        raise TypeError(
            "`n_threads` must be a positive int or None (the cores this process "
            f"may use); got {n_threads!r} of type {type(n_threads).__name__}."
        )
    if n_threads < 1:
        raise ValueError(
            f"`n_threads` must be >= 1 or None (the cores this process may use); "
            f"got {n_threads}."
        )
    return int(n_threads)


def _stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_config():
    """The settings in force in this thread.

    Returns
    -------
    config : dict
        ``{"n_threads": int or None}``: the thread budget of skseals's
        computations (see :func:`set_config`); None means the cores this
        process may use (``OMP_NUM_THREADS`` when set, else
        :func:`joblib.cpu_count`, which honours CPU affinity and cgroup
        quotas). :func:`skseals.utils.effective_n_threads` resolves it.

    Examples
    --------
    >>> import skseals
    >>> skseals.get_config()
    {'n_threads': None}
    >>> with skseals.config_context(n_threads=1):
    ...     skseals.get_config()
    {'n_threads': 1}
    """
    stack = _stack()
    return dict(stack[-1] if stack else _global_config)


def set_config(n_threads=None):
    """Set the thread budget of skseals's computations for the whole process.

    The budget caps, together, the BLAS thread pools (numpy, scipy, faiss's
    own OpenBLAS, through threadpoolctl), faiss's OpenMP threads
    (``faiss.omp_set_num_threads``) and hnswlib's ``num_threads``, around
    every computation skseals runs: a learner's ``fit``, ``query`` and
    ``teach``, building an index or a ``KNNGraph``, and every all-rows pass
    (:func:`~skseals.utils.map_row_blocks`, whose parallel workers each get
    ``budget // n_workers``). Every limit is restored when the computation
    returns.

    An int sets those pools to exactly that many threads while skseals
    computes. None (the default) uses the cores this process may use and
    only ever lowers a pool: a limit set outside skseals (e.g. by
    ``threadpoolctl.threadpool_limits``) is left as it is.

    Parameters
    ----------
    n_threads : int >= 1 or None, default=None
        The thread budget; None means the cores this process may use
        (``OMP_NUM_THREADS`` when set, else :func:`joblib.cpu_count`).

    See Also
    --------
    config_context : The same for one ``with`` block, in one thread.

    Examples
    --------
    >>> import skseals
    >>> skseals.set_config(n_threads=1)
    >>> skseals.get_config()["n_threads"]
    1
    >>> skseals.set_config(n_threads=None)   # back to the default
    """
    _global_config["n_threads"] = _check_n_threads(n_threads)


@contextmanager
def config_context(*, n_threads=None):
    """Set the thread budget for one ``with`` block, in this thread.

    Inside the block, :func:`get_config` reports the budget, skseals applies
    it around its computations (see :func:`set_config`), and the BLAS and
    OpenMP thread pools of this thread -- faiss's included -- are already
    capped to it, so that other code run inside the block (an estimator's
    ``fit``) is capped as well. Everything is restored on exit. Contexts
    nest; the innermost wins.

    OpenMP's thread count (faiss's included) is a per-thread setting: each
    thread's block caps that thread only. BLAS pools (OpenBLAS) are shared
    by the whole process: while blocks of several threads overlap, the BLAS
    limit in force is the smallest of their budgets (each thread's innermost
    one), and when the last block ends the pools get back the size they had
    before the first -- whatever the order the blocks end in.

    Parameters
    ----------
    n_threads : int >= 1 or None, default=None
        The thread budget; None means the cores this process may use
        (``OMP_NUM_THREADS`` when set, else :func:`joblib.cpu_count`).

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np
    >>> from threadpoolctl import threadpool_info
    >>> import skseals
    >>> from skseals import ActiveLearner
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> y = np.full(200, -1); y[:4] = [0, 1, 0, 1]
    >>> with skseals.config_context(n_threads=1):
    ...     rows = ActiveLearner(random_state=0).fit(X, y).query(5)
    ...     all(p["num_threads"] == 1 for p in threadpool_info())
    True
    """
    value = _check_n_threads(n_threads)
    from .utils._threads import limit_threads

    stack = _stack()
    stack.append({**get_config(), "n_threads": value})
    try:
        with limit_threads():
            yield
    finally:
        stack.pop()
