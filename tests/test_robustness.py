"""Robustness campaign (issue 9): every public function against bad input, threads and fork.

For every public function of ``fastinit`` (discovered from ``fastinit.__all__``, so a new one
is covered without editing this file), property tests draw

- targets: shapes with 0- and 1-sized dimensions, positive / negative / zero strides,
  overlapping views, misaligned starts, every NumPy dtype (and ml_dtypes' bfloat16 and
  float8), non-native byte order, read-only arrays and non-arrays;
- parameters: NaN, +-inf, huge, tiny, negative, zero, wrong types, out-of-range seeds,
  streams, generators and shard arguments;

and require either correct values or a TypeError / ValueError, never a crash, never another
exception type, and never a write outside the array: each target is a view into a larger
buffer whose other bytes (the guard bytes) must keep their pattern, and a call that raises
must leave the whole buffer untouched. "Correct values" is checked by layout independence:
an accepted view must receive exactly the bytes a fresh C-contiguous array of the same shape
and dtype receives (docs/stream.md: values depend on the element's index, not its address).

The fork test fills arrays in multiprocessing workers started with the fork method after the
parent used the thread pool (the DataLoader pattern); the thread tests run 8 Python threads
filling at once, with and without another thread changing the thread count, and compare every
result with its single-threaded bytes. Runs in well under a minute (docs/quality.md).
"""

from __future__ import annotations

import inspect
import math
import multiprocessing
import os
import sys
import threading
import time
from fractions import Fraction
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastinit
from fastinit import _core

try:
    import ml_dtypes
except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
    ml_dtypes = None

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
GUARD = 0xA5  # the guard bytes' pattern
MAX_ELEMENTS = 256

# ---- the public functions ------------------------------------------------------------------
PUBLIC = {name: getattr(fastinit, name) for name in fastinit.__all__}


def _first_param(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0].name if params else None


# Functions that fill an array in place: the first parameter is the target.
ARRAY_FUNCTIONS = sorted(
    name for name, fn in PUBLIC.items()
    if callable(fn) and not isinstance(fn, type) and _first_param(fn) in ("arr", "out", "tensor")
)
# Everything else, each with its own test below.
OTHER_PUBLIC = {
    "Generator", "TRUNCATED_STD_CORRECTION", "calculate_gain", "compute_fans",
    "default_generator", "get_num_threads", "manual_seed", "set_num_threads",
    "set_simd_level", "simd_level",
}

# Required arguments after the target, with a valid value each.
REQUIRED = {"sparsity": 0.5, "val": 1.5, "seed": 3}
SEEDED = 12345


def _params(fn):
    return inspect.signature(fn).parameters


def call(name, target, **kwargs):
    """Calls public function `name` on `target` with its required arguments filled in and,
    where it takes one, a fixed seed (so that two calls give the same values)."""
    fn = PUBLIC[name]
    params = _params(fn)
    args = {}
    for pname, p in list(params.items())[1:]:
        if p.default is inspect.Parameter.empty and p.kind in (
                p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            args[pname] = REQUIRED[pname]
    if "seed" in params and "generator" not in kwargs and "stream" not in kwargs:
        args.setdefault("seed", SEEDED)
    args.update(kwargs)
    return fn(target, **args)


def test_every_public_name_is_covered():
    """A new public non-array function needs its own robustness test here."""
    uncovered = set(PUBLIC) - set(ARRAY_FUNCTIONS) - OTHER_PUBLIC
    assert not uncovered, f"public names without a robustness test: {sorted(uncovered)}"
    assert len(ARRAY_FUNCTIONS) >= 20, ARRAY_FUNCTIONS


def test_core_stubs_cover_the_extension():
    """python/fastinit/_core.pyi names every function of the compiled module."""
    stub = os.path.join(os.path.dirname(fastinit.__file__), "_core.pyi")
    if not os.path.exists(stub):
        pytest.skip("no _core.pyi next to the installed package")
    text = open(stub, encoding="utf-8").read()
    names = [n for n in dir(_core) if not n.startswith("_") and callable(getattr(_core, n))]
    missing = [n for n in names if f"def {n}(" not in text]
    assert not missing, f"_core.pyi lacks stubs for {missing}"


# ---- dtypes ------------------------------------------------------------------------------------
def _all_dtypes():
    seen, out = set(), []
    for code in np.typecodes["All"]:
        try:
            dt = np.dtype(code)
        except TypeError:
            continue
        if dt.kind in "MmSUV" and dt.itemsize == 0:
            dt = np.dtype(code + "8") if dt.kind in "SUV" else np.dtype(code + "8[ns]")
        if dt.kind == "O" or dt.str in seen:
            continue
        seen.add(dt.str)
        out.append(dt)
    out.append(np.dtype([("a", "<f4"), ("b", "<i2")]))  # structured
    if ml_dtypes is not None:
        for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
            if hasattr(ml_dtypes, name):
                out.append(np.dtype(getattr(ml_dtypes, name)))
    swapped = [dt.newbyteorder() for dt in out if dt.itemsize > 1 and dt.byteorder in "<>="
               and dt.kind in "iufc"]
    return out + swapped


ALL_DTYPES = _all_dtypes()
FLOAT_DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)] + (
    [np.dtype(ml_dtypes.bfloat16)] if ml_dtypes is not None else [])


