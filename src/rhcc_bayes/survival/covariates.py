"""The survival model's covariates: one coding object per covariate.

Each :class:`Covariate` owns, in one place,

- its **model levels** (the effect levels of the survival model, in model order) and the
  **reference level** ``"nr"`` ("not reported": the all-comer average, effect 0; for prior
  treatment the all-comer R-HCC cohort is post-resection, so "resection" codes to ``"nr"``);
- its **labels** (for tables, flags and figures);
- the mapping from **arm descriptors** (the evidence columns ``size_min_cm``,
  ``size_max_cm``, ``nodules_max``, ``recurrence_timing``, ``prior_treatment``, ``bclc``) to a
  level, used for study arms and for study populations (:mod:`rhcc_bayes.survival.population`);
- the mapping from a **patient profile** to a level;
- **coverage**: whether an arm's inclusion limits include a patient.

Coding rules (one rule for arms and populations, one for patients):

* An arm (or population) is coded by its inclusion limits. Size: the band of the upper
  limit (conservative: "<= 5 cm" is ``3to5``, "<= 7 cm" is ``gt5``; a lower limit >= 5 cm
  is ``gt5``). Nodularity: ``solitary`` only when at most one nodule is allowed; a cohort
  allowing several nodules ("<= 3 nodules") is mixed and coded ``nr``, since most of its
  patients are usually solitary. Recurrence timing: the stated level, else ``nr``. Prior
  treatment: ``transplant`` when stated, else ``nr``: recurrence after resection is the
  ordinary R-HCC population, the reference (a post-resection arm or patient is coded like a
  cohort that states no prior treatment). Stage: ``advanced`` when every BCLC stage the arm allows is C or D (portal-vein
  thrombus and/or extrahepatic spread), else ``nr``; a patient is ``advanced`` when either
  flag is set.
* A patient is coded by his values (unknown -> ``nr``).
* Coverage is by inclusion limits, not by level: an arm covers a patient when the
  patient's value lies within every limit the arm states. An arm that states no limit on
  a covariate (an all-comer cohort, level ``nr``) includes the patient's subgroup and so
  covers him; an unknown patient value is covered by every arm. One exception: a cohort
  stating no prior treatment is post-resection in practice and does not cover recurrence
  after transplantation; only an arm stating "transplant" does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REFERENCE = "nr"
UNKNOWN = "unknown"
#: Recurrence earlier than this (months after the curative-intent treatment) is "early".
EARLY_RECURRENCE_MONTHS = 12.0
#: Evidence columns that describe an arm's population (its inclusion limits).
ARM_DESCRIPTORS: tuple[str, ...] = ("size_min_cm", "size_max_cm", "nodules_max", "recurrence_timing",
                                    "prior_treatment", "bclc")


def _num(descriptors: Mapping, key: str) -> float:
    """A numeric descriptor as float (NaN when missing or empty)."""
    value = descriptors.get(key, math.nan) if hasattr(descriptors, "get") else math.nan
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def _text(descriptors: Mapping, key: str) -> str:
    value = descriptors.get(key, "") if hasattr(descriptors, "get") else ""
    return value if isinstance(value, str) else ""


def _value(profile, name: str):
    """A profile field, "unknown" when absent (duck-typed: any object with the attributes)."""
    return getattr(profile, name, UNKNOWN)


def _known_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --- size -------------------------------------------------------------------------------
def size_band(size_min: float, size_max: float) -> str:
    """Arm size band from its inclusion limits: the band of the upper limit, conservative."""
    if not math.isnan(size_min) and size_min >= 5:
        return "gt5"
    if math.isnan(size_max):
        return REFERENCE
    if size_max <= 3:
        return "le3"
    return "3to5" if size_max <= 5 else "gt5"


def size_band_of(size_cm) -> str:
    """Band of one tumour size (cm); unknown -> "nr"."""
    if not _known_number(size_cm):
        return REFERENCE
    return "le3" if size_cm <= 3 else "3to5" if size_cm <= 5 else "gt5"


def _size_arm(d: Mapping) -> str:
    return size_band(_num(d, "size_min_cm"), _num(d, "size_max_cm"))


def _size_profile(p) -> str:
    return size_band_of(_value(p, "tumour_size_cm"))


def _size_covers(d: Mapping, p) -> bool:
    s = _value(p, "tumour_size_cm")
    if not _known_number(s):
        return True
    lo, hi = _num(d, "size_min_cm"), _num(d, "size_max_cm")
    return (math.isnan(lo) or s >= lo) and (math.isnan(hi) or s <= hi)


def _size_limit(d: Mapping) -> str:
    lo, hi = _num(d, "size_min_cm"), _num(d, "size_max_cm")
    if math.isnan(lo) and math.isnan(hi):
        return "no size limit"
    if math.isnan(lo):
        return f"<= {hi:g} cm"
    return f">= {lo:g} cm" if math.isnan(hi) else f"{lo:g}-{hi:g} cm"


def _size_text(p) -> str:
    return f"tumour {_value(p, 'tumour_size_cm'):g} cm"


# --- nodularity -------------------------------------------------------------------------
def _nod_arm(d: Mapping) -> str:
    return "solitary" if _num(d, "nodules_max") == 1 else REFERENCE


def _nod_profile(p) -> str:
    n = _value(p, "nodules")
    if not _known_number(n):
        return REFERENCE
    return "solitary" if n == 1 else "multinodular"


def _nod_covers(d: Mapping, p) -> bool:
    n, hi = _value(p, "nodules"), _num(d, "nodules_max")
    return not _known_number(n) or math.isnan(hi) or n <= hi


def _nod_limit(d: Mapping) -> str:
    hi = _num(d, "nodules_max")
    return "no nodule limit" if math.isnan(hi) else f"<= {hi:g} nodule{'s' if hi != 1 else ''}"


def _nod_text(p) -> str:
    n = _value(p, "nodules")
    return f"{n} nodule{'s' if n != 1 else ''}"


# --- recurrence timing ------------------------------------------------------------------
def _rec_arm(d: Mapping) -> str:
    t = _text(d, "recurrence_timing")
    return t if t in ("early", "late") else REFERENCE


def _rec_profile(p) -> str:
    m = _value(p, "months_since_treatment")
    if not _known_number(m):
        return REFERENCE
    return "early" if m < EARLY_RECURRENCE_MONTHS else "late"


def _rec_covers(d: Mapping, p) -> bool:
    arm, level = _rec_arm(d), _rec_profile(p)
    return REFERENCE in (arm, level) or arm == level


def _rec_limit(d: Mapping) -> str:
    arm = _rec_arm(d)
    return "any recurrence timing" if arm == REFERENCE else f"{arm} recurrences only"


def _rec_text(p) -> str:
    return f"{_rec_profile(p)} recurrence ({_value(p, 'months_since_treatment'):g} months)"


# --- prior (curative-intent) treatment --------------------------------------------------
#: Recurrence after curative resection is the ordinary R-HCC population: the review's
#: cohorts are post-resection wherever they say so, none of the bundled cohorts that states
#: no prior treatment is known to be anything else, and an effect of "resection vs an
#: all-comer cohort that is itself post-resection" is unidentified prior noise
#: (validation/LOSO_NOTES.md). So post-resection arms and profiles take the reference level;
#: only recurrence after liver transplantation (immunosuppressed graft, a different disease
#: course) has its own effect.
PRIOR_LEVELS = ("transplant",)
#: Prior treatments an arm can state as an inclusion limit ("after X only").
PRIOR_LIMITS = ("resection", "transplant", "ablation")


def _prior_arm(d: Mapping) -> str:
    t = _text(d, "prior_treatment")
    return t if t in PRIOR_LEVELS else REFERENCE


def _prior_profile(p) -> str:
    t = _value(p, "prior_treatment")
    return t if t in PRIOR_LEVELS else REFERENCE


def _prior_covers(d: Mapping, p) -> bool:
    """A stated prior treatment is a limit; a cohort stating none (or "mixed") includes every
    recurrence except after transplantation, which only a post-transplant arm covers."""
    value, stated = _value(p, "prior_treatment"), _text(d, "prior_treatment")
    if value in (UNKNOWN, None):
        return True
    if stated in PRIOR_LIMITS:
        return value == stated
    return value != "transplant"


def _prior_limit(d: Mapping) -> str:
    stated = _text(d, "prior_treatment")
    if stated in PRIOR_LIMITS:
        return f"after {stated} only"
    if stated == "mixed":
        return "mixed prior treatments"
    return f"prior treatment {stated}" if stated else "no prior treatment stated (post-resection in practice)"


def _prior_text(p) -> str:
    return f"recurrence after {_value(p, 'prior_treatment')}"


# --- disease stage (advanced: portal-vein thrombus and/or extrahepatic spread, BCLC C) ---
ADVANCED_BCLC = ("C", "D")


def _bclc_stages(d: Mapping) -> set[str]:
    """BCLC stages an arm's ``bclc`` cell allows ("0/A" -> {"0", "A"}); empty = not stated."""
    text = _text(d, "bclc").upper().replace(" ", "")
    return {part for part in text.replace(",", "/").replace(";", "/").split("/") if part}


