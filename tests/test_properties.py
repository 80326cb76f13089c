"""Pool and loop invariants, checked by Hypothesis over random sessions."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sklearn.datasets import make_blobs

import skseals
from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.neighbors import ExactIndex
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool

N = 150
X_ALL, _CENTERS = make_blobs(n_samples=N, centers=3, n_features=4, random_state=0)
X_ALL = X_ALL.astype(np.float32)
Y_TRUE = (_CENTERS == 0).astype(int)

POOLS = {
    "knn": lambda k: KNNPool(k, index=ExactIndex()),
    "full": lambda k: FullScanPool(),
    "random": lambda k: RandomSubsetPool(0.3),
}


class LoopMachine(RuleBasedStateMachine):
    """fit, then any interleaving of query (with or without teach), teach with
    skips, save -> load -> continue, and a crash followed by journal replay."""

    @initialize(
        strategy=st.sampled_from(
            [
                "entropy",
                "margin",
                "most_likely_positive",
                "information_density",
                "random",
                "kcenter",
                "adaptive",
                "least_confidence",
            ]
        ),
        pool=st.sampled_from(sorted(POOLS)),
        k=st.integers(1, 12),
        seed=st.integers(0, 2**16),
        searcher=st.booleans(),
    )
    def start(self, strategy, pool, k, seed, searcher):
        rng = np.random.RandomState(seed)
        y = np.full(N, UNLABELED)
        y[rng.choice(np.flatnonzero(Y_TRUE == 1), 2, replace=False)] = 1
        y[rng.choice(np.flatnonzero(Y_TRUE == 0), 3, replace=False)] = 0
        cls = ActiveSearcher if searcher else ActiveLearner
        self.k = k
        self.dir = Path(tempfile.mkdtemp(prefix="skseals-machine-"))
        self.y0 = y
        self.learner = cls(
            query_strategy=strategy,
            pool=POOLS[pool](k),
            batch_size=5,
            journal=str(self.dir / "journal"),
            random_state=seed,
        ).fit(X_ALL, y)
        self.labeled = set(np.flatnonzero(y != UNLABELED).tolist())
        self.skipped = set()
        self.pending = set()
        self.returned = []

    @rule(b=st.integers(1, 8))
    def query(self, b):
        before = set(self.learner.candidate_indices().tolist())
        rows = self.learner.query(b)
        after = set(self.learner.candidate_indices().tolist())
        assert len(rows) == len(set(rows.tolist()))
        assert len(rows) <= b
        assert not set(rows.tolist()) & (self.labeled | self.skipped | self.pending)
        if isinstance(self.learner.pool_, KNNPool):
            # picks come from the pool plus what joined within the batch
            assert set(rows.tolist()) <= before | after | set(rows.tolist())
            assert len(after - before) <= self.k * b
            assert before - after <= set(rows.tolist())
            if len(rows) < b:
                assert not after  # the pool ran out
        self.pending |= set(rows.tolist())
        self.returned.append(rows)

    @precondition(lambda self: self.pending)
    @rule(skip_first=st.booleans(), data=st.data())
    def teach_pending(self, skip_first, data):
        rows = np.array(sorted(self.pending))
        rows = rows[: data.draw(st.integers(1, len(rows)))]
        labels = Y_TRUE[rows].copy()
        if skip_first:
            labels[0] = UNLABELED
        before = set(self.learner.candidate_indices().tolist())
        self.learner.teach(rows, labels)
        after = set(self.learner.candidate_indices().tolist())
        if isinstance(self.learner.pool_, KNNPool):
            assert len(after - before) <= self.k * len(rows)
        self.pending -= set(rows.tolist())
        self.labeled |= set(rows[labels != UNLABELED].tolist())
        self.skipped |= set(rows[labels == UNLABELED].tolist())

    @rule()
    def save_load_continue(self):
        """A loaded copy continues exactly as the original does."""
        path = self.dir / "session"
        self.learner.save(path, overwrite=True)
        loaded = skseals.load(path, X_ALL)
        np.testing.assert_array_equal(
            loaded.candidate_indices(), self.learner.candidate_indices()
        )
        a, b = self.learner.query(3), loaded.query(3)
        np.testing.assert_array_equal(a, b)
        self.learner = loaded  # go on with the loaded copy
        self.pending |= set(b.tolist())

    @rule()
    def crash_and_replay_journal(self):
        """A new process fitted with the journal holds every taught label."""
        params = self.learner.get_params(deep=False)
        resumed = type(self.learner)(**params).fit(X_ALL, self.y0)
        assert (
            set(np.flatnonzero(resumed.labels_ != UNLABELED).tolist()) == self.labeled
        )
        assert set(resumed.skipped_.tolist()) == self.skipped
        np.testing.assert_array_equal(resumed.labels_, self.learner.labels_)

    def teardown(self):
        shutil.rmtree(getattr(self, "dir", ""), ignore_errors=True)

    @invariant()
    def candidates_disjoint_from_labeled_skipped_pending(self):
        cand = self.learner.candidate_indices()
        assert np.all(np.diff(cand) > 0)  # sorted, unique
        assert not set(cand.tolist()) & (self.labeled | self.skipped | self.pending)

    @invariant()
    def bookkeeping_agrees(self):
        lr = self.learner
        assert lr.n_labeled_ == len(self.labeled)
        assert set(np.flatnonzero(lr.labels_ != UNLABELED).tolist()) == self.labeled
        assert set(lr.skipped_.tolist()) == self.skipped
        assert set(lr.pending_indices_.tolist()) == self.pending
        assert len(lr.history_) >= 1


LoopMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLoop = LoopMachine.TestCase


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    strategy=st.sampled_from(["entropy", "random", "kcenter"]),
)
def test_same_random_state_same_sequence(seed, strategy):
    seqs = []
    for _ in range(2):
        y = np.full(N, UNLABELED)
        y[[0, 1, 2, 3]] = Y_TRUE[[0, 1, 2, 3]]
        y[np.flatnonzero(Y_TRUE == 1)[:2]] = 1
        lr = ActiveLearner(
            query_strategy=strategy,
            pool=KNNPool(6, index="exact"),
            batch_size=4,
            random_state=seed,
        ).fit(X_ALL, y)
        rows = [lr.query() for _ in range(3)]
        seqs.append(np.concatenate(rows))
    np.testing.assert_array_equal(*seqs)