def _bits(a: np.ndarray) -> np.ndarray:
    """The bytes of each element in logical C order (NaN-safe comparison)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(a.shape + (a.dtype.itemsize,)) if a.size else a.view(np.uint8)


# ---- guarded targets ----------------------------------------------------------------------------
class Guarded:
    """A view into a larger byte buffer; every byte outside the view's elements is a guard."""

    def __init__(self, shape, dtype, strides_in_items, misalign, readonly=False):
        dtype = np.dtype(dtype)
        item = dtype.itemsize
        shape = tuple(shape)
        strides = tuple(int(s) * item for s in strides_in_items)
        # byte extent of the view relative to its first element
        lo = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides) if n > 0)
        hi = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides) if n > 0) + item
        margin = 64
        size = margin + (hi - lo) + margin + 8
        self.buf = np.full(size, GUARD, np.uint8)
        start = margin - lo + misalign
        self.view = np.ndarray(shape, dtype, buffer=self.buf, offset=start, strides=strides)
        # which buffer bytes belong to the view's elements
        self.mask = np.zeros(size, bool)
        if 0 not in shape:
            idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), int)
            offsets = start + (np.asarray(strides)[:, None] * idx).sum(axis=0) if shape else \
                np.array([start])
            for b in range(item):
                self.mask[offsets + b] = True
        if readonly:
            self.view.flags.writeable = False
        self.before = self.buf.copy()

    def overlapping(self):
        return not self.view.flags.c_contiguous and self.view.size > 1 and \
            np.count_nonzero(self.mask) < self.view.size * self.view.dtype.itemsize

    def assert_guards_intact(self, what):
        changed = np.flatnonzero((self.buf != self.before) & ~self.mask)
        assert changed.size == 0, (
            f"{what}: wrote {changed.size} byte(s) outside the array, first at buffer offset "
            f"{changed[0]} (view shape {self.view.shape}, strides {self.view.strides}, "
            f"dtype {self.view.dtype})")

    def assert_untouched(self, what):
        changed = np.flatnonzero(self.buf != self.before)
        assert changed.size == 0, (
            f"{what}: raised but changed {changed.size} byte(s) of the buffer first "
            f"(view shape {self.view.shape}, strides {self.view.strides})")


