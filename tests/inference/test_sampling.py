"""Tests for rhcc_bayes.fit: settings validation, reproducibility, complete InferenceData.

Sampling tests compile one tiny model per backend (compilation, not sampling,
dominates their run time) and draw a few hundred samples.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from postfit_models import eight_schools

from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.inference.sampling import CompiledModel, SamplerSettings, compile_model, derived_seed, sample

# ---------------------------------------------------------------- settings


def test_defaults_are_explicit():
    s = SamplerSettings()
    assert (s.backend, s.chains, s.draws, s.tune, s.target_accept, s.low_rank_mass_matrix, s.cores) == (
        "nutpie",
        4,
        1000,
        1000,
        0.9,
        False,
        2,
    )


def test_from_mapping_overrides_and_keeps_defaults():
    s = SamplerSettings.from_mapping({"draws": 200, "backend": "pymc", "target_accept": 0.95})
    assert s.draws == 200 and s.backend == "pymc" and s.target_accept == 0.95
    assert s.tune == 1000 and s.chains == 4


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(UserError) as err:
        SamplerSettings.from_mapping({"draw": 10}, source="models/rhcc.toml [sampler]")
    msg = str(err.value)
    assert "models/rhcc.toml [sampler]" in msg
    assert "'draw'" in msg and "did you mean 'draws'" in msg


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("draws", 0, "positive integer"),
        ("chains", -1, "positive integer"),
        ("tune", 1.5, "positive integer"),
        ("cores", True, "positive integer"),
        ("target_accept", 0.5, "between 0.5 and 1"),
        ("target_accept", 1.0, "between 0.5 and 1"),
        ("target_accept", "high", "between 0.5 and 1"),
        ("backend", "nutpy", "did you mean 'nutpie'"),
        ("backend", "stan", "choose from nutpie, pymc"),
        ("low_rank_mass_matrix", "yes", "true or false"),
        ("grad_based_mass_matrix", 1, "true or false"),
        ("initial_step", 0, "in (0, 10]"),
        ("initial_step", float("nan"), "in (0, 10]"),
        ("initial_step", True, "in (0, 10]"),
        ("initial_step", "small", "in (0, 10]"),
        ("chains", 100_000, "at most 64"),
        ("draws", 10**9, "at most 200000"),
        ("cores", 65, "at most 64"),
    ],
)
def test_invalid_values_are_user_errors(key, value, fragment):
    with pytest.raises(ValidationError) as err:
        SamplerSettings.from_mapping({key: value})
    assert fragment in str(err.value) and key in str(err.value)


def test_draws_only_mass_matrix_needs_the_diagonal_adaptation():
    # nutpie's low-rank adaptation always uses gradients: the combination would be ignored silently
    with pytest.raises(ValidationError, match="diagonal mass matrix only") as err:
        SamplerSettings.from_mapping({"low_rank_mass_matrix": True, "grad_based_mass_matrix": False}, source="spec.toml")
    assert "grad_based_mass_matrix" in str(err.value) and "spec.toml" in str(err.value)
    assert SamplerSettings(low_rank_mass_matrix=True).grad_based_mass_matrix is True


def test_all_problems_reported_at_once():
    with pytest.raises(ValidationError) as err:
        SamplerSettings.from_mapping({"draws": -5, "chians": 4, "backend": "x"})
    assert len(err.value.problems) == 3


def test_direct_construction_is_validated_too():
    with pytest.raises(UserError):
        SamplerSettings(chains=0)


def test_non_mapping_is_user_error():
    with pytest.raises(UserError, match="must be a table"):
        SamplerSettings.from_mapping([("draws", 10)])


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        SamplerSettings().draws = 5  # type: ignore[misc]


def test_derived_seed_is_stable_and_distinct():
    assert derived_seed(1, "posterior_predictive") == derived_seed(1, "posterior_predictive")
    assert derived_seed(1, "posterior_predictive") != derived_seed(2, "posterior_predictive")
    assert derived_seed(1, "posterior_predictive") != derived_seed(1, "other")


# ---------------------------------------------------------------- sample() without sampling


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "1"])
def test_bad_seed_rejected_before_compiling(seed):
    with pytest.raises(UserError, match="seed"):
        sample(object(), SamplerSettings(), seed=seed)  # model never touched


@pytest.mark.parametrize(("isatty", "expected"), [(True, True), (False, False)])
def test_progressbar_follows_stderr_tty(monkeypatch, isatty, expected):
    import sys

    import rhcc_bayes.inference.sampling as fit

    seen = {}

    class Stop(Exception):
        pass

    def fake(compiled, settings, seed, progressbar):
        seen["progressbar"] = progressbar
        raise Stop

    monkeypatch.setattr(fit, "_sample_nutpie", fake)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: isatty, raising=False)
    model = object()
    with pytest.raises(Stop):
        sample(model, SamplerSettings(), seed=1, compiled=CompiledModel(model, "nutpie", None, 0.0))
    assert seen["progressbar"] is expected


def test_compiled_for_other_model_rejected():
    with pytest.raises(ValueError, match="another model or backend"):
        sample(object(), SamplerSettings(), seed=1, compiled=CompiledModel(object(), "nutpie", None, 0.0))


# ---------------------------------------------------------------- real sampling

NUTPIE = SamplerSettings(chains=2, draws=150, tune=150, cores=2)


@pytest.fixture(scope="module")
def model():
    return eight_schools()


@pytest.fixture(scope="module")
def nutpie_compiled(model):
    return compile_model(model, "nutpie")


@pytest.fixture(scope="module")
def nutpie_idata(model, nutpie_compiled):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sample(model, NUTPIE, seed=11, compiled=nutpie_compiled)


@pytest.mark.slow
def test_nutpie_same_seed_same_draws(model, nutpie_compiled, nutpie_idata):
    again = sample(model, NUTPIE, seed=11, compiled=nutpie_compiled)
    other = sample(model, NUTPIE, seed=12, compiled=nutpie_compiled)
    for var in ("mu", "tau", "z", "theta"):
        np.testing.assert_array_equal(nutpie_idata.posterior[var].values, again.posterior[var].values)
    np.testing.assert_array_equal(nutpie_idata.posterior_predictive["y"].values, again.posterior_predictive["y"].values)
    assert not np.array_equal(nutpie_idata.posterior["mu"].values, other.posterior["mu"].values)


@pytest.mark.slow
def test_draws_only_mass_matrix_reaches_nutpie(model, nutpie_compiled, nutpie_idata):
    from dataclasses import replace

    draws_only = replace(NUTPIE, grad_based_mass_matrix=False)
    idata = sample(model, draws_only, seed=11, compiled=nutpie_compiled, log_likelihood=False,
                   posterior_predictive=False)
    # same seed, another adaptation: other draws; recorded in the provenance
    assert not np.array_equal(idata.posterior["mu"].values, nutpie_idata.posterior["mu"].values)
    assert (idata.attrs["grad_based_mass_matrix"], nutpie_idata.attrs["grad_based_mass_matrix"]) == (0, 1)


@pytest.mark.slow
def test_initial_step_reaches_nutpie(model, nutpie_compiled, nutpie_idata):
    from dataclasses import replace

    small = replace(NUTPIE, initial_step=0.001)
    idata = sample(model, small, seed=11, compiled=nutpie_compiled, log_likelihood=False, posterior_predictive=False)
    # same seed, another first step: other draws; recorded in the provenance
    assert not np.array_equal(idata.posterior["mu"].values, nutpie_idata.posterior["mu"].values)
    assert (idata.attrs["initial_step"], nutpie_idata.attrs["initial_step"]) == (0.001, NUTPIE.initial_step)


@pytest.mark.slow
def test_groups_dims_and_coords(nutpie_idata):
    idata = nutpie_idata
    for group in ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood", "posterior_predictive"):
        assert group in idata.groups(), group
    post = idata.posterior
    assert set(post.data_vars) == {"mu", "tau", "z", "theta"}  # no *_log__ from nutpie
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 150
    assert list(post["theta"].coords["school"].values) == list("ABCDEFGH")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "school")
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "school")
    np.testing.assert_array_equal(idata.constant_data["sigma"].values[:2], [15.0, 10.0])
    np.testing.assert_array_equal(idata.observed_data["y"].values[:2], [28.0, 8.0])
    assert "diverging" in idata.sample_stats and "energy" in idata.sample_stats


@pytest.mark.slow
def test_provenance_attrs_are_netcdf_safe(nutpie_idata):
    attrs = nutpie_idata.attrs
    assert attrs["backend"] == "nutpie" and attrs["seed"] == 11
    assert (attrs["draws"], attrs["tune"], attrs["chains"]) == (150, 150, 2)
    for key in ("wall_time_compile_s", "wall_time_sampling_s", "wall_time_total_s"):
        assert isinstance(attrs[key], float) and attrs[key] >= 0
    for pkg in ("rhcc_bayes", "pymc", "nutpie", "arviz"):
        assert isinstance(attrs[f"version_{pkg}"], str)
    assert json.loads(attrs["deterministics"]) == ["theta"]
    assert all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in attrs.values())


@pytest.mark.slow
def test_model_still_usable_after_sampling(model, nutpie_idata):
    # Guards the PyMC 5.28 sample_posterior_predictive bug that duplicated observed_RVs.
    assert [v.name for v in model.observed_RVs] == ["y"]
    model.logp()


@pytest.mark.slow
def test_pymc_backend_same_seed_same_draws():
    model = eight_schools()
    settings = SamplerSettings(backend="pymc", chains=2, draws=60, tune=60, cores=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = sample(model, settings, seed=5, posterior_predictive=False)
        b = sample(model, settings, seed=5, posterior_predictive=False)
    np.testing.assert_array_equal(a.posterior["z"].values, b.posterior["z"].values)
    assert a.attrs["backend"] == "pymc"
    assert "log_likelihood" in a.groups() and "posterior_predictive" not in a.groups()
    assert set(a.posterior.data_vars) == {"mu", "tau", "z", "theta"}


def test_partial_trace_is_an_interrupt_not_a_fit():
    """nutpie returns a partial trace on Ctrl-C: it must surface as KeyboardInterrupt (exit 130)."""
    import numpy as np
    import xarray as xr
    from types import SimpleNamespace

    from rhcc_bayes.inference.sampling import check_complete

    settings = SamplerSettings(chains=4, draws=100)
    partial = SimpleNamespace(posterior=xr.Dataset({"x": (("chain", "draw"), np.zeros((4, 37)))}))
    with pytest.raises(KeyboardInterrupt, match="37 of 100"):
        check_complete(partial, settings)
    full = SimpleNamespace(posterior=xr.Dataset({"x": (("chain", "draw"), np.zeros((4, 100)))}))
    check_complete(full, settings)  # complete: no error


@pytest.mark.slow
def test_on_phase_reports_each_phase_with_its_time(model, nutpie_compiled):
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample(model, NUTPIE, seed=3, compiled=nutpie_compiled, on_phase=lambda p, s: seen.append((p, s)))
    assert [p for p, _ in seen] == ["compile", "sampling", "log_likelihood", "posterior_predictive"]
    assert seen[0][1] == 0.0  # compiled model reused: no compile
    assert all(s >= 0 for _, s in seen) and seen[1][1] > 0


# ------------------------------------------------ compile cache across processes

_CACHE_SCRIPT = """
import glob, json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, pymc as pm, nutpie
from rhcc_bayes.inference.nutpie_cache import compile_cached

