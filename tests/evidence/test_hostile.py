"""Hostile input to the evidence loader (issue 13): label clashes with the bundled data,
formula cells on export, lookalike Unicode, odd paths, extreme numbers, fuzzed files.

Every case ends in a loaded Evidence or a ValidationError (problems with file and line),
never a traceback, and never a changed input file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.reading import (
    neutralise_cell,
    read_evidence_file,
    unquote_cell,
)
from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"
VALID = FIXTURES / "valid.csv"
HEADER = VALID.read_text().splitlines()[0]


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A home whose bundled evidence is valid.csv (studies lee_12, kim_15, review_3)."""
    data = tmp_path / "home" / "data"
    data.mkdir(parents=True)
    shutil.copy(VALID, data / "evidence.csv")
    shutil.copy(TREATMENTS, data / "treatments.csv")
    monkeypatch.setenv("RHCC_BAYES_HOME", str(tmp_path / "home"))
    return data / "evidence.csv"


def _user_file(tmp_path, study="lee_12", name="mine.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n"
                    f"{study},,RFA,RFA,ablation,60,os,survival,12,0.95,,,,fraction,,recurrent,"
                    "retrospective,1,yes,my registry\n")
    return path


# --- label clashes between user and bundled evidence ----------------------------------------
def test_user_study_clashing_with_bundled_is_an_error_naming_both(bundled, tmp_path):
    mine = _user_file(tmp_path)
    with pytest.raises(ValidationError) as info:
        load_evidence(mine)
    messages = [str(p) for p in info.value.problems]
    assert messages[0] == (
        f"{mine}:2: column 'study': study label 'lee_12' is also a study of the bundled evidence "
        f"({bundled}:2); rename your study, or replace the bundled one with --replace-bundled "
        "lee_12 (load_evidence(..., replace_bundled=[...])) (got 'lee_12')")


def test_fresh_label_merges(bundled, tmp_path):
    ev = load_evidence(_user_file(tmp_path, study="mine_24"))
    assert "mine_24" in ev.studies and len(ev) == 11


def test_replace_bundled_study(bundled, tmp_path):
    mine = _user_file(tmp_path)
    ev = load_evidence(mine, replace_bundled=["lee_12"])
    lee = ev.table[ev.table["study"] == "lee_12"]
    assert lee["file"].tolist() == [str(mine)]  # the bundled rows are gone
    assert lee["n"].tolist() == [60]
    assert len(ev) == 1 + 4  # kim_15 (3 rows) and review_3 (1 row) stay


def test_replace_bundled_errors(bundled, tmp_path):
    mine = _user_file(tmp_path, study="mine_24")
    with pytest.raises(ValidationError) as info:
        load_evidence(mine, replace_bundled=["lee_21", "kim_15"])
    messages = [p.message for p in info.value.problems]
    assert "--replace-bundled 'lee_21': not a study of the bundled evidence (did you mean " \
           "'lee_12'?)" in messages
    assert ("--replace-bundled 'kim_15': no user evidence file has this study, so nothing "
            "would replace it") in messages
    with pytest.raises(UserError, match="needs the bundled evidence"):
        load_evidence(mine, replace_bundled=["lee_12"], include_bundled=False)


def test_user_files_without_bundled_may_share_nothing_with_it(tmp_path):
    # a custom taxonomy leaves the bundled evidence out: no clash to report
    mine = _user_file(tmp_path)
    assert len(load_evidence(mine, taxonomy=TREATMENTS)) == 1


# --- formula cells on export ----------------------------------------------------------------
@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "'quoted",
                                  "''=x", "plain", "", "\tx"])
def test_neutralise_then_unquote_is_identity(text):
    assert unquote_cell(neutralise_cell(text)) == text
    assert neutralise_cell(text)[:1] not in {"=", "+", "-", "@", "\t", "\r"}


def test_export_neutralises_formula_cells_and_round_trips(tmp_path):
    path = tmp_path / "evil.csv"
    path.write_text(HEADER + "\n"
                    "=cmd|' /C calc'!A0,,@arm,RFA,ablation,50,os,hr,,0.7,,,,ratio,-B,recurrent,"
                    "retrospective,1,yes,+HYPERLINK(\"http://x\")\n"
                    "=cmd|' /C calc'!A0,,-B,TACE,,40,enrolment,count,,40,,,,patients,,recurrent,"
                    "retrospective,,yes,-5 patients\n")
    ev = load_evidence(path, taxonomy=TREATMENTS)
    text = ev.to_csv()
    for line in text.splitlines()[1:]:
        for cell in line.split(","):
            assert cell.lstrip('"')[:1] not in {"=", "+", "@"}, line
    out = tmp_path / "out.csv"
    ev.to_csv(out)
    again = load_evidence(out, taxonomy=TREATMENTS)
    cols = list(schema.COLUMNS)
    assert again.table[cols].equals(ev.table[cols])
    assert again.hash == ev.hash
    assert ev.table["study"].iloc[0] == "=cmd|' /C calc'!A0"


def test_negative_numbers_are_not_quoted(tmp_path):
    ev = load_evidence(Path(__file__).parents[2] / "examples" / "reference" / "bcg.csv",
                       taxonomy=OPEN_WORLD)
    text = ev.to_csv()
    assert ",-0.8893113339," in text and "'-" not in text


