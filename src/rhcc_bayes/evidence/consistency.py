"""Cross-row rules: each ``check_*`` compares rows with each other (arms, comparators,
duplicates, time order, the studies a pooled row includes) and returns a list of Problem.
"""

from __future__ import annotations

from rhcc_bayes.core.errors import Problem, did_you_mean
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.rows import Rows


def check_survival_not_increasing(rows: Rows) -> list[Problem]:
    """Within an arm and outcome, default-use landmark survival never rises with time."""
    raw, num = rows.raw, rows.num
    use = (raw["measure"] == "survival") & (raw["default_use"] == "yes")
    use &= num["time_months"].notna() & num["estimate"].notna()
    problems = []
    for (study, arm, _), group in raw[use].groupby(["study", "arm", "outcome"], sort=False):
        times = num.loc[group.index, "time_months"]
        earlier_min = None  # row with the lowest survival among strictly earlier times
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


def check_comparator_given(rows: Rows) -> list[Problem]:
    """Comparative measures (hr, or, mean_difference) name their comparator_arm."""
    raw = rows.raw
    bad = raw["measure"].isin(schema.COMPARATIVE) & (raw["comparator_arm"] == "")
    return [rows.problem(i, f"{raw.at[i, 'measure']} row needs a comparator_arm",
                         "comparator_arm") for i in raw.index[bad]]


def check_comparator_exists(rows: Rows) -> list[Problem]:
    """A named comparator_arm is an arm of the same study."""
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


def check_arm_n_consistent(rows: Rows) -> list[Problem]:
    """All rows of one arm that give n give the same n."""
    n = rows.num["n"]
    problems = []
    first: dict[tuple[str, str], object] = {}
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


def check_arm_treatment_consistent(rows: Rows) -> list[Problem]:
    """All rows of one arm name the same treatment."""
    problems = []
    first: dict[tuple[str, str], object] = {}
    for i in rows.raw.index:
        key = (rows.raw.at[i, "study"], rows.raw.at[i, "arm"])
        j = first.setdefault(key, i)
        if rows.raw.at[i, "treatment"] != rows.raw.at[j, "treatment"]:
            problems.append(rows.problem(
                i, f"treatment disagrees with {rows.where(i, j)} ('{rows.raw.at[j, 'treatment']}') "
                   f"for arm '{key[1]}' of study '{key[0]}'", "treatment",
                rows.raw.at[i, "treatment"]))
    return problems


def check_duplicate_rows(rows: Rows) -> list[Problem]:
    """No two rows are identical in every schema column."""
    first: dict[tuple, object] = {}
    problems = []
    for i, key in zip(rows.raw.index, rows.raw[list(schema.COLUMNS)].itertuples(index=False)):
        key = tuple(key)
        if key in first:
            problems.append(rows.problem(i, f"duplicate of {rows.where(i, first[key])}"))
        else:
            first[key] = i
    return problems


def includes_labels(text: str) -> list[str]:
    """The study labels of an ``includes`` cell (``;``-separated, blanks stripped)."""
    return [label.strip() for label in text.split(";")] if text.strip() else []


def check_includes_known(rows: Rows) -> list[Problem]:
    """Every label in ``includes`` is a study of the loaded evidence, listed once, not blank."""
    raw = rows.raw
    studies = sorted(set(raw["study"]) - {""})
    problems = []
    for i in raw.index[raw["includes"] != ""]:
        labels = includes_labels(raw.at[i, "includes"])
        seen: set[str] = set()
        for label in labels:
            if not label:
                problems.append(rows.problem(i, "empty study label in includes", "includes",
                                             raw.at[i, "includes"]))
            elif label in seen:
                problems.append(rows.problem(i, f"study '{label}' listed twice in includes",
                                             "includes", raw.at[i, "includes"]))
            elif label not in studies:
                problems.append(rows.problem(
                    i, f"includes unknown study '{label}'" + did_you_mean(label, studies),
                    "includes", raw.at[i, "includes"]))
            seen.add(label)
    return problems


def check_includes_not_self(rows: Rows) -> list[Problem]:
    """A row cannot include its own study."""
    raw = rows.raw
    return [
        rows.problem(i, f"a row cannot include its own study '{raw.at[i, 'study']}'", "includes",
                     raw.at[i, "includes"])
        for i in raw.index[raw["includes"] != ""]
        if raw.at[i, "study"] in includes_labels(raw.at[i, "includes"])
    ]


def check_includes_only_pooled(rows: Rows) -> list[Problem]:
    """Only pooled rows (design meta_analysis or review) include other studies."""
    raw = rows.raw
    bad = (raw["includes"] != "") & ~raw["design"].isin(schema.POOLED_DESIGNS)
    return [
        rows.problem(i, f"includes is only for pooled rows (design meta_analysis or review), "
                        f"not design '{raw.at[i, 'design']}'", "includes", raw.at[i, "includes"])
        for i in raw.index[bad]
    ]
