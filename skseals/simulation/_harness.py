"""Simulated labeling runs with an oracle: the SEALS paper's protocol."""

from __future__ import annotations

import logging
import numbers
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.metrics import average_precision_score
from sklearn.utils import check_random_state

from ..utils import import_optional
from ._results import _as_table

__all__ = ["simulate"]

logger = logging.getLogger(__name__)


def _check_count(value, name, low):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
    ):
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    return int(value)


def _check_members(concepts, names, n):
    """Each concept's member rows as int64 ids of X, checked."""
    checked = []
    for name, members in zip(names, concepts, strict=True):
        members = np.asarray(members)
        if members.size == 0:
            members = members.astype(np.int64)
        if members.ndim != 1 or members.dtype.kind not in "iu":
            raise ValueError(
                f"concepts['{name}'] must be a 1-D array of row indices of X "
                f"(ints); got dtype {members.dtype} and shape {members.shape}. "
                "For a boolean mask pass np.flatnonzero(mask)."
            )
        if members.size and (members.min() < 0 or members.max() >= n):
            raise ValueError(
                f"concepts['{name}'] holds row indices outside [0, {n}), the "
                f"rows of X: min {members.min()}, max {members.max()}."
            )
        checked.append(members.astype(np.int64, copy=False))
    return checked


def _named_learners(learners):
    if isinstance(learners, Mapping):
        if not learners:
            raise ValueError("learners is an empty dict: give at least one learner.")
        named = dict(learners)
    else:
        named = {type(learners).__name__: learners}
    for name, learner in named.items():
        for method in ("fit", "query", "teach"):
            if not callable(getattr(learner, method, None)):
                raise TypeError(
                    f"learners[{name!r}] has no {method}() method: pass an "
                    "ActiveLearner/ActiveSearcher or a dict of them."
                )
    return named


def _share_indexes(named, X_pool):
    """Fit each distinct neighbour index of the learners' pools once, on X_pool.

    A pool with an ``index`` parameter (KNNPool) that holds an alias or an
    unfitted index gets the shared fitted index instead; clones of the learner
    then share it (a fitted index is never copied by ``clone``).
    """
    from ..neighbors import make_index
    from ..pool import make_pool

    built = {}
    out = {}
    for name, learner in named.items():
        params = learner.get_params(deep=False)
        if "pool" not in params:
            out[name] = learner
            continue
        pool = make_pool(params["pool"])
        pool_params = pool.get_params(deep=False)
        index = pool_params.get("index")
        if index is None or getattr(index, "n_samples_fit_", None) is not None:
            out[name] = learner
            continue
        metric = pool_params.get("metric", "cosine")
        index = make_index(index, metric)
        key = repr(index)
        if key not in built:
            t0 = time.perf_counter()
            built[key] = clone(index).fit(X_pool)
            logger.info("built %s in %.2f s", key, time.perf_counter() - t0)
        out[name] = clone(learner).set_params(pool=pool.set_params(index=built[key]))
    return out


def _positive_scores(learner, X_test, pos_label=1):
    """Scores of ``pos_label`` on the test rows (higher = more likely positive)."""
    classes = np.asarray(learner.classes_)  # a learner's outputs follow its own
    if hasattr(learner, "decision_function"):
        scores = np.asarray(learner.decision_function(X_test), dtype=np.float64)
        if scores.ndim == 2:
            return scores[:, np.flatnonzero(classes == pos_label)[0]]
        # 1-D scores rank classes_[-1] (binary) or the single class (cold start).
        return scores if classes[-1] == pos_label else -scores
    proba = np.asarray(learner.predict_proba(X_test), dtype=np.float64)
    hit = np.flatnonzero(classes == pos_label)
    return proba[:, hit[0]] if hit.size else -proba[:, 0]


def _seed_rows(rng, positives, negatives_mask, n_pos, n_neg):
    """Random seed positives and negatives (pool positions)."""
    pos = rng.choice(positives, size=min(n_pos, positives.size), replace=False)
    n_pool = negatives_mask.size
    n_neg = min(n_neg, int(negatives_mask.sum()))
    neg = np.empty(0, dtype=np.int64)
    while neg.size < n_neg:  # rejection sampling: positives are rare
        draw = rng.choice(n_pool, size=min(n_pool, 2 * n_neg + 16), replace=False)
        draw = draw[negatives_mask[draw]]
        neg = np.concatenate([neg, draw[~np.isin(draw, neg)]])
    return pos.astype(np.int64), neg[:n_neg].astype(np.int64)


