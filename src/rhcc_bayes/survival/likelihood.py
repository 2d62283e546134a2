"""Likelihood blocks of the survival synthesis: one function per kind of reported summary.

Each block adds observed variables (or potentials) to the PyMC model under construction.
Survival blocks share the arm hazard through ``hazard``, an object with
``cumulative_hazard(theta, times)`` and ``median(theta)`` (PyTensor) bound to the baseline
parameters of the spec's hazard family; secondary outcomes (complications, response,
length of stay) have sub-models of their own.

Rules (the design decides which row goes where; see :mod:`rhcc_bayes.survival.counts` and
:mod:`rhcc_bayes.survival.pooled`):

* landmarks and medians with a known n: binomial counts;
* with a latent n: normal approximation on the logit scale with variance 1/(R q (1-q)),
  R = n * S(t_prev) * c(t) a function of the latent n (Dirichlet share of a known total,
  or lognormal prior);
* within-study HR: log HR ~ N(theta_a - theta_b, se); pooled contrast: variance + sigma_study^2;
* pooled landmark: log(-log S) ~ N(log H(theta_pop, t), v(n) + sigma_study^2 / k);
* range across k studies: exact joint density of the min and max of k study-level draws
  (requires theta to be a log-hazard offset, true for every proportional-hazards family).
"""

from __future__ import annotations

import functools

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.holdout import row_weights
from rhcc_bayes.survival.pooling import half_normal

LOG_2PI = float(np.log(2 * np.pi))
#: Scale of a held-out normal row: N(x; x, UNIT_SD) has log density 0 (to rounding), and no gradient.
UNIT_SD = float(1.0 / np.sqrt(2 * np.pi))


def observed_data(pm, name: str, values, dim: str):
    """Observations as a named data container ``<name>_data``, so a compiled model can be
    refitted to new data without recompiling (simulation-based calibration)."""
    return pm.Data(f"{name}_data", np.asarray(values), dims=dim)


def binomial_rows(pm, name: str, n, events, p, weight, dim: str):
    """Binomial counts with ``n`` and the observed count as data (``<name>_n``, ``<name>_data``).

    A row of weight 0 (a held-out study, :mod:`~rhcc_bayes.survival.holdout`) has n = 0 and 0
    events: its log density is exactly 0 and has no gradient, and the graph stays the same.
    """
    keep = np.asarray(weight) > 0
    n_data = pm.Data(f"{name}_n", np.where(keep, np.asarray(n), 0).astype(np.int64), dims=dim)
    observed = observed_data(pm, name, np.where(keep, np.asarray(events), 0).astype(np.int64), dim)
    table = log_factorials(table_size(n))  # sized by every row's n, held out or not: one graph for all folds
    return pm.CustomDist(name, n_data, p, logp=functools.partial(binomial_logp, log_factorial=table),
                         random=binomial_draws, dtype="int64", observed=observed, dims=dim)


def table_size(n) -> int:
    """Length of the log-factorial table of counts up to ``max(n)``: a power of two, at least 64."""
    top = int(np.max(np.asarray(n), initial=0))
    return max(64, 1 << int(top).bit_length())


def log_factorials(size: int) -> np.ndarray:
    """``log(k!)`` for ``k = 0 .. size - 1``, as ``math.lgamma`` (the C library's) gives them: the
    compiled (numba) ``gammaln`` this table replaces is that function, so the compiled log density
    keeps its last bits (scipy's ``gammaln`` differs from it in the last bit for about half of
    the integers)."""
    import math

    return np.array([math.lgamma(k + 1.0) for k in range(size)])


