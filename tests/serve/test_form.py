"""The patient form: every profile field has a widget, the form round-trips the example profile,
and bad values give the profile validation's own message."""

from __future__ import annotations

import dataclasses

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.decision.profile import FIELD_SPECS, FIELDS, PatientProfile, load_profile
from rhcc_bayes.serve.form import (
    field_errors,
    form_fields,
    parse_horizon,
    profile_from_form,
    widget_value,
    default_profile,
)


def _form(profile) -> dict[str, str]:
    return {f.name: widget_value(getattr(profile, f.name)) for f in form_fields()}


def test_every_field_has_one_widget_with_valid_choices():
    fields = form_fields()
    assert sorted(f.name for f in fields) == sorted(FIELDS)
    for f in fields:
        spec = FIELD_SPECS[f.name]
        if spec.kind == "bool":
            assert f.choices == ("yes", "no", "unknown")
        elif spec.kind == "choice":
            assert f.choices == (*spec.choices, "unknown")
        else:
            assert f.kind == "text"
        assert f.label[0].isupper() and "_" not in f.label, f.label


def test_default_profile_is_the_example(examples_dir):
    assert default_profile() == load_profile(examples_dir / "profiles" / "small_solitary_late.toml")


def test_form_round_trips_a_profile(examples_dir):
    profile = load_profile(examples_dir / "profiles" / "small_solitary_late.toml")
    assert profile_from_form(_form(profile)) == profile
    # every select choice is a value the profile accepts
    for f in form_fields():
        for choice in f.choices:
            changed = profile_from_form({**_form(profile), f.name: choice})
            assert widget_value(getattr(changed, f.name)) == choice


def test_empty_box_means_unknown():
    p = profile_from_form({"id": "", "tumour_size_cm": "", "nodules": " 2 "})
    assert p.tumour_size_cm == "unknown" and p.nodules == 2 and p.id == "patient"


def test_bad_values_give_the_validation_message():
    profile = default_profile()
    with pytest.raises(ValidationError) as exc:
        profile_from_form({**_form(profile), "tumour_size_cm": "-1", "nodules": "1.5"})
    # the same message PatientProfile gives from any source, located at the form
    assert str(exc.value) == (
        "2 problems found:\n"
        "  patient form: column 'tumour_size_cm': must be > 0 and <= 30 cm (got '-1')\n"
        "  patient form: column 'nodules': must be a whole number (got '1.5')")
    assert field_errors(exc.value) == {"tumour_size_cm": "must be > 0 and <= 30 cm (got '-1')",
                                       "nodules": "must be a whole number (got '1.5')"}
    with pytest.raises(ValidationError):
        PatientProfile(**{**dataclasses.asdict(profile), "tumour_size_cm": -1.0})


@pytest.mark.parametrize("text", ["0", "-5", "300", "soon", ""])
def test_bad_horizon(text):
    with pytest.raises(ValidationError, match=r"column 'horizon': must be a number of months in \(0, 240\]"):
        parse_horizon(text)


def test_horizon():
    assert parse_horizon(" 36 ") == 36.0