@st.composite
def targets(draw, dtypes=None, min_dims=0, max_dims=4):
    ndim = draw(st.integers(min_dims, max_dims))
    shape = draw(st.lists(st.sampled_from([0, 1, 1, 2, 3, 4, 5, 7]), min_size=ndim,
                          max_size=ndim))
    assume(math.prod(shape) <= MAX_ELEMENTS)
    # Mostly a dtype the function accepts (so that layouts get exercised), sometimes any.
    if draw(st.integers(0, 3)) == 3:  # (hypothesis favours small draws: 0..2 is the usual case)
        dtype = draw(st.sampled_from(ALL_DTYPES))
    else:
        dtype = draw(st.sampled_from(dtypes if dtypes is not None else FLOAT_DTYPES))
    layout = draw(st.sampled_from(["c", "c", "f", "reversed", "gappy", "zero", "overlap",
                                   "random"]))
    c_strides, acc = [], 1
    for n in reversed(shape):
        c_strides.append(acc)
        acc *= max(n, 1)
    c_strides = c_strides[::-1]
    if layout == "c":
        strides = c_strides
    elif layout == "f":
        strides, acc = [], 1
        for n in shape:
            strides.append(acc)
            acc *= max(n, 1)
    elif layout == "reversed":
        strides = [-s for s in c_strides]
    elif layout == "gappy":
        strides = [s * draw(st.sampled_from([2, 3, -2])) for s in c_strides]
    elif layout == "zero":  # a broadcast view, writable through as_strided-like construction
        strides = [0 if draw(st.booleans()) else s for s in c_strides]
    elif layout == "overlap":
        strides = [max(1, s // 2) * draw(st.sampled_from([1, -1])) for s in c_strides]
    else:
        strides = [draw(st.integers(-12, 12)) for _ in shape]
    misalign = draw(st.sampled_from([0, 0, 0, 1, 2, 3]))
    readonly = draw(st.integers(0, 15)) == 0
    return Guarded(shape, dtype, strides, misalign, readonly)


ARRAY_ERRORS = (TypeError, ValueError)


def _run(name, g, **kwargs):
    """Calls the function on the guarded view; returns (result, exception)."""
    try:
        return call(name, g.view, **kwargs), None
    except ARRAY_ERRORS as exc:
        return None, exc


def _reference(name, g, **kwargs):
    ref = np.empty(g.view.shape, g.view.dtype)
    try:
        call(name, ref, **kwargs)
    except ARRAY_ERRORS:
        return None
    return ref


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
@settings(max_examples=80, **SETTINGS)
@given(data=st.data())
def test_any_target_gets_correct_values_or_a_clear_error(name, data):
    g = data.draw(targets([np.dtype(np.uint32)] if name == "random_raw_" else None))
    result, exc = _run(name, g)
    what = f"{name} on shape {g.view.shape} strides {g.view.strides} dtype {g.view.dtype}"
    if exc is not None:
        g.assert_untouched(what)
        # A rejection needs a reason: read-only, overlapping, or a dtype/shape the function
        # refuses on a fresh array too (random_raw_ also refuses any non-C-contiguous view).
        # The overlap check is conservative (docs: it may refuse an exotic as_strided view
        # whose elements do not overlap), so an overlap refusal is always a reason.
        if (g.view.flags.writeable and not g.overlapping() and name != "random_raw_"
                and "overlap" not in str(exc)):
            assert _reference(name, g) is None, f"{what}: rejected a valid view: {exc}"
        return
    assert result is g.view, f"{what}: returned {type(result).__name__}, not the array"
    g.assert_guards_intact(what)
    assert g.view.flags.writeable or g.view.size == 0, f"{what}: filled a read-only array"
    assert not g.overlapping(), f"{what}: accepted an overlapping view"
    ref = _reference(name, g)
    assert ref is not None, f"{what}: accepted this view but not a C-contiguous copy of it"
    assert np.array_equal(_bits(g.view), _bits(ref)), (
        f"{what}: values differ from the C-contiguous fill (layout must not change a value)")


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
def test_non_array_targets_are_type_errors(name):
    bad = [None, 3.0, [1.0, 2.0], ((1.0,),), "abc", b"\0" * 8, memoryview(bytearray(8)),
           np.float32(1.0), object(), np.empty((2, 3), object), np.empty((2, 3), "U3")]
    for target in bad:
        with pytest.raises(TypeError):
            call(name, target)


# ---- nasty parameters --------------------------------------------------------------------------
NASTY_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 3.5e38, 1e39, -1e39, 5e-324,
                 -5e-324, 0.0, -0.0, -1.0, -1e-30, 1e-30, 2.0 ** 64, -(2.0 ** 63), 1, 0, -1,
                 2 ** 64, 2 ** 64 - 1, 2 ** 63, -(2 ** 63), 2 ** 200, True, False,
                 np.float32(np.nan), np.float16(65504), np.int64(-5), np.uint64(2 ** 64 - 1),
                 Fraction(1, 3), Decimal("2.5"), 0.5, 2.5, 1e4]
WRONG_TYPES = [None, "1.0", "fan_in", [1.0], (1, 2), {1: 2}, 1j, object(), np.array([1.0, 2.0]),
               np.array(2.0), b"1", slice(1)]
SHARD_VALUES = [None, (), (4,), (6, 5), (5, 6), (12, 10), (-6, 5), (6, -5), (2 ** 63, 5),
                (2 ** 62, 2 ** 62), (6.0, 5.0), ("6", "5"), (6, 5, 1), [6, 5], np.array([6, 5]),
                (0, 0), (1, 0), (6, 4), 6, "65", (math.nan, 5)]
STREAM_VALUES = [None, 0, 1, -1, 2 ** 48 - 1, 2 ** 48, 2 ** 64, 1.0, 1.5, "1", True,
                 np.uint64(7), np.int8(-1), [1]]
SEED_VALUES = [None, 0, 1, -1, 2 ** 64 - 1, 2 ** 64, 2 ** 200, -(2 ** 200), 1.0, 1.5, math.nan,
               "1", True, np.uint64(2 ** 64 - 1), np.int32(5), [1], b"1"]


def _shape_for(name):
    if name in ("dirac_", "delta_orthogonal_"):
        return (4, 4, 3)
    return (6, 5)


def _param_names(name):
    fn = PUBLIC[name]
    return [p for p in list(_params(fn))[1:]]


def _finite_moderate(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(float(v)) and abs(float(v)) <= 1e4
    except OverflowError:
        return False


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
# e.g. constant_(float16 array, 1e308) writes inf, as numpy's fill does, and numpy warns
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_any_parameters_give_values_or_a_clear_error(name, data):
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES + [np.dtype(np.uint32)]))
    if name == "random_raw_":
        dtype = np.dtype(np.uint32)
    names = _param_names(name)
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    kwargs = {}
    for pname in chosen:
        if pname in ("global_shape", "offset"):
            pool = SHARD_VALUES
        elif pname == "stream":
            pool = STREAM_VALUES
        elif pname == "seed":
            pool = SEED_VALUES
        elif pname == "generator":
            pool = [None, fastinit.Generator(5), 5, "gen", object(), np.random.default_rng(0)]
        elif pname in ("mode", "nonlinearity", "distribution", "layout"):
            pool = ["fan_in", "fan_out", "fan_avg", "FAN_IN", "relu", "tanh", "leaky_relu",
                    "selu", "uniform", "normal", "truncated_normal", "torch", "keras", "jax",
                    "bogus", "", None, 1, 1.0]
        elif pname in ("in_axis", "out_axis", "batch_axis", "column_axis", "groups"):
            pool = [0, 1, -1, -2, 2, 5, -5, (0,), (0, 1), (), [1], 1.0, "0", None, True,
                    np.int64(1), 2 ** 70]
        elif pname in ("clamp_fan",):
            pool = [True, False, 0, 1, "yes", None]
        else:
            pool = NASTY_NUMBERS + WRONG_TYPES
        kwargs[pname] = data.draw(st.sampled_from(pool))
    if "seed" in kwargs and "generator" in kwargs and kwargs["generator"] is not None:
        del kwargs["generator"]
    g = Guarded(_shape_for(name), dtype, [5 if len(_shape_for(name)) == 2 else 12, 1]
                if len(_shape_for(name)) == 2 else [12, 3, 1], 0)
    what = f"{name}({kwargs}) on {g.view.dtype} {g.view.shape}"
    try:
        result = call(name, g.view, **kwargs)
    except ARRAY_ERRORS:
        g.assert_untouched(what)
        return
    except Exception as exc:  # noqa: BLE001 - any other exception type is the failure
        pytest.fail(f"{what}: raised {type(exc).__name__} ({exc}), not TypeError/ValueError")
    assert result is g.view, f"{what}: did not return the array"
    g.assert_guards_intact(what)
    numeric = [v for k, v in kwargs.items() if k not in (
        "seed", "stream", "generator", "global_shape", "offset", "mode", "nonlinearity",
        "distribution", "layout", "in_axis", "out_axis", "batch_axis", "column_axis", "groups",
        "clamp_fan")]
    if g.view.dtype.kind != "u" and all(_finite_moderate(v) for v in numeric):
        values = g.view.astype(np.float64)
        assert np.isfinite(values).all(), f"{what}: wrote non-finite values for finite parameters"


