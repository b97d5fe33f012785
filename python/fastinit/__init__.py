"""fastinit: fast, reproducible neural-network weight initialization.

Fills NumPy arrays in place from a counter-based Philox4x32-10 stream, multithreaded and
SIMD-accelerated, with every element's value a pure function of (seed, stream, global index,
parameters, dtype). See docs/stream.md for the contract.
"""

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "fastinit's compiled core (fastinit._core) failed to import: "
        f"{exc}. Rebuild it with `pip install --force-reinstall --no-deps .` from the source "
        "tree (needs a C++17 compiler and CMake)."
    ) from exc

from ._fills import (
    constant_,
    normal_,
    ones_,
    random_raw_,
    trunc_normal_,
    truncated_normal_,
    uniform_,
    zeros_,
)
from ._random import Generator, default_generator, manual_seed
from ._catalogue import (
    TRUNCATED_STD_CORRECTION,
    calculate_gain,
    compute_fans,
    delta_orthogonal_,
    dirac_,
    eye_,
    glorot_normal_,
    glorot_uniform_,
    he_normal_,
    he_uniform_,
    identity_,
    kaiming_normal_,
    kaiming_uniform_,
    lecun_normal_,
    lecun_uniform_,
    orthogonal_,
    sparse_,
    variance_scaling_,
    xavier_normal_,
    xavier_uniform_,
)

__version__ = _core.__version__

get_num_threads = _core.get_num_threads


def set_num_threads(n: int) -> None:
    """Threads used by fills (default: the CPUs this process may use). Values never change."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _core.set_num_threads(n)


def simd_level() -> str:
    """The instruction set the kernels use: 'avx512', 'avx2' or 'scalar' (FASTINIT_SIMD forces one)."""
    return _core.simd_level()


def set_simd_level(level: str) -> None:
    """Forces a SIMD level ('scalar', 'avx2', 'avx512'); the values never change, only speed."""
    _core.set_simd_level(level)


__all__ = [
    "Generator",
    "TRUNCATED_STD_CORRECTION",
    "calculate_gain",
    "compute_fans",
    "delta_orthogonal_",
    "dirac_",
    "eye_",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "identity_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecun_normal_",
    "lecun_uniform_",
    "orthogonal_",
    "sparse_",
    "variance_scaling_",
    "xavier_normal_",
    "xavier_uniform_",
    "constant_",
    "default_generator",
    "get_num_threads",
    "manual_seed",
    "normal_",
    "ones_",
    "random_raw_",
    "set_num_threads",
    "set_simd_level",
    "simd_level",
    "trunc_normal_",
    "truncated_normal_",
    "uniform_",
    "zeros_",
]
