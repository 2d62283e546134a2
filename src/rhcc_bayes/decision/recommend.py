"""One call from a posterior and a patient profile to an honest treatment decision.

Orchestration only (numpy/xarray/pandas on posterior draws): eligibility rules
(:mod:`rhcc_bayes.eligibility`), the profile's log hazards (:mod:`rhcc_bayes.predict`),
closed-form survival summaries and decision statistics (:mod:`rhcc_bayes.decide`).

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
:func:`rhcc_bayes.decide.decide_cohort` (one model evaluation per distinct covariate
pattern and candidate set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.decision.utility import Utility, load_utility, utility_draws
from rhcc_bayes.survival.covariates import (
    DEFAULT_LEVEL_MODE,
    SIZE_BAND,
    coverage_gaps,
    reported_levels,
)
from rhcc_bayes.survival.support import (
    arm_support,
    arm_support_from_idata,
    evidence_support,
    support_from_idata,
)

SIZE_BAND_LABEL = dict(SIZE_BAND.level_labels)

LANDMARKS = (12, 36, 60)
CI = 0.95


def _support_tables(idata, design) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(per-treatment support, per-arm inclusion limits) from the design or the posterior file."""
    if design is not None:
        return evidence_support(design), arm_support(design)
    return support_from_idata(idata), arm_support_from_idata(idata)


def _records(arm_table: pd.DataFrame | None) -> list[dict] | None:
    return None if arm_table is None else arm_table.to_dict(orient="records")


def _flags(profile, trt: str, is_ablation: bool, support: pd.DataFrame | None,
           arms: pd.DataFrame | None) -> tuple[bool, bool, list[str]]:
    """(class_prior_only, extrapolation, messages) for one treatment.

    Extrapolation means the profile lies outside what the evidence covers: no arm of the
    treatment includes the patient within its stated inclusion limits (size, number of
    nodules, recurrence timing, prior treatment; an arm stating no limit, e.g. an
    all-comer cohort, includes every patient). For a class-prior-only treatment the
    arms of every treatment are checked, since its covariate effects come from them.
    """
    if support is None or arms is None:
        return False, False, ["evidence counts unavailable (posterior without design)"]
    own = arms[arms["treatment"] == trt]
    if trt not in support.index or int(support.loc[trt, "arms"]) == 0 or own.empty:
        summaries = support.loc[trt].get("population_summaries", 0) if trt in support.index else 0
        if not pd.isna(summaries) and int(summaries) > 0:  # ranges / pooled results, no study arm
            msgs = [f"no study arm: informed by {int(summaries)} population-level summary(ies) (ranges or pooled "
                    "results) and its modality class"]
        else:
            msgs = ["class prior only: no arm of this treatment is in the likelihood; its estimate is its "
                    "modality class's mean plus prior spread"]
        gaps = coverage_gaps(profile, arms.to_dict(orient="records")) if len(arms) else []
        if gaps:
            msgs.append("extrapolation: outside every arm of every treatment (" + "; ".join(gaps)
                        + "): covariate effects prior-only")
        return msgs[0].startswith("class prior only"), bool(gaps), msgs
    gaps = coverage_gaps(profile, own.to_dict(orient="records"))
    if not gaps:
        return False, False, []
    if is_ablation and any(g.startswith("tumour") for g in gaps):
        gaps = [g + " (ablation x size interaction prior-driven)" if g.startswith("tumour") else g for g in gaps]
    return False, True, ["extrapolation: profile outside the inclusion limits of its arms (" + "; ".join(gaps)
                         + "); effects from the covariate model, mostly prior-driven"]


NOT_AN_OPTION = "reported (not an option)"


def choosable_treatments(codes) -> list[str]:
    """The codes a clinician can choose: pooled mixtures (taxonomy ``choosable = no``, e.g.
    MIXED-LRT, ABLATION with unspecified technique) are reported but never ranked."""
    try:
        tax = _bundled_taxonomy()
    except Exception:  # no readable taxonomy: every code counts as a choice
        return list(codes)
    return [c for c in codes if tax.choosable(c)]


