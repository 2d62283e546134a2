"""The patient form: one widget per profile field, and the form's values as a validated profile.

Pure functions (no Shiny): what each field looks like (label, kind, choices), the text a
widget shows for a profile value, and :func:`profile_from_form`, which validates the form's
text through :meth:`PatientProfile.from_mapping` so the page shows the same
:class:`~rhcc_bayes.core.errors.ValidationError` message as the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rhcc_bayes.core.errors import Problem, ValidationError
from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS
from rhcc_bayes.decision.profile import FIELD_SPECS, FIELDS, UNKNOWN, PatientProfile, load_profile
from rhcc_bayes.report.bottom_line import FIELD_LABELS

#: Label of the form in validation messages ("patient form: column 'tumour_size_cm': ...").
SOURCE = "patient form"
#: The example profile the page starts from (a textbook ablation / repeat-resection case).
DEFAULT_PROFILE = "small_solitary_late.toml"
#: Inputs besides the profile: the RMST horizon and the study population.
HORIZON_RANGE = (0.0, MAX_HORIZON_MONTHS)
POPULATIONS = {"average": "average study population", "new": "a new study population (between-study spread)"}

#: Groups of fields, in the order a clinician fills them.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Patient", ("id",)),
    ("Tumour", ("tumour_size_cm", "nodules", "months_since_treatment", "prior_treatment",
                "microvascular_invasion", "afp_ng_ml")),
    ("Liver and patient", ("child_pugh", "portal_hypertension", "ecog")),
    ("Advanced disease", ("extrahepatic_spread", "portal_vein_thrombus")),
    ("Tumour location (ablation)", ("near_gallbladder", "near_bowel", "near_diaphragm", "near_large_vessel")),
    ("Candidacy", ("resection_candidate", "transplant_candidate")),
)
assert sorted(f for _, fs in GROUPS for f in fs) == sorted(FIELDS), "every profile field has a place in the form"


@dataclass(frozen=True)
class FormField:
    """One widget: ``kind`` "text" (free text, numbers included) or "select" (``choices``)."""

    name: str
    label: str
    kind: str
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def input_id(self) -> str:
        return f"f_{self.name}"


def _hint(spec) -> str:
    if spec.kind not in ("float", "int"):
        return ""
    lo = f"> {spec.low:,.15g}" if spec.low_open else f"{spec.low:,.15g}"
    rng = f"{lo} to {spec.high:,.15g}" if not spec.low_open else f"{lo}, up to {spec.high:,.15g}"
    return f"{'whole number ' if spec.kind == 'int' else ''}{rng}{' ' + spec.unit if spec.unit else ''}, or unknown"


def form_fields() -> tuple[FormField, ...]:
    """The widgets of every profile field, in :data:`GROUPS` order."""
    out = []
    for _, names in GROUPS:
        for name in names:
            spec = FIELD_SPECS[name]
            label = FIELD_LABELS.get(name, name.replace("_", " "))
            label = label[0].upper() + label[1:]
            if spec.kind == "bool":
                out.append(FormField(name, label, "select", ("yes", "no", UNKNOWN)))
            elif spec.kind == "choice":
                out.append(FormField(name, label, "select", (*spec.choices, UNKNOWN)))
            else:
                out.append(FormField(name, label, "text", hint=_hint(spec)))
    return tuple(out)


def widget_value(value) -> str:
    """The text a widget shows for a profile value (yes/no/unknown, numbers without trailing zeros)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default_profile(path: str | Path | None = None) -> PatientProfile:
    """The profile the page starts from: ``path``, or the bundled :data:`DEFAULT_PROFILE` example."""
    if path is None:
        from rhcc_bayes.core.paths import examples_dir

        path = examples_dir() / "profiles" / DEFAULT_PROFILE
    return load_profile(path)


def profile_from_form(values: dict[str, str]) -> PatientProfile:
    """Validate the form's text values (field name -> text) into a profile.

    An empty text box means "unknown", as an empty CSV cell does.

    Raises
    ------
    ValidationError
        Every bad value at once, each naming its field: the message the page shows.
    """
    data = {k: v for k, v in values.items() if k != "id"}
    label = str(values.get("id", "")).strip() or "patient"
    return PatientProfile.from_mapping({"id": label, **data}, source=SOURCE, text=True)


def parse_horizon(text: str) -> float:
    """The RMST horizon in months from its text box (a number in (0, 240])."""
    try:
        h = float(str(text).strip())
    except ValueError:
        h = float("nan")
    lo, hi = HORIZON_RANGE
    if not lo < h <= hi:
        raise ValidationError([Problem(SOURCE, f"must be a number of months in ({lo:g}, {hi:g}]",
                                       column="horizon", value=text)])
    return h


def field_errors(err: ValidationError) -> dict[str, str]:
    """Field name -> its problem message (without the location), for the inline error under a widget."""
    out: dict[str, str] = {}
    for p in err.problems:
        if p.column:
            val = "" if p.value is None else f" (got {p.value!r})"
            out.setdefault(p.column, p.message + val)
    return out
