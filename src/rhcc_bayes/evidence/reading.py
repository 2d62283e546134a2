"""Reading evidence CSV files into columns of cell text, and the number format of the table.

One file at a time, streamed: header checked against :mod:`~rhcc_bayes.evidence.schema`,
rows of the wrong width reported, omitted optional columns filled in. Parsing uses the
:mod:`csv` module on decoded text only (no ``eval``, no pickle); rows are transposed
into columns a chunk at a time and equal cells share one string, so a million-row file
needs memory for its distinct text plus a pointer per cell. Values are validated
afterwards by the rules of :mod:`~rhcc_bayes.evidence.checks` and
:mod:`~rhcc_bayes.evidence.consistency` (vectorised over all rows). Text cells protected
against spreadsheet formulas on export (:func:`neutralise_cell`) are read back as they were.
"""

from __future__ import annotations

import codecs
import csv
import math
import os
import re
import stat
from typing import TYPE_CHECKING

from rhcc_bayes.core.errors import Problem
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.taxonomy import check_header

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Provenance columns added to every record: the file read and the 1-based line.
PROVENANCE: tuple[str, ...] = ("file", "line")
#: Value given to an optional column that a file omits altogether.
OMITTED_COLUMN_DEFAULT: dict[str, str] = {"default_use": "yes"}
# Plain decimal or scientific notation; rejects '1_000', 'nan', 'inf', '0x10', '1,5'.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_number(text: str) -> float:
    """Parse a finite decimal number; ``nan`` for empty or invalid text."""
    if not _NUMBER.fullmatch(text):
        return math.nan
    value = float(text)
    return value if math.isfinite(value) else math.nan


def format_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value``; ``""`` for NaN."""
    if math.isnan(value):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


#: First characters that make a spreadsheet read a text cell as a formula (CSV injection).
FORMULA_START: frozenset[str] = frozenset({"=", "+", "-", "@", "\t", "\r"})
_QUOTE = "'"


def neutralise_cell(text: str) -> str:
    """Text cell for export: a leading ``'`` when it would start a spreadsheet formula.

    Also prefixed when the text itself starts with ``'`` so that :func:`unquote_cell`
    reads every exported value back exactly (``'=1+1`` -> ``=1+1``; ``'x`` -> ``''x``).
    """
    first = text[:1]
    return _QUOTE + text if first in FORMULA_START or first == _QUOTE else text


def unquote_cell(text: str) -> str:
    """Inverse of :func:`neutralise_cell`: drop the one ``'`` the export added."""
    if text[:1] == _QUOTE and (text[1:2] in FORMULA_START or text[1:2] == _QUOTE):
        return text[1:]
    return text


def _unquote_column(values: list[str], distinct) -> list[str]:
    """``values`` with :func:`unquote_cell` applied; ``distinct`` (the distinct values, or
    None) avoids looking at every cell when no value starts with a quote."""
    if distinct is not None:
        if not any(v[:1] == _QUOTE for v in distinct):
            return values
    elif not any(v[:1] == _QUOTE for v in values):
        return values
    return [unquote_cell(v) if v[:1] == _QUOTE else v for v in values]


def check_row_width(file: str, line: int, cells: list[str], header: list[str]) -> list[Problem]:
    """A data row has as many fields as the header."""
    if len(cells) == len(header):
        return []
    return [Problem(file, f"row has {len(cells)} fields but the header has {len(header)}", line)]


#: Rows transposed into columns at a time (bounds the transient memory of the reader).
CHUNK_ROWS = 16_384
_READ_BLOCK = 1 << 20


def _decode_problem(file: str, path) -> Problem:
    """The first invalid UTF-8 byte of a file (line and byte), read in blocks."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_READ_BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as err:
                data = err.object
                line = newlines + data.count(b"\n", 0, err.start) + 1
                return Problem(file, "file is not valid UTF-8 (save it as UTF-8)", line, None,
                               bytes(data[err.start:err.start + 1]))
            if not block:
                return Problem(file, "file is not valid UTF-8 (save it as UTF-8)")
            newlines += block.count(b"\n")


def _open_text(file: str, path):
    """A text file object (UTF-8, BOM skipped, newlines untranslated) or a Problem."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return Problem(file, "is a directory, not a CSV file")
        if not stat.S_ISREG(info.st_mode):
            return Problem(file, "is not a regular file (a device, pipe or socket)")
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        return Problem(file, "file not found")
    except IsADirectoryError:
        return Problem(file, "is a directory, not a CSV file")
    except OSError as err:
        return Problem(file, f"cannot read file: {err.strerror or err}")


