"""The initializer catalogue (issue 3): PyTorch's, Keras's and JAX's initializers, each exact.

Formulas are checked two ways: bit-for-bit against the elementary fill the formula names (for
example ``xavier_uniform_ == uniform_(-bound, bound)`` with PyTorch's bound), which pins the
formula exactly, and statistically (Kolmogorov-Smirnov against the exact distribution, and
against torch's own output where torch is installed). Keras and JAX are not installed: their
definitions (shared/reference/anchors.md) are restated below as small reference functions.

Every statistical test uses fixed seeds, so a pass is deterministic; thresholds are p > 1e-4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from fastinit._catalogue import DISTRIBUTIONS, FAN_MODES, LAYOUTS, NONLINEARITIES

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional extra
    torch = None

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

P_MIN = 1e-4  # KS / chi-square acceptance threshold (fixed seeds: deterministic)
C = fi.TRUNCATED_STD_CORRECTION


def assert_same_bytes(actual, expected, what=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    a = np.ascontiguousarray(actual).view(np.uint8)
    e = np.ascontiguousarray(expected).view(np.uint8)
    if not np.array_equal(a, e):
        diff = np.flatnonzero(
            np.ascontiguousarray(actual).ravel() != np.ascontiguousarray(expected).ravel()
        )
        pytest.fail(f"{what}: {diff.size} of {actual.size} elements differ, first at {diff[:1]}")


def ks_p(values, dist) -> float:
    return stats.kstest(np.asarray(values, np.float64).ravel(), dist.cdf).pvalue


# ---- reference definitions of the fans --------------------------------------------------------
def keras_fans(shape):
    """keras.src.initializers.random_initializers.compute_fans, restated."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = 1
    for d in shape[:-2]:
        rf *= d
    return shape[-2] * rf, shape[-1] * rf


def jax_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """jax.nn.initializers._compute_fans, restated (it returns floats)."""
    if len(shape) <= 1:
        raise ValueError("at least 2-D")

    def size(axis):
        return shape[axis] if isinstance(axis, int) else math.prod(shape[i] for i in axis)

    in_size, out_size, batch_size = size(in_axis), size(out_axis), size(batch_axis)
    rf = math.prod(shape) / in_size / out_size / batch_size
    return in_size * rf, out_size * rf


def torch_fans(shape):
    if torch is None:
        rf = math.prod(shape[2:])
        return shape[1] * rf, shape[0] * rf
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def torch_xavier_std(shape, gain=1.0):
    fan_in, fan_out = torch_fans(shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))  # torch.nn.init.xavier_*_


def torch_kaiming_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan_in, fan_out = torch_fans(shape)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(nonlinearity, a) if torch else fi.calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


TORCH_SHAPES = [(64, 32), (32, 64), (3, 1000), (16, 8, 5), (16, 8, 3, 3), (8, 4, 3, 3, 3)]


# ---- calculate_gain --------------------------------------------------------------------------
EXPECTED_GAINS = {
    "linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1 + 0.01**2)), "selu": 3.0 / 4,
}


def test_every_nonlinearity_has_an_expected_gain():
    assert set(NONLINEARITIES) == set(EXPECTED_GAINS)


@pytest.mark.parametrize("name", sorted(EXPECTED_GAINS))
def test_calculate_gain_values(name):
    assert fi.calculate_gain(name) == EXPECTED_GAINS[name]


@needs_torch
@pytest.mark.parametrize("name", sorted(EXPECTED_GAINS))
def test_calculate_gain_matches_torch(name):
    assert fi.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@needs_torch
@pytest.mark.parametrize("param", [None, 0, 0.0, 0.01, 0.2, 1, 3, -0.5, math.sqrt(5), np.float64(0.3)])
def test_leaky_relu_param_matches_torch(param):
    assert fi.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain("leaky_relu", param)


def test_leaky_relu_default_slope_is_001():
    assert fi.calculate_gain("leaky_relu") == fi.calculate_gain("leaky_relu", 0.01)
    assert fi.calculate_gain("leaky_relu", 0) == math.sqrt(2.0)


@pytest.mark.parametrize("param", ["0.1", True, False, [0.1], object()])
def test_leaky_relu_bad_param(param):
    with pytest.raises(ValueError, match="negative_slope"):
        fi.calculate_gain("leaky_relu", param)
    if torch is not None:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("name", ["relu", "tanh", "linear", "selu"])
def test_param_is_ignored_except_for_leaky_relu(name):
    assert fi.calculate_gain(name, 0.3) == fi.calculate_gain(name)


@pytest.mark.parametrize("name", ["gelu", "Relu", "softmax", "", None, 3])
def test_calculate_gain_unknown_lists_valid_names(name):
    with pytest.raises(ValueError) as info:
        fi.calculate_gain(name)
    for valid in NONLINEARITIES:
        assert valid in str(info.value)


# ---- compute_fans ----------------------------------------------------------------------------
FAN_SHAPES = [(3, 4), (1, 1), (7, 5), (16, 3, 5), (8, 4, 3, 3), (6, 2, 3, 3, 3), (2, 3, 1, 1),
              (0, 4), (4, 0), (5, 3, 0, 2), (1, 2, 3, 4, 5, 6)]


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_compute_fans_torch_layout(shape):
    rf = math.prod(shape[2:])
    assert fi.compute_fans(shape) == (shape[1] * rf, shape[0] * rf)
    assert fi.compute_fans(shape, "torch") == fi.compute_fans(shape)
    if torch is not None:
        assert fi.compute_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("shape", [(), (5,)])
