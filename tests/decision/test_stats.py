"""Closed forms against brute force, decision-summary invariants, batch = single."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rhcc_bayes.decision import cohort as cohort_mod, stats, utility
from rhcc_bayes.survival import piecewise as d
from rhcc_bayes.core.errors import UserError, ValidationError

CUTS = (0.0, 12.0, 36.0, 60.0, math.inf)

# log hazards per month from about 1e-4 to 0.6 (median survival ~1 month .. centuries)
log_h = st.floats(min_value=math.log(1e-4), max_value=math.log(0.6))
cut_sets = st.sampled_from([CUTS, (0.0, 6.0, 24.0, math.inf), (0.0, math.inf),
                            (0.0, 12.0, 36.0, 60.0, 120.0), (0.0, 3.5, 7.25, 60.0, math.inf)])


@st.composite
def hazards(draw, n=3):
    cuts = draw(cut_sets)
    lh = draw(arrays(float, (n, len(cuts) - 1), elements=log_h))
    return cuts, lh


def brute_survival(lh, cuts, t):
    """S(t) by summing hazard x exposure segment by segment, one time at a time."""
    out = np.empty(lh.shape[:-1] + (len(t),))
    for i, ti in enumerate(t):
        H = 0.0
        for k in range(len(cuts) - 1):
            H = H + np.exp(lh[..., k]) * max(0.0, min(ti, cuts[k + 1]) - cuts[k])
        out[..., i] = np.exp(-H)
    return out


def posterior(n_chain=2, n_draw=50, treatments=("RFA", "TACE", "TARE"), seed=0, profile=None):
    rng = np.random.default_rng(seed)
    shape = (n_chain, n_draw, len(treatments), 4)
    dims = ("chain", "draw", "treatment", "segment")
    coords = {"treatment": list(treatments)}
    if profile is not None:
        shape = (len(profile),) + shape
        dims = ("profile",) + dims
        coords["profile"] = list(profile)
    lh = rng.normal(np.log(0.02), 0.4, shape) + np.linspace(0, 0.3, len(treatments))[:, None]
    return xr.DataArray(lh, dims=dims, coords=coords)


# --- closed forms --------------------------------------------------------------------
@given(hazards(), st.lists(st.floats(0, 60), min_size=1, max_size=6))
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_survival_matches_brute_force_in_unit_interval(hc, times):
    cuts, lh = hc
    s = d.survival_at(lh, cuts, times)
    assert np.allclose(s, brute_survival(lh, cuts, times), rtol=1e-12, atol=1e-15)
    assert np.all((s >= 0) & (s <= 1))


@given(hazards())
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_survival_non_increasing_on_grid(hc):
    cuts, lh = hc
    grid = np.arange(0.0, 61.0)
    for s in (d.survival_at(lh, cuts, grid), d.survival_grid(lh, cuts, grid)):
        assert np.all(np.diff(s, axis=-1) <= 0)
        assert np.all((s >= 0) & (s <= 1))
    assert np.allclose(d.survival_grid(lh, cuts, grid), d.survival_at(lh, cuts, grid),
                       rtol=1e-5, atol=1e-7)


@given(hazards(), st.floats(0.5, 60))
@settings(max_examples=60, deadline=None)
def test_rmst_equals_integral_of_survival(hc, horizon):
    cuts, lh = hc
    t = np.linspace(0.0, horizon, 20001)
    numeric = np.trapezoid(d.survival_at(lh, cuts, t), t, axis=-1)
    closed = d.rmst(lh, cuts, horizon)
    assert np.allclose(closed, numeric, rtol=1e-6, atol=1e-6)
    assert np.all(closed <= horizon + 1e-12) and np.all(closed > 0)


def test_rmst_constant_hazard_and_tiny_hazard():
    lam = 0.03
    lh = np.full((1, 4), math.log(lam))
    assert d.rmst(lh, CUTS, 60)[0] == pytest.approx((1 - math.exp(-lam * 60)) / lam, rel=1e-13)
    tiny = np.full((1, 4), -40.0)  # h ~ 4e-18: RMST must be the horizon, not 0/0
    assert d.rmst(tiny, CUTS, 60)[0] == pytest.approx(60.0, rel=1e-12)


@given(hazards())
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_median_solves_s_equal_half(hc):
    cuts, lh = hc
    m = d.median_survival(lh, cuts)
    for row, mi in zip(lh, m):
        if np.isfinite(mi):
            assert d.survival_at(row, cuts, [mi])[0] == pytest.approx(0.5, rel=1e-9)
        else:  # never reaches 0.5 within the cuts
            assert d.survival_at(row, cuts, [cuts[-1] if math.isfinite(cuts[-1]) else 1e9])[0] \
                >= 0.5 - 1e-12


@given(hazards(), st.floats(1, 60))
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_median_beyond_horizon_is_inf(hc, horizon):
    cuts, lh = hc
    m = d.median_survival(lh, cuts, horizon=horizon)
    s_h = d.survival_at(lh, cuts, [horizon])[:, 0]
    assert np.all(np.isinf(m) == (s_h > 0.5))


def test_median_constant_hazard():
    lh = np.full((1, 4), math.log(0.05))
    assert d.median_survival(lh, CUTS)[0] == pytest.approx(math.log(2) / 0.05)


def test_cuts_and_times_validated():
    lh = np.zeros((1, 2))
    with pytest.raises(ValueError, match="cuts must start at 0"):
        d.rmst(lh, (1, 2, 3), 2)
    with pytest.raises(ValueError, match="beyond the last cut"):
        d.survival_at(lh, (0, 1, 2), [3])


# --- decision summaries --------------------------------------------------------------
utilities = arrays(float, st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 6)),
                   elements=st.floats(-50, 50) | st.sampled_from([0.0, 1.0]))


@given(utilities)
@settings(deadline=None)  # shared, loaded machine: timings are not the point
def test_decision_stats_invariants(u):
    stt = stats.decision_stats(u)
    b, s, j = u.shape
    assert np.allclose(stt["p_best"].sum(-1), 1.0)
    assert np.all(stt["evpi"] >= 0)
    assert np.all(stt["expected_loss"] >= -1e-12)
    assert np.allclose(stt["rank_prob"].sum(-1), 1.0)   # each treatment has some rank
    assert np.allclose(stt["rank_prob"].sum(-2), 1.0)   # each rank is held by someone
    assert np.allclose(stt["rank_prob"][..., 0], stt["p_best"])
    assert np.all((stt["sucra"] >= -1e-12) & (stt["sucra"] <= 1 + 1e-12))
    # EVPI = E[max] - max E = min expected loss
    assert np.allclose(stt["evpi"], stt["expected_loss"].min(-1), atol=1e-9)


def test_ties_are_split():
    u = np.array([[[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]]])
    stt = stats.decision_stats(u)
    assert np.allclose(stt["p_best"][0], [(0.5 + 1 / 3) / 2, (0.5 + 1 / 3) / 2, (1 / 3) / 2])
    assert np.allclose(stt["rank_prob"][0, 2], [1 / 6, 1 / 6, 2 / 3])


def test_dominant_treatment():
    u = np.array([[[3.0, 1.0, 2.0]] * 5])
    stt = stats.decision_stats(u)
    assert stt["p_best"][0].tolist() == [1.0, 0.0, 0.0]
    assert stt["sucra"][0].tolist() == [1.0, 0.0, 0.5]
    assert stt["evpi"][0] == 0.0


# --- xarray layer --------------------------------------------------------------------
def test_survival_summary_dims_and_values():
    lh = posterior()
    ds = d.survival_summary(lh, CUTS, horizon=60)
    assert ds["survival"].dims == ("chain", "draw", "treatment", "time")
    assert ds["time"].values.tolist() == list(range(61))
    assert set(ds.data_vars) == {"survival", "rmst", "median", "s12", "s36", "s60"}
    assert ds["rmst"].dims == ("chain", "draw", "treatment")
    assert np.allclose(ds["s36"], ds["survival"].sel(time=36), rtol=1e-5)
    assert np.allclose(ds["rmst"], d.rmst(lh.values, CUTS, 60), rtol=1e-12)
    assert np.allclose(ds["s12"], d.survival_at(lh.values, CUTS, [12])[..., 0], rtol=1e-12)
    assert np.allclose(ds["median"], d.median_survival(lh.values, CUTS, horizon=60), rtol=1e-9)
    assert ds["treatment"].values.tolist() == ["RFA", "TACE", "TARE"]


@given(hazards(), st.floats(1, 60), st.lists(st.floats(0.5, 60), min_size=1, max_size=3))
@settings(max_examples=60, deadline=None)
def test_fused_summary_matches_public_closed_forms(hc, horizon, landmarks):
    """survival_summary's one-pass core agrees with the separate closed forms."""
    cuts, lh = hc
    if math.isfinite(cuts[-1]) and max(horizon, *landmarks) > cuts[-1]:
        return
    da = xr.DataArray(lh, dims=("treatment", "segment"))
    ds = d.survival_summary(da, cuts, horizon, landmarks, curves=False)
    assert np.allclose(ds["rmst"], d.rmst(lh, cuts, horizon), rtol=1e-9, atol=1e-12)
    assert np.allclose(ds["median"], d.median_survival(lh, cuts, horizon), rtol=1e-8)
    s = d.survival_at(lh, cuts, landmarks)
    for i, t in enumerate(landmarks):
        assert np.allclose(ds[f"s{t:g}"], s[:, i], rtol=1e-9, atol=1e-300)


