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
    all-comer cohort, includes every patient, except a post-transplant one: cohorts stating
    no prior treatment are post-resection in practice). For a class-prior-only treatment the
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


class CohortFlagger:
    """:func:`treatment_flags` for many profiles: the same results, computed fast.

    Whether an arm covers a patient depends, per covariate, only on the patient's value of
    that covariate's field, so each arm limit is checked once per distinct value (a bit mask
    over the arms) and the gap structure once per distinct tuple of masks; only the message
    text ("tumour 6.5 cm ...") is rendered per profile.
    """

    def __init__(self, treatments, is_ablation: dict, support: pd.DataFrame | None, arms: pd.DataFrame | None):
        from rhcc_bayes.survival.covariates import COVARIATES

        self.treatments = list(treatments)
        self.is_ablation = is_ablation
        self.support, self.arms = support, arms
        self.covariates = list(COVARIATES.values())
        self.records = [] if arms is None else arms.to_dict(orient="records")
        every = (1 << len(self.records)) - 1
        self.plan = {}  # trt -> (kind, subset mask, limit texts per covariate, first message)
        for trt in self.treatments:
            if support is None or arms is None:
                self.plan[trt] = ("none", 0, None, None)
                continue
            own = [i for i, r in enumerate(self.records) if r["treatment"] == trt]
            if trt not in support.index or int(support.loc[trt, "arms"]) == 0 or not own:
                summaries = support.loc[trt].get("population_summaries", 0) if trt in support.index else 0
                if not pd.isna(summaries) and int(summaries) > 0:
                    first = (f"no study arm: informed by {int(summaries)} population-level summary(ies) (ranges or "
                             "pooled results) and its modality class")
                else:
                    first = ("class prior only: no arm of this treatment is in the likelihood; its estimate is its "
                             "modality class's mean plus prior spread")
                self.plan[trt] = ("prior", every, self._limits(range(len(self.records))), first)
            else:
                self.plan[trt] = ("own", sum(1 << i for i in own), self._limits(own), None)
        self._mask_cache: dict = {}
        self._gap_cache: dict = {}

    def _limits(self, idx) -> list[str]:
        return ["; ".join(sorted({c.limit_text(self.records[i]) for i in idx})) for c in self.covariates]

    def _masks(self, profile) -> tuple[int, ...]:
        out = []
        for c in self.covariates:
            value = getattr(profile, c.profile_field, None)
            key = (c.name, type(value).__name__, value)
            mask = self._mask_cache.get(key)
            if mask is None:
                mask = sum(1 << i for i, r in enumerate(self.records) if c.covers(r, profile))
                self._mask_cache[key] = mask
            out.append(mask)
        return tuple(out)

    def _gaps(self, masks, subset: int):
        """None when an arm of ``subset`` covers every covariate; else the failing covariate
        indices (empty: no single arm covers the combination)."""
        key = (masks, subset)
        if key not in self._gap_cache:
            all_ = subset
            for m in masks:
                all_ &= m
            self._gap_cache[key] = None if all_ else tuple(k for k, m in enumerate(masks) if not m & subset)
        return self._gap_cache[key]

    def _gap_texts(self, profile, failing, limits) -> list[str]:
        from rhcc_bayes.survival.covariates import UNKNOWN

        if failing:
            return [f"{self.covariates[k].profile_text(profile)} is outside every arm's limits ({limits[k]})"
                    for k in failing]
        return ["no single arm includes this combination of "
                + ", ".join(c.profile_text(profile) for c in self.covariates
                            if getattr(profile, c.profile_field, UNKNOWN) not in (UNKNOWN, None))]

    def flags(self, profile) -> list[tuple[bool, bool, list[str]]]:
        """``treatment_flags(profile, trt, ...)`` for every treatment, in order."""
        masks = self._masks(profile) if self.records else ()
        out = []
        for trt in self.treatments:
            kind, subset, limits, first = self.plan[trt]
            if kind == "none":
                out.append((False, False, ["evidence counts unavailable (posterior without design)"]))
                continue
            if kind == "prior":
                failing = self._gaps(masks, subset) if self.records else None
                msgs = [first]
                if failing is not None:
                    msgs.append("extrapolation: outside every arm of every treatment ("
                                + "; ".join(self._gap_texts(profile, failing, limits)) + "): covariate effects prior-only")
                out.append((first.startswith("class prior only"), failing is not None, msgs))
                continue
            failing = self._gaps(masks, subset)
            if failing is None:
                out.append((False, False, []))
                continue
            gaps = self._gap_texts(profile, failing, limits)
            if self.is_ablation.get(trt) and any(g.startswith("tumour") for g in gaps):
                gaps = [g + " (ablation x size interaction prior-driven)" if g.startswith("tumour") else g
                        for g in gaps]
            out.append((False, True, ["extrapolation: profile outside the inclusion limits of its arms ("
                                      + "; ".join(gaps) + "); effects from the covariate model, mostly prior-driven"]))
        return out
