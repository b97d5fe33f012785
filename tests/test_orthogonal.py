"""orthogonal_ and delta_orthogonal_ (issue 3, "Orthogonal (correctness first)").

PyTorch semantics by default (rows = shape[0], cols = size / rows; wide matrices get
orthonormal rows, tall ones orthonormal columns; times gain), JAX/Keras semantics with
``column_axis``. Q is the QR factor of a Gaussian matrix with Mezzadri's sign fix, hence
Haar-distributed: checked by the exact marginal Q[i,j]^2 ~ Beta(1/2, (n-1)/2) over many
streams, the trace and the signs, and against torch.nn.init.orthogonal_ statistically.
Fixed seeds throughout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import fastinit as fi

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

try:
    import ml_dtypes

    BF16 = ml_dtypes.bfloat16
except ImportError:  # pragma: no cover
    BF16 = None

P_MIN = 1e-4
TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5, np.dtype(np.float16): 4e-3}
if BF16 is not None:
    TOL[np.dtype(BF16)] = 3e-2


def same_bytes(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def gram_error(m):
    """max |Q^T Q - I| (tall or square) or max |Q Q^T - I| (wide), in float64."""
    m = np.asarray(m, np.float64)
    r, c = m.shape
    g = m.T @ m if r >= c else m @ m.T
    return np.abs(g - np.eye(min(r, c))).max()


SHAPES = [(5, 5), (64, 64), (10, 3), (3, 10), (200, 37), (37, 200), (1, 9), (9, 1), (1, 1),
          (6, 2, 3), (2, 6, 3), (4, 3, 2, 2), (16, 8, 3, 3), (2, 3, 2, 2, 2), (8, 4, 1, 1, 1)]
DTYPES = [np.float32, np.float64, np.float16] + ([BF16] if BF16 is not None else [])
DTYPE_IDS = [np.dtype(d).name for d in DTYPES]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_orthonormal_torch_flatten(shape, dtype):
    x = np.empty(shape, dtype)
    assert fi.orthogonal_(x, seed=1) is x
    q = x.reshape(shape[0], -1)
    assert gram_error(q) <= TOL[np.dtype(dtype)] * max(1, math.sqrt(max(q.shape) / 16))


@pytest.mark.parametrize("gain", [2.0, 0.5, 1.7, -1.0])
@pytest.mark.parametrize("shape", [(7, 7), (9, 4), (4, 9), (6, 2, 3)], ids=str)
def test_gain(shape, gain):
    x = fi.orthogonal_(np.empty(shape, np.float64), gain, seed=2)
    y = fi.orthogonal_(np.empty(shape, np.float64), seed=2)
    assert np.allclose(x, gain * y, rtol=1e-15, atol=0)
    assert gram_error(x.reshape(shape[0], -1) / gain) < 1e-12
    if gain in (2.0, 0.5, -1.0):  # exact in binary
        z = fi.orthogonal_(np.empty(shape, np.float32), gain, seed=2)
        w = fi.orthogonal_(np.empty(shape, np.float32), seed=2)
        assert same_bytes(z, w * np.float32(gain))


@pytest.mark.parametrize("shape", [(4, 3, 2, 2), (2, 6, 3), (12, 2, 1), (3, 2, 2, 2, 2)], ids=str)
def test_flatten_equals_the_2d_matrix(shape):
    """PyTorch: the weight is the (shape[0], size / shape[0]) matrix, reshaped."""
    rows = shape[0]
    x = fi.orthogonal_(np.empty(shape, np.float32), seed=3)
    y = fi.orthogonal_(np.empty((rows, math.prod(shape) // rows), np.float32), seed=3)
    assert same_bytes(x, y.reshape(shape))


def test_memory_layout_does_not_matter():
    shape = (30, 4, 5)
    c = fi.orthogonal_(np.empty(shape, np.float64), seed=4)
    f = fi.orthogonal_(np.empty(shape, np.float64, order="F"), seed=4)
    v = np.empty((60, 4, 5), np.float64)[::2]
    fi.orthogonal_(v, seed=4)
    assert same_bytes(f, c) and same_bytes(v, c)


@pytest.mark.parametrize("dtype", [np.float16] + ([BF16] if BF16 is not None else []),
                         ids=["float16"] + (["bfloat16"] if BF16 is not None else []))
def test_16_bit_is_the_float32_result_rounded(dtype):
    for shape in [(5, 5), (7, 3), (3, 7), (4, 3, 2, 2)]:
        x = fi.orthogonal_(np.empty(shape, dtype), 1.3, seed=5)
        y = fi.orthogonal_(np.empty(shape, np.float32), 1.3, seed=5)
        assert same_bytes(x, y.astype(dtype))


@pytest.mark.parametrize("shape", [(40, 40), (50, 20), (20, 50), (1, 30), (30, 1)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_is_the_sign_fixed_qr_of_the_gaussian_fill(shape, dtype):
    """docs/stream.md: Q of the QR of G (G^T when wide) times sign(diag R), G = normal_ fill."""
    r, c = shape
    g = fi.normal_(np.empty(shape, dtype), seed=6).astype(np.float64)
    a = g if r >= c else g.T
    q, rr = np.linalg.qr(a)
    q = q * np.sign(np.diag(rr))
    expected = q if r >= c else q.T
    x = fi.orthogonal_(np.empty(shape, dtype), seed=6)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert np.abs(x - expected).max() < tol


# ---- JAX / Keras column_axis --------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [
    ((6, 4), -1), ((6, 4), 1), ((6, 4), 0), ((4, 6), 0), ((3, 4, 5), 1), ((3, 4, 5), 0),
    ((3, 4, 5), -1), ((2, 3, 4, 5), 2), ((2, 3, 4, 50), -1), ((3, 3, 16, 32), -1), ((7, 2, 3), 0),
], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_axis(shape, axis, dtype):
    x = fi.orthogonal_(np.empty(shape, dtype), column_axis=axis, seed=7)
    # JAX: Q of shape (size / n_cols, n_cols), reshaped to delete(shape, axis) + (n_cols,),
    # then the last axis moved to column_axis
    cols = shape[axis]
    rows = math.prod(shape) // cols
    q = fi.orthogonal_(np.empty((rows, cols), dtype), seed=7)
    rest = tuple(np.delete(np.array(shape), axis % len(shape)))
    expected = np.moveaxis(q.reshape(rest + (cols,)), -1, axis)
    assert same_bytes(x, expected)
    m = np.moveaxis(x, axis, -1).reshape(rows, cols)
    assert gram_error(m) < TOL[np.dtype(dtype)] * 4


def test_column_axis_minus_one_on_2d_is_the_torch_result():
    for shape in [(6, 4), (4, 6), (5, 5)]:
        a = fi.orthogonal_(np.empty(shape, np.float32), seed=8)
        b = fi.orthogonal_(np.empty(shape, np.float32), column_axis=-1, seed=8)
        assert same_bytes(a, b)
        # column_axis=0 is the transposed problem
        c = fi.orthogonal_(np.empty(shape, np.float32), column_axis=0, seed=8)
        d = fi.orthogonal_(np.empty(shape[::-1], np.float32), seed=8)
        assert same_bytes(c, d.T)


def test_keras_orthogonal_is_column_axis_minus_one():
    # Keras flattens to (prod(shape[:-1]), shape[-1])
    shape = (3, 3, 8, 16)
    x = fi.orthogonal_(np.empty(shape, np.float64), column_axis=-1, seed=9)
    assert gram_error(x.reshape(-1, shape[-1])) < 1e-12


# ---- Haar distribution --------------------------------------------------------------------
def _many(shape, count, dtype, seed):
    g = fi.Generator(seed)
    out = np.empty((count,) + shape, dtype)
    for i in range(count):
        fi.orthogonal_(out[i], generator=g)
    return out.astype(np.float64)


@pytest.mark.parametrize("shape", [(2, 2), (4, 4), (6, 3), (3, 6), (5, 2, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_haar_marginals(shape, dtype):
    """Every entry of a Haar-distributed n-dimensional unit vector has Q^2 ~ Beta(1/2, (n-1)/2);
    here for Q[0,0], Q[-1,-1] and a middle entry, over 6000 independent streams."""
    qs = _many(shape, 6000, dtype, seed=sum(shape) * 10 + (dtype == np.float64)).reshape(6000, shape[0], -1)
    rows, cols = qs.shape[1:]
    n = max(rows, cols)  # columns are unit vectors of R^rows when tall, rows of R^cols when wide
    beta = stats.beta(0.5, (n - 1) / 2)
    for i, j in [(0, 0), (-1, -1), (rows // 2, cols // 2)]:
        v = qs[:, i, j]
        assert stats.kstest(v * v, beta.cdf).pvalue > P_MIN, (i, j)
        # the sign of each entry is a fair coin (this fails without Mezzadri's sign fix)
        pos = np.count_nonzero(v > 0)
        assert abs(pos - 3000) < 5 * math.sqrt(1500), (i, j, pos)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_haar_trace_and_determinant(n):
    qs = _many((n, n), 8000, np.float64, seed=100 + n)
    tr = np.trace(qs, axis1=1, axis2=2)
    # Haar on O(n): E tr Q = 0, E (tr Q)^2 = 1
    assert abs(tr.mean()) < 5 / math.sqrt(8000)
    assert abs(tr.var() - 1) < 0.1
    det = np.linalg.det(qs)
    assert np.allclose(np.abs(det), 1)
    plus = np.count_nonzero(det > 0)
    assert abs(plus - 4000) < 5 * math.sqrt(2000)  # both components of O(n), equally
    diag = qs[:, np.arange(n), np.arange(n)]
    pos = (diag > 0).sum(axis=0)
    assert (np.abs(pos - 4000) < 5 * math.sqrt(2000)).all()


def test_haar_over_seeds_not_only_streams():
    v = np.empty(5000)
    q = np.empty((4, 4), np.float32)
    for s in range(5000):
        v[s] = fi.orthogonal_(q, seed=s)[1, 2]
    assert stats.kstest(v * v, stats.beta(0.5, 1.5).cdf).pvalue > P_MIN


def test_large_matrix_entries():
    """One 256 x 256 Q: sqrt(n) Q[i, j] is close to N(0, 1) over its entries, and the rows
    of a rotation applied to a fixed vector are uniform on the sphere."""
    n = 256
    q = fi.orthogonal_(np.empty((n, n), np.float64), seed=12)
    assert stats.kstest(q.ravel() * math.sqrt(n), stats.norm.cdf).pvalue > P_MIN
    assert abs((q * q).sum(axis=0) - 1).max() < 1e-12


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3)], ids=str)
def test_same_distribution_as_torch(shape):
    torch.manual_seed(0)
    count = 3000
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny QRs are ~30x slower with a thread pool
    try:
        t = np.stack([torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64)).numpy()
                      for _ in range(count)])
    finally:
        torch.set_num_threads(threads)
    x = _many(shape, count, np.float64, seed=77)
    for i, j in [(0, 0), (-1, -1), (0, -1)]:
        assert stats.ks_2samp(t[:, i, j], x[:, i, j]).pvalue > P_MIN, (i, j)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_torch_gain_and_flatten_semantics():
    shape = (6, 2, 3, 3)
    t = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.5).numpy()
    x = fi.orthogonal_(np.empty(shape, np.float64), 2.5, seed=1)
    for m in (t, x):
        mm = m.reshape(6, -1) / 2.5
        assert np.abs(mm @ mm.T - np.eye(6)).max() < 1e-12


# ---- determinism --------------------------------------------------------------------------
def test_same_seed_same_bytes_and_streams_differ():
    a = fi.orthogonal_(np.empty((50, 30), np.float32), seed=1)
    b = fi.orthogonal_(np.empty((50, 30), np.float32), seed=1)
    c = fi.orthogonal_(np.empty((50, 30), np.float32), seed=2)
    d = fi.orthogonal_(np.empty((50, 30), np.float32), seed=1, stream=1)
    assert same_bytes(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)
    g = fi.Generator(1)
    e = fi.orthogonal_(np.empty((50, 30), np.float32), generator=g)
    f = fi.orthogonal_(np.empty((50, 30), np.float32), generator=g)
    assert same_bytes(e, a) and same_bytes(f, d)


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (257, 257)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_and_simd_level_do_not_change_bytes(shape, dtype):
    threads, level = fi.get_num_threads(), fi.simd_level()
    ref = None
    try:
        for n in (1, 2, 3):
            fi.set_num_threads(n)
            x = fi.orthogonal_(np.empty(shape, dtype), seed=3)
            ref = x if ref is None else ref
            assert same_bytes(x, ref), f"{n} threads"
        for lv in ("scalar", "avx2", "avx512"):
            try:
                fi.set_simd_level(lv)
            except (ValueError, RuntimeError):
                continue  # not supported by this CPU
            assert same_bytes(fi.orthogonal_(np.empty(shape, dtype), seed=3), ref), lv
    finally:
        fi.set_num_threads(threads)
        fi.set_simd_level(level)


# ---- errors and empty arrays --------------------------------------------------------------
@pytest.mark.parametrize("call,exc,word", [
    (lambda: fi.orthogonal_(np.empty(5, np.float32)), ValueError, "2 or more"),
    (lambda: fi.orthogonal_(np.empty((), np.float32)), ValueError, "2 or more"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), column_axis=2), ValueError, "out of range"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), column_axis=-3), ValueError, "out of range"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), column_axis=(0, 1)), TypeError, "column_axis"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), column_axis=1.0), TypeError, "column_axis"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), "big"), TypeError, "gain"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.float32), math.nan), ValueError, "gain"),
    (lambda: fi.orthogonal_(np.empty((3, 4), np.int64)), TypeError, "float32"),
    (lambda: fi.orthogonal_([[1.0, 0.0], [0.0, 1.0]]), TypeError, "ndarray"),
    (lambda: fi.delta_orthogonal_(np.empty((3, 3, 8, 4), np.float32)), ValueError, "in <= out"),
    (lambda: fi.delta_orthogonal_(np.empty((8, 4), np.float32)), ValueError, "3, 4 or 5-D"),
    (lambda: fi.delta_orthogonal_(np.empty((1, 1, 1, 1, 2, 3), np.float32)), ValueError, "3, 4 or 5-D"),
])
def test_bad_inputs(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (0, 3, 3), (3, 0, 2, 2)], ids=str)
def test_zero_size_is_a_no_op(shape):
    a = np.empty(shape, np.float32)
    assert fi.orthogonal_(a, seed=1) is a
    assert fi.orthogonal_(a, column_axis=-1, seed=1) is a


# ---- delta_orthogonal_ (Xiao et al. 2018, JAX semantics) ---------------------------------
@pytest.mark.parametrize("shape", [(3, 4, 4), (5, 2, 7), (4, 3, 6), (3, 3, 8, 8), (2, 4, 3, 5),
                                   (1, 1, 4, 4), (3, 3, 3, 2, 6), (2, 2, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_delta_orthogonal(shape, dtype):
    x = np.full(shape, 9.0, dtype)
    assert fi.delta_orthogonal_(x, 1.5, seed=4) is x
    centre = tuple((k - 1) // 2 for k in shape[:-2])  # JAX's centre tap
    block = x[centre].astype(np.float64)
    rest = x.astype(np.float64).copy()
    rest[centre] = 0
    assert (rest == 0).all()
    expected = fi.orthogonal_(np.empty(shape[-2:], dtype), 1.5, column_axis=-1, seed=4)
    assert same_bytes(x[centre], expected)
    assert gram_error(block / 1.5) < TOL[np.dtype(dtype)] * 4  # in <= out: orthonormal rows


def test_delta_orthogonal_haar():
    g = fi.Generator(5)
    k = np.empty((3, 3, 3, 5), np.float64)
    v = np.array([fi.delta_orthogonal_(k, generator=g)[1, 1, 0, 0] for _ in range(5000)])
    assert stats.kstest(v * v, stats.beta(0.5, 2.0).cdf).pvalue > P_MIN  # rows live in R^5


def test_delta_orthogonal_column_axis():
    x = fi.delta_orthogonal_(np.empty((3, 4, 6), np.float64), column_axis=0, seed=6)
    y = fi.orthogonal_(np.empty((4, 6), np.float64), column_axis=0, seed=6)
    assert same_bytes(x[1], y)