def test_summary_without_landmarks_and_short_horizon():
    ds = d.survival_summary(posterior(), CUTS, horizon=6, landmarks=())
    assert {"rmst", "median", "survival"} <= set(ds.data_vars)
    assert (ds["rmst"] <= 6).all()
    assert stats.decision_table(ds)["p_best"].sum() == pytest.approx(1.0)


def test_survival_band():
    ds = d.survival_summary(posterior(n_draw=100), CUTS, horizon=24)
    band = d.survival_band(ds)
    assert band["mean"].dims == ("treatment", "time")
    assert (band["lo"] <= band["mean"]).all() and (band["mean"] <= band["hi"]).all()
    expect = ds["survival"].astype(float).quantile(0.975, dim=("chain", "draw"))
    assert np.allclose(band["hi"], expect.transpose("treatment", "time"))


def test_decision_table_columns_and_intervals():
    ds = d.survival_summary(posterior(n_draw=200), CUTS)
    df = stats.decision_table(ds)
    for q in ("rmst", "s12", "s36", "s60"):
        assert (df[f"{q}_lo"] <= df[f"{q}_mean"]).all() and (df[f"{q}_mean"] <= df[f"{q}_hi"]).all()
    assert {"median_med", "median_lo", "median_hi", "p_best", "expected_loss", "sucra",
            "mean_rank", "evpi", "candidate"} <= set(df.columns)
    assert df["p_best"].sum() == pytest.approx(1.0)
    assert df.attrs["criterion"] == "rmst"
    # lowest hazard (RFA, offset 0) should usually be best
    assert df.set_index("treatment")["p_best"].idxmax() == "RFA"


