"""Learner configurations of the command line, named as in the SEALS paper."""

from __future__ import annotations

from ..query import STRATEGY_ALIASES

__all__ = ["STRATEGY_NAMES", "make_configs", "make_index"]

#: Short names of the strategies in tables and plots (the paper's where it has one).
STRATEGY_NAMES = {
    "entropy": "MaxEnt",
    "most_likely_positive": "MLP",
    "information_density": "ID",
    "margin": "Margin",
    "least_confidence": "LeastConf",
    "kcenter": "KCenter",
    "adaptive": "Adaptive",
    "random": "Random",
}
POOLS = ("knn", "full", "random")
INDEXES = ("faiss", "exact", "hnswlib", "annoy", "graph")


def make_index(name, n_neighbors):
    """An unfitted index for ``--index``; "graph" is a KNNGraph over faiss."""
    from ..neighbors import KNNGraph
    from ..neighbors import make_index as resolve

    if name == "graph":
        return KNNGraph(n_neighbors=n_neighbors, index="faiss")
    return resolve(name)


def _learner(strategy, pool, batch_size):
    from .. import ActiveLearner, ActiveSearcher

    if strategy == "most_likely_positive":
        return ActiveSearcher(pool=pool, batch_size=batch_size)
    return ActiveLearner(query_strategy=strategy, pool=pool, batch_size=batch_size)


def make_configs(
    strategies, pools, ks, *, batch_size, index="faiss", random_fraction=0.05
):
    """Named learners: every strategy with every pool (and every k for "knn").

    The ``"random"`` strategy runs once, on the full pool (the paper's
    Random-All), whatever ``pools`` says. Returns two dicts: configurations
    without and with a random-subset pool (the latter may need the SEALS pool
    size to be known first).
    """
    from ..pool import FullScanPool, KNNPool, RandomSubsetPool

    unknown = [s for s in strategies if s not in STRATEGY_ALIASES]
    if unknown:
        raise ValueError(
            f"unknown strategies {unknown}; choose from {sorted(STRATEGY_ALIASES)}."
        )
    unknown = [p for p in pools if p not in POOLS]
    if unknown:
        raise ValueError(f"unknown pools {unknown}; choose from {list(POOLS)}.")
    if index not in INDEXES:
        raise ValueError(f"unknown index {index!r}; choose from {list(INDEXES)}.")
    shared = make_index(index, max(ks)) if "knn" in pools else None
    plain, subset = {}, {}
    for strategy in strategies:
        short = STRATEGY_NAMES.get(strategy, strategy)
        if strategy == "random":
            plain["Random-All"] = _learner(strategy, FullScanPool(), batch_size)
            continue
        for pool in pools:
            if pool == "full":
                plain[f"{short}-Full"] = _learner(strategy, FullScanPool(), batch_size)
            elif pool == "knn":
                for k in ks:
                    name = f"{short}-SEALS" if len(ks) == 1 else f"{short}-SEALS-k{k}"
                    knn = KNNPool(n_neighbors=k, index=shared)
                    plain[name] = _learner(strategy, knn, batch_size)
            else:
                rand = RandomSubsetPool(fraction=random_fraction)
                subset[f"{short}-RandPool"] = _learner(strategy, rand, batch_size)
    return plain, subset
