"""The fills: values independent of threads, SIMD level, memory layout and sharding
(docs/stream.md: "a pure function of (seed, stream, global index, parameters, dtype)"),
the distributions themselves, Generator semantics, and the 64-bit index space.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastinit
from fastinit import _core

from conftest import assert_same_bytes, available_simd_levels

ml_dtypes = pytest.importorskip("ml_dtypes")
scipy_stats = pytest.importorskip("scipy.stats")

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
DTYPE_IDS = [d.name for d in DTYPES]
HALF_DTYPES = [np.dtype(np.float16), BF16]

# name -> (function, positional parameters); every fill method of docs/stream.md.
DISTS = {
    "uniform": (fastinit.uniform_, (-1.0, 3.0)),
    "normal": (fastinit.normal_, (0.5, 2.0)),
    "trunc_normal": (fastinit.trunc_normal_, ()),                          # normal rejection
    # 19 % rejected: the retry batches (kernels_impl.hpp, kRetryBatch) flush inside a task
    "trunc_many_rejections": (fastinit.trunc_normal_, (0.0, 1.0, -1.3, 1.3)),
    "trunc_tail": (fastinit.trunc_normal_, (0.0, 1.0, 2.5, math.inf)),     # exponential
    "trunc_lower_tail": (fastinit.trunc_normal_, (0.0, 1.0, -math.inf, -2.5)),  # mirrored
    "trunc_narrow": (fastinit.trunc_normal_, (0.0, 1.0, -0.2, 0.1)),       # uniform proposal
    "truncated_normal": (fastinit.truncated_normal_, (0.02, -2.0, 2.0)),   # JAX-style
}
DIST_IDS = list(DISTS)


def fill(dist, arr, seed=1234, **kw):
    fn, params = DISTS[dist]
    return fn(arr, *params, seed=seed, **kw)


def contiguous(dist, shape, dtype, seed=1234, **kw):
    return fill(dist, np.empty(shape, dtype), seed=seed, **kw)


# ---- threads x SIMD levels ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dist", DIST_IDS)
def test_same_bytes_for_every_thread_count_and_simd_level(dist, dtype):
    levels = available_simd_levels()
    for size in (1, 3, 17, 1_000_003):
        for shard_offset in (0, 3):  # a shard starting mid-block
            kw = {}
            if shard_offset:
                kw = {"global_shape": (size + shard_offset,), "offset": (shard_offset,)}
            fastinit.set_simd_level("scalar")
            fastinit.set_num_threads(1)
            ref = contiguous(dist, size, dtype, **kw)
            for level in levels:
                fastinit.set_simd_level(level)
                for threads in ((1, 2, 3, 4) if size > 1000 else (1, 4)):
                    if level == "scalar" and threads == 1:
                        continue
                    fastinit.set_num_threads(threads)
                    got = contiguous(dist, size, dtype, **kw)
                    assert_same_bytes(got, ref, 1234, f"{dist} {dtype} n={size} "
                                      f"offset={shard_offset} {level} threads={threads}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_constant_every_thread_count_and_simd_level(dtype):
    ref = np.full(1_000_003, 0.3, dtype)
    for level in available_simd_levels():
        fastinit.set_simd_level(level)
        for threads in (1, 2, 3):
            fastinit.set_num_threads(threads)
            got = fastinit.constant_(np.empty(1_000_003, dtype), 0.3)
            assert_same_bytes(got, ref, None, f"constant {level} threads={threads}")


@pytest.mark.parametrize("dist", ["uniform", "normal", "trunc_tail"])
def test_every_start_phase_and_length(dist):
    """Windows at every phase within a block and a SIMD group equal the same slice of one fill."""
    for dtype in (np.float32, np.float64, BF16):
        full = contiguous(dist, 200, dtype)
        for level in available_simd_levels():
            fastinit.set_simd_level(level)
            for start in range(0, 40):
                for length in (1, 2, 5, 33, 64 + 7):
                    got = contiguous(dist, length, dtype,
                                     global_shape=(200,), offset=(start,))
                    assert_same_bytes(got, full[start:start + length], 1234,
                                      f"{dist} {np.dtype(dtype).name} {level} start={start}")


# ---- memory layout -------------------------------------------------------------------------
def _layouts(shape, dtype):
    """(name, array to fill, base buffer or None) for many layouts of the given 2-D shape."""
    r, c = shape
    yield "F-order", np.empty(shape, dtype, order="F"), None
    yield "transposed", np.empty((c, r), dtype).T, None
    big = np.zeros((2 * r + 1, 3 * c + 2), dtype)
    yield "step slices", big[1::2, 2::3], big
    big = np.zeros((r, c + 5), dtype)
    yield "column window", big[:, 2:c + 2], big
    yield "negative rows", np.empty(shape, dtype)[::-1], None
    yield "negative cols", np.empty(shape, dtype)[:, ::-1], None
    yield "negative both", np.empty(shape, dtype)[::-1, ::-1], None
    big = np.zeros((2 * r, 2 * c), dtype)
    yield "negative steps", big[::-2, ::-2], big
    yield "F-order reversed", np.empty(shape, dtype, order="F")[::-1], None


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dist", DIST_IDS)
def test_strided_equals_contiguous(dist, dtype):
    for shape in ((7, 13), (1, 33), (33, 1), (300, 257)):  # the last is threaded (> 2**15)
        ref = contiguous(dist, shape, dtype)
        for name, arr, base in _layouts(shape, dtype):
            guard = None if base is None else base.copy()
            out = fill(dist, arr)
            assert out is arr
            assert_same_bytes(arr, ref, 1234, f"{dist} {name} {shape}")
            if base is not None:
                # every element of the base outside the view is untouched (still zero bits)
                arr[...] = 0
                bits = f"u{base.itemsize}"
                assert np.array_equal(base.view(bits), guard.view(bits)), f"{name}: guard written"


def test_strided_long_rows_split_across_tasks():
    """Rows longer than one task (2**16 elements), strided, threaded: values by logical index."""
    fastinit.set_num_threads(2)
    for dtype in (np.float32, np.float64, BF16):
        shape = (3, 150_001)
        ref = contiguous("normal", shape, dtype)
        base = np.zeros((3, 2 * 150_001), dtype)
        view = base[:, ::2]
        fill("normal", view)
        assert_same_bytes(view, ref, 1234, f"{np.dtype(dtype).name} step-2 rows")
        assert not base[:, 1::2].view(f"u{base.itemsize}").any()
        f_order = fill("normal", np.empty(shape, dtype, order="F"))
        assert_same_bytes(f_order, ref, 1234, "F-order long rows")


PAGE = 2 << 20  # fill.cpp splits large contiguous fills at 2 MiB addresses (kPageBytes)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dist", ["uniform", "trunc_many_rejections"])
def test_huge_page_tasks_at_every_start_within_a_page(dist, dtype):
    """Large contiguous fills (>= 4 pages per thread) split at 2 MiB address boundaries: at any
    start address the values equal the ordinary split's (a step-2 view), no element is skipped
    and nothing outside the array is written."""
    dtype = np.dtype(dtype)
    n = (4 * 3 * PAGE) // dtype.itemsize + 3           # page tasks for up to 3 threads
    raw = np.empty(n * dtype.itemsize + 2 * PAGE, np.uint8)
    aligned = (-raw.ctypes.data) % PAGE
    strided = np.zeros(2 * n, dtype)[::2]
    fastinit.set_num_threads(1)
    ref = fill(dist, strided).copy()
    for start in (0, dtype.itemsize, PAGE - dtype.itemsize, 12345 * dtype.itemsize):
        lo = aligned + start
        view = raw[lo:lo + n * dtype.itemsize].view(dtype)
        assert view.ctypes.data % PAGE == start
        for threads in (1, 2, 3):
            fastinit.set_num_threads(threads)
            raw[:] = 0xA5
            fill(dist, view)
            assert_same_bytes(view, ref, 1234, f"{dist} {dtype} start={start} threads={threads}")
            assert (raw[:lo] == 0xA5).all() and (raw[lo + n * dtype.itemsize:] == 0xA5).all()
    # one row of a sharded 2-D block (not a single global run: the row starts at column 5)
    shard = {"global_shape": (2, n + 5), "offset": (1, 5)}
    fastinit.set_num_threads(1)
    row_ref = fill(dist, np.zeros((1, 2 * n), dtype)[:, ::2], **shard).copy()
    fastinit.set_num_threads(2)
    row = raw[aligned + dtype.itemsize:aligned + (n + 1) * dtype.itemsize].view(dtype).reshape(1, n)
    assert_same_bytes(fill(dist, row, **shard), row_ref, 1234, f"{dist} {dtype} sharded row")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16], ids=str)
def test_higher_dimensional_views(dtype):
    shape = (4, 5, 6, 7)
    ref = contiguous("normal", shape, dtype)
    base = np.empty((7, 6, 5, 4), dtype)
    view = base.transpose(3, 2, 1, 0)
    fill("normal", view)
    assert_same_bytes(view, ref, 1234, "transpose(3,2,1,0)")
    view = np.moveaxis(np.empty((6, 4, 7, 5), dtype), [0, 1, 2, 3], [2, 0, 3, 1])
    assert view.shape == shape
    fill("normal", view)
    assert_same_bytes(view, ref, 1234, "moveaxis")
    big = np.empty((8, 10, 12, 14), dtype)
    view = big[::2, ::-2, 1::2, ::2]
    fill("normal", view)
    assert_same_bytes(view, ref, 1234, "steps in 4-D")


def test_zero_dimensional_and_size_one_dims():
    for dtype in DTYPES:
        a = np.empty((), dtype)
        fill("normal", a)
        assert_same_bytes(a.reshape(1), contiguous("normal", 1, dtype), 1234, "0-d")
        b = np.empty((1, 1, 5, 1), dtype)[:, :, ::-1]
        fill("uniform", b)
        assert_same_bytes(b, contiguous("uniform", (1, 1, 5, 1), dtype), 1234, "size-1 dims")


def test_zero_size_arrays_are_a_no_op():
    for dtype in DTYPES:
        for shape in ((0,), (0, 5), (5, 0), (3, 0, 2)):
            for dist in DIST_IDS:
                arr = np.empty(shape, dtype)
                assert fill(dist, arr) is arr
            fastinit.constant_(np.empty(shape, dtype), 1.0)
            fastinit.random_raw_(np.empty(shape, np.uint32), 1)
        base = np.full(10, 7.0, dtype)
        fill("normal", base[5:5])
        fill("normal", base[::-1][3:3])
        assert (base.astype(np.float64) == 7.0).all()
    # a zero-size shard of a big global tensor
    fastinit.normal_(np.empty((0, 4), np.float32), seed=1, global_shape=(10, 4), offset=(10, 0))


def test_misaligned_arrays_are_filled_correctly():
    """A float view at byte offset 1 into a uint8 buffer, at every SIMD level, contiguous and
    strided."""
    for dtype in DTYPES:
        n = 4099
        ref = contiguous("normal", n, dtype)
        for level in available_simd_levels():
            fastinit.set_simd_level(level)
            for shift in (1, 2, 3):
                raw = np.zeros(n * dtype.itemsize + 8, np.uint8)
                view = raw[shift:shift + n * dtype.itemsize].view(dtype)
                assert view.ctypes.data % dtype.itemsize != 0 or shift % dtype.itemsize == 0
                fill("normal", view)
                assert_same_bytes(view, ref, 1234, f"{dtype.name} {level} shift={shift}")
                assert not raw[:shift].any() and not raw[shift + n * dtype.itemsize:].any()
            raw = np.zeros(2 * n * dtype.itemsize + 8, np.uint8)
            strided = raw[1:1 + 2 * n * dtype.itemsize].view(dtype)[::2]
            fill("normal", strided)
            assert_same_bytes(strided, ref, 1234, f"{dtype.name} {level} misaligned strided")


# ---- half precision = the float32 fill, rounded -------------------------------------------------
def _bounds(dist, dtype):
    """The dtype's clamp bounds for a distribution (docs: uniform [a up, largest < b])."""
    from fastinit._arrays import BFLOAT16, FLOAT16, dtype_ceil, dtype_floor

    code = BFLOAT16 if dtype == BF16 else FLOAT16
    fn, params = DISTS[dist]
    if dist == "uniform":
        a, b = params
        return dtype_ceil(a, code), dtype_floor(b, code, strict=True)
    if dist.startswith("trunc"):
        if dist == "truncated_normal":
            std, lo, hi = params
            a, b = lo * std, hi * std
        else:
            mean, std, a, b = params if params else (0.0, 1.0, -2.0, 2.0)
        return dtype_ceil(a, code), dtype_floor(b, code)
    return -math.inf, math.inf


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=["float16", "bfloat16"])
@pytest.mark.parametrize("dist", DIST_IDS)
def test_half_precision_is_float32_rounded_to_nearest_even(dist, dtype):
    """float16/bfloat16 = the float32 value rounded to nearest even (numpy astype), then clamped
    into the output dtype's bounds (docs: "Every result is finally clamped into [lo, hi]")."""
    n = 100_003
    f32 = contiguous(dist, n, np.float32)
    got = contiguous(dist, n, dtype)
    rounded = f32.astype(dtype)
    lo, hi = _bounds(dist, dtype)
    want = np.clip(rounded.astype(np.float32), np.float32(lo), np.float32(hi)).astype(dtype)
    assert_same_bytes(got, want, 1234, f"{dist} {dtype.name}")
    if dist == "normal":  # unclamped: exactly the rounded float32 fill
        assert_same_bytes(got, rounded, 1234, "normal, no clamp")


