"""PyTorch diagnostics: LSUV data-dependent init (:func:`lsuv_`) and a per-parameter init
report (:func:`report`). Imported by ``fastinit.torch`` (which re-exports both) and by the
``python -m fastinit report`` command; this module imports torch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ._catalogue import compute_fans, orthogonal_

__all__ = ["InitReport", "LSUVLayer", "LSUVReport", "ParamReport", "lsuv_", "report"]

# Layers LSUV rescales: dense and (transposed) convolutions of any dimension.
_LSUV_TYPES = (nn.Linear, nn.modules.conv._ConvNd)
# Weights whose scale is not set by a fan (an embedding row is looked up, not summed).
_NOT_FAN_BASED = (nn.Embedding, nn.EmbeddingBag)


# ---- LSUV -----------------------------------------------------------------------------------
@dataclass
class LSUVLayer:
    """What LSUV did to one layer: output variance on the batch after the orthogonal init
    (``initial_var``) and at the end (``final_var``), the factor the orthogonal weight was
    multiplied by (``scale``) in ``iterations`` rescalings."""

    name: str
    module: str
    shape: tuple
    initial_var: float
    final_var: float
    scale: float
    iterations: int
    converged: bool
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class LSUVReport(list):
    """The list of :class:`LSUVLayer`, in forward order; ``str()`` gives a table."""

    @property
    def converged(self) -> bool:
        return all(layer.converged for layer in self if not layer.note.startswith("not called"))

    def __str__(self) -> str:
        header = ["layer", "module", "shape", "var after orthogonal", "final var", "scale",
                  "iters", "ok"]
        rows = [[l.name or "(model)", l.module, "x".join(map(str, l.shape)),
                 f"{l.initial_var:.4g}", f"{l.final_var:.4g}", f"{l.scale:.4g}",
                 str(l.iterations),
                 ("yes" if l.converged else "NO") + (f" ({l.note})" if l.note else "")]
                for l in self]
        return _table(header, rows, "<<<>>>><")


class _StopForward(Exception):
    """Raised by the measuring hook: nothing after the measured layer needs to run."""


def _call(model, batch):
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def _orthogonal_into(weight: torch.Tensor, seed, stream) -> None:
    """fastinit.orthogonal_ into a torch weight: in place on the NumPy view of a contiguous CPU
    float32/float64 tensor, through a float32/float64 staging array otherwise."""
    kw = {} if seed is None else {"seed": seed, "stream": stream}
    with torch.no_grad():
        if (weight.device.type == "cpu" and weight.dtype in (torch.float32, torch.float64)
                and weight.is_contiguous()):
            orthogonal_(weight.detach().numpy(), **kw)
            return
        dt = np.float64 if weight.dtype == torch.float64 else np.float32
        arr = np.empty(tuple(weight.shape), dt)
        orthogonal_(arr, **kw)
        weight.copy_(torch.from_numpy(arr))


def lsuv_(model: nn.Module, batch, *, tol: float = 0.1, max_iter: int = 10, seed=None,
          zero_bias: bool = True) -> LSUVReport:
    """Layer-sequential unit-variance init (Mishkin & Matas, 2016, "All you need is a good
    init"), in place.

    1. Every ``nn.Linear`` and ``nn.Conv*`` (transposed too) that ``model(batch)`` calls gets
       an orthogonal weight (fastinit.orthogonal_, layer k of the forward order on stream k of
       ``seed``; the default Generator when ``seed`` is None) and, with ``zero_bias``, a zero
       bias.
    2. In forward order, each layer's weight is divided by the std of the layer's output on
       ``batch`` until that output's variance is within ``1 ± tol`` (at most ``max_iter``
       rescalings; with zero bias one is enough).

    ``batch``: the model's input (a tuple/list is unpacked as positional arguments, a dict as
    keyword arguments), on the model's device. The forwards run under ``torch.no_grad()`` in
    eval mode (no dropout noise, no batch-norm running-stat updates); each module's
    train/eval flag is restored afterwards, and every hook is removed, even on error. Layers
    the forward never calls are listed with a note and left alone. Returns an
    :class:`LSUVReport` (a list of :class:`LSUVLayer`); warns when a layer did not converge.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    candidates = [(name, m) for name, m in model.named_modules() if isinstance(m, _LSUV_TYPES)]
    if not candidates:
        raise ValueError("lsuv_ found no nn.Linear or nn.Conv layer in the model")
    flags = [(m, m.training) for m in model.modules()]
    hooks = []
    try:
        model.eval()
        order = []

        def order_hook(name):
            def hook(module, inputs, output):
                if name not in order:
                    order.append(name)
            return hook

        for name, m in candidates:
            hooks.append(m.register_forward_hook(order_hook(name)))
        with torch.no_grad():
            _call(model, batch)
        for h in hooks:
            h.remove()
        hooks.clear()

        modules = dict(candidates)
        for k, name in enumerate(order):
            m = modules[name]
            _orthogonal_into(m.weight, seed, k)
            if zero_bias and m.bias is not None:
                with torch.no_grad():
                    m.bias.zero_()

        def measure(m, name):
            seen = {}

            def hook(module, inputs, output):
                out = output.detach()
                seen["var"] = float(out.to(torch.float64).var(unbiased=False)) \
                    if out.numel() > 1 else 0.0
                raise _StopForward

            h = m.register_forward_hook(hook)
            hooks.append(h)
            try:
                with torch.no_grad():
                    _call(model, batch)
            except _StopForward:
                pass
            finally:
                h.remove()
                hooks.remove(h)
            if "var" not in seen:
                raise RuntimeError(f"lsuv_: layer {name!r} was not called by the forward "
                                   "pass this time (data-dependent control flow?)")
            return seen["var"]

        out = LSUVReport()
        for name in order:
            m = modules[name]
            var = initial = measure(m, name)
            scale, iters, note = 1.0, 0, ""
            while abs(var - 1.0) > tol and iters < max_iter:
                if not math.isfinite(var) or var <= 0.0:
                    note = "zero output variance" if var == 0.0 else "non-finite output"
                    break
                factor = 1.0 / math.sqrt(var)
                with torch.no_grad():
                    m.weight.mul_(factor)
                scale *= factor
                iters += 1
                var = measure(m, name)
            converged = abs(var - 1.0) <= tol
            if not converged and not note:
                note = f"not within 1 ± {tol:g} after {max_iter} rescalings"
            out.append(LSUVLayer(name, type(m).__name__, tuple(m.weight.shape), initial, var,
                                 scale, iters, converged, note))
        for name, m in candidates:
            if name not in order:
                out.append(LSUVLayer(name, type(m).__name__, tuple(m.weight.shape), math.nan,
                                     math.nan, 1.0, 0, False, "not called by the forward pass"))
    finally:
        for h in hooks:
            h.remove()
        for m, training in flags:
            m.training = training
    bad = [l.name for l in out if not l.converged and not l.note.startswith("not called")]
    if bad:
        warnings.warn(f"lsuv_: {len(bad)} layer(s) did not reach unit variance: "
                      + ", ".join(bad), RuntimeWarning, stacklevel=2)
    return out


