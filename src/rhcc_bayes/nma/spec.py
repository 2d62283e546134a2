"""Declarative specification of a standard network meta-analysis (NMA) model.

A spec is plain data read from TOML (``models/nma_*.toml``)::

    seed = 1
    [model]
    family = "nma"
    likelihood = "binomial"      # arm-level likelihood: "binomial" (r of n) | "normal" (mean, se)
    link = "cloglog"             # "logit" | "cloglog" (binomial) ; "identity" (normal)
    time_offset = true           # cloglog only: add log(follow-up) to the linear predictor
    time_unit = "years"          # scale of that follow-up in the offset: "months" | "years"
    baselines = "fixed"          # "fixed": independent study baselines | "random": exchangeable
    effects = "random"           # "fixed" | "random" treatment effects
    reference = "diuretic"       # treatment code all relative effects d are expressed against
    consistency = "consistency"  # "consistency" (d_k - d_b) | "ume": unrelated mean effects
                                 # (one free d per pair of treatments compared, TSD4)
    # node_split = ["placebo", "ace_inhibitor"]  # one node-splitting model: the direct effect of
                                 # the 2nd vs the 1st treatment gets its own parameter d_direct
    outcome = "event"            # evidence rows used (default: event / continuous by likelihood)
    [priors]
    baseline_sd = 10             # mu_s ~ N(0, baseline_sd^2) (random: the mean of the mu_s)
    baseline_tau_sd = 1          # random baselines only: sd of mu_s ~ half-N(0, baseline_tau_sd^2)
    effect_sd = 10               # d_k ~ N(0, effect_sd^2)
    tau_sd = 5                   # random effects: tau ~ half-N(0, tau_sd^2) ...
    # tau = 0.56                 # ... or tau fixed at a value (exact checks)
    [prediction]                 # optional absolute predictions (TSD2 style)
    baseline_treatment = "diuretic"
    baseline_mean = -4.2         # on the linear-predictor scale (without the time offset)
    baseline_precision = 1.11    # or baseline_sd
    time = 3                     # in time_unit; required with time_offset
    [sampler]                    # passed through to rhcc_bayes.fit.SamplerSettings.from_mapping
    draws = 1000

Parsing only validates and normalises; nothing here imports PyMC. Every numeric field is
finite and within a plausibility bound (``NUMBER_BOUNDS``); problems are reported together as a
:class:`~rhcc_bayes.core.errors.ValidationError` in the survival spec's style
(``file: column 'priors.tau_sd': must be >= 1e-09 (got -1)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rhcc_bayes.core.errors import Problem, ValidationError, did_you_mean
from rhcc_bayes.core.seed import SEED_LIMIT, is_seed
from rhcc_bayes.core.toml import read_toml

LIKELIHOODS: dict[str, tuple[str, ...]] = {
    "binomial": ("logit", "cloglog"),
    "normal": ("identity",),
}
LINKS: tuple[str, ...] = ("logit", "cloglog", "identity")
BASELINES: tuple[str, ...] = ("fixed", "random")
EFFECTS: tuple[str, ...] = ("fixed", "random")
CONSISTENCY: tuple[str, ...] = ("consistency", "ume")
TIME_UNITS: dict[str, float] = {"months": 1.0, "years": 12.0}  # months per unit
DEFAULT_OUTCOME: dict[str, str] = {"binomial": "event", "normal": "continuous"}

_TOP_KEYS = ("name", "description", "seed", "model", "priors", "prediction", "sampler")
_MODEL_KEYS = (
    "family", "likelihood", "link", "time_offset", "time_unit", "baselines", "effects",
    "reference", "outcome", "consistency", "node_split",
)
_PRIOR_KEYS = ("baseline_sd", "baseline_tau_sd", "effect_sd", "tau_sd", "tau")
_PREDICTION_KEYS = (
    "baseline_treatment", "baseline_mean", "baseline_sd", "baseline_precision", "time",
)
# Plausibility bounds (lo, hi) of every numeric field. Prior SDs reach 1e4 because TSD2-style
# "vague" priors (N(0, 100^2), N(0, 1000^2)) are the published analyses' choice and a normal
# likelihood works on the outcome's own scale; anything larger only breaks the sampler.
NUMBER_BOUNDS: dict[str, tuple[float, float]] = {
    "priors.baseline_sd": (1e-9, 1e4),
    "priors.effect_sd": (1e-9, 1e4),
    "priors.baseline_tau_sd": (1e-9, 100.0),
    "priors.tau_sd": (1e-9, 100.0),
    "priors.tau": (1e-9, 100.0),
    "prediction.baseline_mean": (-1e6, 1e6),
    "prediction.baseline_sd": (1e-9, 1e4),
    "prediction.baseline_precision": (1e-8, 1e18),
    "prediction.time": (1e-6, 1e4),
}
SEED_MAX = SEED_LIMIT - 1  # the one seed rule (core.seed): numpy and nutpie accept [0, 2**32)


@dataclass(frozen=True)
class NMAPrediction:
    """Baseline distribution for absolute predictions (TSD2 section on absolute effects).

    The baseline linear predictor ``A ~ N(mean, sd^2)`` belongs to ``treatment``; the
    prediction for treatment k is ``invlink(A + d_k - d_treatment [+ log time])``.
    """

    treatment: str
    mean: float
    sd: float
    time: float | None = None


@dataclass(frozen=True)
class NMASpec:
    """A validated NMA model specification (see the module docstring for the keys)."""

    reference: str
    likelihood: str = "binomial"
    link: str = "logit"
    time_offset: bool = False
    time_unit: str = "months"
    baselines: str = "fixed"
    effects: str = "fixed"
    outcome: str = "event"
    consistency: str = "consistency"
    node_split: tuple[str, str] | None = None
    baseline_sd: float = 100.0
    baseline_tau_sd: float | None = None
    effect_sd: float = 100.0
    tau_sd: float | None = None
    tau: float | None = None
    prediction: NMAPrediction | None = None
    sampler: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    name: str = ""
    description: str = ""
    source: str = "<spec>"

    @property
    def random_effects(self) -> bool:
        return self.effects == "random"

    @property
    def ume(self) -> bool:
        """Unrelated mean effects (inconsistency) model instead of the consistency model."""
        return self.consistency == "ume"

    @property
    def months_per_time_unit(self) -> float:
        return TIME_UNITS[self.time_unit]


class _Collector:
    """Gathers every problem of a spec so the user fixes them in one go."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, key: str, message: str, value: Any = None) -> None:
        self.problems.append(Problem(self.source, message, column=key, value=value))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


