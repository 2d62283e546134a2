"""Tests for the diagnostics gate.

Most checks use hand-made InferenceData whose pathologies are known exactly;
two slow tests sample a real model, once well and once with almost no warm-up.
"""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pytest

from rhcc_bayes.inference.diagnostics import (
    MAX_LISTED_FAILURES,
    ConvergenceError,
    GateReport,
    GateThresholds,
    UnconvergedWarning,
    check_gate,
    deterministic_names,
    enforce_gate,
)
from rhcc_bayes.core.errors import UserError

CHAINS, DRAWS = 4, 1000


def _idata(*, offsets=None, diverging=0, sticky_energy=False, chains=CHAINS, extra=None, attrs=None, stats=True):
    """iid normal draws for mu[treatment] and tau; optional pathologies."""
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(chains, DRAWS, 2))
    if offsets is not None:  # chains disagree about mu[TACE]: R-hat fails there only
        mu[:, :, 1] += np.asarray(offsets)[:chains, None]
    posterior = {"mu": mu, "tau": np.exp(rng.normal(size=(chains, DRAWS)))}
    if extra:
        posterior.update(extra)
    sample_stats = None
    if stats:
        div = np.zeros((chains, DRAWS), dtype=bool)
        div.flat[:diverging] = True
        energy = rng.normal(size=(chains, DRAWS))
        if sticky_energy:  # a random walk in energy: momentum resampling barely moves it
            energy[0] = np.cumsum(energy[0])
        sample_stats = {"diverging": div, "energy": energy}
    idata = az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        coords={"treatment": ["RFA", "TACE"]},
        dims={"mu": ["treatment"]},
    )
    if attrs:
        idata.attrs.update(attrs)
    return idata


# ---------------------------------------------------------------- check_gate


def test_well_mixed_draws_pass():
    report = check_gate(_idata())
    assert report.passed and report.failures == ()
    assert list(report.summary.index) == ["mu[RFA]", "mu[TACE]", "tau"]
    assert list(report.summary.columns) == ["r_hat", "ess_bulk", "ess_tail"]
    assert report.divergences == 0 and len(report.bfmi) == CHAINS
    assert "passed" in str(report)


def test_r_hat_failure_names_parameter_coordinate_and_value():
    report = check_gate(_idata(offsets=[0.0, 0.0, 0.0, 1.5]))
    assert not report.passed
    r_hat_failures = [f for f in report.failures if f.startswith("r_hat")]
    assert len(r_hat_failures) == 1
    value = report.summary.loc["mu[TACE]", "r_hat"]
    assert r_hat_failures[0] == f"r_hat {value:.3f} > 1.01 for mu[TACE]"
    assert not any("mu[RFA]" in f for f in report.failures)


def test_summary_is_not_rounded():
    # ArviZ rounds to 2 decimals by default, which would let 1.014 pass as 1.01.
    r_hat = check_gate(_idata()).summary["r_hat"]
    assert any(abs(v * 100 - round(v * 100)) > 1e-9 for v in r_hat)


def test_low_ess_fails_with_value():
    report = check_gate(_idata(), thresholds=GateThresholds(ess_bulk_min=10_000))
    assert any(f.startswith("ess_bulk") and f.endswith("< 10000 for tau") for f in report.failures)


def test_divergences_counted_and_reported():
    report = check_gate(_idata(diverging=3))
    assert report.divergences == 3
    assert any("3 divergent transitions > 0" in f for f in report.failures)
    assert check_gate(_idata(diverging=3), thresholds=GateThresholds(divergences_max=5)).passed


def test_low_bfmi_names_chain():
    report = check_gate(_idata(sticky_energy=True))
    assert report.bfmi[0] < 0.3 <= min(report.bfmi[1:])
    assert [f for f in report.failures if "E-BFMI" in f] == [f"E-BFMI {report.bfmi[0]:.3f} < 0.3 in chain 0"]


def test_single_chain_cannot_pass():
    report = check_gate(_idata(chains=1))
    assert not report.passed
    assert any("needs at least 2 chains" in f for f in report.failures)


def test_missing_sample_stats_is_a_failure_not_a_skip():
    report = check_gate(_idata(stats=False))
    assert not report.passed
    assert any("diverging missing" in f for f in report.failures)
    assert any("energy missing" in f for f in report.failures)


def test_deterministics_listed_in_attrs_are_excluded():
    stuck = np.repeat(np.arange(CHAINS, dtype=float)[:, None], DRAWS, axis=1)  # R-hat = inf
    idata = _idata(extra={"surv": stuck}, attrs={"deterministics": json.dumps(["surv"])})
    report = check_gate(idata)
    assert report.passed and "surv" not in report.summary.index
    explicit = check_gate(idata, var_names=["surv"])
    assert not explicit.passed and any(f.endswith("for surv") for f in explicit.failures)


