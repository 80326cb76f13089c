"""One thread budget for BLAS, faiss's OpenMP and hnswlib; no fork after faiss.

The test session runs under ``threadpool_limits(1)`` (conftest), so tests that
check a cap first raise the pools to 2 and then ask skseals for 1.
"""

import os
import subprocess
import sys
import textwrap
import threading

import faiss
import numpy as np
import pytest
from joblib import cpu_count, parallel_config
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

import skseals
import skseals.utils._threads as threads_module
from skseals import ActiveLearner, config_context, get_config, set_config
from skseals.neighbors import ExactIndex, KNNGraph
from skseals.pool import KNNPool
from skseals.query import InformationDensity, MaxEntropy
from skseals.utils import effective_n_threads, map_row_blocks
from skseals.utils._threads import (
    capped_n_threads,
    deferred_limit_threads,
    ensure_thread_limits,
    limit_threads,
)


def _pools():
    """``{filepath: num_threads}`` of every BLAS / OpenMP pool, in this thread."""
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()}


def _all(n):
    return set(_pools().values()) == {n} and faiss.omp_get_max_threads() == n


@pytest.fixture(autouse=True)
def _default_config():
    yield
    set_config(n_threads=None)


@pytest.fixture
def two_threads():
    """Every pool at 2 threads (the session runs at 1), restored afterwards."""
    before = faiss.omp_get_max_threads()
    with threadpool_limits(limits=2):
        faiss.omp_set_num_threads(2)
        yield
        faiss.omp_set_num_threads(before)


# -- what threadpoolctl sees ------------------------------------------------------
def test_faiss_openmp_runtime_is_seen_by_threadpoolctl(two_threads):
    # faiss-cpu wheels bundle libgomp (and an OpenMP OpenBLAS); threadpoolctl
    # lists it (or the one libgomp another wheel loaded first under the same
    # name) as user_api="openmp", so one limit caps numpy's BLAS and faiss.
    assert any(p["user_api"] == "openmp" for p in threadpool_info())
    assert faiss.omp_get_max_threads() == 2
    with threadpool_limits(limits=1, user_api="openmp"):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == 2


# -- the configuration ------------------------------------------------------------
def test_get_set_config():
    assert get_config() == {"n_threads": None}
    set_config(n_threads=1)
    assert get_config() == {"n_threads": 1}
    assert effective_n_threads() == 1
    set_config(n_threads=None)
    assert get_config() == {"n_threads": None}


@pytest.mark.parametrize("bad", [0, -1, -4])
def test_bad_n_threads_value(bad):
    for call in (set_config, config_context, effective_n_threads):
        with pytest.raises(ValueError, match="`n_threads` must be >= 1"):
            if call is config_context:
                with call(n_threads=bad):
                    pass
            else:
                call(n_threads=bad)
    assert get_config() == {"n_threads": None}


@pytest.mark.parametrize("bad", ["2", 1.5, True, [2]])
def test_bad_n_threads_type(bad):
    with pytest.raises(TypeError, match="`n_threads` must be a positive int"):
        set_config(n_threads=bad)
    with pytest.raises(TypeError, match="`n_threads`"), config_context(n_threads=bad):
        pass
    assert get_config() == {"n_threads": None}


def test_default_budget_is_the_cores_or_omp_num_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert effective_n_threads() == cpu_count()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert effective_n_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,1")  # nested OpenMP levels
    assert effective_n_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert effective_n_threads() == cpu_count()
    for odd in ("\u00b2", "\u0663", "1.5", "0", "-2"):  # ², an Arabic 3: ignored
        monkeypatch.setenv("OMP_NUM_THREADS", odd)
        assert effective_n_threads() == cpu_count()
    set_config(n_threads=2)  # an explicit budget wins over the environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert effective_n_threads() == 2


# -- config_context caps BLAS and faiss, restores, nests ---------------------------
def test_config_context_caps_blas_and_faiss_and_restores(two_threads):
    assert _all(2)
    with config_context(n_threads=1):
        assert get_config()["n_threads"] == 1
        assert _all(1), (_pools(), faiss.omp_get_max_threads())
    assert _all(2)


