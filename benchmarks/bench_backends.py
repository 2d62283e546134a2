"""Compare sampler backends on a synthetic arm-based hierarchical survival model.

The model mimics the R-HCC synthesis at its intended size: ~80 study arms in
~30 studies, 12 treatments pooled in 4 modality classes, a piecewise-constant
baseline hazard on 4 segments, study random effects and arm heterogeneity, all
non-centred (about 130 free parameters). Arms report events and person-time
per segment (Poisson likelihood), which shares the hazard structure with the
real likelihood blocks without depending on the build module.

Runs each configuration through :func:`rhcc_bayes.fit.sample` and prints compile
time, sampling time, the minimum bulk ESS over free parameters, min bulk-ESS per
second of sampling, and divergences.

Usage::

    .venv/bin/python benchmarks/bench_backends.py            # full: 4 x 1000 draws
    .venv/bin/python benchmarks/bench_backends.py --quick    # 2 x 300 draws

nutpie's jax backend is included only when jax is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import time
import warnings

import numpy as np


def synthetic_model(n_arms: int = 80, n_studies: int = 30, seed: int = 0):
    """Build the synthetic hierarchical model with simulated data.

    Returns
    -------
    pm.Model
    """
    import pymc as pm

    rng = np.random.default_rng(seed)
    n_treat, n_class, n_seg = 12, 4, 4
    treat_class = np.arange(n_treat) % n_class
    seg_len = np.array([12.0, 24.0, 24.0, 36.0])  # months: 0-12, 12-36, 36-60, 60-96

    study = np.r_[np.arange(n_studies), rng.integers(0, n_studies, n_arms - n_studies)]
    treat = rng.integers(0, n_treat, n_arms)
    n_pat = rng.integers(20, 200, n_arms)

    # True parameters (log hazard per month).
    gamma = np.log([0.02, 0.015, 0.012, 0.010])
    mu = rng.normal(0, 0.3, n_treat)
    u = rng.normal(0, 0.25, n_studies)
    eps = rng.normal(0, 0.1, n_arms)
    theta = mu[treat] + u[study] + eps
    # Events and exposure per segment from an exponential-within-segment cohort.
    at_risk = n_pat.astype(float)
    events = np.zeros((n_arms, n_seg), dtype=int)
    exposure = np.zeros((n_arms, n_seg))
    for k in range(n_seg):
        h = np.exp(gamma[k] + theta)
        p_die = 1 - np.exp(-h * seg_len[k])
        d = rng.binomial(at_risk.astype(int), p_die)
        events[:, k] = d
        # survivors contribute full length, deaths on average half of it
        exposure[:, k] = (at_risk - d) * seg_len[k] + d * seg_len[k] / 2
        at_risk = at_risk - d

    coords = {
        "arm": [f"arm{i:02d}" for i in range(n_arms)],
        "study": [f"study{i:02d}" for i in range(n_studies)],
        "treatment": [f"T{j:02d}" for j in range(n_treat)],
        "modality": [f"C{c}" for c in range(n_class)],
        "segment": ["0-12", "12-36", "36-60", "60-96"],
    }
    with pm.Model(coords=coords) as model:
        exposure_d = pm.Data("exposure", exposure, dims=("arm", "segment"))
        gamma_ = pm.Normal("gamma", np.log(0.015), 1.0, dims="segment")
        m_class = pm.Normal("m_class", 0, 0.5, dims="modality")
        tau_class = pm.HalfNormal("tau_class", 0.5)
        z_mu = pm.Normal("z_mu", 0, 1, dims="treatment")
        # Sum-to-zero identification is left to the real build module; here the
        # prior on m_class pins the level, which is enough for a timing benchmark.
        mu_ = pm.Deterministic("mu", m_class[treat_class] + tau_class * z_mu, dims="treatment")
        sigma_u = pm.HalfNormal("sigma_u", 0.5)
        z_u = pm.Normal("z_u", 0, 1, dims="study")
        sigma_eps = pm.HalfNormal("sigma_eps", 0.25)
        z_eps = pm.Normal("z_eps", 0, 1, dims="arm")
        theta_ = mu_[treat] + sigma_u * z_u[study] + sigma_eps * z_eps
        log_rate = gamma_[None, :] + theta_[:, None] + pm.math.log(exposure_d)
        pm.Poisson("events", pm.math.exp(log_rate), observed=events, dims=("arm", "segment"))
    return model


def run(label, model, settings, seed, *, nutpie_backend=None):
    """Sample once; return a dict of timings and efficiency."""
    import arviz as az

    from rhcc_bayes.inference.sampling import CompiledModel, sample

    compiled = None
    if nutpie_backend is not None:
        import nutpie

        t0 = time.perf_counter()
        native = nutpie.compile_pymc_model(model, backend=nutpie_backend)
        compiled = CompiledModel(model, "nutpie", native, time.perf_counter() - t0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = sample(
            model,
            settings,
            seed=seed,
            progressbar=False,
            log_likelihood=False,
            posterior_predictive=False,
            compiled=compiled,
        )
    free = [v.name for v in model.free_RVs]
    ess = az.ess(idata, var_names=free, method="bulk")
    min_ess, worst = min((float(ess[v].min()), v) for v in free)
    sampling = idata.attrs["wall_time_sampling_s"]
    return {
        "label": label,
        "compile_s": idata.attrs["wall_time_compile_s"],
        "sampling_s": sampling,
        "min_ess_bulk": min_ess,
        "worst": worst,
        "ess_per_s": min_ess / sampling,
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 chains x 300 draws (smoke run)")
    parser.add_argument("--arms", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-pymc", action="store_true", help="skip PyMC's NUTS (the slowest)")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    import pymc  # noqa: F401  (imported first: it resets its logger level on import)

    from rhcc_bayes.inference.sampling import SamplerSettings

    logging.getLogger("pymc").setLevel(logging.ERROR)

    base = dict(chains=2, draws=300, tune=300) if args.quick else dict(chains=4, draws=1000, tune=1000)
    model = synthetic_model(n_arms=args.arms)
    n_free = sum(int(np.prod(model.initial_point()[v.name].shape) or 1) for v in model.value_vars)
    print(f"synthetic model: {args.arms} arms, {n_free} free parameters; "
          f"{base['chains']} chains x {base['draws']} draws (+{base['tune']} tune), 2 cores")

    configs = [
        ("nutpie numba, low-rank mass matrix", SamplerSettings(**base), "numba"),
        ("nutpie numba, diagonal mass matrix", SamplerSettings(**base, low_rank_mass_matrix=False), "numba"),
    ]
    if importlib.util.find_spec("jax") is not None:
        configs.append(("nutpie jax, low-rank mass matrix", SamplerSettings(**base), "jax"))
    else:
        print("(jax not installed: nutpie's jax backend skipped)")
    if not args.skip_pymc:
        configs.append(("PyMC NUTS (C backend)", SamplerSettings(**base, backend="pymc"), None))

    rows = [run(label, model, settings, args.seed, nutpie_backend=nb) for label, settings, nb in configs]
    header = (
        f"{'configuration':38s} {'compile s':>9s} {'sample s':>9s} {'min ESS':>8s} "
        f"{'ESS/s':>8s} {'div':>4s}  worst parameter"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['label']:38s} {r['compile_s']:9.1f} {r['sampling_s']:9.1f} "
            f"{r['min_ess_bulk']:8.0f} {r['ess_per_s']:8.1f} {r['divergences']:4d}  {r['worst']}"
        )


if __name__ == "__main__":
    main()