def _bundled_taxonomy():
    global _TAXONOMY
    if _TAXONOMY is None:
        from rhcc_bayes.evidence.taxonomy import load_taxonomy

        _TAXONOMY = load_taxonomy()
    return _TAXONOMY


_TAXONOMY = None


def shared_prior_groups(honesty: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(modality, treatments) for ranked options that share only their class prior.

    Two or more class-prior-only options of one class have identical posteriors up to
    Monte Carlo noise: the data cannot tell them apart and a split P(best) between them
    says nothing about which is better.
    """
    if honesty is None or honesty.empty or "class_prior_only" not in honesty:
        return []
    live = honesty[(honesty["status"] != "excluded") & honesty["class_prior_only"].astype(bool)]
    if "ranked" in live:
        live = live[live["ranked"].astype(bool)]
    return [(str(m), g["treatment"].tolist()) for m, g in live.groupby("modality", sort=False) if len(g) >= 2]


def shared_prior_sentences(honesty: pd.DataFrame) -> list[str]:
    """Plain sentences for :func:`shared_prior_groups`."""
    out = []
    for mod, names in shared_prior_groups(honesty):
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        out.append(f"{listed} have no data of their own: each is the {mod} class mean plus the same prior spread, "
                   "so the evidence cannot tell them apart (their P(best) split is noise, not a difference); "
                   "compare the modality rows instead.")
    return out


# --- result ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DecisionResult:
    """Everything :func:`decide_profile` found; see the module docstring.

    Attributes
    ----------
    profile : PatientProfile
    eligibility : EligibilityTable
    survival : xr.Dataset
        ``survival`` (chain, draw, treatment, time) plus ``rmst``, ``s12``, ``s36``,
        ``s60``, ``median`` draws (and ``utility`` when a utility was given), for the
        candidate treatments only.
    table : pandas.DataFrame
        One row per candidate treatment, best expected utility first: summaries with
        95% CrI (``*_mean``/``*_med``, ``*_lo``, ``*_hi``), ``p_best``,
        ``expected_loss``, ``mean_rank``, ``sucra``, ``status``, evidence counts and flags.
    honesty : pandas.DataFrame
        One row per treatment of the posterior (candidates and excluded): status,
        studies, arms, patients, ``class_prior_only``, ``extrapolation``, ``flags``.
    excluded : pandas.DataFrame
        Excluded treatments with reasons and citations.
    evpi : dict
        ``mean`` (EVPI, months), ``lo``/``hi`` (95% interval of the per-draw opportunity
        loss of the chosen treatment, whose mean EVPI is) and ``mcse``.
    extrapolation : str
        Empty, or which of the horizon and landmarks lie beyond the last time the
        evidence observed and what the hazard family assumes there.
    modalities : pandas.DataFrame
        The decision between modality classes (ablation vs surgery vs transarterial ...):
        per draw a class is worth its best ranked option; ``modality``, ``options``,
        ``leading``, ``utility_mean``, ``p_best``, ``expected_loss``.
    """

    profile: object
    eligibility: object
    survival: xr.Dataset
    table: pd.DataFrame
    honesty: pd.DataFrame
    excluded: pd.DataFrame
    evpi: dict
    horizon: float
    population: str
    criterion: str
    utility_description: str
    gate_warning: str
    provenance: dict
    extrapolation: str = ""  # times beyond the evidence's last observed time and what the family assumes there
    modalities: pd.DataFrame | None = None

    @property
    def best(self) -> str | None:
        """Ranked option with the highest posterior expected utility (None without one)."""
        ranked = self.ranked
        return None if ranked.empty else str(ranked["treatment"].iloc[0])

    @property
    def candidates(self) -> list[str]:
        return self.table["treatment"].tolist()

    @property
    def ranked(self) -> pd.DataFrame:
        """The rows that are real options (pooled mixtures, reported only, are left out)."""
        if "status" not in self.table:
            return self.table
        return self.table[self.table["status"] != NOT_AN_OPTION]

    def to_csv_frame(self) -> pd.DataFrame:
        """The decision as :data:`CSV_COLUMNS` rows: ranked options, reported-only mixtures, then
        excluded treatments (with their reasons in ``flags``); same columns as the cohort CSV."""
        t = self.table.copy()
        t["candidate"] = True
        t["ranked"] = t["status"] != NOT_AN_OPTION if "status" in t else True
        if len(self.excluded):
            h = self.honesty.set_index("treatment")
            ex = pd.DataFrame({"treatment": self.excluded["treatment"], "status": "excluded", "candidate": False,
                               "ranked": False})
            for col in ("modality", "studies", "arms", "patients", "class_prior_only", "extrapolation"):
                if col in h:
                    ex[col] = ex["treatment"].map(h[col])
            ex["flags"] = ["excluded: " + str(r) for r in self.excluded["reasons"]]
            t = pd.concat([t, ex], ignore_index=True) if len(t) else ex
        t["profile"] = self.profile.id
        t["horizon"] = self.horizon
        t["population"] = self.population
        t["criterion"] = self.criterion
        t["gate_warning"] = self.gate_warning
        return csv_frame(t)

    @property
    def modality_table(self) -> pd.DataFrame:
        return self.modalities if self.modalities is not None else pd.DataFrame(
            columns=["modality", "options", "leading", "utility_mean", "p_best", "expected_loss"])

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers become None; median beyond horizon noted)."""
        def clean(v):
            if isinstance(v, (np.floating, float)):
                return float(v) if math.isfinite(v) else None
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.bool_,)):
                return bool(v)
            return v

        def records(df):
            return [{k: clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]

        return {
            "profile": {k: clean(v) for k, v in self.profile.to_dict().items()},
            "model_covariates": self.profile.model_covariates(),
            "horizon_months": self.horizon,
            "population": self.population,
            "criterion": self.criterion,
            "utility": self.utility_description,
            "credible_interval": CI,
            "best": self.best,
            "evpi": {k: clean(v) for k, v in self.evpi.items()},
            "decision": records(self.table),
            "modality_decision": records(self.modality_table),
            "not_an_option": [t for t, st in zip(self.table.get("treatment", []), self.table.get("status", []))
                              if st == NOT_AN_OPTION],
            "indistinguishable": [{"modality": m, "treatments": names}
                                  for m, names in shared_prior_groups(self.honesty)],
            "eligibility": records(self.eligibility.to_frame()),
            "honesty": records(self.honesty),
            "excluded": records(self.excluded),
            "gate_warning": self.gate_warning,
            "extrapolation_beyond_evidence": self.extrapolation,
            "provenance": {k: clean(v) for k, v in self.provenance.items()},
            "notes": "median_med = inf (null in JSON) means S(t) stays above 0.5 to the horizon",
        }

    def to_text(self) -> str:
        """Plain-text report for the terminal: every number with its 95% CrI."""
        lines = []
        if self.gate_warning:
            lines += ["!" * 78, self.gate_warning, "!" * 78, ""]
        p = self.profile
        levels = self.provenance.get("covariate_levels", self.profile.model_covariates())
        lines.append(f"Profile {p.id}: model covariates {levels}; "
                     f"{self.population} study population; horizon {self.horizon:g} months")
        lines += [f"  note: {n}" for n in self.provenance.get("covariate_notes", [])]
        lines.append(f"Criterion: {self.criterion}" + (f" ({self.utility_description})" if self.utility_description else ""))
        if self.extrapolation:
            lines.append(f"Beyond the evidence: {self.extrapolation}")
        lines.append("")
        lines.append(format_table(self.table, self.horizon).to_string(index=False))
        lines.append("")
        ev = self.evpi
        if ev.get("mean") is not None and not np.isnan(ev["mean"]):
            lines.append(f"EVPI: {ev['mean']:.2f} months (opportunity loss 95% interval "
                         f"[{ev['lo']:.2f}, {ev['hi']:.2f}], MCSE {ev['mcse']:.2f})")
        if self.best:
            lines.append(f"Highest expected {self.criterion}: {self.best} (P(best) "
                         f"{self.table['p_best'].iloc[0]:.2f}); research use only, not a clinical decision on its own")
        mixtures = [t for t in self.table["treatment"][self.table["status"] == NOT_AN_OPTION]] \
            if "status" in self.table else []
        if mixtures:
            lines.append(f"Reported, not an option (pooled mixtures, never ranked): {', '.join(mixtures)}")
        mt = self.modality_table
        if len(mt) > 1:
            lines += ["", "By modality (a class is worth its best option in each draw):",
                      format_modality_table(mt, self.criterion).to_string(index=False)]
        for sentence in shared_prior_sentences(self.honesty):
            lines.append("Indistinguishable: " + sentence)
        flagged = self.honesty[self.honesty["flags"] != ""]
        flagged = flagged[flagged["status"] != "excluded"]
        if len(flagged):
            lines += ["", "Honesty flags:"]
            lines += [f"  {r.treatment}: {r.flags}" for r in flagged.itertuples()]
        if len(self.excluded):
            lines += ["", "Excluded (not ranked):"]
            lines += [f"  {r.treatment}: {r.reasons}" + (f" [refs {r.citations}]" if r.citations else "")
                      for r in self.excluded.itertuples()]
        return "\n".join(lines)


def _fmt_ci(point, lo, hi, digits, pct=False):
    def f(x):
        if x is None or (isinstance(x, float) and np.isnan(x)):
            return "NA"
        if np.isinf(x):
            return ">{h}"  # horizon filled in by the caller
        return f"{x * 100:.{digits}f}%" if pct else f"{x:.{digits}f}"
    return f"{f(point)} [{f(lo)}, {f(hi)}]"


def format_table(table: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Human-readable decision table (strings: estimate [95% CrI])."""
    out = pd.DataFrame({"treatment": table["treatment"], "status": table["status"]})
    h = f"{horizon:g}"
    out[f"RMST{h} (mo)"] = [_fmt_ci(a, b, c, 1) for a, b, c in zip(table.rmst_mean, table.rmst_lo, table.rmst_hi)]
    if "utility_mean" in table:
        out["QA-RMST (mo)"] = [_fmt_ci(a, b, c, 1) for a, b, c in
                               zip(table.utility_mean, table.utility_lo, table.utility_hi)]
    for t in LANDMARKS:
        if f"s{t}_mean" in table:
            out[f"S{t}"] = [_fmt_ci(a, b, c, 0, pct=True) for a, b, c in
                            zip(table[f"s{t}_mean"], table[f"s{t}_lo"], table[f"s{t}_hi"])]
    out["median (mo)"] = [_fmt_ci(a, b, c, 1).replace("{h}", h) for a, b, c in
                          zip(table.median_med, table.median_lo, table.median_hi)]
    def num(v):
        return "-" if pd.isna(v) else f"{v:.2f}"

    out["P(best)"] = table["p_best"].map(num)
    out["exp. loss (mo)"] = table["expected_loss"].map(num)
    out["SUCRA"] = table["sucra"].map(num)
    out["arms"] = table["arms"].map(lambda v: "NA" if pd.isna(v) else f"{int(v)}")
    out["flags"] = [("class prior only" if cp else "") + ("; " if cp and ex else "") + ("extrapolation" if ex else "")
                    for cp, ex in zip(table["class_prior_only"], table["extrapolation"])]
    return out


#: The one column set of every decision CSV (``decide --format csv``, ``decide --cohort``, the
#: report's ``decision.csv``): one row per patient x treatment, excluded treatments included.
CSV_COLUMNS: tuple[str, ...] = (
    "profile", "treatment", "modality", "status", "candidate", "ranked",
    "rmst_mean", "rmst_lo", "rmst_hi", "utility_mean", "utility_lo", "utility_hi",
    *(f"s{t}_{k}" for t in LANDMARKS for k in ("mean", "lo", "hi")),
    "median_med", "median_lo", "median_hi",
    "p_best", "expected_loss", "mean_rank", "sucra", "modality_p_best", "modality_expected_loss", "evpi",
    "studies", "arms", "patients", "class_prior_only", "extrapolation", "flags",
    "horizon", "population", "criterion", "gate_warning",
)


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly :data:`CSV_COLUMNS` (missing ones empty), in that order."""
    return df.reindex(columns=list(CSV_COLUMNS))


def format_modality_table(mt: pd.DataFrame, criterion: str = "RMST") -> pd.DataFrame:
    """Human-readable modality-level decision table."""
    return pd.DataFrame({
        "modality": mt["modality"], "options": mt["options"], "leading option": mt["leading"],
        f"its {criterion} (mo)": mt["utility_mean"].map(lambda v: f"{v:.1f}"),
        "P(best class)": mt["p_best"].map(lambda v: f"{v:.2f}"),
        "exp. loss (mo)": mt["expected_loss"].map(lambda v: f"{v:.2f}"),
    })


# --- main entry -----------------------------------------------------------------------
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
    if not (isinstance(horizon, (int, float)) and 0 < horizon <= 240):
        raise UserError(f"horizon must be a number of months in (0, 240], got {horizon!r}")
    if isinstance(utility, (str, Path)):
        utility = load_utility(utility)
    horizon = float(horizon)
    landmarks = tuple(t for t in LANDMARKS if t <= horizon)
    treatments = idata.posterior["mu"].treatment.values.tolist()
    elig = assess_eligibility(profile, treatments)
    candidates = elig.allowed()
    ranked = choosable_treatments(candidates)  # pooled mixtures: reported, never ranked
    support, arm_table = _support_tables(idata, design)
    cov, level_notes = reported_levels(profile.model_covariates(), _records(arm_table), levels)
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
        cp, ex, msgs = _flags(profile, v.treatment, is_abl[v.treatment], support, arm_table)
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
    from rhcc_bayes.decision.cohort import decide_cohort
    from rhcc_bayes.inference.diagnostics import gate_banner
    from rhcc_bayes.survival.summary import survival_summary

    horizon = float(horizon)
    landmarks = tuple(t for t in LANDMARKS if t <= horizon)
    cohort = list(cohort)
    if not cohort:
        raise UserError("the cohort has no patients")

    support, arm_table = _support_tables(idata, design)
    arm_records = _records(arm_table)

    def summary_for(cov):  # exact for every hazard family
        cov = reported_levels(cov, arm_records, levels)[0]
        return survival_summary(idata, cov, horizon=horizon, landmarks=landmarks, population=population,
                                seed=seed, curves=False)

    treatments = idata.posterior["mu"].treatment.values.tolist()
    modality = dict(zip(treatments, idata.constant_data["treatment_modality"].values.tolist()))
    df = decide_cohort(cohort, summary_for, horizon=horizon, landmarks=landmarks, ci=ci, modalities=modality,
                       choosable=choosable_treatments)
    df["ranked"] = df["candidate"].astype(bool)
    df["candidate"] = df["status"] != "excluded"
    df.loc[df["candidate"] & ~df["ranked"], "status"] = NOT_AN_OPTION
    treatments = idata.posterior["mu"].treatment.values.tolist()
    is_abl = dict(zip(treatments, idata.constant_data["is_ablation"].values.astype(bool).tolist()))
    flag_rows = []
    for p in cohort:
        for t in treatments:
            cp, ex, msgs = _flags(p, t, is_abl[t], support, arm_table)
            flag_rows.append((p.id, t, cp, ex, "; ".join(msgs)))
    flags = pd.DataFrame(flag_rows, columns=["profile", "treatment", "class_prior_only", "extrapolation", "flags"])
    flags = flags.drop_duplicates(["profile", "treatment"])
    df = df.merge(flags, on=["profile", "treatment"], how="left")
    if support is not None:
        counts = support[["studies", "arms", "patients"]].reindex(treatments).fillna(0).astype(int)
        df = df.merge(counts, left_on="treatment", right_index=True, how="left")
    df["horizon"] = horizon
    df["population"] = population
    df["criterion"] = "RMST"
    df["gate_warning"] = gate_banner(idata)
    df = csv_frame(df)
    df.attrs.update(ci=ci, horizon=horizon, criterion="rmst", population=population)
    return df
