"""Build the PyMC model from evidence + spec. The only module that constructs PyMC graphs
for the survival family (standard NMA models are built in :mod:`rhcc_bayes.nma`).

The model (DESIGN.md §3a), for arm a of study s(a) with treatment j(a):

    H_a(t)       = H_0(t; exp(theta_a))                    (baseline hazard family of the spec,
                                                            rhcc_bayes.survival.hazards: piecewise,
                                                            Weibull, M-spline, cure mixture)
    theta_a      = mu_j + x_a . beta (+ ablation x size interaction) + u_s + eps_a
    mu_j         = m_class(j) + tau * z_j                  (treatments pooled in classes; partly centred
                                                            where a class's data pin it, _centring_weights;
                                                            z centred within each class)
    m            ~ ZeroSumNormal(class_effect_sd)          (identifies the level: the baseline carries it)
    u_s ~ N(0, sigma_study),  eps_a ~ N(0, sigma_arm)      (non-centred)

With ``combinations = "components"`` a combination's effect is the mean of its
components' effects plus its own interaction ``tau_interaction * z_j``.
Covariates are coded with "nr" (not reported) as the zero reference; size effects are
monotone (le3 <= 3to5 <= gt5 on the log-hazard scale) and the review's prognostic signs
(multinodular, early recurrence worse) are built in as half-normal increments.
"""

from __future__ import annotations

from rhcc_bayes.survival.covariates import model_coords
from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.hazards import BoundHazard, family_for
from rhcc_bayes.survival.hazards.piecewise import exposure, segment_label  # noqa: F401  (re-exported)
from rhcc_bayes.survival.likelihood import likelihood_coords, population_offsets, survival_likelihood
from rhcc_bayes.survival.pooling import centred_within_class, half_normal, scale_prior
from rhcc_bayes.survival.secondary import secondary_model, stay_model
from rhcc_bayes.survival.spec import SurvivalSpec
from rhcc_bayes.survival import shift
from rhcc_bayes.survival.steps import anchors, band_arms, size_effects


def coords_of(design: SurvivalDesign) -> dict:
    st = design.structure
    return {
        "treatment": list(st.treatments),
        "modality": list(st.modalities),
        "study": list(design.studies) or ["none"],
        "arm": [f"{s} | {a}" for s, a in zip(design.arms["study"], design.arms["arm"])],
        "segment": [segment_label(a, b) for a, b in zip(design.cuts[:-1], design.cuts[1:])],
        **model_coords(),
    }


def _covariate_effects(pm, pt, priors, covariates, size_arms=None, size_anchors=None, normal=None) -> dict:
    """Covariate effects on the log hazard per known level ("nr" = 0), for the spec's covariates.

    Returns ``{covariate: effects}``; size also gives ``"size_band_ablation"`` (the
    ablation x size interaction). Covariates left out of the spec get no parameters.
    ``size_arms`` and ``size_anchors`` (:func:`~rhcc_bayes.survival.steps.band_arms`,
    :func:`~rhcc_bayes.survival.steps.anchors`) choose the size effects' parameterisation (:mod:`~rhcc_bayes.survival.steps`).
    ``normal`` builds the normal effects that may be shifted (:mod:`~rhcc_bayes.survival.shift`).
    """
    normal = normal or pm.Normal
    sd = priors.covariate_sd
    effects = {}
    if "size_band" in covariates:  # monotone size effects, levels or offsets by data richness
        effects.update(size_effects(pm, pt, sd, size_arms, size_anchors, normal))
    if "nodularity" in covariates:
        nod = half_normal(pm, "nodularity_steps", sd, shape=2)
        effects["nodularity"] = pm.Deterministic("beta_nodularity", pt.stack([-nod[0], nod[1]]), dims="nodularity_level")
    if "recurrence" in covariates:
        rec = half_normal(pm, "recurrence_steps", sd, shape=2)
        effects["recurrence"] = pm.Deterministic("beta_recurrence", pt.stack([rec[0], -rec[1]]), dims="recurrence_level")
    if "prior" in covariates:
        effects["prior"] = pm.Normal("beta_prior", 0.0, sd, dims="prior_level")
    if "stage" in covariates:  # advanced (PVTT / extrahepatic spread) is worse: informative, no boundary at 0
        effects["stage"] = normal("beta_stage", priors.advanced_stage_mean, priors.advanced_stage_sd,
                                  dims="stage_level")
    return effects


