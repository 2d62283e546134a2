"""Tests for loading, validating and querying evidence (``rhcc_bayes.evidence``)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.evidence import schema
from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.evidence.table import (
    OPEN_WORLD,
    Evidence,
    format_number,
    load_evidence,
    parse_number,
    write_text_atomic,
)
from rhcc_bayes.evidence.taxonomy import load_taxonomy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"
VALID = FIXTURES / "valid.csv"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(TREATMENTS)


@pytest.fixture(scope="module")
def evidence(taxonomy):
    return load_evidence(VALID, taxonomy=taxonomy)


def problems(path, taxonomy=TREATMENTS) -> list[str]:
    """The problem lines for ``path``, with the fixture folder prefix removed."""
    with pytest.raises(ValidationError) as info:
        load_evidence(path, taxonomy=taxonomy)
    return [str(p).replace(f"{FIXTURES}/", "") for p in info.value.problems]


# One failing fixture and the exact message for every rule.
RULES = {
    "missing_column.csv": [
        "missing_column.csv:1: column 'estimate': missing required column"],
    "unknown_column.csv": [
        "unknown_column.csv:1: column 'note': unknown column (did you mean 'notes'?)"],
    "repeated_column.csv": [
        "repeated_column.csv:1: column 'arm': column appears more than once"],
    "empty.csv": ["empty.csv: file is empty (expected a header row)"],
    "not_utf8.csv": ["not_utf8.csv:2: file is not valid UTF-8 (save it as UTF-8) (got b'\\xe9')"],
    "ragged.csv": ["ragged.csv:3: row has 4 fields but the header has 20"],
    "bad_quoting.csv": ["bad_quoting.csv:2: malformed CSV: ',' expected after '\"'"],
    "does_not_exist.csv": ["does_not_exist.csv: file not found"],
    "empty_identifier.csv": ["empty_identifier.csv:2: column 'study': study is empty"],
    "not_numeric.csv": [
        "not_numeric.csv:2: column 'estimate': is not a number (got '0.9x')"],
    "not_positive_integer.csv": [
        "not_positive_integer.csv:2: column 'n': must be a positive integer (got '2.5')",
        "not_positive_integer.csv:2: column 'nodules_max': must be a positive integer (got '0')",
    ],
    "probability_range.csv": [
        "probability_range.csv:2: column 'estimate': survival estimate must lie in [0, 1] "
        "(got '1.2')"],
    "ci_reversed.csv": [
        "ci_reversed.csv:2: column 'ci_low': ci_low exceeds ci_high 0.5 (got '0.98')"],
    "ci_excludes_estimate.csv": [
        "ci_excludes_estimate.csv:2: column 'estimate': estimate lies outside its interval "
        "[0.5, 0.98] (got '1.2')"],
    "survival_increasing.csv": [
        "survival_increasing.csv:3: column 'estimate': survival increases from 0.6 at 12 "
        "months (line 2) within arm 'A' of study 's1' (got '0.7')"],
    "time_not_positive.csv": [
        "time_not_positive.csv:2: column 'time_months': time_months must be > 0 (got '0')"],
    "unknown_treatment.csv": [
        "unknown_treatment.csv:2: column 'treatment': unknown treatment code "
        "(did you mean 'TACE-RFA'?) (got 'TACE-RAF')"],
    "modality_mismatch.csv": [
        "modality_mismatch.csv:2: column 'modality': modality does not match the taxonomy "
        "('ablation' for 'RFA') (got 'transarterial')"],
    "invalid_category.csv": [
        "invalid_category.csv:2: column 'outcome': invalid outcome (did you mean 'os'?); "
        "expected one of: os, pfs, dfs, rfs, ttp, complication, morbidity, recurrence, "
        "response, los, enrolment, event, continuous (got 'OS')",
        "invalid_category.csv:2: column 'design': invalid design (did you mean "
        "'retrospective'?); expected one of: rct, prospective, retrospective, meta_analysis, "
        "review, trial (got 'retrospectve')",
    ],
    "estimate_empty.csv": [
        "estimate_empty.csv:2: column 'estimate': estimate is empty; only interval=range rows "
        "and enrolment counts may omit it"],
    "duplicate_rows.csv": ["duplicate_rows.csv:3: duplicate of line 2"],
    "comparator_missing.csv": [
        "comparator_missing.csv:2: column 'comparator_arm': hr row needs a comparator_arm"],
    "comparator_unknown.csv": [
        "comparator_unknown.csv:2: column 'comparator_arm': comparator arm is not an arm of "
        "study 's1' (did you mean 'TACE'?) (got 'TAC')"],
    "n_disagrees.csv": [
        "n_disagrees.csv:3: column 'n': n disagrees with line 2 (50) for arm 'A' of study "
        "'s1' (got '45')"],
    "treatment_disagrees.csv": [
        "treatment_disagrees.csv:3: column 'treatment': treatment disagrees with line 2 "
        "('RFA') for arm 'A' of study 's1' (got 'MWA')"],
    "not_positive_measure.csv": [
        "not_positive_measure.csv:2: column 'estimate': median estimate must be > 0 (got '0')"],
    "survival_without_time.csv": [
        "survival_without_time.csv:2: column 'time_months': survival row needs time_months"],
}


@pytest.mark.parametrize("fixture", sorted(RULES))
def test_each_rule_reports_its_exact_message(fixture):
    assert problems(FIXTURES / fixture) == RULES[fixture]


def test_every_failing_fixture_is_covered():
    helpers = {"valid.csv", "treatments.csv", "bad_treatments.csv", "open_world.csv"}
    on_disk = {p.name for p in FIXTURES.glob("*.csv")} - helpers
    assert on_disk == set(RULES) - {"does_not_exist.csv"}


def test_all_problems_of_all_files_reported_together():
    files = [FIXTURES / "not_numeric.csv", FIXTURES / "empty.csv", FIXTURES / "ci_reversed.csv"]
    with pytest.raises(ValidationError) as info:
        load_evidence(files, taxonomy=TREATMENTS)
    lines = str(info.value).splitlines()
    assert lines[0] == "3 problems found:"
    # reported in the order the files were given
    assert [p.file for p in info.value.problems] == [str(f) for f in files]


def test_many_problems_in_one_row_all_reported(tmp_path):
    path = tmp_path / "many.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,surgery,-3,os,survival,,1.5,0.9,0.1,ci95,fraction,,x,rct,,yes,q\n")
    assert problems(path) == [
        f"{path}:2: column 'modality': modality does not match the taxonomy ('ablation' for "
        "'RFA') (got 'surgery')",
        f"{path}:2: column 'n': must be a positive integer (got '-3')",
        f"{path}:2: column 'time_months': survival row needs time_months",
        f"{path}:2: column 'estimate': survival estimate must lie in [0, 1] (got '1.5')",
        f"{path}:2: column 'ci_low': ci_low exceeds ci_high 0.1 (got '0.9')",
        f"{path}:2: column 'population': invalid population; expected one of: recurrent, "
        "primary, mixed (got 'x')",
    ]


def test_problems_sorted_by_line_then_column(tmp_path):
    path = tmp_path / "order.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,survival,12,x,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,B,XXX,ablation,y,os,survival,12,0.5,,,,fraction,,recurrent,rct,,yes,q\n")
    got = [p.split(": ")[0] + ":" + p.split("'")[1] for p in problems(path)]
    assert got == [f"{path}:2:estimate", f"{path}:3:treatment", f"{path}:3:n"]


# --- the loaded table ----------------------------------------------------------
def test_table_columns_and_dtypes(evidence):
    table = evidence.table
    assert list(table.columns) == [*schema.COLUMNS, "file", "line"]
    for col in schema.NUMERIC:
        assert table[col].dtype == np.float64, col
    for col in (c for c in schema.COLUMNS if c not in schema.NUMERIC):
        assert pd.api.types.is_string_dtype(table[col]), col
        assert not table[col].isna().any(), col
    assert table["line"].tolist() == list(range(2, 12))
    assert set(table["file"]) == {str(VALID)}


def test_empty_cells_are_nan_or_empty_string(evidence):
    row = evidence.table.iloc[0]
    assert math.isnan(row["ci_low"]) and row["comparator_arm"] == "" and row["notes"] == ""
    assert row["n"] == 50.0 and row["estimate"] == 0.9


def test_modality_filled_from_taxonomy(evidence):
    # line 4 leaves modality empty
    assert evidence.table.loc[2, "modality"] == "ablation"


def test_omitted_default_use_column_means_yes(tmp_path, taxonomy):
    path = tmp_path / "nouse.csv"
    path.write_text("study,ref,arm,treatment,outcome,measure,estimate,population,design,source\n"
                    "s1,1,A,RFA,os,median,20,recurrent,retrospective,q\n")
    ev = load_evidence(path, taxonomy=taxonomy)
    assert ev.table["default_use"].tolist() == ["yes"]


def test_exemptions_for_empty_estimate(evidence):
    empty = evidence.table[evidence.table["estimate"].isna()]
    assert sorted(zip(empty["interval"], empty["measure"])) == [("", "count"), ("range", "median")]


def test_survival_rule_ignores_rows_not_used_by_default():
    # survival_increasing.csv has a third, rising, default_use=no row: not reported
    assert len(problems(FIXTURES / "survival_increasing.csv")) == 1


def test_survival_rule_compares_with_the_lowest_earlier_value(tmp_path):
    path = tmp_path / "s.csv"
    header = VALID.read_text().splitlines()[0]
    rows = [(12, 0.9), (24, 0.5), (36, 0.6), (60, 0.4)]
    path.write_text(header + "\n" + "".join(
        f"s1,1,A,RFA,ablation,50,os,survival,{t},{s},,,,fraction,,recurrent,rct,,yes,q\n"
        for t, s in rows))
    assert problems(path) == [
        f"{path}:4: column 'estimate': survival increases from 0.5 at 24 months (line 3) "
        "within arm 'A' of study 's1' (got '0.6')"]


def test_survival_rule_separates_outcomes_and_arms(tmp_path, taxonomy):
    path = tmp_path / "s.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,survival,12,0.5,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,A,RFA,ablation,50,rfs,survival,36,0.6,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,B,RFA,ablation,50,os,survival,36,0.6,,,,fraction,,recurrent,rct,,yes,q\n")
    assert len(load_evidence(path, taxonomy=taxonomy)) == 3


def test_comparator_may_be_in_another_row_order(tmp_path, taxonomy):
    # the comparator arm is declared after the HR row
    path = tmp_path / "c.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,hr,,0.7,,,,ratio,B,recurrent,rct,,yes,q\n"
                    "s1,1,B,TACE,,40,enrolment,count,,,,,,patients,,recurrent,rct,,yes,q\n")
    assert len(load_evidence(path, taxonomy=taxonomy)) == 2


def test_duplicates_across_files_name_the_other_file(tmp_path):
    copy = tmp_path / "copy.csv"
    shutil.copy(VALID, copy)
    with pytest.raises(ValidationError) as info:
        load_evidence([VALID, copy], taxonomy=TREATMENTS)
    msgs = [str(p) for p in info.value.problems]
    assert len(msgs) == 10
    assert msgs[0] == f"{copy}:2: duplicate of {VALID}:2"


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1_000", "0x10", "1,5", "1e400", " "])
def test_non_finite_or_odd_numbers_rejected(text):
    assert math.isnan(parse_number(text))


@pytest.mark.parametrize("text,value", [("1", 1.0), ("-2.5", -2.5), (".5", 0.5), ("1e-3", 1e-3),
                                        ("+3.", 3.0)])
def test_plain_numbers_parsed(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("value", [0.1, 1 / 3, 45.0, 1e-12, 2.5e20, -7.0, 0.604])
def test_format_number_round_trips(value):
    assert parse_number(format_number(value)) == value
    assert format_number(float("nan")) == ""
    assert format_number(45.0) == "45"


# --- immutability and queries ------------------------------------------------------------
def test_evidence_cannot_be_mutated(evidence):
    before = evidence.hash
    table = evidence.table
    table.loc[0, "estimate"] = 0.01
    table["study"] = "x"
    assert evidence.table.loc[0, "estimate"] == 0.9
    assert evidence.table.loc[0, "study"] == "lee_12"
    with pytest.raises(AttributeError):
        evidence.sources = ()
    fresh = load_evidence(VALID, taxonomy=TREATMENTS)
    assert fresh.hash == before


def test_constructor_copies_the_frame(evidence):
    frame = evidence.table
    ev = Evidence(frame, evidence.taxonomy, evidence.sources)
    frame.loc[0, "estimate"] = 0.5
    assert ev.table.loc[0, "estimate"] == 0.9


def test_hash_stable_and_sensitive(evidence, tmp_path, taxonomy):
    moved = tmp_path / "elsewhere.csv"
    shutil.copy(VALID, moved)
    assert load_evidence(moved, taxonomy=taxonomy).hash == evidence.hash
    assert evidence.hash == "cefdf019fd3029321c3675f7fd4b846489e8484e70d345490c673e8dfb56f9c6"
    changed = tmp_path / "changed.csv"
    changed.write_text(VALID.read_text().replace("0.45", "0.44"))
    assert load_evidence(changed, taxonomy=taxonomy).hash != evidence.hash
    other_tax = load_taxonomy(FIXTURES / "treatments.csv")
    assert load_evidence(VALID, taxonomy=other_tax).hash == evidence.hash


def test_hash_depends_on_taxonomy(tmp_path, evidence):
    tax = tmp_path / "t.csv"
    tax.write_text(TREATMENTS.read_text().replace("Repeat hepatic resection", "Re-resection"))
    assert load_evidence(VALID, taxonomy=tax).hash != evidence.hash


def test_arms(evidence):
    arms = evidence.arms()
    assert list(arms.columns) == ["study", "arm", "treatment", "modality", "n", "population",
                                  "design", "size_min_cm", "size_max_cm", "nodules_max",
                                  "recurrence_timing", "prior_treatment", "bclc"]
    assert list(zip(arms["study"], arms["arm"])) == [
        ("lee_12", "RFA"), ("lee_12", "TACE"), ("kim_15", "TACE-RFA"), ("review_3", "TACE")]
    assert arms["n"].tolist()[:3] == [50.0, 40.0, 30.0] and math.isnan(arms["n"].iloc[3])
    assert arms["nodules_max"].tolist()[0] == 1.0
    assert arms["modality"].tolist() == ["ablation", "transarterial", "combination",
                                         "transarterial"]
    assert arms["bclc"].tolist() == ["", "", "", ""]


def test_studies_and_treatments(evidence):
    assert evidence.studies == ("lee_12", "kim_15", "review_3")
    assert evidence.treatments == ("RFA", "TACE", "TACE-RFA")
    assert repr(evidence) == "Evidence(10 rows, 3 studies, 4 arms, 3 treatments)"


def test_select_returns_new_evidence(evidence):
    os_yes = evidence.select(outcome="os", default_use="yes")
    assert len(os_yes) == 6 and len(evidence) == 10
    assert os_yes.taxonomy is evidence.taxonomy and os_yes.sources == evidence.sources
    assert set(evidence.select(population=["mixed"]).studies) == {"review_3"}
    assert len(evidence.select(design="prospective", measure=["median", "proportion"])) == 2
    assert evidence.select(treatment="TACE", study="lee_12").table["line"].tolist() == [5, 6]
    assert evidence.select(modality="combination").treatments == ("TACE-RFA",)
    assert evidence.select() is evidence
    assert evidence.select(outcome="os").table.index.tolist() == list(range(8))


def test_select_rejects_unknown_values(evidence):
    with pytest.raises(UserError, match=r"unknown population 'recurent' \(did you mean "
                                        r"'recurrent'\?\); expected one of: recurrent, primary, "
                                        r"mixed"):
        evidence.select(population="recurent")
    with pytest.raises(UserError, match="did you mean 'TACE-RFA'"):
        evidence.select(treatment="TACE-RAF")


def test_filter_with_mask_or_callable(evidence):
    by_mask = evidence.filter(evidence.table["n"] > 45)
    by_func = evidence.filter(lambda t: t["n"] > 45)
    assert len(by_mask) == len(by_func) == 4
    assert by_mask.hash == by_func.hash
    with pytest.raises(ValueError, match="shape"):
        evidence.filter([True])


def test_summary(evidence):
    summary = evidence.summary()
    assert list(summary.columns) == ["treatment", "modality", "outcome", "studies", "arms",
                                     "patients", "arms_without_n"]
    rows = {(r.treatment, r.outcome): (r.studies, r.arms, r.patients, r.arms_without_n)
            for r in summary.itertuples()}
    assert rows == {
        ("RFA", "os"): (1, 1, 50, 0),
        ("TACE", "os"): (2, 2, 40, 1),
        ("TACE-RFA", "os"): (1, 1, 30, 0),
        ("TACE-RFA", "complication"): (1, 1, 30, 0),  # n stated on other rows of the arm
        ("TACE-RFA", "enrolment"): (1, 1, 30, 0),
    }


# --- export round trip -------------------------------------------------------------------
def test_round_trip(evidence, tmp_path, taxonomy):
    out = tmp_path / "export.csv"
    evidence.to_csv(out)
    header = out.read_text().splitlines()[0]
    assert header == ",".join(schema.COLUMNS)
    again = load_evidence(out, taxonomy=taxonomy)
    cols = list(schema.COLUMNS)
    pd.testing.assert_frame_equal(again.table[cols], evidence.table[cols])
    assert again.hash == evidence.hash
    assert again.to_csv() == evidence.to_csv()


def test_to_csv_buffer_and_text(evidence):
    import io

    buf = io.StringIO()
    assert evidence.to_csv(buf) is None
    assert buf.getvalue() == evidence.to_csv()
    assert "lee_12,12,RFA,RFA,ablation,50,os,survival,12,0.9," in buf.getvalue()


def test_atomic_write_leaves_no_temp_and_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    write_text_atomic(target, "a\n")
    assert target.read_text() == "a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(UserError, match="cannot write"):
        write_text_atomic(tmp_path / "missing_dir" / "x.csv", "b\n")
    assert target.read_text() == "a\n"


# --- open world and bundled data -------------------------------------------------------------
def test_open_world_accepts_own_treatments():
    ev = load_evidence(FIXTURES / "open_world.csv", taxonomy=OPEN_WORLD)
    assert ev.taxonomy.open
    assert ev.treatments == ("Diuretic", "Placebo", "Beta Blocker")
    assert set(ev.table["modality"]) == {"other"}
    assert ev.sources == (str(FIXTURES / "open_world.csv"),)


def test_open_world_still_checks_stated_modality_consistency(tmp_path):
    path = tmp_path / "ow.csv"
    path.write_text("study,ref,arm,treatment,modality,outcome,measure,estimate,population,"
                    "design,source\n"
                    "s,,a,X,ablation,os,median,10,mixed,trial,q\n"
                    "s,,b,X,surgery,os,median,12,mixed,trial,q\n")
    with pytest.raises(ValidationError) as info:
        load_evidence(path, taxonomy=OPEN_WORLD)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: column 'modality': modality does not match the taxonomy ('ablation' "
        "for 'X') (got 'surgery')"]


def test_open_world_rejects_nothing_but_empty_codes(tmp_path):
    path = tmp_path / "ow.csv"
    path.write_text("study,ref,arm,treatment,outcome,measure,estimate,population,design,source\n"
                    "s,,a,,os,median,10,mixed,trial,q\n")
    with pytest.raises(ValidationError, match="treatment is empty"):
        load_evidence(path, taxonomy=OPEN_WORLD)


@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    """A project root whose bundled data are the test fixtures."""
    data = tmp_path / "home" / "data"
    data.mkdir(parents=True)
    shutil.copy(VALID, data / "evidence.csv")
    shutil.copy(TREATMENTS, data / "treatments.csv")
    monkeypatch.setenv("RHCC_BAYES_HOME", str(tmp_path / "home"))
    return data


def test_default_loads_bundled(fake_home):
    ev = load_evidence()
    assert ev.sources == (str(fake_home / "evidence.csv"),)
    assert len(ev) == 10 and ev.taxonomy.source == str(fake_home / "treatments.csv")


def test_user_files_merged_with_bundled_by_default(fake_home, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text(VALID.read_text().replace("lee_12", "park_9").replace("kim_15", "cho_4")
                     .replace("review_3", "review_4"))
    ev = load_evidence(extra)
    assert ev.sources == (str(fake_home / "evidence.csv"), str(extra))
    assert len(ev) == 20
    assert len(load_evidence(extra, include_bundled=False)) == 10


def test_custom_taxonomy_excludes_bundled_by_default(fake_home, tmp_path):
    ev = load_evidence(FIXTURES / "open_world.csv", taxonomy=OPEN_WORLD)
    assert len(ev) == 5
    ev = load_evidence(FIXTURES / "open_world.csv", taxonomy=OPEN_WORLD, include_bundled=True)
    assert len(ev.sources) == 2 and len(ev) == 15


def test_no_files_at_all_is_a_user_error():
    with pytest.raises(UserError, match="no evidence files given"):
        load_evidence([], taxonomy=OPEN_WORLD)


def test_summary_patients_unknown_when_no_arm_states_n(evidence):
    summary = evidence.select(study="review_3").summary()
    assert summary["patients"].isna().tolist() == [True]
    assert summary["arms_without_n"].tolist() == [1]
