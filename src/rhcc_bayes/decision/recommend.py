"""One call from a posterior and a patient profile to an honest treatment decision.

Orchestration only (numpy/xarray/pandas on posterior draws): eligibility rules
(:mod:`rhcc_bayes.decision.eligibility`), exact survival summaries of the spec's hazard family
(:mod:`rhcc_bayes.survival.summary`), decision statistics (:mod:`rhcc_bayes.decision.stats`), honesty
flags (:mod:`rhcc_bayes.decision.honesty`) and the result object (:mod:`rhcc_bayes.decision.result`).

:func:`decide_profile` returns a :class:`DecisionResult` holding

- the eligibility table (every treatment, status, reasons, citations); excluded
  treatments are listed with their reasons, never silently dropped;
- posterior survival draws (dims chain, draw, treatment, time) for the candidate
  (eligible + conditional) treatments;
- the decision table: RMST, S(12/36/60), median survival, each with its 95% credible
  interval; P(best), expected loss and SUCRA among the candidates; EVPI with the
  interval of the opportunity loss it averages;
- honesty flags per treatment: studies/arms/patients in the likelihood informing it,
  "class prior only" when none of its arms is in the likelihood, and extrapolation
  warnings when the profile lies outside the subgroups its evidence studied;
- the diagnostics-gate warning of the posterior, if any.

:func:`decide_cohort_table` does the same for a cohort, vectorised through
:func:`rhcc_bayes.decision.cohort.decide_cohort` (one model evaluation per distinct covariate
pattern and candidate set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS, is_horizon
from rhcc_bayes.decision.honesty import (
    NOT_AN_OPTION,
    arm_records,
    choosable_treatments,
    support_tables,
    treatment_flags,
)
from rhcc_bayes.decision.result import CI, LANDMARKS, DecisionResult
from rhcc_bayes.decision.utility import Utility, load_utility, utility_draws
from rhcc_bayes.survival.covariates import DEFAULT_LEVEL_MODE, reported_levels


def _evpi(u: np.ndarray, ci: float = CI) -> dict:
    """EVPI from utility draws ``u[sample, J]`` with the interval of the opportunity loss."""
    if u.size == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "mcse": float("nan")}
    chosen = int(np.argmax(u.mean(axis=0)))
    loss = u.max(axis=1) - u[:, chosen]
    a = (1 - ci) / 2
    lo, hi = np.quantile(loss, [a, 1 - a])
    return {"mean": float(max(loss.mean(), 0.0)), "lo": float(lo), "hi": float(hi),
            "mcse": float(loss.std(ddof=1) / np.sqrt(loss.size)) if loss.size > 1 else float("nan")}


def _provenance(idata) -> dict:
    keys = ("spec_name", "spec_hash", "evidence_hash", "seed", "backend", "chains", "draws", "tune",
            "gate_passed", "cache_key", "n_arms", "n_studies", "hazard")
    out = {k: idata.attrs.get(k) for k in keys if k in idata.attrs}
    for k, v in idata.attrs.items():
        if k.endswith("_version") or k in ("arviz_version", "inference_library", "inference_library_version"):
            out[k] = v
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in out.items()}


def decide_profile(idata, profile, *, horizon: float = 60, population: str = "average",
                   utility: Utility | str | Path | None = None, seed: int = 0, design=None,
                   ci: float = CI, levels: str = DEFAULT_LEVEL_MODE) -> DecisionResult:
    """Eligibility, posterior expected survival and decision summaries for one profile.

    Parameters
    ----------
    idata : arviz.InferenceData
        A survival posterior from :func:`rhcc_bayes.workflow.fit_synthesis`.
    profile : PatientProfile
    horizon : float
        RMST horizon and curve end (months); must be >= 60 for the S60 landmark to be
        reported (shorter horizons drop the landmarks beyond them).
    population : {"average", "new"}
        Average study population, or a new study population (between-study random
        effect integrated out: wider intervals).
    utility : Utility or path, optional
        Quality adjustment (see :func:`load_utility`); the decision criterion becomes QA-RMST.
    seed : int
        Seed for the new-population random effect.
    design : SurvivalDesign, optional
        For the evidence counts and flags (default: read from ``idata.attrs`` when
        stored by :func:`attach_support`).
    levels : {"profile", "reported"}
        "profile" (default) keeps the profile's covariate levels; a level no arm reports
        gets its prior-driven effect and a note. "reported" predicts such a level at the
        reference "nr" (the all-comer cohorts that include the patient); see
        :func:`rhcc_bayes.survival.covariates.reported_levels`.

    Returns
    -------
    DecisionResult
    """
    from rhcc_bayes.decision.eligibility import assess_eligibility
    from rhcc_bayes.decision.stats import decision_table, modality_table
    from rhcc_bayes.inference.diagnostics import gate_banner
    from rhcc_bayes.survival.summary import extrapolation_note, survival_summary

    if "mu" not in idata.posterior or "treatment_modality" not in getattr(idata, "constant_data", {}):
        raise UserError("this posterior is not a survival synthesis (no mu / treatment structure); "
                        "decisions need a survival spec")
    if not is_horizon(horizon):
        raise UserError(f"horizon must be a number of months in (0, {MAX_HORIZON_MONTHS:g}], got {horizon!r}")
    if isinstance(utility, (str, Path)):
        utility = load_utility(utility)
    horizon = float(horizon)
    landmarks = tuple(t for t in LANDMARKS if t <= horizon)
    treatments = idata.posterior["mu"].treatment.values.tolist()
    elig = assess_eligibility(profile, treatments)
    candidates = elig.allowed()
    ranked = choosable_treatments(candidates)  # pooled mixtures: reported, never ranked
    support, arm_table = support_tables(idata, design)
    cov, level_notes = reported_levels(profile.model_covariates(), arm_records(arm_table), levels)
    surv = survival_summary(idata, cov, horizon=horizon, landmarks=landmarks, population=population, seed=seed,
                            treatments=candidates)
    criterion = "RMST"
    util_da = None
    if utility is not None and candidates:
        util_da = utility_draws(idata, surv["rmst"], utility)
        surv["utility"] = util_da
        criterion = "QA-RMST"
    modality = dict(zip(treatments, idata.constant_data["treatment_modality"].values.tolist()))
    is_abl = dict(zip(treatments, idata.constant_data["is_ablation"].values.astype(bool).tolist()))

    honesty_rows = []
    for v in elig:
        cp, ex, msgs = treatment_flags(profile, v.treatment, is_abl[v.treatment], support, arm_table)
        srow = support.loc[v.treatment] if support is not None and v.treatment in support.index else None
        honesty_rows.append({
            "treatment": v.treatment, "modality": modality[v.treatment], "status": v.status,
            "studies": int(srow["studies"]) if srow is not None else (0 if support is not None else np.nan),
            "arms": int(srow["arms"]) if srow is not None else (0 if support is not None else np.nan),
            "patients": int(srow["patients"]) if srow is not None else (0 if support is not None else np.nan),
            "class_prior_only": cp, "extrapolation": ex, "flags": "; ".join(msgs),
        })
    honesty = pd.DataFrame(honesty_rows)
    honesty["ranked"] = honesty["treatment"].isin(ranked)
    excluded = elig.to_frame()
    excluded = excluded[excluded["status"] == "excluded"][["treatment", "reasons", "citations"]].reset_index(drop=True)

    modalities = None
    if candidates:
        table = decision_table(surv.drop_vars("survival"), utility=util_da, ci=ci, candidates=ranked,
                               modalities=modality)
        table = table.drop(columns=["candidate"])
        crit = "utility" if util_da is not None else "rmst"
        u = surv[crit].sel(treatment=ranked).transpose("chain", "draw", "treatment").values.reshape(-1, len(ranked))
        evpi = _evpi(u, ci)
        modalities = modality_table(u, ranked, [modality[t] for t in ranked])
        table = table.merge(honesty.drop(columns=["flags", "modality", "ranked"]), on="treatment", how="left")
        table["flags"] = table["treatment"].map(dict(zip(honesty["treatment"], honesty["flags"])))
        table.loc[~table["treatment"].isin(ranked), "status"] = NOT_AN_OPTION
        table["_ranked"] = table["treatment"].isin(ranked)
        table = (table.sort_values(["_ranked", f"{crit}_mean"], ascending=False, kind="stable")
                 .drop(columns=["_ranked"]).reset_index(drop=True))
    else:
        table = pd.DataFrame(columns=["treatment", "status", "rmst_mean", "rmst_lo", "rmst_hi", "median_med",
                                      "median_lo", "median_hi", "p_best", "expected_loss", "mean_rank", "sucra",
                                      "evpi", "arms", "class_prior_only", "extrapolation", "flags"])
        evpi = _evpi(np.empty((0, 0)))
    table.attrs.update(ci=ci, horizon=horizon, criterion=criterion, population=population)
    return DecisionResult(
        profile=profile, eligibility=elig, survival=surv, table=table, honesty=honesty, excluded=excluded,
        evpi=evpi, horizon=horizon, population=population, criterion=criterion,
        utility_description=utility.describe() if utility is not None else "",
        gate_warning=gate_banner(idata),
        provenance={**_provenance(idata), "covariate_levels": cov, "covariate_notes": level_notes},
        extrapolation=extrapolation_note(idata, horizon, landmarks), modalities=modalities,
    )


def decide_cohort_table(idata, cohort, *, horizon: float = 60, population: str = "average", seed: int = 0,
                        design=None, ci: float = CI, levels: str = DEFAULT_LEVEL_MODE) -> pd.DataFrame:
    """Tidy decision table for every profile of a cohort (RMST criterion).

    Profiles sharing model covariates and candidate set are computed once
    (:func:`rhcc_bayes.decision.cohort.decide_cohort`). Columns: exactly :data:`CSV_COLUMNS`
    (the same as ``DecisionResult.to_csv_frame``): ``profile``, ``treatment``, ``modality``,
    ``status`` (eligible / conditional / "reported (not an option)" for pooled mixtures /
    excluded), ``candidate`` (eligible or conditional), ``ranked`` (a candidate that is a real
    option: only these get decision numbers), survival summaries with 95% CrI, ``p_best``,
    ``expected_loss``, ``mean_rank``, ``sucra``, ``modality_p_best``,
    ``modality_expected_loss``, ``evpi``, evidence counts, flags, ``horizon``, ``population``,
    ``criterion`` and ``gate_warning``.
    """
    from rhcc_bayes.decision.cohort import CohortDecider

    cohort = list(cohort)
    if not cohort:
        raise UserError("the cohort has no patients")
    return CohortDecider(idata, horizon=horizon, population=population, seed=seed, design=design, ci=ci,
                         levels=levels).table(cohort)
