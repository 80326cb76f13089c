"""A query() that raises part-way leaves the learner as it was.

Each test fits two twin learners with the same history, arms a fault at the
k-th call of one step of the round (a neighbour search, a read of a graph's
table, a scoring call, the pool's bookkeeping of the picks) on the first,
for k = 1, 2, ... until a round completes, and checks after every fault that
the first is in the state of the untouched second, then that both pick the
same rows from then on. Faults alternate between OSError and
KeyboardInterrupt.
"""

import numpy as np
import pytest

import skseals._greedy as greedy_module
from skseals import ActiveLearner
from skseals.base import BaseQueryStrategy
from skseals.neighbors import KNNGraph
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool
from skseals.query import QueryAnywhere

STRATEGIES = {
    "entropy": lambda: "entropy",
    "density": lambda: "information_density",
    "kcenter": lambda: "kcenter",
    "anywhere": lambda: QueryAnywhere("entropy"),
}


@pytest.fixture(scope="module")
def data(rare_concept_data):
    X, y = rare_concept_data
    truth = (np.arange(X.shape[0]) < 60).astype(int)
    return X, y, truth


@pytest.fixture(scope="module")
def graph(data):
    return KNNGraph(n_neighbors=30, index="exact").fit(data[0])


class _Fault:
    """Stands for ``obj.name``: raises at its ``at``-th call since armed."""

    def __init__(self, monkeypatch, obj, name, learner):
        self._call, self._learner = getattr(obj, name), learner
        self.at = self.calls = 0
        self.fired_after_picks = False
        monkeypatch.setattr(obj, name, self)

    def arm(self, at):
        self.at, self.calls = at, 0
        self._excluded = len(self._learner.excluded_)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            self.fired_after_picks |= len(self._learner.excluded_) > self._excluded
            raise (KeyboardInterrupt if self.at % 2 else OSError)("injected fault")
        return self._call(*args, **kwargs)


class _NormalPool(RandomSubsetPool):
    """Draws a normal from the learner's generator at each round's start (its
    cached second Gaussian is state the round's rollback must restore)."""

    def begin_round(self, random_state):
        self.last_normal_ = random_state.standard_normal()
        super().begin_round(random_state)


def _pool(kind, graph):
    if kind == "exact":
        return KNNPool(8, index="exact")
    if kind == "exact-no-row-cache":
        return KNNPool(8, index="exact", row_cache=False)
    if kind.startswith("graph"):
        return KNNPool(8, index=graph)
    if kind == "normal":
        return _NormalPool(300)
    return FullScanPool() if kind == "full" else RandomSubsetPool(300)


def _twin(data, pool, strategy):
    """A learner with labels, a taught batch and a pending one."""
    X, y, truth = data
    lr = ActiveLearner(
        pool=pool, query_strategy=strategy, batch_size=12, random_state=0
    ).fit(X, y)
    rows = lr.query()
    lr.teach(rows, truth[rows])
    lr.query()
    return lr


def _state(lr):
    """Everything a round reads or changes (the pool's row cache as the
    available rows it holds, in order: compacting it changes no pick)."""
    pool = lr.pool_
    state = {
        "candidates": lr.candidate_indices(),
        "pending": lr.pending_indices_,
        "labels": lr.labels_,
        "excluded": lr.excluded_.ids(),
        "rng": lr.random_state_.get_state()[1].tolist(),
        "rng position": lr.random_state_.get_state()[2],
        "rng gaussian": lr.random_state_.get_state()[3:],
    }
    for key, value in pool.get_state().items():
        if key != "build_seconds":
            state["pool " + key] = value
    if "pool cache_rows" in state:  # the lists cached, in any order
        rows = state.pop("pool cache_rows").tolist()
        lists = state.pop("pool cache_lists")
        lengths = state.pop("pool cache_lengths").tolist()
        state["pool cache"] = {
            row: lists[i, : lengths[i]].tolist() for i, row in enumerate(rows)
        }
    buffer = getattr(pool, "_buffer", None)
    if buffer is not None:
        held, _ = buffer.view()
        state["row cache"] = held[~lr.excluded_.contains(held)]
    return {
        key: value.tolist() if isinstance(value, np.ndarray) else value
        for key, value in state.items()
    }


