"""Quality adjustment of RMST with stated weights: the utility file and the utility draws.

QA-RMST_j = RMST_j - complication_months * P(complication | j) - hospital_day_months * days_j.
The weights are illustrative inputs a user states, not validated preferences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import xarray as xr

from rhcc_bayes.core.errors import Problem, UserError, ValidationError, did_you_mean
from rhcc_bayes.core.text import lookalike_problem
from rhcc_bayes.core.toml import read_toml


@dataclass(frozen=True)
class UtilityWeights:
    """Stated weights turning RMST into a quality-adjusted RMST (all in months of RMST).

    Parameters
    ----------
    complication_months : float
        RMST months lost per complication (multiplied by the complication probability).
    hospital_day_months : float
        RMST months lost per hospital day (stay and cost burden, expressed in months).
    """

    complication_months: float = 0.0
    hospital_day_months: float = 0.0

    def describe(self) -> str:
        return (f"QA-RMST = RMST - {self.complication_months:g} x P(complication) "
                f"- {self.hospital_day_months:g} x hospital days (months)")


#: Plausibility bounds of the utility file (upper ends inclusive; every value is >= 0):
#: RMST months lost per complication, per hospital day, and days in hospital per treatment.
#: A weight above them is a typing or unit error (a 1e300 weight printed 300-digit RMSTs).
UTILITY_BOUNDS: dict[str, float] = {
    "complication_months": 120.0,   # 10 years of RMST lost per complication
    "hospital_day_months": 10.0,    # months of RMST per day in hospital
}
HOSPITAL_DAYS_MAX = 365.0           # mean days in hospital for one treatment


def _number_problem(src: str, column: str, v, high: float, not_number: str, negative: str,
                    what: str) -> Problem | None:
    """The problem with one value: not a finite number, negative, or above ``high``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return Problem(src, not_number, column=column, value=v)
    if v < 0:
        return Problem(src, negative, column=column, value=v)
    if v > high:
        return Problem(src, f"must be at most {high:g} ({what}); a larger value is not "
                            "plausible (a typing or unit error?)", column=column, value=v)
    return None


def check_utility_weights(table: dict, src: str, prefix: str = "") -> tuple[dict, list[Problem]]:
    """Validated weight values and the problems found (unknown keys, non-numbers, negatives,
    values above :data:`UTILITY_BOUNDS`)."""
    known = [f.name for f in fields(UtilityWeights)]
    values, problems = {}, []
    for key, v in table.items():
        column = f"{prefix}{key}"
        if key not in known:
            problems.append(Problem(src, f"unknown key{did_you_mean(key, known)}", column=column))
            continue
        problem = _number_problem(src, column, v, UTILITY_BOUNDS[key], "must be a number (months)",
                                  "must be >= 0 (a disutility in months)",
                                  "a disutility in months")
        if problem:
            problems.append(problem)
        else:
            values[key] = float(v)
    return values, problems


def load_utility_weights(path: str | Path) -> UtilityWeights:
    """Read :class:`UtilityWeights` from TOML (top level or a ``[utility]`` table).

    Raises
    ------
    ValidationError
        Malformed TOML, unknown keys (with did-you-mean), non-numeric or negative weights.
    """
    data = read_toml(path, "utility weights")
    if set(data) == {"utility"} and isinstance(data["utility"], dict):
        data = data["utility"]
    values, problems = check_utility_weights(data, str(path))
    if problems:
        raise ValidationError(problems)
    return UtilityWeights(**values)


def quality_adjusted_rmst(rmst_draws: xr.DataArray, weights: UtilityWeights,
                          complication: xr.DataArray | None = None,
                          hospital_days: xr.DataArray | None = None) -> xr.DataArray:
    """RMST minus weighted complication probability and hospital days.

    ``complication`` / ``hospital_days`` may be posterior draws (chain, draw, treatment)
    or fixed per-treatment values (treatment,). A treatment missing from them is an
    error rather than silently dropped by xarray's alignment.
    """
    out = rmst_draws
    for term, w, name in ((complication, weights.complication_months, "complication"),
                          (hospital_days, weights.hospital_day_months, "hospital_days")):
        if term is None or w == 0:
            continue
        missing = sorted(set(rmst_draws["treatment"].values.tolist())
                         - set(term["treatment"].values.tolist()))
        if missing:
            raise UserError(f"{name} has no values for treatments {missing}: give them, or "
                            "restrict the decision to treatments that have them")
        out = out - w * term.sel(treatment=rmst_draws["treatment"])
    out = out.transpose(*rmst_draws.dims)
    out.attrs.update(long_name="quality-adjusted RMST", units="months",
                     weights=weights.describe())
    return out


