"""Size effects' parameterisation by data richness (survival/steps.py): the rule, the transform,
and that the prior is the same whichever parameterisation is used."""

import numpy as np
import pytest
from scipy import integrate, stats

from rhcc_bayes.evidence.table import Evidence, load_evidence
from rhcc_bayes.evidence.taxonomy import Taxonomy
from rhcc_bayes.specs import load_spec, parse_spec
from rhcc_bayes.survival import steps
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.model import build_survival_model
from rhcc_bayes.survival.simulate import synthetic_table

TREATMENTS = {"TACE": "transarterial", "RFA": "ablation", "MWA": "ablation", "SBRT": "radiation"}


def _synthetic(n_studies, seed=0):
    spec = parse_spec({"model": {"name": "t"}, "evidence": {"censoring": "none"}}, "t.toml")
    table = synthetic_table(n_studies, list(TREATMENTS), np.random.default_rng(seed))
    return make_design(Evidence(table, Taxonomy.open_world(TREATMENTS), ("simulated",)), spec), spec


def _free(model):
    return {v.name: type(model.rvs_to_transforms[v]).__name__ for v in model.free_RVs}


def test_rule_picks_levels_only_when_every_band_is_data_rich():
    design, spec = _synthetic(60)
    arms = steps.band_arms(design)
    level = design.covariate_index["size_band"]
    np.testing.assert_array_equal(arms["all"], np.bincount(level, minlength=4))
    abl = design.structure.is_ablation[design.arms["t_index"].to_numpy()] == 1
    np.testing.assert_array_equal(arms["ablation"], np.bincount(level[abl], minlength=4))
    assert steps.use_levels(arms["all"]) and not steps.use_levels(arms["ablation"], ablation=True)
    free = _free(build_survival_model(design, spec))
    assert free["size_le3_level"] == free["size_gt5_level"] == "NormalSoftplusBound"
    assert "size_3to5_level" in free and not {"size_3to5_offset", "size_steps"} & set(free)
    assert free["ablation_size_steps"] == "NormalSoftplusBound"  # fewer than 10 ablation arms in le3 or gt5

    small, _ = _synthetic(8)
    assert steps.band_arms(small)["all"].min() < steps.LEVELS_MIN_ARMS
    free = _free(build_survival_model(small, spec))
    assert free["size_steps"] == free["ablation_size_steps"] == "NormalSoftplusBound" and "size_3to5_offset" in free

    big, _ = _synthetic(200)
    assert steps.use_levels(steps.band_arms(big)["ablation"], ablation=True)
    free = _free(build_survival_model(big, spec))
    assert free["ablation_le3_level"] == free["ablation_gt5_level"] == "NormalSoftplusBound"
    assert "ablation_size_steps" not in free


def test_rule_thresholds():
    cut = steps.LEVELS_MIN_ARMS
    assert steps.use_levels([cut, cut, cut, cut]) and not steps.use_levels([cut, cut, cut, cut - 1])
    # ablation: le3, gt5 and the bands without an interaction (3to5 + nr) together
    assert steps.use_levels([cut, 3, cut, cut - 3], ablation=True)
    assert not steps.use_levels([cut, 3, cut, cut - 4], ablation=True)
    assert not steps.use_levels([cut - 1, cut, cut, cut], ablation=True)


def test_bundled_evidence_keeps_the_offset_parameterisation():
    spec = load_spec("default")
    design = make_design(load_evidence(), spec)
    assert not steps.use_levels(steps.band_arms(design)["all"])
    assert not steps.use_levels(steps.band_arms(design)["ablation"], ablation=True)
    free = _free(build_survival_model(design, spec))
    assert free["size_3to5_offset"] == "NoneType"
    assert free["size_steps"] == free["ablation_size_steps"] == "NormalSoftplusBound"


