"""Recovery of what the new hazard families add: a known cure fraction and a known M-spline
hazard shape, from simulated landmark counts with long follow-up.

The truth fixes the family's parameters with ``pm.do`` (the other parameters, treatment
and study effects, come from the prior with a fixed seed); the landmark deaths are then
drawn from the model's own likelihood on a synthetic 30-study design (landmarks to 120
months, no censoring) and the un-intervened model is refitted. Each fit is small
(4 chains x 500 draws after 500 tuning steps: a few seconds of sampling).
"""

from unittest import mock

import numpy as np
import pytest

from rhcc_bayes.evidence.table import Evidence
from rhcc_bayes.evidence.taxonomy import Taxonomy
from rhcc_bayes.inference.sampling import SamplerSettings, sample
from rhcc_bayes.specs import parse_spec
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.hazards import family_for
from rhcc_bayes.survival import shift
from rhcc_bayes.survival.model import build_survival_model
from rhcc_bayes.survival.simulate import replace_observations, synthetic_table

pytestmark = pytest.mark.slow

TREATMENTS = {"TACE": "transarterial", "RFA": "ablation", "REPEAT-RESECTION": "surgery"}
LANDMARKS = (6.0, 12.0, 24.0, 36.0, 60.0, 90.0, 120.0)
SETTINGS = SamplerSettings(chains=4, draws=500, tune=500, target_accept=0.95)


def simulate_and_fit(model_table: dict, truth: dict, seed: int):
    import pymc as pm

    taxonomy = Taxonomy.open_world(TREATMENTS)
    table = synthetic_table(30, list(TREATMENTS), np.random.default_rng(seed), landmarks=LANDMARKS)
    table = table[table["measure"] == "survival"]  # landmarks only: the plateau and shape show there
    spec = parse_spec({"model": {"name": "recovery", "covariates": [], "secondary_outcomes": [], **model_table},
                       "evidence": {"censoring": "none"}}, "recovery.toml")
    design = make_design(Evidence(table, taxonomy, ("simulated",)), spec)
    # the other parameters' truths drawn with model .17's plain study effects (PyMC's random streams
    # follow the variables): model .18's mean split changes the fit's coordinates, not the data
    with mock.patch.object(shift, "SPLIT_MIN_STUDIES", 10**9):
        model = build_survival_model(design, spec)
    prior = pm.sample_prior_predictive(draws=1, model=pm.do(model, truth), random_seed=seed)
    deaths = prior.prior_predictive["landmark_deaths"].values[0, 0]
    simulated = replace_observations(design, {"landmark_deaths": deaths})
    idata = sample(build_survival_model(simulated, spec), SETTINGS, seed=seed, progressbar=False,
                   log_likelihood=False, posterior_predictive=False)
    return spec, simulated, idata


def test_recovers_a_known_cure_fraction():
    truth = {"cure_logit": np.log(0.3 / 0.7), "log_lambda": np.log(0.03), "log_shape": 0.0}
    _, _, idata = simulate_and_fit({"hazard": "cure", "cure_base": "weibull"}, truth, seed=11)
    p = idata.posterior["cure_fraction"].values.ravel()
    lo, hi = np.quantile(p, [0.05, 0.95])
    assert lo < 0.3 < hi
    assert abs(p.mean() - 0.3) < 0.08
    assert int(idata.sample_stats["diverging"].sum()) == 0


def test_recovers_a_known_mspline_hazard_shape():
    # a hazard that rises to a peak near 2 years and then falls (smooth_sd 1, fixed z)
    z = np.array([1.2, 0.6, -0.8, -1.2, -0.6])
    truth = {"log_hazard_level": np.log(0.02), "spline_smooth_sd": 1.0, "z_spline": z}
    spec, design, idata = simulate_and_fit({"hazard": "mspline", "spline_df": 6}, truth, seed=12)
    family = family_for(spec, design)
    coef_true = np.exp(np.log(family.constant) + np.concatenate([[0.0], np.cumsum(z)]))
    coef_true /= coef_true.sum()
    times = np.array([3.0, 12.0, 30.0, 60.0, 100.0])
    true_h = family.hazard({"log_hazard_level": np.array([np.log(0.02)]), "spline_coef": coef_true[None]},
                           np.zeros(1), times)[0]
    assert true_h.max() / true_h.min() > 2  # the shape is far from a constant hazard
    post = family.posterior_params(idata.posterior)
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in post.items()}
    h = family.hazard(flat, np.zeros(len(flat["log_hazard_level"])), times)   # baseline (theta = 0)
    lo, hi = np.quantile(h, [0.05, 0.95], axis=0)
    assert np.all((lo < true_h) & (true_h < hi)), (lo, true_h, hi)
    assert int(idata.sample_stats["diverging"].sum()) == 0
