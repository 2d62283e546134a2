"""rhcc-bayes voi: labelled EVPPI / EVSI outputs on the shared small fit, plot, errors (exit 2)."""

from __future__ import annotations

import json
from io import StringIO

import pandas as pd
import pytest

from rhcc_bayes.cli.main import main

pytestmark = pytest.mark.slow


def test_evppi_json_csv_table_and_plot(fit_args, examples_dir, tmp_path, capsys):
    prof = str(examples_dir / "profiles" / "multifocal_early_mvi.toml")
    groups = ["--groups", "class:ablation,baseline"]
    assert main(["voi", "--profile", prof, *groups, "--format", "json", *fit_args]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "evppi" and d["profile"] == "multifocal_early_mvi" and d["units"] == "months of expected RMST"
    assert [r["group"] for r in d["rows"]] == sorted((r["group"] for r in d["rows"]),
                                                    key=lambda g: -next(r["evppi"] for r in d["rows"] if r["group"] == g))
    assert {r["group"] for r in d["rows"]} == {"class:ablation", "baseline"}
    for r in d["rows"]:
        assert 0 <= r["evppi"] <= r["evpi"] and r["se"] > 0 and r["members"]
    png = tmp_path / "evppi.png"
    assert main(["voi", "--profile", prof, *groups, "--format", "csv", "--plot", str(png), *fit_args]) == 0
    df = pd.read_csv(StringIO(capsys.readouterr().out))
    assert {"profile", "group", "evppi", "se", "evpi", "method", "criterion", "horizon"} <= set(df.columns)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["voi", "--profile", prof, "--groups", "baseline", *fit_args]) == 0
    out = capsys.readouterr().out
    assert "EVPI (all uncertainty)" in out and "baseline" in out and "EVPPI (mo)" in out


def test_evsi_csv(fit_args, examples_dir, capsys):
    prof = str(examples_dir / "profiles" / "multifocal_early_mvi.toml")
    assert main(["voi", "--profile", prof, "--study-treatment", "RFA", "--study-n", "30,120", "--study-followup", "36",
                 "--workers", "1", "--format", "csv", *fit_args]) == 0
    captured = capsys.readouterr()
    df = pd.read_csv(StringIO(captured.out))
    assert df["n"].tolist() == [30, 120] and (df["treatment"] == "RFA").all() and (df["followup"] == 36).all()
    assert {"evsi", "se", "evppi_limit", "evpi"} <= set(df.columns)
    assert "local processes" in captured.err
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        assert main(["voi", "--profile", prof, "--study-treatment", "RFA", "--study-n", "30,120",
                     "--study-followup", "36", "--scheduler", c.scheduler_address, "--format", "csv", *fit_args]) == 0
        on_dask = capsys.readouterr()
    assert "dask cluster" in on_dask.err
    assert on_dask.out == captured.out  # the same numbers whichever executor ran the simulations


def test_errors(fit_args, examples_dir, tmp_path, capsys):
    prof = str(examples_dir / "profiles" / "multifocal_early_mvi.toml")
    assert main(["voi", *fit_args]) == 2
    assert "give a patient" in capsys.readouterr().err
    assert main(["voi", "--profile", prof, "--groups", "baseline,nope", *fit_args]) == 2
    assert "unknown parameter group 'nope'" in capsys.readouterr().err
    assert main(["voi", "--profile", prof, "--study-treatment", "RFA", "--study-n", "10,x", *fit_args]) == 2
    assert "--study-n: give whole numbers" in capsys.readouterr().err
    assert main(["voi", "--profile", prof, "--study-treatment", "RFX", "--study-n", "10", *fit_args]) == 2
    assert "study treatment 'RFX' is not in the posterior" in capsys.readouterr().err
    bad = tmp_path / "pop.toml"
    bad.write_text("size_max_cm = -1\n")
    assert main(["voi", "--profile", prof, "--study-treatment", "RFA", "--study-population", str(bad), *fit_args]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "size_max_cm" in err and "Traceback" not in err
    assert main(["voi", "--profile", prof, "--scheduler", "tcp://127.0.0.1:1", *fit_args]) == 2
    assert "need --study-treatment" in capsys.readouterr().err
