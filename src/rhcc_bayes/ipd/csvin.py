"""Reading small CSV tables (digitised curves, at-risk tables, IPD) cell by cell with located problems."""

from __future__ import annotations

from rhcc_bayes.core.errors import Problem, ValidationError
from rhcc_bayes.evidence.reading import parse_number
from rhcc_bayes.evidence.taxonomy import check_header, read_csv_rows


def read_records(path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[tuple[int, dict]]:
    """``(line, {column: cell})`` per data row of ``path``; raises ValidationError on a bad file or header."""
    rows, problems = read_csv_rows(path)
    if problems:
        raise ValidationError(problems)
    (_, header), data = rows[0], rows[1:]
    problems = check_header(str(path), header, required, (*required, *optional))
    for line, cells in data:
        if len(cells) != len(header):
            problems.append(Problem(str(path), f"row has {len(cells)} fields but the header has {len(header)}", line))
    if problems:
        raise ValidationError(problems)
    if not data:
        raise ValidationError([Problem(str(path), "no data rows (only a header)")])
    return [(line, dict(zip(header, cells))) for line, cells in data]


def number(file: str, line: int, column: str, text: str, problems: list[Problem], *,
           low: float | None = None, high: float | None = None, what: str = "a number") -> float:
    """Parse one numeric cell; a Problem (and NaN) when it is not a finite number within [low, high]."""
    value = parse_number(text)
    if value != value:  # NaN
        problems.append(Problem(file, f"must be {what}", line, column, text))
    elif (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low:g}, {high:g}]" if low is not None and high is not None else (
            f">= {low:g}" if low is not None else f"<= {high:g}")
        problems.append(Problem(file, f"must be {what} {bounds}", line, column, text))
        return float("nan")
    return value