def _check_keys(table: Mapping, allowed: tuple[str, ...], prefix: str, out: _Collector) -> None:
    for key in table:
        if key not in allowed:
            out.add(f"{prefix}{key}", "unknown key" + did_you_mean(key, allowed))


def _choice(table, key, choices, default, prefix, out):
    value = table.get(key, default)
    if value is None or value in choices:
        return value
    hint = did_you_mean(value, choices) if isinstance(value, str) else ""
    out.add(prefix + key, f"must be one of {list(choices)}{hint}", value)
    return default


def _number(table, key, prefix, out, *, default=None):
    """A finite number within ``NUMBER_BOUNDS`` (messages as the survival spec's checks)."""
    value = table.get(key, default)
    if value is None:
        return None
    lo, hi = NUMBER_BOUNDS[prefix + key]
    # bool is an int subclass: "true" is not a standard deviation
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        message = "must be a number"
    elif not math.isfinite(value):
        message = "must be a finite number"
    elif value < lo:
        message = f"must be >= {lo}"
    elif value > hi:
        message = f"must be <= {hi}"
    else:
        return float(value)
    out.add(prefix + key, message, value)
    return None


def _table(mapping, key, out) -> dict:
    value = mapping.get(key, {})
    if not isinstance(value, Mapping):
        out.add(key, f"must be a table ([{key}])", value)
        return {}
    return dict(value)