# ---- report ---------------------------------------------------------------------------------
@dataclass
class ParamReport:
    """One parameter: its statistics, the He and Xavier stds for its fans (None where fans do
    not apply) and the warnings raised for it."""

    name: str
    module: str
    shape: tuple
    fan_in: int | None
    fan_out: int | None
    mean: float
    std: float
    he_std: float | None
    xavier_std: float | None
    status: str = "ok"
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class InitReport:
    """:func:`report`'s result: ``params`` (one :class:`ParamReport` each), ``warnings``
    ((parameter name, message) pairs), ``ok``; ``str()`` gives a table."""

    params: list
    tolerance: float

    @property
    def warnings(self) -> list:
        return [(p.name, w) for p in self.params for w in p.warnings]

    @property
    def ok(self) -> bool:
        return not self.warnings

    def __getitem__(self, name) -> ParamReport:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_dicts(self) -> list:
        return [p.to_dict() for p in self.params]

    def __str__(self) -> str:
        g = lambda x: "-" if x is None else f"{x:.3g}"
        i = lambda x: "-" if x is None else str(x)
        header = ["parameter", "module", "shape", "fan_in", "fan_out", "mean", "std", "He std",
                  "Xavier std", "status"]
        rows = [[p.name, p.module, "x".join(map(str, p.shape)) or "()", i(p.fan_in),
                 i(p.fan_out), g(p.mean), g(p.std), g(p.he_std), g(p.xavier_std), p.status]
                for p in self.params]
        lines = [_table(header, rows, "<<<>>>>>><")]
        ws = self.warnings
        if ws:
            lines.append("")
            lines.append(f"{len(ws)} warning(s):")
            lines += [f"- {name}: {msg}" for name, msg in ws]
        else:
            lines.append("")
            lines.append("no warnings: every weight breaks symmetry and has a std within "
                         f"x{self.tolerance:g} of the He..Xavier range")
        return "\n".join(lines)


