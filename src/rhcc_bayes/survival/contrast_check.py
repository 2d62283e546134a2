"""Do comparative studies agree with what the rest of the evidence implies? (direct vs indirect)

The arm-based survival model implies a log hazard ratio between any two arms,
``theta_a - theta_b = mu[j_a] - mu[j_b] + (x_a - x_b) . beta (+ population offsets)``; the study
effect ``u_s`` cancels within a study. A comparative study (a reported hazard ratio, or two
arms of different treatments in one study) also gives that contrast *directly*. For each such
contrast this module reports (the survival analogue of node-splitting, NICE DSU TSD4; a
cross-validatory conflict check as in Presanis et al. 2013):

* **direct**: the study's own estimate of the log HR (arm ``a`` vs comparator ``b``), taken as
  ``N(estimate, se^2)`` (its likelihood under a flat prior):

  - a reported hazard ratio with its 95% CI: ``log HR``, se from the CI (as in the likelihood);
  - two arms with landmark counts (at risk, deaths) on the same intervals: per interval the
    complementary log-log of the conditional death probability (proportional hazards within
    the interval, the model's own assumption), ``log(-log(1 - q_a)) - log(-log(1 - q_b))``, delta-
    method variance ``q / (R (1 - q) log(1 - q)^2)`` per arm, pooled by inverse variance;
  - otherwise two arms with medians: the exponential approximation ``log m_b - log m_a``,
    variance ``se_log^2`` from a CI, else ``2 / R`` (about R/2 deaths among R followed);
  - contrasts whose arms give neither (e.g. arm sizes unknown) are listed as not computable.

* **indirect**: the model-implied contrast with the study left out, by Pareto-smoothed
  importance sampling of the posterior (weights ``1 / p(y_study | draw)`` over every observation
  of the study; Vehtari et al. 2017) - the cheap stand-in for refitting without the study. The
  Pareto ``k`` of the weights is reported; ``k > 0.7`` means the study is too influential for
  importance sampling and the row is flagged (refit without the study to check it).

  ``arms_elsewhere`` counts the arms (study arms and the population-level pseudo-arms of
  pooled results and ranges) of the rarer of the two treatments outside the study: 0
  means the indirect estimate rests on the modality-class pooling and the prior alone.

* **difference** ``direct - indirect`` (independent: the indirect part excludes the study's data),
  its 95% interval and the two-sided Bayesian p-value ``2 min(P(diff > 0), P(diff < 0))``.

All numbers are on the log hazard ratio scale (positive: arm ``a`` dies faster than ``b``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.predict import linear_predictor

CONTRAST_COLUMNS = [
    "study", "arm", "comparator", "treatment", "comparator_treatment", "direct_from",
    "direct_mean", "direct_sd", "indirect_mean", "indirect_sd", "indirect_2.5%", "indirect_97.5%",
    "diff_mean", "diff_2.5%", "diff_97.5%", "p_value", "pareto_k", "reliable", "arms_elsewhere",
]
PARETO_K_MAX = 0.7


def _arm_covariates(arms: pd.DataFrame, i: int) -> dict:
    return {c: str(arms.iloc[i][c]) for c in ("size_band", "nodularity", "recurrence", "prior")}


def _implied_contrast(idata, design: SurvivalDesign, a: int, b: int, rng=None) -> np.ndarray:
    """theta_a - theta_b per posterior draw (chains stacked), study effect cancelled.

    With arm-level heterogeneity (``sigma_arm``) the contrast of two arms of a study also carries
    their own arm effects: one fresh draw of eps_a - eps_b ~ N(0, 2 sigma_arm^2) per posterior
    draw (``rng``), as for a new study's arms.
    """
    arms = design.arms
    post = idata.posterior
    theta = []
    for i in (a, b):
        lp = linear_predictor(idata, _arm_covariates(arms, i)).sel(treatment=arms.iloc[i]["treatment"]).values
        pop = design.population_index[i]
        if pop and "delta_population" in post:
            lp = lp + post["delta_population"].values[..., pop - 1]
        theta.append(lp.reshape(-1))
    contrast = theta[0] - theta[1]
    mask = design.study_effect_mask
    if "sigma_arm" in post and rng is not None:
        sd = post["sigma_arm"].values.reshape(-1) * np.sqrt(mask[a] + mask[b])
        contrast = contrast + sd * rng.standard_normal(contrast.size)
    return contrast


def _landmark_direct(design: SurvivalDesign, a: int, b: int):
    """Pooled per-interval cloglog log HR of arm a vs b, or None without shared counted intervals."""
    lm = design.landmarks
    la = lm[(lm["arm_index"] == a) & lm["at_risk"].notna()]
    lb = lm[(lm["arm_index"] == b) & lm["at_risk"].notna()]
    est, var = [], []
    for _, ra in la.iterrows():
        rb = lb[(lb["t_prev"] == ra["t_prev"]) & (lb["t"] == ra["t"])]
        if rb.empty:
            continue
        rb = rb.iloc[0]
        parts = []
        for r in (ra, rb):
            q = r["deaths"] / r["at_risk"]
            if not 0 < q < 1:  # no death (or all dead) in the interval: no finite log hazard
                break
            parts.append((np.log(-np.log1p(-q)), q / (r["at_risk"] * (1 - q) * np.log1p(-q) ** 2)))
        if len(parts) == 2:
            est.append(parts[0][0] - parts[1][0])
            var.append(parts[0][1] + parts[1][1])
    if not est:
        return None
    w = 1 / np.array(var)
    return float(w @ np.array(est) / w.sum()), float(w.sum() ** -0.5)


def _median_direct(design: SurvivalDesign, a: int, b: int):
    md = design.medians
    ra, rb = md[md["arm_index"] == a], md[md["arm_index"] == b]
    if ra.empty or rb.empty or ra["at_risk"].isna().any() or rb["at_risk"].isna().any():
        return None
    ra, rb = ra.iloc[0], rb.iloc[0]
    v = [r["se_log"] ** 2 if np.isfinite(r["se_log"]) else 2.0 / r["at_risk"] for r in (ra, rb)]
    return float(np.log(rb["time"]) - np.log(ra["time"])), float(np.sqrt(sum(v)))


def direct_contrasts(design: SurvivalDesign) -> pd.DataFrame:
    """Every directly observed contrast: reported HRs and pairs of arms of one study.

    Returns one row per contrast: ``study, arm_index, comparator_index, direct_from,
    estimate, se`` (``estimate``/``se`` NaN when not computable, ``direct_from`` says why).
    """
    arms = design.arms
    rows, seen = [], set()
    for r in design.hazard_ratios.itertuples():
        a, b = int(r.arm_index), int(r.comparator_index)
        rows.append((arms.iloc[a]["study"], a, b, "hazard ratio" + (" (pooled)" if r.pooled else ""),
                     float(r.log_hr), float(r.se)))
        seen.add((a, b))
        seen.add((b, a))
    study_arms = design.study_arms
    for study, g in study_arms.groupby("study", sort=False):
        idx = list(g.index)
        for k, a in enumerate(idx):
            for b in idx[k + 1:]:
                if arms.loc[a, "treatment"] == arms.loc[b, "treatment"] or (a, b) in seen:
                    continue
                got, how = _landmark_direct(design, a, b), "landmark counts"
                if got is None:
                    got, how = _median_direct(design, a, b), "medians (exponential approximation)"
                if got is None:
                    got, how = (np.nan, np.nan), "not computable (no counted landmarks or medians for both arms)"
                rows.append((study, int(a), int(b), how, *got))
    return pd.DataFrame(rows, columns=["study", "arm_index", "comparator_index", "direct_from", "estimate", "se"])


def _study_log_lik(idata, design: SurvivalDesign, study: str) -> np.ndarray:
    """Sum over every observation of ``study`` of its pointwise log-likelihood, per draw."""
    keys = set(design.used.loc[design.used["study"] == study, "row_key"])
    ll = idata.log_likelihood
    total = 0.0
    for var in ll.data_vars:
        da = ll[var]
        if da.ndim < 3:
            continue
        obs_dim = da.dims[-1]
        mask = np.isin(da[obs_dim].values.astype(str), list(keys))
        if mask.any():
            total = total + da.values[..., mask].sum(axis=-1)
    return np.asarray(total, float).reshape(-1) if np.ndim(total) else np.zeros(
        ll.sizes["chain"] * ll.sizes["draw"])


def _leave_out_weights(log_lik: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights for leaving out the observations with this log-likelihood."""
    import warnings

    import arviz as az

    if not np.any(log_lik):
        return np.full(log_lik.size, 1.0 / log_lik.size), 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the k diagnostic is reported in the table instead
        lw, k = az.psislw(-log_lik[None, :] if log_lik.ndim == 1 else -log_lik)
    lw = np.asarray(lw).reshape(-1)
    w = np.exp(lw - lw.max())
    return w / w.sum(), float(np.ravel(k)[0])


