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

:class:`SeedRewind` (from :func:`rewind_point`): both at once for a round that
draws its seed and nothing else. The seed is read from the next two words of
the key, in place, and the position moved past them; the undo moves it back.
Near the end of the key (whose refill the undo could not reverse), or unless a
check once per process confirms it, there is none.
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import lru_cache

import numpy as np

__all__ = ["RandomStateSnapshot", "SeedRewind", "draw_seed", "rewind_point"]

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


def _tempered(y):
    """MT19937's output for the key word ``y`` (its tempering)."""
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y & 0xFFFFFFFF


# Key words of recently used bit generators (id -> (generator, words)): each
# entry holds its generator, which therefore lives, and keeps its id, while the
# words are read through. A few entries: learners used in turn keep theirs.
_WORDS = {}
_N_WORDS_KEPT = 8
_WORDS_LOCK = threading.Lock()


def _renew_words_lock():
    """In a forked child: a new lock (a thread gone with the fork may have
    held the old one)."""
    global _WORDS_LOCK
    _WORDS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_words_lock)


def _words(bit_generator):
    """The state struct of ``bit_generator`` as 625 uint32 (a ctypes array over
    it: read and written in place)."""
    entry = _WORDS.get(id(bit_generator))
    if entry is not None and entry[0] is bit_generator:
        return entry[1]
    words = (ctypes.c_uint32 * (_N_KEY + 1)).from_address(
        bit_generator.ctypes.state_address
    )
    with _WORDS_LOCK:
        while len(_WORDS) >= _N_WORDS_KEPT:
            _WORDS.pop(next(iter(_WORDS)))
        _WORDS[id(bit_generator)] = (bit_generator, words)
    return words


class SeedRewind:
    """The round's seed, drawn from two words of an MT19937 generator's key read
    in place; :meth:`restore` undoes the draw by putting the position back.

    Made by :func:`rewind_point` (which changes nothing); :meth:`draw` then
    draws :func:`draw_seed`'s value. The undo is exact when nothing else drew
    from the generator meanwhile (a learner's round over a pool whose
    ``begin_round`` draws nothing). Reading two words in place costs a
    fraction of ``random_raw`` and of a copy of the state struct when their
    code is out of cache, which it is in a round that follows a large scan.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals.utils._random_state import draw_seed, rewind_point
    >>> a, b = np.random.RandomState(0), np.random.RandomState(0)
    >>> rewind_point(a) is None  # (seeded: its first draw refills the key)
    True
    >>> _ = draw_seed(a), draw_seed(b)
    >>> rewind = rewind_point(a)
    >>> seed = rewind.draw()
    >>> seed == draw_seed(b)
    True
    >>> rewind.restore()
    >>> draw_seed(a) == seed
    True
    """

    __slots__ = ("_bit_generator", "_pos", "_random_state", "_words")

    def __init__(self, random_state, bit_generator, words, pos):
        self._random_state, self._bit_generator = random_state, bit_generator
        self._words, self._pos = words, pos

    def draw(self):
        """The seed (``randint(0, 2**63 - 1, dtype=int64)``'s value), drawn."""
        words, pos = self._words, self._pos
        with self._bit_generator.lock:
            if words[_N_KEY] == pos:  # (else drawn from since: randint's way)
                high, low = _tempered(words[pos]), _tempered(words[pos + 1])
                value = ((high << 32) | low) & _INT64_MAX
                words[_N_KEY] = pos + 2  # (what was read is drawn)
                if value < _INT64_MAX:
                    return value
        return _seed_by_randint(self._random_state)  # (one in 2**63)

    def restore(self):
        """Put the generator back in the state it had at :func:`rewind_point`."""
        with self._bit_generator.lock:
            # (its key is refilled only once the position reaches its end,
            # which a round's draw from at most _REWIND_MAX does not)
            if self._words[_N_KEY] >= self._pos:
                self._words[_N_KEY] = self._pos


_REWIND_MAX = _N_KEY - 4  # room for the seed's two words, and two more


def rewind_point(random_state):
    """A :class:`SeedRewind` of ``random_state`` (an MT19937 generator whose
    key holds the next draws), or None (then copy the state instead)."""
    bit_generator = getattr(random_state, "_bit_generator", None)
    if type(bit_generator) is not np.random.MT19937 or not _rewind_as_expected():
        return None
    return _rewind_point(random_state, bit_generator)


def _rewind_point(random_state, bit_generator):
    words = _words(bit_generator)
    pos = words[_N_KEY]
    if not 0 <= pos <= _REWIND_MAX:
        return None
    return SeedRewind(random_state, bit_generator, words, pos)


@lru_cache(maxsize=1)
def _rewind_as_expected():
    """Whether a :class:`SeedRewind` draws what ``randint`` draws, leaving the
    same state, and its undo restores the state: checked once, on throwaway
    generators, over a few hundred draws and refills of the key."""
    if not (_struct_as_expected() and _raw_seeds_as_randint()):
        return False
    a, b = np.random.RandomState(20261130), np.random.RandomState(20261130)
    try:
        for _ in range(400):
            rewind = _rewind_point(a, a._bit_generator)
            if rewind is None:  # (near the end of the key: randint's way)
                _seed_by_randint(a)
                _seed_by_randint(b)
                continue
            before = a.get_state(legacy=False)["state"]
            seed = rewind.draw()
            rewind.restore()
            after = a.get_state(legacy=False)["state"]
            if after["pos"] != before["pos"] or not np.array_equal(
                after["key"], before["key"]
            ):
                return False
            if rewind.draw() != seed or _seed_by_randint(b) != seed:
                return False
        return a.randint(1 << 30) == b.randint(1 << 30)
    finally:
        _WORDS.pop(id(a._bit_generator), None)


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
