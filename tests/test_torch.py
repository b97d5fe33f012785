"""fastinit.torch: the drop-in for torch.nn.init (docs/frameworks.md)."""

import inspect
import math
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402

stats = pytest.importorskip("scipy.stats")

INIT = torch.nn.init
TORCH_ORIGINALS = {name: getattr(INIT, name) for name in INIT.__all__}
FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
ALIASES = ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


@pytest.fixture(autouse=True)
def _never_leave_patched():
    yield
    ft.unpatch()
    for name, fn in TORCH_ORIGINALS.items():
        assert getattr(INIT, name) is fn, f"torch.nn.init.{name} was not restored"


def bits(t):
    """The tensor's values as integers of the same width (exact comparison, NaN-safe)."""
    t = t.detach().contiguous()
    view = {8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()]
    return t.view(view).numpy()


def numpy_twin(shape, dtype):
    """An empty NumPy array of the dtype fastinit's NumPy API would fill for this tensor."""
    if dtype == torch.bfloat16:
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return np.empty(shape, ml_dtypes.bfloat16)
    return np.empty(shape, torch.empty(0, dtype=dtype).numpy().dtype)


def np_bits(a):
    return np.ascontiguousarray(a).view(f"i{a.dtype.itemsize}")


def draw_seed(generator=None):
    """The documented mapping: one full-range int64 from the torch generator, as uint64."""
    x = torch.empty((), dtype=torch.int64).random_(-(2**63), None, generator=generator)
    return int(x) & (2**64 - 1)


# ---- surface ------------------------------------------------------------------------------------
def test_import_fastinit_does_not_import_torch():
    code = "import sys, fastinit; assert 'torch' not in sys.modules, 'fastinit imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_gives_an_import_error_naming_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import fastinit.torch\nexcept ImportError as e:\n"
            "    assert 'pip install fastinit[torch]' in str(e), e\n"
            "else:\n    raise SystemExit('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_torch_init_function_is_here():
    missing = [n for n in INIT.__all__ if not callable(getattr(ft, n, None))]
    assert not missing
    assert set(INIT.__all__) <= set(ft.__all__)


@pytest.mark.parametrize("name", [n for n in torch.nn.init.__all__ if n not in ALIASES])
def test_signature_equals_torch(name):
    ours, theirs = inspect.signature(getattr(ft, name)), inspect.signature(getattr(INIT, name))
    assert ours == theirs, f"{name}: {ours} != {theirs}"


@pytest.mark.parametrize("name", ALIASES)
def test_deprecated_alias_signature_and_warning(name):
    if not hasattr(INIT, name):
        pytest.skip(f"torch {torch.__version__} has no nn.init.{name}")
    ours, theirs = inspect.signature(getattr(ft, name)), inspect.signature(getattr(INIT, name))
    strip = lambda s: [(p.name, p.kind, p.default) for p in s.parameters.values()]  # noqa: E731
    assert strip(ours) == strip(theirs)  # (*args, **kwargs); torch annotates with a ParamSpec
    args = {"constant": (0.5,), "sparse": (0.5,)}.get(name, ())
    shape = (4, 4, 3) if name == "dirac" else (4, 4)
    with pytest.warns(FutureWarning) as ours_w:
        getattr(ft, name)(torch.empty(shape), *args)
    with pytest.warns(FutureWarning) as theirs_w:
        getattr(INIT, name)(torch.empty(shape), *args)
    assert [str(w.message) for w in ours_w] == [str(w.message) for w in theirs_w]
    assert ours_w[0].filename == __file__  # stacklevel points at the caller


def test_calculate_gain_identical():
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        for param in ([None, 0.2, 3] if nl == "leaky_relu" else [None]):
            ours, theirs = ft.calculate_gain(nl, param), INIT.calculate_gain(nl, param)
            assert ours == theirs and type(ours) is type(theirs)


