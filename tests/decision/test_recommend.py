"""decision.decide_profile / decide_cohort_table on the session fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.decision.honesty import NOT_AN_OPTION, shared_prior_groups
from rhcc_bayes.decision.recommend import decide_cohort_table, decide_profile
from rhcc_bayes.decision.result import CSV_COLUMNS
from rhcc_bayes.survival.support import evidence_support
from rhcc_bayes.decision.utility import load_utility
from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.decision.profile import PatientProfile, load_cohort, load_profile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small(small_fit, examples_dir):
    _, result = small_fit
    prof = load_profile(examples_dir / "profiles" / "small_solitary_late.toml")
    return result, prof, decide_profile(result.idata, prof, design=result.design)


def test_structure_and_intervals(small):
    result, prof, res = small
    t = res.table
    allowed = set(res.eligibility.allowed())
    assert set(t["treatment"]) == allowed
    assert set(res.survival["treatment"].values) == allowed
    assert res.survival["survival"].dims == ("chain", "draw", "treatment", "time")
    for v in ("rmst", "s12", "s36", "s60"):
        assert (t[f"{v}_lo"] <= t[f"{v}_mean"]).all() and (t[f"{v}_mean"] <= t[f"{v}_hi"]).all()
    assert (t["median_lo"] <= t["median_med"]).all()
    assert ((t["rmst_hi"] <= 60) & (t["rmst_lo"] > 0)).all()
    r = res.ranked
    assert np.isclose(r["p_best"].sum(), 1.0)
    assert (r["expected_loss"] >= 0).all() and r["sucra"].between(0, 1).all()
    # ranked options first, sorted by expected RMST; best has the smallest expected loss
    assert r["rmst_mean"].is_monotonic_decreasing and list(r.index) == list(range(len(r)))
    assert r["expected_loss"].idxmin() == 0 and res.best == t["treatment"].iloc[0]
    ev = res.evpi
    assert ev["mean"] >= 0 and ev["lo"] <= ev["mean"] <= ev["hi"]
    assert np.isclose(ev["mean"], t["evpi"].iloc[0], atol=1e-6)


def test_excluded_listed_with_reasons(small):
    _, _, res = small
    ex = res.excluded
    assert "SALVAGE-LT" in set(ex["treatment"])  # not a transplant candidate
    assert (ex["reasons"].str.len() > 0).all()
    assert not set(ex["treatment"]) & set(res.table["treatment"])
    assert set(res.honesty["treatment"]) == set(res.eligibility.to_frame()["treatment"])


def test_honesty_flags(small_fit):
    from rhcc_bayes.survival.support import arm_support

    _, result = small_fit
    support = evidence_support(result.design)
    arms = arm_support(result.design)
    by_trt = dict(list(arms.groupby("treatment")))
    # treatments whose every arm states an upper size limit; a tumour above all of them is outside
    limits = {t: float(g["size_max_cm"].max()) for t, g in by_trt.items() if g["size_max_cm"].notna().all()}
    open_arm = [t for t, g in by_trt.items() if g["size_max_cm"].isna().any()]
    assert limits and open_arm, "the bundled evidence has size-limited and all-comer treatments"
    size = max(limits.values()) + 0.5
    prof = PatientProfile(id="big", tumour_size_cm=size, nodules=1, months_since_treatment=20)
    res = decide_profile(result.idata, prof, design=result.design)
    h = res.honesty.set_index("treatment")
    # a treatment with no arm in the likelihood is class-prior only
    no_arm = [t for t in h.index if t not in support.index]
    assert no_arm and h.loc[no_arm, "class_prior_only"].all()
    assert (h.loc[no_arm, "arms"] == 0).all()
    for t in limits:
        assert h.loc[t, "extrapolation"] and f"tumour {size:g} cm is outside every arm's limits" in h.loc[t, "flags"]
        assert h.loc[t, "arms"] >= 1
    for t in open_arm:  # an all-comer arm (no stated limit) includes the patient
        assert f"tumour {size:g} cm" not in h.loc[t, "flags"]


def test_posterior_file_carries_the_evidence_support(small_fit):
    """Without the design, flags come from the support stored in the posterior's attrs."""
    _, result = small_fit
    prof = PatientProfile(id="big", tumour_size_cm=6.5, nodules=1, months_since_treatment=20)
    from_file = decide_profile(result.idata, prof).honesty.set_index("treatment")
    from_design = decide_profile(result.idata, prof, design=result.design).honesty.set_index("treatment")
    assert not from_file["flags"].str.contains("unavailable").any()
    pd.testing.assert_frame_equal(from_file, from_design)


