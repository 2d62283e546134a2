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
* A hazard ratio with 95% CI (or SE, or a two-sided p-value: se = |log HR| / z(1 - p/2)): log HR ~ Normal(theta_a - theta_b, se), used
  only when the two arms give no arm-level data for the outcome (``hr_policy``).
* A mean length of stay with its SE (or 95% CI): Normal(stay_j, se). The review's LOS
  figures give neither, so none enters the default analysis (each is listed as excluded).
* An arm without its n (``missing_n = "latent"``): latent n, see :mod:`rhcc_bayes.survival.counts`.
* Ranges across studies, pooled meta-analysis results and the overlap rule: see
  :mod:`rhcc_bayes.survival.pooled` (population-level pseudo-arms, ``arms.level``).
* Primary-HCC and mixed populations: arms carry ``population``; the model adds a
  population bias term delta_pop to their log hazard (recurrent = 0, predictions use 0).

``SurvivalDesign.used`` has a column ``how`` (how each row enters) and ``.excluded`` a
column ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rhcc_bayes.evidence.schema import MODALITIES
from rhcc_bayes.survival import counts as cnt
from rhcc_bayes.survival import pooled as pool
from rhcc_bayes.survival.counts import POOLED_DESIGNS, censor_fraction
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
    used: pd.DataFrame = field(repr=False)  # evidence rows entering the likelihood, column "how"
    excluded: pd.DataFrame = field(repr=False)  # evidence rows left out, column "reason"
    ranges: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["arm_index", "t", "low", "high", "k", "k_assumed", "v_sampling", "row_key"]), repr=False)
    pooled_landmarks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["arm_index", "t", "estimate", "n", "censor", "latent", "k", "k_assumed", "row_key"]), repr=False)
    latent_n: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["study", "arm", "arm_index", "group", "share_pos", "how"]), repr=False)
    latent_groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["group", "study", "total", "members", "n_members"]), repr=False)
    latent_prior: dict = field(default_factory=dict, repr=False)  # lognormal prior of an unknown arm n
    options: dict = field(default_factory=dict, repr=False)  # likelihood options: share_concentration, add_between_study
    bias_populations: tuple[str, ...] = ()  # populations with a bias term (delta_pop), e.g. ("primary", "mixed")
    ipd: object = field(default=None, repr=False)  # survival.ipd.IPDDesign when patient-level data are given

    @property
    def covariate_index(self) -> dict[str, np.ndarray]:
        return {c: np.array([COVARIATES[c].index(v) for v in self.arms[c]]) for c in COVARIATES}

    @property
    def study_arms(self) -> pd.DataFrame:
        """Arms of actual studies (without the population-level pseudo-arms of ranges and pooled results)."""
        if "level" not in self.arms:
            return self.arms
        return self.arms[self.arms["level"] != "population"]

    @property
    def study_effect_mask(self) -> np.ndarray:
        """1 for arms of a study (study/arm random effects apply), 0 for population-level pseudo-arms."""
        if "level" not in self.arms:
            return np.ones(len(self.arms))
        return (self.arms["level"] != "population").to_numpy(float)

    @property
    def population_index(self) -> np.ndarray:
        """Per arm: 0 = recurrent (no bias term), i + 1 = ``bias_populations[i]``."""
        if "population" not in self.arms:
            return np.zeros(len(self.arms), dtype=int)
        return np.array([self.bias_populations.index(p) + 1 if p in self.bias_populations else 0
                         for p in self.arms["population"]], dtype=int)


def _row_key(df: pd.DataFrame) -> pd.Series:
    if "file" in df and "line" in df:
        return df["file"].astype(str).str.split("/").str[-1] + ":" + df["line"].astype(int).astype(str)
    return df.index.astype(str).to_series(index=df.index)