def binomial_logp(value, n, p, log_factorial):
    """PyMC's Binomial log density, with the binomial coefficient looked up in ``log_factorial``
    (three gathers per row) instead of three ``gammaln`` per row and call (model .15).

    The coefficient depends on the data only, but ``n`` and the counts are data containers (a
    compiled model takes new counts, ``with_data``), so PyTensor cannot fold it: on simulated
    evidence the three gammaln were about 40% of the logp+dlogp time (benchmarks/gradient.py).
    PyMC's parameter checks (0 <= p <= 1, n >= 0) are one reduction over the rows, a second pass
    that recomputes p; here they are row-wise in the same switch: the summed density is the same
    (-inf when any row fails). A count outside ``[0, n]`` has density -inf as in PyMC, and so has
    an ``n`` beyond the table (the look-ups are clipped: never read outside it).
    """
    import pytensor.tensor as pt
    from pymc.distributions.dist_math import logpow

    log_factorial = pt.as_tensor_variable(np.asarray(log_factorial, float))
    top = int(log_factorial.type.shape[0]) - 1
    at = lambda k: log_factorial[pt.clip(k, 0, top)]  # noqa: E731
    valid = (value >= 0) & (value <= n) & (n <= top) & (p >= 0) & (p <= 1)
    return pt.switch(valid, at(n) - at(value) - at(n - value) + logpow(p, value) + logpow(1 - p, n - value),
                     -np.inf)


def binomial_draws(n, p, rng=None, size=None):
    """Binomial draws, as PyMC's Binomial makes them (``rng.binomial``)."""
    return rng.binomial(n, p, size=size)


def normal_rows(pm, pt, name: str, mu, observed, se, weight, dim: str, *, add=None, variance=0.0):
    """Normal observations ``N(observed; mu, sqrt(se^2 + add * variance))`` with per-row data.

    ``<name>_terms`` holds (keep, se, add) per row. A row of weight 0 (held out) becomes
    ``N(observed; observed, UNIT_SD)``: a constant log density with no gradient.
    """
    keep = np.asarray(weight) > 0
    add = np.zeros(len(keep)) if add is None else np.asarray(add, float)
    with_variance = bool(np.any(add))  # decided on every row, held out or not: one graph for all folds
    terms = np.column_stack([keep.astype(float), np.where(keep, np.asarray(se, float), UNIT_SD),
                             np.where(keep, add, 0.0)]).reshape(len(keep), 3)
    data = pm.Data(f"{name}_terms", terms)
    obs = observed_data(pm, name, np.asarray(observed, float), dim)
    k, sd, a = data[:, 0], data[:, 1], data[:, 2]
    sigma = pt.sqrt(sd ** 2 + a * variance) if with_variance else sd
    return pm.Normal(name, mu=k * mu + (1.0 - k) * obs, sigma=sigma, observed=obs, dims=dim)


def weighted_potential(pm, pt, name: str, logp_rows, weight):
    """``Potential(name, sum(weight * logp_rows))``, the weights a data container ``<name>_weight``
    (0 for held-out rows: their term and its gradient vanish)."""
    w = pm.Data(f"{name}_weight", np.asarray(weight, float))
    return pm.Potential(name, pt.sum(w * logp_rows))


def population_offsets(pm, pt, design: SurvivalDesign, spec):
    """Per-arm population bias: delta_pop = s_pop * z_pop for primary/mixed arms, 0 for recurrent.

    s_pop ~ HalfNormal(``population_bias_sd``) (normal-softplus free coordinate,
    :func:`~rhcc_bayes.survival.pooling.positive_transform`): near 0 = near-full borrowing from the
    non-recurrent evidence, large = near none. Returns None when no arm needs it.
    """
    pops = design.bias_populations
    idx = design.population_index
    if not pops or not (idx > 0).any():
        return None
    s_pop = half_normal(pm, "sigma_population", spec.priors.population_bias_sd)
    z = pm.Normal("z_population", 0.0, 1.0, shape=len(pops))
    delta = pm.Deterministic("delta_population", s_pop * z, dims="bias_population")
    return pt.concatenate([pt.zeros(1), delta])[idx]


