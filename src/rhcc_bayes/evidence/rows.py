"""The parsed rows of all evidence files, as every ``check_*`` rule sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rhcc_bayes.core.errors import Problem
from rhcc_bayes.evidence.taxonomy import Taxonomy

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class Rows:
    """Parsed data rows of all files.

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
