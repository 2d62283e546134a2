"""Tests for ``rhcc-bayes evidence validate|summary|export`` through ``cli.main``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhcc_bayes.cli.main import main
from rhcc_bayes.evidence import schema
from rhcc_bayes.evidence.table import default_evidence_path, load_evidence
from rhcc_bayes.evidence.taxonomy import default_taxonomy_path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"
VALID = FIXTURES / "valid.csv"
OWN = ["--treatments", str(TREATMENTS)]


def test_validate_clean_file(capsys):
    assert main(["evidence", "validate", str(VALID), *OWN]) == 0
    out, err = capsys.readouterr()
    assert out == f"OK: 10 rows, 3 studies, 4 arms, 3 treatments ({VALID})\n"
    assert err == ""


def test_validate_prints_every_problem_one_per_line(capsys):
    files = [FIXTURES / "invalid_category.csv", FIXTURES / "comparator_missing.csv"]
    assert main(["evidence", "validate", *map(str, files), *OWN]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "rhcc-bayes: error: 3 problems found:"
    assert lines[1].startswith(f"  {files[0]}:2: column 'outcome': invalid outcome")
    assert lines[2].startswith(f"  {files[0]}:2: column 'design': invalid design")
    assert lines[3] == f"  {files[1]}:2: column 'comparator_arm': hr row needs a comparator_arm"
    assert len(lines) == 4


def test_validate_missing_file(capsys, tmp_path):
    missing = tmp_path / "nope.csv"
    assert main(["evidence", "validate", str(missing), *OWN]) == 2
    assert capsys.readouterr().err == (f"rhcc-bayes: error: 1 problem found:\n"
                                       f"  {missing}: file not found\n")


def test_validate_bad_taxonomy(capsys):
    assert main(["evidence", "validate", str(VALID), "--treatments",
                 str(FIXTURES / "bad_treatments.csv")]) == 2
    assert "unknown modality (did you mean 'ablation'?)" in capsys.readouterr().err


def test_validate_open_world(capsys):
    assert main(["evidence", "validate", str(FIXTURES / "open_world.csv"), "--open-world"]) == 0
    assert capsys.readouterr().out.startswith("OK: 5 rows, 2 studies, 5 arms, 3 treatments")


def test_treatments_and_open_world_are_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["evidence", "validate", "--open-world", *OWN])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_summary_table(capsys):
    assert main(["evidence", "summary", str(VALID), *OWN]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["treatment", "modality", "outcome", "studies", "arms",
                                "patients", "arms_without_n"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["RFA", "ablation", "os", "1", "1", "50", "0"]
    assert lines[3].split() == ["TACE", "transarterial", "os", "2", "2", "40", "1"]
    # numbers are right-aligned under their headers
    assert lines[0].index("patients") + len("patients") == lines[2].index("50") + 2
    assert "3 studies, 4 arms" in lines[-1]


def test_summary_table_marks_unknown_patients(capsys, tmp_path):
    path = tmp_path / "nosize.csv"
    path.write_text("study,ref,arm,treatment,outcome,measure,estimate,population,design,source\n"
                    "s,,a,RFA,os,median,20,recurrent,rct,q\n")
    assert main(["evidence", "summary", str(path), *OWN]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == [
        "RFA", "ablation", "os", "1", "1", "-", "1"]


def test_summary_csv(capsys):
    assert main(["evidence", "summary", str(VALID), *OWN, "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "treatment,modality,outcome,studies,arms,patients,arms_without_n"
    assert out[1] == "RFA,ablation,os,1,1,50,0"
    assert len(out) == 6


def test_export_stdout_has_exactly_schema_columns(capsys):
    assert main(["evidence", "export", "--format", "csv", str(VALID), *OWN]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(schema.COLUMNS)
    assert out == load_evidence(VALID, taxonomy=TREATMENTS).to_csv()


def test_export_round_trip_through_cli(capsys, tmp_path):
    out = tmp_path / "tidy.csv"
    assert main(["evidence", "export", str(VALID), *OWN, "--out", str(out)]) == 0
    assert capsys.readouterr().err == f"wrote 10 rows to {out}\n"
    assert main(["evidence", "validate", str(out), *OWN]) == 0
    original = load_evidence(VALID, taxonomy=TREATMENTS)
    again = load_evidence(out, taxonomy=TREATMENTS)
    cols = list(schema.COLUMNS)
    assert again.table[cols].equals(original.table[cols])
    assert again.hash == original.hash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tidy.csv"]


def test_export_of_invalid_evidence_writes_nothing(capsys, tmp_path):
    out = tmp_path / "tidy.csv"
    out.write_text("previous content\n")
    assert main(["evidence", "export", str(FIXTURES / "ragged.csv"), *OWN,
                 "--out", str(out)]) == 2
    assert out.read_text() == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tidy.csv"]


def test_export_to_unwritable_place_is_a_clear_error(capsys, tmp_path):
    out = tmp_path / "no" / "such" / "dir.csv"
    assert main(["evidence", "export", str(VALID), *OWN, "--out", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_bundled_flag(capsys, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(VALID, data / "evidence.csv")
    shutil.copy(TREATMENTS, data / "treatments.csv")
    monkeypatch.setenv("RHCC_BAYES_HOME", str(tmp_path))
    assert main(["evidence", "validate"]) == 0
    assert capsys.readouterr().out.startswith("OK: 10 rows")
    # own taxonomy: bundled evidence left out unless asked for
    open_world = str(FIXTURES / "open_world.csv")
    assert main(["evidence", "validate", open_world, "--open-world"]) == 0
    assert capsys.readouterr().out.startswith("OK: 5 rows")
    assert main(["evidence", "validate", open_world, "--open-world", "--bundled"]) == 0
    assert capsys.readouterr().out.startswith("OK: 15 rows")


def test_help_does_not_import_pandas():
    code = ("import sys\nfrom rhcc_bayes.cli.main import build_parser\n"
            "build_parser()\nprint('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- robustness: malformed input never gives a traceback -----------------------------------
HEADER_WORDS = st.sampled_from([*schema.COLUMNS, "estimat", "", "x", "N", "file", "line"])
CELL = st.one_of(
    st.sampled_from(["", "0", "-1", "1.5", "nan", "inf", "1e999", "yes", "no", "os", "survival",
                     "RFA", "TACE-RAF", "hr", "range", "ci95", "enrolment", "count", "a", "b",
                     "recurrent", "rct", '"', "\n", ",", "\x00"]),
    st.text(max_size=8),
)


@st.composite
def csv_like(draw):
    """Random text: shuffled/missing/extra headers, random cells, ragged rows."""
    header = draw(st.one_of(
        st.permutations(list(schema.COLUMNS)).map(lambda cols: cols[: len(cols)]),
        st.lists(HEADER_WORDS, max_size=12),
        st.just(list(schema.REQUIRED)),
    ))
    if draw(st.booleans()) and header:
        header = header[: draw(st.integers(0, len(header)))]
    width = len(header)
    rows = draw(st.lists(
        st.lists(CELL, min_size=max(0, width - 1), max_size=width + 1), max_size=6))
    quote = draw(st.booleans())

    def fmt(cells):
        return ",".join(f'"{c}"' if quote and c else c for c in cells)

    return "\n".join([fmt(header), *map(fmt, rows)])


def _check_cli_on(content: bytes, taxonomy_args=tuple(OWN)) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(content)
        code = main(["evidence", "validate", str(path), *taxonomy_args])
    assert code in (0, 2)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_never_traceback(capsys, content):
    _check_cli_on(content)
    out, err = capsys.readouterr()
    assert out.startswith("OK:") or err.startswith("rhcc-bayes: error:")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(csv_like(), st.booleans())
def test_random_csv_never_traceback(capsys, text, open_world):
    _check_cli_on(text.encode("utf-8"), ["--open-world"] if open_world else OWN)
    out, err = capsys.readouterr()
    assert out.startswith("OK:") or err.startswith("rhcc-bayes: error:")


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(0, 19), CELL), max_size=6))
def test_mutated_valid_file_never_traceback(capsys, edits):
    """Replace random cells of a valid file: only exit 0 or 2."""
    lines = [line.split(",") for line in
             (FIXTURES / "treatment_disagrees.csv").read_text().splitlines()]
    lines = lines + [list(lines[1]) for _ in range(8)]
    for row, col, value in edits:
        if col < len(lines[row]):
            lines[row][col] = value.replace(",", ";").replace("\n", " ").replace('"', "'")
    _check_cli_on("\n".join(",".join(cells) for cells in lines).encode("utf-8"))
    out, err = capsys.readouterr()
    assert out.startswith("OK:") or err.startswith("rhcc-bayes: error:")


# --- the bundled data ---------------------------------------------------------------------
def test_bundled_evidence_validates(capsys, monkeypatch):
    monkeypatch.delenv("RHCC_BAYES_HOME", raising=False)
    if not (default_evidence_path().exists() and default_taxonomy_path().exists()):
        pytest.skip("bundled data not written yet")
    code = main(["evidence", "validate"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("OK: ")


def test_bundled_export_validate_load_round_trip(capsys, tmp_path):
    """The bundled evidence (with includes and primary-source rows) survives export -> validate -> load."""
    out = tmp_path / "bundled.csv"
    assert main(["evidence", "export", "--out", str(out)]) == 0
    bundled = load_evidence()
    assert capsys.readouterr().err == f"wrote {len(bundled)} rows to {out}\n"
    assert out.read_text(encoding="utf-8") == default_evidence_path().read_text(encoding="utf-8")
    assert main(["evidence", "validate", str(out), "--no-bundled"]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {len(bundled)} rows, {len(bundled.studies)} "
                                              "studies")
    again = load_evidence(out, include_bundled=False)
    cols = list(schema.COLUMNS)
    assert again.table[cols].equals(bundled.table[cols])
    assert again.hash == bundled.hash
    assert (again.table["includes"] != "").sum() == 1


# --- hostile input (issue 13) -----------------------------------------------------------------
def _home(tmp_path, monkeypatch) -> Path:
    data = tmp_path / "home" / "data"
    data.mkdir(parents=True)
    shutil.copy(VALID, data / "evidence.csv")
    shutil.copy(TREATMENTS, data / "treatments.csv")
    monkeypatch.setenv("RHCC_BAYES_HOME", str(tmp_path / "home"))
    return data / "evidence.csv"


def _mine(tmp_path, study="lee_12") -> Path:
    path = tmp_path / "mine.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + f"\n{study},,RFA,RFA,ablation,60,os,survival,12,0.95,,,,fraction,,"
                             "recurrent,retrospective,1,yes,my registry\n")
    return path


def test_clash_with_bundled_and_replace_bundled(capsys, tmp_path, monkeypatch):
    bundled = _home(tmp_path, monkeypatch)
    mine = _mine(tmp_path)
    assert main(["evidence", "validate", str(mine)]) == 2
    err = capsys.readouterr().err
    assert f"{mine}:2: column 'study': study label 'lee_12' is also a study of the bundled " \
           f"evidence ({bundled}:2)" in err
    assert main(["evidence", "validate", str(mine), "--replace-bundled", "lee_12"]) == 0
    assert capsys.readouterr().out.startswith("OK: 5 rows, 3 studies")
    assert main(["evidence", "validate", str(mine), "--replace-bundled", "lee_21"]) == 2
    assert "did you mean 'lee_12'" in capsys.readouterr().err


def test_export_and_summary_neutralise_formula_cells(capsys, tmp_path):
    path = tmp_path / "evil.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n=HYPERLINK(1),,@A,=cmd,,50,os,median,,20,,,,months,,recurrent,"
                             "retrospective,,yes,-q\n")
    out = tmp_path / "out.csv"
    assert main(["evidence", "export", str(path), "--open-world", "--out", str(out)]) == 0
    capsys.readouterr()
    row = out.read_text().splitlines()[1]
    assert row.startswith("'=HYPERLINK(1),,'@A,'=cmd,other,50,os,median,")
    assert row.endswith(",'-q,,")
    assert main(["evidence", "validate", str(out), "--open-world"]) == 0
    capsys.readouterr()
    assert main(["evidence", "summary", str(path), "--open-world", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("'=cmd,other,os,")


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing", "binary", "huge_number"])
def test_odd_inputs_exit_2_with_a_message(capsys, tmp_path, kind):
    import os

    path = tmp_path / "in.csv"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "huge_number":
        path.write_text(VALID.read_text().replace(",50,os,survival,12,0.9,", ",1e12,os,survival,"
                                                  "1e308,0.9,"))
    assert main(["evidence", "validate", str(path), *OWN]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("rhcc-bayes: error:") and "Traceback" not in err


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["valid", "clash", "fresh", "dir", "missing", "same"]),
                min_size=1, max_size=3),
       st.lists(st.sampled_from(["lee_12", "kim_15", "nope"]), max_size=2),
       st.sampled_from(["validate", "summary", "export"]))
def test_cli_file_combinations_never_traceback(capsys, tmp_path_factory, monkeypatch, kinds,
                                              replace, action):
    tmp = tmp_path_factory.mktemp("combo")
    _home(tmp, monkeypatch)
    files = []
    for k, kind in enumerate(kinds):
        path = tmp / f"f{k}.csv"
        if kind == "valid":
            shutil.copy(VALID, path)
        elif kind in ("clash", "fresh"):
            path = _mine(tmp, "lee_12" if kind == "clash" else f"fresh_{k}").rename(path)
        elif kind == "dir":
            path.mkdir()
        elif kind == "same" and files:
            path = files[0]
        files.append(path)
    digests = {p: p.read_bytes() for p in files if p.is_file()}
    args = ["evidence", action, *map(str, files)]
    for study in replace:
        args += ["--replace-bundled", study]
    code = main(args)
    _, err = capsys.readouterr()
    assert code in (0, 2)
    assert (code == 0) == (not err.startswith("rhcc-bayes: error:"))
    assert all(p.read_bytes() == content for p, content in digests.items())


@pytest.mark.parametrize("action", [["validate"], ["summary"], ["summary", "--format", "csv"],
                                    ["export"], ["export", "--out", "/dev/full"]])
def test_full_device_is_a_one_line_error(action):
    """Output to /dev/full: exit 2 with a message, and /dev/full stays a device."""
    import os
    import stat

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "rhcc_bayes.cli.main", "evidence", *action],
                              stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("rhcc-bayes: error: cannot write") and "Traceback" not in proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_out_to_a_device_writes_through_it(capsys, tmp_path):
    import os
    import stat

    assert main(["evidence", "export", str(VALID), *OWN, "--out", os.devnull]) == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert main(["evidence", "export", str(VALID), *OWN, "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
