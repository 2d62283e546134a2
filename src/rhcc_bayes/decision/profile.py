"""Patient profiles: the clinical description a treatment decision is made for.

A :class:`PatientProfile` holds what a clinician knows about one patient with
recurrent HCC. Every field accepts the explicit value ``"unknown"`` (the constant
:data:`UNKNOWN`); a field missing from the input is also ``"unknown"``, never a
silent "no". Downstream code (eligibility rules, covariates) treats unknown
values as such: a rule that needs them becomes *conditional*, a covariate
becomes the model's "not reported" level ``"nr"``.

Constructors validate everything at once and raise a
:class:`~rhcc_bayes.errors.ValidationError` listing each problem with its file,
key (or CSV line and column) and value:

- :meth:`PatientProfile.from_mapping` - a dict (e.g. parsed TOML or JSON);
- :func:`load_profile` - a TOML file, keys at top level or in a ``[profile]`` table;
- :func:`add_profile_arguments` / :func:`from_cli_args` - command-line options;
- :func:`load_cohort` - a CSV with one patient per row (empty cell = unknown).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from rhcc_bayes.core.toml import read_toml
from rhcc_bayes.core.errors import Problem, ValidationError, did_you_mean
from rhcc_bayes.survival.covariates import COVARIATE_NAMES, EARLY_RECURRENCE_MONTHS, profile_covariates

UNKNOWN = "unknown"
Unknown = Literal["unknown"]
Tri = bool | Unknown  # yes / no / unknown

# Values accepted for booleans given as text (CSV cells, CLI options, TOML strings).
_TRUE = {"yes", "true", "y", "1"}
_FALSE = {"no", "false", "n", "0"}
PRIOR_TREATMENTS = ("resection", "transplant", "ablation", "tace", "tare", "sbrt", "other")


# --- field specifications --------------------------------------------------------
# One entry per field: kind and limits. Keeping them in a table makes the
# validation messages uniform and lets the CSV/CLI constructors share them.
@dataclass(frozen=True)
class _Spec:
    kind: Literal["float", "int", "bool", "choice", "text"]
    low: float | None = None          # inclusive lower bound
    high: float | None = None         # inclusive upper bound
    low_open: bool = False            # lower bound exclusive (size > 0)
    choices: tuple[str, ...] = ()
    unit: str = ""


FIELD_SPECS: dict[str, _Spec] = {
    "id": _Spec("text"),
    "tumour_size_cm": _Spec("float", 0.0, 30.0, low_open=True, unit="cm"),
    "nodules": _Spec("int", 1, 100),
    "months_since_treatment": _Spec("float", 0.0, 600.0, unit="months"),
    "microvascular_invasion": _Spec("bool"),
    "afp_ng_ml": _Spec("float", 0.0, 1e7, unit="ng/mL"),
    "child_pugh": _Spec("choice", choices=("A", "B", "C")),
    "portal_hypertension": _Spec("bool"),
    "ecog": _Spec("int", 0, 4),
    "prior_treatment": _Spec("choice", choices=PRIOR_TREATMENTS),
    "extrahepatic_spread": _Spec("bool"),
    "portal_vein_thrombus": _Spec("bool"),
    "near_gallbladder": _Spec("bool"),
    "near_bowel": _Spec("bool"),
    "near_diaphragm": _Spec("bool"),
    "near_large_vessel": _Spec("bool"),
    "resection_candidate": _Spec("bool"),
    "transplant_candidate": _Spec("bool"),
}
FIELDS: tuple[str, ...] = tuple(FIELD_SPECS)

# Keys people plausibly write, mapped to a hint that says more than did-you-mean.
_UNIT_HINTS = {
    "tumour_size_mm": "sizes are in cm: use 'tumour_size_cm'",
    "tumor_size_mm": "sizes are in cm: use 'tumour_size_cm'",
    "tumor_size_cm": "use the spelling 'tumour_size_cm'",
    "afp_ug_l": "ug/L equals ng/mL: use 'afp_ng_ml'",
    "afp_iu_ml": "AFP is expected in ng/mL (1 IU/mL = 1.21 ng/mL): use 'afp_ng_ml'",
    "years_since_treatment": "time is in months: use 'months_since_treatment'",
    "days_since_treatment": "time is in months: use 'months_since_treatment'",
}


@dataclass(frozen=True)
class PatientProfile:
    """One patient with recurrent HCC; every field may be ``"unknown"``.

    Parameters
    ----------
    id : str
        Label used in tables (default ``"profile"``).
    tumour_size_cm : float or "unknown"
        Diameter of the largest recurrent tumour, 0 < x <= 30 cm.
    nodules : int or "unknown"
        Number of recurrent nodules, >= 1.
    months_since_treatment : float or "unknown"
        Months from the curative-intent treatment to the recurrence.
    microvascular_invasion : bool or "unknown"
        Histological microvascular invasion (of the primary or the recurrence).
    afp_ng_ml : float or "unknown"
        Serum alpha-fetoprotein, ng/mL (= ug/L).
    child_pugh : {"A", "B", "C", "unknown"}
        Child-Pugh class.
    portal_hypertension : bool or "unknown"
        Clinically significant portal hypertension.
    ecog : int or "unknown"
        ECOG performance status 0-4.
    prior_treatment : str
        The curative-intent treatment that failed: one of :data:`PRIOR_TREATMENTS`
        or "unknown".
    extrahepatic_spread, portal_vein_thrombus : bool or "unknown"
        Advanced-disease features (BCLC C).
    near_gallbladder, near_bowel, near_diaphragm, near_large_vessel : bool or "unknown"
        Tumour abutting these structures (ablation safety and heat sink).
    resection_candidate, transplant_candidate : bool or "unknown"
        Judged suitable for (repeat) resection / listed or listable for transplant.
    """

    id: str = "profile"
    tumour_size_cm: float | Unknown = UNKNOWN
    nodules: int | Unknown = UNKNOWN
    months_since_treatment: float | Unknown = UNKNOWN
    microvascular_invasion: Tri = UNKNOWN
    afp_ng_ml: float | Unknown = UNKNOWN
    child_pugh: str = UNKNOWN
    portal_hypertension: Tri = UNKNOWN
    ecog: int | Unknown = UNKNOWN
    prior_treatment: str = UNKNOWN
    extrahepatic_spread: Tri = UNKNOWN
    portal_vein_thrombus: Tri = UNKNOWN
    near_gallbladder: Tri = UNKNOWN
    near_bowel: Tri = UNKNOWN
    near_diaphragm: Tri = UNKNOWN
    near_large_vessel: Tri = UNKNOWN
    resection_candidate: Tri = UNKNOWN
    transplant_candidate: Tri = UNKNOWN

    def __post_init__(self):
        # Direct construction gets the same checks as the file loaders.
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            parsed, msg = parse_field(f.name, value, text=False)
            if msg:
                problems.append(Problem("PatientProfile", msg, column=f.name, value=value))
            elif parsed != value or type(parsed) is not type(value):
                object.__setattr__(self, f.name, parsed)
        if problems:
            raise ValidationError(problems)

    # --- derived quantities ---------------------------------------------------
    @property
    def milan(self) -> Literal["within", "beyond", "unknown"]:
        """Milan criteria: solitary <= 5 cm or 2-3 nodules each <= 3 cm, no
        macrovascular invasion (portal-vein thrombus) and no extrahepatic spread.

        ``tumour_size_cm`` is the *largest* nodule, so "each <= 3 cm" is
        "largest <= 3 cm". Microvascular invasion is histological and not part of
        Milan. Any definite violation gives "beyond"; otherwise any unknown
        input gives "unknown".
        """
        size, n = self.tumour_size_cm, self.nodules
        beyond = (
            (size != UNKNOWN and size > 5)
            or (n != UNKNOWN and n > 3)
            or (n != UNKNOWN and n >= 2 and size != UNKNOWN and size > 3)
            or self.portal_vein_thrombus is True
            or self.extrahepatic_spread is True
        )
        if beyond:
            return "beyond"
        if UNKNOWN in (size, n, self.portal_vein_thrombus, self.extrahepatic_spread):
            return "unknown"
        return "within"

    @property
    def recurrence(self) -> Literal["early", "late", "unknown"]:
        """Early (< 12 months after curative-intent treatment) or late recurrence."""
        m = self.months_since_treatment
        if m == UNKNOWN:
            return UNKNOWN
        return "early" if m < EARLY_RECURRENCE_MONTHS else "late"

    @property
    def advanced(self) -> Tri:
        """Advanced disease (BCLC C features): portal-vein thrombus or extrahepatic spread."""
        flags = (self.portal_vein_thrombus, self.extrahepatic_spread)
        if True in flags:
            return True
        return UNKNOWN if UNKNOWN in flags else False

    def unknown_fields(self) -> tuple[str, ...]:
        """Names of the fields whose value is unknown (``id`` excluded)."""
        return tuple(f for f in FIELDS[1:] if getattr(self, f) == UNKNOWN)

    def model_covariates(self) -> dict[str, str]:
        """The survival model's categorical covariates for this patient.

        Returns
        -------
        dict
            ``size_band`` in {"le3", "3to5", "gt5", "nr"}, ``nodularity`` in
            {"solitary", "multinodular", "nr"}, ``recurrence`` in {"early", "late",
            "nr"}, ``prior`` in {"transplant", "nr"}. Unknown inputs map to "nr" (the
            model's not-reported level). Recurrence after resection is the reference
            population (the bundled R-HCC cohorts are post-resection), so "resection"
            maps to "nr" too, as does any prior treatment other than transplant.
            The coding (cut-offs, levels) is owned by
            :mod:`rhcc_bayes.survival.covariates`.
        """
        return profile_covariates(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (round-trips through :meth:`from_mapping`)."""
        return {f: getattr(self, f) for f in FIELDS}

    # --- constructors -----------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<mapping>",
                     *, text: bool = False) -> PatientProfile:
        """Validate a mapping of field name -> value and build a profile.

        Parameters
        ----------
        data : Mapping
            Field values; missing fields are "unknown".
        source : str
            Label of the input (file path) used in error messages.
        text : bool
            Values are strings to parse (CSV, CLI) rather than typed (TOML, JSON).

        Raises
        ------
        ValidationError
            Listing every unknown key, wrong type and out-of-range value.
        """
        values, problems = _validate(data, source, text=text)
        if problems:
            raise ValidationError(problems)
        return cls(**values)


