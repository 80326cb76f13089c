"""RandomStateSnapshot and SeedRewind: query()'s cheap undo of its draws from
the learner's generator."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone

import skseals._querying as querying_module
from skseals import ActiveLearner
from skseals.pool import RandomSubsetPool
from skseals.utils._random_state import (
    RandomStateSnapshot,
    _raw_seeds_as_randint,
    _rewind_as_expected,
    _seed_from_raw,
    _struct_as_expected,
    draw_seed,
    rewind_point,
)


def _full_state(rng):
    name, key, pos, has_gauss, gauss = rng.get_state()
    return name, key.tolist(), pos, has_gauss, gauss


def _draw(rng):
    """Draws of the kinds a round makes (no normals), crossing a refill of
    MT19937's 624 words."""
    rng.randint(0, np.iinfo(np.int64).max, dtype=np.int64)
    rng.randint(0, 1000, size=700)
    rng.choice(50, 10, replace=False)


def test_the_struct_layout_matches_get_state():
    # Otherwise every snapshot falls back to get_state, silently slow.
    assert _struct_as_expected()


@pytest.mark.parametrize("odd_normals", [False, True])
def test_the_fast_copy_restores_every_field(odd_normals):
    rng = np.random.RandomState(7)
    if odd_normals:  # a cached Gaussian: kept, since no normal is drawn after
        rng.standard_normal(3)
    before = _full_state(rng)
    snapshot = RandomStateSnapshot(rng, draws_normals=False)
    assert snapshot._address is not None  # the fast path was taken
    expected = [rng.randint(1 << 30, size=5) for _ in range(3)]
    for _ in range(3):
        _draw(rng)
        assert _full_state(rng) != before
        snapshot.restore()
        assert _full_state(rng) == before
    # Restored, the generator draws again what it drew the first time.
    np.testing.assert_array_equal(
        [rng.randint(1 << 30, size=5) for _ in range(3)], expected
    )


def test_normals_drawn_take_the_exact_copy():
    rng = np.random.RandomState(3)
    before = _full_state(rng)
    snapshot = RandomStateSnapshot(rng, draws_normals=True)
    rng.standard_normal(5)  # leaves a Gaussian cached
    assert rng.get_state()[3] == 1
    snapshot.restore()
    assert _full_state(rng) == before


def test_a_generator_other_than_mt19937_takes_get_state():
    rng = np.random.RandomState(np.random.PCG64(5))
    before = rng.get_state(legacy=False)
    snapshot = RandomStateSnapshot(rng, draws_normals=False)
    assert snapshot._address is None
    first = rng.randint(1000, size=10)
    snapshot.restore()
    np.testing.assert_array_equal(rng.randint(1000, size=10), first)
    snapshot.restore()
    assert str(rng.get_state(legacy=False)) == str(before)


