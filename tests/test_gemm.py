"""_core.gemm: our own matrix multiply behind the blocked orthogonal_ (issue 5).

Checked against a float64 NumPy reference on sizes that are not multiples of any register
tile (scalar 4x4, AVX2 16x6 / 8x6, AVX-512 32x12 / 16x12) or cache block (256), and for the
determinism contract of docs/orthogonal.md: every SIMD level and thread count gives the same
bytes, and so does splitting C into row/column pieces or the depth at multiples of 256
(element (i, j) is a fixed chain of fused multiply-adds in blocks of 256).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastinit
from fastinit import _core

from conftest import assert_same_bytes

ODD = [1, 7, 63, 65, 257]
DTYPES = [np.float32, np.float64]


def operands(rng, m, n, k, dtype, trans_a=False, trans_b=False, order="F"):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    return (np.asarray(a, order=order), np.asarray(b, order=order), np.asarray(c, order=order))


def reference(a, b, c, alpha, beta, trans_a, trans_b):
    """float64 result and a rigorous error bound for float32/float64 fused chains."""
    a64 = (a.T if trans_a else a).astype(np.float64)
    b64 = (b.T if trans_b else b).astype(np.float64)
    exact = alpha * (a64 @ b64) + beta * c.astype(np.float64)
    k = a64.shape[1]
    u = np.finfo(c.dtype).eps  # 2 u: generous
    # blocks of 256 fused products, then one add per block: |error| <= (len + blocks + 1) u (|A||B| + |C|)
    depth = min(k, 256) + (k + 255) // 256 + 2
    bound = depth * u * (np.abs(alpha) * (np.abs(a64) @ np.abs(b64)) + np.abs(beta * c.astype(np.float64)))
    return exact, bound + np.finfo(c.dtype).tiny


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 7, 7), (63, 65, 257), (65, 63, 7), (257, 7, 65),
                                   (7, 257, 63), (1, 65, 257), (300, 130, 600), (40, 300, 1100)])
def test_matches_float64_reference(m, n, k, dtype):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    for trans_a, trans_b in itertools.product([False, True], repeat=2):
        a, b, c0 = operands(rng, m, n, k, dtype, trans_a, trans_b)
        for alpha, beta in [(1.0, 0.0), (-1.0, 1.0), (0.5, 1.0)]:
            c = c0.copy(order="F")
            _core.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)
            exact, bound = reference(a, b, c0, alpha, beta, trans_a, trans_b)
            err = np.abs(c.astype(np.float64) - exact)
            assert (err <= bound).all(), (trans_a, trans_b, alpha, beta, float((err / bound).max()))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_every_simd_level_and_thread_count_gives_the_same_bytes(dtype, simd_levels):
    rng = np.random.default_rng(5)
    # shapes that take both drivers (few rows: m <= 256 with a column-major B; general)
    cases = [(63, 65, 257, False, False), (257, 65, 63, True, False), (65, 257, 300, False, True),
             (300, 13, 520, True, True), (7, 1, 1, False, False)]
    for m, n, k, ta, tb in cases:
        a, b, c0 = operands(rng, m, n, k, dtype, ta, tb)
        ref = None
        for level in simd_levels:
            fastinit.set_simd_level(level)
            for threads in (1, 2, 3, 4):
                fastinit.set_num_threads(threads)
                c = c0.copy(order="F")
                _core.gemm(a, b, c, alpha=-1.0, beta=1.0, trans_a=ta, trans_b=tb)
                if ref is None:
                    ref = c
                else:
                    assert_same_bytes(c, ref, what=f"{(m, n, k, ta, tb)} {level} {threads} threads")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_splitting_the_work_does_not_change_bytes(dtype):
    """Rows, columns and depth (at multiples of 256) computed by separate calls: same bytes."""
    rng = np.random.default_rng(6)
    m, n, k = 300, 70, 700
    a, b, c0 = operands(rng, m, n, k, dtype)
    whole = c0.copy(order="F")
    _core.gemm(a, b, whole, beta=1.0)
    rows = c0.copy(order="F")
    for r0, r1 in [(0, 100), (100, 299), (299, 300)]:  # few-rows driver and general driver
        _core.gemm(a[r0:r1], b, rows[r0:r1], beta=1.0)
    assert_same_bytes(rows, whole, what="row pieces")
    cols = c0.copy(order="F")
    for c0_, c1_ in [(0, 13), (13, 70)]:
        _core.gemm(a, b[:, c0_:c1_], cols[:, c0_:c1_], beta=1.0)
    assert_same_bytes(cols, whole, what="column pieces")
    depth = c0.copy(order="F")
    for p0, p1 in [(0, 256), (256, 512), (512, 700)]:
        _core.gemm(a[:, p0:p1], b[p0:p1], depth, beta=1.0)
    assert_same_bytes(depth, whole, what="depth pieces")


def test_memory_orders_and_views():
    rng = np.random.default_rng(7)
    m, n, k = 65, 63, 70
    a, b, c0 = operands(rng, m, n, k, np.float64)
    ref = c0.copy(order="F")
    _core.gemm(a, b, ref, alpha=-1.0, beta=1.0)
    for oa, ob, oc in itertools.product("CF", repeat=3):
        c = np.asarray(c0, order=oc).copy(order=oc)
        _core.gemm(np.asarray(a, order=oa), np.asarray(b, order=ob), c, alpha=-1.0, beta=1.0)
        np.testing.assert_allclose(c, ref, rtol=1e-13, atol=1e-13)
    # transposed views and a strided (non-contiguous) leading dimension
    big = rng.standard_normal((2 * m, k))
    view = big[::2]  # row stride 2 * k: a C-ordered matrix with a larger leading dimension
    c = np.zeros((m, n), order="F")
    _core.gemm(view, b, c)
    np.testing.assert_allclose(c, view @ b, rtol=1e-12, atol=1e-12)
    c2 = np.zeros((m, n), order="F")
    _core.gemm(np.asfortranarray(view.T), b, c2, trans_a=True)
    np.testing.assert_allclose(c2, c, rtol=1e-13, atol=1e-13)


def test_beta_zero_ignores_c_and_empty_depth():
    a = np.ones((3, 0), np.float32)
    b = np.ones((0, 4), np.float32)
    c = np.full((3, 4), np.nan, np.float32, order="F")
    _core.gemm(a, b, c)  # k = 0, beta = 0: C = 0
    assert (c == 0).all()
    c[:] = 5
    _core.gemm(a, b, c, beta=1.0)  # k = 0, beta = 1: unchanged
    assert (c == 5).all()
    c[:] = np.nan  # beta = 0 never reads C
    _core.gemm(np.ones((3, 2), np.float32), np.ones((2, 4), np.float32), c)
    assert (c == 2).all()


@pytest.mark.parametrize("call,exc,word", [
    (lambda: _core.gemm(np.ones((2, 3)), np.ones((4, 2)), np.ones((2, 2))), ValueError, "shapes"),
    (lambda: _core.gemm(np.ones((2, 3)), np.ones((3, 2), np.float32), np.ones((2, 2))), TypeError, "dtype"),
    (lambda: _core.gemm(np.ones((2, 3), int), np.ones((3, 2), int), np.ones((2, 2), int)), TypeError, "float32"),
    (lambda: _core.gemm(np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 2)), beta=0.5), ValueError, "beta"),
    (lambda: _core.gemm(np.ones(3), np.ones((3, 2)), np.ones((1, 2))), ValueError, "2-D"),
    (lambda: _core.gemm([[1.0]], np.ones((1, 1)), np.ones((1, 1))), TypeError, "ndarray"),
    (lambda: _core.gemm(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))[::-1]), ValueError, "stride"),
])
def test_bad_inputs(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_c_must_not_overlap_the_inputs():
    x = np.ones((4, 4), order="F")
    with pytest.raises(ValueError, match="overlap"):
        _core.gemm(x, np.ones((4, 4)), x)
