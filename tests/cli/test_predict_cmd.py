"""rhcc-bayes predict: table/json/csv outputs, draws file, input errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from io import StringIO

import pandas as pd
import pytest
import xarray as xr

from rhcc_bayes.cli.main import build_parser, main


@pytest.fixture
def pop(examples_dir):
    return str(examples_dir / "populations" / "small_solitary_post_resection.toml")


def test_predict_is_registered():
    args = build_parser().parse_args(["predict", "--population", "p.toml", "--treatment", "RFA", "--n", "10"])
    assert args.times == "12,36,60" and args.format == "table"


@pytest.mark.parametrize("extra,needle", [
    (["--n", "0"], "--n: expected a positive whole number"),
    (["--n", "ten"], "--n: expected a positive whole number"),
    (["--n", "50", "--times", "12,x"], "--times: expected comma-separated months"),
    (["--n", "50", "--times", "12,-6"], "--times: times must be positive"),
])
def test_bad_options_fail_before_fitting(pop, extra, needle, capsys, tmp_path):
    code = main(["predict", "--population", pop, "--treatment", "RFA", *extra, "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing fitted, nothing written


def test_bad_population_file(tmp_path, capsys):
    bad = tmp_path / "pop.toml"
    bad.write_text("nodules = 1\n")
    assert main(["predict", "--population", str(bad), "--treatment", "RFA", "--n", "50"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "'nodules': unknown key (did you mean 'nodules_max'?)" in err


@pytest.mark.slow
def test_table_json_csv_and_draws(fit_args, pop, tmp_path, capsys):
    base = ["predict", "--population", pop, "--treatment", "RFA", "--n", "120", "--times", "12,24,36,60"]
    assert main([*base, *fit_args]) == 0
    out = capsys.readouterr().out
    assert "lo90" in out and "RFA" in out and "n = 120" in out
    assert main([*base, "--format", "json", *fit_args]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["time"] for r in d["predictive"]] == [12, 24, 36, 60]
    assert d["covariates"]["size_band"] == "le3"
    draws = tmp_path / "draws.nc"
    out_csv = tmp_path / "pred.csv"
    assert main([*base, "--format", "csv", "--out", str(out_csv), "--draws", str(draws), *fit_args]) == 0
    table = pd.read_csv(out_csv)
    assert {"time", "mean", "median", "lo50", "hi50", "lo90", "hi90", "lo95", "hi95"} <= set(table.columns)
    ds = xr.load_dataset(draws, engine="h5netcdf")
    assert ds["reported"].dims == ("chain", "draw", "time") and ds.attrs["n"] == 120
    assert not list(tmp_path.glob(".*tmp"))
    assert main(["predict", "--population", pop, "--treatment", "RFX", "--n", "50", *fit_args]) == 2
    assert "unknown treatment 'RFX'" in capsys.readouterr().err


def test_csv_output_is_parseable_text():
    assert pd.read_csv(StringIO("time,mean\n12,0.8\n")).shape == (1, 2)
