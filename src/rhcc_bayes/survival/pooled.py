"""Evidence that is not one study's arm: ranges across studies and pooled meta-analysis results.

Such rows enter through **population-level pseudo-arms**: a design arm with
``level = "population"`` whose log-hazard offset is the treatment's mean for the row's
covariates and population, theta = mu_j + x·beta + delta_pop, *without* a study effect
(the model masks u_s and eps_a for them). Rules (README "The model"):

* **Range across k studies** (``interval = range``, landmark survival, e.g. TACE 1-year
  survival 28%-82% [50,53]): the reported ends are the minimum and maximum of k study-level
  outcomes, k = number of citation keys in ``ref`` (at least 2; one key = a single review
  that summarises several studies, k = 2 assumed). Because theta is a log-hazard offset
  (proportional hazards), S(t) is monotone in theta and the pair maps to the extreme
  order statistics of k draws of theta_s = log(-log S_s(t)) - log H0(t) ~ N(m, sd^2),
  sd^2 = sigma_study^2 (+ sigma_arm^2) + v, with v the sampling variance of a typical
  study (n = the latent-n prior's median, censoring c(t)) at the range mid-point. The
  likelihood is the exact joint density of the first and last order statistics,
  k(k-1) f(a) f(b) [F(b) - F(a)]^(k-2) (the Jacobian of S -> theta does not involve
  parameters), so a range informs both the level m and the between-study SD.
* **Pooled landmark** of one treatment (a meta-analysis' pooled 5-year OS): population-level
  evidence on the average-population survival, log(-log S_obs) ~ N(log H(theta_pop, t),
  v(n) + sigma_study^2 / k): v(n) the binomial sampling variance with the pooled n (latent
  when not reported), and the between-study variance of a random-effects mean of k >= 2
  studies (``pooled_variance = "reported"`` drops the second term).
* **Pooled contrast** (log HR with 95% CI between two treatments, e.g. repeat resection vs
  RFA): log HR ~ N(theta_a - theta_b, se^2 + sigma_study^2), the between-study variance
  added because the pooled random-effects mean describes another population mix than the
  model's (``pooled_variance = "reported"``: se^2 only). Subgroup contrasts (size band) use
  the arm descriptors, so they inform the ablation x size interaction. Population bias
  cancels in a contrast (delta_pop is per population, not per treatment).
* **Subgroups and overlapping meta-analyses** (``pooled_subgroups``): the overall contrast of
  a meta-analysis and its subgroup contrasts (size band, nodularity) are the same patients:
  ``"subgroups"`` (default; they carry the size interaction the decisions need) keeps the
  subgroup rows and drops the overall one, ``"overall"`` the reverse. Several meta-analyses
  of the same contrast (same pair of treatments) pool the same literature: only the one with
  the smallest standard error enters; likewise one pooled landmark per treatment and time
  (the one with the largest reported n). Pooled landmarks and pooled contrasts about the
  same treatments from different meta-analyses both enter (a level and a difference); their
  possible overlap is discounted only by the between-study variance each carries.
* k for a pooled result: ``Studies pooled: N`` in its notes (the data convention), else the
  number of citation keys, at least 2.
* **Overlap rule** (``overlap``): a pooled row lists the studies it pools in ``includes``
  (study labels, ``;``-separated; missing column = empty). If any of them has rows of the
  same outcome in the likelihood, ``"constituents"`` (default) drops the pooled row and
  ``"pooled"`` drops the constituents' rows of that outcome: a patient is never counted twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rhcc_bayes.survival.counts import POOLED_DESIGNS, censor_fraction



Z975 = 1.959963984540054


def hr_standard_error(row) -> float:
    """SE of log HR from what the source gives, in order: ``se``; a 95% CI (log width / 2 z);
    a two-sided ``p_value`` (|log HR| / z(1 - p/2), Altman & Bland, BMJ 2011;343:d2090: the
    Wald test on log HR that meta-analyses report). NaN when none is given or HR = 1 with only p.
    """
    se = _float(row, "se")
    if se > 0:
        return se
    lo, hi = _float(row, "ci_low"), _float(row, "ci_high")
    if lo > 0 and hi > lo:
        return float((np.log(hi) - np.log(lo)) / (2 * Z975))
    p, hr = _float(row, "p_value"), _float(row, "estimate")
    if 0 < p < 1 and hr > 0 and hr != 1:
        from scipy.stats import norm

        return float(abs(np.log(hr)) / norm.isf(p / 2))
    return float("nan")


def _float(row, key: str) -> float:
    try:
        v = float(row.get(key, np.nan) if hasattr(row, "get") else np.nan)
    except (TypeError, ValueError):
        return float("nan")
    return v if np.isfinite(v) else float("nan")


def split_keys(text) -> list[str]:
    return [x.strip() for x in str(text or "").split(";") if x.strip() and x.strip() != "nan"]


def includes_of(table: pd.DataFrame) -> pd.Series:
    """The ``includes`` column (studies a pooled row pools), empty when absent."""
    if "includes" not in table:
        return pd.Series([""] * len(table), index=table.index)
    return table["includes"].fillna("").astype(str)


def apply_overlap(rows: pd.DataFrame, outcome: str, policy: str) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Drop one side of every pooled-row / constituent overlap (see module docstring)."""
    excluded = []
    inc = includes_of(rows)
    pooled = rows["design"].isin(POOLED_DESIGNS) | (rows["interval"] == "range")
    same = rows["outcome"] == outcome
    primary_studies = set(rows.loc[same & ~pooled, "study"])
    drop_idx: dict = {}
    for idx in rows.index[pooled & same & (inc != "")]:
        hit = [s for s in split_keys(inc[idx]) if s in primary_studies]
        if not hit:
            continue
        if policy == "constituents":
            drop_idx[idx] = (f"overlap: pools {', '.join(hit)}, whose own rows are in the likelihood "
                             "(overlap = \"constituents\")")
        else:
            for s in hit:
                for j in rows.index[same & ~pooled & (rows["study"] == s)]:
                    drop_idx.setdefault(j, f"overlap: pooled in {rows.at[idx, 'study']} (overlap = \"pooled\")")
    if drop_idx:
        keys = list(drop_idx)
        excluded.append(rows.loc[keys].assign(reason=[drop_idx[k] for k in keys]))
        rows = rows.drop(index=keys)
    return rows, excluded


