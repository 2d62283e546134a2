"""Declarative model specs: TOML files in ``models/`` parsed into frozen, validated data.

A spec is plain data, never code. ``[model] family`` selects the model family:
``"survival"`` (the R-HCC arm-level survival synthesis, this module) or ``"nma"``
(standard network meta-analysis, :mod:`rhcc_bayes.nma`). Unknown tables or keys and
bad values are rejected with a message naming the file and key (and a
"did you mean").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from rhcc_bayes.core.errors import Problem, ValidationError, did_you_mean
from rhcc_bayes.core.seed import SEED_LIMIT
from rhcc_bayes.survival.covariates import (
    LEVELS as COVARIATES,  # name -> levels incl. "nr" (re-exported)
)
from rhcc_bayes.survival.hazards import FAMILIES


@dataclass(frozen=True)
class EvidenceRules:
    """Which evidence rows enter the likelihood and how they are read."""

    # primary/mixed populations enter with a population bias term (delta_pop, see Priors)
    populations: tuple[str, ...] = ("recurrent", "primary", "mixed")
    # study designs of arm-level (patient-level) rows; pooled rows are governed by ``pooled``/``ranges``
    designs: tuple[str, ...] = ("rct", "prospective", "retrospective", "trial")
    default_use_only: bool = True
    # "latent": an arm without its n enters with a latent n (Dirichlet share of a known total,
    # else a lognormal prior fitted to the reported arm sizes); "exclude"; or an assumed integer n
    missing_n: str | int = "latent"
    hr_policy: str = "arm_level_first"  # "arm_level_first" | "always" | "never"
    censoring: str = "uniform"  # "none" | "uniform": effective-sample-size rule for landmarks
    max_followup_months: float = 120.0
    min_observed_fraction: float = 0.1
    ranges: bool = True  # review ranges across k studies enter as min/max order statistics
    pooled: bool = True  # pooled meta-analysis results (contrasts, landmarks) enter
    overlap: str = "constituents"  # pooled row vs its constituent rows: "constituents" | "pooled"
    # "add_between_study": sigma_study^2 added to a pooled result's variance (random-effects mean
    # of another population mix); "reported": its own SE only
    pooled_variance: str = "add_between_study"
    # overall vs subgroup contrasts of one meta-analysis (same patients): "subgroups" | "overall"
    pooled_subgroups: str = "subgroups"
    share_concentration: float = 2.0  # Dirichlet(c, ..., c) shares of a known total over arms
    # lognormal prior on an unknown arm n; empty = fitted to the arm sizes the evidence reports
    latent_n_log_mean: float | None = None
    latent_n_log_sd: float | None = None


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors; justified by ``prior_predictive_check``."""

    baseline_log_hazard_mean: float = -3.9  # log(0.02 / month): 5-year survival ~ 30%
    baseline_log_hazard_sd: float = 0.7
    segment_step_sd: float = 0.3
    class_effect_sd: float = 0.5
    treatment_sd: float = 0.3
    study_sd: float = 0.3
    arm_sd: float = 0.2
    covariate_sd: float = 0.3
    # advanced disease (PVTT / extrahepatic spread, BCLC C) vs an all-comer cohort:
    # log-hazard increment ~ Normal(mean, sd); see models/default.toml for the choice
    advanced_stage_mean: float = 1.0
    advanced_stage_sd: float = 0.5
    weibull_shape_log_sd: float = 0.5
    spline_smooth_sd: float = 0.4  # mean of the Gamma(2) prior on the M-spline random-walk SD
    cure_logit_mean: float = -1.5  # cure fraction: prior median 0.18 ...
    cure_logit_sd: float = 1.0  # ... 95% prior interval about [0.03, 0.62]
    secondary_intercept_sd: float = 1.5
    secondary_effect_sd: float = 0.7
    # population bias delta_pop = s_pop * z_pop (primary, mixed), s_pop ~ HalfNormal(this):
    # s_pop near 0 = full borrowing from non-recurrent evidence, large = almost none
    population_bias_sd: float = 0.5


