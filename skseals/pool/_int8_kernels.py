"""int8 codes of a pool's rows, and the rows a linear model's round can pick.

With numba installed (``pip install "skseals[fast]"``; imported through
:func:`skseals.utils._compiled.compiled`), a :class:`~skseals.pool.KNNPool`'s
row cache keeps each row ``x`` also as int8 ``codes`` (in [-127, 127]) and a
float32 ``scale`` (``max|x| / 127``): ``x ≈ scale * codes``, a quarter of the
bytes of float32 rows. For a linear model ``z = x . w + b``, with ``w``
rounded to integers ``w ≈ step * qw``, the value from the code

    ẑ = scale * step * (codes . qw) + b        (an exact integer dot product)

is within ``|w| * slack`` of the value the model's own scoring computes, where
``slack`` (per row, from :func:`int8_codes`) covers the code's residual
``|x - scale * codes|`` (Cauchy-Schwarz), the rounding of ``w`` (at most
``step / 2`` per term, summed over ``|scale * codes|_1 <= sqrt(d) (|x| + r)``)
and the float32 rounding of the model's own product (``γ_(d+2) |x| |w|``,
whatever its order of summation).

:func:`keep_positions` reads every code once and keeps only the rows whose
``|z|`` can rank among a round's ``b`` smallest (see :mod:`skseals._prefilter`):
the bounds decide which rows are scored; the scores come from the learner's
own scoring, as without numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["abs_z_bounds", "int8_codes", "keep_positions"]

_UNIT = 2.0**-24  # unit roundoff of float32


@njit(cache=True)
def weight_levels(n_features):
    """Largest integer weight: an int16 with ``127 * levels * n_features``
    within an int32."""
    return min(32767, (2**31 - 1) // (127 * max(n_features, 1)))


@njit(cache=True)
def int8_codes(block):
    """``(codes, scales, slack)`` of the rows of the float ``block`` (m, d).

    ``codes`` int8 (m, d); ``scales`` float32 (m,), NaN for a row that is not
    finite (its slack is NaN too); ``slack`` float64 (m,): times ``|w|``, a
    bound on ``|(x . w + b) - ẑ|`` for the model's float32 or float64 scoring.
    """
    m, d = block.shape
    n = d + 2  # the products' rounding, and the final multiply
    gamma = 1.01 * n * _UNIT / (1.0 - n * _UNIT)
    rounding = math.sqrt(d) / (2.0 * weight_levels(d))  # of w, per |x|_2
    codes = np.zeros((m, d), dtype=np.int8)
    scales = np.empty(m, dtype=np.float32)
    slack = np.empty(m, dtype=np.float64)
    for i in range(m):
        amax = 0.0
        for j in range(d):
            amax = max(amax, abs(np.float64(block[i, j])))
        if not np.isfinite(amax):  # (max ignores NaN: checked again below)
            scales[i], slack[i] = np.nan, np.nan
            continue
        scale = np.float32(amax / 127.0)
        inverse = 1.0 / np.float64(scale) if scale > 0 else 0.0
        r2 = x2 = 0.0
        for j in range(d):
            x = np.float64(block[i, j])
            q = min(127.0, max(-127.0, np.rint(x * inverse)))
            codes[i, j] = np.int8(q)
            diff = x - q * np.float64(scale)
            r2 += diff * diff
            x2 += x * x
        if not np.isfinite(x2):  # a NaN
            codes[i, :] = 0
            scales[i], slack[i] = np.nan, np.nan
            continue
        r, norm = math.sqrt(r2), math.sqrt(x2)
        scales[i] = scale
        slack[i] = r * (1.0 + 1e-9) + gamma * norm + rounding * (norm + r) * 1.01
    return codes, scales, slack


@njit(cache=True)
def _sift_down(heap, n):
    """Restore the max-heap ``heap[:n]`` after its top was replaced."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            return
        if child + 1 < n and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= heap[i]:
            return
        heap[i], heap[child] = heap[child], heap[i]
        i = child


