"""The runtime: thread count, SIMD level, environment overrides, fork safety and concurrent
callers. None of them may change a value (docs/stream.md)."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastinit
from fastinit import _core

from conftest import assert_same_bytes, available_simd_levels

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)

SUBPROCESS_TIMEOUT = 60


def digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


# A fixed set of fills whose hashes the subprocess tests compare with this process's.
PROBE = r"""
import hashlib, json, math, sys
import numpy as np
import ml_dtypes
import fastinit

def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()

out = {"threads": fastinit.get_num_threads(), "simd": fastinit.simd_level(), "hashes": []}
for dtype in (np.float32, np.float64, ml_dtypes.bfloat16):
    out["hashes"].append(digest(fastinit.uniform_(np.empty(100_003, dtype), -1, 2, seed=5)))
    out["hashes"].append(digest(fastinit.normal_(np.empty(100_003, dtype), seed=5, stream=2)))
    out["hashes"].append(digest(fastinit.trunc_normal_(np.empty(100_003, dtype), seed=5)))
    out["hashes"].append(digest(fastinit.trunc_normal_(np.empty(50_001, dtype), 0, 1, 2.5,
                                                       math.inf, seed=5)))
print(json.dumps(out))
"""


def probe_here() -> list[str]:
    hashes = []
    for dtype in (np.float32, np.float64, BF16):
        hashes.append(digest(fastinit.uniform_(np.empty(100_003, dtype), -1, 2, seed=5)))
        hashes.append(digest(fastinit.normal_(np.empty(100_003, dtype), seed=5, stream=2)))
        hashes.append(digest(fastinit.trunc_normal_(np.empty(100_003, dtype), seed=5)))
        hashes.append(digest(fastinit.trunc_normal_(np.empty(50_001, dtype), 0, 1, 2.5,
                                                    float("inf"), seed=5)))
    return hashes


def run_probe(**env_overrides) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTINIT_NUM_THREADS", "FASTINIT_SIMD")}
    env.update(env_overrides)
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference_hashes():
    """The probe's hashes in this process, at 1 thread and the scalar level."""
    threads, level = fastinit.get_num_threads(), fastinit.simd_level()
    try:
        fastinit.set_num_threads(1)
        fastinit.set_simd_level("scalar")
        return probe_here()
    finally:
        fastinit.set_num_threads(threads)
        fastinit.set_simd_level(level)