def contrast_check(idata, design: SurvivalDesign, *, seed: int = 0) -> pd.DataFrame:
    """Direct vs leave-study-out indirect estimate of every directly observed contrast.

    Parameters
    ----------
    idata : arviz.InferenceData
        Survival posterior with its ``log_likelihood`` group.
    design : SurvivalDesign
        The design the posterior was fitted to.
    seed : int
        Seeds the draws of the direct estimate and the importance resampling.

    Returns
    -------
    pandas.DataFrame
        ``CONTRAST_COLUMNS``, one row per contrast (see the module docstring); rows whose direct
        estimate is not computable have NaN numbers and ``reliable = False``.
    """
    if "log_likelihood" not in idata.groups():
        raise UserError("the posterior has no log_likelihood group: the contrast check needs it to leave a "
                        "study out; refit (fits made by rhcc_bayes always have it)")
    rng = np.random.default_rng(seed)
    arms = design.arms
    out = []
    for r in direct_contrasts(design).itertuples():
        a, b = r.arm_index, r.comparator_index
        row = {"study": r.study, "arm": arms.iloc[a]["arm"], "comparator": arms.iloc[b]["arm"],
               "treatment": arms.iloc[a]["treatment"], "comparator_treatment": arms.iloc[b]["treatment"],
               "direct_from": r.direct_from, "direct_mean": r.estimate, "direct_sd": r.se}
        others = arms.loc[arms["study"] != r.study, "treatment"]  # incl. pooled results' pseudo-arms
        row["arms_elsewhere"] = int(min((others == arms.iloc[i]["treatment"]).sum() for i in (a, b)))
        implied = _implied_contrast(idata, design, a, b, rng)
        w, k = _leave_out_weights(_study_log_lik(idata, design, r.study))
        indirect = implied[rng.choice(implied.size, size=implied.size, p=w)]
        q = np.quantile(indirect, [0.025, 0.975])
        row |= {"indirect_mean": float(w @ implied), "indirect_sd": float(indirect.std(ddof=1)),
                "indirect_2.5%": float(q[0]), "indirect_97.5%": float(q[1]), "pareto_k": k}
        if np.isfinite(r.estimate):
            diff = r.estimate + r.se * rng.standard_normal(implied.size) - indirect
            dq = np.quantile(diff, [0.025, 0.975])
            row |= {"diff_mean": float(diff.mean()), "diff_2.5%": float(dq[0]), "diff_97.5%": float(dq[1]),
                    "p_value": float(min(1.0, 2 * min((diff > 0).mean(), (diff < 0).mean()))),
                    "reliable": bool(k <= PARETO_K_MAX)}
        else:
            row |= {"diff_mean": np.nan, "diff_2.5%": np.nan, "diff_97.5%": np.nan, "p_value": np.nan,
                    "reliable": False}
        out.append(row)
    return pd.DataFrame(out, columns=CONTRAST_COLUMNS)


