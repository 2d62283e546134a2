"""The validated evidence: :func:`load_evidence` and the immutable :class:`Evidence`.

:func:`load_evidence` reads one or more evidence CSV files (the bundled
``data/evidence.csv`` by default) with :mod:`~rhcc_bayes.evidence.reading`, checks
every row against the column contract in :mod:`~rhcc_bayes.evidence.schema` with the
rules of :mod:`~rhcc_bayes.evidence.validate` and returns an :class:`Evidence`. Every
problem in every file is raised together in one
:class:`~rhcc_bayes.core.errors.ValidationError`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rhcc_bayes.core import paths
from rhcc_bayes.core.atomic import write_text_atomic
from rhcc_bayes.core.errors import Problem, UserError, ValidationError, did_you_mean
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.consistency import includes_labels
from rhcc_bayes.evidence.reading import (
    format_number,
    neutralise_cell,
    parse_numeric,
    raw_frame,
    read_evidence_file,
)
from rhcc_bayes.evidence.rows import Rows
from rhcc_bayes.evidence.taxonomy import Taxonomy, load_taxonomy
from rhcc_bayes.evidence.validate import problem_order, validate_rows

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Pass as ``taxonomy=`` to accept whatever treatment codes the files use.
OPEN_WORLD = "open-world"
STRING_COLUMNS: tuple[str, ...] = tuple(c for c in schema.COLUMNS if c not in schema.NUMERIC)
ARM_KEY: tuple[str, str] = ("study", "arm")
ARM_COLUMNS: tuple[str, ...] = (
    "study", "arm", "treatment", "modality", "n", "population", "design", "size_min_cm",
    "size_max_cm", "nodules_max", "recurrence_timing", "prior_treatment", "bclc",
)


def default_evidence_path() -> Path:
    """Path of the bundled ``data/evidence.csv``."""
    return paths.data_dir() / "evidence.csv"


def _open_world_from(raw: pd.DataFrame) -> Taxonomy:
    """Open-world taxonomy of the codes in ``raw``, keeping the first valid stated modality."""
    pairs = raw[["treatment", "modality"]].drop_duplicates()
    modalities: dict[str, str] = {}
    for code, modality in zip(pairs["treatment"], pairs["modality"]):
        if code and (code not in modalities or not modalities[code]):
            modalities[code] = modality if modality in schema.MODALITIES else ""
    return Taxonomy.open_world(modalities)


def _typed_table(raw: pd.DataFrame, num: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """The validated table: float64 numeric columns, str text columns, modality filled in.

    Text columns keep object dtype holding ``str`` (equal cells share one string, so a
    million-row table costs a pointer per cell, not a copy of its text).
    """
    import pandas as pd

    data = {}
    for col in schema.COLUMNS:
        data[col] = num[col].astype("float64") if col in num else raw[col]
    missing = (raw["modality"] == "").to_numpy(dtype=bool)
    if missing.any():
        filled = raw["modality"].to_numpy(dtype=object, copy=True)
        fill = {code: taxonomy.modality(code) for code in taxonomy.codes}
        filled[missing] = [fill.get(c, "") for c in raw["treatment"].to_numpy(dtype=object)[missing]]
        data["modality"] = pd.Series(filled, index=raw.index, dtype=object)
    data["file"] = raw["file"]
    data["line"] = raw["line"].astype("int64")
    return pd.DataFrame(data, copy=False)


def _same_file(a, b) -> bool:
    """Whether two paths name the same existing file (False when either cannot be read)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _first_lines(raw: pd.DataFrame, mask) -> dict[str, tuple[str, int]]:
    """Study label -> (file, line) of its first row among ``mask``."""
    sub = raw.loc[mask, ["study", "file", "line"]].drop_duplicates("study")
    return {s: (f, int(n)) for s, f, n in zip(sub["study"], sub["file"], sub["line"])}


