"""decide --cohort from the command line: local, --workers and --scheduler give the same bytes;
option misuse and an unreachable scheduler are clear errors (exit 2)."""

from __future__ import annotations

import pytest

from rhcc_bayes.cli.main import main

pytestmark = pytest.mark.slow


def test_scheduler_gives_the_local_bytes(fit_args, examples_dir, tmp_path, capsys):
    from distributed import LocalCluster

    cohort = str(examples_dir / "cohort.csv")
    local = tmp_path / "local.csv"
    assert main(["decide", "--cohort", cohort, "--out", str(local), "--chunk-rows", "6", *fit_args]) == 0
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        dist = tmp_path / "dist.json"
        assert main(["decide", "--cohort", cohort, "--format", "json", "--out", str(dist), "--chunk-rows", "6",
                     "--scheduler", cluster.scheduler_address, *fit_args]) == 0
        dist_csv = tmp_path / "dist.csv"
        assert main(["decide", "--cohort", cohort, "--out", str(dist_csv), "--chunk-rows", "9",
                     "--scheduler", cluster.scheduler_address, *fit_args]) == 0
    assert dist_csv.read_bytes() == local.read_bytes()
    import json

    import pandas as pd

    assert len(json.loads(dist.read_text())) == len(pd.read_csv(local))
    assert "dask worker(s) at" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["--nodules", "1", "--workers", "2"], "apply to --cohort only"),
    (["--cohort", "COHORT", "--workers", "0"], "--workers must be between 1 and 64"),
    (["--cohort", "COHORT", "--chunk-rows", "0"], "--chunk-rows must be between"),
    (["--cohort", "COHORT", "--horizon", "0"], "--horizon must be in (0, 240]"),
])
def test_option_misuse(argv, needle, examples_dir, tmp_path, capsys):
    argv = [str(examples_dir / "cohort.csv") if a == "COHORT" else a for a in argv]
    assert main(["decide", *argv, "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not (tmp_path / "cache").exists()


def test_unreachable_scheduler_exits_2_and_writes_nothing(fit_args, examples_dir, tmp_path, capsys):
    out = tmp_path / "res.csv"
    assert main(["decide", "--cohort", str(examples_dir / "cohort.csv"), "--out", str(out),
                 "--scheduler", "tcp://127.0.0.1:9", *fit_args]) == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())
