"""Evidence rows for tests: one ``row(**fields)`` with the schema's defaults and one writer that
loads them back through the real reader (no bundled evidence). Shared by the survival tests."""

import csv

from rhcc_bayes.evidence.schema import COLUMNS
from rhcc_bayes.evidence.table import load_evidence


def row(**kw) -> dict:
    """A recurrent-HCC OS survival row with every schema column; keyword fields override."""
    base = {c: "" for c in COLUMNS}
    base.update(ref="1", population="recurrent", design="retrospective", default_use="yes",
                source="test", outcome="os", unit="fraction", measure="survival")
    base.update({k: str(v) for k, v in kw.items()})
    return base


def write(tmp_path, rows, *, extrasaction: str = "raise"):
    """Write ``rows`` to ``tmp_path/ev.csv`` and load them (``extrasaction="ignore"`` drops helper keys)."""
    path = tmp_path / "ev.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction=extrasaction)
        w.writeheader()
        w.writerows(rows)
    return load_evidence([path], include_bundled=False)
