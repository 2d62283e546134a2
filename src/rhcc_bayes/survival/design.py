"""From evidence + survival spec to the numeric design the model is built on.

Pure pandas/numpy, no PyMC: every choice about which rows enter the likelihood,
how arms are coded and how reported summaries become counts is made here, where
it can be tested and shown to the user (``SurvivalDesign.used`` / ``.excluded``).

Counting rules (documented in the README, "The model"):

* Landmark survival of one arm (same patients) becomes conditional binomial counts:
  at each landmark t_i, R_i = round(n * S(t_{i-1}) * c(t_i)) patients are at risk and
  followed, of whom D_i = round(R_i * (1 - S(t_i)/S(t_{i-1}))) die.
* c(t) is the censoring rule's effective-sample-size fraction: "none" → 1;
  "uniform" → max(1 - t/F, floor), the share of patients still under follow-up at t
  if follow-up is uniform on [0, F] (F = ``max_followup_months``). It shrinks later
  landmarks' weight, as Greenwood's variance grows under censoring.
* A median m with n (no CI): of R = round(n * c(m)) followed patients, round(R/2)
  are alive at m. With a 95% CI: log m ~ Normal(log model median, se from the CI).
* A hazard ratio with 95% CI: log HR ~ Normal(theta_a - theta_b, se from the CI), used
  only when the two arms give no arm-level data for the outcome (``hr_policy``).
* A mean length of stay with its SE (or 95% CI): Normal(stay_j, se). The review's LOS
  figures give neither, so none enters the default analysis (each is listed as excluded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rhcc_bayes.evidence.schema import MODALITIES
from rhcc_bayes.survival.covariates import arm_covariates, size_band  # noqa: F401  (coding lives there)
from rhcc_bayes.survival.spec import COVARIATES, SurvivalSpec

Z975 = 1.959963984540054
ABLATION_MONO = "ablation"


@dataclass(frozen=True)
class TreatmentStructure:
    """Treatments, their modality classes and (for combinations) components."""

    treatments: tuple[str, ...]
    modalities: tuple[str, ...]
    class_index: np.ndarray  # (treatment,) index into modalities
    is_ablation: np.ndarray  # (treatment,) 1 for ablation monotherapies (size interaction)
    is_combination: np.ndarray  # (treatment,)
    component_matrix: np.ndarray  # (treatment, treatment): row = mean of components (identity for monotherapy)


def treatment_structure(taxonomy) -> TreatmentStructure:
    """Build the pooling structure from a taxonomy (codes, modality, components)."""
    codes = tuple(taxonomy.codes)
    present = {taxonomy.modality(c) for c in codes}
    modalities = tuple(m for m in MODALITIES if m in present) + tuple(sorted(present - set(MODALITIES)))
    index = {c: i for i, c in enumerate(codes)}
    comp = np.eye(len(codes))
    is_combo = np.zeros(len(codes), dtype=int)
    for c in codes:
        parts = [p for p in taxonomy.components(c) if p != c and p in index and len(taxonomy.components(p)) <= 1]
        if taxonomy.modality(c) == "combination" and parts:
            is_combo[index[c]] = 1
            comp[index[c]] = 0.0
            comp[index[c], [index[p] for p in parts]] = 1.0 / len(parts)
    return TreatmentStructure(
        treatments=codes,
        modalities=modalities,
        class_index=np.array([modalities.index(taxonomy.modality(c)) for c in codes]),
        is_ablation=np.array([int(taxonomy.modality(c) == ABLATION_MONO) for c in codes]),
        is_combination=is_combo,
        component_matrix=comp,
    )


@dataclass(frozen=True)
class SurvivalDesign:
    """Everything numeric the survival model needs, plus the audit trail of rows."""

    structure: TreatmentStructure
    cuts: np.ndarray  # segment boundaries incl. 0 and inf
    arms: pd.DataFrame  # one row per arm: study, arm, treatment, t_index, s_index, covariate levels
    studies: tuple[str, ...]
    landmarks: pd.DataFrame  # arm_index, t_prev, t, at_risk, deaths, estimate, row_key
    medians: pd.DataFrame  # arm_index, time, at_risk, alive, se_log (nan if no CI), row_key
    hazard_ratios: pd.DataFrame  # arm_index, comparator_index, log_hr, se, row_key
    secondary: pd.DataFrame  # outcome, arm-level binomial: outcome, treatment_index, study_index, n, events, row_key
    stay: pd.DataFrame  # length of stay: treatment_index, mean_days, se_days, row_key (normal likelihood)
    used: pd.DataFrame = field(repr=False)  # evidence rows entering the likelihood
    excluded: pd.DataFrame = field(repr=False)  # evidence rows left out, with the reason

    @property
    def covariate_index(self) -> dict[str, np.ndarray]:
        return {c: np.array([COVARIATES[c].index(v) for v in self.arms[c]]) for c in COVARIATES}


def _row_key(df: pd.DataFrame) -> pd.Series:
    if "file" in df and "line" in df:
        return df["file"].astype(str).str.split("/").str[-1] + ":" + df["line"].astype(int).astype(str)
    return df.index.astype(str).to_series(index=df.index)


def _select_rows(table: pd.DataFrame, spec: SurvivalSpec) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Rows usable by the model, and the excluded ones with their reasons."""
    rules = spec.evidence
    excluded = []

    def drop(mask, reason):
        nonlocal table
        if mask.any():
            excluded.append(table[mask].assign(reason=reason))
            table = table[~mask]

    wanted = table["outcome"].isin([spec.outcome, *spec.secondary_outcomes])
    drop(~wanted, "outcome not modelled by this spec")
    drop(table["measure"].isin(["count"]), "arm size only (enrolment row)")
    if rules.default_use_only:
        drop(table["default_use"] != "yes", "default_use = no (alternative reading of the source)")
    drop(~table["population"].isin(rules.populations), "population excluded by spec")
    drop(~table["design"].isin(rules.designs), "design excluded by spec (pooled results are never counted beside their primary studies)")
    drop(table["interval"] == "range", "a range across studies, not patient-level data")
    drop(table["qualifier"] != "", "a bound ('>' or '<'), not a value")
    drop(table["estimate"].isna(), "no estimate")
    surv = table["outcome"] == spec.outcome
    drop(surv & ~table["measure"].isin(["survival", "median", "hr"]), "measure not used for survival")
    drop((table["measure"] == "survival") & table["time_months"].isna(), "survival without a time point")
    if rules.missing_n == "exclude":
        median_without_ci = (table["measure"] == "median") & (table["interval"] != "ci95")  # with a CI, n is not needed
        needs_n = table["measure"].isin(["survival", "proportion"]) | median_without_ci
        drop(needs_n & table["n"].isna(), "arm size n not reported (spec missing_n = \"exclude\")")
    is_los = table["outcome"] == "los"
    drop(table["outcome"].isin(spec.secondary_outcomes) & ~is_los & (table["measure"] != "proportion"), "secondary outcome measure not modelled")
    drop(is_los & (table["measure"] != "mean"), "length of stay modelled from reported means only")
    has_se = table["se"].notna() | ((table["interval"] == "ci95") & table["ci_low"].notna() & table["ci_high"].notna())
    drop(is_los & ~has_se, "mean length of stay without its SE or CI: no likelihood can be formed")
    return table, excluded


