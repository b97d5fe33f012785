"""Signal-propagation diagnostics: see what an initializer does to a deep stack of layers.

:func:`propagate` pushes a batch of random inputs forward through ``depth`` bias-free dense
layers ``h_l = f(z_l)``, ``z_l = h_{l-1} @ W_l.T`` (``W_l`` of shape ``(fan_out, fan_in)``, the
PyTorch layout, filled by one of fastinit's initializers) and a random gradient backward from
the last layer, and records per layer:

- ``preact_std``: std of the pre-activations ``z_l`` (the signal each nonlinearity sees);
- ``act_mean`` / ``act_std``: mean and std of the activations ``h_l``;
- ``saturated``: fraction of (sample, unit) entries where the activation is flat, i.e. its
  slope is below ``FLAT_SLOPE`` (5 %) of its maximum: saturated tanh/sigmoid units, or ReLU
  units on their zero side (about 50 % is normal for ReLU);
- ``dead``: fraction of units that are flat on *every* sample of the batch: they pass no
  gradient at all for this batch (dead ReLUs, fully saturated tanh/sigmoid units);
- ``grad_std``: std of the back-propagated gradient at the pre-activations, dL/dz_l (what
  multiplies ``h_{l-1}`` in the weight gradient of layer l);
- ``unit_spread``: how different the units of a layer are: the mean over samples of the std
  across units of ``h_l``, divided by the RMS of ``h_l``. 0 means every unit computes the
  same value (symmetry); random weights give values near 1.

Each run gets a verdict, checked in this order (the thresholds are module constants):

- ``symmetric``: some layer's units are all identical on every sample (``unit_spread`` below
  ``SYMMETRY_SPREAD`` = 1e-3), e.g. zero or constant weights: the units get identical
  gradients too and can never become different.
- ``exploding`` / ``vanishing``: the pre-activation std of the last layer, relative to the
  input's std, or the gradient std at the first layer, relative to the last layer's, is above
  ``EXPLODING_RATIO`` (100) or below ``VANISHING_RATIO`` (1/100): the signal changed by more
  than two orders of magnitude through the stack. If both directions occur, the larger change
  (in orders of magnitude) names the verdict.
- ``stable`` otherwise. With SELU, ``self_normalizing`` is also set when every layer's
  activations have |mean| <= ``SELF_NORMALIZING_TOL`` and |std - 1| <= ``SELF_NORMALIZING_TOL``
  (0.1), the fixed point of Klambauer et al. (2017).

Numerics. Activations and gradients are carried as a float64 log-scale times a float32 (or
float64) array normalised to unit RMS, so a signal that shrinks to 1e-80 or grows to 1e+80
is still measured exactly instead of underflowing to 0 or overflowing to inf (and never hits
slow denormals). The activation itself is always applied at the true scale: exactly where
the pre-activations are representable, and through its exact asymptotic form (linear near 0,
its large-input limit beyond 1e30) where they are not.

Reproducibility. The input batch is ``normal_(seed=seed, stream=0)``, the output gradient
``stream=1`` and layer l's weights ``stream=l + 1``, so every initializer of a comparison sees
the same inputs, and the whole result is a function of the arguments (given the BLAS).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from . import _catalogue as _cat
from . import _fills

__all__ = [
    "ACTIVATIONS",
    "EXPLODING_RATIO",
    "FLAT_SLOPE",
    "INITIALIZERS",
    "LayerStats",
    "PropagationResult",
    "SELF_NORMALIZING_TOL",
    "SYMMETRY_SPREAD",
    "VANISHING_RATIO",
    "VERDICTS",
    "compare",
    "format_results",
    "format_summary",
    "parse_init",
    "propagate",
]

VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 1e2
SYMMETRY_SPREAD = 1e-3
FLAT_SLOPE = 0.05
SELF_NORMALIZING_TOL = 0.1
VERDICTS = ("stable", "vanishing", "exploding", "symmetric")

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu")

# Below this pre-activation scale every smooth activation is linear to float precision (its
# relative deviation is < 1e-5 for entries up to 10x the RMS); above _HUGE it is at its
# large-input limit. In between, it is applied to the materialised pre-activations.
_TINY = 1e-6
_HUGE = 1e30
# Entries this much smaller than the RMS are flushed to 0 (no denormals reach the BLAS).
_FLUSH = 1e-30

_SELU_LAMBDA = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---- initializers ---------------------------------------------------------------------------
def _gain(param: Optional[str], spec: str) -> float:
    if param is None:
        return 1.0
    try:
        return float(param)
    except ValueError:
        pass
    try:
        return _cat.calculate_gain(param)
    except ValueError:
        raise ValueError(f"{spec!r}: the gain must be a number or a nonlinearity name "
                         f"({', '.join(_cat.NONLINEARITIES)})") from None


def _number(param: Optional[str], spec: str, default: Optional[float] = None) -> float:
    if param is None:
        if default is None:
            raise ValueError(f"{spec!r} needs a value after the colon, e.g. normal:0.01")
        return default
    try:
        value = float(param)
    except ValueError:
        raise ValueError(f"{spec!r}: {param!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{spec!r}: the value must be finite")
    return value


def _nonlinearity(param: Optional[str], spec: str) -> str:
    if param is None:
        return "leaky_relu"  # PyTorch's default, with a=0: gain sqrt(2), i.e. He et al.
    if param not in _cat.NONLINEARITIES:
        raise ValueError(f"{spec!r}: unknown nonlinearity {param!r}; "
                         f"choose from {', '.join(_cat.NONLINEARITIES)}")
    return param


def _make_init(name: str, param: Optional[str], spec: str):
    """A function fill(W, seed, stream) for a (fan_out, fan_in) weight, and whether it is costly."""
    if name in ("kaiming_normal", "kaiming_uniform"):
        fn: Callable[..., np.ndarray] = (
            _cat.kaiming_normal_ if name == "kaiming_normal" else _cat.kaiming_uniform_)
        nl = _nonlinearity(param, spec)
        return (lambda w, s, st: fn(w, nonlinearity=nl, seed=s, stream=st)), False
    if name in ("xavier_normal", "xavier_uniform"):
        fn = _cat.xavier_normal_ if name == "xavier_normal" else _cat.xavier_uniform_
        gain = _gain(param, spec)
        return (lambda w, s, st: fn(w, gain=gain, seed=s, stream=st)), False
    presets = {
        "glorot_normal": _cat.glorot_normal_, "glorot_uniform": _cat.glorot_uniform_,
        "he_normal": _cat.he_normal_, "he_uniform": _cat.he_uniform_,
        "lecun_normal": _cat.lecun_normal_, "lecun_uniform": _cat.lecun_uniform_,
    }
    if name in presets:
        if param is not None:
            raise ValueError(f"{spec!r}: {name} takes no parameter")
        fn = presets[name]
        return (lambda w, s, st: fn(w, seed=s, stream=st)), False
    if name == "orthogonal":
        gain = _gain(param, spec)
        return (lambda w, s, st: _cat.orthogonal_(w, gain, seed=s, stream=st)), True
    if name in ("zeros", "ones", "eye", "identity"):
        if param is not None:
            raise ValueError(f"{spec!r}: {name} takes no parameter")
        if name == "zeros":
            return (lambda w, s, st: _fills.zeros_(w)), False
        if name == "ones":
            return (lambda w, s, st: _fills.ones_(w)), False
        return (lambda w, s, st: _cat.eye_(w)), False
    if name == "constant":
        val = _number(param, spec)
        return (lambda w, s, st: _fills.constant_(w, val)), False
    if name == "normal":
        std = _number(param, spec)
        if std < 0:
            raise ValueError(f"{spec!r}: std must be >= 0")
        return (lambda w, s, st: _fills.normal_(w, 0.0, std, seed=s, stream=st)), False
    if name == "trunc_normal":
        std = _number(param, spec)
        if std < 0:
            raise ValueError(f"{spec!r}: std must be >= 0")
        return (lambda w, s, st: _fills.trunc_normal_(w, 0.0, std, -2 * std, 2 * std,
                                                      seed=s, stream=st)), False
    if name == "uniform":
        bound = abs(_number(param, spec))
        return (lambda w, s, st: _fills.uniform_(w, -bound, bound, seed=s, stream=st)), False
    if name == "sparse":
        sparsity = _number(param, spec, 0.9)
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"{spec!r}: sparsity must be in [0, 1]")
        return (lambda w, s, st: _cat.sparse_(w, sparsity, seed=s, stream=st)), False
    raise ValueError(f"unknown initializer {spec!r}; choose from {', '.join(INITIALIZERS)}")


INITIALIZERS = (
    "kaiming_normal[:nonlinearity]", "kaiming_uniform[:nonlinearity]",
    "xavier_normal[:gain]", "xavier_uniform[:gain]",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "orthogonal[:gain]", "zeros", "ones", "eye", "constant:<value>", "normal:<std>",
    "trunc_normal:<std>", "uniform:<bound>", "sparse[:<sparsity>]",
)


@dataclass(frozen=True)
class _Init:
    spec: str
    fill: Callable
    costly: bool


def parse_init(spec: str) -> _Init:
    """Parses an initializer spec such as ``kaiming_normal``, ``xavier_normal:tanh`` (gain of a
    nonlinearity), ``orthogonal:1.414``, ``normal:0.01`` (std), ``uniform:0.05`` (U(-b, b)) or
    ``zeros``; raises ValueError naming the valid choices. See ``INITIALIZERS``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"an initializer spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    name, _, raw_param = spec.partition(":")
    name = name.strip().lower().rstrip("_")
    param = raw_param.strip() or None
    fill, costly = _make_init(name, param, spec)
    return _Init(spec, fill, costly)