def parse_nma_spec(mapping: Mapping[str, Any], source: str = "<spec>") -> NMASpec:
    """Validate a parsed TOML mapping and return an :class:`NMASpec`.

    Parameters
    ----------
    mapping : Mapping
        The TOML document as nested dicts.
    source : str
        File name (or label) used in error messages.

    Returns
    -------
    NMASpec

    Raises
    ------
    ValidationError
        Listing every unknown key (with a "did you mean" hint) and bad value, each
        prefixed by ``source`` and the dotted key.
    """
    out = _Collector(str(source))
    if not isinstance(mapping, Mapping):
        raise ValidationError([Problem(str(source), f"an NMA spec must be a TOML table (got {type(mapping).__name__})")])
    _check_keys(mapping, _TOP_KEYS, "", out)
    model = _table(mapping, "model", out)
    priors = _table(mapping, "priors", out)
    pred = _table(mapping, "prediction", out) if "prediction" in mapping else None
    sampler = _table(mapping, "sampler", out)
    _check_keys(model, _MODEL_KEYS, "model.", out)
    _check_keys(priors, _PRIOR_KEYS, "priors.", out)
    if pred is not None:
        _check_keys(pred, _PREDICTION_KEYS, "prediction.", out)

    if "family" not in model:
        out.add("model.family", "is required and must be 'nma'")
    elif model["family"] != "nma":
        out.add("model.family", "must be 'nma' for a network meta-analysis spec", model["family"])

    likelihood = _choice(model, "likelihood", tuple(LIKELIHOODS), None, "model.", out)
    if "likelihood" not in model:
        out.add("model.likelihood", "is required: one of 'binomial', 'normal'")
    link = _choice(model, "link", LINKS, None, "model.", out)
    if likelihood is not None:
        if link is None and "link" not in model:
            link = LIKELIHOODS[likelihood][0]  # the canonical link
        elif link is not None and link not in LIKELIHOODS[likelihood]:
            out.add("model.link", f"{link!r} does not go with likelihood {likelihood!r}; use "
                    + " or ".join(repr(x) for x in LIKELIHOODS[likelihood]))
    time_offset = model.get("time_offset", False)
    if not isinstance(time_offset, bool):
        out.add("model.time_offset", "must be true or false", time_offset)
        time_offset = False
    if time_offset and link not in (None, "cloglog"):
        out.add("model.time_offset", f"a log-time offset needs link = 'cloglog' (got link {link!r})")
    time_unit = _choice(model, "time_unit", tuple(TIME_UNITS), "months", "model.", out)
    baselines = _choice(model, "baselines", BASELINES, "fixed", "model.", out)
    effects = _choice(model, "effects", EFFECTS, "fixed", "model.", out)
    consistency = _choice(model, "consistency", CONSISTENCY, "consistency", "model.", out)
    reference = model.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        out.add("model.reference", "is required: the reference treatment code", reference)
        reference = ""
    node_split = _node_split(model, consistency, out)
    outcome = model.get("outcome", DEFAULT_OUTCOME.get(likelihood or "", "event"))
    if not isinstance(outcome, str) or not outcome:
        out.add("model.outcome", "must be an outcome code such as 'event'", outcome)

    baseline_sd = _number(priors, "baseline_sd", "priors.", out, default=100.0)
    effect_sd = _number(priors, "effect_sd", "priors.", out, default=100.0)
    baseline_tau_sd = _number(priors, "baseline_tau_sd", "priors.", out)
    tau_sd = _number(priors, "tau_sd", "priors.", out)
    tau = _number(priors, "tau", "priors.", out)
    if effects == "random":
        if ("tau_sd" in priors) == ("tau" in priors):
            out.add("priors.tau_sd", "random effects need exactly one of priors.tau_sd "
                    "(half-normal prior sd) or priors.tau (fixed value)")
    else:
        for key in ("tau_sd", "tau"):
            if key in priors:
                out.add(f"priors.{key}", "only applies with model.effects = 'random'")
    if baselines == "random" and "baseline_tau_sd" not in priors:
        out.add("priors.baseline_tau_sd", "is required with model.baselines = 'random'")
    if baselines != "random" and "baseline_tau_sd" in priors:
        out.add("priors.baseline_tau_sd", "only applies with model.baselines = 'random'")

    prediction = None
    if pred is not None:
        prediction = _parse_prediction(pred, reference, bool(time_offset), out)
        if consistency == "ume":
            out.add("prediction", "absolute predictions need the consistency model (model.consistency = "
                    "'ume' has no treatment effects d_k to predict from)")

    seed = mapping.get("seed")
    if seed is not None and not (isinstance(seed, int) and is_seed(seed)):
        out.add("seed", f"must be an integer between 0 and {SEED_MAX}", seed)
        seed = None
    name = mapping.get("name", "")
    description = mapping.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            out.add(key, "must be a string", value)
    out.raise_if_any()
    return NMASpec(
        reference=reference.strip(), likelihood=likelihood, link=link,
        time_offset=time_offset, time_unit=time_unit, baselines=baselines, effects=effects,
        outcome=outcome, consistency=consistency, node_split=node_split, baseline_sd=baseline_sd, baseline_tau_sd=baseline_tau_sd,
        effect_sd=effect_sd, tau_sd=tau_sd, tau=tau, prediction=prediction,
        sampler=dict(sampler), seed=seed, name=str(name), description=str(description),
        source=str(source),
    )


