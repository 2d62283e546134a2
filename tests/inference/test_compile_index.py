"""The compile index: a warm process rebuilds nutpie's compiled model without PyTensor, same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
pytest.importorskip("nutpie")

from rhcc_bayes.inference import compile_index  # noqa: E402
from rhcc_bayes.inference.nutpie_cache import WRAPPER_VERSION, compile_cached, index_key  # noqa: E402


def _model(n: int = 7, sigma: float = 2.0, k_scale: int = 1, tag: float = 0.0):
    with pm.Model() as m:
        mu = pm.Normal("mu", pm.Data("tag", tag), sigma)  # data in the prior graph
        s = pm.HalfNormal("s", 1)
        w = pm.Dirichlet("w", np.ones(3))
        pm.Poisson("k", pm.math.exp(mu) * w[0], observed=pm.Data("k_obs", (np.arange(n) % 5) * k_scale))
        pm.Normal("y", mu, s, observed=np.linspace(-1, 1, 9))
        pm.Deterministic("d", mu * s)
    return m


def _logp(compiled, x):
    """The compiled C log density and gradient at ``x``, as exact hex strings."""
    import ctypes

    out, lp = np.zeros(compiled.n_dim), np.zeros(())
    fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_void_p)(compiled.compiled_logp_func.address)
    status = fn(len(x), x.ctypes.data, out.ctypes.data, lp.ctypes.data, compiled.user_data.ctypes.data)
    return status, [float(v).hex() for v in [lp[()], *out]]


@pytest.fixture
def index_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_index, "index_path", lambda key: tmp_path / f"{key}.json")
    return tmp_path


# ------------------------------------------------------------------ the model key (no compile)


def test_model_key_is_stable_and_changes_with_the_graph_shapes_and_priors():
    key = compile_index.model_key(_model(), WRAPPER_VERSION)
    assert compile_index.model_key(_model(), WRAPPER_VERSION) == key  # a rebuilt model: same key
    others = {
        "data length": _model(n=8), "prior": _model(sigma=3.0), "data in the prior": _model(tag=0.5),
    }
    keys = {name: compile_index.model_key(m, WRAPPER_VERSION) for name, m in others.items()}
    assert len({key, *keys.values()}) == 4, keys
    assert compile_index.model_key(_model(), "another wrapper version") != key
    # observed data are read at run time: new values of the same shape keep the key
    assert compile_index.model_key(_model(k_scale=2), WRAPPER_VERSION) == key


def test_model_key_refuses_what_it_cannot_hash_exactly():
    with pytest.raises(compile_index.Unkeyable, match="cannot hash object exactly"):
        compile_index._Hasher().canon(object())


# ------------------------------------------------------------------ warm, corrupt, mismatched


def _numbers(compiled):
    x = np.array([0.3, -0.2, 0.1, -0.4])
    return _logp(compiled, x), [compiled.initial_point_func(seed).tobytes() for seed in (0, 7, 2**40)]


def test_index_written_as_json_then_used_and_bad_entries_fall_back(index_dir):
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cold, cached = compile_cached(model)
        assert cached and cold.logp_func is not None  # no entry yet: full compile
        files = sorted(p.name for p in index_dir.iterdir())
        key = index_key(model)
        assert files == [f"{key}.json"]  # one entry, no temporary file left behind
        entry = json.loads((index_dir / files[0]).read_text())
        assert entry["model_key"] == key and entry["n_dim"] == 4 and entry["n_expanded"] == 9

        warm, _ = compile_cached(model)
        assert warm.logp_func is None and warm.expand_func is None  # rebuilt from the index
    expected = _numbers(cold)
    assert expected[0][0] == 0 and _numbers(warm) == expected
    assert warm.shape_info[0] == cold.shape_info[0] and warm.coords.keys() == cold.coords.keys()

    path = index_dir / files[0]
    good = path.read_text()
    bad_entries = {
        "corrupt": good[: len(good) // 2],
        "another key": json.dumps({**entry, "model_key": "0" * 64}),
        "stale wrapper": json.dumps({**entry, "wrappers": {**entry["wrappers"], "logp": {
            **entry["wrappers"]["logp"], "key": "f" * 64}}}),
        "stale PyTensor function": json.dumps({**entry, "wrappers": {**entry["wrappers"], "expand": {
            **entry["wrappers"]["expand"], "inner": {**entry["wrappers"]["expand"]["inner"], "key": "e" * 64}}}}),
        "data layout": json.dumps({**entry, "shared": [{**entry["shared"][0], "dtype": "<f8"}]}),
    }
    for what, text in bad_entries.items():
        path.write_text(text)
        with pytest.warns(RuntimeWarning, match="unusable.*compiling the model in full"):
            again, _ = compile_cached(model)
        assert again.logp_func is not None, what
        assert _numbers(again) == expected, what
        assert json.loads(path.read_text()) == entry, what  # the full compile rewrote a good entry


def test_new_observed_values_reuse_the_entry_and_give_their_own_numbers(index_dir):
    """An entry compiled for one data set serves another of the same shapes, with the
    numbers a full compile of that data set gives (values read at run time, not compiled in)."""
    from rhcc_bayes.inference.nutpie_cache import compile_full

    compile_cached(_model())  # full compile, writes the entry
    other = _model(k_scale=2)
    warm, _ = compile_cached(other)
    assert warm.logp_func is None  # from the index
    full, _, _ = compile_full(_model(k_scale=2))
    assert _numbers(warm) == _numbers(full)
    assert _numbers(warm)[0] != _numbers(compile_full(_model())[0])[0]  # the data really differ


def test_a_model_with_more_shared_arrays_than_a_python_call_takes_on_the_stack(index_dir):
    """35 data containers: the wrapper's call of the inner function must not go through a list
    (CPython does so beyond 30 arguments, and numba cannot compile it)."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1, shape=3)
        total = sum(pm.Data(f"d{i}", np.arange(3.0) + i) * mu for i in range(35))
        pm.Normal("y", total, 1, observed=pm.Data("y_obs", np.ones(3)))
    compiled, cached = compile_cached(model)
    assert cached and len(compiled.shared_data) == 36
    x = np.array([0.1, -0.2, 0.3])
    status, numbers = _logp(compiled, x)
    point = {"mu": x}
    assert status == 0
    np.testing.assert_allclose([float.fromhex(v) for v in numbers],
                               [model.compile_logp()(point), *model.compile_dlogp()(point)], rtol=1e-12)


