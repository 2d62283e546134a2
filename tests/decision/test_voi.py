"""Value of information: EVPPI and EVSI against closed forms, bounds, executors, and the shared small fit.

The conjugate toy decision (derivation). Two options with net benefits NB_0 = 0 and
NB_1 = theta_1 + theta_2, theta_1 ~ N(m1, s1^2), theta_2 ~ N(m2, s2^2) independent. For X ~ N(m, v^2),
E[max(0, X)] = m Phi(m/v) + v phi(m/v), so with f(m, v) = m Phi(m/v) + v phi(m/v) - max(0, m):

- EVPI = f(m1 + m2, sqrt(s1^2 + s2^2))   (max over options of the per-draw net benefit);
- EVPPI(theta_1) = f(m1 + m2, s1)          (E[NB_1 | theta_1] = theta_1 + m2 ~ N(m1 + m2, s1^2));
- EVSI of a study of n observations y_i ~ N(theta_1, sigma^2): E[theta_1 | ybar] is normal with
  mean m1 and variance s1^2 * n s1^2 / (n s1^2 + sigma^2) (the preposterior variance), so
  EVSI(n) = f(m1 + m2, s1 sqrt(n s1^2 / (n s1^2 + sigma^2))), increasing in n towards EVPPI(theta_1).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from rhcc_bayes.decision.evsi import check_study, evsi_task, run_tasks
from rhcc_bayes.decision.voi import evpi_of, voi_by_regression

M1, M2, S1, S2, SIGMA = 0.3, -0.2, 1.0, 0.7, 2.0


def f(m, v):
    return m * norm.cdf(m / v) + v * norm.pdf(m / v) - max(m, 0.0)


def toy(n=4000, seed=1, extra=0):
    rng = np.random.default_rng(seed)
    t1, t2 = rng.normal(M1, S1, n), rng.normal(M2, S2, n)
    nb = np.column_stack([np.zeros(n), t1 + t2])
    noise = rng.normal(size=(n, extra))  # parameters the decision does not depend on
    return nb, t1, noise, rng


def test_closed_forms_are_ordered():
    assert 0 < f(M1 + M2, S1 * np.sqrt(5 / (5 + SIGMA ** 2))) < f(M1 + M2, S1) < f(M1 + M2, np.hypot(S1, S2))


@pytest.mark.parametrize("method,extra", [("gam", 0), ("rff", 0), ("gam", 2), ("rff", 5)])
def test_evppi_matches_closed_form(method, extra):
    nb, t1, noise, _ = toy(extra=extra)
    r = voi_by_regression(nb, np.column_stack([t1, noise]), method=method)
    truth = f(M1 + M2, S1)
    assert r["method"] == method and r["se"] > 0
    assert abs(r["value"] - truth) < 3 * r["se"], (r, truth)
    ev, ev_se = evpi_of(nb)
    assert abs(ev - f(M1 + M2, np.hypot(S1, S2))) < 3 * ev_se


def test_rff_agrees_with_gam_on_the_same_draws():
    """The fast approximation for large groups gives the GAM's answer where both apply."""
    nb, t1, noise, rng = toy(extra=2, seed=3)
    x = np.column_stack([t1, noise[:, 0] * 0.5 + t1 * 0.3, noise[:, 1]])
    nb = np.column_stack([nb, 0.5 * t1 ** 2 - 0.6 + rng.normal(0, 0.3, len(t1))])  # a nonlinear third option
    gam = voi_by_regression(nb, x, method="gam")
    rff = voi_by_regression(nb, x, method="rff")
    assert abs(gam["value"] - rff["value"]) < 2 * np.hypot(gam["se"], rff["se"]), (gam, rff)


def test_irrelevant_group_has_little_value():
    nb, _, noise, _ = toy(extra=1)
    r = voi_by_regression(nb, noise[:, 0])
    assert r["value"] < 3 * r["se"] + 0.01
    assert voi_by_regression(nb, np.ones(len(nb)))["value"] == 0.0  # a constant group
    from rhcc_bayes.decision.voi import noise_floor

    floor = noise_floor(nb, 3)
    assert floor["value"] < 3 * floor["se"] + 0.01 and floor["n_params"] == 3