def test_bfloat16_uniform_differs_from_astype_only_at_the_open_bound():
    """Rounding the float32 fill would produce b itself; the bf16 fill never does (it clamps)."""
    f32 = fastinit.uniform_(np.empty(100_000, np.float32), 0.0, 1.0, seed=5)
    bf = fastinit.uniform_(np.empty(100_000, BF16), 0.0, 1.0, seed=5)
    rounded = f32.astype(BF16)
    differ = rounded.astype(np.float32) != bf.astype(np.float32)
    assert differ.any()  # about 1 in 512 float32 values rounds up to 1.0 in bfloat16
    assert (rounded.astype(np.float32)[differ] == 1.0).all()
    assert (bf.astype(np.float32)[differ] == np.float32(1 - 2.0**-8)).all()
    assert bf.astype(np.float32).max() < 1.0


# ---- distributions ------------------------------------------------------------------------------
N_STAT = 1_000_000


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
def test_ks_uniform(dtype):
    x = fastinit.uniform_(np.empty(N_STAT, dtype), -2.0, 3.0, seed=101)
    p = scipy_stats.kstest(x.astype(np.float64), scipy_stats.uniform(-2.0, 5.0).cdf).pvalue
    assert p > 1e-4, f"seed=101: KS p = {p}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
def test_ks_normal(dtype):
    x = fastinit.normal_(np.empty(N_STAT, dtype), 1.0, 3.0, seed=202)
    p = scipy_stats.kstest(x.astype(np.float64), scipy_stats.norm(1.0, 3.0).cdf).pvalue
    assert p > 1e-4, f"seed=202: KS p = {p}"


