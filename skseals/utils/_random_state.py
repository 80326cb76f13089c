"""Two operations on the learner's RandomState that every ``query()`` makes,
without numpy's per-call overhead.

:class:`RandomStateSnapshot`: a copy of the generator's state for the round's
rollback. ``RandomState.get_state`` copies MT19937's 624 key words one at a time in
Python (about 65 microseconds, more when its code is out of cache), and a
round takes a snapshot for its rollback every time, to use it only when the
round fails. The bit generator's state is one C struct -- the key, then the
position -- whose address numpy publishes (``bit_generator.ctypes``): one
memory copy takes it and puts it back.

The struct leaves out the legacy Gaussian cached by ``RandomState`` (a normal
draw makes two and keeps one), which only ``get_state`` reads: the fast copy is
exact only when nothing draws normals from the generator before the copy is
restored, and the caller says so.

:func:`draw_seed`: the round's seed, ``randint(0, 2**63 - 1, dtype=int64)``,
from two raw 32-bit draws of the bit generator (``random_raw``; about a
fifth of ``randint``'s cost when its code is out of cache): the same value
and the same state after, as a check against ``randint`` confirms once per
process (otherwise ``randint`` is called).
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

__all__ = ["RandomStateSnapshot", "draw_seed"]

_N_KEY = 624  # MT19937's key words (uint32); an int position follows them
_N_BYTES = 4 * (_N_KEY + 1)
_INT64_MAX = np.iinfo(np.int64).max


@lru_cache(maxsize=1)
def _struct_as_expected():
    """Whether MT19937's state struct is the key then the position, as 625
    32-bit words: checked once, against ``get_state``, on a throwaway
    generator (a numpy that lays it out otherwise gets ``get_state``)."""
    rng = np.random.RandomState(20261130)
    rng.randint(1000, size=3)  # a position that is neither 0 nor 624
    _, key, pos = rng.get_state()[:3]
    address = rng._bit_generator.ctypes.state_address
    raw = np.frombuffer(ctypes.string_at(address, _N_BYTES), dtype=np.uint32)
    return bool(np.array_equal(raw[:_N_KEY], key) and int(raw[_N_KEY]) == pos)


def _seed_by_randint(random_state):
    return int(random_state.randint(0, _INT64_MAX, dtype=np.int64))


def _seed_from_raw(bit_generator):
    """``randint(0, 2**63 - 1)``'s value: MT19937's 64-bit output is its next
    two 32-bit words (high, then low), masked to 63 bits, drawn again when it
    is 2**63 - 1 (outside the range)."""
    while True:
        high, low = bit_generator.random_raw(2).tolist()
        value = ((high << 32) | low) & _INT64_MAX
        if value < _INT64_MAX:
            return value


@lru_cache(maxsize=1)
def _raw_seeds_as_randint():
    """Whether :func:`_seed_from_raw` draws what ``randint`` draws, leaving the
    same state: checked once, over a few hundred draws and a refill of the
    key."""
    a, b = np.random.RandomState(20261130), np.random.RandomState(20261130)
    for _ in range(400):
        if _seed_by_randint(a) != _seed_from_raw(b._bit_generator):
            return False
    return a.randint(1 << 30) == b.randint(1 << 30)


def draw_seed(random_state):
    """``int(random_state.randint(0, 2**63 - 1, dtype=np.int64))``, faster.

    Parameters
    ----------
    random_state : numpy.random.RandomState

    Returns
    -------
    seed : int
        In ``[0, 2**63 - 1)``; the generator advances as ``randint`` would
        advance it.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils._random_state import draw_seed
    >>> a, b = np.random.RandomState(0), np.random.RandomState(0)
    >>> draw_seed(a) == int(b.randint(0, 2**63 - 1, dtype=np.int64))
    True
    """
    bit_generator = getattr(random_state, "_bit_generator", None)
    if type(bit_generator) is np.random.MT19937 and _raw_seeds_as_randint():
        return _seed_from_raw(bit_generator)  # (random_raw takes its lock)
    return _seed_by_randint(random_state)


class RandomStateSnapshot:
    """The state of a ``numpy.random.RandomState`` now; :meth:`restore` puts it back.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        The generator.
    draws_normals : bool, default=True
        Whether Gaussians may be drawn from the generator before
        :meth:`restore`. False, for an MT19937 generator, copies the bit
        generator's state struct instead of calling ``get_state``: about a
        hundred times faster, and exact only if no normal is drawn (their
        cached second value is not in the struct).

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils._random_state import RandomStateSnapshot
    >>> rng = np.random.RandomState(0)
    >>> snapshot = RandomStateSnapshot(rng, draws_normals=False)
    >>> first = rng.randint(100, size=3)
    >>> snapshot.restore()
    >>> bool((rng.randint(100, size=3) == first).all())
    True
    """

    __slots__ = ("_address", "_lock", "_random_state", "_saved")

    def __init__(self, random_state, *, draws_normals=True):
        self._random_state = random_state
        bit_generator = getattr(random_state, "_bit_generator", None)
        self._address = None
        if (
            not draws_normals
            and type(bit_generator) is np.random.MT19937
            and _struct_as_expected()
        ):
            self._lock = bit_generator.lock
            self._address = bit_generator.ctypes.state_address
            with self._lock:
                self._saved = ctypes.string_at(self._address, _N_BYTES)
        else:
            self._saved = random_state.get_state(legacy=False)

    def restore(self):
        """Put the generator back in the state it had when this was taken."""
        if self._address is None:
            self._random_state.set_state(self._saved)
        else:
            with self._lock:
                ctypes.memmove(self._address, self._saved, _N_BYTES)
