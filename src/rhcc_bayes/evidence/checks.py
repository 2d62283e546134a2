"""Row rules: each ``check_*`` looks at one row at a time and returns a list of Problem.

One small function per rule (a row may break several; all are reported). Rules that
compare rows with each other live in :mod:`~rhcc_bayes.evidence.consistency`; the
order in which rules run is :data:`~rhcc_bayes.evidence.validate.ROW_CHECKS`.
"""

from __future__ import annotations

from rhcc_bayes.core.errors import Problem, did_you_mean
from rhcc_bayes.core.text import lookalike_note
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


#: Code and label columns in which lookalike Unicode (Cyrillic 'А' for 'A') is an error.
IDENTIFIERS: tuple[str, ...] = ("study", "arm", "treatment", "comparator_arm", "includes")


def check_identifiers_lookalike(rows: Rows) -> list[Problem]:
    """Codes and labels contain no non-ASCII character that passes for ASCII.

    ``TАCE`` with a Cyrillic ``А`` would be a different treatment, study or arm from
    ``TACE``; the message names the character, its code point and Unicode name.
    """
    import pandas as pd

    problems = []
    for col in IDENTIFIERS:
        values = pd.unique(rows.raw[col].to_numpy(dtype=object))
        notes = {v: lookalike_note(v) for v in values if not v.isascii()}
        notes = {v: note for v, note in notes.items() if note}
        if not notes:
            continue
        for i in rows.raw.index[rows.raw[col].isin(list(notes)).to_numpy(dtype=bool)]:
            value = rows.raw.at[i, col]
            problems.append(rows.problem(
                i, f"{col} {notes[value]}; type codes and labels in plain ASCII", col, value))
    return problems


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
    raw = rows.raw
    expected = raw["treatment"].map({code: tax.modality(code) for code in tax.codes})
    bad = (raw["modality"] != "") & expected.notna() & (raw["modality"] != expected)
    return [
        rows.problem(i, f"modality does not match the taxonomy ('{expected[i]}' for "
                        f"'{raw.at[i, 'treatment']}')", "modality", raw.at[i, "modality"])
        for i in raw.index[bad.to_numpy(dtype=bool)]
    ]


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


# --- plausibility bounds (schema.BOUNDS) ---------------------------------------------------
def _selected(rows: Rows, bound: schema.Bound):
    """Boolean mask of the rows a bound applies to."""
    import numpy as np

    mask = np.ones(len(rows.raw), dtype=bool)
    for col, values in bound.when:
        mask &= rows.raw[col].isin(list(values)).to_numpy(dtype=bool)
    return mask


