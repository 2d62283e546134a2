"""Monotone size effects (le3 <= 3to5 <= gt5 and the ablation x size interaction), with a
parameterisation chosen by how much data inform them. The prior is the same either way:

    beta_size     = (m - s_0, m, m + s_1),  m ~ Normal(0, sd),  s_k ~ HalfNormal(sd)
    beta_size_abl = (-a_0, 0, a_1),                              a_k ~ HalfNormal(sd)

*Offsets* (few arms per size band, e.g. the bundled evidence): ``m``, ``s``, ``a`` are the free
parameters, the positive ones on the normal-softplus scale (the log scale until model .10;
:func:`~rhcc_bayes.survival.pooling.positive_transform`). The prior dominates and these are its
natural coordinates; the bundled evidence keeps exactly this graph.

*Levels* (every band that identifies a level reported by at least :data:`LEVELS_MIN_ARMS`
arms, :func:`use_levels`): the data pin down each band's log-hazard level, not the offsets
between bands. With "nr" as the zero reference, ``m`` is the 3to5 level minus the baseline's,
``s_0`` the 3to5 level minus the le3 level, and so on, so the offsets are correlated with each
other and with the baseline. On 660 simulated arms (benchmarks/scaling.py, seed 1, 4 x 1000
draws): corr(m, gamma_first) = -0.59, corr(m, s_k) = +/-0.45, the narrowest direction of the
posterior (SD 0.2 of the marginal SDs, condition number ~100 of the correlation matrix) was
m + gamma_first + s_1, and the ablation steps -- correlated -0.57 with the ablation class
effect and reaching 0 -- had a log-scale posterior SD of 0.5-1.0 (a long left tail); min
bulk ESS 621 (size_3to5_offset), tail ESS 617 (ablation_size_steps). Levels sample the band
levels themselves::

    level_3to5 ~ Normal(b, sd)                                     m   = level_3to5 - b
    level_le3  ~ TruncatedNormal(level_3to5, sd, upper=level_3to5)  s_0 = level_3to5 - level_le3
    level_gt5  ~ TruncatedNormal(level_3to5, sd, lower=level_3to5)  s_1 = level_gt5 - level_3to5
    ablation_le3_level ~ TruncatedNormal(r_le3, sd, upper=r_le3)    a_0 = r_le3 - ablation_le3_level
    ablation_gt5_level ~ TruncatedNormal(r_gt5, sd, lower=r_gt5)    a_1 = ablation_gt5_level - r_gt5

where ``b`` is the baseline hazard family's level (``gamma_first`` of the piecewise family)
and ``r_k = b + mean(mu over ablation treatments) + beta_size[k]`` the ablation arms' level
without the interaction (:func:`anchors`). ``x ~ TruncatedNormal(r, sd, upper=r)`` is
``r - HalfNormal(sd)`` and the anchors are a priori independent of the size effects, so the
joint prior is exactly the one above (tests/survival/test_steps.py). The bounded levels use
:class:`NormalSoftplusBound`, whose free coordinate is the level itself away from its bound,
log-like within about a posterior SD of it, so a step whose posterior reaches 0 has no long
tail, and Gaussian-tailed beyond it, so a bound that moves past the free coordinate drags it
along (the plain softplus left one chain of four stranded on 2587 arms: see the class). Same
660 arms (plain softplus): condition number ~28, min bulk / tail ESS 1217 / 1090 (sigma_study;
nodularity_steps, prior-only here), the size effects >= 1561 / 1111; the step size (0.113) is
then within 15% of what nutpie reaches on a standard normal of the same dimension at
target_accept 0.98 (0.129). At the default 4 x 2000 draws: benchmarks/scaling.py.
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.pooling import half_normal
from rhcc_bayes.survival.transforms import NormalSoftplusBound

#: Every size band (le3, 3to5, gt5, nr) reported by at least this many study arms: sample the
#: size effects as levels. The bundled evidence has fewer and keeps the offsets.
LEVELS_MIN_ARMS = 10

SIZE_LEVELS = ("le3", "3to5", "gt5", "nr")  # design index order (survival.covariates)


def band_arms(design) -> dict[str, np.ndarray]:
    """Study arms per size level (``SIZE_LEVELS`` order): ``"all"`` and ``"ablation"`` arms."""
    if not len(design.arms):
        return {"all": np.zeros(len(SIZE_LEVELS)), "ablation": np.zeros(len(SIZE_LEVELS))}
    level = design.covariate_index["size_band"]
    study = design.study_effect_mask > 0
    ablation = design.structure.is_ablation[design.arms["t_index"].to_numpy().astype(int)] == 1
    count = lambda keep: np.bincount(level[keep], minlength=len(SIZE_LEVELS)).astype(float)  # noqa: E731
    return {"all": count(study), "ablation": count(study & ablation)}


def use_levels(arms: np.ndarray, ablation: bool = False) -> bool:
    """The data-richness rule: levels when every band that identifies a level has at least
    ``LEVELS_MIN_ARMS`` arms: le3, 3to5, gt5 and nr (the baseline's level) for the size
    effects; for the ablation interaction (``ablation=True``, ablation arms) le3, gt5 and the
    bands without an interaction (3to5 and nr together, which identify the ablation mean)."""
    arms = np.asarray(arms, dtype=float)
    bands = [arms[0], arms[2], arms[1] + arms[3]] if ablation else arms
    return bool(np.min(bands) >= LEVELS_MIN_ARMS)


def _step_scale(sd: float, arms: np.ndarray, outer: int) -> float:
    """Softplus scale of the step between the 3to5 band and band ``outer``: the SD of a
    difference of two band means with per-arm SD ``sd`` (the covariate prior SD stands in for
    the between-arm spread of log hazards)."""
    return float(sd * np.sqrt(1.0 / arms[outer] + 1.0 / arms[1]))


def size_effects(pm, pt, sd: float, arms: dict | None = None, anchors: dict | None = None, normal=None) -> dict:
    """``beta_size`` and ``beta_size_ablation`` (Deterministics), with ``size_3to5_offset``,
    ``size_steps`` and ``ablation_size_steps`` always in the trace (free or deterministic).

    ``arms``: :func:`band_arms` (None: offsets). ``anchors``: :func:`anchors` (None: 0).
    ``normal``: builds the offsets' ``size_3to5_offset ~ Normal(0, sd)`` (default ``pm.Normal``;
    :class:`~rhcc_bayes.survival.shift.StudyShift` samples it with its studies' effects).
    """
    arms = arms or {"all": np.zeros(len(SIZE_LEVELS)), "ablation": np.zeros(len(SIZE_LEVELS))}
    anchors = anchors or {}
    base = pt.as_tensor_variable(0.0 if anchors.get("baseline") is None else anchors["baseline"])
    if use_levels(arms["all"]):
        mid = pm.Normal("size_3to5_level", base, sd)
        low, high = _bounded_levels(pm, "size_{}_level", sd, mid, mid, arms["all"])
        size_mid = pm.Deterministic("size_3to5_offset", mid - base)
        steps = pm.Deterministic("size_steps", pt.stack([mid - low, high - mid]))
    else:
        size_mid = (normal or pm.Normal)("size_3to5_offset", 0.0, sd)
        steps = half_normal(pm, "size_steps", sd, shape=2)
    beta = pm.Deterministic("beta_size", pt.stack([size_mid - steps[0], size_mid, size_mid + steps[1]]),
                            dims="size_band_level")
    if use_levels(arms["ablation"], ablation=True):  # ablation arms' le3 / gt5 levels around their no-interaction levels
        abl_base = base + (0.0 if anchors.get("ablation") is None else anchors["ablation"])
        lo, hi = abl_base + beta[0], abl_base + beta[2]
        low, high = _bounded_levels(pm, "ablation_{}_level", sd, lo, hi, arms["ablation"])
        abl = pm.Deterministic("ablation_size_steps", pt.stack([lo - low, high - hi]))
    else:
        abl = half_normal(pm, "ablation_size_steps", sd, shape=2)
    ablation = pm.Deterministic("beta_size_ablation", pt.stack([-abl[0], pt.zeros(()), abl[1]]),
                                dims="size_band_level")
    return {"size_band": beta, "size_band_ablation": ablation}


def _bounded_levels(pm, name: str, sd: float, below, above, arms: np.ndarray):
    """``below - HalfNormal(sd)`` and ``above + HalfNormal(sd)`` as levels (TruncatedNormal
    inputs: 4 = lower, 5 = upper bound), each with a :class:`NormalSoftplusBound` free coordinate."""
    low = pm.TruncatedNormal(name.format("le3"), below, sd, upper=below,
                             default_transform=NormalSoftplusBound(_step_scale(sd, arms, 0), -1, 5))
    high = pm.TruncatedNormal(name.format("gt5"), above, sd, lower=above,
                              default_transform=NormalSoftplusBound(_step_scale(sd, arms, 2), +1, 4))
    return low, high


def anchors(baseline: dict, mu, is_ablation: np.ndarray) -> dict:
    """What the size levels are centred on: ``"baseline"``, the hazard family's log-hazard level
    (where "nr" arms sit), and ``"ablation"``, the mean effect of the ablation treatments.
    Both are a priori independent of the size effects, so the prior is unchanged."""
    out = {"baseline": None, "ablation": None}
    if "gamma" in baseline:
        out["baseline"] = baseline["gamma"][0]
    for name in ("log_lambda", "log_hazard_level"):
        if name in baseline:
            out["baseline"] = baseline[name]
    if np.any(is_ablation):
        out["ablation"] = mu[np.flatnonzero(is_ablation)].mean()
    return out
