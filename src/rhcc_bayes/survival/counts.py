"""Reported arm-level summaries as likelihood inputs: counts when n is known, latent n when not.

Pure pandas/numpy; used by :func:`rhcc_bayes.survival.design.make_design`.

* **Known n** (unchanged rule): landmark survival of one arm becomes conditional binomial
  counts, R_i = round(n * S(t_{i-1}) * c(t_i)) at risk and D_i = round(R_i (1 - S(t_i)/S(t_{i-1})))
  deaths; a median m without CI gives round(R/2) alive at m of R = round(n * c(m)).
  c(t) is the censoring rule's effective-sample-size fraction.
* **Latent n** (``missing_n = "latent"``): the arm's n is a parameter. The same counting
  rule gives an at-risk number R_i = n * S(t_{i-1}) * c(t_i) that is now a function of n,
  and the binomial is relaxed to its normal approximation on the logit scale,
  logit q_obs ~ N(logit q_model, 1 / (R_i q~ (1 - q~))), q~ = (R_i q_obs + 0.5) / (R_i + 1)
  (continuity corrected), which is defined for fractional R and integrates over n.
  A secondary proportion without n (complications, recurrence) enters the same way on its
  sub-model's logit scale with R = the arm's latent n (one latent n per arm, shared).
  The prior on n is

  - a Dirichlet share of a **known total** over the study's arms (``data/study_totals.csv``:
    total and arm list with provenance): n_a = (total - known n) * w_a,
    w ~ Dirichlet(c, ..., c), c = ``share_concentration`` (2: no arm near zero, else vague);
  - otherwise a **lognormal fitted to the arm sizes the evidence reports** (arms of
    primary studies with n, one value per arm, any outcome; mean and SD of log n), unless
    the spec fixes ``latent_n_log_mean`` / ``latent_n_log_sd``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rhcc_bayes.survival.spec import SurvivalSpec

POOLED_DESIGNS = ("meta_analysis", "review")


def censor_fraction(t, spec: SurvivalSpec):
    """Effective-sample-size fraction c(t) of the spec's censoring rule."""
    rules = spec.evidence
    if rules.censoring == "none":
        return np.ones_like(np.asarray(t, dtype=float))
    return np.maximum(1.0 - np.asarray(t, dtype=float) / rules.max_followup_months, rules.min_observed_fraction)


def latent_n_prior(table: pd.DataFrame, spec: SurvivalSpec) -> dict:
    """Lognormal prior of an unreported arm size: fitted to the reported arm sizes, or the spec's."""
    rules = spec.evidence
    arms = table[table["n"].notna() & ~table["design"].isin(POOLED_DESIGNS)]
    if "default_use" in arms:
        arms = arms[arms["default_use"] == "yes"]
    log_n = np.log(arms.drop_duplicates(["study", "arm"])["n"].to_numpy(float))
    fitted_mean = float(log_n.mean()) if len(log_n) else float(np.log(60.0))
    fitted_sd = float(log_n.std(ddof=1)) if len(log_n) > 2 else 1.0
    mean = fitted_mean if rules.latent_n_log_mean is None else float(rules.latent_n_log_mean)
    sd = fitted_sd if rules.latent_n_log_sd is None else float(rules.latent_n_log_sd)
    source = "fitted to reported arm sizes" if rules.latent_n_log_mean is None and rules.latent_n_log_sd is None else "spec"
    return {"log_mean": mean, "log_sd": sd, "n_arms": int(len(log_n)), "source": source,
            "median_n": float(np.exp(mean))}


def read_totals(path) -> pd.DataFrame:
    """Known study totals (``study,total_n,arms,...``); empty frame when the file is absent."""
    cols = ["study", "total_n", "arms"]
    if path is None:
        return pd.DataFrame(columns=cols)
    try:
        df = pd.read_csv(path, dtype={"study": str, "arms": str}, keep_default_na=False)
    except FileNotFoundError:
        return pd.DataFrame(columns=cols)
    return df[cols]


