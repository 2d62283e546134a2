"""Tests for loading and querying evidence (``rhcc_bayes.evidence.table``)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.core.atomic import write_text_atomic
from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.table import OPEN_WORLD, Evidence, load_evidence
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
    # pinned: the canonical table (every schema column, incl. p_value since 2026-11-30) of the fixture
    assert evidence.hash == "230bf68e50973be17a9083995d1338589e1cddedec56a29fad994a4b8449ab4f"
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


def test_included_studies(tmp_path, taxonomy):
    path = tmp_path / "pooled.csv"
    path.write_text("study,ref,arm,treatment,outcome,measure,estimate,unit,population,design,"
                    "includes,source\n"
                    "kim_15,15,TACE,TACE,os,median,20,months,recurrent,retrospective,,q\n"
                    "lee_12,12,TACE,TACE,os,median,18,months,recurrent,retrospective,,q\n"
                    "meta_1,,TACE,TACE,os,median,22,months,recurrent,meta_analysis,kim_15;lee_12,q\n"
                    "meta_1,,TACE,TACE,pfs,median,9,months,recurrent,meta_analysis,lee_12,q\n")
    ev = load_evidence(path, taxonomy=taxonomy)
    assert ev.included_studies() == {"meta_1": ("kim_15", "lee_12")}
    assert ev.select(study=["meta_1", "lee_12"]).included_studies() == {"meta_1": ("lee_12",)}
    assert ev.select(study="kim_15").included_studies() == {}
    assert load_evidence().included_studies() == {"ref_46_52": ("ref_52",)}
