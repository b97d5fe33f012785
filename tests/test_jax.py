"""fastinit.jax: jax.nn.initializers signatures, JAX semantics, sharded == unsharded."""

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
scipy_stats = pytest.importorskip("scipy.stats")

import fastinit  # noqa: E402
import fastinit.jax as fj  # noqa: E402

FACTORIES = ["constant", "uniform", "normal", "truncated_normal", "variance_scaling",
             "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
             "lecun_uniform", "lecun_normal", "he_uniform", "he_normal", "kaiming_uniform",
             "kaiming_normal", "orthogonal", "delta_orthogonal"]


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_signatures_match_jax(name):
    ours = inspect.signature(getattr(fj, name))
    theirs = inspect.signature(getattr(jax.nn.initializers, name))
    assert list(ours.parameters) == list(theirs.parameters)
    for p in theirs.parameters.values():
        if p.default is not inspect.Parameter.empty and p.name != "dtype":
            assert ours.parameters[p.name].default == p.default, p.name


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_direct_initializers(name):
    x = getattr(fj, name)(jax.random.key(0), (3, 4), jnp.float32)
    assert isinstance(x, jax.Array) and x.shape == (3, 4)
    assert np.all(np.asarray(x) == (0.0 if name == "zeros" else 1.0))


def test_key_mapping_is_documented_and_deterministic():
    assert fj.key_to_stream(jax.random.key(0)) == (0, 0)
    assert fj.key_to_stream(jax.random.PRNGKey(7)) == (7, 0)  # words [0, 7]
    k1, k2 = jax.random.split(jax.random.key(3))
    assert fj.key_to_stream(k1) != fj.key_to_stream(k2)
    a = fj.normal(1.0)(jax.random.key(5), (100,))
    b = fj.normal(1.0)(jax.random.key(5), (100,))
    seed, stream = fj.key_to_stream(jax.random.key(5))
    ref = fastinit.normal_(np.empty(100, np.float32), 0.0, 1.0, seed=seed, stream=stream)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(a), ref)


def _sample(init, shape=(256, 512), dtype=jnp.float32, seed=11):
    return np.asarray(init(jax.random.key(seed), shape, dtype), dtype=np.float64)


def test_uniform_is_one_sided():
    x = _sample(fj.uniform(0.5))
    assert x.min() >= 0.0 and x.max() < 0.5
    assert scipy_stats.kstest(x.ravel()[:200000], "uniform", args=(0, 0.5)).pvalue > 1e-4


def test_truncated_normal_bounds_in_sigma_units():
    x = _sample(fj.truncated_normal(0.1, lower=-1.0, upper=2.0))
    assert x.min() >= -0.1 and x.max() <= 0.2
    dist = scipy_stats.truncnorm(-1.0, 2.0, scale=0.1)
    assert scipy_stats.kstest(x.ravel()[:200000], dist.cdf).pvalue > 1e-4


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling_matches_jax_definition(mode, distribution):
    shape = (3, 3, 64, 128)  # (*spatial, in, out): fan_in = 9*64, fan_out = 9*128
    fan_in, fan_out = 9 * 64, 9 * 128
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
           "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
    std = (2.0 / fan) ** 0.5
    x = _sample(fj.variance_scaling(2.0, mode, distribution), shape).ravel()
    if distribution == "uniform":
        limit = 3**0.5 * std
        assert np.abs(x).max() <= limit
        ref = scipy_stats.uniform(-limit, 2 * limit)
    elif distribution == "normal":  # JAX: untruncated
        assert np.abs(x).max() > 2.5 * std
        ref = scipy_stats.norm(scale=std)
    else:
        sigma = std / 0.87962566103423978
        assert np.abs(x).max() <= 2 * sigma
        ref = scipy_stats.truncnorm(-2, 2, scale=sigma)
    assert scipy_stats.kstest(x, ref.cdf).pvalue > 1e-4
    assert abs(x.std() / std - 1) < 0.02


def test_against_jax_own_statistics():
    """Same distribution as JAX's own initializer (two-sample KS, fixed keys)."""
    for ours, theirs in [(fj.glorot_uniform(), jax.nn.initializers.glorot_uniform()),
                         (fj.he_normal(), jax.nn.initializers.he_normal()),
                         (fj.lecun_normal(), jax.nn.initializers.lecun_normal())]:
        a = _sample(ours, (128, 256)).ravel()
        b = np.asarray(theirs(jax.random.key(4), (128, 256), jnp.float32), np.float64).ravel()
        assert scipy_stats.ks_2samp(a, b).pvalue > 1e-4


def test_orthogonal_column_axis_and_dtypes():
    for shape, axis in [((6, 10), -1), ((10, 6), -1), ((4, 3, 8), 0)]:
        q = np.asarray(fj.orthogonal(2.0, column_axis=axis)(jax.random.key(1), shape, jnp.float32))
        m = np.moveaxis(q, axis, -1).reshape(-1, shape[axis]) / 2.0
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        assert np.abs(gram - np.eye(gram.shape[0])).max() < 1e-5
    assert fj.orthogonal()(jax.random.key(0), (4, 4), jnp.bfloat16).dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="2D"):
        fj.orthogonal()(jax.random.key(0), (4,), jnp.float32)


def test_delta_orthogonal_centre_tap():
    w = np.array(fj.delta_orthogonal()(jax.random.key(2), (4, 3, 5, 7), jnp.float32))
    centre = w[1, 1]  # (k - 1) // 2, as JAX
    assert np.abs(centre @ centre.T - np.eye(5)).max() < 1e-5
    w[1, 1] = 0
    assert not w.any()


