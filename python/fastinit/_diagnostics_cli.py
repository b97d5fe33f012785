"""``python -m fastinit propagate`` and ``python -m fastinit report``: the diagnostics commands.

Registered by fastinit.cli through :func:`add_parser`. Nothing heavy is imported until a
command runs: NumPy for ``propagate``, torch for ``report``, and matplotlib (``--plot``) and
rich or tqdm (progress bars) only when they are installed and needed.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys

DEFAULT_INITS = ("kaiming_normal", "xavier_normal", "normal:0.01", "zeros")
# Runs estimated above this many floating-point operations (a second or so) show progress.
PROGRESS_FLOPS = 2e10

PLOT_MISSING = (
    "--plot needs matplotlib, which is not installed; install it with `pip install matplotlib` "
    "(the table above is complete without it)"
)


def add_parser(sub):
    from .propagation import ACTIVATIONS, INITIALIZERS

    p = sub.add_parser(
        "propagate",
        help="push random signals through a deep stack: per-layer std, dead units, verdicts",
        description=(
            "Forward a batch of N(0, 1) inputs and backward a random gradient through a stack "
            "of bias-free dense layers, once per initializer, and print per-layer statistics "
            "and a verdict per initializer: stable, vanishing, exploding or symmetric "
            "(docs/diagnostics.md explains the columns and thresholds)."
        ),
        epilog="initializers: " + ", ".join(INITIALIZERS),
    )
    p.add_argument("--depth", type=int, default=50, help="number of layers (default 50)")
    p.add_argument("--width", type=int, default=1024, help="units per layer (default 1024)")
    p.add_argument("--widths", default=None,
                   help="comma-separated widths (input, layer 1, ..., last): overrides "
                        "--depth and --width")
    p.add_argument("--batch", type=int, default=256, help="samples in the batch (default 256)")
    p.add_argument("--activation", default="relu", choices=ACTIVATIONS,
                   help="nonlinearity after every layer (default relu)")
    p.add_argument("--negative-slope", type=float, default=0.01,
                   help="leaky_relu's slope for negative inputs (default 0.01)")
    p.add_argument("--init", nargs="+", default=list(DEFAULT_INITS), metavar="SPEC",
                   help="initializers to compare (default: " + " ".join(DEFAULT_INITS) + ")")
    p.add_argument("--every", type=int, default=None, metavar="K",
                   help="show every K-th layer, plus the first and the last (default: depth/10)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="write a log-scale plot of activation and gradient std vs depth "
                        "(needs matplotlib)")
    p.add_argument("--seed", type=int, default=0, help="seed of inputs and weights (default 0)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--progress", default="auto", choices=("auto", "bar", "plain", "none"),
                   help="progress on stderr: auto (for long runs: a bar with rich or tqdm "
                        "on a terminal, plain lines otherwise), bar, plain or none")
    p.set_defaults(run=run_propagate)

    r = sub.add_parser(
        "report",
        help="per-parameter init report of a PyTorch model (needs torch)",
        description=(
            "Import TARGET = 'module:factory' (or 'path/to/file.py:factory'), call the factory "
            "with no arguments (or take the nn.Module it names) and print, per parameter, the "
            "shape, fan_in/fan_out, measured std, the std He and Xavier would give, and "
            "warnings: symmetric (all-zero or constant) weights, and stds far from both "
            "recommendations (vanishing/exploding risk)."
        ),
    )
    r.add_argument("target", metavar="TARGET", help="module:factory or file.py:factory")
    r.add_argument("--tolerance", type=float, default=3.0,
                   help="flag stds more than this factor outside the He..Xavier range "
                        "(default 3)")
    r.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any warning is raised")
    r.set_defaults(run=run_report)
    return p


# ---- progress -------------------------------------------------------------------------------
class _Progress:
    """Progress on a stream: a rich or tqdm bar on a terminal when one is installed, else one
    plain line per finished run; nothing in mode 'none'."""

    def __init__(self, mode, total_steps, n_runs, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.total = total_steps
        self.n_runs = n_runs
        self.kind = "none"
        self._bar = None
        if mode == "none":
            return
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if mode in ("auto", "bar") and (tty or mode == "bar"):
            self._bar = self._make_bar()
        if self._bar is not None:
            return
        self.kind = "plain"

    def _make_bar(self):
        try:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn)
        except ImportError:
            pass
        else:
            bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=Console(file=self.stream),
                           transient=True)
            bar.start()
            self._task = bar.add_task("propagate", total=self.total)
            self.kind = "rich"
            return bar
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        self.kind = "tqdm"
        return tqdm(total=self.total, file=self.stream, leave=False, unit="layer",
                    desc="propagate")

    def update(self, completed, label):
        if self.kind == "rich":
            self._bar.update(self._task, completed=completed, description=label)
        elif self.kind == "tqdm":
            self._bar.set_description_str(label, refresh=False)
            self._bar.update(completed - self._bar.n)

    def run_done(self, index, result):
        if self.kind == "plain":
            tag = result.verdict + (" (self-normalising)" if result.self_normalizing else "")
            print(f"propagate [{index + 1}/{self.n_runs}] {result.init} + {result.activation}: "
                  f"{tag} ({result.seconds:.1f} s)", file=self.stream, flush=True)

    def close(self):
        if self.kind == "rich":
            self._bar.stop()
        elif self.kind == "tqdm":
            self._bar.close()


# ---- propagate ------------------------------------------------------------------------------
def _error(msg) -> int:
    print(f"python -m fastinit: error: {msg}", file=sys.stderr)
    return 2


def run_propagate(args) -> int:
    from . import propagation as P

    try:
        specs = [P.parse_init(s) for s in args.init]
        if args.widths is not None:
            try:
                widths = tuple(int(w) for w in args.widths.split(",") if w.strip())
            except ValueError:
                return _error(f"--widths must be comma-separated integers, got {args.widths!r}")
            P._check_widths(None, None, widths)
        else:
            widths = P._check_widths(args.depth, args.width, None)
        if args.batch < 2:
            return _error(f"--batch must be >= 2, got {args.batch}")
        if args.every is not None and args.every < 1:
            return _error(f"--every must be >= 1, got {args.every}")
    except ValueError as exc:
        return _error(exc)
    depth = len(widths) - 1
    every = args.every if args.every is not None else max(1, depth // 10)

    flops = 4.0 * args.batch * sum(a * b for a, b in zip(widths[:-1], widths[1:])) * len(specs)
    mode = args.progress
    if mode == "auto" and flops < PROGRESS_FLOPS:
        mode = "none"
    steps = 2 * depth
    progress = _Progress(mode, steps * len(specs), len(specs))
    results = []
    try:
        for i, spec in enumerate(specs):
            label = f"{spec.spec} + {args.activation}"
            cb = None
            if progress.kind in ("rich", "tqdm"):
                cb = lambda done, total, i=i, label=label: progress.update(i * steps + done, label)
            try:
                res = P.propagate(spec, args.activation, widths=widths, batch=args.batch,
                                  seed=args.seed, dtype=args.dtype,
                                  negative_slope=args.negative_slope, progress=cb)
            except ValueError as exc:
                return _error(exc)
            results.append(res)
            progress.run_done(i, res)
    finally:
        progress.close()

    out = sys.stdout
    if args.markdown:
        print(P.format_results(results, every=every, markdown=True), file=out)
        print("\n**Summary**\n", file=out)
        print(P.format_summary(results, markdown=True), file=out)
    else:
        print(P.format_results(results, every=every), file=out)
        print("\nsummary", file=out)
        print(P.format_summary(results), file=out)
    out.flush()
    if progress.kind != "none":
        print(f"propagate: {len(results)} run(s) in {sum(r.seconds for r in results):.1f} s",
              file=sys.stderr)

    if args.plot:
        try:
            written = plot_results(results, args.plot)
        except ImportError:
            print(PLOT_MISSING, file=sys.stderr)
            return 0
        print(f"wrote {written}", file=sys.stderr)
    return 0


def plot_results(results, path):
    """Writes a two-panel log-scale plot (activation std and gradient std vs layer), one line
    per result, to ``path``; raises ImportError when matplotlib is missing."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=100)
    ax_f, ax_b = fig.subplots(1, 2)
    first = results[0]
    for r in results:
        label = f"{r.init}: {r.verdict}"
        layers = np.arange(1, r.depth + 1)
        act = r.column("act_std")
        grad = r.column("grad_std")
        if not np.any((act > 0) & np.isfinite(act)):
            label += " (identically 0: not shown)"
        for ax, ys in ((ax_f, act), (ax_b, grad)):
            ys = np.where((ys > 0) & np.isfinite(ys), ys, np.nan)
            ax.plot(layers, ys, label=label, linewidth=1.6)
    shape = (f"width {first.widths[1]}" if len(set(first.widths)) == 1
             else "widths " + "-".join(map(str, first.widths)))
    ax_f.set_title("forward: activation std")
    ax_b.set_title("backward: gradient std (dL/dz)")
    for ax in (ax_f, ax_b):
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(1, max(2, first.depth))
    ax_f.set_ylabel("std")
    handles, labels = ax_f.get_legend_handles_labels()
    ncol = min(3, len(labels))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(f"{first.activation}, depth {first.depth}, {shape}, batch {first.batch}, "
                 f"seed {first.seed}", fontsize=10)
    fig.tight_layout(rect=(0, 0.02 + 0.045 * math.ceil(len(labels) / ncol), 1, 1))
    fig.savefig(path)
    return path


