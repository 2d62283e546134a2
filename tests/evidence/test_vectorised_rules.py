"""The vectorised cross-row rules report exactly what the row-at-a-time originals did.

The reference implementations below are the loops the rules had before they were
vectorised for million-row files (issue 13, item 8); hypothesis compares both on random
tables with ties, repeated arms, several files and shuffled row order.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rhcc_bayes.core.errors import did_you_mean
from rhcc_bayes.evidence import consistency, schema
from rhcc_bayes.evidence.reading import parse_numeric
from rhcc_bayes.evidence.rows import Rows
from rhcc_bayes.evidence.taxonomy import Taxonomy


# --- the row-at-a-time reference rules --------------------------------------------------------
def ref_survival_not_increasing(rows):
    raw, num = rows.raw, rows.num
    use = (raw["measure"] == "survival") & (raw["default_use"] == "yes")
    use &= num["time_months"].notna() & num["estimate"].notna()
    problems = []
    for (study, arm, _), group in raw[use].groupby(["study", "arm", "outcome"], sort=False):
        times = num.loc[group.index, "time_months"]
        earlier_min = None
        for t in sorted(set(times)):
            at_t = times.index[times == t]
            if earlier_min is not None:
                floor = num.at[earlier_min, "estimate"]
                for i in at_t:
                    if num.at[i, "estimate"] > floor:
                        problems.append(rows.problem(
                            i, f"survival increases from {raw.at[earlier_min, 'estimate']} at "
                               f"{raw.at[earlier_min, 'time_months']} months "
                               f"({rows.where(i, earlier_min)}) within arm '{arm}' of study "
                               f"'{study}'", "estimate", raw.at[i, "estimate"]))
            lowest = min(at_t, key=lambda j: num.at[j, "estimate"])
            if earlier_min is None or num.at[lowest, "estimate"] < num.at[earlier_min, "estimate"]:
                earlier_min = lowest
    return problems


def ref_comparator_exists(rows):
    raw = rows.raw
    arms = set(zip(raw["study"], raw["arm"]))
    problems = []
    for i in raw.index[raw["comparator_arm"] != ""]:
        study, comp = raw.at[i, "study"], raw.at[i, "comparator_arm"]
        if (study, comp) not in arms:
            problems.append(rows.problem(
                i, f"comparator arm is not an arm of study '{study}'"
                   + did_you_mean(comp, rows.arms_of(study)), "comparator_arm", comp))
    return problems


def ref_arm_n_consistent(rows):
    n = rows.num["n"]
    problems = []
    first = {}
    for i in rows.raw.index[n.notna()]:
        key = (rows.raw.at[i, "study"], rows.raw.at[i, "arm"])
        if key not in first:
            first[key] = i
        elif n[i] != n[first[key]]:
            j = first[key]
            problems.append(rows.problem(
                i, f"n disagrees with {rows.where(i, j)} ({rows.raw.at[j, 'n']}) for arm "
                   f"'{key[1]}' of study '{key[0]}'", "n", rows.raw.at[i, "n"]))
    return problems


def ref_arm_treatment_consistent(rows):
    problems = []
    first = {}
    for i in rows.raw.index:
        key = (rows.raw.at[i, "study"], rows.raw.at[i, "arm"])
        j = first.setdefault(key, i)
        if rows.raw.at[i, "treatment"] != rows.raw.at[j, "treatment"]:
            problems.append(rows.problem(
                i, f"treatment disagrees with {rows.where(i, j)} ('{rows.raw.at[j, 'treatment']}') "
                   f"for arm '{key[1]}' of study '{key[0]}'", "treatment",
                rows.raw.at[i, "treatment"]))
    return problems


def ref_duplicate_rows(rows):
    first = {}
    problems = []
    for i, key in zip(rows.raw.index, rows.raw[list(schema.COLUMNS)].itertuples(index=False)):
        key = tuple(key)
        if key in first:
            problems.append(rows.problem(i, f"duplicate of {rows.where(i, first[key])}"))
        else:
            first[key] = i
    return problems


PAIRS = [
    (ref_survival_not_increasing, consistency.check_survival_not_increasing),
    (ref_comparator_exists, consistency.check_comparator_exists),
    (ref_arm_n_consistent, consistency.check_arm_n_consistent),
    (ref_arm_treatment_consistent, consistency.check_arm_treatment_consistent),
    (ref_duplicate_rows, consistency.check_duplicate_rows),
]

ROW = st.fixed_dictionaries({
    "study": st.sampled_from(["s1", "s2", "s3"]),
    "arm": st.sampled_from(["A", "B", "C"]),
    "treatment": st.sampled_from(["RFA", "TACE"]),
    "n": st.sampled_from(["", "40", "50", "50.0"]),
    "outcome": st.sampled_from(["os", "rfs"]),
    "measure": st.sampled_from(["survival", "survival", "hr", "median"]),
    "time_months": st.sampled_from(["", "12", "36", "60", "36.0"]),
    "estimate": st.sampled_from(["", "0.9", "0.6", "0.60", "0.4", "0.7"]),
    "comparator_arm": st.sampled_from(["", "A", "B", "D"]),
    "default_use": st.sampled_from(["yes", "yes", "no"]),
    "file": st.sampled_from(["a.csv", "b.csv"]),
})


def _rows(records, order):
    records = [records[k] for k in order]
    full = [{**{c: "" for c in schema.COLUMNS}, **r, "line": k + 2} for k, r in enumerate(records)]
    raw = pd.DataFrame(full, columns=[*schema.COLUMNS, "file", "line"])
    raw = raw.astype({c: object for c in (*schema.COLUMNS, "file")})
    return Rows(raw, parse_numeric(raw), Taxonomy.open_world(["RFA", "TACE"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=14).flatmap(
    lambda rs: st.tuples(st.just(rs), st.permutations(list(range(len(rs)))))))
def test_vectorised_rules_match_the_row_loops(data):
    records, order = data
    rows = _rows(records, order)
    for ref, new in PAIRS:
        assert sorted(map(str, new(rows))) == sorted(map(str, ref(rows))), new.__name__
