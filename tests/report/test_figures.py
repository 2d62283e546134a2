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
    # one row per observed survival summary (latent-n rows are likelihood potentials: no replicate draws)
    observed = result.idata.observed_data
    assert len(data) == sum(observed[v].size for v in ("landmark_deaths", "median_alive", "median_log") if v in observed)
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


def test_network_components_and_words():
    comps = plots.network_components(["A", "B", "C", "D"], {("A", "B"): 1})
    assert comps == [["A", "B"], ["C"], ["D"]]
    text = plots.network_text(comps)
    assert "disconnected (3 parts)" in text and "[A - B]" in text and "C, D" in text
    assert "connected" in plots.network_text([["A", "B"]]) and "disconnected" not in plots.network_text([["A", "B"]])


def test_smooth_density_is_smooth_and_bounded():
    import numpy as np

    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(55, 5, 4000), 0, 60)
    grid = np.linspace(0, 60, 601)
    dens = plots.smooth_density(x, grid, 0.0, 60.0)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz
    assert trapezoid(dens, grid) == pytest.approx(1.0, abs=0.02)  # reflected: no mass lost past 60
    assert np.abs(np.diff(dens, 2)).max() < 0.01  # no histogram jaggedness


def _legends_outside(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            lb, ab = leg.get_window_extent(r), ax.get_window_extent(r)
            assert lb.x0 >= ab.x1 - 1, "legend overlaps the data area"


def test_decision_figures_show_the_leading_options(decision):
    fig = plots.survival_curves(decision)
    leading = plots._top(decision, plots.LEADING)
    assert len(fig.axes) == len(leading) <= 3 and "MIXED-LRT" not in leading
    assert all(name in ax.get_title() for ax, name in zip(fig.axes, leading))
    _check(fig)
    fig = plots.survival_curves(decision, layout="overlay")
    _legends_outside(fig)
    _check(fig)
    fig = plots.rmst_densities(decision)
    _legends_outside(fig)
    assert len(fig.axes[0].get_legend().get_texts()) == len(leading)
    _check(fig)


def test_forest_and_ppc_share_one_predictive_distribution(small_fit):
    evidence, result = small_fit
    ppc = ppc_table(result.idata, evidence.table).set_index("row")
    data = plots.forest_data(result.idata, result.design)
    keys = [k for k in list(result.design.landmarks["row_key"]) + list(result.design.medians["row_key"])
            if k in ppc.index]
    assert data["outside"].tolist() == [bool(ppc.loc[k, "outlier"]) for k in keys]
    inside = ~data["outside"]
    assert ((data["observed"] >= data["pred_lo"] - 1e-9) & (data["observed"] <= data["pred_hi"] + 1e-9))[inside].all()
    fig = plots.forest_plot(result.idata, result.design)
    assert "replicate of the same arm" in fig._suptitle.get_text()
    _legends_outside(fig)
    fig2 = plots.ppc_plot(ppc.reset_index())
    assert "replicate of the same arm" in fig2.axes[0].get_title()
    _legends_outside(fig2)


def test_evidence_map_names_disconnected_parts(small_fit):
    _, result = small_fit
    fig = plots.evidence_map(result.design)
    words = " ".join(t.get_text() for t in fig.texts)
    assert "network is" in words


def test_no_backend_forced_at_import():
    import os
    import subprocess
    import sys

    code = ("import matplotlib; import rhcc_bayes.report.figures; import matplotlib.pyplot as plt; "
            "print(matplotlib.get_backend())")
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().lower() == "svg"
