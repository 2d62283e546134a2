"""M-spline hazard (survextrap-style): a flexible, smooth baseline hazard.

    h(t) = exp(level + theta) * T * Σ_k c_k M_k(t)     for t <= T (the last knot)
    h(t) = h(T)                                          for t > T

M_k are cubic M-splines (each integrates to 1 over [0, T]) on knots placed at quantiles
of the evidence's observed times (landmark and median times), T the largest of them.
The coefficients c lie on the simplex, so the factor T Σ c_k M_k averages 1 over [0, T]:
``level`` (``log_hazard_level``) is the log of the mean hazard over [0, T] and takes the
baseline prior N(baseline_log_hazard_mean, baseline_log_hazard_sd).

Smoothness prior: c = softmax(log c* + δ) with δ_1 = 0 and a random walk
δ_k = δ_{k-1} + σ z_k, z ~ N(0, 1), σ ~ Gamma(2, 2 / spline_smooth_sd). c* is the
coefficient vector that makes the hazard exactly constant, c*_k = (t_{k+4} - t_k) / (4 T)
(B-splines sum to 1), so σ → 0 shrinks towards an exponential model and adjacent
coefficients move together (no wiggles the data do not ask for).

H(t) uses the I-splines (integrated M-splines). Both are stored as exact piecewise
polynomials per knot interval, evaluated the same way in PyTensor and numpy; RMST is
Gauss-Legendre quadrature on each knot interval (32 nodes: exact to rounding for these
smooth integrands) plus the closed-form exponential tail after T.
"""

from __future__ import annotations

import math

import numpy as np

from rhcc_bayes.survival.hazards.base import HazardFamily, gauss_legendre, newton_inverse

DEGREE = 3
GRID = 241  # grid points on [0, T] that bracket the root in the PyTensor median


def observed_times(design) -> np.ndarray:
    """Positive times at which the evidence reports survival (landmarks, medians)."""
    times = np.concatenate([np.asarray(design.landmarks["t"], dtype=float),
                            np.asarray(design.medians["time"], dtype=float)])
    return times[np.isfinite(times) & (times > 0)]


def place_knots(times, df: int) -> tuple[np.ndarray, float]:
    """Interior knots at equally spaced quantiles of ``times``; boundary at their maximum."""
    boundary = float(np.max(times)) if len(times) else 60.0
    n_int = df - DEGREE - 1
    interior = np.quantile(times, np.arange(1, n_int + 1) / (n_int + 1)) if len(times) and n_int else np.array([])
    if n_int and (len(np.unique(interior)) < n_int or interior.min() <= 0 or interior.max() >= boundary):
        interior = boundary * np.arange(1, n_int + 1) / (n_int + 1)  # too few distinct times: even spacing
    return np.asarray(interior, dtype=float), boundary


