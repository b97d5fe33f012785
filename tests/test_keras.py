"""fastinit.keras: keras.initializers names, arguments, configs and semantics (torch backend)."""

import importlib.util
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
scipy_stats = pytest.importorskip("scipy.stats")

import fastinit.keras as fk  # noqa: E402

NAMES = ["Constant", "Zeros", "Ones", "RandomUniform", "RandomNormal", "TruncatedNormal",
         "VarianceScaling", "GlorotUniform", "GlorotNormal", "LecunUniform", "LecunNormal",
         "HeUniform", "HeNormal", "Orthogonal", "Identity"]
RANDOM = [n for n in NAMES if n not in ("Constant", "Zeros", "Ones", "Identity")]


def values(init, shape=(256, 384), dtype=None):
    return np.asarray(keras.ops.convert_to_numpy(init(shape, dtype=dtype)), np.float64)


@pytest.mark.parametrize("name", NAMES)
def test_same_constructor_arguments_as_keras(name):
    ours = inspect.signature(getattr(fk, name).__init__)
    theirs = inspect.signature(getattr(keras.initializers, name).__init__)
    if list(theirs.parameters) == ["self", "args", "kwargs"]:
        return  # Zeros/Ones take nothing
    assert list(ours.parameters) == list(theirs.parameters)
    for p in theirs.parameters.values():
        assert ours.parameters[p.name].default == p.default


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_and_keras_config_keys(name):
    kwargs = {"seed": 3} if name in RANDOM else {}
    ours = getattr(fk, name)(**kwargs)
    theirs = getattr(keras.initializers, name)(**kwargs)
    if name == "Identity":  # Keras 3 forgets gain in its config; we keep it so it round-trips
        assert set(ours.get_config()) == set(theirs.get_config()) | {"gain"}
    else:
        assert set(ours.get_config()) == set(theirs.get_config())
    again = getattr(fk, name).from_config(ours.get_config())
    if name in RANDOM:
        assert np.array_equal(values(ours, (8, 8)), values(again, (8, 8)))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(restored) is type(ours)


def test_seed_semantics_follow_keras():
    fixed = fk.HeNormal(seed=7)
    assert np.array_equal(values(fixed, (16, 16)), values(fixed, (16, 16)))
    unseeded = fk.HeNormal()
    assert np.array_equal(values(unseeded, (16, 16)), values(unseeded, (16, 16)))
    assert not np.array_equal(values(fk.HeNormal(seed=1), (16, 16)), values(fk.HeNormal(seed=2), (16, 16)))
    gen = fk.HeNormal(seed=keras.random.SeedGenerator(5))
    assert not np.array_equal(values(gen, (16, 16)), values(gen, (16, 16)))
    with pytest.raises(ValueError, match="seed"):
        fk.HeNormal(seed="nope")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling_matches_keras_definition(mode, distribution):
    shape = (3, 3, 32, 64)  # (*kernel, in, out)
    fan_in, fan_out = 9 * 32, 9 * 64
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    std = (2.0 / fan) ** 0.5
    x = values(fk.VarianceScaling(2.0, mode, distribution, seed=4), shape).ravel()
    if distribution == "uniform":
        limit = 3**0.5 * std
        ref = scipy_stats.uniform(-limit, 2 * limit)
        assert np.abs(x).max() <= limit
    elif distribution == "untruncated_normal":
        ref = scipy_stats.norm(scale=std)
    else:  # "normal" is Keras's alias for truncated
        sigma = std / 0.87962566103423978
        ref = scipy_stats.truncnorm(-2, 2, scale=sigma)
        assert np.abs(x).max() <= 2 * sigma
    assert scipy_stats.kstest(x, ref.cdf).pvalue > 1e-4


def test_keras_fan_clamp_and_axes():
    # a 0-D "constant" shape has fans 1; Keras divides by max(1, fan)
    x = values(fk.VarianceScaling(4.0, "fan_in", "untruncated_normal", seed=1), (100000,))
    assert abs(x.std() / (4.0 / 100000) ** 0.5 - 1) < 0.02
    axes = fk.VarianceScaling(1.0, "fan_in", "uniform", seed=1, input_axes=[0, 1], output_axes=[2])
    y = values(axes, (4, 8, 16))
    assert np.abs(y).max() <= (3.0 / 32) ** 0.5


