"""orthogonal_ side by side with torch.nn.init.orthogonal_ (MKL) and numpy.linalg.qr + sign fix,
and our GEMM alone against torch.matmul and the machine's peak (issue 5; docs/orthogonal.md).

Run: ``python bench/bench_orthogonal.py`` (1024^2, 2048^2, 4096^2 float32 and the GEMM) or
``python bench/bench_orthogonal.py --full`` (adds 8192^2, 4096 x 16384, 16384 x 1024 float32 and
4096^2 float64). Every library gets the same thread count (``--threads``, default 2); each
case runs the three contenders interleaved ``--repeat`` times and keeps the best time, which
is the fairest number on a shared, noisy machine. Also a tiny pytest smoke.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _set_threads_env(n: int) -> None:
    # before NumPy (OpenBLAS) and torch (MKL/OpenMP) are imported
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["FASTINIT_NUM_THREADS"] = str(n)


if __name__ == "__main__":
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument("--threads", type=int, default=2)
    _set_threads_env(_pre.parse_known_args()[0].threads)

import numpy as np  # noqa: E402

import fastinit  # noqa: E402
from fastinit import _core  # noqa: E402
from fastinit._bench import best_time  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

QUICK = [((1024, 1024), "float32"), ((2048, 2048), "float32"), ((4096, 4096), "float32")]
FULL = QUICK + [((8192, 8192), "float32"), ((4096, 16384), "float32"), ((16384, 1024), "float32"),
                ((4096, 4096), "float64")]


def qr_flops(rows: int, cols: int) -> float:
    """Householder QR (2mn^2 - 2/3 n^3) plus forming the thin Q (the same again), m >= n."""
    m, n = max(rows, cols), min(rows, cols)
    return 2.0 * (2.0 * m * n * n - 2.0 / 3.0 * n ** 3)


def gram_error(q) -> float:
    q = np.asarray(q, np.float64)
    r, c = q.shape
    g = q.T @ q if r >= c else q @ q.T
    np.fill_diagonal(g, g.diagonal() - 1.0)
    return float(np.abs(g).max())


def measure_case(shape, dtype, repeat=3, with_numpy=True, with_torch=True):
    """Best-of-`repeat` seconds and orthogonality for fastinit, torch and numpy, interleaved."""
    rows, cols = shape
    res = {"shape": shape, "dtype": dtype, "flops": qr_flops(rows, cols)}
    x = np.empty(shape, dtype)
    fastinit.zeros_(x)  # first-touch page faults are not what we measure
    contenders = {"fastinit": lambda: fastinit.orthogonal_(x, seed=1)}
    if with_torch and torch is not None:
        w = torch.zeros(shape, dtype=getattr(torch, dtype))
        contenders["torch"] = lambda: torch.nn.init.orthogonal_(w)
    if with_numpy:
        rng = np.random.default_rng(1)

        def numpy_qr():
            g = rng.standard_normal(shape, dtype=dtype)
            a = g if rows >= cols else g.T
            q, r = np.linalg.qr(a)
            q *= np.where(np.diagonal(r) >= 0, 1, -1).astype(dtype)
            return q if rows >= cols else q.T

        contenders["numpy"] = numpy_qr
    best = {name: float("inf") for name in contenders}
    outs = {}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t = time.perf_counter()
            outs[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    for name, out in outs.items():
        res[name] = best[name]
        q = out.numpy() if name == "torch" else out
        res[name + "_err"] = gram_error(q)
    return res


def measure_gemm(n=4096, repeat=3, dtype="float32"):
    a = np.asfortranarray(np.random.default_rng(0).standard_normal((n, n)).astype(dtype))
    b = np.asfortranarray(np.random.default_rng(1).standard_normal((n, n)).astype(dtype))
    c = np.zeros((n, n), dtype, order="F")
    flops = 2.0 * n ** 3
    res = {"n": n, "flops": flops}
    res["fastinit"] = best_time(lambda: _core.gemm(a, b, c), repeat)
    if torch is not None:
        ta, tb = torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b))
        res["torch"] = best_time(lambda: torch.matmul(ta, tb), repeat)
    # the register kernel on operands that stay in cache, one thread: the practical ceiling
    rng = np.random.default_rng(2)
    small = 256
    sa = np.asfortranarray(rng.standard_normal((small, small)).astype(dtype))
    sb = np.asfortranarray(rng.standard_normal((small, 240)).astype(dtype))
    sc = np.zeros((small, 240), dtype, order="F")
    threads = fastinit.get_num_threads()
    fastinit.set_num_threads(1)
    try:
        reps = 40
        t = best_time(lambda: [_core.gemm(sa, sb, sc) for _ in range(reps)], repeat)
    finally:
        fastinit.set_num_threads(threads)
    res["in_cache_1thread_gflops"] = 2.0 * small * small * 240 * reps / t / 1e9
    return res


def nominal_peak_gflops(threads: int, dtype="float32") -> tuple[float, float]:
    """cores x 2 FMA pipes x (512-bit lanes) x 2 flops x clock, with the clock from
    /proc/cpuinfo (the nominal/TSC clock under a hypervisor; turbo runs higher)."""
    ghz = 0.0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    ghz = max(ghz, float(line.split(":")[1]) / 1000)
    except OSError:
        pass
    lanes = 16 if dtype == "float32" else 8
    if _core.detected_simd_level() != "avx512":
        lanes //= 2
    return threads * 2 * lanes * 2 * ghz, ghz


def format_table(rows, threads) -> str:
    out = [f"| case | fastinit | torch ({threads} thr) | fastinit / torch | numpy qr + sign | "
           "numpy / fastinit | fastinit GFLOP/s | max|QᵀQ−I| fastinit | torch |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = "×".join(map(str, r["shape"]))
        f, t, n = r.get("fastinit"), r.get("torch"), r.get("numpy")
        out.append(
            f"| {shape} {r['dtype']} | {f:.3f} s | " + (f"{t:.3f} s | {f / t:.2f} | " if t else "– | – | ")
            + (f"{n:.3f} s | {n / f:.1f}× | " if n else "– | – | ")
            + f"{r['flops'] / f / 1e9:.0f} | {r['fastinit_err']:.2g} | "
            + (f"{r['torch_err']:.2g} |" if t else "– |"))
    return "\n".join(out)


def test_bench_orthogonal_smoke():
    res = measure_case((96, 40), "float32", repeat=1)
    assert res["fastinit"] > 0 and res["fastinit_err"] < 1e-5
    assert "fastinit" in format_table([res], 2)
    g = measure_gemm(n=64, repeat=1)
    assert g["fastinit"] > 0 and g["in_cache_1thread_gflops"] > 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for every library (default 2)")
    p.add_argument("--full", action="store_true", help="also 8192^2, 4096x16384, 16384x1024, float64")
    p.add_argument("--repeat", type=int, default=3, help="best of this many interleaved runs")
    p.add_argument("--numpy-max", type=int, default=4096,
                   help="skip numpy.linalg.qr above this many rows*cols/rows (default 4096)")
    p.add_argument("--no-gemm", action="store_true")
    p.add_argument("--peak-ghz", type=float, default=None,
                   help="the clock the cores really run at (e.g. measured with an FMA loop), for a "
                        "second peak estimate")
    args = p.parse_args(argv)
    fastinit.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"fastinit {fastinit.__version__}, SIMD {fastinit.simd_level()}, {args.threads} threads; "
          f"torch {torch.__version__ if torch is not None else '(not installed)'}; numpy {np.__version__}; "
          f"best of {args.repeat} interleaved runs")
    rows = []
    for shape, dtype in (FULL if args.full else QUICK):
        res = measure_case(shape, dtype, args.repeat,
                           with_numpy=max(shape) * min(shape) <= args.numpy_max ** 2)
        rows.append(res)
        print(format_table([res], args.threads).splitlines()[-1], flush=True)
    print()
    print(format_table(rows, args.threads))
    if not args.no_gemm:
        g = measure_gemm(4096, args.repeat)
        peak, ghz = nominal_peak_gflops(args.threads)
        lanes = round(peak / (args.threads * 2 * 2 * ghz)) if ghz else 0
        ours = g["flops"] / g["fastinit"] / 1e9
        print()
        print(f"GEMM 4096³ float32, {args.threads} threads: fastinit {ours:.0f} GFLOP/s"
              + (f", torch.matmul {g['flops'] / g['torch'] / 1e9:.0f} GFLOP/s" if "torch" in g else ""))
        print(f"  nominal peak {peak:.0f} GFLOP/s ({args.threads} cores x 2 FMA x {lanes} lanes x 2 x {ghz:.2f} GHz "
              f"from /proc/cpuinfo): fastinit at {100 * ours / peak:.0f} %"
              + (" (the cores run above the nominal clock)" if ours > peak else ""))
        if args.peak_ghz:
            turbo = args.threads * 2 * lanes * 2 * args.peak_ghz
            print(f"  peak at {args.peak_ghz:.2f} GHz: {turbo:.0f} GFLOP/s: fastinit at {100 * ours / turbo:.0f} %"
                  + (f", torch.matmul at {100 * g['flops'] / g['torch'] / 1e9 / turbo:.0f} %"
                     if "torch" in g else ""))
        print(f"  our register kernel in cache, 1 thread: {g['in_cache_1thread_gflops']:.0f} GFLOP/s "
              f"(x {args.threads} = {args.threads * g['in_cache_1thread_gflops']:.0f}: the practical ceiling; "
              f"fastinit at {100 * ours / (args.threads * g['in_cache_1thread_gflops']):.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
