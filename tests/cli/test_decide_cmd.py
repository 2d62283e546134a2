"""rhcc-bayes decide: outputs, cohort CSV, errors (exit 2, no traceback)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rhcc_bayes.cli.main import main

pytestmark = pytest.mark.slow


def test_table_json_csv(fit_args, examples_dir, capsys):
    prof = str(examples_dir / "profiles" / "multifocal_early_mvi.toml")
    assert main(["decide", "--profile", prof, *fit_args]) == 0
    out = capsys.readouterr().out
    assert "RMST60" in out and "P(best)" in out and "EVPI" in out
    assert main(["decide", "--profile", prof, "--format", "json", *fit_args]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["profile"]["id"] == "multifocal_early_mvi" and d["decision"]
    assert main(["decide", "--profile", prof, "--format", "csv", *fit_args]) == 0
    from io import StringIO

    df = pd.read_csv(StringIO(capsys.readouterr().out))
    assert {"profile", "treatment", "rmst_mean", "rmst_lo", "rmst_hi", "p_best", "expected_loss"} <= set(df.columns)


def test_profile_options_and_horizon(fit_args, capsys):
    assert main(["decide", "--tumour-size-cm", "2.5", "--nodules", "1", "--horizon", "36", *fit_args]) == 0
    out = capsys.readouterr().out
    assert "RMST36" in out and "S60" not in out


def test_cohort(fit_args, examples_dir, tmp_path, capsys):
    out = tmp_path / "res.csv"
    assert main(["decide", "--cohort", str(examples_dir / "cohort.csv"), "--out", str(out), *fit_args]) == 0
    df = pd.read_csv(out)
    assert df["profile"].nunique() == 20 and {"status", "p_best", "flags"} <= set(df.columns)
    assert not list(tmp_path.glob(".*tmp"))


def test_errors(fit_args, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("tumour_size_cm = -2\nnodulez = 1\n")
    assert main(["decide", "--profile", str(bad), *fit_args]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "tumour_size_cm" in err and "nodulez" in err and "Traceback" not in err
    assert main(["decide", *fit_args]) == 2
    assert "give a patient" in capsys.readouterr().err
    assert main(["decide", "--cohort", "x.csv", *fit_args]) == 2
    assert "x.csv" in capsys.readouterr().err
    assert main(["decide", "--cohort", "x.csv", "--format", "table", *fit_args]) == 2
    assert "csv or json" in capsys.readouterr().err
    assert main(["decide", "--nodules", "1", "--utility", str(tmp_path / "nope.toml"), *fit_args]) == 2
    assert "nope.toml" in capsys.readouterr().err
