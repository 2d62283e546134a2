"""Design (issue 10): latent n, ranges, pooled results, overlap rule, population bias, audit trail."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec, parse_spec
from rhcc_bayes.survival.design import make_design

from evidence_rows import row
from evidence_rows import write as _write


def write(tmp_path, rows):
    return _write(tmp_path, rows, extrasaction="ignore")  # rows carry helper keys (arm_suffix)


def with_includes(ev, includes: dict):
    """The evidence with an ``includes`` column (study -> pooled studies), as the schema will add it."""
    table = ev.table.copy()
    table["includes"] = table["study"].map(includes).fillna("")
    return SimpleNamespace(table=table, taxonomy=ev.taxonomy)


def spec(**evidence):
    return parse_spec({"model": {"name": "t"}, "evidence": evidence}, "t.toml")


TOTALS = pd.DataFrame({"study": ["y"], "total_n": [100], "arms": ["A;B;C"]})


@pytest.fixture
def mixed(tmp_path):
    rows = []
    # study y: three arms sharing a known total of 100, two report landmarks, no arm n
    for arm, trt, mod, ss in [("A", "TACE-RFA", "combination", (0.9, 0.6)), ("B", "TACE", "transarterial", (0.7, 0.4))]:
        rows += [row(study="y", arm=arm, treatment=trt, modality=mod, time_months=t, estimate=s)
                 for t, s in zip((12, 36), ss)]
    rows.append(row(study="y", arm="C", treatment="RFA", modality="ablation", outcome="enrolment", measure="count",
                    unit="patients", estimate=""))
    # study z: no n, nothing known -> lognormal prior; a median without CI
    rows.append(row(study="z", arm="A", treatment="RFA", modality="ablation", measure="median", estimate=30,
                    unit="months"))
    # study k: known n (feeds the fitted lognormal prior), primary population
    rows += [row(study="k", arm="A", treatment="RFA", modality="ablation", n=n_, population="primary",
                 time_months=12, estimate=0.9, arm_suffix="") for n_ in (80,)]
    rows.append(row(study="k2", arm="A", treatment="TACE", modality="transarterial", n=40, time_months=12, estimate=0.7))
    # a range across 4 studies, a pooled landmark and a pooled contrast (meta-analysis)
    rows.append(row(study="rg", ref="50;51;52;53", arm="TACE", treatment="TACE", modality="transarterial",
                    design="review", time_months=12, estimate="", ci_low=0.3, ci_high=0.8, interval="range"))
    rows.append(row(study="pl", ref="54", arm="TACE", treatment="TACE", modality="transarterial",
                    design="meta_analysis", time_months=60, estimate=0.155))
    rows.append(row(study="pc", ref="", arm="RR", treatment="REPEAT-RESECTION", modality="surgery",
                    design="meta_analysis", measure="hr", estimate=0.77, ci_low=0.65, ci_high=0.92,
                    interval="ci95", comparator_arm="RFA", unit="ratio"))
    rows.append(row(study="pc", ref="", arm="RFA", treatment="RFA", modality="ablation", design="meta_analysis",
                    outcome="enrolment", measure="count", unit="patients", estimate=""))
    return write(tmp_path, rows)


def test_known_total_gives_dirichlet_shares_and_unknown_n_a_lognormal_prior(mixed):
    d = make_design(mixed, spec(), totals=TOTALS)
    g = d.latent_groups.iloc[0]
    assert (g["study"], g["total"], g["members"], g["n_members"]) == ("y", 100.0, "A;B;C", 3)
    by = {(r.study, r.arm): r for r in d.latent_n.itertuples()}
    assert by[("y", "A")].group == 0 and by[("y", "A")].share_pos == 0
    assert by[("y", "B")].group == 0 and by[("y", "B")].share_pos == 1
    assert by[("z", "A")].group == -1 and by[("pl", "TACE")].group == -1
    # the lognormal prior is fitted to the reported arm sizes (80, 40)
    assert d.latent_prior["log_mean"] == pytest.approx(np.mean(np.log([80, 40])))
    assert d.latent_prior["n_arms"] == 2
    # latent landmarks carry S(t_prev), c(t) and the conditional survival instead of counts
    lm = d.landmarks[d.landmarks["latent"] >= 0]
    assert lm["at_risk"].isna().all()
    first_b = lm[(lm["arm_index"] == by[("y", "B")].arm_index)].iloc[1]
    assert first_b["s_prev"] == pytest.approx(0.7) and first_b["cond"] == pytest.approx(0.4 / 0.7)
    assert first_b["censor"] == pytest.approx(1 - 36 / 120)
    med = d.medians.set_index("arm_index").loc[by[("z", "A")].arm_index]
    assert med["latent"] >= 0 and np.isnan(med["at_risk"])


def test_audit_trail_says_how_each_row_enters(mixed):
    d = make_design(mixed, spec(), totals=TOTALS)
    how = d.used.groupby("study")["how"].first()
    assert how["y"] == "landmark S(12), latent n (Dirichlet share of 100 over 3 arms)"
    assert how["z"] == "median, latent n (lognormal prior)"
    assert how["k"] == "landmark S(12), n known, 72 at risk; population=primary (bias term)"
    assert how["rg"] == "range k=4 (min/max order statistics)"
    assert how["pl"].startswith("pooled landmark S(60) on the average population, latent n")
    assert how["pc"] == "pooled contrast (log HR on the treatments' means)"
    assert d.used["how"].notna().all()


def test_exclude_missing_n_keeps_the_old_rule(mixed):
    d = make_design(mixed, spec(missing_n="exclude"), totals=TOTALS)
    ex = d.excluded[d.excluded["outcome"] == "os"]
    reasons = ex.groupby("study")["reason"].first()
    assert reasons["y"] == 'arm size n not reported (spec missing_n = "exclude")'
    assert reasons["z"] == 'arm size n not reported (spec missing_n = "exclude")'
    assert len(d.latent_n) == 0
    assert set(d.used["study"]) == {"k", "k2", "rg", "pc"}


def test_range_rows_become_order_statistic_inputs_on_population_pseudo_arms(mixed):
    d = make_design(mixed, spec(), totals=TOTALS)
    r = d.ranges.iloc[0]
    assert (r["t"], r["low"], r["high"], r["k"], bool(r["k_assumed"])) == (12.0, 0.3, 0.8, 4, False)
    # v = (1 - S)/(n_eff S log(S)^2) at the mid-point 0.55, n_eff = median prior n * c(12)
    n_eff = d.latent_prior["median_n"] * 0.9
    assert r["v_sampling"] == pytest.approx(0.45 / (n_eff * 0.55 * np.log(0.55) ** 2))
    arm = d.arms.loc[r["arm_index"]]
    assert arm["level"] == "population" and arm["study"] == "rg"
    assert d.study_effect_mask[int(r["arm_index"])] == 0
    assert "rg" not in d.studies and "pl" not in d.studies
    pl = d.pooled_landmarks.iloc[0]
    assert (pl["k"], bool(pl["k_assumed"])) == (2, True)


def test_pooled_contrast_is_marked_and_uses_population_arms(mixed):
    d = make_design(mixed, spec(), totals=TOTALS)
    hr = d.hazard_ratios.iloc[0]
    assert bool(hr["pooled"]) and hr["log_hr"] == pytest.approx(np.log(0.77))
    assert d.arms.loc[hr["arm_index"], "treatment"] == "REPEAT-RESECTION"
    assert d.arms.loc[hr["comparator_index"], "treatment"] == "RFA"
    assert d.study_effect_mask[[int(hr["arm_index"]), int(hr["comparator_index"])]].tolist() == [0, 0]
    assert d.options["add_between_study"] == 1.0
    assert make_design(mixed, spec(pooled_variance="reported"), totals=TOTALS).options["add_between_study"] == 0.0


def test_population_bias_index(mixed):
    d = make_design(mixed, spec(), totals=TOTALS)
    assert d.bias_populations == ("primary", "mixed")
    idx = dict(zip(d.arms["study"], d.population_index))
    assert idx["k"] == 1 and idx["y"] == 0
    assert make_design(mixed, spec(populations=["recurrent"]), totals=TOTALS).bias_populations == ()


@pytest.mark.parametrize("policy", ["constituents", "pooled"])
def test_overlap_rule_uses_one_side_never_both(mixed, policy):
    ev = with_includes(mixed, {"pl": "k2;other", "rg": "nothing_here"})
    d = make_design(ev, spec(overlap=policy), totals=TOTALS)
    ex = d.excluded[d.excluded["outcome"] == "os"]
    used, excl = set(d.used["study"]), ex.groupby("study")["reason"].first()
    assert "rg" in used  # includes nothing in the likelihood: no overlap
    if policy == "constituents":
        assert "pl" not in used and "k2" in used
        assert excl["pl"].startswith("overlap: pools k2")
    else:
        assert "pl" in used and "k2" not in used
        assert excl["k2"] == 'overlap: pooled in pl (overlap = "pooled")'


def test_missing_includes_column_is_treated_as_empty(mixed):
    table = mixed.table.drop(columns=["includes"], errors="ignore")
    d = make_design(SimpleNamespace(table=table, taxonomy=mixed.taxonomy), spec(), totals=TOTALS)
    assert {"pl", "k2"} <= set(d.used["study"])


def test_subgroup_and_overall_contrasts_of_one_meta_analysis_never_both(tmp_path):
    def hr(arm, comp, est, lo, hi, **kw):
        return row(study="ma", ref="82", arm=arm, treatment="REPEAT-RESECTION", modality="surgery",
                   design="meta_analysis", measure="hr", estimate=est, ci_low=lo, ci_high=hi, interval="ci95",
                   comparator_arm=comp, unit="ratio", **kw)

    def decl(arm, **kw):
        return row(study="ma", ref="82", arm=arm, treatment="RFA", modality="ablation", design="meta_analysis",
                   outcome="enrolment", measure="count", unit="patients", estimate="", **kw)

    rows = [hr("RR", "RFA", 0.77, 0.65, 0.92), decl("RFA"),
            hr("RR-le3", "RFA-le3", 1.03, 0.69, 1.52, size_max_cm=3, nodules_max=1),
            decl("RFA-le3", size_max_cm=3, nodules_max=1),
            # a second, less precise meta-analysis of the same contrast
            row(study="mb", ref="78", arm="RR", treatment="REPEAT-RESECTION", modality="surgery",
                design="meta_analysis", measure="hr", estimate=0.7, ci_low=0.4, ci_high=1.2, interval="ci95",
                comparator_arm="RFA", unit="ratio"),
            row(study="mb", ref="78", arm="RFA", treatment="RFA", modality="ablation", design="meta_analysis",
                outcome="enrolment", measure="count", unit="patients", estimate="")]
    ev = write(tmp_path, rows)
    d = make_design(ev, spec(), totals=TOTALS)
    used = d.used.set_index("arm")
    assert list(d.used["study"]) == ["ma"] and list(used.index) == ["RR-le3"]
    reasons = d.excluded[d.excluded["outcome"] == "os"].set_index(["study", "arm"])["reason"]
    assert reasons[("ma", "RR")].startswith("overall contrast of ma: its subgroup contrasts")
    assert reasons[("mb", "RR")].startswith("another meta-analysis of REPEAT-RESECTION vs RFA (ma, smaller SE)")
    d2 = make_design(ev, spec(pooled_subgroups="overall"), totals=TOTALS)
    assert sorted(d2.used["arm"]) == ["RR"] and list(d2.used["study"]) == ["ma"]


def test_hr_standard_error_from_se_then_ci_then_p_value():
    from scipy.stats import norm

    from rhcc_bayes.survival.pooled import hr_standard_error

    assert hr_standard_error({"estimate": 0.8, "se": 0.1, "ci_low": 0.5, "ci_high": 0.9}) == 0.1
    ci = hr_standard_error({"estimate": 0.77, "ci_low": 0.65, "ci_high": 0.92})
    assert ci == pytest.approx((np.log(0.92) - np.log(0.65)) / (2 * norm.ppf(0.975)))
    # a Wald test: z = log HR / se, two-sided p  =>  se = |log HR| / z(1 - p/2); round trip
    se = hr_standard_error({"estimate": 1.61, "p_value": 0.056})
    assert se == pytest.approx(np.log(1.61) / norm.ppf(1 - 0.056 / 2))
    assert 2 * norm.sf(np.log(1.61) / se) == pytest.approx(0.056)
    assert np.isnan(hr_standard_error({"estimate": 1.0, "p_value": 0.9}))  # HR 1 with only p: no SE
    assert np.isnan(hr_standard_error({"estimate": 1.3}))


def test_pooled_hr_with_only_a_p_value_enters_with_its_derived_se():
    d = make_design(load_evidence(), load_spec("default"))
    hr = d.hazard_ratios.merge(d.used[["row_key", "study", "arm", "p_value", "estimate"]], on="row_key")
    row = hr[(hr["study"] == "meta_18_cohorts") & (hr["arm"] == "TACE-7studies")]
    assert len(row) == 1 and bool(row["pooled"].iloc[0])
    from scipy.stats import norm

    assert row["se"].iloc[0] == pytest.approx(np.log(1.61) / norm.isf(0.056 / 2))
    assert "no standard error" not in " ".join(d.excluded.loc[d.excluded["arm"] == "TACE-7studies", "reason"])


def test_bundled_default_design_counts():
    d = make_design(load_evidence(), load_spec("default"))
    os_used = d.used[d.used["outcome"] == "os"]
    assert len(os_used) >= 31
    arms = d.arms
    assert {"ref_92_93", "yang_97"} <= set(arms.loc[arms["n"].isna() & (arms["level"] == "study"), "study"])
    assert set(d.latent_groups["study"]) == {"yang_97"}
    assert {"ref_50_53", "ref_54", "ref_11"} <= set(os_used["study"])
    informed = set(arms["treatment"])
    assert len(informed) >= 12
    classes = {d.structure.modalities[d.structure.class_index[d.structure.treatments.index(t)]] for t in informed}
    assert classes == set(d.structure.modalities) - {"other"}


def test_support_table_shows_borrowed_and_population_level_evidence(mixed):
    from rhcc_bayes.survival.support import evidence_support

    sup = evidence_support(make_design(mixed, spec(), totals=TOTALS))
    assert sup.loc["RFA", ["arms", "recurrent_arms", "borrowed_arms", "latent_n_arms"]].tolist() == [2, 1, 1, 1]
    assert sup.loc["TACE", "population_summaries"] == 2  # the range and the pooled landmark
    assert sup.loc["REPEAT-RESECTION", ["arms", "population_summaries"]].tolist() == [0, 1]  # pooled contrast only
    assert sup.loc["TACE", "arms"] == 2  # study arms only: y/B and k2


def test_secondary_proportion_without_n_shares_the_latent_n_of_its_arm(mixed, tmp_path):
    rows = [row(study="y", arm="C", treatment="RFA", modality="ablation", outcome="recurrence", measure="proportion",
                estimate=0.43),
            row(study="y", arm="A", treatment="TACE-RFA", modality="combination", outcome="recurrence",
                measure="proportion", estimate=0.21),
            row(study="y", arm="A", treatment="TACE-RFA", modality="combination", time_months=12, estimate=0.9)]
    ev = write(tmp_path, rows)
    d = make_design(ev, spec(), totals=TOTALS)
    lat = d.latent_n.set_index("arm")
    assert lat.loc["A", "group"] == lat.loc["C", "group"] == 0  # one Dirichlet over A, B, C
    assert lat.loc["C", "arm_index"] == -1  # secondary-only arm
    sec = d.secondary.set_index("estimate")
    assert sec.loc[0.43, "latent"] == list(lat.index).index("C") and np.isnan(sec.loc[0.43, "events"])
    assert sec.loc[0.21, "latent"] == list(lat.index).index("A")
    how = dict(zip(d.used["arm"] + d.used["outcome"], d.used["how"]))
    assert how["Crecurrence"] == "recurrence proportion, latent n (Dirichlet share of 100 over 3 arms)"
    from rhcc_bayes.survival.model import build_survival_model

    model = build_survival_model(d, spec())
    assert "recurrence_latent_n" in {p.name for p in model.potentials}
    assert "recurrence_events" not in model.named_vars
    # excluded entirely with missing_n = "exclude"
    assert len(make_design(ev, spec(missing_n="exclude"), totals=TOTALS).secondary) == 0
