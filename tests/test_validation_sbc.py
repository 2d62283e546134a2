"""Tests for validation/sbc.py: the rank-uniformity statistics (cheap, on synthetic ranks
from a conjugate normal model, calibrated and deliberately miscalibrated) and a reduced
end-to-end SBC run of the default model (slow: one nutpie compile, 8 small fits).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SBC_PATH = Path(__file__).resolve().parents[1] / "validation" / "sbc.py"


@pytest.fixture(scope="module")
def sbc():
    spec = importlib.util.spec_from_file_location("rhcc_validation_sbc", SBC_PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def conjugate_ranks(n_sims: int, n_draws: int, *, shift_sd=0.0, scale=1.0, seed=0) -> np.ndarray:
    """SBC ranks for theta ~ N(0,1), y ~ N(theta,1), posterior N(y/2, 1/2).

    ``shift_sd`` moves the posterior by that many posterior SDs; ``scale`` multiplies its SD.
    With (0, 1) the posterior is exact and the ranks are uniform on 0..n_draws.
    """
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n_sims)
    y = theta + rng.standard_normal(n_sims)
    sd = np.sqrt(0.5)
    draws = y[:, None] / 2 + shift_sd * sd + scale * sd * rng.standard_normal((n_sims, n_draws))
    return (draws < theta[:, None]).sum(axis=1)


# ------------------------------------------------------------------ statistics


def test_rank_of_and_thinning(sbc):
    assert sbc.rank_of(0.5, np.array([0.1, 0.4, 0.6, 0.9])) == 2
    assert sbc.rank_of(-1.0, np.arange(5.0)) == 0 and sbc.rank_of(9.0, np.arange(5.0)) == 5
    x = np.arange(4 * 500).reshape(4, 500)  # (chain, draw)
    kept = sbc.thin_draws(x, 199)
    assert kept.shape == (199,) and len(np.unique(kept)) == 199
    assert np.all(np.diff(kept) >= 10)  # constant stride ~10 iterations
    with pytest.raises(ValueError):
        sbc.thin_draws(x, 2001)


def test_chi2_exact_on_perfectly_flat_ranks(sbc):
    ranks = np.repeat(np.arange(200), 3)
    chi2, dof, p = sbc.chi2_uniform(ranks, 200, bins=20)
    assert chi2 == pytest.approx(0.0) and dof == 19 and p == pytest.approx(1.0)
    # unequal bin widths (n_ranks not a multiple of bins) still give expected = flat
    chi2, _, p = sbc.chi2_uniform(np.repeat(np.arange(100), 2), 100, bins=7)
    assert chi2 == pytest.approx(0.0)
    with pytest.raises(ValueError):
        sbc.chi2_uniform([0, 200], 200)


def test_calibrated_posterior_passes(sbc):
    ranks = conjugate_ranks(100, 99, seed=1)
    assert ranks.min() >= 0 and ranks.max() <= 99
    _, _, p = sbc.chi2_uniform(ranks, 100, bins=20)
    inside, excess = sbc.ecdf_in_band(ranks, 100, 0.99)
    assert p > 0.01
    assert inside and excess == 0.0


@pytest.mark.parametrize("shift_sd, scale", [(2.0, 1.0), (-2.0, 1.0), (0.0, 3.0), (0.0, 0.3)])
def test_miscalibrated_posterior_is_detected(sbc, shift_sd, scale):
    """Posterior shifted by +-2 SD, or 3x too wide / 0.3x too narrow: both tests must reject."""
    ranks = conjugate_ranks(100, 99, shift_sd=shift_sd, scale=scale, seed=2)
    _, _, p = sbc.chi2_uniform(ranks, 100, bins=20)
    inside, excess = sbc.ecdf_in_band(ranks, 100, 0.99)
    assert p < 1e-3
    assert not inside and excess > 0


def test_ecdf_band_has_nominal_simultaneous_coverage(sbc):
    """About 99% of uniform rank sets (fresh seed) lie inside the band at every point."""
    n, n_ranks = 100, 100
    z, lower, upper, gamma = sbc.ecdf_band(n, n_ranks, 0.99)
    assert np.all(lower <= z) and np.all(z <= upper) and 0 < gamma < 0.01  # simultaneous => wider
    rng = np.random.default_rng(123)
    hits = [sbc.ecdf_in_band(rng.integers(0, n_ranks, n), n_ranks, 0.99)[0] for _ in range(1000)]
    assert 0.975 <= np.mean(hits) <= 1.0


def test_uniformity_table_flags_the_bad_quantity(sbc):
    df = pd.DataFrame({"good": conjugate_ranks(100, 99, seed=3),
                       "shifted": conjugate_ranks(100, 99, shift_sd=2.0, seed=4)})
    tab = sbc.uniformity_table(df, ["good", "shifted"], 100).set_index("quantity")
    assert tab.loc["good", "ecdf_in_band"] and tab.loc["good", "p_value"] > 0.01
    assert not tab.loc["shifted", "ecdf_in_band"] and tab.loc["shifted", "p_value"] < 1e-3


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def small_run(sbc, tmp_path_factory):
    """8 simulations, 2 chains x 100 draws, L = 49, in-process (one compile)."""
    out = tmp_path_factory.mktemp("sbc")
    cfg = sbc.SBCConfig(sims=8, seed=7, chains=2, draws=100, tune=100, thin_to=49)
    ranks, summary, _ = sbc.run_sbc(cfg, out, local_scheduler="sync", bins=10)
    return cfg, out, ranks, summary


@pytest.mark.slow
def test_small_sbc_run_writes_ranks_and_summary(sbc, small_run):
    cfg, out, ranks, summary = small_run
    for name in ("ranks.csv", "summary.csv", "ranks.png"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*"))  # atomic writes leave no temporary files
    names = sbc.quantity_names(cfg, ["ablation", "transarterial", "radiation", "surgery", "systemic",
                                     "combination"], ["0-12", "12-36", "36-60", "60+"])
    assert list(summary["quantity"]) == names
    assert {"mu[TACE]", "mu[RFA]", "class_effect[surgery]", "sigma_study", "tau_treatment",
            "gamma[0-12]", "rmst60[TACE]", "rmst60[RFA]"} <= set(names)
    on_disk = pd.read_csv(out / "ranks.csv")
    assert len(on_disk) == 8 and (on_disk["error"].fillna("") == "").all()
    r = on_disk[names].to_numpy()
    assert np.all((r >= 0) & (r <= cfg.thin_to)) and np.issubdtype(r.dtype, np.integer)
    assert (on_disk["divergences"] >= 0).all()
    assert summary["p_value"].between(0, 1).all()
    assert {"gate_failures", "fits_with_divergences", "ecdf_in_band"} <= set(summary.columns)
    # not all quantities identical: the ranks carry information
    assert len({tuple(on_disk[q]) for q in names}) > 5


def test_quantities_rmst_matches_numerical_integration(sbc):
    """The RMST path (profile_log_hazard + decide.rmst) on a hand-made one-draw 'truth'
    equals a brute-force integral of S(t) built from the same parameters."""
    import xarray as xr

    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec

    spec = load_spec("default")
    design = make_design(load_evidence(), spec)
    st = design.structure
    rng = np.random.default_rng(0)
    trts, mods = list(st.treatments), list(st.modalities)
    segs = ["0-12", "12-36", "36-60", "60+"]
    mu = rng.normal(0, 0.5, len(trts))
    gamma = np.array([-3.5, -3.8, -4.0, -4.3])
    b_size, b_abl, b_nod = np.array([-0.3, 0.0, 0.2]), np.array([-0.25, 0.0, 0.1]), np.array([-0.15, 0.2])
    one = lambda v, *dims: (("chain", "draw", *dims), np.asarray(v, float).reshape((1, 1) + np.shape(v)))
    ds = xr.Dataset(
        {"mu": one(mu, "treatment"), "class_effect": one(np.zeros(len(mods)), "modality"),
         "sigma_study": one(0.3), "tau_treatment": one(0.2), "gamma": one(gamma, "segment"),
         "beta_size": one(b_size, "size_band_level"), "beta_size_ablation": one(b_abl, "size_band_level"),
         "beta_nodularity": one(b_nod, "nodularity_level"),
         "beta_recurrence": one([0.1, -0.1], "recurrence_level"), "beta_prior": one([0.0, 0.0], "prior_level")},
        coords={"treatment": trts, "modality": mods, "segment": segs,
                "size_band_level": ["le3", "3to5", "gt5"], "nodularity_level": ["solitary", "multinodular"],
                "recurrence_level": ["early", "late"], "prior_level": ["resection", "transplant"]})
    cfg = sbc.SBCConfig()
    q = sbc.quantities(ds, sbc._constant_data(design, spec), cfg)
    assert q["mu[RFA]"][0] == pytest.approx(mu[trts.index("RFA")])
    assert q["gamma[36-60]"][0] == pytest.approx(-4.0)
    t = np.linspace(0, 60, 600_001)
    seg = np.searchsorted([12.0, 36.0, 60.0], t, side="right")
    for trt in cfg.rmst_treatments:
        abl = st.is_ablation[trts.index(trt)]
        theta = mu[trts.index(trt)] + b_size[0] + abl * b_abl[0] + b_nod[0]  # patient: le3, solitary
        h = np.exp(gamma + theta)
        cum = np.concatenate([[0.0], np.cumsum(h[:3] * np.diff([0.0, 12.0, 36.0, 60.0]))])
        surv = np.exp(-(cum[seg] + h[seg] * (t - np.array([0.0, 12.0, 36.0, 60.0])[seg])))
        assert q[f"rmst60[{trt}]"][0] == pytest.approx(np.trapezoid(surv, t), rel=1e-6)


@pytest.mark.slow
def test_resume_uses_checkpoints(sbc, small_run, monkeypatch):
    cfg, out, ranks, _ = small_run

    def boom(*a, **k):
        raise AssertionError("all simulations were checkpointed: nothing should be refitted")

    monkeypatch.setattr(sbc, "run_local", boom)
    again, _, _ = sbc.run_sbc(cfg, out, local_scheduler="sync", bins=10)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), ranks.reset_index(drop=True))


@pytest.mark.slow
def test_distributed_scheduler_path(sbc, small_run, tmp_path):
    """--scheduler ADDRESS: an in-process threaded cluster re-uses this process's compiled model."""
    distributed = pytest.importorskip("distributed")
    cfg = replace(small_run[0], sims=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        ranks, summary, _ = sbc.run_sbc(cfg, tmp_path, scheduler=cluster.scheduler_address, bins=10)
    assert len(ranks) == 2 and (ranks["error"] == "").all()
    assert (tmp_path / "summary.csv").exists()
