"""Every unlabeled row is a candidate: the paper's Algorithm 1 baseline."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from ..base import BaseCandidatePool
from ..utils import map_row_blocks
from ._density import DensitySum, unit_rows

__all__ = ["FullScanPool"]


def _density_block(block, start, stop, excluded):
    """Rows ``start:stop`` not excluded, and the sum of their unit embeddings."""
    mask = ~excluded.dense(start, stop)
    rows = np.arange(start, stop, dtype=np.int64)[mask]
    return rows, unit_rows(block[mask]).sum(axis=0)


class FullScanPool(BaseCandidatePool):
    """Candidate pool holding every unlabeled, unqueried row (classic active learning).

    Each round scores all ``n_samples`` rows: O(n·d) work, which is what SEALS
    avoids. The learner scores ``X`` in contiguous blocks (no gathered copy) and
    masks rows that are labeled, skipped or pending. Use it as the baseline the
    :class:`KNNPool` is compared with, or when ``n_samples`` is small.

    Parameters
    ----------
    block_size : int, default=65536
        Rows per block when seeding the information-density sum.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals import ActiveLearner
    >>> from skseals.pool import FullScanPool
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> y = np.full(50, -1); y[:4] = [0, 1, 0, 1]
    >>> learner = ActiveLearner(pool=FullScanPool(), random_state=0).fit(X, y)
    >>> learner.candidate_indices().shape
    (46,)
    """

    scans_all = True

    _parameter_constraints = {
        "block_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, block_size=65536):
        self.block_size = block_size

    def fit(self, X, excluded, labeled_rows, *, track_density=False):
        self._validate_params()
        self._excluded = excluded
        self.n_samples_fit_ = X.shape[0]
        self.density_ = None
        if track_density:
            # Blocks run through joblib (parallel_config(backend="dask") runs
            # them on a Dask cluster); their sums are added in block order.
            self.density_ = DensitySum(X, X.shape[0])
            parts = map_row_blocks(
                _density_block, X.shape[0], self.block_size, X=X, args=(excluded,)
            )
            for rows, block_sum in parts:
                self.density_.sum += block_sum
                self.density_.counted.add(rows)
        return self

    def candidates(self):
        return np.flatnonzero(~self._excluded.dense()).astype(np.int64)

    def size(self):
        return self.n_samples_fit_ - len(self._excluded)

    def get_state(self):
        return {} if self.density_ is None else self.density_.get_state()

    def set_state(self, X, excluded, state, index=None):
        self._excluded = excluded
        self.n_samples_fit_ = X.shape[0]
        self.density_ = None
        if "density_sum" in state:
            self.density_ = DensitySum.from_state(X, X.shape[0], state)
        return self