def simulate(
    learners,
    X,
    concepts: Sequence | Mapping,
    *,
    split: np.ndarray | None = None,
    budget: int = 2000,
    n_seed_positives: int = 5,
    n_seed_negatives: int = 95,
    n_repetitions: int = 3,
    batch_size: int | None = None,
    share_index: bool = True,
    random_state: int | np.random.RandomState | None = 0,
    as_frame: bool | str = "auto",
    verbose: bool = False,
    callback: Callable | None = None,
):
    """Run active learning or search on rare concepts with an oracle, per round.

    For each concept, each repetition and each learner configuration, the
    paper's protocol (Coleman et al., SEALS, Sec. 5): a seed of
    ``n_seed_positives`` positives and ``n_seed_negatives`` negatives drawn at
    random from the pool rows; then rounds of ``query()`` and ``teach()`` with
    the true labels until ``budget`` labels beyond the seed are spent. Every
    configuration sees the same seed and the same learner ``random_state`` for
    a given concept and repetition, so differences come from the method only.

    The learner is fitted on the pool rows only (``split == 0``), so a test row
    can never be queried or labeled; it is scored on the test rows
    (``split == 1``) after every round.

    Parameters
    ----------
    learners : learner or dict of str to learner
        An :class:`~skseals.ActiveSearcher` or :class:`~skseals.ActiveLearner`
        (or any object with ``fit``/``query``/``teach``/``history_``), or
        named configurations to compare. Each run uses a
        :func:`~sklearn.base.clone` with ``random_state`` set.
    X : array-like of shape (n_samples, n_features)
        Embeddings of every row (pool and test).
    concepts : list of array-like of int, or dict of str to array-like of int
        Member rows of each concept (e.g. ``data.concepts``); a dict names them.
        A concept's rows are its positives, every other row a negative.
    split : array-like of shape (n_samples,), default=None
        0 for a pool row, 1 for a test row. None puts every row in the pool
        and records NaN average precision.
    budget : int, default=2000
        Labels acquired after the seed (the seed is not counted). The last
        batch is shortened to end exactly at the budget.
    n_seed_positives, n_seed_negatives : int, default=5 and 95
        Size of the random seed. ``n_seed_negatives=0`` starts from positives
        only. A concept with fewer pool positives uses all of them.
    n_repetitions : int, default=3
        Runs per concept and configuration, each with another seed.
    batch_size : int or None, default=None
        Rows per round; None uses each learner's ``batch_size``.
    share_index : bool, default=True
        Build each distinct neighbour index of the learners' pools once over
        the pool rows and share it across all runs, instead of once per run.
    random_state : int, RandomState instance or None, default=0
        Seeds of the seed sets and of the learners.
    as_frame : bool or "auto", default="auto"
        Return a :class:`pandas.DataFrame` (``"auto"``: when pandas is
        installed) or a list of dicts.
    verbose : bool, default=False
        Show a progress bar (needs tqdm: ``pip install "skseals[progress]"``).
    callback : callable, default=None
        Called as ``callback(learner, record)`` after every round.

    Returns
    -------
    results : pandas.DataFrame or list of dict
        One record per configuration, concept, repetition and round (round 0
        is the seed), with the fields of :data:`RECORD_FIELDS`:
        ``config``, ``concept``, ``repetition``, ``round``, ``n_labeled``
        (seed included), ``n_positives`` (labeled positives, seed included),
        ``average_precision`` (test split), ``recall`` (labeled positives /
        positives among the pool rows), ``pool_size``, ``pool_percent`` (of
        the pool rows), and the round's ``selection_seconds``,
        ``knn_seconds`` and ``training_seconds`` from ``learner.history_``.

    See Also
    --------
    summarize : Mean and standard deviation per configuration and labels.
    summary_table : One line per configuration (the paper's Table 2).

    Examples
    --------
    >>> from skseals import ActiveSearcher
    >>> from skseals.datasets import make_rare_concepts
    >>> from skseals.simulation import simulate
    >>> data = make_rare_concepts(3000, 16, n_concepts=2, prevalence=0.02,
    ...                           random_state=0)
    >>> learners = {"MLP-SEALS": ActiveSearcher(pool="knn", batch_size=20),
    ...             "MLP-Full": ActiveSearcher(pool="full", batch_size=20)}
    >>> results = simulate(learners, data.X, data.concepts, split=data.split,
    ...                    budget=60, n_repetitions=2, as_frame=False)
    >>> len(results)  # 2 configs x 2 concepts x 2 repetitions x 4 rounds
    32
    >>> sorted({r["n_labeled"] for r in results})
    [100, 120, 140, 160]
    """
    named = _named_learners(learners)
    _as_table([], as_frame)  # validates as_frame before any work
    budget = _check_count(budget, "budget", 0)
    n_seed_positives = _check_count(n_seed_positives, "n_seed_positives", 1)
    n_seed_negatives = _check_count(n_seed_negatives, "n_seed_negatives", 0)
    n_repetitions = _check_count(n_repetitions, "n_repetitions", 1)
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size", 1)
    if isinstance(concepts, Mapping):
        names, concepts = list(concepts), list(concepts.values())
    else:
        concepts = list(concepts)
        names = [f"concept_{c}" for c in range(len(concepts))]
    X = np.asarray(X)  # a memmap stays a view
    n = X.shape[0]
    concepts = _check_members(concepts, names, n)
    if split is None:
        pool_ids, test_ids = np.arange(n), np.empty(0, dtype=np.int64)
        X_pool = X
    else:
        split = np.asarray(split)
        if split.shape != (n,):
            raise ValueError(
                f"split must have one entry per row of X ({n}); got {split.shape}."
            )
        pool_ids, test_ids = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
        if pool_ids.size == 0:
            raise ValueError(
                "split has no pool row (0): the learners need rows to label; "
                "mark the held-out test rows 1 and the others 0."
            )
        X_pool = np.asarray(X[pool_ids])
    X_test = np.asarray(X[test_ids])
    if share_index:
        named = _share_indexes(named, X_pool)
    base_seed = int(check_random_state(random_state).randint(2**31 - 1))

    # Runs are generated as they go: their number may be large.
    runs = (
        (c, rep, name)
        for c in range(len(concepts))
        for rep in range(n_repetitions)
        for name in named
    )
    progress = None
    if verbose:
        tqdm = import_optional("tqdm.auto").tqdm
        total = len(concepts) * n_repetitions * len(named)
        progress = tqdm(total=total, desc="simulate", unit="run")
    records = []
    oracle = None
    for c, rep, name in runs:
        if oracle is None or oracle["concept"] != c:
            oracle = _oracle(c, concepts[c], n, pool_ids, test_ids)
            if oracle["positives"].size == 0:
                warnings.warn(
                    f"concept '{names[c]}' has no positive among the pool rows; "
                    "it is skipped.",
                    stacklevel=2,
                )
        if oracle["positives"].size:
            rng = np.random.default_rng([base_seed, c, rep])
            context = {"config": name, "concept": names[c], "repetition": rep}
            records.extend(
                _run(named[name], X_pool, X_test, oracle, rng, context, budget,
                     batch_size, (n_seed_positives, n_seed_negatives), callback)
            )  # fmt: skip
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    return _as_table(records, as_frame)


