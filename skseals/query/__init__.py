"""Query strategies: score candidate rows, higher means "label this first".

A strategy scores rows with a fitted estimator (or without one for random,
k-center and cold-start ranking); it never refits the estimator and never
draws random numbers: the learner breaks ties with its own random state.
"""

from ._adaptive import Adaptive
from ._anywhere import QueryAnywhere
from ._density import InformationDensity
from ._diversity import KCenterGreedy
from ._random import RandomQuery
from ._resolve import STRATEGY_ALIASES, make_strategy
from ._search import CentroidSimilarity, MostLikelyPositive
from ._uncertainty import LeastConfidence, Margin, MaxEntropy

__all__ = [
    "Adaptive",
    "CentroidSimilarity",
    "InformationDensity",
    "KCenterGreedy",
    "LeastConfidence",
    "Margin",
    "MaxEntropy",
    "MostLikelyPositive",
    "QueryAnywhere",
    "RandomQuery",
    "STRATEGY_ALIASES",
    "make_strategy",
]