class _Columns:
    """Column lists filled chunk by chunk; equal cells share one string object."""

    def __init__(self, width: int):
        self.columns: list[list[str]] = [[] for _ in range(width)]
        self.pools: list[dict | None] = [{} for _ in range(width)]
        self.rows = 0

    def add(self, chunk: list[list[str]]) -> None:
        if not chunk:
            return
        self.rows += len(chunk)
        for j, cells in enumerate(zip(*chunk)):
            stripped = list(map(str.strip, cells))
            pool = self.pools[j]
            if pool is None:
                self.columns[j].extend(stripped)
                continue
            self.columns[j].extend(map(pool.setdefault, stripped, stripped))
            if len(pool) > self.rows // 2 and self.rows >= CHUNK_ROWS:
                self.pools[j] = None  # mostly distinct text: interning only costs memory
        chunk.clear()


def read_evidence_file(path: str | os.PathLike) -> tuple[dict[str, list] | None, list[Problem]]:
    """Read one evidence CSV into columns: every schema column, plus ``file`` and ``line``.

    The file is streamed (never held in memory whole): cells are stripped, blank rows
    skipped, rows of the wrong width reported; a text cell that an export protected with
    a leading ``'`` (:func:`neutralise_cell`) is read back without it. Data rows are not returned when the file
    is unreadable or its header is wrong, so that one missing column does not bury the
    report under per-row noise.

    Returns
    -------
    columns : dict of str to list, or None
        Cell text per column (``line`` holds ints), all of the same length.
    problems : list of Problem
    """
    file = str(path)
    fh = _open_text(file, path)
    if isinstance(fh, Problem):
        return None, [fh]
    problems: list[Problem] = []
    lines: list[int] = []
    with fh:
        reader = csv.reader(fh, strict=True)
        start = 1
        header: list[str] | None = None
        try:
            for cells in reader:
                line, start = start, reader.line_num + 1
                if cells and any(c.strip() for c in cells):
                    header = [c.strip() for c in cells]
                    break
            if header is None:
                return None, [Problem(file, "file is empty (expected a header row)")]
            problems = check_header(file, header, schema.REQUIRED, schema.COLUMNS)
            if problems:
                return None, problems
            width = len(header)
            columns, chunk = _Columns(width), []
            for cells in reader:
                line, start = start, reader.line_num + 1
                if len(cells) != width:
                    if any(c.strip() for c in cells):
                        problems += check_row_width(file, line, cells, header)
                    continue
                if not (cells[0].strip() or any(c.strip() for c in cells)):
                    continue
                chunk.append(cells)
                lines.append(line)
                if len(chunk) >= CHUNK_ROWS:
                    columns.add(chunk)
            columns.add(chunk)
        except csv.Error as err:
            return None, [Problem(file, f"malformed CSV: {err}", start)]
        except UnicodeDecodeError:
            return None, [_decode_problem(file, path)]
        except OSError as err:
            return None, [Problem(file, f"cannot read file: {err.strerror or err}")]
    n = len(lines)
    out: dict[str, list] = {}
    given = {}
    for col, values, pool in zip(header, columns.columns, columns.pools):
        given[col] = values if col in schema.NUMERIC else _unquote_column(values, pool)
    for col in schema.COLUMNS:
        out[col] = given[col] if col in given else [OMITTED_COLUMN_DEFAULT.get(col, "")] * n
    out["file"] = [file] * n
    out["line"] = lines
    return out, problems


def raw_frame(parts: list[dict[str, list]]) -> pd.DataFrame:
    """Columns of several files as one frame of cell text (object dtype, shared strings):
    ``schema.COLUMNS`` then ``file`` and ``line``. The lists of ``parts`` are emptied."""
    import numpy as np
    import pandas as pd

    data = {}
    for col in (*schema.COLUMNS, "file"):
        values: list = []
        for part in parts:
            values += part[col]
            part[col].clear()
        data[col] = pd.Series(np.array(values, dtype=object) if values else
                              np.empty(0, dtype=object), dtype=object, copy=False)
    lines = [line for part in parts for line in part["line"]]
    data["line"] = pd.Series(np.asarray(lines, dtype="int64"))
    return pd.DataFrame(data, copy=False)


def parse_numeric(raw: pd.DataFrame) -> pd.DataFrame:
    """``schema.NUMERIC`` columns of ``raw`` as float64 (NaN for empty or invalid text).

    Each distinct cell text is parsed once.
    """
    import numpy as np
    import pandas as pd

    out = {}
    for col in schema.NUMERIC:
        codes, uniques = pd.factorize(raw[col].to_numpy(dtype=object))
        values = np.array([parse_number(u) for u in uniques] + [math.nan], dtype="float64")
        out[col] = values[codes]  # code -1 (none expected) -> the trailing NaN
    return pd.DataFrame(out, index=raw.index, dtype="float64")