@settings(max_examples=12, deadline=None)
@given(m=st.floats(-1.5, 1.5), s1=st.floats(0.1, 2.0), s2=st.floats(0.0, 2.0), seed=st.integers(0, 10_000))
def test_evppi_never_exceeds_evpi(m, s1, s2, seed):
    rng = np.random.default_rng(seed)
    n = 1500
    t1, t2 = rng.normal(m, s1, n), rng.normal(0, s2, n) if s2 > 0 else np.zeros(n)
    nb = np.column_stack([np.zeros(n), t1 + t2, 0.3 * t1 - t2 + rng.normal(0, 0.2, n)])
    ev, _ = evpi_of(nb)
    r = voi_by_regression(nb, t1, n_se=40)
    assert 0.0 <= r["value"] <= ev + 3 * r["se"] + 1e-9
    # the grouped estimate (what evppi() reports) is capped by EVPI on the same draws
    assert min(r["value"], ev) <= ev


def _evsi_toy(n_study, draws=4000, seed=2):
    nb, t1, _, rng = toy(n=draws, seed=seed)
    ybar = rng.normal(t1, SIGMA / np.sqrt(n_study))
    return voi_by_regression(nb, ybar), f(M1 + M2, S1 * np.sqrt(n_study * S1 ** 2 / (n_study * S1 ** 2 + SIGMA ** 2)))


def test_evsi_matches_closed_form_and_grows_with_n():
    results = [_evsi_toy(n) for n in (1, 4, 16, 400)]
    for r, truth in results:
        assert abs(r["value"] - truth) < 3 * r["se"], (r, truth)
    values = [r["value"] for r, _ in results]
    assert values[0] < values[1] < values[2]
    nb, t1, _, _ = toy(seed=2)
    limit = voi_by_regression(nb, t1)
    assert abs(values[-1] - limit["value"]) < 3 * limit["se"]  # n -> infinity: EVPPI of theta_1


def _survival_tasks():
    rng = np.random.default_rng(5)
    draws = 1200
    theta = rng.normal(0, 0.4, draws)
    surv = np.exp(-np.exp(theta)[:, None] * np.array([12.0, 36.0]) / 30)  # exponential, rate exp(theta)/30
    rmst = 30 * np.exp(-theta) * (1 - np.exp(-np.exp(theta) * 2))
    nb = np.column_stack([np.full(draws, rmst.mean()), rmst])
    return [{"n": n, "seed": 3, "survival": surv, "nb": nb, "method": "auto", "n_se": 30} for n in (10, 80)]


def test_evsi_tasks_identical_on_every_executor():
    tasks = _survival_tasks()
    sync = run_tasks(tasks, "sync")
    assert sync == run_tasks(tasks, "processes", workers=2)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        assert sync == run_tasks(tasks, c.scheduler_address)
    assert sync[0]["evsi"] <= sync[1]["evsi"] + 3 * sync[1]["se"]
    assert evsi_task(tasks[0]) == sync[0]  # seeded by (seed, n): a rerun gives the same numbers


def test_check_study_errors():
    from rhcc_bayes.core.errors import UserError

    with pytest.raises(UserError, match=r"'RFX' is not in the posterior \(did you mean 'RFA'\?\); known: RFA, MWA"):
        check_study("RFX", [10], 60, ["RFA", "MWA"])
    with pytest.raises(UserError, match="whole number of patients"):
        check_study("RFA", [0], 60, ["RFA"])
    with pytest.raises(UserError, match="distinct"):
        check_study("RFA", [10, 10], 60, ["RFA"])
    with pytest.raises(UserError, match=r"follow-up must be in \(0, 240\]"):
        check_study("RFA", [10], 0, ["RFA"])
    s = check_study("RFA", [200, 50], 48, ["RFA"])
    assert s.sizes == (50, 200) and s.landmarks == (12.0, 36.0, 48.0)


# ---------------------------------------------------------------- the shared small fit
@pytest.fixture(scope="module")
def small_decision(small_fit, examples_dir):
    from rhcc_bayes.decision.profile import load_profile

    _, post = small_fit
    profile = load_profile(examples_dir / "profiles" / "multifocal_early_mvi.toml")
    return post, profile, post.decide(profile)