# --- lookalike Unicode ------------------------------------------------------------------------
def test_lookalike_study_label_is_named(tmp_path):
    path = _user_file(tmp_path, study="lee\u200b_12")
    with pytest.raises(ValidationError) as info:
        load_evidence(path, taxonomy=TREATMENTS)
    assert [p.message for p in info.value.problems] == [
        "study contains U+200B ZERO WIDTH SPACE ('\\u200b'), an invisible or space character; "
        "type codes and labels in plain ASCII"]


def test_non_ascii_that_is_not_a_lookalike_is_fine(tmp_path):
    assert len(load_evidence(_user_file(tmp_path, study="m\u00fcller_12"),
                             taxonomy=TREATMENTS)) == 1


# --- paths that are not files ---------------------------------------------------------------
def test_directory_fifo_and_unreadable(tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    assert read_evidence_file(fifo)[1][0].message.startswith("is not a regular file")
    assert read_evidence_file(tmp_path)[1][0].message == "is a directory, not a CSV file"
    locked = _user_file(tmp_path, name="locked.csv")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read any file")
        assert read_evidence_file(locked)[1][0].message.startswith("cannot read file")
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "bom.csv"
    rows = VALID.read_text().splitlines()
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8") + b"\r\n")
    assert len(load_evidence(path, taxonomy=TREATMENTS)) == 10


# --- extreme numbers: a clear problem, never a crash later -----------------------------------
@pytest.mark.parametrize("column,value", [
    ("n", "1e12"), ("n", "100001"), ("estimate", "1e308"), ("time_months", "1e300"),
    ("estimate", "-0.5"), ("n", "0.5"), ("estimate", "1e-320"), ("time_months", "601"),
])
def test_extreme_numbers_are_problems(tmp_path, column, value):
    cells = dict(zip(HEADER.split(","), ["s1", "", "RFA", "RFA", "ablation", "60", "os", "survival", "12", "0.95", "", "", "", "fraction", "", "recurrent", "retrospective", "1", "yes", "q"]))
    cells[column] = value
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "\n" + ",".join(cells.values()) + "\n")
    if value == "1e-320":  # a tiny positive survival is allowed (in [0, 1])
        assert len(load_evidence(path, taxonomy=TREATMENTS)) == 1
        return
    with pytest.raises(ValidationError) as info:
        load_evidence(path, taxonomy=TREATMENTS)
    assert all(p.line == 2 and p.file == str(path) for p in info.value.problems)
    assert column in {p.column for p in info.value.problems}


# --- fuzz: random files never give a traceback or change the input --------------------------
CELLS = st.one_of(
    st.sampled_from(["", "1e12", "-1", "1e308", "nan", "inf", "0", "600", "601", "1e-300",
                     "=cmd", "'=x", "T\u0410CE", "lee_12", "RFA", "TACE", "os", "survival",
                     "median", "hr", "count", "enrolment", "los", "mean", "yes", "no",
                     "recurrent", "rct", "ci95", "range", "\u200b", '"', "\r", "\n"]),
    st.text(max_size=6),
)


@st.composite
def evidence_text(draw):
    header = draw(st.one_of(
        st.permutations(list(schema.COLUMNS)),
        st.permutations(list(schema.REQUIRED)),
        st.lists(st.sampled_from([*schema.COLUMNS, "x", ""]), max_size=8),
    ))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header) + 1),
                         max_size=5))

    def fmt(cell):
        cell = str(cell)
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell

    return "\n".join(",".join(map(fmt, r)) for r in [header, *rows])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=evidence_text(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
       world=st.sampled_from([OPEN_WORLD, TREATMENTS]))
def test_fuzzed_files_load_or_raise_problems(tmp_path, text, encoding, world):
    path = tmp_path / "fuzz.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8"))
    before = _digest(path)
    try:
        ev = load_evidence(path, taxonomy=world)
    except ValidationError as err:
        assert err.problems and all(p.file == str(path) for p in err.problems)
    else:
        assert len(ev) >= 0
        # a loaded table exports and reads back to the same values
        out = tmp_path / "out.csv"
        ev.to_csv(out)
        again = load_evidence(out, taxonomy=world)
        cols = list(schema.COLUMNS)
        assert again.table[cols].equals(ev.table[cols])
    assert _digest(path) == before


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes_load_or_raise_problems(tmp_path, content):
    path = tmp_path / "bytes.csv"
    path.write_bytes(content)
    try:
        load_evidence(path, taxonomy=TREATMENTS)
    except ValidationError as err:
        assert err.problems
    assert path.read_bytes() == content


def test_bundled_file_given_again_is_one_clear_error(bundled):
    with pytest.raises(UserError, match="is the bundled evidence, which is loaded already"):
        load_evidence(bundled)
    assert len(load_evidence(bundled, include_bundled=False)) == 10


def test_taxonomy_path_that_is_a_device_or_directory(tmp_path):
    from rhcc_bayes.evidence.taxonomy import load_taxonomy

    fifo = tmp_path / "t.csv"
    os.mkfifo(fifo)
    for path, message in ((fifo, "is not a regular file"), (tmp_path, "is a directory")):
        with pytest.raises(ValidationError) as info:
            load_taxonomy(path)
        assert info.value.problems[0].message.startswith(message)