def latent_sizes_of(pm, pt, design: SurvivalDesign):
    """The model's latent arm sizes, created on first use (survival or secondary block)."""
    model = pm.modelcontext(None)
    if "latent_n" in model.named_vars:
        return model["latent_n"]
    return latent_sizes(pm, pt, design)


def latent_sizes(pm, pt, design: SurvivalDesign):
    """Latent arm sizes (PyTensor vector aligned with ``design.latent_n``), or None."""
    lat = design.latent_n
    if not len(lat):
        return None
    pieces = [None] * len(lat)
    groups = design.latent_groups
    for g in groups.itertuples():
        k = int(g.n_members)
        conc = float(design.options.get("share_concentration", 2.0))
        share = pm.Dirichlet(f"n_share_{g.group}", a=np.full(k, conc)) if k > 1 else pt.ones(1)
        for i, r in enumerate(lat.itertuples()):
            if r.group == g.group:
                pieces[i] = float(g.total) * share[int(r.share_pos)]
    prior_rows = [i for i, r in enumerate(lat.itertuples()) if r.group < 0]
    if prior_rows:
        z = pm.Normal("z_latent_n", 0.0, 1.0, shape=len(prior_rows))
        n_prior = pt.exp(design.latent_prior["log_mean"] + design.latent_prior["log_sd"] * z)
        for j, i in enumerate(prior_rows):
            pieces[i] = n_prior[j]
    return pm.Deterministic("latent_n", pt.stack(pieces), dims="latent_arm")


def _logit_normal(pm, pt, name, q_obs, q_model, at_risk, weight):
    """logit q_obs ~ N(logit q_model, 1/(R q~(1-q~))), q~ continuity corrected; R may be latent."""
    q_cc = (at_risk * q_obs + 0.5) / (at_risk + 1.0)
    var = 1.0 / (at_risk * q_cc * (1 - q_cc))
    x = pt.log(q_cc) - pt.log1p(-q_cc)
    mu = pt.log(q_model) - pt.log1p(-q_model)
    weighted_potential(pm, pt, name, -0.5 * (LOG_2PI + pt.log(var) + (x - mu) ** 2 / var), weight)


def likelihood_coords(design: SurvivalDesign) -> dict:
    """Coordinates of the likelihood blocks' observation dims (for ``pm.Model(coords=...)``)."""
    lm, med = design.landmarks, design.medians
    lm_known = lm["latent"] < 0 if "latent" in lm else np.ones(len(lm), bool)
    med_known = med["latent"] < 0 if "latent" in med else np.ones(len(med), bool)
    return {
        "landmark_obs": lm.loc[lm_known, "row_key"].tolist(),
        "median_obs": med.loc[med["se_log"].isna() & med_known, "row_key"].tolist(),
        "median_ci_obs": med.loc[med["se_log"].notna(), "row_key"].tolist(),
        "hr_obs": design.hazard_ratios["row_key"].tolist(),
        "bias_population": list(design.bias_populations),
        "latent_arm": [f"{st} | {ar}" for st, ar in zip(design.latent_n["study"], design.latent_n["arm"])],
        **{f"{o}_obs": rows.loc[rows["latent"] < 0 if "latent" in rows else rows.index, "row_key"].tolist()
           for o, rows in design.secondary.groupby("outcome", sort=False)},
    }


