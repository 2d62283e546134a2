"""Value of information from the synthesis: EVPPI per parameter group by nonparametric regression.

Method (Strong, Oakley & Brennan 2014, Med Decis Making 34:311): with posterior draws
``theta_n`` and net benefits ``NB_d(theta_n)`` of the options ``d`` (RMST or QA-RMST to
the horizon of each ranked treatment), the expected value of partial perfect information
on a parameter group ``phi`` is

    EVPPI(phi) = E_phi[ max_d E(NB_d | phi) ] - max_d E(NB_d).

The inner conditional expectations are estimated by regressing the incremental net
benefit ``NB_d - NB_0`` on the draws of ``phi`` (one smoother per option), so a single
set of posterior draws suffices. Smoothers (:func:`smooth`):

- ``gam`` (groups of <= 4 parameters): a tensor-product cubic P-spline on rank-scaled
  parameters (Eilers & Marx; like mgcv's ``te()``), one second-difference penalty per
  dimension, smoothing parameters chosen by GCV.
- ``rff`` (larger groups): a Gaussian-process regression approximated by random Fourier
  features (Rahimi & Recht 2007) of normal-score-transformed parameters, i.e. ridge
  regression on ``cos(X W + b)`` with an RBF kernel; length-scale and ridge penalty by
  restricted marginal likelihood (GCV is nearly flat in the length-scale and chose wiggly fits
  that inflated EVPPI with many options). ``tests/decision/test_voi.py`` and
  ``benchmarks/voi.py`` show it agrees with the GAM where both apply.

Each option's incremental net benefit gets its own smoothing parameters.

Rank (normal-score) transforms are monotone, so conditioning on them is conditioning on
``phi``: EVPPI is unchanged, and the basis adapts to heavy-tailed draws (SDs).

Monte Carlo error (Strong et al. 2014, section 3.3): the fitted values' posterior covariance
``sigma^2 B (B'B + P)^-1 B'`` is sampled (``n_se`` coefficient draws per option) and the
EVPPI recomputed for each; their variance plus the Monte Carlo variance of averaging the
per-draw gain over the n draws gives the reported SE. The ``noise floor`` (:func:`noise_floor`)
is the estimate for unrelated random draws of the group's size, whose true EVPPI is 0.
EVPPI is bounded by EVPI: the reported ``evppi`` is ``min(raw, EVPI)`` (both on the same
draws), with the uncapped regression estimate kept in ``evppi_raw``.

:func:`evppi` runs the method for a profile's decision on a survival posterior; the
parameter groups are described by :func:`parameter_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Largest group fitted with the tensor-product GAM; larger groups use random Fourier features.
GAM_MAX_PARAMS = 4
#: Cubic B-spline basis size per dimension of the tensor-product GAM, by group size.
GAM_BASIS = {1: 12, 2: 7, 3: 5, 4: 4}
RFF_FEATURES = 300
N_SE = 100
_LOG10_GRID = np.arange(-7.0, 9.01, 0.5)


# ---------------------------------------------------------------- numpy regression core
def _rank_unit(x: np.ndarray) -> np.ndarray:
    """Columns mapped to (0, 1) by their mid-ranks (ties share a rank)."""
    out = np.empty(x.shape, float)
    for j in range(x.shape[1]):
        _, inv, counts = np.unique(x[:, j], return_inverse=True, return_counts=True)
        mid = np.cumsum(counts) - (counts - 1) / 2.0
        out[:, j] = (mid[inv.ravel()] - 0.5) / x.shape[0]
    return out


def _bspline_basis(u: np.ndarray, k: int) -> np.ndarray:
    """Cubic B-spline basis with ``k`` functions on equally spaced knots over [0, 1]."""
    from scipy.interpolate import BSpline

    inner = np.linspace(0.0, 1.0, k - 2)
    knots = np.concatenate([[0.0] * 3, inner, [1.0] * 3])
    return BSpline.design_matrix(np.clip(u, 0.0, 1.0), knots, 3).toarray()


def _diff_penalty(k: int) -> np.ndarray:
    d = np.diff(np.eye(k), 2, axis=0)
    return d.T @ d


def gam_design(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Tensor-product P-spline design (rows: draws) and one penalty per dimension."""
    n, p = x.shape
    k = GAM_BASIS[p]
    u = _rank_unit(x)
    basis = np.ones((n, 1))
    for j in range(p):
        bj = _bspline_basis(u[:, j], k)
        basis = (basis[:, :, None] * bj[:, None, :]).reshape(n, -1)
    pen1, eye = _diff_penalty(k), np.eye(k)
    penalties = []
    for j in range(p):
        m = np.ones((1, 1))
        for i in range(p):
            m = np.kron(m, pen1 if i == j else eye)
        penalties.append(m)
    return basis, penalties


