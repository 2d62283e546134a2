"""Exact check of the twin: PyMC's and Stan's log densities at the same points differ by a constant.

Both are evaluated without transform Jacobians, i.e. as densities of the constrained
parameters (PyMC ``model.compile_logp(jacobian=False)``, Stan ``log_prob(...,
adjust_transform=False)``); the zero-sum vectors use the same isometric coordinates on both
sides. Stan's ``~`` statements drop constant terms, so only the spread of the difference over
points matters: it is ~1e-9 when the two programs define the same posterior, and any missing,
doubled or mis-indexed term shows up as a spread of order one.
"""

from __future__ import annotations

import numpy as np

from . import export, run


def pymc_values(design, spec=None) -> dict:
    """PyMC free variable -> (Stan variable, index into the Stan draw of one point), or a
    function of the point's Stan draws (``{name: value}``) for the shifted effects' blocks."""
    out = {
        "gamma_first": ("gamma_first", ()), "gamma_steps": ("gamma_steps", ()),
        "class_effect": ("class_effect", ()), "tau_treatment": ("tau_treatment", ()),
        "z_treatment": ("z_treatment", ()), "size_3to5_offset": ("size_3to5_offset", ()),
        "size_steps": ("size_steps", ()), "ablation_size_steps": ("ablation_size_steps", ()),
        "nodularity_steps": ("nodularity_steps", ()), "recurrence_steps": ("recurrence_steps", ()),
        "beta_prior": ("beta_prior", ()), "beta_stage": ("beta_stage", ()), "sigma_study": ("sigma_study", ()),
        "z_study": ("z_study", ()), "sigma_population": ("sigma_population", (0,)),
        "z_population": ("z_population", ()), "z_latent_n": ("z_latent_n", ()),
    }
    for i, g in enumerate(design.latent_groups.loc[design.latent_groups["n_members"] > 1, "group"]):
        out[f"n_share_{int(g)}"] = ("n_share", (i,))
    if len(design.secondary):  # one block, secondary_outcome-major, as sec_* in Stan
        out.update({
            "secondary_logit_level": ("sec_level", ()), "secondary_class_effect": ("sec_class_effect", ()),
            "secondary_tau_treatment": ("sec_tau_treatment", ()), "secondary_z_treatment": ("sec_z_treatment", ()),
            "secondary_sigma_study": ("sec_sigma_study", ()), "secondary_z_study": ("sec_z_study", ()),
        })
    out.update(_shifted(design, spec) if spec is not None else {})
    return _split_means(out)


def _split_means(out: dict) -> dict:
    """Study-effect blocks sampled as mean and centred rest (rhcc_bayes.survival.shift.unit_normals):
    ``name_mean = sqrt(n) mean(z)`` and ``name_centred = z - mean(z)`` of the block's Stan values
    (entries for blocks the model does not split are unused)."""
    for name in ("z_study", "z_study_rest"):
        if name not in out:
            continue
        block = out[name] if callable(out[name]) else (lambda p, n=out[name][0]: np.asarray(p[n]))
        out[f"{name}_centred"] = lambda p, block=block: block(p) - block(p).mean()
        out[f"{name}_mean"] = lambda p, block=block: np.sqrt(block(p).size) * block(p).mean()
    return out


def _shifted(design, spec) -> dict:
    """Free variables of the shifted effects (rhcc_bayes.survival.shift) as functions of a Stan
    point: ``a = H x`` (the reflection is its own inverse), ``x`` the block's whitened values."""
    from rhcc_bayes.survival import shift

    plan = shift.model_plan(design, spec)
    out = {}
    for name, rows in plan.items():
        mean, sd = shift.prior_of(name, spec.priors)
        for i, studies in enumerate(rows):
            def block(p, i=i, studies=studies, mean=mean, sd=sd, name=name):
                beta = np.atleast_1d(p[name])[i]
                x = np.concatenate([[(beta - mean) / sd], np.asarray(p["z_study"])[studies]])
                sigma, k = float(p["sigma_study"]), len(studies)
                n = np.concatenate([[sigma], -sd * np.ones(k)]) / np.sqrt(sigma**2 + k * sd**2)
                h = n + np.eye(k + 1)[0]
                return x - h * (2 * h @ x / (h @ h))
            if studies:
                out[f"shift_{name}" + (f"_{i}" if len(rows) > 1 else "")] = block
    shifted = sorted(s for rows in plan.values() for r in rows for s in r)
    if shifted:
        rest = [s for s in range(len(design.studies)) if s not in shifted]
        out["z_study_rest"] = lambda p: np.asarray(p["z_study"])[rest]
    return out


def compare(design, spec, *, points: int = 20, seed: int = 1) -> np.ndarray:
    """log p_PyMC - log p_Stan at ``points`` draws of a short Stan run (one per point)."""
    import pytensor.tensor as pt

    from rhcc_bayes.survival.model import build_survival_model

    model = build_survival_model(design, spec)
    logp = model.compile_logp(jacobian=False)
    stan_model, _ = run.build(export.stan_data(design, spec), seed=seed)
    fit, _ = run.sample(stan_model, chains=1, draws=points, tune=200, target_accept=0.9)
    names = [n for n in fit.param_names]
    draws = {n: run.draws_of(fit, n)[0] for n in names}  # (draw, *shape)
    mapping = pymc_values(design, spec)
    free = {rv.name: rv for rv in model.free_RVs}
    missing = set(free) - set(mapping)
    if missing:
        raise ValueError(f"no Stan counterpart for PyMC variables {sorted(missing)}")
    diffs = []
    for d in range(points):
        point = {}
        for name, rv in free.items():
            if callable(mapping[name]):
                value = np.asarray(mapping[name]({n: draws[n][d] for n in names}), dtype=float)
            else:
                stan_name, index = mapping[name]
                value = np.asarray(draws[stan_name][d][index], dtype=float)
            transform = model.rvs_to_transforms[rv]
            if transform is not None:
                value = transform.forward(pt.as_tensor_variable(value), *rv.owner.inputs).eval()
            point[model.rvs_to_values[rv].name] = value
        constrained = {n: draws[n][d].tolist() for n in names}
        unconstrained = stan_model.unconstrain_pars(constrained)
        diffs.append(float(logp(point)) - float(stan_model.log_prob(unconstrained, adjust_transform=False)))
    return np.asarray(diffs)