def test_compute_fans_torch_layout_needs_two_dims(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions.*fan_in"):
        fi.compute_fans(shape)


@pytest.mark.parametrize("shape", [(), (7,)] + FAN_SHAPES)
def test_compute_fans_keras_layout(shape):
    assert fi.compute_fans(shape, "keras") == keras_fans(shape)


def test_compute_fans_keras_conv_kernel():
    # Conv2D kernel (kh, kw, in, out): rf = kh * kw
    assert fi.compute_fans((3, 5, 16, 32), "keras") == (3 * 5 * 16, 3 * 5 * 32)
    assert fi.compute_fans((7, 16, 32), "keras") == (7 * 16, 7 * 32)
    assert fi.compute_fans((2, 3, 3, 16, 32), "keras") == (18 * 16, 18 * 32)


JAX_CASES = [
    ((3, 4), {}),
    ((3, 4), dict(in_axis=0, out_axis=1)),
    ((3, 4), dict(in_axis=1, out_axis=0)),
    ((3, 3, 16, 32), {}),
    ((5, 16, 32), {}),
    ((2, 3, 3, 16, 32), {}),
    ((16, 32, 3, 3), dict(in_axis=1, out_axis=0)),
    ((16, 32, 3, 3), dict(in_axis=-3, out_axis=-4)),
    ((2, 3, 4, 5), dict(in_axis=(0, 1), out_axis=-1)),
    ((2, 3, 4, 5), dict(in_axis=(0, 1), out_axis=(2, 3))),
    ((2, 3, 4, 5), dict(in_axis=(0, 1), out_axis=-1, batch_axis=2)),
    ((8, 3, 4, 5), dict(batch_axis=0)),
    ((8, 6, 3, 4, 5), dict(batch_axis=(0, 1))),
    ((8, 6, 3, 4, 5), dict(in_axis=[1, 2], out_axis=[3], batch_axis=[0])),
    ((4, 3, 2), dict(in_axis=np.int64(0), out_axis=np.int64(2))),
]


@pytest.mark.parametrize("shape,axes", JAX_CASES)
def test_compute_fans_jax_layout(shape, axes):
    got = fi.compute_fans(shape, "jax", **axes)
    ref_axes = {k: (int(v) if isinstance(v, np.integer) else v) for k, v in axes.items()}
    assert got == jax_fans(shape, **ref_axes)
    assert all(isinstance(f, int) for f in got)


def test_compute_fans_jax_default_matches_keras_for_conv_kernels():
    for shape in [(3, 4), (3, 3, 16, 32), (5, 16, 32), (2, 3, 3, 16, 32)]:
        assert fi.compute_fans(shape, "jax") == fi.compute_fans(shape, "keras")


@pytest.mark.parametrize("axes", [
    dict(in_axis=5), dict(out_axis=-4), dict(batch_axis=3), dict(in_axis=(0, 9)),
])
def test_compute_fans_jax_axis_out_of_range(axes):
    with pytest.raises(ValueError, match="out of range"):
        fi.compute_fans((2, 3, 4), "jax", **axes)


# jax.nn.initializers._compute_fans, worked by hand: receptive field = size / in / out / batch
@pytest.mark.parametrize("shape, axes, fans", [
    ((10, 4), dict(in_axis=-2, out_axis=0), (4.0, 4.0)),      # flax.linen.Embed's default init
    ((3, 4, 5), dict(in_axis=-1, out_axis=-1), (12.0, 12.0)),
    ((3, 4, 5), dict(in_axis=0, out_axis=1, batch_axis=0), (60 / 3 / 4 / 3 * 3, 60 / 3 / 4 / 3 * 4)),
    ((3, 4, 5), dict(in_axis=(0, 1), out_axis=(1, 2)), (3.0, 5.0)),
    ((5,), dict(in_axis=0, out_axis=()), (5, 1)),                 # 1-D with an explicit in_axis
    ((), dict(in_axis=(), out_axis=()), (1, 1)),
    ((3, 4, 5), dict(in_axis=1, out_axis=2), (12, 15)),          # distinct: whole numbers, ints
])
def test_compute_fans_jax_is_jax_definition(shape, axes, fans):
    got = fi.compute_fans(shape, "jax", **axes)
    assert got == pytest.approx(fans, rel=1e-15)
    assert all(isinstance(f, int) for f in got) == all(isinstance(f, int) for f in fans)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_compute_fans_jax_default_in_axis_needs_two_dims(shape):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fi.compute_fans(shape, "jax")


def test_fractional_jax_fans_reach_the_fill():
    w = fi.variance_scaling_(np.empty((1000, 400), np.float32), scale=1.0, mode="fan_in",
                             distribution="untruncated_normal", layout="jax", in_axis=-2,
                             out_axis=0, seed=3)
    assert w.std() == pytest.approx(math.sqrt(1 / 400), rel=0.01)   # fan_in = 400


@pytest.mark.parametrize("layout", ["pytorch", "tf", "", None, "Torch"])
def test_compute_fans_unknown_layout(layout):
    with pytest.raises(ValueError) as info:
        fi.compute_fans((3, 4), layout)
    for valid in LAYOUTS:
        assert valid in str(info.value)


def test_compute_fans_bad_shapes():
    with pytest.raises(ValueError, match="negative"):
        fi.compute_fans((3, -4))
    with pytest.raises(TypeError):
        fi.compute_fans((3.0, 4))
    with pytest.raises(TypeError):
        fi.compute_fans(5)
    assert fi.compute_fans(np.array([3, 4])) == (4, 3)
    assert fi.compute_fans([np.int64(3), np.int32(4)], "keras") == (3, 4)


# ---- the PyTorch family: formulas ------------------------------------------------------------
@pytest.mark.parametrize("shape", TORCH_SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3, 0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xavier_uniform_bound(shape, gain, dtype):
    bound = torch_xavier_std(shape, gain) * math.sqrt(3.0)
    x = fi.xavier_uniform_(np.empty(shape, dtype), gain=gain, seed=11)
    assert_same_bytes(x, fi.uniform_(np.empty(shape, dtype), -bound, bound, seed=11), "formula")
    m = np.abs(x.astype(np.float64)).max()
    assert m <= bound
    assert m >= bound * (1 - 20.0 / x.size)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xavier_normal_std(shape, gain, dtype):
    std = torch_xavier_std(shape, gain)
    x = fi.xavier_normal_(np.empty(shape, dtype), gain=gain, seed=12)
    assert_same_bytes(x, fi.normal_(np.empty(shape, dtype), 0.0, std, seed=12), "formula")
    s = x.astype(np.float64).std()
    assert abs(s / std - 1) < 6 / math.sqrt(2 * x.size)


KAIMING_CASES = [
    dict(),
    dict(a=math.sqrt(5)),  # torch's nn.Linear / ConvNd default
    dict(a=0.2, mode="fan_out"),
    dict(mode="fan_out", nonlinearity="relu"),
    dict(mode="fan_in", nonlinearity="relu", a=0.7),  # a is ignored for relu
    dict(nonlinearity="tanh"),
    dict(nonlinearity="selu"),
    dict(nonlinearity="linear", mode="fan_out"),
    dict(nonlinearity="conv2d"),
    dict(mode="FAN_OUT", nonlinearity="relu"),  # torch lower-cases mode
]


def _kaiming_ref_std(shape, kw):
    return torch_kaiming_std(shape, kw.get("a", 0.0), kw.get("mode", "fan_in"),
                             kw.get("nonlinearity", "leaky_relu"))


@pytest.mark.parametrize("shape", TORCH_SHAPES)
@pytest.mark.parametrize("kw", KAIMING_CASES, ids=str)
def test_kaiming_uniform_bound(shape, kw):
    bound = math.sqrt(3.0) * _kaiming_ref_std(shape, kw)
    x = fi.kaiming_uniform_(np.empty(shape, np.float32), seed=13, **kw)
    assert_same_bytes(x, fi.uniform_(np.empty(shape, np.float32), -bound, bound, seed=13), "formula")
    m = np.abs(x.astype(np.float64)).max()
    assert bound * (1 - 20.0 / x.size) <= m <= bound


@pytest.mark.parametrize("shape", TORCH_SHAPES)
@pytest.mark.parametrize("kw", KAIMING_CASES, ids=str)
def test_kaiming_normal_std(shape, kw):
    std = _kaiming_ref_std(shape, kw)
    x = fi.kaiming_normal_(np.empty(shape, np.float64), seed=14, **kw)
    assert_same_bytes(x, fi.normal_(np.empty(shape, np.float64), 0.0, std, seed=14), "formula")
    assert abs(x.std() / std - 1) < 6 / math.sqrt(2 * x.size)


def test_torch_default_linear_init_bound():
    # kaiming_uniform_(w, a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    x = fi.kaiming_uniform_(np.empty((300, 200), np.float64), a=math.sqrt(5), seed=1)
    assert np.abs(x).max() <= 1 / math.sqrt(200)
    assert np.abs(x).max() > 0.999 / math.sqrt(200)


@needs_torch
@pytest.mark.parametrize("which,kw", [
    ("xavier_uniform_", dict(gain=1.5)),
    ("xavier_normal_", dict()),
    ("kaiming_uniform_", dict(a=math.sqrt(5))),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
])
def test_same_distribution_as_torch(which, kw):
    shape = (128, 64, 3, 3)
    torch.manual_seed(0)
    t = getattr(torch.nn.init, which)(torch.empty(shape, dtype=torch.float64), **kw).numpy()
    x = getattr(fi, which)(np.empty(shape, np.float64), seed=3, **kw)
    assert stats.ks_2samp(t.ravel(), x.ravel()).pvalue > P_MIN
    assert abs(x.std() / t.std() - 1) < 0.02


# ---- the Keras/JAX family ----------------------------------------------------------------
def test_truncated_std_correction():
    assert fi.TRUNCATED_STD_CORRECTION == 0.87962566103423978
    assert abs(stats.truncnorm(-2, 2).std() - C) < 1e-15


def _vs_fan(mode, fan_in, fan_out):
    # Keras and JAX: fan_in, fan_out, fan_avg; JAX also fan_geo_avg = sqrt(fan_in * fan_out)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0,
            "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]


def test_variance_scaling_modes():
    assert set(FAN_MODES) >= {"fan_in", "fan_out", "fan_avg"}
    assert set(FAN_MODES) <= {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}


@pytest.mark.parametrize("mode", FAN_MODES)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.1])
def test_variance_scaling_formula(mode, distribution, scale):
    shape = (48, 20, 3, 3)
    fan_in, fan_out = torch_fans(shape)
    variance = scale / _vs_fan(mode, fan_in, fan_out)
    x = fi.variance_scaling_(np.empty(shape, np.float32), scale=scale, mode=mode,
                             distribution=distribution, seed=21)
    y = np.empty(shape, np.float32)
    if distribution == "truncated_normal":
        sigma = math.sqrt(variance) / C
        fi.trunc_normal_(y, 0.0, sigma, -2 * sigma, 2 * sigma, seed=21)
        assert np.abs(x).max() <= 2 * sigma
    elif distribution == "untruncated_normal":
        fi.normal_(y, 0.0, math.sqrt(variance), seed=21)
    else:
        limit = math.sqrt(3.0 * variance)
        fi.uniform_(y, -limit, limit, seed=21)
        assert np.abs(x).max() <= limit
    assert_same_bytes(x, y, "formula")


