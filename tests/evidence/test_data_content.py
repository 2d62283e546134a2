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
PRIMARY = Path("/work/shared/evidence/primary_sources.csv")
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
    ("ref_107", "TACE+SORAFENIB", "TACE+SORAFENIB", "pfs", "median", None, 25.2, 80, "primary"),
    ("ref_107", "TACE", "TACE", "pfs", "median", None, 13, 76, "primary"),
    ("wan_105", "TACE+SORAFENIB", "TACE+SORAFENIB", "os", "median", None, 30.7, 127, "recurrent"),
    ("wan_105", "TACE", "TACE", "os", "median", None, 18.22, 127, "recurrent"),
    ("zheng_96", "TACE-RFA", "TACE-RFA", "os", "median", None, 38, 63, "recurrent"),
    ("zheng_96", "REPEAT-RESECTION", "REPEAT-RESECTION", "os", "median", None, 42, 48, "recurrent"),
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
# (study, treatment, outcome, measure, number of readings, column(s) that differ between them)
CONTRADICTIONS = [
    ("wan_105", "TACE", "os", "median", 2, ("estimate", "n", "size_max_cm")),
    ("wan_105", "TACE+SORAFENIB", "os", "median", 2, ("estimate", "n", "size_max_cm")),
    # review Table 1 (copy, no), paper (default), text '> 5 cm' (no)
    ("zheng_96", "TACE-RFA", "os", "median", 3, ("size_min_cm", "source")),
    ("zheng_96", "REPEAT-RESECTION", "os", "median", 3, ("size_min_cm", "n", "source")),
    ("ji_98", "TACE-MWA", "enrolment", "count", 2, ("nodules_max",)),
    ("ji_98", "TACE", "enrolment", "count", 2, ("nodules_max",)),
    ("meta_rfa_tace_primary", "TACE-RFA", "rfs", "hr", 2, ("ci_low", "ci_high")),
    ("peng_106", "SORAFENIB", "os", "median", 2, ("size_max_cm", "nodules_max")),
    ("ref_107", "TACE", "pfs", "median", 2, ("population",)),
    ("ref_107", "TACE+SORAFENIB", "pfs", "median", 3, ("population", "estimate")),
]


@pytest.mark.parametrize("study,treatment,outcome,measure,readings,differ", CONTRADICTIONS,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CONTRADICTIONS])
def test_contradiction_has_both_readings(raw, study, treatment, outcome, measure, readings, differ):
    sel = raw[(raw.study == study) & (raw.treatment == treatment) & (raw.outcome == outcome)
              & (raw.measure == measure)]
    assert len(sel) == readings
    assert sorted(sel.default_use) == ["no"] * (readings - 1) + ["yes"]
    assert all(sel[col].nunique() > 1 for col in differ)
    assert (sel.notes.str.len() > 0).all()


def test_each_number_counts_once_per_arm(raw):
    """Within an arm, no two default rows report the same outcome, measure, time and comparator."""
    use = raw[raw.default_use == "yes"]
    key = ["study", "arm", "outcome", "measure", "time_months", "comparator_arm"]
    dup = use[use.duplicated(key, keep=False)]
    assert dup.empty, dup[key].to_string()


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
    assert list(treatments.columns) == ["code", "label", "modality", "components", "notes", "choosable"]
    # pooled mixtures are reported but never ranked as an option
    assert set(treatments.code[treatments.choosable.fillna("").eq("no")]) == {"MIXED-LRT", "ABLATION"}
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
    rows = raw[raw.comparator_arm != ""]
    for study, comp in set(zip(rows.study, rows.comparator_arm)):
        decl = raw[(raw.study == study) & (raw.arm == comp) & (raw.outcome == "enrolment")]
        assert len(decl) >= 1, (study, comp)
        # one enrolment row counts; a review copy of a primary-source count is default_use=no
        assert (decl.default_use == "yes").sum() <= 1, (study, comp)


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


def _from_paper(raw: pd.DataFrame) -> pd.Series:
    """Rows read from a primary publication: their location is the URL they were read at."""
    return raw.location.str.startswith("http")