def latent_tables(entries: list[tuple[str, str, int]], totals: pd.DataFrame, table: pd.DataFrame):
    """Latent-n bookkeeping.

    ``entries``: ``(study, arm, arm_index)`` of every arm needing a latent n (``arm_index``
    -1 for an arm with secondary-outcome rows only). Returns ``(latent, groups)``:
    ``latent`` has one row per latent-n arm (``study``, ``arm``, ``arm_index``, ``group``
    (-1 = lognormal prior), ``share_pos``, ``how``); ``groups`` one row per known-total study
    (``group``, ``study``, ``total``, ``members``: arms without n sharing the remaining total,
    ``n_members``).
    """
    known = {r.study: r for r in totals.itertuples()}
    group_rows, latent_rows = [], []
    group_of: dict[str, int] = {}
    for study, arm, a in entries:
        tot = known.get(study)
        listed = [x for x in str(tot.arms).split(";") if x] if tot is not None else []
        if tot is not None and arm in listed:
            if study not in group_of:
                st = table[table["study"] == study].drop_duplicates("arm").set_index("arm")["n"]
                known_n = float(sum(st.get(x, np.nan) for x in listed if pd.notna(st.get(x, np.nan))))
                members = [x for x in listed if pd.isna(st.get(x, np.nan))]
                group_of[study] = len(group_rows)
                group_rows.append({"group": len(group_rows), "study": study, "total": float(tot.total_n) - known_n,
                                   "members": ";".join(members), "n_members": len(members)})
            g = group_rows[group_of[study]]
            pos = g["members"].split(";").index(arm)
            latent_rows.append({"study": study, "arm": arm, "arm_index": a, "group": g["group"], "share_pos": pos,
                                "how": f"latent n (Dirichlet share of {g['total']:g} over {g['n_members']} arms)"})
        else:
            latent_rows.append({"study": study, "arm": arm, "arm_index": a, "group": -1, "share_pos": -1,
                                "how": "latent n (lognormal prior)"})
    latent = pd.DataFrame(latent_rows, columns=["study", "arm", "arm_index", "group", "share_pos", "how"])
    groups = pd.DataFrame(group_rows, columns=["group", "study", "total", "members", "n_members"])
    return latent, groups


def landmark_rows(rows: pd.DataFrame, arm_of: dict, latent_of: dict, spec: SurvivalSpec) -> pd.DataFrame:
    """Successive landmarks of each arm: counts when n is known, latent bookkeeping otherwise."""
    out = []
    for (study, arm), grp in rows.groupby(["study", "arm"], sort=False):
        grp = grp.sort_values("time_months")
        a = arm_of[(study, arm)]
        lat = latent_of.get(a, -1)
        n = grp["n"].iloc[0]
        s_prev, t_prev = 1.0, 0.0
        for _, r in grp.iterrows():
            t, s = float(r["time_months"]), float(r["estimate"])
            c = float(censor_fraction(t, spec))
            cond = min(s / s_prev, 1.0) if s_prev > 0 else 0.0
            if lat >= 0:
                out.append((a, t_prev, t, np.nan, np.nan, s, s_prev, c, cond, lat, r["row_key"]))
            else:
                at_risk = int(round(n * s_prev * c))
                deaths = int(round(at_risk * (1 - cond)))
                if at_risk > 0:
                    out.append((a, t_prev, t, at_risk, deaths, s, s_prev, c, cond, -1, r["row_key"]))
            s_prev, t_prev = s, t
    return pd.DataFrame(out, columns=["arm_index", "t_prev", "t", "at_risk", "deaths", "estimate", "s_prev",
                                      "censor", "cond", "latent", "row_key"])


def median_rows(med: pd.DataFrame, arm_of: dict, latent_of: dict, spec: SurvivalSpec, z975: float) -> pd.DataFrame:
    has_ci = med["interval"].eq("ci95") & med["ci_low"].gt(0) & med["ci_high"].gt(0)
    se_log = np.where(has_ci, (np.log(med["ci_high"].where(has_ci, 1)) - np.log(med["ci_low"].where(has_ci, 1))) / (2 * z975), np.nan)
    arm_index = [arm_of[k] for k in zip(med["study"], med["arm"])]
    latent = np.array([latent_of.get(a, -1) if np.isnan(s) else -1 for a, s in zip(arm_index, se_log)], dtype=int)
    censor = censor_fraction(med["estimate"].to_numpy(float), spec)
    at_risk = np.round(med["n"].fillna(0).to_numpy(float) * censor)
    alive = np.round(at_risk / 2)
    at_risk = np.where(latent >= 0, np.nan, at_risk)
    alive = np.where(latent >= 0, np.nan, alive)
    return pd.DataFrame({
        "arm_index": arm_index, "time": med["estimate"].to_numpy(float), "at_risk": at_risk,
        "alive": alive, "se_log": se_log, "censor": censor, "latent": latent, "row_key": med["row_key"].to_numpy(),
    })