@njit(cache=True)
def _sift_up(heap, i):
    while i > 0:
        parent = (i - 1) // 2
        if heap[parent] >= heap[i]:
            return
        heap[i], heap[parent] = heap[parent], heap[i]
        i = parent


@njit(cache=True)
def _code_dots(codes, qw, out):
    """``out[i] = codes[i] . qw``, exactly (int32; int16 products, which the
    compiler turns into multiply-add instructions)."""
    m, d = codes.shape
    for i in range(m):
        acc = np.int32(0)
        for j in range(d):
            acc += np.int32(np.int16(codes[i, j]) * qw[j])
        out[i] = acc


@njit(cache=True)
def _bounds(dot, step, scale, slack, weight_norm, intercept):
    """``(lo, hi)`` of a row's ``|z|`` from its exact integer dot product."""
    a = abs(np.float64(dot) * step * np.float64(scale) + intercept)
    err = weight_norm * slack + 1e-12 * (1.0 + a)
    return a - err, a + err


@njit(cache=True)
def _integer_weights(weights):
    """``(qw, step, norm)``: ``weights ≈ step * qw`` (int16, within ``step / 2``
    per term) and ``norm >= |weights|``."""
    d = weights.shape[0]
    wmax = norm2 = 0.0
    for j in range(d):
        w = np.float64(weights[j])
        wmax = max(wmax, abs(w))
        norm2 += w * w
    step = wmax / weight_levels(d)
    qw = np.zeros(d, dtype=np.int16)
    if step > 0:
        for j in range(d):
            qw[j] = np.int16(np.rint(np.float64(weights[j]) / step))
    return qw, step, math.sqrt(norm2) * (1.0 + 1e-6)


@njit(cache=True)
def abs_z_bounds(codes, scales, slack, weights, intercept):
    """``(lo, hi)``: ``lo <= |x . w + b| <= hi`` for each coded row, as the
    model computes ``z`` (NaN for a row that is not finite)."""
    m = codes.shape[0]
    qw, step, weight_norm = _integer_weights(weights)
    dots = np.empty(m, dtype=np.int32)
    _code_dots(codes, qw, dots)
    lo, hi = np.empty(m), np.empty(m)
    for i in range(m):
        lo[i], hi[i] = _bounds(
            dots[i], step, scales[i], slack[i], weight_norm, intercept
        )
    return lo, hi


@njit(cache=True)
def keep_positions(
    codes, scales, slack, weights, intercept, available, batch, limit, margin
):
    """Positions of the rows that can be among the ``batch`` smallest ``|z|``.

    ``t`` is the ``batch``-th smallest upper bound of ``|z|`` among available
    rows (``available`` a bool mask, or empty for all): a row whose lower
    bound exceeds ``t + margin * (1 + t)`` ranks below ``batch`` others. The
    available rows whose lower bound does not are returned (sorted), with
    True; or an empty array and False when fewer than ``batch`` available
    rows are finite or ``t >= limit`` (then every row should be scored).
    """
    m = codes.shape[0]
    qw, step, weight_norm = _integer_weights(weights)
    dots = np.empty(m, dtype=np.int32)
    _code_dots(codes, qw, dots)
    everyone = available.shape[0] == 0
    heap = np.empty(batch, dtype=np.float64)  # the smallest upper bounds
    size = 0
    for i in range(m):
        if not (everyone or available[i]):
            continue
        hi = _bounds(dots[i], step, scales[i], slack[i], weight_norm, intercept)[1]
        if not hi == hi:  # NaN: a row that is not finite has no bound
            continue
        if size < batch:
            heap[size] = hi
            _sift_up(heap, size)
            size += 1
        elif hi < heap[0]:
            heap[0] = hi
            _sift_down(heap, size)
    if size < batch or not heap[0] < limit:
        return np.empty(0, dtype=np.int64), False
    cut = heap[0] + margin * (1.0 + heap[0])
    out = np.empty(m, dtype=np.int64)
    n = 0
    for i in range(m):
        if everyone or available[i]:
            lo = _bounds(dots[i], step, scales[i], slack[i], weight_norm, intercept)[0]
            if lo <= cut:
                out[n] = i
                n += 1
    return out[:n], True
