"""Build the PyMC model from evidence + spec. The only module that constructs PyMC graphs
for the survival family (standard NMA models are built in :mod:`rhcc_bayes.nma`).

The model (DESIGN.md §3a), for arm a of study s(a) with treatment j(a):

    log h(a, k)  = gamma_k + theta_a                       (piecewise-exponential)
    H_a(t)       = exp(lambda0 + theta_a) * t ** alpha     (Weibull option)
    theta_a      = mu_j + x_a . beta (+ ablation x size interaction) + u_s + eps_a
    mu_j         = m_class(j) + tau * z_j                  (treatments pooled in classes;
                                                            z centred within each class)
    m            ~ ZeroSumNormal(class_effect_sd)          (identifies the level: gamma carries it)
    u_s ~ N(0, sigma_study),  eps_a ~ N(0, sigma_arm)      (non-centred)

With ``combinations = "components"`` a combination's effect is the mean of its
components' effects plus its own interaction ``tau_interaction * z_j``.
Covariates are coded with "nr" (not reported) as the zero reference; size effects are
monotone (le3 <= 3to5 <= gt5 on the log-hazard scale) and the review's prognostic signs
(multinodular, early recurrence worse) are built in as half-normal increments.
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.spec import SurvivalSpec

LN2 = float(np.log(2.0))


def exposure(times, cuts) -> np.ndarray:
    """Time spent in each hazard segment before ``times``: shape (len(times), n_segments)."""
    t = np.asarray(times, dtype=float)[:, None]
    lo, hi = cuts[:-1][None, :], cuts[1:][None, :]
    return np.clip(np.minimum(t, hi) - lo, 0.0, None)


def coords_of(design: SurvivalDesign) -> dict:
    st = design.structure
    return {
        "treatment": list(st.treatments),
        "modality": list(st.modalities),
        "study": list(design.studies) or ["none"],
        "arm": [f"{s} | {a}" for s, a in zip(design.arms["study"], design.arms["arm"])],
        "segment": [segment_label(a, b) for a, b in zip(design.cuts[:-1], design.cuts[1:])],
        "size_band_level": ["le3", "3to5", "gt5"],
        "nodularity_level": ["solitary", "multinodular"],
        "recurrence_level": ["early", "late"],
        "prior_level": ["resection", "transplant"],
    }


def segment_label(lo: float, hi: float) -> str:
    return f"{lo:g}+" if np.isinf(hi) else f"{lo:g}-{hi:g}"


def _covariate_effects(pm, pt, priors, covariates) -> dict:
    """Covariate effects on the log hazard per known level ("nr" = 0), for the spec's covariates.

    Returns ``{covariate: effects}``; size also gives ``"size_band_ablation"`` (the
    ablation x size interaction). Covariates left out of the spec get no parameters.
    """
    sd = priors.covariate_sd
    effects = {}
    if "size_band" in covariates:
        size_mid = pm.Normal("size_3to5_offset", 0.0, sd)
        size_steps = pm.HalfNormal("size_steps", sd, shape=2)
        effects["size_band"] = pm.Deterministic(
            "beta_size", pt.stack([size_mid - size_steps[0], size_mid, size_mid + size_steps[1]]), dims="size_band_level")
        abl = pm.HalfNormal("ablation_size_steps", sd, shape=2)
        effects["size_band_ablation"] = pm.Deterministic(
            "beta_size_ablation", pt.stack([-abl[0], pt.zeros(()), abl[1]]), dims="size_band_level")
    if "nodularity" in covariates:
        nod = pm.HalfNormal("nodularity_steps", sd, shape=2)
        effects["nodularity"] = pm.Deterministic("beta_nodularity", pt.stack([-nod[0], nod[1]]), dims="nodularity_level")
    if "recurrence" in covariates:
        rec = pm.HalfNormal("recurrence_steps", sd, shape=2)
        effects["recurrence"] = pm.Deterministic("beta_recurrence", pt.stack([rec[0], -rec[1]]), dims="recurrence_level")
    if "prior" in covariates:
        effects["prior"] = pm.Normal("beta_prior", 0.0, sd, dims="prior_level")
    return effects


def _scale_prior(pm, name: str, mean: float):
    """Boundary-avoiding Gamma(2, 2/mean) prior for a between-group SD.

    With a handful of studies a half-normal puts mass at 0, where the non-centred
    funnel's neck makes NUTS diverge; Gamma(2) has mean ``mean``, mode ``mean/2`` and
    zero density at 0 (Chung et al. 2013), which removed the divergences on the
    bundled evidence.
    """
    return pm.Gamma(name, alpha=2.0, beta=2.0 / mean)


def _padded(pt, beta):
    """Append the "nr" level (0) so that level indices from the design can be used directly."""
    return pt.concatenate([beta, pt.zeros(1)])


def centred_within_class(pt, z, class_index: np.ndarray):
    """z minus its class mean: treatment deviations that sum to zero within each class.

    Without this, the mean deviation of a class is informed by the prior alone and trades
    off against the baseline level, a slow direction for NUTS (R-hat 1.015 on the
    simulated-recovery fits). Deviations then have SD tau * sqrt(1 - 1/n_class); a class
    with one treatment (SBRT) is its class effect.
    """
    members = (class_index[:, None] == np.arange(class_index.max() + 1)[None, :]).astype(float)
    means = pt.dot(members.T, z) / members.sum(axis=0)
    return z - pt.dot(members, means)


def _treatment_effects(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    st = design.structure
    pr = spec.priors
    m_class = pm.ZeroSumNormal("class_effect", sigma=pr.class_effect_sd, dims="modality")
    tau = _scale_prior(pm, "tau_treatment", pr.treatment_sd)
    z = centred_within_class(pt, pm.Normal("z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
    base = m_class[st.class_index] + tau * z
    if spec.combinations == "components" and st.is_combination.any():
        tau_int = _scale_prior(pm, "tau_interaction", pr.treatment_sd)
        combo = st.is_combination
        mu = pt.dot(st.component_matrix, (1 - combo) * base) + combo * tau_int * z
    else:
        mu = base
    return pm.Deterministic("mu", mu, dims="treatment")


def _baseline(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    pr = spec.priors
    if spec.hazard == "weibull":
        log_lambda = pm.Normal("log_lambda", pr.baseline_log_hazard_mean, pr.baseline_log_hazard_sd)
        log_shape = pm.Normal("log_shape", 0.0, pr.weibull_shape_log_sd)
        return {"log_lambda": log_lambda, "alpha": pm.Deterministic("weibull_shape", pt.exp(log_shape))}
    k = len(design.cuts) - 1
    first = pm.Normal("gamma_first", pr.baseline_log_hazard_mean, pr.baseline_log_hazard_sd)
    if k == 1:
        return {"gamma": pm.Deterministic("gamma", first[None], dims="segment")}
    steps = pm.Normal("gamma_steps", 0.0, pr.segment_step_sd, shape=k - 1)
    gamma = pt.concatenate([first[None], first + pt.cumsum(steps)])
    return {"gamma": pm.Deterministic("gamma", gamma, dims="segment")}


def cumulative_hazard(pt, baseline: dict, theta, times, cuts):
    """H(t) for observations whose arm log-hazard offsets are ``theta`` (vectors, aligned)."""
    if "gamma" in baseline:
        return pt.exp(theta) * pt.dot(exposure(times, cuts), pt.exp(baseline["gamma"]))
    return pt.exp(baseline["log_lambda"] + theta) * np.asarray(times, float) ** baseline["alpha"]


def model_median(pt, baseline: dict, theta, cuts):
    """Median survival time (months) for each entry of ``theta``; piecewise closed form."""
    if "gamma" not in baseline:
        return (LN2 / pt.exp(baseline["log_lambda"] + theta)) ** (1.0 / baseline["alpha"])
    h = pt.exp(baseline["gamma"][None, :] + theta[:, None])  # (obs, segment)
    widths = np.diff(cuts)
    finite = np.where(np.isinf(widths), 0.0, widths)
    h_at_cut = pt.concatenate([pt.zeros((theta.shape[0], 1)), pt.cumsum(h * finite, axis=1)[:, :-1]], axis=1)
    t_cand = cuts[:-1][None, :] + (LN2 - h_at_cut) / h
    inside = (h_at_cut <= LN2) & (t_cand <= cuts[1:][None, :])
    return pt.sum(pt.switch(inside, t_cand, 0.0), axis=1)


def _data(pm, name: str, values, dim: str):
    """Observations as a named data container ``<name>_data``, so a compiled model can be
    refitted to new data without recompiling (simulation-based calibration)."""
    return pm.Data(f"{name}_data", np.asarray(values), dims=dim)


def _survival_likelihood(pm, pt, design: SurvivalDesign, baseline, theta):
    cuts = design.cuts
    lm = design.landmarks
    if len(lm):
        th = theta[lm["arm_index"].to_numpy()]
        d_h = cumulative_hazard(pt, baseline, th, lm["t"], cuts) - cumulative_hazard(pt, baseline, th, lm["t_prev"], cuts)
        p_death = pt.clip(-pt.expm1(-d_h), 1e-12, 1 - 1e-12)
        pm.Binomial("landmark_deaths", n=lm["at_risk"].to_numpy(), p=p_death,
                    observed=_data(pm, "landmark_deaths", lm["deaths"], "landmark_obs"), dims="landmark_obs")
    med = design.medians
    counted = med[med["se_log"].isna()]
    if len(counted):
        th = theta[counted["arm_index"].to_numpy()]
        surv = pt.exp(-cumulative_hazard(pt, baseline, th, counted["time"], cuts))
        pm.Binomial("median_alive", n=counted["at_risk"].to_numpy(), p=pt.clip(surv, 1e-12, 1 - 1e-12),
                    observed=_data(pm, "median_alive", counted["alive"], "median_obs"), dims="median_obs")
    with_ci = med[med["se_log"].notna()]
    if len(with_ci):
        th = theta[with_ci["arm_index"].to_numpy()]
        pm.Normal("median_log", mu=pt.log(model_median(pt, baseline, th, cuts)), sigma=with_ci["se_log"].to_numpy(),
                  observed=_data(pm, "median_log", np.log(with_ci["time"]), "median_ci_obs"), dims="median_ci_obs")
    hr = design.hazard_ratios
    if len(hr):
        pm.Normal("log_hr", mu=theta[hr["arm_index"].to_numpy()] - theta[hr["comparator_index"].to_numpy()],
                  sigma=hr["se"].to_numpy(), observed=_data(pm, "log_hr", hr["log_hr"], "hr_obs"), dims="hr_obs")


def _secondary_model(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    """Logit-binomial sub-model per secondary outcome, treatments pooled by class."""
    sec = design.secondary
    st = design.structure
    pr = spec.priors
    for outcome, rows in sec.groupby("outcome", sort=False):
        n_studies = rows["study_index"].nunique()
        local = {s: i for i, s in enumerate(dict.fromkeys(rows["study_index"]))}
        alpha = pm.Normal(f"{outcome}_intercept", 0.0, pr.secondary_intercept_sd)
        cls = pm.ZeroSumNormal(f"{outcome}_class_effect", sigma=pr.secondary_effect_sd, dims="modality")
        tau = _scale_prior(pm, f"{outcome}_tau_treatment", pr.treatment_sd)
        z = centred_within_class(pt, pm.Normal(f"{outcome}_z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
        eff = cls[st.class_index] + tau * z
        pm.Deterministic(f"{outcome}_probability", pm.math.invlogit(alpha + eff), dims="treatment")
        sigma = _scale_prior(pm, f"{outcome}_sigma_study", pr.study_sd * 2)
        v = pm.Normal(f"{outcome}_z_study", 0.0, 1.0, shape=n_studies)
        logit_p = alpha + eff[rows["treatment_index"].to_numpy()] + sigma * v[[local[s] for s in rows["study_index"]]]
        pm.Binomial(f"{outcome}_events", n=rows["n"].to_numpy(), p=pm.math.invlogit(logit_p),
                    observed=_data(pm, f"{outcome}_events", rows["events"], f"{outcome}_obs"), dims=f"{outcome}_obs")


def _stay_model(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    """Mean hospital stay (days): log-normal-scale treatment means pooled by class, normal likelihood."""
    stay = design.stay
    if not len(stay):
        return
    st = design.structure
    pr = spec.priors
    alpha = pm.Normal("los_log_intercept", np.log(7.0), 1.0)  # a week, within a factor ~e
    cls = pm.ZeroSumNormal("los_class_effect", sigma=pr.secondary_effect_sd, dims="modality")
    tau = _scale_prior(pm, "los_tau_treatment", pr.treatment_sd)
    z = centred_within_class(pt, pm.Normal("los_z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
    days = pm.Deterministic("los_mean_days", pt.exp(alpha + cls[st.class_index] + tau * z), dims="treatment")
    pm.Normal("los_mean", mu=days[stay["treatment_index"].to_numpy()], sigma=stay["se_days"].to_numpy(),
              observed=_data(pm, "los_mean", stay["mean_days"], "los_obs"), dims="los_obs")


def build_survival_model(design: SurvivalDesign, spec: SurvivalSpec):
    """PyMC model of the survival synthesis for an already-made design."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = coords_of(design)
    coords.update({
        "landmark_obs": design.landmarks["row_key"].tolist(),
        "median_obs": design.medians.loc[design.medians["se_log"].isna(), "row_key"].tolist(),
        "median_ci_obs": design.medians.loc[design.medians["se_log"].notna(), "row_key"].tolist(),
        "hr_obs": design.hazard_ratios["row_key"].tolist(),
    })
    for outcome, rows in design.secondary.groupby("outcome", sort=False):
        coords[f"{outcome}_obs"] = rows["row_key"].tolist()
    coords["los_obs"] = design.stay["row_key"].tolist()
    pr = spec.priors
    with pm.Model(coords=coords) as model:
        baseline = _baseline(pm, pt, design, spec)
        mu = _treatment_effects(pm, pt, design, spec)
        effects = _covariate_effects(pm, pt, pr, spec.covariates)
        if len(design.arms):
            idx = design.covariate_index
            st = design.structure
            t_idx = design.arms["t_index"].to_numpy()
            x_beta = pt.zeros(len(design.arms))
            for name, beta in effects.items():
                if name == "size_band_ablation":
                    x_beta = x_beta + st.is_ablation[t_idx] * _padded(pt, beta)[idx["size_band"]]
                else:
                    x_beta = x_beta + _padded(pt, beta)[idx[name]]
            sigma_study = _scale_prior(pm, "sigma_study", pr.study_sd)
            u = sigma_study * pm.Normal("z_study", 0.0, 1.0, dims="study")
            theta = mu[t_idx] + x_beta + u[design.arms["s_index"].to_numpy()]
            if spec.arm_heterogeneity:
                sigma_arm = _scale_prior(pm, "sigma_arm", pr.arm_sd)
                theta = theta + sigma_arm * pm.Normal("z_arm", 0.0, 1.0, dims="arm")
            _survival_likelihood(pm, pt, design, baseline, theta)
        else:
            _scale_prior(pm, "sigma_study", pr.study_sd)
            if spec.arm_heterogeneity:
                _scale_prior(pm, "sigma_arm", pr.arm_sd)
        _secondary_model(pm, pt, design, spec)
        _stay_model(pm, pt, design, spec)
    return model
