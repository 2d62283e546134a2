"""Error types shared by every stage.

A :class:`UserError` is bad input from the user (a malformed CSV, an impossible
profile, an unknown spec key). The CLI prints its message without a traceback and
exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """Bad input that the user can fix; the message says what and where."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation failure, located as precisely as the input allows.

    Parameters
    ----------
    file : str
        Path (or label) of the offending input.
    message : str
        What is wrong, in one sentence.
    line : int or None
        1-based line number in the file (CSV header is line 1).
    column : str or None
        Column or key name.
    value : object
        The offending value, shown with ``repr``; ``None`` to omit.
    """

    file: str
    message: str
    line: int | None = None
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        col = f" column '{self.column}':" if self.column else ""
        val = "" if self.value is None else f" (got {self.value!r})"
        return f"{where}:{col} {self.message}{val}"


class ValidationError(UserError):
    """Several :class:`Problem` found at once; all are reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        super().__init__("\n".join([head, *("  " + str(p) for p in self.problems)]))


def did_you_mean(word: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    import difflib

    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    if not match:
        lowered = {str(c).lower(): str(c) for c in choices}
        if str(word).lower() in lowered:
            match = [lowered[str(word).lower()]]
    return f" (did you mean '{match[0]}'?)" if match else ""