def _select_rows(table: pd.DataFrame, spec: SurvivalSpec) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Rows usable by the model, and the excluded ones with their reasons."""
    rules = spec.evidence
    excluded = []
    full = table

    def drop(mask, reason):
        nonlocal table
        if mask.any():
            excluded.append(table[mask].assign(reason=reason))
            table = table[~mask]

    def is_range():
        return table["interval"] == "range"

    def pooled():  # a pooled meta-analysis result (not a range)
        return table["design"].isin(POOLED_DESIGNS) & ~is_range()

    def surv(measure=None):
        m = table["outcome"] == spec.outcome
        return m if measure is None else m & (table["measure"] == measure)

    drop(~table["outcome"].isin([spec.outcome, *spec.secondary_outcomes]), "outcome not modelled by this spec")
    drop(table["measure"].isin(["count"]), "arm size only (enrolment row)")
    if rules.default_use_only:
        drop(table["default_use"] != "yes", "default_use = no (alternative reading of the source)")
    drop(~table["population"].isin(rules.populations), "population excluded by spec")
    drop(is_range() & (not rules.ranges), "a range across studies (spec ranges = false)")
    drop(pooled() & (not rules.pooled), "a pooled meta-analysis result (spec pooled = false)")
    drop(~table["design"].isin(POOLED_DESIGNS) & ~table["design"].isin(rules.designs), "design excluded by spec")
    drop(table["qualifier"] != "", "a bound ('>' or '<'), not a value")
    drop(table["estimate"].isna() & ~is_range(), "no estimate")
    drop(surv() & ~table["measure"].isin(["survival", "median", "hr"]), "measure not used for survival")
    drop((table["measure"] == "survival") & table["time_months"].isna(), "survival without a time point")
    drop(is_range() & ~surv("survival"),
         "a range of pooled estimates or of a secondary outcome: no study-level likelihood (no SEs, not study outcomes)")
    drop(pooled() & surv("median"), "pooled median: no rule (pooled landmarks and contrasts only)")
    has_hr_se = pd.Series([pool.hr_standard_error(r) > 0 for _, r in table.iterrows()], index=table.index, dtype=bool)
    drop(pooled() & surv("hr") & ~has_hr_se, "pooled hazard ratio without its CI, SE or p-value: no standard error")
    drop(pooled() & ~surv(), "pooled secondary-outcome result: secondary sub-models take arm-level counts only")
    if rules.missing_n == "exclude":
        median_without_ci = (table["measure"] == "median") & (table["interval"] != "ci95")  # with a CI, n is not needed
        needs_n = table["measure"].isin(["survival", "proportion"]) | median_without_ci
        drop(needs_n & table["n"].isna() & ~is_range(), "arm size n not reported (spec missing_n = \"exclude\")")
    is_los = table["outcome"] == "los"
    drop(table["outcome"].isin(spec.secondary_outcomes) & ~is_los & (table["measure"] != "proportion"), "secondary outcome measure not modelled")
    is_los = table["outcome"] == "los"
    drop(is_los & (table["measure"] != "mean"), "length of stay modelled from reported means only")
    is_los = table["outcome"] == "los"
    has_se = table["se"].notna() | ((table["interval"] == "ci95") & table["ci_low"].notna() & table["ci_high"].notna())
    drop(is_los & ~has_se, "mean length of stay without its SE or CI: no likelihood can be formed")
    table, overlap = pool.apply_overlap(table, spec.outcome, rules.overlap)
    table, dupes = pool.dedupe_pooled(table, spec.outcome, rules.pooled_subgroups, full=full)
    return table, excluded + overlap + dupes


def _censor_fraction(t, spec: SurvivalSpec):  # kept for callers of the old private name
    return censor_fraction(t, spec)


def make_design(evidence, spec: SurvivalSpec, *, totals: pd.DataFrame | None = None) -> SurvivalDesign:
    """Turn validated evidence and a survival spec into a :class:`SurvivalDesign`.

    Parameters
    ----------
    evidence : rhcc_bayes.evidence.Evidence
        Validated evidence (``.table`` and ``.taxonomy``).
    spec : SurvivalSpec
    totals : pandas.DataFrame, optional
        Known study totals (``study, total_n, arms``) for latent arm sizes; default
        ``data/study_totals.csv``.

    Returns
    -------
    SurvivalDesign
    """
    from rhcc_bayes.core import paths

    rules = spec.evidence
    structure = treatment_structure(evidence.taxonomy)
    table = evidence.table.copy()
    table["row_key"] = _row_key(table)
    if totals is None:
        totals = cnt.read_totals(paths.data_dir() / "study_totals.csv")
    latent_prior = cnt.latent_n_prior(table, spec)
    if isinstance(rules.missing_n, int):
        table["n"] = table["n"].fillna(float(rules.missing_n))
    rows, excluded = _select_rows(table, spec)

    surv = rows[rows["outcome"] == spec.outcome]
    is_pooled = surv["design"].isin(POOLED_DESIGNS) | (surv["interval"] == "range")
    hr_rows = surv[(surv["measure"] == "hr") & ~is_pooled]
    arm_rows = surv[(surv["measure"] != "hr") & ~is_pooled]
    range_src = surv[surv["interval"] == "range"]
    pooled_lm_src = surv[is_pooled & (surv["interval"] != "range") & (surv["measure"] == "survival")]
    pooled_hr_src = surv[is_pooled & (surv["interval"] != "range") & (surv["measure"] == "hr")]

    keys = list(dict.fromkeys(zip(arm_rows["study"], arm_rows["arm"])))
    if rules.hr_policy != "never":
        for _, r in hr_rows.iterrows():
            for key in ((r["study"], r["arm"]), (r["study"], r["comparator_arm"])):
                if key not in keys:
                    keys.append(key)
    study_level = len(keys)
    for src in (range_src, pooled_lm_src):
        keys += [k for k in dict.fromkeys(zip(src["study"], src["arm"])) if k not in keys]
    for _, r in pooled_hr_src.iterrows():
        for key in ((r["study"], r["arm"]), (r["study"], r["comparator_arm"])):
            if key not in keys:
                keys.append(key)
    first = table.drop_duplicates(["study", "arm"]).set_index(["study", "arm"])
    arms = pd.DataFrame(
        [{"study": s, "arm": a, "treatment": first.loc[(s, a), "treatment"],
          "n": first.loc[(s, a), "n"], **arm_covariates(first.loc[(s, a)]),
          "population": first.loc[(s, a), "population"],
          "level": "study" if i < study_level else "population"} for i, (s, a) in enumerate(keys)],
        columns=["study", "arm", "treatment", "n", *COVARIATES, "population", "level"],
    )
    studies = tuple(dict.fromkeys(arms.loc[arms["level"] == "study", "study"]))
    arms["t_index"] = [structure.treatments.index(t) for t in arms["treatment"]]
    arms["s_index"] = [studies.index(s) if lv == "study" else 0 for s, lv in zip(arms["study"], arms["level"])]
    arm_of = {k: i for i, k in enumerate(keys)}

    # arms whose n is needed but not reported get a latent n
    lm_src = arm_rows[arm_rows["measure"] == "survival"]
    med = arm_rows[arm_rows["measure"] == "median"]
    need = set(zip(lm_src["study"], lm_src["arm"])) | set(
        zip(med.loc[med["interval"] != "ci95", "study"], med.loc[med["interval"] != "ci95", "arm"]))
    need |= set(zip(pooled_lm_src["study"], pooled_lm_src["arm"]))
    entries = [(k[0], k[1], arm_of[k]) for k in keys if k in need and np.isnan(arms.at[arm_of[k], "n"])]
    sec = rows[rows["outcome"].isin(spec.secondary_outcomes) & (rows["outcome"] != "los")]
    if rules.missing_n == "latent":
        for k in dict.fromkeys(zip(sec.loc[sec["n"].isna(), "study"], sec.loc[sec["n"].isna(), "arm"])):
            if k not in {(e[0], e[1]) for e in entries}:
                entries.append((k[0], k[1], arm_of.get(k, -1) if k in arm_of and np.isnan(arms.at[arm_of[k], "n"]) else -1))
    else:
        sec = sec[sec["n"].notna()]
    latent, groups = cnt.latent_tables(entries, totals, table)
    latent_of = {a: i for i, a in enumerate(latent["arm_index"]) if a >= 0}
    latent_key = {(st_, ar): i for i, (st_, ar) in enumerate(zip(latent["study"], latent["arm"]))}

    landmarks = cnt.landmark_rows(lm_src, arm_of, latent_of, spec)
    medians = cnt.median_rows(med, arm_of, latent_of, spec, Z975)

    arm_level = set(landmarks["arm_index"]) | set(medians["arm_index"])
    hr_out, skipped = [], []
    for idx, r in hr_rows.iterrows():
        a, b = arm_of.get((r["study"], r["arm"])), arm_of.get((r["study"], r["comparator_arm"]))
        both = a in arm_level and b in arm_level
        se = pool.hr_standard_error(r)
        if rules.hr_policy == "never" or (rules.hr_policy == "arm_level_first" and both) or not (se > 0):
            skipped.append(idx)
            continue
        hr_out.append((a, b, float(np.log(r["estimate"])), float(se), False, r["row_key"]))
    if skipped:
        excluded.append(hr_rows.loc[skipped].assign(reason="HR not used: arm-level data for both arms, policy, or no CI"))
    for _, r in pooled_hr_src.iterrows():
        se = pool.hr_standard_error(r)
        hr_out.append((arm_of[(r["study"], r["arm"])], arm_of[(r["study"], r["comparator_arm"])],
                       float(np.log(r["estimate"])), float(se), True, r["row_key"]))
    hazard_ratios = pd.DataFrame(hr_out, columns=["arm_index", "comparator_index", "log_hr", "se", "pooled", "row_key"])

    ranges = pool.range_rows(range_src, arm_of, spec, latent_prior["median_n"])
    pooled_landmarks = pool.pooled_landmark_rows(pooled_lm_src, arm_of, latent_of, spec)

    los = rows[rows["outcome"] == "los"]
    stay = pd.DataFrame({
        "treatment_index": [structure.treatments.index(t) for t in los["treatment"]],
        "mean_days": los["estimate"].to_numpy(float),
        "se_days": los["se"].fillna((los["ci_high"] - los["ci_low"]) / (2 * Z975)).to_numpy(float),
        "row_key": los["row_key"].to_numpy(),
    })
    sec_studies = {s: i for i, s in enumerate(dict.fromkeys(sec["study"]))}
    secondary = pd.DataFrame({
        "outcome": sec["outcome"].to_numpy(),
        "treatment_index": [structure.treatments.index(t) for t in sec["treatment"]],
        "study": sec["study"].to_numpy(),
        "study_index": [sec_studies[s] for s in sec["study"]],
        "n": sec["n"].to_numpy(float),
        "events": np.round(sec["n"] * sec["estimate"]).to_numpy(float),  # NaN for a latent n
        "estimate": sec["estimate"].to_numpy(float),
        "latent": [latent_key.get(k, -1) if np.isnan(n) else -1
                   for k, n in zip(zip(sec["study"], sec["arm"]), sec["n"].to_numpy(float))],
        "row_key": sec["row_key"].to_numpy(),
    })

    how = _how(arms, landmarks, medians, hazard_ratios, ranges, pooled_landmarks, latent, secondary, stay)
    excluded_df = pd.concat(excluded) if excluded else table.iloc[:0].assign(reason="")
    leftover = rows[~rows["row_key"].isin(how) & ~rows.index.isin(excluded_df.index)]
    if len(leftover):
        excluded_df = pd.concat([excluded_df, leftover.assign(reason="no usable count after rounding")])
    used = table[table["row_key"].isin(how)].copy()
    used["how"] = used["row_key"].map(how)
    cuts = np.array([0.0, *spec.cuts_months, np.inf])  # read by the piecewise hazard family only
    bias_populations = tuple(p for p in ("primary", "mixed") if p in rules.populations)
    return SurvivalDesign(
        structure=structure, cuts=cuts, arms=arms, studies=studies, landmarks=landmarks, medians=medians,
        hazard_ratios=hazard_ratios, secondary=secondary, stay=stay, used=used, excluded=excluded_df,
        ranges=ranges, pooled_landmarks=pooled_landmarks, latent_n=latent, latent_groups=groups,
        latent_prior=latent_prior, bias_populations=bias_populations,
        options={"share_concentration": float(rules.share_concentration),
                 "add_between_study": 1.0 if rules.pooled_variance == "add_between_study" else 0.0},
    )


def _how(arms, landmarks, medians, hazard_ratios, ranges, pooled_landmarks, latent, secondary, stay) -> dict:
    """Audit trail: row_key -> how the row enters the likelihood."""
    latent_how = dict(zip(range(len(latent)), latent["how"]))  # noqa: F841 (also used below)

    def pop(a):
        p = arms.at[a, "population"]
        return "" if p == "recurrent" else f"; population={p} (bias term)"

    how = {}
    for r in landmarks.itertuples():
        size = latent_how[r.latent] if r.latent >= 0 else f"n known, {int(r.at_risk)} at risk"
        how[r.row_key] = f"landmark S({r.t:g}), {size}{pop(r.arm_index)}"
    for r in medians.itertuples():
        if not np.isnan(r.se_log):
            size = "log-normal with SE from its CI"
        else:
            size = latent_how[r.latent] if r.latent >= 0 else f"n known, {int(r.at_risk)} at risk"
        how[r.row_key] = f"median, {size}{pop(r.arm_index)}"
    for r in hazard_ratios.itertuples():
        kind = "pooled contrast (log HR on the treatments' means)" if r.pooled else "hazard ratio within study"
        how[r.row_key] = f"{kind}{pop(r.arm_index)}"
    for r in ranges.itertuples():
        how[r.row_key] = f"range k={r.k}{' (assumed)' if r.k_assumed else ''} (min/max order statistics){pop(r.arm_index)}"
    for r in pooled_landmarks.itertuples():
        size = latent_how[r.latent] if r.latent >= 0 else f"pooled n {r.n:g}"
        how[r.row_key] = f"pooled landmark S({r.t:g}) on the average population, {size}{pop(r.arm_index)}"
    for r in secondary.itertuples():
        size = latent["how"].iloc[r.latent] if r.latent >= 0 else f"binomial, n={r.n:g}"
        how[r.row_key] = f"{r.outcome} proportion, {size}"
    for r in stay.itertuples():
        how[r.row_key] = "length of stay, normal with SE"
    return how
