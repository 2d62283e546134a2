"""The fit workflow on the bundled evidence: gate, cache, PPC coverage, predictions."""

import csv

import numpy as np
import pytest

from rhcc_bayes.inference.cache import cache_key
from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.core.paths import data_dir
from rhcc_bayes.survival.predict import linear_predictor, predict_new_arm, profile_log_hazard
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival.metadata import cuts_from
from rhcc_bayes.synthesis import fit_synthesis


@pytest.fixture(scope="module")
def fitted(small_fit, small_spec_path, fit_cache_dir):
    """The session fit of the default model (conftest), and the same fit asked for again."""
    evidence, first = small_fit
    second = fit_synthesis(evidence, load_spec(small_spec_path), cache_dir=fit_cache_dir)
    return evidence, first, second


@pytest.mark.slow
def test_bundled_fit_passes_the_gate_and_is_cached(fitted):
    _, first, second = fitted
    assert first.converged and first.gate.divergences == 0
    assert second.cache_hit
    assert first.cache_path.exists() and first.cache_path == second.cache_path
    np.testing.assert_array_equal(first.idata.posterior["mu"].values, second.idata.posterior["mu"].values)
    assert int(second.idata.attrs["gate_passed"]) == 1
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood", "posterior_predictive", "constant_data"):
        assert group in second.idata.groups()
    np.testing.assert_array_equal(cuts_from(second.idata), [0, 12, 36, 60, np.inf])


@pytest.mark.slow
def test_ppc_covers_the_bundled_observations(fitted):
    evidence, first, _ = fitted
    table = ppc_table(first.idata, evidence.table)
    assert len(table) == len(first.design.landmarks) + len(first.design.medians)
    assert set(table["study"]) >= {"ref_37", "peng_106"}
    assert ppc_coverage(table) >= 0.8
    assert ((table["ppp"] >= 0) & (table["ppp"] <= 1)).all()


@pytest.mark.slow
def test_larger_tumour_never_raises_ablation_survival(fitted):
    _, first, _ = fitted
    idata = first.idata
    theta = {band: linear_predictor(idata, {"size_band": band}).sel(treatment="RFA").values
             for band in ("le3", "3to5", "gt5")}
    # log hazard rises with size in EVERY draw (monotone by construction)
    assert np.all(theta["le3"] <= theta["3to5"]) and np.all(theta["3to5"] <= theta["gt5"])
    # ablation loses more with size than transarterial therapy (the ablation x size interaction)
    tace = {band: linear_predictor(idata, {"size_band": band}).sel(treatment="TACE").values for band in ("le3", "gt5")}
    assert np.all(theta["gt5"] - theta["le3"] >= tace["gt5"] - tace["le3"])


@pytest.mark.slow
def test_new_population_is_wider_than_average(fitted):
    _, first, _ = fitted
    avg, _ = profile_log_hazard(first.idata, {}, population="average")
    new, cuts = profile_log_hazard(first.idata, {}, population="new", seed=3)
    assert avg.dims == ("chain", "draw", "treatment", "segment") and len(cuts) == avg.sizes["segment"] + 1
    assert float(new.sel(treatment="TACE").std()) > float(avg.sel(treatment="TACE").std())


@pytest.mark.slow
def test_new_arm_prediction_covers_a_reported_cohort(fitted):
    """The [37] transplant arm (41 patients) vs the predictive band of a new SALVAGE-LT arm."""
    _, first, _ = fitted
    pred = predict_new_arm(first.idata, "SALVAGE-LT", {}, 41, [12, 36, 60], seed=1)
    lo, hi = pred.quantile([0.025, 0.975], dim=("chain", "draw")).values
    observed = np.array([0.902, 0.804, 0.804])
    assert np.all((observed >= lo) & (observed <= hi))
    assert np.all(np.diff(pred.values, axis=-1) <= 0)  # reported survival never rises


def test_changing_one_evidence_row_changes_the_cache_key(tmp_path):
    src = data_dir() / "evidence.csv"
    rows = list(csv.DictReader(open(src, newline="", encoding="utf-8")))
    target = next(r for r in rows if r["study"] == "ref_37" and r["measure"] == "survival")
    target["estimate"] = str(float(target["estimate"]) - 0.01)
    edited = tmp_path / "evidence.csv"
    with open(edited, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    spec = load_spec("default")
    original = load_evidence()
    changed = load_evidence([edited], include_bundled=False)
    assert original.hash != changed.hash
    assert cache_key(original.hash, spec.hash, 1) != cache_key(changed.hash, spec.hash, 1)
    assert cache_key(original.hash, spec.hash, 1) == cache_key(load_evidence().hash, spec.hash, 1)