# ------------------------------------------------------------------ a new process

_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, nutpie
sys.path.insert(0, sys.argv[2])
from test_compile_index import _model, _numbers
from rhcc_bayes.inference import compile_index
from rhcc_bayes.inference.nutpie_cache import compile_cached, index_key

model = _model(tag=float(sys.argv[1]))
compiled, _ = compile_cached(model)
idata = nutpie.sample(compiled, draws=30, tune=30, chains=2, cores=1, seed=11, progress_bar=False)
status_logp, points = _numbers(compiled)
print(json.dumps({"from_index": compiled.logp_func is None, "logp": status_logp,
                  "index": str(compile_index.index_path(index_key(model))),
                  "points": [p.hex() for p in points],
                  "draws": [float(v).hex() for v in idata.posterior["mu"].values.ravel()],
                  "d": [float(v).hex() for v in idata.posterior["d"].values.ravel()]}))
"""


@pytest.mark.slow
def test_new_process_from_the_index_gives_bit_identical_draws(tmp_path):
    """A full compile, then a new process with the index: same logp, start points and draws.

    A prior location (``pm.Data``) unique to this run gives a model key with no index entry yet, while the graph
    (hence PyTensor's numba cache, shared with the other tests) is the usual one.
    """
    script = tmp_path / "fit.py"
    script.write_text(_SCRIPT)
    src = [p for p in sys.path if p.endswith("src")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*src, os.environ.get("PYTHONPATH", "")])}
    tag = int.from_bytes(os.urandom(4), "little") * 1e-20

    def run():
        proc = subprocess.run([sys.executable, str(script), repr(tag), os.path.dirname(__file__)], env=env,
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    try:
        full, warm = run(), run()
    finally:  # this run's entry would never be used again
        compile_index.index_path(index_key(_model(tag=tag))).unlink(missing_ok=True)
    assert not full["from_index"] and warm["from_index"]
    assert warm["logp"] == full["logp"] and warm["points"] == full["points"]
    assert warm["draws"] == full["draws"] and warm["d"] == full["d"]  # free variables and deterministics
    assert len(set(full["draws"])) > 10  # really sampled


def test_project_transforms_are_keyed_by_their_attributes_and_module_source(tmp_path, monkeypatch):
    """The default model's steps and scales use survival.transforms.NormalSoftplusBound (model .11):
    hashable, different for another scale, and tied to the source of the module defining it."""
    import sys

    from rhcc_bayes.survival.transforms import NormalSoftplusBound

    canon = compile_index._Hasher().canon
    text = canon(NormalSoftplusBound(0.3))
    assert canon(NormalSoftplusBound(0.3)) == text
    assert canon(NormalSoftplusBound(0.5)) != text
    edited = tmp_path / "transforms.py"
    edited.write_text(open(sys.modules["rhcc_bayes.survival.transforms"].__file__).read() + "\n# edited\n")
    monkeypatch.setattr(sys.modules["rhcc_bayes.survival.transforms"], "__file__", str(edited))
    assert canon(NormalSoftplusBound(0.3)) != text


def _bounded_by_another(transform=None):
    """``b``'s lower bound is the free variable ``a``: its transform takes ``a`` as an input."""
    with pm.Model() as m:
        a = pm.Normal("a", 0.5, 1)
        pm.TruncatedNormal("b", a + 1.0, 1, lower=a, **({} if transform is None else {"default_transform": transform}))
        pm.Normal("y", 0, 1, observed=np.zeros(3))
    return m


def test_a_bound_on_another_variable_still_gets_an_entry_with_its_own_centred_jitter(index_dir):
    """Started from its support point at ``a``'s (as every compile here starts), ``b``'s transformed start
    moves with ``a``'s jitter in PyMC (no fixed rule replays that); the rule centres ``b`` at its
    transformed support point at ``a``'s support point, plus ``b``'s own jitter. ``a`` keeps PyMC's
    start bit for bit; the full compile and the index start the same way."""
    from pymc.initial_point import make_initial_point_fn

    from rhcc_bayes.inference.nutpie_cache import _support_points, compile_full

    model = _bounded_by_another()
    full, _, entry = compile_full(model)
    assert entry is not None
    rule = entry["initial_point"]
    assert sorted(v["rng"] for v in rule["vars"]) == [0, 1]  # one RNG each
    pymc_fn = make_initial_point_fn(model=model, overrides=_support_points(model), jitter_rvs=set(model.free_RVs),
                                    return_transformed=True)
    names = [v["name"] for v in rule["vars"]]
    b_name = next(n for n in names if n.startswith("b"))
    b_rule = rule["vars"][names.index(b_name)]
    # b's transformed support point at a = 0.5: the lower-bound transform's log(b - a) with b = 1.5
    support_b = float.fromhex(b_rule["support"][0])
    assert support_b == pytest.approx(np.log(1.0))
    for seed in (3, 2**40):
        start = dict(zip(names, full.initial_point_func(seed), strict=True))
        pymc_start = pymc_fn(seed)
        assert start["a"] == pymc_start["a"]  # bit for bit
        child = np.random.SeedSequence(seed).spawn(rule["n_rngs"])[b_rule["rng"]]
        assert start[b_name] == support_b + np.random.Generator(np.random.PCG64(child)).uniform(-1, 1)
        assert start[b_name] != pymc_start[b_name]  # PyMC's moved with a's jitter

    compile_cached(model)  # writes the entry
    warm, _ = compile_cached(_bounded_by_another())
    assert warm.logp_func is None  # from the index
    x = np.array([0.2, -0.3])
    assert _logp(warm, x) == _logp(full, x)
    assert all(warm.initial_point_func(s).tobytes() == full.initial_point_func(s).tobytes() for s in (0, 5, 2**33))


def test_jitter_scale_scales_the_replayed_jitter_and_one_is_pymcs_start():
    rule = {"n_rngs": 2, "vars": [{"name": "a", "shape": [], "rng": 1, "support": [(0.25).hex()]},
                                  {"name": "b", "shape": [2], "rng": 0, "support": [(1.0).hex(), (-2.0).hex()]}]}
    support = np.array([0.25, 1.0, -2.0])
    children = np.random.SeedSequence(9).spawn(2)
    jitter = np.concatenate([np.random.Generator(np.random.PCG64(children[1])).uniform(-1, 1, size=()).ravel(),
                             np.random.Generator(np.random.PCG64(children[0])).uniform(-1, 1, size=(2,))])
    assert compile_index.make_initial_point_func(rule)(9).tobytes() == (support + jitter).tobytes()
    np.testing.assert_allclose(compile_index.make_initial_point_func(rule, jitter_scale=0.1)(9),
                               support + 0.1 * jitter, rtol=0, atol=1e-15)


def test_a_transform_that_declares_its_start_jitter_gets_that_half_width(index_dir):
    """The size levels' transform (a bound that is another variable) declares its length scale as
    the start's jitter: ``b`` starts at its support point plus 0.05 x its own uniform(-1, 1); ``a``
    keeps PyMC's start bit for bit; the index replays the same start."""
    from rhcc_bayes.inference.nutpie_cache import compile_full
    from rhcc_bayes.survival.transforms import NormalSoftplusBound

    bound = NormalSoftplusBound(0.05, +1, 4)  # TruncatedNormal's inputs: 4 = lower
    assert NormalSoftplusBound(0.05, +1).start_jitter is None  # a fixed bound keeps PyMC's jitter
    full, _, entry = compile_full(_bounded_by_another(bound))
    assert entry is not None
    rule = entry["initial_point"]
    names = [v["name"] for v in rule["vars"]]
    b_rule = next(v for v in rule["vars"] if v["name"].startswith("b"))
    assert [float.fromhex(x) for x in b_rule["jitter"]] == [0.05]
    assert "jitter" not in rule["vars"][names.index("a")]
    support_b = float.fromhex(b_rule["support"][0])
    starts = []
    for seed in (3, 11, 2**40):
        start = dict(zip(names, full.initial_point_func(seed), strict=True))
        child = np.random.SeedSequence(seed).spawn(rule["n_rngs"])[b_rule["rng"]]
        assert start[b_rule["name"]] == support_b + 0.05 * np.random.Generator(np.random.PCG64(child)).uniform(-1, 1)
        starts.append(start[b_rule["name"]])
    assert 0 < np.ptp(starts) <= 0.1
    compile_cached(_bounded_by_another(bound))  # writes the entry
    warm, _ = compile_cached(_bounded_by_another(NormalSoftplusBound(0.05, +1, 4)))
    assert warm.logp_func is None  # from the index
    assert all(warm.initial_point_func(s).tobytes() == full.initial_point_func(s).tobytes() for s in (0, 5, 2**33))


def test_a_rule_with_per_element_jitter_scales_each_element_and_the_global_scale_multiplies_it():
    rule = {"n_rngs": 1, "vars": [{"name": "b", "shape": [2], "rng": 0, "support": [(1.0).hex(), (-2.0).hex()],
                                   "jitter": [(0.5).hex(), (0.01).hex()]}]}
    u = np.random.Generator(np.random.PCG64(np.random.SeedSequence(4).spawn(1)[0])).uniform(-1, 1, size=(2,))
    np.testing.assert_array_equal(compile_index.make_initial_point_func(rule)(4), np.array([1.0, -2.0]) + [0.5, 0.01] * u)
    np.testing.assert_allclose(compile_index.make_initial_point_func(rule, jitter_scale=0.1)(4),
                               np.array([1.0, -2.0]) + 0.1 * np.array([0.5, 0.01]) * u, rtol=0, atol=1e-15)