def n_studies(ref, notes: str = "") -> tuple[int, bool]:
    """k for a range or pooled result (and whether assumed): "Studies pooled: N" in the notes,
    else the number of citation keys; at least 2."""
    import re

    m = re.search(r"Studies pooled:\s*(\d+)", str(notes or ""))
    if m and int(m.group(1)) >= 2:
        return int(m.group(1)), False
    k = len(split_keys(ref))
    return (k, False) if k >= 2 else (2, True)


def _has_subgroup(r) -> bool:
    return any(pd.notna(r.get(c, np.nan)) for c in ("size_min_cm", "size_max_cm", "nodules_max"))


def dedupe_pooled(rows: pd.DataFrame, outcome: str, subgroups: str, full: pd.DataFrame | None = None
                  ) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One pooled source per contrast and per landmark (see module docstring); ``full`` is the
    whole table (arm declarations give the comparators' treatments)."""
    pooled = rows["design"].isin(POOLED_DESIGNS) & (rows["interval"] != "range") & (rows["outcome"] == outcome)
    drop: dict = {}
    hr = rows[pooled & (rows["measure"] == "hr")]
    if len(hr):
        src = full if full is not None else rows
        trt_of = src.drop_duplicates(["study", "arm"]).set_index(["study", "arm"])["treatment"]
        pair = {i: tuple(sorted((r["treatment"], trt_of.get((r["study"], r["comparator_arm"]), "?"))))
                for i, r in hr.iterrows()}
        # subgroup vs overall within one meta-analysis
        groups: dict = {}
        for i in hr.index:
            groups.setdefault((hr.at[i, "study"], pair[i]), []).append(i)
        for (study, _), idx in groups.items():
            sub = [i for i in idx if _has_subgroup(rows.loc[i])]
            overall = [i for i in idx if i not in sub]
            if sub and overall:
                gone, kept = (overall, "subgroup") if subgroups == "subgroups" else (sub, "overall")
                for i in gone:
                    drop[i] = (f"{'overall' if kept == 'subgroup' else 'subgroup'} contrast of {study}: its {kept} "
                               f"contrasts of the same patients are used (pooled_subgroups = \"{subgroups}\")")
        # one meta-analysis per pair of treatments
        by_pair: dict = {}
        for i in hr.index:
            if i not in drop:
                by_pair.setdefault(pair[i], []).append(i)
        for pr, idx in by_pair.items():
            studies = {hr.at[i, "study"] for i in idx}
            if len(studies) > 1:
                se = {i: hr_standard_error(hr.loc[i]) for i in idx}
                best = hr.at[min(se, key=se.get), "study"]
                for i in idx:
                    if hr.at[i, "study"] != best:
                        drop[i] = (f"another meta-analysis of {pr[0]} vs {pr[1]} ({best}, smaller SE) is used: "
                                   "meta-analyses of one contrast pool the same literature")
    lm = rows[pooled & (rows["measure"] == "survival")]
    for key, idx in lm.groupby(["treatment", "time_months", "population"]).groups.items():
        if lm.loc[idx, "study"].nunique() > 1:
            best = lm.loc[idx, "n"].fillna(-1).idxmax()
            for i in idx:
                if lm.at[i, "study"] != lm.at[best, "study"]:
                    drop[i] = (f"another pooled {key[0]} S({key[1]:g}) ({lm.at[best, 'study']}, larger n) is used: "
                               "one pooled landmark per treatment and time")
    if not drop:
        return rows, []
    keys = list(drop)
    return rows.drop(index=keys), [rows.loc[keys].assign(reason=[drop[k] for k in keys])]


def cloglog_sampling_var(s, n_eff):
    """Delta-method variance of log(-log S_hat) for n_eff patients: (1 - S) / (n S log(S)^2)."""
    s = np.clip(np.asarray(s, float), 1e-3, 1 - 1e-3)
    return (1 - s) / (n_eff * s * np.log(s) ** 2)


def range_rows(rows: pd.DataFrame, arm_of: dict, spec, n_typical: float) -> pd.DataFrame:
    out = []
    for _, r in rows.iterrows():
        k, assumed = n_studies(r["ref"])
        t = float(r["time_months"])
        mid = 0.5 * (float(r["ci_low"]) + float(r["ci_high"]))
        v = float(cloglog_sampling_var(mid, n_typical * float(censor_fraction(t, spec))))
        out.append((arm_of[(r["study"], r["arm"])], t, float(r["ci_low"]), float(r["ci_high"]), k, assumed, v,
                    r["row_key"]))
    return pd.DataFrame(out, columns=["arm_index", "t", "low", "high", "k", "k_assumed", "v_sampling", "row_key"])


def pooled_landmark_rows(rows: pd.DataFrame, arm_of: dict, latent_of: dict, spec) -> pd.DataFrame:
    out = []
    for _, r in rows.iterrows():
        k, assumed = n_studies(r["ref"], r.get("notes", ""))
        a = arm_of[(r["study"], r["arm"])]
        t = float(r["time_months"])
        out.append((a, t, float(r["estimate"]), float(r["n"]), float(censor_fraction(t, spec)),
                    latent_of.get(a, -1) if np.isnan(r["n"]) else -1, k, assumed, r["row_key"]))
    return pd.DataFrame(out, columns=["arm_index", "t", "estimate", "n", "censor", "latent", "k", "k_assumed", "row_key"])
