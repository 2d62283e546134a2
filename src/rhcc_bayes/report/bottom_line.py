"""The answer first: the bottom-line panel at the top of every report.

For the profile: the leading eligible options with expected survival (RMST and 5-year
survival, 95% CrI), the difference to the leader with its interval, P(best), one plain
sentence on how sure that is, and the honesty flags summarised once per kind.
Pure functions of a :class:`~rhcc_bayes.decision.recommend.DecisionResult`, so they are
tested without figures or files.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

#: The leader is called "likely best" only when P(best) reaches this and the interval of
#: its advantage over the runner-up excludes zero.
CLEAR_P_BEST = 0.6
LEADING = 3

SIZE_LABEL = {"le3": "tumour <= 3 cm", "3to5": "tumour 3-5 cm", "gt5": "tumour > 5 cm"}
YES_NO = {True: "yes", False: "no"}
FIELD_LABELS = {
    "id": "profile",
    "tumour_size_cm": "largest tumour (cm)",
    "nodules": "number of nodules",
    "months_since_treatment": "months from curative treatment to recurrence",
    "microvascular_invasion": "microvascular invasion",
    "afp_ng_ml": "AFP (ng/mL)",
    "child_pugh": "Child-Pugh class",
    "portal_hypertension": "portal hypertension",
    "ecog": "ECOG performance status",
    "prior_treatment": "failed curative-intent treatment",
    "extrahepatic_spread": "extrahepatic spread",
    "portal_vein_thrombus": "portal vein thrombus",
    "near_gallbladder": "tumour near the gallbladder",
    "near_bowel": "tumour near the bowel",
    "near_diaphragm": "tumour near the diaphragm",
    "near_large_vessel": "tumour near a large vessel",
    "resection_candidate": "candidate for repeat resection",
    "transplant_candidate": "candidate for salvage transplant",
}


# --- human-readable values -----------------------------------------------------------------
def readable(value) -> str:
    """A profile value as a clinician writes it (yes/no, numbers without trailing zeros)."""
    if isinstance(value, (bool, np.bool_)):
        return YES_NO[bool(value)]
    if isinstance(value, (float, np.floating)):
        return "not given" if math.isnan(value) else f"{float(value):g}"
    if value is None or value == "":
        return "not given"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {readable(v)}" for k, v in value.items())
    return str(value)


def profile_table(profile) -> pd.DataFrame:
    rows = [(FIELD_LABELS.get(k, k.replace("_", " ")), readable(v)) for k, v in profile.to_dict().items()]
    return pd.DataFrame(rows, columns=["field", "value"])


def covariates_text(cov: dict) -> str:
    """Model covariates in words ('nr' = not reported)."""
    parts = []
    size = cov.get("size_band", "nr")
    parts.append(SIZE_LABEL.get(size, "tumour size not reported"))
    nod = cov.get("nodularity", "nr")
    parts.append("nodularity not reported" if nod == "nr" else nod)
    rec = cov.get("recurrence", "nr")
    parts.append("recurrence timing not reported" if rec == "nr" else f"{rec} recurrence")
    prior = cov.get("prior", "nr")
    parts.append("reference prior treatment (resection or not reported)" if prior == "nr" else f"after {prior}")
    return ", ".join(parts)


def patient_line(profile) -> str:
    """The patient in one line."""
    p = profile
    bits = []
    if isinstance(p.tumour_size_cm, (int, float)):
        bits.append(f"{p.tumour_size_cm:g} cm")
    if isinstance(p.nodules, int):
        bits.append("solitary" if p.nodules == 1 else f"{p.nodules} nodules")
    head = " ".join(bits) + " recurrent HCC" if bits else "recurrent HCC (size and number not given)"
    rec = p.recurrence
    if rec != "unknown":
        head += f", {rec} recurrence"
        if isinstance(p.months_since_treatment, (int, float)):
            head += f" ({p.months_since_treatment:g} months)"
    if p.prior_treatment != "unknown":
        head += f" after {p.prior_treatment}"
    extra = []
    if p.child_pugh != "unknown":
        extra.append(f"Child-Pugh {p.child_pugh}")
    if p.milan != "unknown":
        extra.append(f"{p.milan} Milan")
    return f"{p.id}: {head}" + (f"; {', '.join(extra)}" if extra else "")


# --- flags, once per kind --------------------------------------------------------------------
_KINDS = (  # prefixes of the messages made by rhcc_bayes.decision.recommend._flags
    ("class prior only", "class prior only: no arm of the treatment is in the likelihood; its estimate is its "
                         "modality class's mean plus prior spread"),
    ("no study arm", "no study arm: informed by population-level summaries (ranges or pooled results) and its "
                     "modality class"),
    ("extrapolation: profile outside", "extrapolation: the profile lies outside the inclusion limits of every arm "
                                       "of the treatment (effects from the covariate model, mostly prior-driven)"),
    ("extrapolation: outside every arm", "extrapolation: the profile lies outside every arm of every treatment "
                                         "(prior-only covariate effects)"),
    ("evidence counts unavailable", "evidence counts unavailable (posterior without design)"),
)


def flag_kind(message: str) -> str:
    for prefix, kind in _KINDS:
        if message.startswith(prefix):
            return kind
    return message.split(" (")[0]


_FLAG_START = re.compile(r"^[a-z][a-z -]*:|^evidence counts unavailable")


def split_flags(flags: str) -> list[str]:
    """The messages of a ``"; "``-joined flags cell.

    A message starts with a lower-case label and a colon ("class prior only: ...",
    "extrapolation: ..."); other ``"; "``-separated fragments continue the message before it.
    """
    out: list[str] = []
    for part in (p.strip() for p in str(flags).split("; ")):
        if not part:
            continue
        if out and not _FLAG_START.match(part):
            out[-1] += "; " + part
        else:
            out.append(part)
    return out


def flag_summary(honesty: pd.DataFrame) -> pd.DataFrame:
    """One row per kind of flag with the (non-excluded) treatments it affects."""
    rows: dict[str, list[str]] = {}
    live = honesty[honesty["status"] != "excluded"] if "status" in honesty else honesty
    for trt, flags in zip(live["treatment"], live["flags"]):
        for msg in split_flags(flags):
            affected = rows.setdefault(flag_kind(msg), [])
            if trt not in affected:
                affected.append(trt)
    return pd.DataFrame([(k, len(v), ", ".join(v)) for k, v in rows.items()],
                        columns=["flag", "treatments affected", "which"])


# --- the leading options -----------------------------------------------------------------------
def _criterion_var(res) -> str:
    return "utility" if "utility" in res.survival else "rmst"


def _fmt(mean, lo, hi, digits=1, pct=False) -> str:
    if pct:
        return f"{mean * 100:.0f}% [{lo * 100:.0f}, {hi * 100:.0f}]"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def leading_options(res, k: int = LEADING) -> pd.DataFrame:
    """The k leading candidates: expected survival, difference to the leader (95% CrI), P(best).

    Returns raw numbers (``diff_mean``, ``diff_lo``, ``diff_hi``: leader minus option on the
    decision criterion, per posterior draw).
    """
    table = (res.ranked if hasattr(res, "ranked") else res.table).head(k)  # pooled mixtures are never options
    if table.empty:
        return pd.DataFrame()
    var = _criterion_var(res)
    draws = res.survival[var].stack(sample=("chain", "draw")).transpose("treatment", "sample")
    leader = str(table["treatment"].iloc[0])
    lead = draws.sel(treatment=leader).values
    rows = []
    for r in table.itertuples(index=False):
        d = lead - draws.sel(treatment=r.treatment).values
        lo, hi = np.quantile(d, [0.025, 0.975])
        row = {"treatment": r.treatment, "status": r.status, "rmst_mean": r.rmst_mean, "rmst_lo": r.rmst_lo,
               "rmst_hi": r.rmst_hi, "p_best": r.p_best, "diff_mean": float(d.mean()), "diff_lo": float(lo),
               "diff_hi": float(hi)}
        if "s60_mean" in res.table:
            row.update({"s60_mean": r.s60_mean, "s60_lo": r.s60_lo, "s60_hi": r.s60_hi})
        if var == "utility":
            row.update({"u_mean": r.utility_mean, "u_lo": r.utility_lo, "u_hi": r.utility_hi})
        rows.append(row)
    return pd.DataFrame(rows)


def leading_table(res, lead: pd.DataFrame) -> pd.DataFrame:
    """The leading options as display strings."""
    h = f"{res.horizon:g}"
    prior_only = _prior_only(res)
    out = pd.DataFrame({"option": [t + (" (conditional)" if s == "conditional" else "")
                                   + (" - no data of its own (class prior)" if t in prior_only else "")
                                   for t, s in zip(lead["treatment"], lead["status"])]})
    out[f"RMST to {h} months [95% CrI]"] = [_fmt(a, b, c) for a, b, c in zip(lead.rmst_mean, lead.rmst_lo, lead.rmst_hi)]
    if "u_mean" in lead:
        out["QA-RMST [95% CrI]"] = [_fmt(a, b, c) for a, b, c in zip(lead.u_mean, lead.u_lo, lead.u_hi)]
    if "s60_mean" in lead:
        out["5-year survival [95% CrI]"] = [_fmt(a, b, c, pct=True)
                                            for a, b, c in zip(lead.s60_mean, lead.s60_lo, lead.s60_hi)]
    unit = "QA-months" if "u_mean" in lead else "months"
    out[f"leader's advantage ({unit}) [95% CrI]"] = [
        "leader" if k == 0 else _fmt(a, b, c) for k, (a, b, c) in enumerate(zip(lead.diff_mean, lead.diff_lo,
                                                                                 lead.diff_hi))]
    out["P(best)"] = [f"{p:.2f}" for p in lead["p_best"]]
    return out


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def certainty_sentence(res, lead: pd.DataFrame) -> str:
    """One plain sentence on how sure the ranking is."""
    if lead.empty:
        return "No treatment is eligible or conditional for this profile: see the eligibility section."
    h = f"{res.horizon:g}"
    crit = "quality-adjusted survival" if "u_mean" in lead else "expected survival"
    best = lead.iloc[0]
    ev = res.evpi
    evpi = (f"; more evidence would be worth {ev['mean']:.1f} months on average for this patient "
            f"(up to {ev['hi']:.1f})") if ev.get("mean") is not None and not math.isnan(ev["mean"]) else ""
    if len(lead) == 1:
        return f"{best.treatment} is the only eligible option for this patient (see eligibility for the others)."
    second = lead.iloc[1]
    clear = best.p_best >= CLEAR_P_BEST and second.diff_lo > 0
    if clear:
        return (f"{best.treatment} is likely the best option: P(best) {best.p_best:.2f}; it gives "
                f"{second.diff_mean:.1f} more months (95% CrI {second.diff_lo:.1f} to {second.diff_hi:.1f}) of "
                f"{crit} to {h} months than {second.treatment}{evpi}.")
    close = [t for t, lo in zip(lead["treatment"].iloc[1:], lead["diff_lo"].iloc[1:]) if lo <= 0]
    names = _and([best.treatment, *close] if close else [best.treatment, second.treatment])
    return (f"No option is clearly better: the evidence does not separate {names} "
            f"(P(best) of the leader {best.p_best:.2f}; its advantage over {second.treatment} is "
            f"{second.diff_mean:.1f} months, 95% CrI {second.diff_lo:.1f} to {second.diff_hi:.1f}){evpi}.")


def _prior_only(res) -> set:
    honesty = getattr(res, "honesty", None)
    if honesty is None or "class_prior_only" not in honesty:
        return set()
    return set(honesty.loc[honesty["class_prior_only"].astype(bool), "treatment"])


def modality_sentence(res) -> str:
    """One sentence on the choice between modality classes ('' with fewer than two classes)."""
    mt = getattr(res, "modality_table", None)
    if mt is None or len(mt) < 2:
        return ""
    shown = mt.head(3)
    parts = ", ".join(f"{r.modality} {r.p_best:.2f}" for r in shown.itertuples())
    text = f"Probability that the best option is of each modality: {parts}"
    if len(mt) > 3:
        text += f" (others {mt['p_best'].iloc[3:].sum():.2f} together)"
    text += "."
    prior_only = _prior_only(res)
    vague = [r.modality for r in shown.itertuples()
             if all(o.strip() in prior_only for o in str(r.options).split(","))]
    if vague:
        text += (f" The {' and '.join(vague)} options have no data of their own for this comparison: their wide "
                 "prior spread gives them a fair chance of being best and of being worst, which is uncertainty, "
                 "not evidence.")
    return text


def prior_only_note(res, lead: pd.DataFrame) -> str:
    """A warning when the leading option has no data of its own ('' otherwise).

    A class-prior-only treatment is its modality class's mean plus the prior spread: a wide
    posterior that can lead on expected survival and P(best) by uncertainty, not evidence. The
    note names the best-ranked option that has data of its own.
    """
    if lead.empty:
        return ""
    prior_only = _prior_only(res)
    leader = str(lead["treatment"].iloc[0])
    if leader not in prior_only:
        return ""
    ranked = res.ranked if hasattr(res, "ranked") else res.table
    text = (f"{leader} leads without data of its own (class prior only): its lead reflects its modality class "
            f"and the prior spread, not evidence about {leader}.")
    with_data = ranked[~ranked["treatment"].isin(prior_only)]
    if len(with_data):
        r = with_data.iloc[0]
        text += (f" The leading option with its own data is {r.treatment}: RMST to {res.horizon:g} months "
                 f"{r.rmst_mean:.1f} [{r.rmst_lo:.1f}, {r.rmst_hi:.1f}], P(best) {r.p_best:.2f}.")
    return text
