"""What of the likelihood informs each treatment: arms, studies, patients and covered subgroups.

Computed once from a :class:`~rhcc_bayes.survival.design.SurvivalDesign` and stored in the
posterior file (``attrs["evidence_support_json"]`` per treatment, ``attrs["evidence_arms_json"]``
per arm with its inclusion limits) so that decisions from a saved posterior keep their
honesty flags. Coverage of a patient by an arm is decided by
:func:`rhcc_bayes.survival.covariates.coverage_gaps`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from rhcc_bayes.survival.covariates import ARM_DESCRIPTORS

SUPPORT_COLUMNS = ["studies", "arms", "patients", "size_max_cm", "size_unstated_arms", "size_bands",
                   "nodularity", "recurrence", "prior", "recurrent_arms", "borrowed_arms", "population_summaries",
                   "latent_n_arms"]

ARM_SUPPORT_COLUMNS = ["study", "arm", "treatment", "n", *ARM_DESCRIPTORS]


def evidence_support(design) -> pd.DataFrame:
    """Per treatment: what of the likelihood informs it.

    Columns: ``studies``, ``arms``, ``patients`` (arms and patients in the likelihood),
    ``size_max_cm`` (largest stated upper size limit among its arms, NaN if none),
    ``size_unstated_arms`` (arms with no upper size limit), and the sets of covariate
    levels its arms cover (``size_bands``, ``nodularity``, ``recurrence``, ``prior``;
    joined with ``;``; population-level evidence such as a meta-analysis' <= 3 cm subgroup
    contrast counts as covering its level). How much the estimate leans on borrowed evidence:
    ``recurrent_arms`` / ``borrowed_arms`` (study arms of recurrent vs primary/mixed
    populations, the latter through the population bias term), ``population_summaries``
    (ranges and pooled results about the treatment, population-level evidence) and
    ``latent_n_arms`` (arms entering with a latent n).
    """
    all_arms = design.arms.copy()
    level = all_arms["level"] if "level" in all_arms else pd.Series("study", index=all_arms.index)
    arms = all_arms[level != "population"].copy()
    population_rows = {}
    for tbl in ("ranges", "pooled_landmarks", "hazard_ratios"):
        df = getattr(design, tbl, None)
        if df is None or not len(df):
            continue
        for col in ("arm_index", "comparator_index"):
            if col in df:
                for a in df[col]:
                    if level.iloc[int(a)] == "population":
                        trt = all_arms.at[int(a), "treatment"]
                        population_rows[trt] = population_rows.get(trt, 0) + 1
    latent = set(getattr(design, "latent_n", pd.DataFrame(columns=["arm_index"]))["arm_index"])
    table = design.used if len(design.used) else design.arms
    limits = {}
    if "size_max_cm" in table:
        for (s, a), g in table.groupby(["study", "arm"]):
            limits[(s, a)] = float(g["size_max_cm"].max()) if g["size_max_cm"].notna().any() else np.nan
    arms["size_max_cm"] = [limits.get((s, a), np.nan) for s, a in zip(arms["study"], arms["arm"])]
    levels_of = {trt: {c: ";".join(sorted(set(g[c]))) for c in ("size_band", "nodularity", "recurrence", "prior")}
                 for trt, g in all_arms.groupby("treatment")}
    rows = {}
    for trt, g in arms.groupby("treatment"):
        pop = g["population"] if "population" in g else pd.Series("recurrent", index=g.index)
        rows[trt] = {
            "studies": int(g["study"].nunique()),
            "arms": int(len(g)),
            "patients": int(g["n"].fillna(0).sum()),
            "size_max_cm": float(g["size_max_cm"].max()) if g["size_max_cm"].notna().any() else np.nan,
            "size_unstated_arms": int(g["size_max_cm"].isna().sum()),
            **levels_of[trt],
            "recurrent_arms": int((pop == "recurrent").sum()),
            "borrowed_arms": int((pop != "recurrent").sum()),
            "population_summaries": int(population_rows.get(trt, 0)),
            "latent_n_arms": int(sum(i in latent for i in g.index)),
        }
    for trt, k in population_rows.items():  # treatments informed only by population-level evidence
        if trt not in rows:
            rows[trt] = {"studies": 0, "arms": 0, "patients": 0, "size_max_cm": np.nan, "size_unstated_arms": 0,
                         **levels_of[trt], "recurrent_arms": 0,
                         "borrowed_arms": 0, "population_summaries": int(k), "latent_n_arms": 0}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df = df.rename(columns={"size_band": "size_bands"}).reindex(columns=SUPPORT_COLUMNS)
    df.index.name = "treatment"
    return df


def support_from_idata(idata) -> pd.DataFrame | None:
    """Support stored in the posterior by :func:`attach_support` (None when absent)."""
    raw = idata.attrs.get("evidence_support_json")
    if not raw:
        return None
    df = pd.DataFrame(json.loads(raw)).set_index("treatment")
    return df.reindex(columns=SUPPORT_COLUMNS)


def arm_support(design) -> pd.DataFrame:
    """One row per arm in the likelihood: study, arm, treatment, n and its inclusion limits.

    The limits (:data:`~rhcc_bayes.survival.covariates.ARM_DESCRIPTORS`) are the first
    stated value among the arm's rows used by the model (NaN / "" when none states one).
    """
    arms = design.study_arms[["study", "arm", "treatment", "n"]].copy()
    table = design.used if len(design.used) else None
    for col in ARM_DESCRIPTORS:
        numeric = col.endswith("_cm") or col == "nodules_max"
        values = {}
        if table is not None and col in table:
            for (s, a), g in table.groupby(["study", "arm"]):
                v = g[col]
                v = v[v.notna() & (v.astype(str) != "")]
                values[(s, a)] = v.iloc[0] if len(v) else (np.nan if numeric else "")
        arms[col] = [values.get((s, a), np.nan if numeric else "") for s, a in zip(arms["study"], arms["arm"])]
        arms[col] = arms[col].astype(float) if numeric else arms[col].astype(str)
    if getattr(design, "ipd", None) is not None:  # IPD arms: one record per covariate pattern of their patients
        from rhcc_bayes.survival.ipd import ipd_arm_records

        ipd = design.ipd.arms
        own = pd.Series(list(zip(arms["study"], arms["arm"]))).isin(set(zip(ipd["study"], ipd["arm"]))).to_numpy()
        arms = pd.concat([arms[~own], ipd_arm_records(design)], ignore_index=True)
    return arms.reset_index(drop=True)[ARM_SUPPORT_COLUMNS]


def arm_support_from_idata(idata) -> pd.DataFrame | None:
    """Per-arm support stored in the posterior by :func:`attach_support` (None when absent)."""
    raw = idata.attrs.get("evidence_arms_json")
    if not raw:
        return None
    df = pd.DataFrame(json.loads(raw)).reindex(columns=ARM_SUPPORT_COLUMNS)
    for col in ARM_DESCRIPTORS:
        numeric = col.endswith("_cm") or col == "nodules_max"
        df[col] = df[col].astype(float) if numeric else df[col].fillna("").astype(str)
    return df


def attach_support(idata, design) -> None:
    """Store :func:`evidence_support` and :func:`arm_support` in ``idata.attrs`` (a saved posterior carries them)."""
    idata.attrs["evidence_support_json"] = evidence_support(design).reset_index().to_json(orient="records")
    idata.attrs["evidence_arms_json"] = arm_support(design).to_json(orient="records")
