"""``python -m fastinit bench``: fastinit against NumPy (and PyTorch when installed) on the same
buffer, with a constant fill as the memory-bandwidth reference; everything reported as ratios
measured in this one run."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

OPERATIONS = ("uniform", "normal", "trunc_normal", "xavier_uniform", "kaiming_normal",
              "glorot_normal")
DEFAULT_N = 10**9


def _at_least(minimum, kind=int):
    """argparse type: a number >= minimum (counts given as 1e8 are accepted when whole)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if kind is int:
            if not value.is_integer():
                raise argparse.ArgumentTypeError(f"must be a whole number, got {text}")
            value = int(value)
        if not value >= minimum:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def add_parser(sub):
    p = sub.add_parser("bench", help="fastinit vs NumPy/PyTorch on one large buffer",
                       description=__doc__)
    p.add_argument("-n", "--size", type=_at_least(1), default=DEFAULT_N,
                   help="elements in the buffer (default 1e9: 4 GB of float32)")
    p.add_argument("--dtype", default="float32",
                   choices=("float32", "float64", "float16", "bfloat16"))
    p.add_argument("--threads", type=_at_least(1), default=None,
                   help="fastinit threads (default: all CPUs this process may use)")
    p.add_argument("--ops", default=",".join(OPERATIONS[:3]),
                   help=f"comma-separated, from: {', '.join(OPERATIONS)}")
    p.add_argument("--repeat", type=_at_least(1), default=3,
                   help="best of this many runs (default 3)")
    p.add_argument("--peers", default="numpy,torch",
                   help="comparisons to run: numpy, torch (skipped when not installed), none")
    p.add_argument("--peer-budget", type=_at_least(0.0, float), default=30.0,
                   help="skip repeats of a peer run slower than this many seconds (default 30)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.set_defaults(run=run)
    return p


def best_time(fn, repeat, budget=math.inf):
    """Best wall time of ``repeat`` calls of ``fn`` (at least one); stops early once a call
    takes longer than ``budget`` seconds. The bench/ scripts time with it too."""
    best = math.inf
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        best = min(best, elapsed)
        if elapsed > budget:
            break
    return best


def _fastinit_op(name):
    import fastinit as fi

    return {
        "uniform": lambda a: fi.uniform_(a, -0.1, 0.1, seed=1),
        "normal": lambda a: fi.normal_(a, 0.0, 0.02, seed=1),
        "trunc_normal": lambda a: fi.trunc_normal_(a, 0.0, 0.02, -0.04, 0.04, seed=1),
        "xavier_uniform": lambda a: fi.xavier_uniform_(a, 4096, 4096, seed=1),
        "kaiming_normal": lambda a: fi.kaiming_normal_(a, 4096, 4096, seed=1),
        "glorot_normal": lambda a: fi.glorot_normal_(a, 4096, 4096, seed=1),
    }[name]


def _numpy_op(name, rng):
    if name in ("uniform", "xavier_uniform"):
        return "Generator.random(out=)", lambda a: rng.random(out=a, dtype=a.dtype)
    if name in ("normal", "kaiming_normal"):
        return "Generator.standard_normal(out=)", lambda a: rng.standard_normal(out=a, dtype=a.dtype)
    return None, None


# torch's xavier/kaiming/glorot on a flat buffer would need its shape for the fans; they are
# uniform_/normal_/trunc_normal_ with the bound or std that fans (4096, 4096) give, so the
# peer runs exactly that (same parameters as the fastinit row).
_XAVIER_BOUND = math.sqrt(6.0 / 8192)
_KAIMING_STD = math.sqrt(2.0 / (1 + 0.01**2)) / math.sqrt(4096)
_GLOROT_STD = math.sqrt(1.0 / 4096) / 0.87962566103423978


def _torch_op(name, torch):
    init = torch.nn.init
    return {
        "uniform": ("nn.init.uniform_", lambda t: init.uniform_(t, -0.1, 0.1)),
        "normal": ("nn.init.normal_", lambda t: init.normal_(t, 0.0, 0.02)),
        "trunc_normal": ("nn.init.trunc_normal_",
                         lambda t: init.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04)),
        "xavier_uniform": ("nn.init.uniform_ (xavier bound)",
                           lambda t: init.uniform_(t, -_XAVIER_BOUND, _XAVIER_BOUND)),
        "kaiming_normal": ("nn.init.normal_ (kaiming std)",
                           lambda t: init.normal_(t, 0.0, _KAIMING_STD)),
        "glorot_normal": ("nn.init.trunc_normal_ (glorot std, ±2σ)",
                          lambda t: init.trunc_normal_(t, 0.0, _GLOROT_STD, -2 * _GLOROT_STD,
                                                       2 * _GLOROT_STD)),
    }[name]


