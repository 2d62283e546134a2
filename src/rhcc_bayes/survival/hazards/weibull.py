"""Weibull hazard: H(t) = exp(log_lambda + theta) t^shape, h(t) = shape exp(log_lambda + theta) t^(shape-1).

log_lambda ~ N(baseline_log_hazard_mean, baseline_log_hazard_sd) (shape 1 gives the
exponential with that log hazard per month); log(shape) ~ N(0, weibull_shape_log_sd).
RMST is exact: ∫_0^τ exp(-λ t^a) dt = λ^(-1/a) Γ(1 + 1/a) P(1/a, λ τ^a), with P the
regularised lower incomplete gamma function.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc

from rhcc_bayes.survival.hazards.base import HazardFamily


class Weibull(HazardFamily):
    name = "weibull"
    parameter_names = ("log_lambda", "weibull_shape")

    @classmethod
    def from_design(cls, spec, design):
        return cls()

    @classmethod
    def from_idata(cls, idata):
        return cls()

    def add_priors(self, pm, pt, priors):
        log_lambda = pm.Normal("log_lambda", priors.baseline_log_hazard_mean, priors.baseline_log_hazard_sd)
        log_shape = pm.Normal("log_shape", 0.0, priors.weibull_shape_log_sd)
        return {"log_lambda": log_lambda, "weibull_shape": pm.Deterministic("weibull_shape", pt.exp(log_shape))}

    def cumulative_hazard_pt(self, pt, params, theta, times):
        t = np.asarray(times, dtype=float)
        # t^a as exp(a log t) with t = 0 masked: the gradient of 0^a in a would be 0 * log 0 = nan
        t_pow = pt.switch(t > 0, pt.exp(params["weibull_shape"] * np.log(np.where(t > 0, t, 1.0))), 0.0)
        return pt.exp(params["log_lambda"] + theta) * t_pow

    def inverse_cumhaz_pt(self, pt, params, theta, target):
        return (target / pt.exp(params["log_lambda"] + theta)) ** (1.0 / params["weibull_shape"])

    def _lam_a(self, p, theta):
        return np.exp(p["log_lambda"] + np.asarray(theta, dtype=float)), p["weibull_shape"]

    def hazard(self, p, theta, t):
        lam, a = self._lam_a(p, theta)
        with np.errstate(divide="ignore"):
            return (a * lam)[..., None] * np.asarray(t, dtype=float) ** (a[..., None] - 1)

    def cumulative_hazard(self, p, theta, t):
        lam, a = self._lam_a(p, theta)
        return lam[..., None] * np.asarray(t, dtype=float) ** a[..., None]

    def rmst(self, p, theta, tau):
        lam, a = self._lam_a(p, theta)
        inv = 1.0 / a
        x = lam * float(tau) ** a  # H(tau)
        with np.errstate(over="ignore", invalid="ignore"):
            exact = lam ** (-inv) * gamma_fn(1.0 + inv) * gammainc(inv, x)
        # for H(tau) < 1e-6, lam^(-1/a) can overflow: tau (1 - x/(a+1)) is then exact to O(x^2)
        return np.where(x < 1e-6, float(tau) * (1.0 - x / (a + 1.0)), exact)

    def inverse_cumhaz(self, p, theta, target):
        lam, a = self._lam_a(p, theta)
        return (np.asarray(target, dtype=float) / lam) ** (1.0 / a)

    def extrapolation(self):
        return ("the hazard keeps following the fitted Weibull power law h(t) ∝ t^(shape-1), "
                "falling or rising without limit as it did over the observed times")