def _bundled_clashes(raw: pd.DataFrame, bundled: str, replace: list[str]) -> tuple[pd.DataFrame, list[Problem]]:
    """Drop the bundled rows of the ``replace`` studies; report every other label clash.

    A study of a user file whose label is also a study of the bundled evidence would be
    merged into it silently (an arm gaining a second landmark and an n the paper never
    gave), so it is an error naming both files and lines unless the user asks for the
    bundled study to be replaced.
    """
    is_bundled = (raw["file"] == bundled).to_numpy(dtype=bool)
    bundled_at = _first_lines(raw, is_bundled)
    user_at = _first_lines(raw, ~is_bundled)
    problems = []
    for study in replace:
        if study not in bundled_at:
            problems.append(Problem(bundled, f"--replace-bundled {study!r}: not a study of the "
                                    f"bundled evidence{did_you_mean(study, list(bundled_at))}"))
        elif study not in user_at:
            problems.append(Problem(bundled, f"--replace-bundled {study!r}: no user evidence file "
                                    "has this study, so nothing would replace it"))
    for study, (file, line) in user_at.items():
        if study in bundled_at and study not in replace:
            bfile, bline = bundled_at[study]
            problems.append(Problem(
                file, f"study label '{study}' is also a study of the bundled evidence "
                      f"({bfile}:{bline}); rename your study, or replace the bundled one with "
                      f"--replace-bundled {study} (load_evidence(..., replace_bundled=[...]))",
                line, "study", study))
    drop = is_bundled & raw["study"].isin(replace).to_numpy(dtype=bool)
    if drop.any():
        raw = raw.loc[~drop].reset_index(drop=True)
    return raw, problems


def load_evidence(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    *,
    taxonomy: Taxonomy | str | os.PathLike | None = None,
    include_bundled: bool | None = None,
    replace_bundled: Iterable[str] = (),
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
    replace_bundled : iterable of str
        Bundled study labels whose rows are dropped because a user file gives the study
        instead. Without it, a user study label that is also a bundled study is an error.

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
    replace = [replace_bundled] if isinstance(replace_bundled, str) else list(replace_bundled)
    if include_bundled is None:
        include_bundled = paths is None or taxonomy is None
    files = ([default_evidence_path()] if include_bundled else []) + user_paths
    if not files:
        raise UserError("no evidence files given")
    if replace and not include_bundled:
        raise UserError("--replace-bundled (replace_bundled) needs the bundled evidence loaded")
    if include_bundled:
        for path in user_paths:
            if _same_file(path, files[0]):
                raise UserError(f"{path}: is the bundled evidence, which is loaded already; "
                                "to check it alone, leave the file out (or use --no-bundled)")
    if taxonomy is None:
        taxonomy = load_taxonomy()
    elif isinstance(taxonomy, (str, os.PathLike)) and str(taxonomy) != OPEN_WORLD:
        taxonomy = load_taxonomy(taxonomy)

    parts, problems = [], []
    for path in files:
        columns, file_problems = read_evidence_file(path)
        if columns is not None:
            parts.append(columns)
        problems += file_problems
    raw = raw_frame(parts)
    del parts
    if include_bundled and (user_paths or replace):
        raw, clash = _bundled_clashes(raw, str(files[0]), replace)
        problems += clash
    if not isinstance(taxonomy, Taxonomy):  # OPEN_WORLD
        taxonomy = _open_world_from(raw)
    num = parse_numeric(raw)
    problems += validate_rows(Rows(raw, num, taxonomy))
    if problems:
        raise ValidationError(sorted(problems, key=problem_order([str(f) for f in files])))
    return Evidence(_typed_table(raw, num, taxonomy), taxonomy, tuple(str(f) for f in files))


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
        float64 (NaN when empty), text columns of ``str`` values ("" when empty), object
        dtype so that equal cells share one string (a million-row table stays small).
    taxonomy : Taxonomy
    sources : tuple of str
        The files read, bundled evidence first.
    """

    _table: pd.DataFrame = field(repr=False)
    taxonomy: Taxonomy = field(repr=False)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # copy-on-write (pandas >= 3): a shallow copy is never changed through the caller's frame
        object.__setattr__(self, "_table", self._table.copy(deep=False))

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

    def included_studies(self) -> dict[str, tuple[str, ...]]:
        """Pooled study -> the studies of this evidence its rows include (``includes``).

        The overlap rule (``schema.OVERLAP_RULE``): a pooled result and the studies it
        includes are never both in a likelihood. Studies dropped by a selection are left
        out of the values, so the map always refers to studies present here.
        """
        present = set(self.studies)
        out: dict[str, dict[str, None]] = {}
        for study, cell in zip(self._table["study"], self._table["includes"]):
            for label in includes_labels(cell):
                if label in present:
                    out.setdefault(study, {})[label] = None
        return {study: tuple(labels) for study, labels in out.items()}

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

        A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR (or ``'``) is
        written with a leading ``'`` so that no spreadsheet runs it as a formula;
        :func:`load_evidence` reads it back without the quote.

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
        # text cells that a spreadsheet would run as a formula get a leading "'"
        # (read back without it); numeric columns are numbers, negatives included
        columns = [
            [format_number(v) for v in table[c]] if c in numeric
            else [neutralise_cell(v) for v in table[c]]
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
