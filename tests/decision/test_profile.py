"""PatientProfile: derived quantities, explicit unknowns, exact error messages."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.decision.profile import (
    FIELDS,
    UNKNOWN,
    PatientProfile,
    load_cohort,
    load_profile,
)
from rhcc_bayes.cli.profile_args import add_profile_arguments, from_cli_args


def messages(err: ValidationError) -> list[str]:
    return [str(p) for p in err.problems]


# --- derived quantities ---------------------------------------------------------------
@pytest.mark.parametrize("size,n,pvtt,ehs,expected", [
    (5.0, 1, False, False, "within"),
    (5.1, 1, False, False, "beyond"),
    (3.0, 3, False, False, "within"),
    (3.1, 2, False, False, "beyond"),
    (2.0, 4, False, False, "beyond"),
    (2.0, 1, True, False, "beyond"),
    (2.0, 1, False, True, "beyond"),
    (2.0, 1, UNKNOWN, False, "unknown"),
    (UNKNOWN, 1, False, False, "unknown"),
    (UNKNOWN, 4, False, False, "beyond"),   # a definite violation decides despite unknowns
    (6.0, UNKNOWN, False, False, "beyond"),
    (4.0, UNKNOWN, False, False, "unknown"),  # solitary would be within, 2-3 nodules beyond
])
def test_milan(size, n, pvtt, ehs, expected):
    p = PatientProfile(tumour_size_cm=size, nodules=n, portal_vein_thrombus=pvtt,
                       extrahepatic_spread=ehs)
    assert p.milan == expected


def test_recurrence_and_covariates():
    p = PatientProfile(tumour_size_cm=3.0, nodules=1, months_since_treatment=11.9,
                       prior_treatment="resection")
    assert p.recurrence == "early"
    assert p.model_covariates() == {"size_band": "le3", "nodularity": "solitary",
                                    "recurrence": "early", "prior": "nr", "stage": "nr"}  # resection: reference
    q = PatientProfile(tumour_size_cm=5.0, nodules=2, months_since_treatment=12,
                       prior_treatment="ablation")
    assert q.model_covariates() == {"size_band": "3to5", "nodularity": "multinodular",
                                    "recurrence": "late", "prior": "nr", "stage": "nr"}
    assert PatientProfile(tumour_size_cm=5.01).model_covariates()["size_band"] == "gt5"
    assert PatientProfile().model_covariates() == {"size_band": "nr", "nodularity": "nr",
                                                   "recurrence": "nr", "prior": "nr", "stage": "nr"}
    assert PatientProfile(portal_vein_thrombus=True).model_covariates()["stage"] == "advanced"


def test_missing_fields_are_unknown_not_no():
    p = PatientProfile.from_mapping({"tumour_size_cm": 2})
    assert p.portal_hypertension == UNKNOWN
    assert p.advanced == UNKNOWN
    assert "portal_hypertension" in p.unknown_fields()
    assert PatientProfile(portal_vein_thrombus=True).advanced is True
    assert PatientProfile(portal_vein_thrombus=False, extrahepatic_spread=False).advanced is False


profiles = st.builds(
    PatientProfile,
    tumour_size_cm=st.floats(0.1, 30) | st.just(UNKNOWN),
    nodules=st.integers(1, 20) | st.just(UNKNOWN),
    months_since_treatment=st.floats(0, 200) | st.just(UNKNOWN),
    child_pugh=st.sampled_from(["A", "B", "C", UNKNOWN]),
    portal_vein_thrombus=st.sampled_from([True, False, UNKNOWN]),
    extrahepatic_spread=st.sampled_from([True, False, UNKNOWN]),
    prior_treatment=st.sampled_from(["resection", "transplant", "ablation", UNKNOWN]),
)


@given(profiles)
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_round_trip_and_covariate_levels(p):
    assert PatientProfile.from_mapping(p.to_dict()) == p
    cov = p.model_covariates()
    assert cov["size_band"] in {"le3", "3to5", "gt5", "nr"}
    assert cov["nodularity"] in {"solitary", "multinodular", "nr"}
    assert cov["recurrence"] in {"early", "late", "nr"}
    assert cov["prior"] == ("transplant" if p.prior_treatment == "transplant" else "nr")
    assert p.milan in {"within", "beyond", "unknown"}


# --- TOML files -----------------------------------------------------------------------
def test_load_profile_top_level_and_table(tmp_path):
    f = tmp_path / "pat.toml"
    f.write_text('tumour_size_cm = 2.0\nnodules = 1\nchild_pugh = "a"\n'
                 'portal_hypertension = "unknown"\nnear_bowel = false\n')
    p = load_profile(f)
    assert (p.id, p.tumour_size_cm, p.child_pugh, p.near_bowel) == ("pat", 2.0, "A", False)
    assert p.portal_hypertension == UNKNOWN
    g = tmp_path / "g.toml"
    g.write_text('[profile]\nid = "mr-x"\nnodules = 2\n')
    assert load_profile(g).id == "mr-x"


def test_bad_profile_reports_every_problem(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('tumour_size_mm = 20\ntumour_size_cm = 45\nnodule = 2\nchild_pugh = "D"\n'
                 'ecog = 1.5\nportal_hypertension = "maybe"\nafp_ng_ml = "12"\n'
                 'months_since_treatment = -3\nmicrovascular_invasion = 1\n')
    with pytest.raises(ValidationError) as err:
        load_profile(f)
    assert messages(err.value) == [
        f"{f}: column 'tumour_size_mm': unknown key; sizes are in cm: use 'tumour_size_cm'",
        f"{f}: column 'tumour_size_cm': must be > 0 and <= 30 cm (got 45)",
        f"{f}: column 'nodule': unknown key (did you mean 'nodules'?)",
        f"{f}: column 'child_pugh': must be one of 'A', 'B', 'C' or 'unknown' (got 'D')",
        f"{f}: column 'ecog': must be a whole number (got 1.5)",
        f"{f}: column 'portal_hypertension': must be true/false (yes/no) or 'unknown' (got 'maybe')",
        f"{f}: column 'afp_ng_ml': must be a number, not a quoted string (got '12')",
        f"{f}: column 'months_since_treatment': must be >= 0 and <= 600 months (got -3)",
        f"{f}: column 'microvascular_invasion': must be true/false (yes/no) or 'unknown' (got 1)",
    ]
    assert str(err.value).startswith("9 problems found:\n")


@pytest.mark.parametrize("key,value,message", [
    ("tumour_size_cm", 0, "must be > 0 and <= 30 cm (got 0)"),
    ("nodules", 0, "must be >= 1 and <= 100 (got 0)"),
    ("nodules", True, "must be an integer or 'unknown' (got True)"),
    ("afp_ng_ml", -1.0, "must be >= 0 and <= 1e+07 ng/mL (got -1.0)"),
    ("ecog", 5, "must be >= 0 and <= 4 (got 5)"),
    ("prior_treatment", "resectoin",
     "must be one of 'resection', 'transplant', 'ablation', 'tace', 'tare', 'sbrt', 'other' "
     "or 'unknown' (did you mean 'resection'?) (got 'resectoin')"),
    ("tumour_size_cm", float("nan"), "must be a finite number (got nan)"),
])
def test_single_field_messages(key, value, message):
    with pytest.raises(ValidationError) as err:
        PatientProfile.from_mapping({key: value}, source="p.toml")
    assert messages(err.value) == [f"p.toml: column '{key}': {message}"]


def test_malformed_toml_names_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("tumour_size_cm = \n")
    with pytest.raises(ValidationError, match=rf"^1 problem found:\n  {f}: not valid TOML"):
        load_profile(f)
    with pytest.raises(ValidationError, match="cannot read profile"):
        load_profile(tmp_path / "missing.toml")


def test_direct_construction_is_validated():
    with pytest.raises(ValidationError, match="column 'ecog': must be >= 0 and <= 4"):
        PatientProfile(ecog=7)


# --- command line ---------------------------------------------------------------------
def test_cli_options_override_file(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("tumour_size_cm = 2.0\nnodules = 1\n")
    parser = argparse.ArgumentParser()
    add_profile_arguments(parser)
    args = parser.parse_args(["--profile", str(f), "--nodules", "3",
                              "--portal-hypertension", "no", "--child-pugh", "unknown"])
    p = from_cli_args(args)
    assert (p.tumour_size_cm, p.nodules, p.portal_hypertension, p.child_pugh) == \
        (2.0, 3, False, UNKNOWN)
    bad = parser.parse_args(["--ecog", "x", "--tumour-size-cm", "40"])
    with pytest.raises(ValidationError) as err:
        from_cli_args(bad)
    assert messages(err.value) == [
        "command line: column '--tumour-size-cm': must be > 0 and <= 30 cm (got '40')",
        "command line: column '--ecog': must be an integer or 'unknown' (got 'x')",
    ]


# --- cohorts ----------------------------------------------------------------------------
def test_load_cohort(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,tumour_size_cm,nodules,months_since_treatment,portal_hypertension\n"
                 "a,2,1,30,no\n"
                 "b,,4,6,unknown\n"
                 "\n"
                 "c,6.5,1,,yes\n")
    cohort = load_cohort(f)
    assert cohort.ids == ["a", "b", "c"]
    assert cohort[1].tumour_size_cm == UNKNOWN and cohort[1].portal_hypertension == UNKNOWN
    assert cohort.covariates()["size_band"] == ["le3", "nr", "gt5"]
    assert cohort.covariates()["recurrence"] == ["late", "early", "nr"]
    assert len(cohort.covariate_groups()) == 3
    frame = cohort.to_frame()
    assert list(frame.columns[: len(FIELDS)]) == list(FIELDS)
    assert frame["milan"].tolist() == ["unknown", "beyond", "beyond"]


def test_cohort_errors_have_line_and_column(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,tumor_size_cm,nodules,ecog,child_pug\n"
                 "a,2,1,0,A\n"
                 "b,2,zero,7,B\n"
                 "a,2,1\n"
                 "a,3,2,1,C\n")
    with pytest.raises(ValidationError) as err:
        load_cohort(f)
    assert messages(err.value) == [
        f"{f}:1: column 'tumor_size_cm': unknown column; use the spelling 'tumour_size_cm'",
        f"{f}:1: column 'child_pug': unknown column (did you mean 'child_pugh'?)",
        f"{f}:3: column 'nodules': must be an integer or 'unknown' (got 'zero')",
        f"{f}:3: column 'ecog': must be >= 0 and <= 4 (got '7')",
        f"{f}:4: expected 5 cells, found 3",
        f"{f}:5: column 'id': duplicate id (first on line 2) (got 'a')",
    ]


def test_cohort_empty_and_header_only(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("")
    with pytest.raises(ValidationError, match=r"e\.csv:1: empty file"):
        load_cohort(f)
    f.write_text("id,nodules\n")
    with pytest.raises(ValidationError, match="no profiles: the file has a header but no rows"):
        load_cohort(f)
    g = tmp_path / "noid.csv"
    g.write_text("nodules\n2\n3\n")
    assert load_cohort(g).ids == ["row2", "row3"]
