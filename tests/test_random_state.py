"""RandomStateSnapshot: query()'s cheap copy of the learner's generator."""

import numpy as np
import pytest

from skseals.utils._random_state import (
    RandomStateSnapshot,
    _raw_seeds_as_randint,
    _seed_from_raw,
    _struct_as_expected,
    draw_seed,
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
