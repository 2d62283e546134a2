"""Piecewise-exponential hazard: log h(t) = gamma_k + theta on segment k of the spec's cuts.

gamma_1 ~ N(baseline_log_hazard_mean, baseline_log_hazard_sd) and a Gaussian random walk
gamma_k = gamma_{k-1} + N(0, segment_step_sd). The numpy functions are the closed forms of
:mod:`rhcc_bayes.survival.piecewise`, and :meth:`Piecewise.summary` keeps its fused fast path.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from rhcc_bayes.survival import piecewise as pw
from rhcc_bayes.survival.hazards.base import HazardFamily


def exposure(times, cuts) -> np.ndarray:
    """Time spent in each hazard segment before ``times``: shape (len(times), n_segments)."""
    t = np.asarray(times, dtype=float)[:, None]
    lo, hi = cuts[:-1][None, :], cuts[1:][None, :]
    return np.clip(np.minimum(t, hi) - lo, 0.0, None)


def segment_label(lo: float, hi: float) -> str:
    return f"{lo:g}+" if np.isinf(hi) else f"{lo:g}-{hi:g}"


def encode_cuts(cuts) -> np.ndarray:
    return np.where(np.isinf(cuts), -1.0, cuts)  # -1 encodes +inf (netCDF-safe)


def decode_cuts(idata) -> np.ndarray:
    cuts = np.asarray(idata.constant_data["cuts"].values, dtype=float)
    return np.where(cuts < 0, np.inf, cuts)


class Piecewise(HazardFamily):
    """Piecewise-constant hazard on ``cuts`` = (0, c1, ..., inf) months."""

    name = "piecewise"

    def __init__(self, cuts):
        self.cuts = np.asarray(cuts, dtype=float)

    @classmethod
    def from_design(cls, spec, design):
        return cls(np.array([0.0, *spec.cuts_months, np.inf]))

    @classmethod
    def from_idata(cls, idata):
        return cls(decode_cuts(idata))

    def metadata(self):
        return {"cuts": ("cut", encode_cuts(self.cuts))}, {}

    def coords(self):
        return {"segment": [segment_label(a, b) for a, b in zip(self.cuts[:-1], self.cuts[1:])]}

    def add_priors(self, pm, pt, priors):
        k = len(self.cuts) - 1
        first = pm.Normal("gamma_first", priors.baseline_log_hazard_mean, priors.baseline_log_hazard_sd)
        if k == 1:
            return {"gamma": pm.Deterministic("gamma", first[None], dims="segment")}
        steps = pm.Normal("gamma_steps", 0.0, priors.segment_step_sd, shape=k - 1)
        gamma = pt.concatenate([first[None], first + pt.cumsum(steps)])
        return {"gamma": pm.Deterministic("gamma", gamma, dims="segment")}

    def cumulative_hazard_pt(self, pt, params, theta, times):
        return pt.exp(theta) * pt.dot(exposure(times, self.cuts), pt.exp(params["gamma"]))

    def inverse_cumhaz_pt(self, pt, params, theta, target):
        cuts = self.cuts
        h = pt.exp(params["gamma"][None, :] + theta[:, None])  # (obs, segment)
        widths = np.diff(cuts)
        finite = np.where(np.isinf(widths), 0.0, widths)
        h_at_cut = pt.concatenate([pt.zeros((theta.shape[0], 1)), pt.cumsum(h * finite, axis=1)[:, :-1]], axis=1)
        tgt = pt.shape_padright(pt.as_tensor_variable(target))
        t_cand = cuts[:-1][None, :] + (tgt - h_at_cut) / h
        inside = (h_at_cut <= tgt) & (t_cand <= cuts[1:][None, :])
        return pt.sum(pt.switch(inside, t_cand, 0.0), axis=1)

    parameter_names = ("gamma",)

    def _lh(self, p, theta):
        return p["gamma"] + np.asarray(theta, dtype=float)[..., None]

    def hazard(self, p, theta, t):
        k = np.searchsorted(self.cuts, np.asarray(t, dtype=float), side="right") - 1
        return np.exp(self._lh(p, theta)[..., np.clip(k, 0, len(self.cuts) - 2)])

    def cumulative_hazard(self, p, theta, t):
        return pw.cumulative_hazard(self._lh(p, theta), self.cuts, t)

    def rmst(self, p, theta, tau):
        return pw.rmst(self._lh(p, theta), self.cuts, tau)

    def inverse_cumhaz(self, p, theta, target):
        return pw.time_at_cumhaz(self._lh(p, theta), self.cuts, target)

    def median(self, p, theta, horizon=None):
        return pw.median_survival(self._lh(p, theta), self.cuts, horizon)

    def extrapolation(self):
        last = self.cuts[-2]
        return (f"the hazard stays constant at its last segment's value from {last:g} months on"
                if last > 0 else "the hazard is constant at all times (exponential survival)")

    def summary(self, p, theta: xr.DataArray, horizon, landmarks, *, step=1.0, curves=True):
        """The fused closed-form summary of :func:`rhcc_bayes.survival.piecewise.survival_summary`."""
        gamma = p["gamma"]  # (chain, draw, segment)
        lh = theta.values[..., None] + gamma.reshape(gamma.shape[:2] + (1,) * (theta.ndim - 2) + gamma.shape[2:])
        da = xr.DataArray(lh, dims=(*theta.dims, "segment"), coords=theta.coords)
        ds = pw.survival_summary(da, self.cuts, horizon, landmarks, step=step, curves=curves)
        ds.attrs["hazard"] = self.name
        return ds