def _owners(model):
    owner = {}
    for mname, m in model.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            owner[f"{mname}.{pname}" if mname else pname] = m
    return owner


def report(model: nn.Module, *, tolerance: float = 3.0) -> InitReport:
    """Per-parameter init report of a model (its current weights).

    For every parameter: shape, fan_in/fan_out (torch layout, fastinit.compute_fans), mean,
    measured std, and the std He (kaiming_normal, sqrt(2 / fan_in)) and Xavier
    (xavier_normal, sqrt(2 / (fan_in + fan_out))) would give. Warnings, for weights of 2 or
    more dimensions (biases and norm scales are 1-D: only non-finite values are flagged):

    - symmetric: all entries equal (all-zero or constant) or all output units' rows equal:
      every unit computes the same function and gets the same gradient;
    - mean larger than std: the units are strongly correlated (nearly symmetric);
    - vanishing risk / exploding risk: std more than ``tolerance`` (3) times below the smaller,
      or above the larger, of the He and Xavier stds (PyTorch's default init lies inside);
    - non-finite values.

    Embedding tables are not fan-based: they get the symmetry checks only.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not tolerance > 1:
        raise ValueError(f"tolerance must be > 1, got {tolerance!r}")
    owners = _owners(model)
    params = []
    for name, p in model.named_parameters():
        owner = owners.get(name)
        mod = type(owner).__name__ if owner is not None else "?"
        if isinstance(p, nn.parameter.UninitializedParameter) or p.device.type == "meta":
            params.append(ParamReport(name, mod, (), None, None, math.nan, math.nan, None, None,
                                      "uninitialized"))
            continue
        shape = tuple(p.shape)
        with torch.no_grad():
            t = p.detach()
            if not t.is_floating_point():
                continue
            t = t.to(torch.float64) if t.numel() <= 10_000_000 else t.to(torch.float32)
            n = t.numel()
            finite = bool(torch.isfinite(t).all()) if n else True
            mean = float(t.mean()) if n else math.nan
            std = float(t.std(unbiased=False)) if n else math.nan
            constant = n > 0 and bool(t.max() == t.min())
            rows_equal = (t.dim() >= 2 and shape[0] > 1 and not constant and n > 0
                          and bool((t.reshape(shape[0], -1) == t.reshape(shape[0], -1)[:1]).all()))
        fan_in = fan_out = he = xav = None
        if len(shape) >= 2 and n:
            fan_in, fan_out = compute_fans(shape, "torch")
            if not isinstance(owner, _NOT_FAN_BASED) and fan_in > 0 and fan_out > 0:
                he = math.sqrt(2.0 / fan_in)
                xav = math.sqrt(2.0 / (fan_in + fan_out))
        rep = ParamReport(name, mod, shape, fan_in, fan_out, mean, std, he, xav)
        if not finite:
            rep.warnings.append("contains NaN or infinite values")
            rep.status = "non-finite"
        elif len(shape) >= 2 and n:
            if constant:
                value = float(t.reshape(-1)[0])
                what = "all-zero weights" if value == 0 else f"constant weights (all {value:.4g})"
                rep.warnings.append(f"{what}: every unit computes the same output and gets the "
                                    "same gradient, so symmetry never breaks (use a random init)")
                rep.status = "symmetric"
            elif rows_equal:
                rep.warnings.append(f"all {shape[0]} output units have identical weights: "
                                    "symmetry never breaks (use a random init)")
                rep.status = "symmetric"
            else:
                if abs(mean) > std:
                    rep.warnings.append(f"mean {mean:.3g} exceeds std {std:.3g}: the units are "
                                        "strongly correlated (nearly symmetric); centre the init "
                                        "at 0")
                    rep.status = "biased"
                if he is not None and xav is not None:
                    lo, hi = min(he, xav), max(he, xav)
                    if std < lo / tolerance:
                        rep.warnings.append(
                            f"std {std:.3g} is {lo / std:.1f}x below min(He {he:.3g}, Xavier "
                            f"{xav:.3g}): signals and gradients shrink layer after layer "
                            "(vanishing risk)")
                        rep.status = "vanishing risk"
                    elif std > hi * tolerance:
                        rep.warnings.append(
                            f"std {std:.3g} is {std / hi:.1f}x above max(He {he:.3g}, Xavier "
                            f"{xav:.3g}): signals and gradients grow layer after layer "
                            "(exploding risk)")
                        rep.status = "exploding risk"
        params.append(rep)
    return InitReport(params, float(tolerance))


def _table(header, rows, align) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()
    return "\n".join([line(header)] + [line(r) for r in rows])