def test_no_support_anywhere_is_flagged(small_fit):
    _, result = small_fit
    idata = result.idata.copy()
    del idata.attrs["evidence_support_json"]
    res = decide_profile(idata, PatientProfile(id="x"))
    assert res.honesty["flags"].str.contains("unavailable").all()


def test_gate_warning_carried(small_fit):
    _, result = small_fit
    res = decide_profile(result.idata, PatientProfile(id="x"), design=result.design)
    if result.gate.passed:
        assert res.gate_warning == ""
    else:
        assert res.gate_warning.startswith("WARNING") and res.gate_warning in res.to_text()


def test_new_population_is_wider(small_fit, small):
    _, result = small_fit
    _, prof, avg = small
    new = decide_profile(result.idata, prof, population="new", design=result.design)
    w = lambda t: (t.set_index("treatment")["rmst_hi"] - t.set_index("treatment")["rmst_lo"]).sort_index()  # noqa: E731
    assert (w(new.table) > w(avg.table)).mean() > 0.8


def test_json_roundtrip(small):
    _, _, res = small
    d = json.loads(json.dumps(res.to_dict()))
    assert d["best"] == res.best and len(d["decision"]) == len(res.table)
    assert d["provenance"]["spec_name"] == "small_default"


def test_utility(small_fit, small, examples_dir, tmp_path):
    _, result = small_fit
    _, prof, plain = small
    util = load_utility(examples_dir / "utility.toml")
    if "complication_probability" not in result.idata.posterior:
        util = type(util)(type(util.weights)(0.0, util.weights.hospital_day_months), util.hospital_days, util.source)
    res = decide_profile(result.idata, prof, utility=util, design=result.design)
    assert res.criterion == "QA-RMST"
    t = res.table.set_index("treatment")
    p = plain.table.set_index("treatment")
    assert (t["utility_mean"] <= p.loc[t.index, "rmst_mean"] + 1e-9).all()
    bad = tmp_path / "u.toml"
    bad.write_text("[utility]\ncomplication_monhts = 1\n")
    with pytest.raises(ValidationError, match="complication_monhts"):
        load_utility(bad)
    bad.write_text("[utility]\nhospital_day_months = 0.1\n[hospital_days]\nTACE = 2\n")
    with pytest.raises(UserError, match="no value for candidate"):
        decide_profile(result.idata, prof, utility=bad, design=result.design)


def test_cohort_table(small_fit, examples_dir):
    _, result = small_fit
    cohort = load_cohort(examples_dir / "cohort.csv")
    df = decide_cohort_table(result.idata, cohort, design=result.design)
    n_t = result.idata.posterior["mu"].sizes["treatment"]
    assert len(df) == len(cohort) * n_t
    for col in ("profile", "treatment", "status", "rmst_mean", "rmst_lo", "rmst_hi", "p_best", "evpi",
                "class_prior_only", "extrapolation", "flags", "arms", "patients"):
        assert col in df
    sums = df[df["candidate"]].groupby("profile")["p_best"].sum()
    assert np.allclose(sums, 1.0)
    assert df.loc[df["status"] == "excluded", "p_best"].isna().all()
    # the cohort path agrees with the single-profile path
    p1 = cohort[0]
    single = decide_profile(result.idata, p1, design=result.design).table.set_index("treatment")
    batch = df[(df["profile"] == p1.id) & df["candidate"]].set_index("treatment")
    assert np.allclose(batch.loc[single.index, "rmst_mean"], single["rmst_mean"])
    assert np.allclose(batch.loc[single.index, "p_best"], single["p_best"], equal_nan=True)
    assert np.allclose(batch.loc[single.index, "modality_p_best"], single["modality_p_best"], equal_nan=True)
    assert list(df.columns) == list(CSV_COLUMNS)


