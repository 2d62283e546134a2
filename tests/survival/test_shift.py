"""Covariate effects sampled with their studies' effects (survival/shift.py): which effects
qualify, the reflection, and that the model's density is the old one after the change of variables."""

from dataclasses import replace

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec
from rhcc_bayes.survival import shift
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.model import build_survival_model

import compiling


@pytest.fixture(scope="module")
def default():
    spec = load_spec("default")
    return make_design(load_evidence(), spec), spec


def test_plan_shifts_effects_whose_few_studies_carry_them_on_every_arm(default, monkeypatch):
    design, spec = default
    plan = shift.plan(design, shift.default_effects(spec, size_offsets=True))
    assert set(plan) == {"beta_stage", "size_3to5_offset"}  # the two ridges benchmarks/geometry.py showed
    mask = design.study_effect_mask > 0
    study = design.arms["s_index"].to_numpy()
    size = design.covariate_index["size_band"]
    carried = {"beta_stage": design.covariate_index["stage"] == 0, "size_3to5_offset": size <= 2}
    for name, (studies,) in plan.items():
        assert studies == sorted(set(study[mask & carried[name]]))  # every study that carries it ...
        assert 1 <= len(studies) <= shift.MAX_STUDIES
        for s in studies:  # ... on all of its arms
            assert carried[name][mask & (study == s)].all()
    assert not set(plan["beta_stage"][0]) & set(plan["size_3to5_offset"][0])
    assert shift.plan(design, shift.default_effects(spec, size_offsets=False)).keys() == {"beta_stage"}
    monkeypatch.setattr(shift, "MAX_STUDIES", 1)
    assert shift.plan(design, shift.default_effects(spec, size_offsets=True)).keys() == {"beta_stage"}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_reflection_is_orthogonal_and_hides_the_pinned_sums_from_the_first_axis(k):
    a, sigma = pt.vector("a"), pt.scalar("sigma")
    s = 0.4
    fn = pytensor.function([a, sigma], shift.householder(pt, a, sigma, s, k))
    for sig in (0.05, 0.3, 2.0):
        H = np.column_stack([fn(e, sig) for e in np.eye(k + 1)])
        np.testing.assert_allclose(H @ H.T, np.eye(k + 1), atol=1e-12)
        pinned = s * H[0] + sig * H[1:]  # rows: s x_0 + sigma x_j as functions of a
        np.testing.assert_allclose(pinned[:, 0], 0.0, atol=1e-12)
        assert np.linalg.matrix_rank(pinned[:, 1:]) == k


@pytest.mark.slow
def test_log_density_is_the_unshifted_models_up_to_the_constant_jacobian(default, monkeypatch):
    """At random points of the shifted model, its log density (free coordinates, with the
    transforms' Jacobians) minus the unshifted model's (plain z_study) at the same beta_stage,
    size_3to5_offset and z_study is log(sd_stage) + log(sd_size) at every point, also when
    sigma_study moves: the shift and the mean split change coordinates, not the posterior."""
    design, spec = default
    new = build_survival_model(design, spec)
    monkeypatch.setattr(shift, "MAX_STUDIES", 0)
    monkeypatch.setattr(shift, "SPLIT_MIN_STUDIES", 10**9)  # and plain study effects (no mean split)
    old = build_survival_model(design, spec)
    assert {"shift_beta_stage", "shift_size_3to5_offset", "z_study_rest_centred",
            "z_study_rest_mean"} <= {v.name for v in new.free_RVs}
    assert {"beta_stage", "size_3to5_offset", "z_study"} <= {v.name for v in old.free_RVs}
    shifted = ["beta_stage", "size_3to5_offset", "z_study"]
    # one compile per model (each is a whole-model graph): the shifted model's values come with its density
    new_fn = compiling.function(new, [compiling.density(new), *(new[n] for n in shifted)])
    old_logp = compiling.function(old, [compiling.density(old)])
    rng = np.random.default_rng(5)
    diffs = []
    for _ in range(8):
        point = {k: v + rng.normal(0, 0.8, np.shape(v)) for k, v in new.initial_point().items()}
        new_logp, *values = new_fn(point)
        mapped = {k: v for k, v in point.items() if k in {v.name for v in old.value_vars}}
        mapped.update(zip(shifted, values))
        assert set(mapped) == {v.name for v in old.value_vars}
        diffs.append(float(new_logp) - float(old_logp(mapped)[0]))
    expected = np.log(spec.priors.advanced_stage_sd) + np.log(spec.priors.covariate_sd)
    np.testing.assert_allclose(diffs, expected, atol=1e-8)