@dataclass(frozen=True)
class SurvivalSpec:
    """The R-HCC arm-level survival synthesis, fully described."""

    name: str
    description: str = ""
    outcome: str = "os"
    hazard: str = "piecewise"  # a key of rhcc_bayes.survival.hazards.FAMILIES
    cure_base: str = "weibull"  # family of the uncured when hazard = "cure"
    spline_df: int = 6  # M-spline basis size (cubic: spline_df - 4 interior knots)
    cuts_months: tuple[float, ...] = (12.0, 36.0, 60.0)
    combinations: str = "class"  # "class" | "components"
    arm_heterogeneity: bool = False
    covariates: tuple[str, ...] = tuple(COVARIATES)
    secondary_outcomes: tuple[str, ...] = ("complication", "morbidity", "recurrence", "response", "los")
    evidence: EvidenceRules = field(default_factory=EvidenceRules)
    priors: Priors = field(default_factory=Priors)
    sampler: dict = field(default_factory=dict)
    seed: int = 20261126
    source: str = "<memory>"
    family: str = "survival"

    def to_dict(self) -> dict:
        """Canonical plain-data form (without ``source``), used for hashing."""
        d = asdict(self)
        d.pop("source")
        return d

    @property
    def hash(self) -> str:
        import hashlib

        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# --- validation: one small check per rule ---------------------------------------------

Check = Callable[[Any], str | None]  # returns an error message or None


def _one_of(*choices) -> Check:
    return lambda v: None if v in choices else f"must be one of {list(choices)}{did_you_mean(v, choices)}"


def _number(lo=None, hi=None, integer=False) -> Check:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            return "must be an integer" if integer else "must be a number"
        if not math.isfinite(v):
            return "must be a finite number"
        if lo is not None and v < lo:
            return f"must be >= {lo}"
        if hi is not None and v > hi:
            return f"must be <= {hi}"
        return None

    return check


def _bool(v):
    return None if isinstance(v, bool) else "must be true or false"


def _string(v):
    return None if isinstance(v, str) else "must be a string"


def _subset_of(choices) -> Check:
    def check(v):
        if not isinstance(v, list):
            return "must be a list"
        bad = [x for x in v if x not in choices]
        return f"unknown value {bad[0]!r}{did_you_mean(bad[0], choices)}; allowed {list(choices)}" if bad else None

    return check


def _increasing_positive(v):
    if not isinstance(v, list) or not v or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v
    ):
        return "must be a non-empty list of numbers (months)"
    if v[0] <= 0 or any(b <= a for a, b in zip(v, v[1:])):
        return "must be positive and strictly increasing"
    return None


def _missing_n(v):
    if v in ("exclude", "latent"):
        return None
    return None if isinstance(v, int) and not isinstance(v, bool) and v > 0 else (
        "must be \"latent\", \"exclude\" or a positive integer (an assumed arm size, for sensitivity analyses)"
    )


MODEL_KEYS: dict[str, Check] = {
    "family": _one_of("survival"),
    "name": _string,
    "description": _string,
    "outcome": _one_of("os", "pfs", "dfs", "rfs", "ttp"),
    # looked up at validation time, so a family added to the table is accepted at once
    "hazard": lambda v: _one_of(*FAMILIES)(v),
    "cure_base": lambda v: _one_of(*(f for f in FAMILIES if f != "cure"))(v),
    "spline_df": _number(lo=4, hi=20, integer=True),
    "cuts_months": _increasing_positive,
    "combinations": _one_of("class", "components"),
    "arm_heterogeneity": _bool,
    "covariates": _subset_of(tuple(COVARIATES)),
    "secondary_outcomes": _subset_of(("complication", "morbidity", "recurrence", "response", "los")),
    "seed": _number(lo=0, hi=SEED_LIMIT - 1, integer=True),  # the seed rule of core.seed
}
EVIDENCE_KEYS: dict[str, Check] = {
    "populations": _subset_of(("recurrent", "primary", "mixed")),
    "designs": _subset_of(("rct", "prospective", "retrospective", "meta_analysis", "review", "trial")),
    "default_use_only": _bool,
    "missing_n": _missing_n,
    "hr_policy": _one_of("arm_level_first", "always", "never"),
    "censoring": _one_of("none", "uniform"),
    "max_followup_months": _number(lo=1),
    "min_observed_fraction": _number(lo=0.01, hi=1),
    "ranges": _bool,
    "pooled": _bool,
    "overlap": _one_of("constituents", "pooled"),
    "pooled_variance": _one_of("add_between_study", "reported"),
    "pooled_subgroups": _one_of("subgroups", "overall"),
    "share_concentration": _number(lo=0.1),
    "latent_n_log_mean": _number(lo=0, hi=12),
    "latent_n_log_sd": _number(lo=0.01, hi=5),
}
# Plausibility bounds: a monthly log hazard outside [-15, 5] is e^-15 (never dies) to e^5
# (148 deaths per patient-month); prior SDs above 10 on the log-hazard scale put mass on such
# values and only make the sampler diverge.
PRIOR_KEYS: dict[str, Check] = {
    k: (_number(lo=-15, hi=5) if k == "baseline_log_hazard_mean"
        else _number(lo=-10, hi=10) if k == "cure_logit_mean"
        else _number(lo=1e-9, hi=10))
    for k in Priors.__dataclass_fields__
}
SECTIONS = {"model": MODEL_KEYS, "evidence": EVIDENCE_KEYS, "priors": PRIOR_KEYS, "sampler": None}


