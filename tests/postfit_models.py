"""Small models and posteriors shared by test_pointwise.py and test_predictive.py."""

from __future__ import annotations

import functools
import warnings

import numpy as np


def rich_model():
    """pm.Data, a Potential, transformed free variables and several observed blocks with their own dims.

    ``deaths`` is an IPD-like Poisson block (exposure data, explicit shape); ``events`` a
    binomial whose first parameter (``n``) is data and whose probability depends on the
    posterior (the case PyTensor's own vectorisation of an explicit-size RV gets wrong);
    ``noise`` depends on no free variable; ``total`` is a deterministic of an observed one.
    """
    import pymc as pm
    import pytensor.tensor as pt

    rng = np.random.default_rng(3)
    coords = {"arm": ["a", "b", "c"], "cell": list(range(6)), "trial": list(range(4)), "k": ["x", "y", "z"]}
    with pm.Model(coords=coords) as model:
        exposure = pm.Data("exposure", rng.uniform(1, 5, 6), dims="cell")
        arm_of_cell = pm.Data("arm_of_cell", np.array([0, 0, 1, 1, 2, 2]), dims="cell")
        n = pm.Data("n", np.array([20, 30, 25, 40]), dims="trial")
        mu = pm.Normal("mu", -1, 0.5)
        sigma = pm.HalfNormal("sigma", 0.5)
        z = pm.Normal("z", 0, 1, dims="arm")
        share = pm.Dirichlet("share", np.ones(3), dims="k")
        log_rate = pm.Deterministic("log_rate", mu + sigma * z, dims="arm")
        pm.Poisson("deaths", mu=exposure * pt.exp(log_rate[arm_of_cell]), shape=(6,),
                   observed=rng.poisson(2, 6), dims="cell")
        p = pm.math.sigmoid(log_rate[[0, 1, 2, 0]] + share[[0, 1, 2, 2]])
        events = pm.Binomial("events", n=n, p=p, shape=(4,), observed=np.array([5, 9, 7, 12]), dims="trial")
        pm.Normal("noise", 0, 1, observed=rng.normal(size=3), dims="k")
        pm.Deterministic("total", events.sum())
        pm.Potential("soft", -0.5 * mu**2)
    return model


def fake_posterior(model, chains: int = 2, draws: int = 50, seed: int = 1):
    """An InferenceData whose posterior is prior draws (chain x draw), with observed and constant data.

    The post-fit functions need values of the free variables, not a converged posterior;
    prior draws avoid a NUTS run.
    """
    import pymc as pm

    prior = pm.sample_prior_predictive(draws=chains * draws, model=model, random_seed=seed)
    names = [v.name for v in (*model.free_RVs, *model.deterministics) if v.name in prior.prior]
    post = prior.prior[names].isel(chain=0, drop=True)
    post = post.coarsen(draw=draws).construct(draw=("chain", "draw")).assign_coords(
        chain=np.arange(chains), draw=np.arange(draws)).transpose("chain", "draw", ...)
    import arviz as az

    idata = az.InferenceData(posterior=post)
    idata.add_groups({"observed_data": prior.observed_data, "constant_data": prior.constant_data})
    return idata


def eight_schools():
    """The eight-schools model with ``pm.Data``: the tiny model of the sampling and post-fit tests."""
    import pymc as pm

    y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    sd = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    with pm.Model(coords={"school": list("ABCDEFGH")}) as model:
        sigma = pm.Data("sigma", sd, dims="school")
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 5)
        z = pm.Normal("z", 0, 1, dims="school")
        theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        pm.Normal("y", theta, sigma, observed=y, dims="school")
    return model


@functools.cache
def eight_schools_fit(backend: str):
    """``(model, idata)``: :func:`eight_schools` through ``sample()`` with both post-fit groups
    (2 chains x 100 draws, seed 3), once per backend and test process: the log-likelihood and
    the predictive tests read the same fit. Callers must not modify it."""
    from rhcc_bayes.inference.sampling import SamplerSettings, sample

    model = eight_schools()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = sample(model, SamplerSettings(backend=backend, chains=2, draws=100, tune=100, cores=1), seed=3)
    return model, idata


def assert_same_dataset(ours, theirs, rtol=0.0):
    """Same variables (in order), dims, dtypes, coords, and values to ``rtol`` (0: identical)."""
    assert list(ours.data_vars) == list(theirs.data_vars)
    for name in theirs.data_vars:
        assert ours[name].dims == theirs[name].dims, name
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=rtol, atol=0, err_msg=name)
    assert set(ours.coords) == set(theirs.coords)
    for c in theirs.coords:
        np.testing.assert_array_equal(ours.coords[c].values, theirs.coords[c].values, err_msg=c)