def test_the_seed_draw_matches_randint():
    assert _raw_seeds_as_randint()
    a, b = np.random.RandomState(11), np.random.RandomState(11)
    for _ in range(700):  # across a refill of the key
        expected = int(a.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
        assert draw_seed(b) == expected
    assert _full_state(a) == _full_state(b)


def test_the_seed_of_a_generator_other_than_mt19937_comes_from_randint():
    a = np.random.RandomState(np.random.PCG64(2))
    b = np.random.RandomState(np.random.PCG64(2))
    assert draw_seed(a) == int(b.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    assert a.randint(1 << 30) == b.randint(1 << 30)


def test_an_out_of_range_raw_value_is_drawn_again():
    class _Raw:
        def __init__(self):
            self.words = [[0xFFFFFFFF, 0xFFFFFFFF], [0x7FFFFFFF, 0xFFFFFFFE]]

        def random_raw(self, size):
            return np.array(self.words.pop(0), dtype=np.uint64)

    # 2**63 - 1 is outside randint's range: the next value is taken.
    assert _seed_from_raw(_Raw()) == 2**63 - 2


# -- the round's seed, drawn in place and rewound --------------------------------
def test_a_rewound_seed_is_draw_seeds_and_its_undo_restores_every_field():
    assert _rewind_as_expected()
    a, b = np.random.RandomState(13), np.random.RandomState(13)
    a.standard_normal(3)  # a cached Gaussian: untouched by the draw and its undo
    b.standard_normal(3)
    fast = 0
    for i in range(1500):  # across refills of the key
        rewind = rewind_point(a)
        if rewind is None:
            seed = draw_seed(a)
        else:
            fast += 1
            before = _full_state(a)
            seed = rewind.draw()
            if i % 5 == 0:  # undone, then drawn again
                rewind.restore()
                assert _full_state(a) == before
                seed = rewind_point(a).draw()
        assert seed == draw_seed(b), i
    assert _full_state(a) == _full_state(b)
    assert 1400 < fast < 1500  # near the end of the key, none is offered


@pytest.mark.parametrize("pos, offered", [(0, True), (620, True), (621, False)])
def test_no_rewind_is_offered_where_the_key_may_be_refilled(pos, offered):
    rng = np.random.RandomState(1)
    name, key, _, has_gauss, gauss = rng.get_state()
    rng.set_state((name, key, pos, has_gauss, gauss))
    assert (rewind_point(rng) is not None) == offered
    assert rewind_point(np.random.RandomState(np.random.PCG64(1))) is None


def _learner(pool, random_state=0):
    X = np.random.RandomState(0).normal(size=(600, 5))
    y = np.full(600, -1)
    y[:10] = [0, 1] * 5
    return ActiveLearner(pool=pool, batch_size=7, random_state=random_state).fit(
        X, y
    ), (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize(
    "pool, rewinds",
    [("knn", True), ("full", True), (RandomSubsetPool(100), False)],
)
def test_a_round_over_a_pool_that_draws_nothing_rewinds_its_seed(
    monkeypatch, pool, rewinds
):
    copies = []

    class Counting(RandomStateSnapshot):
        def __init__(self, *args, **kwargs):
            copies.append(self)
            super().__init__(*args, **kwargs)

    lr, truth = _learner(clone(pool) if not isinstance(pool, str) else pool)
    twin, _ = _learner(clone(pool) if not isinstance(pool, str) else pool)
    monkeypatch.setattr(querying_module, "RandomStateSnapshot", Counting)
    picks = []
    for _ in range(4):
        rows = lr.query()
        lr.teach(rows, truth[rows])
        picks.append(rows.tolist())
    # (A generator seeded from an int starts at the end of its key: its first
    # draw refills it, so the first round copies the state.)
    assert len(copies) == (1 if rewinds else 4)
    # The same picks and generator as a round that copies the state.
    monkeypatch.setattr(querying_module, "rewind_point", lambda random_state: None)
    for expected in picks:
        rows = twin.query()
        twin.teach(rows, truth[rows])
        assert rows.tolist() == expected
    assert _full_state(lr.random_state_) == _full_state(twin.random_state_)


def test_a_generator_the_learner_did_not_make_is_copied(monkeypatch):
    copies = []
    monkeypatch.setattr(
        querying_module,
        "RandomStateSnapshot",
        lambda *a, **k: copies.append(1) or RandomStateSnapshot(*a, **k),
    )
    lr, _ = _learner("knn", random_state=np.random.RandomState(0))
    lr.query()
    assert copies == [1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_words_lock_is_held_gets_a_new_one():
    code = textwrap.dedent(
        """
        import os
        import threading
        import numpy as np
        from skseals.utils import _random_state as R
        held = threading.Event()
        release = threading.Event()

        def hold():
            with R._WORDS_LOCK:
                held.set()
                release.wait()

        threading.Thread(target=hold, daemon=True).start()
        held.wait()
        pid = os.fork()
        if pid == 0:  # the child: the holder is gone with the fork
            if not R._WORDS_LOCK.acquire(timeout=5):
                os._exit(1)
            R._WORDS_LOCK.release()
            rng = np.random.RandomState(0)
            rng.randint(5)
            R._words(rng._bit_generator)  # (takes the lock when it caches)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        release.set()
        print(os.waitstatus_to_exitcode(status))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