def rff_design(x: np.ndarray, lengthscale: float, features: int = RFF_FEATURES,
               seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Random Fourier features of an RBF-kernel GP on normal scores (plus an unpenalised intercept)."""
    from scipy.special import ndtri

    n, p = x.shape
    z = ndtri(_rank_unit(x))
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((p, features)) / lengthscale
    b = rng.uniform(0, 2 * np.pi, features)
    basis = np.column_stack([np.ones(n), np.sqrt(2.0 / features) * np.cos(z @ w + b)])
    pen = np.eye(features + 1)
    pen[0, 0] = 0.0
    return basis, [pen]


@dataclass(frozen=True)
class _Fit:
    """Penalised least-squares fits of m responses on one basis, each with its own smoothing parameters."""

    coef: np.ndarray             # (q, m)
    cov_roots: list              # m arrays (q, q): a square root of (B'B + P_i)^-1
    sigma2: np.ndarray           # (m,) residual variances
    edf: np.ndarray              # (m,)
    gcv: float                   # summed over the variance-scaled responses


def _chol_root(cov: np.ndarray) -> np.ndarray:
    """The Cholesky factor of a covariance: unlike an eigenvector basis it is unique and continuous,
    so the coefficient draws of the Monte Carlo SE do not depend on last-bit rounding (executors agree)."""
    cov = (cov + cov.T) / 2
    jitter = 1e-12 * max(np.trace(cov) / cov.shape[0], 1e-300)
    for _ in range(6):
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(cov.shape[0]))
        except np.linalg.LinAlgError:
            jitter *= 100
    w, v = np.linalg.eigh(cov)
    return v * np.sqrt(np.clip(w, 0.0, None))


def _fit_one_penalty(btb, bty, yty, n, pen, criterion: str = "gcv") -> _Fit:
    """One smoothing parameter per response, chosen on a grid in O(q) per value: with
    B'B = R'R and R^-T P R^-1 = U diag(s) U', (B'B + lam P)^-1 = R^-1 U diag(1/(1 + lam s)) U' R^-T.

    ``criterion="gcv"``: generalised cross-validation. ``"reml"``: the restricted marginal
    likelihood of the Gaussian prior the penalty implies (sigma^2 profiled out), the GP way of
    setting hyperparameters; its value is comparable between bases (used for the RFF length-scale).
    """
    from scipy.linalg import solve_triangular

    q, m = bty.shape
    r = np.linalg.cholesky(btb + 1e-9 * np.trace(btb) / q * np.eye(q)).T       # upper: btb = r' r
    rinv = solve_triangular(r, np.eye(q))
    s, u = np.linalg.eigh(rinv.T @ pen @ rinv)
    s = np.clip(s, 0.0, None)
    ru = rinv @ u
    bt = ru.T @ bty                                                              # (q, m)
    pos = s > 1e-12 * max(s.max(), 1e-300)
    lam = 10.0 ** _LOG10_GRID / (s[pos].mean() if pos.any() else 1.0)
    d = 1.0 / (1.0 + lam[:, None] * s[None, :])                                 # (grid, q)
    edf = d.sum(axis=1)                                                          # (grid,)
    rss = np.clip(yty[None, :] - 2 * d @ bt ** 2 + (d ** 2) @ bt ** 2, 0.0, None)  # (grid, m)
    if criterion == "reml":
        quad = np.clip(yty[None, :] - d @ bt ** 2, 1e-300, None)               # rss + lam b'Pb
        logdet = 2 * np.log(np.abs(np.diag(r))).sum() + np.log(1.0 + lam[:, None] * s[None, pos]).sum(1) \
            - pos.sum() * np.log(lam) - np.log(s[pos]).sum()
        crit = (n - (q - pos.sum())) * np.log(quad) + logdet[:, None]
    else:
        crit = n * rss / np.maximum(n - edf, 1.0)[:, None] ** 2 / np.maximum(yty / n, 1e-300)[None, :]
    best = crit.argmin(axis=0)                                                   # per response
    cols = np.arange(m)
    dm = d[best].T                                                               # (q, m)
    coef = ru @ (dm * bt)
    roots = [_chol_root((ru * dm[:, i]) @ ru.T) for i in range(m)]
    e = edf[best]
    sigma2 = rss[best, cols] / np.maximum(n - e, 1.0)
    return _Fit(coef, roots, sigma2, e, float(crit[best, cols].sum()))


def _fit_penalties(btb, bty, yty, n, penalties) -> _Fit:
    """Several penalties (tensor-product GAM), per response: a common smoothing parameter on a
    grid, then one coordinate sweep around it, by GCV."""
    from scipy.linalg import cho_factor, cho_solve

    scales = [np.trace(btb) / max(np.trace(pm), 1e-300) for pm in penalties]
    q, m = bty.shape
    jitter = 1e-9 * np.trace(btb) / q * np.eye(q)

    def solve(logs, cols):
        a = btb + jitter + sum(10.0 ** lg * sc * pm for lg, sc, pm in zip(logs, scales, penalties))
        c = cho_factor(a, lower=True)
        coef = cho_solve(c, bty[:, cols])
        edf = float(np.trace(cho_solve(c, btb)))
        rss = np.clip(yty[cols] - 2 * (coef * bty[:, cols]).sum(0) + (coef * (btb @ coef)).sum(0), 0.0, None)
        return n * rss / max(n - edf, 1.0) ** 2, c, coef, edf, rss

    k = len(penalties)
    common = np.array([solve([g] * k, slice(None))[0] for g in _LOG10_GRID])    # (grid, m)
    coefs, roots, sigma2, edfs, total = np.empty((q, m)), [], np.empty(m), np.empty(m), 0.0
    for i in range(m):
        logs = [float(_LOG10_GRID[common[:, i].argmin()])] * k
        for j in range(k):
            cands = logs[j] + np.arange(-3.0, 3.01, 1.0)
            logs[j] = float(min(cands, key=lambda g: solve(logs[:j] + [g] + logs[j + 1:], [i])[0][0]))
        crit, c, coef, edf, rss = solve(logs, [i])
        coefs[:, i], edfs[i], sigma2[i] = coef[:, 0], edf, rss[0] / max(n - edf, 1.0)
        roots.append(_chol_root(cho_solve(c, np.eye(q))))
        total += crit[0] / max(yty[i] / n, 1e-300)
    return _Fit(coefs, roots, sigma2, edfs, float(total))


def _penalised_fit(basis, y, penalties, criterion: str = "gcv") -> _Fit:
    n = basis.shape[0]
    btb = basis.T @ basis
    bty = basis.T @ y
    yty = (y * y).sum(0)
    if len(penalties) == 1:
        return _fit_one_penalty(btb, bty, yty, n, penalties[0], criterion)
    return _fit_penalties(btb, bty, yty, n, penalties)


def smooth(x: np.ndarray, y: np.ndarray, method: str = "auto", *, seed: int = 0):
    """Fitted conditional means of the columns of ``y`` given ``x`` (rows: draws).

    Parameters
    ----------
    x : ndarray (n, p)
        Draws of the conditioning parameters (or summary statistics).
    y : ndarray (n, m)
        Responses (incremental net benefits), fitted on one basis, each with its own
        smoothing parameters (GAM: GCV; RFF: marginal likelihood, the length-scale shared).
    method : {"auto", "gam", "rff"}
        ``auto``: ``gam`` for p <= :data:`GAM_MAX_PARAMS`, else ``rff``.

    Returns
    -------
    basis : ndarray (n, q)
    fit : _Fit
        Coefficients (q, m), square roots of (B'B + P_i)^-1, residual variances, EDFs, GCV.
    method : str
    """
    x = np.asarray(x, float)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, float)
    y = y[:, None] if y.ndim == 1 else y
    p = x.shape[1]
    if method == "auto":
        method = "gam" if p <= GAM_MAX_PARAMS else "rff"
    if method == "gam":
        if p > GAM_MAX_PARAMS:
            raise ValueError(f"the GAM takes at most {GAM_MAX_PARAMS} parameters, got {p}")
        basis, pens = gam_design(x)
        return basis, _penalised_fit(basis, y, pens), method
    if method != "rff":
        raise ValueError(f"unknown smoother {method!r}; use auto, gam or rff")
    best = None
    for ls in (0.5, 1.0, 2.0, 4.0, 8.0):  # length-scale (per sqrt(p) normal-score units) by marginal likelihood
        basis, pens = rff_design(x, ls * np.sqrt(p), seed=seed)
        fit = _penalised_fit(basis, y, pens, "reml")
        if best is None or fit.gcv < best[1].gcv:
            best = (basis, fit)
    return best[0], best[1], method


def voi_by_regression(nb: np.ndarray, x: np.ndarray, *, method: str = "auto", n_se: int = N_SE,
                      seed: int = 0) -> dict:
    """EVPPI (or EVSI, with ``x`` simulated summary statistics) by regression of net benefit.

    Parameters
    ----------
    nb : ndarray (n, D)
        Net benefit of each option per draw.
    x : ndarray (n, p)
        Conditioning draws: parameters (EVPPI) or simulated study summaries (EVSI).

    Returns
    -------
    dict
        ``value`` (E max fitted - max E, >= 0), ``se`` (Monte Carlo SE from the fitted
        values' covariance), ``method``, ``edf`` (largest effective degrees of freedom
        among the options' fits), ``n_params``.
    """
    from threadpoolctl import threadpool_limits

    # small dense algebra: one BLAS thread is fastest, and far faster on a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        return _voi_by_regression(nb, x, method=method, n_se=n_se, seed=seed)


def _voi_by_regression(nb, x, *, method, n_se, seed) -> dict:
    nb = np.asarray(nb, float)
    n, d = nb.shape
    x = np.asarray(x, float)
    x = x[:, None] if x.ndim == 1 else x
    if d < 2:
        return {"value": 0.0, "se": 0.0, "method": "none", "edf": 0.0, "n_params": x.shape[1]}
    inb = nb[:, 1:] - nb[:, :1]
    const = np.ptp(x, axis=0) == 0
    if const.all():  # a group the posterior does not vary: no information
        return {"value": 0.0, "se": 0.0, "method": "constant", "edf": 1.0, "n_params": x.shape[1]}
    x = x[:, ~const]
    basis, fit, used = smooth(x, inb, method, seed=seed)
    fitted = np.column_stack([np.zeros(n), basis @ fit.coef])
    chosen = int(np.argmax(fitted.mean(axis=0)))
    gain = fitted.max(axis=1) - fitted[:, chosen]
    value = gain.mean()
    # regression error: resample the coefficients from their posterior (Strong et al. 2014) ...
    rng = np.random.default_rng([seed, 7])
    best = np.zeros((n, n_se))       # per draw and replicate: max over options (option 0 is 0)
    means = np.zeros(n_se)
    for i in range(inb.shape[1]):
        sim = basis @ (fit.coef[:, i:i + 1] + np.sqrt(fit.sigma2[i])
                       * (fit.cov_roots[i] @ rng.standard_normal((basis.shape[1], n_se))))
        np.maximum(best, sim, out=best)
        means = np.maximum(means, sim.mean(axis=0))
    reps = best.mean(axis=0) - means
    # ... plus the Monte Carlo error of averaging over n draws
    se = float(np.sqrt(reps.var(ddof=1) + gain.var(ddof=1) / n))
    return {"value": float(max(value, 0.0)), "se": se, "method": used, "edf": float(np.max(fit.edf)),
            "n_params": int(x.shape[1])}


def evpi_of(nb: np.ndarray) -> tuple[float, float]:
    """EVPI = E[max_d NB_d] - max_d E[NB_d] and its Monte Carlo SE (on the same draws)."""
    nb = np.asarray(nb, float)
    chosen = int(np.argmax(nb.mean(axis=0)))
    loss = nb.max(axis=1) - nb[:, chosen]
    return float(max(loss.mean(), 0.0)), float(loss.std(ddof=1) / np.sqrt(loss.size))


# ---------------------------------------------------------------- parameter groups of the survival model
#: Free covariate parameters of :func:`rhcc_bayes.survival.model._covariate_effects`.
COVARIATE_PARAMS = ("size_3to5_offset", "size_steps", "ablation_size_steps", "nodularity_steps",
                    "recurrence_steps", "beta_prior")
#: Between-study / between-treatment SDs of the survival model.
HETEROGENEITY_PARAMS = ("tau_treatment", "sigma_study", "sigma_arm", "tau_interaction")


def _flat(posterior, name) -> tuple[np.ndarray, list[str]]:
    da = posterior[name]
    a = np.asarray(da.values, float)
    a = a.reshape(a.shape[0] * a.shape[1], -1)
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if not extra:
        return a, [name]
    labels = da[extra[0]].values.tolist() if extra[0] in da.coords else list(range(a.shape[1]))
    return a, [f"{name}[{lab}]" for lab in labels]


def parameter_groups(idata, treatments: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The default parameter groups for a decision among ``treatments``.

    Returns ``{group: DataFrame (sample, parameter)}`` with samples in (chain, draw) order:

    - ``treatment:T`` : T's own effect, its deviation from its class, ``mu[T] - class_effect[class(T)]``;
    - ``class:M`` : ``class_effect[M]`` for each modality among the options;
    - ``covariates`` : every free covariate parameter (size offset and steps, ablation x
      size steps, nodularity, recurrence, prior-treatment effects);
    - ``baseline`` : the baseline hazard's parameters (``gamma`` per segment for the
      piecewise family; the family's own parameters otherwise);
    - ``heterogeneity`` : the between-treatment and between-study SDs.
    """
    from rhcc_bayes.survival.hazards import family_from_idata

    post = idata.posterior
    mu, mu_labels = _flat(post, "mu")
    cls, cls_labels = _flat(post, "class_effect")
    modality = dict(zip(post["mu"].treatment.values.tolist(),
                        idata.constant_data["treatment_modality"].values.tolist()))
    groups: dict[str, pd.DataFrame] = {}
    for t in treatments:
        j = mu_labels.index(f"mu[{t}]")
        c = cls_labels.index(f"class_effect[{modality[t]}]")
        groups[f"treatment:{t}"] = pd.DataFrame({f"mu[{t}] - class_effect[{modality[t]}]": mu[:, j] - cls[:, c]})
    for m in dict.fromkeys(modality[t] for t in treatments):
        c = cls_labels.index(f"class_effect[{m}]")
        groups[f"class:{m}"] = pd.DataFrame({f"class_effect[{m}]": cls[:, c]})

    def block(names):
        cols = {}
        for name in names:
            if name in post:
                a, labels = _flat(post, name)
                cols.update(zip(labels, a.T))
        return pd.DataFrame(cols)

    for name, names in (("covariates", COVARIATE_PARAMS),
                        ("baseline", family_from_idata(idata).parameter_names),
                        ("heterogeneity", HETEROGENEITY_PARAMS)):
        df = block(names)
        if df.shape[1]:
            groups[name] = df
    return groups


def _select(available: Mapping[str, pd.DataFrame], groups) -> dict[str, pd.DataFrame]:
    from rhcc_bayes.core.errors import UserError, did_you_mean

    if groups is None:
        return dict(available)
    out = {}
    for g in groups:
        if isinstance(g, str):
            if g not in available:
                raise UserError(f"unknown parameter group {g!r}{did_you_mean(g, list(available))}; "
                                f"available: {', '.join(available)}")
            out[g] = available[g]
        else:
            raise UserError(f"a parameter group is a name, got {g!r}")
    return out


def evppi(posterior, profile, groups: Sequence[str] | None = None, *, horizon: float = 60.0,
          population: str = "average", utility=None, seed: int = 0, method: str = "auto",
          n_se: int = N_SE, decision=None, floor: bool = True) -> pd.DataFrame:
    """EVPPI of each parameter group for ``profile``'s decision (months of RMST or QA-RMST).

    Parameters
    ----------
    posterior : SynthesisPosterior or arviz.InferenceData
        A survival posterior.
    profile : PatientProfile
    groups : sequence of str, optional
        Names from :func:`parameter_groups` (default: all of them for the ranked options;
        ``treatment:T`` / ``class:M`` of any other treatment or class may be named too).
    horizon, population, utility, seed
        As for :func:`rhcc_bayes.decision.recommend.decide_profile`.
    method : {"auto", "gam", "rff"}
        Smoother (see the module docstring).
    n_se : int
        Coefficient draws for the Monte Carlo SE.
    decision : DecisionResult, optional
        An already-computed decision for the same posterior and profile (saves recomputing it).
    floor : bool
        Also estimate the regression's noise floor per group size (:func:`noise_floor`).

    Returns
    -------
    pandas.DataFrame
        One row per group, largest EVPPI first: ``group``, ``parameters`` (how many),
        ``evppi``, ``se``, ``evppi_raw``, ``evpi``, ``evpi_se``, ``share`` (EVPPI / EVPI),
        ``floor``/``floor_se`` (the estimate for unrelated draws of the same size),
        ``above_floor`` (EVPPI exceeds the floor by > 2 combined SE), ``method``, ``edf``,
        ``members`` (parameter names). attrs: ``profile``,
        ``criterion``, ``horizon``, ``population``, ``options`` (the ranked treatments),
        ``draws``.
    """
    from rhcc_bayes.core.errors import UserError

    idata = getattr(posterior, "draws", posterior)
    if decision is None:
        # the posterior's own decide() (SynthesisPosterior): this module never imports the
        # decision pipeline, which carries the DecisionResult.evppi hook (no import cycle)
        if not hasattr(posterior, "decide"):
            raise UserError("evppi: pass decision= (a DecisionResult for this profile) with a bare "
                            "InferenceData posterior")
        decision = posterior.decide(profile, horizon=horizon, population=population, utility=utility, seed=seed)
    nb, options = net_benefit(decision)
    available = parameter_groups(idata, options)
    if groups is not None and any(g not in available for g in groups if isinstance(g, str)):
        # any treatment's or class's own group may be asked for, also of non-options
        everything = parameter_groups(idata, [str(t) for t in idata.posterior["mu"].treatment.values])
        available = {**available, **{k: v for k, v in everything.items() if k not in available}}
    chosen = _select(available, groups)
    ev, ev_se = evpi_of(nb)
    rows, floors = [], {}
    for name, df in chosen.items():
        r = voi_by_regression(nb, df.to_numpy(), method=method, n_se=n_se, seed=seed)
        p = df.shape[1]
        if floor and p not in floors:
            floors[p] = noise_floor(nb, p, method=method, n_se=n_se, seed=seed)
        fl = floors.get(p, {"value": np.nan, "se": np.nan})
        rows.append({"group": name, "parameters": p, "evppi": min(r["value"], ev), "se": r["se"],
                     "evppi_raw": r["value"], "evpi": ev, "evpi_se": ev_se,
                     "share": min(r["value"], ev) / ev if ev > 0 else 0.0,
                     "floor": fl["value"], "floor_se": fl["se"],
                     "above_floor": bool(r["value"] > fl["value"] + 2 * np.hypot(r["se"], fl["se"]))
                     if floor else True,
                     "method": r["method"], "edf": r["edf"], "members": ", ".join(df.columns)})
    if not rows:
        raise UserError("no parameter groups to evaluate")
    out = pd.DataFrame(rows).sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(profile=decision.profile.id, criterion=decision.criterion, horizon=decision.horizon,
                     population=decision.population, options=list(options), draws=int(nb.shape[0]))
    return out


def noise_floor(nb: np.ndarray, p: int, *, method: str = "auto", n_se: int = N_SE, seed: int = 0) -> dict:
    """The estimator's value for ``p`` standard-normal "parameters" independent of everything.

    The true EVPPI of unrelated draws is 0; the regression estimate is not (fitted noise in
    many options' net benefits raises E[max]). A group is informative only when its EVPPI
    clearly exceeds this floor.
    """
    rng = np.random.default_rng([seed, 11, p])
    return voi_by_regression(nb, rng.standard_normal((nb.shape[0], p)), method=method, n_se=n_se, seed=seed)


def net_benefit(decision) -> tuple[np.ndarray, list[str]]:
    """Per-draw net benefit (n_samples, options) of a decision's ranked options: RMST, or the
    utility (QA-RMST) when the decision has one; samples in (chain, draw) order."""
    from rhcc_bayes.core.errors import UserError

    options = decision.ranked["treatment"].tolist()
    if len(options) < 1:
        raise UserError(f"profile {decision.profile.id!r} has no treatment to choose among: "
                        "value of information needs at least one ranked option")
    crit = "utility" if "utility" in decision.survival else "rmst"
    da = decision.survival[crit].sel(treatment=options).transpose("chain", "draw", "treatment")
    return da.values.reshape(-1, len(options)), options


def evppi_text(table: pd.DataFrame) -> str:
    """Plain-text EVPPI table for the terminal."""
    a = table.attrs
    lines = [f"Value of partial perfect information for profile {a.get('profile')}: "
             f"{a.get('criterion', 'RMST')} to {a.get('horizon', 60):g} months, {a.get('population')} study "
             f"population; options {', '.join(a.get('options', []))} ({a.get('draws')} posterior draws)"]
    if len(table):
        lines.append(f"EVPI (all uncertainty): {table['evpi'].iloc[0]:.3f} months (MCSE {table['evpi_se'].iloc[0]:.3f})")
    lines.append("")
    show = pd.DataFrame({
        "group": table["group"], "params": table["parameters"],
        "EVPPI (mo)": [f"{v:.3f} ± {s:.3f}" for v, s in zip(table["evppi"], table["se"])],
        "% of EVPI": [f"{100 * s:.0f}%" for s in table["share"]],
    })
    if "floor" in table and table["floor"].notna().any():
        show["noise floor"] = [f"{v:.3f}" for v in table["floor"]]
        show["informative"] = ["yes" if a else "no" for a in table["above_floor"]]
    show["method"] = table["method"]
    lines.append(show.to_string(index=False))
    lines += ["", "EVPPI: expected gain in months from learning that group exactly (± Monte Carlo SE, "
              "regression method of Strong et al. 2014). Noise floor: the same estimate for unrelated "
              "random draws of the group's size (true value 0); 'informative' = EVPPI above it by more "
              "than 2 SE. Research use only."]
    return "\n".join(lines)
