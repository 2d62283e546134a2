"""Cross-row rules: each ``check_*`` compares rows with each other (arms, comparators,
duplicates, time order, the studies a pooled row includes) and returns a list of Problem.
"""

from __future__ import annotations

from rhcc_bayes.core.errors import Problem, did_you_mean
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.rows import Rows


def check_survival_not_increasing(rows: Rows) -> list[Problem]:
    """Within an arm and outcome, default-use landmark survival never rises with time.

    Each row is compared with the lowest survival at strictly earlier times of its arm
    and outcome (the earliest such row on ties), computed for all groups at once.
    """
    import pandas as pd

    raw, num = rows.raw, rows.num
    use = (raw["measure"] == "survival") & (raw["default_use"] == "yes")
    use &= num["time_months"].notna() & num["estimate"].notna()
    if not use.any():
        return []
    sub = raw.loc[use, ["study", "arm", "outcome"]]
    frame = pd.DataFrame({
        "g": sub.groupby(["study", "arm", "outcome"], sort=False).ngroup().to_numpy(),
        "t": num.loc[use, "time_months"].to_numpy(), "s": num.loc[use, "estimate"].to_numpy(),
        "i": sub.index.to_numpy()})
    # per (group, time): the lowest survival, earliest row on ties
    per = (frame.sort_values(["g", "t", "s", "i"], kind="stable")
           .drop_duplicates(["g", "t"], keep="first").reset_index(drop=True))
    by_group = per.groupby("g", sort=False)
    running = by_group["s"].cummin()
    before = running.groupby(per["g"]).shift(1)
    improves = before.isna() | (per["s"] < before)  # strictly lower: earlier row kept on ties
    floor_row = per["i"].where(improves).groupby(per["g"]).ffill()
    per["floor"] = before  # lowest survival at strictly earlier times
    per["floor_row"] = floor_row.groupby(per["g"]).shift(1)
    merged = frame.merge(per[["g", "t", "floor", "floor_row"]], on=["g", "t"], how="left")
    bad = merged[merged["s"] > merged["floor"]].sort_values("i")
    problems = []
    for i, j in zip(bad["i"], bad["floor_row"].astype("int64")):
        problems.append(rows.problem(
            i, f"survival increases from {raw.at[j, 'estimate']} at "
               f"{raw.at[j, 'time_months']} months ({rows.where(i, j)}) within arm "
               f"'{raw.at[i, 'arm']}' of study '{raw.at[i, 'study']}'", "estimate",
            raw.at[i, "estimate"]))
    return problems


def check_comparator_given(rows: Rows) -> list[Problem]:
    """Comparative measures (hr, or, mean_difference) name their comparator_arm."""
    raw = rows.raw
    bad = raw["measure"].isin(schema.COMPARATIVE) & (raw["comparator_arm"] == "")
    return [rows.problem(i, f"{raw.at[i, 'measure']} row needs a comparator_arm",
                         "comparator_arm") for i in raw.index[bad]]


def check_comparator_exists(rows: Rows) -> list[Problem]:
    """A named comparator_arm is an arm of the same study."""
    import numpy as np
    import pandas as pd

    raw = rows.raw
    has = (raw["comparator_arm"] != "").to_numpy(dtype=bool)
    if not has.any():
        return []
    study = pd.factorize(raw["study"].to_numpy(dtype=object))[0].astype("int64")
    labels = np.concatenate([raw["arm"].to_numpy(dtype=object),
                             raw["comparator_arm"].to_numpy(dtype=object)[has]])
    codes = pd.factorize(labels)[0].astype("int64")
    width = int(codes.max()) + 1
    arms = study * width + codes[: len(raw)]
    wanted = study[has] * width + codes[len(raw):]
    problems = []
    for i in raw.index[has][~np.isin(wanted, arms)]:
        study_label, comp = raw.at[i, "study"], raw.at[i, "comparator_arm"]
        problems.append(rows.problem(
            i, f"comparator arm is not an arm of study '{study_label}'"
               + did_you_mean(comp, rows.arms_of(study_label)), "comparator_arm", comp))
    return problems


def _arm_first(rows: Rows, mask):
    """(row labels among ``mask``, label of the first row of the same arm) as arrays."""
    sub = rows.raw.loc[mask, ["study", "arm"]]
    index = sub.index.to_series()
    first = index.groupby([sub["study"], sub["arm"]], sort=False).transform("first")
    return index.to_numpy(), first.to_numpy()


def check_arm_n_consistent(rows: Rows) -> list[Problem]:
    """All rows of one arm that give n give the same n."""
    n = rows.num["n"]
    has = n.notna().to_numpy(dtype=bool)
    if not has.any():
        return []
    index, first = _arm_first(rows, has)
    values = n.to_numpy()
    pos = rows.raw.index.get_indexer
    bad = values[pos(index)] != values[pos(first)]
    problems = []
    for i, j in zip(index[bad], first[bad]):
        study, arm = rows.raw.at[i, "study"], rows.raw.at[i, "arm"]
        problems.append(rows.problem(
            i, f"n disagrees with {rows.where(i, j)} ({rows.raw.at[j, 'n']}) for arm "
               f"'{arm}' of study '{study}'", "n", rows.raw.at[i, "n"]))
    return problems


def check_arm_treatment_consistent(rows: Rows) -> list[Problem]:
    """All rows of one arm name the same treatment."""
    import numpy as np

    raw = rows.raw
    if raw.empty:
        return []
    index, first = _arm_first(rows, np.ones(len(raw), dtype=bool))
    treatment = raw["treatment"].to_numpy(dtype=object)
    pos = raw.index.get_indexer
    bad = treatment[pos(index)] != treatment[pos(first)]
    problems = []
    for i, j in zip(index[bad], first[bad]):
        study, arm = raw.at[i, "study"], raw.at[i, "arm"]
        problems.append(rows.problem(
            i, f"treatment disagrees with {rows.where(i, j)} ('{raw.at[j, 'treatment']}') "
               f"for arm '{arm}' of study '{study}'", "treatment", raw.at[i, "treatment"]))
    return problems


_DUPLICATE_KEY: tuple[str, ...] = (
    "study", "arm", "outcome", "measure", "time_months", "estimate", "ci_low", "ci_high",
    "comparator_arm", "default_use",
)


def check_duplicate_rows(rows: Rows) -> list[Problem]:
    """No two rows are identical in every schema column."""
    columns = list(schema.COLUMNS)
    # rows equal in every column are equal in these short ones: only such rows are compared
    # in full (the free-text columns are the costly ones to hash for a million rows)
    suspect = rows.raw.duplicated(subset=list(_DUPLICATE_KEY), keep=False).to_numpy(dtype=bool)
    if not suspect.any():
        return []
    sub = rows.raw.loc[suspect, columns]
    first: dict[tuple, object] = {}
    problems = []
    for i, key in zip(sub.index, sub.itertuples(index=False)):
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
    studies = set(raw["study"]) - {""}
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
                    i, f"includes unknown study '{label}'" + did_you_mean(label, sorted(studies)),
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