# ---- values: fastinit's stream, every dtype, every layout ---------------------------------------
RANDOM_CASES = {
    # name: (torch call, the same fill through fastinit's NumPy API)
    "uniform_": (lambda t, g: ft.uniform_(t, -0.3, 0.7, generator=g),
                 lambda a, g: fastinit.uniform_(a, -0.3, 0.7, generator=g)),
    "normal_": (lambda t, g: ft.normal_(t, 0.5, 2.0, generator=g),
                lambda a, g: fastinit.normal_(a, 0.5, 2.0, generator=g)),
    "trunc_normal_": (lambda t, g: ft.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04, generator=g),
                      lambda a, g: fastinit.trunc_normal_(a, 0.0, 0.02, -0.04, 0.04, generator=g)),
    "kaiming_uniform_": (lambda t, g: ft.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
                         lambda a, g: fastinit.kaiming_uniform_(a, a=math.sqrt(5), generator=g)),
    "kaiming_normal_": (lambda t, g: ft.kaiming_normal_(t, mode="fan_out", nonlinearity="relu",
                                                        generator=g),
                        lambda a, g: fastinit.kaiming_normal_(a, mode="fan_out",
                                                              nonlinearity="relu", generator=g)),
    "orthogonal_": (lambda t, g: ft.orthogonal_(t, 0.5, generator=g),
                    lambda a, g: fastinit.orthogonal_(a, 0.5, generator=g)),
    "sparse_": (lambda t, g: ft.sparse_(t, 0.3, 0.05, generator=g),
                lambda a, g: fastinit.sparse_(a, 0.3, 0.05, generator=g)),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(RANDOM_CASES))
