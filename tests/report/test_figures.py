"""Every plot returns a Figure that renders to a valid PNG."""

from __future__ import annotations

import io

import pytest
from matplotlib.figure import Figure
from PIL import Image

from rhcc_bayes.report import figures as plots
from rhcc_bayes.survival.criticism import ppc_table
from rhcc_bayes.decision.recommend import decide_profile
from rhcc_bayes.decision.profile import PatientProfile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decision(small_fit):
    _, result = small_fit
    return decide_profile(result.idata, PatientProfile(id="p", tumour_size_cm=2.0, nodules=1), design=result.design)


def _check(fig):
    assert isinstance(fig, Figure) and fig.axes
    img = Image.open(io.BytesIO(plots.figure_png(fig)))
    img.verify()
    assert img.size[0] > 200


def test_decision_plots(decision):
    _check(plots.survival_curves(decision))
    _check(plots.rmst_densities(decision, max_treatments=3))


def test_evidence_and_forest(small_fit):
    _, result = small_fit
    _check(plots.evidence_map(result.design))
    data = plots.forest_data(result.idata, result.design)
    assert len(data) == len(result.design.landmarks) + len(result.design.medians)
    assert (data["pred_lo"] <= data["pred_hi"]).all()
    _check(plots.forest_plot(result.idata, result.design))


def test_ppc_and_trace(small_fit):
    evidence, result = small_fit
    _check(plots.ppc_plot(ppc_table(result.idata, evidence.table)))
    _check(plots.trace_rank_plot(result.idata))


def test_network_edges():
    import pandas as pd

    arms = pd.DataFrame({"study": ["a", "a", "b", "c", "c"], "treatment": ["X", "Y", "X", "X", "Y"]})
    assert plots._network_edges(arms) == {("X", "Y"): 2}