# --- parsing and validation ------------------------------------------------------
def parse_field(name: str, value: Any, *, text: bool) -> tuple[Any, str | None]:
    """Return ``(parsed, None)`` or ``(None, message)`` for one field value."""
    spec = FIELD_SPECS[name]
    if isinstance(value, str):
        value = value.strip()
        if value.lower() == UNKNOWN or (text and value == ""):
            return UNKNOWN, None
    if spec.kind == "text":
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value), None
        return None, "must be a non-empty label"
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE, None
        return None, "must be true/false (yes/no) or 'unknown'"
    if spec.kind == "choice":
        if isinstance(value, str):
            for c in spec.choices:
                if value.lower() == c.lower():
                    return c, None
        opts = ", ".join(repr(c) for c in spec.choices)
        hint = did_you_mean(value, spec.choices) if isinstance(value, str) else ""
        return None, f"must be one of {opts} or 'unknown'{hint}"
    # numbers
    what = "an integer" if spec.kind == "int" else "a number"
    if isinstance(value, str) and text:
        try:
            value = float(value)
        except ValueError:
            return None, f"must be {what} or 'unknown'"
    if isinstance(value, str):
        try:
            float(value)
            return None, f"must be {what}, not a quoted string"
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"must be {what} or 'unknown'"
    if not math.isfinite(value):
        return None, "must be a finite number"
    if spec.kind == "int":
        if value != int(value):
            return None, "must be a whole number"
        value = int(value)
    else:
        value = float(value)
    unit = f" {spec.unit}" if spec.unit else ""
    lo_ok = value > spec.low if spec.low_open else value >= spec.low
    if not lo_ok or value > spec.high:
        lo = f"> {spec.low:g}" if spec.low_open else f">= {spec.low:g}"
        return None, f"must be {lo} and <= {spec.high:g}{unit}"
    return value, None


