"""Load, validate and query the evidence table.

:func:`load_evidence` reads one or more evidence CSV files (the bundled
``data/evidence.csv`` by default), checks every row against the column contract
in :mod:`rhcc_bayes.schema` and returns an immutable :class:`Evidence`. Every
problem in every file is collected by small ``check_*`` functions (one rule each)
and raised together in one :class:`~rhcc_bayes.errors.ValidationError`, so a user
fixes a file in one pass instead of one error at a time.

Parsing uses the :mod:`csv` module on decoded text only (no ``eval``, no pickle).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rhcc_bayes.core import paths
from rhcc_bayes.evidence import schema
from rhcc_bayes.core.atomic import write_text_atomic  # noqa: F401  (re-exported)
from rhcc_bayes.core.errors import Problem, UserError, ValidationError, did_you_mean
from rhcc_bayes.evidence.taxonomy import Taxonomy, check_header, load_taxonomy, read_csv_rows

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Pass as ``taxonomy=`` to accept whatever treatment codes the files use.
OPEN_WORLD = "open-world"
PROVENANCE: tuple[str, ...] = ("file", "line")
STRING_COLUMNS: tuple[str, ...] = tuple(c for c in schema.COLUMNS if c not in schema.NUMERIC)
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
#: Value given to an optional column that a file omits altogether.
OMITTED_COLUMN_DEFAULT: dict[str, str] = {"default_use": "yes"}
ARM_KEY: tuple[str, str] = ("study", "arm")
ARM_COLUMNS: tuple[str, ...] = (
    "study", "arm", "treatment", "modality", "n", "population", "design", "size_min_cm",
    "size_max_cm", "nodules_max", "recurrence_timing", "prior_treatment", "bclc",
)
# Plain decimal or scientific notation; rejects '1_000', 'nan', 'inf', '0x10', '1,5'.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def default_evidence_path() -> Path:
    """Path of the bundled ``data/evidence.csv``."""
    return paths.data_dir() / "evidence.csv"


def parse_number(text: str) -> float:
    """Parse a finite decimal number; ``nan`` for empty or invalid text."""
    if not _NUMBER.fullmatch(text):
        return math.nan
    value = float(text)
    return value if math.isfinite(value) else math.nan


def format_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value``; ``""`` for NaN."""
    if value != value:  # NaN
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


# ---------------------------------------------------------------------------
# Rows under validation
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """Parsed data rows of all files, as the ``check_*`` functions see them.

    Parameters
    ----------
    raw : pandas.DataFrame
        Stripped cell text, columns ``schema.COLUMNS`` plus ``file`` and ``line``.
    num : pandas.DataFrame
        ``schema.NUMERIC`` columns parsed to float (NaN for empty or invalid text).
    taxonomy : Taxonomy
    """

    raw: pd.DataFrame
    num: pd.DataFrame
    taxonomy: Taxonomy

    def problem(self, i, message: str, column: str | None = None, value: object = None) -> Problem:
        """A :class:`Problem` located at row label ``i``."""
        return Problem(self.raw.at[i, "file"], message, int(self.raw.at[i, "line"]), column, value)

    def where(self, i, other) -> str:
        """``"line 4"`` for a row of the same file as ``other``, else ``"file:4"``."""
        line = int(self.raw.at[other, "line"])
        same = self.raw.at[other, "file"] == self.raw.at[i, "file"]
        return f"line {line}" if same else f"{self.raw.at[other, 'file']}:{line}"

    def arms_of(self, study: str) -> list[str]:
        """Arm labels of one study."""
        return sorted(set(self.raw.loc[self.raw["study"] == study, "arm"]))


# ---------------------------------------------------------------------------
# Row rules: one rule each, each returning a list of Problem
# ---------------------------------------------------------------------------
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


def check_time_positive(rows: Rows) -> list[Problem]:
    """time_months, when given, is > 0."""
    bad = rows.num["time_months"] <= 0
    return [rows.problem(i, "time_months must be > 0", "time_months",
                         rows.raw.at[i, "time_months"]) for i in rows.raw.index[bad]]


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


def check_estimate_present(rows: Rows) -> list[Problem]:
    """estimate may be empty only on interval=range rows and enrolment counts."""
    raw = rows.raw
    enrolment = (raw["outcome"] == "enrolment") & (raw["measure"] == "count")
    exempt = (raw["interval"] == "range") | enrolment
    bad = (raw["estimate"] == "") & ~exempt
    return [rows.problem(i, "estimate is empty; only interval=range rows and enrolment "
                            "counts may omit it", "estimate") for i in raw.index[bad]]


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


