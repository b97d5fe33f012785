"""fastinit.torch: a drop-in for ``torch.nn.init`` backed by fastinit's Philox stream.

Every public function of ``torch.nn.init`` is here with the identical signature, defaults and
return value (the tensor itself). The random ones (``uniform_``, ``normal_``,
``trunc_normal_``, ``xavier_*``, ``kaiming_*``, ``orthogonal_``, ``sparse_``) fill CPU tensors
of dtype float32, float64, float16 and bfloat16 in place through a NumPy view of their memory,
with fastinit's multithreaded SIMD kernels; the deterministic ones (``calculate_gain``,
``constant_``, ``ones_``, ``zeros_``, ``eye_``, ``dirac_``) are PyTorch's own, so their bytes
are PyTorch's.

``patch()`` / ``unpatch()`` / ``with patched():`` swap these functions into ``torch.nn.init``
(and into the torch modules that imported them by name), so ``nn.Linear``, ``nn.Conv2d``,
``nn.Embedding``, ``reset_parameters()`` and user code calling ``nn.init.*`` use fastinit.

Seeding: without ``generator=``, each fill draws one full-range int64 from torch's default CPU
generator and uses it as the fastinit seed (stream 0), so ``torch.manual_seed(s)`` makes a
whole model build reproducible. A ``torch.Generator`` passed as ``generator=`` is used the same
way; a ``fastinit.Generator`` hands over its next stream. Meta tensors are a no-op; tensors on
other devices, tensor subclasses and other dtypes go to PyTorch's own function. The values are
fastinit's stream, not torch's mt19937: the distributions match, the bytes do not. See
docs/frameworks.md.
"""

import contextlib
import functools
import importlib.util
import math
import sys
import threading
import warnings
from typing import Literal, Optional, Union

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "fastinit.torch needs PyTorch, which is not installed "
        f"({exc}). Install it with `pip install fastinit[torch]` (or `pip install torch`)."
    ) from exc

from torch import Tensor

import numpy as np

from . import _core
from ._arrays import BFLOAT16, FLOAT16, FLOAT32, FLOAT64, _may_self_overlap, dtype_ceil, dtype_floor
from ._catalogue import orthogonal_ as _np_orthogonal_
from ._catalogue import sparse_ as _np_sparse_
from ._dtensor import dtensor_block
from ._fills import CONSTANT, NORMAL, TRUNCATED, UNIFORM, truncation_plan

# Diagnostics (issue 8) live in their own module; re-exported here, where users look for them.
_DIAGNOSTICS = ("lsuv_", "report", "LSUVReport", "LSUVLayer", "InitReport", "ParamReport")
__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
    "uniform",
    "normal",
    "constant",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "sparse",
    "patch",
    "unpatch",
    "patched",
    "is_patched",
    *_DIAGNOSTICS,
]
_OWN = ("patch", "unpatch", "patched", "is_patched")

