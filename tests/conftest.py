"""Shared helpers for the fastinit test suite.

Failures name the seed and the first differing index (docs/stream.md: every value is a pure
function of seed, stream, global index, parameters and dtype, so those pin a failure down).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import fastinit
from fastinit import _core

SIMD_ORDER = ("scalar", "avx2", "avx512")


def available_simd_levels() -> list[str]:
    """Every SIMD level this CPU can run, scalar first."""
    best = _core.detected_simd_level()
    return list(SIMD_ORDER[: SIMD_ORDER.index(best) + 1])


def sha256_of(arr: np.ndarray) -> str:
    """Hash of the array's values in logical C order (layout-independent)."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _as_bits(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    return arr.reshape(-1).view(np.dtype(f"u{arr.dtype.itemsize}")) if arr.size else arr.reshape(-1)


def first_difference(a: np.ndarray, b: np.ndarray):
    """(flat index, multi-index) of the first element whose bytes differ, or None."""
    bits_a, bits_b = _as_bits(a), _as_bits(b)
    diff = np.flatnonzero(bits_a != bits_b)
    if diff.size == 0:
        return None
    flat = int(diff[0])
    return flat, np.unravel_index(flat, a.shape) if a.ndim else ()


def assert_same_bytes(actual, expected, seed=None, what: str = "") -> None:
    """Asserts identical dtype, shape and bytes (NaN == NaN, -0.0 != 0.0).

    On mismatch, the message names the seed, the first differing index (flat C-order index
    and multi-index), both values and how many elements differ.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    label = f"{what}: " if what else ""
    assert actual.dtype == expected.dtype, f"{label}dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{label}shape {actual.shape} != {expected.shape}"
    hit = first_difference(actual, expected)
    if hit is None:
        return
    flat, multi = hit
    n_diff = int(np.count_nonzero(_as_bits(actual) != _as_bits(expected)))
    a_flat = np.ascontiguousarray(actual).reshape(-1)
    e_flat = np.ascontiguousarray(expected).reshape(-1)
    pytest.fail(
        f"{label}seed={seed!r}: {n_diff} of {actual.size} elements differ; first at flat "
        f"index {flat} (index {tuple(int(i) for i in multi)}): got {a_flat[flat]!r}, "
        f"expected {e_flat[flat]!r}",
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def restore_runtime_settings():
    """Every test leaves the thread count and SIMD level as it found them."""
    threads = fastinit.get_num_threads()
    level = fastinit.simd_level()
    try:
        yield
    finally:
        fastinit.set_num_threads(threads)
        fastinit.set_simd_level(level)


@pytest.fixture
def simd_levels() -> list[str]:
    return available_simd_levels()
