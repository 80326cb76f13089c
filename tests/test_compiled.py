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
