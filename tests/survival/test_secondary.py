"""Secondary-outcome sub-models: one block over the outcomes, keeping each outcome's declared prior."""

import numpy as np
import pytest
from scipy import stats

from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.model import build_survival_model

import compiling


@pytest.fixture(scope="module")
def bundled():
    spec = load_spec("default")
    design = make_design(load_evidence(), spec)
    outcomes = list(dict.fromkeys(design.secondary["outcome"]))
    assert len(outcomes) >= 2, "the bundled evidence has several secondary outcomes"
    return spec, design, build_survival_model(design, spec), outcomes


def _study_slices(design, outcomes):
    """Each outcome's slice of the flat secondary_z_study (its studies in first-appearance order)."""
    sec, start, out = design.secondary, 0, {}
    for o in outcomes:
        n = sec.loc[sec["outcome"] == o, "study_index"].nunique()
        out[o] = slice(start, start + n)
        start += n
    return out


def test_intercept_keeps_its_normal_prior_independent_of_the_study_effects(bundled):
    """The free variable is the level the data pin (intercept + sigma * mean z_study); the
    intercept derived from it must still be N(0, secondary_intercept_sd) and independent of
    sigma and z_study, outcome by outcome, or the reparameterisation changed the model."""
    import pymc as pm

    spec, design, model, outcomes = bundled
    assert model["secondary_logit_level"] in model.free_RVs
    assert list(model.coords["secondary_outcome"]) == outcomes
    names = [f"{o}_intercept" for o in outcomes] + ["secondary_logit_level", "secondary_sigma_study", "secondary_z_study"]
    prior = pm.sample_prior_predictive(draws=4000, model=model, var_names=names, random_seed=5).prior
    sd = spec.priors.secondary_intercept_sd
    slices = _study_slices(design, outcomes)
    for k, o in enumerate(outcomes):
        assert model[f"{o}_intercept"] in model.deterministics
        alpha = prior[f"{o}_intercept"].values.ravel()
        assert stats.kstest(alpha, "norm", args=(0.0, sd)).pvalue > 0.01, o
        sigma = prior["secondary_sigma_study"].values[..., k].ravel()
        z = prior["secondary_z_study"].values.reshape(4000, -1)[:, slices[o]]
        shift = sigma * z.mean(axis=1)
        assert abs(np.corrcoef(alpha, shift)[0, 1]) < 0.05, o
        assert abs(np.corrcoef(alpha, sigma)[0, 1]) < 0.05, o
        # and the level really is intercept + sigma * mean(this outcome's z)
        np.testing.assert_allclose(prior["secondary_logit_level"].values[..., k].ravel(), alpha + shift, atol=1e-10)


def test_outcomes_have_independent_priors_of_the_declared_scale(bundled):
    import pymc as pm

    spec, _, model, outcomes = bundled
    pr = spec.priors
    prior = pm.sample_prior_predictive(draws=4000, model=model, random_seed=7,
                                       var_names=["secondary_class_effect", "secondary_tau_treatment"]).prior
    cls = prior["secondary_class_effect"].values.reshape(4000, len(outcomes), -1)
    np.testing.assert_allclose(cls.sum(axis=-1), 0.0, atol=1e-10)  # zero-sum within each outcome, not across
    m = cls.shape[-1]
    for k in range(len(outcomes)):  # ZeroSumNormal marginal SD: sigma * sqrt(1 - 1/m)
        assert cls[:, k, 0].std() == pytest.approx(pr.secondary_effect_sd * np.sqrt(1 - 1 / m), rel=0.06)
    tau = prior["secondary_tau_treatment"].values.reshape(4000, -1)
    for k in range(len(outcomes)):  # Gamma(2, 2 / treatment_sd)
        assert stats.kstest(tau[:, k], "gamma", args=(2.0, 0, pr.treatment_sd / 2)).pvalue > 0.01
    assert abs(np.corrcoef(cls[:, 0, 0], cls[:, 1, 0])[0, 1]) < 0.05
    assert abs(np.corrcoef(tau[:, 0], tau[:, 1])[0, 1]) < 0.05


def test_each_row_gets_its_own_outcome_treatment_and_study(bundled):
    """The rows' binomial log-likelihood at a random point equals a hand computation from
    the block's parameters: the flat gathers pick the right (outcome, treatment, study)."""
    spec, design, model, outcomes = bundled
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
    names = ["secondary_z_treatment", "secondary_class_effect", "secondary_tau_treatment", "secondary_z_study",
             "secondary_sigma_study", "secondary_logit_level"]
    counted = [o for o in outcomes if f"{o}_events" in model.named_vars]
    # one compile (a whole-model graph): the block's parameters and each outcome's row log-likelihoods
    terms = [model.logp(vars=[model[f"{o}_events"]], sum=False)[0] for o in counted]
    out = compiling.function(model, [*(model[n] for n in names), *terms])(point)
    values, row_logp = dict(zip(names, out)), dict(zip(counted, out[len(names):]))
    st, sec = design.structure, design.secondary
    members = (st.class_index[:, None] == np.arange(st.class_index.max() + 1)).astype(float)
    z = values["secondary_z_treatment"]
    z = z - (z @ members / members.sum(axis=0)) @ members.T
    eff = values["secondary_class_effect"][:, st.class_index] + values["secondary_tau_treatment"][:, None] * z
    slices = _study_slices(design, outcomes)
    checked = 0
    for k, o in enumerate(outcomes):
        rows = sec[sec["outcome"] == o]
        if o not in counted:
            continue
        rows = rows[rows["latent"] < 0] if "latent" in rows else rows
        v = values["secondary_z_study"][slices[o]]
        local = {s: i for i, s in enumerate(dict.fromkeys(sec.loc[sec["outcome"] == o, "study_index"]))}
        sigma = values["secondary_sigma_study"][k]
        logit = (values["secondary_logit_level"][k] + eff[k, rows["treatment_index"].to_numpy()]
                 + sigma * (v[[local[s] for s in rows["study_index"]]] - v.mean()))
        expected = stats.binom.logpmf(rows["events"].to_numpy(int), rows["n"].to_numpy(int), 1 / (1 + np.exp(-logit)))
        got = row_logp[o]
        np.testing.assert_allclose(got, expected, rtol=1e-9)
        checked += 1
    assert checked >= 2
