"""The compiled greedy loop over a KNNGraph picks exactly as the interpreted one."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import skseals._greedy as greedy_module
from skseals import ActiveLearner, ActiveSearcher
from skseals.datasets import make_rare_concepts
from skseals.neighbors import KNNGraph
from skseals.pool import KNNPool

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def data():
    d = make_rare_concepts(3000, 16, n_concepts=3, prevalence=0.02, random_state=1)
    truth = np.zeros(d.X.shape[0], dtype=bool)
    truth[d.concepts[0]] = True
    return d.X, truth


@pytest.fixture(scope="module")
def graphs(data):
    X, _ = data
    return {w: KNNGraph(n_neighbors=w, index="exact").fit(X) for w in (12, 30)}


class _Counting:
    """graph_kernels() whose greedy kernel counts its calls and stops."""

    def __init__(self, kernels):
        self.unscored, self._greedy = kernels
        self.calls = self.stops = 0

    def greedy(self, *args):
        out = self._greedy(*args)
        self.calls += 1
        self.stops += out[0] >= 0
        return out

    def __call__(self):
        return self.unscored, self.greedy


def _run(X, truth, pool, *, cls, strategy, b, seed, rounds=6, estimator=None):
    rng = np.random.RandomState(seed)
    y = np.full(X.shape[0], -1)
    y[rng.choice(np.flatnonzero(truth), 3, replace=False)] = 1
    y[rng.choice(np.flatnonzero(~truth), 10, replace=False)] = 0
    lr = cls(
        LogisticRegression() if estimator is None else estimator,
        pool=pool,
        query_strategy=strategy,
        batch_size=b,
        random_state=seed,
    ).fit(X, y)
    history = []
    for r in range(rounds):
        rows = lr.query()
        history.append(rows.tolist())
        if r % 2 == 0:  # every other batch stays pending: more exclusions
            lr.teach(rows, truth[rows].astype(int))
    history.append(lr.candidate_indices().tolist())
    return history


def _both_loops(monkeypatch, scenario):
    """``scenario()`` run with the interpreted loop, then the compiled one:
    ``(interpreted result, compiled result, counting kernels)``."""
    counting = _Counting(greedy_module.graph_kernels())
    monkeypatch.setattr(greedy_module, "graph_kernels", lambda: None)
    interpreted = scenario()
    monkeypatch.setattr(greedy_module, "graph_kernels", counting)
    return interpreted, scenario(), counting


@pytest.mark.parametrize(
    "width, k, b, strategy, cls",
    [
        (12, 12, 40, "entropy", ActiveLearner),  # whole lists, many stops
        (30, 5, 7, "entropy", ActiveLearner),  # lists read k + 7 deep
        (30, 10, 40, "margin", ActiveLearner),  # lists read k + 16 deep
        (30, 30, 1, "most_likely_positive", ActiveSearcher),
        (30, 3, 40, "most_likely_positive", ActiveSearcher),
        (12, 4, 20, "information_density", ActiveLearner),
    ],
)
def test_compiled_loop_picks_as_the_interpreted_loop(
    data, graphs, monkeypatch, width, k, b, strategy, cls
):
    X, truth = data
    pool = KNNPool(n_neighbors=k, index=graphs[width])
    interpreted, compiled, counting = _both_loops(
        monkeypatch,
        lambda: [
            _run(X, truth, pool, cls=cls, strategy=strategy, b=b, seed=seed)
            for seed in range(2)
        ],
    )
    assert counting.calls >= 12  # the compiled loop ran every round
    assert compiled == interpreted
    if b >= 20:
        assert counting.stops > 0  # picks that joined the round read their lists


def _small_graph(n, *, positives, width, seed):
    """``(X, truth, graph)``: n random rows of 5 features, the first
    ``positives`` of them positive, and an exact graph of ``width`` lists."""
    X = np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32)
    truth = np.zeros(n, dtype=bool)
    truth[:positives] = True
    return X, truth, KNNGraph(n_neighbors=width, index="exact").fit(X)


def test_compiled_loop_with_fewer_candidates_than_picks(monkeypatch):
    # 60 rows, 4 neighbours each: the pool starts far smaller than the batch,
    # every joined row can be picked, and the table is read from a memmap.
    X, truth, graph = _small_graph(60, positives=6, width=4, seed=3)
    interpreted, compiled, counting = _both_loops(
        monkeypatch,
        lambda: _run(
            X, truth, KNNPool(n_neighbors=4, index=graph), cls=ActiveSearcher,
            strategy="most_likely_positive", b=25, seed=0, rounds=3,
        ),
    )  # fmt: skip
    assert counting.calls >= 3  # one loop per round, more when it stopped
    assert compiled == interpreted
    assert len(compiled[0]) == 25  # joined rows were picked in round 1


@pytest.mark.parametrize("b", [10**11, 2**64])
def test_compiled_loop_with_a_batch_far_beyond_the_rows(monkeypatch, b):
    # A batch larger than the data (up to beyond int64) picks every row it
    # can reach, as the interpreted loop does, without sizing arrays by it.
    X, truth, graph = _small_graph(300, positives=10, width=6, seed=4)
    interpreted, compiled, counting = _both_loops(
        monkeypatch,
        lambda: _run(
            X,
            truth,
            KNNPool(n_neighbors=4, index=graph),
            cls=ActiveLearner,
            strategy="entropy",
            b=b,
            seed=0,
            rounds=1,
        ),
    )
    assert counting.calls >= 1
    assert compiled == interpreted
    assert len(compiled[0]) > 100


def test_compiled_loop_reads_a_memory_mapped_table(data, graphs, tmp_path, monkeypatch):
    X, truth = data
    graphs[12].save(tmp_path / "g.npy")
    mapped = KNNGraph.load(tmp_path / "g.npy", mmap_mode="r")
    assert isinstance(mapped.neighbors_, np.memmap)
    counting = _Counting(greedy_module.graph_kernels())
    monkeypatch.setattr(greedy_module, "graph_kernels", counting)
    runs = [
        _run(X, truth, KNNPool(8, index=graph), cls=ActiveLearner,
             strategy="entropy", b=30, seed=0)
        for graph in (graphs[12], mapped)
    ]  # fmt: skip
    assert counting.calls >= 12  # both ran compiled
    assert runs[0] == runs[1]


class _RowwiseLogistic(LogisticRegression):
    """Probabilities that depend on the row alone, not on the rows scored with
    it: BLAS's matrix-vector product may round a row's value differently at
    another position of another block, which splits exact ties."""

    def predict_proba(self, X):
        z = np.einsum("ij,j->i", np.asarray(X, np.float64), self.coef_[0])
        p = 1.0 / (1.0 + np.exp(-(z + self.intercept_[0])))
        return np.column_stack([1.0 - p, p])


def test_compiled_loop_breaks_ties_as_the_interpreted_loop(monkeypatch):
    # Every row five times: a joined row ties with its copies among the
    # round's best candidates, and ties go to the lower tie-break key.
    base = make_rare_concepts(400, 8, n_concepts=1, prevalence=0.05, random_state=2)
    X = np.repeat(base.X, 5, axis=0)
    truth = np.zeros(X.shape[0], dtype=bool)
    truth[np.repeat(np.isin(np.arange(400), base.concepts[0]), 5)] = True
    graph = KNNGraph(n_neighbors=10, index="exact").fit(X)
    interpreted, compiled, counting = _both_loops(
        monkeypatch,
        lambda: [
            _run(X, truth, KNNPool(3, index=graph), cls=cls, strategy=strategy,
                 b=30, seed=seed, estimator=_RowwiseLogistic())
            for cls, strategy in [(ActiveLearner, "entropy"),
                                  (ActiveSearcher, "most_likely_positive")]
            for seed in range(3)
        ],
    )  # fmt: skip
    assert counting.stops > 0
    assert compiled == interpreted


class _PartlyUndefined(_RowwiseLogistic):
    """NaN probabilities for the rows whose first feature exceeds 0.3 (13 %
    of them), as for non-finite rows."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 0] > 0.3] = np.nan
        return proba


def test_compiled_loop_ranks_nan_scores_last(data, graphs, monkeypatch):
    X, truth = data
    interpreted, compiled, counting = _both_loops(
        monkeypatch,
        lambda: _run(
            X, truth, KNNPool(6, index=graphs[12]), cls=ActiveSearcher,
            strategy="most_likely_positive", b=40, seed=0,
            estimator=_PartlyUndefined(),
        ),
    )  # fmt: skip
    assert counting.stops > 0
    assert compiled == interpreted