def _censor_fraction(t, spec: SurvivalSpec):
    rules = spec.evidence
    if rules.censoring == "none":
        return np.ones_like(np.asarray(t, dtype=float))
    return np.maximum(1.0 - np.asarray(t, dtype=float) / rules.max_followup_months, rules.min_observed_fraction)


def _landmark_counts(rows: pd.DataFrame, arm_of: dict, spec: SurvivalSpec) -> pd.DataFrame:
    out = []
    for (study, arm), grp in rows.groupby(["study", "arm"], sort=False):
        grp = grp.sort_values("time_months")
        n = grp["n"].iloc[0]
        s_prev, t_prev = 1.0, 0.0
        for _, r in grp.iterrows():
            t, s = float(r["time_months"]), float(r["estimate"])
            at_risk = int(round(n * s_prev * _censor_fraction(t, spec)))
            cond = s / s_prev if s_prev > 0 else 0.0
            deaths = int(round(at_risk * (1 - min(cond, 1.0))))
            if at_risk > 0:
                out.append((arm_of[(study, arm)], t_prev, t, at_risk, deaths, s, r["row_key"]))
            s_prev, t_prev = s, t
    return pd.DataFrame(out, columns=["arm_index", "t_prev", "t", "at_risk", "deaths", "estimate", "row_key"])