def _oracle(concept, members, n, pool_ids, test_ids):
    """True labels of one concept on the pool and the test rows."""
    pos_mask = np.zeros(n, dtype=bool)
    pos_mask[members] = True
    y_pool = pos_mask[pool_ids]
    return {
        "concept": concept,
        "y_pool": y_pool,
        "y_test": pos_mask[test_ids],
        "positives": np.flatnonzero(y_pool),
    }


def _run(template, X_pool, X_test, oracle, rng, context, budget, batch_size,
         seed_sizes, callback):  # fmt: skip
    """One run: seed, then rounds until the budget; returns its records."""
    y_pool = oracle["y_pool"]
    seed_pos, seed_neg = _seed_rows(rng, oracle["positives"], ~y_pool, *seed_sizes)
    learner = clone(template)
    if "random_state" in learner.get_params(deep=False):
        learner.set_params(random_state=int(rng.integers(2**31 - 1)))
    y = np.full(X_pool.shape[0], -1, dtype=np.int64)
    y[seed_neg], y[seed_pos] = 0, 1
    learner.fit(X_pool, y)
    b = batch_size or getattr(learner, "batch_size", 100)
    counts = {"found": int(seed_pos.size), "positives": oracle["positives"].size,
              "pool": X_pool.shape[0]}  # fmt: skip
    records, spent = [], 0
    while True:
        record = _record(learner, context, counts, oracle["y_test"], X_test)
        records.append(record)
        if callback is not None:
            callback(learner, record)
        if spent >= budget:
            break
        rows = np.asarray(learner.query(min(b, budget - spent)), dtype=np.int64)
        if rows.size == 0:
            break
        labels = y_pool[rows].astype(np.int64)
        learner.teach(rows, labels)
        counts["found"] += int(labels.sum())
        spent += rows.size
    logger.info(
        "%s / %s / rep %d: AP %.3f, recall %.3f after %d labels",
        *context.values(), record["average_precision"], record["recall"],
        record["n_labeled"],
    )  # fmt: skip
    return records


def _record(learner, context, counts, y_test, X_test):
    """One result record: the learner's last history entry plus test metrics."""
    hist = learner.history_[-1]
    if y_test.any():
        ap = float(average_precision_score(y_test, _positive_scores(learner, X_test)))
    else:
        ap = float("nan")
    return {
        **context,
        "round": int(hist["round"]),
        "n_labeled": int(hist["n_labeled"]),
        "n_positives": counts["found"],
        "average_precision": ap,
        "recall": counts["found"] / counts["positives"],
        "pool_size": int(hist["pool_size"]),
        "pool_percent": 100.0 * hist["pool_size"] / counts["pool"],
        "selection_seconds": float(hist["selection_seconds"]),
        "knn_seconds": float(hist["knn_seconds"]),
        "training_seconds": float(hist["training_seconds"]),
    }
