"""Direct vs indirect contrasts in the survival synthesis (survival.contrast_check).

The direct estimators are checked against their formulas on hand-made designs, the
leave-study-out importance weights against a conjugate normal model whose prior is known
exactly, and the whole check (table, ppc output, report blocks) on the shared small fit.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from rhcc_bayes.survival.contrast_check import (
    CONTRAST_COLUMNS,
    _landmark_direct,
    _leave_out_weights,
    _median_direct,
    contrast_check,
    contrast_check_text,
    direct_contrasts,
)


def landmarks(*rows):
    return pd.DataFrame(rows, columns=["arm_index", "t_prev", "t", "at_risk", "deaths"])


def medians(*rows):
    return pd.DataFrame(rows, columns=["arm_index", "time", "at_risk", "se_log"])


def cll(q):
    return np.log(-np.log(1 - q))


def test_landmark_direct_pools_the_interval_cloglog_contrasts():
    design = SimpleNamespace(landmarks=landmarks(
        (0, 0, 12, 100, 20), (0, 12, 36, 80, 30), (1, 0, 12, 120, 12), (1, 12, 36, 100, 25),
        (1, 36, 60, 70, 10),  # no partner interval in arm 0: unused
    ))
    est, var = [], []
    for (ra, da), (rb, db) in (((100, 20), (120, 12)), ((80, 30), (100, 25))):
        qa, qb = da / ra, db / rb
        est.append(cll(qa) - cll(qb))
        var.append(qa / (ra * (1 - qa) * np.log(1 - qa) ** 2) + qb / (rb * (1 - qb) * np.log(1 - qb) ** 2))
    w = 1 / np.array(var)
    got = _landmark_direct(design, 0, 1)
    assert got == pytest.approx((w @ est / w.sum(), w.sum() ** -0.5), rel=1e-12)
    assert _landmark_direct(design, 1, 0)[0] == pytest.approx(-got[0])
    # an interval without deaths has no finite log hazard: skipped; nothing left -> None
    assert _landmark_direct(SimpleNamespace(landmarks=landmarks((0, 0, 12, 50, 0), (1, 0, 12, 50, 5))), 0, 1) is None


def test_median_direct_is_the_exponential_approximation():
    design = SimpleNamespace(medians=medians((0, 20.0, 80, np.nan), (1, 40.0, 60, 0.2)))
    est, se = _median_direct(design, 0, 1)
    assert est == pytest.approx(np.log(40 / 20))  # shorter median in arm 0: higher hazard
    assert se == pytest.approx(np.sqrt(2 / 80 + 0.2**2))
    assert _median_direct(SimpleNamespace(medians=medians((0, 20.0, np.nan, np.nan), (1, 40.0, 60, 0.2))), 0, 1) is None


def test_direct_contrasts_lists_reported_hrs_and_within_study_pairs():
    arms = pd.DataFrame({"study": ["s1", "s1", "s2", "s2", "s3"], "arm": list("ABCDE"),
                         "treatment": ["x", "y", "x", "x", "y"]})
    design = SimpleNamespace(
        arms=arms, study_arms=arms,
        hazard_ratios=pd.DataFrame({"arm_index": [0], "comparator_index": [1], "log_hr": [-0.3], "se": [0.1],
                                    "pooled": [False]}),
        landmarks=landmarks(), medians=medians())
    table = direct_contrasts(design)
    # s1's pair is the reported HR (once); s2 compares x with x: no contrast; s3 has one arm
    assert table[["study", "arm_index", "comparator_index", "direct_from", "estimate", "se"]].values.tolist() == [
        ["s1", 0, 1, "hazard ratio", -0.3, 0.1]]


def test_leave_out_weights_recover_the_prior_of_a_conjugate_model():
    """Prior N(0, 1), one observation y = 1 with sd 1: posterior N(0.5, 0.5). Leaving the
    observation out by importance sampling must give back the prior."""
    rng = np.random.default_rng(3)
    theta = rng.normal(0.5, np.sqrt(0.5), 20_000)
    w, k = _leave_out_weights(norm.logpdf(1.0, theta, 1.0))
    mean = w @ theta
    sd = np.sqrt(w @ (theta - mean) ** 2)
    assert k < 0.7
    assert mean == pytest.approx(0.0, abs=0.05)
    assert sd == pytest.approx(1.0, rel=0.08)
    uniform, k0 = _leave_out_weights(np.zeros(10))  # a study with no observation: nothing to remove
    assert np.allclose(uniform, 0.1) and k0 == 0.0


# -- on the shared small fit -----------------------------------------------------------------

@pytest.fixture(scope="module")
def checked(small_fit):
    _, result = small_fit
    return result, contrast_check(result.idata, result.design, seed=0)


def test_contrast_table_on_the_bundled_evidence(checked):
    result, table = checked
    assert list(table.columns) == CONTRAST_COLUMNS and len(table) >= 1
    hr = result.design.hazard_ratios
    arms = result.design.arms
    for r in hr.itertuples():  # reported hazard ratios are their own direct estimate
        row = table[(table["arm"] == arms.iloc[r.arm_index]["arm"])
                    & (table["comparator"] == arms.iloc[r.comparator_index]["arm"])].iloc[0]
        assert (row["direct_mean"], row["direct_sd"]) == pytest.approx((r.log_hr, r.se))
    ok = np.isfinite(table["p_value"])
    assert table.loc[ok, "p_value"].between(0, 1).all()
    assert (table.loc[ok, "diff_mean"] - (table.loc[ok, "direct_mean"] - table.loc[ok, "indirect_mean"])).abs().max() < 0.05
    assert not table.loc[~ok, "reliable"].any()  # no direct estimate: never "reliable"
    assert (table["indirect_2.5%"] < table["indirect_97.5%"]).all()
    again = contrast_check(result.idata, result.design, seed=0)
    pd.testing.assert_frame_equal(table, again)  # same seed, same numbers
    text = contrast_check_text(table)
    assert text.startswith("Direct vs indirect contrasts") and "p = 2 min(P(diff>0), P(diff<0))" in text


def test_the_left_out_log_likelihood_is_every_observation_of_the_study(checked):
    """The importance weights remove exactly the study's observations (all blocks), nothing else."""
    from rhcc_bayes.survival.contrast_check import _study_log_lik

    result, table = checked
    design, ll = result.design, result.idata.log_likelihood
    for study in table.loc[np.isfinite(table["direct_mean"]), "study"].unique():
        keys = set(design.used.loc[design.used["study"] == study, "row_key"])
        expected, found = 0.0, set()
        for var in ll.data_vars:
            da = ll[var]
            for label in map(str, da[da.dims[-1]].values):
                if label in keys:
                    expected = expected + da.sel({da.dims[-1]: label}).values.reshape(-1)
                    found.add(label)
        assert found, study  # a comparative study with a direct estimate has observations
        np.testing.assert_allclose(_study_log_lik(result.idata, design, study), expected, rtol=1e-12)