def test_values_are_fastinits_numpy_values(name, dtype):
    ours, reference = RANDOM_CASES[name]
    shape = (24, 40)
    t = torch.empty(shape, dtype=dtype)
    assert ours(t, fastinit.Generator(11)) is t
    a = numpy_twin(shape, dtype)
    reference(a, fastinit.Generator(11))
    np.testing.assert_array_equal(bits(t), np_bits(a))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_xavier_matches_fastinit(dtype):
    # fastinit's catalogue groups sqrt(3) * gain * sqrt(...) differently: equal to rounding.
    for ours, ref in [(ft.xavier_uniform_, fastinit.xavier_uniform_),
                      (ft.xavier_normal_, fastinit.xavier_normal_)]:
        t = torch.empty(30, 20, 3, dtype=dtype)
        ours(t, gain=2.0, generator=fastinit.Generator(3))
        a = numpy_twin(t.shape, dtype)
        ref(a, gain=2.0, generator=fastinit.Generator(3))
        tol = {torch.float64: 1e-14, torch.float32: 1e-6}.get(dtype, 1e-2)
        np.testing.assert_allclose(t.double().numpy(), a.astype(np.float64), rtol=tol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_bounds_hold_in_every_dtype(dtype):
    t = torch.empty(100_000, dtype=dtype)
    ft.uniform_(t, -1.0, 1.0)
    assert t.min() >= -1 and t.max() < 1  # rounding never produces b
    ft.trunc_normal_(t, 0.0, 1.0, -0.5, 0.5)
    assert t.min() >= -0.5 and t.max() <= 0.5
    ft.normal_(t)
    assert torch.isfinite(t).all() and 0.9 < t.double().std() < 1.1


def test_bfloat16_needs_no_ml_dtypes():
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import torch, fastinit.torch as ft\n"
            "t = ft.normal_(torch.empty(1000, dtype=torch.bfloat16))\n"
            "assert 0.8 < float(t.float().std()) < 1.2\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("make", [
    lambda base: base.t(),                     # transposed
    lambda base: base[:, ::3],                 # strided columns
    lambda base: base[2:9, 1:7],               # a window
    lambda base: base.view(6, 3, 20).permute(2, 0, 1),  # 3-D permuted
], ids=["transposed", "strided", "window", "permuted"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_non_contiguous_tensors(make, dtype):
    base = torch.full((18, 20), 7.0, dtype=dtype)
    view = make(base)
    assert not view.is_contiguous()
    before = base.clone()
    ft.normal_(view, generator=fastinit.Generator(5))
    # the view holds the values a contiguous tensor of its shape gets, in logical order
    ref = ft.normal_(torch.empty(view.shape, dtype=dtype), generator=fastinit.Generator(5))
    np.testing.assert_array_equal(bits(view), bits(ref))
    # and nothing outside the view was written
    mask = torch.ones_like(base, dtype=torch.bool)
    make(mask).fill_(False)
    assert torch.equal(base[mask], before[mask])


def test_orthogonal_non_contiguous_where_torch_refuses():
    t = torch.empty(4, 3, 2).transpose(0, 2)  # torch's view_as() raises on this one
    ft.orthogonal_(t, generator=fastinit.Generator(1))
    m = t.reshape(t.shape[0], -1)
    np.testing.assert_allclose((m @ m.T).numpy(), np.eye(2), atol=1e-5)


def test_expanded_tensor_is_refused_like_torch():
    t = torch.empty(1, 4).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element"):
        ft.uniform_(t)


# ---- autograd -----------------------------------------------------------------------------------
def test_leaf_parameter_with_requires_grad():
    p = nn.Parameter(torch.empty(8, 5))
    v = p._version
    assert ft.kaiming_uniform_(p, a=math.sqrt(5)) is p
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p._version > v
    (p * 3).sum().backward()
    assert torch.equal(p.grad, torch.full_like(p, 3))
    for fn in (ft.normal_, ft.uniform_, ft.trunc_normal_, ft.xavier_normal_, ft.orthogonal_):
        fn(p)
        assert p.is_leaf and p.grad_fn is None


def test_in_place_write_is_seen_by_autograd_like_torchs():
    for init in (INIT.uniform_, ft.uniform_):
        p = nn.Parameter(torch.ones(4))
        y = (p * p).sum()
        init(p)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_inference_mode_tensors():
    with torch.inference_mode():
        t = torch.empty(64, 32)
        ft.kaiming_normal_(t)
    assert torch.isfinite(t).all() and t.std() > 0


# ---- seeding ------------------------------------------------------------------------------------
def test_manual_seed_reproduces_and_calls_differ():
    def run(seed):
        torch.manual_seed(seed)
        a, b = torch.empty(300), torch.empty(300)
        ft.normal_(a)
        ft.normal_(b)
        return a, b
    a1, b1 = run(3)
    a2, b2 = run(3)
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(a1, b1)
    assert not torch.equal(run(4)[0], a1)


@pytest.mark.parametrize("use_generator", [False, True])
def test_documented_seed_mapping(use_generator):
    g = torch.Generator().manual_seed(123) if use_generator else None
    g2 = torch.Generator().manual_seed(123) if use_generator else None
    torch.manual_seed(99)
    t = ft.uniform_(torch.empty(50, 7), -1.0, 1.0, generator=g)
    torch.manual_seed(99)
    seed = draw_seed(g2)
    ref = fastinit.uniform_(np.empty((50, 7), np.float32), -1.0, 1.0, seed=seed, stream=0)
    np.testing.assert_array_equal(t.numpy(), ref)
    # one draw per call: the generator ends where the documented draw leaves it
    if use_generator:
        assert torch.equal(g.get_state(), g2.get_state())
    else:
        state = torch.get_rng_state()
        torch.manual_seed(99)
        ft.normal_(torch.empty(10))
        assert torch.equal(torch.get_rng_state(), state)


def test_torch_generator_is_honoured_and_global_state_untouched():
    state = torch.get_rng_state()
    a = ft.xavier_uniform_(torch.empty(20, 30), generator=torch.Generator().manual_seed(8))
    b = ft.xavier_uniform_(torch.empty(20, 30), generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)


def test_fastinit_generator_is_accepted():
    state = torch.get_rng_state()
    g = fastinit.Generator(42)
    a = ft.normal_(torch.empty(100), generator=g)
    b = ft.normal_(torch.empty(100), generator=g)
    assert g.next_stream == 2 and not torch.equal(a, b)
    ref = fastinit.normal_(np.empty(100, np.float32), seed=42, stream=1)
    np.testing.assert_array_equal(b.numpy(), ref)
    assert torch.equal(torch.get_rng_state(), state)


def test_sparse_zeros_follow_the_generator():
    a = ft.sparse_(torch.empty(50, 40), 0.2, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(12345)  # PyTorch would take the zeros from here; fastinit does not
    b = ft.sparse_(torch.empty(50, 40), 0.2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert ((a == 0).sum(0) == math.ceil(0.2 * 50)).all()


# ---- torch's edge behaviour ---------------------------------------------------------------------
def outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
            result = "ok"
        except Exception as exc:  # noqa: BLE001 - comparing exactly what each raises
            result = f"{type(exc).__name__}: {exc}"
    return result, [(w.category, str(w.message)) for w in caught]


EDGE_CASES = {
    "uniform a>b": lambda m: m.uniform_(torch.empty(4), 1, 0),
    "uniform to=inf": lambda m: m.uniform_(torch.empty(4), 0, math.inf),
    "uniform f16 out of range": lambda m: m.uniform_(torch.empty(4, dtype=torch.half), -1e5, 1e5),
    "uniform int tensor": lambda m: m.uniform_(torch.empty(4, dtype=torch.int32), 0, 10),
    "uniform bad generator": lambda m: m.uniform_(torch.empty(4), generator=5),
    "normal std<0": lambda m: m.normal_(torch.empty(4), 0, -1),
    "trunc std=0": lambda m: m.trunc_normal_(torch.empty(4), 0, 0),
    "trunc a>b": lambda m: m.trunc_normal_(torch.empty(4), 0, 1, 2, -2),
    "trunc far from mean": lambda m: m.trunc_normal_(torch.empty(4), 0, 1, 5, 6),
    "kaiming 1-D": lambda m: m.kaiming_uniform_(torch.empty(4)),
    "kaiming 0-D": lambda m: m.kaiming_normal_(torch.tensor(1.0)),
    "kaiming zero-element": lambda m: m.kaiming_uniform_(torch.empty(0, 3)),
    "kaiming zero-element 1-D": lambda m: m.kaiming_normal_(torch.empty(0)),
    "kaiming mode upper case": lambda m: m.kaiming_uniform_(torch.empty(2, 3), mode="FAN_OUT"),
    "kaiming bad mode": lambda m: m.kaiming_uniform_(torch.empty(2, 3), mode="fan_avg"),
    "kaiming bad nonlinearity": lambda m: m.kaiming_normal_(torch.empty(2, 3), nonlinearity="x"),
    "kaiming bool slope": lambda m: m.kaiming_normal_(torch.empty(2, 3), a=True),
    "xavier 1-D": lambda m: m.xavier_normal_(torch.empty(4)),
    "xavier (0, 0)": lambda m: m.xavier_uniform_(torch.empty(0, 0)),
    "xavier (0, 3)": lambda m: m.xavier_uniform_(torch.empty(0, 3)),
    "orthogonal 1-D": lambda m: m.orthogonal_(torch.empty(4)),
    "orthogonal empty": lambda m: m.orthogonal_(torch.empty(0, 4)),
    "sparse 3-D": lambda m: m.sparse_(torch.empty(4, 2, 2), 0.1),
    "sparse std<0": lambda m: m.sparse_(torch.empty(3, 4), 0.5, -1),
    "eye 3-D": lambda m: m.eye_(torch.empty(2, 2, 2)),
    "dirac 2-D": lambda m: m.dirac_(torch.empty(2, 2)),
    "dirac groups": lambda m: m.dirac_(torch.empty(3, 2, 3), 2),
    "gain unknown": lambda m: m.calculate_gain("foo"),
    "meta 1-D kaiming": lambda m: m.kaiming_uniform_(torch.empty(3, device="meta")),
    "sparse layout": lambda m: m.normal_(torch.zeros(3, 3).to_sparse()),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_errors_and_warnings_match_torch(case):
    assert outcome(lambda: EDGE_CASES[case](ft)) == outcome(lambda: EDGE_CASES[case](INIT))


def test_zero_element_warning_points_at_caller():
    with pytest.warns(UserWarning, match="^Initializing zero-element tensors is a no-op$") as w:
        ft.kaiming_uniform_(torch.empty(0, 3))
    assert w[0].filename == __file__


@pytest.mark.parametrize("name", sorted(RANDOM_CASES) + ["xavier_uniform_", "xavier_normal_",
                                                         "constant_", "eye_", "dirac_"])
def test_meta_tensors_are_a_no_op(name):
    t = torch.empty(6, 4, 3, device="meta") if name == "dirac_" else torch.empty(6, 4, device="meta")
    args = {"constant_": (0.5,), "sparse_": (0.5,)}.get(name, ())
    state = torch.get_rng_state()
    assert getattr(ft, name)(t, *args) is t
    g = fastinit.Generator(1)
    if name in RANDOM_CASES or name.startswith("xavier"):
        assert getattr(ft, name)(t, *args, generator=g) is t
    assert t.is_meta and g.next_stream == 0
    assert torch.equal(torch.get_rng_state(), state)


def test_meta_device_context_builds_a_no_op_model():
    with ft.patched(), torch.device("meta"):
        m = nn.Linear(10, 20)
    assert m.weight.is_meta


def test_non_cpu_tensors_go_to_torch(monkeypatch):
    """A plain tensor on another device: simulated by telling the adapter that a given CPU
    tensor is not on the CPU (this machine has no accelerator)."""
    dev = torch.zeros(5, 6)
    real_target = ft._target
    monkeypatch.setattr(ft, "_target", lambda t: None if t is dev else real_target(t))
    monkeypatch.setattr(ft, "_is_cpu", lambda t: t is not dev and t.is_cpu)
    calls = []

    def spy(tensor, *args, **kwargs):
        calls.append((tensor, args, kwargs))
        return tensor
    monkeypatch.setitem(ft._TORCH, "kaiming_uniform_", spy)
    g = torch.Generator()
    assert ft.kaiming_uniform_(dev, a=1.0, generator=g) is dev
    assert calls == [(dev, (1.0, "fan_in", "leaky_relu"), {"generator": g})]
    # a fastinit.Generator cannot drive torch's sampler: filled on the host, then copied
    ft.kaiming_uniform_(dev, a=1.0, generator=fastinit.Generator(9))
    ref = ft.kaiming_uniform_(torch.empty(5, 6), a=1.0, generator=fastinit.Generator(9))
    assert len(calls) == 1 and torch.equal(dev, ref)


def test_tensor_subclasses_go_to_torch():
    seen = []

    class Logged(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(func)
            return super().__torch_function__(func, types, args, kwargs or {})

    t = torch.empty(4, 5).as_subclass(Logged)
    ft.uniform_(t, generator=torch.Generator().manual_seed(0))
    assert seen and seen[0] is TORCH_ORIGINALS["uniform_"]
    ref = INIT.uniform_(torch.empty(4, 5), generator=torch.Generator().manual_seed(0))
    assert torch.equal(t.as_subclass(torch.Tensor), ref)  # torch's own values


def test_fastinit_generator_refuses_what_it_cannot_sample():
    with pytest.raises(TypeError, match="float32, float64, float16 and bfloat16"):
        ft.normal_(torch.empty(4, dtype=torch.int64), generator=fastinit.Generator(0))
    with pytest.raises(ValueError, match="uniform_"):
        ft.uniform_(torch.empty(4), 1.0, 0.0, generator=fastinit.Generator(0))


# ---- patching -----------------------------------------------------------------------------------
def init_references():
    """{(module name, attribute): function} for every torch.nn.init function held by torch."""
    originals = {id(f): f for f in TORCH_ORIGINALS.values()}
    out = {}
    for mname, mod in list(sys.modules.items()):
        if mod is None or not (mname == "torch" or mname.startswith("torch.")):
            continue
        for attr, value in list(getattr(mod, "__dict__", {}).items()):
            if id(value) in originals and value is originals[id(value)]:
                out[(mname, attr)] = value
    return out


def test_patch_replaces_and_unpatch_restores_every_function():
    before = init_references()
    assert ("torch.nn.modules.activation", "xavier_uniform_") in before
    assert ("torch.nn.modules.transformer", "xavier_uniform_") in before
    ft.patch()
    assert ft.is_patched()
    for name in INIT.__all__:
        assert getattr(INIT, name) is getattr(ft, name)
    assert init_references() == {}
    assert sys.modules["torch.nn.modules.activation"].xavier_uniform_ is ft.xavier_uniform_
    ft.patch()  # idempotent
    ft.unpatch()
    ft.unpatch()  # idempotent
    assert not ft.is_patched()
    after = init_references()
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)


def test_patched_nests_and_respects_patch():
    with ft.patched():
        with ft.patched():
            assert INIT.normal_ is ft.normal_
        assert INIT.normal_ is ft.normal_  # the outer block is still open
    assert INIT.normal_ is TORCH_ORIGINALS["normal_"]
    ft.patch()
    with ft.patched():
        pass
    assert INIT.normal_ is ft.normal_  # patch() stays in force until unpatch()
    ft.unpatch()
    assert INIT.normal_ is TORCH_ORIGINALS["normal_"]
    with pytest.raises(KeyError):
        with ft.patched():
            raise KeyError("restored on the way out")
    assert INIT.normal_ is TORCH_ORIGINALS["normal_"]


def test_restores_exactly_what_was_there(monkeypatch):
    def someone_elses(tensor, *args, **kwargs):
        return tensor

    monkeypatch.setattr(INIT, "normal_", someone_elses)
    with ft.patched():
        assert INIT.normal_ is ft.normal_
    assert INIT.normal_ is someone_elses
    monkeypatch.undo()


def test_torch_module_imported_while_patched_gets_torchs_function_back():
    with ft.patched():
        late = types.ModuleType("torch._fastinit_late_import")
        late.uniform_ = INIT.uniform_  # `from torch.nn.init import uniform_` while patched
        sys.modules[late.__name__] = late
    try:
        assert late.uniform_ is TORCH_ORIGINALS["uniform_"]
    finally:
        del sys.modules[late.__name__]


def build_small(seed, patched):
    torch.manual_seed(seed)
    with ft.patched() if patched else torch.no_grad():
        return nn.ModuleDict({
            "emb": nn.Embedding(2000, 64, padding_idx=0),
            "conv": nn.Conv2d(8, 32, 3),
            "lin1": nn.Linear(128, 512),
            "ln": nn.LayerNorm(512),
            "lin2": nn.Linear(512, 128),
            "attn": nn.MultiheadAttention(64, 4),
        })


def test_modules_built_under_patched_use_fastinit():
    a, b = build_small(0, True), build_small(0, True)
    plain = build_small(0, False)
    for (name, pa), pb, pp in zip(a.named_parameters(), b.parameters(), plain.parameters()):
        assert torch.equal(pa, pb), f"{name} not reproducible under torch.manual_seed"
        if "ln" in name or "in_proj_bias" in name or "out_proj.bias" in name:
            assert torch.equal(pa, pp), f"{name}: constant init must equal torch's"
        else:
            assert not torch.equal(pa, pp), f"{name}: not filled by fastinit"
    assert (a["emb"].weight[0] == 0).all()  # padding row, zeroed by Embedding itself


def test_linear_under_patched_is_the_documented_replay():
    torch.manual_seed(5)
    with ft.patched():
        lin = nn.Linear(20, 30)
    torch.manual_seed(5)
    w_seed, b_seed = draw_seed(), draw_seed()
    bound = 1 / math.sqrt(20)
    w = fastinit.kaiming_uniform_(np.empty((30, 20), np.float32), a=math.sqrt(5), seed=w_seed)
    b = fastinit.uniform_(np.empty(30, np.float32), -bound, bound, seed=b_seed)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), w)
    np.testing.assert_array_equal(lin.bias.detach().numpy(), b)


def exact_distribution(name, p):
    """(scipy distribution name, args) that PyTorch's default init draws this parameter from."""
    if name.startswith("emb"):
        return "norm", (0.0, 1.0)
    if name == "attn.in_proj_weight":
        bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
    else:  # Linear/Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fan_in = p.shape[1] * math.prod(p.shape[2:]) if p.dim() > 1 else None
        if fan_in is None:  # a bias: fan_in of its layer's weight
            fan_in = {"conv.bias": 8 * 9, "lin1.bias": 128, "lin2.bias": 512}[name]
        bound = 1.0 / math.sqrt(fan_in)
    return "uniform", (-bound, 2 * bound)


def test_ks_per_parameter_patched_vs_torch():
    patched, plain = build_small(1, True), build_small(2, False)
    checked = 0
    for (name, p), q in zip(patched.named_parameters(), plain.parameters()):
        if "ln" in name or "in_proj_bias" in name or "out_proj.bias" in name:
            continue  # constants, equal to torch's (checked above)
        x = p.detach().double().flatten().numpy()
        y = q.detach().double().flatten().numpy()
        if name.startswith("emb"):
            x, y = x[64:], y[64:]  # skip the zeroed padding row
        dist, args = exact_distribution(name, p)
        assert stats.kstest(x, dist, args=args).pvalue > 1e-3, name
        assert stats.ks_2samp(x, y).pvalue > 1e-3, name
        checked += 1
    assert checked == 9


@pytest.mark.parametrize("fn, dist, args", [
    (lambda t: ft.normal_(t, 1.0, 3.0), "norm", (1.0, 3.0)),
    (lambda t: ft.xavier_normal_(t, gain=2.0), "norm", (0.0, 2.0 * math.sqrt(2 / (300 + 200)))),
    (lambda t: ft.kaiming_normal_(t, nonlinearity="relu"), "norm", (0.0, math.sqrt(2 / 200))),
    (lambda t: ft.trunc_normal_(t, 0.1, 0.5, -0.2, 0.9), "truncnorm",
     ((-0.2 - 0.1) / 0.5, (0.9 - 0.1) / 0.5, 0.1, 0.5)),
], ids=["normal", "xavier_normal", "kaiming_normal", "trunc_normal"])
def test_ks_against_exact_distribution(fn, dist, args):
    torch.manual_seed(2024)
    t = fn(torch.empty(300, 200, dtype=torch.float64))
    assert stats.kstest(t.flatten().numpy(), dist, args=args).pvalue > 1e-3


def test_orthogonal_is_orthogonal():
    for shape in [(50, 30), (30, 50), (16, 4, 3, 3)]:
        t = ft.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0)
        m = t.reshape(shape[0], -1)
        small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(small.numpy(), 4 * np.eye(small.shape[0]), atol=1e-10)


def test_concurrent_calls_draw_distinct_streams():
    import threading

    torch.manual_seed(0)
    out = [[] for _ in range(4)]

    def work(k):
        for _ in range(50):
            out[k].append(ft.normal_(torch.empty(8)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    firsts = {float(t[0]) for ts in out for t in ts}
    assert len(firsts) == 200  # every call had its own seed


def test_device_context_keeps_the_fast_path():
    g1, g2 = fastinit.Generator(4), fastinit.Generator(4)
    with torch.device("cpu"):
        t = ft.uniform_(torch.empty(10, 10), generator=g1)
    ref = fastinit.uniform_(np.empty((10, 10), np.float32), generator=g2)
    np.testing.assert_array_equal(t.numpy(), ref)


def test_empty_tensors_draw_nothing():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    ft.sparse_(torch.empty(0, 3), 0.5)
    ft.xavier_uniform_(torch.empty(0, 3))
    ft.orthogonal_(torch.empty(0, 3))
    ft.normal_(torch.empty(0))
    ft.trunc_normal_(torch.empty(2, 0))
    assert torch.equal(torch.get_rng_state(), state)


# ---- tensors PyTorch treats specially (found by a review) -------------------------------------
def test_functionalized_tensors_are_filled_by_pytorch():
    """Under torch.func.functionalize .numpy() is not the tensor's data: PyTorch fills it."""
    run = torch.func.functionalize(lambda x: ft.uniform_(x.clone(), 1.0, 2.0))
    out = run(torch.zeros(64))
    assert ((out >= 1.0) & (out < 2.0)).all()
    with pytest.raises(TypeError, match="fastinit.Generator cannot fill"):
        torch.func.functionalize(
            lambda x: ft.uniform_(x.clone(), generator=fastinit.Generator(0)))(torch.zeros(4))


def test_inference_tensors_follow_inference_mode():
    with torch.inference_mode():
        t = torch.zeros(4, 5)
    for kw in ({}, {"generator": fastinit.Generator(0)}):
        with pytest.raises(RuntimeError, match="inference tensor"):  # (PyTorch has written
            ft.uniform_(t, **kw)                                       # it by then, too)
    with torch.inference_mode():
        ft.uniform_(t, generator=fastinit.Generator(0))
    assert t.all()


def test_fastinit_generator_on_views_not_written_in_place():
    with pytest.raises(RuntimeError, match="single memory location"):  # PyTorch's own error
        ft.uniform_(torch.empty(1, 5).expand(4, 5), generator=fastinit.Generator(0))
    # no two elements share memory, but the conservative overlap rule sends it to the host path
    view = torch.zeros(11).as_strided((3, 3), (2, 3))
    ft.uniform_(view, generator=fastinit.Generator(5))
    ref = ft.uniform_(torch.empty(3, 3), generator=fastinit.Generator(5))
    assert torch.equal(view, ref)


def test_sparse_on_an_empty_tensor_still_checks_its_arguments():
    with pytest.raises(TypeError):
        ft.sparse_(torch.empty(0, 5), "a")
    with pytest.raises(TypeError):
        ft.sparse_(torch.empty(0, 3), 0.5, generator=42)
    assert ft.sparse_(torch.empty(0, 3), 0.5, generator=fastinit.Generator(1)).shape == (0, 3)


def test_trunc_normal_warns_once_before_refusing_a_bad_generator():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError):
            ft.trunc_normal_(torch.empty(3), 10.0, 1.0, -1.0, 1.0, generator=42)
    assert len(caught) == 1


def test_a_failed_patch_leaves_nothing_patched(monkeypatch):
    def boom():
        raise RuntimeError("boom")

    monkeypatch.setattr(ft, "_install", boom)
    with pytest.raises(RuntimeError, match="boom"):
        with ft.patched():
            pass
    monkeypatch.undo()
    with ft.patched():
        assert ft.is_patched()
    assert not ft.is_patched()


PRISTINE = """
import torch, torch.nn.init as I
original = I.zeros_
I.zeros_ = lambda t: t          # a "skip init" context active when fastinit.torch is imported
import fastinit.torch as ft
I.zeros_ = original
t = torch.ones(3)
ft.zeros_(t)
assert not t.any(), t
print("ok")
"""


def test_pytorch_functions_are_captured_even_if_replaced_at_import():
    out = subprocess.run([sys.executable, "-c", PRISTINE], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
