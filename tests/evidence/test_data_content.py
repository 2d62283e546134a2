"""Content checks of the bundled evidence (data/evidence.csv) and taxonomy (data/treatments.csv).

These read the CSV files directly with pandas (not through the loader) so that they test
the curated data itself: specific numbers of the review, the contradiction handling, and
the internal consistency of arms, comparators and treatment codes.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from rhcc_bayes.core import paths
from rhcc_bayes.evidence import schema

REVIEW = Path("/work/shared/seed/review-salvage-locoregional-therapy-recurrent-hcc.txt")
ARM_COLUMNS = ("treatment", "modality", "n", "population", "size_min_cm", "size_max_cm",
               "nodules_max", "recurrence_timing", "prior_treatment", "bclc")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The evidence table as strings, exactly as stored."""
    return pd.read_csv(paths.data_dir() / "evidence.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def ev(raw: pd.DataFrame) -> pd.DataFrame:
    """The evidence table with numeric columns as floats (NaN when empty)."""
    df = raw.copy()
    for col in schema.NUMERIC:
        df[col] = pd.to_numeric(df[col].replace("", None), errors="raise").astype(float)
    return df


@pytest.fixture(scope="module")
def treatments() -> pd.DataFrame:
    return pd.read_csv(paths.data_dir() / "treatments.csv", dtype=str, keep_default_na=False)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


def _nan_or(value: float | None, cell: float) -> bool:
    return math.isnan(cell) if value is None else _close(cell, value)


# ---------------------------------------------------------------------------
# spot checks of specific numbers of the review (default reading)
# (study, arm, treatment, outcome, measure, time_months, estimate, n, population)
SPOT = [
    ("yang_97", "TACE-RFA", "TACE-RFA", "os", "survival", 60, 0.443, None, "recurrent"),
    ("yang_97", "TACE-RFA", "TACE-RFA", "os", "survival", 12, 0.885, None, "recurrent"),
    ("yang_97", "TACE", "TACE", "os", "survival", 36, 0.389, None, "recurrent"),
    ("yang_97", "RFA", "RFA", "recurrence", "proportion", None, 0.432, None, "recurrent"),
    ("ref_37", "SALVAGE-LT", "SALVAGE-LT", "os", "survival", 36, 0.804, 41, "recurrent"),
    ("ref_37", "SALVAGE-LT", "SALVAGE-LT", "os", "survival", 12, 0.902, 41, "recurrent"),
    ("ref_37", "MIXED-LRT", "MIXED-LRT", "os", "survival", 12, 0.916, 170, "recurrent"),
    ("ref_37", "MIXED-LRT", "MIXED-LRT", "os", "survival", 60, 0.511, 170, "recurrent"),
    ("peng_106", "TACE-RFA+SORAFENIB", "TACE-RFA+SORAFENIB", "os", "median", None, 14, 106, "recurrent"),
    ("peng_106", "SORAFENIB", "SORAFENIB", "os", "median", None, 9, 101, "recurrent"),
    ("peng_106", "TACE-RFA+SORAFENIB", "TACE-RFA+SORAFENIB", "ttp", "median", None, 7, 106, "recurrent"),
    ("peng_106", "SORAFENIB", "SORAFENIB", "ttp", "median", None, 4, 101, "recurrent"),
    ("ref_87", "SBRT", "SBRT", "os", "survival", 36, 0.727, 302, "mixed"),
    ("ji_98", "TACE-MWA", "TACE-MWA", "enrolment", "count", None, 17, 17, "recurrent"),
    ("ji_98", "TACE", "TACE", "enrolment", "count", None, 28, 28, "recurrent"),
    ("ref_92_93", "TACE-RFA", "TACE-RFA", "os", "survival", 48, 0.618, None, "recurrent"),
    ("ref_92_93", "RFA", "RFA", "os", "survival", 36, 0.59, None, "recurrent"),
    ("salem_65", "TACE", "TACE", "ttp", "median", None, 6.8, None, "primary"),
    ("ref_68", "TARE", "TARE", "ttp", "median", None, 11.3, 41, "recurrent"),
    ("ref_68", "TARE", "TARE", "os", "median", None, 22.1, 41, "recurrent"),
    ("ref_107", "TACE+SORAFENIB", "TACE+SORAFENIB", "pfs", "median", None, 25.2, 80, "mixed"),
    ("ref_107", "TACE", "TACE", "pfs", "median", None, 13, 76, "mixed"),
    ("wan_105", "TACE+SORAFENIB", "TACE+SORAFENIB", "os", "median", None, 30.7, 127, "recurrent"),
    ("wan_105", "TACE", "TACE", "os", "median", None, 18.22, 127, "recurrent"),
    ("zheng_96", "TACE-RFA", "TACE-RFA", "os", "median", None, 38, 63, "recurrent"),
    ("zheng_96", "REPEAT-RESECTION", "REPEAT-RESECTION", "os", "median", None, 42, 38, "recurrent"),
    ("ref_54", "TACE", "TACE", "os", "survival", 60, 0.155, None, "recurrent"),
    ("yuan_79", "ABLATION", "ABLATION", "morbidity", "proportion", None, 0.033, None, "recurrent"),
    ("ref_81", "RFA", "RFA", "los", "mean", None, 5, None, "recurrent"),
    ("ref_81", "REPEAT-RESECTION", "REPEAT-RESECTION", "morbidity", "proportion", None, 0.16, None, "recurrent"),
    ("ref_49", "TACE", "TACE", "enrolment", "count", None, 339, 339, "recurrent"),
    ("ref_49", "REPEAT-RESECTION", "REPEAT-RESECTION", "enrolment", "count", None, 128, 128, "recurrent"),
    ("meta_tace_vs_rr", "TACE", "TACE", "enrolment", "count", None, 807, 807, "recurrent"),
    ("song_95", "TACE-RFA", "TACE-RFA", "enrolment", "count", None, 96, 96, "recurrent"),
    ("peng_94", "REPEAT-RESECTION", "REPEAT-RESECTION", "enrolment", "count", None, 79, 79, "recurrent"),
    ("guo_109", "TACE+CAMRELIZUMAB", "TACE+CAMRELIZUMAB", "enrolment", "count", None, 20, 20, "recurrent"),
    ("zhang_115", "DEB-TACE-RFA-recurrent", "DEB-TACE-RFA", "enrolment", "count", None, 36, 36, "recurrent"),
]


@pytest.mark.parametrize("study,arm,treatment,outcome,measure,time,estimate,n,population", SPOT,
                         ids=[f"{s[0]}-{s[1]}-{s[3]}-{s[5] or s[4]}" for s in SPOT])
def test_reported_number_present(ev, study, arm, treatment, outcome, measure, time, estimate, n,
                                 population):
    sel = ev[(ev.study == study) & (ev.arm == arm) & (ev.outcome == outcome)
             & (ev.measure == measure) & (ev.default_use == "yes")]
    sel = sel[[_nan_or(time, t) for t in sel.time_months]]
    assert len(sel) == 1, f"expected one default row, got {len(sel)}"
    r = sel.iloc[0]
    assert _close(r.estimate, estimate)
    assert r.treatment == treatment
    assert _nan_or(n, r.n)
    assert r.population == population


def test_salem_ttp_is_censored(ev):
    r = ev[(ev.study == "salem_65") & (ev.arm == "TARE") & (ev.outcome == "ttp")].iloc[0]
    assert (r.measure, r.estimate, r.qualifier, r.bclc) == ("median", 26.0, ">", "A/B")


# (study, arm, outcome, estimate, ci_low, ci_high, interval, comparator, design, population)
HR = [
    ("meta_rfa_tace_primary", "TACE-RFA", "os", 0.58, 0.41, 0.80, "ci95", "RFA", "meta_analysis", "primary"),
    ("ref_46_52", "RESECTION-TACE", "os", None, 0.64, 0.71, "range", "RESECTION", "meta_analysis", "primary"),
    ("ref_52", "RESECTION-TACE", "dfs", 0.73, None, None, "", "RESECTION", "meta_analysis", "primary"),
]


@pytest.mark.parametrize("study,arm,outcome,est,lo,hi,interval,comp,design,population", HR)
def test_hazard_ratios(ev, study, arm, outcome, est, lo, hi, interval, comp, design, population):
    sel = ev[(ev.study == study) & (ev.arm == arm) & (ev.outcome == outcome)
             & (ev.measure == "hr") & (ev.default_use == "yes")]
    assert len(sel) == 1
    r = sel.iloc[0]
    assert _nan_or(est, r.estimate) and _nan_or(lo, r.ci_low) and _nan_or(hi, r.ci_high)
    assert (r.interval, r.comparator_arm, r.design, r.population, r.unit) == (
        interval, comp, design, population, "ratio")


# review-stated ranges across studies: (study, outcome, measure, time, lo, hi, population)
RANGES = [
    ("ref_50_53", "os", "survival", 12, 0.28, 0.82, "recurrent"),
    ("ref_50_53", "os", "survival", 36, 0.32, 0.439, "recurrent"),
    ("ref_11", "os", "survival", 60, 0.50, 0.80, "primary"),
    ("ref_15_18", "recurrence", "proportion", None, 0.41, 0.70, "primary"),
]


@pytest.mark.parametrize("study,outcome,measure,time,lo,hi,population", RANGES)
def test_review_ranges(ev, study, outcome, measure, time, lo, hi, population):
    sel = ev[(ev.study == study) & (ev.outcome == outcome) & (ev.measure == measure)]
    sel = sel[[_nan_or(time, t) for t in sel.time_months]]
    assert len(sel) == 1
    r = sel.iloc[0]
    assert math.isnan(r.estimate) and r.interval == "range" and r.design == "review"
    assert _close(r.ci_low, lo) and _close(r.ci_high, hi) and r.population == population


def test_yang_arms_have_no_invented_n(ev):
    yang = ev[ev.study == "yang_97"]
    assert set(yang.arm) == {"TACE-RFA", "TACE", "RFA"}
    assert yang.n.isna().all()
    assert yang.notes.str.contains("103").all()


# ---------------------------------------------------------------------------
# contradictions: both readings present, exactly one used by default
# (study, treatment, outcome, measure, column(s) that must differ between readings)
CONTRADICTIONS = [
    ("wan_105", "TACE", "os", "median", ("estimate", "n", "size_max_cm")),
    ("wan_105", "TACE+SORAFENIB", "os", "median", ("estimate", "n", "size_max_cm")),
    ("zheng_96", "TACE-RFA", "os", "median", ("size_min_cm",)),
    ("zheng_96", "REPEAT-RESECTION", "os", "median", ("size_min_cm",)),
    ("ji_98", "TACE-MWA", "enrolment", "count", ("nodules_max",)),
    ("ji_98", "TACE", "enrolment", "count", ("nodules_max",)),
    ("meta_rfa_tace_primary", "TACE-RFA", "rfs", "hr", ("ci_low", "ci_high")),
]


@pytest.mark.parametrize("study,treatment,outcome,measure,differ", CONTRADICTIONS,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CONTRADICTIONS])
def test_contradiction_has_both_readings(raw, study, treatment, outcome, measure, differ):
    sel = raw[(raw.study == study) & (raw.treatment == treatment) & (raw.outcome == outcome)
              & (raw.measure == measure)]
    assert len(sel) == 2
    assert sorted(sel.default_use) == ["no", "yes"]
    assert all(sel[col].nunique() == 2 for col in differ)
    assert (sel.notes.str.len() > 0).all()


