"""Mixture cure wrapper around any other family: S(t) = p + (1 - p) S_u(t).

A fraction p of patients (common to all arms) is never at risk of dying of the disease;
treatment, covariate and study effects act proportionally on the hazard of the uncured
(theta enters S_u through the base family). Prior: logit p ~ N(cure_logit_mean,
cure_logit_sd); the defaults (-1.5, 1.0) put the prior median of p at 0.18 and its 95%
interval at about [0.03, 0.62]: long-term survivors after salvage treatment are a
minority, but a sizeable one after transplant or resection.

Consequences used below: H = -log(1 + (1 - p) expm1(-H_u)); h = (1 - p) h_u S_u / S;
RMST(τ) = p τ + (1 - p) RMST_u(τ); H reaches a target c where S_u = (e^-c - p) / (1 - p)
(never when e^-c <= p, e.g. no median when p >= 1/2).
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.hazards.base import HazardFamily


class Cure(HazardFamily):
    name = "cure"

    def __init__(self, base: HazardFamily):
        if isinstance(base, Cure):
            raise ValueError("a cure model cannot wrap another cure model")
        self.base = base

    @classmethod
    def from_design(cls, spec, design):
        from rhcc_bayes.survival.hazards import FAMILIES

        return cls(FAMILIES[spec.cure_base].from_design(spec, design))

    @classmethod
    def from_idata(cls, idata):
        from rhcc_bayes.survival.hazards import FAMILIES

        return cls(FAMILIES[idata.attrs["cure_base"]].from_idata(idata))

    def metadata(self):
        data, attrs = self.base.metadata()
        return data, {**attrs, "cure_base": self.base.name}

    def coords(self):
        return self.base.coords()

    @property
    def parameter_names(self):
        return ("cure_fraction", *self.base.parameter_names)

    def add_priors(self, pm, pt, priors):
        params = self.base.add_priors(pm, pt, priors)
        logit = pm.Normal("cure_logit", priors.cure_logit_mean, priors.cure_logit_sd)
        return {**params, "cure_fraction": pm.Deterministic("cure_fraction", pt.sigmoid(logit))}

    def cumulative_hazard_pt(self, pt, params, theta, times):
        h_u = self.base.cumulative_hazard_pt(pt, params, theta, times)
        return -pt.log1p((1.0 - params["cure_fraction"]) * pt.expm1(-h_u))

    def inverse_cumhaz_pt(self, pt, params, theta, target):
        p = params["cure_fraction"]
        q = pt.clip((pt.exp(-target) - p) / (1.0 - p), 1e-12, 1.0)  # S_u there; tiny = "beyond any time"
        return self.base.inverse_cumhaz_pt(pt, params, theta, -pt.log(q))

    def _p(self, p, theta):
        return np.broadcast_to(p["cure_fraction"], np.shape(theta))

    def survival(self, p, theta, t):
        c = self._p(p, theta)[..., None]
        return c + (1.0 - c) * self.base.survival(p, theta, t)

    def cumulative_hazard(self, p, theta, t):
        c = self._p(p, theta)[..., None]
        return -np.log1p((1.0 - c) * np.expm1(-self.base.cumulative_hazard(p, theta, t)))

    def hazard(self, p, theta, t):
        c = self._p(p, theta)[..., None]
        s_u = self.base.survival(p, theta, t)
        return (1.0 - c) * self.base.hazard(p, theta, t) * s_u / (c + (1.0 - c) * s_u)

    def rmst(self, p, theta, tau):
        c = self._p(p, theta)
        return c * float(tau) + (1.0 - c) * self.base.rmst(p, theta, tau)

    def inverse_cumhaz(self, p, theta, target):
        c = self._p(p, theta)
        q = (np.exp(-np.asarray(target, dtype=float)) - c) / (1.0 - c)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.base.inverse_cumhaz(p, theta, -np.log(np.where(q > 0, q, 1.0)))
        return np.where(q > 0, t, np.inf)

    def extrapolation(self):
        return (f"survival levels off towards the cure fraction p (cure_fraction), while for the uncured "
                f"{self.base.extrapolation()}")