@pytest.mark.parametrize("side, bound, index", [(1, 0.0, None), (-1, 0.2, 5), (1, -0.4, 4)])
def test_bound_transform_is_a_density_preserving_bijection(side, bound, index):
    """Round trip, and exp(logp) on the free coordinate (with the log-Jacobian) integrates to 1."""
    import pymc as pm

    scale = 0.05
    with pm.Model() as m:
        t = steps.NormalSoftplusBound(scale, side, index)
        if index is None:
            pm.HalfNormal("x", 0.3, default_transform=t)
        else:
            pm.TruncatedNormal("x", bound, 0.3, **({"upper": bound} if side < 0 else {"lower": bound}),
                               default_transform=t)
    logp = m.compile_logp(jacobian=True)
    name = m.rvs_to_values[m["x"]].name
    assert name == "x_normalsoftplus__"
    total = integrate.quad(lambda y: np.exp(logp({name: np.array(y)})), -5, 5, points=[bound], limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    import pytensor.tensor as pt

    x = bound + side * np.array([1e-8, 1e-3, 0.02, 0.3, 2.0])
    y = t.forward(pt.as_tensor(x), *([None] * 4 + [pt.as_tensor(bound)] * 2)).eval()
    back = t.backward(pt.as_tensor(y), *([None] * 4 + [pt.as_tensor(bound)] * 2)).eval()
    np.testing.assert_allclose(back, x, rtol=1e-9)
    np.testing.assert_allclose(y[-1], x[-1], atol=1e-6)  # far from the bound the free coordinate is x


def test_log_normal_cdf_is_scipys_on_both_sides_of_its_cuts_and_numba_caches_it():
    """The transform's log-Jacobian: log Phi to rounding across the erfc / series cut at -30 and
    the upper-tail cut at 0, with its derivative phi / Phi; unlike PyMC's erfcx-based normal_lcdf,
    PyTensor can cache its numba function (else the default model recompiles in every process)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    from scipy import special

    x = pt.dvector("x")
    out = steps.log_normal_cdf(pt, x)
    fn = pytensor.function([x], [out, pytensor.grad(out.sum(), x)], mode="NUMBA")
    t = np.array([-300.0, -45.0, -30.001, -30.0, -29.999, -12.0, -3.0, -1e-9, 0.0, 1e-9, 2.0, 8.0, 40.0])
    value, grad = fn(t)
    expected = special.log_ndtr(t)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grad, np.exp(-0.5 * t * t - 0.5 * np.log(2 * np.pi) - expected), rtol=1e-10)
    assert CACHED_SRC_FUNCTIONS.get(fn.vm.jit_fn.py_func) is not None


@pytest.mark.parametrize("side", [1, -1])
def test_a_free_coordinate_left_beyond_its_bound_is_pulled_back_harder_the_deeper_it_is(side):
    """The failure this transform fixes (steps.NormalSoftplusBound): on 2587 simulated arms the
    bound (the 3to5 level) moved 90-150 scales past the le3 level's free coordinate in warm-up,
    where the plain softplus pulled it back with a constant slope 1/c and the level stayed on
    its bound. Here the log density's slope towards the bound grows as depth / c (log Phi(t)),
    finite and without NaN at those depths, and the level itself still lies inside its support."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    scale, bound = 0.0167, -5.83  # the 2587-arm le3 step's scale and the stuck chain's 3to5 level
    with pm.Model() as m:
        pm.TruncatedNormal("x", bound, 0.3, **({"upper": bound} if side < 0 else {"lower": bound}),
                           default_transform=steps.NormalSoftplusBound(scale, side, 5 if side < 0 else 4))
    name = m.rvs_to_values[m["x"]].name
    logp, dlogp = m.compile_logp(jacobian=True), m.compile_dlogp(jacobian=True)
    depths = np.array([2.0, 20.0, 90.0, 150.0])  # -t: how far y lies beyond the bound, in scales
    slopes, values = [], []
    for depth in depths:
        y = np.array(bound - side * depth * scale)
        values.append(float(logp({name: y})))
        slopes.append(float(dlogp({name: y})[0]) * side)  # > 0: towards the bound
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))
    assert np.all(np.array(slopes) > 0)
    np.testing.assert_allclose(np.array(slopes[1:]) * scale, depths[1:], rtol=0.01)  # ~ depth / c, not 1 / c
    assert values[-1] - values[0] < -0.45 * depths[-1] ** 2
    y = pt.dscalar("y")  # the level on the bound's side (or on it), never past it
    x = pytensor.function([y], steps.normal_softplus_bound(pt, y, bound, scale, side))
    assert all(side * (x(bound - side * d * scale) - bound) >= 0 for d in depths)


def test_levels_and_offsets_imply_the_same_prior():
    """Prior draws of the size effects (and their independence of the baseline) match between
    the two parameterisations: two-sample KS tests with a fixed seed."""
    import pymc as pm

    design, spec = _synthetic(200)
    names = ["beta_size", "beta_size_ablation", "size_3to5_offset", "size_steps", "ablation_size_steps",
             "gamma_first"]
    draws = {}
    for form, cut in (("levels", 0), ("offsets", 10**9)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(steps, "LEVELS_MIN_ARMS", cut)
            model = build_survival_model(design, spec)
        assert ("size_3to5_level" in model.named_vars) == ("ablation_le3_level" in model.named_vars) \
            == (form == "levels")
        prior = pm.sample_prior_predictive(draws=4000, model=model, var_names=names, random_seed=11).prior
        draws[form] = {n: prior[n].values.reshape(4000, -1) for n in names}
    for n in names:
        for k in range(draws["levels"][n].shape[1]):
            a, b = draws["levels"][n][:, k], draws["offsets"][n][:, k]
            if np.ptp(a) == 0:  # the reference level of beta_size_ablation (3to5) is 0 in both
                assert np.ptp(b) == 0
                continue
            assert stats.ks_2samp(a, b).pvalue > 0.01, (n, k)
    # the offsets are independent of the baseline and of each other in both (levels are anchored on them)
    for form in draws:
        x = np.column_stack([draws[form][n] for n in ("size_3to5_offset", "size_steps", "ablation_size_steps",
                                                       "gamma_first")])
        r = np.corrcoef(x, rowvar=False)
        assert np.abs(r - np.eye(len(r))).max() < 0.05, form
    for n in ("size_steps", "ablation_size_steps"):
        assert (draws["levels"][n] >= 0).all()
