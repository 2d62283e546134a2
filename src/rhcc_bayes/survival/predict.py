"""Linear predictors and S(t) draws for a patient's covariates, and predictions for a new study arm.

Numpy on posterior arrays, wrapped in xarray with dims (``chain``, ``draw``,
``treatment``[, ``time``]); S(t) is exact for every hazard family
(:mod:`rhcc_bayes.survival.hazards`); the piecewise-only log hazards
(``segment`` dim) feed the batch fast path. Works from the posterior file alone: the treatment
structure and cuts are read from ``idata.constant_data`` (see
:func:`rhcc_bayes.workflow.attach_metadata`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from rhcc_bayes.core.errors import UserError, did_you_mean
from rhcc_bayes.core.seed import check_seed
from rhcc_bayes.survival.hazards import family_from_idata
from rhcc_bayes.survival.hazards.base import broadcast_params
from rhcc_bayes.survival.spec import COVARIATES
from rhcc_bayes.survival.metadata import cuts_from

POPULATIONS = ("average", "new")

#: (covariate, posterior variable of its level effects), summed in this order; the ablation
#: size effect applies to ablation treatments only. A variable absent from a posterior is a
#: zero effect, so :func:`prediction_variables` must list every name read here.
LEVEL_EFFECTS = (("size_band", "beta_size"), ("nodularity", "beta_nodularity"),
                 ("recurrence", "beta_recurrence"), ("prior", "beta_prior"), ("stage", "beta_stage"))
ABLATION_EFFECT = ("size_band", "beta_size_ablation")
#: Between-study and between-arm SDs: the random effect of a new population.
RANDOM_EFFECT_SDS = ("sigma_study", "sigma_arm")


def prediction_variables(idata) -> tuple[str, ...]:
    """Names of the posterior variables a survival prediction reads: the linear predictor
    (:func:`linear_predictor`) and the hazard family's parameters (a family is rebuilt from
    ``attrs`` and ``constant_data`` alone, so this works before the posterior is read)."""
    family = family_from_idata(idata)
    return ("mu", *(name for _, name in LEVEL_EFFECTS), ABLATION_EFFECT[1], *RANDOM_EFFECT_SDS,
            *family.parameter_names)


def _level_effect(post, name: str, level: str, shape) -> np.ndarray:
    """Effect of a covariate level; "nr" (not reported) is the zero reference."""
    if level == "nr" or name not in post:
        return np.zeros(shape)
    da = post[name]
    return da.sel({da.dims[-1]: level}).values


def check_covariates(covariates: dict) -> dict:
    """Fill missing covariates with "nr" and reject unknown names or levels."""
    out = {}
    for key in covariates:
        if key not in COVARIATES:
            raise UserError(f"unknown covariate {key!r}{did_you_mean(key, COVARIATES)}")
    for name, levels in COVARIATES.items():
        level = covariates.get(name, "nr")
        if level not in levels:
            raise UserError(f"covariate {name}: unknown level {level!r}{did_you_mean(level, levels)}; allowed {list(levels)}")
        out[name] = level
    return out


def linear_predictor(idata, covariates: dict, *, population: str = "average", seed: int = 0) -> xr.DataArray:
    """theta (log-hazard offset) per draw and treatment for the given covariates.

    ``population="average"`` is the average study population (study effect 0);
    ``"new"`` integrates the between-study (and arm) random effect: one fresh draw of
    u_new ~ N(0, sigma_study) (+ eps_new ~ N(0, sigma_arm)) per posterior draw.
    """
    if population not in POPULATIONS:
        raise UserError(f"population must be one of {list(POPULATIONS)}{did_you_mean(population, POPULATIONS)}")
    cov = check_covariates(covariates)
    post = idata.posterior
    mu = post["mu"]
    shape = mu.shape[:2]
    is_abl = idata.constant_data["is_ablation"].values
    (first, name), *rest = LEVEL_EFFECTS
    x_beta = _level_effect(post, name, cov.get(first, "nr"), shape)
    for covariate, name in rest:  # left to right: the same sum in the same order, draw for draw
        x_beta = x_beta + _level_effect(post, name, cov.get(covariate, "nr"), shape)
    size_abl = _level_effect(post, ABLATION_EFFECT[1], cov.get(ABLATION_EFFECT[0], "nr"), shape)
    theta = mu.values + x_beta[..., None] + size_abl[..., None] * is_abl[None, None, :]
    if population == "new":
        rng = np.random.default_rng(check_seed(seed, "draw seed"))
        study, arm = RANDOM_EFFECT_SDS
        sd = post[study].values ** 2 + (post[arm].values ** 2 if arm in post else 0.0)
        theta = theta + rng.standard_normal(shape)[..., None] * np.sqrt(sd)[..., None]
    return xr.DataArray(theta, dims=("chain", "draw", "treatment"), coords={
        "chain": post.chain.values, "draw": post.draw.values, "treatment": mu.treatment.values})


def profile_log_hazard(idata, covariates: dict, *, population: str = "average", seed: int = 0,
                       horizon: float = 120.0) -> tuple[xr.DataArray, np.ndarray]:
    """Log hazard per month on each segment, for every draw and treatment.

    Returns
    -------
    log_hazard : xr.DataArray
        Dims (chain, draw, treatment, segment).
    cuts : numpy.ndarray
        Segment boundaries in months, starting at 0 and ending with inf.

    Piecewise-exponential posteriors only (the batch fast path of
    :mod:`rhcc_bayes.decision.cohort`); ``horizon`` is unused and kept for callers.
    """
    hazard = str(getattr(idata, "attrs", {}).get("hazard", "piecewise"))
    if hazard != "piecewise":
        raise UserError(f"profile_log_hazard needs a piecewise-exponential posterior, this one has a "
                        f"{hazard!r} hazard; use rhcc_bayes.survival.summary.survival_summary "
                        "(exact for every family)")
    theta = linear_predictor(idata, covariates, population=population, seed=seed)
    cuts = cuts_from(idata)
    gamma = idata.posterior["gamma"].values  # (chain, draw, segment)
    lh = theta.values[..., None] + gamma[:, :, None, :]
    da = xr.DataArray(lh, dims=("chain", "draw", "treatment", "segment"),
                      coords={**theta.coords, "segment": np.arange(lh.shape[-1])})
    return da, cuts


def binomial_survivors(surv: np.ndarray, n, rng: np.random.Generator) -> np.ndarray:
    """Survivors at each time (last axis) of ``n`` patients whose survival curve is ``surv``.

    ``alive_k ~ Binomial(alive_{k-1}, S(t_k) / S(t_{k-1}))`` with ``alive_0 = n``: the
    landmarks of one cohort are the same patients. ``n`` broadcasts against ``surv[..., 0]``.
    """
    prev = np.concatenate([np.ones(surv.shape[:-1] + (1,)), surv[..., :-1]], axis=-1)
    cond = np.clip(np.divide(surv, prev, out=np.zeros_like(surv), where=prev > 0), 0.0, 1.0)
    alive = np.broadcast_to(np.asarray(n, dtype=np.int64), surv.shape[:-1]).copy()
    out = np.empty(surv.shape, dtype=np.int64)
    for k in range(surv.shape[-1]):
        alive = rng.binomial(alive, cond[..., k])
        out[..., k] = alive
    return out


def predict_new_arm(idata, treatment: str, covariates: dict, n: int, times, *, seed: int = 0) -> xr.DataArray:
    """Posterior predictive of the survival a NEW study arm would report.

    Draws a new study effect, then simulates deaths of ``n`` patients across the
    landmarks ``times`` (no censoring). Use it to judge the model against a cohort
    it has not seen: the reported survival should fall inside the predictive band.

    Returns
    -------
    xr.DataArray
        Reported survival fractions, dims (chain, draw, time).
    """
    treatments = list(idata.posterior["mu"].treatment.values)
    if treatment not in treatments:
        raise UserError(f"unknown treatment {treatment!r}{did_you_mean(treatment, treatments)}")
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise UserError(f"n must be a positive integer, got {n!r}")
    surv_da = survival_draws(idata, covariates, times, population="new", seed=seed).sel(treatment=treatment)
    out = binomial_survivors(surv_da.values, n, np.random.default_rng(seed + 1)) / n
    return xr.DataArray(out, dims=("chain", "draw", "time"),
                        coords={"chain": surv_da.chain.values, "draw": surv_da.draw.values,
                                "time": np.asarray(times, float)})


def survival_draws(idata, covariates: dict, times, *, population: str = "average", seed: int = 0) -> xr.DataArray:
    """S(t) per posterior draw and treatment at ``times`` (months) for the given covariates.

    Exact for every hazard family (see :mod:`rhcc_bayes.survival.summary`).

    Returns
    -------
    xr.DataArray
        Dims (chain, draw, treatment, time).
    """
    times = np.asarray(times, dtype=float)
    family = family_from_idata(idata)
    theta = linear_predictor(idata, covariates, population=population, seed=seed)
    th = theta.values
    flat = broadcast_params(family.posterior_params(idata.posterior), th.shape)
    surv = family.survival(flat, th.reshape(-1), times).reshape(*th.shape, times.size)
    return xr.DataArray(surv, dims=(*theta.dims, "time"), coords={**theta.coords, "time": times})
