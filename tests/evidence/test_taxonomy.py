"""Tests for the treatment taxonomy loader and the open-world taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.taxonomy import (
    Taxonomy,
    Treatment,
    load_taxonomy,
    read_csv_rows,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"


def problems_of(path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_taxonomy(path)
    return [str(p) for p in info.value.problems]


def test_load_fixture_taxonomy():
    tax = load_taxonomy(TREATMENTS)
    assert tax.codes == ("RFA", "MWA", "TACE", "TACE-RFA", "RR", "SBRT")
    assert tax.modality("TACE-RFA") == "combination"
    assert tax.components("TACE-RFA") == ("TACE", "RFA")
    assert tax.label("RR") == "Repeat hepatic resection"
    assert tax["TACE-RFA"].notes == "sequential"
    assert "RFA" in tax and "XYZ" not in tax
    assert tax.by_modality("ablation") == ("RFA", "MWA")
    assert len(tax) == 6 and list(tax) == list(tax.codes)
    assert not tax.open and tax.source == str(TREATMENTS)


def test_taxonomy_is_immutable():
    tax = load_taxonomy(TREATMENTS)
    with pytest.raises(AttributeError):
        tax.treatments = ()
    with pytest.raises(TypeError):
        tax._by_code["NEW"] = Treatment("NEW", "new", "other")


def test_suggest_close_code():
    tax = load_taxonomy(TREATMENTS)
    assert tax.suggest("TACE-RAF") == " (did you mean 'TACE-RFA'?)"
    assert tax.suggest("zzzzzz") == ""


def test_hash_is_stable_and_content_based():
    a, b = load_taxonomy(TREATMENTS), load_taxonomy(TREATMENTS)
    assert a.hash == b.hash and len(a.hash) == 64
    assert Taxonomy.open_world(["A"]).hash != Taxonomy.open_world(["B"]).hash


def test_open_world_from_codes():
    tax = Taxonomy.open_world(["Placebo", "ACE Inhibitor", "Placebo", " "])
    assert tax.codes == ("Placebo", "ACE Inhibitor")
    assert tax.modality("ACE Inhibitor") == "other"
    assert tax.label("Placebo") == "Placebo"
    assert tax.open and tax.source == "<open-world>"


def test_open_world_from_mapping_keeps_stated_modality():
    tax = Taxonomy.open_world({"RFA": "ablation", "Placebo": ""})
    assert tax.modality("RFA") == "ablation"
    assert tax.modality("Placebo") == "other"


def test_duplicate_codes_rejected_at_construction():
    t = Treatment("A", "a", "other")
    with pytest.raises(ValueError, match="unique"):
        Taxonomy((t, t))


def test_bad_taxonomy_reports_every_problem_with_location():
    path = FIXTURES / "bad_treatments.csv"
    assert problems_of(path) == [
        f"{path}:2: column 'modality': unknown modality (did you mean 'ablation'?) (got 'ablaton')",
        f"{path}:3: column 'code': duplicate treatment code (first on line 2) (got 'RFA')",
        f"{path}:4: column 'code': treatment code is empty",
        f"{path}:5: row has 4 fields but the header has 5",
    ]


def test_taxonomy_label_empty(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("code,label,modality\nRFA,,ablation\n")
    assert problems_of(path) == [f"{path}:2: column 'label': label is empty"]


def test_taxonomy_header_problems(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("code,lable,modality\nRFA,x,ablation\n")
    assert problems_of(path) == [
        f"{path}:1: column 'label': missing required column",
        f"{path}:1: column 'lable': unknown column (did you mean 'label'?)",
    ]


def test_taxonomy_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert problems_of(path) == [f"{path}: file not found"]


def test_read_csv_rows_tracks_lines_of_multiline_and_blank_rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('a,b\n\n1,"two\nlines"\n3, 4 \n')
    rows, problems = read_csv_rows(path)
    assert problems == []
    assert rows == [(1, ["a", "b"]), (3, ["1", "two\nlines"]), (5, ["3", "4"])]


def test_read_csv_rows_directory(tmp_path):
    rows, problems = read_csv_rows(tmp_path)
    assert rows == []
    assert [str(p) for p in problems] == [f"{tmp_path}: is a directory, not a CSV file"]


def test_read_csv_rows_strips_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffcode,label,modality\nRFA,x,ablation\n".encode("utf-8"))
    assert load_taxonomy(path).codes == ("RFA",)


def test_bundled_taxonomy_valid_when_present():
    from rhcc_bayes.evidence.taxonomy import default_taxonomy_path

    if not default_taxonomy_path().exists():
        pytest.skip("bundled data/treatments.csv not written yet")
    tax = load_taxonomy()
    assert len(tax) > 0
    assert all(t.modality in schema.MODALITIES for t in tax.treatments)
