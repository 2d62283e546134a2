"""IPD files: validation with located messages, like evidence CSVs."""

from __future__ import annotations

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.ipd.table import load_ipd

HEADER = "study,arm,treatment,time_months,event,tumour_size_cm,nodules,months_since_treatment,prior_treatment,microvascular_invasion\n"
GOOD = HEADER + "C1,A,RFA,12.5,1,2.5,1,20,resection,no\nC1,A,RFA,30,0,,,,,\nC1,B,TACE,8,1,6,3,5,transplant,yes\n"


def _load(tmp_path, text, name="ipd.csv"):
    p = tmp_path / name
    p.write_text(text)
    return load_ipd(p)


def _error(tmp_path, text) -> str:
    with pytest.raises(ValidationError) as err:
        _load(tmp_path, text)
    return str(err.value)


def test_good_file(tmp_path):
    ipd = _load(tmp_path, GOOD)
    assert len(ipd) == 3
    arms = ipd.arms()
    assert arms[["study", "arm", "treatment", "patients", "deaths"]].values.tolist() == [
        ["C1", "A", "RFA", 2, 1], ["C1", "B", "TACE", 1, 1]]
    assert ipd.table["tumour_size_cm"].isna().sum() == 1
    assert ipd.table["microvascular_invasion"].tolist() == ["no", "", "yes"]
    # the hash follows the content, not the file name
    assert _load(tmp_path, GOOD, "other.csv").hash == ipd.hash
    assert _load(tmp_path, GOOD.replace("12.5", "12.6"), "x.csv").hash != ipd.hash


def test_covariate_columns_are_optional(tmp_path):
    ipd = _load(tmp_path, "study,arm,treatment,time_months,event\nC1,A,RFA,10,1\n")
    assert ipd.table["prior_treatment"].tolist() == [""]


@pytest.mark.parametrize("row, expected", [
    ("C1,A,NOPE,10,1,,,,,", "ipd.csv:2: column 'treatment': unknown treatment code (got 'NOPE')"),
    ("C1,A,rfa,10,1,,,,,", "ipd.csv:2: column 'treatment': unknown treatment code (did you mean 'RFA'?) (got 'rfa')"),
    ("C1,A,RFA,0,1,,,,,", "ipd.csv:2: column 'time_months': must be a time in months > 0"),
    ("C1,A,RFA,ten,1,,,,,", "ipd.csv:2: column 'time_months': must be a time in months (got 'ten')"),
    ("C1,A,RFA,10,2,,,,,", "ipd.csv:2: column 'event': must be 1 (death) or 0 (censored) (got '2')"),
    ("C1,A,RFA,10,1,55,,,,", "ipd.csv:2: column 'tumour_size_cm': must be a size in cm [0.1, 30] (got '55')"),
    ("C1,A,RFA,10,1,,1.5,,,", "ipd.csv:2: column 'nodules': must be a whole number of nodules (got '1.5')"),
    ("C1,A,RFA,10,1,,,-3,,", "ipd.csv:2: column 'months_since_treatment': must be months [0, 600] (got '-3')"),
    ("C1,A,RFA,10,1,,,,resektion,",
     "ipd.csv:2: column 'prior_treatment': must be one of resection, transplant, ablation, tace, tare, sbrt, other "
     "or empty (did you mean 'resection'?) (got 'resektion')"),
    ("C1,A,RFA,10,1,,,,,maybe", "ipd.csv:2: column 'microvascular_invasion': must be yes, no or empty (got 'maybe')"),
    (",A,RFA,10,1,,,,,", "ipd.csv:2: column 'study': must not be empty"),
    ("C1,A,RFA,10,1,,,,", "ipd.csv:2: row has 9 fields but the header has 10"),
])
def test_bad_cells_are_located(tmp_path, row, expected):
    assert expected in _error(tmp_path, HEADER + row + "\n")


def test_one_treatment_per_arm_and_all_problems_at_once(tmp_path):
    msg = _error(tmp_path, HEADER + "C1,A,RFA,10,1,,,,,\nC1,A,TACE,12,0,,,,,\nC1,B,RFA,x,1,,,,,\n")
    assert "2 problems found" in msg
    assert "ipd.csv:3: column 'treatment': study 'C1' arm 'A' has treatment 'RFA' at ipd.csv:2 (got 'TACE')" in msg
    assert "ipd.csv:4: column 'time_months'" in msg


def test_bad_header(tmp_path):
    msg = _error(tmp_path, "study,arm,treatment,time,event,tumour_size\nC1,A,RFA,1,1,2\n")
    assert "ipd.csv:1: column 'time_months': missing required column" in msg
    assert "ipd.csv:1: column 'tumour_size': unknown column (did you mean 'tumour_size_cm'?)" in msg


def test_arm_split_over_two_files(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "C1,A,RFA,10,1,,,,,\n")
    (tmp_path / "b.csv").write_text(HEADER + "C1,A,RFA,11,1,,,,,\n")
    with pytest.raises(ValidationError) as err:
        load_ipd([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert "b.csv:2: column 'arm': study 'C1' arm 'A' is also in" in str(err.value)