# ---- activations ----------------------------------------------------------------------------
def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1.5e-7 absolute (Abramowitz & Stegun 7.1.26), in x's dtype."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    y = 1.0 - poly * np.exp(-a * a)
    return np.copysign(y, x)


_MAX_SLOPE = {
    "linear": 1.0, "relu": 1.0, "leaky_relu": 1.0, "tanh": 1.0, "sigmoid": 0.25,
    "selu": _SELU_LAMBDA * _SELU_ALPHA,
    "gelu": 1.1289,  # max of Phi(z) + z phi(z), at z = sqrt(2)
}


def _activate(kind: str, v: np.ndarray, log_z: float, slope: float):
    """The activation of z = exp(log_z) * v (v has unit RMS, log_z may be -inf).

    Returns (h, log_h, fprime): the activation is exp(log_h) * h, its derivative at z is
    fprime (true scale)."""
    dt = v.dtype.type
    one = dt(1)
    if kind == "linear":
        return v, log_z, np.ones_like(v)
    if kind == "relu":
        pos = v > 0
        return np.where(pos, v, dt(0)), log_z, pos.astype(v.dtype)
    if kind == "leaky_relu":
        pos = v > 0
        fp = np.where(pos, one, dt(slope))
        return v * fp, log_z, fp
    scale = math.exp(log_z) if log_z < 700 else math.inf
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if kind == "tanh":
            if scale < _TINY:
                return v, log_z, np.ones_like(v)
            if scale > _HUGE:
                return np.sign(v), 0.0, np.where(v == 0, one, dt(0))
            z = v * dt(scale)
            c = np.cosh(z)
            return np.tanh(z), 0.0, one / (c * c)
        if kind == "sigmoid":
            if scale > _HUGE:
                return np.where(v > 0, one, np.where(v < 0, dt(0), dt(0.5))), 0.0, \
                    np.where(v == 0, dt(0.25), dt(0))
            z = v * dt(scale)
            c = np.cosh(z * dt(0.5))
            return dt(0.5) * (one + np.tanh(z * dt(0.5))), 0.0, dt(0.25) / (c * c)
        if kind == "selu":
            lam, la = dt(_SELU_LAMBDA), dt(_SELU_LAMBDA * _SELU_ALPHA)
            pos = v > 0
            if scale < _TINY:
                fp = np.where(pos, lam, la)
                return v * fp, log_z, fp
            if scale > _HUGE:  # the negative side saturates at -lambda*alpha, 0 at this scale
                return np.where(pos, lam * v, dt(0)), log_z, np.where(pos, lam, dt(0))
            z = v * dt(scale)
            zn = np.minimum(z, dt(0))
            return (np.where(pos, lam * z, la * np.expm1(zn)), 0.0,
                    np.where(pos, lam, la * np.exp(zn)))
        if kind == "gelu":
            if scale < _TINY:
                return v * dt(0.5), log_z, np.full_like(v, 0.5)
            if scale > _HUGE:
                pos = v > 0
                return np.where(pos, v, dt(0)), log_z, pos.astype(v.dtype)
            z = v * dt(scale)
            cdf = dt(0.5) * (one + _erf(z * dt(_SQRT_HALF)))
            pdf = dt(_INV_SQRT_2PI) * np.exp(dt(-0.5) * z * z)
            return z * cdf, 0.0, cdf + z * pdf
    raise ValueError(f"unknown activation {kind!r}; choose from {', '.join(ACTIVATIONS)}")


