"""The fit workflow on the bundled evidence: the Synthesis entry object, gate, cache, PPC
coverage, predictions; real ArviZ objects on fresh fits and cache hits."""

import csv
import re
import shutil
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.core.paths import data_dir
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table
from rhcc_bayes.survival.metadata import cuts_from
from rhcc_bayes.survival.predict import (
    linear_predictor,
    predict_new_arm,
    profile_log_hazard,
)
from rhcc_bayes.synthesis import Synthesis, SynthesisPosterior, fit_synthesis

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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
    observed = first.idata.observed_data
    assert len(table) == sum(observed[v].size for v in observed.data_vars)  # one row per observed summary
    assert {"landmark_deaths", "median_alive"} <= set(table["variable"])  # known-n survival summaries are observed
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
    assert Synthesis(spec, original).cache_key(1) != Synthesis(spec, changed).cache_key(1)
    assert Synthesis(spec, original).cache_key(1) == Synthesis(spec, load_evidence()).cache_key(1)


def test_cache_key_comes_from_content_not_file_names(tmp_path, small_spec_path):
    moved = tmp_path / "elsewhere" / "renamed.toml"
    moved.parent.mkdir()
    shutil.copy(small_spec_path, moved)
    evidence = load_evidence()
    assert Synthesis(moved, evidence).cache_key() == Synthesis(small_spec_path, evidence).cache_key()
    edited = tmp_path / "edited.toml"
    text = small_spec_path.read_text()
    assert re.search(r"^draws = \d+$", text, flags=re.M)  # the edit below must change something
    edited.write_text(re.sub(r"^draws = (\d+)$", lambda m: f"draws = {int(m.group(1)) - 1}", text, flags=re.M))
    assert Synthesis(edited, evidence).cache_key() != Synthesis(small_spec_path, evidence).cache_key()
    assert Synthesis(small_spec_path, evidence).cache_key(seed=2) != Synthesis(small_spec_path, evidence).cache_key()


