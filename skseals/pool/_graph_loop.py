"""The greedy loop of a SEALS round over a KNNGraph's stored lists, compiled.

With numba installed (``pip install "skseals[fast]"``), a round of a
:class:`~skseals.pool.KNNPool` over a :class:`~skseals.neighbors.KNNGraph`
runs its greedy loop as one compiled call: each pick's list is read straight
from the graph's table at the moment of the pick (its ``k`` nearest rows still
available), and the rows it adds are looked up among rows scored beforehand.
The scores themselves never come from compiled code: rows are scored by the
learner, in numpy, exactly as on the interpreted path, so both paths pick the
same rows (the tests compare them).

A pick whose list holds a row not scored yet stops the loop, which says so;
the caller scores that list (and those of the best rows found so far that
could be picked) and runs the loop again from its start (it is deterministic,
so it retraces the same picks, and it is cheap next to the scoring).
"""

from __future__ import annotations

__all__ = ["graph_kernels"]

_KERNELS = None


def graph_kernels():
    """``(unscored, greedy)`` compiled, or None when numba is not installed."""
    global _KERNELS
    if _KERNELS is None:
        try:
            from . import _graph_kernels as k
        except ImportError:
            _KERNELS = False
        else:
            _KERNELS = (k.unscored, k.greedy)
    return _KERNELS or None