def test_config_contexts_nest():
    # The session runs at 1 thread; an explicit budget sets pools exactly.
    assert _all(1)
    with config_context(n_threads=2):
        assert _all(2)
        with config_context(n_threads=1):
            assert get_config()["n_threads"] == 1 and _all(1)
        assert get_config()["n_threads"] == 2 and _all(2)
    assert get_config()["n_threads"] is None and _all(1)


def test_config_context_is_restored_on_error(two_threads):
    with pytest.raises(KeyError), config_context(n_threads=1):
        raise KeyError("boom")
    assert get_config()["n_threads"] is None and _all(2)


def test_config_context_is_per_thread():
    seen = []
    with config_context(n_threads=1):
        t = threading.Thread(target=lambda: seen.append(get_config()["n_threads"]))
        t.start()
        t.join()
    assert seen == [None]


def _shared_blas():
    """The sizes of the process-wide BLAS pools (pthreads OpenBLAS: numpy's)."""
    return {
        p["num_threads"]
        for p in threadpool_info()
        if p["user_api"] == "blas" and p.get("threading_layer") != "openmp"
    }


@pytest.mark.parametrize("first_out", ["a", "b"])
def test_overlapping_budgets_of_two_threads_share_blas(first_out):
    # Thread a holds a budget of 1, thread b one of 2, overlapping (forced by
    # events). BLAS pools are process-wide: the smaller budget is in force
    # while both hold one, the other's once one leaves, and the pools are back
    # as found after the last leaves, whichever leaves first.
    budgets = {"a": 1, "b": 2}
    last = "b" if first_out == "a" else "a"
    a_in, b_in, measured, first_left = (threading.Event() for _ in range(4))
    seen, errors = {}, []

    def run(name):
        try:
            if name == "b":
                a_in.wait(10)
            with config_context(n_threads=budgets[name]):
                (a_in if name == "a" else b_in).set()
                b_in.wait(10)
                if name == last:
                    seen["both"] = _shared_blas()
                    measured.set()
                    first_left.wait(10)
                    seen["last alone"] = _shared_blas()
                else:
                    measured.wait(10)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            for event in (a_in, b_in, measured):
                event.set()
            if name == first_out:
                first_left.set()

    with threadpool_limits(limits=3, user_api="blas"):
        if _shared_blas() != {3}:
            pytest.skip("no process-wide BLAS pool to share")
        threads = [threading.Thread(target=run, args=(name,)) for name in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert seen == {"both": {1}, "last alone": {budgets[last]}}
        assert _shared_blas() == {3}  # as found


def test_a_cap_that_sets_nothing_leaves_after_one_that_did():
    # Thread a sets the pools to 1 (exact); thread b enters while a holds its
    # cap (its own lower-only cap of 1 sets nothing) and leaves last: the pools
    # must still go back to their size before a's cap.
    a_in, b_in, a_out = (threading.Event() for _ in range(3))
    errors = []

    def hold(exact, wait_for, entered, left=()):
        """Hold a cap of 1 (the lower-only one enters once the exact one is
        in), set ``entered`` inside it, leave once ``wait_for`` is set, then
        set ``left``."""
        try:
            if not exact:
                a_in.wait(10)
            with limit_threads(1, exact=exact):
                entered.set()
                wait_for.wait(10)
        except Exception as exc:
            errors.append(exc)
        finally:
            for event in (entered, *left):
                event.set()

    plans = [(True, b_in, a_in, (a_out,)), (False, a_out, b_in)]
    with threadpool_limits(limits=2, user_api="blas"):
        if _shared_blas() != {2}:
            pytest.skip("no process-wide BLAS pool to share")
        threads = [threading.Thread(target=hold, args=plan) for plan in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert _shared_blas() == {2}  # as found


class _FakeBLAS:
    """A process-wide BLAS pool as threadpoolctl describes one."""

    user_api, threading_layer, filepath = "blas", "pthreads", "/fake/libblas.so"

    def __init__(self, num_threads):
        self.num_threads = num_threads

    def set_num_threads(self, n):
        self.num_threads = n


def test_a_blas_library_loaded_inside_a_cap_is_restored(monkeypatch):
    import skseals.utils._threads as threads_module

    real = threads_module._libraries
    fake = _FakeBLAS(4)
    with limit_threads(1, exact=True):
        # Loaded now (a lazy import): the next cap sees it and sets it to 1.
        monkeypatch.setattr(
            threads_module, "_libraries", lambda: (real()[0], [*real()[1], fake])
        )
        with limit_threads(1, exact=True):
            assert fake.num_threads == 1
    assert fake.num_threads == 4  # back as found when the last cap left


def _fake_blas_only(monkeypatch, fake):
    """The caps see one process-wide BLAS pool, ``fake``, and no other pool."""
    import skseals.utils._threads as threads_module

    monkeypatch.setattr(threads_module, "_libraries", lambda: ([], [fake]))
    monkeypatch.setitem(sys.modules, "faiss", None)


def test_a_pool_set_outside_the_caps_is_kept(monkeypatch):
    # A size set outside skseals while caps are held (threadpoolctl in this
    # thread or another) is the pool's own: a lower-only cap never raises it,
    # and the last release does not undo it.
    fake = _FakeBLAS(2)
    _fake_blas_only(monkeypatch, fake)
    with limit_threads(2, exact=False):
        fake.set_num_threads(1)  # e.g. threadpool_limits(1) inside the cap
        with limit_threads(2, exact=False):
            assert fake.num_threads == 1  # (was raised back to 2)
        fake.set_num_threads(2)  # the outside limit released
    assert fake.num_threads == 2
    with limit_threads(1, exact=True):
        assert fake.num_threads == 1
        fake.set_num_threads(4)  # set outside while an exact cap holds
        with limit_threads(3):
            assert fake.num_threads == 3
    assert fake.num_threads == 4  # its outside size, not the 2 found first


def _interrupt_after_setter(path, k):
    """A trace function raising KeyboardInterrupt (as a Ctrl-C can) at the line
    run right after the ``k``-th call of a pool setter (``set_num_threads(...)``)
    in ``path``, once; ``fired`` says where."""
    import linecache

    calls, fired, after = [0], [], {}

    def trace(frame, event, arg):
        if frame.f_code.co_filename != path:
            return None  # (no line events for other code)
        if event == "line" and not fired:
            if after.pop(id(frame), False):
                calls[0] += 1
                if calls[0] == k:
                    fired.append((frame.f_code.co_name, frame.f_lineno))
                    raise KeyboardInterrupt
            line = linecache.getline(path, frame.f_lineno)
            if "set_num_threads" in line and ")(" in line or "set_num_threads(" in line:
                after[id(frame)] = "undo.append" not in line
        return trace

    return trace, fired


def test_an_interrupt_after_any_setter_leaves_no_pool_capped(two_threads):
    # A Ctrl-C right after a cap sets or restores a pool, before its
    # bookkeeping: once a later cap has come and gone, every pool is back as
    # found (no cap left in the registry, no setting to undo lost).
    import skseals.utils._threads as threads_module

    before = _pools(), faiss.omp_get_max_threads()
    path = threads_module.__file__
    for k in range(1, 100):
        trace, fired = _interrupt_after_setter(path, k)
        tracer = sys.gettrace()  # (a coverage tool's, say: put back after)
        sys.settrace(trace)
        try:
            with limit_threads(1, exact=True):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(tracer)
        if not fired:  # past the last setter: every one was tried
            break
        with limit_threads(1, exact=True):  # a later cap completes a restore
            pass
        assert (_pools(), faiss.omp_get_max_threads()) == before, fired
        assert not threads_module._blas_caps, fired
    assert k > 6  # (setters of the enter and of the exit were tried)


def _omp():
    """This thread's OpenMP limit, as faiss and threadpoolctl see it."""
    openmp = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}
    return faiss.omp_get_max_threads(), openmp


@pytest.mark.parametrize("later_exact", [True, False])
def test_caps_left_out_of_order_restore_this_threads_settings(two_threads, later_exact):
    # Two caps open in one thread (two generators holding one each, say) and
    # left in the order entered: the one still open stays in force, and the
    # settings are back as found once both are left.
    first = limit_threads(1, exact=True)
    later = limit_threads(3 if later_exact else 2, exact=later_exact)
    first.__enter__()
    later.__enter__()
    in_force = _omp()
    first.__exit__(None, None, None)
    assert _omp() == in_force  # (3 when exact; a lower-only cap kept 1 in force)
    later.__exit__(None, None, None)
    assert _omp() == (2, {2})
    assert _all(2)


def test_a_cap_left_from_another_thread_is_undone_by_its_own():
    # OpenMP's limit is per thread: a cap left from another thread (a
    # generator finished there) must not set that thread's limit; the thread
    # that entered it restores its own when it next enters or leaves a cap.
    import skseals.utils._threads as threads_module

    faiss.omp_set_num_threads(2)
    cap = limit_threads(1, exact=True)
    cap.__enter__()
    assert _omp() == (1, {1})
    seen = []

    def leave():
        faiss.omp_set_num_threads(3)  # this thread's own limit
        cap.__exit__(None, None, None)
        seen.append(_omp())

    t = threading.Thread(target=leave)
    t.start()
    t.join(30)
    assert seen == [(3, {3})]  # untouched
    assert not threads_module._blas_caps
    with limit_threads(4):
        pass
    assert _omp() == (2, {2})  # restored here, by the next cap of this thread
    faiss.omp_set_num_threads(1)  # (the session's setting)


def test_nested_passes_keep_the_worker_share():
    # A worker's own calls, and a pass run inside a worker, stay within the
    # worker's share of the budget (here 1 of 2), not the whole budget.
    def inner(block, start, stop):
        return effective_n_threads(), capped_n_threads(-1), faiss.omp_get_max_threads()

    def outer(block, start, stop):
        with limit_threads():
            capped = faiss.omp_get_max_threads()
        return capped, map_row_blocks(inner, 2, 1)

    set_config(n_threads=2)
    with parallel_config("threading", n_jobs=2):
        out = map_row_blocks(outer, 4, 2)
    assert out == [(1, [(1, 1, 1), (1, 1, 1)])] * 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_child_forked_while_another_thread_holds_a_cap():
    # The child drops the caps of threads that did not survive the fork.
    code = textwrap.dedent(
        """
        import os, threading
        from threadpoolctl import threadpool_info, threadpool_limits
        from skseals.utils._threads import limit_threads

        def shared():
            return {p["num_threads"] for p in threadpool_info()
                    if p["user_api"] == "blas" and p.get("threading_layer") != "openmp"}

        threadpool_limits(limits=2, user_api="blas")
        held, done = threading.Event(), threading.Event()

        def hold():
            with limit_threads(1, exact=True):
                held.set()
                done.wait(10)

        t = threading.Thread(target=hold)
        t.start()
        held.wait(10)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            with limit_threads(2, exact=True):
                inside = shared()
            os.write(w, repr((inside, shared())).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        done.set()
        t.join()
        print(os.read(r, 1000).decode(), shared())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    if "set()" in out.stdout:
        pytest.skip("no process-wide BLAS pool")
    assert out.stdout.split() == ["({2},", "{2})", "{2}"]


def test_a_cap_is_entered_once_and_works_as_a_decorator(two_threads):
    cap = limit_threads(1, exact=True)
    with cap:
        with pytest.raises(RuntimeError, match="already entered"):
            cap.__enter__()
        assert _all(1)
    assert _all(2)

    @limit_threads(1, exact=True)
    def pools(depth):
        return _all(1) and (depth == 0 or pools(depth - 1))  # (re-entered)

    assert pools(2) and _all(2)


def test_default_budget_never_raises_an_outside_limit():
    # The session's threadpool_limits(1) stays: the default budget (the
    # cores) only lowers pools.
    with limit_threads() as n:
        assert n == effective_n_threads() and _all(1)


def test_faiss_is_not_imported_to_cap_threads():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import skseals
        from skseals import ActiveLearner
        X = np.random.RandomState(0).normal(size=(300, 4))
        y = np.full(300, -1); y[:4] = [0, 1, 0, 1]
        with skseals.config_context(n_threads=1):
            ActiveLearner(pool="full", random_state=0).fit(X, y).query(3)
        print("faiss" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# -- applied around skseals's computations -----------------------------------------
_SEEN = []


class _RecordingLR(LogisticRegression):
    """Records the thread pools while it fits (inside the learner's fit/teach)."""

    def fit(self, X, y, sample_weight=None):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super().fit(X, y, sample_weight=sample_weight)


class _RecordingIndex(ExactIndex):
    def _build(self, V):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        super()._build(V)


def _data(n=400):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 4))
    y = np.full(n, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    return X, y


def test_learner_fit_query_teach_run_within_the_budget(two_threads):
    X, y = _data()
    _SEEN.clear()
    set_config(n_threads=1)
    learner = ActiveLearner(
        _RecordingLR(), pool="knn", batch_size=5, random_state=0
    ).fit(X, y)
    rows = learner.query()
    learner.teach(rows, np.arange(5) % 2)
    assert len(_SEEN) >= 2
    assert all(seen == ({1}, 1) for seen in _SEEN), _SEEN
    assert _all(2)  # restored after every call


# -- caps entered on demand ----------------------------------------------------------
def test_deferred_caps_touch_no_pool_until_ensured(two_threads):
    set_config(n_threads=1)
    ensure_thread_limits()  # (none open: nothing to enter)
    assert _all(2)
    with deferred_limit_threads():
        assert _all(2)  # nothing capped yet
        ensure_thread_limits()
        assert _all(1)
        ensure_thread_limits()  # (entered once)
        assert _all(1)
        seen = []
        worker = threading.Thread(target=lambda: seen.append(ensure_thread_limits()))
        worker.start()
        worker.join()  # (another thread's call enters nothing of this one)
        assert seen == [None]
    assert _all(2)
    with deferred_limit_threads():
        pass
    assert _all(2)


def test_deferred_caps_nest_and_ensure_the_innermost(two_threads):
    set_config(n_threads=1)
    with deferred_limit_threads() as outer:
        with deferred_limit_threads() as inner:
            ensure_thread_limits()
            assert inner._cap is not None and outer._cap is None
            assert _all(1)
        assert _all(2)  # left with the inner block
        ensure_thread_limits()
        assert _all(1) and outer._cap is not None
    assert _all(2)


class _RecordingProbaLR(LogisticRegression):
    """Records the thread pools while it predicts (inside query())."""

    def predict_proba(self, X):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super().predict_proba(X)


class _RecordingSearchIndex(ExactIndex):
    def _search_rows(self, rows, k, exclude):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super()._search_rows(rows, k, exclude)


def _count_caps(monkeypatch):
    entered = []
    enter = limit_threads.__enter__

    def counting(self):
        entered.append(self)
        return enter(self)

    monkeypatch.setattr(limit_threads, "__enter__", counting)
    return entered


@pytest.mark.parametrize(
    "strategy, row_cache",
    [("entropy", True), ("entropy", False), ("margin", True)]
    + [("information_density", True), (InformationDensity("least_confidence"), True)],
)
def test_graph_round_scored_by_numpy_caps_no_pool(
    two_threads, monkeypatch, strategy, row_cache
):
    # A KNNGraph's lists are table look-ups and a binary LogisticRegression is
    # scored by numpy alone: the round runs no thread pool, so it caps none.
    X, y = _data()
    graph = KNNGraph(n_neighbors=10, index="exact").fit(X)
    set_config(n_threads=1)
    learner = ActiveLearner(
        query_strategy=strategy,
        pool=KNNPool(10, index=graph, row_cache=row_cache),
        batch_size=5,
        random_state=0,
    ).fit(X, y)
    entered = _count_caps(monkeypatch)
    rows = learner.query()
    assert rows.shape == (5,) and entered == []
    learner.teach(rows, np.arange(5) % 2)  # (fits under its own cap)
    assert len(entered) == 1 and _all(2)


@pytest.mark.parametrize(
    "strategy", ["entropy", "margin", "most_likely_positive", "information_density"]
)
def test_graph_round_caps_pools_before_the_estimator_runs(two_threads, strategy):
    _assert_graph_round_capped(strategy, _RecordingProbaLR())


def _assert_graph_round_capped(strategy, estimator=None, pool_class=KNNPool):
    """A round over a KNNGraph runs every recording hook under the caps, and
    leaves the pools as they were."""
    X, y = _data()
    graph = KNNGraph(n_neighbors=10, index="exact").fit(X)
    set_config(n_threads=1)
    learner = ActiveLearner(
        estimator,
        query_strategy=strategy,
        pool=pool_class(10, index=graph),
        batch_size=5,
        random_state=0,
    ).fit(X, y)
    _SEEN.clear()
    learner.query()
    assert _SEEN and all(seen == ({1}, 1) for seen in _SEEN), _SEEN
    assert _all(2)


class _RecordingEntropy(MaxEntropy):
    """Scores through predict_proba (BLAS), recording the pools as it does."""

    def score(self, estimator, X, context):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super().score(estimator, X, context)


class _RecordingOutputs(MaxEntropy):
    """Reads the model's outputs its own way (the path information density
    takes through its base), recording the pools as it does."""

    def _outputs(self, estimator, X):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super()._outputs(estimator, X)


class _RecordingDensity(InformationDensity):
    def score(self, estimator, X, context):
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return super().score(estimator, X, context)


@pytest.mark.parametrize(
    "strategy",
    [
        _RecordingEntropy(),
        _RecordingDensity(),
        _RecordingOutputs(),
        InformationDensity(_RecordingOutputs()),
    ],
    ids=repr,
)
def test_a_strategy_that_scores_its_own_way_runs_under_the_caps(two_threads, strategy):
    # A subclass's score may run anything: the numpy-only promise is its base's.
    _assert_graph_round_capped(strategy)


class _ReRankedPool(KNNPool):
    """Runs a BLAS product of its own in the round (it inherits KNNPool's
    promise to cap before searches, not a promise about its own code)."""

    def candidate_block(self):
        rows, block, available = super().candidate_block()
        _SEEN.append((set(_pools().values()), faiss.omp_get_max_threads()))
        return rows, block, available


def test_a_knn_pool_subclass_is_capped_for_the_whole_round(two_threads):
    _assert_graph_round_capped("entropy", pool_class=_ReRankedPool)


def _deferred_open():
    return list(getattr(threads_module._deferred, "stack", None) or [])


@pytest.mark.parametrize("where", ["entering", "leaving"])
def test_a_round_interrupted_entering_or_leaving_its_deferred_caps_leaves_none(
    two_threads, monkeypatch, where
):
    # A Ctrl-C between the with-statement and the block (the deferred cap is
    # open, its exit never called), or at the start of its exit: the round
    # closes it anyway, and no later call enters it.
    X, y = _data()
    graph = KNNGraph(n_neighbors=10, index="exact").fit(X)
    set_config(n_threads=1)
    learner = ActiveLearner(
        _RecordingProbaLR(),  # (its scoring enters the cap)
        pool=KNNPool(10, index=graph),
        batch_size=5,
        random_state=0,
    ).fit(X, y)
    cls = deferred_limit_threads
    if where == "entering":
        enter = cls.__enter__

        def interrupted(self):
            enter(self)
            raise KeyboardInterrupt

        monkeypatch.setattr(cls, "__enter__", interrupted)
    else:

        def interrupted(self, *exc):
            raise KeyboardInterrupt

        monkeypatch.setattr(cls, "__exit__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        learner.query()
    monkeypatch.undo()
    set_config(n_threads=1)
    assert _deferred_open() == [] and _all(2)
    full = ActiveLearner(pool="full", batch_size=5, random_state=0).fit(X, y)
    full.query()  # (its full scan asks for the caps: none stale is entered)
    assert _all(2)


def test_knn_round_caps_pools_before_a_search(two_threads):
    X, y = _data()
    set_config(n_threads=1)
    learner = ActiveLearner(
        pool=KNNPool(10, index=_RecordingSearchIndex()), batch_size=5, random_state=0
    ).fit(X, y)
    rows = learner.query()
    learner.teach(rows, np.arange(5) % 2)  # (new lists to search next round)
    _SEEN.clear()
    learner.query()
    assert _SEEN and all(seen == ({1}, 1) for seen in _SEEN), _SEEN
    assert _all(2)


def test_index_and_graph_build_run_within_the_budget(two_threads):
    X, _ = _data()
    _SEEN.clear()
    with config_context(n_threads=2):  # the context, then set_config inside it
        set_config(n_threads=1)
        assert get_config()["n_threads"] == 2
    set_config(n_threads=1)
    _RecordingIndex(metric="euclidean").fit(X)
    graph = KNNGraph(n_neighbors=3, index=_RecordingIndex(metric="euclidean"))
    graph.set_params(metric="euclidean").fit(X)
    assert _SEEN == [({1}, 1), ({1}, 1)]
    assert _all(2)


def test_library_thread_counts_are_capped():
    set_config(n_threads=2)
    assert capped_n_threads(-1) == 2
    assert capped_n_threads(0) == 2
    assert capped_n_threads(None) == 2
    assert capped_n_threads(8) == 2
    assert capped_n_threads(1) == 1
    hnswlib = pytest.importorskip("hnswlib")  # noqa: F841
    from skseals.neighbors import HNSWIndex

    with config_context(n_threads=1):
        assert HNSWIndex(num_threads=-1)._threads() == 1


# -- map_row_blocks: each worker gets budget // n_workers --------------------------
def _worker_threads(block, start, stop):
    import sys

    faiss = sys.modules.get("faiss")
    omp = faiss.omp_get_max_threads() if faiss is not None else None
    blas = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    return omp, blas, float(block.sum())


def test_thread_workers_share_the_budget():
    X = np.arange(40.0).reshape(20, 2)
    with config_context(n_threads=2), parallel_config("threading", n_jobs=2):
        out = map_row_blocks(_worker_threads, 20, 5, X=X)
    # A new thread starts with every core for OpenMP: the cap is applied there.
    assert [o[:2] for o in out] == [(1, {1})] * 4
    assert [o[2] for o in out] == [X[s : s + 5].sum() for s in range(0, 20, 5)]
    assert _all(1)


def test_thread_workers_get_at_least_one_thread():
    X = np.ones((9, 2))
    with config_context(n_threads=1), parallel_config("threading", n_jobs=3):
        out = map_row_blocks(_worker_threads, 9, 3, X=X)
    assert [o[:2] for o in out] == [(1, {1})] * 3


def _library_threads(block, start, stop):
    return capped_n_threads(-1)


def test_thread_workers_cap_library_thread_counts():
    # hnswlib and Annoy take a thread count per call: a worker asks for its
    # share of the budget, not for every core.
    X = np.ones((8, 2))
    with config_context(n_threads=2):
        with parallel_config("threading", n_jobs=2):
            out = map_row_blocks(_library_threads, 8, 4, X=X)
        assert out == [1, 1]
        assert map_row_blocks(_library_threads, 8, 4, X=X) == [2, 2]  # in process
        assert capped_n_threads(-1) == 2


def test_default_budget_caps_new_worker_threads():
    # Without any configuration a worker thread would see every core in
    # OpenMP; the default budget (the cores) // 2 workers applies instead.
    X = np.ones((8, 2))
    with parallel_config("threading", n_jobs=2):
        out = map_row_blocks(_worker_threads, 8, 4, X=X)
    expected = max(1, effective_n_threads() // 2)
    assert {o[0] for o in out} == {expected}


def test_process_workers_share_the_budget():
    X = np.ones((8, 2))
    with config_context(n_threads=2), parallel_config("loky", n_jobs=2):
        out = map_row_blocks(_worker_threads, 8, 4, X=X)
    assert [o[1] for o in out] == [{1}, {1}]


# -- never fork after faiss ran ----------------------------------------------------
_FORK_SCRIPT = """
import numpy as np, faiss, warnings
from joblib import parallel_config
from skseals.utils import map_row_blocks

faiss.omp_set_num_threads(2)
X = np.random.default_rng(0).normal(size=(20000, 32)).astype(np.float32)
index = faiss.IndexFlatL2(32)
index.add(X)
index.search(X[:2000], 5)  # OpenMP's pool is now running in this process

def block_sum(block, start, stop):
    import faiss  # a worker that uses faiss too
    index = faiss.IndexFlatL2(block.shape[1])
    index.add(block)
    return float(block.sum(dtype=np.float64)), int(index.search(block[:4], 1)[1][0, 0])

expected = [float(X[s:s + 5000].sum(dtype=np.float64)) for s in range(0, 20000, 5000)]
for backend in ("loky", "multiprocessing", "threading"):
    with warnings.catch_warnings(record=True), parallel_config(backend, n_jobs=2):
        out = map_row_blocks(block_sum, 20000, 5000, X=X)
    assert [o[0] for o in out] == expected, backend
    assert [o[1] for o in out] == [0, 0, 0, 0], backend
    print(backend, "ok")
"""


def test_no_fork_after_faiss_ran_openmp():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    out = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == [
        "loky",
        "ok",
        "multiprocessing",
        "ok",
        "threading",
        "ok",
    ]


def test_config_functions_are_exported():
    assert {"config_context", "get_config", "set_config"} <= set(skseals.__all__)
