"""Secondary outcomes: logit-binomial event sub-models and the length-of-stay normal sub-model.

Treatments are pooled by modality class as in the survival model, with study effects of
their own; the results feed the utility option of the decision layer.
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.holdout import row_weights
from rhcc_bayes.survival.likelihood import binomial_rows, latent_sizes_of, normal_rows, weighted_potential
from rhcc_bayes.survival.pooling import centred_within_class, scale_prior
from rhcc_bayes.survival.spec import SurvivalSpec


def secondary_model(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    """Logit-binomial sub-model per secondary outcome, treatments pooled by class.

    The outcomes' parameters are independent a priori, but sampled as one block with a
    ``secondary_outcome`` dim: a logp graph per outcome made these sub-models 26 of the
    default model's 57 us per gradient (PyTensor's cost is per node, not per element).
    Outputs keep one name per outcome (``{outcome}_intercept``, ``{outcome}_probability``,
    ``{outcome}_events``, ``{outcome}_latent_n``).
    """
    sec = design.secondary
    if not len(sec):
        return
    st = design.structure
    pr = spec.priors
    outcomes = list(dict.fromkeys(sec["outcome"]))  # first-appearance order (the Stan twin's too)
    outcome_of = {o: k for k, o in enumerate(outcomes)}
    pm.modelcontext(None).add_coord("secondary_outcome", outcomes)
    # Study effects: one flat vector, each outcome's studies in first-appearance order.
    flat = {}
    for o in outcomes:
        for s in dict.fromkeys(sec.loc[sec["outcome"] == o, "study_index"]):
            flat[(o, s)] = len(flat)
    study_outcome = np.array([outcome_of[o] for o, _ in flat])
    averaging = (study_outcome[None, :] == np.arange(len(outcomes))[:, None]).astype(float)
    averaging /= averaging.sum(axis=1, keepdims=True)

    cls = pm.ZeroSumNormal("secondary_class_effect", sigma=pr.secondary_effect_sd, dims=("secondary_outcome", "modality"))
    tau = scale_prior(pm, "secondary_tau_treatment", pr.treatment_sd, dims="secondary_outcome")
    z = centred_within_class(pt, pm.Normal("secondary_z_treatment", 0.0, 1.0, dims=("secondary_outcome", "treatment")),
                             st.class_index)
    eff = cls[:, st.class_index] + tau[:, None] * z
    sigma = scale_prior(pm, "secondary_sigma_study", pr.study_sd * 2, dims="secondary_outcome")
    v = pm.Normal("secondary_z_study", 0.0, 1.0, shape=len(flat))
    # The data pin intercept + sigma * mean(v) (with one study, the only study's level), not
    # the intercept: sampling the intercept put NUTS on a curved ridge (most divergences of the
    # default spec below target_accept 0.98). Sample that level instead, with the conditional
    # prior that leaves intercept = level - sigma * mean(v) ~ N(0, sd) independent of (sigma, v):
    # the same joint prior (a shift, Jacobian 1), generative for prior-predictive draws.
    v_mean = pt.dot(averaging, v)
    shift = sigma * v_mean
    level = pm.Normal("secondary_logit_level", shift, pr.secondary_intercept_sd, dims="secondary_outcome")
    alpha = level - shift
    for k, o in enumerate(outcomes):
        pm.Deterministic(f"{o}_intercept", alpha[k])
        pm.Deterministic(f"{o}_probability", pm.math.invlogit(alpha[k] + eff[k]), dims="treatment")
    rows_outcome = sec["outcome"].map(outcome_of).to_numpy()
    rows_study = np.array([flat[(o, s)] for o, s in zip(sec["outcome"], sec["study_index"])])
    # eff flattened and indexed with one integer vector: a gather on two index vectors has a
    # multi-index AdvancedIncSubtensor gradient, which alone made the gradient 2.4x slower (numba)
    row_effect = eff.flatten()[rows_outcome * len(st.class_index) + sec["treatment_index"].to_numpy()]
    logit_p = level[rows_outcome] + row_effect + sigma[rows_outcome] * (v[rows_study] - v_mean[rows_outcome])
    known = (sec["latent"] < 0).to_numpy() if "latent" in sec else np.ones(len(sec), bool)
    weight = row_weights(sec)
    for o in outcomes:
        mine = (sec["outcome"] == o).to_numpy()
        rows = np.flatnonzero(mine & known)
        if len(rows):
            binomial_rows(pm, f"{o}_events", sec["n"].to_numpy()[rows].astype(int),
                          sec["events"].to_numpy()[rows].astype(int), pm.math.invlogit(logit_p[rows]),
                          weight[rows], f"{o}_obs")
        lat = np.flatnonzero(mine & ~known)
        if len(lat):  # latent n (issue 10): logit-normal relaxation of the binomial
            n = latent_sizes_of(pm, pt, design)[sec["latent"].to_numpy()[lat]]
            p_obs = sec["estimate"].to_numpy(float)[lat]
            q = (n * p_obs + 0.5) / (n + 1.0)
            var = 1.0 / (n * q * (1 - q))
            x = pt.log(q) - pt.log1p(-q)
            mu = logit_p[lat]
            weighted_potential(pm, pt, f"{o}_latent_n", -0.5 * (np.log(2 * np.pi) + pt.log(var) + (x - mu) ** 2 / var),
                               weight[lat])


def stay_model(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    """Mean hospital stay (days): log-normal-scale treatment means pooled by class, normal likelihood."""
    stay = design.stay
    if not len(stay):
        return
    st = design.structure
    pr = spec.priors
    alpha = pm.Normal("los_log_intercept", np.log(7.0), 1.0)  # a week, within a factor ~e
    cls = pm.ZeroSumNormal("los_class_effect", sigma=pr.secondary_effect_sd, dims="modality")
    tau = scale_prior(pm, "los_tau_treatment", pr.treatment_sd)
    z = centred_within_class(pt, pm.Normal("los_z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
    days = pm.Deterministic("los_mean_days", pt.exp(alpha + cls[st.class_index] + tau * z), dims="treatment")
    normal_rows(pm, pt, "los_mean", days[stay["treatment_index"].to_numpy()], stay["mean_days"].to_numpy(float),
                stay["se_days"].to_numpy(float), row_weights(stay), "los_obs")