@pytest.mark.parametrize("mode", FAN_MODES)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_variance_scaling_distribution(mode, distribution):
    fan_in, fan_out, scale = 300, 500, 2.0
    variance = scale / _vs_fan(mode, fan_in, fan_out)
    x = fi.variance_scaling_(np.empty(200_000, np.float64), fan_in, fan_out, scale=scale,
                             mode=mode, distribution=distribution, seed=22)
    if distribution == "truncated_normal":
        sigma = math.sqrt(variance) / C
        dist = stats.truncnorm(-2, 2, scale=sigma)
    elif distribution == "untruncated_normal":
        dist = stats.norm(scale=math.sqrt(variance))
    else:
        limit = math.sqrt(3 * variance)
        dist = stats.uniform(-limit, 2 * limit)
    assert ks_p(x, dist) > P_MIN
    # every distribution has the variance scale / fan (that is what the 0.8796 correction is for)
    assert abs(x.var() / variance - 1) < 0.02


PRESETS = {
    "glorot_uniform_": (1.0, "fan_avg", "uniform"),
    "glorot_normal_": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform_": (2.0, "fan_in", "uniform"),
    "he_normal_": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform_": (1.0, "fan_in", "uniform"),
    "lecun_normal_": (1.0, "fan_in", "truncated_normal"),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("layout,shape,axes", [
    ("torch", (32, 16, 3, 3), {}),
    ("keras", (3, 3, 16, 32), {}),
    ("jax", (3, 3, 16, 32), {}),
    ("jax", (16, 32, 3, 3), dict(in_axis=0, out_axis=1)),
])
def test_presets_are_variance_scaling(name, layout, shape, axes):
    scale, mode, distribution = PRESETS[name]
    x = getattr(fi, name)(np.empty(shape, np.float32), layout=layout, seed=5, **axes)
    y = fi.variance_scaling_(np.empty(shape, np.float32), scale=scale, mode=mode,
                             distribution=distribution, layout=layout, seed=5, **axes)
    assert_same_bytes(x, y, name)
    fan_in, fan_out = (keras_fans(shape) if layout != "torch" else torch_fans(shape))
    if axes:
        fan_in, fan_out = jax_fans(shape, **axes)
    variance = scale / _vs_fan(mode, fan_in, fan_out)
    bound = math.sqrt(3 * variance) if distribution == "uniform" else 2 * math.sqrt(variance) / C
    assert np.abs(x).max() <= bound


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_distribution(name):
    scale, mode, distribution = PRESETS[name]
    fan_in, fan_out = 256, 1024
    variance = scale / _vs_fan(mode, fan_in, fan_out)
    x = getattr(fi, name)(np.empty(200_000, np.float32), fan_in, fan_out, seed=6)
    if distribution == "uniform":
        limit = math.sqrt(3 * variance)
        dist = stats.uniform(-limit, 2 * limit)
    else:
        dist = stats.truncnorm(-2, 2, scale=math.sqrt(variance) / C)
    assert ks_p(x, dist) > P_MIN


def test_normal_distribution_is_refused():
    with pytest.raises(ValueError) as info:
        fi.variance_scaling_(np.empty((4, 4), np.float32), distribution="normal")
    msg = str(info.value)
    for word in ("ambiguous", "Keras", "JAX", "'truncated_normal'", "'untruncated_normal'"):
        assert word in msg


@pytest.mark.parametrize("distribution", ["gaussian", "Uniform", "truncated", ""])
def test_unknown_distribution(distribution):
    with pytest.raises(ValueError) as info:
        fi.variance_scaling_(np.empty((4, 4), np.float32), distribution=distribution)
    for valid in DISTRIBUTIONS:
        assert valid in str(info.value)


def test_clamp_fan():
    shape = (40, 30)
    # with real fans (>= 1) the clamp changes nothing
    for mode in FAN_MODES:
        a = fi.variance_scaling_(np.empty(shape, np.float32), mode=mode, clamp_fan=True, seed=1)
        b = fi.variance_scaling_(np.empty(shape, np.float32), mode=mode, seed=1)
        assert_same_bytes(a, b, mode)
    # Keras's scale / max(1, fan): a zero fan is read as 1 ...
    cases = [("fan_in", (0, 5)), ("fan_out", (5, 0)), ("fan_avg", (0, 1)), ("fan_avg", (0, 0))]
    if "fan_geo_avg" in FAN_MODES:
        cases.append(("fan_geo_avg", (0, 9)))
    for mode, fans in cases:
        a = fi.variance_scaling_(np.empty(1000, np.float64), *fans, mode=mode, scale=3.0,
                                 distribution="uniform", clamp_fan=True, seed=2)
        b = fi.uniform_(np.empty(1000, np.float64), -3.0, 3.0, seed=2)  # sqrt(3 * 3 / 1)
        assert_same_bytes(a, b, f"{mode} {fans}")
    # ... and without the clamp it is an error that points at clamp_fan
    with pytest.raises(ValueError, match="clamp_fan"):
        fi.variance_scaling_(np.empty(10, np.float32), 0, 5)
    with pytest.raises(ValueError, match=">= 0"):
        fi.variance_scaling_(np.empty(10, np.float32), -1, 5, clamp_fan=True)


def test_presets_accept_clamp_fan():
    a = fi.he_uniform_(np.empty(100, np.float64), 0, 7, clamp_fan=True, seed=3)
    b = fi.uniform_(np.empty(100, np.float64), -math.sqrt(6.0), math.sqrt(6.0), seed=3)
    assert_same_bytes(a, b)


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_variance_scaling_scale_must_be_positive(scale):
    with pytest.raises(ValueError, match="scale must be > 0"):
        fi.variance_scaling_(np.empty((3, 3), np.float32), scale=scale)


def test_one_sided_jax_uniform_is_uniform_0_scale():
    # JAX's uniform(scale) is U[0, scale): spelled fastinit.uniform_(arr, 0, scale)
    x = fi.uniform_(np.empty(200_000, np.float32), 0.0, 0.01, seed=4)
    assert x.min() >= 0 and x.max() < 0.01
    assert ks_p(x, stats.uniform(0, 0.01)) > P_MIN


def test_keras_truncated_normal_initializer_spelling():
    # Keras TruncatedNormal(mean, stddev): redraw outside mean +- 2 stddev, i.e. sigma units
    a = fi.truncated_normal_(np.empty(5000, np.float32), 0.05, mean=0.1, seed=9)
    b = fi.trunc_normal_(np.empty(5000, np.float32), 0.1, 0.05, 0.1 - 0.1, 0.1 + 0.1, seed=9)
    assert_same_bytes(a, b)


# ---- fans given explicitly, layouts, purity -------------------------------------------------
FAN_FILLS = {
    "xavier_uniform_": fi.xavier_uniform_,
    "xavier_normal_": fi.xavier_normal_,
    "kaiming_uniform_": fi.kaiming_uniform_,
    "kaiming_normal_": fi.kaiming_normal_,
    "variance_scaling_": fi.variance_scaling_,
    **{name: getattr(fi, name) for name in PRESETS},
}


@pytest.mark.parametrize("name", sorted(FAN_FILLS))
def test_explicit_fans_on_a_flat_buffer(name):
    """Element values depend on the index only: the (R, C) fill equals the flat fill with fans."""
    f = FAN_FILLS[name]
    shape = (37, 53)
    full = f(np.empty(shape, np.float32), seed=7)
    fan_in, fan_out = fi.compute_fans(shape)
    flat = f(np.empty(37 * 53, np.float32), fan_in, fan_out, seed=7)
    assert_same_bytes(flat.reshape(shape), full, name)
    # fans override the shape
    other = f(np.empty(shape, np.float32), 3, 5, seed=7)
    flat_other = f(np.empty(37 * 53, np.float32), 3, 5, seed=7)
    assert_same_bytes(other.ravel(), flat_other, name)
    assert not np.array_equal(other, full)
    # a 1-D buffer has no fans to read
    with pytest.raises(ValueError, match="fan_in= and fan_out="):
        f(np.empty(10, np.float32), seed=7)


@pytest.mark.parametrize("name", sorted(FAN_FILLS))
def test_layout_independent_values(name):
    """Fortran order, a transposed view and a shard give the same values per logical index."""
    f = FAN_FILLS[name]
    shape = (40, 24, 3)
    full = f(np.empty(shape, np.float64), seed=8)
    fortran = f(np.empty(shape, np.float64, order="F"), seed=8)
    assert_same_bytes(np.ascontiguousarray(fortran), full, "F order")
    shard = f(np.empty((10, 24, 3), np.float64), global_shape=shape, offset=(20, 0, 0), seed=8)
    assert_same_bytes(shard, full[20:30], "shard (fans from global_shape)")


def test_xavier_uniform_flat_example_from_the_issue():
    arr = np.empty(4096, np.float32)
    out = fi.xavier_uniform_(arr, 64, 64, seed=0)
    assert out is arr
    assert np.abs(arr).max() <= math.sqrt(6 / 128)


def test_layouts_in_fills():
    shape = (3, 5, 16, 32)  # a Keras/JAX conv kernel
    kf = keras_fans(shape)
    a = fi.kaiming_normal_(np.empty(shape, np.float32), layout="keras", seed=1)
    b = fi.kaiming_normal_(np.empty(shape, np.float32), kf[0], kf[1], seed=1)
    assert_same_bytes(a, b, "keras")
    c = fi.glorot_uniform_(np.empty(shape, np.float32), layout="jax", seed=1)
    d = fi.glorot_uniform_(np.empty(shape, np.float32), *kf, seed=1)
    assert_same_bytes(c, d, "jax default axes")
    jf = jax_fans((2, 3, 4, 5), in_axis=(0, 1), out_axis=-1, batch_axis=2)
    e = fi.lecun_normal_(np.empty((2, 3, 4, 5), np.float32), layout="jax", in_axis=(0, 1),
                         out_axis=-1, batch_axis=2, seed=1)
    g = fi.lecun_normal_(np.empty((2, 3, 4, 5), np.float32), int(jf[0]), int(jf[1]), seed=1)
    assert_same_bytes(e, g, "jax sequences")


def test_one_fan_is_enough_when_the_mode_needs_one():
    a = fi.kaiming_uniform_(np.empty(100, np.float32), 50, seed=2)
    b = fi.kaiming_uniform_(np.empty((7, 50), np.float32), seed=2)
    assert_same_bytes(a, b.ravel()[:100])
    fi.kaiming_normal_(np.empty(100, np.float32), None, 30, mode="fan_out", seed=2)
    fi.he_normal_(np.empty(100, np.float32), 9, seed=2)
    with pytest.raises(ValueError):
        fi.kaiming_normal_(np.empty(100, np.float32), 30, None, mode="fan_out", seed=2)


def test_threads_do_not_change_values():
    shape = (1024, 1024)
    ref = {}
    before = fi.get_num_threads()
    try:
        for n in (1, 2, 3):
            fi.set_num_threads(n)
            got = (fi.kaiming_uniform_(np.empty(shape, np.float32), seed=5),
                   fi.he_normal_(np.empty(shape, np.float32), seed=5),
                   fi.sparse_(np.empty((512, 256), np.float32), 0.3, seed=5))
            if not ref:
                ref = got
            for a, b in zip(got, ref):
                assert_same_bytes(a, b, f"{n} threads")
    finally:
        fi.set_num_threads(before)


def test_generator_and_seed_keywords():
    g = fi.Generator(42)
    a = fi.xavier_uniform_(np.empty((8, 8), np.float32), generator=g)
    b = fi.xavier_uniform_(np.empty((8, 8), np.float32), generator=g)
    assert not np.array_equal(a, b)
    c = fi.xavier_uniform_(np.empty((8, 8), np.float32), seed=42, stream=1)
    assert_same_bytes(c, b, "generator's second stream")
    with pytest.raises((ValueError, TypeError)):
        fi.xavier_uniform_(np.empty((8, 8), np.float32), seed=1, generator=g)


# ---- bad inputs ------------------------------------------------------------------------------
def _a(shape=(4, 5), dtype=np.float32):
    return np.zeros(shape, dtype)


BAD_INPUTS = [
    # (id, call, exception, substrings the message must contain)
    ("fan_in 0", lambda: fi.xavier_uniform_(_a(), 0, 5), ValueError, [">= 1"]),
    ("fan_out 0", lambda: fi.xavier_normal_(_a(), 5, 0), ValueError, [">= 1"]),
    ("fan negative", lambda: fi.kaiming_uniform_(_a(), -3), ValueError, [">= 1"]),
    ("fan 0 vs", lambda: fi.he_normal_(_a(), 0), ValueError, [">= 1", "clamp_fan"]),
    ("fan float", lambda: fi.xavier_uniform_(_a(), 4.0, 5), TypeError, ["int"]),
    ("fan bool", lambda: fi.xavier_uniform_(_a(), True, 5), TypeError, ["int"]),
    ("0-D torch", lambda: fi.xavier_uniform_(_a(())), ValueError, ["fewer than 2", "fan_in="]),
    ("1-D torch", lambda: fi.kaiming_normal_(_a((6,))), ValueError, ["fewer than 2"]),
    ("1-D jax", lambda: fi.glorot_normal_(_a((6,)), layout="jax"), ValueError, ["at least 2"]),
    ("kaiming mode", lambda: fi.kaiming_uniform_(_a(), mode="fan_avg"), ValueError, ["fan_in", "fan_out"]),
    ("kaiming mode type", lambda: fi.kaiming_normal_(_a(), mode=None), ValueError, ["fan_in", "fan_out"]),
    ("vs mode", lambda: fi.variance_scaling_(_a(), mode="avg"), ValueError, list(FAN_MODES)),
    ("vs distribution", lambda: fi.variance_scaling_(_a(), distribution="gauss"), ValueError, list(DISTRIBUTIONS)),
    ("vs normal", lambda: fi.variance_scaling_(_a(), distribution="normal"), ValueError, ["truncated_normal", "untruncated_normal"]),
    ("nonlinearity", lambda: fi.kaiming_normal_(_a(), nonlinearity="gelu"), ValueError, list(NONLINEARITIES)),
    ("leaky slope", lambda: fi.kaiming_normal_(_a(), a="x"), ValueError, ["negative_slope"]),
    ("layout", lambda: fi.xavier_uniform_(_a(), layout="tf"), ValueError, list(LAYOUTS)),
    ("jax axis", lambda: fi.he_uniform_(_a(), layout="jax", in_axis=2), ValueError, ["in_axis", "out of range"]),
    ("sparsity > 1", lambda: fi.sparse_(_a(), 1.5), ValueError, ["[0, 1]"]),
    ("sparsity < 0", lambda: fi.sparse_(_a(), -0.1), ValueError, ["[0, 1]"]),
    ("sparsity nan", lambda: fi.sparse_(_a(), float("nan")), ValueError, ["sparsity"]),
    ("sparsity str", lambda: fi.sparse_(_a(), "dense"), TypeError, ["sparsity"]),
    ("sparse std", lambda: fi.sparse_(_a(), 0.1, std=-1.0), ValueError, ["std"]),
    ("sparse 3-D", lambda: fi.sparse_(_a((2, 3, 4)), 0.1), ValueError, ["2-D"]),
    ("eye 3-D", lambda: fi.eye_(_a((2, 3, 4))), ValueError, ["2-D", "(2, 3, 4)"]),
    ("eye 1-D", lambda: fi.eye_(_a((4,))), ValueError, ["2-D"]),
    ("identity 3-D", lambda: fi.identity_(_a((2, 3, 4)), 2.0), ValueError, ["2-D"]),
    ("dirac 2-D", lambda: fi.dirac_(_a((4, 4))), ValueError, ["3, 4 or 5-D"]),
    ("dirac 6-D", lambda: fi.dirac_(_a((2, 2, 1, 1, 1, 1))), ValueError, ["3, 4 or 5-D"]),
    ("dirac groups", lambda: fi.dirac_(_a((6, 2, 3)), groups=4), ValueError, ["divisible", "4"]),
    ("dirac groups 0", lambda: fi.dirac_(_a((6, 2, 3)), groups=0), ValueError, ["positive int"]),
    ("dirac groups float", lambda: fi.dirac_(_a((6, 2, 3)), groups=2.0), TypeError, ["groups", "float"]),
    ("dirac groups bool", lambda: fi.dirac_(_a((6, 2, 3)), groups=True), TypeError, ["groups", "bool"]),
    ("delta in > out", lambda: fi.delta_orthogonal_(_a((3, 3, 8, 4))), ValueError, ["in <= out"]),
    ("delta 2-D", lambda: fi.delta_orthogonal_(_a((4, 8))), ValueError, ["3, 4 or 5-D"]),
    ("orthogonal 1-D", lambda: fi.orthogonal_(_a((5,))), ValueError, ["2 or more"]),
    ("gain str", lambda: fi.xavier_uniform_(_a(), gain="big"), TypeError, ["gain"]),
    ("gain inf", lambda: fi.xavier_normal_(_a(), gain=math.inf), ValueError, ["gain"]),
    ("not ndarray", lambda: fi.kaiming_uniform_([[1.0, 2.0]]), TypeError, ["numpy.ndarray"]),
    ("int dtype", lambda: fi.glorot_uniform_(np.zeros((3, 3), np.int32)), TypeError, ["float32", "float64"]),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs(case):
    _, call, exc, words = case
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} missing from {info.value!r}"


def test_read_only_array():
    a = np.zeros((3, 3), np.float32)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fi.xavier_uniform_(a)


@pytest.mark.parametrize("call", [
    lambda a: fi.xavier_uniform_(a, 0, 3),
    lambda a: fi.kaiming_normal_(a, mode="bad"),
    lambda a: fi.variance_scaling_(a, distribution="normal"),
    lambda a: fi.sparse_(a, 2.0),
    lambda a: fi.orthogonal_(a, column_axis=7),
    lambda a: fi.identity_(a, gain="x"),
])
def test_errors_leave_the_array_untouched(call):
    a = np.full((6, 4), 7.0, np.float32)
    with pytest.raises((ValueError, TypeError)):
        call(a)
    assert (a == 7.0).all()


def test_bad_arguments_are_reported_even_for_empty_arrays():
    empty = np.empty((0, 3), np.float32)
    with pytest.raises(ValueError):
        fi.kaiming_uniform_(empty, nonlinearity="gelu")
    with pytest.raises(ValueError):
        fi.kaiming_normal_(empty, mode="fan_avg")
    with pytest.raises(ValueError):
        fi.variance_scaling_(empty, distribution="normal")


# ---- zero-size arrays ------------------------------------------------------------------------
ZERO_SIZE_CALLS = {
    "xavier_uniform_": lambda a: fi.xavier_uniform_(a),
    "xavier_normal_": lambda a: fi.xavier_normal_(a),
    "kaiming_uniform_": lambda a: fi.kaiming_uniform_(a),
    "kaiming_normal_": lambda a: fi.kaiming_normal_(a),
    "variance_scaling_": lambda a: fi.variance_scaling_(a),
    **{name: (lambda a, n=name: getattr(fi, n)(a)) for name in PRESETS},
    "trunc_normal_": lambda a: fi.trunc_normal_(a),
    "truncated_normal_": lambda a: fi.truncated_normal_(a),
    "orthogonal_": lambda a: fi.orthogonal_(a),
    "sparse_": lambda a: fi.sparse_(a[..., 0, 0], 0.5),
    "eye_": lambda a: fi.eye_(a[..., 0, 0]),
    "identity_": lambda a: fi.identity_(a[..., 0, 0], 3.0),
    "dirac_": lambda a: fi.dirac_(a),
}


@pytest.mark.parametrize("name", sorted(ZERO_SIZE_CALLS))
@pytest.mark.parametrize("shape", [(0, 5, 3, 3), (5, 0, 3, 3)])
def test_zero_size_is_a_no_op(name, shape):
    a = np.empty(shape, np.float32)
    out = ZERO_SIZE_CALLS[name](a)
    assert out.size == 0
    assert out.base is a or out is a or out.base is a.base


def test_zero_size_delta_orthogonal():
    a = np.empty((3, 0, 4, 5), np.float32)
    assert fi.delta_orthogonal_(a) is a


# ---- eye_, identity_, dirac_ -------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 3), (1, 1), (1, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_eye(shape, dtype):
    a = np.full(shape, 9.0, dtype)
    assert fi.eye_(a) is a
    assert_same_bytes(a, np.eye(*shape, dtype=dtype))
    if torch is not None:
        t = torch.nn.init.eye_(torch.empty(shape, dtype=torch.float64)).numpy()
        assert np.array_equal(a.astype(np.float64), t)


@pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes is not installed")
def test_eye_and_identity_bfloat16():
    a = fi.identity_(np.empty((3, 4), ml_dtypes.bfloat16), 0.5)
    assert np.array_equal(a.astype(np.float64), 0.5 * np.eye(3, 4))


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
@pytest.mark.parametrize("gain", [1.0, 2.5, -0.5, 0.0])
def test_identity_gain(shape, gain):
    # Keras Identity(gain): gain * eye(*shape)
    a = fi.identity_(np.full(shape, 9.0, np.float64), gain)
    assert np.array_equal(a, gain * np.eye(*shape))  # (Keras's gain * eye has -0.0 for gain < 0)
    assert_same_bytes(fi.identity_(np.empty(shape, np.float64)), np.eye(*shape))


DIRAC_SHAPES = [(4, 4, 3), (6, 3, 5), (3, 6, 4), (4, 4, 3, 3), (8, 2, 2, 4), (2, 8, 5, 5),
                (4, 4, 3, 3, 3), (6, 3, 2, 3, 4), (1, 1, 1)]


@pytest.mark.parametrize("shape,groups", [(s, g) for s in DIRAC_SHAPES for g in (1, 2) if s[0] % g == 0])
def test_dirac_matches_torch(shape, groups):
    a = np.full(shape, 5.0, np.float32)
    assert fi.dirac_(a, groups) is a
    if torch is not None:
        t = torch.nn.init.dirac_(torch.empty(shape), groups).numpy()
        assert_same_bytes(a, t, "torch.nn.init.dirac_")
    # a dirac kernel passes the input through: min(out/groups, in) ones per group
    assert a.sum() == groups * min(shape[0] // groups, shape[1])


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_dirac_groups_torch(groups):
    shape = (12, 4, 3, 3)
    a = fi.dirac_(np.empty(shape, np.float64), groups=groups)
    if torch is not None:
        t = torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64), groups=groups).numpy()
        assert_same_bytes(a, t)


