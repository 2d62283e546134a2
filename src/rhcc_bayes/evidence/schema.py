"""The evidence table's columns, their types and allowed values: the one contract
between the curated data, the loader/validator, the model builder and the exports.

One row is one reported number (or one arm declaration). An arm is identified by
``(study, arm)``; every row of an arm repeats its treatment, n and subgroup
descriptors so that each row can be read on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

# Columns in export order. ``REQUIRED`` must be present in every evidence file;
# the rest may be omitted (they are then empty).
COLUMNS: tuple[str, ...] = (
    "study",            # study label, unique across the table, e.g. "yang_97"
    "ref",              # review citation key(s), e.g. "97" or "50;53"; "" when the review cites none
    "arm",              # arm label within the study, e.g. "TACE-RFA"
    "treatment",        # canonical treatment code from data/treatments.csv
    "modality",         # modality class of the treatment (must match the taxonomy)
    "n",                # patients in the arm (positive integer) or empty when not reported
    "outcome",          # see OUTCOMES
    "measure",          # see MEASURES
    "time_months",      # landmark time for measure=survival; empty otherwise
    "estimate",         # the reported number in canonical units (see UNITS)
    "ci_low",           # lower bound: 95% CI, or the low end of a range (see interval)
    "ci_high",          # upper bound
    "interval",         # "ci95", "range" (spread across studies/readings) or ""
    "qualifier",        # "" for an exact value; ">" or "<" when the source gives only a bound
    "se",               # standard error on the analysis scale when the source gives it
    "p_value",          # two-sided p-value of a reported contrast (hr) as printed; used for its SE
                        # only when neither se nor a 95% CI is given (survival.design.hr_standard_error)
    "unit",             # "fraction", "months", "days", "ratio", "patients", "events"
    "comparator_arm",   # for hr / differences: the reference arm (same study); else empty
    "population",       # see POPULATIONS
    "design",           # see DESIGNS
    "includes",         # pooled rows: ";"-separated study labels of constituent cohorts that are
                        # also studies of the table (see OVERLAP_RULE); "" otherwise
    "size_min_cm",      # tumour-size inclusion lower limit (exclusive), e.g. 5 for "> 5 cm"
    "size_max_cm",      # tumour-size inclusion upper limit, e.g. 3 for "<= 3 cm"
    "nodules_max",      # maximum number of nodules allowed, e.g. 1 for solitary only
    "recurrence_timing",  # "early" (< 12 months), "late", "any" or "" (not reported)
    "prior_treatment",  # curative-intent treatment that failed: "resection", "transplant", "ablation", "mixed", ""
    "bclc",             # BCLC stage(s) as reported, e.g. "A/B"; "" when not reported
    "default_use",      # "yes"/"no": whether the default analysis uses this row
    "source",           # verbatim quote of the sentence or table cell the number comes from
    "location",         # where in the review: "text: <section>" or "Table 1" / "Table 2"
    "notes",            # inconsistencies, assumptions, why default_use is "no"
)

REQUIRED: tuple[str, ...] = (
    "study", "ref", "arm", "treatment", "outcome", "measure", "estimate", "population",
    "design", "source",
)

NUMERIC: tuple[str, ...] = (
    "n", "time_months", "estimate", "ci_low", "ci_high", "se", "p_value", "size_min_cm", "size_max_cm",
    "nodules_max",
)
INTEGER: tuple[str, ...] = ("n", "nodules_max")

OUTCOMES: dict[str, str] = {
    "os": "overall survival",
    "pfs": "progression-free survival",
    "dfs": "disease-free survival",
    "rfs": "recurrence-free survival",
    "ttp": "time to progression",
    "complication": "complications / adverse events",
    "morbidity": "perioperative morbidity",
    "recurrence": "recurrence (intrahepatic or overall)",
    "response": "tumour response (complete or objective)",
    "los": "hospital length of stay",
    "enrolment": "arm size (measure=count)",
    "event": "generic event count (reference analyses: r of n)",
    "continuous": "generic continuous outcome (reference analyses)",
}
TIME_TO_EVENT: frozenset[str] = frozenset({"os", "pfs", "dfs", "rfs", "ttp"})

MEASURES: dict[str, str] = {
    "survival": "landmark survival probability S(time_months), fraction",
    "median": "median time to event, months",
    "hr": "hazard ratio arm vs comparator_arm",
    "or": "odds ratio arm vs comparator_arm",
    "proportion": "proportion of patients with the event, fraction",
    "mean": "mean (e.g. length of stay in days)",
    "count": "number of patients (outcome=enrolment) or events (outcome=event)",
    "mean_difference": "difference in means arm - comparator_arm",
}
# measures that compare two arms and so need comparator_arm
COMPARATIVE: frozenset[str] = frozenset({"hr", "or", "mean_difference"})
# measures whose estimate lies in [0, 1]
PROBABILITY: frozenset[str] = frozenset({"survival", "proportion"})
# measures whose estimate must be > 0
POSITIVE: frozenset[str] = frozenset({"median", "hr", "or"})

POPULATIONS: dict[str, str] = {
    "recurrent": "recurrent HCC after failed curative-intent treatment",
    "primary": "primary (treatment-naive) HCC",
    "mixed": "mixed or unclear population",
}
DESIGNS: dict[str, str] = {
    "rct": "randomised controlled trial",
    "prospective": "prospective cohort",
    "retrospective": "retrospective cohort",
    "meta_analysis": "pooled meta-analysis result (never pooled with its own primary studies)",
    "review": "a range or summary stated by the review itself across several studies",
    "trial": "reference-analysis trial arm (validation data sets)",
}
POOLED_DESIGNS: frozenset[str] = frozenset({"meta_analysis", "review"})
#: How ``includes`` is to be read by every model spec.
OVERLAP_RULE = (
    "a pooled result and its constituent rows are never both in the likelihood; the spec "
    "decides which (default: constituents when they carry arm-level data)"
)

INTERVALS: tuple[str, ...] = ("", "ci95", "range")
QUALIFIERS: tuple[str, ...] = ("", ">", "<")
UNITS: tuple[str, ...] = ("", "fraction", "months", "days", "ratio", "patients", "events", "units")
RECURRENCE_TIMING: tuple[str, ...] = ("", "early", "late", "any")
PRIOR_TREATMENT: tuple[str, ...] = ("", "resection", "transplant", "ablation", "mixed", "none")
DEFAULT_USE: tuple[str, ...] = ("yes", "no")
MODALITIES: tuple[str, ...] = (
    "ablation", "transarterial", "radiation", "surgery", "systemic", "combination", "other",
)


# --- plausibility bounds ------------------------------------------------------------------
# Every numeric cell must be a finite number (``nan``, ``inf`` and overflowing text such as
# ``1e999`` are "not a number") and lie inside the bound of the first entry of BOUNDS whose
# rows it belongs to. The table is rendered into data/README.md by bounds_markdown(); the
# rules that enforce it are the check_* functions of evidence/checks.py named in ``rule``.
N_MAX = 100_000          # patients in one arm (the largest bundled/reference arm: 88,391)
MONTHS_MAX = 600.0       # 50 years: any time or median beyond is a unit or typing error
RATIO_MAX = 100.0        # hazard / odds ratios and their CIs lie in (0, 100)
LOS_DAYS_MAX = 365.0     # mean hospital stay in days
SIZE_CM_MAX = 30.0       # tumour-size limits
NODULES_MAX = 50         # maximum number of nodules
SE_MAX = 1e6             # standard error on any analysis scale
MAGNITUDE_MAX = 1e9      # |value| of any other estimate (generic continuous outcomes)


@dataclass(frozen=True)
class Bound:
    """The allowed range of numeric columns on some rows.

    Parameters
    ----------
    columns : tuple of str
        Numeric columns the bound applies to.
    when : tuple of (column, values)
        Row selector: every pair must hold (``()`` = every row).
    low, high : float
        Range ends; ``low_open`` / ``high_open`` exclude them.
    integer : bool
        Values must be whole numbers.
    unit : str
        Unit shown in messages and in the table.
    rule : str
        The ``check_*`` function(s) enforcing it.
    """

    columns: tuple[str, ...]
    when: tuple[tuple[str, tuple[str, ...]], ...]
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    unit: str = ""
    rule: str = ""
    rows_text: str = ""

    def interval(self) -> str:
        """``"(0, 600]"``: the range in interval notation."""
        def fmt(x: float) -> str:
            if float(x).is_integer() and abs(x) < 1e7:
                return f"{int(x)}"
            return f"{x:g}".replace("e+0", "e").replace("e+", "e")
        return (f"{'(' if self.low_open else '['}{fmt(self.low)}, {fmt(self.high)}"
                f"{')' if self.high_open else ']'}")

    def rows(self) -> str:
        """The selector as text, e.g. ``"measure = hr, or"``."""
        if self.rows_text:
            return self.rows_text
        if not self.when:
            return "every row"
        return "; ".join(f"{col} = {', '.join(v or '(empty)' for v in values)}"
                         for col, values in self.when)


_ESTIMATES = ("estimate", "ci_low", "ci_high")
BOUNDS: tuple[Bound, ...] = (
    Bound(("n",), (), 1, N_MAX, integer=True, unit="patients",
          rule="check_positive_integer, check_integer_bounds"),
    Bound(("nodules_max",), (), 1, NODULES_MAX, integer=True, unit="nodules",
          rule="check_positive_integer, check_integer_bounds"),
    Bound(("time_months",), (), 0, MONTHS_MAX, low_open=True, unit="months",
          rule="check_time_positive, check_time_bounds"),
    Bound(("size_min_cm", "size_max_cm"), (), 0, SIZE_CM_MAX, low_open=True, unit="cm",
          rule="check_size_bounds"),
    Bound(("se",), (), 0, SE_MAX, low_open=True,
          rule="check_se_bounds"),
    Bound(("p_value",), (), 0, 1, low_open=True, high_open=True, unit="probability",
          rule="check_p_value_bounds"),
    Bound(_ESTIMATES, (("measure", tuple(sorted(PROBABILITY))),), 0, 1, unit="fraction",
          rule="check_probability_range"),
    Bound(_ESTIMATES, (("measure", ("median",)),), 0, MONTHS_MAX, low_open=True, unit="months",
          rule="check_positive_measures, check_median_bounds"),
    Bound(_ESTIMATES, (("measure", ("hr", "or")),), 0, RATIO_MAX, low_open=True,
          high_open=True, unit="ratio", rule="check_positive_measures, check_ratio_bounds"),
    Bound(_ESTIMATES, (("outcome", ("los",)), ("measure", ("mean",))), 0, LOS_DAYS_MAX,
          low_open=True, unit="days", rule="check_los_bounds"),
    Bound(_ESTIMATES, (("measure", ("count",)),), 0, N_MAX, integer=True,
          unit="patients or events", rule="check_count_bounds"),
    Bound(_ESTIMATES, (), -MAGNITUDE_MAX, MAGNITUDE_MAX, 
          rule="check_magnitude_bounds", rows_text="every other row (means, mean differences)"),
)


def bound_for(column: str, measure: str = "", outcome: str = "") -> Bound:
    """The first bound of :data:`BOUNDS` covering ``column`` on a row of this measure/outcome."""
    row = {"measure": measure, "outcome": outcome}
    for bound in BOUNDS:
        if column in bound.columns and all(row.get(c) in v for c, v in bound.when):
            return bound
    raise KeyError(column)


def bounds_markdown() -> str:
    """:data:`BOUNDS` as the Markdown table of data/README.md ("Plausibility bounds")."""
    lines = ["| columns | rows | allowed | unit | whole numbers | rule |",
             "|---|---|---|---|---|---|"]
    for b in BOUNDS:
        lines.append(f"| {', '.join(f'`{c}`' for c in b.columns)} | {b.rows()} | "
                     f"{b.interval()} | {b.unit} | {'yes' if b.integer else ''} | "
                     f"{', '.join(f'`{r.strip()}`' for r in b.rule.split(','))} |")
    return "\n".join(lines)