def test_decision_table_candidates_restrict_decision():
    ds = d.survival_summary(posterior(), CUTS)
    df = stats.decision_table(ds, candidates=["TACE", "TARE"]).set_index("treatment")
    assert np.isnan(df.loc["RFA", "p_best"]) and not df.loc["RFA", "candidate"]
    assert df.loc[["TACE", "TARE"], "p_best"].sum() == pytest.approx(1.0)
    assert np.isfinite(df.loc["RFA", "rmst_mean"])


def test_decision_summaries_xarray():
    ds = d.survival_summary(posterior(), CUTS, curves=False)
    dec = stats.decision_summaries(ds["rmst"])
    assert dec["rank_probability"].dims == ("treatment", "rank")
    assert float(dec["p_best"].sum()) == pytest.approx(1.0)
    assert float(dec["evpi"]) >= 0


def test_utility_weights_and_qa_rmst(tmp_path):
    f = tmp_path / "u.toml"
    f.write_text("[utility]\ncomplication_months = 2.0\nhospital_day_months = 0.1\n")
    w = utility.load_utility_weights(f)
    assert w == utility.UtilityWeights(2.0, 0.1)
    ds = d.survival_summary(posterior(), CUTS, curves=False)
    comp = xr.DataArray([0.05, 0.2, 0.1], dims="treatment",
                        coords={"treatment": ["RFA", "TACE", "TARE"]})
    los = xr.DataArray([5.0, 7.0, 3.0], dims="treatment", coords=comp.coords)
    qa = utility.quality_adjusted_rmst(ds["rmst"], w, complication=comp, hospital_days=los)
    expect = ds["rmst"] - 2.0 * comp - 0.1 * los
    assert np.allclose(qa.transpose(*expect.dims), expect)
    df = stats.decision_table(ds, utility=qa)
    assert {"utility_mean", "utility_lo", "utility_hi"} <= set(df.columns)
    assert df.attrs["criterion"] == "utility"
    with pytest.raises(UserError, match=r"complication has no values for treatments \['TARE'\]"):
        utility.quality_adjusted_rmst(ds["rmst"], w, complication=comp.sel(treatment=["RFA", "TACE"]))


