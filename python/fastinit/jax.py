"""fastinit.jax: initializer factories with ``jax.nn.initializers`` signatures.

Each factory returns ``init(key, shape, dtype=dtype, out_sharding=None) -> jax.Array``, usable
as a Flax ``kernel_init``. The values come from fastinit's Philox stream (docs/stream.md): the
distributions match JAX's, the bytes do not.

Key mapping (documented, deterministic): the key's raw words ``w = jax.random.key_data(key)``
(flattened uint32) give ``seed = w[0] << 32 | w[1]``, and, for implementations with more
words, ``stream = (w[2] << 32 | w[3]) mod 2**48`` (else stream 0). ``jax.random.split`` gives
new keys, hence new seeds.

Sharding (issue 7): with ``out_sharding=`` a ``jax.sharding.Sharding``, each device's block is
filled independently through ``jax.make_array_from_callback`` with fastinit's
``global_shape``/``offset``, and the result equals the unsharded array bit for bit. Under
``jax.jit`` (a traced key) the fill runs on the host through ``jax.pure_callback``; under
``jax.vmap`` once per key. ``constant``/``zeros``/``ones`` are ``jnp.full``, as in JAX.
docs/frameworks.md lists where this differs from ``jax.nn.initializers``.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised only without jax
    raise ImportError(
        f"fastinit.jax needs JAX, which is not installed ({exc}). Install it with "
        "`pip install fastinit[jax]` (or `pip install jax`)."
    ) from exc

from . import _catalogue, _fills

__all__ = [
    "constant", "zeros", "ones", "uniform", "normal", "truncated_normal", "variance_scaling",
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "lecun_uniform",
    "lecun_normal", "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
    "orthogonal", "delta_orthogonal", "key_to_stream",
]

_STREAM_MASK = (1 << 48) - 1


def key_to_stream(key) -> tuple[int, int]:
    """(seed, stream) for a concrete JAX PRNG key (new-style typed or raw uint32 words)."""
    return _words_to_stream(np.asarray(_key_words(key)))


def _words_to_stream(words) -> tuple[int, int]:
    words = np.asarray(words, dtype=np.uint32).ravel()
    if words.size < 2:
        raise ValueError(f"a PRNG key needs at least 2 uint32 words, got {words.size}")
    seed = (int(words[0]) << 32) | int(words[1])
    stream = ((int(words[2]) << 32) | int(words[3])) & _STREAM_MASK if words.size >= 4 else 0
    return seed, stream


def _key_words(key):
    """The raw uint32 words of one key; a batch of keys is refused as JAX refuses it (each
    initializer draws from one key: jax.vmap maps it over a batch)."""
    if jnp.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"fastinit.jax initializers accept a single key, but were given a key array of "
                f"shape {key.shape} != (). Use jax.vmap for batching."
            )
        return jax.random.key_data(key)
    if not hasattr(key, "dtype"):
        key = np.asarray(key)
    if key.dtype != np.uint32:
        raise TypeError(
            f"invalid PRNG key data: expected a typed key (jax.random.key) or uint32 words "
            f"(jax.random.PRNGKey), got dtype={key.dtype}"
        )
    if key.ndim != 1 or key.shape[0] not in (2, 4):
        raise ValueError(
            f"fastinit.jax initializers accept a single key (2 or 4 uint32 words), but were "
            f"given raw key data of shape {key.shape}. Use jax.vmap for batching."
        )
    return key


def _default_float():
    """JAX's default float dtype: float64 with jax_enable_x64, else float32."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


_FLOATS = (jnp.float32, jnp.float64, jnp.float16, jnp.bfloat16)


def _np_dtype(dtype):
    dtype = jnp.dtype(_default_float() if dtype is None else dtype)
    if dtype not in _FLOATS:
        raise TypeError(
            f"fastinit.jax's random initializers fill float32, float64, float16 or bfloat16 "
            f"arrays, not {dtype} (complex weights: use jax.nn.initializers)"
        )
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        warnings.warn(  # JAX's own warning, for the same truncation
            "Explicitly requested dtype float64 is not available, and will be truncated to "
            "dtype float32. To enable more dtypes, set the jax_enable_x64 configuration option "
            "or the JAX_ENABLE_X64 shell environment variable.", stacklevel=3)
        dtype = jnp.dtype(jnp.float32)
    return dtype  # jnp.bfloat16 is ml_dtypes.bfloat16, which NumPy and fastinit understand


# jax.pure_callback refuses jax.vmap unless told how to batch (vmap_method, JAX >= 0.4.34);
# older releases looped over the batch by default.
_VMAP_SEQUENTIAL = ({"vmap_method": "sequential"}
                    if "vmap_method" in inspect.signature(jax.pure_callback).parameters else {})


def _initializer(fill, *, default_dtype=None):
    """Wraps ``fill(block, seed, stream, global_shape, offset)`` (NumPy, in place) as a JAX init."""

    def init(key, shape, dtype=default_dtype, out_sharding=None):
        shape = tuple(int(s) for s in shape)
        np_dtype = _np_dtype(dtype)

        def host(words, block_shape=shape, offset=None):
            seed, stream = _words_to_stream(words)
            block = np.empty(block_shape, np_dtype)
            fill(block, seed, stream, shape if offset is not None else None, offset)
            return block

        words = _key_words(key)
        if isinstance(words, jax.core.Tracer):
            if out_sharding is not None:
                raise NotImplementedError("out_sharding= under jax.jit: call the initializer outside jit")
            # "sequential": under jax.vmap each key of the batch gets its own host call, so
            # each mapped element is what the same key gives unbatched.
            return jax.pure_callback(host, jax.ShapeDtypeStruct(shape, np_dtype), words,
                                     **_VMAP_SEQUENTIAL)
        words = np.asarray(words)
        if out_sharding is None:
            return jnp.asarray(host(words))

        def block_for(index):
            starts = tuple(0 if s.start is None else s.start for s in index)
            stops = tuple(n if s.stop is None else s.stop for s, n in zip(index, shape))
            return host(words, tuple(b - a for a, b in zip(starts, stops)), starts)

        return jax.make_array_from_callback(shape, out_sharding, block_for)

    return init