def contrast_check_text(table: pd.DataFrame) -> str:
    """The table for people: one line per contrast, then the verdict."""
    if table.empty:
        return "Direct vs indirect contrasts: no comparative study (hazard ratio or two arms) in the evidence."
    lines = ["Direct vs indirect contrasts (log hazard ratio, arm vs comparator; indirect = model without the "
             "study, PSIS; p = 2 min(P(diff>0), P(diff<0))):"]
    show = pd.DataFrame({
        "study": table["study"],
        "contrast": table["treatment"] + " vs " + table["comparator_treatment"],
        "direct": [f"{m: .2f} (se {s:.2f})" if np.isfinite(m) else "n/a" for m, s in
                   zip(table["direct_mean"], table["direct_sd"])],
        "indirect": [f"{m: .2f} [{lo: .2f}, {hi: .2f}]" for m, lo, hi in
                     zip(table["indirect_mean"], table["indirect_2.5%"], table["indirect_97.5%"])],
        "difference": [f"{m: .2f} [{lo: .2f}, {hi: .2f}]" if np.isfinite(m) else "n/a" for m, lo, hi in
                       zip(table["diff_mean"], table["diff_2.5%"], table["diff_97.5%"])],
        "p": [f"{p:.3f}" if np.isfinite(p) else "n/a" for p in table["p_value"]],
        "k": [f"{k:.2f}" for k in table["pareto_k"]],
        "arms elsewhere": table["arms_elsewhere"],
    })
    lines.append(show.to_string(index=False))
    low = table[(table["p_value"] < 0.05) & table["reliable"]]
    shaky = table[np.isfinite(table["direct_mean"]) & (table["pareto_k"] > PARETO_K_MAX)]
    lines.append(("Disagreement (p < 0.05): " + "; ".join(
        f"{s} {t} vs {c}" for s, t, c in zip(low["study"], low["treatment"], low["comparator_treatment"])))
        if len(low) else "No contrast with p < 0.05: direct and indirect evidence agree.")
    if len(shaky):
        lines.append(f"Pareto k > {PARETO_K_MAX} for " + ", ".join(shaky["study"])
                     + ": the study is too influential for importance sampling; refit without it to check.")
    alone = table[table["arms_elsewhere"] == 0]
    if len(alone):
        lines.append("Only class pooling and the prior inform the indirect estimate (a treatment with no arm "
                     "outside the study) for: " + ", ".join(alone["study"]))
    missing = table[~np.isfinite(table["direct_mean"])]
    if len(missing):
        lines.append("No direct estimate (arm data not countable) for: " + ", ".join(missing["study"]))
    return "\n".join(lines)