def _stage_arm(d: Mapping) -> str:
    """"advanced" when every stage the arm allows is BCLC C or D (PVTT / extrahepatic spread)."""
    stages = _bclc_stages(d)
    return "advanced" if stages and stages <= set(ADVANCED_BCLC) else REFERENCE


def _stage_profile(p) -> str:
    return "advanced" if _value(p, "advanced") is True else REFERENCE


def _stage_covers(d: Mapping, p) -> bool:
    adv, stages = _value(p, "advanced"), _bclc_stages(d)
    if adv not in (True, False) or not stages:
        return True
    return bool(stages & set(ADVANCED_BCLC)) if adv else bool(stages - set(ADVANCED_BCLC))


def _stage_limit(d: Mapping) -> str:
    stages = _bclc_stages(d)
    return "any stage" if not stages else "BCLC " + "/".join(sorted(stages))


def _stage_text(p) -> str:
    adv = _value(p, "advanced")
    return {True: "advanced disease (portal-vein thrombus / extrahepatic spread)",
            False: "no portal-vein thrombus or extrahepatic spread"}.get(adv, "stage unknown")


# --- the coding object ------------------------------------------------------------------
@dataclass(frozen=True)
class Covariate:
    """One categorical covariate of the survival model.

    Attributes
    ----------
    name : str
        Key used in specs, designs and covariate dicts (``"size_band"``...).
    label : str
        Human label ("tumour size").
    levels : tuple of str
        Model levels with their own effect, in model order (reference excluded).
    level_labels : dict
        Label of every level, reference included.
    profile_field : str
        Patient-profile field the patient level is computed from.
    reference : str
        The "not reported" level, effect 0 (``"nr"``).
    """

    name: str
    label: str
    levels: tuple[str, ...]
    level_labels: Mapping[str, str]
    profile_field: str
    _arm: Callable[[Mapping], str] = field(repr=False)
    _profile: Callable[[Any], str] = field(repr=False)
    _covers: Callable[[Mapping, Any], bool] = field(repr=False)
    _limit: Callable[[Mapping], str] = field(repr=False)
    _text: Callable[[Any], str] = field(repr=False)
    reference: str = REFERENCE

    @property
    def all_levels(self) -> tuple[str, ...]:
        """Model levels followed by the reference (the order of design level indices)."""
        return (*self.levels, self.reference)

    @property
    def dim(self) -> str:
        """Name of the model dimension of this covariate's effects (``"size_band_level"``)."""
        return f"{self.name}_level"

    def level_label(self, level: str) -> str:
        return self.level_labels.get(level, level)

    def arm_level(self, descriptors: Mapping) -> str:
        """Level of an arm (or a study population) from its descriptors; unknown -> "nr"."""
        return self._arm(descriptors)

    def profile_level(self, profile) -> str:
        """Level of a patient profile; unknown or uncoded values -> "nr"."""
        return self._profile(profile)

    def covers(self, descriptors: Mapping, profile) -> bool:
        """True when the arm's inclusion limits (if any) include the patient's value."""
        return bool(self._covers(descriptors, profile))

    def limit_text(self, descriptors: Mapping) -> str:
        """The arm's inclusion limit in words ("<= 5 cm", "no nodule limit")."""
        return self._limit(descriptors)

    def profile_text(self, profile) -> str:
        """The patient's value in words ("tumour 6.5 cm")."""
        return self._text(profile)


