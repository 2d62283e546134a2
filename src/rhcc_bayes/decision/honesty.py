"""Honesty flags: what evidence informs each treatment for this patient, and what it cannot tell.

Per treatment: "class prior only" when no arm of it is in the likelihood, extrapolation
when the profile lies outside the inclusion limits of the arms that inform it, options that
a clinician cannot choose (pooled mixtures), and siblings the evidence cannot tell apart
because they share only their class prior.
"""

from __future__ import annotations

import weakref

import pandas as pd

from rhcc_bayes.survival.covariates import coverage_gaps
from rhcc_bayes.survival.support import (
    arm_support,
    arm_support_from_idata,
    evidence_support,
    support_from_idata,
)


_LAST_SUPPORT: list = [None, None]  # [weakref to the last design, its tables]: one design serves many decisions


def support_tables(idata, design) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(per-treatment support, per-arm inclusion limits) from the design or the posterior file.

    The design's tables are computed once per design object (~50 ms; the interactive page
    decides on every form change) and handed out as copies.
    """
    if design is not None:
        ref, tables = _LAST_SUPPORT
        if ref is None or ref() is not design:
            tables = (evidence_support(design), arm_support(design))
            _LAST_SUPPORT[:] = [weakref.ref(design), tables]
        return tables[0].copy(), tables[1].copy()
    return support_from_idata(idata), arm_support_from_idata(idata)


def arm_records(arm_table: pd.DataFrame | None) -> list[dict] | None:
    return None if arm_table is None else arm_table.to_dict(orient="records")


def treatment_flags(profile, trt: str, is_ablation: bool, support: pd.DataFrame | None,
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
