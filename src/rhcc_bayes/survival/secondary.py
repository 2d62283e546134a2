"""Secondary outcomes: logit-binomial event sub-models and the length-of-stay normal sub-model.

Treatments are pooled by modality class as in the survival model, with study effects of
their own; the results feed the utility option of the decision layer.
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.likelihood import latent_sizes_of, observed_data
from rhcc_bayes.survival.pooling import centred_within_class, scale_prior
from rhcc_bayes.survival.spec import SurvivalSpec


def secondary_model(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    """Logit-binomial sub-model per secondary outcome, treatments pooled by class."""
    sec = design.secondary
    st = design.structure
    pr = spec.priors
    for outcome, rows in sec.groupby("outcome", sort=False):
        n_studies = rows["study_index"].nunique()
        local = {s: i for i, s in enumerate(dict.fromkeys(rows["study_index"]))}
        cls = pm.ZeroSumNormal(f"{outcome}_class_effect", sigma=pr.secondary_effect_sd, dims="modality")
        tau = scale_prior(pm, f"{outcome}_tau_treatment", pr.treatment_sd)
        z = centred_within_class(pt, pm.Normal(f"{outcome}_z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
        eff = cls[st.class_index] + tau * z
        sigma = scale_prior(pm, f"{outcome}_sigma_study", pr.study_sd * 2)
        v = pm.Normal(f"{outcome}_z_study", 0.0, 1.0, shape=n_studies)
        # The data pin intercept + sigma * mean(v) (with one study, the only study's level), not
        # the intercept: sampling the intercept put NUTS on a curved ridge (most divergences of the
        # default spec below target_accept 0.98). Sample that level instead, with the conditional
        # prior that leaves intercept = level - sigma * mean(v) ~ N(0, sd) independent of (sigma, v):
        # the same joint prior (a shift, Jacobian 1), generative for prior-predictive draws.
        v_mean = pt.mean(v)
        shift = sigma * v_mean
        level = pm.Normal(f"{outcome}_logit_level", shift, pr.secondary_intercept_sd)
        alpha = pm.Deterministic(f"{outcome}_intercept", level - shift)
        pm.Deterministic(f"{outcome}_probability", pm.math.invlogit(alpha + eff), dims="treatment")
        deviation = sigma * (v - v_mean)
        logit_p = level + eff[rows["treatment_index"].to_numpy()] + deviation[[local[s] for s in rows["study_index"]]]
        known = (rows["latent"] < 0).to_numpy() if "latent" in rows else np.ones(len(rows), bool)
        if known.any():
            pm.Binomial(f"{outcome}_events", n=rows["n"].to_numpy()[known].astype(int),
                        p=pm.math.invlogit(logit_p[np.flatnonzero(known)]),
                        observed=observed_data(pm, f"{outcome}_events", rows["events"].to_numpy()[known].astype(int),
                                               f"{outcome}_obs"), dims=f"{outcome}_obs")
        if (~known).any():  # latent n (issue 10): logit-normal relaxation of the binomial
            lat = np.flatnonzero(~known)
            n = latent_sizes_of(pm, pt, design)[rows["latent"].to_numpy()[lat]]
            p_obs = rows["estimate"].to_numpy(float)[lat]
            q = (n * p_obs + 0.5) / (n + 1.0)
            var = 1.0 / (n * q * (1 - q))
            x = pt.log(q) - pt.log1p(-q)
            mu = logit_p[lat]
            pm.Potential(f"{outcome}_latent_n", pt.sum(-0.5 * (np.log(2 * np.pi) + pt.log(var) + (x - mu) ** 2 / var)))


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
    pm.Normal("los_mean", mu=days[stay["treatment_index"].to_numpy()], sigma=stay["se_days"].to_numpy(),
              observed=observed_data(pm, "los_mean", stay["mean_days"], "los_obs"), dims="los_obs")