@pytest.mark.slow
def test_parameter_groups_of_the_survival_model(small_decision):
    from rhcc_bayes.decision.voi import net_benefit, parameter_groups

    post, _, dec = small_decision
    nb, options = net_benefit(dec)
    groups = parameter_groups(post.draws, options)
    assert {f"treatment:{t}" for t in options} <= set(groups)
    assert {"class:ablation", "covariates", "baseline", "heterogeneity"} <= set(groups)
    assert list(groups["baseline"].columns) == [f"gamma[{s}]" for s in post.draws.posterior["segment"].values]
    assert {"tau_treatment", "sigma_study"} <= set(groups["heterogeneity"].columns)
    assert all(len(g) == nb.shape[0] for g in groups.values())
    # the own effect is mu - class effect: it adds back up to mu
    mu = post.draws.posterior["mu"].sel(treatment="RFA").values.ravel()
    cls = post.draws.posterior["class_effect"].sel(modality="ablation").values.ravel()
    np.testing.assert_allclose(groups["treatment:RFA"].iloc[:, 0] + cls, mu)


@pytest.mark.slow
def test_evppi_and_evsi_on_the_small_fit(small_decision):
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.decision.evsi import evsi
    from rhcc_bayes.decision.voi import evppi

    post, profile, dec = small_decision
    table = dec.evppi(post, ["class:ablation", "baseline", "covariates"], n_se=30)  # the DecisionResult hook
    assert set(table["group"]) == {"class:ablation", "baseline", "covariates"}
    assert (table["evppi"] <= table["evpi"]).all() and (table["evppi"] >= 0).all() and (table["se"] > 0).all()
    by = table.set_index("group")
    assert by.loc["covariates", "method"] == "rff"
    assert by.loc["class:ablation", "above_floor"] and by.loc["class:ablation", "evppi"] > 5 * by.loc["class:ablation", "floor"]
    assert table["evpi"].iloc[0] == pytest.approx(dec.evpi["mean"])
    assert table.attrs["profile"] == profile.id and table.attrs["options"] == dec.ranked["treatment"].tolist()
    with pytest.raises(UserError, match=r"unknown parameter group 'class:ablatio' \(did you mean 'class:ablation'\?\)"):
        evppi(post, profile, ["class:ablatio"], decision=dec)
    ev = evsi(post, profile, treatment="RFA", sizes=[20, 200], followup=36, decision=dec, executor="sync", n_se=30)
    assert ev["n"].tolist() == [20, 200] and ev.attrs["landmarks"] == [12.0, 36.0]
    assert (ev["evsi"] <= ev["evppi_limit"] + 3 * ev["se"]).all()


def test_figures_and_report_hook():
    import pandas as pd

    from rhcc_bayes.report.sections import SECTIONS, DecisionSection
    from rhcc_bayes.report.voi_figure import ValueOfInformationSection, evppi_figure, evsi_figure, with_voi

    t = pd.DataFrame({"group": ["baseline", "class:ablation"], "parameters": [4, 1], "evppi": [0.2, 1.0],
                      "se": [0.02, 0.05], "evpi": [2.0, 2.0]})
    t.attrs.update(profile="p1", criterion="RMST", horizon=60)
    fig = evppi_figure(t)
    ax = fig.axes[0]
    assert [tk.get_text() for tk in ax.get_yticklabels()] == ["baseline (4)", "class:ablation (1)"]
    assert "What uncertainty matters" in ax.get_title(loc="left")
    e = pd.DataFrame({"treatment": "RFA", "n": [50, 100], "evsi": [0.1, 0.2], "se": [0.01, 0.01],
                      "evppi_limit": 0.3, "evpi": 2.0})
    assert "RFA" in evsi_figure(e).axes[0].get_title(loc="left")
    secs = with_voi(SECTIONS)
    i = next(k for k, s in enumerate(secs) if isinstance(s, DecisionSection))
    assert isinstance(secs[i + 1], ValueOfInformationSection) and len(secs) == len(SECTIONS) + 1