@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (2.5, math.inf), (-math.inf, -3.0), (-0.2, 0.1),
                                 (-1.0, 3.0), (1.0, 1.5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
def test_ks_truncated_normal(dtype, a, b):
    x = fastinit.trunc_normal_(np.empty(N_STAT // 2, dtype), 0.0, 1.0, a, b, seed=303)
    assert x.min() >= a and x.max() <= b
    p = scipy_stats.kstest(x.astype(np.float64), scipy_stats.truncnorm(a, b).cdf).pvalue
    assert p > 1e-4, f"seed=303 [{a}, {b}]: KS p = {p}"


def test_ks_normal_pairs_are_independent():
    """Both Box-Muller outputs (cos and sin) and the two pairs of a block are N(0,1), and a
    normal value is uncorrelated with its neighbours."""
    for dtype in (np.float32, np.float64):
        x = fastinit.normal_(np.empty(N_STAT, dtype), seed=404).astype(np.float64)
        period = 4 if dtype == np.float32 else 2
        for k in range(period):
            p = scipy_stats.kstest(x[k::period], "norm").pvalue
            assert p > 1e-4, f"seed=404 {np.dtype(dtype).name} lane {k}: p = {p}"
        for lag in (1, 2, 3, 4):
            corr = np.corrcoef(x[:-lag], x[lag:])[0, 1]
            assert abs(corr) < 5e-3, f"seed=404 lag {lag}: corr {corr}"
        r2 = x[0::2] ** 2 + x[1::2] ** 2  # chi-square with 2 dof = Exp(1/2)
        p = scipy_stats.kstest(r2, scipy_stats.expon(scale=2.0).cdf).pvalue
        assert p > 1e-4


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_moments(dtype):
    n = N_STAT
    x = fastinit.uniform_(np.empty(n, dtype), -1.0, 3.0, seed=11).astype(np.float64)
    # mean 1, var 16/12; 6 sigma of the estimators (plus bfloat16's rounding)
    tol = 0.02 if dtype == BF16 else 0.0
    assert abs(x.mean() - 1.0) < 6 * math.sqrt(16 / 12 / n) + tol
    assert abs(x.var() - 16 / 12) < 6 * math.sqrt(16 / 12 * 16 / 12 * 0.8 / n) + tol
    z = fastinit.normal_(np.empty(n, dtype), 2.0, 0.5, seed=12).astype(np.float64)
    assert abs(z.mean() - 2.0) < 6 * 0.5 / math.sqrt(n) + tol / 4
    assert abs(z.std() - 0.5) < 6 * 0.5 / math.sqrt(2 * n) + tol / 4
    s = (z - 2.0) / 0.5
    assert abs(scipy_stats.skew(s)) < 6 * math.sqrt(6 / n) + tol
    assert abs(scipy_stats.kurtosis(s)) < 6 * math.sqrt(24 / n) + 2 * tol
    t = fastinit.trunc_normal_(np.empty(n, dtype), 0.0, 1.0, -2.0, 2.0, seed=13).astype(np.float64)
    ref = scipy_stats.truncnorm(-2.0, 2.0)
    assert abs(t.mean()) < 6 * ref.std() / math.sqrt(n) + tol / 4
    assert abs(t.var() - ref.var()) < 6 * ref.var() * math.sqrt(2 / n) + tol
    j = fastinit.truncated_normal_(np.empty(n, dtype), 0.05, seed=14).astype(np.float64)
    assert abs(j.std() - 0.05 * ref.std()) < 6 * 0.05 * ref.std() / math.sqrt(2 * n) + tol
    assert j.min() >= -0.1 and j.max() <= 0.1


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_uniform_in_half_open_interval(dtype):
    cases = [(0.0, 1.0), (-1.0, 1.0), (-3.0, -2.0), (0.1, 0.2), (1e-3, 1.5e-3), (100.0, 101.0)]
    for a, b in cases:
        x = fastinit.uniform_(np.empty(200_000, dtype), a, b, seed=21).astype(np.float64)
        assert x.min() >= a and x.max() < b, f"[{a}, {b}) {dtype.name}: {x.min()} {x.max()}"
    # tight intervals: one or a few representable values
    if dtype == BF16:
        b1 = float(np.array(1.0078125, BF16))  # next bfloat16 after 1.0
    else:
        b1 = float(np.nextafter(np.array(1.0, dtype), np.array(2.0, dtype)))
    x = fastinit.uniform_(np.empty(10_000, dtype), 1.0, b1, seed=22).astype(np.float64)
    assert (x == 1.0).all(), f"[1, next) {dtype.name} has values other than 1"
    spacing = b1 - 1.0
    x = fastinit.uniform_(np.empty(100_000, dtype), 1.0, 1.0 + 3 * spacing, seed=23)
    vals = np.unique(x.astype(np.float64))
    assert vals.tolist() == [1.0, 1.0 + spacing, 1.0 + 2 * spacing], vals
    # a == b fills the constant a
    x = fastinit.uniform_(np.empty(100, dtype), 0.5, 0.5, seed=24)
    assert (x.astype(np.float64) == 0.5).all()


def test_uniform_interval_without_a_representable_value_is_an_error():
    with pytest.raises(ValueError, match="bfloat16"):
        fastinit.uniform_(np.empty(4, BF16), 1.001, 1.002, seed=1)
    with pytest.raises(ValueError, match="float16"):
        fastinit.uniform_(np.empty(4, np.float16), 1.0001, 1.0002, seed=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_truncated_normal_never_leaves_bounds(dtype):
    """docs: no value outside [a, b], in any dtype, even when rounding would push it out."""
    for mean, std, a, b in ((0.0, 1.0, -2.0, 2.0), (0.1, 1.0, -0.1, 0.3001), (0.0, 1.0, 2.0, 2.01),
                            (5.0, 0.001, 4.9995, 5.0007), (0.0, 1e-3, -1e-3, 1e-3)):
        try:
            x = fastinit.trunc_normal_(np.empty(100_000, dtype), mean, std, a, b, seed=31)
        except ValueError:
            continue  # no representable value in [a, b] for this dtype
        x = x.astype(np.float64)
        assert x.min() >= a and x.max() <= b, f"{dtype.name} [{a}, {b}]: {x.min()} {x.max()}"


def test_std_zero_gives_the_mean():
    for dtype in DTYPES:
        x = fastinit.normal_(np.empty(1000, dtype), 0.75, 0.0, seed=1)
        assert (x.astype(np.float64) == 0.75).all()
        x = fastinit.trunc_normal_(np.empty(1000, dtype), 0.75, 0.0, 0.0, 1.0, seed=1)
        assert (x.astype(np.float64) == 0.75).all()


# ---- seeds, streams, Generators ----------------------------------------------------------------
def test_stateless_calls_repeat_and_streams_differ():
    a = fastinit.normal_(np.empty(1000, np.float32), seed=7)
    assert_same_bytes(fastinit.normal_(np.empty(1000, np.float32), seed=7), a, 7)
    assert_same_bytes(fastinit.normal_(np.empty(1000, np.float32), seed=7, stream=0), a, 7)
    b = fastinit.normal_(np.empty(1000, np.float32), seed=7, stream=1)
    c = fastinit.normal_(np.empty(1000, np.float32), seed=8)
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_generator_takes_consecutive_streams():
    g = fastinit.Generator(99)
    x1 = fastinit.uniform_(np.empty(500, np.float32), generator=g)
    x2 = fastinit.uniform_(np.empty(500, np.float32), generator=g)
    assert not np.array_equal(x1, x2)
    assert g.next_stream == 2
    assert_same_bytes(x1, fastinit.uniform_(np.empty(500, np.float32), seed=99, stream=0), 99)
    assert_same_bytes(x2, fastinit.uniform_(np.empty(500, np.float32), seed=99, stream=1), 99)
    # same seed, same sequence of calls
    h = fastinit.Generator(99)
    assert_same_bytes(fastinit.uniform_(np.empty(500, np.float32), generator=h), x1, 99)
    assert_same_bytes(fastinit.uniform_(np.empty(500, np.float32), generator=h), x2, 99)
    # different kinds of fill still take one stream each
    n = fastinit.normal_(np.empty(10, np.float64), generator=h)
    assert_same_bytes(n, fastinit.normal_(np.empty(10, np.float64), seed=99, stream=2), 99)
    assert h.next_stream == 3
    h.manual_seed(99)
    assert h.get_state() == (99, 0)
    assert_same_bytes(fastinit.uniform_(np.empty(500, np.float32), generator=h), x1, 99)
    state = h.get_state()
    y = fastinit.normal_(np.empty(50, np.float32), generator=h)
    h.set_state(state)
    assert_same_bytes(fastinit.normal_(np.empty(50, np.float32), generator=h), y, 99)
    g2 = fastinit.Generator(99, stream=5)
    assert_same_bytes(fastinit.normal_(np.empty(50, np.float32), generator=g2),
                      fastinit.normal_(np.empty(50, np.float32), seed=99, stream=5), 99)


def test_generator_pickles_and_copies_with_its_state():
    import copy
    import pickle

    g = fastinit.Generator(7, stream=3)
    fastinit.uniform_(np.empty(4, np.float32), generator=g)
    for clone in (pickle.loads(pickle.dumps(g)), copy.copy(g), copy.deepcopy(g)):
        assert type(clone) is fastinit.Generator and clone.get_state() == (7, 4)
        a = fastinit.normal_(np.empty(50, np.float32), generator=clone)
        assert_same_bytes(a, fastinit.normal_(np.empty(50, np.float32), seed=7, stream=4), 7)
        assert g.next_stream == 4  # the original does not move with its copy


def test_manual_seed_resets_the_default_generator():
    saved = fastinit.default_generator.get_state()
    try:
        ret = fastinit.manual_seed(2024)
        assert ret is fastinit.default_generator
        a = fastinit.normal_(np.empty(300, np.float32))
        b = fastinit.normal_(np.empty(300, np.float32))
        assert not np.array_equal(a, b)
        assert_same_bytes(a, fastinit.normal_(np.empty(300, np.float32), seed=2024, stream=0),
                          2024)
        assert_same_bytes(b, fastinit.normal_(np.empty(300, np.float32), seed=2024, stream=1),
                          2024)
        fastinit.manual_seed(2024)
        assert_same_bytes(fastinit.normal_(np.empty(300, np.float32)), a, 2024)
        assert_same_bytes(fastinit.normal_(np.empty(300, np.float32)), b, 2024)
    finally:
        fastinit.default_generator.set_state(saved)


def test_seed_and_generator_together_is_an_error():
    g = fastinit.Generator(1)
    arr = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="seed=.*generator="):
        fastinit.normal_(arr, seed=1, generator=g)
    with pytest.raises(ValueError, match="stream="):
        fastinit.normal_(arr, stream=1, generator=g)
    with pytest.raises(ValueError, match="stream= needs seed="):
        fastinit.uniform_(arr, stream=1)
    with pytest.raises(TypeError, match="generator"):
        fastinit.uniform_(arr, generator=np.random.default_rng(0))
    assert g.next_stream == 0, "a rejected call must not consume a stream"
    assert not arr.any()


def test_generator_argument_validation():
    with pytest.raises(ValueError, match="seed"):
        fastinit.Generator(-1)
    with pytest.raises(ValueError, match="seed"):
        fastinit.Generator(2**64)
    with pytest.raises(TypeError, match="seed"):
        fastinit.Generator(1.0)
    with pytest.raises(ValueError, match="stream"):
        fastinit.Generator(1, stream=2**48)
    g = fastinit.Generator(1, stream=2**48 - 1)
    fastinit.normal_(np.empty(4, np.float32), generator=g)
    with pytest.raises(RuntimeError, match="2\\*\\*48"):
        fastinit.normal_(np.empty(4, np.float32), generator=g)
    # the largest seed and stream are usable
    x = fastinit.normal_(np.empty(8, np.float64), seed=2**64 - 1, stream=2**48 - 1)
    assert np.isfinite(x).all()


# ---- the 64-bit index space -----------------------------------------------------------------
def test_huge_global_tensor_via_shards_matches_formula():
    """Elements around global index 2**34 of a (2**20, 2**16) float32 tensor: block 2**32 of
    the stream, where the block index carries into counter word 1 (docs: "Indices and shards")."""
    R, C = 2**20, 2**16
    g0 = 2**34 - 50  # first global index of interest
    r0, c0 = divmod(g0, C)
    local = fastinit.uniform_(np.empty((2, C), np.float32), -1.0, 1.0, seed=77, stream=5,
                              global_shape=(R, C), offset=(r0, 0))
    flat = local.reshape(-1)[c0:c0 + 100]
    w = fastinit.random_raw_(np.empty(100, np.uint32), 77, 5, g0)
    f32 = np.float32
    want = f32(-1.0) + f32(2.0) * ((w >> 8).astype(f32) * f32(2.0**-24))
    assert_same_bytes(flat, want, 77, "uniform float32 at 2**34")
    # float64: block j gives elements 2j, 2j+1; block 2**32 is element 2**33
    g0 = 2**33 - 20
    x = fastinit.uniform_(np.empty(40, np.float64), seed=77, stream=5,
                          global_shape=(2**40,), offset=(g0,))
    w = fastinit.random_raw_(np.empty(80, np.uint32), 77, 5, 2 * g0).reshape(-1, 2)
    want = (w[:, 1] >> 11).astype(np.float64) * 2.0**-21 + w[:, 0] * 2.0**-53
    assert_same_bytes(x, want, 77, "uniform float64 at 2**33")


@pytest.mark.parametrize("dist", DIST_IDS)
def test_huge_index_shards_agree_across_decompositions_and_levels(dist):
    """Indices near 2**32 (element carry in truncated-normal retries), 2**34 (float32 block
    carry) and 2**62 (the top of the index space): a 2-D shard, a 1-D shard and single-element
    shards agree, at every SIMD level."""
    for dtype in (np.float32, np.float64):
        for g0 in (2**32 - 37, 2**33 - 37, 2**34 - 37, 2**62 - 80):
            C = 2**16
            R = 2**62 // C
            r0, c0 = divmod(g0, C)
            ref = None
            for level in available_simd_levels():
                fastinit.set_simd_level(level)
                one_d = fill(dist, np.empty(80, dtype), seed=3, global_shape=(2**62,),
                             offset=(g0,))
                rows = 1 if c0 + 80 <= C else 2
                two_d = fill(dist, np.empty((rows, C), dtype), seed=3, global_shape=(R, C),
                             offset=(r0, 0)).reshape(-1)[c0:c0 + 80]
                assert_same_bytes(two_d, one_d, 3, f"{dist} {level} 2-D vs 1-D at {g0}")
                if ref is None:
                    ref = one_d
                    singles = np.concatenate([
                        fill(dist, np.empty(1, dtype), seed=3, global_shape=(2**62,),
                             offset=(g0 + k,)) for k in range(80)])
                    assert_same_bytes(singles, one_d, 3, f"{dist} singles at {g0}")
                assert_same_bytes(one_d, ref, 3, f"{dist} {level} at {g0}")


def test_truncated_retry_counter_carries_at_element_2_32():
    """Attempt r of element i uses counter (i lo, i hi, s lo, s hi | r << 16): across i = 2**32
    the high word must carry, lane by lane (SIMD lanes take i, i+4, ... in float32)."""
    seed, stream = 11, 2
    g0 = 2**32 - 40
    for level in available_simd_levels():
        fastinit.set_simd_level(level)
        got = fastinit.trunc_normal_(np.empty(80, np.float32), 0.0, 1.0, 0.0, math.inf,
                                     seed=seed, stream=stream, global_shape=(2**40,),
                                     offset=(g0,)).astype(np.float64)
        # alpha = 0, lambda = 1: accepted attempt-1 values are -log(u24o(w0)) of block (i, ...)
        w = np.empty(4 * 80, np.uint32)
        _core.random_raw(w, seed, stream, g0, 0, 1)
        w = w.reshape(80, 4)
        u1 = ((w[:, 0] >> 8).astype(np.float64) + 1) * 2.0**-24
        u2 = ((w[:, 1] >> 8).astype(np.float64) + 1) * 2.0**-24
        x = -np.log(u1)
        clear = np.log(u2) + (x - 1) ** 2 / 2 < -1e-4
        assert clear.sum() > 40
        assert np.allclose(got[clear], x[clear], rtol=3e-7, atol=1e-7), level


def test_global_tensor_over_2_62_elements_is_rejected():
    arr = np.zeros((1, 4), np.float32)
    with pytest.raises((ValueError, IndexError, OverflowError), match="2\\*\\*62"):
        fastinit.normal_(arr, seed=1, global_shape=(2**31, 2**31 + 1), offset=(0, 0))
    assert not arr.any()


# ---- shards reassemble to the unsharded fill ----------------------------------------------------
def _assemble(dist, dtype, shape, cuts, local_order="C"):
    out = np.empty(shape, dtype)
    grids = [list(zip([0, *c], [*c, n])) for c, n in zip(cuts, shape)]
    import itertools

    for box in itertools.product(*grids):
        local_shape = tuple(hi - lo for lo, hi in box)
        local = np.empty(local_shape, dtype, order=local_order)
        fill(dist, local, global_shape=shape, offset=tuple(lo for lo, _ in box))
        out[tuple(slice(lo, hi) for lo, hi in box)] = local
    return out


@pytest.mark.parametrize("dist", ["uniform", "normal", "trunc_normal", "trunc_tail"])
def test_shards_reassemble_explicit(dist):
    for dtype in (np.float32, np.float64, BF16):
        shape = (24, 36)
        ref = contiguous(dist, shape, dtype)
        for cuts in (([12], []), ([], [18]), ([12], [18]), ([1, 5, 23], [7, 8, 35]),
                     ([3, 6, 9, 12, 15, 18, 21], [])):
            for order in ("C", "F"):
                got = _assemble(dist, dtype, shape, cuts, order)
                assert_same_bytes(got, ref, 1234, f"{dist} cuts={cuts} local {order}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shards_reassemble_random(data):
    ndim = data.draw(st.integers(1, 3), label="ndim")
    shape = tuple(data.draw(st.lists(st.integers(1, 12), min_size=ndim, max_size=ndim),
                            label="shape"))
    cuts = [sorted(set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=3))))
            if n > 1 else [] for n in shape]
    dist = data.draw(st.sampled_from(DIST_IDS), label="dist")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    order = data.draw(st.sampled_from("CF"), label="order")
    seed = data.draw(st.integers(0, 2**64 - 1), label="seed")
    ref = fill(dist, np.empty(shape, dtype), seed=seed)
    out = np.empty(shape, dtype)
    import itertools

    grids = [list(zip([0, *c], [*c, n])) for c, n in zip(cuts, shape)]
    for box in itertools.product(*grids):
        local = np.empty(tuple(hi - lo for lo, hi in box), dtype, order=order)
        fill(dist, local, seed=seed, global_shape=shape, offset=tuple(lo for lo, _ in box))
        out[tuple(slice(lo, hi) for lo, hi in box)] = local
    assert_same_bytes(out, ref, seed, f"{dist} {dtype} shape={shape} cuts={cuts}")


def test_shard_argument_errors():
    arr = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="global_shape"):
        fastinit.normal_(arr, seed=1, offset=(0, 0))
    with pytest.raises(ValueError, match="global_shape"):
        fastinit.normal_(arr, seed=1, global_shape=(4,), offset=(0,))
    with pytest.raises(ValueError, match="dimension 1"):
        fastinit.normal_(arr, seed=1, global_shape=(8, 8), offset=(0, 4))
    with pytest.raises(ValueError, match="dimension 0"):
        fastinit.normal_(arr, seed=1, global_shape=(8, 8), offset=(-1, 0))
    assert not arr.any()
    # offset defaults to zeros
    a = fastinit.normal_(np.empty((4, 5), np.float32), seed=1, global_shape=(8, 5))
    assert_same_bytes(a, fastinit.normal_(np.empty((8, 5), np.float32), seed=1)[:4], 1)


