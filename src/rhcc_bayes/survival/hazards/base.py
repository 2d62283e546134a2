"""The hazard-family interface: what every baseline hazard family provides.

A family object is configured for one fit (segment cuts, spline knots, the base family
of a cure mixture) and provides, for an arm whose log-hazard offset is ``theta``
(proportional hazards: treatment, covariate and study effects all act through theta):

- the PyMC baseline parameters with their priors (:meth:`HazardFamily.add_priors`);
- PyTensor H(theta, t) and the inverse of H for the likelihood
  (:meth:`cumulative_hazard_pt`, :meth:`inverse_cumhaz_pt`, bound by :class:`BoundHazard`);
- numpy functions on posterior draws: hazard, cumulative hazard, S(t), RMST(tau),
  the time where H reaches a target and the median (inf beyond the horizon);
- the posterior variables the numpy functions read (checked by the diagnostics gate);
- one sentence saying what the family assumes beyond the last observed time.

Numpy conventions: ``p`` maps parameter names to arrays of shape ``L + trailing``
(``L`` the shape of ``theta``, e.g. ``(n,)``; trailing e.g. ``(segment,)``); times ``t``
are a 1-D array; results are ``L + (time,)`` or ``L``. Families are added to
:data:`rhcc_bayes.survival.hazards.FAMILIES` (one module, one table entry).
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)


class HazardFamily:
    """Base class: subclasses implement the abstract methods; RMST/median have defaults."""

    name: str = ""

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_design(cls, spec, design) -> "HazardFamily":
        """Configure the family for ``spec`` (a SurvivalSpec) and ``design`` (a SurvivalDesign)."""
        raise NotImplementedError

    @classmethod
    def from_idata(cls, idata) -> "HazardFamily":
        """Rebuild the configured family from what :meth:`metadata` stored in the posterior."""
        raise NotImplementedError

    def metadata(self) -> tuple[dict, dict]:
        """(``constant_data`` variables as ``{name: (dims, values)}``, ``attrs``) for the posterior file."""
        return {}, {}

    def coords(self) -> dict:
        """PyMC coords the family's parameters use (e.g. ``segment``)."""
        return {}

    # --- PyMC / PyTensor ----------------------------------------------------------
    def add_priors(self, pm, pt, priors) -> dict:
        """Create the baseline parameters in the current PyMC model; return them by name."""
        raise NotImplementedError

    def cumulative_hazard_pt(self, pt, params: dict, theta, times):
        """H(t) for observation-aligned ``theta`` (vector) at ``times`` (numpy, same length)."""
        raise NotImplementedError

    def inverse_cumhaz_pt(self, pt, params: dict, theta, target):
        """The time where H reaches ``target`` (scalar or theta-aligned), differentiable."""
        raise NotImplementedError

    # --- numpy on posterior draws --------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Posterior variables the numpy functions read (gated by the diagnostics)."""
        raise NotImplementedError

    def posterior_params(self, posterior) -> dict:
        """``{name: array (chain, draw, ...)}`` from an ``idata.posterior`` Dataset."""
        return {k: np.asarray(posterior[k].values, dtype=float) for k in self.parameter_names}

    def hazard(self, p: dict, theta, t) -> np.ndarray:
        raise NotImplementedError

    def cumulative_hazard(self, p: dict, theta, t) -> np.ndarray:
        raise NotImplementedError

    def survival(self, p: dict, theta, t) -> np.ndarray:
        return np.exp(-self.cumulative_hazard(p, theta, t))

    def rmst(self, p: dict, theta, tau: float) -> np.ndarray:
        raise NotImplementedError

    def inverse_cumhaz(self, p: dict, theta, target) -> np.ndarray:
        """Time where H reaches ``target`` (broadcast with theta); inf if never."""
        raise NotImplementedError

    def median(self, p: dict, theta, horizon: float | None = None) -> np.ndarray:
        """Median survival (months); ``inf`` when S stays above 0.5 up to ``horizon``."""
        m = self.inverse_cumhaz(p, theta, np.full(np.shape(theta), LN2))
        return m if horizon is None else np.where(m > horizon, np.inf, m)

    def extrapolation(self) -> str:
        """What the family assumes beyond the last observed time (one sentence)."""
        raise NotImplementedError

    def summary(self, p: dict, theta, horizon: float, landmarks, *, step: float = 1.0, curves: bool = True):
        """Survival summary (xarray Dataset) for ``theta`` (DataArray, dims chain, draw, ...)."""
        return generic_summary(self, p, theta, horizon, landmarks, step=step, curves=curves)


