"""Building a GPT-style model in PyTorch: plain ``torch.nn.init`` vs ``fastinit.torch.patched()``.

The model is issue 6's: 24 layers, d = 2048, vocabulary 50257; per layer a QKV projection
(d -> 3d), an output projection (d -> d), two MLP linears (d -> 4d, 4d -> d) and two
LayerNorms, plus the token embedding: 1.31 B parameters, 5.2 GB of float32. Both builds run in
one process, side by side, with the same thread count for torch and fastinit, and the same
``torch.manual_seed``; the time is the whole constructor (allocation, first touch of the
pages and initialisation), which is what a user waits for.

    python bench/bench_model_build.py                     # the full 1.31 B model (~5.2 GB RAM)
    THP_MEM_ALLOC_ENABLE=1 python bench/bench_model_build.py   # PyTorch's huge pages (Linux)
    python bench/bench_model_build.py --layers 2 --d 256  # a quick smoke
    python bench/bench_model_build.py --ks --reinit       # + per-parameter KS test, patched vs
                                                          #   plain, and init alone (no page faults)
    python -m pytest bench/bench_model_build.py --benchmark-disable   # tiny, for CI

It also times a 1000-element ``uniform_`` call (fastinit.torch vs torch.nn.init), interleaved,
best of many rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import sys
import time
import timeit


def gpt_model(layers: int, d: int, vocab: int):
    """The GPT-style stack of issue 6 (construction only: no forward pass is needed)."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))

    return GPT()


def parameter_count(layers: int, d: int, vocab: int) -> int:
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 4 * d
    return layers * per_layer + vocab * d


def build(layers: int, d: int, vocab: int, patched: bool, seed: int = 0):
    """(model, seconds) for one build under ``torch.manual_seed(seed)``."""
    import torch

    import fastinit.torch as ft

    torch.manual_seed(seed)
    gc.collect()
    start = time.perf_counter()
    if patched:
        with ft.patched():
            model = gpt_model(layers, d, vocab)
    else:
        model = gpt_model(layers, d, vocab)
    return model, time.perf_counter() - start


def reinit(model, patched: bool, seed: int = 0) -> float:
    """Seconds for ``reset_parameters()`` of every module (memory already touched)."""
    import torch

    import fastinit.torch as ft

    modules = [m for m in model.modules() if hasattr(m, "reset_parameters")]
    torch.manual_seed(seed)
    start = time.perf_counter()
    with ft.patched() if patched else contextlib.nullcontext():
        for m in modules:
            m.reset_parameters()
    return time.perf_counter() - start


def _subsample(model, max_elements: int):
    """{name: float64 NumPy sample} of every parameter (a fixed stride, at most max_elements)."""
    out = {}
    for name, p in model.named_parameters():
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // max_elements)
        out[name] = flat[::step][:max_elements].double().numpy().copy()
    return out


def ks_report(plain: dict, patched: dict, alpha: float = 0.01) -> tuple[int, int, float, list]:
    """Two-sample KS per parameter, Bonferroni over the random ones; constants must be equal.

    Returns (random parameters tested, constant parameters, smallest p-value, failures)."""
    from scipy import stats

    import numpy as np

    random_names = [n for n in plain if np.ptp(plain[n]) > 0]
    constants = [n for n in plain if n not in random_names]
    threshold = alpha / max(1, len(random_names))
    failures, p_min = [], 1.0
    for n in constants:
        if not np.array_equal(plain[n], patched[n]):
            failures.append((n, "constant differs"))
    for n in random_names:
        p = stats.ks_2samp(plain[n], patched[n]).pvalue
        p_min = min(p_min, p)
        if p < threshold:
            failures.append((n, p))
    return len(random_names), len(constants), p_min, failures


