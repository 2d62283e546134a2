"""Partial-pooling pieces (survival/pooling.py): the positive priors keep their distribution on
the normal-softplus coordinate, and the default model's log density is the log-coordinate one."""

import numpy as np
import pytest
from scipy import integrate, stats

from rhcc_bayes.survival import pooling

import compiling


@pytest.mark.parametrize("prior, scale, dist", [
    (pooling.scale_prior, 0.3, stats.gamma(2.0, scale=0.3 / 2.0)),
    (pooling.scale_prior, 0.6, stats.gamma(2.0, scale=0.6 / 2.0)),
    (pooling.half_normal, 0.3, stats.halfnorm(scale=0.3)),
    (pooling.half_normal, 0.5, stats.halfnorm(scale=0.5)),
])
def test_positive_priors_keep_their_density_on_the_free_coordinate(prior, scale, dist):
    """Without the Jacobian the log density is the prior's at the mapped value; with it, the
    free coordinate's density integrates to 1 (a wrong Jacobian or scale fails either)."""
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as m:
        prior(pm, "s", scale)
    value = m.rvs_to_values[m["s"]].name
    assert value == "s_normalsoftplus__"
    transform = m.rvs_to_transforms[m["s"]]
    y = np.array([-4.0, -1.5, -0.3, 0.0, 0.4, 1.0, 2.5])
    x = transform.backward(pt.as_tensor(y)).eval()
    assert np.all(x > 0) and np.all(np.diff(x) > 0)
    plain = m.compile_logp(jacobian=False)
    np.testing.assert_allclose([plain({value: v}) for v in y], dist.logpdf(x), rtol=1e-6)
    logp = m.compile_logp(jacobian=True)
    total = integrate.quad(lambda v: np.exp(logp({value: np.array(v)})), -40, 40, limit=400)[0]
    assert total == pytest.approx(1.0, abs=1e-6)


def test_default_model_density_is_the_log_coordinate_density():
    """The default model with every positive step / scale back on PyMC's log coordinate (model .10)
    has the same log density (no Jacobian) at the same parameter values: only NUTS' coordinates
    changed, not the posterior."""
    from pymc.logprob.transforms import LogTransform
    from pymc.model.transform.conditioning import change_value_transforms

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.model import build_survival_model

    spec = load_spec("default")
    model = build_survival_model(make_design(load_evidence(), spec), spec)
    moved = [rv.name for rv in model.free_RVs
             if type(model.rvs_to_transforms[rv]).__name__ == "NormalSoftplusBound"]
    assert {"tau_treatment", "sigma_study", "sigma_population", "nodularity_steps", "recurrence_steps",
            "size_steps", "ablation_size_steps", "secondary_tau_treatment", "secondary_sigma_study"} <= set(moved)
    old = change_value_transforms(model, {name: LogTransform() for name in moved})
    new_logp = compiling.function(model, [compiling.density(model, jacobian=False), *(model[name] for name in moved)])
    old_logp = compiling.function(old, [compiling.density(old, jacobian=False)])
    rng = np.random.default_rng(3)
    start = model.initial_point()
    for _ in range(5):
        y = {name: v + rng.normal(0.0, 0.5, np.shape(v)) for name, v in start.items()}
        logp, *x = new_logp(y)  # the positive parameters' values at the free coordinates y
        y_old = {k: v for k, v in y.items() if not k.endswith("_normalsoftplus__")}
        y_old.update({old.rvs_to_values[old[name]].name: np.log(v) for name, v in zip(moved, x)})
        assert logp == pytest.approx(old_logp(y_old)[0], rel=1e-10, abs=1e-8)