# ---- sparse_ ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rows,cols,sparsity", [
    (10, 7, 0.1), (10, 7, 0.3), (10, 7, 0.25), (100, 20, 0.9), (5, 3, 1.0), (5, 3, 0.0),
    (1, 9, 0.5), (37, 11, 1 / 3), (64, 64, 0.01),
])
def test_sparse_zero_count(rows, cols, sparsity):
    a = fi.sparse_(np.empty((rows, cols), np.float32), sparsity, seed=3)
    expected = int(math.ceil(sparsity * rows))  # torch.nn.init.sparse_'s count, float rounding included
    assert ((a == 0).sum(axis=0) == expected).all()
    if torch is not None:
        t = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity).numpy()
        assert ((t == 0).sum(axis=0) == expected).all()


def test_sparse_values_are_the_normal_fill():
    a = fi.sparse_(np.empty((300, 200), np.float64), 0.4, std=0.05, seed=4)
    b = fi.normal_(np.empty((300, 200), np.float64), 0.0, 0.05, seed=4)
    keep = a != 0
    assert np.array_equal(a[keep], b[keep])
    assert ks_p(a[keep], stats.norm(scale=0.05)) > P_MIN


def test_sparse_deterministic_and_seed_dependent():
    a = fi.sparse_(np.empty((50, 40), np.float32), 0.5, seed=1)
    b = fi.sparse_(np.empty((50, 40), np.float32), 0.5, seed=1)
    c = fi.sparse_(np.empty((50, 40), np.float32), 0.5, seed=2)
    d = fi.sparse_(np.empty((50, 40), np.float32), 0.5, seed=1, stream=1)
    assert_same_bytes(a, b)
    assert not np.array_equal(a == 0, c == 0)
    assert not np.array_equal(a == 0, d == 0)
    g1, g2 = fi.Generator(7), fi.Generator(7)
    first = [fi.sparse_(np.empty((20, 10), np.float32), 0.3, generator=g1) for _ in range(3)]
    second = [fi.sparse_(np.empty((20, 10), np.float32), 0.3, generator=g2) for _ in range(3)]
    for x, y in zip(first, second):
        assert_same_bytes(x, y, "generator sequence")
    assert not np.array_equal(first[0] == 0, first[1] == 0)


