"""Memory behaviour of a big fill: peak RSS growth (no O(n) temporaries) and first-touch cost.

Run: ``python bench/bench_memory.py [--gb 4]``. Each measurement runs in a fresh subprocess so
that peak RSS (ru_maxrss) belongs to that measurement alone. Also a tiny pytest smoke.
"""

import argparse
import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, fastinit
    n, mode = int(sys.argv[1]), sys.argv[2]
    def peak():  # bytes on Linux (ru_maxrss is in KiB)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {}
    if mode == "rss":
        a = np.empty(n, np.float32)
        fastinit.zeros_(a)                     # touch every page first
        before = peak()
        fastinit.normal_(a, std=0.02, seed=1)
        fastinit.trunc_normal_(a, std=0.02, a=-0.04, b=0.04, seed=1)
        b16 = a.view(np.float16)[: n]          # same pages, float16 output
        fastinit.normal_(b16, std=0.02, seed=1)
        out["rss_growth_bytes"] = peak() - before
    elif mode == "fresh_fastinit":
        t = time.perf_counter(); a = np.empty(n, np.float32); fastinit.normal_(a, std=0.02, seed=1)
        out["seconds"] = time.perf_counter() - t
    elif mode == "fresh_numpy":
        rng = np.random.default_rng(1)
        t = time.perf_counter(); a = np.empty(n, np.float32); rng.standard_normal(out=a, dtype=np.float32)
        out["seconds"] = time.perf_counter() - t
    elif mode == "fresh_constant":
        t = time.perf_counter(); a = np.empty(n, np.float32); fastinit.constant_(a, 0.5)
        out["seconds"] = time.perf_counter() - t
    elif mode == "fresh_numpy_fill":
        t = time.perf_counter(); a = np.empty(n, np.float32); a.fill(0.5)
        out["seconds"] = time.perf_counter() - t
    print(json.dumps(out))
    """
)


def run(n, mode):
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), mode], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(n):
    res = {"rss_growth_bytes": run(n, "rss")["rss_growth_bytes"]}
    for mode in ("fresh_fastinit", "fresh_numpy", "fresh_constant", "fresh_numpy_fill"):
        res[mode] = run(n, mode)["seconds"]
    return res


def test_memory_bench_smoke():
    res = measure(1 << 16)
    assert res["rss_growth_bytes"] < 64 << 20


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gb", type=float, default=4.0, help="float32 buffer size in GB (default 4)")
    args = p.parse_args()
    n = int(args.gb * 1e9 / 4)
    res = measure(n)
    print(f"buffer: {n:.3g} float32 ({args.gb:g} GB)")
    print(f"peak RSS growth during normal_/trunc_normal_/float16 fills of a touched buffer: "
          f"{res['rss_growth_bytes'] / 2**20:.1f} MiB")
    print("never-touched buffer (np.empty + fill, first-touch page faults included):")
    for mode in ("fresh_fastinit", "fresh_numpy", "fresh_constant", "fresh_numpy_fill"):
        print(f"  {mode:18s} {res[mode]:.3f} s")
    print(f"  fastinit.normal_ vs numpy standard_normal: {res['fresh_numpy'] / res['fresh_fastinit']:.1f}x faster")
    print(f"  fastinit.constant_ vs ndarray.fill:        {res['fresh_numpy_fill'] / res['fresh_constant']:.2f}x faster")