def test_presets_and_simple_initializers():
    assert np.abs(values(fk.GlorotUniform(seed=1), (64, 32))).max() <= (6 / 96) ** 0.5
    assert np.abs(values(fk.HeNormal(seed=1), (64, 32))).max() <= 2 * (2 / 64) ** 0.5 / 0.87962566103423978
    assert np.all(values(fk.Constant(2.5), (3, 3)) == 2.5)
    assert np.all(values(fk.Zeros(), (3,)) == 0) and np.all(values(fk.Ones(), (3,)) == 1)
    x = values(fk.RandomUniform(-0.3, 0.1, seed=2), (1000,))
    assert x.min() >= -0.3 and x.max() < 0.1
    t = values(fk.TruncatedNormal(1.0, 0.5, seed=2), (100000,))
    assert t.min() >= 0.0 and t.max() <= 2.0
    assert np.array_equal(values(fk.Identity(3.0), (2, 3)), 3 * np.eye(2, 3))
    with pytest.raises(ValueError):
        fk.Identity()((2, 2, 2))


def test_orthogonal_flattens_leading_axes():
    q = values(fk.Orthogonal(gain=1.5, seed=3), (2, 3, 4)).reshape(6, 4) / 1.5
    assert np.abs(q.T @ q - np.eye(4)).max() < 1e-5
    with pytest.raises(ValueError):
        fk.Orthogonal()((5,))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_dtypes(dtype):
    t = fk.GlorotNormal(seed=1)((8, 8), dtype=dtype)
    assert keras.backend.standardize_dtype(t.dtype) == dtype


def test_in_a_keras_layer():
    layer = keras.layers.Dense(16, kernel_initializer=fk.HeUniform(seed=0),
                               bias_initializer=fk.Zeros())
    layer.build((None, 8))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert np.abs(kernel).max() <= (6 / 8) ** 0.5
    assert not keras.ops.convert_to_numpy(layer.bias).any()
    config = keras.layers.serialize(layer)
    rebuilt = keras.layers.deserialize(config)
    assert type(rebuilt.kernel_initializer) is fk.HeUniform


def test_every_keras_initializer_name_is_here():
    """keras.initializers' classes and their aliases (lowercase, *Initializer), same mapping."""
    public = [n for n in dir(keras.initializers) if not n.startswith("_")]
    missing = [n for n in public if n not in ("Initializer", "get", "serialize", "deserialize")
               and not hasattr(fk, n)]
    assert not missing
    for name in public:
        theirs = getattr(keras.initializers, name)
        if isinstance(theirs, type) and hasattr(fk, name):
            assert getattr(fk, name).__name__ == theirs.__name__, name   # alias -> same class


def test_constant_zeros_ones_are_keras_own():
    """No stream in a constant: any dtype, tensor or NumPy values, Keras's config handling."""
    import json

    assert json.loads(json.dumps(fk.Constant(np.float32(0.5)).get_config())) == {"value": 0.5}
    saved = keras.saving.serialize_keras_object(fk.Constant(keras.ops.convert_to_tensor(0.25)))
    restored = keras.saving.deserialize_keras_object(saved)
    assert type(restored) is fk.Constant and np.all(values(restored, (3,)) == 0.25)
    assert keras.backend.standardize_dtype(fk.Zeros()((2, 2), dtype="int32").dtype) == "int32"
    assert keras.ops.convert_to_numpy(fk.Ones()((3,), dtype="bool")).all()


def test_import_error_names_the_extra_or_the_backend():
    missing = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['keras'] = None; import fastinit.keras"],
        capture_output=True, text=True, timeout=120)
    assert "pip install fastinit[keras]" in missing.stderr, missing.stderr[-2000:]
    if importlib.util.find_spec("tensorflow") is None:
        no_backend = subprocess.run([sys.executable, "-c", "import fastinit.keras"],
                                    env=dict(os.environ, KERAS_BACKEND="tensorflow"),
                                    capture_output=True, text=True, timeout=120)
        assert "KERAS_BACKEND" in no_backend.stderr, no_backend.stderr[-2000:]


def test_keras_argument_leniency_is_kept():
    assert values(fk.RandomUniform(seed=True), (4,)).shape == (4,)   # Keras: bool is an int
    x = values(fk.RandomUniform(1.0, 0.0, seed=1), (10000,))         # Keras: reversed bounds
    assert x.min() >= 0.0 and x.max() <= 1.0 and abs(x.mean() - 0.5) < 0.02