SIZE_BAND = Covariate(
    "size_band", "tumour size", ("le3", "3to5", "gt5"),
    {"le3": "<= 3 cm", "3to5": "3-5 cm", "gt5": "> 5 cm", REFERENCE: "not reported"},
    "tumour_size_cm", _size_arm, _size_profile, _size_covers, _size_limit, _size_text)
NODULARITY = Covariate(
    "nodularity", "nodularity", ("solitary", "multinodular"),
    {"solitary": "solitary", "multinodular": "multinodular", REFERENCE: "not reported / mixed"},
    "nodules", _nod_arm, _nod_profile, _nod_covers, _nod_limit, _nod_text)
RECURRENCE = Covariate(
    "recurrence", "recurrence timing", ("early", "late"),
    {"early": "early (< 12 months)", "late": "late (>= 12 months)", REFERENCE: "not reported / mixed"},
    "months_since_treatment", _rec_arm, _rec_profile, _rec_covers, _rec_limit, _rec_text)
PRIOR = Covariate(
    "prior", "prior treatment", PRIOR_LEVELS,
    {"transplant": "after transplant", REFERENCE: "after resection / not reported / other"},
    "prior_treatment", _prior_arm, _prior_profile, _prior_covers, _prior_limit, _prior_text)
STAGE = Covariate(
    "stage", "disease stage", ("advanced",),
    {"advanced": "advanced (PVTT / extrahepatic spread, BCLC C)", REFERENCE: "not reported / not advanced"},
    "advanced", _stage_arm, _stage_profile, _stage_covers, _stage_limit, _stage_text)

