"""A fresh random subset of the unlabeled rows each round (the paper's RandPool)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, RealNotInt

from ..base import BaseCandidatePool
from ..utils import sample_available
from ._density import DensitySum

__all__ = ["RandomSubsetPool"]


class RandomSubsetPool(BaseCandidatePool):
    """Candidates are a new uniform random subset of the available rows each round.

    The comparison of SEALS §7.8 ("RandPool"): a pool of the same size as the
    SEALS pool but without the similarity structure. Sampling draws row ids
    uniformly and rejects unavailable ones, so a round costs O(pool size), not
    O(n_samples), while most rows are still unlabeled; the subset is drawn with
    the learner's random state.

    Parameters
    ----------
    fraction : float in (0, 1] or int >= 1, default=0.01
        Pool size: a fraction of the available rows, or a number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals import ActiveLearner
    >>> from skseals.pool import RandomSubsetPool
    >>> X = np.random.RandomState(0).normal(size=(1000, 4))
    >>> y = np.full(1000, -1); y[:4] = [0, 1, 0, 1]
    >>> learner = ActiveLearner(pool=RandomSubsetPool(50), batch_size=10,
    ...                         random_state=0).fit(X, y)
    >>> learner.query().shape
    (10,)
    >>> learner.candidate_indices().size  # the 50 rows drawn, less the 10 queried
    40
    """

    _parameter_constraints = {
        "fraction": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def __init__(self, fraction=0.01):
        self.fraction = fraction

    def fit(self, X, excluded, labeled_rows, *, track_density=False):
        self._validate_params()
        if isinstance(self.fraction, (bool, np.bool_)):
            raise TypeError(
                f"fraction={self.fraction!r}: give a float in (0, 1] (a share of "
                "the available rows) or an int >= 1 (a number of rows)."
            )
        self._X = X
        self._excluded = excluded
        self.n_samples_fit_ = X.shape[0]
        self._track_density = track_density
        self.density_ = None
        self._members = np.empty(0, dtype=np.int64)
        return self

    def _target_size(self, n_available):
        if isinstance(self.fraction, Integral):
            return min(int(self.fraction), n_available)
        return min(int(np.ceil(self.fraction * n_available)), n_available)

    def begin_round(self, random_state):
        n_available = self.n_samples_fit_ - len(self._excluded)
        m = self._target_size(n_available)
        rows = sample_available(self._excluded, m, random_state)
        self._members = rows.astype(np.int64)
        if self._track_density:
            self.density_ = DensitySum(self._X, self.n_samples_fit_)
            self.density_.add(self._members)

    def rejoin(self, rows):
        """Nothing to do: each round samples the available rows afresh."""

    def candidates(self):
        keep = ~self._excluded.contains(self._members)
        if not keep.all():
            self._members = self._members[keep]
        return self._members

    def checkpoint(self):
        """Mark the start of a round: its draw replaces the members and the
        density sum by new objects, so the old ones are kept."""
        mark = super().checkpoint()
        mark["members"] = self._members
        return mark

    def rollback(self, checkpoint, rows):
        super().rollback(checkpoint, rows)
        self._members, self.density_ = checkpoint["members"], checkpoint["density"]

    def get_state(self):
        state = {
            "members": self._members.copy(),
            "track_density": np.array(self._track_density),
        }
        if self.density_ is not None:
            state.update(self.density_.get_state())
        return state

    def set_state(self, X, excluded, state, index=None):
        self._X = X
        self._excluded = excluded
        self.n_samples_fit_ = X.shape[0]
        self._members = np.asarray(state["members"], dtype=np.int64)
        self._track_density = bool(state["track_density"])
        self.density_ = None
        if "density_sum" in state:
            self.density_ = DensitySum.from_state(X, X.shape[0], state)
        return self