class BoundHazard:
    """A family bound to its PyMC baseline parameters, as the likelihood blocks use it."""

    def __init__(self, family: HazardFamily, pt, params: dict):
        self.family, self.pt, self.params = family, pt, params

    def cumulative_hazard(self, theta, times):
        return self.family.cumulative_hazard_pt(self.pt, self.params, theta, np.asarray(times, dtype=float))

    def median(self, theta):
        return self.family.inverse_cumhaz_pt(self.pt, self.params, theta, LN2)


def newton_inverse(cumhaz_and_hazard, target, lo, hi, iters: int = 60) -> np.ndarray:
    """Solve H(t) = target for increasing H inside brackets [lo, hi] (numpy, vectorised).

    ``cumhaz_and_hazard(t)`` returns (H(t), h(t)). Safeguarded Newton: a step leaving the
    bracket is replaced by bisection and the bracket shrinks each iteration, so it
    converges for any monotone H; near the root it is quadratic (machine precision in a
    handful of iterations from a good bracket).
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    t = 0.5 * (lo + hi)
    for _ in range(iters):
        big_h, h = cumhaz_and_hazard(t)
        f = big_h - target
        lo = np.where(f < 0, t, lo)
        hi = np.where(f > 0, t, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = t - f / h
        bad = ~np.isfinite(step) | (step < lo) | (step > hi)
        t_new = np.where(bad, 0.5 * (lo + hi), step)
        done = np.all(np.abs(t_new - t) <= 1e-12 * np.maximum(1.0, np.abs(t)))
        t = t_new
        if done:
            break
    return t


def gauss_legendre(a, b, order: int = 24):
    """Nodes ``[..., order]`` and weights for ∫_a^b on every interval (a, b broadcast)."""
    x, w = np.polynomial.legendre.leggauss(order)
    a, b = np.asarray(a, dtype=float)[..., None], np.asarray(b, dtype=float)[..., None]
    half = (b - a) / 2
    return a + half * (x + 1), half * w


def broadcast_params(p: dict, shape: tuple) -> dict:
    """Parameters ``(chain, draw, *trailing)`` broadcast to draws of ``shape`` = (chain, draw, ...)
    and flattened to ``(n, *trailing)``, aligned with ``theta.reshape(-1)``."""
    out = {}
    for k, v in p.items():
        v = np.asarray(v, dtype=float)
        trailing = v.shape[2:]
        v = v.reshape(v.shape[:2] + (1,) * (len(shape) - 2) + trailing)
        out[k] = np.broadcast_to(v, tuple(shape) + trailing).reshape((-1,) + trailing)
    return out


def generic_summary(family: HazardFamily, p: dict, theta, horizon: float, landmarks, *,
                    step: float = 1.0, curves: bool = True):
    """Survival summary Dataset from the family's numpy functions (any family).

    Same variables, dims and attrs as :func:`rhcc_bayes.survival.piecewise.survival_summary`:
    ``rmst``, ``median`` (inf beyond the horizon), ``s<t>`` per landmark and, with
    ``curves``, ``survival`` (..., time) in float32 on a grid of ``step`` months.
    """
    import xarray as xr

    th = np.asarray(theta.values, dtype=float)
    flat, tf = broadcast_params(p, th.shape), th.reshape(-1)
    dims, shape = theta.dims, th.shape
    out = {"rmst": (dims, family.rmst(flat, tf, horizon).reshape(shape)),
           "median": (dims, family.median(flat, tf, horizon).reshape(shape))}
    if len(landmarks):
        s_t = family.survival(flat, tf, np.asarray(landmarks, dtype=float))
        for i, t in enumerate(landmarks):
            out[f"s{t:g}"] = (dims, s_t[:, i].reshape(shape))
    coords = dict(theta.coords)
    if curves:
        grid = np.arange(0.0, horizon + step / 2, step)
        out["survival"] = ((*dims, "time"), family.survival(flat, tf, grid).astype(np.float32).reshape(*shape, -1))
        coords["time"] = grid
    ds = xr.Dataset(out, coords=coords)
    ds.attrs.update(horizon=float(horizon), time_unit="months", landmarks=[float(t) for t in landmarks],
                    hazard=family.name)
    ds["rmst"].attrs.update(long_name=f"restricted mean survival to {horizon:g} months", units="months")
    ds["median"].attrs.update(long_name="median survival (inf: beyond horizon)", units="months")
    return ds