def test_works_under_jit():
    init = fj.he_uniform()
    eager = init(jax.random.key(9), (32, 16), jnp.float32)
    jitted = jax.jit(lambda k: init(k, (32, 16), jnp.float32))(jax.random.key(9))
    assert np.array_equal(np.asarray(eager), np.asarray(jitted))


def test_flax_kernel_init():
    nn = pytest.importorskip("flax.linen")
    model = nn.Dense(8, kernel_init=fj.glorot_uniform())
    params = model.init(jax.random.key(0), jnp.ones((2, 4)))
    kernel = np.asarray(params["params"]["kernel"])
    limit = (6 / (4 + 8)) ** 0.5
    assert kernel.shape == (4, 8) and np.abs(kernel).max() <= limit


def test_flax_embed_default_init_repeats_an_axis():
    """flax.linen.Embed's default is variance_scaling(1, "fan_in", "normal", out_axis=0): axis 0
    is both in_axis (-2) and out_axis, so JAX's fan_in is size / 0-th extent (here 400)."""
    ours = fj.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
    a = _sample(ours, (1000, 400)).ravel()
    b = np.asarray(theirs(jax.random.key(4), (1000, 400), jnp.float32), np.float64).ravel()
    assert a.std() == pytest.approx(400 ** -0.5, rel=0.01)
    assert scipy_stats.ks_2samp(a, b).pvalue > 1e-4
    one_d = fj.variance_scaling(1.0, "fan_in", "normal", in_axis=0, out_axis=())
    assert _sample(one_d, (5,)).shape == (5,)
    nn = pytest.importorskip("flax.linen")
    params = nn.Embed(10, 4, embedding_init=ours).init(jax.random.key(0), jnp.zeros(2, jnp.int32))
    assert params["params"]["embedding"].shape == (10, 4)


def test_vmap_gives_each_key_its_unbatched_values():
    init = fj.he_normal()
    keys = jax.random.split(jax.random.key(0), 4)
    for run in (jax.vmap(lambda k: init(k, (3, 5))), jax.jit(jax.vmap(lambda k: init(k, (3, 5))))):
        batched = np.asarray(run(keys))
        assert batched.shape == (4, 3, 5)
        for i in range(4):
            assert np.array_equal(batched[i], np.asarray(init(keys[i], (3, 5))))


@pytest.mark.parametrize("key, error", [
    (lambda: jax.random.split(jax.random.key(0), 3), ValueError),      # a batch of typed keys
    (lambda: jax.random.split(jax.random.PRNGKey(0), 3), ValueError),  # a batch of raw keys
    (lambda: jnp.array([1.5, 2.5]), TypeError),                         # not key data
    (lambda: np.array([-1, 2], np.int64), TypeError),
])
def test_batched_or_malformed_keys_are_refused_as_jax_refuses_them(key, error):
    with pytest.raises(error, match="single key|PRNG key data"):
        fj.he_normal()(key(), (3, 3))


def test_constant_zeros_ones_are_jnp_full():
    key = jax.random.key(0)
    assert fj.zeros(key, (2, 3), jnp.int32).dtype == jnp.int32
    assert np.array_equal(np.asarray(fj.constant(jnp.arange(4.0))(key, (3, 4)))[2], np.arange(4.0))
    assert fj.constant(2)(key, (2,), jnp.complex64).dtype == jnp.complex64
    assert fj.ones(key, (2,), jnp.bool_).all()


X64 = textwrap.dedent(
    """
    import jax, jax.numpy as jnp
    import fastinit.jax as fj
    k = jax.random.key(0)
    dtypes = {fj.he_normal()(k, (4, 4)).dtype, fj.orthogonal()(k, (4, 4)).dtype,
              fj.zeros(k, (2,)).dtype, fj.constant(1.5)(k, (2,)).dtype}
    assert dtypes == {jnp.dtype(jnp.float64)}, dtypes
    assert jax.jit(lambda k: fj.he_normal()(k, (4, 4)))(k).dtype == jnp.float64
    print("ok")
    """
)


def test_default_dtype_follows_jax_enable_x64():
    env = dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", X64], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert fj.he_normal()(jax.random.key(0), (2, 2)).dtype == jnp.float32  # x64 off here
    with pytest.warns(UserWarning, match="float64 is not available"):      # as JAX warns
        assert fj.he_normal()(jax.random.key(0), (2, 2), jnp.float64).dtype == jnp.float32


SHARDED = textwrap.dedent(
    """
    import numpy as np, jax, jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import fastinit.jax as fj
    assert len(jax.devices()) == 4, jax.devices()
    mesh2 = Mesh(np.array(jax.devices()).reshape(2, 2), ("a", "b"))
    mesh1 = Mesh(np.array(jax.devices()), ("x",))
    inits = [fj.glorot_uniform(), fj.he_normal(), fj.truncated_normal(0.02), fj.normal(1.0),
             fj.uniform(0.1), fj.orthogonal(), fj.constant(3.0)]
    specs = [NamedSharding(mesh2, P("a", "b")), NamedSharding(mesh2, P(None, "a")),
             NamedSharding(mesh2, P("b", None)), NamedSharding(mesh1, P("x", None)),
             NamedSharding(mesh1, P(None, "x")), NamedSharding(mesh2, P())]
    for init in inits:
        for dtype in (jnp.float32, jnp.bfloat16):
            whole = np.asarray(init(jax.random.key(3), (64, 48), dtype))
            for sharding in specs:
                part = init(jax.random.key(3), (64, 48), dtype, out_sharding=sharding)
                assert part.sharding == sharding
                assert np.array_equal(np.asarray(part), whole), (init, sharding)
    print("ok")
    """
)


def test_sharded_equals_unsharded_on_4_cpu_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
