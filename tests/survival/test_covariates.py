"""The covariate coding object: levels, labels, arm/profile coding, coverage and the honesty flags
built on it (with the example profiles of examples/profiles/)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rhcc_bayes.decision.profile import PatientProfile, load_profile
from rhcc_bayes.decision.honesty import treatment_flags as _flags
from rhcc_bayes.survival import covariates as cv
from rhcc_bayes.survival.covariates import (
    COVARIATES,
    arm_covariates,
    coverage_gaps,
    profile_covariates,
)
from rhcc_bayes.survival.support import ARM_SUPPORT_COLUMNS

NAN = math.nan


def arm(treatment="RFA", study="s", name=None, n=50, size_min=NAN, size_max=NAN, nodules_max=NAN,
        timing="", prior=""):
    return {"study": study, "arm": name or treatment, "treatment": treatment, "n": n, "size_min_cm": size_min,
            "size_max_cm": size_max, "nodules_max": nodules_max, "recurrence_timing": timing,
            "prior_treatment": prior}


@pytest.fixture(scope="module")
def profiles(examples_dir):
    return {p.stem: load_profile(p) for p in (examples_dir / "profiles").glob("*.toml")}


# --- one owner for levels and labels -------------------------------------------------------
def test_one_object_per_covariate_owns_levels_and_labels():
    from rhcc_bayes.survival.spec import COVARIATES as SPEC_LEVELS

    assert list(COVARIATES) == ["size_band", "nodularity", "recurrence", "prior", "stage"]
    for c in COVARIATES.values():
        assert c.reference == "nr" and c.all_levels[-1] == "nr"
        assert set(c.level_labels) == set(c.all_levels)
        assert SPEC_LEVELS[c.name] == c.all_levels
    assert cv.model_coords()["size_band_level"] == ["le3", "3to5", "gt5"]
    assert COVARIATES["size_band"].level_label("le3") == "<= 3 cm"


def test_arm_and_profile_coding_use_the_same_cut_offs():
    for size, band in [(2.0, "le3"), (3.0, "le3"), (3.01, "3to5"), (5.0, "3to5"), (5.01, "gt5")]:
        assert profile_covariates(PatientProfile(tumour_size_cm=size))["size_band"] == band
        assert arm_covariates({"size_max_cm": size})["size_band"] == band  # an arm limited to this size
    assert arm_covariates({"size_min_cm": 5.0})["size_band"] == "gt5"


def test_multinodular_inclusion_limit_is_a_mixed_cohort_not_a_multinodular_one():
    assert arm_covariates({"nodules_max": 1.0})["nodularity"] == "solitary"
    assert arm_covariates({"nodules_max": 3.0})["nodularity"] == "nr"
    assert profile_covariates(PatientProfile(nodules=3))["nodularity"] == "multinodular"


def test_unknown_and_uncoded_values_are_the_reference():
    assert set(profile_covariates(PatientProfile()).values()) == {"nr"}
    assert profile_covariates(PatientProfile(prior_treatment="ablation"))["prior"] == "nr"


def test_post_resection_is_the_reference_population_and_only_transplant_has_an_effect():
    """Recurrence after resection is the ordinary R-HCC population (the bundled cohorts that
    state no prior treatment are post-resection in practice): arms and patients after
    resection take the reference level; only transplant keeps its own level."""
    assert COVARIATES["prior"].levels == ("transplant",)
    for prior in ("resection", "", "mixed", "ablation"):
        assert arm_covariates({"prior_treatment": prior})["prior"] == "nr", prior
    assert arm_covariates({"prior_treatment": "transplant"})["prior"] == "transplant"
    assert profile_covariates(PatientProfile(prior_treatment="resection"))["prior"] == "nr"
    assert profile_covariates(PatientProfile(prior_treatment="transplant"))["prior"] == "transplant"


def test_prior_treatment_coverage_by_stated_limits_and_transplant_only_by_transplant_arms():
    prior = COVARIATES["prior"]
    after = {t: PatientProfile(prior_treatment=t) for t in ("resection", "transplant", "ablation")}
    assert prior.covers(arm(prior=""), after["resection"]) and prior.covers(arm(prior="mixed"), after["ablation"])
    assert not prior.covers(arm(prior=""), after["transplant"])        # unstated cohorts are post-resection
    assert not prior.covers(arm(prior="mixed"), after["transplant"])
    assert prior.covers(arm(prior="transplant"), after["transplant"])
    assert not prior.covers(arm(prior="transplant"), after["resection"])
    assert not prior.covers(arm(prior="resection"), after["ablation"])  # a stated limit stays a limit
    assert prior.covers(arm(prior="resection"), PatientProfile())       # unknown: covered by every arm
    assert prior.limit_text(arm(prior="")) == "no prior treatment stated (post-resection in practice)"
    assert set(arm_covariates({}).values()) == {"nr"}
    assert arm_covariates(pd.Series({"recurrence_timing": "", "size_max_cm": NAN}))["recurrence"] == "nr"


def test_stage_advanced_only_for_cohorts_restricted_to_bclc_c_and_for_pvtt_or_spread_profiles():
    assert arm_covariates({"bclc": "C"})["stage"] == "advanced"
    assert arm_covariates({"bclc": "C/D"})["stage"] == "advanced"
    assert arm_covariates({"bclc": "B/C"})["stage"] == "nr"  # mixed-stage cohort: not advanced-only
    assert arm_covariates({"bclc": "0/A"})["stage"] == "nr"
    assert arm_covariates({})["stage"] == "nr"
    assert profile_covariates(PatientProfile(portal_vein_thrombus=True))["stage"] == "advanced"
    assert profile_covariates(PatientProfile(extrahepatic_spread=True))["stage"] == "advanced"
    assert profile_covariates(PatientProfile(portal_vein_thrombus=False, extrahepatic_spread=False))["stage"] == "nr"
    assert profile_covariates(PatientProfile())["stage"] == "nr"


def test_stage_coverage_by_the_arm_bclc_limits():
    stage = COVARIATES["stage"]
    adv, early = PatientProfile(portal_vein_thrombus=True), PatientProfile(portal_vein_thrombus=False,
                                                                           extrahepatic_spread=False)
    assert stage.covers({"bclc": "C"}, adv) and not stage.covers({"bclc": "C"}, early)
    assert stage.covers({"bclc": "0/A"}, early) and not stage.covers({"bclc": "0/A"}, adv)
    assert stage.covers({}, adv) and stage.covers({}, early) and stage.covers({"bclc": "C"}, PatientProfile())
    assert stage.limit_text({"bclc": "C"}) == "BCLC C" and stage.limit_text({}) == "any stage"


# --- coverage ------------------------------------------------------------------------------
def test_all_comer_arm_covers_every_profile_but_recurrence_after_transplant(profiles):
    for name, p in profiles.items():
        assert (coverage_gaps(p, [arm()]) == []) is (p.prior_treatment != "transplant"), name
    assert coverage_gaps(profiles["post_transplant"], [arm(prior="transplant")]) == []


def test_coverage_by_inclusion_limits(profiles):
    large = profiles["large_solitary"]  # 6.5 cm
    gaps = coverage_gaps(large, [arm(size_max=3), arm(size_max=5)])
    assert gaps == ["tumour 6.5 cm is outside every arm's limits (<= 3 cm; <= 5 cm)"]
    assert coverage_gaps(large, [arm(size_max=3), arm(size_max=7)]) == []
    multi = profiles["multifocal_early_mvi"]  # 3 nodules, early, 3.8 cm
    assert coverage_gaps(multi, [arm(nodules_max=5, size_max=5)]) == []
    assert "3 nodules is outside" in coverage_gaps(multi, [arm(nodules_max=1)])[0]
    # each value covered by some arm, but no arm includes the combination
    gaps = coverage_gaps(multi, [arm(nodules_max=1), arm(timing="late")])
    assert len(gaps) == 1 and gaps[0].startswith("no single arm includes this combination")


# --- honesty flags with the example profiles ------------------------------------------------
def _support(arms: list[dict]):
    table = pd.DataFrame(arms, columns=ARM_SUPPORT_COLUMNS)
    support = table.groupby("treatment").agg(studies=("study", "nunique"), arms=("arm", "size"),
                                              patients=("n", "sum"))
    return support, table


# Bundled-evidence-like arms: most cohorts state no prior treatment, timing or nodule limit.
TYPICAL = [
    arm("SALVAGE-LT", "ref_37", n=41), arm("MIXED-LRT", "ref_37", n=170),
    arm("RFA", "ref_92", size_max=7), arm("TACE-RFA", "ref_92", size_max=7),
    arm("TACE", "yang"), arm("TACE", "liang", size_max=5, nodules_max=5),
    arm("REPEAT-RESECTION", "rr", n=38, prior="resection"),
    arm("RFA", "tx", prior="transplant", size_max=3),
]


@pytest.mark.parametrize("name", ["small_solitary_late", "multifocal_early_mvi", "large_solitary"])
def test_recurrence_after_resection_is_not_an_extrapolation(profiles, name):
    """Post-resection recurrence is the ordinary R-HCC case: cohorts that state no prior
    treatment include it, so no treatment is flagged for it."""
    support, table = _support(TYPICAL)
    profile = profiles[name]
    assert profile.prior_treatment == "resection"
    for trt in support.index:
        _, _, msgs = _flags(profile, trt, trt == "RFA", support, table)
        assert not any("resection" in m for m in msgs), (trt, msgs)


def test_small_solitary_late_has_no_flag_where_arms_exist(profiles):
    support, table = _support(TYPICAL)
    for trt in support.index:
        cp, ex, msgs = _flags(profiles["small_solitary_late"], trt, trt == "RFA", support, table)
        assert (cp, ex, msgs) == (False, False, [])


def test_large_tumour_is_flagged_only_where_every_arm_limits_size(profiles):
    support, table = _support(TYPICAL)
    p = profiles["large_solitary"]  # 6.5 cm
    flags = {t: _flags(p, t, t == "RFA", support, table) for t in support.index}
    assert flags["RFA"][1] is False            # RFA arm of ref_92 includes tumours up to 7 cm
    assert flags["TACE"][1] is False           # yang's all-comer TACE cohort includes it
    small_only = TYPICAL[:2] + [arm("RFA", "x", size_max=3), arm("RFA", "y", size_max=5)]
    support2, table2 = _support(small_only)
    cp, ex, msgs = _flags(p, "RFA", True, support2, table2)
    assert ex and not cp
    assert "tumour 6.5 cm is outside every arm's limits (<= 3 cm; <= 5 cm)" in msgs[0]
    assert "ablation x size interaction" in msgs[0]


def test_post_transplant_profile_flagged_unless_an_arm_states_transplant(profiles):
    p = profiles["post_transplant"]
    support, table = _support(TYPICAL)
    cp, ex, msgs = _flags(p, "REPEAT-RESECTION", False, support, table)
    assert ex and "recurrence after transplant is outside every arm's limits (after resection only)" in msgs[0]
    cp, ex, msgs = _flags(p, "TACE", False, support, table)  # all-comer cohorts: post-resection in practice
    assert ex and ("recurrence after transplant is outside every arm's limits (no prior treatment stated "
                   "(post-resection in practice))") in msgs[0]
    assert _flags(p, "MIXED-LRT", False, support, table)[1] is True
    assert _flags(p, "RFA", True, support, table)[1] is False  # the post-transplant RFA arm covers it


def test_multinodular_profile_is_covered_by_cohorts_allowing_several_nodules(profiles):
    p = profiles["multifocal_early_mvi"]  # 3 nodules, 3.8 cm, early
    support, table = _support(TYPICAL)
    assert _flags(p, "TACE", False, support, table)[1] is False  # <= 5 nodules, <= 5 cm
    solitary_only = [arm("RFA", "a", nodules_max=1, size_max=5), arm("TACE", "b")]
    s2, t2 = _support(solitary_only)
    cp, ex, msgs = _flags(p, "RFA", True, s2, t2)
    assert ex and "3 nodules is outside every arm's limits (<= 1 nodule)" in msgs[0]


def test_class_prior_only_treatment_is_flagged_as_such_not_as_extrapolation(profiles):
    support, table = _support(TYPICAL)
    cp, ex, msgs = _flags(profiles["small_solitary_late"], "MWA", True, support, table)
    assert cp and not ex and msgs[0].startswith("class prior only")
    # outside every arm of every treatment: the covariate effects are prior-only
    only_small = [arm("RFA", "a", size_max=3), arm("TACE", "b", size_max=5)]
    s2, t2 = _support(only_small)
    cp, ex, msgs = _flags(profiles["large_solitary"], "MWA", True, s2, t2)
    assert cp and ex and "outside every arm of every treatment" in msgs[1]


def test_without_support_flags_say_unavailable(profiles):
    assert _flags(profiles["small_solitary_late"], "RFA", True, None, None)[2][0].startswith(
        "evidence counts unavailable")


def test_population_level_evidence_is_not_called_class_prior_only(profiles):
    support, table = _support(TYPICAL)
    support.loc["MWA"] = {"studies": 0, "arms": 0, "patients": 0}
    support["population_summaries"] = 0
    support.loc["MWA", "population_summaries"] = 2
    cp, ex, msgs = _flags(profiles["small_solitary_late"], "MWA", True, support, table)
    assert not cp and not ex and "2 population-level summary(ies)" in msgs[0]


def test_levels_no_arm_reports_map_to_the_all_comer_level(profiles):
    p = profiles["multifocal_early_mvi"]  # 3.8 cm, 3 nodules, early, after resection
    cov = p.model_covariates()
    assert cov == {"size_band": "3to5", "nodularity": "multinodular", "recurrence": "early", "prior": "nr",
                   "stage": "nr"}
    levels, notes = cv.reported_levels(cov, TYPICAL, "reported")
    # arms report 3to5 (<= 5 cm), but no multinodular or early-recurrence cohort
    assert levels == {"size_band": "3to5", "nodularity": "nr", "recurrence": "nr", "prior": "nr",
                      "stage": "nr"}
    assert len(notes) == 2 and notes[0].startswith("nodularity multinodular: no arm reports this level")
    kept, notes = cv.reported_levels(cov, TYPICAL)  # default: keep, with the same two notes
    assert cv.DEFAULT_LEVEL_MODE == "profile" and kept == cov
    assert len(notes) == 2 and "effect comes from the covariate prior" in notes[1]
    assert cv.reported_levels(cov, None) == (cov, [])
    with pytest.raises(ValueError):
        cv.reported_levels(cov, TYPICAL, "bogus")


def test_bundled_arms_cover_post_resection_but_not_post_transplant_recurrence(profiles):
    """On the bundled evidence: no arm states transplant, so a post-transplant profile is
    outside it for every treatment; the prior treatment of a post-resection profile never is."""
    from rhcc_bayes.survival.support import arm_support
    from rhcc_bayes.synthesis import Synthesis

    records = arm_support(Synthesis("default").design)
    for trt, arms in records.groupby("treatment"):
        arms = arms.to_dict(orient="records")
        tx = coverage_gaps(profiles["post_transplant"], arms)
        assert any("recurrence after transplant is outside every arm's limits" in g for g in tx), trt
        assert not any("recurrence after" in g for g in coverage_gaps(profiles["small_solitary_late"], arms)), trt


@pytest.mark.slow
def test_post_resection_profile_is_predicted_like_an_unreported_one_and_transplant_is_not(small_fit):
    import numpy as np

    _, result = small_fit
    assert result.idata.posterior["beta_prior"].coords["prior_level"].values.tolist() == ["transplant"]
    base = dict(tumour_size_cm=2.4, nodules=1, months_since_treatment=30)
    s = {t: result.predict(PatientProfile(**base, prior_treatment=t), times=[12, 60]).values
         for t in ("resection", "unknown", "transplant")}
    assert np.array_equal(s["resection"], s["unknown"])  # identical draws, not just close
    assert not np.allclose(s["transplant"], s["resection"])
    # the transplant effect shifts the log hazard of every segment: S_tx(t) = S_res(t) ** exp(beta)
    beta = result.idata.posterior["beta_prior"].sel(prior_level="transplant").values
    assert np.allclose(s["transplant"], s["resection"] ** np.exp(beta)[..., None, None], rtol=1e-6)