ROW_CHECKS: tuple[Callable[[Rows], list[Problem]], ...] = (
    check_identifiers_present,
    check_numeric,
    check_positive_integer,
    check_categorical,
    check_treatment_known,
    check_modality_matches,
    check_estimate_present,
    check_probability_range,
    check_positive_measures,
    check_interval_order,
    check_interval_contains_estimate,
    check_time_positive,
    check_survival_has_time,
    check_survival_not_increasing,
    check_comparator_given,
    check_comparator_exists,
    check_arm_n_consistent,
    check_arm_treatment_consistent,
    check_duplicate_rows,
)


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
def check_row_width(file: str, line: int, cells: list[str], header: list[str]) -> list[Problem]:
    """A data row has as many fields as the header."""
    if len(cells) == len(header):
        return []
    return [Problem(file, f"row has {len(cells)} fields but the header has {len(header)}", line)]


def read_evidence_file(path: str | os.PathLike) -> tuple[list[dict[str, str]], list[Problem]]:
    """Read one evidence CSV into records (all schema columns, plus file and line).

    Data rows are not read when the file is unreadable or its header is wrong,
    so that one missing column does not bury the report under per-row noise.
    """
    file = str(path)
    rows, problems = read_csv_rows(path)
    if problems:
        return [], problems
    (_, header), body = rows[0], rows[1:]
    problems = check_header(file, header, schema.REQUIRED, schema.COLUMNS)
    if problems:
        return [], problems
    defaults = {c: OMITTED_COLUMN_DEFAULT.get(c, "") for c in schema.COLUMNS if c not in header}
    records = []
    for line, cells in body:
        width = check_row_width(file, line, cells, header)
        if width:
            problems += width
            continue
        records.append({**defaults, **dict(zip(header, cells)), "file": file, "line": line})
    return records, problems


def _frame(records: list[dict]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=[*schema.COLUMNS, *PROVENANCE])
    return frame.reset_index(drop=True)


def _parse_numeric(raw: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {c: [parse_number(v) for v in raw[c]] for c in schema.NUMERIC}, index=raw.index,
        dtype="float64",
    )


def _open_world_from(raw: pd.DataFrame) -> Taxonomy:
    """Open-world taxonomy of the codes in ``raw``, keeping the first valid stated modality."""
    modalities: dict[str, str] = {}
    for code, modality in zip(raw["treatment"], raw["modality"]):
        if code and (code not in modalities or not modalities[code]):
            modalities[code] = modality if modality in schema.MODALITIES else ""
    return Taxonomy.open_world(modalities)


def _sort_key(order: dict[str, int]):
    columns = {c: k for k, c in enumerate(schema.COLUMNS)}

    def key(p: Problem):
        return (order.get(p.file, len(order)), p.line or 0, columns.get(p.column, -1))
    return key