@pytest.mark.slow
def test_model_version_bump_invalidates_the_cache(fitted, small_spec_path, tmp_path, monkeypatch):
    """A declared MODEL_VERSION change never reuses a posterior; an unchanged one hits."""
    from rhcc_bayes.survival import version

    evidence, first, _ = fitted
    shutil.copy(first.cache_path, tmp_path / first.cache_path.name)
    synthesis = Synthesis(small_spec_path, evidence)
    calls = []

    def fake_sample(self, seed, key, progressbar):  # stands in for compile + sampling
        calls.append(key)
        idata = first.idata.copy()
        idata.attrs["cache_key"] = key
        return idata

    monkeypatch.setattr(Synthesis, "_sample", fake_sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hit = synthesis.fit(cache_dir=tmp_path, allow_unconverged=True)
        assert hit.cache_hit and not calls
        monkeypatch.setattr(version, "MODEL_VERSION", version.MODEL_VERSION + "-bumped")
        bumped = synthesis.fit(cache_dir=tmp_path, allow_unconverged=True)
    assert not bumped.cache_hit and len(calls) == 1
    assert bumped.cache_path != hit.cache_path and bumped.cache_path.exists()
    monkeypatch.undo()
    assert Synthesis(small_spec_path, evidence).fit(cache_dir=tmp_path, allow_unconverged=True).cache_hit


def _check_arviz(post):
    idata = post.idata
    assert isinstance(post, SynthesisPosterior) and isinstance(idata, az.InferenceData)
    assert "log_likelihood" in idata.groups()
    summary = az.summary(idata, var_names=["mu"])
    assert len(summary) == idata.posterior.sizes["treatment"] and summary["r_hat"].notna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_block = az.loo(idata, var_name="landmark_deaths")
    assert np.isfinite(one_block.elpd_loo)
    assert np.isfinite(post.loo().elpd_loo)  # every observed summary, one joint log-likelihood
    axes = az.plot_trace(idata, var_names=["sigma_study"])
    assert axes.shape[0] == 1
    assert az.plot_forest(idata, var_names=["mu"]) is not None
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.slow
def test_arviz_works_on_the_session_fit_and_on_its_cache_hit(fitted):
    _, first, second = fitted
    assert second.cache_hit
    for post in (first, second):
        _check_arviz(post)
    pd_first = az.summary(first.idata, var_names=["mu"])
    pd_second = az.summary(second.idata, var_names=["mu"])
    assert pd_first.equals(pd_second)


@pytest.mark.slow
def test_fresh_fit_then_cache_hit_give_the_same_real_inference_data(small_spec_path, tmp_path):
    tiny = {"backend": "nutpie", "chains": 2, "draws": 150, "tune": 150}
    synthesis = Synthesis(small_spec_path, settings=tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = synthesis.fit(cache_dir=tmp_path, allow_unconverged=True, progressbar=False)
        hit = Synthesis(small_spec_path, settings=tiny).fit(cache_dir=tmp_path, allow_unconverged=True)
    assert not fresh.cache_hit and hit.cache_hit and fresh.cache_path == hit.cache_path
    for post in (fresh, hit):
        _check_arviz(post)
    np.testing.assert_array_equal(fresh.idata.posterior["mu"].values, hit.idata.posterior["mu"].values)
    assert hit.idata.attrs["model_version"] == synthesis.model_version


@pytest.mark.slow
def test_posterior_predict_and_decide(fitted):
    from rhcc_bayes.decision.profile import PatientProfile
    from rhcc_bayes.decision.recommend import decide_profile

    _, _, post = fitted
    s = post.predict({"size_band": "le3"}, times=[0, 12, 36, 60])
    assert s.dims == ("chain", "draw", "treatment", "time")
    assert np.allclose(s.sel(time=0.0), 1.0) and np.all(s.diff("time") <= 1e-12)
    prof = PatientProfile(id="p", tumour_size_cm=2.0, nodules=1, months_since_treatment=30)
    assert np.allclose(post.predict(prof, times=[12]).values, post.predict(prof.model_covariates(), times=[12]).values)
    res = post.decide(prof)
    direct = decide_profile(post.idata, prof, design=post.design)
    assert res.table.equals(direct.table)
    with pytest.raises(TypeError):
        post.predict(42)


@pytest.mark.slow
def test_network_meta_analysis_goes_through_the_same_entry(tmp_path):
    evidence = EXAMPLES / "reference" / "bcg.csv"
    fresh = Synthesis("nma_bcg_fixed_tau", evidence).fit(cache_dir=tmp_path, progressbar=False)
    hit = Synthesis("nma_bcg_fixed_tau", [evidence]).fit(cache_dir=tmp_path)
    assert fresh.family == "nma" and not fresh.cache_hit and hit.cache_hit
    for post in (fresh, hit):
        assert isinstance(post.idata, az.InferenceData) and "log_likelihood" in post.idata.groups()
        assert len(az.summary(post.idata, var_names=["d_rel"])) == 1
        effect = post.nma_result.relative_effects.loc["bcg"]
        assert effect["mean"] == pytest.approx(-0.7145, abs=0.02)
    assert "DIC" in hit.summary_text()
    with pytest.raises(UserError, match="needs a survival spec"):
        hit.decide(None)
    with pytest.raises(UserError, match="give its evidence"):
        Synthesis("nma_bcg_fixed_tau")


@pytest.mark.slow
def test_cache_hit_decides_without_importing_arviz_and_idata_is_still_real(fitted, small_spec_path, fit_cache_dir):
    """The fast path of a cache hit stays behind the real type: .idata is an InferenceData built on demand."""
    import subprocess
    import sys

    code = f"""
import sys
from rhcc_bayes.synthesis import Synthesis
from rhcc_bayes.decision.profile import PatientProfile
post = Synthesis({str(small_spec_path)!r}).fit(cache_dir={str(fit_cache_dir)!r}, allow_unconverged=True)
assert post.cache_hit
res = post.decide(PatientProfile(id="p", tumour_size_cm=2.0, nodules=1))
post.predict(dict(size_band="le3"), times=[12, 60])
post.summary_text()
assert "arviz" not in sys.modules, "a cache-hit decision imported ArviZ"
import arviz as az
assert isinstance(post.idata, az.InferenceData) and post.draws is post.idata
assert post.decide(PatientProfile(id="p", tumour_size_cm=2.0, nodules=1)).table.equals(res.table)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