def _check_section(source: str, section: str, table: Any, keys: dict[str, Check]) -> list[Problem]:
    if not isinstance(table, dict):
        return [Problem(source, "must be a table", column=f"[{section}]")]
    problems = []
    for key, value in table.items():
        name = f"{section}.{key}"
        if key not in keys:
            problems.append(Problem(source, f"unknown key{did_you_mean(key, keys)}", column=name))
            continue
        message = keys[key](value)
        if message:
            problems.append(Problem(source, message, column=name, value=value))
    return problems


def _family_options(source: str, model: Any) -> list[Problem]:
    """Hazard-family options given for a family that does not use them (a likely mistake)."""
    if not isinstance(model, dict):
        return []
    hazard = model.get("hazard", "piecewise")
    families = {hazard, model.get("cure_base", SurvivalSpec.cure_base) if hazard == "cure" else hazard}
    problems = []
    if "cure_base" in model and hazard != "cure":
        problems.append(Problem(source, f"only used with hazard = \"cure\" (hazard is {hazard!r})",
                                column="model.cure_base", value=model["cure_base"]))
    if "spline_df" in model and "mspline" not in families:
        problems.append(Problem(source, "only used by the \"mspline\" hazard (directly or as cure_base)",
                                column="model.spline_df", value=model["spline_df"]))
    return problems


def parse_survival_spec(mapping: dict, source: str = "<memory>") -> SurvivalSpec:
    """Validate a spec mapping (as read from TOML) and return a frozen spec object.

    Parameters
    ----------
    mapping : dict
        Parsed TOML.
    source : str
        File name used in error messages.

    Returns
    -------
    SurvivalSpec

    Raises
    ------
    ValidationError
        Listing every unknown key and bad value at once.
    """
    problems = [
        Problem(source, f"unknown table{did_you_mean(k, SECTIONS)}", column=f"[{k}]")
        for k in mapping
        if k not in SECTIONS
    ]
    if "model" not in mapping:
        problems.append(Problem(source, "missing table [model] (with at least name = \"...\")"))
    for section, keys in SECTIONS.items():
        if section in mapping and keys is not None:
            problems += _check_section(source, section, mapping[section], keys)
    if "sampler" in mapping and not isinstance(mapping["sampler"], dict):
        problems.append(Problem(source, "must be a table", column="[sampler]"))
    problems += _family_options(source, mapping.get("model"))
    if problems:
        raise ValidationError(problems)

    model = dict(mapping["model"])
    model.pop("family", None)
    name = model.pop("name", Path(source).stem)
    tuples = {k: tuple(model[k]) for k in ("covariates", "secondary_outcomes") if k in model}
    if "cuts_months" in model:
        tuples["cuts_months"] = tuple(float(c) for c in model["cuts_months"])
    ev = dict(mapping.get("evidence", {}))
    for k in ("populations", "designs"):
        if k in ev:
            ev[k] = tuple(ev[k])
    spec = SurvivalSpec(
        name=name,
        **{**model, **tuples},
        evidence=EvidenceRules(**ev),
        priors=Priors(**{k: float(v) for k, v in mapping.get("priors", {}).items()}),
        sampler=dict(mapping.get("sampler", {})),
        source=source,
    )
    if spec.sampler:
        from rhcc_bayes.inference.sampling import SamplerSettings

        SamplerSettings.from_mapping(spec.sampler, source=f"{source} [sampler]")
    return spec