def _kw(global_shape, offset):
    return {} if global_shape is None else {"global_shape": global_shape, "offset": offset}


def constant(value, dtype=None):
    """JAX ``constant(value)``: ``jnp.full`` as in JAX (any dtype, array values broadcast; a
    constant has no stream to take from fastinit)."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        dtype = _default_float() if dtype is None else dtype
        return jnp.full(shape, value, dtype=dtype, device=out_sharding)

    return init


def zeros(key, shape, dtype=None, out_sharding=None):
    return constant(0)(key, shape, dtype, out_sharding)


def ones(key, shape, dtype=None, out_sharding=None):
    return constant(1)(key, shape, dtype, out_sharding)


def uniform(scale=1e-2, dtype=None):
    """JAX ``uniform(scale)``: **one-sided** U[0, scale)."""
    scale = float(scale)
    return _initializer(
        lambda a, s, st, g, o: _fills.uniform_(a, 0.0, scale, seed=s, stream=st, **_kw(g, o)),
        default_dtype=dtype)


def normal(stddev=1e-2, dtype=None):
    """JAX ``normal(stddev)``: N(0, stddev**2), untruncated."""
    stddev = float(stddev)
    return _initializer(
        lambda a, s, st, g, o: _fills.normal_(a, 0.0, stddev, seed=s, stream=st, **_kw(g, o)),
        default_dtype=dtype)


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """JAX ``truncated_normal``: stddev times N(0, 1) truncated to [lower, upper] (σ units, no
    variance correction)."""
    stddev, lower, upper = float(stddev), float(lower), float(upper)
    return _initializer(
        lambda a, s, st, g, o: _fills.truncated_normal_(a, stddev, lower, upper, seed=s,
                                                       stream=st, **_kw(g, o)),
        default_dtype=dtype)


_JAX_DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "untruncated_normal",
                      "uniform": "uniform"}


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """JAX ``variance_scaling``: ``"normal"`` is untruncated here, as in JAX (not as in Keras),
    and fans are not clamped to 1."""
    if distribution not in _JAX_DISTRIBUTIONS:
        raise ValueError(
            f"invalid distribution for variance scaling initializer: {distribution!r}; valid "
            f"choices are {', '.join(_JAX_DISTRIBUTIONS)}"
        )
    if mode not in _catalogue.FAN_MODES:
        raise ValueError(
            f"invalid mode for variance scaling initializer: {mode!r}; valid choices are "
            f"{', '.join(_catalogue.FAN_MODES)}"
        )
    ours = _JAX_DISTRIBUTIONS[distribution]
    scale = float(scale)

    def fill(a, s, st, g, o):
        return _catalogue.variance_scaling_(a, scale=scale, mode=mode, distribution=ours,
                                            layout="jax", in_axis=in_axis, out_axis=out_axis,
                                            batch_axis=batch_axis, seed=s, stream=st, **_kw(g, o))

    return _initializer(fill, default_dtype=dtype)


def _preset(scale, mode, distribution, name):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"JAX ``{name}``: variance_scaling({scale}, {mode!r}, {distribution!r})."
    return factory


glorot_uniform = xavier_uniform = _preset(1.0, "fan_avg", "uniform", "glorot_uniform")
glorot_normal = xavier_normal = _preset(1.0, "fan_avg", "truncated_normal", "glorot_normal")
lecun_uniform = _preset(1.0, "fan_in", "uniform", "lecun_uniform")
lecun_normal = _preset(1.0, "fan_in", "truncated_normal", "lecun_normal")
he_uniform = kaiming_uniform = _preset(2.0, "fan_in", "uniform", "he_uniform")
he_normal = kaiming_normal = _preset(2.0, "fan_in", "truncated_normal", "he_normal")


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """JAX ``orthogonal``: Haar-distributed (QR with the sign fix), columns along column_axis.

    Sharded: every block computes the whole Q and keeps its part (docs/distributed.md)."""
    scale, column_axis = float(scale), int(column_axis)

    def fill(a, s, st, g, o):
        if len(g if g is not None else a.shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        return _catalogue.orthogonal_(a, scale, column_axis=column_axis, seed=s, stream=st,
                                      **_kw(g, o))

    return _initializer(fill, default_dtype=dtype)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """JAX ``delta_orthogonal`` (Xiao et al. 2018) for 3/4/5-D conv kernels (*spatial, in, out)."""
    scale, column_axis = float(scale), int(column_axis)

    def fill(a, s, st, g, o):
        if g is None:
            return _catalogue.delta_orthogonal_(a, scale, column_axis=column_axis, seed=s,
                                                stream=st)
        whole = np.empty(g, a.dtype)
        _catalogue.delta_orthogonal_(whole, scale, column_axis=column_axis, seed=s, stream=st)
        a[...] = whole[tuple(slice(b, b + n) for b, n in zip(o, a.shape))]
        return a

    return _initializer(fill, default_dtype=dtype)


