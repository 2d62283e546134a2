"""Secondary-outcome sub-models: the level parameterisation keeps the declared prior."""

import numpy as np
from scipy import stats

from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.model import build_survival_model


def test_intercept_keeps_its_normal_prior_independent_of_the_study_effects():
    """The free variable is the level the data pin (intercept + sigma * mean z_study); the
    intercept derived from it must still be N(0, secondary_intercept_sd) and independent of
    sigma and z_study, or the reparameterisation changed the model."""
    import pymc as pm

    spec = load_spec("default")
    design = make_design(load_evidence(), spec)
    model = build_survival_model(design, spec)
    outcomes = list(dict.fromkeys(design.secondary["outcome"]))
    assert outcomes, "the bundled evidence has secondary outcomes"
    names = [f"{o}_{part}" for o in outcomes for part in ("intercept", "logit_level", "sigma_study", "z_study")]
    for o in outcomes:  # the intercept is derived, the level is what NUTS samples
        assert model[f"{o}_logit_level"] in model.free_RVs
        assert model[f"{o}_intercept"] in model.deterministics
    prior = pm.sample_prior_predictive(draws=4000, model=model, var_names=names, random_seed=5).prior
    sd = spec.priors.secondary_intercept_sd
    for o in outcomes:
        alpha = prior[f"{o}_intercept"].values.ravel()
        assert stats.kstest(alpha, "norm", args=(0.0, sd)).pvalue > 0.01, o
        sigma = prior[f"{o}_sigma_study"].values.ravel()
        z = prior[f"{o}_z_study"].values.reshape(4000, -1)
        shift = sigma * z.mean(axis=1)
        assert abs(np.corrcoef(alpha, shift)[0, 1]) < 0.05, o
        assert abs(np.corrcoef(alpha, sigma)[0, 1]) < 0.05, o
        # and the level really is intercept + sigma * mean(z)
        np.testing.assert_allclose(prior[f"{o}_logit_level"].values.ravel(), alpha + shift, atol=1e-10)
