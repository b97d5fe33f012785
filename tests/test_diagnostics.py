"""Signal-propagation diagnostics, LSUV and the init report (issue 8).

The verdicts are the literature's examples on small stacks: Xavier stable for tanh and
vanishing for deep ReLU, He stable for ReLU, N(0, 0.01) vanishing, N(0, 1) exploding, zeros
symmetric, LeCun normal + SELU self-normalising.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import cli, propagation as P

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = dict(depth=24, width=128, batch=128, seed=0)


# ---- verdicts -------------------------------------------------------------------------------
@pytest.mark.parametrize("activation, init, verdict", [
    ("tanh", "xavier_normal", "stable"),
    ("tanh", "xavier_uniform", "stable"),
    ("relu", "xavier_normal", "vanishing"),
    ("relu", "kaiming_normal", "stable"),
    ("relu", "kaiming_uniform", "stable"),
    ("relu", "he_normal", "stable"),
    ("relu", "orthogonal:relu", "stable"),
    ("relu", "normal:0.01", "vanishing"),
    ("tanh", "normal:0.01", "vanishing"),
    ("relu", "normal:1", "exploding"),
    ("tanh", "normal:1", "exploding"),
    ("relu", "zeros", "symmetric"),
    ("tanh", "zeros", "symmetric"),
    ("sigmoid", "zeros", "symmetric"),
    ("relu", "ones", "symmetric"),
    ("selu", "lecun_normal", "stable"),
])
def test_literature_verdicts(activation, init, verdict):
    r = P.propagate(init, activation, **SMALL)
    assert r.verdict == verdict, f"{init} + {activation}: {r.verdict} ({r.reason})"
    assert r.depth == SMALL["depth"] and len(r.layers) == SMALL["depth"]
    assert r.reason


def test_lecun_normal_selu_is_self_normalising():
    r = P.propagate("lecun_normal", "selu", **SMALL)
    assert r.self_normalizing, r.reason
    assert np.all(np.abs(r.column("act_mean")) <= P.SELF_NORMALIZING_TOL)
    assert np.all(np.abs(r.column("act_std") - 1) <= P.SELF_NORMALIZING_TOL)
    # He's gain sqrt(2) pushes SELU off its (0, 1) fixed point
    assert not P.propagate("kaiming_normal", "selu", **SMALL).self_normalizing


def test_nine_layer_linear_stack_grows_or_decays_exponentially():
    kw = dict(depth=9, width=128, batch=64)
    assert P.propagate("xavier_normal", "linear", **kw).verdict == "stable"
    small = P.propagate("normal:0.01", "linear", **kw)
    big = P.propagate("normal:1", "linear", **kw)
    assert (small.verdict, big.verdict) == ("vanishing", "exploding")
    # each layer multiplies the std by about std_w * sqrt(width)
    per_layer = np.diff(np.log10(big.column("preact_std")))
    assert np.allclose(per_layer, math.log10(math.sqrt(128)), atol=0.1)


def test_symmetric_reason_and_dead_units():
    r = P.propagate("zeros", "relu", **SMALL)
    assert r.layers[0].unit_spread == 0
    assert "layer 1" in r.reason
    assert r.layers[0].dead == 1.0  # ReLU'(0) = 0: every unit passes no gradient
    he = P.propagate("kaiming_normal", "relu", **SMALL)
    assert 0.4 < he.layers[0].saturated < 0.6  # ReLU is flat on about half its inputs
    assert np.all(he.column("unit_spread") > 0.5)


def test_tanh_with_large_weights_saturates():
    r = P.propagate("normal:1", "tanh", **SMALL)
    assert r.layers[-1].saturated > 0.5
    assert P.propagate("xavier_normal", "tanh", **SMALL).layers[-1].saturated < 0.05


# ---- numerics -------------------------------------------------------------------------------
def _reference(fill, activation, depth, width, batch, seed):
    """The same stack, naively in float64 without any rescaling (for moderate depths only)."""
    x = np.empty((batch, width), np.float32)
    fastinit.normal_(x, seed=seed, stream=0)
    h = x.astype(np.float64)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    acts = {
        "relu": lambda z: (np.maximum(z, 0), (z > 0) * 1.0),
        "tanh": lambda z: (np.tanh(z), 1 - np.tanh(z) ** 2),
        "sigmoid": lambda z: (1 / (1 + np.exp(-z)), np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "selu": lambda z: (np.where(z > 0, lam * z, lam * alpha * np.expm1(np.minimum(z, 0))),
                           np.where(z > 0, lam, lam * alpha * np.exp(np.minimum(z, 0)))),
        "gelu": lambda z: (z * 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2))),
                           0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
                           + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
    }
    ws, fps, pre = [], [], []
    for layer in range(1, depth + 1):
        w = np.empty((width, width), np.float32)
        fill(w, seed, layer + 1)
        w = w.astype(np.float64)
        z = h @ w.T
        h, fp = acts[activation](z)
        ws.append(w), fps.append(fp), pre.append(z.std())
    g = np.empty((batch, width), np.float32)
    fastinit.normal_(g, seed=seed, stream=1)
    g = g.astype(np.float64)
    grads = [0.0] * depth
    for layer in range(depth, 0, -1):
        dz = g * fps[layer - 1]
        grads[layer - 1] = dz.std()
        g = dz @ ws[layer - 1]
    return np.array(pre), np.array(grads)


@pytest.mark.parametrize("activation, fill, spec", [
    ("relu", lambda w, s, st: fastinit.kaiming_normal_(w, seed=s, stream=st), "kaiming_normal"),
    ("tanh", lambda w, s, st: fastinit.xavier_normal_(w, seed=s, stream=st), "xavier_normal"),
    ("sigmoid", lambda w, s, st: fastinit.xavier_uniform_(w, seed=s, stream=st), "xavier_uniform"),
    ("selu", lambda w, s, st: fastinit.lecun_normal_(w, seed=s, stream=st), "lecun_normal"),
    ("gelu", lambda w, s, st: fastinit.kaiming_normal_(w, seed=s, stream=st), "kaiming_normal"),
])
def test_matches_a_naive_float64_stack(activation, fill, spec):
    kw = dict(depth=8, width=64, batch=32, seed=3)
    r = P.propagate(spec, activation, **kw)
    pre, grads = _reference(fill, activation, **kw)
    np.testing.assert_allclose(r.column("preact_std"), pre, rtol=1e-4)
    np.testing.assert_allclose(r.column("grad_std"), grads, rtol=1e-4)


def test_tiny_and_huge_signals_are_measured_not_flushed():
    small = P.propagate("normal:0.01", "relu", depth=100, width=64, batch=32)
    big = P.propagate("normal:1", "relu", depth=100, width=64, batch=32)
    for r, sign in ((small, -1), (big, 1)):
        std = r.column("act_std")
        assert np.all(np.isfinite(std)) and np.all(std > 0)
        slopes = np.diff(np.log10(std))
        # a straight line in log scale: every layer multiplies by std_w * sqrt(64 / 2)
        expected = math.log10((0.01 if sign < 0 else 1.0) * math.sqrt(32))
        assert abs(np.median(slopes) - expected) < 0.1
    assert small.layers[-1].act_std < 1e-100 and big.layers[-1].act_std > 1e60
    tanh = P.propagate("normal:0.01", "tanh", depth=60, width=64, batch=32)
    assert 0 < tanh.layers[-1].act_std < 1e-60 and tanh.verdict == "vanishing"


@pytest.mark.parametrize("activation", P.ACTIVATIONS)
def test_every_activation_runs_deep(activation):
    r = P.propagate("kaiming_normal", activation, depth=100, width=32, batch=16)
    assert r.verdict in P.VERDICTS
    for name in ("preact_std", "act_std", "grad_std", "saturated", "dead", "unit_spread"):
        assert np.all(np.isfinite(r.column(name))), name


def test_deterministic_under_a_seed():
    a = P.propagate("he_uniform", "tanh", depth=10, width=96, batch=48, seed=7)
    b = P.propagate("he_uniform", "tanh", depth=10, width=96, batch=48, seed=7)
    c = P.propagate("he_uniform", "tanh", depth=10, width=96, batch=48, seed=8)
    assert a.layers == b.layers
    assert a.layers != c.layers


def test_widths_and_float64():
    r = P.propagate("xavier_normal", "tanh", widths=(48, 96, 32, 16), batch=32, dtype="float64")
    assert [(s.fan_in, s.fan_out) for s in r.layers] == [(48, 96), (96, 32), (32, 16)]
    assert r.dtype == "float64" and r.depth == 3


@pytest.mark.parametrize("spec", ["nope", "normal", "normal:abc", "xavier_normal:nope",
                                  "kaiming_normal:swish", "lecun_normal:2", ""])
def test_bad_initializer_specs(spec):
    with pytest.raises(ValueError):
        P.parse_init(spec)


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        P.propagate("zeros", "swish", depth=2, width=4)
    with pytest.raises(ValueError, match="depth"):
        P.propagate("zeros", "relu", depth=0, width=4)
    with pytest.raises(ValueError, match="non-finite"):
        P.propagate("normal:1e39", "relu", depth=2, width=4, batch=4)


def test_compare_and_tables():
    rs = P.compare(["kaiming_normal", "zeros"], "relu", depth=10, width=32, batch=16)
    text = P.format_results(rs, every=5)
    assert "verdict: stable" in text and "verdict: symmetric" in text
    summary = P.format_summary(rs, markdown=True)
    assert summary.startswith("| init") and "symmetric" in summary
    assert str(rs[0]).startswith("kaiming_normal + relu")


# ---- CLI ------------------------------------------------------------------------------------
CLI_ARGS = ["propagate", "--depth", "12", "--width", "64", "--batch", "32", "--activation",
            "relu", "--init", "kaiming_normal", "xavier_normal", "normal:0.01", "zeros",
            "--every", "4"]


def _has_matplotlib():
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def test_cli_propagate_table_and_plot(tmp_path, capsys):
    png = tmp_path / "prop.png"
    assert cli.main(CLI_ARGS + ["--plot", str(png)]) == 0
    out, err = capsys.readouterr()
    for verdict in ("stable", "vanishing", "symmetric"):
        assert f"verdict: {verdict}" in out
    rows = [line.split()[0] for line in out.splitlines()
            if line.strip() and line.split()[0].isdigit()]
    assert rows[:4] == ["1", "4", "8", "12"]
    assert "summary" in out
    if _has_matplotlib():
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and 1000 < len(data) < 200_000
    else:
        assert not png.exists()
        assert "matplotlib" in err and "pip install matplotlib" in err


def test_cli_plot_without_matplotlib(tmp_path, capsys, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    png = tmp_path / "prop.png"
    assert cli.main(CLI_ARGS + ["--plot", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "verdict: stable" in out  # the table is still printed
    assert "--plot needs matplotlib" in err and "pip install matplotlib" in err
    assert not png.exists()


def test_cli_markdown_and_errors(capsys):
    assert cli.main(CLI_ARGS + ["--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| layer |" in out and "**Summary**" in out
    assert cli.main(["propagate", "--init", "bogus", "--depth", "2", "--width", "8"]) == 2
    assert "unknown initializer" in capsys.readouterr().err
    assert cli.main(["propagate", "--widths", "8,x", "--init", "zeros"]) == 2


def test_cli_subprocess_plain_progress():
    proc = subprocess.run(
        [sys.executable, "-m", "fastinit", "propagate", "--depth", "6", "--width", "32",
         "--batch", "16", "--init", "lecun_normal", "--activation", "selu", "--progress",
         "plain"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: stable (self-normalising)" in proc.stdout
    assert "propagate [1/1] lecun_normal + selu: stable" in proc.stderr
    assert "\x1b" not in proc.stderr  # plain lines, no terminal codes, when not a terminal


def test_progress_plain_lines_and_auto_quiet():
    from fastinit._diagnostics_cli import _Progress

    buf = io.StringIO()  # not a terminal
    prog = _Progress("auto", 10, 1, stream=buf)
    assert prog.kind == "plain"
    r = P.propagate("zeros", "relu", depth=2, width=4, batch=4)
    prog.run_done(0, r)
    prog.close()
    assert buf.getvalue() == "propagate [1/1] zeros + relu: symmetric (%.1f s)\n" % r.seconds
    assert _Progress("none", 10, 1, stream=buf).kind == "none"


# ---- PyTorch: LSUV and the report ------------------------------------------------------------
def _layer_variances(torch, model, batch, types):
    out = {}

    def hook(name):
        def record(module, inputs, output):  # returns None: the output is left alone
            out.setdefault(name, float(output.double().var(unbiased=False)))
        return record

    hooks = [m.register_forward_hook(hook(name))
             for name, m in model.named_modules() if isinstance(m, types)]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in hooks:
            h.remove()
    return out


def _mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(),
                         nn.Linear(64, 48), nn.GELU(), nn.Linear(48, 10))


def _cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(),
                         nn.Linear(32, 10))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_lsuv_gives_unit_variance(kind):
    torch = pytest.importorskip("torch")
    from fastinit._torch_diagnostics import lsuv_

    nn = torch.nn
    torch.manual_seed(0)
    model = _mlp(torch) if kind == "mlp" else _cnn(torch)
    batch = torch.randn(64, 32) if kind == "mlp" else torch.randn(16, 3, 16, 16)
    tol = 0.1
    rep = lsuv_(model, batch, tol=tol, seed=5)
    assert rep.converged and len(rep) == 4
    assert [l.module for l in rep] == (["Linear"] * 4 if kind == "mlp"
                                       else ["Conv2d", "Conv2d", "Linear", "Linear"])
    variances = _layer_variances(torch, model, batch, (nn.Linear, nn.Conv2d))
    assert len(variances) == 4
    for name, var in variances.items():
        assert abs(var - 1) <= tol, (name, var)
    # no hooks left behind, train mode restored
    assert all(not m._forward_hooks for m in model.modules())
    assert all(m.training for m in model.modules())
    assert "final var" in str(rep)


def test_lsuv_layer_order_and_determinism():
    torch = pytest.importorskip("torch")
    from fastinit._torch_diagnostics import lsuv_

    batch = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(1)
    a = _cnn(torch)
    torch.manual_seed(2)
    b = _cnn(torch)
    ra, rb = lsuv_(a, batch, seed=11), lsuv_(b, batch, seed=11)
    assert [l.name for l in ra] == ["0", "2", "5", "7"]
    assert [l.final_var for l in ra] == [l.final_var for l in rb]
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = _cnn(torch)
    lsuv_(c, batch, seed=12)
    assert not torch.equal(a[0].weight, c[0].weight)
    # the weight is orthogonal times the LSUV scale
    w = a[7].weight.detach().double()
    gram = w @ w.T / ra[3].scale ** 2
    assert torch.allclose(gram, torch.eye(10, dtype=torch.float64), atol=1e-5)


def test_lsuv_removes_hooks_on_error():
    torch = pytest.importorskip("torch")
    from fastinit._torch_diagnostics import lsuv_

    model = _mlp(torch)
    model.eval()
    with pytest.raises(RuntimeError):
        lsuv_(model, torch.randn(4, 7))  # wrong input width
    assert all(not m._forward_hooks for m in model.modules())
    assert not any(m.training for m in model.modules())
    with pytest.raises(ValueError):
        lsuv_(torch.nn.ReLU(), torch.randn(2, 2))

    class Flaky(torch.nn.Module):  # fails on its third forward: while LSUV is measuring
        def __init__(self):
            super().__init__()
            self.a, self.b, self.calls = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), 0

        def forward(self, x):
            self.calls += 1
            if self.calls >= 3:
                raise RuntimeError("boom")
            return self.b(self.a(x))

    flaky = Flaky()
    with pytest.raises(RuntimeError, match="boom"):
        lsuv_(flaky, torch.randn(16, 4) * 5)
    assert flaky.calls == 3
    assert all(not m._forward_hooks for m in flaky.modules())
    assert all(m.training for m in flaky.modules())


def test_report_flags_zero_and_unit_normal_layers():
    torch = pytest.importorskip("torch")
    from fastinit._torch_diagnostics import report

    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 256), nn.Conv2d(3, 16, 3))
    nn.init.zeros_(model[2].weight)
    nn.init.normal_(model[4].weight, 0.0, 1.0)
    rep = report(model)
    assert rep["0.weight"].status == "ok" and not rep["0.weight"].warnings  # default Linear
    assert rep["5.weight"].status == "ok"  # default Conv2d
    assert rep["2.weight"].status == "symmetric"
    assert "all-zero" in rep["2.weight"].warnings[0]
    assert rep["4.weight"].status == "exploding risk"
    assert (rep["0.weight"].fan_in, rep["0.weight"].fan_out) == (256, 256)
    assert rep["5.weight"].fan_in == 27 and rep["5.weight"].fan_out == 144
    assert math.isclose(rep["0.weight"].he_std, math.sqrt(2 / 256))
    assert math.isclose(rep["0.weight"].xavier_std, math.sqrt(2 / 512))
    assert not rep.ok and {n for n, _ in rep.warnings} == {"2.weight", "4.weight"}
    text = str(rep)
    assert "2 warning(s)" in text and "exploding risk" in text and "Xavier std" in text


def test_report_default_linear_passes_and_small_std_flagged():
    torch = pytest.importorskip("torch")
    from fastinit._torch_diagnostics import report

    nn = torch.nn
    for shape in [(10, 1000), (1000, 10), (784, 256)]:
        assert report(nn.Linear(*shape)).ok
    tiny = nn.Linear(512, 512)
    nn.init.normal_(tiny.weight, 0.0, 1e-3)
    assert report(tiny)["weight"].status == "vanishing risk"
    const = nn.Linear(8, 8)
    nn.init.constant_(const.weight, 0.5)
    assert report(const)["weight"].status == "symmetric"


def test_cli_report(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    src = tmp_path / "my_models.py"
    src.write_text(
        "import torch\n"
        "def good():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU())\n"
        "def bad():\n"
        "    m = torch.nn.Linear(64, 64)\n"
        "    torch.nn.init.zeros_(m.weight)\n"
        "    return m\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["report", "my_models:good"]) == 0
    assert "no warnings" in capsys.readouterr().out
    assert cli.main(["report", f"{src}:bad", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "symmetric" in out and "all-zero" in out
    assert cli.main(["report", "my_models"]) == 2
    assert cli.main(["report", "my_models:missing"]) == 2
    assert cli.main(["report", "no_such_module_here:f"]) == 2      # a message, not a traceback
    assert "no module named 'no_such_module_here'" in capsys.readouterr().err
    (tmp_path / "broken_models.py").write_text("import no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError):     # an import inside the user's module: theirs
        cli.main(["report", "broken_models:f"])


@pytest.mark.parametrize("argv", [["-n", "0"], ["-n", "-5"], ["-n", "1.5"], ["-n", "x"],
                                  ["--threads", "0"], ["--repeat", "0"],
                                  ["--peer-budget", "-1"], ["--peer-budget", "nan"]])
def test_cli_bench_refuses_bad_numbers_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", *argv])
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err
