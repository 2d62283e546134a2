"""Held-out studies (survival/holdout.py): which rows get weight 0, that a weighted row is
exactly an absent row in the log density and its gradient, and that a held-out fit keeps
the full evidence's compiled model."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.inference.compile_index import model_key
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.holdout import ARM_TABLES, hold_out, held_out_studies, row_weights, with_pooled_results
from rhcc_bayes.survival.model import build_survival_model
from rhcc_bayes.synthesis import Synthesis

import compiling

#: One study per likelihood block of the bundled evidence, none with secondary-outcome rows:
#: known-n landmarks (ref_37), latent-n landmarks (ref_92_93), medians with n and with a CI
#: (zheng_96, ref_107), a within-study HR (yang_82), a pooled HR and pooled landmarks
#: (meta_18_cohorts), a range (ref_50_53), a latent-n pooled landmark (ref_54).
EVERY_BLOCK = ("ref_37", "ref_92_93", "zheng_96", "ref_107", "yang_82", "meta_18_cohorts", "ref_50_53", "ref_54")


@pytest.fixture(scope="module")
def default():
    spec = load_spec("default")
    evidence = load_evidence()
    return make_design(evidence, spec), spec, evidence


def _study_of_rows(design, name):
    rows = getattr(design, name)
    return design.arms["study"].to_numpy()[rows["arm_index"].to_numpy(int)]


def test_rows_of_held_out_studies_get_weight_0_and_every_other_row_1(default):
    design, _, _ = default
    held = hold_out(design, ["ref_37", "yang_82"])
    for name in ARM_TABLES:
        w = row_weights(getattr(held, name))
        expected = np.where(np.isin(_study_of_rows(design, name), ["ref_37", "yang_82"]), 0.0, 1.0)
        np.testing.assert_array_equal(w, expected)
    assert (row_weights(held.landmarks) == 0).sum() == 6 and (row_weights(held.hazard_ratios) == 0).sum() == 2
    np.testing.assert_array_equal(row_weights(held.secondary), 1.0)
    assert held_out_studies(held) == ("ref_37", "yang_82")
    assert held_out_studies(design) == ()
    # the design itself is not changed, and shapes are the same
    assert "weight" not in design.landmarks
    for name in ARM_TABLES:
        assert len(getattr(held, name)) == len(getattr(design, name))


def test_secondary_rows_are_held_out_by_their_study(default):
    design, _, _ = default
    held = hold_out(design, ["guo_109"])
    np.testing.assert_array_equal(row_weights(held.secondary), np.where(design.secondary["study"] == "guo_109", 0, 1))
    assert (row_weights(held.secondary) == 0).sum() == 3


def test_pooled_results_including_a_held_out_study_are_held_out_with_it(default):
    design, _, evidence = default
    included = {"meta_18_cohorts": ("ref_37", "zheng_96")}
    held = hold_out(design, ["ref_37"], included)
    assert set(held_out_studies(held)) == {"ref_37", "meta_18_cohorts"}
    pooled = _study_of_rows(design, "pooled_landmarks") == "meta_18_cohorts"
    assert pooled.any() and (row_weights(held.pooled_landmarks)[pooled] == 0).all()
    members = evidence.included_studies()
    some = next(iter(members))
    assert set(with_pooled_results(evidence, [members[some][0]])) >= {members[some][0], some}


def test_a_study_not_in_the_likelihood_is_refused_by_name(default):
    design, _, _ = default
    with pytest.raises(UserError, match=r"held-out studies not in the likelihood: 'no_such_study'.*ref_37"):
        hold_out(design, ["ref_37", "no_such_study"])


def test_a_held_out_fit_has_the_full_evidences_model_key_and_its_own_cache_key(default):
    design, spec, evidence = default
    full = build_survival_model(design, spec)
    held = build_survival_model(hold_out(design, EVERY_BLOCK), spec)
    assert model_key(full, "w") == model_key(held, "w")  # one compile serves every fold
    assert [v.name for v in full.free_RVs] == [v.name for v in held.free_RVs]
    plain, one = Synthesis(spec, evidence), Synthesis(spec, evidence, held_out="ref_37")
    assert one.held_out == ("ref_37",)
    assert plain.cache_key(1) != one.cache_key(1) != Synthesis(spec, evidence, held_out=["zheng_96"]).cache_key(1)
    assert plain.cache_key(1) == Synthesis(spec, evidence, held_out=()).cache_key(1)


def test_held_out_studies_are_refused_for_a_network_meta_analysis():
    with pytest.raises(UserError, match="network meta-analysis"):
        Synthesis("nma_diabetes_re", Path(__file__).parents[2] / "examples/reference/diabetes.csv", held_out=["x"])


def _without_rows(design, studies):
    """The design with the studies' likelihood rows physically removed (arms and studies kept)."""
    arm_out = design.arms["study"].isin(studies).to_numpy()
    changes = {}
    for name in ARM_TABLES:
        rows = getattr(design, name)
        out = arm_out[rows["arm_index"].to_numpy(int)]
        if "comparator_index" in rows:
            out |= arm_out[rows["comparator_index"].to_numpy(int)]
        changes[name] = rows[~out].reset_index(drop=True)
    return dataclasses.replace(design, **changes)