def _validate(data: Mapping[str, Any], source: str, *, text: bool,
              line: int | None = None) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, raw in data.items():
        if key not in FIELD_SPECS:
            hint = _UNIT_HINTS.get(str(key).lower())
            msg = f"unknown key; {hint}" if hint else f"unknown key{did_you_mean(key, FIELDS)}"
            problems.append(Problem(source, msg, line=line, column=str(key)))
            continue
        parsed, msg = parse_field(key, raw, text=text)
        if msg:
            problems.append(Problem(source, msg, line=line, column=key, value=raw))
        else:
            values[key] = parsed
    return values, problems


def load_profile(path: str | Path) -> PatientProfile:
    """Read a profile from a TOML file (keys at top level or in ``[profile]``).

    Raises
    ------
    ValidationError
        Unreadable or malformed TOML, or invalid fields (all reported together).
    """
    path = Path(path)
    data = read_toml(path, "profile")  # BOM accepted; directories, devices and huge files refused
    if set(data) == {"profile"} and isinstance(data["profile"], dict):
        data = data["profile"]
    data = dict(data)
    data.setdefault("id", path.stem)
    return PatientProfile.from_mapping(data, source=str(path))


# --- cohorts ---------------------------------------------------------------------
@dataclass(frozen=True)
class Cohort:
    """Profiles read from one CSV, in file order.

    Use :meth:`covariates` for the column-wise covariate arrays and
    :meth:`covariate_groups` to evaluate the model once per distinct covariate
    combination (at most 108) instead of once per patient.
    """

    profiles: tuple[PatientProfile, ...]
    source: str = "<cohort>"

    def __len__(self) -> int:
        return len(self.profiles)

    def __iter__(self) -> Iterator[PatientProfile]:
        return iter(self.profiles)

    def __getitem__(self, i: int) -> PatientProfile:
        return self.profiles[i]

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.profiles]

    def covariates(self) -> dict[str, list[str]]:
        """Column-wise model covariates: ``{"size_band": [...], ...}`` in cohort order."""
        rows = [p.model_covariates() for p in self.profiles]
        return {k: [r[k] for r in rows] for k in COVARIATE_NAMES}

    def covariate_groups(self) -> dict[tuple[str, ...], list[int]]:
        """Map (size_band, nodularity, recurrence, prior) -> indices of profiles."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, p in enumerate(self.profiles):
            groups.setdefault(tuple(p.model_covariates().values()), []).append(i)
        return groups

    def to_frame(self):
        """pandas DataFrame, one row per profile, fields plus derived columns."""
        import pandas as pd

        rows = [{**p.to_dict(), "milan": p.milan, "recurrence": p.recurrence}
                for p in self.profiles]
        return pd.DataFrame(rows, columns=[*FIELDS, "milan", "recurrence"])


def cohort_header_problems(src, header: list[str]) -> tuple[list[Problem], list[str]]:
    """Unknown (with a unit or spelling hint) and duplicate columns of a cohort CSV header.

    Returns the problems and the sorted duplicate names (their columns are never read).
    """
    problems: list[Problem] = []
    for h in header:
        if h not in FIELD_SPECS:
            hint = _UNIT_HINTS.get(h.lower())
            problems.append(Problem(src, f"unknown column; {hint}" if hint else
                                    f"unknown column{did_you_mean(h, FIELDS)}", line=1, column=h))
    dupes = sorted({h for h in header if header.count(h) > 1})
    problems += [Problem(src, "duplicate column", line=1, column=h) for h in dupes]
    return problems, dupes


def load_cohort(csv_path: str | Path) -> Cohort:
    """Read many profiles from a CSV: header of field names, one patient per row.

    Empty cells are "unknown". A missing ``id`` column gives ids ``row<line>``.

    Raises
    ------
    ValidationError
        Every problem in the file, each with file, line (header = line 1) and column.
    """
    path = Path(csv_path)
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ValidationError([Problem(src, f"cannot read cohort: {err.strerror}")]) from None
    except UnicodeDecodeError:
        raise ValidationError([Problem(src, "not UTF-8 text")]) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ValidationError([Problem(src, "empty file: expected a header of profile fields",
                                       line=1)])
    header = [h.strip() for h in header]
    problems, dupes = cohort_header_problems(src, header)
    good = [i for i, h in enumerate(header) if h in FIELD_SPECS and h not in dupes]
    profiles, seen_ids = [], {}
    for lineno, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue  # blank line
        if len(row) != len(header):
            problems.append(Problem(src, f"expected {len(header)} cells, found {len(row)}",
                                    line=lineno))
            continue
        values, row_problems = _validate({header[i]: row[i] for i in good}, src, text=True,
                                         line=lineno)
        problems += row_problems
        values.setdefault("id", f"row{lineno}")
        if values["id"] in seen_ids:
            problems.append(Problem(src, f"duplicate id (first on line {seen_ids[values['id']]})",
                                    line=lineno, column="id", value=values["id"]))
        seen_ids.setdefault(values["id"], lineno)
        if not row_problems:
            profiles.append(PatientProfile(**values))
    if problems:
        raise ValidationError(problems)
    if not profiles:
        raise ValidationError([Problem(src, "no profiles: the file has a header but no rows")])
    return Cohort(tuple(profiles), source=src)