def model(n):
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 2)
        s = pm.HalfNormal("s", 1)
        pm.Poisson("k", pm.math.exp(mu), observed=pm.Data("k_obs", np.arange(n) % 5))
        pm.Normal("y", mu, s, observed=np.linspace(-1, 1, 9))
    return m

def draws(compiled):
    idata = nutpie.sample(compiled, draws=40, tune=40, chains=2, cores=1, seed=9, progress_bar=False)
    return idata.posterior["mu"].values.ravel().tolist()

def wrappers():
    return sorted(glob.glob(sys.argv[1] + "/numba/*rhcc_*_wrapper*.nbc"))

out = {}
compiled, out["cached"] = compile_cached(model(7))
out["from_index"] = compiled.logp_func is None  # rebuilt from the compile index, no PyTensor
out["ours"] = draws(compiled)
if sys.argv[2] == "cold":
    import pytensor
    with pytensor.config.change_flags(numba__fastmath=False):  # as compile_cached compiles
        out["nutpie"] = draws(nutpie.compile_pymc_model(model(7)))
before = wrappers()
out["other_data"] = draws(compile_cached(model(12))[0])  # new observations, another length
out["with_data"] = draws(compiled.with_data(k_obs=np.arange(12) % 5))  # same, swapped into the compiled model
out["new_wrapper_files"] = len(wrappers()) - len(before)
out["wrapper_files"] = len(wrappers())
print(json.dumps(out))
"""


@pytest.mark.slow
def test_wrappers_cached_across_processes_with_identical_draws(tmp_path):
    """A cold and a warm compile cache give the same draws as nutpie's own compile, and a new
    process (or new data of another length) loads the wrappers instead of compiling them."""
    import os
    import subprocess
    import sys

    script = tmp_path / "fit.py"
    script.write_text(_CACHE_SCRIPT)
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'cache'}",
           "PYTHONPATH": os.pathsep.join([str(p) for p in sys.path if p.endswith("src")] + [os.environ.get("PYTHONPATH", "")])}

    def run(mode):
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / "cache"), mode], env=env,
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    cold, warm = run("cold"), run("warm")
    assert cold["cached"] and warm["cached"]
    assert not cold["from_index"] and warm["from_index"]
    assert cold["ours"] == cold["nutpie"]  # the same numbers as nutpie's uncached wrappers
    assert warm["ours"] == cold["ours"] and warm["other_data"] == cold["other_data"]
    assert cold["with_data"] == cold["other_data"] and cold["with_data"] != cold["ours"]
    assert cold["wrapper_files"] == 2  # one logp and one expand wrapper, shared by both data sets
    assert cold["new_wrapper_files"] == 0 and warm["new_wrapper_files"] == 0
    assert warm["wrapper_files"] == 2
