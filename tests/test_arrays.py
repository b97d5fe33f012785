"""Bad inputs: the right exception, a message that names the argument, and nothing written.

Every check runs before anything is written (python/fastinit/_arrays.py), so each test first
fills the target with a sentinel and checks it is unchanged after the error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import fastinit

from conftest import assert_same_bytes, available_simd_levels

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
DTYPE_IDS = [d.name for d in DTYPES]

# Every elementwise fill, called with valid parameters: fn(arr) -> arr.
FILLS = {
    "uniform_": lambda arr: fastinit.uniform_(arr, -1.0, 1.0, seed=1),
    "normal_": lambda arr: fastinit.normal_(arr, 0.0, 1.0, seed=1),
    "trunc_normal_": lambda arr: fastinit.trunc_normal_(arr, seed=1),
    "truncated_normal_": lambda arr: fastinit.truncated_normal_(arr, 0.5, seed=1),
    "constant_": lambda arr: fastinit.constant_(arr, 0.25),
    "zeros_": lambda arr: fastinit.zeros_(arr),
    "ones_": lambda arr: fastinit.ones_(arr),
}
FILL_IDS = list(FILLS)
SENTINEL = 42.5


def sentinel(shape=(6, 7), dtype=np.float32):
    return np.full(shape, SENTINEL, dtype)


def assert_untouched(arr, what=""):
    assert (np.asarray(arr).astype(np.float64) == SENTINEL).all(), f"{what}: array was written"


# ---- the array itself -----------------------------------------------------------------------
@pytest.mark.parametrize("name", FILL_IDS)
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint32, np.bool_,
                                   np.complex64, np.complex128, np.longdouble,
                                   np.dtype("datetime64[s]"), np.dtype("U3"), object],
                         ids=lambda d: np.dtype(d).name)
def test_unsupported_dtype_is_a_type_error_naming_the_dtype(name, dtype):
    arr = np.zeros((3, 4), dtype)
    before = arr.copy()
    with pytest.raises(TypeError) as info:
        FILLS[name](arr)
    msg = str(info.value)
    assert str(np.dtype(dtype)) in msg and "arr" in msg, msg
    assert "float32" in msg  # says what it does fill
    assert (arr == before).all()


@pytest.mark.parametrize("name", FILL_IDS)
@pytest.mark.parametrize("dtype", [">f4", ">f8", ">f2"] if np.little_endian
                         else ["<f4", "<f8", "<f2"])
def test_non_native_byte_order_is_a_type_error(name, dtype):
    arr = np.full(10, SENTINEL, dtype)
    with pytest.raises(TypeError, match="arr.*byte order"):
        FILLS[name](arr)
    assert_untouched(arr, dtype)


@pytest.mark.parametrize("name", FILL_IDS)
def test_read_only_is_a_value_error(name):
    arr = sentinel()
    arr.flags.writeable = False
    with pytest.raises(ValueError, match="arr is read-only"):
        FILLS[name](arr)
    assert_untouched(arr)
    view = sentinel()[::2]
    view.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        FILLS[name](view)
    broadcast = np.broadcast_to(np.float32(SENTINEL), (4, 5))  # read-only, stride 0
    with pytest.raises(ValueError, match="read-only"):
        FILLS[name](broadcast)


@pytest.mark.parametrize("name", FILL_IDS)
@pytest.mark.parametrize("bad", [[1.0, 2.0], (1.0,), 3.0, np.float32(1.0), None, "abc",
                                 memoryview(b"abcd")], ids=lambda b: type(b).__name__)
def test_not_an_ndarray_is_a_type_error(name, bad):
    with pytest.raises(TypeError, match="arr must be a numpy.ndarray"):
        FILLS[name](bad)


@pytest.mark.parametrize("name", FILL_IDS)
def test_overlapping_views_are_a_value_error(name):
    base = np.full(64, SENTINEL, np.float32)
    s = base.itemsize
    views = [
        as_strided(base, shape=(5, 5), strides=(s, s)),        # rows overlap
        as_strided(base, shape=(8,), strides=(0,)),            # one element, eight times
        as_strided(base, shape=(4, 4), strides=(4 * s, 0)),    # zero inner stride
        as_strided(base[40:], shape=(4, 3), strides=(-2 * s, s)),  # negative, overlapping
        as_strided(base, shape=(3, 2, 2), strides=(2 * s, s, 2 * s)),
    ]
    for v in views:
        with pytest.raises(ValueError, match="arr is a view whose elements overlap"):
            FILLS[name](v)
    assert_untouched(base)


def test_non_overlapping_as_strided_views_are_accepted():
    base = np.zeros(200, np.float32)
    s = base.itemsize
    for shape, strides in (((5, 4), (5 * s, s)), ((4, 5), (s, 4 * s)), ((3, 3), (-8 * s, 2 * s))):
        start = 100 if min(strides) < 0 else 0
        v = as_strided(base[start:], shape=shape, strides=strides)
        fastinit.normal_(v, seed=5)
        assert_same_bytes(v, fastinit.normal_(np.empty(shape, np.float32), seed=5), 5, str(strides))


def test_more_than_32_dimensions_is_a_value_error():
    arr = np.full((1,) * 33, SENTINEL, np.float32)
    with pytest.raises(ValueError, match="32 dimensions"):
        fastinit.normal_(arr, seed=1)
    assert_untouched(arr)
    ok = fastinit.normal_(np.empty((1,) * 32, np.float32), seed=1)
    assert_same_bytes(ok.reshape(1), fastinit.normal_(np.empty(1, np.float32), seed=1), 1)


# ---- parameters ------------------------------------------------------------------------------
BAD_PARAMS = [
    # (call, exception, a regex the message must match)
    (lambda x: fastinit.uniform_(x, math.nan, 1.0, seed=1), ValueError, r"\ba must be finite"),
    (lambda x: fastinit.uniform_(x, 0.0, math.inf, seed=1), ValueError, r"\bb must be finite"),
    (lambda x: fastinit.uniform_(x, -math.inf, 0.0, seed=1), ValueError, r"\ba must be finite"),
    (lambda x: fastinit.uniform_(x, 2.0, 1.0, seed=1), ValueError, r"a <= b.*a=2.0, b=1.0"),
    (lambda x: fastinit.uniform_(x, -1e308, 1e308, seed=1), ValueError, r"b - a overflows"),
    (lambda x: fastinit.uniform_(x, "0", 1.0, seed=1), TypeError, r"\ba must be a real number"),
    (lambda x: fastinit.uniform_(x, 0.0, None, seed=1), TypeError, r"\bb must be a real number"),
    (lambda x: fastinit.uniform_(x, 0.0, np.complex64(1), seed=1), TypeError,
     r"\bb must be a real"),
    (lambda x: fastinit.normal_(x, math.nan, seed=1), ValueError, r"mean must be finite"),
    (lambda x: fastinit.normal_(x, math.inf, seed=1), ValueError, r"mean must be finite"),
    (lambda x: fastinit.normal_(x, 0.0, math.nan, seed=1), ValueError, r"std must be finite"),
    (lambda x: fastinit.normal_(x, 0.0, math.inf, seed=1), ValueError, r"std must be finite"),
    (lambda x: fastinit.normal_(x, 0.0, -1.0, seed=1), ValueError, r"std must be >= 0"),
    (lambda x: fastinit.normal_(x, 0.0, -1e-300, seed=1), ValueError, r"std must be >= 0"),
    (lambda x: fastinit.normal_(x, [0.0], seed=1), TypeError, r"mean must be a real number"),
    (lambda x: fastinit.normal_(x, 0.0, "1", seed=1), TypeError, r"std must be a real number"),
    (lambda x: fastinit.normal_(x, 1 + 2j, seed=1), TypeError, r"mean must be a real number"),
    (lambda x: fastinit.normal_(x, np.complex128(1 + 2j), seed=1), TypeError, r"mean must be"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, -1.0, seed=1), ValueError, r"std must be >= 0"),
    (lambda x: fastinit.trunc_normal_(x, math.nan, seed=1), ValueError, r"mean must be finite"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, math.inf, seed=1), ValueError, r"std must be finite"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, 1.0, math.nan, 2.0, seed=1), ValueError,
     r"\ba and b must not be NaN"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, 1.0, -2.0, math.nan, seed=1), ValueError,
     r"\ba and b must not be NaN"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, 1.0, 2.0, -2.0, seed=1), ValueError,
     r"a <= b.*a=2.0, b=-2.0"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, 1.0, math.inf, math.inf, seed=1), ValueError,
     r"no \w+ value lies in \[a, b\] = \[inf, inf\]"),
    (lambda x: fastinit.trunc_normal_(x, 0.0, 1.0, -math.inf, -math.inf, seed=1), ValueError,
     r"no \w+ value lies in \[a, b\]"),
    (lambda x: fastinit.trunc_normal_(x, 5.0, 0.0, -1.0, 1.0, seed=1), ValueError,
     r"std=0.*mean=5.0"),
    (lambda x: fastinit.truncated_normal_(x, -1.0, seed=1), ValueError, r"stddev must be >= 0"),
    (lambda x: fastinit.truncated_normal_(x, math.nan, seed=1), ValueError,
     r"stddev must be finite"),
    (lambda x: fastinit.truncated_normal_(x, 1.0, 2.0, -2.0, seed=1), ValueError,
     r"lower <= upper"),
    (lambda x: fastinit.truncated_normal_(x, 1.0, math.nan, 2.0, seed=1), ValueError,
     r"lower <= upper"),
    (lambda x: fastinit.truncated_normal_(x, 1.0, mean=math.inf, seed=1), ValueError,
     r"mean must be finite"),
    (lambda x: fastinit.constant_(x, "1.0"), TypeError, r"val must be a real number"),
    (lambda x: fastinit.constant_(x, None), TypeError, r"val must be a real number"),
    # seeds and streams
    (lambda x: fastinit.normal_(x, seed=-1), ValueError, r"seed must be in \[0, 2\*\*64\)"),
    (lambda x: fastinit.normal_(x, seed=2**64), ValueError, r"seed must be in"),
    (lambda x: fastinit.normal_(x, seed=1.0), TypeError, r"seed must be an int"),
    (lambda x: fastinit.normal_(x, seed="1"), TypeError, r"seed must be an int"),
    (lambda x: fastinit.normal_(x, seed=1, stream=2**48), ValueError, r"stream must be in"),
    (lambda x: fastinit.normal_(x, seed=1, stream=-1), ValueError, r"stream must be in"),
    (lambda x: fastinit.normal_(x, seed=1, stream=0.5), TypeError, r"stream must be an int"),
    (lambda x: fastinit.uniform_(x, seed=1, generator=fastinit.Generator(1)), ValueError,
     r"seed=.*generator="),
    (lambda x: fastinit.normal_(x, generator=42), TypeError, r"generator must be"),
]


@pytest.mark.parametrize("case", range(len(BAD_PARAMS)))
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bad_parameters(case, dtype):
    call, exc, pattern = BAD_PARAMS[case]
    arr = sentinel(dtype=dtype)
    with pytest.raises(exc, match=pattern):
        call(arr)
    assert_untouched(arr, f"case {case}")


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16],
                         ids=["float32", "float16", "bfloat16"])
def test_interval_without_a_representable_value(dtype):
    a, b = 1 + 2.0**-30, 1 + 2.0**-29  # strictly between 1 and the next float32
    name = np.dtype(dtype).name
    for call in (lambda x: fastinit.trunc_normal_(x, 1.0, 1.0, a, b, seed=1),
                 lambda x: fastinit.uniform_(x, a, b, seed=1),
                 lambda x: fastinit.truncated_normal_(x, 2.0**-30, 1.0, 2.0, mean=1.0, seed=1)):
        arr = sentinel(dtype=dtype)
        with pytest.raises(ValueError, match=f"no {name} value lies in \\[a, b"):
            call(arr)
        assert_untouched(arr, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16],
                         ids=["float32", "float16", "bfloat16"])
def test_uniform_span_beyond_float32_is_rejected(dtype):
    """float32/float16/bfloat16 compute a + (b - a) * u in float32: (b - a) must be finite there.

    Before the check, uniform_(float32, -3e38, 3e38) clamped every value to the top of the
    interval, and wrote NaN where u == 0 (0 * inf).
    """
    arr = sentinel(dtype=dtype)
    with pytest.raises(ValueError, match="b - a overflows float32"):
        fastinit.uniform_(arr, -3e38, 3e38, seed=1)
    assert_untouched(arr)
    # float64 computes in float64: the same interval is fine there
    x = fastinit.uniform_(np.empty(10_000, np.float64), -3e38, 3e38, seed=1)
    assert x.min() < -1e38 and x.max() > 1e38


def test_constant_accepts_any_float():
    for dtype in DTYPES:
        for val in (math.nan, math.inf, -math.inf, 1e-30, -7.0):
            got = fastinit.constant_(np.empty(9, dtype), val)
            with np.errstate(over="ignore"):
                assert_same_bytes(got, np.full(9, val, dtype), None, f"{dtype} {val}")


def test_number_like_parameters_are_accepted():
    """NumPy scalars, ints, fractions: any real number float() takes."""
    from fractions import Fraction

    ref = fastinit.normal_(np.empty(16, np.float32), 0.5, 2.0, seed=3)
    for mean, std in ((np.float32(0.5), np.int64(2)), (Fraction(1, 2), 2), (np.float16(0.5), 2.0)):
        assert_same_bytes(fastinit.normal_(np.empty(16, np.float32), mean, std, seed=3), ref, 3)
    ref = fastinit.normal_(np.empty(16, np.float32), seed=np.uint64(2**63 + 5), stream=np.int8(3))
    assert_same_bytes(ref, fastinit.normal_(np.empty(16, np.float32), seed=2**63 + 5, stream=3),
                      2**63 + 5)


# ---- memory: misaligned buffers, guard bytes ----------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_misaligned_array_is_filled_correctly(dtype):
    """A view at byte offset 1 into a uint8 buffer gets exactly the values an aligned one gets."""
    n = 40_003  # above the threshold where the thread pool takes over
    for name in ("uniform_", "normal_", "trunc_normal_", "constant_"):
        ref = FILLS[name](np.empty(n, dtype))
        for level in available_simd_levels():
            fastinit.set_simd_level(level)
            raw = np.full(n * dtype.itemsize + 16, 0xAB, np.uint8)
            view = raw[1:1 + n * dtype.itemsize].view(dtype)
            assert view.ctypes.data % 2 == 1
            FILLS[name](view)
            assert_same_bytes(view, ref, 1, f"{name} {dtype.name} {level} misaligned")
            assert raw[0] == 0xAB and (raw[1 + n * dtype.itemsize:] == 0xAB).all()


def _footprint(base: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Mask of the bytes of `base` (uint8) covered by the elements of `view`."""
    start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    offsets = np.full(view.shape, start, np.int64)
    for axis, stride in enumerate(view.strides):
        shape = [1] * view.ndim
        shape[axis] = view.shape[axis]
        offsets = offsets + (np.arange(view.shape[axis]) * stride).reshape(shape)
    mask = np.zeros(base.size, bool)
    for k in range(view.itemsize):
        mask[offsets.reshape(-1) + k] = True
    return mask