def _padded(pt, beta):
    """Append the "nr" level (0) so that level indices from the design can be used directly."""
    return pt.concatenate([beta, pt.zeros(1)])


#: A class whose treatments all have at least this many arms gets fully centred effects
#: (see :func:`_centring_weights`).
CENTRED_MIN_ARMS = 10


def _centred_classes(design: SurvivalDesign, spec: SurvivalSpec):
    """Classes whose treatment deviations are fully centred (weight 1 in :func:`_centring_weights`).

    Treatments reported by many arms pin ``mu_j`` down, so a non-centred ``z_j = (mu_j - m_c) / tau``
    and ``tau`` form a curved ridge: on simulated evidence with ~25 arms per treatment
    ``z_treatment`` had the lowest ESS and R-hat 1.02-1.09 (benchmarks/scaling.py). A class with
    more than one treatment, all with at least ``CENTRED_MIN_ARMS`` arms, samples its deviations
    directly as a ``ZeroSumNormal(tau)``. The "components" coding reuses ``z`` for combination
    interactions and stays non-centred.
    """
    import numpy as np

    if spec.combinations == "components":
        return np.zeros(len(design.structure.modalities), bool)
    sizes, least = _class_reporting(design)
    return (sizes > 1) & (least >= CENTRED_MIN_ARMS)


def _class_reporting(design: SurvivalDesign):
    """Per class: its number of treatments, and the arms of its least-reported treatment (0 if none)."""
    import numpy as np

    st = design.structure
    n_arms = np.bincount(design.arms["t_index"].to_numpy().astype(int), minlength=len(st.treatments))
    sizes = np.bincount(st.class_index, minlength=len(st.modalities))
    least = np.array([n_arms[st.class_index == c].min() if sizes[c] else 0 for c in range(len(st.modalities))])
    return sizes, least


def _centring_weights(design: SurvivalDesign, spec: SurvivalSpec):
    """Per class, how centred its treatment deviations are sampled: w in [0, 1] (model .14).

    A class with w > 0 samples its deviations as ``tau^(1 - w) * ZeroSumNormal(sigma=tau^w)``:
    exactly the prior of ``tau * (z - mean_class(z))`` for every w (partial non-centring,
    Papaspiliopoulos, Roberts & Skold 2007; w = 1 is centred); w = 0 keeps the non-centred
    ``z_treatment``. Their rule for a normal effect informed by data of precision I under a prior
    of SD tau is w = I / (I + 1 / tau^2). I is the least-informed treatment's of the class, its
    arms / sigma_study^2: an arm reports tens to hundreds of events, so what it tells about mu_j is
    capped by the between-study variance (sigma_study at its prior mean). tau is taken at its
    Gamma(2) prior's mode, half the mean: a centred coordinate fails at small tau (the funnel's
    neck), so the weight leans to the non-centred side (46 simulated arms: w 0.50-0.60; at the
    prior mean, 0.80-0.86, 3 divergences were left on seed 3). A class with a treatment no arm
    reports (prior-only) gets w = 0: the bundled evidence's every class, whose graph stays model
    .13's. Classes of
    ``_centred_classes`` get w = 1 (their graphs too stay .13's); one-treatment classes and
    "components" stay non-centred.

    Why: non-centred deviations make a funnel in the upper tail of tau_treatment wherever the
    data pin a class's deviations (at large tau the z are squeezed to (mu - m) / tau). Simulated
    evidence of 46 arms (4-11 per treatment, w 0.50-0.60), the default sampler (0.90), seeds
    1 / 2 / 3 (benchmarks/scaling.py): divergences 30 / 1 / 23 -> 0 / 0 / 0, leapfrog steps per
    draw 54.6 / 36.1 / 22.1 -> 31.0 / 31.1 / 15.0, min ESS per 1000 gradients 5.5 / 10.9 / 17.8 ->
    15.0 / 10.9 / 32.5; tau at its prior mean (w 0.80-0.86): 0 / 0 / 3 divergences; fully centred
    (w = 1): 0 / 0 / 9. Rejected: the class's mean information instead of its least (the bundled
    evidence's classes at w 0.33-0.67, tau at its prior mean):
    the default spec's min bulk / tail ESS fell from 2110 / 2186 to 630 / 602, both tau_treatment's
    (ESS per 1000 gradients 17.0 -> 4.9): a prior-only treatment in a partly centred class.
    """
    import numpy as np

    pr = spec.priors
    if spec.combinations == "components":
        return np.zeros(len(design.structure.modalities))
    sizes, least = _class_reporting(design)
    info = least / pr.study_sd ** 2
    weights = np.where(sizes > 1, info / (info + 1.0 / (pr.treatment_sd / 2) ** 2), 0.0)  # one treatment: nothing
    return np.where(_centred_classes(design, spec), 1.0, weights)                        # to centre


