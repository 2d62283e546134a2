"""Row rules: each ``check_*`` looks at one row at a time and returns a list of Problem.

One small function per rule (a row may break several; all are reported). Rules that
compare rows with each other live in :mod:`~rhcc_bayes.evidence.consistency`; the
order in which rules run is :data:`~rhcc_bayes.evidence.validate.ROW_CHECKS`.
"""

from __future__ import annotations

from rhcc_bayes.core.errors import Problem, did_you_mean
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.rows import Rows

CATEGORICAL: dict[str, tuple[str, ...]] = {
    "outcome": tuple(schema.OUTCOMES),
    "measure": tuple(schema.MEASURES),
    "population": tuple(schema.POPULATIONS),
    "design": tuple(schema.DESIGNS),
    "interval": schema.INTERVALS,
    "qualifier": schema.QUALIFIERS,
    "unit": schema.UNITS,
    "recurrence_timing": schema.RECURRENCE_TIMING,
    "prior_treatment": schema.PRIOR_TREATMENT,
    "default_use": schema.DEFAULT_USE,
}


def check_identifiers_present(rows: Rows) -> list[Problem]:
    """study, arm and treatment must not be empty."""
    return [
        rows.problem(i, f"{col} is empty", col)
        for col in ("study", "arm", "treatment")
        for i in rows.raw.index[rows.raw[col] == ""]
    ]


def check_numeric(rows: Rows) -> list[Problem]:
    """Numeric columns hold numbers or nothing."""
    return [
        rows.problem(i, "is not a number", col, rows.raw.at[i, col])
        for col in schema.NUMERIC
        for i in rows.raw.index[(rows.raw[col] != "") & rows.num[col].isna()]
    ]


def check_positive_integer(rows: Rows) -> list[Problem]:
    """n and nodules_max are positive integers when given."""
    problems = []
    for col in schema.INTEGER:
        x = rows.num[col]
        bad = x.notna() & ((x <= 0) | (x % 1 != 0))
        problems += [rows.problem(i, "must be a positive integer", col, rows.raw.at[i, col])
                     for i in rows.raw.index[bad]]
    return problems


def check_categorical(rows: Rows) -> list[Problem]:
    """Categorical columns hold one of their allowed values."""
    problems = []
    for col, allowed in CATEGORICAL.items():
        listed = ", ".join(a or "(empty)" for a in allowed)
        for i in rows.raw.index[~rows.raw[col].isin(list(allowed))]:
            value = rows.raw.at[i, col]
            hint = did_you_mean(value, [a for a in allowed if a])
            problems.append(rows.problem(
                i, f"invalid {col}{hint}; expected one of: {listed}", col, value))
    return problems


def check_treatment_known(rows: Rows) -> list[Problem]:
    """Treatment codes exist in the taxonomy."""
    tax = rows.taxonomy
    bad = (rows.raw["treatment"] != "") & ~rows.raw["treatment"].isin(list(tax.codes))
    return [
        rows.problem(i, "unknown treatment code" + tax.suggest(rows.raw.at[i, "treatment"]),
                     "treatment", rows.raw.at[i, "treatment"])
        for i in rows.raw.index[bad]
    ]


def check_modality_matches(rows: Rows) -> list[Problem]:
    """A stated modality equals the taxonomy's modality of the treatment."""
    tax = rows.taxonomy
    problems = []
    for i in rows.raw.index[rows.raw["modality"] != ""]:
        code, stated = rows.raw.at[i, "treatment"], rows.raw.at[i, "modality"]
        if code in tax and stated != tax.modality(code):
            problems.append(rows.problem(
                i, f"modality does not match the taxonomy ('{tax.modality(code)}' for "
                   f"'{code}')", "modality", stated))
    return problems


def check_estimate_present(rows: Rows) -> list[Problem]:
    """estimate may be empty only on interval=range rows and enrolment counts."""
    raw = rows.raw
    enrolment = (raw["outcome"] == "enrolment") & (raw["measure"] == "count")
    exempt = (raw["interval"] == "range") | enrolment
    bad = (raw["estimate"] == "") & ~exempt
    return [rows.problem(i, "estimate is empty; only interval=range rows and enrolment "
                            "counts may omit it", "estimate") for i in raw.index[bad]]


def check_probability_range(rows: Rows) -> list[Problem]:
    """Survival and proportion estimates and bounds lie in [0, 1]."""
    is_prob = rows.raw["measure"].isin(schema.PROBABILITY)
    problems = []
    for col in ("estimate", "ci_low", "ci_high"):
        x = rows.num[col]
        bad = is_prob & ((x < 0) | (x > 1))
        problems += [
            rows.problem(i, f"{rows.raw.at[i, 'measure']} {col} must lie in [0, 1]", col,
                         rows.raw.at[i, col])
            for i in rows.raw.index[bad]
        ]
    return problems


def check_positive_measures(rows: Rows) -> list[Problem]:
    """Medians, hazard ratios and odds ratios (and their bounds) are > 0."""
    is_pos = rows.raw["measure"].isin(schema.POSITIVE)
    problems = []
    for col in ("estimate", "ci_low", "ci_high"):
        bad = is_pos & (rows.num[col] <= 0)
        problems += [
            rows.problem(i, f"{rows.raw.at[i, 'measure']} {col} must be > 0", col,
                         rows.raw.at[i, col])
            for i in rows.raw.index[bad]
        ]
    return problems


def check_interval_order(rows: Rows) -> list[Problem]:
    """ci_low is not above ci_high."""
    bad = rows.num["ci_low"] > rows.num["ci_high"]
    return [
        rows.problem(i, f"ci_low exceeds ci_high {rows.raw.at[i, 'ci_high']}", "ci_low",
                     rows.raw.at[i, "ci_low"])
        for i in rows.raw.index[bad]
    ]


def check_interval_contains_estimate(rows: Rows) -> list[Problem]:
    """An estimate with both bounds lies inside them (reversed bounds are reported elsewhere)."""
    est, lo, hi = rows.num["estimate"], rows.num["ci_low"], rows.num["ci_high"]
    bad = (lo <= hi) & ((est < lo) | (est > hi))
    return [
        rows.problem(
            i, f"estimate lies outside its interval [{rows.raw.at[i, 'ci_low']}, "
               f"{rows.raw.at[i, 'ci_high']}]", "estimate", rows.raw.at[i, "estimate"])
        for i in rows.raw.index[bad]
    ]


def check_time_positive(rows: Rows) -> list[Problem]:
    """time_months, when given, is > 0."""
    bad = rows.num["time_months"] <= 0
    return [rows.problem(i, "time_months must be > 0", "time_months",
                         rows.raw.at[i, "time_months"]) for i in rows.raw.index[bad]]


def check_survival_has_time(rows: Rows) -> list[Problem]:
    """Landmark survival rows used by the default analysis give time_months.

    A ``default_use = no`` row may lack it: the review sometimes quotes a survival
    figure without its time point (Kimura [86]); the row keeps the reported number
    for provenance and never enters a model.
    """
    raw = rows.raw
    bad = (raw["measure"] == "survival") & (raw["time_months"] == "") & (raw["default_use"] != "no")
    return [rows.problem(i, "survival row needs time_months", "time_months")
            for i in raw.index[bad]]