# Annotation objects equal to torch.nn.init's, so that inspect.signature(ours) == theirs.
_NonlinearityType = Literal[
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
# Unions written X | None only exist at run time from Python 3.10 (torch's own signatures
# use them there); on 3.9 the same annotations are typing.Optional/Union, as in the torch
# releases that run on 3.9. This module has no `from __future__ import annotations`:
# the annotations must be objects for the signatures to compare equal.
if sys.version_info >= (3, 10):
    from typing import TypeAlias

    _OptionalGenerator: TypeAlias = torch.Generator | None
    _OptionalNumber: TypeAlias = int | float | None
else:  # pragma: no cover - Python 3.9
    _OptionalGenerator = Optional[torch.Generator]
    _OptionalNumber = Optional[Union[int, float]]
_FanMode = Literal["fan_in", "fan_out"]

_init = torch.nn.init


def _pristine_torch_init(names):
    """PyTorch's own functions: the fallback for tensors and arguments fastinit does not handle
    itself. Normally torch.nn.init's attributes; if something had already replaced one when
    this module was imported (a "skip init" context, say), a fresh copy of torch/nn/init.py
    supplies the original, so the fallbacks never inherit someone else's patch."""
    found = {name: getattr(_init, name) for name in names}
    if all(getattr(f, "__module__", None) == _init.__name__ and f.__name__ == name
           for name, f in found.items()):
        return found
    spec = importlib.util.spec_from_file_location("fastinit._pristine_torch_nn_init",
                                                  _init.__file__)
    if spec is None or spec.loader is None:  # pragma: no cover - torch without source files
        return found
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return {name: getattr(copy, name) for name in names}


_TORCH = _pristine_torch_init((
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
))

_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_TorchGenerator = torch.Generator
_CODES = {
    torch.float32: FLOAT32,
    torch.float64: FLOAT64,
    torch.float16: FLOAT16,
    torch.bfloat16: BFLOAT16,
}
# The largest finite value of each dtype: torch refuses uniform_ bounds beyond it.
_FMAX = {code: float(torch.finfo(dt).max) for dt, code in _CODES.items()}
_INT64_MIN = -(1 << 63)
_MASK64 = (1 << 64) - 1
_INF = math.inf
_increment_version = torch.autograd.graph.increment_version


class _Unsupported(ValueError):
    """Arguments outside what fastinit samples: PyTorch's own function decides."""


# ---- tensors, streams ---------------------------------------------------------------------------
def _target(tensor):
    """(numpy view, dtype code, shard) of a CPU float tensor fastinit fills itself, else None.

    Plain means exactly ``torch.Tensor`` or ``nn.Parameter``, or a DTensor placed with
    Shard/Replicate (issue 7), whose local shard is filled with the values the unsharded
    tensor has there: ``shard`` is (global_shape, offset), or (None, None) for plain tensors.
    Other subclasses (with their own ``__torch_function__``/``__torch_dispatch__``), meta and
    non-CPU tensors, sparse or quantized layouts and other dtypes are left to PyTorch.
    bfloat16 tensors are viewed as int16 (NumPy has no bfloat16) and filled with fastinit's
    bfloat16 kernel.
    """
    tp = type(tensor)
    shard = _NO_SHARD
    if tp is not _Tensor and tp is not _Parameter:
        if not _is_dtensor(tensor):
            return None
        local, global_shape, offset = dtensor_block(tensor)
        tensor, shard = local, (global_shape, offset)
        if type(tensor) is not _Tensor:
            return None
    code = _CODES.get(tensor.dtype)
    if code is None or not tensor.is_cpu:
        return None
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        return None  # PyTorch refuses to write it: its own function raises the error
    if _is_functional(tensor):
        return None  # torch.func.functionalize: .numpy() would not be the tensor's data
    try:
        t = tensor.detach() if tensor.requires_grad else tensor
        arr = (t.view(torch.int16) if code == BFLOAT16 else t).numpy()
    except (RuntimeError, TypeError, ValueError):  # sparse, quantized, conj/neg bits, ...
        return None
    if not arr.flags.c_contiguous and arr.size > 1 and _may_self_overlap(arr):
        return None  # expanded views: PyTorch raises its own error
    return arr, code, shard


_NO_SHARD = (None, None)
_is_functional = getattr(torch, "_is_functional_tensor", lambda tensor: False)


def _is_dtensor(tensor):
    tp = type(tensor)
    return tp.__name__ == "DTensor" and tp.__module__.startswith("torch.distributed")


_tls = threading.local()


def _scratch():
    s = getattr(_tls, "scratch", None)
    if s is None:
        with torch.inference_mode(False):
            s = torch.empty((), dtype=torch.int64, device="cpu")
        _tls.scratch = s
    return s


def _draw(generator):
    """(seed, stream) for one fill, or None when ``generator`` is not a generator at all.

    None or a ``torch.Generator``: one full-range int64 drawn from it (torch's default CPU
    generator for None), as an unsigned 64-bit seed, stream 0. A ``fastinit.Generator``:
    its next stream.
    """
    if generator is None:
        return _scratch().random_(_INT64_MIN, None).item() & _MASK64, 0
    if isinstance(generator, _TorchGenerator):
        return _scratch().random_(_INT64_MIN, None, generator=generator).item() & _MASK64, 0
    take = getattr(generator, "take_stream", None)
    if take is None:
        return None
    return take()


def _is_cpu(tensor):
    return tensor.is_cpu


def _valid_generator(generator):
    return (generator is None or isinstance(generator, _TorchGenerator)
            or _is_fastinit_generator(generator))


def _is_fastinit_generator(generator):
    return (generator is not None and not isinstance(generator, _TorchGenerator)
            and getattr(generator, "take_stream", None) is not None)


def _delegate(name, ours, tensor, args, generator, why=None):
    """Hands a call fastinit does not fill itself to PyTorch's own function.

    A ``fastinit.Generator`` cannot drive PyTorch's sampler: meta tensors stay a no-op,
    arguments fastinit refuses and dtypes/layouts it does not fill are errors, and every other
    tensor (other devices, subclasses, functionalized or inference tensors, views fastinit
    does not write in place) is filled on the host and copied over, so ``copy_`` raises
    PyTorch's own error where the tensor cannot be written (an expanded view, an inference
    tensor outside inference mode).
    """
    torch_fn = _TORCH[name]
    if not _is_fastinit_generator(generator):
        return torch_fn(tensor, *args, generator=generator)
    if tensor.is_meta:
        return torch_fn(tensor, *args)
    if why is not None:
        raise ValueError(f"{name}: {why}") from None
    if _plain(tensor) and _is_cpu(tensor) and not (
            tensor.dtype in _CODES and tensor.layout == torch.strided):
        raise TypeError(
            f"{name}: fastinit fills float32, float64, float16 and bfloat16 strided tensors, "
            f"got {tensor.dtype} (layout {tensor.layout}); pass a torch.Generator or no "
            "generator to use PyTorch's own sampler"
        )
    host = torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device="cpu")
    if _target(host) is None:  # e.g. under torch.func.functionalize, which wraps host too
        raise TypeError(
            f"{name}: a fastinit.Generator cannot fill this tensor ({type(tensor).__name__}, "
            f"{tensor.dtype}, under a transform that wraps new tensors); pass a "
            "torch.Generator or no generator to use PyTorch's own sampler"
        )
    ours(host, *args, generator=generator)
    with torch.no_grad():
        tensor.copy_(host)
    return tensor