def _sites(kind, learner):
    """The steps of a round a fault may hit: ``{name: (object, method)}``."""
    sites = {
        "score": (learner.query_strategy_, "score"),
        "leave": (learner.pool_, "leave"),
    }
    if kind.startswith("exact"):
        sites["search"] = (learner.pool_.index_, "search_rows")
    if kind.startswith("graph"):
        sites["table"] = (learner.pool_, "_neighbor_table")
    return sites


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize(
    "kind",
    [
        "exact",
        "exact-no-row-cache",
        "graph-interpreted",
        "graph-compiled",
        "full",
        "random",
        "normal",
    ],
)
def test_a_failed_query_leaves_the_learner_as_it_was(
    data, graph, kind, strategy, monkeypatch
):
    X, _, truth = data
    kernels = []
    if kind == "graph-interpreted":
        monkeypatch.setattr(greedy_module, "graph_kernels", lambda: None)
    if kind == "graph-compiled":
        pytest.importorskip("numba")
        graph_kernels = greedy_module.graph_kernels

        def counting():
            kernels.append(graph_kernels())
            return kernels[-1]

        monkeypatch.setattr(greedy_module, "graph_kernels", counting)
    make = STRATEGIES[strategy]
    failed = _twin(data, _pool(kind, graph), make())
    untouched = _twin(data, _pool(kind, graph), make())
    assert _state(failed) == _state(untouched)
    for name, (obj, method) in _sites(kind, failed).items():
        fault = _Fault(monkeypatch, obj, method, failed)
        for at in range(1, 100):
            fault.arm(at)
            try:
                rows = failed.query()
            except (OSError, KeyboardInterrupt):
                assert _state(failed) == _state(untouched), (name, at)
                continue
            break  # fewer than `at` calls: the round completed
        else:
            pytest.fail(f"{name}: a round made 100 calls")
        fault.arm(0)  # disarmed
        assert at > 1 or name == "table", f"no round calls {name}"
        if name == "leave" or (name == "search" and at > 2):
            assert fault.fired_after_picks  # rows were taken when it raised
        # Taught, the picks are the same as the untouched learner's.
        np.testing.assert_array_equal(rows, untouched.query())
        failed.teach(rows, truth[rows])
        untouched.teach(rows, truth[rows])
        assert _state(failed) == _state(untouched)
    np.testing.assert_array_equal(failed.query(), untouched.query())
    if kind == "graph-compiled" and strategy != "kcenter":
        assert kernels and kernels[0] is not None  # the compiled loop ran


class _WrongCount(BaseQueryStrategy):
    """Breaks the contract: returns ``extra`` scores more than rows (fewer when
    negative)."""

    def __init__(self, extra):
        self.extra = extra

    def score(self, estimator, X, context):
        scores = -np.abs(estimator.decision_function(X))
        if self.extra < 0:
            return scores[: self.extra]
        return np.r_[scores, np.ones(self.extra)]


@pytest.mark.parametrize("pool", ["knn", "full"])
@pytest.mark.parametrize("extra", [-1, 1, 100_000])
def test_a_strategy_with_the_wrong_number_of_scores_raises_and_takes_nothing(
    data, pool, extra
):
    X, y, _ = data
    make = {"knn": lambda: KNNPool(10, index="exact"), "full": FullScanPool}[pool]
    lr = ActiveLearner(query_strategy=_WrongCount(extra), pool=make(), random_state=0)
    lr.fit(X, y)
    rng = lr.random_state_.get_state()[1].copy()
    candidates = lr.candidate_indices().copy()
    n_excluded = len(lr.excluded_)
    with pytest.raises(ValueError, match="_WrongCount.score.. returned .* one score"):
        lr.query()
    assert len(lr.pending_indices_) == 0 and len(lr.excluded_) == n_excluded
    np.testing.assert_array_equal(lr.random_state_.get_state()[1], rng)
    np.testing.assert_array_equal(lr.candidate_indices(), candidates)


class _RecordsConfig(BaseQueryStrategy):
    """Records scikit-learn's assume_finite while it scores; raises when told."""

    def __init__(self, fail=False):
        self.fail = fail

    def score(self, estimator, X, context):
        import sklearn

        self.seen_ = sklearn.get_config()["assume_finite"]
        if self.fail:
            raise OSError("injected fault")
        return -np.abs(estimator.decision_function(X))


@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("before", [False, True])
def test_the_round_assumes_finite_rows_and_restores_the_setting(data, fail, before):
    import sklearn

    X, y, _ = data
    strategy = _RecordsConfig()
    lr = ActiveLearner(query_strategy=strategy, pool=FullScanPool(), random_state=0)
    lr.fit(X, y)  # (fit scores a few rows to check the strategy)
    lr.query_strategy_.fail = fail
    with sklearn.config_context(assume_finite=before, working_memory=77):
        if fail:
            with pytest.raises(OSError):
                lr.query()
        else:
            lr.query()
        assert lr.query_strategy_.seen_ is True
        config = sklearn.get_config()
        assert config["assume_finite"] is before
        assert config["working_memory"] == 77


