"""The treatment taxonomy: canonical treatment code -> label, modality class, components.

The bundled taxonomy lives in ``data/treatments.csv`` (columns
``code,label,modality,components,notes`` and optional ``choosable``; ``components`` is
semicolon-separated; ``choosable = no`` marks a pooled mixture that decisions report but
never rank).
Evidence files that bring their own treatment list (e.g. the reference network
meta-analyses, whose treatments are "Placebo", "ACE Inhibitor", ...) use an
*open-world* taxonomy built from the codes they contain, see
:meth:`Taxonomy.open_world`.

Only the standard :mod:`csv` module is used here, so importing this module is cheap.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from rhcc_bayes.core import paths
from rhcc_bayes.core.errors import Problem, ValidationError, did_you_mean
from rhcc_bayes.evidence import schema

TAXONOMY_COLUMNS: tuple[str, ...] = ("code", "label", "modality", "components", "notes", "choosable")
#: Columns that enter the evidence hash (``choosable`` only affects decisions, never the fit).
HASHED_COLUMNS: tuple[str, ...] = ("code", "label", "modality", "components", "notes")
#: Spellings of the optional ``choosable`` column (empty = yes).
CHOOSABLE_VALUES = {"": True, "yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
TAXONOMY_REQUIRED: tuple[str, ...] = ("code", "label", "modality")
OPEN_WORLD_MODALITY = "other"


@dataclass(frozen=True)
class Treatment:
    """One treatment of the taxonomy.

    Parameters
    ----------
    code : str
        Canonical code used in the evidence ``treatment`` column, e.g. ``"TACE-RFA"``.
    label : str
        Human-readable name.
    modality : str
        Modality class, one of :data:`rhcc_bayes.schema.MODALITIES`.
    components : tuple of str
        Constituent therapies (e.g. ``("TACE", "RFA")`` for a combination).
    notes : str
        Free text.
    choosable : bool
        False for a pooled mixture (e.g. ``MIXED-LRT``: patients received RFA, TAE or PEI;
        ``ABLATION``: technique unspecified): a reporting category a clinician cannot
        choose, so decisions report it but never rank it.
    """

    code: str
    label: str
    modality: str
    components: tuple[str, ...] = ()
    notes: str = ""
    choosable: bool = True


@dataclass(frozen=True)
class Taxonomy:
    """An immutable mapping from treatment code to :class:`Treatment`.

    Parameters
    ----------
    treatments : tuple of Treatment
        In file order; codes are unique.
    source : str
        Where the taxonomy came from (a path, or ``"<open-world>"``).
    open : bool
        True for a taxonomy built from the codes of user evidence
        (:meth:`open_world`) rather than read from a curated file.
    """

    treatments: tuple[Treatment, ...]
    source: str = ""
    open: bool = False
    _by_code: Mapping[str, Treatment] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {t.code: t for t in self.treatments}
        if len(by_code) != len(self.treatments):
            raise ValueError("treatment codes must be unique")
        object.__setattr__(self, "_by_code", MappingProxyType(by_code))

    @classmethod
    def open_world(cls, codes: Iterable[str] | Mapping[str, str]) -> Taxonomy:
        """Build a taxonomy that accepts exactly the given codes.

        Parameters
        ----------
        codes : iterable of str, or mapping of str to str
            Treatment codes (label = code, modality ``"other"``), or a mapping
            ``code -> modality`` when the evidence states modalities.

        Returns
        -------
        Taxonomy
            With ``open=True``; duplicates and empty codes are dropped.
        """
        pairs = codes.items() if isinstance(codes, Mapping) else ((c, "") for c in codes)
        seen: dict[str, Treatment] = {}
        for code, modality in pairs:
            code = str(code).strip()
            if code and code not in seen:
                seen[code] = Treatment(code, code, str(modality or OPEN_WORLD_MODALITY))
        return cls(tuple(seen.values()), source="<open-world>", open=True)

    # -- mapping-like access -------------------------------------------------
    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Treatment:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self.treatments)

    @property
    def codes(self) -> tuple[str, ...]:
        """Treatment codes in file order."""
        return tuple(t.code for t in self.treatments)

    def modality(self, code: str) -> str:
        """Modality class of ``code``."""
        return self._by_code[code].modality

    def label(self, code: str) -> str:
        """Human-readable label of ``code``."""
        return self._by_code[code].label

    def components(self, code: str) -> tuple[str, ...]:
        """Constituent therapies of ``code``."""
        return self._by_code[code].components

    def choosable(self, code: str) -> bool:
        """False for a pooled mixture (reported, never ranked); unknown codes are choosable."""
        t = self._by_code.get(code)
        return True if t is None else t.choosable

    def by_modality(self, modality: str) -> tuple[str, ...]:
        """Codes of the treatments in one modality class."""
        return tuple(t.code for t in self.treatments if t.modality == modality)

    def suggest(self, code: str) -> str:
        """``" (did you mean 'X'?)"`` for an unknown code, or ``""``."""
        return did_you_mean(code, self.codes)

    def canonical_text(self) -> str:
        """A stable text form (used in the evidence hash)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HASHED_COLUMNS)
        for t in self.treatments:
            writer.writerow([t.code, t.label, t.modality, ";".join(t.components), t.notes])
        return buf.getvalue()

    @property
    def hash(self) -> str:
        """sha256 hex digest of :meth:`canonical_text`."""
        return hashlib.sha256(self.canonical_text().encode("utf-8")).hexdigest()


