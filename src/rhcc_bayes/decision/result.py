"""The decision for one profile as an object: tables, flags, text, JSON and CSV renderings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from rhcc_bayes.decision.honesty import NOT_AN_OPTION, shared_prior_groups, shared_prior_sentences
from rhcc_bayes.survival.covariates import SIZE_BAND

SIZE_BAND_LABEL = dict(SIZE_BAND.level_labels)
LANDMARKS = (12, 36, 60)
CI = 0.95


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

    def evppi(self, posterior, groups=None, **kwargs) -> pd.DataFrame:
        """EVPPI per parameter group for this decision (``posterior``: the one it came from);
        see :func:`rhcc_bayes.decision.voi.evppi`."""
        from rhcc_bayes.decision.voi import evppi

        return evppi(posterior, self.profile, groups, decision=self, **kwargs)

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
