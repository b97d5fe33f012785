# Type stubs for fastinit._core, the private pybind11 extension (cpp/bindings/). The public
# API is the fastinit package; these describe what it calls. Checked by mypy in CI, and
# tests/test_robustness.py checks that every function of the module has a stub here.
from collections.abc import Sequence
from typing import Optional, Tuple

import numpy as np

__version__: str

# ---- runtime (register_runtime.cpp) ----
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def simd_level() -> str: ...
def detected_simd_level() -> str: ...
def set_simd_level(level: str) -> None: ...

# ---- fills (register_fill.cpp) ----
# trunc: (method, alpha, beta, lambda, mode, flip), see fastinit._fills.truncation_plan.
_TruncPlan = Tuple[int, float, float, float, float, bool]

def fill(
    arr: np.ndarray,
    dtype_code: int,
    seed: int,
    stream: int,
    kind: int,
    loc: float,
    scale: float,
    clamp_lo: float,
    clamp_hi: float,
    trunc: Optional[_TruncPlan] = None,
    global_shape: Optional[Sequence[int]] = None,
    offset: Optional[Sequence[int]] = None,
    base_index: int = 0,
) -> None: ...
def random_raw(
    out: np.ndarray,
    seed: int,
    stream: int,
    first_block: int,
    phase: int,
    sub_stream: int = 0,
) -> None: ...

# ---- orthogonal and gemm (register_orthogonal.cpp) ----
def orthogonal_from_gaussian(a: np.ndarray) -> None: ...
def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> None: ...
