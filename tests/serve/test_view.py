"""The page's content is the report's: the bottom-line panel, the decision table and the curves
of the DecisionResult for the profile, with a prior-only leader labelled."""

from __future__ import annotations

import dataclasses
import html

import pytest

from rhcc_bayes.report import bottom_line as bl
from rhcc_bayes.serve.form import default_profile
from rhcc_bayes.serve.view import decision_view


@pytest.fixture(scope="module")
def posterior(small_fit):
    return small_fit[1]


def test_view_shows_the_decision(posterior):
    profile = default_profile()
    view = decision_view(posterior, profile)
    res = view.decision
    lead = bl.leading_options(res)
    table = bl.leading_table(res, lead)
    page = html.unescape(view.panel)
    assert "Bottom line" in page and bl.patient_line(profile) in page
    assert bl.certainty_sentence(res, lead) in page
    for row in table.itertuples(index=False):  # every leading option with its numbers
        assert all(str(cell) in page for cell in row), row
    for trt in res.table["treatment"]:  # every candidate in the decision table
        assert f"<td>{html.escape(trt)}</td>" in view.table
    assert view.curves[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(view.timings_ms) == {f"{k}{s}" for k in ("decide", "panel_and_table", "curves") for s in ("", "_cpu")}


def test_view_follows_the_profile(posterior):
    small = decision_view(posterior, default_profile(), curves=False)
    large = decision_view(posterior, dataclasses.replace(default_profile(), tumour_size_cm=6.0), curves=False)
    assert "6 cm solitary" in html.unescape(large.panel)
    a, b = (bl.leading_options(v.decision) for v in (small, large))
    assert (a["treatment"].iloc[0], a["rmst_mean"].iloc[0]) != (b["treatment"].iloc[0], b["rmst_mean"].iloc[0])


def test_prior_only_leader_is_labelled(posterior):
    res = posterior.decide(default_profile())
    lead = bl.leading_options(res)
    prior_only = bl._prior_only(res)
    note = bl.prior_only_note(res, lead)
    leader = lead["treatment"].iloc[0]
    if leader not in prior_only:  # the note appears exactly when the leader has no data of its own
        assert note == ""
        lead = lead[lead["treatment"].isin(prior_only)].reset_index(drop=True)
        if lead.empty:
            pytest.skip("no prior-only candidate for this profile on this fit")
        leader = lead["treatment"].iloc[0]
        note = bl.prior_only_note(res, lead)
    ranked = res.ranked
    own = ranked[~ranked["treatment"].isin(prior_only)].iloc[0]
    assert note.startswith(f"{leader} leads without data of its own (class prior only)")
    assert (f"The leading option with its own data is {own.treatment}: RMST to 60 months "
            f"{own.rmst_mean:.1f} [{own.rmst_lo:.1f}, {own.rmst_hi:.1f}], P(best) {own.p_best:.2f}.") in note
    if leader == bl.leading_options(res)["treatment"].iloc[0]:
        assert html.escape(note) in decision_view(posterior, default_profile(), curves=False).panel