def _treatment_effects(pm, pt, design: SurvivalDesign, spec: SurvivalSpec):
    import numpy as np

    st = design.structure
    pr = spec.priors
    m_class = pm.ZeroSumNormal("class_effect", sigma=pr.class_effect_sd, dims="modality")
    tau = scale_prior(pm, "tau_treatment", pr.treatment_sd)
    weights = _centring_weights(design, spec)
    plain = weights[st.class_index] == 0.0
    deviation = pt.zeros(len(st.treatments))
    if plain.any():  # non-centred classes keep unit z (entries of other classes unused)
        z = centred_within_class(pt, pm.Normal("z_treatment", 0.0, 1.0, dims="treatment"), st.class_index)
        deviation = tau * z if plain.all() else pt.where(plain, tau * z, 0.0)
    for c in np.flatnonzero(weights > 0):
        members = np.flatnonzero(st.class_index == c)  # >= 2: w > 0 only where there is something to centre
        w = float(weights[c])
        dev = pm.ZeroSumNormal(f"deviation_{st.modalities[c]}", sigma=tau if w == 1.0 else tau ** w,
                               shape=len(members))
        deviation = pt.set_subtensor(deviation[members], dev if w == 1.0 else tau ** (1.0 - w) * dev)
    base = m_class[st.class_index] + deviation
    if spec.combinations == "components" and st.is_combination.any():
        tau_int = scale_prior(pm, "tau_interaction", pr.treatment_sd)
        combo = st.is_combination
        mu = pt.dot(st.component_matrix, (1 - combo) * base) + combo * tau_int * z
    else:
        mu = base
    return pm.Deterministic("mu", mu, dims="treatment")


def build_survival_model(design: SurvivalDesign, spec: SurvivalSpec):
    """PyMC model of the survival synthesis for an already-made design."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = coords_of(design)
    coords.update(likelihood_coords(design))  # incl. "<outcome>_obs" of known-n secondary rows
    coords["los_obs"] = design.stay["row_key"].tolist()
    pr = spec.priors
    family = family_for(spec, design)
    coords.update(family.coords())
    with pm.Model(coords=coords) as model:
        baseline = family.add_priors(pm, pt, pr)
        mu = _treatment_effects(pm, pt, design, spec)
        arms = band_arms(design)
        shifts = shift.model_plan(design, spec)
        # a shifted effect is built with its studies' effects, so sigma_study comes first then
        sigma_study = scale_prior(pm, "sigma_study", pr.study_sd) if shifts else None
        studies = shift.StudyShift(pm, pt, shifts, len(coords["study"]), sigma_study, shift.study_groups(design, spec))
        effects = _covariate_effects(pm, pt, pr, spec.covariates, arms,
                                     anchors(baseline, mu, design.structure.is_ablation), studies.normal)
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
            if sigma_study is None:
                sigma_study = scale_prior(pm, "sigma_study", pr.study_sd)
            u = sigma_study * studies.z_study()
            # population-level pseudo-arms (ranges, pooled results) have no study/arm effect;
            # primary/mixed-population arms get the population bias term delta_pop
            mask = design.study_effect_mask
            theta = mu[t_idx] + x_beta + mask * u[design.arms["s_index"].to_numpy()]
            if spec.arm_heterogeneity:
                sigma_arm = scale_prior(pm, "sigma_arm", pr.arm_sd)
                theta = theta + mask * sigma_arm * pm.Normal("z_arm", 0.0, 1.0, dims="arm")
            offsets = population_offsets(pm, pt, design, spec)
            if offsets is not None:
                theta = theta + offsets
            survival_likelihood(pm, pt, design, BoundHazard(family, pt, baseline), theta)
            if design.ipd is not None:  # patient-level data: exact likelihood (survival/ipd.py)
                from rhcc_bayes.survival.ipd import ipd_likelihood

                ipd_likelihood(pm, pt, design, family, baseline, theta, effects)
        else:
            scale_prior(pm, "sigma_study", pr.study_sd)
            if spec.arm_heterogeneity:
                scale_prior(pm, "sigma_arm", pr.arm_sd)
        secondary_model(pm, pt, design, spec)
        stay_model(pm, pt, design, spec)
    return model