def _typed_table(raw: pd.DataFrame, num: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """The validated table: float64 numeric columns, str text columns, modality filled in."""
    table = raw.copy()
    for col in schema.NUMERIC:
        table[col] = num[col].astype("float64")
    missing = table["modality"] == ""
    table.loc[missing, "modality"] = [taxonomy.modality(c) for c in table.loc[missing, "treatment"]]
    for col in (*STRING_COLUMNS, "file"):
        table[col] = table[col].astype(str)
    table["line"] = table["line"].astype("int64")
    return table[[*schema.COLUMNS, *PROVENANCE]]


def load_evidence(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    *,
    taxonomy: Taxonomy | str | os.PathLike | None = None,
    include_bundled: bool | None = None,
) -> Evidence:
    """Load and validate evidence CSV files.

    Parameters
    ----------
    paths : path or iterable of paths, optional
        The user's evidence files. ``None`` loads only the bundled ``data/evidence.csv``.
    taxonomy : Taxonomy, path, ``"open-world"`` or None
        ``None`` uses the bundled ``data/treatments.csv``; a path loads that taxonomy
        CSV; :data:`OPEN_WORLD` accepts whatever treatment codes the files contain
        (modality ``"other"`` unless the files state one).
    include_bundled : bool, optional
        Also load the bundled evidence. Defaults to True when ``paths`` is None or
        the bundled taxonomy is used, False with a custom or open-world taxonomy.

    Returns
    -------
    Evidence

    Raises
    ------
    ValidationError
        Every problem in every file, each naming file, line, column and value.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    user_paths = [] if paths is None else list(paths)
    if include_bundled is None:
        include_bundled = paths is None or taxonomy is None
    files = ([default_evidence_path()] if include_bundled else []) + user_paths
    if not files:
        raise UserError("no evidence files given")
    if taxonomy is None:
        taxonomy = load_taxonomy()
    elif isinstance(taxonomy, (str, os.PathLike)) and str(taxonomy) != OPEN_WORLD:
        taxonomy = load_taxonomy(taxonomy)

    records, problems = [], []
    for path in files:
        file_records, file_problems = read_evidence_file(path)
        records += file_records
        problems += file_problems
    raw = _frame(records)
    if not isinstance(taxonomy, Taxonomy):  # OPEN_WORLD
        taxonomy = _open_world_from(raw)
    num = _parse_numeric(raw)
    rows = Rows(raw, num, taxonomy)
    for check in ROW_CHECKS:
        problems += check(rows)
    if problems:
        order = {str(f): k for k, f in enumerate(files)}
        raise ValidationError(sorted(problems, key=_sort_key(order)))
    return Evidence(_typed_table(raw, num, taxonomy), taxonomy, tuple(str(f) for f in files))


# ---------------------------------------------------------------------------
# The validated, immutable evidence
# ---------------------------------------------------------------------------
def _choices(name: str, value, allowed: Iterable[str]) -> list[str]:
    """Normalise a selection value to a list, rejecting values outside ``allowed``."""
    allowed = list(allowed)
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in allowed:
            raise UserError(f"unknown {name} {v!r}{did_you_mean(v, allowed)}; "
                            f"expected one of: {', '.join(a or '(empty)' for a in allowed)}")
    return values


@dataclass(frozen=True, eq=False)
class Evidence:
    """A validated evidence table; never mutated (selections return new objects).

    Build with :func:`load_evidence`. ``table`` returns a copy-on-write view, so
    editing it never changes the Evidence.

    Parameters
    ----------
    _table : pandas.DataFrame
        Columns ``schema.COLUMNS`` then ``file`` and ``line``; numeric columns
        float64 (NaN when empty), text columns ``str`` ("" when empty).
    taxonomy : Taxonomy
    sources : tuple of str
        The files read, bundled evidence first.
    """

    _table: pd.DataFrame = field(repr=False)
    taxonomy: Taxonomy = field(repr=False)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_table", self._table.copy())

    def __repr__(self) -> str:
        return (f"Evidence({len(self)} rows, {len(self.studies)} studies, "
                f"{len(self.arms())} arms, {len(self.treatments)} treatments)")

    def __len__(self) -> int:
        return len(self._table)

    @property
    def table(self) -> pd.DataFrame:
        """The tidy table (a copy-on-write copy: edits to it do not reach this object)."""
        return self._table.copy(deep=False)

    @property
    def studies(self) -> tuple[str, ...]:
        """Study labels in table order."""
        return tuple(dict.fromkeys(self._table["study"]))

    @property
    def treatments(self) -> tuple[str, ...]:
        """Treatment codes present, in taxonomy order."""
        present = set(self._table["treatment"])
        return tuple(c for c in self.taxonomy.codes if c in present)

    @functools.cached_property
    def hash(self) -> str:
        """sha256 of the canonical CSV of ``schema.COLUMNS`` and the taxonomy.

        Provenance (file names, line numbers) is left out so that moving a file
        does not invalidate cached posteriors; row order and every value count.
        """
        digest = hashlib.sha256()
        digest.update(b"rhcc_bayes.evidence/1\n")
        digest.update(self.to_csv().encode("utf-8"))
        digest.update(b"\n--taxonomy--\n")
        digest.update(self.taxonomy.canonical_text().encode("utf-8"))
        return digest.hexdigest()

    def equals(self, other: Evidence) -> bool:
        """Same rows (schema columns) and same taxonomy."""
        return isinstance(other, Evidence) and self.hash == other.hash

    # -- queries ---------------------------------------------------------------
    def arms(self) -> pd.DataFrame:
        """One row per (study, arm) with its treatment, modality, n and descriptors.

        For each column the first non-empty value of the arm's rows is kept (the
        validator guarantees that n and treatment agree across rows).
        """
        import pandas as pd

        table = self._table[list(ARM_COLUMNS)]
        text = [c for c in ARM_COLUMNS if c not in schema.NUMERIC and c not in ARM_KEY]
        blanked = table.assign(**{c: table[c].replace("", pd.NA) for c in text})
        arms = blanked.groupby(list(ARM_KEY), sort=False).first().reset_index()
        for c in text:
            arms[c] = arms[c].fillna("").astype(str)
        return arms[list(ARM_COLUMNS)]

    def summary(self) -> pd.DataFrame:
        """Per treatment and outcome: studies, arms, patients (sum of known arm n).

        ``arms_without_n`` counts arms whose size is not reported (their patients
        are missing from ``patients``, which is NA when no arm states its size).
        """
        import pandas as pd

        # an arm's n may be stated on only some of its rows: take it from arms()
        arm_n = self.arms()[["study", "arm", "n"]]
        per_arm = (self._table[["treatment", "modality", "outcome", "study", "arm"]]
                   .drop_duplicates().merge(arm_n, on=["study", "arm"], how="left"))
        grouped = per_arm.groupby(["treatment", "modality", "outcome"], sort=False)
        out = pd.DataFrame({
            "studies": grouped["study"].nunique(),
            "arms": grouped.size(),
            # NA (not 0) when no arm states its size
            "patients": grouped["n"].sum(min_count=1).astype("Int64"),
            "arms_without_n": grouped["n"].apply(lambda s: int(s.isna().sum())),
        }).reset_index()
        rank = {c: k for k, c in enumerate(self.taxonomy.codes)}
        outcome_rank = {o: k for k, o in enumerate(schema.OUTCOMES)}
        out = out.sort_values(
            ["treatment", "outcome"],
            key=lambda s: s.map(rank if s.name == "treatment" else outcome_rank),
            kind="stable",
        )
        return out.reset_index(drop=True)

    def filter(self, mask) -> Evidence:
        """A new Evidence keeping the rows where ``mask`` is True.

        Parameters
        ----------
        mask : boolean array-like, or callable
            Aligned with :attr:`table`, or a function ``table -> mask``.
        """
        import numpy as np

        table = self._table
        mask = mask(table.copy(deep=False)) if callable(mask) else mask
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(table),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(table)},)")
        return Evidence(table[mask].reset_index(drop=True), self.taxonomy, self.sources)

    def select(
        self,
        *,
        population=None,
        design=None,
        outcome=None,
        measure=None,
        default_use=None,
        treatment=None,
        modality=None,
        study=None,
    ) -> Evidence:
        """A new Evidence with the rows matching every given criterion.

        Each criterion is a value or a list of values (any of which matches);
        ``None`` leaves the column unconstrained. Values outside the column's
        allowed set raise :class:`UserError` with a suggestion.

        Examples
        --------
        >>> ev.select(population="recurrent", outcome=["os", "rfs"])  # doctest: +SKIP
        """
        criteria = {
            "population": (population, schema.POPULATIONS),
            "design": (design, schema.DESIGNS),
            "outcome": (outcome, schema.OUTCOMES),
            "measure": (measure, schema.MEASURES),
            "default_use": (default_use, schema.DEFAULT_USE),
            "treatment": (treatment, self.taxonomy.codes),
            "modality": (modality, schema.MODALITIES),
            "study": (study, self.studies),
        }
        mask = None
        for col, (value, allowed) in criteria.items():
            if value is None:
                continue
            hit = self._table[col].isin(_choices(col, value, allowed))
            mask = hit if mask is None else mask & hit
        return self if mask is None else self.filter(mask.to_numpy())

    # -- export ----------------------------------------------------------------
    def to_csv(self, path_or_buffer=None) -> str | None:
        """Write exactly ``schema.COLUMNS`` as CSV.

        Parameters
        ----------
        path_or_buffer : path, text buffer or None
            A path is written atomically (temporary file, then rename); ``None``
            returns the text.
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(schema.COLUMNS)
        numeric = set(schema.NUMERIC)
        table = self._table
        columns = [
            [format_number(v) for v in table[c]] if c in numeric else list(table[c])
            for c in schema.COLUMNS
        ]
        writer.writerows(zip(*columns))
        text = buf.getvalue()
        if path_or_buffer is None:
            return text
        if hasattr(path_or_buffer, "write"):
            path_or_buffer.write(text)
        else:
            write_text_atomic(path_or_buffer, text)
        return None