def make_design(evidence, spec: SurvivalSpec) -> SurvivalDesign:
    """Turn validated evidence and a survival spec into a :class:`SurvivalDesign`.

    Parameters
    ----------
    evidence : rhcc_bayes.evidence.Evidence
        Validated evidence (``.table`` and ``.taxonomy``).
    spec : SurvivalSpec

    Returns
    -------
    SurvivalDesign
    """
    structure = treatment_structure(evidence.taxonomy)
    table = evidence.table.copy()
    table["row_key"] = _row_key(table)
    if isinstance(spec.evidence.missing_n, int):
        table["n"] = table["n"].fillna(float(spec.evidence.missing_n))
    rows, excluded = _select_rows(table, spec)

    surv = rows[rows["outcome"] == spec.outcome]
    hr_rows = surv[surv["measure"] == "hr"]
    arm_rows = surv[surv["measure"] != "hr"]
    keys = list(dict.fromkeys(zip(arm_rows["study"], arm_rows["arm"])))
    if spec.evidence.hr_policy != "never":
        for _, r in hr_rows.iterrows():
            for key in ((r["study"], r["arm"]), (r["study"], r["comparator_arm"])):
                if key not in keys:
                    keys.append(key)
    first = table.drop_duplicates(["study", "arm"]).set_index(["study", "arm"])
    arms = pd.DataFrame(
        [{"study": s, "arm": a, "treatment": first.loc[(s, a), "treatment"],
          "n": first.loc[(s, a), "n"], **arm_covariates(first.loc[(s, a)])} for s, a in keys],
        columns=["study", "arm", "treatment", "n", *COVARIATES],
    )
    studies = tuple(dict.fromkeys(arms["study"]))
    arms["t_index"] = [structure.treatments.index(t) for t in arms["treatment"]]
    arms["s_index"] = [studies.index(s) for s in arms["study"]]
    arm_of = {k: i for i, k in enumerate(keys)}

    landmarks = _landmark_counts(arm_rows[arm_rows["measure"] == "survival"], arm_of, spec)

    med = arm_rows[arm_rows["measure"] == "median"]
    has_ci = med["interval"].eq("ci95") & med["ci_low"].gt(0) & med["ci_high"].gt(0)
    se_log = np.where(has_ci, (np.log(med["ci_high"].where(has_ci, 1)) - np.log(med["ci_low"].where(has_ci, 1))) / (2 * Z975), np.nan)
    at_risk = np.round(med["n"].fillna(0) * _censor_fraction(med["estimate"], spec)).astype(int)
    medians = pd.DataFrame({
        "arm_index": [arm_of[k] for k in zip(med["study"], med["arm"])],
        "time": med["estimate"].to_numpy(float), "at_risk": at_risk.to_numpy(),
        "alive": np.round(at_risk.to_numpy() / 2).astype(int), "se_log": se_log, "row_key": med["row_key"].to_numpy(),
    })

    arm_level = set(landmarks["arm_index"]) | set(medians["arm_index"])
    hr_out, skipped = [], []
    for idx, r in hr_rows.iterrows():
        a, b = arm_of.get((r["study"], r["arm"])), arm_of.get((r["study"], r["comparator_arm"]))
        both = a in arm_level and b in arm_level
        if spec.evidence.hr_policy == "never" or (spec.evidence.hr_policy == "arm_level_first" and both) or not (r["ci_low"] > 0):
            skipped.append(idx)
            continue
        se = (np.log(r["ci_high"]) - np.log(r["ci_low"])) / (2 * Z975)
        hr_out.append((a, b, float(np.log(r["estimate"])), float(se), r["row_key"]))
    if skipped:
        excluded.append(hr_rows.loc[skipped].assign(reason="HR not used: arm-level data for both arms, policy, or no CI"))
    hazard_ratios = pd.DataFrame(hr_out, columns=["arm_index", "comparator_index", "log_hr", "se", "row_key"])

    los = rows[rows["outcome"] == "los"]
    stay = pd.DataFrame({
        "treatment_index": [structure.treatments.index(t) for t in los["treatment"]],
        "mean_days": los["estimate"].to_numpy(float),
        "se_days": los["se"].fillna((los["ci_high"] - los["ci_low"]) / (2 * Z975)).to_numpy(float),
        "row_key": los["row_key"].to_numpy(),
    })
    sec = rows[rows["outcome"].isin(spec.secondary_outcomes) & (rows["outcome"] != "los") & rows["n"].notna()]
    sec_studies = {s: i for i, s in enumerate(dict.fromkeys(sec["study"]))}
    secondary = pd.DataFrame({
        "outcome": sec["outcome"].to_numpy(),
        "treatment_index": [structure.treatments.index(t) for t in sec["treatment"]],
        "study": sec["study"].to_numpy(),
        "study_index": [sec_studies[s] for s in sec["study"]],
        "n": sec["n"].to_numpy(int),
        "events": np.round(sec["n"] * sec["estimate"]).to_numpy(int),
        "estimate": sec["estimate"].to_numpy(float),
        "row_key": sec["row_key"].to_numpy(),
    })

    used_keys = (set(landmarks["row_key"]) | set(medians["row_key"]) | set(hazard_ratios["row_key"])
                 | set(secondary["row_key"]) | set(stay["row_key"]))
    excluded_df = pd.concat(excluded) if excluded else table.iloc[:0].assign(reason="")
    leftover = rows[~rows["row_key"].isin(used_keys) & ~rows.index.isin(excluded_df.index)]
    if len(leftover):
        excluded_df = pd.concat([excluded_df, leftover.assign(reason="no usable count after rounding")])
    cuts = np.array([0.0, *spec.cuts_months, np.inf])  # read by the piecewise hazard family only
    return SurvivalDesign(
        structure=structure, cuts=cuts, arms=arms, studies=studies, landmarks=landmarks, medians=medians,
        hazard_ratios=hazard_ratios, secondary=secondary, stay=stay,
        used=table[table["row_key"].isin(used_keys)], excluded=excluded_df,
    )
