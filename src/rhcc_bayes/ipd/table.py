"""Individual patient data files for the synthesis (``--ipd FILE...``).

Columns ``study,arm,treatment,time_months,event`` (one row a patient; event 1 = death,
0 = censored) and optionally the patient covariates ``tumour_size_cm, nodules,
months_since_treatment, prior_treatment, microvascular_invasion`` (empty = unknown).
Every problem is reported at once as ``FILE:LINE: column 'C': message (got 'v')``, like
evidence files. A study/arm belongs to one file and has one treatment, a code of the
treatment taxonomy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import Problem, ValidationError
from rhcc_bayes.ipd.csvin import number, read_records

REQUIRED: tuple[str, ...] = ("study", "arm", "treatment", "time_months", "event")
COVARIATE_COLUMNS: tuple[str, ...] = ("tumour_size_cm", "nodules", "months_since_treatment", "prior_treatment",
                                      "microvascular_invasion")
#: The failed curative-intent treatment (the patient-profile choices, decision/profile.py).
PRIOR_TREATMENTS: tuple[str, ...] = ("resection", "transplant", "ablation", "tace", "tare", "sbrt", "other")
_UNKNOWN = ("", "unknown", "nr", "na")
_YES, _NO = ("yes", "true", "1", "y"), ("no", "false", "0", "n")
#: Largest plausible follow-up (months) and tumour size (cm): beyond them a value is a typo.
MAX_MONTHS, MAX_SIZE_CM = 600.0, 30.0


@dataclass(frozen=True)
class IPD:
    """Validated patient rows.

    Attributes
    ----------
    table : DataFrame
        ``study, arm, treatment, time_months, event`` and the covariate columns
        (NaN / "" when unknown), plus ``file, line``.
    sources : tuple of str
        Files read.
    hash : str
        Content hash (part of the posterior cache key).
    """

    table: pd.DataFrame
    sources: tuple[str, ...]
    hash: str

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"IPD({len(self.table)} patients in {self.arms().shape[0]} arms from {', '.join(self.sources)})"

    def arms(self) -> pd.DataFrame:
        """One row per study arm: study, arm, treatment, patients, deaths, max follow-up, file."""
        g = self.table.groupby(["study", "arm"], sort=False)
        return g.agg(treatment=("treatment", "first"), patients=("event", "size"), deaths=("event", "sum"),
                     max_months=("time_months", "max"), file=("file", "first")).reset_index()


def _text_choice(file, line, column, text, choices, problems) -> str:
    from rhcc_bayes.core.errors import did_you_mean

    low = text.strip().lower()
    if low in _UNKNOWN:
        return ""
    if low not in choices:
        problems.append(Problem(file, f"must be one of {', '.join(choices)} or empty{did_you_mean(low, choices)}",
                                line, column, text))
        return ""
    return low


def _row(file, line, rec, taxonomy, problems) -> dict:
    out = {"file": file, "line": line}
    for col in ("study", "arm"):
        out[col] = rec[col].strip()
        if not out[col]:
            problems.append(Problem(file, "must not be empty", line, col))
    code = rec["treatment"].strip()
    if code not in taxonomy:
        problems.append(Problem(file, "unknown treatment code" + taxonomy.suggest(code), line, "treatment", code))
    out["treatment"] = code
    t = number(file, line, "time_months", rec["time_months"], problems, high=MAX_MONTHS, what="a time in months")
    if t == t and t <= 0:
        problems.append(Problem(file, "must be a time in months > 0 (a patient followed for no time adds nothing)",
                                line, "time_months", rec["time_months"]))
    out["time_months"] = t
    ev = rec["event"].strip()
    if ev not in ("0", "1"):
        problems.append(Problem(file, "must be 1 (death) or 0 (censored)", line, "event", ev))
    out["event"] = 1 if ev == "1" else 0
    size = rec.get("tumour_size_cm", "").strip()
    out["tumour_size_cm"] = number(file, line, "tumour_size_cm", size, problems, low=0.1, high=MAX_SIZE_CM,
                                   what="a size in cm") if size.lower() not in _UNKNOWN else np.nan
    nod = rec.get("nodules", "").strip()
    out["nodules"] = np.nan
    if nod.lower() not in _UNKNOWN:
        v = number(file, line, "nodules", nod, problems, low=1, high=50, what="a whole number of nodules")
        if v == v and not float(v).is_integer():
            problems.append(Problem(file, "must be a whole number of nodules", line, "nodules", nod))
        out["nodules"] = v
    m = rec.get("months_since_treatment", "").strip()
    out["months_since_treatment"] = number(file, line, "months_since_treatment", m, problems, low=0.0,
                                           high=MAX_MONTHS, what="months") if m.lower() not in _UNKNOWN else np.nan
    out["prior_treatment"] = _text_choice(file, line, "prior_treatment", rec.get("prior_treatment", ""),
                                          PRIOR_TREATMENTS, problems)
    mvi = rec.get("microvascular_invasion", "").strip().lower()
    if mvi in _UNKNOWN:
        out["microvascular_invasion"] = ""
    elif mvi in _YES + _NO:
        out["microvascular_invasion"] = "yes" if mvi in _YES else "no"
    else:
        problems.append(Problem(file, "must be yes, no or empty", line, "microvascular_invasion", mvi))
        out["microvascular_invasion"] = ""
    return out


def _check_arms(rows: list[dict], problems: list[Problem]) -> None:
    """One treatment and one file per study arm."""
    first: dict = {}
    for r in rows:
        key = (r["study"], r["arm"])
        if key not in first:
            first[key] = r
            continue
        f = first[key]
        if r["treatment"] != f["treatment"]:
            problems.append(Problem(r["file"], f"study {key[0]!r} arm {key[1]!r} has treatment "
                                               f"{f['treatment']!r} at {Path(f['file']).name}:{f['line']}",
                                    r["line"], "treatment", r["treatment"]))
        elif r["file"] != f["file"]:
            problems.append(Problem(r["file"], f"study {key[0]!r} arm {key[1]!r} is also in {f['file']}: "
                                               "give each arm's patients in one file", r["line"], "arm", key[1]))
            first[key] = r  # report each further file once


def load_ipd(paths: str | os.PathLike | Iterable, taxonomy=None) -> IPD:
    """Read and validate IPD CSV files.

    Parameters
    ----------
    paths : path or paths
    taxonomy : Taxonomy, optional
        Treatment codes allowed (default: the bundled taxonomy).

    Raises
    ------
    ValidationError
        Every problem of every file, located by file, line and column.
    """
    from rhcc_bayes.evidence.taxonomy import load_taxonomy
    from rhcc_bayes.inference.cache import content_hash

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    taxonomy = taxonomy or load_taxonomy()
    rows, problems = [], []
    for p in paths:
        try:
            records = read_records(p, REQUIRED, COVARIATE_COLUMNS)
        except ValidationError as err:
            problems += err.problems
            continue
        rows += [_row(str(p), line, rec, taxonomy, problems) for line, rec in records]
    _check_arms(rows, problems)
    if problems:
        raise ValidationError(problems)
    table = pd.DataFrame(rows, columns=[*REQUIRED, *COVARIATE_COLUMNS, "file", "line"])
    body = table.drop(columns=["file", "line"]).to_csv(index=False)
    return IPD(table=table, sources=tuple(str(p) for p in paths), hash=content_hash("ipd", body))