def _outside(x, bound: schema.Bound, *, low: bool = True, high: bool = True):
    """Boolean array: values of ``x`` outside the bound (NaN, i.e. empty, never is)."""
    import numpy as np

    x = np.asarray(x, dtype="float64")
    bad = np.zeros(x.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if low:
            bad |= (x <= bound.low) if bound.low_open else (x < bound.low)
        if high:
            bad |= (x >= bound.high) if bound.high_open else (x > bound.high)
        if bound.integer:
            bad |= ~np.isnan(x) & (x % 1 != 0)
    return bad


def _bound_problems(rows: Rows, bound: schema.Bound, *, low: bool = True, high: bool = True,
                    select=None, prefix: bool = False) -> list[Problem]:
    """Problems for the cells of ``bound.columns`` outside the bound on the selected rows."""
    select = _selected(rows, bound) if select is None else select
    whole = "a whole number in" if bound.integer else "in"
    unit = f" {bound.unit}" if bound.unit else ""
    problems = []
    for col in bound.columns:
        bad = _outside(rows.num[col], bound, low=low, high=high) & select
        for i in rows.raw.index[bad]:
            label = f"{rows.raw.at[i, 'measure']} {col}" if prefix else col
            problems.append(rows.problem(
                i, f"{label} must be {whole} {bound.interval()}{unit}", col,
                rows.raw.at[i, col]))
    return problems


def check_integer_bounds(rows: Rows) -> list[Problem]:
    """n is at most schema.N_MAX patients and nodules_max at most schema.NODULES_MAX.

    The lower end and whole numbers are check_positive_integer's.
    """
    problems = []
    for col in schema.INTEGER:
        bound = schema.bound_for(col)
        x = rows.num[col]
        bad = (x > bound.high) & (x % 1 == 0)
        problems += [rows.problem(i, f"{col} must be at most {bound.high:g} {bound.unit}", col,
                                  rows.raw.at[i, col]) for i in rows.raw.index[bad]]
    return problems


def check_time_bounds(rows: Rows) -> list[Problem]:
    """time_months is at most schema.MONTHS_MAX (the lower end is check_time_positive's)."""
    return _bound_problems(rows, schema.bound_for("time_months"), low=False)


def check_size_bounds(rows: Rows) -> list[Problem]:
    """Tumour-size limits lie in (0, schema.SIZE_CM_MAX] cm."""
    return _bound_problems(rows, schema.bound_for("size_min_cm"))


def check_size_order(rows: Rows) -> list[Problem]:
    """size_min_cm (exclusive) is below size_max_cm: otherwise no tumour fits the subgroup."""
    lo, hi = rows.num["size_min_cm"], rows.num["size_max_cm"]
    return [rows.problem(i, f"size_min_cm is not below size_max_cm {rows.raw.at[i, 'size_max_cm']}",
                         "size_min_cm", rows.raw.at[i, "size_min_cm"])
            for i in rows.raw.index[lo >= hi]]


def check_se_bounds(rows: Rows) -> list[Problem]:
    """A standard error is > 0 and at most schema.SE_MAX."""
    return _bound_problems(rows, schema.bound_for("se"))


def check_p_value_bounds(rows: Rows) -> list[Problem]:
    """A p-value lies strictly between 0 and 1 (a printed "p < 0.001" is a bound, not a value)."""
    return _bound_problems(rows, schema.bound_for("p_value"))


def check_median_bounds(rows: Rows) -> list[Problem]:
    """Medians and their CI are at most schema.MONTHS_MAX months (> 0: check_positive_measures)."""
    return _bound_problems(rows, schema.bound_for("estimate", "median"), low=False, prefix=True)


def check_ratio_bounds(rows: Rows) -> list[Problem]:
    """Hazard and odds ratios and their CI are below schema.RATIO_MAX (> 0: check_positive_measures)."""
    return _bound_problems(rows, schema.bound_for("estimate", "hr"), low=False, prefix=True)


def check_los_bounds(rows: Rows) -> list[Problem]:
    """A mean length of stay and its CI lie in (0, schema.LOS_DAYS_MAX] days."""
    return _bound_problems(rows, schema.bound_for("estimate", "mean", "los"), prefix=True)


def check_count_bounds(rows: Rows) -> list[Problem]:
    """Counts (patients, events) are whole numbers in [0, schema.N_MAX]."""
    return _bound_problems(rows, schema.bound_for("estimate", "count"), prefix=True)


def check_magnitude_bounds(rows: Rows) -> list[Problem]:
    """Every other estimate and bound (means, mean differences) has |x| <= schema.MAGNITUDE_MAX."""
    import numpy as np

    fallback = schema.BOUNDS[-1]
    covered = np.zeros(len(rows.raw), dtype=bool)
    for bound in schema.BOUNDS[:-1]:
        if set(bound.columns) & set(fallback.columns):
            covered |= _selected(rows, bound)
    return _bound_problems(rows, fallback, select=~covered)


def check_count_within_n(rows: Rows) -> list[Problem]:
    """An event count is at most the arm's n; an enrolment count equals it."""
    raw, num = rows.raw, rows.num
    both = (raw["measure"] == "count") & num["estimate"].notna() & num["n"].notna()
    enrolment = raw["outcome"] == "enrolment"
    problems = [rows.problem(i, f"enrolment count differs from n {raw.at[i, 'n']}", "estimate",
                             raw.at[i, "estimate"])
                for i in raw.index[both & enrolment & (num["estimate"] != num["n"])]]
    problems += [rows.problem(i, f"count exceeds n {raw.at[i, 'n']}", "estimate",
                              raw.at[i, "estimate"])
                 for i in raw.index[both & ~enrolment & (num["estimate"] > num["n"])]]
    return problems
