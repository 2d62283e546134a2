"""Vectorised pointwise log-likelihood against pm.compute_log_likelihood."""

from __future__ import annotations


import numpy as np
import pytest

from postfit_models import assert_same_dataset, eight_schools_fit, fake_posterior, rich_model
from rhcc_bayes.inference import pointwise


def _pymc_log_likelihood(idata, model):
    import pymc as pm

    return pm.compute_log_likelihood(idata, model=model, extend_inferencedata=False, progressbar=False)


def assert_same_log_likelihood(ours, theirs):
    """Equal to PyMC's up to rounding (one compiled call over all draws vs PyMC's per-draw loop)."""
    assert_same_dataset(ours, theirs, rtol=1e-10)


@pytest.fixture(scope="module")
def model():
    return rich_model()


@pytest.fixture(scope="module")
def idata(model):
    return fake_posterior(model)


def test_equals_pymc_on_every_observed_block(model, idata):
    assert_same_log_likelihood(pointwise.log_likelihood(idata, model), _pymc_log_likelihood(idata, model))


def test_selected_variables_only(model, idata):
    ours = pointwise.log_likelihood(idata, model, var_names=["events"])
    assert list(ours.data_vars) == ["events"]
    np.testing.assert_allclose(ours["events"], _pymc_log_likelihood(idata, model)["events"], rtol=1e-10)
    with pytest.raises(ValueError, match="observed"):
        pointwise.log_likelihood(idata, model, var_names=["mu"])


def test_chunks_give_the_same_values(model, idata, monkeypatch):
    whole = pointwise.log_likelihood(idata, model)
    monkeypatch.setattr(pointwise, "CHUNK_ELEMENTS", 7)  # several chunks of uneven length
    chunked = pointwise.log_likelihood(idata, model)
    for name in whole.data_vars:
        np.testing.assert_array_equal(chunked[name].values, whole[name].values)


def test_compiled_once_per_model_and_follows_new_data(idata, monkeypatch):
    import pymc as pm

    model = rich_model()
    calls = []
    real = pointwise._compile
    monkeypatch.setattr(pointwise, "_compile", lambda *a: calls.append(1) or real(*a))
    first = pointwise.log_likelihood(idata, model)
    assert_same_log_likelihood(pointwise.log_likelihood(idata, model), first)
    assert len(calls) == 1  # an in-process refit reuses the compiled function
    with model:
        pm.set_data({"exposure": np.linspace(1, 2, 6)})
    again = pointwise.log_likelihood(idata, model)
    assert len(calls) == 2
    assert not np.allclose(again["deaths"].values, first["deaths"].values)
    assert_same_log_likelihood(again, _pymc_log_likelihood(idata, model))


def test_missing_free_variable_is_an_error(model, idata):
    with pytest.raises(KeyError):
        pointwise.log_likelihood(idata.map(lambda ds: ds.drop_vars("mu"), groups="posterior"), model)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["nutpie", "pymc"])
def test_in_sample_on_a_real_fit(backend):
    """sample() fills log_likelihood with PyMC's values, with either backend (eight schools)."""
    model, idata = eight_schools_fit(backend)
    assert_same_log_likelihood(idata.log_likelihood, _pymc_log_likelihood(idata, model))


@pytest.mark.slow
def test_equals_pymc_on_the_default_survival_fit(small_fit):
    """The session fit of the default spec: every observed block, its dims and coords."""
    _, result = small_fit
    model = result.synthesis.build_model()
    idata = result.idata.sel(draw=slice(0, 60))  # PyMC's per-draw loop is the slow side
    ours = pointwise.log_likelihood(idata, model)
    assert_same_log_likelihood(ours, _pymc_log_likelihood(idata, model))
    assert len(ours.data_vars) >= 4  # several observed blocks with their own dims


def test_prepare_compiles_what_log_likelihood_uses(idata, monkeypatch):
    model = rich_model()
    calls = []
    real = pointwise._compile
    monkeypatch.setattr(pointwise, "_compile", lambda *a: calls.append(1) or real(*a))
    pointwise.prepare(model)
    assert_same_log_likelihood(pointwise.log_likelihood(idata, model), _pymc_log_likelihood(idata, model))
    assert len(calls) == 1