def _block_model(n: int, groups=None):
    import pymc as pm

    with pm.Model() as model:
        z = shift.unit_normals(pm, "z", n, groups=groups)
        if not shift.split_mean(n):
            return model, z
        pm.Deterministic("z_values", z)
    return model, model["z_values"]


@pytest.mark.parametrize("n", [2, 5, 40])
def test_split_block_is_the_iid_standard_normal_prior(n):
    """A split block's free coordinates (the zero-sum part's isometric coordinates and the
    scaled mean) are an orthogonal change of variables of n iid standard normals: at random
    points the log density equals sum(log N(z; 0, 1)) exactly (no constant), the block's mean
    is the free mean / sqrt(n), and the centred part sums to zero."""
    from scipy import stats

    model, z = _block_model(n)
    assert {v.name for v in model.free_RVs} == {"z_centred", "z_mean"}
    fn = compiling.function(model, [compiling.density(model), z])
    rng = np.random.default_rng(n)
    for _ in range(5):
        point = {k: rng.normal(0, 1.5, np.shape(v)) for k, v in model.initial_point().items()}
        logp, values = fn(point)
        np.testing.assert_allclose(logp, stats.norm.logpdf(values).sum(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(values.mean(), point["z_mean"] / np.sqrt(n), atol=1e-12)
    assert model["z_centred"].owner.op.__class__.__name__.startswith("ZeroSumNormal")


def test_blocks_below_the_split_size_stay_plain(monkeypatch):
    model, _ = _block_model(1)
    assert [v.name for v in model.free_RVs] == ["z"]
    monkeypatch.setattr(shift, "SPLIT_MIN_STUDIES", 6)
    assert [v.name for v in _block_model(5)[0].free_RVs] == ["z"]
    assert {v.name for v in _block_model(6)[0].free_RVs} == {"z_centred", "z_mean"}


@pytest.mark.parametrize("groups", [[0, 0, 1, 1, 1, 2], [9, 4, 9, 9, 4, 7, 7, 7, 7, -1, 9], [3] * 4 + [8] * 40])
def test_grouped_split_is_the_iid_standard_normal_prior_with_free_group_means(groups):
    """Per-group split: at random points the log density equals sum(log N(z; 0, 1)) exactly,
    each group's mean is its free mean / sqrt(size), and the map from the free coordinates to
    z is orthogonal (its Jacobian J has J J^T = I)."""
    from scipy import stats

    groups = np.array(groups)
    labels, sizes = np.unique(groups, return_counts=True)
    model, z = _block_model(len(groups), groups)
    assert {v.name for v in model.free_RVs} == {"z_within", "z_group_mean"}
    assert model["z_within"].type.shape == (len(groups) - len(labels),)
    fn = compiling.function(model, [compiling.density(model), z])
    rng = np.random.default_rng(len(groups))
    for _ in range(4):
        point = {k: rng.normal(0, 1.5, np.shape(v)) for k, v in model.initial_point().items()}
        logp, values = fn(point)
        np.testing.assert_allclose(logp, stats.norm.logpdf(values).sum(), rtol=0, atol=1e-10)
        means = [values[groups == g].mean() for g in labels]
        np.testing.assert_allclose(means, point["z_group_mean"] / np.sqrt(sizes), atol=1e-12)
    # the map is linear: its columns are the images of the unit vectors of the free coordinates
    names = [v.name for v in model.value_vars]
    shapes = [np.shape(model.initial_point()[k]) for k in names]
    zero = {k: np.zeros(s) for k, s in zip(names, shapes)}
    columns = []
    for k, s in zip(names, shapes):
        for i in range(int(np.prod(s))):
            point = dict(zero)
            point[k] = np.eye(int(np.prod(s)))[i].reshape(s)
            columns.append(fn(point)[1])
    jac = np.column_stack(columns)
    np.testing.assert_allclose(jac @ jac.T, np.eye(len(groups)), atol=1e-12)


def test_one_group_is_the_plain_mean_split():
    model, _ = _block_model(5, groups=np.zeros(5))
    assert {v.name for v in model.free_RVs} == {"z_centred", "z_mean"}


def test_study_groups_label_studies_by_their_size_bands_only_when_sizes_are_levels(default):
    design, spec = default
    assert shift.study_groups(design, spec) is None  # bundled evidence: offsets, one group
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from scaling import simulated_design

    design, spec = simulated_design(170, 2)
    assert shift.study_groups(design, replace(spec, covariates=())) is None  # no size effects to group by
    groups = shift.study_groups(design, spec)
    assert groups.shape == (len(design.studies),)
    mask = design.study_effect_mask > 0
    study = design.arms["s_index"].to_numpy()[mask]
    band = design.covariate_index["size_band"][mask]
    for s in range(len(design.studies)):
        assert groups[s] == sum(1 << b for b in set(band[study == s].tolist()))
    n_groups = len(np.unique(groups))
    assert n_groups >= 4
    model = build_survival_model(design, spec)  # the model samples the study effects per group
    assert model["z_study_group_mean"].type.shape == (n_groups,)
    assert model["z_study_within"].type.shape == (len(design.studies) - n_groups,)
    assert "z_study_centred" not in model.named_vars


def test_shifted_studies_beside_grouped_free_studies_keep_the_prior():
    """A shifted effect's studies plus free studies in groups (``z_study_rest`` split per group of
    the free studies): log density = log N((beta - m) / s) + sum log N(z; 0, 1) at random points,
    and each group of free studies has mean z_study_rest_group_mean / sqrt(size)."""
    import pymc as pm
    from scipy import stats

    groups = np.array([1, 2, 1, 1, 2, 4, 2, 4])  # studies 0 and 5 carry the shifted effect
    mean, sd = 0.2, 0.5
    with pm.Model(coords={"study": list(range(len(groups)))}) as model:
        sigma = pm.Gamma("sigma_study", 2.0, 2.0 / 0.3)
        studies = shift.StudyShift(pm, pt, {"beta_x": [[0, 5]]}, len(groups), sigma, groups)
        beta = studies.normal("beta_x", mean, sd)
        z = studies.z_study()
    assert {v.name for v in model.free_RVs} == {"sigma_study", "shift_beta_x", "z_study_rest_group_mean",
                                                 "z_study_rest_within"}
    free = np.array([1, 2, 3, 4, 6, 7])
    labels, sizes = np.unique(groups[free], return_counts=True)
    assert model["z_study_rest_group_mean"].type.shape == (len(labels),)
    fn = compiling.function(model, [compiling.density(model), z, beta, sigma])
    rng = np.random.default_rng(8)
    for _ in range(4):
        point = {k: rng.normal(0, 1.0, np.shape(v)) for k, v in model.initial_point().items()}
        logp, values, b, sig = fn(point)
        prior_sigma = stats.gamma.logpdf(sig, 2.0, scale=0.3 / 2.0) + np.log(sig)  # log-transformed
        np.testing.assert_allclose(logp - prior_sigma,
                                   stats.norm.logpdf(values).sum() + stats.norm.logpdf((b - mean) / sd),
                                   rtol=0, atol=1e-9)
        np.testing.assert_allclose([values[free][groups[free] == g].mean() for g in labels],
                                   point["z_study_rest_group_mean"] / np.sqrt(sizes), atol=1e-12)