# ---- the non-array public API --------------------------------------------------------------------
ANY_VALUE = st.sampled_from(NASTY_NUMBERS + WRONG_TYPES + ["relu", "linear", "leaky_relu",
                                                           "tanh", "selu", "sigmoid"])


def _clear_error_or_value(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs), None
    except (TypeError, ValueError) as exc:
        return None, exc


@settings(max_examples=150, **SETTINGS)
@given(nonlinearity=ANY_VALUE, param=ANY_VALUE)
def test_calculate_gain(nonlinearity, param):
    gain, exc = _clear_error_or_value(fastinit.calculate_gain, nonlinearity, param)
    if exc is None:
        assert isinstance(gain, float) and (math.isfinite(gain) or isinstance(param, float))


@settings(max_examples=150, **SETTINGS)
@given(shape=st.one_of(st.lists(st.one_of(st.integers(-3, 9), st.sampled_from(
    [2 ** 40, 1.0, "3", None])), max_size=5), st.sampled_from(WRONG_TYPES + [5, 2.0])),
    layout=st.sampled_from(["torch", "keras", "jax", "bogus", None, 1]),
    in_axis=st.sampled_from([-2, 0, 1, (0, 1), 7, "0", None]),
    out_axis=st.sampled_from([-1, 0, 1, (2,), -9, 1.5]),
    batch_axis=st.sampled_from([(), 0, (0,), "x", None]))