@dataclass(frozen=True)
class Utility:
    """Quality adjustment of RMST with stated weights.

    QA-RMST_j = RMST_j - complication_months * P(complication | j) - hospital_day_months * days_j,
    where P(complication | j) are the model's posterior draws (``complication_probability``)
    and ``days_j`` fixed per-treatment hospital stays from the utility file.
    """

    weights: UtilityWeights
    hospital_days: dict = field(default_factory=dict)
    source: str = "<utility>"

    def describe(self) -> str:
        return self.weights.describe()


def load_utility(path: str | Path) -> Utility:
    """Read a utility TOML: ``[utility]`` weights and an optional ``[hospital_days]`` table.

    ::

        [utility]
        complication_months = 2.0      # RMST months lost per complication
        hospital_day_months = 0.05     # RMST months lost per hospital day
        [hospital_days]
        RFA = 3
        REPEAT-RESECTION = 9

    Raises
    ------
    ValidationError
        Unreadable/malformed TOML, unknown keys, non-numeric, negative or implausible
        values (:data:`UTILITY_BOUNDS`, :data:`HOSPITAL_DAYS_MAX`), treatment codes with
        lookalike Unicode characters.
    """
    src = str(path)
    data = read_toml(path, "utility file")
    problems: list[Problem] = []
    days_raw = data.pop("hospital_days", {})
    weights_raw = data.pop("utility", None)
    if weights_raw is None:  # weights at top level; a table there is a misspelt table name
        weights_raw = {k: v for k, v in data.items() if not isinstance(v, dict)}
        data = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key in data:
        problems.append(Problem(src, f"unknown table{did_you_mean(key, ['utility', 'hospital_days'])}", column=key))
    if not isinstance(weights_raw, dict):
        problems.append(Problem(src, "must be a table", column="utility"))
        weights_raw = {}
    values, weight_problems = check_utility_weights(weights_raw, src, prefix="utility.")
    problems += weight_problems

    days = {}
    if not isinstance(days_raw, dict):
        problems.append(Problem(src, "must be a table of treatment = days", column="hospital_days"))
        days_raw = {}
    for key, v in days_raw.items():
        column = f"hospital_days.{key}"
        problem = _number_problem(src, column, v, HOSPITAL_DAYS_MAX, "must be a number",
                                  "must be >= 0", "days in hospital")
        lookalike = lookalike_problem(str(key))
        if lookalike:
            problems.append(Problem(src, f"treatment code {lookalike}", column=column))
        if problem:
            problems.append(problem)
        elif not lookalike:
            days[str(key)] = float(v)
    if problems:
        raise ValidationError(problems)
    return Utility(UtilityWeights(**values), days, src)


def utility_draws(idata, rmst: xr.DataArray, utility: Utility) -> xr.DataArray:
    w = utility.weights
    treatments = rmst["treatment"].values.tolist()
    complication = None
    if w.complication_months > 0:
        if "complication_probability" not in idata.posterior:
            raise UserError(f"{utility.source}: complication_months > 0 but this posterior has no "
                            "complication model (no complication evidence in the spec's likelihood)")
        complication = idata.posterior["complication_probability"].sel(treatment=treatments)
    days = None
    if w.hospital_day_months > 0:
        unknown = sorted(set(utility.hospital_days) - set(idata.posterior["mu"].treatment.values.tolist()))
        if unknown:
            raise UserError(f"{utility.source}: [hospital_days] has unknown treatment codes {unknown}")
        missing = [t for t in treatments if t not in utility.hospital_days]
        if missing:
            raise UserError(f"{utility.source}: hospital_day_months > 0 but [hospital_days] gives no value for "
                            f"candidate treatments {missing}")
        days = xr.DataArray([utility.hospital_days[t] for t in treatments], dims="treatment",
                            coords={"treatment": treatments})
    return quality_adjusted_rmst(rmst, w, complication=complication, hospital_days=days)