class _DrawsNormals(BaseQueryStrategy):
    """Draws normals from numpy's global generator while it scores, as code
    run in a round may; raises when told."""

    def __init__(self, fail=False):
        self.fail = fail

    def score(self, estimator, X, context):
        noise = np.random.standard_normal(X.shape[0]) * 1e-9  # noqa: NPY002
        if self.fail:
            raise KeyboardInterrupt
        return -np.abs(estimator.decision_function(X)) + noise


@pytest.mark.parametrize("later_param", [None, 0], ids=["as-fitted", "set-params"])
def test_numpys_global_generator_is_restored_with_its_cached_gaussian(
    data, later_param
):
    # random_state=None: the learner draws from numpy's global generator,
    # which other code run in the round shares; random_state set to an int
    # after fit (no refit) leaves the learner drawing from it still.
    X, y, _ = data
    lr = ActiveLearner(
        query_strategy=_DrawsNormals(), pool=KNNPool(10, index="exact")
    ).fit(X, y)
    lr.set_params(random_state=later_param)
    rng = lr.random_state_
    assert rng is np.random.mtrand._rand
    rng.standard_normal(3)  # leaves a Gaussian cached
    name, key, pos, has_gauss, gauss = rng.get_state()
    lr.query_strategy_.fail = True
    with pytest.raises(KeyboardInterrupt):
        lr.query()
    after = rng.get_state()
    np.testing.assert_array_equal(after[1], key)
    assert after[2:] == (pos, has_gauss, gauss)


def _twins(data, pool, strategy="entropy", rounds=0, b=10):
    """Two learners with the same history of ``rounds`` taught rounds."""
    X, y, truth = data
    pair = []
    for _ in range(2):
        lr = ActiveLearner(
            query_strategy=strategy, pool=pool(), batch_size=b, random_state=0
        ).fit(X, y)
        for _ in range(rounds):
            rows = lr.query()
            lr.teach(rows, truth[rows])
        pair.append(lr)
    return pair


class _InterruptedAfter(list):
    """An id-chunk list whose next append raises KeyboardInterrupt: a Ctrl-C
    right after a bitmap's bits were set, before its bookkeeping."""

    def append(self, x):
        raise KeyboardInterrupt


def _exact_pool():
    return KNNPool(10, index="exact")


@pytest.mark.parametrize("bitmap", ["pending_", "excluded_"])
@pytest.mark.parametrize(
    "pool", [lambda: RandomSubsetPool(0.1), _exact_pool], ids=["random", "exact"]
)
def test_a_bitmap_update_interrupted_after_its_bits_is_settled(data, bitmap, pool):
    lr, twin = _twins(data, pool)
    bits = getattr(lr, bitmap)
    bits._added = _InterruptedAfter(bits._added)
    with pytest.raises(KeyboardInterrupt):
        lr.query()
    bits._added = list(bits._added)
    for learner in (lr, twin):  # (the counts the pools size themselves by)
        assert len(learner.pending_) == 0
    assert len(lr.excluded_) == len(twin.excluded_) == lr.excluded_.ids().size
    np.testing.assert_array_equal(lr.excluded_.ids(), twin.excluded_.ids())
    np.testing.assert_array_equal(lr.query(), twin.query())


def test_a_row_cache_compaction_that_fails_leaves_the_cache_as_it_was(
    data, monkeypatch
):
    # Compaction runs inside a round (the pool's block holds more than a
    # quarter of rows no longer available): out of memory half-way, it must
    # not leave rows and their values misaligned.
    from skseals.pool import _buffer

    make = lambda: KNNPool(8, index="exact")  # noqa: E731
    lr, twin = _twins(data, make, strategy="information_density", rounds=11, b=40)
    held, block = (a.copy() for a in lr.pool_._buffer.view())
    real = _buffer._PerRow.compacted
    calls = []

    def fails(self, keep, size):
        calls.append(size)
        if len(calls) == 2:  # the codes', after the norms' were copied
            raise MemoryError
        return real(self, keep, size)

    monkeypatch.setattr(_buffer._PerRow, "compacted", fails)
    with pytest.raises(MemoryError):
        lr.query()
    monkeypatch.setattr(_buffer._PerRow, "compacted", real)
    assert calls  # (the round did compact)
    now_held, now_block = lr.pool_._buffer.view()
    np.testing.assert_array_equal(now_held, held)
    np.testing.assert_array_equal(now_block, block)
    for _ in range(3):
        rows = lr.query()
        np.testing.assert_array_equal(rows, twin.query())
        for learner in (lr, twin):
            learner.teach(rows, data[2][rows])
