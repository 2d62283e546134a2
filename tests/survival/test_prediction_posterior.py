"""The prediction part of a posterior: only the variables predictions read, the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from rhcc_bayes.survival.covariates import LEVELS
from rhcc_bayes.survival.predict import linear_predictor, prediction_variables
from rhcc_bayes.survival.prediction_posterior import PredictionPosterior, prediction_posterior, to_netcdf_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def view(small_fit):
    _, post = small_fit
    return prediction_posterior(post.cache_path)


def test_reads_only_the_prediction_variables_from_the_file(small_fit, view):
    _, post = small_fit
    names = set(prediction_variables(post.idata))
    assert set(view.posterior.data_vars) == names & set(post.idata.posterior.data_vars)
    assert {"mu", "gamma", "beta_size"} <= set(view.posterior.data_vars)
    assert len(view.posterior.data_vars) < len(post.idata.posterior.data_vars) / 3
    # every covariate effect of the model is listed: a forgotten one would silently count as zero
    assert {v for v in post.idata.posterior.data_vars if v.startswith("beta_")} <= names
    assert view.attrs == dict(post.idata.attrs)
    assert view.constant_data.identical(post.idata.constant_data)
    for name in view.posterior.data_vars:
        assert view.posterior[name].dtype == np.float64
        np.testing.assert_array_equal(view.posterior[name].values, post.idata.posterior[name].values)


def test_netcdf_bytes_round_trip_exactly(view):
    again = prediction_posterior(to_netcdf_bytes(view))
    assert isinstance(again, PredictionPosterior)
    assert again.posterior.identical(view.posterior) and again.constant_data.identical(view.constant_data)
    assert again.attrs == view.attrs
    assert prediction_posterior(again) is again


@pytest.mark.parametrize("population", ["average", "new"])
def test_linear_predictor_is_bit_identical_for_every_level(small_fit, view, population):
    _, post = small_fit
    for name, levels in LEVELS.items():
        for level in levels:
            full = linear_predictor(post.idata, {name: level}, population=population, seed=4)
            lean = linear_predictor(view, {name: level}, population=population, seed=4)
            assert full.identical(lean), (name, level)