@pytest.mark.parametrize("raw", ['["a", "b"]', "a, b", ["a", "b"], ("a", "b")])
def test_deterministic_names_formats(raw):
    idata = _idata(attrs={"deterministics": raw})
    assert deterministic_names(idata) == ["a", "b"]


def test_unknown_var_name_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        check_gate(_idata(), var_names=["nope"])


# ---------------------------------------------------------------- enforce_gate


def test_enforce_passed_sets_attrs():
    idata = _idata()
    out = enforce_gate(idata, check_gate(idata))
    assert out is idata
    assert out.attrs["gate_passed"] == 1 and out.attrs["gate_failures"] == ""
    assert json.loads(out.attrs["gate_thresholds"])["r_hat_max"] == 1.01


def test_enforce_failed_raises_user_error_listing_failures():
    idata = _idata(offsets=[0, 0, 0, 1.5])
    with pytest.raises(ConvergenceError) as err:
        enforce_gate(idata, check_gate(idata))
    assert isinstance(err.value, UserError)
    msg = str(err.value)
    assert "mu[TACE]" in msg and "--allow-unconverged" in msg
    assert "gate_passed" not in idata.attrs


def test_enforce_failed_but_allowed_warns_and_stamps(tmp_path):
    from rhcc_bayes.inference.cache import load_idata, save_idata

    idata = _idata(offsets=[0, 0, 0, 1.5], diverging=2)
    report = check_gate(idata)
    with pytest.warns(UnconvergedWarning, match=r"mu\[TACE\]"):
        out = enforce_gate(idata, report, allow_unconverged=True)
    assert out.attrs["gate_passed"] == 0
    assert out.attrs["gate_failures"] == "; ".join(report.failures)
    # The verdict survives the netCDF cache, so downstream outputs can repeat it.
    back = load_idata(save_idata(out, tmp_path / "p.nc"))
    assert back.attrs["gate_passed"] == 0 and back.attrs["gate_failures"] == out.attrs["gate_failures"]


def test_long_failure_lists_are_truncated_in_the_message():
    failures = tuple(f"r_hat 1.100 > 1.01 for x[{i}]" for i in range(MAX_LISTED_FAILURES + 5))
    report = GateReport(passed=False, failures=failures, summary=None, divergences=0, bfmi=())
    with pytest.raises(ConvergenceError, match="and 5 more"):
        enforce_gate(_idata(), report)


# ---------------------------------------------------------------- real sampling


@pytest.fixture(scope="module")
def eight_schools():
    """Non-centred eight schools, compiled once for both slow tests."""
    import pymc as pm

    from rhcc_bayes.inference.sampling import compile_model

    y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    sd = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    with pm.Model(coords={"school": list("ABCDEFGH")}) as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 5)
        z = pm.Normal("z", 0, 1, dims="school")
        theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        pm.Normal("y", theta, sd, observed=y, dims="school")
    return model, compile_model(model, "nutpie")


def _fit(eight_schools, **settings):
    from rhcc_bayes.inference.sampling import SamplerSettings, sample

    model, compiled = eight_schools
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sample(
            model,
            SamplerSettings(**settings),
            seed=2,
            compiled=compiled,
            log_likelihood=False,
            posterior_predictive=False,
        )


@pytest.mark.slow
def test_gate_passes_on_a_good_fit(eight_schools):
    idata = _fit(eight_schools, chains=4, draws=1000, tune=600)
    report = check_gate(idata)
    assert report.passed, report.failures
    # theta is a deterministic: excluded by default via attrs written by fit.sample
    assert "theta[A]" not in report.summary.index and "z[A]" in report.summary.index
    assert enforce_gate(idata, report).attrs["gate_passed"] == 1


@pytest.mark.slow
def test_gate_trips_on_an_unadapted_fit(eight_schools):
    # Five warm-up steps: step size and mass matrix never adapt, chains still
    # remember their starting points, so R-hat and ESS fail.
    idata = _fit(eight_schools, chains=4, draws=50, tune=5)
    report = check_gate(idata)
    assert not report.passed
    assert any(f.startswith("r_hat") for f in report.failures)
    with pytest.raises(ConvergenceError) as err:
        enforce_gate(idata, report)
    first = report.failures[0]
    assert " for " in first and first in str(err.value)  # e.g. "r_hat 1.097 > 1.01 for mu"