class MSpline(HazardFamily):
    """Cubic M-spline hazard with ``interior`` knots on [0, ``boundary``] months."""

    name = "mspline"
    parameter_names = ("log_hazard_level", "spline_coef")

    def __init__(self, interior, boundary: float):
        from scipy.interpolate import BSpline

        self.interior = np.asarray(interior, dtype=float)
        self.boundary = float(boundary)
        order = DEGREE + 1
        knots = np.concatenate([np.zeros(order), self.interior, np.full(order, self.boundary)])
        self.n_basis = len(knots) - order
        width = knots[order:] - knots[:-order]
        mspl = BSpline(knots, np.diag(order / width), DEGREE)          # M_k = B_k * order / width_k
        ispl = mspl.antiderivative()                                    # I_k(0) = 0, I_k(T) = 1
        self.breaks = np.concatenate([[0.0], self.interior, [self.boundary]])
        # coef[i, k, m]: I_k(t) = Σ_m coef[i, k, m] (t - breaks[i])^m on interval i
        self.coef = np.stack([np.stack([ispl.derivative(m)(a) / math.factorial(m) if m else ispl(a)
                                        for m in range(order + 1)], axis=-1) for a in self.breaks[:-1]])
        self.dcoef = self.coef[..., 1:] * np.arange(1, order + 1)     # M_k = I_k'
        self.constant = width / (order * self.boundary)               # c*: a constant hazard
        self.i_end, self.m_end = self.basis(np.array([self.boundary]))
        self.i_end, self.m_end = self.i_end[0], self.m_end[0]

    @classmethod
    def from_design(cls, spec, design):
        return cls(*place_knots(observed_times(design), spec.spline_df))

    @classmethod
    def from_idata(cls, idata):
        knots = np.asarray(idata.constant_data["spline_knots"].values, dtype=float)
        return cls(knots[1:-1], knots[-1])

    def metadata(self):
        return {"spline_knots": ("spline_knot", self.breaks)}, {}

    def coords(self):
        return {"basis": [f"M{k + 1}" for k in range(self.n_basis)]}

    # --- basis evaluation (numpy) ---------------------------------------------------
    def basis(self, t) -> tuple[np.ndarray, np.ndarray]:
        """(I(t), M(t)) of shape ``t.shape + (basis,)`` for 0 <= t <= boundary (clipped)."""
        t = np.clip(np.asarray(t, dtype=float), 0.0, self.boundary)
        i = np.clip(np.searchsorted(self.breaks, t, side="right") - 1, 0, len(self.breaks) - 2)
        dt = (t - self.breaks[i])[..., None]
        powers = dt ** np.arange(DEGREE + 2)
        return (np.einsum("...km,...m->...k", self.coef[i], powers),
                np.einsum("...km,...m->...k", self.dcoef[i], powers[..., :-1]))

    # --- PyMC / PyTensor ----------------------------------------------------------
    def add_priors(self, pm, pt, priors):
        level = pm.Normal("log_hazard_level", priors.baseline_log_hazard_mean, priors.baseline_log_hazard_sd)
        sd = pm.Gamma("spline_smooth_sd", alpha=2.0, beta=2.0 / priors.spline_smooth_sd)
        z = pm.Normal("z_spline", 0.0, 1.0, shape=self.n_basis - 1)
        delta = pt.concatenate([pt.zeros(1), pt.cumsum(sd * z)])
        coef = pm.Deterministic("spline_coef", pt.special.softmax(np.log(self.constant) + delta), dims="basis")
        return {"log_hazard_level": level, "spline_coef": coef}

    def _h_end_pt(self, pt, params, scale):
        return scale * self.boundary * pt.dot(self.i_end, params["spline_coef"]), \
            scale * self.boundary * pt.dot(self.m_end, params["spline_coef"])

    def cumulative_hazard_pt(self, pt, params, theta, times):
        t = np.asarray(times, dtype=float)
        i_t, _ = self.basis(t)
        scale = pt.exp(params["log_hazard_level"] + theta)
        inside = scale * self.boundary * pt.dot(i_t, params["spline_coef"])
        _, h_end = self._h_end_pt(pt, params, scale)
        return inside + h_end * np.maximum(t - self.boundary, 0.0)

    def _basis_pt(self, pt, t):
        i = pt.clip(pt.sum(pt.ge(t[:, None], self.breaks[None, 1:-1]), axis=1), 0, len(self.breaks) - 2)
        dt = t - pt.as_tensor(self.breaks)[i]
        powers = pt.stack([dt ** m for m in range(DEGREE + 2)], axis=1)            # (n, m)
        return (pt.sum(pt.as_tensor(self.coef)[i] * powers[:, None, :], axis=2),
                pt.sum(pt.as_tensor(self.dcoef)[i] * powers[:, None, :-1], axis=2))

    def inverse_cumhaz_pt(self, pt, params, theta, target):
        coef = params["spline_coef"]
        scale = pt.exp(params["log_hazard_level"] + theta)                         # (n,)
        tgt = pt.as_tensor_variable(target) + pt.zeros_like(theta)
        grid = np.linspace(0.0, self.boundary, GRID)
        h_grid = scale[:, None] * self.boundary * pt.dot(self.basis(grid)[0], coef)[None, :]
        j = pt.clip(pt.sum(pt.lt(h_grid, tgt[:, None]), axis=1), 1, GRID - 1)
        rows = pt.arange(theta.shape[0])
        lo, hi = h_grid[rows, j - 1], h_grid[rows, j]
        t = pt.as_tensor(grid)[j - 1] + (tgt - lo) / (hi - lo) * (grid[1] - grid[0])
        for _ in range(2):  # Newton from the interpolated start: exact value and implicit gradient
            i_t, m_t = self._basis_pt(pt, t)
            t = pt.clip(t - (scale * self.boundary * pt.dot(i_t, coef) - tgt)
                        / (scale * self.boundary * pt.dot(m_t, coef)), 0.0, self.boundary)
        h_at_end, hz_end = self._h_end_pt(pt, params, scale)
        return pt.switch(tgt > h_at_end, self.boundary + (tgt - h_at_end) / hz_end, t)

    # --- numpy on posterior draws --------------------------------------------------
    def _scale(self, p, theta):
        return np.exp(p["log_hazard_level"] + np.asarray(theta, dtype=float)) * self.boundary

    def hazard(self, p, theta, t):
        _, m_t = self.basis(t)
        return self._scale(p, theta)[..., None] * np.einsum("...k,tk->...t", p["spline_coef"], m_t)

    def cumulative_hazard(self, p, theta, t):
        t = np.asarray(t, dtype=float)
        i_t, _ = self.basis(t)
        s = self._scale(p, theta)[..., None]
        inside = s * np.einsum("...k,tk->...t", p["spline_coef"], i_t)
        h_end = s * (p["spline_coef"] @ self.m_end)[..., None]
        return inside + h_end * np.maximum(t - self.boundary, 0.0)

    def rmst(self, p, theta, tau):
        tau = float(tau)
        a = self.breaks[:-1][self.breaks[:-1] < tau]
        b = np.minimum(self.breaks[1:][: len(a)], tau)
        nodes, weights = gauss_legendre(a, b, 32)
        out = self.survival(p, theta, nodes.ravel()) @ weights.ravel()
        if tau > self.boundary:  # constant hazard after the last knot: closed form
            s = self._scale(p, theta)
            h_end = s * (p["spline_coef"] @ self.m_end)
            s_end = np.exp(-s * (p["spline_coef"] @ self.i_end))
            out = out + s_end * -np.expm1(-h_end * (tau - self.boundary)) / h_end
        return out

    def inverse_cumhaz(self, p, theta, target):
        s = self._scale(p, theta)
        shape = s.shape
        coef = np.asarray(p["spline_coef"], dtype=float).reshape(-1, self.n_basis)
        s = s.reshape(-1)
        tgt = np.broadcast_to(np.asarray(target, dtype=float), shape).reshape(-1)
        h_at_end, hz_end = s * (coef @ self.i_end), s * (coef @ self.m_end)
        # per-draw polynomial of H / s on each knot interval: one gather per Newton step
        poly = np.einsum("nk,ikm->nim", coef, self.coef)
        rows = np.arange(s.size)
        orders = np.arange(1, DEGREE + 2)

        def cumhaz_and_hazard(t):
            i = np.clip(np.searchsorted(self.breaks, t, side="right") - 1, 0, len(self.breaks) - 2)
            c = poly[rows, i]                                                # (n, m)
            powers = (t - self.breaks[i])[:, None] ** np.arange(DEGREE + 2)
            return s * np.sum(c * powers, axis=1), s * np.sum(c[:, 1:] * orders * powers[:, :-1], axis=1)

        # bracket the root on a grid first (one matmul), so Newton needs only a few steps
        grid = np.linspace(0.0, self.boundary, 61)
        h_grid = s[:, None] * (coef @ self.basis(grid)[0].T)
        j = np.clip(np.sum(h_grid < tgt[:, None], axis=1), 1, grid.size - 1)
        # roots past the last knot are closed-form (below); keep Newton's targets inside [0, T]
        past = tgt >= h_at_end
        inside = newton_inverse(cumhaz_and_hazard, np.minimum(tgt, h_at_end),
                                np.where(past, self.boundary, grid[j - 1]), grid[j])
        with np.errstate(divide="ignore"):
            out = np.where(tgt > h_at_end, self.boundary + (tgt - h_at_end) / hz_end, inside)
        return out.reshape(shape)

    def extrapolation(self):
        return f"the hazard stays constant at its value at the last knot ({self.boundary:g} months)"
