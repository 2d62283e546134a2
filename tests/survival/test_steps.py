"""Size effects' parameterisation by data richness (survival/steps.py): the rule, the transform,
and that the prior is the same whichever parameterisation is used."""

import numpy as np
import pytest
from scipy import stats

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
    model = build_survival_model(design, spec)
    free = _free(model)
    # the offset is free, or sampled with its studies' effects (survival/shift.py: the bundled evidence)
    assert free.get("size_3to5_offset", free.get("shift_size_3to5_offset")) == "NoneType"
    assert "size_3to5_offset" in model.named_vars and "size_3to5_level" not in model.named_vars
    assert free["size_steps"] == free["ablation_size_steps"] == "NormalSoftplusBound"


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
