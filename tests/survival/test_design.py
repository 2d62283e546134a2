"""Design: which rows enter the likelihood and how summaries become counts."""

import numpy as np
import pytest

from rhcc_bayes.survival.design import arm_covariates, make_design, size_band
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import parse_spec

from evidence_rows import row, write


def spec(**evidence):
    return parse_spec({"model": {"name": "t"}, "evidence": evidence}, "t.toml")


@pytest.fixture
def two_arm(tmp_path):
    rows = [row(study="s1", arm="A", treatment="TACE", modality="transarterial", n=100, measure="survival",
                time_months=t, estimate=s) for t, s in [(12, 0.8), (36, 0.5), (60, 0.3)]]
    rows.append(row(study="s1", arm="B", treatment="RFA", modality="ablation", n=50, measure="median",
                    estimate=40, size_max_cm=3, nodules_max=1, recurrence_timing="late", prior_treatment="resection",
                    unit="months"))
    rows.append(row(study="s1", arm="B", treatment="RFA", modality="ablation", n=50, measure="hr",
                    estimate=0.7, ci_low=0.5, ci_high=0.98, interval="ci95", comparator_arm="A", unit="ratio",
                    size_max_cm=3, nodules_max=1, recurrence_timing="late", prior_treatment="resection"))
    return write(tmp_path, rows)


def test_landmarks_become_conditional_binomial_counts_without_censoring(two_arm):
    d = make_design(two_arm, spec(censoring="none"))
    lm = d.landmarks
    assert lm[["t_prev", "t"]].values.tolist() == [[0, 12], [12, 36], [36, 60]]
    # at risk = n * S(t_prev); deaths = at_risk * (1 - S(t)/S(t_prev))
    assert lm["at_risk"].tolist() == [100, 80, 50]
    assert lm["deaths"].tolist() == [20, 30, 20]


def test_uniform_censoring_discounts_later_landmarks(two_arm):
    d = make_design(two_arm, spec(censoring="uniform", max_followup_months=120))
    # c(t) = 1 - t/120: 0.9, 0.7, 0.5
    assert d.landmarks["at_risk"].tolist() == [90, 56, 25]
    assert d.landmarks["deaths"].tolist() == [18, 21, 10]


def test_median_without_ci_counts_half_alive(two_arm):
    d = make_design(two_arm, spec(censoring="none"))
    med = d.medians
    assert med[["time", "at_risk", "alive"]].values.tolist() == [[40.0, 50, 25]]
    assert med["se_log"].isna().all()


def test_hr_is_kept_for_the_ppc_when_both_arms_have_arm_level_data(two_arm):
    d = make_design(two_arm, spec())
    assert len(d.hazard_ratios) == 0
    assert "HR not used" in " ".join(d.excluded["reason"])


def test_hr_policy_always_uses_it_with_se_from_the_ci(two_arm):
    d = make_design(two_arm, spec(hr_policy="always"))
    hr = d.hazard_ratios.iloc[0]
    assert hr["log_hr"] == pytest.approx(np.log(0.7))
    assert hr["se"] == pytest.approx((np.log(0.98) - np.log(0.5)) / (2 * 1.959964), rel=1e-6)
    assert d.arms.loc[hr["arm_index"], "arm"] == "B" and d.arms.loc[hr["comparator_index"], "arm"] == "A"


def test_arm_descriptors_become_covariate_levels(two_arm):
    arms = make_design(two_arm, spec()).arms.set_index("arm")
    # post-resection is the reference population of the prior-treatment covariate
    assert arms.loc["B", ["size_band", "nodularity", "recurrence", "prior"]].tolist() == ["le3", "solitary", "late", "nr"]
    assert arms.loc["A", ["size_band", "nodularity", "recurrence", "prior"]].tolist() == ["nr", "nr", "nr", "nr"]


@pytest.mark.parametrize("lo,hi,band", [(np.nan, 3, "le3"), (np.nan, 5, "3to5"), (np.nan, 7, "gt5"), (5, np.nan, "gt5"),
                                        (np.nan, np.nan, "nr")])
def test_size_band_is_the_band_of_the_inclusion_limit(lo, hi, band):
    assert size_band(lo, hi) == band


def test_multinodular_limit_is_not_reported_as_solitary():
    assert arm_covariates({"nodules_max": 3.0, "size_min_cm": np.nan, "size_max_cm": np.nan,
                           "recurrence_timing": "", "prior_treatment": "transplant"})["nodularity"] == "nr"


