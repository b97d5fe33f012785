"""fastinit.keras: Keras 3 initializers backed by fastinit's Philox stream.

Classes with the names, arguments, ``get_config``/``from_config`` and semantics of
``keras.initializers`` (Keras's ``scale /= max(1, fan)`` clamp, ``"normal"`` meaning truncated,
fans from ``(*kernel, in, out)`` or from ``input_axes``/``output_axes``), registered as
serializable under the package name ``fastinit``. Works with every Keras backend.

Seeds, as in Keras: an integer seed gives the same values on every call; ``seed=None`` draws a
seed once, when the initializer is created, from Python's ``random`` (which
``keras.utils.set_random_seed`` seeds), so an unseeded initializer also repeats itself; a
``keras.random.SeedGenerator`` gives new values on every call (the two words its
``next()`` returns become fastinit's seed, as in fastinit.jax). The values are fastinit's
stream, not Keras's: the distributions match, the bytes do not.
"""

from __future__ import annotations

import math
import random as _pyrandom

import numpy as np

try:
    import keras
except ImportError as exc:  # pragma: no cover - exercised only without keras
    if exc.name == "keras":
        raise ImportError(
            f"fastinit.keras needs Keras 3, which is not installed ({exc}). Install it with "
            "`pip install fastinit[keras]` (or `pip install keras`), plus a backend: torch, "
            "jax or tensorflow."
        ) from exc
    raise ImportError(
        f"fastinit.keras: Keras is installed but failed to import ({exc}); usually its "
        "backend is missing: install it, or pick an installed one with KERAS_BACKEND=torch "
        "or KERAS_BACKEND=jax."
    ) from exc

from . import _catalogue, _fills

__all__ = [
    "Constant", "Zeros", "Ones", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "LecunUniform", "LecunNormal",
    "HeUniform", "HeNormal", "Orthogonal", "Identity",
]

_register = keras.saving.register_keras_serializable(package="fastinit")
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _dtype(dtype):
    name = keras.backend.standardize_dtype(dtype or keras.config.floatx())
    if name not in _FLOATS:
        raise ValueError(f"fastinit.keras initializers produce floats ({', '.join(_FLOATS)}), not {name}")
    return name


def _to_tensor(arr, dtype_name):
    if dtype_name == "bfloat16" and keras.backend.backend() == "torch":
        import torch  # torch cannot wrap ml_dtypes' bfloat16: pass the bits as int16

        bits = keras.ops.convert_to_tensor(arr.view(np.int16), dtype="int16")  # Keras's device
        return bits.view(torch.bfloat16)
    return keras.ops.convert_to_tensor(arr, dtype=dtype_name)


def _empty(shape, dtype_name):
    if dtype_name == "bfloat16":
        import ml_dtypes  # a dependency of Keras 3

        return np.empty(shape, ml_dtypes.bfloat16)
    return np.empty(shape, dtype_name)


class _Fastinit(keras.initializers.Initializer):
    """Shared machinery: ``_fill(arr, seed, stream)`` fills a NumPy array in place."""

    def __call__(self, shape, dtype=None):
        name = _dtype(dtype)
        shape = tuple(int(s) for s in shape)
        arr = _empty(shape, name)
        self._fill(arr, *self._stream())
        return _to_tensor(arr, name)

    def _stream(self):
        return 0, 0


class _Random(_Fastinit):
    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = _pyrandom.randint(1, int(1e9))  # once per instance, as Keras's default seed
        elif isinstance(seed, dict):
            seed = keras.saving.deserialize_keras_object(seed)
        elif not isinstance(seed, (int, keras.random.SeedGenerator)):  # bool is an int, as in Keras
            raise ValueError(
                "`seed` argument should be an instance of `keras.random.SeedGenerator()` or an "
                f"integer. Received: seed={seed}"
            )
        self.seed = seed

    def _stream(self):
        if isinstance(self.seed, keras.random.SeedGenerator):
            words = np.asarray(keras.ops.convert_to_numpy(self.seed.next()), np.uint64).ravel()
            return (int(words[0]) << 32 | int(words[1])) & ((1 << 64) - 1), 0
        return int(self.seed) % (1 << 64), 0

    def get_config(self):
        return {"seed": keras.saving.serialize_keras_object(self._init_seed)}


