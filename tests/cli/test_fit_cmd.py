"""CLI: fit, diagnose, ppc, compare-models (on the session fit) and NMA specs from the command line."""

import io

import pandas as pd
import pytest

from rhcc_bayes.cli.main import main
from rhcc_bayes.survival.criticism import PPC_COLUMNS, compare_models
from rhcc_bayes.core.errors import UserError

pytestmark = pytest.mark.slow


def test_fit_prints_gate_and_treatment_table(fit_args, small_fit, capsys):
    assert main(["fit", *fit_args]) == 0
    out = capsys.readouterr().out
    assert "diagnostics gate passed" in out
    design = small_fit[1].design
    assert len(design.used) >= 13
    assert (f"{len(design.used)} rows in the likelihood from {len(design.study_arms)} arms of "
            f"{len(design.studies)} studies") in out
    row = next(line for line in out.splitlines() if line.strip().startswith("SALVAGE-LT"))
    assert "[" in row and "]" in row  # every number with its interval


def test_diagnose_reports_divergences_and_worst_parameters(fit_args, capsys):
    assert main(["diagnose", *fit_args]) == 0
    out = capsys.readouterr().out
    assert "divergences: 0" in out and "ess_bulk" in out and "r_hat" in out


def test_ppc_csv_has_one_row_per_observation(fit_args, small_fit, capsys):
    assert main(["ppc", *fit_args, "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == [*PPC_COLUMNS, "gate_warning"]  # the gate column of every csv output
    observed = small_fit[1].idata.observed_data
    assert len(table) == sum(observed[v].size for v in observed.data_vars) >= 13
    assert table["study"].notna().all()


def test_unknown_spec_is_a_clean_error(capsys):
    assert main(["fit", "--spec", "defualt"]) == 2
    assert "did you mean 'default'?" in capsys.readouterr().err


def test_nma_spec_without_evidence_is_a_clean_error(capsys):
    assert main(["fit", "--spec", "nma_bcg_fixed_tau"]) == 2
    assert "give its data with --evidence FILE" in capsys.readouterr().err


def test_nma_reference_analysis_runs_from_the_command_line(examples_dir, capsys, tmp_path):
    """NMA specs take the same fit path as survival specs, posterior cache included."""
    argv = ["fit", "--spec", "nma_bcg_fixed_tau", "--evidence", str(examples_dir / "reference" / "bcg.csv"),
            "--cache-dir", str(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    line = next(l for l in out.splitlines() if l.strip().startswith("bcg"))
    mean, sd = float(line.split()[1]), float(line.split()[2])
    assert mean == pytest.approx(-0.7145, abs=0.02) and sd == pytest.approx(0.1798, abs=0.01)
    assert "DIC" in out and "compiling model" in captured.err and "fit done in" in captured.err
    assert main(argv) == 0
    again = capsys.readouterr()
    assert "loaded cached posterior" in again.err and "compiling" not in again.err
    assert line in again.out  # the same numbers from the cached posterior
    assert len(list(tmp_path.glob("*.nc"))) == 1


def test_fit_out_directory_is_refused_before_fitting(fit_args, tmp_path, capsys):
    assert main(["fit", *fit_args, "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_compare_models_requires_the_same_observations(small_fit):
    _, result = small_fit
    idata = result.idata
    table = compare_models({"a": idata, "b": idata})
    assert list(table.index) == ["a", "b"] or set(table.index) == {"a", "b"}
    assert table["elpd_diff"].min() == pytest.approx(0.0)
    other = idata.copy()
    other.observed_data["landmark_deaths"] = other.observed_data["landmark_deaths"] + 1
    with pytest.raises(UserError, match="use different observations"):
        compare_models({"a": idata, "b": other})


def test_fit_holds_out_a_study_with_the_compiled_model_of_the_full_evidence(unconverged_args, capsys):
    """--hold-out: the study's rows weigh 0 and the fit is cached under its own key, its posterior
    marked with the held-out study (that the compiled model is the full evidence's: its model key,
    tests/survival/test_holdout.py)."""
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.inference.cache import load_idata
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import Synthesis

    assert main(["fit", *unconverged_args, "--hold-out", "ref_37"]) == 0
    err = capsys.readouterr().err
    assert "held out (likelihood weight 0): ref_37" in err
    assert "loaded cached posterior" not in err  # not the full fit's cache entry
    synthesis = Synthesis(load_spec(unconverged_args[1]), load_evidence(), held_out=["ref_37"])
    idata = load_idata(synthesis.cache_path(unconverged_args[3]))
    assert idata.attrs["held_out"] == "ref_37"
    lm = synthesis.design.landmarks
    held = lm.loc[lm["weight"] == 0, "row_key"].tolist()
    deaths = idata.constant_data["landmark_deaths_n"].to_series() if "constant_data" in idata else None
    assert len(held) == 6 and deaths is not None and (deaths[held] == 0).all() and (deaths.drop(held) > 0).all()


def test_hold_out_of_a_study_not_in_the_likelihood_exits_2_naming_it(unconverged_args, tmp_path, capsys):
    args = [a if a != unconverged_args[3] else str(tmp_path / "cache") for a in unconverged_args]
    assert main(["fit", *args, "--hold-out", "no_such_study"]) == 2
    err = capsys.readouterr().err
    assert "held-out studies not in the likelihood: 'no_such_study'" in err and "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # refused before any fit