def test_zhang_group_b_both_treatments(raw):
    sel = raw[(raw.study == "zhang_115") & (raw.outcome == "enrolment") & (raw.estimate == "36")]
    assert dict(zip(sel.treatment, sel.default_use)) == {"DEB-TACE-RFA": "yes", "DEB-TACE": "no"}


def test_specific_readings_chosen(ev):
    wan = ev[(ev.study == "wan_105") & (ev.default_use == "yes") & (ev.measure == "median")]
    assert sorted(wan.estimate) == [18.22, 30.7]
    ji = ev[(ev.study == "ji_98") & (ev.default_use == "yes")]
    assert (ji.nodules_max == 3).all() and (ji.size_max_cm == 3).all()
    rfs = ev[(ev.study == "meta_rfa_tace_primary") & (ev.outcome == "rfs") & (ev.default_use == "yes")]
    assert (rfs.ci_low.iloc[0], rfs.ci_high.iloc[0]) == (0.47, 0.76)


def test_unusable_rows_flagged(ev):
    kim = ev[ev.study == "kimura_86"]
    assert sorted(kim.estimate) == [0.604, 0.61]
    assert kim.time_months.isna().all() and (kim.default_use == "no").all()
    assert kim.n.isna().all() and kim.notes.str.contains("81").all()
    cr = ev[(ev.study == "ref_87") & (ev.outcome == "response")].iloc[0]
    assert _close(cr.estimate, 0.954) and cr.default_use == "no"
    assert "tumour" in cr.notes.lower()