@pytest.mark.skipif(not REVIEW.exists(), reason="review text not available")
def test_sources_are_verbatim(raw):
    text = " ".join(REVIEW.read_text(encoding="utf-8").split())
    review_rows = raw[~_from_paper(raw)]
    missing = [s for s in review_rows.source if " ".join(s.split()) not in text]
    assert not missing
    assert review_rows.location.str.match(r"^(text: .+|Table [12])$").all()


# ---------------------------------------------------------------------------
# primary-source supplement (../shared/evidence/primary_sources.csv)
def test_primary_source_rows_carry_their_provenance(raw):
    paper = raw[_from_paper(raw)]
    assert len(paper) == 50
    assert paper.notes.str.startswith("PRIMARY SOURCE").all()
    assert paper.notes.str.contains("primary_sources.csv|Complication row read from|"
                                    "Comparator-only arm").all()
    if PRIMARY.exists():
        sources = pd.read_csv(PRIMARY, dtype=str, keep_default_na=False)
        assert set(paper.location) <= set(sources.where_found)
        cited = set(sources.journal_citation)
        uncited = paper[~paper.source.isin(cited)]
        # the one page that shows no citation says so in source
        assert set(uncited.study) == {"meta_18_cohorts"}
        assert uncited.source.str.startswith("citation not shown on stored page").all()
    # the review key is in ref (the unconfirmed '[54]?' match stays without one)
    keyed = paper[paper.study != "meta_18_cohorts"]
    assert (keyed.ref != "").all()
    assert (paper[paper.study == "meta_18_cohorts"].ref == "").all()


# (study, arm, outcome, measure, time, estimate, ci_low, ci_high, n, source fragment)
PAPER_SPOT = [
    ("zheng_96", "TACE-RFA", "enrolment", "count", None, 63, None, None, 63, "10.3389/fonc.2021.713432"),
    ("zheng_96", "TACE-RFA", "os", "median", None, 38, None, None, 63, "10.3389/fonc.2021.713432"),
    ("zheng_96", "REPEAT-RESECTION", "enrolment", "count", None, 48, None, None, 48, "10.3389/fonc.2021.713432"),
    ("zheng_96", "REPEAT-RESECTION", "os", "median", None, 42, None, None, 48, "10.3389/fonc.2021.713432"),
    ("guo_109", "TACE+CAMRELIZUMAB", "pfs", "median", None, 6, None, None, 20, "10.1186/s12885-022-09325-6"),
    ("guo_109", "TACE", "pfs", "median", None, 9, None, None, 51, "10.1186/s12885-022-09325-6"),
    ("guo_109", "TACE+CAMRELIZUMAB", "response", "proportion", None, 0.40, None, None, 20, "10.1186/s12885-022-09325-6"),
    ("guo_109", "TACE", "response", "proportion", None, 0.569, None, None, 51, "10.1186/s12885-022-09325-6"),
    ("ref_68", "TARE", "os", "median", None, 22.1, 10.3, 31.3, 41, "10.1007/s00259-017-3792-3"),
    ("ref_68", "TARE", "ttp", "median", None, 11.3, 6.5, 15.5, 41, "10.1007/s00259-017-3792-3"),
    ("ref_68", "TARE", "complication", "proportion", None, 0.10, None, None, 41, "10.1007/s00259-017-3792-3"),
    ("peng_106", "TACE-RFA+SORAFENIB", "enrolment", "count", None, 106, None, None, 106, "10.1148/radiol.2018171541"),
    ("peng_106", "SORAFENIB", "enrolment", "count", None, 101, None, None, 101, "10.1148/radiol.2018171541"),
    ("ref_107", "TACE+SORAFENIB", "enrolment", "count", None, 80, None, None, 80, "10.1136/gutjnl-2019-318934"),
    ("ref_107", "TACE", "enrolment", "count", None, 76, None, None, 76, "10.1136/gutjnl-2019-318934"),
    ("ref_107", "TACE+SORAFENIB", "os", "median", None, 36.2, None, None, 80, "PMID 35978604"),
    ("ref_107", "TACE", "os", "median", None, 30.8, None, None, 76, "PMID 35978604"),
    ("ref_107", "TACE+SORAFENIB", "os", "hr", None, 0.861, 0.607, 1.223, 80, "PMID 35978604"),
    ("yang_82", "REPEAT-RESECTION", "enrolment", "count", None, 654, None, None, 654, "10.1186/s12876-020-01544-0"),
    ("yang_82", "RFA", "enrolment", "count", None, 958, None, None, 958, "10.1186/s12876-020-01544-0"),
    ("yang_82", "REPEAT-RESECTION", "os", "hr", None, 0.77, 0.65, 0.92, 654, "10.1186/s12876-020-01544-0"),
    ("yang_82", "REPEAT-RESECTION", "pfs", "hr", None, 0.81, 0.67, 0.98, 654, "10.1186/s12876-020-01544-0"),
    ("yang_82", "RFA", "complication", "or", None, 0.15, 0.06, 0.39, 958, "10.1186/s12876-020-01544-0"),
    ("yang_82", "REPEAT-RESECTION-le3cm", "os", "hr", None, 1.03, 0.69, 1.52, None, "10.1186/s12876-020-01544-0"),
    ("yang_82", "REPEAT-RESECTION-le3cm", "pfs", "hr", None, 0.99, 0.71, 1.37, None, "10.1186/s12876-020-01544-0"),
    ("yang_82", "REPEAT-RESECTION-3to5cm", "os", "hr", None, 0.57, 0.37, 0.89, None, "10.1186/s12876-020-01544-0"),
    ("meta_18_cohorts", "REPEAT-RESECTION", "os", "survival", 60, 0.43, None, None, 481, "18 cohort studies"),
    ("meta_18_cohorts", "ABLATION", "os", "survival", 60, 0.527, None, None, 389, "18 cohort studies"),
    ("meta_18_cohorts", "TACE-7studies", "os", "hr", None, 1.61, None, None, None, "18 cohort studies"),
]