def test_ppc_command_shows_the_contrasts(fit_args, capsys):
    from rhcc_bayes.cli.main import main

    assert main(["ppc", *fit_args]) == 0
    out = capsys.readouterr().out
    assert "predictive interval" in out and "Direct vs indirect contrasts" in out
    assert main(["ppc", *fit_args, "--format", "json", "--contrasts"]) == 0
    records = json.loads(capsys.readouterr().out)
    # every csv/json record carries the gate verdict (empty for a fit that passed)
    assert records and set(records[0]) == set(CONTRAST_COLUMNS) | {"gate_warning"}
    assert {r["gate_warning"] for r in records} == {""}


def test_report_blocks(checked):
    from rhcc_bayes.report.sections import _contrast_blocks
    from rhcc_bayes.report.writers import Paragraph, Table

    result, table = checked
    blocks = _contrast_blocks(SimpleNamespace(idata=result.idata, design=result.design, seed=0))
    assert [type(b) for b in blocks] == [Paragraph, Table]
    assert len(blocks[1].frame) == len(table)
    assert blocks[0].text.startswith("Direct vs indirect evidence:")


def test_implied_contrast_of_two_study_arms():
    """mu_a - mu_b, plus fresh arm effects N(0, 2 sigma_arm^2) when the spec has arm heterogeneity."""
    import arviz as az

    from rhcc_bayes.survival.contrast_check import _implied_contrast

    rng = np.random.default_rng(5)
    mu = rng.normal([0.2, -0.3], 0.1, size=(2, 50_000, 2))
    arms = pd.DataFrame({"treatment": ["x", "y"], "size_band": "nr", "nodularity": "nr", "recurrence": "nr",
                         "prior": "nr"})
    design = SimpleNamespace(arms=arms, population_index=np.zeros(2, int), study_effect_mask=np.ones(2))
    post = {"mu": mu}
    idata = az.from_dict(posterior=post, constant_data={"is_ablation": np.zeros(2)},
                         dims={"mu": ["treatment"], "is_ablation": ["treatment"]}, coords={"treatment": ["x", "y"]})
    plain = _implied_contrast(idata, design, 0, 1, np.random.default_rng(0))
    np.testing.assert_allclose(plain, (mu[..., 0] - mu[..., 1]).reshape(-1))
    idata = az.from_dict(posterior={**post, "sigma_arm": np.full((2, 50_000), 0.3)},
                         constant_data={"is_ablation": np.zeros(2)},
                         dims={"mu": ["treatment"], "is_ablation": ["treatment"]}, coords={"treatment": ["x", "y"]})
    noisy = _implied_contrast(idata, design, 0, 1, np.random.default_rng(0))
    assert noisy.mean() == pytest.approx(0.5, abs=0.01)
    assert noisy.var() == pytest.approx(2 * 0.1**2 + 2 * 0.3**2, rel=0.03)