def _strided_views(raw: np.ndarray, dtype: np.dtype, shift: int):
    """Views into the uint8 buffer `raw` at byte offset `shift` (guard bytes all around)."""
    size = (raw.size - 64) // dtype.itemsize
    buf = raw[shift:shift + size * dtype.itemsize].view(dtype)
    rows = size // 64
    m = buf[: rows * 64].reshape(rows, 64)
    yield "step 2", buf[8:-8:2]
    yield "step 3 reversed", buf[-9:8:-3]
    yield "2-D step slices", m[1:-1:2, 3:-3:3]
    yield "2-D column window", m[2:-2, 5:40]
    yield "2-D transposed", m[2:-2, 4:-4].T
    yield "2-D negative", m[-2:1:-1, -3:2:-2]
    yield "3-D", m[2:2 + (rows - 4) // 4 * 4].reshape(-1, 4, 64)[:, ::2, 7:50:3]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_guard_bytes_around_strided_views_are_never_written(dtype):
    for n_bytes in (4096, 1 << 19):  # small (inline) and large (threaded, several tasks)
        for level in available_simd_levels():
            fastinit.set_simd_level(level)
            fastinit.set_num_threads(2)
            for shift in (0, 1):
                raw = np.full(n_bytes + 64, 0xAB, np.uint8)
                for what, view in _strided_views(raw, dtype, 32 + shift):
                    mask = _footprint(raw, view)
                    for name in ("uniform_", "normal_", "trunc_normal_", "constant_"):
                        raw[:] = 0xAB
                        FILLS[name](view)
                        assert (raw[~mask] == 0xAB).all(), (
                            f"{name} {dtype.name} {level} {what}: wrote outside the view at byte "
                            f"{int(np.flatnonzero(raw[~mask] != 0xAB)[0])} of the untouched ones")
                        ref = FILLS[name](np.empty(view.shape, dtype))
                        assert_same_bytes(view, ref, 1, f"{name} {level} {what}")