# ---- signed zeros -------------------------------------------------------------------------------
# Element 9403160 of (seed 3, stream 0), float32: its radius word w0 has w0 >> 8 == 0xFFFFFF, so
# u24o(w0) == 1, log == 0 and r == sqrt(-0.0) == -0.0: the "normal" pair is (±0, ±0).
NEG_ZERO_SEED, NEG_ZERO_INDEX = 3, 9403160


# Regression: splat<V>(s) was `V{} + s`, which turned a -0.0 parameter into +0.0 on SIMD levels.
def test_negative_zero_mean_same_bytes_at_every_simd_level():
    i = NEG_ZERO_INDEX
    w = fastinit.random_raw_(np.empty(2, np.uint32), NEG_ZERO_SEED, 0, i)
    assert w[0] >> 8 == 0xFFFFFF  # the element's radius word: u24o == 1, r == -0.0
    results = {}
    for level in available_simd_levels():
        fastinit.set_simd_level(level)
        results[level] = fastinit.normal_(np.empty(4, np.float32), -0.0, 1.0,
                                          seed=NEG_ZERO_SEED, global_shape=(2**26,),
                                          offset=(i,))
    for level, got in results.items():
        assert_same_bytes(got, results["scalar"], NEG_ZERO_SEED, f"mean=-0.0 at {level}")


