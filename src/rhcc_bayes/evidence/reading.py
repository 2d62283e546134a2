"""Reading evidence CSV files into raw records, and the number format of the table.

One file at a time: header checked against :mod:`~rhcc_bayes.evidence.schema`, rows
of the wrong width reported, omitted optional columns filled in. Parsing uses the
:mod:`csv` module on decoded text only (no ``eval``, no pickle). Values are
validated afterwards by the rules of :mod:`~rhcc_bayes.evidence.checks` and
:mod:`~rhcc_bayes.evidence.consistency`.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING

from rhcc_bayes.core.errors import Problem
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.taxonomy import check_header, read_csv_rows

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
    if value != value:  # NaN
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


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


def raw_frame(records: list[dict]) -> pd.DataFrame:
    """Records as a frame of cell text: ``schema.COLUMNS`` then ``file`` and ``line``."""
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=[*schema.COLUMNS, *PROVENANCE])
    return frame.reset_index(drop=True)


def parse_numeric(raw: pd.DataFrame) -> pd.DataFrame:
    """``schema.NUMERIC`` columns of ``raw`` as float64 (NaN for empty or invalid text)."""
    import pandas as pd

    return pd.DataFrame(
        {c: [parse_number(v) for v in raw[c]] for c in schema.NUMERIC}, index=raw.index,
        dtype="float64",
    )
