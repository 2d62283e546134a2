"""Vectorised posterior predictive draws against pm.sample_posterior_predictive."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from postfit_models import assert_same_dataset, eight_schools_fit, fake_posterior, rich_model
from rhcc_bayes.inference import predictive
from rhcc_bayes.inference.sampling import _predictive_var_names

NAMES = ["deaths", "events", "noise", "total"]  # observed blocks (one independent of the posterior), a deterministic


def _pymc(idata, model, names, seed):
    import pymc as pm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Potential warning
        return pm.sample_posterior_predictive(idata, model=model, var_names=names, random_seed=seed,
                                              progressbar=False).posterior_predictive


def _ours(idata, model, names, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return predictive.posterior_predictive(idata, model, var_names=names, seed=seed).posterior_predictive


@pytest.fixture(scope="module")
def model():
    return rich_model()


@pytest.fixture(scope="module")
def idata(model):
    return fake_posterior(model)


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_same_draws_as_pymc(model, idata, seed):
    assert_same_dataset(_ours(idata, model, NAMES, seed), _pymc(idata, model, NAMES, seed))


def test_same_seed_same_draws_other_seed_other_draws(model, idata):
    a, b, c = (_ours(idata, model, NAMES, s) for s in (5, 5, 6))
    for name in NAMES:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for name in ("deaths", "events", "noise"):
        assert not np.array_equal(a[name].values, c[name].values), name


def test_every_draw_is_a_new_draw(model, idata):
    """Each posterior draw gets its own variates (a generator that is never advanced repeats them)."""
    noise = _ours(idata, model, ["noise"], 1)["noise"].values.reshape(-1, 3)
    assert len(np.unique(noise[:, 0])) == len(noise)


def test_chunks_give_the_same_draws(model, idata, monkeypatch):
    whole = _ours(idata, model, NAMES, 3)
    from rhcc_bayes.inference import pointwise

    monkeypatch.setattr(pointwise, "CHUNK_ELEMENTS", 5)  # the chunking both modules share
    assert_same_dataset(_ours(idata, model, NAMES, 3), whole)


def test_changed_data_is_redrawn_as_pymc_does(idata):
    """New pm.Data values make the variables depending on them volatile (PyMC's rule), compiled anew."""
    import pymc as pm

    model = rich_model()
    _ours(idata, model, NAMES, 2)
    with model:
        pm.set_data({"exposure": np.linspace(10, 20, 6)})
    assert_same_dataset(_ours(idata, model, NAMES, 2), _pymc(idata, model, NAMES, 2))


def test_model_still_usable(model, idata):
    _ours(idata, model, _predictive_var_names(model), 1)
    assert [v.name for v in model.observed_RVs] == ["deaths", "events", "noise"]
    model.logp()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["nutpie", "pymc"])
def test_in_sample_on_a_real_fit(backend):
    """sample() fills posterior_predictive with PyMC's draws for its derived seed, with either backend."""
    from rhcc_bayes.inference.sampling import derived_seed

    model, idata = eight_schools_fit(backend)
    expected = _pymc(idata, model, ["y"], derived_seed(3, "posterior_predictive"))
    assert_same_dataset(idata.posterior_predictive, expected)
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "school")


@pytest.mark.slow
def test_same_draws_as_pymc_on_the_default_survival_fit(small_fit):
    _, result = small_fit
    model = result.synthesis.build_model()
    idata = result.idata.sel(draw=slice(0, 60))
    names = _predictive_var_names(model)
    ours = _ours(idata, model, names, 11)
    assert len(ours.data_vars) >= 4
    assert_same_dataset(ours, _pymc(idata, model, names, 11))


def test_prepare_compiles_what_the_draws_use(idata, monkeypatch):
    """prepare() (run by sample() while nutpie samples) predicts the function of a full posterior."""
    model = rich_model()
    calls = []
    real = predictive._compile
    monkeypatch.setattr(predictive, "_compile", lambda *a: calls.append(1) or real(*a))
    predictive.prepare(model, NAMES)
    assert len(calls) == 1
    assert_same_dataset(_ours(idata, model, NAMES, 4), _pymc(idata, model, NAMES, 4))
    assert len(calls) == 1