def small_call_times(rounds: int = 30, number: int = 2000) -> tuple[float, float]:
    """Best per-call seconds of a 1000-element uniform_: (torch.nn.init, fastinit.torch)."""
    import torch

    import fastinit.torch as ft

    t = torch.empty(1000)
    plain = lambda: torch.nn.init.uniform_(t, -0.1, 0.1)  # noqa: E731
    ours = lambda: ft.uniform_(t, -0.1, 0.1)  # noqa: E731
    best_plain = best_ours = math.inf
    for _ in range(rounds):  # interleaved, so both see the same machine load
        best_plain = min(best_plain, timeit.timeit(plain, number=number) / number)
        best_ours = min(best_ours, timeit.timeit(ours, number=number) / number)
    return best_plain, best_ours


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--threads", type=int, default=2,
                        help="torch and fastinit threads (default 2, the issue's target)")
    parser.add_argument("--repeat", type=int, default=1, help="builds of each kind (best kept)")
    parser.add_argument("--ks", action="store_true",
                        help="per-parameter two-sample KS test, patched vs plain")
    parser.add_argument("--ks-sample", type=int, default=200_000,
                        help="elements sampled per parameter for --ks")
    parser.add_argument("--reinit", action="store_true",
                        help="also time reset_parameters() on an already-built model (the "
                             "initialisation alone, without allocation and first-touch page faults)")
    parser.add_argument("--no-small-call", action="store_true",
                        help="skip the 1000-element uniform_ timing")
    args = parser.parse_args(argv)

    import torch

    import fastinit

    torch.set_num_threads(args.threads)
    fastinit.set_num_threads(args.threads)
    n = parameter_count(args.layers, args.d, args.vocab)
    print(f"GPT-style model: {args.layers} layers, d={args.d}, vocab={args.vocab}: "
          f"{n / 1e9:.3f} B parameters ({4 * n / 1e9:.1f} GB float32); torch {torch.__version__}, "
          f"fastinit {fastinit.__version__} ({fastinit.simd_level()}), {args.threads} threads")
    if sys.platform.startswith("linux") and os.environ.get("THP_MEM_ALLOC_ENABLE") != "1":
        print("  (THP_MEM_ALLOC_ENABLE is not 1: PyTorch allocates 4 KiB pages, whose first touch "
              "dominates a fast build; docs/frameworks.md)")

    best = {}
    samples = {}
    for rep in range(args.repeat):
        for kind in ("plain", "patched"):
            model, seconds = build(args.layers, args.d, args.vocab, kind == "patched")
            got = sum(p.numel() for p in model.parameters())
            assert got == n, f"built {got} parameters, expected {n}"
            best[kind] = min(best.get(kind, math.inf), seconds)
            print(f"  build {rep + 1} {kind:8s} {seconds:8.3f} s", flush=True)
            if args.ks and rep == 0:
                samples[kind] = _subsample(model, args.ks_sample)
            if args.reinit and rep == 0 and kind == "patched":
                for again in ("plain", "patched"):
                    seconds = reinit(model, again == "patched")
                    best["reinit " + again] = seconds
                    print(f"  reset_parameters() {again:8s} {seconds:8.3f} s (pages already touched)",
                          flush=True)
            del model
            gc.collect()
    ratio = best["plain"] / best["patched"]
    print(f"plain torch.nn.init        {best['plain']:8.3f} s")
    print(f"fastinit.torch.patched()   {best['patched']:8.3f} s")
    print(f"speed-up                   {ratio:8.1f} x")
    if args.reinit:
        print(f"re-initialisation only     {best['reinit plain']:8.3f} s plain, "
              f"{best['reinit patched']:.3f} s patched: "
              f"{best['reinit plain'] / best['reinit patched']:.1f} x")

    status = 0
    if args.ks:
        tested, constants, p_min, failures = ks_report(samples["plain"], samples["patched"])
        print(f"KS (two-sample, {args.ks_sample} elements per parameter): {tested} random "
              f"parameters, smallest p = {p_min:.3g} (Bonferroni threshold "
              f"{0.01 / max(1, tested):.2g}); {constants} constant parameters equal to torch's; "
              f"{'all pass' if not failures else f'{len(failures)} FAIL: {failures[:5]}'}")
        status = 1 if failures else 0
    if not args.no_small_call:
        t_plain, t_ours = small_call_times()
        print(f"1000-element uniform_: torch.nn.init {t_plain * 1e6:.2f} us, fastinit.torch "
              f"{t_ours * 1e6:.2f} us per call (best of 30 x 2000, interleaved)")
    return status


# ---- pytest: a tiny build so CI keeps this file working -------------------------------------------
def test_model_build_smoke(benchmark):
    pytest = __import__("pytest")
    pytest.importorskip("torch")
    pytest.importorskip("scipy")
    layers, d, vocab = 2, 64, 1000
    model, _ = build(layers, d, vocab, patched=True)
    twin, _ = build(layers, d, vocab, patched=True)
    plain, _ = build(layers, d, vocab, patched=False)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(layers, d, vocab)
    a, b, c = (_subsample(m, 10**6) for m in (model, twin, plain))
    assert all((a[k] == b[k]).all() for k in a)  # reproducible under torch.manual_seed
    tested, constants, _, failures = ks_report(c, a)
    assert tested == 2 * 8 + 1 and constants == 2 * 4 and not failures
    benchmark.pedantic(build, args=(layers, d, vocab, True), rounds=3, iterations=1)


if __name__ == "__main__":
    sys.exit(main())