def survival_likelihood(pm, pt, design: SurvivalDesign, hazard, theta):
    model = pm.modelcontext(None)
    n_lat = latent_sizes_of(pm, pt, design)
    sigma_study = model["sigma_study"] if "sigma_study" in model.named_vars else 0.0
    sigma_arm = model["sigma_arm"] if "sigma_arm" in model.named_vars else 0.0

    lm = design.landmarks
    known = lm[lm["latent"] < 0] if "latent" in lm else lm
    if len(known):
        th = theta[known["arm_index"].to_numpy()]
        d_h = hazard.cumulative_hazard(th, known["t"]) - hazard.cumulative_hazard(th, known["t_prev"])
        p_death = pt.clip(-pt.expm1(-d_h), 1e-12, 1 - 1e-12)
        binomial_rows(pm, "landmark_deaths", known["at_risk"].to_numpy(int), known["deaths"].to_numpy(int),
                      p_death, row_weights(known), "landmark_obs")
    lat_lm = lm[lm["latent"] >= 0] if "latent" in lm else lm.iloc[:0]
    if len(lat_lm):
        th = theta[lat_lm["arm_index"].to_numpy()]
        d_h = hazard.cumulative_hazard(th, lat_lm["t"]) - hazard.cumulative_hazard(th, lat_lm["t_prev"])
        q_model = pt.clip(pt.exp(-d_h), 1e-9, 1 - 1e-9)
        at_risk = n_lat[lat_lm["latent"].to_numpy()] * (lat_lm["s_prev"] * lat_lm["censor"]).to_numpy(float)
        _logit_normal(pm, pt, "landmark_latent_n", lat_lm["cond"].to_numpy(float), q_model, at_risk,
                      row_weights(lat_lm))

    med = design.medians
    lat_col = med["latent"] if "latent" in med else np.full(len(med), -1)
    counted = med[med["se_log"].isna() & (lat_col < 0)]
    if len(counted):
        th = theta[counted["arm_index"].to_numpy()]
        surv = pt.exp(-hazard.cumulative_hazard(th, counted["time"]))
        binomial_rows(pm, "median_alive", counted["at_risk"].to_numpy(int), counted["alive"].to_numpy(int),
                      pt.clip(surv, 1e-12, 1 - 1e-12), row_weights(counted), "median_obs")
    lat_med = med[med["se_log"].isna() & (lat_col >= 0)]
    if len(lat_med):
        th = theta[lat_med["arm_index"].to_numpy()]
        surv = pt.clip(pt.exp(-hazard.cumulative_hazard(th, lat_med["time"])), 1e-9, 1 - 1e-9)
        at_risk = n_lat[lat_med["latent"].to_numpy()] * lat_med["censor"].to_numpy(float)
        _logit_normal(pm, pt, "median_latent_n", np.full(len(lat_med), 0.5), surv, at_risk, row_weights(lat_med))
    with_ci = med[med["se_log"].notna()]
    if len(with_ci):
        th = theta[with_ci["arm_index"].to_numpy()]
        normal_rows(pm, pt, "median_log", pt.log(hazard.median(th)), np.log(with_ci["time"].to_numpy(float)),
                    with_ci["se_log"].to_numpy(float), row_weights(with_ci), "median_ci_obs")

    hr = design.hazard_ratios
    if len(hr):
        pooled = hr["pooled"].to_numpy(bool) if "pooled" in hr else np.zeros(len(hr), bool)
        add = pooled.astype(float) * float(design.options.get("add_between_study", 1.0))
        normal_rows(pm, pt, "log_hr", theta[hr["arm_index"].to_numpy()] - theta[hr["comparator_index"].to_numpy()],
                    hr["log_hr"].to_numpy(float), hr["se"].to_numpy(float), row_weights(hr), "hr_obs",
                    add=add, variance=sigma_study ** 2)

    pl = design.pooled_landmarks
    if len(pl):
        th = theta[pl["arm_index"].to_numpy()]
        log_h = pt.log(hazard.cumulative_hazard(th, pl["t"]))
        s = np.clip(pl["estimate"].to_numpy(float), 1e-3, 1 - 1e-3)
        n = pt.as_tensor_variable(np.nan_to_num(pl["n"].to_numpy(float), nan=1.0))
        if (pl["latent"] >= 0).any():
            n = pt.switch(pl["latent"].to_numpy() >= 0, n_lat[np.maximum(pl["latent"].to_numpy(), 0)], n)
        n_eff = n * pl["censor"].to_numpy(float)
        v = (1 - s) / (n_eff * s * np.log(s) ** 2)
        add = float(design.options.get("add_between_study", 1.0))
        var = v + add * sigma_study ** 2 / pl["k"].to_numpy(float)
        x = np.log(-np.log(s))
        weighted_potential(pm, pt, "pooled_landmark", -0.5 * (LOG_2PI + pt.log(var) + (x - log_h) ** 2 / var),
                           row_weights(pl))

    rg = design.ranges
    family = getattr(getattr(hazard, "family", None), "name", "")
    if len(rg) and family == "cure":  # not proportional hazards: the documented quantile approximation
        _range_quantiles(pm, pt, rg, hazard, theta[rg["arm_index"].to_numpy()], sigma_study, sigma_arm)
    elif len(rg):
        th = theta[rg["arm_index"].to_numpy()]
        t = rg["t"].to_numpy(float)
        log_h0 = pt.log(hazard.cumulative_hazard(pt.zeros(len(rg)), t))  # H(t) at theta = 0 (PH)
        sd = pt.sqrt(sigma_study ** 2 + sigma_arm ** 2 + rg["v_sampling"].to_numpy(float))
        lo = np.clip(rg["low"].to_numpy(float), 1e-4, 1 - 1e-4)
        hi = np.clip(rg["high"].to_numpy(float), 1e-4, 1 - 1e-4)
        # the highest survival is the smallest theta (a), the lowest survival the largest (b)
        za = (np.log(-np.log(hi)) - log_h0 - th) / sd
        zb = (np.log(-np.log(lo)) - log_h0 - th) / sd
        k = rg["k"].to_numpy(float)
        log_f = lambda z: -0.5 * (LOG_2PI + z ** 2) - pt.log(sd)  # noqa: E731
        cdf_b = 0.5 * pt.erfc(-zb / np.sqrt(2.0))
        cdf_a = 0.5 * pt.erfc(-za / np.sqrt(2.0))
        spread = pt.log(pt.clip(cdf_b - cdf_a, 1e-300, 1.0))
        logp = np.log(k * (k - 1)) + log_f(za) + log_f(zb) + (k - 2) * spread
        weighted_potential(pm, pt, "range_order_statistics", logp, row_weights(rg))


