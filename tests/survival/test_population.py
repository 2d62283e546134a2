"""Population descriptors and the new-study posterior predictive (synthetic posterior: fast)."""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pytest
import xarray as xr

from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.survival.population import (
    Population,
    binomial_survivors,
    check_times,
    load_population,
    predict_population,
    prediction_table,
    write_netcdf_atomic,
)

HAZARD = 0.02  # per month, constant


def fake_idata(chains=2, draws=2000, sigma_study=1e-6):
    """Posterior of a piecewise model with a constant hazard 0.02/month for every treatment."""
    shape = (chains, draws)
    treatments = ["RFA", "TACE"]
    post = {
        "mu": np.zeros(shape + (2,)),
        "gamma": np.full(shape + (4,), np.log(HAZARD)),
        "sigma_study": np.full(shape, sigma_study),
        "beta_size": np.zeros(shape + (3,)) + np.array([-0.5, 0.0, 0.5]),
    }
    idata = az.from_dict(posterior=post, dims={"mu": ["treatment"], "gamma": ["segment"],
                                               "beta_size": ["size_band_level"]},
                         coords={"treatment": treatments, "size_band_level": ["le3", "3to5", "gt5"]})
    idata.add_groups(constant_data=xr.Dataset(
        {"is_ablation": ("treatment", np.array([1, 0])), "cuts": ("cut", np.array([0.0, 12, 36, 60, -1.0]))},
        coords={"treatment": treatments, "cut": np.arange(5)}))
    return idata


@pytest.fixture(scope="module")
def idata():
    return fake_idata()


# --- descriptors ---------------------------------------------------------------------------
def test_descriptors_map_to_arm_levels():
    assert Population.from_mapping({"size_max_cm": 3, "nodules_max": 1, "prior_treatment": "resection"}
                                   ).covariates() == {"size_band": "le3", "nodularity": "solitary",
                                                      "recurrence": "nr", "prior": "nr", "stage": "nr"}
    milan = Population.from_mapping({"milan": "within", "recurrence": "early"})
    assert (milan.size_max_cm, milan.nodules_max) == (5.0, 3.0)
    assert milan.covariates() == {"size_band": "3to5", "nodularity": "nr", "recurrence": "early", "prior": "nr",
                                  "stage": "nr"}
    assert Population.from_mapping({"milan": True, "size_max_cm": 3}).size_max_cm == 3.0
    assert set(Population().covariates().values()) == {"nr"}  # all-comer cohort
    assert Population.from_mapping({"size_min_cm": 5}).covariates()["size_band"] == "gt5"
    advanced = Population.from_mapping({"advanced": True, "prior_treatment": "resection"})
    assert advanced.bclc == "C" and advanced.covariates()["stage"] == "advanced"
    assert Population.from_mapping({"advanced": "any"}).covariates()["stage"] == "nr"


def test_advanced_within_milan_is_refused():
    with pytest.raises(ValidationError, match="advanced.*beyond Milan"):
        Population.from_mapping({"advanced": True, "milan": "within"}, source="pop.toml")
    with pytest.raises(ValidationError, match="must be true"):
        Population.from_mapping({"advanced": "yes"}, source="pop.toml")


def test_example_population_files_load(examples_dir):
    files = sorted((examples_dir / "populations").glob("*.toml"))
    assert files
    for f in files:
        pop = load_population(f)
        assert pop.id and set(pop.covariates()) == {"size_band", "nodularity", "recurrence", "prior", "stage"}
    assert load_population(examples_dir / "populations" / "advanced_post_resection.toml").covariates() == {
        "size_band": "nr", "nodularity": "nr", "recurrence": "nr", "prior": "nr", "stage": "advanced"}
    assert Population.from_mapping({"prior_treatment": "transplant"}).covariates()["prior"] == "transplant"