# Regression: a constant was written as loc + scale * 0.0, which turned -0.0 into +0.0.
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_constant_negative_zero_keeps_its_sign(dtype):
    got = fastinit.constant_(np.ones(100, dtype), -0.0)
    assert_same_bytes(got, np.full(100, -0.0, dtype), None, "constant -0.0")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_constants_same_bytes_at_every_simd_level(dtype):
    """Signed zeros, NaN and infinities, through every constant path, agree across levels."""
    calls = [
        lambda x, v: fastinit.constant_(x, v),
        lambda x, v: fastinit.uniform_(x, v, v, seed=1) if math.isfinite(v) else x,
        lambda x, v: fastinit.trunc_normal_(x, v, 0.0, -1.0, 1.0, seed=1) if abs(v) <= 1 else x,
    ]
    for value in (-0.0, 0.0, 0.5, -1.0, math.nan, math.inf, -math.inf):
        for k, call in enumerate(calls):
            results = {}
            for level in available_simd_levels():
                fastinit.set_simd_level(level)
                results[level] = call(np.ones(37, dtype), value)
            for level, got in results.items():
                assert_same_bytes(got, results["scalar"], None, f"path {k} value {value} {level}")


# float32 values on every rounding edge of float16 and bfloat16: ties to even, subnormal
# ties, the largest finite values and the first that round to infinity.
_F16_EDGES = [2.0**-25, 3 * 2.0**-25, 2.0**-24, 2.0**-14 - 2.0**-25, 2.0**-14, 1 + 2.0**-11,
              1 + 3 * 2.0**-11, 65504.0, 65519.0, 65520.0, 1e-9, 1e-30]
