"""The elementwise fills: uniform, normal, truncated normal, constant, raw words.

Each takes ``seed=``/``stream=`` (stateless) or ``generator=`` (stateful), fills the NumPy
array in place and returns it. Element i's value is a pure function of (seed, stream,
global index i, parameters, dtype): docs/stream.md.
"""

from __future__ import annotations

import math

import numpy as np

from . import _core
from ._arrays import (
    DTYPE_NAMES,
    FLOAT64,
    check_number,
    check_shard,
    check_target,
    dtype_ceil,
    dtype_floor,
    half_open_bounds,
)
from ._random import STREAM_LIMIT, _check_int, resolve_stream

UNIFORM, NORMAL, TRUNCATED, CONSTANT = 0, 1, 2, 3
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NORMAL_REJECTION, _EXPONENTIAL_REJECTION, _UNIFORM_REJECTION = 0, 1, 2


def _fill(arr, code, kind, loc, scale, lo, hi, seed, stream, generator, global_shape, offset,
          trunc=None):
    gshape, goff = check_shard(arr, global_shape, offset)
    s, st = resolve_stream(seed, stream, generator)
    _core.fill(arr, code, s, st, kind, loc, scale, lo, hi, trunc, gshape, goff)
    return arr


def uniform_(arr, a=0.0, b=1.0, *, seed=None, stream=None, generator=None,
             global_shape=None, offset=None):
    """Fill ``arr`` with U[a, b) in place; returns ``arr``.

    Values are computed as ``a + (b - a) * u`` with u a 24-bit (53-bit for float64) uniform
    on [0, 1) and then clamped to the largest value of the dtype below ``b``, so rounding can
    never produce ``b`` itself. ``a == b`` fills the constant ``a``.
    """
    code = check_target(arr)
    a = check_number(a, "a")
    b = check_number(b, "b")
    if a > b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    if a == b:
        return _fill(arr, code, CONSTANT, _in_dtype(a, arr), 0.0, -math.inf, math.inf, seed, stream, generator,
                     global_shape, offset)
    span = b - a
    if not math.isfinite(span):
        raise ValueError(f"b - a overflows float64 (a={a}, b={b}); use a narrower interval")
    if code != FLOAT64 and span > _FLOAT32_MAX:
        # float32, float16 and bfloat16 compute in float32: an infinite span gives b - 0 * inf
        # = NaN or inf, i.e. every value clamped to the top of the interval.
        raise ValueError(f"b - a overflows float32, the compute precision of "
                         f"{DTYPE_NAMES[code]} (a={a}, b={b}); use a narrower interval")
    lo, hi = half_open_bounds(a, b, code)
    if lo > hi:
        raise ValueError(f"no {DTYPE_NAMES[code]} value lies in [a, b) = [{a}, {b})")
    return _fill(arr, code, UNIFORM, a, span, lo, hi, seed, stream, generator,
                 global_shape, offset)


