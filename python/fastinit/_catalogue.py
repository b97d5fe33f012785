"""The initializer catalogue: PyTorch's, Keras's and JAX's initializers, each exact, on NumPy
arrays, in place.

The module-level API is a backend API: fan-based functions take ``(arr, fan_in=None,
fan_out=None, *, ...)``. Omitted fans are computed from the (global) shape in the layout named
by ``layout=`` ('torch' by default). See docs/initializers.md for the table of formulas and
the differences between frameworks.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import _core
from ._arrays import check_number, check_shard, check_target
from ._fills import normal_, truncated_normal_, uniform_, constant_
from ._random import resolve_stream

# Standard deviation of a standard normal truncated to (-2, 2): Keras and JAX divide the
# target std by it so that the truncated draw has the requested variance.
TRUNCATED_STD_CORRECTION = 0.87962566103423978

_GAIN_ONE = (
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
)
NONLINEARITIES = _GAIN_ONE + ("tanh", "relu", "leaky_relu", "selu")
LAYOUTS = ("torch", "keras", "jax")
FAN_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def calculate_gain(nonlinearity, param=None) -> float:
    """PyTorch's recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    if nonlinearity in _GAIN_ONE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        try:
            return math.sqrt(2.0 / (1 + slope**2))
        except OverflowError:  # |slope| > ~1e154: a clear error, not OverflowError
            raise ValueError(f"negative_slope {param} is too large") from None
    if nonlinearity == "selu":
        # Not SELU's self-normalizing theory (which wants gain 1 with LeCun normal) but
        # PyTorch's documented empirical value; kept for drop-in parity.
        return 3.0 / 4.0
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity!r}; valid choices are {', '.join(NONLINEARITIES)}"
    )


def _axes(axis, ndim, name):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}={axis} is out of range for a {ndim}-D shape")
        out.append(a % ndim)
    return tuple(out)


