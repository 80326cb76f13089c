"""The unlabeled marker and the three small protocols the learners are built on.

Data flows one way: a learner asks its **candidate pool** which rows may be
queried, asks its **query strategy** to score those rows with the fitted
estimator, and the pool asks its **neighbour index** who is near whom. A pool
never knows labels it was not told; a strategy never draws random numbers (the
learner owns the one random state and breaks ties with it).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "UNLABELED",
    "METRICS",
    "QueryContext",
    "BaseQueryStrategy",
    "BaseCandidatePool",
    "BaseNeighborIndex",
]

#: Marks a row without a label in ``y`` (scikit-learn's semi-supervised
#: convention). Taught as a label, it means "seen, could not label": the row is
#: never offered again and is never trained on.
UNLABELED = -1

#: Metrics every neighbour index supports.
METRICS = ("cosine", "euclidean", "inner_product")


@dataclass
class QueryContext:
    """What a strategy may know about the round besides the rows it scores.

    Built by the learner once per round; every field is cheap (no field is
    O(n_samples)).

    Attributes
    ----------
    classes : ndarray or None
        ``classes_`` of the fitted estimator (None before it can be fitted).
    pos_label : object or None
        The class searched for (active search), or None.
    n_positive, n_negative : int
        Human labels of ``pos_label`` and of any other class so far.
    density_sum : ndarray of shape (n_features,) or None
        Sum of the L2-normalised embeddings of the current candidate pool, kept
        current by the pool as rows join and leave (for information density).
    density_count : int
        Number of rows summed in ``density_sum``.
    labeled_X : ndarray of shape (n_labeled, n_features) or None
        Embeddings of the labeled and pending rows (for diversity strategies).
    centroid : ndarray of shape (n_features,) or None
        Unit-norm centroid of the normalised embeddings of the labeled
        positives (of the labeled rows for an ActiveLearner), used to rank
        candidates while fewer than two classes are labeled (cold start).
    row_norms : ndarray of shape (n_rows,) or None
        L2 norms of the rows being scored, set only while the learner scores
        rows whose norms it keeps (a :class:`~skseals.pool.KNNPool`'s row
        cache), so that information density need not recompute them; None
        otherwise.
    extra : dict
        Empty by default; skseals neither fills nor reads it.

    Examples
    --------
    A strategy reads what it needs from the context, here the class searched
    for:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skseals.base import QueryContext
    >>> from skseals.query import MostLikelyPositive
    >>> clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]],
    ...                                ["a", "a", "b", "b"])
    >>> ctx = QueryContext(classes=clf.classes_, pos_label="a",
    ...                    n_positive=2, n_negative=2)
    >>> MostLikelyPositive().score(clf, np.array([[0.0], [3.0]]), ctx).round(2)
    array([0.81, 0.19])
    """

    classes: np.ndarray | None = None
    pos_label: object = None
    n_positive: int = 0
    n_negative: int = 0
    density_sum: np.ndarray | None = None
    density_count: int = 0
    labeled_X: np.ndarray | None = None
    centroid: np.ndarray | None = None
    row_norms: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class BaseQueryStrategy(BaseEstimator, metaclass=ABCMeta):
    """A query strategy scores candidate rows; higher means "label this first".

    Class attributes declare what the learner must provide:

    - ``requires_density``: the pool keeps ``QueryContext.density_sum`` current.
    - ``requires_labeled_X``: the learner fills ``QueryContext.labeled_X``.
    - ``sequential``: after each greedy pick, ``update_scores`` re-scores the
      remaining candidates (k-center greedy); otherwise a row is scored once per
      round.
    - ``requires_estimator``: scores need a fitted estimator (False for random,
      k-center and cold-start ranking).

    A strategy never refits the estimator and never draws random numbers.

    Examples
    --------
    A strategy that queries the rows nearest the decision boundary of a
    binary model, used by a learner like any strategy of :mod:`skseals.query`:

    >>> import numpy as np
    >>> from skseals import ActiveLearner, UNLABELED
    >>> from skseals.base import BaseQueryStrategy
    >>> class SmallestMargin(BaseQueryStrategy):
    ...     def check_estimator(self, estimator, **kwargs):
    ...         if not hasattr(estimator, "decision_function"):
    ...             raise TypeError("SmallestMargin needs decision_function.")
    ...     def score(self, estimator, X, context):
    ...         return -np.abs(estimator.decision_function(X))
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.full(20, UNLABELED)
    >>> y[[0, 19]] = [0, 1]
    >>> learner = ActiveLearner(query_strategy=SmallestMargin(), pool="full",
    ...                         random_state=0).fit(X, y)
    >>> learner.query(3).tolist()  # the boundary lies between rows 9 and 10
    [10, 9, 11]
    """

    requires_density = False
    requires_labeled_X = False
    sequential = False
    requires_estimator = True

    @abstractmethod
    def score(self, estimator, X, context):
        """Score rows of ``X`` (one float each, higher first; row-wise).

        Row-wise: a row's score depends on that row and ``context`` only, so
        the learner may score the candidates in blocks.

        Parameters
        ----------
        estimator : fitted classifier or None
            The learner's ``estimator_``; not to be modified. None may be
            passed when ``requires_estimator`` is False.
        X : array-like of shape (n_rows, n_features)
            The rows to score.
        context : QueryContext
            What else the round knows (classes, label counts, density...).

        Returns
        -------
        scores : ndarray of shape (n_rows,)
            Higher means "label this first"; NaN ranks last.
        """

    def check_estimator(self, estimator):
        """Raise TypeError if ``estimator`` cannot be used by this strategy.

        The learner calls it with each estimator it fits (in ``fit`` and
        ``teach``, when ``requires_estimator``), so that an unusable pair is
        refused there rather than in ``query()``. This default
        accepts every estimator; the strategies of :mod:`skseals.query` also
        take ``classes=`` (those an unfitted estimator will be fitted on).

        Parameters
        ----------
        estimator : estimator object
            The classifier the learner fits.
        """

    def check_params(self):
        """Raise if a parameter is invalid (an error that names it).

        The learner calls it in ``fit``, so that a bad parameter is refused
        there rather than in ``query()``. This default checks the class's
        ``_parameter_constraints`` (scikit-learn's declarative validation)
        when it declares them; a strategy made of others checks them too.

        Raises
        ------
        ValueError or TypeError
            If a parameter is invalid (``InvalidParameterError``).
        """
        if hasattr(self, "_parameter_constraints"):
            self._validate_params()

    def update_scores(self, scores, X, x_picked, context):
        """Re-score after a greedy pick (only for ``sequential`` strategies).

        This default returns ``scores`` unchanged.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Current scores of the rows of ``X`` (not to be modified).
        X : array-like of shape (n_rows, n_features)
            The candidates still available.
        x_picked : ndarray of shape (n_features,) or (n_picked, n_features)
            Embedding(s) of the row(s) just picked.
        context : QueryContext
            As for :meth:`score`.

        Returns
        -------
        scores : ndarray of shape (n_rows,)
            The new scores of the rows of ``X``.
        """
        return scores


class BaseCandidatePool(BaseEstimator, metaclass=ABCMeta):
    """Which rows may be queried this round.

    A pool is fitted with the data, the learner's set of unavailable rows
    (``excluded``: labeled, skipped and pending rows, a shared
    :class:`~skseals.utils.RowBitmap` the learner updates) and the rows labeled
    so far; it never sees labels.

    Examples
    --------
    A pool needs :meth:`fit` and :meth:`candidates`; the other methods have
    defaults. Here the candidates are the available rows of even id (this
    pool keeps no density sum, so ``"information_density"`` cannot use it):

    >>> import numpy as np
    >>> from skseals import ActiveLearner, UNLABELED
    >>> from skseals.base import BaseCandidatePool
    >>> class EvenRows(BaseCandidatePool):
    ...     def fit(self, X, excluded, labeled_rows, *, track_density=False):
    ...         self.n_samples_fit_ = X.shape[0]
    ...         self.excluded_ = excluded  # shared: the learner keeps it current
    ...         return self
    ...     def candidates(self):
    ...         even = np.arange(0, self.n_samples_fit_, 2)
    ...         return even[~self.excluded_.contains(even)]
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.full(20, UNLABELED)
    >>> y[[0, 19]] = [0, 1]
    >>> learner = ActiveLearner(pool=EvenRows(), random_state=0).fit(X, y)
    >>> learner.query(3).tolist()
    [10, 8, 12]
    >>> learner.candidate_indices().tolist()  # row 0 is labeled, 3 are pending
    [2, 4, 6, 14, 16, 18]
    """

    #: True when candidates are every available row (the learner then scores X
    #: in contiguous blocks instead of gathering rows).
    scans_all = False
    #: True when ``expand`` may add rows within a batch (SEALS).
    expands = False

    @abstractmethod
    def fit(self, X, excluded, labeled_rows, *, track_density=False):
        """Seed the pool; ``excluded`` is shared with the learner.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The learner's rows (an ndarray, a memmap or a lazily read array).
        excluded : RowBitmap
            The rows that may not be queried (labeled, skipped, pending). The
            learner keeps this object current: keep a reference, do not copy.
        labeled_rows : ndarray of int64
            The rows labeled so far (the seeds of a SEALS pool).
        track_density : bool, default=False
            Keep ``density_`` (the sum of the candidates' unit-norm
            embeddings) current, for strategies with ``requires_density``.

        Returns
        -------
        self : BaseCandidatePool
            The fitted pool.
        """

    @abstractmethod
    def candidates(self):
        """Sorted int64 array of the current candidates (none excluded).

        Returns
        -------
        rows : ndarray of int64
            Row ids into X, sorted, none of them in ``excluded``.
        """

    def candidate_block(self):
        """``(rows, block, available)``: candidates and their rows of X, ready to score.

        ``block`` is ``None`` when the pool keeps no copy of its rows (the
        caller then reads ``X[rows]``). ``rows`` may include rows that became
        unavailable: ``available`` is then a boolean mask of the rows to keep
        (the caller drops the others), and ``None`` when every row is. This
        default returns ``(candidates(), None, None)``.
        """
        return self.candidates(), None, None

    def block_norms(self):
        """L2 norms of the rows of :meth:`candidate_block`'s block, when the
        pool keeps them (information density then reuses them), else None."""
        return None

    def block_codes(self):
        """int8 codes of the rows of :meth:`candidate_block`'s block, when the
        pool keeps them, else None: ``(codes, scales, slack, norms)`` of
        ``skseals.pool._int8_kernels.int8_codes``, which bound a linear
        model's decision values (a learner then scores only the rows that can
        rank among a round's best). This default returns None."""
        return None

    def size(self):
        """Number of current candidates."""
        return int(self.candidates().shape[0])

    def begin_round(self, random_state):
        """Called once at the start of each ``query()``."""

    def prefetch(self, rows):
        """Hint: ``expand`` will likely be called on these rows this round.

        This default does nothing.

        Parameters
        ----------
        rows : ndarray of int64
            Rows likely to be picked this round.
        """

    def add_near(self, vectors, n_neighbors=None):
        """Add the nearest available rows of ``vectors``; return rows that joined.

        Pools whose candidates are every row (or a random subset) add nothing.

        Parameters
        ----------
        vectors : array-like of shape (n_vectors, n_features)
            Points to search around (in the index's feature space).
        n_neighbors : int or None, default=None
            Rows searched per vector; None means the pool's own number.

        Returns
        -------
        joined : ndarray of int64
            The rows that joined the candidates (this default: none).
        """
        return np.empty(0, dtype=np.int64)

    def begin_batch(self, rows, exclude):
        """Start the within-batch expansion of one round (model fixed).

        ``rows`` are the round's best-scored candidates (likely picks);
        ``exclude(rows)`` marks picks unavailable. Returns an object with
        ``joined_after(row)`` (excludes ``row`` and returns the rows that join
        the pool because it was picked) and ``finish()``. This default calls
        :meth:`prefetch` on ``rows``, then :meth:`expand` per pick.
        :class:`~skseals.pool.KNNPool` returns instead an object that reads
        the neighbour lists of many rows at once (``lists(rows)``), so that the
        greedy loop scores the rows they could add in one batch and applies
        every join at the end (``finish(picks)``).
        """
        return _RowByRowBatch(self, rows, exclude)

    def expand(self, row):
        """``row`` was just picked (and excluded); return rows that joined."""
        self.leave([row])
        return np.empty(0, dtype=np.int64)

    def update(self, rows):
        """``rows`` were just labeled (and excluded); grow the pool around them."""
        self.leave(rows)

    def leave(self, rows):
        """``rows`` (picked or labeled, and excluded) left the candidates: drop
        them from the density sum, if kept.

        The greedy loop calls it with the picks of a pool that does not expand;
        an expanding pool is told of each pick through :meth:`expand` (or its
        :meth:`begin_batch` object).
        """
        density = getattr(self, "density_", None)
        if density is not None:
            density.remove(rows)

    def rejoin(self, rows):
        """``rows``, picked by an earlier round and never labeled, are released
        by the learner (still excluded during this call, available after it):
        make them candidates again.

        This default counts them in the density sum again, if kept; a pool
        whose candidates are every available row needs nothing else.

        Parameters
        ----------
        rows : ndarray of int64
            Distinct row ids.
        """
        density = getattr(self, "density_", None)
        if density is not None:
            density.add(rows)

    # -- undoing a round -------------------------------------------------------
    def checkpoint(self):
        """Mark the start of a ``query()`` round, so that it can be undone.

        The learner calls it before anything changes, then :meth:`commit` when
        the round returns or :meth:`rollback` when it raises. Between the two,
        the pool records what it needs to undo the round (here the changes of
        the density sum; a pool with more state extends the three methods),
        at a cost proportional to the changes, never to ``n_samples``.

        Returns
        -------
        checkpoint : dict
            Opaque; passed back to :meth:`commit` or :meth:`rollback`.
        """
        density = getattr(self, "density_", None)
        if density is not None:
            density.checkpoint()
        return {"density": density}

    def commit(self, checkpoint):
        """The round begun at ``checkpoint`` completed: stop recording."""
        if checkpoint["density"] is not None:
            checkpoint["density"].commit()

    def rollback(self, checkpoint, rows):
        """Undo the round begun at ``checkpoint``, which raised.

        ``rows`` (int64) are the rows the round excluded, which the learner
        has made available again; the pool is back as it was, and picks as it
        did, before the round.
        """
        if checkpoint["density"] is not None:
            checkpoint["density"].rollback()

    def density(self):
        """``(sum of unit-norm candidate embeddings, count)`` or ``(None, 0)``."""
        density = getattr(self, "density_", None)
        if density is None:
            return None, 0
        return density.sum, density.count

    def pop_knn_seconds(self):
        """Seconds spent in neighbour search since the last call."""
        return 0.0

    def get_state(self):
        """The fitted state as a dict of numpy arrays (for saved sessions)."""
        return {}

    def set_state(self, X, excluded, state, index=None):
        """Restore what :meth:`get_state` returned, without searching anything."""
        return self


class _RowByRowBatch:
    """Within-batch expansion through the per-row pool protocol."""

    def __init__(self, pool, rows, exclude):
        self._pool, self._exclude = pool, exclude
        pool.prefetch(rows)

    def joined_after(self, row):
        self._exclude(np.array([row], dtype=np.int64))
        return self._pool.expand(row)

    def finish(self):
        pass


def _is_index_like(obj):
    """Whether ``obj`` answers as a neighbour index: ``fit``, ``search`` and
    ``search_rows`` (a :class:`BaseNeighborIndex`, or any object with them)."""
    calls = ("fit", "search", "search_rows")
    return all(callable(getattr(obj, name, None)) for name in calls)


class BaseNeighborIndex(BaseEstimator, metaclass=ABCMeta):
    """A nearest-neighbour index over the rows of the X it was fitted on.

    Distances are returned ascending: ``1 - cos`` for ``"cosine"``, the L2
    distance for ``"euclidean"`` and ``-<q, x>`` for ``"inner_product"``.
    Missing results (fewer than ``n_neighbors`` allowed rows, or an approximate
    index that found fewer) are padded with index ``-1`` and distance ``inf``.

    A fitted index is shared, not copied, by :func:`sklearn.base.clone`, so one
    index built once serves many learners.

    Examples
    --------
    The contract, shown with :class:`~skseals.neighbors.ExactIndex`: row 1 is
    excluded and only two rows are left, so the third result is padding.

    >>> import numpy as np
    >>> from skseals.neighbors import ExactIndex
    >>> from skseals.utils import RowBitmap
    >>> index = ExactIndex(metric="euclidean").fit(np.array([[0.0], [1.0], [3.0]]))
    >>> skip = RowBitmap(3)
    >>> skip.add([1])
    >>> dist, ind = index.search(np.array([[0.9]]), 3, exclude=skip)
    >>> ind.tolist(), dist.tolist()
    ([[0, 2, -1]], [[0.9, 2.1, inf]])
    >>> index.search_rows([2], 2)[1].tolist()  # a row is its own first neighbour
    [[2, 1]]
    """

    @abstractmethod
    def fit(self, X, y=None):
        """Build the index over every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to index; row ``i`` gets id ``i``.
        y : None
            Ignored.

        Returns
        -------
        self : BaseNeighborIndex
            The fitted index.
        """

    @abstractmethod
    def search(self, Q, n_neighbors, *, exclude=None):
        """k nearest indexed rows of each query vector, skipping ``exclude``.

        Parameters
        ----------
        Q : array-like of shape (n_queries, n_features)
            Query vectors.
        n_neighbors : int
            Neighbours wanted per query.
        exclude : RowBitmap or None, default=None
            Rows never returned (the learner's labeled and pending rows).

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), dtype float32
            Ascending per query; ``inf`` where a result is missing.
        indices : ndarray of shape (n_queries, n_neighbors), dtype int64
            Row ids, nearest first; ``-1`` where a result is missing (fewer
            than ``n_neighbors`` rows left after ``exclude``, or an
            approximate index that found fewer).
        """

    @abstractmethod
    def search_rows(self, rows, n_neighbors, *, exclude=None):
        """k nearest indexed rows of indexed rows ``rows`` (self not dropped).

        Parameters
        ----------
        rows : array-like of int
            Ids of indexed rows, used as queries (read from the indexed data).
        n_neighbors : int
            Neighbours wanted per row; a row not excluded is its own nearest
            neighbour and counts among them.
        exclude : RowBitmap or None, default=None
            Rows never returned.

        Returns
        -------
        distances : ndarray of shape (len(rows), n_neighbors), dtype float32
            Ascending per row; ``inf`` where a result is missing.
        indices : ndarray of shape (len(rows), n_neighbors), dtype int64
            Row ids, nearest first; ``-1`` where a result is missing.
        """

    def __sklearn_clone__(self):
        if getattr(self, "n_samples_fit_", None) is not None:
            return self
        return super().__sklearn_clone__()

    def __sklearn_is_fitted__(self):
        # n_samples_fit_ is None while a fit is under way
        return getattr(self, "n_samples_fit_", None) is not None