def test_horizons_beyond_the_evidence_are_flagged_with_the_family_assumption(small_fit, small):
    _, result = small_fit
    _, prof, res = small
    last = float(result.idata.attrs["last_observed_months"])
    assert last == 60.0  # the bundled evidence's latest landmark
    assert res.extrapolation == "" and "Beyond the evidence" not in res.to_text()
    long = decide_profile(result.idata, prof, horizon=120, design=result.design)
    assert "RMST to 120 months" in long.extrapolation and "60 months" in long.extrapolation
    assert "hazard stays constant" in long.extrapolation  # what the piecewise family assumes there
    assert "Beyond the evidence" in long.to_text()
    assert json.loads(json.dumps(long.to_dict()))["extrapolation_beyond_evidence"] == long.extrapolation


def test_pooled_mixtures_are_reported_never_ranked(small):
    _, _, res = small
    t = res.table.set_index("treatment")
    assert {"MIXED-LRT", "ABLATION"} <= set(t.index)  # eligible or conditional for this profile
    for code in ("MIXED-LRT", "ABLATION"):
        assert t.loc[code, "status"] == NOT_AN_OPTION
        assert np.isfinite(t.loc[code, "rmst_mean"])  # reported ...
        assert t.loc[code, ["p_best", "expected_loss", "sucra", "modality_p_best"]].isna().all()  # ... never ranked
    assert "MIXED-LRT" not in set(res.ranked["treatment"]) and res.best not in ("MIXED-LRT", "ABLATION")
    assert "Reported, not an option" in res.to_text()
    d = res.to_dict()
    assert set(d["not_an_option"]) == {"MIXED-LRT", "ABLATION"}
    csv = res.to_csv_frame()
    assert list(csv.columns) == list(CSV_COLUMNS)
    assert not csv.loc[csv["treatment"] == "MIXED-LRT", "ranked"].any()
    assert (csv.loc[csv["status"] == "excluded", "flags"].str.startswith("excluded: ")).all()


def test_modality_level_decision(small):
    _, _, res = small
    mt = res.modality_table
    assert np.isclose(mt["p_best"].sum(), 1.0) and mt["p_best"].is_monotonic_decreasing
    assert (mt["expected_loss"] >= 0).all()
    ranked = res.ranked.set_index("treatment")
    for r in mt.itertuples():
        members = [m.strip() for m in r.options.split(",")]
        assert set(ranked.loc[members, "modality"]) == {r.modality}
        # a class is at least as likely to hold the best option as any of its members
        assert r.p_best >= ranked.loc[members, "p_best"].max() - 1e-9
        assert np.allclose(ranked.loc[members, "modality_p_best"], r.p_best)
    text = res.to_text()
    assert "By modality" in text and "P(best class)" in text
    assert res.to_dict()["modality_decision"][0]["modality"] == mt["modality"].iloc[0]


def test_prior_only_siblings_are_called_indistinguishable(small):
    _, _, res = small
    groups = dict(shared_prior_groups(res.honesty))
    h = res.honesty.set_index("treatment")
    for mod, names in groups.items():
        assert len(names) >= 2 and h.loc[names, "class_prior_only"].all()
        assert set(h.loc[names, "modality"]) == {mod}
        assert not set(names) & {"MIXED-LRT", "ABLATION"}  # mixtures are not options
    if groups:
        assert "cannot tell them apart" in res.to_text()
        assert res.to_dict()["indistinguishable"]