# A constant has no stream: Keras's own classes (any dtype, tensor and array values, their
# config serialisation), registered under fastinit's name so saved configs keep working.
@_register
class Constant(keras.initializers.Constant):
    pass


@_register
class Zeros(keras.initializers.Zeros):
    pass


@_register
class Ones(keras.initializers.Ones):
    pass


@_register
class RandomUniform(_Random):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed=seed)

    def _fill(self, arr, seed, stream):
        # Keras computes minval + (maxval - minval) * U[0, 1), so minval > maxval is allowed
        lo, hi = sorted((self.minval, self.maxval))
        _fills.uniform_(arr, lo, hi, seed=seed, stream=stream)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


@_register
class RandomNormal(_Random):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed=seed)

    def _fill(self, arr, seed, stream):
        _fills.normal_(arr, self.mean, self.stddev, seed=seed, stream=stream)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@_register
class TruncatedNormal(_Random):
    """Keras ``TruncatedNormal``: values beyond two stddevs from the mean are redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed=seed)

    def _fill(self, arr, seed, stream):
        _fills.truncated_normal_(arr, self.stddev, -2.0, 2.0, mean=self.mean, seed=seed,
                                 stream=stream)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def keras_fans(shape, input_axes=None, output_axes=None):
    """Keras 3's fans: products over the given axes, else ``(*kernel, in, out)``."""
    if input_axes is not None and output_axes is not None:
        return (math.prod(shape[a] for a in input_axes),
                math.prod(shape[a] for a in output_axes))
    return _catalogue.compute_fans(shape, "keras")


@_register
class VarianceScaling(_Random):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {modes}")
        distribution = distribution.lower()
        if distribution == "normal":  # Keras's alias: truncated (JAX's "normal" is not)
            distribution = "truncated_normal"
        distributions = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in distributions:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. Please use one of {distributions}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed=seed)

    def _fill(self, arr, seed, stream):
        fan_in, fan_out = keras_fans(arr.shape, self.input_axes, self.output_axes)
        _catalogue.variance_scaling_(
            arr, fan_in, fan_out, scale=self.scale, mode=self.mode,
            distribution=self.distribution, clamp_fan=True, seed=seed, stream=stream)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes,
                **super().get_config()}


def _preset(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution,
                                 seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": keras.saving.serialize_keras_object(self._init_seed),
                "input_axes": self.input_axes, "output_axes": self.output_axes}

    cls = type(name, (VarianceScaling,), {
        "__init__": __init__, "get_config": get_config, "__module__": __name__,
        "__doc__": f"Keras ``{name}``: VarianceScaling({scale}, {mode!r}, {distribution!r}).",
    })
    return _register(cls)


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")


@_register
class Orthogonal(_Random):
    """Keras ``Orthogonal``: the (prod(shape[:-1]), shape[-1]) matrix is Haar-orthogonal."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return super().__call__(shape, dtype)

    def _fill(self, arr, seed, stream):
        _catalogue.orthogonal_(arr, self.gain, column_axis=-1, seed=seed, stream=stream)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


@_register
class Identity(_Fastinit):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return super().__call__(shape, dtype)

    def _fill(self, arr, seed, stream):
        _catalogue.identity_(arr, float(self.gain))

    def get_config(self):
        return {"gain": self.gain}


# keras.initializers' other names for the same classes.
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
constant, zeros, ones = Constant, Zeros, Ones
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
he_uniform, he_normal = HeUniform, HeNormal
orthogonal, identity = Orthogonal, Identity
__all__ += ["IdentityInitializer", "OrthogonalInitializer", "constant", "zeros", "ones",
            "random_uniform", "random_normal", "truncated_normal", "variance_scaling",
            "glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal", "he_uniform",
            "he_normal", "orthogonal", "identity"]
# Deterministic (a Fourier basis, no random stream): Keras's own, where this Keras has it.
if hasattr(keras.initializers, "STFT"):
    STFT = STFTInitializer = stft = keras.initializers.STFT
    __all__ += ["STFT", "STFTInitializer", "stft"]