@pytest.mark.parametrize("study,arm,outcome,measure,time,est,lo,hi,n,source", PAPER_SPOT,
                         ids=[f"{p[0]}-{p[1]}-{p[2]}-{p[3]}" for p in PAPER_SPOT])
def test_primary_source_number_is_the_default(ev, study, arm, outcome, measure, time, est, lo, hi,
                                              n, source):
    sel = ev[(ev.study == study) & (ev.arm == arm) & (ev.outcome == outcome)
             & (ev.measure == measure) & (ev.default_use == "yes")]
    sel = sel[[_nan_or(time, t) for t in sel.time_months]]
    assert len(sel) == 1
    r = sel.iloc[0]
    assert _close(r.estimate, est) and _nan_or(lo, r.ci_low) and _nan_or(hi, r.ci_high)
    assert _nan_or(n, r.n)
    assert source in r.source and r.location.startswith("http")
    if lo is not None:
        assert r.interval == "ci95"


def test_zheng_paper_count_is_default_and_review_count_kept(ev):
    zheng = ev[ev.study == "zheng_96"]
    rr = zheng[zheng.treatment == "REPEAT-RESECTION"]
    arm_n = {a: set(g.n) for a, g in rr.groupby("arm")}
    assert arm_n == {"REPEAT-RESECTION": {48.0}, "REPEAT-RESECTION-table1": {38.0},
                     "REPEAT-RESECTION-gt5cm": {38.0}}
    default = zheng[zheng.default_use == "yes"]
    assert set(default.arm) == {"TACE-RFA", "REPEAT-RESECTION"}
    assert default.source.str.contains("10.3389/fonc.2021.713432").all()
    assert default.size_min_cm.isna().all() and (default.prior_treatment == "resection").all()
    table1 = rr[rr.arm == "REPEAT-RESECTION-table1"]
    assert (table1.default_use == "no").all() and table1.notes.str.contains("111").all()


def test_peng_population_from_the_paper(ev):
    peng = ev[ev.study == "peng_106"]
    default = peng[peng.default_use == "yes"]
    assert set(default.arm) == {"TACE-RFA+SORAFENIB", "SORAFENIB"}
    assert default.size_max_cm.isna().all() and default.nodules_max.isna().all()
    assert (default.prior_treatment == "resection").all()
    assert (default.bclc == "C").all()  # PVTT and/or extrahepatic metastases: BCLC C by definition
    table2 = peng[peng.arm.str.endswith("-table2")]
    assert len(table2) == 6 and (table2.default_use == "no").all()
    assert (table2.size_max_cm == 7).all() and (table2.nodules_max == 5).all()