_BF16_EDGES = [1 + 2.0**-8, 1 + 3 * 2.0**-8, 2.0**-126, 2.0**-133, 3 * 2.0**-134,
               3.3895313892515355e38, 3.3961775292304453e38, 3.4028234663852886e38, 1e-40]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=["float16", "bfloat16"])
def test_half_rounding_edges_at_every_simd_level(dtype):
    """The SIMD levels round half precision in hardware (vcvtps2ph) or with a packed software
    path; every level must give numpy's round-to-nearest-even of the float32 value."""
    edges = _F16_EDGES if dtype == np.float16 else _BF16_EDGES
    for edge in edges:
        for value in (edge, -edge):
            want = np.full(100, np.float32(value)).astype(dtype)
            for level in available_simd_levels():
                fastinit.set_simd_level(level)
                got = fastinit.constant_(np.empty(100, dtype), value)
                assert_same_bytes(got, want, None, f"{value!r} at {level}")


def _libm_fesetround():
    import ctypes
    import ctypes.util
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64") or not ctypes.util.find_library("m"):
        pytest.skip("x86 rounding-mode constants and libm's fesetround needed")
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    return libm.fesetround, libm.fegetround


def test_float16_same_bytes_at_every_level_under_a_non_default_rounding_mode():
    """vcvtps2ph rounds to nearest even whatever MXCSR says; the reference's float16
    subnormal rounding is integer-only, so a caller's rounding mode cannot split the levels.
    (A fill below 32 Ki elements runs on the calling thread, in its rounding mode.)"""
    fesetround, fegetround = _libm_fesetround()
    fe_upward, fe_downward = 0x800, 0x400  # x86 <fenv.h>
    saved = fegetround()
    try:
        for mode in (fe_upward, fe_downward):
            assert fesetround(mode) == 0
            results = {}
            for level in available_simd_levels():
                fastinit.set_simd_level(level)
                results[level] = fastinit.uniform_(np.empty(4096, np.float16), 0.0, 2.0**-15,
                                                   seed=3)
            for level, got in results.items():
                assert_same_bytes(got, results["scalar"], 3, f"rounding mode {mode:#x} {level}")
    finally:
        fesetround(saved)