def test_rows_left_out_carry_their_reason(tmp_path):
    ev = write(tmp_path, [
        row(study="m", arm="A", treatment="TACE", modality="transarterial", measure="survival", time_months=60,
            estimate=0.155, design="meta_analysis"),
        row(study="p", arm="A", treatment="TACE", modality="transarterial", n=40, measure="survival", time_months=12,
            estimate=0.7, population="primary"),
        row(study="q", arm="A", treatment="TACE", modality="transarterial", measure="survival", time_months=12, estimate=0.7),
    ])
    # the pre-issue-10 rules, now a sensitivity: recurrent only, no pooled results, n required
    strict = spec(populations=["recurrent"], pooled=False, missing_n="exclude")
    d = make_design(ev, strict)
    reasons = dict(zip(d.excluded["study"], d.excluded["reason"]))
    assert reasons["m"] == "a pooled meta-analysis result (spec pooled = false)"
    assert reasons["p"] == "population excluded by spec"
    assert reasons["q"] == 'arm size n not reported (spec missing_n = "exclude")'
    assumed = make_design(ev, spec(missing_n=30, populations=["recurrent"], pooled=False))
    assert assumed.landmarks["at_risk"].tolist() == [27]  # 30 * c(12) = 30 * 0.9
    # default rules: all three enter, each saying how
    how = dict(zip(make_design(ev, spec()).used["study"], make_design(ev, spec()).used["how"]))
    assert how["m"].startswith("pooled landmark S(60) on the average population, latent n")
    assert how["p"] == "landmark S(12), n known, 36 at risk; population=primary (bias term)"
    assert how["q"] == "landmark S(12), latent n (lognormal prior)"


def test_bundled_design_recurrent_only_sensitivity_uses_only_recurrent_primary_studies():
    d = make_design(load_evidence(), parse_spec({"model": {"name": "d"}, "evidence": {
        "populations": ["recurrent"], "missing_n": "exclude", "ranges": False, "pooled": False}}, "d.toml"))
    used = d.used
    assert set(used["population"]) == {"recurrent"}
    assert set(used["design"]) <= {"rct", "prospective", "retrospective"}
    assert (used["default_use"] == "yes").all()
    # every used row is an arm-level OS summary or a secondary proportion with n
    assert used["n"].notna().all()
    # the transplant arm of [37] contributes its 1/3/5-year landmarks
    lm = d.landmarks.merge(d.arms, left_on="arm_index", right_index=True)
    assert sorted(lm.loc[lm["treatment"] == "SALVAGE-LT", "t"]) == [12, 36, 60]


def test_length_of_stay_enters_only_with_its_standard_error(tmp_path):
    ev = write(tmp_path, [
        row(study="a", arm="RFA", treatment="RFA", modality="ablation", outcome="los", measure="mean",
            estimate=5, se=0.8, unit="days"),
        row(study="a", arm="RR", treatment="REPEAT-RESECTION", modality="surgery", outcome="los", measure="mean",
            estimate=13, ci_low=10, ci_high=16, interval="ci95", unit="days"),
        row(study="b", arm="RFA", treatment="RFA", modality="ablation", outcome="los", measure="mean",
            estimate=6, unit="days"),
    ])
    d = make_design(ev, spec())
    assert d.stay[["mean_days", "se_days"]].round(4).values.tolist() == [[5.0, 0.8], [13.0, round(6 / (2 * 1.959964), 4)]]
    assert d.excluded.set_index("study").loc["b", "reason"] == (
        "mean length of stay without its SE or CI: no likelihood can be formed")
    from rhcc_bayes.survival.model import build_survival_model

    model = build_survival_model(d, spec())
    assert "los_mean" in {v.name for v in model.observed_RVs}
    assert model.named_vars_to_dims["los_mean_days"] == ("treatment",)


def test_median_with_ci_needs_no_n_and_uses_its_log_se(tmp_path):
    ev = write(tmp_path, [row(study="c", arm="A", treatment="TARE", modality="transarterial", measure="median",
                              estimate=22.1, ci_low=15, ci_high=30, interval="ci95", unit="months")])
    med = make_design(ev, spec()).medians
    assert len(med) == 1
    assert med["se_log"].iloc[0] == pytest.approx((np.log(30) - np.log(15)) / (2 * 1.959964), rel=1e-6)