# ---- thread count -----------------------------------------------------------------------------
def test_set_and_get_num_threads():
    for n in (1, 2, 3, 7, 1):
        fastinit.set_num_threads(n)
        assert fastinit.get_num_threads() == n
    with pytest.raises(ValueError, match="n must be >= 1"):
        fastinit.set_num_threads(0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        fastinit.set_num_threads(-2)
    with pytest.raises(TypeError, match="n must be an int"):
        fastinit.set_num_threads(2.0)
    with pytest.raises(TypeError, match="n must be an int"):
        fastinit.set_num_threads(True)
    with pytest.raises(TypeError, match="n must be an int"):
        fastinit.set_num_threads("2")
    assert fastinit.get_num_threads() == 1


def test_default_num_threads_is_the_cpu_count():
    env = {k: v for k, v in os.environ.items() if k != "FASTINIT_NUM_THREADS"}
    code = "import fastinit, os; print(fastinit.get_num_threads(), len(os.sched_getaffinity(0)))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT)
    assert out.returncode == 0, out.stderr
    threads, cpus = map(int, out.stdout.split())
    assert threads == cpus


def test_env_num_threads(reference_hashes):
    result = run_probe(FASTINIT_NUM_THREADS="3")
    assert result["threads"] == 3
    assert result["hashes"] == reference_hashes


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2x", ""])
def test_env_num_threads_invalid_falls_back_to_cpu_count(value):
    code = ("import fastinit, os; "
            "print(fastinit.get_num_threads() == len(os.sched_getaffinity(0)))")
    env = dict(os.environ, FASTINIT_NUM_THREADS=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


# ---- SIMD level -------------------------------------------------------------------------------
def test_simd_levels():
    best = _core.detected_simd_level()
    assert best in ("scalar", "avx2", "avx512")
    for level in available_simd_levels():
        fastinit.set_simd_level(level)
        assert fastinit.simd_level() == level
    with pytest.raises(ValueError, match="'scalar', 'avx2', 'avx512'"):
        fastinit.set_simd_level("sse9")
    for level in ("scalar", "avx2", "avx512")[len(available_simd_levels()):]:
        with pytest.raises(ValueError, match="does not support"):
            fastinit.set_simd_level(level)


def test_env_simd_scalar_same_bytes(reference_hashes):
    result = run_probe(FASTINIT_SIMD="scalar", FASTINIT_NUM_THREADS="2")
    assert result["simd"] == "scalar"
    assert result["threads"] == 2
    assert result["hashes"] == reference_hashes


def test_env_simd_best_level_same_bytes(reference_hashes):
    best = _core.detected_simd_level()
    result = run_probe(FASTINIT_SIMD=best)
    assert result["simd"] == best
    assert result["hashes"] == reference_hashes


def test_env_simd_invalid_uses_the_best_level():
    code = "import fastinit; print(fastinit.simd_level())"
    env = dict(os.environ, FASTINIT_SIMD="sse9")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _core.detected_simd_level()


# ---- fork ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_survives_fork():
    """The parent's pool has live workers at fork time; the child must build its own and fill
    with 2 threads, getting the same bytes. The child always leaves through os._exit, and the
    parent kills it if it has not answered within the timeout (a deadlock would hang)."""
    n, seed = 1_000_000, 123
    fastinit.set_num_threads(2)
    expected = digest(fastinit.normal_(np.empty(n, np.float32), seed=seed))  # pool is now up
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 1
        try:
            os.close(read_fd)
            fastinit.set_num_threads(2)
            a = fastinit.normal_(np.empty(n, np.float32), seed=seed)
            msg = f"{fastinit.get_num_threads()} {digest(a)}\n".encode()
            os.write(write_fd, msg)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        deadline = time.monotonic() + 60
        chunks = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 1.0)
            if ready:
                data = os.read(read_fd, 4096)
                if not data:
                    break
                chunks += data
        else:
            pytest.fail("the forked child did not answer within 60 s (deadlock after fork?)")
        done_pid, status = 0, 0
        while time.monotonic() < deadline:
            done_pid, status = os.waitpid(pid, os.WNOHANG)
            if done_pid:
                break
            time.sleep(0.02)
        assert done_pid == pid, "the forked child did not exit"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
        threads, child_hash = chunks.decode().split()
        assert threads == "2"
        assert child_hash == expected, f"seed={seed}: the child's fill differs"
    finally:
        os.close(read_fd)
        try:
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    # and the parent's pool still works
    assert digest(fastinit.normal_(np.empty(n, np.float32), seed=seed)) == expected


# ---- concurrent callers ------------------------------------------------------------------------
JOBS = [
    ("uniform", np.float32, 1_000_003, 1), ("normal", np.float64, 500_001, 2),
    ("trunc", np.float32, 300_007, 3), ("normal", BF16, 400_009, 4),
    ("uniform", np.float16, 1000, 5), ("trunc", np.float64, 200_003, 6),
    ("normal", np.float32, 17, 7), ("uniform", np.float64, 600_001, 8),
]


def run_job(job):
    kind, dtype, n, seed = job
    arr = np.empty(n, dtype)
    if kind == "uniform":
        return fastinit.uniform_(arr, -3.0, 3.0, seed=seed)
    if kind == "normal":
        return fastinit.normal_(arr, 0.0, 2.0, seed=seed)
    return fastinit.trunc_normal_(arr, 0.0, 1.0, -1.0, 2.0, seed=seed)


@pytest.mark.parametrize("threads", [1, 2])
def test_concurrent_fills_from_python_threads(threads):
    fastinit.set_num_threads(threads)
    sequential = [run_job(j) for j in JOBS]
    with ThreadPoolExecutor(max_workers=4) as ex:
        for _ in range(3):
            concurrent = list(ex.map(run_job, JOBS * 2))
            for job, got, want in zip(JOBS * 2, concurrent, sequential * 2):
                assert_same_bytes(got, want, job[3], f"{job[0]} {np.dtype(job[1]).name}")


def test_concurrent_fills_with_generators_and_thread_count_changes():
    """Each Python thread draws from its own Generator while another changes the thread count:
    the values are those of the sequential calls."""
    fastinit.set_num_threads(2)
    seeds = [11, 12, 13, 14]

    def work(seed):
        g = fastinit.Generator(seed)
        return [fastinit.normal_(np.empty(200_003, np.float32), generator=g) for _ in range(4)]

    want = [work(s) for s in seeds]
    stop = False

    def toggle():
        k = 0
        while not stop:
            fastinit.set_num_threads(1 + k % 3)
            k += 1
            time.sleep(0.001)

    with ThreadPoolExecutor(max_workers=5) as ex:
        toggler = ex.submit(toggle)
        got = list(ex.map(work, seeds))
        stop = True
        toggler.result(timeout=30)
    for seed, g_list, w_list in zip(seeds, got, want):
        for k, (g, w) in enumerate(zip(g_list, w_list)):
            assert_same_bytes(g, w, seed, f"call {k}")


def test_shared_generator_across_threads_hands_out_distinct_streams():
    g = fastinit.Generator(77)

    def one(_):
        stream = g.next_stream  # racy read, only for the message
        return fastinit.uniform_(np.empty(64, np.float32), generator=g), stream

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = [r for r, _ in ex.map(one, range(40))]
    assert g.next_stream == 40
    by_stream = {digest(fastinit.uniform_(np.empty(64, np.float32), seed=77, stream=s)): s
                 for s in range(40)}
    streams = sorted(by_stream[digest(r)] for r in results)
    assert streams == list(range(40)), "every stream used exactly once"