def compute_fans(shape, layout="torch", in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a weight of this shape in a framework's layout.

    - ``'torch'``: ``(out, in, *kernel)``; fewer than 2 dims is an error.
    - ``'keras'``: ``(*kernel, in, out)``; 1-D gives fan_in = fan_out = n, 0-D gives 1.
    - ``'jax'``: ``in_axis``/``out_axis``/``batch_axis`` (ints or sequences of ints);
      receptive field = size / in / out / batch, as ``jax.nn.initializers`` computes it:
      axes may repeat (the fans are then fractional), and fewer than 2 dims is an error only
      with the default ``in_axis=-2``.
    """
    shape = tuple(operator.index(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape {shape} has a negative dimension")
    if layout == "torch":
        if len(shape) < 2:
            raise ValueError(
                "Fan in and fan out can not be computed for tensor with fewer than 2 "
                f"dimensions (shape {shape}); pass fan_in= and fan_out= explicitly"
            )
        rf = math.prod(shape[2:])
        return shape[1] * rf, shape[0] * rf
    if layout == "keras":
        if len(shape) == 0:
            return 1, 1
        if len(shape) == 1:
            return shape[0], shape[0]
        rf = math.prod(shape[:-2])
        return shape[-2] * rf, shape[-1] * rf
    if layout == "jax":
        # jax.nn.initializers' definition: only the default in_axis needs 2 dims, and axes may
        # repeat (flax.linen.Embed's default init names axis 0 as in_axis and out_axis), so
        # the receptive field size / in / out / batch can be fractional.
        if isinstance(in_axis, (int, np.integer)) and in_axis == -2 and len(shape) <= 1:
            raise ValueError(
                f"layout='jax' needs at least 2 dimensions with the default in_axis=-2 (shape "
                f"{shape}); pass in_axis/out_axis or the fans explicitly"
            )
        in_size = math.prod(shape[a] for a in _axes(in_axis, len(shape), "in_axis"))
        out_size = math.prod(shape[a] for a in _axes(out_axis, len(shape), "out_axis"))
        batch_size = math.prod(shape[a] for a in _axes(batch_axis, len(shape), "batch_axis"))
        size = math.prod(shape)
        named = in_size * out_size * batch_size
        if named == 0:
            return 0, 0
        if size % named == 0:
            return in_size * (size // named), out_size * (size // named)
        rf = size / in_size / out_size / batch_size  # JAX's order of operations
        return in_size * rf, out_size * rf
    raise ValueError(f"unknown layout {layout!r}; valid choices are {', '.join(LAYOUTS)}")


def _fans(arr, fan_in, fan_out, layout, in_axis, out_axis, batch_axis, global_shape, need,
          min_fan=1, zero_hint=""):
    """The fans a formula needs: given ones are checked, missing ones come from the shape.

    ``min_fan=0`` (variance_scaling_ with clamp_fan=True) lets a zero fan through, to be
    clamped to 1 as Keras does."""
    # Given fans must be ints; computed ones are ints too except layout='jax' with repeated
    # axes, whose fans JAX itself makes fractional.
    for name, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        if fan is not None and (isinstance(fan, bool) or not isinstance(fan, (int, np.integer))):
            raise TypeError(f"{name} must be an int, got {type(fan).__name__}")
    if (fan_in is None and "in" in need) or (fan_out is None and "out" in need):
        shape = arr.shape if global_shape is None else tuple(global_shape)
        fi, fo = compute_fans(shape, layout, in_axis, out_axis, batch_axis)
        fan_in = fi if fan_in is None else fan_in
        fan_out = fo if fan_out is None else fan_out
    for name, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        if fan is None:
            continue
        if fan < 0 or (fan == 0 and min_fan > 0):  # fan < min_fan for int fans; > 0 for JAX's
            if min_fan == 0:
                raise ValueError(f"{name} must be >= 0, got {fan}")
            raise ValueError(
                f"{name} must be >= 1, got {fan} (a zero fan gives an infinite std{zero_hint})"
            )
    return fan_in, fan_out


def _fan_for_mode(mode, fan_in, fan_out):
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_geo_avg":  # JAX only
        return math.sqrt(fan_in * fan_out)
    return (fan_in + fan_out) / 2.0


def _need(mode):
    if mode not in FAN_MODES:
        raise ValueError(f"unknown mode {mode!r}; valid choices are {', '.join(FAN_MODES)}")
    return {"fan_in": "in", "fan_out": "out", "fan_avg": "inout", "fan_geo_avg": "inout"}[mode]


# ---- the PyTorch family ---------------------------------------------------------------------
def xavier_uniform_(arr, fan_in=None, fan_out=None, *, gain=1.0, layout="torch", in_axis=-2,
                    out_axis=-1, batch_axis=(), seed=None, stream=None, generator=None,
                    global_shape=None, offset=None):
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    check_target(arr)
    gain = check_number(gain, "gain")
    if arr.size == 0:
        return arr
    fi, fo = _fans(arr, fan_in, fan_out, layout, in_axis, out_axis, batch_axis, global_shape, "inout")
    std = gain * math.sqrt(2.0 / float(fi + fo))
    bound = math.sqrt(3.0) * std  # torch's order of operations, so the bound is bit-identical
    return uniform_(arr, -bound, bound, seed=seed, stream=stream, generator=generator,
                    global_shape=global_shape, offset=offset)


def xavier_normal_(arr, fan_in=None, fan_out=None, *, gain=1.0, layout="torch", in_axis=-2,
                   out_axis=-1, batch_axis=(), seed=None, stream=None, generator=None,
                   global_shape=None, offset=None):
    """Glorot & Bengio (2010), PyTorch form: untruncated N(0, gain^2 * 2 / (fan_in + fan_out))."""
    check_target(arr)
    gain = check_number(gain, "gain")
    if arr.size == 0:
        return arr
    fi, fo = _fans(arr, fan_in, fan_out, layout, in_axis, out_axis, batch_axis, global_shape, "inout")
    std = gain * math.sqrt(2.0 / (fi + fo))
    return normal_(arr, 0.0, std, seed=seed, stream=stream, generator=generator,
                   global_shape=global_shape, offset=offset)


def _kaiming_mode_gain(mode, nonlinearity, a):
    """Checks mode (case-insensitive, as torch's _calculate_correct_fan) and returns (mode, gain)."""
    if isinstance(mode, str):
        mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    return mode, calculate_gain(nonlinearity, a)


def _kaiming_std(arr, fan_in, fan_out, mode, gain, layout, in_axis, out_axis, batch_axis,
                 global_shape):
    fi, fo = _fans(arr, fan_in, fan_out, layout, in_axis, out_axis, batch_axis, global_shape,
                   _need(mode))
    return gain / math.sqrt(fi if mode == "fan_in" else fo)


def kaiming_uniform_(arr, fan_in=None, fan_out=None, *, a=0.0, mode="fan_in",
                     nonlinearity="leaky_relu", layout="torch", in_axis=-2, out_axis=-1,
                     batch_axis=(), seed=None, stream=None, generator=None, global_shape=None,
                     offset=None):
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    check_target(arr)
    mode, gain = _kaiming_mode_gain(mode, nonlinearity, a)
    if arr.size == 0:
        return arr
    std = _kaiming_std(arr, fan_in, fan_out, mode, gain, layout, in_axis, out_axis, batch_axis,
                       global_shape)
    bound = math.sqrt(3.0) * std
    return uniform_(arr, -bound, bound, seed=seed, stream=stream, generator=generator,
                    global_shape=global_shape, offset=offset)


def kaiming_normal_(arr, fan_in=None, fan_out=None, *, a=0.0, mode="fan_in",
                    nonlinearity="leaky_relu", layout="torch", in_axis=-2, out_axis=-1,
                    batch_axis=(), seed=None, stream=None, generator=None, global_shape=None,
                    offset=None):
    """He et al. (2015), PyTorch form: untruncated N(0, gain^2 / fan)."""
    check_target(arr)
    mode, gain = _kaiming_mode_gain(mode, nonlinearity, a)
    if arr.size == 0:
        return arr
    std = _kaiming_std(arr, fan_in, fan_out, mode, gain, layout, in_axis, out_axis, batch_axis,
                       global_shape)
    return normal_(arr, 0.0, std, seed=seed, stream=stream, generator=generator,
                   global_shape=global_shape, offset=offset)


def _shard(arr, global_shape, offset):
    """(global_shape, offset) of the block arr fills; the whole tensor when not sharded."""
    gshape, goff = check_shard(arr, global_shape, offset)
    if gshape is None:
        return tuple(arr.shape), (0,) * arr.ndim
    return gshape, goff


def _set_diagonal(arr, value, global_shape, offset):
    """arr is block `offset` of a 2-D global matrix: set the global main diagonal to value."""
    (rows, cols), (r0, c0) = _shard(arr, global_shape, offset)
    h, w = arr.shape
    d = np.arange(max(r0, c0), min(r0 + h, c0 + w, rows, cols))
    arr[d - r0, d - c0] = value


def eye_(arr, *, global_shape=None, offset=None):
    """Identity (PyTorch eye_): ones on the main diagonal of a 2-D array, zeros elsewhere."""
    check_target(arr)
    if arr.ndim != 2:
        raise ValueError(f"eye_ needs a 2-D array, got shape {arr.shape}")
    _shard(arr, global_shape, offset)
    constant_(arr, 0.0)
    _set_diagonal(arr, 1, global_shape, offset)
    return arr


def dirac_(arr, groups=1, *, global_shape=None, offset=None):
    """Dirac delta (PyTorch dirac_) for 3/4/5-D conv weights ``(out, in, *kernel)``: each of
    the first min(out/groups, in) channels of every group passes its input through."""
    check_target(arr)
    if arr.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_ needs a 3, 4 or 5-D array (out, in, *kernel), got shape {arr.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"groups must be a positive int, got {type(groups).__name__} {groups!r}")
    if groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    gshape, goff = _shard(arr, global_shape, offset)
    if gshape[0] % groups != 0:
        raise ValueError(f"dim 0 ({gshape[0]}) must be divisible by groups ({groups})")
    out_per_group = gshape[0] // groups
    min_dim = min(out_per_group, gshape[1])
    constant_(arr, 0.0)
    g, d = np.meshgrid(np.arange(groups), np.arange(min_dim), indexing="ij")
    points = [(g * out_per_group + d).ravel(), d.ravel()]
    points += [np.full(g.size, k // 2) for k in gshape[2:]]
    inside = np.ones(g.size, bool)
    for p, o, n in zip(points, goff, arr.shape):
        inside &= (p >= o) & (p < o + n)
    arr[tuple(p[inside] - o for p, o in zip(points, goff))] = 1
    return arr


_SPARSE_SUB_STREAM = 0x8000


def sparse_(arr, sparsity, std=0.01, *, seed=None, stream=None, generator=None,
            global_shape=None, offset=None):
    """Martens (2010) sparse init, PyTorch layout (rows, cols): N(0, std^2) with exactly
    ceil(sparsity * rows) zeros per column.

    Unlike PyTorch, the choice of zeros comes from the seed/generator too: the zeros of column
    c are the rows with the smallest keys, key (r, c) being word ``r * cols + c`` of sub-stream
    0x8000 of the fill's stream (docs/stream.md), so shards agree. A shard reads the keys of
    its columns' every row: O(rows x local cols) words.
    """
    check_target(arr)
    if arr.ndim != 2:
        raise ValueError(f"sparse_ needs a 2-D array (rows, cols), got shape {arr.shape}")
    sparsity = check_number(sparsity, "sparsity")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    std = check_number(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    (rows, cols), (r0, c0) = _shard(arr, global_shape, offset)
    s, st = resolve_stream(seed, stream, generator)
    normal_(arr, 0.0, std, seed=s, stream=st, global_shape=global_shape, offset=offset)
    num_zeros = int(math.ceil(sparsity * rows))
    if num_zeros == 0 or arr.size == 0:
        return arr
    h, w = arr.shape
    keys = np.empty((rows, w), np.uint32)
    if w == cols:
        _core.random_raw(keys, s, st, 0, 0, _SPARSE_SUB_STREAM)
    else:
        for r in range(rows):
            first = r * cols + c0
            _core.random_raw(keys[r], s, st, first >> 2, first & 3, _SPARSE_SUB_STREAM)
    # Unique 64-bit keys (key, row) make the chosen set independent of the sort's tie-breaking.
    order = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(rows, dtype=np.uint64)[:, None]
    if num_zeros < rows:
        zero_rows = np.argpartition(order, num_zeros - 1, axis=0)[:num_zeros]
    else:
        zero_rows = np.broadcast_to(np.arange(rows)[:, None], (rows, w))
    local_cols = np.broadcast_to(np.arange(w)[None, :], zero_rows.shape)
    mine = (zero_rows >= r0) & (zero_rows < r0 + h)
    arr[zero_rows[mine] - r0, local_cols[mine]] = 0
    return arr


def _orthogonal_matrix(rows, cols, compute_dtype, seed, stream):
    """Q (rows x cols) with orthonormal rows or columns, Haar-distributed, as a NumPy array."""
    # G[r, c] is stream element r * cols + c: a C-ordered fill. The core factors G (tall) or G^T
    # (wide; the memory of G is G^T column-major) in place and leaves Q, or Q(G^T)^T, C-ordered:
    # no transposing copies (docs/orthogonal.md).
    buf = np.empty((rows, cols), compute_dtype)
    normal_(buf, seed=seed, stream=stream)
    _core.orthogonal_from_gaussian(buf)
    return buf


def orthogonal_(arr, gain=1.0, *, column_axis=None, seed=None, stream=None, generator=None,
                global_shape=None, offset=None):
    """Saxe et al. (2014) orthogonal init with Mezzadri's (2007) sign fix: Haar-distributed.

    ``column_axis=None`` (PyTorch): rows = shape[0], cols = size / rows. An int (JAX/Keras):
    the matrix is (size / shape[column_axis], shape[column_axis]). Wide matrices get
    orthonormal rows, tall ones orthonormal columns; the result is multiplied by ``gain``.

    Sharded (``global_shape``/``offset``): every shard computes the whole global Q and keeps
    its block, so the result equals the unsharded one bit for bit; the cost is the unsharded
    cost on every rank plus a temporary of the global size (docs/distributed.md).
    """
    check_target(arr)
    gain = check_number(gain, "gain")
    if arr.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported (shape {arr.shape})")
    if global_shape is not None or offset is not None:
        gshape, goff = _shard(arr, global_shape, offset)
        s, st = resolve_stream(seed, stream, generator)
        whole = np.empty(gshape, arr.dtype)
        orthogonal_(whole, gain, column_axis=column_axis, seed=s, stream=st)
        arr[...] = whole[tuple(slice(o, o + n) for o, n in zip(goff, arr.shape))]
        return arr
    if arr.size == 0:
        return arr
    s, st = resolve_stream(seed, stream, generator)
    compute = np.float64 if arr.dtype == np.float64 else np.float32
    if column_axis is None:
        view = arr.reshape(arr.shape[0], -1) if arr.flags.c_contiguous else None
        rows = arr.shape[0]
        cols = arr.size // rows
        q = _orthogonal_matrix(rows, cols, compute, s, st)
        q *= compute(gain)
        if view is not None:
            view[...] = q
        else:
            arr[...] = q.reshape(arr.shape)
        return arr
    if isinstance(column_axis, bool) or not isinstance(column_axis, (int, np.integer)):
        raise TypeError(f"column_axis must be an int (or None), got {type(column_axis).__name__}")
    axis = _axes(column_axis, arr.ndim, "column_axis")[0]
    moved = np.moveaxis(arr, axis, -1)
    cols = moved.shape[-1]
    rows = arr.size // cols
    q = _orthogonal_matrix(rows, cols, compute, s, st)
    q *= compute(gain)
    moved[...] = q.reshape(moved.shape)
    return arr


# ---- the Keras / JAX family -------------------------------------------------------------------
def variance_scaling_(arr, fan_in=None, fan_out=None, *, scale=1.0, mode="fan_in",
                      distribution="truncated_normal", clamp_fan=False, layout="torch",
                      in_axis=-2, out_axis=-1, batch_axis=(), seed=None, stream=None,
                      generator=None, global_shape=None, offset=None):
    """Variance scaling (Keras/JAX): std = sqrt(scale / fan).

    ``distribution``: 'truncated_normal' (N(0, std / 0.8796...) truncated at +-2 of its own
    std, so the result has variance scale/fan), 'untruncated_normal' or 'uniform'
    (U(-sqrt(3) std, sqrt(3) std)). 'normal' is refused: it means truncated in Keras and
    untruncated in JAX. ``clamp_fan=True`` reproduces Keras's ``scale /= max(1, fan)``.
    """
    check_target(arr)
    scale = check_number(scale, "scale")
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    need = _need(mode)
    if distribution == "normal":
        raise ValueError(
            "distribution='normal' is ambiguous: Keras means 'truncated_normal', JAX means "
            "'untruncated_normal'; pass one of those"
        )
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {distribution!r}; valid choices are {', '.join(DISTRIBUTIONS)}"
        )
    if arr.size == 0:
        return arr
    fi, fo = _fans(arr, fan_in, fan_out, layout, in_axis, out_axis, batch_axis, global_shape, need,
                   min_fan=0 if clamp_fan else 1,
                   zero_hint="; clamp_fan=True maps a zero fan to 1, as Keras does")
    fan = _fan_for_mode(mode, fi, fo)
    if clamp_fan:
        fan = max(1.0, fan)
    variance = scale / fan
    kw = dict(seed=seed, stream=stream, generator=generator, global_shape=global_shape,
              offset=offset)
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / TRUNCATED_STD_CORRECTION
        return truncated_normal_(arr, std, -2.0, 2.0, **kw)
    if distribution == "untruncated_normal":
        return normal_(arr, 0.0, math.sqrt(variance), **kw)
    limit = math.sqrt(3.0 * variance)
    return uniform_(arr, -limit, limit, **kw)


def _preset(name, scale, mode, distribution, paper):
    def init(arr, fan_in=None, fan_out=None, *, layout="torch", in_axis=-2, out_axis=-1,
             batch_axis=(), clamp_fan=False, seed=None, stream=None, generator=None,
             global_shape=None, offset=None):
        return variance_scaling_(arr, fan_in, fan_out, scale=scale, mode=mode,
                                 distribution=distribution, clamp_fan=clamp_fan, layout=layout,
                                 in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis,
                                 seed=seed, stream=stream, generator=generator,
                                 global_shape=global_shape, offset=offset)

    init.__name__ = init.__qualname__ = name
    init.__doc__ = (
        f"{paper}: variance_scaling_(scale={scale}, mode={mode!r}, "
        f"distribution={distribution!r}), as Keras's and JAX's ``{name.rstrip('_')}``."
    )
    return init


glorot_uniform_ = _preset("glorot_uniform_", 1.0, "fan_avg", "uniform", "Glorot & Bengio (2010)")
glorot_normal_ = _preset("glorot_normal_", 1.0, "fan_avg", "truncated_normal", "Glorot & Bengio (2010)")
he_uniform_ = _preset("he_uniform_", 2.0, "fan_in", "uniform", "He et al. (2015)")
he_normal_ = _preset("he_normal_", 2.0, "fan_in", "truncated_normal", "He et al. (2015)")
lecun_uniform_ = _preset("lecun_uniform_", 1.0, "fan_in", "uniform", "LeCun et al. (1998)")
lecun_normal_ = _preset("lecun_normal_", 1.0, "fan_in", "truncated_normal",
                        "LeCun et al. (1998); with SELU, Klambauer et al. (2017)")


def identity_(arr, gain=1.0, *, global_shape=None, offset=None):
    """Keras ``Identity(gain)``: gain times the identity, for 2-D arrays only."""
    check_target(arr)
    gain = check_number(gain, "gain")
    if arr.ndim != 2:
        raise ValueError(f"identity_ needs a 2-D array, got shape {arr.shape}")
    _shard(arr, global_shape, offset)
    constant_(arr, 0.0)
    _set_diagonal(arr, gain, global_shape, offset)
    return arr


def delta_orthogonal_(arr, scale=1.0, *, column_axis=-1, seed=None, stream=None, generator=None):
    """Xiao et al. (2018) delta-orthogonal for conv kernels ``(*spatial, in, out)`` (JAX):
    zeros except the spatial centre, which holds an orthogonal (in, out) matrix times scale."""
    check_target(arr)
    scale = check_number(scale, "scale")
    if arr.ndim not in (3, 4, 5):
        raise ValueError(
            f"delta_orthogonal_ needs a 3, 4 or 5-D kernel (*spatial, in, out), got shape {arr.shape}"
        )
    if arr.shape[-2] > arr.shape[-1]:
        raise ValueError(
            f"delta_orthogonal_ needs in <= out channels (shape[-2] <= shape[-1]), got shape {arr.shape}"
        )
    centre = tuple((k - 1) // 2 for k in arr.shape[:-2])  # JAX's centre tap
    s, st = resolve_stream(seed, stream, generator)
    constant_(arr, 0.0)
    if arr.size == 0:
        return arr
    block = np.empty(arr.shape[-2:], arr.dtype)
    orthogonal_(block, scale, column_axis=column_axis, seed=s, stream=st)
    arr[centre] = block
    return arr

