"""Without numba the numpy paths run, and pick what the compiled ones pick."""

import sys

import numpy as np
import pytest

import skseals._greedy as greedy_module
import skseals.utils._compiled as compiled_module
from skseals import ActiveLearner
from skseals.neighbors import KNNGraph
from skseals.pool import KNNPool

pytest.importorskip("numba")


def _picks(X, y, graph):
    lr = ActiveLearner(pool=KNNPool(5, index=graph), batch_size=20, random_state=0)
    lr.fit(X, y)
    return [lr.query().tolist() for _ in range(3)]


def test_without_numba_the_numpy_paths_run(monkeypatch):
    X = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    y = np.full(300, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    graph = KNNGraph(n_neighbors=5, index="exact").fit(X)
    with_numba = _picks(X, y, graph)
    assert greedy_module.graph_kernels() is not None

    monkeypatch.setattr(compiled_module, "_MODULES", {})
    monkeypatch.delitem(sys.modules, "skseals.pool._graph_kernels", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba fails
    assert greedy_module.graph_kernels() is None
    assert _picks(X, y, graph) == with_numba


def test_a_broken_kernel_module_is_not_hidden(monkeypatch):
    monkeypatch.setattr(compiled_module, "_MODULES", {})
    with pytest.raises(ModuleNotFoundError, match="no_such_kernels"):
        compiled_module.compiled("utils.no_such_kernels")


def test_without_a_cache_directory_the_numpy_paths_run(monkeypatch):
    def no_locator(name, package=None):
        raise RuntimeError(
            "cannot cache function 'unscored': no locator available for file 'x'"
        )

    monkeypatch.setattr(compiled_module, "_MODULES", {})
    monkeypatch.setattr(compiled_module, "_import", no_locator)
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        assert compiled_module.compiled("pool._graph_kernels") is None


def test_other_runtime_errors_are_not_hidden(monkeypatch):
    def broken(name, package=None):
        raise RuntimeError("something else")

    monkeypatch.setattr(compiled_module, "_MODULES", {})
    monkeypatch.setattr(compiled_module, "_import", broken)
    with pytest.raises(RuntimeError, match="something else"):
        compiled_module.compiled("pool._graph_kernels")


def test_compiled_bitmap_tests_agree_with_numpy(monkeypatch):
    from skseals.utils import RowBitmap

    rng = np.random.default_rng(0)
    s = RowBitmap(1003)
    s.add(rng.choice(1003, 300, replace=False))
    rows = rng.integers(0, 1003, 5000).astype(np.int64)
    compiled = s.contains_ids(rows)
    assert compiled.dtype == bool and compiled.sum() > 0
    expected = np.isin(rows, s.ids())
    np.testing.assert_array_equal(compiled, expected)
    # a strided or 2-d array takes the numpy path, with the same answers
    np.testing.assert_array_equal(s.contains_ids(rows[::2]), expected[::2])
    np.testing.assert_array_equal(
        s.contains_ids(rows.reshape(50, 100)), expected.reshape(50, 100)
    )
    with pytest.raises(IndexError):  # past the bitmap's bytes, as numpy
        s.contains_ids(np.array([5, 1008], dtype=np.int64))
    with pytest.raises(IndexError):
        s.contains_ids(np.array([5, -1], dtype=np.int64))

    monkeypatch.setattr(compiled_module, "_MODULES", {})
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "skseals.utils._bitmap_kernels", raising=False)
    np.testing.assert_array_equal(s.contains_ids(rows), expected)


def test_compiled_bitmap_updates_agree_with_numpy(monkeypatch):
    from skseals.utils import RowBitmap

    rng = np.random.default_rng(1)
    steps = [
        (op, rng.integers(0, 997, rng.integers(0, 300)).astype(np.int64))
        for op in rng.choice(["add", "discard"], 40)
    ]

    def replay():
        s = RowBitmap(997)
        seen = []
        for op, rows in steps:  # repeats and rows already in (or out of) the set
            getattr(s, op)(rows)
            seen.append((s.ids().copy(), len(s), s.version, s.bits.copy()))
        return seen

    compiled = replay()
    monkeypatch.setattr(compiled_module, "_MODULES", {})
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "skseals.utils._bitmap_kernels", raising=False)
    plain = replay()
    assert len(compiled[-1][0]) > 0
    for (ids_c, n_c, v_c, bits_c), (ids_p, n_p, v_p, bits_p) in zip(
        compiled, plain, strict=True
    ):
        np.testing.assert_array_equal(ids_c, ids_p)
        np.testing.assert_array_equal(bits_c, bits_p)
        assert (n_c, v_c) == (n_p, v_p) and n_c == ids_c.size


@pytest.mark.parametrize("k", [0, 1, 7, 50, 400])
def test_compiled_best_first_orders_as_top_k(k):
    from skseals.utils import tie_break_keys, top_k
    from skseals.utils._selection_kernels import best_first

    rng = np.random.default_rng(k)
    rows = rng.permutation(10_000)[:300].astype(np.int64)
    scores = rng.integers(0, 12, 300).astype(np.float64)  # many exact ties
    scores[rng.choice(300, 20, replace=False)] = np.nan
    scores[:5] = -np.inf
    seed = int(rng.integers(0, 2**63 - 1))
    positions, best, keys = best_first(rows, scores, np.uint64(seed), k)
    expected = top_k(scores, tie_break_keys(rows, seed), k)
    np.testing.assert_array_equal(positions, expected)
    np.testing.assert_array_equal(keys, tie_break_keys(rows[expected], seed))
    np.testing.assert_array_equal(
        best, np.where(np.isnan(scores[expected]), -np.inf, scores[expected])
    )


def test_compiled_best_first_with_every_score_tied():
    """A random strategy (or a tree's few probabilities) ties a whole pool:
    the lowest keys win, as with top_k (ties are sorted, not inserted)."""
    from skseals.utils import tie_break_keys, top_k
    from skseals.utils._selection_kernels import best_first

    rows = np.random.default_rng(0).permutation(200_000).astype(np.int64)
    scores = np.zeros(rows.size)
    positions, best, keys = best_first(rows, scores, np.uint64(11), 100)
    expected = top_k(scores, tie_break_keys(rows, 11), 100)
    np.testing.assert_array_equal(positions, expected)
    assert not best.any() and np.all(keys[1:] > keys[:-1])
