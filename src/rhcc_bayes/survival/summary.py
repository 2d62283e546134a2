"""Exact posterior survival for any hazard family: S(t) draws and the decision summary.

The family of a posterior is read from the posterior itself
(:func:`rhcc_bayes.survival.hazards.family_from_idata`), so the decision layer, reports
and model criticism get exact S(t), RMST and median for every family: piecewise
through its fused closed forms, Weibull through the incomplete gamma function,
M-splines through I-splines and Gauss-Legendre quadrature, cure mixtures through their
base family.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from rhcc_bayes.survival.hazards import family_from_idata
from rhcc_bayes.survival.hazards.base import broadcast_params
from rhcc_bayes.survival.predict import linear_predictor


def _theta(idata, covariates, population, seed, treatments):
    theta = linear_predictor(idata, covariates, population=population, seed=seed)
    return theta if treatments is None else theta.sel(treatment=list(treatments))


def survival_summary(idata, covariates: dict, *, horizon: float = 60.0,
                     landmarks: Sequence[float] = (12, 36, 60), population: str = "average",
                     seed: int = 0, treatments: Sequence[str] | None = None, step: float = 1.0,
                     curves: bool = True) -> xr.Dataset:
    """Survival curve, RMST, landmark survival and median per posterior draw and treatment.

    Parameters
    ----------
    idata : arviz.InferenceData
        A survival posterior (any hazard family).
    covariates : dict
        Model covariates (missing ones are "nr").
    horizon : float
        RMST horizon and end of the curve grid (months).
    landmarks : sequence of float
        Times of the ``s<t>`` variables.
    population : {"average", "new"}
        See :func:`rhcc_bayes.survival.predict.linear_predictor`.
    seed : int
        Seed of the new-population random effect.
    treatments : sequence of str, optional
        Restrict to these treatments (default: all).
    step : float
        Grid spacing of the ``survival`` curve.
    curves : bool
        Compute the curve (skip it for batch tables).

    Returns
    -------
    xr.Dataset
        Dims (chain, draw, treatment): ``rmst``, ``median`` (inf beyond the horizon),
        ``s<t>``; ``survival`` (chain, draw, treatment, time) in float32 when ``curves``;
        attrs ``horizon``, ``landmarks``, ``time_unit``, ``hazard``.
    """
    family = family_from_idata(idata)
    theta = _theta(idata, covariates, population, seed, treatments)
    params = family.posterior_params(idata.posterior)
    return family.summary(params, theta, float(horizon), tuple(landmarks), step=step, curves=curves)


def family_median(idata, covariates: dict, *, horizon: float | None = None, population: str = "average",
                  seed: int = 0, treatments: Sequence[str] | None = None) -> xr.DataArray:
    """Median survival per draw and treatment (inf beyond ``horizon``): dims (chain, draw, treatment)."""
    family = family_from_idata(idata)
    theta = _theta(idata, covariates, population, seed, treatments)
    th = theta.values
    flat = broadcast_params(family.posterior_params(idata.posterior), th.shape)
    return theta.copy(data=family.median(flat, th.reshape(-1), horizon).reshape(th.shape))


def extrapolation_note(idata, horizon: float, landmarks: Sequence[float] = ()) -> str:
    """Which of ``horizon`` and ``landmarks`` lie beyond the last time the evidence observed
    (``idata.attrs["last_observed_months"]``), and what the hazard family assumes there.

    Empty when nothing lies beyond it, or when the posterior does not record that time.
    """
    last = idata.attrs.get("last_observed_months")
    try:
        last = float(last)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(last):
        return ""
    beyond = [f"S({t:g})" for t in landmarks if t > last]
    if horizon > last:
        beyond.append(f"RMST to {horizon:g} months and the survival curve after {last:g} months")
    if not beyond:
        return ""
    return (f"{', '.join(beyond)} extrapolate beyond the last time the evidence observes survival "
            f"({last:g} months); there the model assumes {family_from_idata(idata).extrapolation()}")