def test_utility_weights_errors(tmp_path):
    f = tmp_path / "u.toml"
    f.write_text("complication_month = 1\nhospital_day_months = -1\n")
    with pytest.raises(ValidationError) as err:
        utility.load_utility_weights(f)
    assert str(err.value) == (
        "2 problems found:\n"
        f"  {f}: column 'complication_month': unknown key (did you mean 'complication_months'?)\n"
        f"  {f}: column 'hospital_day_months': must be >= 0 (a disutility in months) (got -1)")


# --- batch ---------------------------------------------------------------------------
def test_batch_equals_single_profiles():
    ids = [f"p{i}" for i in range(5)]
    lh = posterior(profile=ids)
    batch = cohort_mod.batch_decision_table(lh, CUTS, chunk_size=2)
    assert batch["profile"].tolist() == [p for p in ids for _ in range(3)]
    for pid in ids:
        single = stats.decision_table(d.survival_summary(lh.sel(profile=pid), CUTS, curves=False))
        got = batch[batch["profile"] == pid].drop(columns="profile").reset_index(drop=True)
        assert np.allclose(got.select_dtypes(float), single.select_dtypes(float), equal_nan=True)
    # the same through decision_table on a Dataset with a profile dim
    both = stats.decision_table(d.survival_summary(lh, CUTS, curves=False))
    assert np.allclose(both.select_dtypes(float), batch.select_dtypes(float), equal_nan=True)


def test_batch_with_dask_and_candidates():
    dask = pytest.importorskip("dask.array")
    lh = posterior(profile=["a", "b", "c"])
    lazy = lh.copy(data=dask.from_array(lh.values, chunks=(1, -1, -1, -1, -1)))
    cand = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 0]], bool)
    df = cohort_mod.batch_decision_table(lazy, CUTS, candidates=cand, chunk_size=1)
    sums = df.groupby("profile")["p_best"].sum()
    assert np.allclose(sums, 1.0)
    assert df.loc[(df.profile == "c") & (df.treatment == "RFA"), "p_best"].item() == 1.0