def test_tactics_is_not_recurrent_hcc(ev):
    trial = ev[ev.study == "ref_107"]
    assert set(trial[trial.default_use == "yes"].population) == {"primary"}
    mixed = trial[trial.population == "mixed"]
    assert set(mixed.arm) == {"TACE-mixed", "TACE+SORAFENIB-mixed"}
    assert (mixed.default_use == "no").all()
    final_pfs = trial[(trial.outcome == "pfs") & _close_series(trial.estimate, 22.8)]
    assert final_pfs.default_use.tolist() == ["no"]


def test_tace_five_year_conflict_review_default(ev):
    review = ev[(ev.study == "ref_54") & (ev.measure == "survival")]
    paper = ev[(ev.study == "meta_18_cohorts") & (ev.arm == "TACE") & (ev.measure == "survival")]
    assert review[["estimate", "default_use"]].values.tolist() == [[0.155, "yes"]]
    assert paper[["estimate", "n", "default_use"]].values.tolist() == [[0.09, 878.0, "no"]]
    assert review.notes.str.contains("meta_18_cohorts").all()
    assert paper.notes.str.contains("ref_54").all()
    # the 10-study HR that repeats yang_82's <= 3 cm subgroup figure is not used
    hr10 = ev[(ev.study == "meta_18_cohorts") & (ev.arm == "REPEAT-RESECTION-10studies")]
    assert hr10.default_use.tolist() == ["no"] and hr10.notes.str.contains("yang_82").all()


def test_yang_82_subgroups(ev):
    yang = ev[ev.study == "yang_82"]
    assert (yang.design == "meta_analysis").all() and (yang.population == "recurrent").all()
    le3 = yang[yang.arm.str.endswith("le3cm")]
    assert (le3.size_max_cm == 3).all() and (le3.nodules_max == 1).all() and le3.n.isna().all()
    mid = yang[yang.arm.str.endswith("3to5cm")]
    assert (mid.size_min_cm == 3).all() and (mid.size_max_cm == 5).all()


def _close_series(values: pd.Series, target: float) -> pd.Series:
    return (values - target).abs() < 1e-9


# ---------------------------------------------------------------------------
# pooled rows: ranges, meta-analyses and the studies they include
def test_ranges_list_their_references(raw):
    rng = raw[raw.interval == "range"]
    assert len(rng) >= 5
    for ref, notes in zip(rng.ref, rng.notes):
        keys = [k for k in ref.split(";") if k]
        assert keys, notes
        assert f"k = {len(keys)} cited reference" in notes


def test_meta_analyses_state_what_they_pool(raw):
    meta = raw[raw.design == "meta_analysis"]
    notes = meta.notes.str.lower()
    assert notes.str.contains("studies pooled").all()
    assert notes.str.contains("patients pooled").all()


def test_includes_marks_overlap(raw):
    studies = set(raw.study)
    pooled = raw[raw.includes != ""]
    assert pooled[["study", "includes"]].values.tolist() == [["ref_46_52", "ref_52"]]
    for study, cell in zip(pooled.study, pooled.includes):
        assert set(cell.split(";")) <= studies - {study}
    assert pooled.design.isin(schema.POOLED_DESIGNS).all()
    # a pooled row without includes says why (constituents unknown or not rows of the table)
    unknown = raw[(raw.design == "meta_analysis") & (raw.includes == "")]
    assert unknown.notes.str.contains(r"includes empty|[Ii]ncludes is empty|not a study of this "
                                      r"table|Studies pooled: not reported").all()


def test_readme_example_validates(tmp_path):
    from rhcc_bayes.evidence.table import load_evidence

    text = (paths.data_dir() / "README.md").read_text(encoding="utf-8")
    example = text.split("```csv\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "my.csv"
    path.write_text(example, encoding="utf-8")
    ev = load_evidence(path)
    assert "mycentre_2024" in ev.studies and len(ev.select(study="mycentre_2024")) == 5
