"""Run every rule over the parsed rows and order the problems found.

:data:`ROW_CHECKS` lists the rules in the order they run; :func:`validate_rows`
collects every problem of every rule, so a user fixes a file in one pass.
"""

from __future__ import annotations

from collections.abc import Callable

from rhcc_bayes.core.errors import Problem
from rhcc_bayes.evidence import checks, consistency, schema
from rhcc_bayes.evidence.rows import Rows

ROW_CHECKS: tuple[Callable[[Rows], list[Problem]], ...] = (
    checks.check_identifiers_present,
    checks.check_identifiers_lookalike,
    checks.check_numeric,
    checks.check_positive_integer,
    checks.check_categorical,
    checks.check_treatment_known,
    checks.check_modality_matches,
    checks.check_estimate_present,
    checks.check_probability_range,
    checks.check_positive_measures,
    checks.check_interval_order,
    checks.check_interval_contains_estimate,
    checks.check_time_positive,
    checks.check_survival_has_time,
    checks.check_integer_bounds,
    checks.check_time_bounds,
    checks.check_size_bounds,
    checks.check_size_order,
    checks.check_se_bounds,
    checks.check_p_value_bounds,
    checks.check_median_bounds,
    checks.check_ratio_bounds,
    checks.check_los_bounds,
    checks.check_count_bounds,
    checks.check_magnitude_bounds,
    checks.check_count_within_n,
    consistency.check_survival_not_increasing,
    consistency.check_comparator_given,
    consistency.check_comparator_exists,
    consistency.check_arm_n_consistent,
    consistency.check_arm_treatment_consistent,
    consistency.check_duplicate_rows,
    consistency.check_includes_known,
    consistency.check_includes_not_self,
    consistency.check_includes_only_pooled,
)


def validate_rows(rows: Rows) -> list[Problem]:
    """Every problem found by every rule of :data:`ROW_CHECKS`, in rule order."""
    problems: list[Problem] = []
    for check in ROW_CHECKS:
        problems += check(rows)
    return problems


def problem_order(files: list[str]):
    """Sort key for problems: file (in the order given), then line, then schema column."""
    order = {str(f): k for k, f in enumerate(files)}
    columns = {c: k for k, c in enumerate(schema.COLUMNS)}

    def key(p: Problem):
        return (order.get(p.file, len(order)), p.line or 0, columns.get(p.column, -1))
    return key