def test_decide_cohort_groups_and_eligibility():
    from rhcc_bayes.decision.profile import PatientProfile

    calls = []

    def provider(cov):
        calls.append(cov)
        return posterior(treatments=("RFA", "TACE", "SALVAGE-LT"))

    cohort = [PatientProfile(id="a", tumour_size_cm=2, nodules=1),
              PatientProfile(id="b", tumour_size_cm=2.5, nodules=1),
              PatientProfile(id="c", tumour_size_cm=2, nodules=1, prior_treatment="transplant")]
    df = cohort_mod.decide_cohort(cohort, provider, CUTS)
    assert len(calls) == 2           # a and b share covariates
    assert df["profile"].tolist() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    c = df[df.profile == "c"].set_index("treatment")
    assert c.loc["SALVAGE-LT", "status"] == "excluded"
    assert np.isnan(c.loc["SALVAGE-LT", "p_best"])
    # a provider shaped like predict.profile_log_hazard returns (log_hazard, cuts)
    same = cohort_mod.decide_cohort(cohort, lambda cov: (provider(cov), np.array(CUTS)))
    assert np.allclose(same.select_dtypes(float), df.select_dtypes(float), equal_nan=True)


def test_summary_ignores_segments_past_the_last_time():
    """Monthly segments (a Weibull posterior) up to 120 months; only 0-60 matter."""
    cuts = np.append(np.arange(0.0, 121.0), np.inf)
    rng = np.random.default_rng(5)
    lh = xr.DataArray(rng.normal(np.log(0.02), 0.3, (2, 10, 2, len(cuts) - 1)),
                      dims=("chain", "draw", "treatment", "segment"))
    ds = d.survival_summary(lh, cuts, horizon=60)
    v = lh.values
    assert np.allclose(ds["rmst"], d.rmst(v, cuts, 60), rtol=1e-10)
    assert np.allclose(ds["median"], d.median_survival(v, cuts, 60), rtol=1e-9)
    assert np.allclose(ds["survival"], d.survival_at(v, cuts, np.arange(61.0)), rtol=1e-5)


def test_modality_stats_takes_the_best_member_per_draw():
    rng = np.random.default_rng(1)
    # two near-identical ablation siblings and one clearly worse surgery option
    base = rng.normal(30, 1, size=(1, 4000, 1))
    u = np.concatenate([base + rng.normal(0, 0.1, base.shape), base + rng.normal(0, 0.1, base.shape),
                        base - 5 + rng.normal(0, 0.1, base.shape)], axis=-1)
    st = stats.decision_stats(u)
    assert st["p_best"][0, :2].sum() == pytest.approx(1.0) and 0.3 < st["p_best"][0, 0] < 0.7
    labels, mst = stats.modality_stats(u, ["ablation", "ablation", "surgery"])
    assert labels == ["ablation", "surgery"]
    assert mst["p_best"][0, 0] == pytest.approx(1.0)  # the class is clearly best, its members are not
    assert mst["expected_loss"][0, 1] == pytest.approx(5.0, abs=0.1)
    assert mst["p_best"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        stats.modality_stats(u, ["ablation"])


def test_modality_table_and_decision_table_columns():
    ds = d.survival_summary(posterior(n_draw=200), CUTS)
    mods = {"RFA": "ablation", "TACE": "transarterial", "TARE": "transarterial"}
    df = stats.decision_table(ds, candidates=["RFA", "TACE", "TARE"], modalities=mods).set_index("treatment")
    assert {"modality", "modality_p_best", "modality_expected_loss"} <= set(df.columns)
    assert df.loc["TACE", "modality_p_best"] == df.loc["TARE", "modality_p_best"]
    assert df.loc[["RFA", "TACE"], "modality_p_best"].sum() == pytest.approx(1.0)
    # a class P(best) is at least the P(best) of each member
    assert df.loc["TACE", "modality_p_best"] >= df.loc[["TACE", "TARE"], "p_best"].max() - 1e-12
    u = ds["rmst"].sel(treatment=["RFA", "TACE", "TARE"]).stack(s=("chain", "draw")).transpose("s", "treatment")
    mt = stats.modality_table(u.values, ["RFA", "TACE", "TARE"], ["ablation", "transarterial", "transarterial"])
    assert list(mt.columns) == ["modality", "options", "leading", "utility_mean", "p_best", "expected_loss"]
    assert mt["p_best"].sum() == pytest.approx(1.0) and mt["p_best"].is_monotonic_decreasing
    assert mt.set_index("modality").loc["transarterial", "options"] == "TACE, TARE"