def _node_split(model: Mapping, consistency: str, out: _Collector) -> tuple[str, str] | None:
    value = model.get("node_split")
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, str) and v.strip() for v in value) or value[0] == value[1]):
        out.add("model.node_split", "must be a list of two different treatment codes", value)
        return None
    if consistency == "ume":
        out.add("model.node_split", "a node-splitting model is a consistency model; "
                "it cannot be combined with model.consistency = 'ume'")
        return None
    return (value[0].strip(), value[1].strip())


def _parse_prediction(pred: dict, reference: str, time_offset: bool, out: _Collector):
    p = "prediction."
    treatment = pred.get("baseline_treatment", reference)
    if not isinstance(treatment, str) or not treatment:
        out.add(p + "baseline_treatment", "must be a treatment code", treatment)
    mean = _number(pred, "baseline_mean", p, out)
    if "baseline_mean" not in pred:
        out.add(p + "baseline_mean", "is required")
    sd = _number(pred, "baseline_sd", p, out)
    precision = _number(pred, "baseline_precision", p, out)
    if ("baseline_sd" in pred) == ("baseline_precision" in pred):
        out.add(p + "baseline_sd", "give exactly one of baseline_sd or baseline_precision")
    elif precision is not None:
        sd = 1.0 / math.sqrt(precision)
    time = _number(pred, "time", p, out)
    if time_offset and "time" not in pred:
        out.add(p + "time", "is required with model.time_offset = true")
    if not time_offset and "time" in pred:
        out.add(p + "time", "only applies with model.time_offset = true")
    if mean is None or sd is None or not isinstance(treatment, str):
        return None
    return NMAPrediction(treatment=treatment, mean=mean, sd=sd, time=time)


def load_nma_spec(path: str | Path) -> NMASpec:
    """Read and validate an NMA spec TOML file.

    Raises
    ------
    ValidationError
        When the file is missing, unreadable, not valid TOML (a UTF-8 BOM is accepted:
        :func:`rhcc_bayes.core.toml.read_toml`), or fails validation.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError([Problem(str(path), "NMA spec file not found")])
    return parse_nma_spec(read_toml(path, "NMA spec"), str(path))
