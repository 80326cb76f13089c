"""skseals: active learning and active search of rare concepts with SEALS.

The candidate pool of each round is the set of nearest unlabeled neighbours of
the labeled rows, so a round costs work proportional to the pool, not to the
number of rows.
"""

__version__ = "0.1.0.dev0"

from ._config import config_context, get_config, set_config  # noqa: E402
from ._learner import ActiveLearner  # noqa: E402
from ._persistence import load  # noqa: E402
from ._searcher import ActiveSearcher  # noqa: E402
from .base import UNLABELED  # noqa: E402

__all__ = [
    "ActiveLearner",
    "ActiveSearcher",
    "UNLABELED",
    "config_context",
    "get_config",
    "load",
    "set_config",
    "__version__",
]
