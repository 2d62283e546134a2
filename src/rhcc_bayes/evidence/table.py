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
from rhcc_bayes.core.errors import UserError, ValidationError, did_you_mean
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.consistency import includes_labels
from rhcc_bayes.evidence.reading import (
    PROVENANCE,
    format_number,
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
    modalities: dict[str, str] = {}
    for code, modality in zip(raw["treatment"], raw["modality"]):
        if code and (code not in modalities or not modalities[code]):
            modalities[code] = modality if modality in schema.MODALITIES else ""
    return Taxonomy.open_world(modalities)


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
    raw = raw_frame(records)
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