def _real(x):
    """A bound or parameter as a Python float, as torch accepts them."""
    tp = type(x)
    if tp is float:
        return x
    if tp is int or tp is bool:  # torch reads True as 1.0
        return float(x)
    if isinstance(x, _Tensor):
        if x.numel() != 1:
            raise _Unsupported("a tensor argument must have one element")
        return float(x)
    try:
        return float(x.__float__())  # numpy scalars, Fractions, ...
    except (AttributeError, TypeError, ValueError):
        raise _Unsupported(f"{type(x).__name__} is not a real number") from None


# ---- plans: (kind, loc, scale, lo, hi, trunc) for _core.fill -----------------------------------
def _uniform_plan(a, b, code):
    """fastinit.uniform_'s rule, refusing exactly what torch's uniform_ refuses."""
    a = _real(a)
    b = _real(b)
    if a == b:  # (not cached: the cache would not tell -0.0 from 0.0)
        fmax = _FMAX[code]
        if not -fmax <= a <= fmax:
            raise _Unsupported(f"uniform bound a={a} is out of range")
        return (CONSTANT, a, 0.0, -_INF, _INF, None)
    return _uniform_plan_of(a, b, code)


@functools.lru_cache(maxsize=1024)
def _uniform_plan_of(a, b, code):
    fmax = _FMAX[code]
    if not (-fmax <= a <= fmax and -fmax <= b <= fmax and a <= b and b - a <= fmax):
        raise _Unsupported(f"uniform bounds a={a}, b={b} are invalid")
    lo, hi = dtype_ceil(a, code), dtype_floor(b, code, strict=True)
    if lo > hi:
        raise _Unsupported(f"no value of the tensor's dtype lies in [a, b) = [{a}, {b})")
    return (UNIFORM, a, b - a, lo, hi, None)


def _normal_plan(mean, std):
    mean = _real(mean)
    std = _real(std)
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise _Unsupported(f"normal needs a finite mean and a finite std >= 0, got {mean}, {std}")
    return (NORMAL, mean, std, -_INF, _INF, None)


def _trunc_plan(mean, std, a, b, code):
    """fastinit.trunc_normal_'s rule (absolute bounds a, b)."""
    mean = _real(mean)
    std = _real(std)
    a = _real(a)
    b = _real(b)
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise _Unsupported(f"trunc_normal_ needs a finite mean and a finite std > 0, got {mean}, {std}")
    if not a <= b:  # also NaN
        raise _Unsupported(f"trunc_normal_ needs a <= b, got a={a}, b={b}")
    lo, hi = dtype_ceil(a, code), dtype_floor(b, code)
    if lo > hi:
        raise _Unsupported(f"no value of the tensor's dtype lies in [a, b] = [{a}, {b}]")
    alpha = (a - mean) / std
    beta = (b - mean) / std
    return (TRUNCATED, mean, std, lo, hi, truncation_plan(alpha, beta))


