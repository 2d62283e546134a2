"""The evidence table's columns, their types and allowed values: the one contract
between the curated data, the loader/validator, the model builder and the exports.

One row is one reported number (or one arm declaration). An arm is identified by
``(study, arm)``; every row of an arm repeats its treatment, n and subgroup
descriptors so that each row can be read on its own.
"""

from __future__ import annotations

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
    "n", "time_months", "estimate", "ci_low", "ci_high", "se", "size_min_cm", "size_max_cm",
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