@pytest.fixture(scope="module")
def compiled(default):
    """The model with one study per block (and ref_81, secondary rows only) held out, and the
    model of the design without those arm-level rows (ref_81's secondary rows held out in both)."""
    design, spec, _ = default
    weighted = build_survival_model(hold_out(design, (*EVERY_BLOCK, "ref_81")), spec)
    removed = build_survival_model(hold_out(_without_rows(design, EVERY_BLOCK), ["ref_81"]), spec)
    assert [v.name for v in weighted.free_RVs] == [v.name for v in removed.free_RVs]
    return weighted, compiling.log_density(weighted), compiling.log_density(removed)


def _points(model, seed, n, scale=0.5):
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    return [{k: v + rng.normal(0, scale, np.shape(v)) for k, v in start.items()} for _ in range(n)]


@pytest.mark.slow
def test_a_row_of_weight_0_is_an_absent_row_in_the_log_density_and_its_gradient(default, compiled):
    """Holding out one study per likelihood block at once: at random points the weighted model's
    log density differs from that of the design without those rows by one constant (the held-out
    normal rows' N(x; x, UNIT_SD) terms, ~0), and the gradients agree. The same compiled function
    with the full design's data (weights 1) gives other values: no recompile, and the rows count."""
    design, spec, _ = default
    weighted, fn_w, fn_r = compiled
    diffs = []
    for point in _points(weighted, 3, 6):
        (lw, gw), (lr, gr) = fn_w(point), fn_r(point)
        diffs.append(lw - lr)
        np.testing.assert_allclose(gw, gr, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-9)
    assert abs(diffs[0]) < 1e-6
    full = build_survival_model(design, spec)  # not compiled: its data go into the compiled model
    saved = {v.name: v.get_value() for v in weighted.data_vars}
    try:
        for v in weighted.data_vars:
            v.set_value(full[v.name].get_value())
        moved = [fn_w(p)[0] - fn_r(p)[0] for p in _points(weighted, 3, 6)]
    finally:
        for v in weighted.data_vars:
            v.set_value(saved[v.name])
    assert np.ptp(moved) > 1.0


@pytest.mark.slow
def test_held_out_latent_arm_sizes_keep_only_their_prior_and_secondary_rows_weigh_0(default, compiled):
    """ref_81 gives latent-n secondary proportions only. Held out, the log density's gradient in
    its arms' latent sizes is the standard normal prior's, -z, and its rows' weights in the
    secondary potential are 0. (Its secondary study effect is not prior-only: the level's
    conditional prior centres every study effect of the outcome on their mean.)"""
    design, _, _ = default
    model, fn, _ = compiled
    names = [v.name for v in model.value_vars]
    start_point = model.initial_point()  # (compiles a function: once)
    sizes = [int(np.prod(np.shape(start_point[n]))) for n in names]
    start = dict(zip(names, np.cumsum([0, *sizes[:-1]])))["z_latent_n"]
    prior_rows = np.flatnonzero(design.latent_n["group"].to_numpy() < 0)
    pos = [start + j for j, i in enumerate(prior_rows) if design.latent_n["study"].iloc[i] == "ref_81"]
    assert len(pos) == 2
    for point in _points(model, 4, 3, 0.7):
        flat_point = np.concatenate([np.ravel(point[n]) for n in names])
        np.testing.assert_allclose(fn(point)[1][pos], -flat_point[pos], rtol=1e-10)
    sec = design.secondary
    for o in sec.loc[sec["study"] == "ref_81", "outcome"].unique():
        latent = sec[(sec["outcome"] == o) & (sec["latent"] >= 0)]
        np.testing.assert_array_equal(model[f"{o}_latent_n_weight"].get_value(),
                                      np.where(latent["study"] == "ref_81", 0.0, 1.0))


def test_a_held_out_ipd_study_keeps_its_cells_with_weight_0_and_the_model_key(tmp_path):
    """IPD cells of a held-out study stay in the padded containers with weight 0 (Weibull rows
    too): the model key is the full registry's, and only the weight column changes."""
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 300
    trt = rng.choice(["RFA", "TACE"], n)
    path = tmp_path / "reg.csv"
    pd.DataFrame({"study": "REG", "arm": trt, "treatment": trt,
                  "time_months": np.round(rng.exponential(40.0, n), 2) + 0.01,
                  "event": (rng.uniform(size=n) < 0.6).astype(int)}).to_csv(path, index=False)
    for spec, container, column in (("default", "ipd_cell_exposure", 1), ("weibull", "ipd_row_values", 1)):
        full, held = Synthesis(spec, ipd=path), Synthesis(spec, ipd=path, held_out=["REG"])
        m_full, m_held = full.build_model(), held.build_model()
        assert model_key(m_full, "w") == model_key(m_held, "w")
        assert held_out_studies(held.design) == ("REG",)
        w_full, w_held = m_full[container].get_value()[:, column], m_held[container].get_value()[:, column]
        real = w_full > 0
        assert real.sum() >= 2 and (w_held == 0).all()  # every real cell/row held out, none dropped
        other = Synthesis(spec, ipd=path, held_out=["ref_37"]).build_model()[container].get_value()[:, column]
        np.testing.assert_array_equal(other, w_full)  # holding out a summary study leaves the IPD alone
