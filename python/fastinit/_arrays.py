"""Checks on the arrays fastinit writes into, and dtype-exact bounds.

Every check runs before anything is written, so an error leaves the array untouched.
"""

from __future__ import annotations

import functools
import math

import numpy as np

FLOAT32, FLOAT64, FLOAT16, BFLOAT16 = 0, 1, 2, 3
DTYPE_NAMES = {FLOAT32: "float32", FLOAT64: "float64", FLOAT16: "float16", BFLOAT16: "bfloat16"}
SUPPORTED = "float32, float64, float16, bfloat16 (ml_dtypes.bfloat16)"

_CODES = {np.dtype(np.float32): FLOAT32, np.dtype(np.float64): FLOAT64, np.dtype(np.float16): FLOAT16}


def dtype_code(dtype: np.dtype, name: str = "arr") -> int:
    code = _CODES.get(dtype)
    if code is not None:
        return code
    if dtype.name == "bfloat16" and dtype.itemsize == 2 and dtype.kind == "V":
        _CODES[dtype] = BFLOAT16
        return BFLOAT16
    if dtype.kind == "f" and not dtype.isnative:
        raise TypeError(
            f"{name} has non-native byte order ({dtype.str}); fastinit writes native floats: "
            f"fill an array of dtype {dtype.newbyteorder('=')} and byteswap it if you need to"
        )
    raise TypeError(f"{name} has dtype {dtype}; fastinit fills {SUPPORTED}")


def check_target(arr, name: str = "arr") -> int:
    """Returns the dtype code of a writable float array that fastinit may fill in place."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray to fill in place, got {type(arr).__name__}; "
            "create one with numpy.empty(shape, dtype)"
        )
    code = dtype_code(arr.dtype, name)
    flags = arr.flags
    if not flags.writeable:
        raise ValueError(f"{name} is read-only; fastinit fills arrays in place (pass a writable array)")
    if not flags.c_contiguous and arr.size > 1 and _may_self_overlap(arr):
        raise ValueError(
            f"{name} is a view whose elements overlap in memory (e.g. numpy.lib.stride_tricks."
            "as_strided); its values would depend on write order. Fill a non-overlapping array"
        )
    return code


def _may_self_overlap(arr: np.ndarray) -> bool:
    dims = sorted((abs(s), n) for s, n in zip(arr.strides, arr.shape) if n > 1)
    span = arr.itemsize  # bytes covered by the dimensions with smaller strides
    for stride, extent in dims:
        if stride < span:
            return True
        span += stride * (extent - 1)
    return False


def check_number(value, name: str, *, finite: bool = True) -> float:
    # float() would accept "0.5" and drop a NumPy complex's imaginary part (only a warning).
    if isinstance(value, (str, bytes, bytearray, complex, np.complexfloating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


# ---- the dtype grid -------------------------------------------------------------------------
_NUMPY_TYPES = {FLOAT32: np.float32, FLOAT64: np.float64, FLOAT16: np.float16}


def _bf16_floor(x: float, strict: bool) -> float:
    v = np.float32(_dtype_floor(x, FLOAT32, False))
    bits = int(v.view(np.uint32))
    t = bits & 0xFFFF0000
    value = float(np.uint32(t).view(np.float32))
    if value > float(v):  # truncating a negative number moved it up: step one bf16 ulp down
        t += 0x10000
    value = float(np.uint32(t).view(np.float32))
    if strict and value >= x:
        if value > 0:
            t -= 0x10000
        elif value == 0:
            t = 0x80010000
        else:
            t += 0x10000
        value = float(np.uint32(t).view(np.float32))
    return value


@functools.lru_cache(maxsize=4096)
def _dtype_floor(x: float, code: int, strict: bool) -> float:
    """Largest value of the dtype <= x (< x when strict); infinities map to themselves."""
    if math.isinf(x) and not strict:
        return x
    if code == BFLOAT16:
        return _bf16_floor(x, strict)
    t = _NUMPY_TYPES[code]
    with np.errstate(over="ignore"):
        v = t(x)
        if float(v) > x or (strict and float(v) == x):
            v = np.nextafter(v, t(-np.inf))
    return float(v)


def dtype_floor(x: float, code: int, strict: bool = False) -> float:
    return _dtype_floor(float(x), code, strict)


def dtype_ceil(x: float, code: int, strict: bool = False) -> float:
    """Smallest value of the dtype >= x (> x when strict)."""
    return -_dtype_floor(-float(x), code, strict)


@functools.lru_cache(maxsize=4096)
def half_open_bounds(a: float, b: float, code: int) -> tuple[float, float]:
    """[smallest dtype value >= a, largest dtype value < b]: the clamp that keeps U[a, b)."""
    return -_dtype_floor(-a, code, False), _dtype_floor(b, code, True)


_MAX_GLOBAL_ELEMENTS = 1 << 62


def check_shard(arr: np.ndarray, global_shape, offset):
    """Validates the shard arguments; returns (global_shape, offset) as tuples or (None, None)."""
    if global_shape is None and offset is None:
        return None, None
    if global_shape is None:
        raise ValueError("offset= needs global_shape= (the shape of the whole, unsharded tensor)")
    global_shape = tuple(int(g) for g in global_shape)
    offset = (0,) * len(global_shape) if offset is None else tuple(int(o) for o in offset)
    if len(global_shape) != arr.ndim or len(offset) != arr.ndim:
        raise ValueError(
            f"global_shape {global_shape} and offset {offset} need one entry per dimension of "
            f"the local array (shape {arr.shape})"
        )
    for k, (g, o, n) in enumerate(zip(global_shape, offset, arr.shape)):
        if g < 0 or o < 0 or o + n > g:
            raise ValueError(
                f"dimension {k}: offset {o} + local extent {n} does not fit in the global "
                f"extent {g} (global_shape={global_shape}, offset={offset})"
            )
    # The core indexes the global tensor with 62 bits (docs/stream.md); say so here rather
    # than let it raise IndexError (or the binding a TypeError) for a larger one.
    if math.prod(global_shape) > _MAX_GLOBAL_ELEMENTS or max(global_shape, default=0) > _MAX_GLOBAL_ELEMENTS:
        raise ValueError(
            f"global_shape {global_shape} has more than 2**62 elements, the most a stream can index"
        )
    return global_shape, offset
