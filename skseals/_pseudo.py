"""Pseudo-negatives (Mullapudi et al.): machine-labeled negatives from the bottom
of the ranking."""

from __future__ import annotations

import numpy as np

from .utils import map_row_blocks, sample_available

__all__ = ["n_pseudo_negatives", "draw_pseudo_negatives", "positive_scores"]

#: Rows sampled per pseudo-negative drawn on a pool that does not scan all rows.
_OVERSAMPLE = 10
_MIN_SAMPLE = 1000


def n_pseudo_negatives(fraction, n_positive, n_negative):
    """Mullapudi et al.'s count: f·(|Lp| + 0.1·|Ln|), rounded."""
    return int(round(fraction * (n_positive + 0.1 * n_negative)))


def positive_scores(estimator, X, pos=None, neg=None):
    """How positive each row looks to ``estimator`` (higher = more positive).

    ``pos`` is the positive class (active search), or ``neg`` the negative
    class: every other class is then positive and the score is ``-P(neg)``.
    Uses ``predict_proba`` where there is one, else a binary
    ``decision_function``. A cold-start estimator (one class) ranks by cosine
    similarity to the centroid of its class: the score is that similarity when
    the class is positive, and minus it when the class is the negative one (the
    rows most like the negatives rank lowest). An estimator fitted before
    ``neg`` was first labeled, on other classes only, ranks no row above
    another (every score is 0: the draw is then uniform).
    """
    classes = list(estimator.classes_)
    if pos is None and len(classes) > 1 and neg not in classes:
        return np.zeros(X.shape[0], dtype=np.float64)
    if len(classes) == 1 or not hasattr(estimator, "predict_proba"):
        df = np.asarray(estimator.decision_function(X), dtype=np.float64)
        if df.ndim > 1:
            raise TypeError(
                "pseudo_negatives needs predict_proba or a binary decision_function."
            )
        # High values side with the last class: the upper class of a binary
        # decision function, or the one class whose centroid a cold start uses.
        upper = classes[-1]
        upper_is_pos = upper == pos if pos is not None else upper != neg
        return df if upper_is_pos else -df
    proba = estimator.predict_proba(X)
    if pos is not None:
        return proba[:, classes.index(pos)]
    return -proba[:, classes.index(neg)]


def _rank_block(block, start, stop, rank):
    return rank(block)


def draw_pseudo_negatives(X, excluded, count, rank, random_state, *, scans_all):
    """``count`` available rows drawn uniformly from the bottom half of the ranking.

    With ``scans_all`` (a full-scan pool) every available row is ranked. Else,
    to keep the cost independent of ``n_samples``, a uniform sample of
    ``max(10·count, 1000)`` available rows is ranked and the rows below the
    sample's median stand for the bottom half of the whole ranking (an
    approximation: the sample median estimates the population median).
    """
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    if scans_all:
        rows = np.flatnonzero(~excluded.dense()).astype(np.int64)
    else:
        size = max(_OVERSAMPLE * count, _MIN_SAMPLE)
        rows = sample_available(excluded, size, random_state)
    if rows.size == 0:
        return rows
    if scans_all:
        # Every available row: ranked block by block through joblib (on a Dask
        # cluster under parallel_config(backend="dask")), concatenated in order.
        parts = map_row_blocks(
            _rank_block, rows.shape[0], 65536, X=X, rows=rows, args=(rank,)
        )
    else:
        parts = [rank(X[rows[s : s + 65536]]) for s in range(0, rows.shape[0], 65536)]
    scores = np.concatenate(parts)
    median = np.median(scores)
    bottom = rows[scores < median]
    if bottom.size == 0:  # ties everywhere: everything is "at the median"
        bottom = rows[scores <= median]
    take = min(count, bottom.shape[0])
    return np.sort(random_state.choice(bottom, take, replace=False)).astype(np.int64)
