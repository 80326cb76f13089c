"""Turn a ``query_strategy`` parameter (alias or object) into a fresh strategy."""

from __future__ import annotations

from sklearn.base import clone

from ..base import BaseQueryStrategy
from ._adaptive import Adaptive
from ._anywhere import QueryAnywhere
from ._density import InformationDensity
from ._diversity import KCenterGreedy
from ._random import RandomQuery
from ._search import MostLikelyPositive
from ._uncertainty import LeastConfidence, Margin, MaxEntropy

__all__ = ["make_strategy", "STRATEGY_ALIASES"]

#: String aliases accepted wherever a query strategy is, and their classes.
STRATEGY_ALIASES = {
    "entropy": MaxEntropy,
    "margin": Margin,
    "least_confidence": LeastConfidence,
    "most_likely_positive": MostLikelyPositive,
    "information_density": InformationDensity,
    "random": RandomQuery,
    "kcenter": KCenterGreedy,
    "adaptive": Adaptive,
    "query_anywhere": QueryAnywhere,
}


def _make_strategy(value, name):
    """:func:`make_strategy`, with errors naming parameter ``name``."""
    if isinstance(value, str):
        try:
            return STRATEGY_ALIASES[value]()
        except KeyError:
            raise ValueError(
                f"{name}={value!r} is not a known query strategy alias; valid "
                f"aliases are {sorted(STRATEGY_ALIASES)}, or pass a strategy "
                "object such as skseals.query.Margin()."
            ) from None
    if isinstance(value, BaseQueryStrategy):
        return clone(value)
    if isinstance(value, type) and issubclass(value, BaseQueryStrategy):
        raise TypeError(
            f"{name} must be a strategy instance or a string alias, not the class "
            f"{value.__name__}: pass {value.__name__}() instead."
        )
    raise TypeError(
        f"{name} must be a string alias (one of {sorted(STRATEGY_ALIASES)}) or an "
        f"instance of skseals.base.BaseQueryStrategy; got {value!r} of type "
        f"{type(value).__name__}."
    )


def make_strategy(query_strategy: str | BaseQueryStrategy) -> BaseQueryStrategy:
    """Return a new query strategy from an alias or a strategy object.

    Parameters
    ----------
    query_strategy : str or BaseQueryStrategy
        One of the aliases ``"entropy"``, ``"margin"``, ``"least_confidence"``,
        ``"most_likely_positive"``, ``"information_density"``, ``"random"``,
        ``"kcenter"``, ``"adaptive"``, ``"query_anywhere"`` (a new instance
        with default parameters), or a strategy object, which is cloned
        (:func:`sklearn.base.clone`) so that the object passed in is never
        modified or shared.

    Returns
    -------
    strategy : BaseQueryStrategy
        A new, independent strategy.

    Raises
    ------
    ValueError
        If ``query_strategy`` is an unknown alias.
    TypeError
        If ``query_strategy`` is neither a string nor a strategy instance
        (e.g. a strategy class, or an int).

    Examples
    --------
    >>> from skseals.query import Margin, make_strategy
    >>> make_strategy("margin")
    Margin()
    >>> given = Margin()
    >>> make_strategy(given) is given
    False
    """
    return _make_strategy(query_strategy, "query_strategy")