def test_sparse_zero_positions_are_uniform():
    """Each of the C(5, 2) = 10 zero sets of a column is equally likely, and columns are
    independent (chi-square over 4000 seeds)."""
    rows, cols, n = 5, 4, 4000
    pairs = [(i, j) for i in range(rows) for j in range(i + 1, rows)]
    code = {p: k for k, p in enumerate(pairs)}
    counts = np.zeros((cols, len(pairs)), np.int64)
    joint = np.zeros((len(pairs), len(pairs)), np.int64)
    a = np.empty((rows, cols), np.float32)
    for seed in range(n):
        fi.sparse_(a, 0.4, seed=seed)
        ks = [code[tuple(np.flatnonzero(a[:, c] == 0))] for c in range(cols)]
        counts[np.arange(cols), ks] += 1
        joint[ks[0], ks[1]] += 1
    assert stats.chisquare(counts.ravel()).pvalue > P_MIN  # all 40 cells: expected 400 each
    assert stats.chisquare(joint.ravel()).pvalue > P_MIN  # 100 cells: expected 40 each


def test_sparse_zero_rows_uniform_in_a_large_matrix():
    rows, cols = 50, 200
    hits = np.zeros(rows, np.int64)
    g = fi.Generator(11)
    for _ in range(10):
        a = fi.sparse_(np.empty((rows, cols), np.float32), 0.1, generator=g)
        hits += (a == 0).sum(axis=1)
    assert hits.sum() == 10 * cols * 5
    assert stats.chisquare(hits).pvalue > P_MIN


# ---- KS tests for the random initializers on conv shapes ----------------------------------
def test_ks_torch_family_on_conv_shape():
    shape = (256, 96, 3, 3)  # 221184 elements
    fan_in, fan_out = torch_fans(shape)
    s = math.sqrt(2.0 / (fan_in + fan_out))
    x = fi.xavier_uniform_(np.empty(shape, np.float32), seed=31)
    assert ks_p(x, stats.uniform(-math.sqrt(3) * s, 2 * math.sqrt(3) * s)) > P_MIN
    x = fi.xavier_normal_(np.empty(shape, np.float32), seed=32)
    assert ks_p(x, stats.norm(scale=s)) > P_MIN
    k = math.sqrt(2.0 / fan_in)
    x = fi.kaiming_uniform_(np.empty(shape, np.float32), nonlinearity="relu", seed=33)
    assert ks_p(x, stats.uniform(-math.sqrt(3) * k, 2 * math.sqrt(3) * k)) > P_MIN
    x = fi.kaiming_normal_(np.empty(shape, np.float32), nonlinearity="relu", seed=34)
    assert ks_p(x, stats.norm(scale=k)) > P_MIN
