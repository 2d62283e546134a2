"""--replace-bundled on every command taking --evidence: a clash is an error naming both files,
the option drops the bundled rows of that study and says so on stderr (no fit needed)."""

from __future__ import annotations

import csv

import pytest

from rhcc_bayes.cli.common import load_inputs
from rhcc_bayes.cli.main import build_parser, main
from rhcc_bayes.evidence.table import default_evidence_path, load_evidence

STUDY = "zheng_96"
COMMANDS = [
    ["fit"], ["diagnose"], ["ppc"], ["decide", "--nodules", "1"], ["report", "--nodules", "1", "--out", "r"],
    ["predict", "--population", "p.toml", "--treatment", "RFA", "--n", "10"],
]


@pytest.fixture
def mine(tmp_path):
    """The bundled rows of STUDY, as a user file (so only the file of those rows changes)."""
    with open(default_evidence_path(), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    path = tmp_path / "mine.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([rows[0], *(r for r in rows[1:] if r and r[0] == STUDY)])
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_replaces_the_bundled_study(command, mine, capsys):
    args = build_parser().parse_args([*command, "--evidence", str(mine), "--replace-bundled", STUDY])
    evidence, _ = load_inputs(args)
    rows = evidence.table[evidence.table["study"] == STUDY]
    assert set(rows["file"]) == {str(mine)}
    assert len(evidence) == len(load_evidence())  # the same rows, now from the user's file
    assert (f"--replace-bundled: the bundled rows of study '{STUDY}' are dropped; {mine} gives the study instead"
            in capsys.readouterr().err)


def test_compare_models_takes_it_too(mine):
    args = build_parser().parse_args(["compare-models", "default", "weibull", "--evidence", str(mine),
                                      "--replace-bundled", STUDY])
    assert args.replace_bundled == [STUDY]


def test_clash_without_the_option_exits_2_naming_both_files(mine, tmp_path, capsys):
    assert main(["fit", "--evidence", str(mine), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{mine}:2: column 'study': study label '{STUDY}' is also a study of the bundled evidence" in err
    assert str(default_evidence_path()) in err and f"--replace-bundled {STUDY}" in err
    assert "Traceback" not in err and not (tmp_path / "cache").exists()  # refused before any fit


@pytest.mark.parametrize("extra,needle", [
    (["--replace-bundled", STUDY], "--replace-bundled needs --evidence FILE"),
    (["--evidence", "MINE", "--replace-bundled", "zheng_69"], "not a study of the bundled evidence"),
])
def test_misuse_is_a_clear_error(extra, needle, mine, tmp_path, capsys):
    extra = [str(mine) if x == "MINE" else x for x in extra]
    assert main(["fit", *extra, "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
