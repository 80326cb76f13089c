"""SEALS semantics of the candidate pools."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs

from skseals import UNLABELED, ActiveLearner, ActiveSearcher
from skseals.base import QueryContext
from skseals.neighbors import ExactIndex, KNNGraph
from skseals.pool import FullScanPool, KNNPool, RandomSubsetPool
from skseals.pool._density import unit_rows
from skseals.query import MaxEntropy
from skseals.utils import tie_break_keys

STRATEGIES = [
    "entropy",
    "margin",
    "least_confidence",
    "most_likely_positive",
    "information_density",
    "random",
    "kcenter",
    "adaptive",
]


def _plain_greedy_picks(lr, X, b, neighbours):
    """Algorithm 2 written plainly, from the learner's state: each pick is the
    best-scored row of the pool as it stands (the strategy's score; ties to
    the lower tie-break key of the round's seed, which the next query() draws
    first), then the rows ``neighbours(row, taken)`` join. Returns the picks
    and the final pool."""
    seed = copy.deepcopy(lr.random_state_).randint(
        0, np.iinfo(np.int64).max, dtype=np.int64
    )
    score = lr.query_strategy_.score(lr.estimator_, X, QueryContext())
    keys = tie_break_keys(np.arange(len(X)), int(seed))
    pool = set(lr.candidate_indices().tolist())
    taken = set(np.flatnonzero(lr.labels_ != UNLABELED).tolist())
    picks = []
    for _ in range(b):
        avail_pool = sorted(pool - taken)
        if not avail_pool:
            break
        row = min(avail_pool, key=lambda r: (-score[r], keys[r]))
        picks.append(row)
        taken.add(row)
        pool |= neighbours(row, taken)
    return picks, pool - taken


@pytest.fixture(scope="module")
def data():
    X, y_true = make_blobs(
        n_samples=400, centers=4, n_features=5, cluster_std=2.0, random_state=1
    )
    y_true = (y_true == 0).astype(int)
    y = np.full(400, UNLABELED)
    y[np.flatnonzero(y_true == 1)[:4]] = 1
    y[np.flatnonzero(y_true == 0)[:6]] = 0
    return X.astype(np.float32), y, y_true


def _cosine_knn_unlabeled(X, rows, available, k):
    U = unit_rows(X)
    out = set()
    for r in rows:
        sim = U[available] @ U[r]
        order = np.lexsort((available, -sim))[:k]
        out |= set(available[order].tolist())
    return out


def test_initial_pool_is_union_of_knn_of_labeled_rows(data):
    X, y, _ = data
    lr = ActiveSearcher(pool=KNNPool(7, index="exact"), random_state=0).fit(X, y)
    labeled = np.flatnonzero(y != UNLABELED)
    available = np.flatnonzero(y == UNLABELED)
    expected = _cosine_knn_unlabeled(X, labeled, available, 7)
    assert set(lr.candidate_indices().tolist()) == expected


def test_within_batch_expansion_and_after_teach(data):
    X, y, y_true = data
    k = 3
    lr = ActiveSearcher(
        pool=KNNPool(k, index="exact"), batch_size=30, random_state=0
    ).fit(X, y)
    initial = set(lr.candidate_indices().tolist())
    assert len(initial) < 30  # fewer candidates than the batch at the start
    picks = lr.query()
    assert len(picks) == 30  # the pool grew while the batch was selected
    grown = set(initial)
    taken = set(np.flatnonzero(y != UNLABELED).tolist())
    for row in picks.tolist():
        assert row in grown  # every pick came from the pool as it stood
        taken.add(row)
        avail = np.array(sorted(set(range(len(X))) - taken))
        grown |= _cosine_knn_unlabeled(X, [row], avail, k)
    lr.teach(picks, y_true[picks])
    cand = set(lr.candidate_indices().tolist())
    assert not cand & set(picks.tolist())
    assert cand == grown - taken


@pytest.mark.parametrize(
    # (5, 80): some lists lose more rows to the round's picks than they were
    # read beyond k, and are searched again at their pick.
    "k, b",
    [(3, 30), (10, 8), (1, 40), (5, 20), (20, 15), (8, 25), (5, 80)],
)
def test_picks_are_the_plain_greedy_loops_picks(data, k, b):
    # Reference: Algorithm 2 written plainly. Each pick is the best-scored row
    # of the pool as it stands; its k nearest available rows then join.
    X, y, y_true = data
    lr = ActiveLearner(
        batch_size=b, pool=KNNPool(k, index="exact"), random_state=0
    ).fit(X, y)
    for _ in range(3):

        def neighbours(row, taken):
            avail = np.array(sorted(set(range(len(X))) - taken))
            return _cosine_knn_unlabeled(X, [row], avail, k)

        expected, pool_after = _plain_greedy_picks(lr, X, b, neighbours)
        rows = lr.query()
        assert rows.tolist() == expected
        assert set(lr.candidate_indices().tolist()) == pool_after
        lr.teach(rows, y_true[rows])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_knn_pool_covering_all_rows_equals_full_scan(data, strategy):
    X, y, y_true = data
    n = len(X)
    runs = []
    for pool in (FullScanPool(), KNNPool(n - 1, index=ExactIndex())):
        lr = ActiveSearcher(
            query_strategy=strategy, pool=pool, batch_size=9, random_state=42
        ).fit(X, y)
        seq = []
        for _ in range(3):
            rows = lr.query()
            seq.append(rows)
            lr.teach(rows, y_true[rows])
        runs.append(np.concatenate(seq))
    np.testing.assert_array_equal(runs[0], runs[1])


class RecordingEntropy(MaxEntropy):
    scored = []

    def score(self, estimator, X, context):
        RecordingEntropy.scored.extend(map(bytes, np.asarray(X)))
        return super().score(estimator, X, context)


def test_a_round_scores_each_row_at_most_once(data):
    X, y, y_true = data
    k, b = 5, 10
    row_of = {bytes(x): i for i, x in enumerate(X)}
    lr = ActiveLearner(
        query_strategy=RecordingEntropy(),
        batch_size=b,
        pool=KNNPool(k, index="exact"),
        random_state=0,
    ).fit(X, y)
    for _ in range(3):
        RecordingEntropy.scored.clear()
        before = set(lr.candidate_indices().tolist())
        rows = lr.query()
        after = set(lr.candidate_indices().tolist())
        scored = [row_of[v] for v in RecordingEntropy.scored]
        assert len(scored) == len(set(scored))  # nobody scored twice
        assert before | (after - before) | set(rows.tolist()) <= set(scored)
        assert len(scored) <= len(before) + b * (k + b)
        lr.teach(rows, y_true[rows])


def test_pool_growth_per_round_is_bounded(data):
    X, y, y_true = data
    k, b = 4, 6
    lr = ActiveSearcher(
        pool=KNNPool(k, index="exact"), batch_size=b, random_state=0
    ).fit(X, y)
    for _ in range(5):
        before = set(lr.candidate_indices().tolist())
        rows = lr.query()
        lr.teach(rows, y_true[rows])
        after = set(lr.candidate_indices().tolist())
        assert len(after - before) <= k * b
        assert before - after <= set(rows.tolist())  # only picked rows left


def _density_learner(cls, pool, X, y, batch_size):
    return cls(
        query_strategy="information_density",
        pool=pool,
        batch_size=batch_size,
        random_state=0,
    ).fit(X, y)


def _assert_density_sums_the_candidates(lr, X):
    total, count = lr.pool_.density()
    cand = lr.candidate_indices()
    assert count == len(cand)
    np.testing.assert_allclose(total, unit_rows(X[cand]).sum(axis=0), atol=1e-6)
    return cand


def test_density_sum_tracks_the_pool(data):
    X, y, y_true = data
    for pool in (KNNPool(5, index="exact"), FullScanPool(), RandomSubsetPool(50)):
        lr = _density_learner(ActiveSearcher, pool, X, y, 7)
        for _ in range(3):
            rows = lr.query()
            lr.teach(rows, y_true[rows])
        lr.pool_.begin_round(lr.random_state_)
        _assert_density_sums_the_candidates(lr, X)


@pytest.mark.parametrize("cls", [ActiveLearner, ActiveSearcher])
def test_full_scan_ranks_pending_rows_out_as_a_knn_pool_holding_every_row(data, cls):
    # Rows returned by query() and not taught are no candidates: a second
    # query() ranks by the density of the same rows on both pools.
    X, y, _ = data
    n = len(X)
    runs = []
    for pool in (FullScanPool(), KNNPool(n, index="exact")):
        lr = _density_learner(cls, pool, X, y, 9)
        runs.append([lr.query().tolist() for _ in range(2)])
        assert len(_assert_density_sums_the_candidates(lr, X)) == n - 10 - 18
    assert runs[0] == runs[1]


def test_random_subset_pool_is_fresh_sized_and_available(data):
    X, y, y_true = data
    lr = ActiveSearcher(
        pool=RandomSubsetPool(40), query_strategy="random", batch_size=5, random_state=0
    ).fit(X, y)
    seen = []
    for _ in range(3):
        lr.pool_.begin_round(lr.random_state_)
        cand = lr.candidate_indices()
        assert len(cand) == 40 and len(np.unique(cand)) == 40
        assert not np.isin(cand, np.flatnonzero(lr.labels_ != UNLABELED)).any()
        seen.append(set(cand.tolist()))
        rows = lr.query()
        lr.teach(rows, y_true[rows])
    assert seen[0] != seen[1] != seen[2]
    frac = ActiveSearcher(pool=RandomSubsetPool(0.1), random_state=0).fit(X, y)
    frac.pool_.begin_round(frac.random_state_)
    assert len(frac.candidate_indices()) == int(np.ceil(0.1 * (400 - 10)))


@pytest.mark.parametrize("k, b, width", [(5, 8, 30), (2, 100, 150)])
def test_knn_graph_pool_matches_index_pool(data, k, b, width):
    X, y, y_true = data
    graph = KNNGraph(n_neighbors=width, index=ExactIndex()).fit(X)
    runs = []
    for index in (ExactIndex(), graph):
        # k well below the graph's width: look-ups find k available neighbours.
        # Stored lists are read k + min(b, 16) deep; with b = 100, picks take more
        # than that from some lists, which must then be read again (a width
        # of 150 keeps every list from running out of stored rows).
        lr = ActiveSearcher(
            pool=KNNPool(k, index=index), batch_size=b, random_state=0
        ).fit(X, y)
        run = []
        for _ in range(3):
            rows = lr.query()
            run.append((set(lr.candidate_indices().tolist()), rows.tolist()))
            lr.teach(rows, y_true[rows])
        runs.append(run)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("k, b", [(4, 10), (8, 30)])
def test_graph_pool_picks_are_the_plain_greedy_loops_picks(data, k, b):
    # A graph that stores exactly k neighbours: a pick adds those of its k
    # stored neighbours still available (Algorithm 2 over the stored lists).
    X, y, y_true = data
    graph = KNNGraph(n_neighbors=k, index=ExactIndex()).fit(X)
    pool = KNNPool(k, index=graph)
    lr = ActiveLearner(batch_size=b, pool=pool, random_state=0).fit(X, y)
    for _ in range(3):

        def neighbours(row, taken):
            return {int(j) for j in graph.neighbors_[row] if j not in taken}

        expected, pool_after = _plain_greedy_picks(lr, X, b, neighbours)
        rows = lr.query()
        assert rows.tolist() == expected
        assert set(lr.candidate_indices().tolist()) == pool_after
        lr.teach(rows, y_true[rows])


def test_a_list_that_runs_short_of_k_rows_is_searched_again(data):
    # A live index's list is read a few rows deeper than k; when the round's
    # picks take more than that from it, it must be searched again at its
    # pick, which then returns the k nearest rows still available.
    X, y, _ = data
    k = 5
    lr = ActiveLearner(batch_size=50, pool=KNNPool(k, index="exact"), random_state=0)
    lr.fit(X, y)
    rows = lr.candidate_indices()[:50]
    batch = lr.pool_.begin_batch(rows, lr.excluded_.add)
    row = int(rows[0])
    _, _, entries = batch.lists(rows[:1])
    assert entries.shape[0] > k  # read deeper than k
    picked = {row, *entries[: entries.shape[0] - k + 1].tolist()}
    assert not batch.may_run_short(row, {row})
    assert batch.may_run_short(row, picked)
    lr.excluded_.add(np.array(sorted(picked)))
    _, _, again = batch.lists(np.array([row]))
    available = np.array(sorted(set(range(len(X))) - set(lr.excluded_.ids().tolist())))
    assert set(again[:k].tolist()) == _cosine_knn_unlabeled(X, [row], available, k)
    assert not batch.may_run_short(row, picked)


def test_a_graph_list_is_read_as_deep_as_k_needs_and_again_when_short(data):
    # A stored list wider than k is read only k + min(b, 16) available rows
    # deep (the rows beyond could join only if most rows before them were
    # picked), and read again, past the picked rows, when it may run short.
    X, y, _ = data
    k = 5
    graph = KNNGraph(n_neighbors=40, index=ExactIndex()).fit(X)
    lr = ActiveLearner(batch_size=50, pool=KNNPool(k, index=graph), random_state=0)
    lr.fit(X, y)
    rows = lr.candidate_indices()[:50]
    batch = lr.pool_.begin_batch(rows, lr.excluded_.add)
    row = int(rows[0])

    def stored_available():
        stored = graph.neighbors_[row]
        return [int(j) for j in stored[~lr.excluded_.contains(stored)]]

    _, _, entries = batch.lists(rows[:1])
    assert entries.tolist() == stored_available()[: k + 16]
    picked = {row, *entries[: entries.shape[0] - k + 1].tolist()}
    assert not batch.may_run_short(row, {row})
    assert batch.may_run_short(row, picked)
    lr.excluded_.add(np.array(sorted(picked)))
    _, _, again = batch.lists(np.array([row]))
    assert again.tolist() == stored_available()[: k + 16]
    assert not set(again.tolist()) & picked
    assert not batch.may_run_short(row, picked)


def test_a_pool_that_only_expands_row_by_row_picks_the_same(data):
    # The greedy loop over a pool with only the per-row protocol (expand) gives
    # the picks of the batched neighbour lists.
    from skseals.base import BaseCandidatePool

    class RowByRowPool(KNNPool):
        def begin_batch(self, rows, exclude):
            return BaseCandidatePool.begin_batch(self, rows, exclude)

    X, y, y_true = data
    runs = []
    for pool in (KNNPool(6, index="exact"), RowByRowPool(6, index="exact")):
        lr = ActiveLearner(batch_size=20, pool=pool, random_state=2).fit(X, y)
        run = []
        for _ in range(3):
            rows = lr.query()
            run.append((rows.tolist(), lr.candidate_indices().tolist()))
            lr.teach(rows, y_true[rows])
        runs.append(run)
    assert runs[0] == runs[1]


def test_a_graph_narrower_than_k_is_announced(data):
    X, y, _ = data
    graph = KNNGraph(n_neighbors=4, index="exact").fit(X)
    with pytest.warns(UserWarning, match="stores 4 neighbours per row") as caught:
        learner = ActiveSearcher(pool=KNNPool(9, index=graph)).fit(X, y)
    assert caught[0].filename == __file__  # points at the caller's line
    assert learner.pool_.size() <= 4 * (y != -1).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ActiveSearcher(pool=KNNPool(4, index=graph)).fit(X, y)


def test_prebuilt_index_on_other_rows_is_refused(data):
    X, y, _ = data
    index = ExactIndex().fit(X[:100])
    with pytest.raises(ValueError, match="100 rows"):
        ActiveSearcher(pool=KNNPool(5, index=index)).fit(X, y)


@pytest.mark.parametrize("index", ["exact", "faiss", "graph"])
def test_k_beyond_the_rows_searches_at_most_every_row(data, index, monkeypatch):
    # k = 10**9 means "every row": the same picks as k = n, and no search is
    # asked for more than n neighbours (deeper lists would only be padding).
    X, y, _ = data
    n = X.shape[0]
    depths = []

    def run(k):
        idx = (
            KNNGraph(n_neighbors=30, index="exact").fit(X)
            if index == "graph"
            else index
        )
        lr = ActiveSearcher(pool=KNNPool(k, index=idx), batch_size=20, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # k beyond the graph
            lr.fit(X, y)
        for method in ("search_rows", "neighbor_ids"):
            inner = getattr(lr.pool_.index_, method, None)
            if inner is not None:

                def spy(rows, k, *args, _inner=inner, **kwargs):
                    depths.append(k)
                    return _inner(rows, k, *args, **kwargs)

                monkeypatch.setattr(lr.pool_.index_, method, spy)
        picks = [lr.query()]
        lr.teach(picks[0], np.zeros(len(picks[0]), dtype=int))
        picks.append(lr.query())
        return np.concatenate(picks), lr.candidate_indices().size

    huge = run(10**9)
    assert max(depths, default=0) <= n
    assert depths or index == "graph"  # a graph's table may be read directly
    assert np.array_equal(huge[0], run(n)[0]) and huge[1] == run(n)[1]


def test_row_cache_changes_no_pick_and_holds_the_pools_rows(data):
    X, y, y_true = data
    runs = []
    for row_cache in (True, False):
        lr = ActiveLearner(
            query_strategy="information_density",
            batch_size=25,
            pool=KNNPool(6, index="exact", row_cache=row_cache),
            random_state=3,
        ).fit(X, y)
        seq = []
        for _ in range(5):
            rows = lr.query()
            seq.append(rows)
            lr.teach(rows, y_true[rows])
            rows_held, block, mask = lr.pool_.candidate_block()
            if row_cache:
                np.testing.assert_array_equal(block, X[rows_held])
                available = rows_held[~lr.excluded_.contains(rows_held)]
                if mask is None:
                    assert len(available) == len(rows_held)
                else:
                    np.testing.assert_array_equal(rows_held[mask], available)
                np.testing.assert_array_equal(
                    np.sort(available), lr.candidate_indices()
                )
                # compacted whenever more than a quarter of it left the pool
                assert 4 * (len(rows_held) - len(available)) <= len(rows_held)
            else:
                assert block is None
        runs.append(np.concatenate(seq))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_information_density_reuses_the_row_cache_norms(data, monkeypatch):
    # The pool keeps each cached row's norm, computed once, equal to what
    # information density computes; a round's block is scored with them.
    import skseals.query._density as density
    from skseals.query._search import row_norms

    X, y, y_true = data
    calls = []
    unit_dot = density._unit_dot

    def recording(X, v, norms=None):
        calls.append((len(X), norms is not None))
        if norms is not None:  # the norms of these rows (kept, or gathered)
            np.testing.assert_array_equal(norms, row_norms(X))
        return unit_dot(X, v, norms)

    monkeypatch.setattr(density, "_unit_dot", recording)
    lr = ActiveLearner(
        query_strategy="information_density",
        batch_size=10,
        pool=KNNPool(6, index="exact"),
        random_state=0,
    ).fit(X, y)
    for _ in range(3):
        calls.clear()
        rows_held, _, _ = lr.pool_.candidate_block()
        lr.teach(rows := lr.query(), y_true[rows])
        # The pool's block (with numba, only the rows that can be picked).
        assert calls[0][1] and 10 <= calls[0][0] <= len(rows_held)
        assert all(not given for _, given in calls[1:])  # rows joining
        _, block, _ = lr.pool_.candidate_block()
        np.testing.assert_array_equal(lr.pool_.block_norms(), row_norms(block))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_buffer_norms_follow_appends_and_compaction(dtype):
    from skseals.pool._buffer import RowBuffer
    from skseals.query._search import row_norms

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 7)).astype(dtype)
    buffer = RowBuffer(X)
    buffer.append(np.arange(50))
    assert buffer.norms().dtype == dtype
    buffer.append(np.arange(100, 366))  # grows the capacity past the norms
    buffer.norms()
    buffer.compact(rng.random(len(buffer)) > 0.3)
    buffer.append(np.arange(400, 450))  # not normed yet
    buffer.compact(rng.random(len(buffer)) > 0.3)  # drops the norms kept
    buffer.append(np.arange(460, 470))
    rows, block = buffer.view()
    np.testing.assert_array_equal(block, X[rows])
    np.testing.assert_array_equal(buffer.norms(), row_norms(block))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_buffer_codes_follow_appends_and_compaction(dtype):
    from skseals.pool._buffer import RowBuffer

    int8_codes = pytest.importorskip("skseals.pool._int8_kernels").int8_codes

    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 7)).astype(dtype)
    buffer = RowBuffer(X)
    assert [a.shape for a in buffer.codes()] == [(0, 7), (0,), (0,), (0,)]
    buffer.append(np.arange(50))
    buffer.codes()
    buffer.append(np.arange(100, 366))  # grows the capacity past the codes
    buffer.codes()
    buffer.compact(rng.random(len(buffer)) > 0.3)
    buffer.append(np.arange(400, 450))  # not coded yet
    buffer.norms()  # the norms kept apart from the codes
    buffer.compact(rng.random(len(buffer)) > 0.3)
    buffer.append(np.arange(460, 470))
    rows, block = buffer.view()
    for kept, fresh in zip(buffer.codes(), int8_codes(X[rows]), strict=True):
        np.testing.assert_array_equal(kept, fresh)
    assert buffer.nbytes > block.nbytes + rows.nbytes


class _DuckIndex:
    """A fitted index that is no BaseNeighborIndex: fit, search, search_rows."""

    def __init__(self, index):
        self.index, self.metric = index, index.metric
        self.n_samples_fit_ = index.n_samples_fit_

    def fit(self, X, y=None):
        self.index.fit(X)
        return self

    def search(self, Q, n_neighbors, *, exclude=None):
        return self.index.search(Q, n_neighbors, exclude=exclude)

    def search_rows(self, rows, n_neighbors, *, exclude=None):
        return self.index.search_rows(rows, n_neighbors, exclude=exclude)


def test_a_duck_typed_fitted_index_serves_as_the_index_object():
    from sklearn.datasets import make_blobs

    from skseals import ActiveLearner
    from skseals.neighbors import ExactIndex

    X, y_true = make_blobs(400, centers=3, n_features=5, random_state=0)
    y = np.full(400, -1)
    y[:6] = y_true[:6]
    exact = ExactIndex().fit(X)
    picks = [
        ActiveLearner(pool=KNNPool(8, index=index), batch_size=10, random_state=0)
        .fit(X, y)
        .query()
        for index in (exact, _DuckIndex(exact))
    ]
    np.testing.assert_array_equal(*picks)


def test_a_duck_typed_index_is_saved_by_reference(tmp_path):
    import skseals
    from skseals import ActiveLearner
    from skseals.neighbors import ExactIndex

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.full(300, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    duck = _DuckIndex(ExactIndex().fit(X))
    learner = ActiveLearner(pool=KNNPool(8, index=duck), random_state=0).fit(X, y)
    assert learner.pool_.index_ is duck  # shared, not deep-copied by clone()
    assert clone(learner).pool.index is duck
    with pytest.raises(TypeError, match="include_index=False"):
        learner.save(tmp_path / "with")
    learner.save(tmp_path / "s", include_index=False)
    resumed = skseals.load(tmp_path / "s", X, index=duck)
    np.testing.assert_array_equal(resumed.query(), learner.query())


def _release_pools(X):
    from skseals.neighbors import KNNGraph

    return {
        "knn": KNNPool(8, index="exact"),
        "knn-no-cache": KNNPool(8, index="exact", row_cache=False),
        "graph": KNNPool(8, index=KNNGraph(8, index="exact").fit(X)),
        "full": "full",
    }


@pytest.mark.parametrize("name", ["knn", "knn-no-cache", "graph", "full"])
def test_released_rows_are_candidates_again(name):
    from sklearn.datasets import make_blobs

    from skseals import ActiveSearcher
    from skseals.pool._density import unit_rows

    X, c = make_blobs(600, centers=4, n_features=6, random_state=0)
    X = X.astype(np.float32)
    y_true = (c == 0).astype(int)
    y = np.full(600, -1)
    y[np.flatnonzero(y_true)[:3]] = 1
    y[np.flatnonzero(y_true == 0)[:5]] = 0
    learner = ActiveSearcher(
        pool=_release_pools(X)[name],
        query_strategy="information_density",
        batch_size=30,
        random_state=0,
    ).fit(X, y)
    first = learner.query()
    assert not np.isin(first, learner.candidate_indices()).any()
    learner.pool_.candidate_block()  # the row cache drops them (over a quarter)
    with pytest.raises(ValueError, match="not pending"):
        learner.release([first[0], int(np.flatnonzero(y_true)[0])])  # a seed
    assert learner.pending_indices_.size == 30  # nothing released
    np.testing.assert_array_equal(learner.release(), np.sort(first))
    assert learner.pending_indices_.size == 0
    candidates = learner.candidate_indices()
    assert np.isin(first, candidates).all()
    total, count = learner.pool_.density()  # the density counts them again
    assert count == candidates.size
    np.testing.assert_allclose(total, unit_rows(X[candidates]).sum(axis=0), atol=1e-4)
    again = learner.query()
    if name == "full":  # the same model ranks the same rows first again
        np.testing.assert_array_equal(np.sort(again), np.sort(first))
    assert np.isin(again, first).sum() >= 20  # a grown pool: mostly the same


@pytest.mark.parametrize("strategy", ["entropy", "most_likely_positive", "kcenter"])
def test_full_scan_keeps_each_blocks_head_and_picks_as_the_whole_scan(
    strategy, monkeypatch
):
    """A full scan in blocks of 16 rows keeps each block's b best (and ties):
    the picks are those of scoring every row, ties across blocks included."""
    import skseals._querying as querying

    rng = np.random.default_rng(3)
    X = np.repeat(rng.normal(size=(40, 4)), 5, axis=0)  # each row five times
    y = np.full(200, UNLABELED)
    y[[0, 5, 100, 150]] = [0, 1, 0, 1]
    monkeypatch.setattr(querying, "_SCORE_CHUNK", 16)
    kept = []
    whole = querying.QueryMixin._score_all

    def spy(self, strategy, ctx, head=None):
        cand, scores = whole(self, strategy, ctx, head)
        kept.append(cand.size)
        return cand, scores

    def every_row(self, strategy, ctx, head=None):
        return whole(self, strategy, ctx, None)

    runs = []
    for score_all in (spy, every_row):
        monkeypatch.setattr(querying.QueryMixin, "_score_all", score_all)
        lr = ActiveLearner(
            query_strategy=strategy, pool=FullScanPool(), batch_size=7, random_state=0
        ).fit(X, y)
        runs.append([lr.query().tolist() for _ in range(3)])
    assert runs[0] == runs[1]
    if strategy == "kcenter":  # sequential: rescores every row after a pick
        assert min(kept) > 150
    else:  # about 7 of 16 rows per block (and ties), not all 196
        assert max(kept) < 150