@pytest.mark.parametrize("text,needle", [
    ('size_max = 3\n', "column 'size_max': unknown key (did you mean 'size_max_cm'?)"),
    ('size_max_cm = -1\n', "column 'size_max_cm': must be a positive number"),
    ('nodules_max = 1.5\n', "must be a whole number of nodules"),
    ('recurrence = "erly"\n', "column 'recurrence': must be one of ['early', 'late', 'any'] (did you mean 'early'?)"),
    ('milan = "yes"\n', "column 'milan': must be 'within'"),
    ('size_min_cm = 5\nsize_max_cm = 3\n', "size_min_cm (5) must be below size_max_cm (3)"),
    ('[population\n', "not valid TOML"),
    ('[population]\nsize_max_cm = 3\n[other]\nx = 1\n', "expected only a [population] table"),
])
def test_bad_population_files_name_file_and_key(tmp_path, text, needle):
    path = tmp_path / "pop.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as err:
        load_population(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_population_file(tmp_path):
    with pytest.raises(ValidationError, match="cannot read population"):
        load_population(tmp_path / "nope.toml")


# --- predictive ----------------------------------------------------------------------------
def test_times_any_positive_months():
    assert check_times([24, 7.5, 12]).tolist() == [7.5, 12, 24]
    for bad in ([], [0, 12], [-1], [12, 12], ["x"], [math.inf]):
        with pytest.raises(UserError, match="times"):
            check_times(bad)
    assert check_times([240]).tolist() == [240.0]
    with pytest.raises(UserError, match=r"times must be at most 240 months \(20 years\), got \[12.0, 1000000000.0\]"):
        check_times([12, 1e9])


def test_binomial_survivors_are_sequential_and_bounded():
    rng = np.random.default_rng(0)
    surv = np.tile(np.array([0.9, 0.6, 0.3]), (20000, 1))
    alive = binomial_survivors(surv, 100, rng)
    assert (np.diff(alive, axis=-1) <= 0).all() and alive.max() <= 100
    assert np.allclose(alive.mean(axis=0) / 100, [0.9, 0.6, 0.3], atol=0.01)
    # same patients: var of the last landmark is binomial(n, S) (sequential thinning)
    assert alive[:, 2].var() == pytest.approx(100 * 0.3 * 0.7, rel=0.05)


def test_predict_population_dataset(idata):
    ds = predict_population(idata, {"size_max_cm": 5}, "TACE", 120, [30, 7.5, 12], seed=3)
    assert ds["reported"].dims == ("chain", "draw", "time")
    assert ds["time"].values.tolist() == [7.5, 12.0, 30.0] and ds["time"].attrs["units"] == "months"
    assert ds.attrs["treatment"] == "TACE" and ds.attrs["n"] == 120 and ds.attrs["level_size_band"] == "3to5"
    expected = np.exp(-HAZARD * ds["time"].values)
    assert np.allclose(ds["survival"].mean(("chain", "draw")), expected, atol=1e-4)
    rep = ds["reported"].values.reshape(-1, 3)
    assert np.allclose(rep.mean(axis=0), expected, atol=0.01)
    # spread = binomial noise of n = 120 (study effect ~ 0 in this posterior)
    assert rep[:, 2].std() == pytest.approx(np.sqrt(expected[2] * (1 - expected[2]) / 120), rel=0.1)
    again = predict_population(idata, {"size_max_cm": 5}, "TACE", 120, [30, 7.5, 12], seed=3)
    xr.testing.assert_identical(ds, again)


def test_population_levels_enter_the_prediction(idata):
    small = predict_population(idata, {"size_max_cm": 3}, "TACE", 100, [24])["survival"].mean()
    large = predict_population(idata, {"size_min_cm": 5}, "TACE", 100, [24])["survival"].mean()
    assert float(small) > float(large)


def test_prediction_table(idata):
    table = prediction_table(predict_population(idata, {}, "RFA", 80, [12, 60]))
    assert list(table.columns) == ["treatment", "n", "time", "mean", "median", "lo50", "hi50", "lo90", "hi90",
                                   "lo95", "hi95", "survival_mean"]
    assert (table["lo95"] <= table["lo90"]).all() and (table["lo90"] <= table["lo50"]).all()
    assert (table["lo50"] <= table["median"]).all() and (table["median"] <= table["hi50"]).all()
    assert (table["hi50"] <= table["hi90"]).all() and (table["hi90"] <= table["hi95"]).all()


@pytest.mark.parametrize("kwargs,needle", [
    ({"treatment": "RFX"}, "unknown treatment 'RFX' (did you mean 'RFA'?)"),
    ({"n": 0}, "n must be a positive whole number"),
    ({"n": 12.5}, "n must be a positive whole number"),
    ({"times": [-3]}, "times must be positive"),
])
def test_predict_population_errors(idata, kwargs, needle):
    args = {"population": {}, "treatment": "RFA", "n": 50, "times": [12], **kwargs}
    with pytest.raises(UserError) as err:
        predict_population(idata, **args)
    assert needle in str(err.value)


def test_draws_written_atomically(idata, tmp_path):
    ds = predict_population(idata, {}, "RFA", 50, [12, 36])
    out = write_netcdf_atomic(ds, tmp_path / "d.nc")
    back = xr.load_dataset(out, engine="h5netcdf")
    assert np.array_equal(back["alive"].values, ds["alive"].values)
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(UserError, match="cannot write"):
        write_netcdf_atomic(ds, tmp_path / "no_such_dir" / "d.nc")


def test_levels_no_arm_reports_become_nr_when_the_posterior_knows_its_arms():
    import json

    idata = fake_idata(draws=200)
    idata.attrs["evidence_arms_json"] = json.dumps([{"study": "s", "arm": "A", "treatment": "TACE", "n": 50,
                                                     "size_max_cm": 5.0}])
    ds = predict_population(idata, {"size_max_cm": 3}, "TACE", 50, [12], levels="reported")
    assert ds.attrs["level_size_band"] == "nr" and "no arm reports this level" in ds.attrs["level_notes"]
    kept = predict_population(idata, {"size_max_cm": 3}, "TACE", 50, [12])
    assert kept.attrs["level_size_band"] == "le3" and "covariate prior" in kept.attrs["level_notes"]


@pytest.mark.slow
def test_synthesis_posterior_predicts_a_population(small_fit, examples_dir):
    _, result = small_fit
    pop = examples_dir / "populations" / "small_solitary_post_resection.toml"
    ds = result.predict_population(pop, "RFA", 120, [6, 12, 24])
    assert ds["reported"].dims == ("chain", "draw", "time") and ds.attrs["population"] == pop.stem
    table = prediction_table(ds)
    assert table["time"].tolist() == [6.0, 12.0, 24.0] and (table["lo90"] <= table["hi90"]).all()


@pytest.mark.slow
def test_advanced_population_is_predicted_with_the_fitted_stage_effect(small_fit):
    from rhcc_bayes.survival.predict import linear_predictor

    _, result = small_fit
    idata = result.idata
    beta = idata.posterior["beta_stage"].sel(stage_level="advanced").values
    adv = linear_predictor(idata, Population.from_mapping({"advanced": True}).covariates())
    allcomer = linear_predictor(idata, Population().covariates())
    assert np.allclose(adv.values - allcomer.values, beta[..., None])
    # Peng [106] (the only bclc = C cohort) pulls the effect above zero: advanced is worse
    assert (beta > 0).mean() > 0.95