def test_non_default_rows_explained(raw):
    no = raw[raw.default_use == "no"]
    assert len(no) > 0 and (no.notes.str.len() > 20).all()


# ---------------------------------------------------------------------------
# structure and internal consistency
def test_columns_match_schema(raw):
    assert tuple(raw.columns) == schema.COLUMNS


def test_categorical_values(raw):
    allowed = {
        "outcome": set(schema.OUTCOMES), "measure": set(schema.MEASURES),
        "population": set(schema.POPULATIONS), "design": set(schema.DESIGNS),
        "interval": set(schema.INTERVALS), "qualifier": set(schema.QUALIFIERS),
        "unit": set(schema.UNITS), "recurrence_timing": set(schema.RECURRENCE_TIMING),
        "prior_treatment": set(schema.PRIOR_TREATMENT), "default_use": set(schema.DEFAULT_USE),
        "modality": set(schema.MODALITIES),
    }
    for col, values in allowed.items():
        assert set(raw[col]) <= values, col
    for col in ("study", "arm", "treatment", "source", "location"):
        assert (raw[col] != "").all(), col


def test_units_and_ranges(ev):
    prob = ev[ev.measure.isin(schema.PROBABILITY)]
    for col in ("estimate", "ci_low", "ci_high"):
        vals = prob[col].dropna()
        assert ((vals >= 0) & (vals <= 1)).all(), col
    assert (prob.unit == "fraction").all()
    assert (ev[ev.measure == "median"].unit == "months").all()
    assert ev[ev.measure == "median"].time_months.isna().all()
    assert (ev[ev.measure == "hr"].unit == "ratio").all()
    assert (ev[ev.outcome == "los"].unit == "days").all()
    assert (ev[ev.outcome == "enrolment"].unit == "patients").all()
    assert set(ev.time_months.dropna()) <= {12.0, 36.0, 48.0, 60.0}
    rng = ev[ev.interval == "range"]
    assert rng.estimate.isna().all() and rng.design.isin(schema.POOLED_DESIGNS).all()
    ci = ev[ev.interval == "ci95"]
    assert ((ci.ci_low <= ci.estimate) & (ci.estimate <= ci.ci_high)).all()