def _fill(tensor, arr, code, plan, generator, shard=_NO_SHARD):
    """Draws the stream from a valid ``generator`` and fills. An empty tensor draws nothing
    (there is nothing to fill). ``shard``: (global_shape, offset) of a DTensor's local block."""
    if arr.size:
        seed, stream = _draw(generator)
        _core.fill(arr, code, seed, stream, *plan, *shard)
        _increment_version(tensor)  # an in-place write, as torch's own uniform_ would record
    return tensor


def _fill_or_delegate(name, ours, tensor, args, generator, plan_for):
    """fastinit fills ``tensor`` when it can (``plan_for(dtype_code)`` gives the _core.fill plan
    or raises _Unsupported); otherwise PyTorch's own ``name`` runs, with the reason if any. A
    ``generator`` that is none of ours or torch's goes to PyTorch before any planning, so its
    error comes first and no warning of ours precedes it."""
    tgt = _target(tensor) if _valid_generator(generator) else None
    if tgt is None:
        return _delegate(name, ours, tensor, args, generator)
    try:
        plan = plan_for(tgt[1])
    except _Unsupported as why:
        return _delegate(name, ours, tensor, args, generator, why)
    return _fill(tensor, tgt[0], tgt[1], plan, generator, tgt[2])


# ---- fans ---------------------------------------------------------------------------------------
def _fan_in_and_fan_out(shape):
    """torch's layout (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _correct_fan(shape, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of {['fan_in', 'fan_out']}")
    fan_in, fan_out = _fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _plain(tensor):
    tp = type(tensor)
    return tp is _Tensor or tp is _Parameter or _is_dtensor(tensor)


# ---- the deterministic functions: PyTorch's own ------------------------------------------------
def calculate_gain(nonlinearity: _NonlinearityType, param: _OptionalNumber = None) -> float:
    """``torch.nn.init.calculate_gain`` (PyTorch's own: the same values and types)."""
    return _TORCH["calculate_gain"](nonlinearity, param)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """``torch.nn.init.constant_``: no randomness, so PyTorch's own fill (identical bytes)."""
    return _TORCH["constant_"](tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """``torch.nn.init.ones_`` (PyTorch's own fill)."""
    return _TORCH["ones_"](tensor)


def zeros_(tensor: Tensor) -> Tensor:
    """``torch.nn.init.zeros_`` (PyTorch's own fill)."""
    return _TORCH["zeros_"](tensor)


def eye_(tensor: Tensor) -> Tensor:
    """``torch.nn.init.eye_`` (PyTorch's own)."""
    return _TORCH["eye_"](tensor)


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """``torch.nn.init.dirac_`` (PyTorch's own)."""
    return _TORCH["dirac_"](tensor, groups)


# ---- the random functions: fastinit's stream ---------------------------------------------------
def uniform_(
    tensor: Tensor,
    a: float = 0.0,
    b: float = 1.0,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """U[a, b) in place, from fastinit's stream (``torch.nn.init.uniform_``'s drop-in)."""
    return _fill_or_delegate("uniform_", uniform_, tensor, (a, b), generator,
                             lambda code: _uniform_plan(a, b, code))


def normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """N(mean, std**2) in place, from fastinit's stream (``torch.nn.init.normal_``'s drop-in)."""
    return _fill_or_delegate("normal_", normal_, tensor, (mean, std), generator,
                             lambda code: _normal_plan(mean, std))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """N(mean, std**2) restricted to [a, b] (absolute bounds), exact rejection sampling from
    fastinit's stream (``torch.nn.init.trunc_normal_``'s drop-in)."""
    def plan_for(code):
        plan = _trunc_plan(mean, std, a, b, code)
        if (mean < a - 2 * std) or (mean > b + 2 * std):  # torch's warning, when we fill
            warnings.warn(
                "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                "The distribution of values may be incorrect.",
                stacklevel=4,  # plan_for <- _fill_or_delegate <- trunc_normal_ <- the caller
            )
        return plan

    return _fill_or_delegate("trunc_normal_", trunc_normal_, tensor, (mean, std, a, b),
                             generator, plan_for)


def xavier_uniform_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)), torch layout."""
    if not _plain(tensor):
        return _delegate("xavier_uniform_", xavier_uniform_, tensor, (gain,), generator)
    fan_in, fan_out = _fan_in_and_fan_out(tensor.shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _fill_or_delegate("xavier_uniform_", xavier_uniform_, tensor, (gain,), generator,
                             lambda code: _uniform_plan(-bound, bound, code))


def xavier_normal_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """Glorot & Bengio (2010): N(0, gain**2 * 2 / (fan_in + fan_out)), torch layout."""
    if not _plain(tensor):
        return _delegate("xavier_normal_", xavier_normal_, tensor, (gain,), generator)
    fan_in, fan_out = _fan_in_and_fan_out(tensor.shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill_or_delegate("xavier_normal_", xavier_normal_, tensor, (gain,), generator,
                             lambda code: _normal_plan(0.0, std))


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: _FanMode = "fan_in",
    nonlinearity: _NonlinearityType = "leaky_relu",
    generator: _OptionalGenerator = None,
) -> Tensor:
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan), torch layout."""
    args = (a, mode, nonlinearity)
    if not _plain(tensor):
        return _delegate("kaiming_uniform_", kaiming_uniform_, tensor, args, generator)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _correct_fan(tensor.shape, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _fill_or_delegate("kaiming_uniform_", kaiming_uniform_, tensor, args, generator,
                             lambda code: _uniform_plan(-bound, bound, code))


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: _FanMode = "fan_in",
    nonlinearity: _NonlinearityType = "leaky_relu",
    generator: _OptionalGenerator = None,
) -> Tensor:
    """He et al. (2015): untruncated N(0, gain**2 / fan), torch layout."""
    args = (a, mode, nonlinearity)
    if not _plain(tensor):
        return _delegate("kaiming_normal_", kaiming_normal_, tensor, args, generator)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _correct_fan(tensor.shape, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return _fill_or_delegate("kaiming_normal_", kaiming_normal_, tensor, args, generator,
                             lambda code: _normal_plan(0.0, std))


def _write_via_float32(tensor, arr, code, fill):
    """Runs ``fill(ndarray)`` on the tensor's memory; bfloat16 goes through a float32 buffer
    rounded to nearest even, which is fastinit's bfloat16 rule (docs/stream.md)."""
    if code != BFLOAT16:
        fill(arr)
    else:
        buf = np.empty(arr.shape, np.float32)
        fill(buf)
        arr[...] = torch.from_numpy(buf).to(torch.bfloat16).view(torch.int16).numpy()
    _increment_version(tensor)


def orthogonal_(
    tensor: Tensor,
    gain: float = 1,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """Saxe et al. (2014), Haar-distributed by Mezzadri's (2007) sign fix: rows = size(0),
    cols = numel / rows, the Gaussian from fastinit's stream, Householder QR."""
    if not _plain(tensor):
        return _delegate("orthogonal_", orthogonal_, tensor, (gain,), generator)
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    tgt = _target(tensor)
    if tgt is None:
        return _delegate("orthogonal_", orthogonal_, tensor, (gain,), generator)
    try:
        g = _real(gain)
        if not math.isfinite(g):
            raise _Unsupported(f"gain must be finite, got {g}")
    except _Unsupported as why:
        return _delegate("orthogonal_", orthogonal_, tensor, (gain,), generator, why)
    ids = _draw(generator)
    if ids is None:
        return _delegate("orthogonal_", orthogonal_, tensor, (gain,), generator)
    gshape, goff = tgt[2]
    _write_via_float32(tensor, tgt[0], tgt[1],
                       lambda arr: _np_orthogonal_(arr, g, seed=ids[0], stream=ids[1],
                                                   global_shape=gshape, offset=goff))
    return tensor


def sparse_(
    tensor: Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: _OptionalGenerator = None,
) -> Tensor:
    """Martens (2010): N(0, std**2) with ceil(sparsity * rows) zeros per column. Unlike
    PyTorch, which zeros rows chosen by the global ``randperm``, the zero positions come from
    the same stream as the values, so ``generator=`` governs them too."""
    if not _plain(tensor):
        return _delegate("sparse_", sparse_, tensor, (sparsity, std), generator)
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if tensor.is_meta:
        return tensor
    tgt = _target(tensor)
    if tgt is None:
        return _delegate("sparse_", sparse_, tensor, (sparsity, std), generator)
    if tensor.numel() == 0 and not _is_fastinit_generator(generator):
        return _TORCH["sparse_"](tensor, sparsity, std, generator=generator)  # checks, draws nothing
    try:
        s = _real(sparsity)
        sd = _real(std)
        if not (0.0 <= s <= 1.0 and math.isfinite(sd) and sd >= 0):
            raise _Unsupported(f"needs 0 <= sparsity <= 1 and a finite std >= 0, got {s}, {sd}")
    except _Unsupported as why:
        return _delegate("sparse_", sparse_, tensor, (sparsity, std), generator, why)
    if tensor.numel() == 0:
        return tensor
    ids = _draw(generator)
    if ids is None:
        return _delegate("sparse_", sparse_, tensor, (sparsity, std), generator)
    gshape, goff = tgt[2]
    _write_via_float32(tensor, tgt[0], tgt[1],
                       lambda arr: _np_sparse_(arr, s, sd, seed=ids[0], stream=ids[1],
                                               global_shape=gshape, offset=goff))
    return tensor


# ---- deprecated aliases (torch.nn.init still has them) -----------------------------------------
def _deprecated(new):
    old_name = new.__name__[:-1]

    def alias(*args, **kwargs):
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new.__name__}`.",
            FutureWarning,
            stacklevel=2,
        )
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = f"{old_name}(...): deprecated alias of :func:`{new.__name__}` (as in torch.nn.init)."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)


# ---- patching -----------------------------------------------------------------------------------
# The names patch() replaces: every public function torch.nn.init has (in this torch version).
_PATCH_NAMES = tuple(n for n in __all__ if n not in _OWN and hasattr(_init, n))
# Patching scans every loaded torch module (~700): d.keys() & this set probes the small set's
# names in the module dict, in C (set.intersection(d) would walk all of d's keys instead).
_PATCH_NAME_SET = frozenset(_PATCH_NAMES)


class _PatchState:
    def __init__(self):
        self.lock = threading.RLock()
        self.records = None  # [(module, attribute, previous value, our function)] while patched
        self.previous = None  # name -> what torch.nn.init held before patching
        self.depth = 0  # open `with patched():` blocks
        self.manual = False  # patch() was called (stays until unpatch())


_state = _PatchState()


def _torch_module_dicts():
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "torch" or name.startswith("torch.")):
            d = getattr(module, "__dict__", None)
            if isinstance(d, dict):
                yield module, d


def _install():
    """Swaps our functions in wherever a torch module holds torch.nn.init's under its own
    name (torch.nn.init itself, and modules that did ``from torch.nn.init import name``)."""
    ours = {name: globals()[name] for name in _PATCH_NAMES}
    previous = {name: getattr(_init, name) for name in _PATCH_NAMES}
    records = []
    for module, d in _torch_module_dicts():
        for name in d.keys() & _PATCH_NAME_SET:
            value = d.get(name)  # another thread may have changed d meanwhile
            if value is previous[name]:
                setattr(module, name, ours[name])
                records.append((module, name, value, ours[name]))
    _state.records, _state.previous = records, previous


def _uninstall():
    records, previous = _state.records, _state.previous
    _state.records = _state.previous = None
    for module, name, old, new in records:
        if module.__dict__.get(name) is new:  # leave alone what someone replaced meanwhile
            setattr(module, name, old)
    # torch modules first imported while patched took our functions by name: give theirs back.
    for module, d in _torch_module_dicts():
        for name in d.keys() & _PATCH_NAME_SET:
            if d.get(name) is globals()[name]:
                setattr(module, name, previous[name])


def patch() -> None:
    """Replace ``torch.nn.init``'s functions with fastinit's until :func:`unpatch`.

    Also replaces them in torch's own modules that imported them by name
    (``torch.nn.modules.activation``, ``torch.nn.modules.transformer``). Idempotent.
    """
    with _state.lock:
        if _state.records is None:
            _install()
        _state.manual = True


def unpatch() -> None:
    """Put back exactly the functions that were there before patching. Idempotent; also ends
    the effect of any open ``patched()`` blocks."""
    with _state.lock:
        if _state.records is not None:
            _uninstall()
        _state.manual = False
        _state.depth = 0


def is_patched() -> bool:
    return _state.records is not None


@contextlib.contextmanager
def patched():
    """``with fastinit.torch.patched(): model = Model()``: fastinit's init inside the block.

    Nests: only the outermost block restores, and a block opened while :func:`patch` is in
    force leaves it in force."""
    with _state.lock:
        if _state.records is None:
            _install()
        _state.depth += 1  # after _install: a failed install leaves nothing open
    try:
        yield
    finally:
        with _state.lock:
            _state.depth = max(0, _state.depth - 1)
            if _state.depth == 0 and not _state.manual and _state.records is not None:
                _uninstall()


from ._torch_diagnostics import InitReport, LSUVLayer, LSUVReport, ParamReport, lsuv_, report  # noqa: E402
