"""Guyot reconstruction: accuracy on simulated digitised curves, cleaning, and errors for unusable input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.ipd.km import kaplan_meier, number_at_risk
from rhcc_bayes.ipd.reconstruct import clean_curve, reconstruct_files
from rhcc_bayes.ipd.simulate import censored_cohort, digitise, piecewise_survival, piecewise_times, risk_table

CUTS = [0.0, 12.0, 36.0]
HAZARDS = [0.03, 0.02, 0.015]


def _write(tmp_path, curve: pd.DataFrame, risk: pd.DataFrame):
    km_path, risk_path = tmp_path / "km.csv", tmp_path / "risk.csv"
    curve.to_csv(km_path, index=False)
    risk.to_csv(risk_path, index=False)
    return km_path, risk_path


def test_kaplan_meier_matches_hand_computation():
    km = kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    # at 1: 6 at risk, 1 death; at 2: 5 at risk, 1 death (censoring at 2 after); at 3: 3 at risk; at 5: 1
    np.testing.assert_allclose(km.survival, [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 0.0])
    assert km(0.5) == 1.0 and km(2.5) == pytest.approx(2 / 3)
    assert km.median() == 3.0
    np.testing.assert_array_equal(number_at_risk([1, 2, 2, 3], [0, 2, 2.5]), [4, 3, 1])


def test_piecewise_simulator_follows_its_hazard():
    rng = np.random.default_rng(0)
    t = piecewise_times(rng, HAZARDS, CUTS, 40_000)
    at = np.array([6.0, 12.0, 30.0, 50.0])
    emp = (t[:, None] > at[None, :]).mean(axis=0)
    np.testing.assert_allclose(emp, piecewise_survival(HAZARDS, CUTS, at), atol=0.01)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reconstruction_recovers_the_published_curve(tmp_path, seed):
    """Simulate 300 patients, digitise their KM with noise, reconstruct: KM within 0.03 of the
    curve at every at-risk time, deaths and median within 10%."""
    rng = np.random.default_rng(seed)
    cohort = censored_cohort(rng, HAZARDS, CUTS, 300, follow_up=(24.0, 72.0), dropout_rate=0.005)
    truth = kaplan_meier(cohort["time_months"], cohort["event"])
    curve = digitise(rng, cohort["time_months"], cohort["event"], n_points=150)
    at = np.arange(0.0, 61.0, 6.0)
    rec = reconstruct_files(*_write(tmp_path, curve, risk_table(cohort["time_months"], at)))
    ipd = rec.ipd
    assert len(ipd) == 300
    km = kaplan_meier(ipd["time_months"], ipd["event"])
    assert np.max(np.abs(km(at) - truth(at))) <= 0.03
    deaths = int(cohort["event"].sum())
    assert abs(int(ipd["event"].sum()) - deaths) <= 0.10 * deaths
    assert abs(km.median() - truth.median()) <= 0.10 * truth.median()
    # the reported fit is the KM of the reconstruction against the cleaned points
    assert rec.max_abs_diff == pytest.approx(np.max(np.abs(km(rec.curve.time) - rec.curve.survival)))
    assert rec.mean_abs_diff < 0.01
    comp = rec.risk_comparison()
    # matched at the first digitised point after each at-risk time, so within a few patients
    assert ((comp["published"] - comp["reconstructed"]).abs() <= np.maximum(3, 0.05 * comp["published"])).all()


def test_total_events_is_met_when_reported(tmp_path):
    rng = np.random.default_rng(11)
    cohort = censored_cohort(rng, HAZARDS, CUTS, 200, follow_up=(30.0, 70.0))
    curve = digitise(rng, cohort["time_months"], cohort["event"], n_points=150)
    risk = risk_table(cohort["time_months"], np.arange(0.0, 31.0, 6.0))  # table stops before the curve does
    deaths = int(cohort["event"].sum())
    rec = reconstruct_files(*_write(tmp_path, curve, risk), total_events=deaths)
    assert int(rec.ipd["event"].sum()) == deaths


def test_cleaning_is_reported():
    curve = clean_curve([5, 0.0, 2, 2, 8, 10, -0.1], [0.8, 1.0, 0.9, 0.9, 0.82, 0.5, 1.01])
    assert list(curve.time) == [0.0, 2.0, 5.0, 8.0, 10.0]
    np.testing.assert_allclose(curve.survival, [1.0, 0.9, 0.8, 0.8, 0.5])
    text = " | ".join(curve.notes)
    assert "points sorted by time" in text
    assert "1 time(s) slightly below 0 set to 0" in text
    assert "1 survival value(s) slightly outside [0, 1] clipped" in text
    assert "1 point(s) above an earlier point lowered" in text
    assert "duplicate point(s) dropped" in text


def test_cli_writes_ipd_and_plot(tmp_path, capsys):
    from rhcc_bayes.cli.main import main

    rng = np.random.default_rng(5)
    cohort = censored_cohort(rng, HAZARDS, CUTS, 120)
    km_path, risk_path = _write(tmp_path, digitise(rng, cohort["time_months"], cohort["event"], n_points=120),
                                risk_table(cohort["time_months"], [0, 12, 24, 36]))
    out, png = tmp_path / "ipd.csv", tmp_path / "fit.png"
    assert main(["ipd", "reconstruct", "--curve", str(km_path), "--at-risk", str(risk_path), "--arm", "RFA",
                 "--study", "S1", "--treatment", "RFA", "--out", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "reconstructed IPD for RFA: 120 patients" in text and "max |dS| =" in text
    table = pd.read_csv(out)
    assert list(table.columns) == ["study", "arm", "treatment", "time_months", "event"]
    assert len(table) == 120 and png.read_bytes()[:4] == b"\x89PNG"


# --- unusable input: one located message each --------------------------------------------
GOOD_CURVE = "time_months,survival\n0,1\n1,0.95\n3,0.9\n6,0.8\n8,0.75\n12,0.6\n14,0.55\n"
GOOD_RISK = "time_months,n_at_risk\n0,50\n6,40\n12,30\n"


def _error(tmp_path, curve=GOOD_CURVE, risk=GOOD_RISK, **kw) -> str:
    (tmp_path / "km.csv").write_text(curve)
    (tmp_path / "risk.csv").write_text(risk)
    with pytest.raises(ValidationError) as err:
        reconstruct_files(tmp_path / "km.csv", tmp_path / "risk.csv", **kw)
    return str(err.value)


def test_good_input_reconstructs(tmp_path):
    (tmp_path / "km.csv").write_text(GOOD_CURVE)
    (tmp_path / "risk.csv").write_text(GOOD_RISK)
    assert len(reconstruct_files(tmp_path / "km.csv", tmp_path / "risk.csv").ipd) == 50


def test_error_no_time_zero_in_risk_table(tmp_path):
    msg = _error(tmp_path, risk="time_months,n_at_risk\n1,50\n6,40\n")
    assert "risk.csv:2: column 'time_months': the first row must be at time 0" in msg


def test_error_increasing_at_risk(tmp_path):
    msg = _error(tmp_path, risk="time_months,n_at_risk\n0,50\n6,40\n12,45\n")
    assert "risk.csv:4: column 'n_at_risk': numbers at risk cannot increase over time (previous row: 40) (got '45')" in msg


def test_error_survival_outside_unit_interval(tmp_path):
    msg = _error(tmp_path, curve=GOOD_CURVE + "15,1.2\n")
    assert "km.csv:9: column 'survival': survival outside [0, 1] beyond the digitising tolerance 0.02 (got '1.2')" in msg
    msg = _error(tmp_path, curve="time_months,survival\n0,100\n3,90\n6,80\n12,60\n")
    assert "looks like a percentage" in msg


def test_error_too_few_points_in_an_interval(tmp_path):
    curve = "time_months,survival\n0,1\n1,0.95\n3,0.9\n12,0.6\n14,0.55\n"  # nothing in [6, 12)
    msg = _error(tmp_path, curve=curve)
    assert ("risk.csv:3: column 'time_months': the digitised curve has 0 point(s) in the interval [6, 12) months; "
            "at least 2 are needed") in msg


def test_error_at_risk_after_curve_end(tmp_path):
    msg = _error(tmp_path, risk=GOOD_RISK + "20,10\n")
    assert "risk.csv:5: column 'time_months': at-risk time after the last digitised point (14 months)" in msg


def test_error_not_a_number_and_missing_column(tmp_path):
    msg = _error(tmp_path, curve="time_months,survival\n0,1\nabc,0.9\n")
    assert "km.csv:3: column 'time_months': must be a number (got 'abc')" in msg
    msg = _error(tmp_path, risk="time,n_at_risk\n0,50\n")
    assert "risk.csv:1: column 'time_months': missing required column" in msg
