"""fastinit vs NumPy vs PyTorch vs the memory-bandwidth reference, on the same buffer.

Run: ``FASTINIT_BENCH_N=1e8 python -m pytest bench -q`` (pytest-benchmark groups the rows by
operation; compare within a group). The side-by-side table with ratios is
``python -m fastinit bench``.
"""

import numpy as np
import pytest

import fastinit


def _rounds(n):
    """Best of 3 on big buffers (each call is long); more rounds on small ones."""
    return dict(rounds=3 if n >= 10**7 else 20, iterations=1, warmup_rounds=0)


@pytest.mark.benchmark(group="constant (bandwidth reference)")
def test_constant_fastinit(benchmark, buffer_f32):
    benchmark.pedantic(fastinit.constant_, args=(buffer_f32, 0.5), **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="constant (bandwidth reference)")
def test_constant_numpy(benchmark, buffer_f32):
    benchmark.pedantic(buffer_f32.fill, args=(0.5,), **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="uniform")
def test_uniform_fastinit(benchmark, buffer_f32):
    benchmark.pedantic(lambda: fastinit.uniform_(buffer_f32, -0.1, 0.1, seed=1),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="uniform")
def test_uniform_numpy(benchmark, buffer_f32):
    rng = np.random.default_rng(1)
    benchmark.pedantic(lambda: rng.random(out=buffer_f32, dtype=np.float32),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="uniform")
def test_uniform_torch(benchmark, buffer_f32, torch_mod):
    t = torch_mod.from_numpy(buffer_f32)
    benchmark.pedantic(lambda: torch_mod.nn.init.uniform_(t, -0.1, 0.1),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="normal")
def test_normal_fastinit(benchmark, buffer_f32):
    benchmark.pedantic(lambda: fastinit.normal_(buffer_f32, 0.0, 0.02, seed=1),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="normal")
def test_normal_numpy(benchmark, buffer_f32):
    rng = np.random.default_rng(1)
    benchmark.pedantic(lambda: rng.standard_normal(out=buffer_f32, dtype=np.float32),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="normal")
def test_normal_torch(benchmark, buffer_f32, torch_mod):
    t = torch_mod.from_numpy(buffer_f32)
    benchmark.pedantic(lambda: torch_mod.nn.init.normal_(t, 0.0, 0.02),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="trunc_normal")
def test_trunc_normal_fastinit(benchmark, buffer_f32):
    benchmark.pedantic(lambda: fastinit.trunc_normal_(buffer_f32, 0.0, 0.02, -0.04, 0.04, seed=1),
                       **_rounds(buffer_f32.size))


@pytest.mark.benchmark(group="trunc_normal")
def test_trunc_normal_torch(benchmark, buffer_f32, torch_mod):
    t = torch_mod.from_numpy(buffer_f32)
    benchmark.pedantic(lambda: torch_mod.nn.init.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04),
                       rounds=1, iterations=1)


@pytest.mark.benchmark(group="small call (1000 elements)")
def test_small_fastinit(benchmark):
    a = np.empty(1000, np.float32)
    benchmark(fastinit.uniform_, a, 0.0, 1.0, seed=1)


@pytest.mark.benchmark(group="small call (1000 elements)")
def test_small_numpy(benchmark):
    a = np.empty(1000, np.float32)
    rng = np.random.default_rng(1)
    benchmark(rng.random, out=a, dtype=np.float32)


def test_cli_smoke(capsys):
    from fastinit.cli import main

    assert main(["bench", "-n", "2e4", "--repeat", "1", "--ops", "uniform,normal,trunc_normal"]) == 0
    out = capsys.readouterr().out
    assert "constant (bandwidth reference)" in out and "fastinit" in out
