"""IPD in the piecewise model: padded cell containers, the study-level reparameterisation, graph reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rhcc_bayes.survival.ipd as ipd_mod
from rhcc_bayes.synthesis import Synthesis

import compiling

ARMS = ("RFA", "TACE")


def _registry(path, n: int, seed: int, patterns: bool = True):
    """``n`` simulated patients of two arms (covariates varied when ``patterns``) as an --ipd file."""
    rng = np.random.default_rng(seed)
    trt = rng.choice(ARMS, n)
    size = np.round(rng.gamma(3.0, 1.1, n) + 0.5, 1) if patterns else np.full(n, 2.0)
    nodules = rng.choice([1, 2], n) if patterns else np.ones(n, int)
    months = np.round(rng.gamma(2.0, 10.0, n), 1) if patterns else np.full(n, 30.0)
    time = np.maximum(np.round(np.minimum(rng.exponential(40.0, n), rng.uniform(6.0, 84.0, n)), 2), 0.01)
    event = (rng.uniform(size=n) < 0.6).astype(int)
    pd.DataFrame({"study": "REG", "arm": trt, "treatment": trt, "time_months": time, "event": event,
                  "tumour_size_cm": size, "nodules": nodules, "months_since_treatment": months,
                  "prior_treatment": "resection"}).to_csv(path, index=False)
    return path


def _cells(synthesis):
    return ipd_mod.segment_cells(synthesis.design.ipd.rows, synthesis.design.cuts)


def test_cell_bucket_is_the_next_power_of_two():
    assert [ipd_mod.cell_bucket(n) for n in (0, 1, 64, 65, 128, 129, 240)] == [64, 64, 64, 128, 128, 256, 256]


@pytest.fixture(scope="module")
def registry_a(tmp_path_factory):
    return Synthesis("default", ipd=_registry(tmp_path_factory.mktemp("ipd") / "a.csv", 400, seed=1))


@pytest.mark.slow  # builds the default model graph twice and compiles its log density
def test_padded_cells_add_exactly_zero_to_the_log_density_and_gradient(registry_a, monkeypatch):
    """The same model without padding (bucket = cell count) has the same logp and gradient; the
    IPD term is the Poisson log-likelihood of the real cells."""
    from scipy import stats

    model = registry_a.build_model()
    n = len(_cells(registry_a))
    assert len(model.coords["ipd_cell"]) == ipd_mod.cell_bucket(n) > n  # padded
    monkeypatch.setattr(ipd_mod, "cell_bucket", lambda k: k)
    exact = registry_a.build_model()
    assert len(exact.coords["ipd_cell"]) == n
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    inputs = model["ipd_deaths"].owner.inputs  # (size, log_mu, weight, rng)
    log_mu = [v for v in inputs if getattr(v.type, "dtype", "") == "float64" and v.type.ndim == 1][0]
    ipd_terms = model.logp(vars=[model["ipd_deaths"]], sum=False)[0]
    logp, grad, terms, mu = compiling.log_density(model, extra=[ipd_terms, log_mu])(point)
    logp_exact, grad_exact = compiling.log_density(exact)(point)
    np.testing.assert_allclose(logp, logp_exact, rtol=1e-12)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, grad_exact, rtol=1e-10, atol=1e-12)

    # the IPD term itself: real cells' Poisson log-probabilities, padded cells exactly 0
    cells = _cells(registry_a)
    np.testing.assert_allclose(terms[:n], stats.poisson.logpmf(cells["deaths"].round(), np.exp(mu[:n])), rtol=1e-10)
    assert np.all(terms[n:] == 0.0)


def test_trim_padding_drops_padded_cells_from_every_group(registry_a):
    import arviz as az
    import xarray as xr

    labels = ["IPD REG | a", "IPD REG | b", "IPD padding 1", "IPD padding 2"]
    ds = xr.Dataset({"ipd_deaths": (("chain", "draw", "ipd_cell"), np.ones((1, 2, 4)))}, coords={"ipd_cell": labels})
    obs = xr.Dataset({"ipd_deaths": (("ipd_cell",), np.arange(4))}, coords={"ipd_cell": labels})
    n_rows = len(registry_a.design.ipd.rows)  # the Weibull likelihood's rows, padded the same way
    rows = xr.Dataset({"ipd_rows": (("ipd_row", "ipd_row_column"), np.ones((ipd_mod.cell_bucket(n_rows), 2)))})
    idata = az.InferenceData(posterior_predictive=ds, log_likelihood=ds, observed_data=obs, constant_data=rows)
    ipd_mod.trim_padding(idata, registry_a.design)
    for group in ("posterior_predictive", "log_likelihood", "observed_data"):
        assert idata[group]["ipd_cell"].values.tolist() == labels[:2]
    assert idata.observed_data["ipd_deaths"].values.tolist() == [0, 1]
    assert idata.constant_data.sizes["ipd_row"] == n_rows < ipd_mod.cell_bucket(n_rows)


@pytest.mark.slow  # builds the default model graph three times
def test_registries_of_one_bucket_share_the_compile_index_entry(tmp_path):
    """model_key (shared data by shape; dim lengths and data in the priors' graph by value) is
    the same for two registries of one cell bucket, another for a registry of another bucket."""
    from rhcc_bayes.inference.compile_index import model_key

    a = Synthesis("default", ipd=_registry(tmp_path / "a.csv", 400, seed=1))
    b = Synthesis("default", ipd=_registry(tmp_path / "b.csv", 900, seed=2))
    c = Synthesis("default", ipd=_registry(tmp_path / "c.csv", 50, seed=3, patterns=False))
    n = [len(_cells(s)) for s in (a, b, c)]
    assert n[0] != n[1] and ipd_mod.cell_bucket(n[0]) == ipd_mod.cell_bucket(n[1]) != ipd_mod.cell_bucket(n[2])
    models = [s.build_model() for s in (a, b, c)]
    keys = [model_key(m, "test") for m in models]
    assert keys[0] == keys[1]
    assert keys[2] != keys[0]
    # ... although the data differ, the reference cells included
    assert not np.array_equal(models[0]["ipd_deaths_data"].get_value(), models[1]["ipd_deaths_data"].get_value())
    assert not np.array_equal(models[0]["ipd_cells"].get_value(), models[1]["ipd_cells"].get_value())