#: Every covariate, in model order.
COVARIATES: dict[str, Covariate] = {c.name: c for c in (SIZE_BAND, NODULARITY, RECURRENCE, PRIOR, STAGE)}
COVARIATE_NAMES: tuple[str, ...] = tuple(COVARIATES)
#: name -> all levels incl. the reference (the order of design level indices).
LEVELS: dict[str, tuple[str, ...]] = {c.name: c.all_levels for c in COVARIATES.values()}
COVARIATE_LABEL: dict[str, str] = {c.name: c.label for c in COVARIATES.values()}


def arm_covariates(descriptors: Mapping) -> dict[str, str]:
    """Covariate levels of an arm (or study population) from its descriptors; unknown -> "nr"."""
    return {c.name: c.arm_level(descriptors) for c in COVARIATES.values()}


def profile_covariates(profile) -> dict[str, str]:
    """Covariate levels of a patient profile; unknown -> "nr"."""
    return {c.name: c.profile_level(profile) for c in COVARIATES.values()}


def model_coords() -> dict[str, list[str]]:
    """Coordinates of the covariate-effect dimensions (``{"size_band_level": [...], ...}``)."""
    return {c.dim: list(c.levels) for c in COVARIATES.values()}


def coverage_gaps(profile, arms: Iterable[Mapping]) -> list[str]:
    """Why no arm covers the profile; an empty list when at least one arm covers it.

    Parameters
    ----------
    profile : PatientProfile
        Any object with the profile fields.
    arms : iterable of mappings
        Arm descriptors (:data:`ARM_DESCRIPTORS`).

    Returns
    -------
    list of str
        One message per covariate whose value lies outside every arm's limits, or one
        message saying that no single arm includes the combination.
    """
    arms = list(arms)
    if not arms:
        return ["no arm"]
    if any(all(c.covers(a, profile) for c in COVARIATES.values()) for a in arms):
        return []
    gaps = []
    for c in COVARIATES.values():
        if not any(c.covers(a, profile) for a in arms):
            limits = sorted({c.limit_text(a) for a in arms})
            gaps.append(f"{c.profile_text(profile)} is outside every arm's limits ({'; '.join(limits)})")
    if not gaps:
        gaps.append("no single arm includes this combination of "
                    + ", ".join(c.profile_text(profile) for c in COVARIATES.values()
                                if _value(profile, c.profile_field) not in (UNKNOWN, None)))
    return gaps


LEVEL_MODES = ("profile", "reported")
#: Default: keep the profile's levels. Leave-one-study-out on the bundled evidence (20
#: landmarks/medians of 5 studies, validation/LOSO_NOTES.md) scored "profile" better than
#: "reported" (coverage90 0.75 vs 0.65, LPD -88.7 vs -90.5, MAE 0.184 both): the
#: sign-constrained prior effects (larger, multinodular, early = worse) carry real
#: prognostic knowledge. Either way the unreported levels are named in the notes.
DEFAULT_LEVEL_MODE = "profile"


def reported_levels(covariates: Mapping[str, str], arms: Iterable[Mapping] | None,
                    mode: str = DEFAULT_LEVEL_MODE) -> tuple[dict[str, str], list[str]]:
    """Levels to predict with, given the levels that study arms actually report.

    A level that no arm is coded with (e.g. "multinodular" when cohorts only state
    "<= 3 nodules", which is coded as mixed) is only informed by the covariate prior.
    ``mode="profile"`` keeps it (its prior-driven effect applies) and says so in a note;
    ``mode="reported"`` maps it to the reference "nr": the patient is predicted like the
    all-comer cohorts that include him. Without arm information (``arms`` is None) the
    levels are kept and no note is made.

    Returns
    -------
    (levels, notes)
        The levels to predict with, and one note per level no arm reports.
    """
    if mode not in LEVEL_MODES:
        raise ValueError(f"mode must be one of {LEVEL_MODES}, got {mode!r}")
    levels = {name: covariates.get(name, REFERENCE) for name in COVARIATES}
    if arms is None:
        return levels, []
    seen: dict[str, set] = {name: set() for name in COVARIATES}
    for a in arms:
        for name, level in arm_covariates(a).items():
            seen[name].add(level)
    notes = []
    for name, level in levels.items():
        if level != REFERENCE and level not in seen[name]:
            c = COVARIATES[name]
            if mode == "reported":
                notes.append(f"{c.label} {c.level_label(level)}: no arm reports this level; predicted like the "
                             "all-comer cohorts that include it (level nr)")
                levels[name] = REFERENCE
            else:
                notes.append(f"{c.label} {c.level_label(level)}: no arm reports this level; its effect comes from "
                             "the covariate prior (direction from the review), not from data")
    return levels, notes
