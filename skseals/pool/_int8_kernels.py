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
whatever its order of summation, with ``w`` cast to float32 at a relative
cost of ``2**-24``: :func:`keep_positions` keeps no bound for coefficients
float32 cannot hold so, see :func:`float32_holds`). A row too large to code
(its scale or squared norm overflows) turns the filter off too. The model's
product is an einsum, so a row scores the same in the kept rows as in the
whole block.

The same bound holds for the density of information density, ``x . mean``
(over ``|x|``). :func:`keep_positions` reads the codes once per vector and
keeps only the rows whose score can rank among a round's ``b`` best (see
:mod:`skseals._prefilter`): the bounds decide which rows are scored; the
scores come from the learner's own scoring, as without numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..utils._selection_kernels import sift_down as _sift_down
from ..utils._selection_kernels import sift_up as _sift_up

__all__ = ["abs_z_bounds", "float32_holds", "int8_codes", "keep_positions"]

_UNIT = 2.0**-24  # unit roundoff of float32
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_TINY = 1.1754943508222875e-38  # its smallest normal number
# A float32 row whose norm exceeds this may have a float32 norm of inf (the
# squares overflow), and then a density of 0 as the model computes it.
_FLOAT32_NORM_MAX = 1e19


@njit(cache=True)
def weight_levels(n_features):
    """Largest integer weight: an int16 with ``127 * levels * n_features``
    within an int32."""
    return max(1, min(32767, (2**31 - 1) // (127 * max(n_features, 1))))


@njit(cache=True)
def rounding_factor(n_features):
    """``γ`` of a float32 dot product of ``n_features`` terms (and its final
    multiply), with margin: whatever the order of summation, the computed
    value is within ``γ * sum |x_j w_j|`` of the exact one."""
    n = n_features + 2
    return 1.01 * n * _UNIT / (1.0 - n * _UNIT)


@njit(cache=True)
def int8_codes(block):
    """``(codes, scales, slack, norms)`` of the rows of the float ``block``.

    ``codes`` int8 (m, d); ``scales`` float32 (m,), NaN for a row that is not
    finite (its slack and norm are NaN too) and inf for a finite row too
    large to code (its scale or its squared norm overflows: slack and norm
    inf); ``slack`` float64 (m,): times ``|w|``, a bound on ``|x . w - ẑ|``
    against the model's float32 or float64 product; ``norms`` float64 (m,):
    ``|x|``.
    """
    m, d = block.shape
    gamma = rounding_factor(d)
    rounding = math.sqrt(d) / (2.0 * weight_levels(d))  # of w, per |x|_2
    codes = np.zeros((m, d), dtype=np.int8)
    scales = np.empty(m, dtype=np.float32)
    slack = np.empty(m, dtype=np.float64)
    norms = np.empty(m, dtype=np.float64)
    for i in range(m):
        amax = 0.0
        for j in range(d):
            amax = max(amax, abs(np.float64(block[i, j])))
        if amax == np.inf:  # an infinite value: not finite
            scales[i] = slack[i] = norms[i] = np.nan
            continue
        if amax / 127.0 > _FLOAT32_MAX:  # no float32 scale: cannot be coded
            scales[i] = slack[i] = norms[i] = np.inf
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
        if not (x2 == x2 and r2 == r2):  # a NaN (which max ignores)
            codes[i, :] = 0
            scales[i] = slack[i] = norms[i] = np.nan
            continue
        if x2 == np.inf or r2 == np.inf:  # the squares overflow
            codes[i, :] = 0
            scales[i] = slack[i] = norms[i] = np.inf
            continue
        r, norm = math.sqrt(r2), math.sqrt(x2)
        scales[i] = scale
        slack[i] = r * (1.0 + 1e-9) + gamma * norm + rounding * (norm + r) * 1.01
        norms[i] = norm
    return codes, scales, slack, norms


@njit(cache=True)
def float32_holds(vector):
    """Whether float32 holds ``vector`` to its relative rounding (a model
    scoring float32 rows casts its coefficients to float32): no value beyond
    float32's range, nor a non-zero one below its normal numbers."""
    for j in range(vector.shape[0]):
        a = abs(vector[j])
        if a > _FLOAT32_MAX or (a > 0.0 and a < _FLOAT32_TINY):
            return False
    return True


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
def _code_dots(codes, qw, out):
    """``out[i] = codes[i] . qw``, exactly (int32; int16 products, which the
    compiler turns into multiply-add instructions)."""
    m, d = codes.shape
    for i in range(m):
        acc = np.int32(0)
        for j in range(d):
            acc += np.int32(np.int16(codes[i, j]) * qw[j])
        out[i] = acc


@njit(cache=True, inline="always")
def _dot_bounds(dot, step, scale, slack, norm, shift):
    """``(lo, hi)`` of ``x . w + shift`` from the row's exact integer dot
    product with ``qw`` (``norm >= |w|``)."""
    v = np.float64(dot) * step * np.float64(scale) + shift
    err = norm * slack + 1e-12 * (1.0 + abs(v))
    return v - err, v + err


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
        v_lo, v_hi = _dot_bounds(
            dots[i], step, scales[i], slack[i], weight_norm, intercept
        )
        lo[i], hi[i] = _abs_range(v_lo, v_hi)
    return lo, hi


@njit(cache=True, inline="always")
def _abs_range(lo, hi):
    """Bounds of ``|v|`` for ``lo <= v <= hi`` (NaN stays NaN)."""
    if not (lo == lo and hi == hi):
        return np.nan, np.nan
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return 0.0, max(-lo, hi)


@njit(cache=True, inline="always")
def _table_bounds(table, spacing, a):
    """``(lo, hi)`` of ``g(a)`` for a decreasing ``g`` tabulated at
    ``table[k] = g(k * spacing)`` (``spacing`` a power of two: ``a / spacing``
    is exact), ``g >= 0`` beyond the table."""
    last = table.shape[0] - 1
    if not a < last * spacing:  # beyond the table
        return 0.0, table[last]
    k = int(a / spacing)
    return table[k + 1], table[k]


@njit(cache=True)
def keep_positions(
    codes,
    scales,
    slack,
    norms,
    weights,
    intercept,
    mean,
    beta,
    table,
    spacing,
    available,
    batch,
    floor,
    margin,
    float32,
):
    """Positions of the rows that can be among the ``batch`` best scores.

    A row's score is ``-|z|`` with ``z = x . weights + intercept`` (an empty
    ``table``: MaxEntropy, Margin and LeastConfidence rank by it), or
    ``g(|z|)`` times ``clip(x . mean / |x|, 0, 1)`` to the power ``beta``
    (InformationDensity), where ``g`` is a decreasing uncertainty tabulated
    as ``table[k] = g(k * spacing)``. ``t`` is the ``batch``-th
    largest lower bound of a score among available rows (``available`` a
    bool mask, or empty for all): a row whose upper bound is below
    ``t - margin * (1 + |t|)`` ranks below ``batch`` others. The available
    rows whose upper bound is not are returned (sorted), with True; or an
    empty array and False when fewer than ``batch`` available rows are
    finite or ``t <= floor``, or, for rows scored in float32 (``float32``),
    when float32 cannot hold ``weights`` or ``mean`` (then every row should be
    scored).
    """
    m, d = codes.shape
    if float32 and not (float32_holds(weights) and float32_holds(mean)):
        return np.empty(0, dtype=np.int64), False
    for i in range(m):
        if scales[i] == np.inf:  # a row too large to code: score every row
            return np.empty(0, dtype=np.int64), False
    # Bounds first, in loops of their own (with the selection in the same
    # loop, they ran several times slower): |z| in [a_low, a_high], the
    # density clipped to [0, 1] (to the power beta) in [c_low, c_high].
    a_low, a_high = abs_z_bounds(codes, scales, slack, weights, intercept)
    weighted = table.shape[0] > 0  # by density
    c_low, c_high = a_low, a_high  # (unused unless weighted)
    if weighted:
        qv, step2, mean_norm = _integer_weights(mean)
        dots2 = np.empty(m, dtype=np.int32)
        _code_dots(codes, qv, dots2)
        c_low, c_high = np.zeros(m), np.zeros(m)
        gamma = 4.0 * rounding_factor(d)  # |x|'s and the division's rounding
        for i in range(m):
            if norms[i] > 0:
                v_lo, v_hi = _dot_bounds(
                    dots2[i], step2, scales[i], slack[i], mean_norm, 0.0
                )
                err = gamma * (abs(v_lo) + abs(v_hi)) + 1e-12
                c_high[i] = min(max((v_hi + err) / norms[i], 0.0), 1.0)
                # (a float32 norm may underflow to 0 or overflow to inf, and
                # the density be 0)
                if 1e-18 < norms[i] < _FLOAT32_NORM_MAX:
                    c_low[i] = min(max((v_lo - err) / norms[i], 0.0), 1.0)
        if beta != 1.0:  # (apart: in the loop, the power ran for every row)
            c_low **= beta
            c_high **= beta
    # t: the batch-th largest lower bound of a score among available rows.
    everyone = available.shape[0] == 0
    heap = np.empty(batch, dtype=np.float64)  # minus the largest lower bounds
    size = 0
    for i in range(m):
        if not (everyone or available[i]) or not a_high[i] == a_high[i]:
            continue  # (NaN: a row that is not finite has no bound)
        if not weighted:
            s_lo = -a_high[i]
        else:
            s_lo = _table_bounds(table, spacing, a_high[i])[0] * c_low[i]
        if size < batch:
            heap[size] = -s_lo
            _sift_up(heap, size)
            size += 1
        elif -s_lo < heap[0]:
            heap[0] = -s_lo
            _sift_down(heap, size)
    if size < batch or not -heap[0] > floor:
        return np.empty(0, dtype=np.int64), False
    t = -heap[0]
    cut = t - margin * (1.0 + abs(t))
    out = np.empty(m, dtype=np.int64)
    n = 0
    for i in range(m):
        if not (everyone or available[i]) or not a_low[i] == a_low[i]:
            continue
        if not weighted:
            keep = -a_low[i] >= cut
        else:
            keep = _table_bounds(table, spacing, a_low[i])[1] * c_high[i] >= cut
        if keep:
            out[n] = i
            n += 1
    return out[:n], True
