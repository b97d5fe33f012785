"""Shared buffers for the benchmark suite. Size: FASTINIT_BENCH_N (default 1e9 for a manual
run; CI runs a tiny smoke with FASTINIT_BENCH_N=100000 --benchmark-disable)."""

import os

import numpy as np
import pytest

import fastinit


def bench_size() -> int:
    return int(float(os.environ.get("FASTINIT_BENCH_N", "1e9")))


@pytest.fixture(scope="session")
def buffer_f32():
    buf = np.empty(bench_size(), np.float32)
    fastinit.zeros_(buf)  # pre-touch: page faults are not what we measure here
    return buf


@pytest.fixture(scope="session")
def torch_mod():
    return pytest.importorskip("torch")