def test_compute_fans(shape, layout, in_axis, out_axis, batch_axis):
    fans, exc = _clear_error_or_value(fastinit.compute_fans, shape, layout, in_axis, out_axis,
                                      batch_axis)
    if exc is None:
        fan_in, fan_out = fans
        assert int(fan_in) >= 0 and int(fan_out) >= 0


@settings(max_examples=100, **SETTINGS)
@given(seed=st.sampled_from(SEED_VALUES), stream=st.sampled_from(STREAM_VALUES))
def test_generator_construction_and_state(seed, stream):
    kwargs = {} if seed is None else {"seed": seed}
    if stream is not None:
        kwargs["stream"] = stream
    gen, exc = _clear_error_or_value(fastinit.Generator, **kwargs)
    if exc is not None:
        return
    state = gen.get_state()
    a = fastinit.normal_(np.empty(9, np.float32), generator=gen)
    gen.set_state(state)
    b = fastinit.normal_(np.empty(9, np.float32), generator=gen)
    assert np.array_equal(_bits(a), _bits(b))
    for bad_state in [None, (1,), (1, 2, 3), ("a", 0), (-1, 0), (0, -1), (2 ** 64, 0), 5]:
        before = gen.get_state()
        with pytest.raises((TypeError, ValueError)):
            gen.set_state(bad_state)
        assert gen.get_state() == before
    _, exc = _clear_error_or_value(gen.manual_seed, seed)


def test_default_generator_and_manual_seed():
    state = fastinit.default_generator.get_state()
    try:
        for bad in [None, -1, 2 ** 64, 1.5, "3", [1]]:
            with pytest.raises((TypeError, ValueError)):
                fastinit.manual_seed(bad)
        assert fastinit.manual_seed(7) is fastinit.default_generator
        assert fastinit.default_generator.get_state() == (7, 0)
    finally:
        fastinit.default_generator.set_state(state)
    assert isinstance(fastinit.TRUNCATED_STD_CORRECTION, float)
    assert 0.87 < fastinit.TRUNCATED_STD_CORRECTION < 0.88


def test_runtime_settings_reject_bad_values_and_keep_the_old_ones():
    threads, level = fastinit.get_num_threads(), fastinit.simd_level()
    try:
        for bad in [0, -1, 1.5, "2", None, True, 2 ** 70, [2]]:
            with pytest.raises((TypeError, ValueError)):
                fastinit.set_num_threads(bad)
            assert fastinit.get_num_threads() == threads
        for bad in ["", "AVX2", "sse", None, 1, "avx1024"]:
            with pytest.raises((TypeError, ValueError)):
                fastinit.set_simd_level(bad)
            assert fastinit.simd_level() == level
        fastinit.set_simd_level("scalar")
        assert fastinit.simd_level() == "scalar"
    finally:
        fastinit.set_simd_level(level)
        fastinit.set_num_threads(threads)