def run(args) -> int:
    import fastinit as fi

    n = int(args.size)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = [o for o in ops if o not in OPERATIONS]
    if unknown:
        print(f"unknown operation(s) {unknown}; choose from {', '.join(OPERATIONS)}",
              file=sys.stderr)
        return 2
    if args.threads is not None:
        fi.set_num_threads(args.threads)
    if args.dtype == "bfloat16":
        import ml_dtypes

        dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        dtype = np.dtype(args.dtype)
    peers = {p.strip() for p in args.peers.split(",")}
    torch: Any = None
    if "torch" in peers:
        try:
            import torch as _torch
        except ImportError:
            _torch = None
        torch = _torch
    numpy_ok = "numpy" in peers and dtype in (np.float32, np.float64)

    buf = np.empty(n, dtype)
    from ._progress import Progress

    progress = Progress(2 + len(ops) * (1 + numpy_ok + (torch is not None)), "bench")
    progress.step(f"touching {buf.nbytes / 1e9:.1f} GB")
    fi.zeros_(buf)
    rows = []  # (operation, implementation, seconds)
    progress.step("bandwidth reference")
    t_const = best_time(lambda: fi.constant_(buf, 0.5), args.repeat)
    rows.append(("constant (bandwidth reference)", f"fastinit.constant_, {fi.get_num_threads()} threads", t_const))
    t_np_fill = best_time(lambda: buf.fill(0.5), args.repeat)
    rows.append(("constant (bandwidth reference)", "ndarray.fill, 1 thread", t_np_fill))
    tbuf = None
    if torch is not None:
        if args.dtype == "bfloat16":  # torch cannot wrap ml_dtypes' bfloat16: share the bits
            tbuf = torch.from_numpy(buf.view(np.uint16)).view(torch.bfloat16)
        else:
            tbuf = torch.from_numpy(buf)
        t_torch_fill = best_time(lambda: tbuf.fill_(0.5), args.repeat)
        rows.append(("constant (bandwidth reference)",
                     f"torch fill_, {torch.get_num_threads()} threads", t_torch_fill))
    results = {}
    rng = np.random.default_rng(1)
    for op in ops:
        progress.step(f"{op}: fastinit")
        fn = _fastinit_op(op)
        t = best_time(lambda: fn(buf), args.repeat)
        results[op] = t
        rows.append((op, "fastinit", t))
        if numpy_ok:
            label, np_fn = _numpy_op(op, rng)
            progress.step(f"{op}: numpy")
            if np_fn is not None:
                rows.append((op, f"numpy {label}", best_time(lambda: np_fn(buf), args.repeat, args.peer_budget)))
        if tbuf is not None:
            label, t_fn = _torch_op(op, torch)
            progress.step(f"{op}: torch")
            rows.append((op, f"torch {label}", best_time(lambda: t_fn(tbuf), args.repeat, args.peer_budget)))
    progress.close()

    print(f"fastinit {fi.__version__} bench: {n:.3g} {dtype.name} elements "
          f"({buf.nbytes / 1e9:.2f} GB), {fi.get_num_threads()} fastinit threads, SIMD "
          f"{fi.simd_level()}, best of {args.repeat}")
    header = ("operation", "implementation", "seconds", "G elem/s", "× constant fill", "fastinit speed-up")
    table = []
    for op, impl, t in rows:
        speedup = ""
        if op in results and impl != "fastinit":
            speedup = f"{t / results[op]:.1f}×"
        table.append((op, impl, f"{t:.3f}", f"{n / t / 1e9:.2f}", f"{t / t_const:.2f}", speedup))
    _print_table(header, table, args.markdown)
    return 0


def _print_table(header, rows, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt.format(*r))
