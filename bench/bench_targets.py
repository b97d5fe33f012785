"""Issue 4's targets, measured side by side in one run and printed as ratios.

Run: ``python bench/bench_targets.py [-n 1e9]`` (default 1e8). Everything is best-of-N on the
same pre-touched buffer; nothing here is asserted (timings are machine facts, not tests),
except in the tiny pytest smoke, which only checks that it runs.
"""

import argparse
import timeit

import numpy as np

import fastinit
from fastinit._bench import best_time




def measure(n, repeat=5, threads=None):
    import ml_dtypes

    if threads:
        fastinit.set_num_threads(threads)
    t = fastinit.get_num_threads()
    buf = np.empty(n, np.float32)
    fastinit.zeros_(buf)
    r = {"n": n, "threads": t, "simd": fastinit.simd_level()}
    half = buf.view(np.float16)[:n]
    bf = buf.view(ml_dtypes.bfloat16)[:n]
    f64 = np.empty(n, np.float64)
    fastinit.zeros_(f64)
    ops = {
        "constant": lambda: fastinit.constant_(buf, 0.5),
        "uniform": lambda: fastinit.uniform_(buf, -0.1, 0.1, seed=1),
        "xavier_uniform": lambda: fastinit.xavier_uniform_(buf, 4096, 4096, seed=1),
        "normal": lambda: fastinit.normal_(buf, 0.0, 0.02, seed=1),
        "kaiming_normal": lambda: fastinit.kaiming_normal_(buf, 4096, 4096, seed=1),
        "trunc_normal": lambda: fastinit.trunc_normal_(buf, 0, 0.02, -0.04, 0.04, seed=1),
        "glorot_normal": lambda: fastinit.glorot_normal_(buf, 4096, 4096, seed=1),
        "normal_f16": lambda: fastinit.normal_(half, 0.0, 0.02, seed=1),
        "normal_bf16": lambda: fastinit.normal_(bf, 0.0, 0.02, seed=1),
        "normal_f64": lambda: fastinit.normal_(f64, 0.0, 0.02, seed=1),
        "uniform_f64": lambda: fastinit.uniform_(f64, -0.1, 0.1, seed=1),
    }
    # Round-robin, best of `repeat` each: a slow spell of the shared machine then hits every
    # operation alike instead of skewing the ratio of whichever ran during it.
    r.update(dict.fromkeys(ops, float("inf")))
    for _ in range(repeat):
        for name, fn in ops.items():
            r[name] = min(r[name], best_time(fn, 1))
    del f64
    fastinit.set_num_threads(1)
    r["normal_1thread"] = best_time(lambda: fastinit.normal_(buf, 0.0, 0.02, seed=1), repeat)
    fastinit.set_num_threads(t)
    rng = np.random.default_rng(1)
    r["numpy_normal"] = best_time(lambda: rng.standard_normal(out=buf, dtype=np.float32), 1)
    small = np.empty(1000, np.float32)
    k = 20000
    r["small_call_us"] = min(timeit.repeat(lambda: fastinit.uniform_(small, 0.0, 1.0, seed=1),
                                           number=k, repeat=5)) / k * 1e6
    r["small_numpy_us"] = min(timeit.repeat(lambda: rng.random(out=small, dtype=np.float32),
                                            number=k, repeat=5)) / k * 1e6
    try:
        import torch

        torch.set_num_threads(t)
        tb = torch.from_numpy(buf)
        r["torch_normal"] = best_time(lambda: torch.nn.init.normal_(tb, 0.0, 0.02), 1)
        r["torch_trunc_normal"] = best_time(
            lambda: torch.nn.init.trunc_normal_(tb, 0.0, 0.02, -0.04, 0.04), 1)
    except ImportError:
        pass
    return r


def report(r):
    c = r["constant"]
    rows = [
        ("uniform_ / constant fill", r["uniform"] / c, "<= 1.5"),
        ("xavier_uniform_ / constant fill", r["xavier_uniform"] / c, "<= 1.5"),
        ("normal_ / constant fill", r["normal"] / c, "<= 2"),
        ("kaiming_normal_ / constant fill", r["kaiming_normal"] / c, "<= 2"),
        ("trunc_normal_ (±2σ) / constant fill", r["trunc_normal"] / c, "<= 2.5"),
        ("glorot_normal_ (truncated) / constant fill", r["glorot_normal"] / c, "<= 2.5"),
        ("float16 normal_ rate / float32 rate", r["normal"] / r["normal_f16"], ">= 1"),
        ("bfloat16 normal_ rate / float32 rate", r["normal"] / r["normal_bf16"], ">= 1"),
        ("float64 normal_ time / float32 time", r["normal_f64"] / r["normal"], "<= 2"),
        ("float64 uniform_ time / float32 time", r["uniform_f64"] / r["uniform"], "<= 2"),
        ("NumPy standard_normal / fastinit normal_", r["numpy_normal"] / r["normal"], ">= 10"),
        (f"{r['threads']} threads vs 1, normal_", r["normal_1thread"] / r["normal"], ">= 1.8"),
        ("1000-element uniform_ call (µs)", r["small_call_us"], "<= 2"),
        ("  NumPy Generator.random(out=) on 1000 (µs)", r["small_numpy_us"], ""),
    ]
    if "torch_normal" in r:
        rows.append(("torch normal_ / fastinit normal_", r["torch_normal"] / r["normal"], ">= 4"))
        rows.append(("torch trunc_normal_ / fastinit trunc_normal_",
                     r["torch_trunc_normal"] / r["trunc_normal"], ">= 50"))
    print(f"n = {r['n']:.3g} float32, {r['threads']} threads, SIMD {r['simd']}; "
          f"constant fill {r['constant'] * 1e3:.1f} ms ({r['n'] / r['constant'] / 1e9:.2f} G elem/s)")
    print("| measure | value | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value:.2f} | {target} |")


def test_targets_smoke():
    r = measure(1 << 14, repeat=1)
    assert r["constant"] > 0 and r["small_call_us"] > 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-n", "--size", type=float, default=1e8)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    report(measure(int(args.size), args.repeat, args.threads))