# ---- threads ----------------------------------------------------------------------------------------
THREAD_JOBS = [
    ("normal_", np.float32, (300, 700), {"mean": 0.5, "std": 2.0}),
    ("uniform_", np.float64, (200, 500), {"a": -1.0, "b": 3.0}),
    ("trunc_normal_", np.float32, (100_003,), {"std": 0.02, "a": -0.04, "b": 0.04}),
    ("normal_", np.float16, (513, 129), {}),
    ("kaiming_uniform_", np.float32, (256, 300), {}),
    ("xavier_normal_", np.float64, (128, 400), {}),
    ("truncated_normal_", np.float32, (90_001,), {"lower": 0.5, "upper": 4.0}),
    ("he_normal_", np.float32, (64, 32, 3, 3), {}),
]


def _job(i):
    name, dtype, shape, kw = THREAD_JOBS[i]
    return getattr(fastinit, name)(np.empty(shape, dtype), seed=100 + i, **kw)


@pytest.fixture(scope="module")
def single_threaded_results():
    threads = fastinit.get_num_threads()
    fastinit.set_num_threads(1)
    try:
        return [_bits(_job(i)).copy() for i in range(len(THREAD_JOBS))]
    finally:
        fastinit.set_num_threads(threads)


def _run_threads(target, n, timeout=120.0):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((i, exc))

    workers = [threading.Thread(target=wrapped, args=(i,), daemon=True) for i in range(n)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    alive = [w for w in workers if w.is_alive()]
    assert not alive, f"{len(alive)} thread(s) still running after {timeout} s: deadlock?"
    assert not errors, errors


def test_eight_threads_each_get_their_single_threaded_bytes(single_threaded_results):
    threads = fastinit.get_num_threads()
    fastinit.set_num_threads(4)
    try:
        def fill_repeatedly(i):
            for _ in range(3):
                got = _bits(_job(i))
                assert np.array_equal(got, single_threaded_results[i]), f"job {i} differs"
        _run_threads(fill_repeatedly, len(THREAD_JOBS))
    finally:
        fastinit.set_num_threads(threads)


def test_set_num_threads_hammered_while_threads_fill(single_threaded_results):
    threads = fastinit.get_num_threads()
    stop = threading.Event()

    def hammer():
        k = 0
        while not stop.is_set():
            fastinit.set_num_threads(1 + k % 5)
            fastinit.get_num_threads()
            k += 1

    hammerer = threading.Thread(target=hammer, daemon=True)
    hammerer.start()
    try:
        def fill_repeatedly(i):
            for _ in range(3):
                assert np.array_equal(_bits(_job(i)), single_threaded_results[i]), f"job {i}"
        _run_threads(fill_repeatedly, len(THREAD_JOBS))
    finally:
        stop.set()
        hammerer.join(30)
        fastinit.set_num_threads(threads)
    assert not hammerer.is_alive()


# ---- fork: DataLoader-style workers -----------------------------------------------------------------
def _worker_init(worker_id_base):
    # what a DataLoader worker_init_fn does: a per-worker seed for the default generator
    fastinit.manual_seed(worker_id_base + os.getpid() % 7)


def _worker_fill(task):
    seed, n, threads = task
    if threads:
        fastinit.set_num_threads(threads)
    a = fastinit.normal_(np.empty(n, np.float32), seed=seed)  # > 2**15: the pool runs
    b = fastinit.xavier_uniform_(np.empty((n // 100, 100), np.float64), seed=seed + 1)
    fastinit.normal_(np.empty(1000, np.float32))  # the default generator works too
    return a.tobytes(), b.tobytes(), fastinit.get_num_threads()


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                    reason="needs the fork start method (Linux)")
def test_fork_workers_fill_correctly_after_the_parent_used_the_pool():
    n = 300_000
    threads_before = fastinit.get_num_threads()
    fastinit.set_num_threads(max(2, threads_before))
    try:
        # The parent's pool threads exist and have run before the fork (the dangerous case).
        parent = [_worker_fill((seed, n, 0)) for seed in (1, 2)]
        ctx = multiprocessing.get_context("fork")
        tasks = [(seed, n, threads) for seed in (1, 2) for threads in (0, 1, 3)]
        with ctx.Pool(2, initializer=_worker_init, initargs=(1000,)) as pool:
            results = pool.map_async(_worker_fill, tasks).get(timeout=120)
    finally:
        fastinit.set_num_threads(threads_before)
    for (seed, _, threads), (a, b, used) in zip(tasks, results):
        expect = parent[seed - 1]
        assert a == expect[0] and b == expect[1], f"seed {seed}, threads {threads}: differs"
        if threads:
            assert used == threads