def _range_quantiles(pm, pt, rg, hazard, th, sigma_study, sigma_arm):
    """Range ends as noisy observations of the F-quantiles 1/(k+1) and k/(k+1) (any hazard family).

    The study-level theta ~ N(m, sd^2); the ends are read as S at theta's quantiles
    k/(k+1) (lowest survival) and 1/(k+1) (highest), on the log(-log S) scale with variance
    sd^2 p(1-p) / ((k+2) phi(z_p)^2) (the asymptotic variance of a sample quantile) + v.
    Used for families where theta is not a log-hazard offset (cure mixture).
    """
    from scipy import stats

    k = rg["k"].to_numpy(float)
    p = 1.0 / (k + 1.0)
    z = stats.norm.ppf(p)
    sd = pt.sqrt(sigma_study ** 2 + sigma_arm ** 2)
    t = rg["t"].to_numpy(float)
    logp = 0.0  # per range row
    for obs, sign in (("high", 1.0), ("low", -1.0)):  # high survival <-> low theta quantile
        s_model = pt.clip(pt.exp(-hazard.cumulative_hazard(th + sign * z * sd, t)), 1e-9, 1 - 1e-9)
        x = np.log(-np.log(np.clip(rg[obs].to_numpy(float), 1e-4, 1 - 1e-4)))
        var = sd ** 2 * p * (1 - p) / ((k + 2) * stats.norm.pdf(z) ** 2) + rg["v_sampling"].to_numpy(float)
        logp = logp - 0.5 * (LOG_2PI + pt.log(var) + (x - pt.log(-pt.log(s_model))) ** 2 / var)
    weighted_potential(pm, pt, "range_quantiles", logp, row_weights(rg))