# ---- results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerStats:
    """Statistics of one layer (1-based ``layer``); see the module docstring."""

    layer: int
    fan_in: int
    fan_out: int
    preact_std: float
    act_mean: float
    act_std: float
    saturated: float
    dead: float
    grad_std: float
    unit_spread: float


@dataclass
class PropagationResult:
    """One initializer pushed through one stack: per-layer stats and the verdict."""

    init: str
    activation: str
    widths: tuple
    batch: int
    seed: int
    dtype: str
    input_std: float
    layers: list
    verdict: str = "stable"
    reason: str = ""
    self_normalizing: bool = False
    forward_ratio: float = 1.0
    backward_ratio: float = 1.0
    seconds: float = 0.0
    thresholds: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def column(self, name: str) -> np.ndarray:
        """One statistic for every layer, e.g. ``result.column('act_std')``."""
        return np.array([getattr(s, name) for s in self.layers], dtype=np.float64)

    def table(self, every: int = 1, markdown: bool = False) -> str:
        return format_results([self], every=every, markdown=markdown)

    def __str__(self) -> str:
        return self.table(every=max(1, self.depth // 10))


def _rms(a: np.ndarray) -> float:
    """Root mean square of a, never overflowing (float64 fallback)."""
    flat = a.reshape(-1)
    if flat.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        ss = float(np.dot(flat, flat))
    if not math.isfinite(ss):
        ss = float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return math.sqrt(ss / flat.size)


def _normalise(a: np.ndarray):
    """(a / rms, log rms) with relatively negligible entries flushed to 0 (no denormals reach
    the BLAS); (a, -inf) when a is all zero."""
    r = _rms(a)
    if r == 0.0:
        return a, -math.inf
    if 1e-30 < r < 1e30:
        a = a / a.dtype.type(r)
    else:
        a = (a.astype(np.float64) / r).astype(a.dtype)
    a[np.abs(a) < _FLUSH] = 0
    return a, math.log(r)


def _scaled(x: float, log_scale: float) -> float:
    """x * exp(log_scale) without intermediate overflow."""
    if x == 0.0 or log_scale == -math.inf:
        return 0.0
    e = math.log(abs(x)) + log_scale
    if e > 709.7:
        return math.copysign(math.inf, x)
    return math.copysign(math.exp(e), x) if e > -745 else 0.0


def _check_widths(depth, width, widths) -> tuple:
    if widths is None:
        for name, val in (("depth", depth), ("width", width)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        return (int(width),) * (int(depth) + 1)
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError("widths needs at least 2 entries: the input width and one layer's")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
            raise ValueError(f"widths must be positive ints, got {widths!r}")
    return tuple(int(w) for w in widths)


def propagate(init, activation: str = "relu", *, depth: int = 50, width: int = 1024,
              widths: Optional[Sequence[int]] = None, batch: int = 256, seed: int = 0,
              dtype="float32", negative_slope: float = 0.01,
              progress: Optional[Callable[[int, int], None]] = None) -> PropagationResult:
    """Forward a random batch and backward a random gradient through a stack of dense layers.

    ``init``: an initializer spec (see :func:`parse_init`). ``widths`` = (input width, width of
    layer 1, ..., of layer depth) overrides ``depth``/``width`` (square layers of ``width``).
    ``batch`` samples of N(0, 1) inputs. ``dtype``: float32 (default) or float64 arithmetic.
    ``progress(done, total)`` is called after each layer of each pass (2 * depth steps).
    """
    started = time.perf_counter()
    spec = init if isinstance(init, _Init) else parse_init(init)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}")
    widths = _check_widths(depth, width, widths)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 2:
        raise ValueError(f"batch must be an int >= 2, got {batch!r}")
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    slope = float(negative_slope)
    n_layers = len(widths) - 1
    total_steps = 2 * n_layers
    flat_below = dt.type(FLAT_SLOPE * _MAX_SLOPE[activation])

    x = np.empty((batch, widths[0]), dt)
    _fills.normal_(x, seed=seed, stream=0)
    input_std = float(np.std(x, dtype=np.float64))
    u, log_s = _normalise(x)

    def weight(layer):  # 1-based; returns (normalised W, log of its scale)
        w = np.empty((widths[layer], widths[layer - 1]), dt)
        spec.fill(w, seed, layer + 1)
        m = float(np.max(np.abs(w))) if w.size else 0.0
        if not math.isfinite(m):
            raise ValueError(f"{spec.spec!r} gave non-finite weights in layer {layer} "
                             f"({dt.name}); use a smaller scale or dtype='float64'")
        if m == 0.0:
            return w, -math.inf
        if 1e-8 <= m <= 1e8:
            return w, 0.0
        return w / dt.type(m), math.log(m)

    kept: Optional[dict] = {} if spec.costly else None
    fprimes: list = []
    fwd = []  # per layer: (preact_std, act_mean, act_std, saturated, dead, spread, fan_in, fan_out)
    done = 0
    for layer in range(1, n_layers + 1):
        w, log_w = weight(layer)
        if kept is not None:
            kept[layer] = (w, log_w)
        if log_s == -math.inf or log_w == -math.inf:
            v = np.zeros((batch, widths[layer]), dt)
            log_z = -math.inf
        else:
            v = u @ w.T
            v, log_z = _normalise(v)
            log_z += log_s + log_w
        preact_std = _scaled(float(np.std(v, dtype=np.float64)), log_z)
        h, log_h, fp = _activate(activation, v, log_z, slope)
        fp = np.asarray(fp, dtype=dt)
        fp[np.abs(fp) < _FLUSH] = 0
        flat = fp < flat_below if activation != "linear" else np.zeros(fp.shape, bool)
        saturated = float(np.mean(flat))
        dead = float(np.mean(np.all(flat, axis=0)))
        u, log_u = _normalise(np.ascontiguousarray(h, dtype=dt))
        log_s = log_u + log_h if log_u != -math.inf else -math.inf
        # u has unit RMS (or is all 0): the spread across units needs no further scaling
        spread = float(np.mean(np.std(u, axis=1, dtype=np.float64))) if log_s > -math.inf else 0.0
        act_mean = _scaled(float(np.mean(u, dtype=np.float64)), log_s)
        act_std = _scaled(float(np.std(u, dtype=np.float64)), log_s)
        fwd.append((preact_std, act_mean, act_std, saturated, dead, spread,
                    widths[layer - 1], widths[layer]))
        fprimes.append(fp)
        done += 1
        if progress is not None:
            progress(done, total_steps)

    g = np.empty((batch, widths[-1]), dt)
    _fills.normal_(g, seed=seed, stream=1)
    g, log_g = _normalise(g)
    grad_std = [0.0] * n_layers
    for layer in range(n_layers, 0, -1):
        dz = g * fprimes[layer - 1] if log_g != -math.inf else np.zeros_like(g)
        fprimes[layer - 1] = None
        grad_std[layer - 1] = _scaled(float(np.std(dz, dtype=np.float64)), log_g)
        if layer > 1:
            w, log_w = kept.pop(layer) if kept is not None else weight(layer)
            if log_g == -math.inf or log_w == -math.inf:
                g, log_g = np.zeros((batch, widths[layer - 1]), dt), -math.inf
            else:
                g, log_n = _normalise(dz @ w)
                log_g = log_g + log_w + log_n if log_n != -math.inf else -math.inf
        done += 1
        if progress is not None:
            progress(done, total_steps)

    layers = [LayerStats(i + 1, f[6], f[7], f[0], f[1], f[2], f[3], f[4], grad_std[i], f[5])
              for i, f in enumerate(fwd)]
    result = PropagationResult(spec.spec, activation, widths, int(batch), int(seed), dt.name,
                               input_std, layers)
    _judge(result)
    result.seconds = time.perf_counter() - started
    return result


def _ratio(a: float, b: float) -> float:
    if b == 0.0:
        return 0.0 if a == 0.0 else math.inf
    return a / b


def _judge(r: PropagationResult) -> None:
    r.thresholds = dict(vanishing=VANISHING_RATIO, exploding=EXPLODING_RATIO,
                        symmetry=SYMMETRY_SPREAD, flat_slope=FLAT_SLOPE,
                        self_normalizing=SELF_NORMALIZING_TOL)
    last, first = r.layers[-1], r.layers[0]
    r.forward_ratio = _ratio(last.preact_std, r.input_std)
    r.backward_ratio = _ratio(first.grad_std, last.grad_std)
    for s in r.layers:
        if s.unit_spread < SYMMETRY_SPREAD:
            what = "are all 0" if s.act_std == 0 and s.act_mean == 0 else "are identical"
            r.verdict = "symmetric"
            r.reason = (f"layer {s.layer}: the {s.fan_out} units' activations {what} on every "
                        f"sample (unit spread {s.unit_spread:.1e} < {SYMMETRY_SPREAD:g}); "
                        "identical units get identical gradients and never differentiate")
            return
    issues = []  # (orders of magnitude, verdict, text)
    for ratio, what in ((r.forward_ratio, f"pre-activation std changed x{r.forward_ratio:.2e} "
                         f"from the input to layer {r.depth}"),
                        (r.backward_ratio, f"gradient std changed x{r.backward_ratio:.2e} "
                         f"from layer {r.depth} back to layer 1")):
        if ratio == 0.0 or ratio < VANISHING_RATIO:
            mag = math.inf if ratio == 0.0 else -math.log10(ratio)
            issues.append((mag, "vanishing", what + f" (< x{VANISHING_RATIO:g})"))
        elif not math.isfinite(ratio) or ratio > EXPLODING_RATIO:
            mag = math.inf if not math.isfinite(ratio) else math.log10(ratio)
            issues.append((mag, "exploding", what + f" (> x{EXPLODING_RATIO:g})"))
    if issues:
        issues.sort(key=lambda t: -t[0])
        r.verdict = issues[0][1]
        r.reason = "; ".join(t[2] for t in issues)
        return
    r.verdict = "stable"
    r.reason = (f"pre-activation std x{r.forward_ratio:.2g} from the input to layer {r.depth}, "
                f"gradient std x{r.backward_ratio:.2g} from layer {r.depth} back to layer 1 "
                f"(both within x{VANISHING_RATIO:g}..x{EXPLODING_RATIO:g})")
    if r.activation == "selu":
        tol = SELF_NORMALIZING_TOL
        if all(abs(s.act_mean) <= tol and abs(s.act_std - 1.0) <= tol for s in r.layers):
            r.self_normalizing = True
            r.reason += (f"; self-normalising: every layer has |mean| <= {tol:g}, "
                         f"|std - 1| <= {tol:g}")


def compare(inits: Sequence, activation: str = "relu", *, progress=None, **kwargs) -> list:
    """:func:`propagate` for several initializers on the same inputs; ``progress(i, n, done,
    total)`` is called with the run index as well."""
    specs = [s if isinstance(s, _Init) else parse_init(s) for s in inits]
    out = []
    for i, spec in enumerate(specs):
        cb = None if progress is None else (lambda d, t, i=i: progress(i, len(specs), d, t))
        out.append(propagate(spec, activation, progress=cb, **kwargs))
    return out


# ---- formatting -----------------------------------------------------------------------------
def _fmt(x: float) -> str:
    if x == 0.0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}"


def _rows_to_show(depth: int, every: int) -> list:
    every = max(1, int(every))
    rows = [1] + list(range(every, depth + 1, every))
    if rows[-1] != depth:
        rows.append(depth)
    return sorted(set(rows))


def _render(header, rows, markdown, align):
    if markdown:
        rule = "|" + "|".join((" ---: " if a == ">" else " :--- ") for a in align) + "|"
        out = ["| " + " | ".join(header) + " |", rule]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = lambda cells: "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths))
    return "\n".join([line(header).rstrip()] + [line(r).rstrip() for r in rows])


def _title(r: PropagationResult) -> str:
    shape = (f"depth {r.depth}, width {r.widths[1]}" if len(set(r.widths)) == 1
             else f"widths {'-'.join(map(str, r.widths))}")
    return f"{r.init} + {r.activation} ({shape}, batch {r.batch}, seed {r.seed}, {r.dtype})"


def _verdict_text(r: PropagationResult) -> str:
    tag = r.verdict + (" (self-normalising)" if r.self_normalizing else "")
    return f"verdict: {tag}: {r.reason}"


def format_results(results: Sequence[PropagationResult], every: int = 1,
                   markdown: bool = False) -> str:
    """One per-layer table (every ``every``-th layer, plus the first and last) per result, each
    followed by its verdict."""
    blocks = []
    for r in results:
        header = ["layer", "preact std", "act mean", "act std", "sat %", "dead %", "grad std",
                  "spread"]
        rows = []
        for i in _rows_to_show(r.depth, every):
            s = r.layers[i - 1]
            rows.append([str(s.layer), _fmt(s.preact_std), _fmt(s.act_mean), _fmt(s.act_std),
                         f"{100 * s.saturated:.1f}", f"{100 * s.dead:.1f}", _fmt(s.grad_std),
                         f"{s.unit_spread:.2f}"])
        title = _title(r)
        table = _render(header, rows, markdown, [">"] * len(header))
        verdict = _verdict_text(r)
        if markdown:
            blocks.append(f"**{title}**\n\n{table}\n\n{verdict}")
        else:
            blocks.append(f"{title}\n{table}\n{verdict}")
    return "\n\n".join(blocks)


def format_summary(results: Sequence[PropagationResult], markdown: bool = False) -> str:
    """One line per result: the verdict and the end-to-end ratios."""
    header = ["init", "verdict", "act std (layer 1 -> last)", "grad std (last -> layer 1)",
              "fwd ratio", "bwd ratio"]
    rows = []
    for r in results:
        a, b = r.layers[0], r.layers[-1]
        tag = r.verdict + (" (self-normalising)" if r.self_normalizing else "")
        rows.append([r.init, tag, f"{_fmt(a.act_std)} -> {_fmt(b.act_std)}",
                     f"{_fmt(b.grad_std)} -> {_fmt(a.grad_std)}", _fmt(r.forward_ratio),
                     _fmt(r.backward_ratio)])
    return _render(header, rows, markdown, ["<", "<", ">", ">", ">", ">"])
