"""ActiveLearner: the fit -> query -> teach loop for any classifier."""

from __future__ import annotations

from ._active import _BaseActive

__all__ = ["ActiveLearner"]


class ActiveLearner(_BaseActive):
    """Pool-based active learning of a classifier with SEALS candidate pools.

    Each round, ``query()`` scores the candidate pool with the fitted
    estimator and returns the rows a human should label; ``teach()`` records
    the labels and refits. With the default ``pool="knn"`` the candidates are
    the nearest unlabeled neighbours of the labeled rows (SEALS), so a round
    costs work proportional to the pool, not to ``n_samples``.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier (a Pipeline included), cloned and refit on
        the labeled rows after each ``teach()``. ``None`` means
        ``LogisticRegression(max_iter=1000)``.
    query_strategy : str or strategy object, default="entropy"
        "entropy", "margin", "least_confidence", "most_likely_positive",
        "information_density", "random", "kcenter", "adaptive",
        "query_anywhere" (binary linear models), or an object from
        :mod:`skseals.query` (cloned in ``fit``).
    pool : {"knn", "full", "random"} or pool object, default="knn"
        Candidate pool: :class:`~skseals.pool.KNNPool` (SEALS),
        :class:`~skseals.pool.FullScanPool` or
        :class:`~skseals.pool.RandomSubsetPool` (cloned in ``fit``).
    batch_size : int, default=100
        Rows returned by ``query()`` when it is called without a size.
    pseudo_negatives : float >= 0, default=0.0
        Mullapudi et al.'s pseudo-negatives: at each refit, ``f·(|Lp| + 0.1·|Ln|)``
        unlabeled rows drawn uniformly from the bottom half of the current
        ranking join the training set as negatives (0 turns it off). For an
        ActiveLearner the negative class is the most frequent labeled class
        (none are drawn before two classes are labeled); ``|Lp|`` counts the other
        labeled rows. See ``pseudo_negatives_``.
    journal : str or path-like, default=None
        A file that makes the session durable: every ``teach()`` appends its
        rows and labels (skips included) and fsyncs before returning. ``fit``
        with an existing journal replays it on top of ``y``, so a crashed
        session resumes with every label whose ``teach()`` had returned. A torn
        last record is ignored; a journal written for other data is refused.
        The journal ``fit`` opens stays in force until the next ``fit``.
    random_state : int, RandomState instance or None, default=None
        The one source of randomness: tie-breaking, random pools,
        pseudo-negatives, and the seed of an index the pool builds in ``fit``
        (``KNNPool(random_state=None)`` over an alias or an unfitted index left
        unseeded), so that the same int gives the same queries.

    Attributes
    ----------
    estimator_ : classifier
        The estimator fitted on the labeled rows. While fewer than two classes
        are labeled it is a ``CentroidClassifier`` ranking rows by cosine
        similarity to the labeled rows' centroid (see ``cold_start_``).
    classes_ : ndarray
        Classes labeled so far (an :class:`ActiveSearcher`: its negative and
        positive labels, from ``fit`` on). ``predict_proba`` has one column
        per class, in this order, even while the model has seen fewer.
    labels_ : ndarray of shape (n_samples,)
        Every row's label, ``UNLABELED`` where unknown.
    n_labeled_ : int
        Rows with a human label (skips not counted).
    query_strategy_, pool_ : objects
        The resolved strategy and the fitted pool.
    history_ : list of dict
        One entry per round (round 0 is ``fit``): ``n_labeled``, ``pool_size``
        and the seconds spent in selection, neighbour search and training;
        ``refit_error`` when the round's refit failed (see ``teach``).
    pseudo_negatives_ : ndarray of int64
        Rows used as pseudo-negatives in the last refit (sorted). They are
        machine labels: never in ``labels_``, never counted in ``n_labeled_``,
        and still unlabeled candidates.
    random_state_ : RandomState
        The random state in use.
    X_ : ndarray
        The X passed to ``fit`` (a reference).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skseals import ActiveLearner, UNLABELED
    >>> X, y_true = make_classification(n_samples=2000, random_state=0)
    >>> y = np.full(2000, UNLABELED)
    >>> y[:20] = y_true[:20]
    >>> learner = ActiveLearner(batch_size=10, random_state=0).fit(X, y)
    >>> for _ in range(5):
    ...     rows = learner.query()
    ...     learner = learner.teach(rows, y_true[rows])   # a human would label
    >>> learner.n_labeled_
    70
    >>> len(learner.history_)
    6
    """

    def __init__(
        self,
        estimator=None,
        *,
        query_strategy="entropy",
        pool="knn",
        batch_size=100,
        pseudo_negatives=0.0,
        journal=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.pool = pool
        self.batch_size = batch_size
        self.pseudo_negatives = pseudo_negatives
        self.journal = journal
        self.random_state = random_state
