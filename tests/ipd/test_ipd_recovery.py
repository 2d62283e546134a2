"""Recovery: 300 simulated patients of one treatment (MWA, no arm in the bundled evidence),
reconstructed from their digitised Kaplan–Meier curve, move that treatment's posterior onto the
simulated truth and narrow it."""

from __future__ import annotations

import numpy as np
import pytest

from rhcc_bayes.ipd.simulate import piecewise_survival

pytestmark = pytest.mark.slow


def _survival(post, treatment: str, t: float) -> np.ndarray:
    """Draws of S(t) of ``treatment`` in the average study at the reference covariate levels."""
    p = post.idata.posterior
    gamma = p["gamma"].values.reshape(-1, p.sizes["segment"])
    mu = p["mu"].sel(treatment=treatment).values.reshape(-1)
    cuts = np.r_[0.0, post.synthesis.spec.cuts_months, np.inf]
    expo = np.clip(np.minimum(t, cuts[1:]) - cuts[:-1], 0, None)
    return np.exp(-np.exp(mu) * (np.exp(gamma) @ expo))


def test_ipd_moves_the_treatment_onto_the_truth_and_narrows_it(small_fit, ipd_example_fit):
    _, before = small_fit
    synthesis, after, truth = ipd_example_fit
    arm = truth["published_arm"]
    assert after.idata.attrs["ipd_patients"] == 300 + truth["registry"]["patients"]
    # the IPD is in the likelihood: one Poisson cell per arm x pattern x segment
    assert "ipd_deaths" in after.idata.log_likelihood
    # quick sampler settings (flagged when the gate fails): the treatment effects must still have mixed
    mu_rows = [i for i in after.gate.summary.index if str(i).startswith("mu[")]
    assert float(after.gate.summary.loc[mu_rows, "r_hat"].max()) < 1.05, after.gate
    for t in (36.0, 60.0):
        true_s = float(piecewise_survival(arm["monthly_hazards"], truth["cuts_months"], [t])[0])
        b, a = _survival(before, "MWA", t), _survival(after, "MWA", t)
        lo, hi = np.quantile(a, [0.05, 0.95])
        assert lo <= true_s <= hi, (t, true_s, lo, hi)
        assert abs(a.mean() - true_s) < abs(b.mean() - true_s)
        width_b = np.subtract(*np.quantile(b, [0.95, 0.05]))
        width_a = hi - lo
        assert width_a < 0.7 * width_b, (t, width_a, width_b)