def normal_(arr, mean=0.0, std=1.0, *, seed=None, stream=None, generator=None,
            global_shape=None, offset=None):
    """Fill ``arr`` with N(mean, std**2) in place (Box-Muller on the Philox stream)."""
    code = check_target(arr)
    mean = check_number(mean, "mean")
    std = check_number(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return _fill(arr, code, NORMAL, mean, std, -math.inf, math.inf, seed, stream, generator,
                 global_shape, offset)


def _in_dtype(val: float, arr) -> float:
    """val rounded once, straight to arr's dtype (as numpy's arr.fill would), as a float.

    The core computes half precision through float32; a pre-rounded value passes exactly."""
    return float(np.asarray(val, dtype=arr.dtype).astype(np.float64))


def constant_(arr, val, *, global_shape=None, offset=None):
    """Fill ``arr`` with ``val`` (any float, NaN and infinities included, as PyTorch allows)."""
    code = check_target(arr)
    val = _in_dtype(check_number(val, "val", finite=False), arr)
    check_shard(arr, global_shape, offset)
    _core.fill(arr, code, 0, 0, CONSTANT, val, 0.0, -math.inf, math.inf)
    return arr


def zeros_(arr, *, global_shape=None, offset=None):
    return constant_(arr, 0.0, global_shape=global_shape, offset=offset)


def ones_(arr, *, global_shape=None, offset=None):
    return constant_(arr, 1.0, global_shape=global_shape, offset=offset)


# ---- truncated normal ---------------------------------------------------------------------------
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_NORMAL = 2.2250738585072014e-308  # smallest normal float64


def _normal_mass(alpha: float, beta: float) -> float:
    """P(alpha <= Z <= beta), accurate in both tails."""
    if alpha >= 0:
        return 0.5 * (math.erfc(alpha / math.sqrt(2)) - math.erfc(beta / math.sqrt(2)))
    if beta <= 0:
        return _normal_mass(-beta, -alpha)
    return 1.0 - 0.5 * math.erfc(-alpha / math.sqrt(2)) - 0.5 * math.erfc(beta / math.sqrt(2))


def truncation_plan(alpha: float, beta: float):
    """Chooses the sampling method for N(0,1) truncated to [alpha, beta] (standardized units).

    Returns the tuple the core takes: (method, alpha, beta, lambda, mode, flip). The choice is
    the proposal with the highest acceptance rate (Robert 1995, "Simulation of truncated normal
    variables"): plain normal rejection, a translated exponential for tails, or a uniform
    proposal for narrow intervals. Tail methods mirror intervals below 0 (flip).
    """
    if alpha == beta:  # a single point: the uniform proposal returns it at the first attempt
        return (_UNIFORM_REJECTION, alpha, beta, 0.0, alpha, False)
    p_norm = _normal_mass(alpha, beta)
    best = (math.log(p_norm) if p_norm > 0 else -math.inf, _NORMAL_REJECTION, 0.0)
    flip = beta <= 0
    lo, hi = (-beta, -alpha) if flip else (alpha, beta)
    mode = lo if lo > 0 else 0.0
    width = hi - lo
    if lo < 0:
        lam = 0.0
    elif lo < 1e150:
        lam = (lo + math.sqrt(lo * lo + 4.0)) / 2.0
    else:  # lo * lo would overflow; lam = lo + 1/lo - ..., which is lo in double precision
        lam = lo
    if p_norm >= _MIN_NORMAL:
        # acceptance rates in logs (each factor's log, so that a tiny mass or a huge width
        # cannot underflow the product): uniform = p_norm sqrt(2 pi) exp(mode^2/2) / width,
        # exponential = p_norm sqrt(2 pi) lam exp(lam lo - lam^2/2)
        log_p = math.log(p_norm)
        if math.isfinite(width):
            log_unif = log_p + _LOG_SQRT_2PI - math.log(width) + mode * mode / 2
            best = max(best, (log_unif, _UNIFORM_REJECTION, 0.0))
        if lo >= 0:
            log_exp = log_p + _LOG_SQRT_2PI + math.log(lam) + lam * lo - lam * lam / 2
            best = max(best, (log_exp, _EXPONENTIAL_REJECTION, lam))
    else:
        # So far in the tail (beyond about 37.5 sigma) that the mass underflows or is
        # subnormal, hence inaccurate: the uniform proposal accepts about
        # (1 - exp(-lo w)) / (lo w), the exponential one about (1 - exp(-lam w)) * 0.76+.
        narrow = math.isfinite(width) and lo * width < 1.0
        best = (0.0, _UNIFORM_REJECTION, 0.0) if narrow else (0.0, _EXPONENTIAL_REJECTION, lam)
    method, lam = best[1], best[2]
    if method == _NORMAL_REJECTION:
        return (method, alpha, beta, 0.0, 0.0 if alpha <= 0 <= beta else (alpha if alpha > 0 else beta), False)
    return (method, lo, hi, lam, mode, flip)


def _truncated(arr, code, mean, std, a, b, seed, stream, generator, global_shape, offset):
    """N(mean, std**2) truncated to the absolute interval [a, b]."""
    if not a <= b:
        raise ValueError(f"truncation needs a <= b, got a={a}, b={b}")
    lo, hi = dtype_ceil(a, code), dtype_floor(b, code)
    if lo > hi or (lo == hi and math.isinf(lo)):  # [inf, inf] holds no finite value either
        raise ValueError(f"no {DTYPE_NAMES[code]} value lies in [a, b] = [{a}, {b}]")
    if std == 0:
        if not a <= mean <= b:
            raise ValueError(f"std=0 puts every value at mean={mean}, outside [a, b] = [{a}, {b}]")
        return _fill(arr, code, CONSTANT, _in_dtype(mean, arr), 0.0, lo, hi, seed, stream, generator,
                     global_shape, offset)
    alpha = (a - mean) / std
    beta = (b - mean) / std
    if math.isnan(alpha) or math.isnan(beta):
        raise ValueError(f"invalid truncation a={a}, b={b} for mean={mean}, std={std}")
    plan = truncation_plan(alpha, beta)
    return _fill(arr, code, TRUNCATED, mean, std, lo, hi, seed, stream, generator,
                 global_shape, offset, trunc=plan)


def trunc_normal_(arr, mean=0.0, std=1.0, a=-2.0, b=2.0, *, seed=None, stream=None,
                  generator=None, global_shape=None, offset=None):
    """PyTorch's ``trunc_normal_``: N(mean, std**2) restricted to [a, b].

    ``a`` and ``b`` are **absolute values**, as in ``torch.nn.init.trunc_normal_``; for bounds
    in units of std (JAX, Keras) use :func:`truncated_normal_`. No value ever lies outside
    [a, b], in any dtype.
    """
    code = check_target(arr)
    mean = check_number(mean, "mean")
    std = check_number(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    a = check_number(a, "a", finite=False)
    b = check_number(b, "b", finite=False)
    if math.isnan(a) or math.isnan(b):
        raise ValueError("a and b must not be NaN")
    return _truncated(arr, code, mean, std, a, b, seed, stream, generator, global_shape, offset)


def truncated_normal_(arr, stddev=1.0, lower=-2.0, upper=2.0, *, mean=0.0, seed=None,
                      stream=None, generator=None, global_shape=None, offset=None):
    """JAX's ``truncated_normal``: bounds ``lower``/``upper`` in units of ``stddev``.

    The result is ``mean + stddev * x`` with x ~ N(0, 1) truncated to [lower, upper].
    """
    code = check_target(arr)
    stddev = check_number(stddev, "stddev")
    if stddev < 0:
        raise ValueError(f"stddev must be >= 0, got {stddev}")
    mean = check_number(mean, "mean")
    lower = check_number(lower, "lower", finite=False)
    upper = check_number(upper, "upper", finite=False)
    if not lower <= upper:
        raise ValueError(f"truncated_normal_ needs lower <= upper, got {lower}, {upper}")
    if stddev == 0:  # mean + 0 * x is mean whatever the bounds (0 * inf would be NaN)
        return _truncated(arr, code, mean, 0.0, mean, mean, seed, stream, generator,
                          global_shape, offset)
    return _truncated(arr, code, mean, stddev, mean + stddev * lower, mean + stddev * upper,
                      seed, stream, generator, global_shape, offset)


def random_raw_(out, seed, stream=0, offset=0):
    """Fill a C-contiguous uint32 array with the raw Philox4x32-10 words of (seed, stream).

    Word w of a stream is word w % 4 of the block with counter (w // 4 as 64 bits, stream as
    64 bits); ``offset`` (< 2**66) is the first word's index. The contract's ground truth.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray of uint32, got {type(out).__name__}")
    if out.dtype != np.uint32:
        raise TypeError(f"out must have dtype uint32, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only; pass a writable array")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous (use numpy.ascontiguousarray on a copy)")
    if not out.flags.aligned:  # the core stores whole uint32 words
        raise ValueError("out must be aligned to 4 bytes (numpy.empty gives such arrays)")
    seed = _check_int(seed, "seed", 1 << 64)
    stream = _check_int(stream, "stream", STREAM_LIMIT)
    offset = _check_int(offset, "offset", 1 << 66)
    if offset + out.size > (1 << 66):
        raise ValueError("offset + out.size exceeds the 2**66 words (2**64 blocks) of a stream")
    _core.random_raw(out, seed, stream, offset >> 2, offset & 3)
    return out