# ---- report ---------------------------------------------------------------------------------
def _load_target(target):
    if ":" not in target:
        raise ValueError(f"TARGET must look like module:factory or file.py:factory, got {target!r}")
    mod_name, _, attr = target.rpartition(":")
    if not mod_name or not attr:
        raise ValueError(f"TARGET must look like module:factory or file.py:factory, got {target!r}")
    if mod_name.endswith(".py") or os.sep in mod_name:
        path = os.path.abspath(mod_name)
        if not os.path.exists(path):
            raise ValueError(f"no such file: {mod_name}")
        name = "_fastinit_report_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:  # the target itself, not an import inside it
            if exc.name is None or not (mod_name == exc.name or mod_name.startswith(exc.name + ".")):
                raise
            raise ValueError(
                f"no module named {exc.name!r} (TARGET {target!r}): run from the directory that "
                "holds it, or give path/to/file.py:factory"
            ) from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{mod_name} has no attribute {attr!r}") from None
    return obj


def run_report(args) -> int:
    try:
        import torch
    except ImportError:
        return _error("report needs PyTorch: pip install torch (or fastinit[torch])")
    from ._torch_diagnostics import report

    try:
        obj = _load_target(args.target)
    except ValueError as exc:
        return _error(exc)
    model = obj if isinstance(obj, torch.nn.Module) else obj() if callable(obj) else obj
    if not isinstance(model, torch.nn.Module):
        return _error(f"{args.target} gave a {type(model).__name__}, not a torch.nn.Module")
    rep = report(model, tolerance=args.tolerance)
    print(rep)
    return 1 if (args.strict and rep.warnings) else 0
