"""Each rank does only its share: time a sharded fill against the whole tensor (1 thread).

Run: ``python bench/bench_shards.py [--size 8192]``; also a tiny pytest smoke."""

import argparse

import numpy as np

import fastinit
from fastinit._bench import best_time




def measure(size=8192, repeat=5):
    fastinit.set_num_threads(1)
    g = (size, size)
    cases = {"whole": ((size, size), (0, 0)), "quarter by rows": ((size // 4, size), (size // 4, 0)),
             "quarter by columns": ((size, size // 4), (0, size // 4)),
             "2x2 block": ((size // 2, size // 2), (size // 2, size // 2))}
    times = {}
    for name, (shape, offset) in cases.items():
        a = np.zeros(shape, np.float32)
        times[name] = best_time(lambda: fastinit.normal_(a, std=0.02, seed=1, global_shape=g,
                                                         offset=offset), repeat)
    return times


def test_shard_bench_smoke():
    times = measure(64, repeat=1)
    assert set(times) == {"whole", "quarter by rows", "quarter by columns", "2x2 block"}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=8192)
    args = p.parse_args()
    times = measure(args.size)
    whole = times["whole"]
    for name, t in times.items():
        print(f"{name:20s} {t * 1e3:8.1f} ms   {whole / t:5.2f}x less than the whole tensor")
