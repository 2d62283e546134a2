"""validation/loso.py: metric functions on known numbers, fold construction, baselines (fast)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("loso", ROOT / "validation" / "loso.py")
loso = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loso)


def table(rows):
    base = {"population": "recurrent", "measure": "survival", "outcome": "os", "interval": "", "n": math.nan,
            "size_min_cm": math.nan, "size_max_cm": math.nan, "nodules_max": math.nan,
            "recurrence_timing": "", "prior_treatment": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


EVIDENCE = table([
    {"study": "a", "arm": "RFA", "treatment": "RFA", "n": 100, "time_months": 12, "estimate": 0.9, "size_max_cm": 3},
    {"study": "a", "arm": "RFA", "treatment": "RFA", "n": 100, "time_months": 36, "estimate": 0.7, "size_max_cm": 3},
    {"study": "b", "arm": "TACE", "treatment": "TACE", "n": 50, "time_months": 12, "estimate": 0.7},
    {"study": "c", "arm": "TACE", "treatment": "TACE", "time_months": 12, "estimate": 0.8},  # no n: not a fold
    {"study": "d", "arm": "TACE", "treatment": "TACE", "n": 40, "time_months": 12, "estimate": math.nan,
     "interval": "range"},                                                                   # a range: ignored
    {"study": "e", "arm": "RFA", "treatment": "RFA", "n": 30, "time_months": 12, "estimate": 0.8,
     "population": "primary"},                                                               # primary HCC
])


def test_folds_are_studies_with_recurrent_landmarks_and_n():
    targets = loso.validation_targets(EVIDENCE)
    assert loso.folds(targets) == ["a", "b"]
    a = targets[targets["study"] == "a"]
    assert a["time"].tolist() == [12.0, 36.0] and a["k_obs"].tolist() == [90, 70]
    assert a["size_band"].tolist() == ["le3", "le3"] and targets.loc[2, "size_band"] == "nr"


def test_coverage_and_mae_on_known_arrays():
    draws = [np.arange(101) / 100] * 4  # uniform on 0..1: 90% interval [0.05, 0.95]
    assert loso.interval(draws[0]) == (0.05, 0.95)
    assert loso.coverage(draws, [0.5, 0.05, 0.95, 0.99]) == 0.75
    assert loso.mae([0.5, 0.2, 0.9], [0.4, 0.4, 0.9]) == pytest.approx(0.1)
    assert math.isnan(loso.mae([], []))


def test_lpd_is_the_binomial_pmf_averaged_over_draws():
    assert loso.binomial_lpd(np.full(10, 0.3), 12, 40) == pytest.approx(stats.binom.logpmf(12, 40, 0.3))
    mix = loso.binomial_lpd(np.array([0.2, 0.6]), 10, 30)
    assert mix == pytest.approx(np.log(0.5 * stats.binom.pmf(10, 30, 0.2) + 0.5 * stats.binom.pmf(10, 30, 0.6)))
    assert loso.binomial_lpd(np.array([1.0]), 30, 30) == pytest.approx(0.0)
    assert loso.binomial_lpd(np.array([1.0]), 29, 30) == -np.inf


def test_score_point_prediction_has_binomial_spread():
    r = loso.score(np.array([0.5]), 100, 0.5, np.random.default_rng(0))
    assert r["pred_mean"] == pytest.approx(0.5, abs=0.01) and r["covered90"]
    assert 0.38 < r["lo90"] < 0.45 and 0.55 < r["hi90"] < 0.62
    assert r["lpd"] == pytest.approx(stats.binom.logpmf(50, 100, 0.5))


def test_average_baseline_leaves_the_study_out():
    assert loso.average_baseline(EVIDENCE, "a", 12) == pytest.approx((0.7 + 0.8) / 2)
    assert loso.average_baseline(EVIDENCE, "b", 12) == pytest.approx((0.9 + 0.8) / 2)
    # no other study at 36 months: constant hazard from the other landmarks
    h = np.mean([-np.log(0.7) / 12, -np.log(0.8) / 12])
    assert loso.average_baseline(EVIDENCE, "a", 36) == pytest.approx(np.exp(-36 * h))


def test_summarise_counts_and_rates():
    per = pd.DataFrame({"study": ["a", "a", "b"], "method": "model", "covered90": [True, False, True],
                        "lo90": [0.1, 0.2, 0.3], "hi90": [0.5, 0.4, 0.9], "abs_err": [0.1, 0.2, 0.3],
                        "lpd": [-1.0, -2.0, -3.0], "gate_passed": [True, True, False]})
    s = loso.summarise(per, ["method"]).iloc[0]
    assert (s["landmarks"], s["studies"], s["landmarks_unconverged_fit"]) == (3, 2, 1)
    assert s["coverage90"] == pytest.approx(2 / 3) and s["mae"] == pytest.approx(0.2)
    assert s["width90"] == pytest.approx(0.4) and s["lpd_sum"] == -6.0


def test_medians_with_n_become_half_survival_landmarks():
    t = pd.concat([EVIDENCE, table([{"study": "m", "arm": "TACE", "treatment": "TACE", "n": 60, "measure": "median",
                                     "estimate": 20.0}])], ignore_index=True)
    assert "m" not in loso.folds(loso.validation_targets(t))
    targets = loso.validation_targets(t, include_medians=True)
    m = targets[targets["study"] == "m"].iloc[0]
    assert (m["kind"], m["time"], m["observed"], m["k_obs"]) == ("median", 20.0, 0.5, 30)


def test_pooled_results_are_not_targets_and_leave_with_their_constituents():
    t = pd.concat([EVIDENCE, table([{"study": "meta", "arm": "RFA", "treatment": "RFA", "n": 400,
                                     "time_months": 60, "estimate": 0.5, "design": "meta_analysis"}])],
                  ignore_index=True)
    t["design"] = t["design"].fillna("retrospective")
    assert "meta" not in loso.folds(loso.validation_targets(t))

    class FakeEvidence:
        def included_studies(self):
            return {"meta": ("a", "b"), "other": ("c",)}

    assert loso.fold_studies(FakeEvidence(), "a") == {"a", "meta"}
    assert loso.fold_studies(FakeEvidence(), "z") == {"z"}


def test_each_number_is_scored_once_in_its_default_reading():
    t = EVIDENCE.assign(default_use="yes")
    alt = table([{"study": "b", "arm": "TACE-alt", "treatment": "TACE", "n": 50, "time_months": 12, "estimate": 0.6,
                  "size_max_cm": 7, "default_use": "no"}])  # the same patients under another reading
    t = pd.concat([t, alt], ignore_index=True)
    default = loso.validation_targets(t)
    assert "TACE-alt" not in set(default["arm"]) and len(default) == 3
    every = loso.validation_targets(t, readings="all")
    assert "TACE-alt" in set(every["arm"]) and len(every) == 4
    assert every.loc[every["arm"] == "TACE-alt", "size_band"].item() == "gt5"
    with pytest.raises(ValueError, match="readings"):
        loso.validation_targets(t, readings="some")