def test_treatments_known_with_matching_modality(raw, treatments):
    modality = dict(zip(treatments.code, treatments.modality))
    assert set(raw.treatment) <= set(modality)
    assert all(modality[t] == m for t, m in zip(raw.treatment, raw.modality))


def test_taxonomy_well_formed(treatments):
    assert list(treatments.columns) == ["code", "label", "modality", "components", "notes"]
    assert treatments.code.is_unique
    assert set(treatments.modality) <= set(schema.MODALITIES)
    codes = set(treatments.code)
    for code, mod, comps in zip(treatments.code, treatments.modality, treatments.components):
        parts = comps.split(";")
        assert set(parts) <= codes, code
        if len(parts) == 1:
            assert parts == [code] and mod != "combination", code
        else:
            assert mod == "combination", code
    required = {"TACE", "DEB-TACE", "TAE", "TARE", "RFA", "MWA", "ABLATION", "PEI", "SBRT",
                "RESECTION", "REPEAT-RESECTION", "SALVAGE-LT", "SORAFENIB", "CAMRELIZUMAB",
                "TACE-RFA", "TACE-MWA", "DEB-TACE-RFA", "TACE+SORAFENIB", "TACE-RFA+SORAFENIB",
                "TACE+CAMRELIZUMAB", "MIXED-LRT"}
    assert required <= codes
    assert dict(zip(treatments.code, treatments.modality))["TARE"] == "transarterial"
    assert "mixture" in treatments.set_index("code").at["MIXED-LRT", "notes"].lower()


def test_comparator_arms_exist(raw):
    arms = set(zip(raw.study, raw.arm))
    comp = raw[raw.comparator_arm != ""]
    assert len(comp) > 0
    assert all((s, c) in arms for s, c in zip(comp.study, comp.comparator_arm))
    assert (raw[raw.measure.isin(schema.COMPARATIVE)].comparator_arm != "").all()


def test_comparator_only_arms_declared(raw):
    comp = raw[raw.comparator_arm != ""]
    for study, comp in set(zip(comp.study, comp.comparator_arm)):
        decl = raw[(raw.study == study) & (raw.arm == comp) & (raw.outcome == "enrolment")]
        assert len(decl) == 1, (study, comp)


def test_enrolment_counts_agree_with_n(ev):
    enr = ev[ev.outcome == "enrolment"]
    assert (enr.measure == "count").all()
    given = enr[enr.estimate.notna()]
    assert (given.estimate == given.n).all()
    assert enr[enr.estimate.isna()].n.isna().all()
    # every arm with a known n has its enrolment row
    with_n = set(zip(ev[ev.n.notna()].study, ev[ev.n.notna()].arm))
    assert with_n <= set(zip(given.study, given.arm))


def test_arm_descriptors_repeated_consistently(raw):
    for (study, arm), g in raw.groupby(["study", "arm"]):
        for col in ARM_COLUMNS:
            assert g[col].nunique() == 1, (study, arm, col)


def test_study_ref_and_design_constant(raw):
    for study, g in raw.groupby("study"):
        assert g.ref.nunique() == 1 and g.design.nunique() == 1, study


def test_default_survival_not_increasing(ev):
    use = ev[(ev.measure == "survival") & (ev.default_use == "yes") & ev.estimate.notna()]
    for _, g in use.groupby(["study", "arm", "outcome"]):
        g = g.sort_values("time_months")
        assert g.estimate.diff().dropna().le(0).all()


@pytest.mark.skipif(not REVIEW.exists(), reason="review text not available")
def test_sources_are_verbatim(raw):
    text = " ".join(REVIEW.read_text(encoding="utf-8").split())
    missing = [s for s in raw.source if " ".join(s.split()) not in text]
    assert not missing