def default_taxonomy_path() -> Path:
    """Path of the bundled ``data/treatments.csv``."""
    return paths.data_dir() / "treatments.csv"


def read_csv_rows(path: str | os.PathLike) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """Read a CSV file safely into ``(line, cells)`` pairs, header first.

    Never raises for bad input: a missing, unreadable, undecodable, empty or
    unparsable file gives one :class:`Problem` and no rows. Blank lines are skipped;
    cells are stripped of surrounding whitespace.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    rows : list of (int, list of str)
        1-based line number where each record starts, and its cells.
    problems : list of Problem
    """
    label = str(path)
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return [], [Problem(label, "is not a regular file (a device, pipe or socket)")]
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return [], [Problem(label, "file not found")]
    except IsADirectoryError:
        return [], [Problem(label, "is a directory, not a CSV file")]
    except OSError as err:
        return [], [Problem(label, f"cannot read file: {err.strerror or err}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        byte = raw[err.start:err.start + 1]
        return [], [Problem(label, "file is not valid UTF-8 (save it as UTF-8)", line, None, byte)]
    if not text.strip():
        return [], [Problem(label, "file is empty (expected a header row)")]
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                rows.append((start, [c.strip() for c in cells]))
            start = reader.line_num + 1
    except csv.Error as err:
        return [], [Problem(label, f"malformed CSV: {err}", start)]
    if not rows:
        return [], [Problem(label, "file is empty (expected a header row)")]
    return rows, []


def check_header(file: str, header: list[str], required, known) -> list[Problem]:
    """Missing required, unknown and repeated column names of one header."""
    problems = [
        Problem(file, "missing required column", 1, col) for col in required if col not in header
    ]
    problems += [
        Problem(file, "unknown column" + did_you_mean(col, known), 1, col)
        for col in header if col not in known
    ]
    seen: set[str] = set()
    for col in header:
        if col in seen:
            problems.append(Problem(file, "column appears more than once", 1, col))
        seen.add(col)
    return problems


def load_taxonomy(path: str | os.PathLike | None = None) -> Taxonomy:
    """Read and validate a treatment taxonomy CSV.

    Parameters
    ----------
    path : str or path-like, optional
        Defaults to the bundled ``data/treatments.csv``.

    Returns
    -------
    Taxonomy

    Raises
    ------
    ValidationError
        Listing every problem (file, line, column, value): unreadable file, missing
        or unknown columns, ragged rows, empty code or label, duplicate code,
        unknown modality.
    """
    path = default_taxonomy_path() if path is None else Path(path)
    file = str(path)
    rows, problems = read_csv_rows(path)
    if problems:
        raise ValidationError(problems)
    (_, header), body = rows[0], rows[1:]
    problems = check_header(file, header, TAXONOMY_REQUIRED, TAXONOMY_COLUMNS)
    if problems:
        raise ValidationError(problems)
    treatments: list[Treatment] = []
    first_line: dict[str, int] = {}
    for line, cells in body:
        if len(cells) != len(header):
            problems.append(Problem(
                file, f"row has {len(cells)} fields but the header has {len(header)}", line))
            continue
        rec = dict(zip(header, cells))
        code, label, modality = rec["code"], rec["label"], rec["modality"]
        row_problems = []
        if not code:
            row_problems.append(Problem(file, "treatment code is empty", line, "code"))
        elif code in first_line:
            row_problems.append(Problem(
                file, f"duplicate treatment code (first on line {first_line[code]})",
                line, "code", code))
        if not label:
            row_problems.append(Problem(file, "label is empty", line, "label"))
        choosable = rec.get("choosable", "").lower()
        if choosable not in CHOOSABLE_VALUES:
            row_problems.append(Problem(file, "choosable must be yes or no (empty = yes)", line, "choosable",
                                        rec["choosable"]))
        if modality not in schema.MODALITIES:
            row_problems.append(Problem(
                file, "unknown modality" + did_you_mean(modality, schema.MODALITIES),
                line, "modality", modality))
        problems += row_problems
        if code and code not in first_line:
            first_line[code] = line
        if not row_problems:
            components = tuple(c.strip() for c in rec.get("components", "").split(";") if c.strip())
            treatments.append(Treatment(code, label, modality, components, rec.get("notes", ""),
                                        CHOOSABLE_VALUES.get(choosable, True)))
    if problems:
        raise ValidationError(problems)
    return Taxonomy(tuple(treatments), source=file, open=False)
