"""Report sections: automatic numbering, both writers, the answer-first bottom line (no fit needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from rhcc_bayes.decision.profile import PatientProfile
from rhcc_bayes.report import bottom_line as bl
from rhcc_bayes.report.sections import (
    SECTIONS,
    LimitationsSection,
    Section,
    render_sections,
)
from rhcc_bayes.report.writers import (
    Bullets,
    Heading,
    Panel,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)


class _Text(Section):
    def __init__(self, title, text, numbered=True):
        self.title, self.text, self.numbered = title, text, numbered

    def blocks(self, ctx):
        return None if self.text is None else [Paragraph(self.text)]


def _headings(blocks):
    return [b.text for b in blocks if isinstance(b, Heading)]


def test_numbering_is_automatic_and_skips_absent_sections():
    sections = [_Text("", "top", numbered=False), _Text("Alpha", "a"), _Text("Gone", None), _Text("Beta", "b"),
                _Text("Appendix note", "n", numbered=False), _Text("Gamma", "c")]
    blocks = render_sections(sections, ctx=None)
    assert _headings(blocks) == ["1. Alpha", "2. Beta", "Appendix note", "3. Gamma"]


def test_adding_a_section_is_one_class():
    class Funding(Section):
        title = "Funding"

        def blocks(self, ctx):
            return [Paragraph("None.")]

    blocks = render_sections([*[_Text(f"S{k}", "x") for k in range(3)], Funding()], ctx=None)
    assert _headings(blocks)[-1] == "4. Funding"
    assert "## 4. Funding\n\nNone." in to_markdown(blocks)


def test_one_section_renders_alone_in_both_formats():
    lim = LimitationsSection()
    md = lim.markdown(None, number=11)
    assert md.startswith("## 11. Limitations") and md.count("\n- ") >= 5
    html = lim.html(None)
    assert "<h2>Limitations</h2>" in html and html.count("<li>") >= 5


def test_writers_escape_and_nest():
    blocks = [Panel((Heading(2, "Bottom <line>"), Paragraph("a | b", "answer"),
                     Table(pd.DataFrame({"x": ["1|2"], "y": ["<b>"]})))), Bullets(("one", "two"))]
    md, html = to_markdown(blocks), to_html("t", blocks)
    assert md.startswith("> ## Bottom <line>") and "1\\|2" in md
    assert "&lt;b&gt;" in html and "<b>" not in html.replace("<body>", "") and 'class="panel"' in html


def test_bundled_report_order():
    titles = [s.title for s in SECTIONS if s.numbered]
    assert titles[0] == "Patient profile" and titles[-1] == "Limitations" and len(titles) == 11
    assert not SECTIONS[1].numbered and type(SECTIONS[1]).__name__ == "BottomLine"


# --- the bottom line on a hand-made decision -------------------------------------------------
def _decision(means, sd=1.0, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    names = list(means)
    draws = np.stack([rng.normal(m, sd, n) for m in means.values()], axis=-1)[None]  # (chain, draw, trt)
    rmst = xr.DataArray(draws, dims=("chain", "draw", "treatment"), coords={"treatment": names})
    best = draws[0].argmax(axis=1)
    rows = []
    for j, t in enumerate(names):
        x = draws[0, :, j]
        rows.append({"treatment": t, "status": "eligible", "rmst_mean": x.mean(), "rmst_lo": np.quantile(x, .025),
                     "rmst_hi": np.quantile(x, .975), "s60_mean": .5, "s60_lo": .3, "s60_hi": .7,
                     "p_best": float((best == j).mean())})
    table = pd.DataFrame(rows).sort_values("rmst_mean", ascending=False).reset_index(drop=True)
    loss = draws[0].max(axis=1) - draws[0, :, int(np.argmax(draws[0].mean(axis=0)))]
    return SimpleNamespace(table=table, survival=xr.Dataset({"rmst": rmst}), horizon=60.0, criterion="RMST",
                           population="average", evpi={"mean": float(loss.mean()), "lo": 0.0,
                                                       "hi": float(np.quantile(loss, .975))})


def test_a_clear_leader_is_named_with_its_advantage():
    res = _decision({"A": 45.0, "B": 35.0, "C": 30.0})
    lead = bl.leading_options(res)
    assert list(lead["treatment"]) == ["A", "B", "C"]
    assert lead["diff_mean"].iloc[1] == pytest.approx(10.0, abs=0.2) and lead["diff_lo"].iloc[1] > 0
    sentence = bl.certainty_sentence(res, lead)
    assert sentence.startswith("A is likely the best option: P(best) 1.00") and "than B" in sentence
    shown = bl.leading_table(res, lead)
    assert shown.iloc[0, -2] == "leader" and "5-year survival [95% CrI]" in shown.columns


def test_no_clear_leader_is_said_in_plain_words():
    res = _decision({"A": 40.2, "B": 40.0, "C": 39.9}, sd=5.0)
    lead = bl.leading_options(res)
    sentence = bl.certainty_sentence(res, lead)
    assert sentence.startswith("No option is clearly better: the evidence does not separate A, B and C")
    assert "more evidence would be worth" in sentence


def test_flags_grouped_once_per_kind():
    honesty = pd.DataFrame({
        "treatment": ["A", "B", "C", "D"], "status": ["eligible", "eligible", "conditional", "excluded"],
        "flags": ["class prior only: no arm of this treatment is in the likelihood; its estimate is its modality "
                  "class's mean plus prior spread",
                  "class prior only: no arm of this treatment is in the likelihood; its estimate is its modality "
                  "class's mean plus prior spread; extrapolation: profile outside the inclusion limits of its arms "
                  "(tumour 6.5 cm is outside every arm's limits (<= 3 cm; <= 5 cm)); effects from the covariate "
                  "model, mostly prior-driven",
                  "", "class prior only: whatever"]})
    table = bl.flag_summary(honesty)
    assert list(table["treatments affected"]) == [2, 1]
    assert table["which"].iloc[0] == "A, B"  # D is excluded: not listed
    assert bl.split_flags(honesty["flags"].iloc[1])[1].endswith("(<= 3 cm; <= 5 cm)); effects from the covariate "
                                                                 "model, mostly prior-driven")
    assert table["flag"].iloc[1].startswith("extrapolation: the profile lies outside the inclusion limits")


def test_profile_reads_as_a_clinician_writes_it():
    p = PatientProfile(id="p1", tumour_size_cm=2.5, nodules=1, months_since_treatment=30,
                       microvascular_invasion=False, prior_treatment="resection", child_pugh="A")
    table = bl.profile_table(p)
    values = dict(zip(table["field"], table["value"]))
    assert values["microvascular invasion"] == "no" and values["largest tumour (cm)"] == "2.5"
    assert values["portal hypertension"] == "unknown"
    assert not table["value"].isin(["True", "False", "None"]).any()
    assert bl.patient_line(p).startswith("p1: 2.5 cm solitary recurrent HCC, late recurrence (30 months) after "
                                         "resection; Child-Pugh A")
    assert bl.covariates_text(p.model_covariates()) == ("tumour <= 3 cm, solitary, late recurrence, reference prior "
                                                        "treatment (resection or not reported)")
    transplant = PatientProfile(id="p2", prior_treatment="transplant")
    assert bl.covariates_text(transplant.model_covariates()).endswith(", after transplant")


def test_bottom_line_says_when_the_horizon_is_beyond_the_evidence():
    from rhcc_bayes.report.sections import BottomLine

    res = _decision({"A": 45.0, "B": 35.0})
    res.honesty = pd.DataFrame({"treatment": ["A", "B"], "status": ["eligible", "eligible"], "flags": ["", ""]})
    p = PatientProfile(id="p1", tumour_size_cm=2.5, nodules=1)
    ctx = SimpleNamespace(decision=res, profile=p)
    res.extrapolation = ""
    assert "Beyond the evidence" not in to_markdown(BottomLine().blocks(ctx))
    res.extrapolation = "RMST to 120 months ... extrapolate beyond the last time the evidence observes survival"
    assert "Beyond the evidence: RMST to 120 months" in to_markdown(BottomLine().blocks(ctx))


def test_modality_sentence_and_prior_only_marker():
    res = _decision({"A": 45.0, "B": 35.0, "C": 30.0})
    assert bl.modality_sentence(res) == ""  # no modality table: nothing to say
    res.honesty = pd.DataFrame({"treatment": ["A", "B", "C"], "status": ["eligible"] * 3,
                                "modality": ["surgery", "ablation", "ablation"],
                                "class_prior_only": [False, True, True], "flags": ["", "", ""]})
    res.modality_table = pd.DataFrame({"modality": ["surgery", "ablation"], "options": ["A", "B, C"],
                                       "leading": ["A", "B"], "utility_mean": [45.0, 35.0],
                                       "p_best": [0.7, 0.3], "expected_loss": [1.0, 9.0]})
    sentence = bl.modality_sentence(res)
    assert sentence.startswith("Probability that the best option is of each modality: surgery 0.70, ablation 0.30")
    assert "ablation options have no data of their own" in sentence
    shown = bl.leading_table(res, bl.leading_options(res))
    assert shown["option"].tolist()[1] == "B - no data of its own (class prior)"
