"""Standard Bayesian network meta-analysis (NICE DSU TSD2) as PyMC models.

One engine for arm-level binomial data (logit, or cloglog with a log follow-up offset),
arm-level normal data (identity) and contrast-level data (differences with SEs,
multi-arm trials with correlated contrasts), mixed freely across studies; fixed or
random study baselines; fixed or random treatment effects.

Model, for arm ``a`` of study ``s`` with base arm ``b(s)``::

    eta_a   = mu_s + delta_a (+ log t_s)       arm-level data, delta_b = 0
    theta_a = delta_a                           contrast-level data (a vs b)
    delta_a = d[t_a] - d[t_b]                   fixed effects
    delta_a ~ N(d[t_a] - d[t_b], tau^2)         random effects, corr 1/2 within a study

``d[reference] = 0``. Two inconsistency models (NICE DSU TSD4; Dias et al. 2010) replace
the consistency equation ``d[t_a] - d[t_b]``:

* unrelated mean effects (``model.consistency = "ume"``): the mean of ``delta_a`` is a free
  parameter ``d_ume`` of the pair (t_b, t_a), one per comparison made against a study's base
  arm (:func:`rhcc_bayes.nma.network.ume_structure`); there is no ``d``;
* node-splitting of ``x``-``y`` (``model.node_split = [x, y]``): in the studies containing
  both, the ``y`` arms sit at ``d[x] + d_direct`` instead of ``d[y]`` (every arm of such a study
  is expressed relative to ``x``; van Valkenhoef et al. 2016), so ``d_direct`` is the direct
  estimate and ``d[y] - d[x]`` the indirect one.

Random effects use the non-centred form of TSD2's conditional
formulation: ``delta = md + tau * L z`` with ``L`` the Cholesky factor of the
equicorrelated (rho = 1/2) matrix of each study's non-base arms, ``z ~ N(0, 1)``.
Fixed-effect parameters with diffuse priors (``d``, independent ``mu``) stay centred:
the data dominate them, so there is no funnel to remove.

Public API: :func:`build_nma_model` (fitted through :class:`rhcc_bayes.synthesis.Synthesis`,
or its wrapper :func:`rhcc_bayes.synthesis.run_nma`); statistics and tables live in
:mod:`rhcc_bayes.nma_results`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from rhcc_bayes.nma.data import _as_table, NMAData, prepare_nma_data
from rhcc_bayes.nma.network import (
    base_arm,
    comparison_label,
    resolve_comparison,
    split_arms,
    ume_structure,
)
from rhcc_bayes.nma.spec import NMASpec

# pm.Model -> (NMAData, NMASpec): fit statistics need the data arrays behind a model;
# a weak map keeps that link without attaching attributes to PyMC objects.
_MODEL_INFO: "weakref.WeakKeyDictionary[Any, tuple[NMAData, NMASpec]]" = weakref.WeakKeyDictionary()


def model_info(model) -> tuple[NMAData, NMASpec]:
    """The :class:`NMAData` and :class:`NMASpec` a model was built from."""
    try:
        return _MODEL_INFO[model]
    except (KeyError, TypeError):
        raise ValueError("this model was not built by rhcc_bayes.nma.build_nma_model") from None


def _equicorrelated_chol(m: int) -> np.ndarray:
    """Cholesky factor of the m x m matrix with 1 on the diagonal and 1/2 elsewhere."""
    return np.linalg.cholesky(0.5 * (np.eye(m) + np.ones((m, m))))


def random_effect_structure(data: NMAData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse (row, col, value) entries of the block-diagonal factor ``L`` over non-base arms.

    ``w = L z`` with ``z ~ N(0, I)`` gives each study's non-base random effects unit
    variance and correlation 1/2 (TSD2's multi-arm correction). Writing ``L`` sparsely
    keeps the cost linear in the number of arms for large networks.
    """
    nb = data.nonbase_arms
    study = data.arm_study[nb]
    rows, cols, vals = [], [], []
    for s in np.unique(study):
        pos = np.flatnonzero(study == s)
        chol = _equicorrelated_chol(pos.size)
        r, c = np.tril_indices(pos.size)
        rows.append(pos[r]); cols.append(pos[c]); vals.append(chol[r, c])
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _coords(data: NMAData, spec: NMASpec) -> dict[str, list[str]]:
    coords = {
        "treatment": list(data.treatments),
        "relative_treatment": list(data.treatments[1:]),
        "study": list(data.studies),
        "baseline_study": [data.studies[s] for s in data.baseline_studies],
        "arm": list(data.arm_labels),
        "nonbase_arm": [data.arm_labels[a] for a in data.nonbase_arms],
        "binomial_arm": [data.arm_labels[a] for a in data.binom_arm],
        "normal_arm": [data.arm_labels[a] for a in data.normal_arm],
    }
    if spec.ume:
        coords["comparison"] = [comparison_label(data, p) for p in ume_structure(data)[0]]
    for b in data.contrasts:
        coords[f"{b.name}_study"] = [data.studies[s] for s in b.study]
        if b.m > 1:
            coords[f"{b.name}_contrast"] = [f"contrast {k + 1}" for k in range(b.m)]
    return coords


def build_nma_model(evidence_table, spec: NMASpec, *, source: str = "<evidence>"):
    """Build the PyMC model of a network meta-analysis.

    Parameters
    ----------
    evidence_table : pandas.DataFrame, Evidence, path or NMAData
        Evidence rows in the :mod:`rhcc_bayes.schema` format (see
        :mod:`rhcc_bayes.nma_data` for the rows an NMA reads), a loaded ``Evidence``,
        an evidence CSV path, or prepared data.
    spec : NMASpec
    source : str
        Evidence file name used in error messages.

    Returns
    -------
    pymc.Model
        Free variables ``d_rel`` (non-reference effects; ``d_ume``, dims ``comparison``, in
        the UME model; plus ``d_direct`` in a node-splitting model), ``mu`` (study baselines; with
        random baselines ``mu_mean``, ``mu_sd``, ``mu_z``), ``tau`` and ``delta_z``
        (random effects). Deterministics: ``d`` (dims ``treatment``, 0 at the reference),
        ``delta`` (random effects, dims ``nonbase_arm``) and the fitted values of each
        likelihood block (``fitted_p``, ``fitted_y``, ``fitted_<contrast block>``) used by
        the deviance. Observed: ``r`` (binomial), ``y`` (normal), ``y_contrast`` and
        ``y_contrast_<m>arm`` (contrasts, one MvNormal per study with m contrasts).
    """
    import pymc as pm
    import pytensor.tensor as pt

    if isinstance(evidence_table, NMAData):
        data = evidence_table
    else:
        table, found = _as_table(evidence_table)
        data = prepare_nma_data(table, spec, found if found != "<evidence>" else source)
    if spec.prediction is not None:  # fail now, not after sampling
        data.treatment_index(spec.prediction.treatment, "prediction.baseline_treatment")
    split = None if spec.node_split is None else resolve_comparison(data, spec.node_split)
    n_arms = len(data.arm_labels)
    nb = data.nonbase_arms

    with pm.Model(coords=_coords(data, spec)) as model:
        md = _mean_effects(pm, pt, data, spec, split)
        if spec.random_effects:
            if spec.tau is not None:
                tau = pt.constant(spec.tau)
            else:
                tau = pm.HalfNormal("tau", sigma=spec.tau_sd)
            z = pm.Normal("delta_z", 0.0, 1.0, dims="nonbase_arm")
            rows, cols, vals = random_effect_structure(data)
            w = pt.inc_subtensor(pt.zeros(nb.size)[rows], vals * z[cols])
            delta_nb = pm.Deterministic("delta", md + tau * w, dims="nonbase_arm")
        else:
            delta_nb = md
        delta = pt.set_subtensor(pt.zeros(n_arms)[nb], delta_nb)

        mu = None
        if data.baseline_studies.size:
            if spec.baselines == "fixed":
                mu = pm.Normal("mu", 0.0, spec.baseline_sd, dims="baseline_study")
            else:
                mu_mean = pm.Normal("mu_mean", 0.0, spec.baseline_sd)
                mu_sd = pm.HalfNormal("mu_sd", sigma=spec.baseline_tau_sd)
                mu_z = pm.Normal("mu_z", 0.0, 1.0, dims="baseline_study")
                mu = pm.Deterministic("mu", mu_mean + mu_sd * mu_z, dims="baseline_study")

        if data.binom_arm.size:
            a = data.binom_arm
            eta = mu[data.arm_baseline[a]] + delta[a] + data.binom_offset
            if spec.link == "logit":
                p = pm.math.invlogit(eta)
            else:  # cloglog: P(event by t) = 1 - exp(-exp(eta))
                p = -pt.expm1(-pt.exp(eta))
            p = pm.Deterministic("fitted_p", p, dims="binomial_arm")
            if spec.link == "logit":
                pm.Binomial("r", n=data.binom_n, logit_p=eta, observed=data.binom_r, dims="binomial_arm")
            else:
                pm.Binomial("r", n=data.binom_n, p=p, observed=data.binom_r, dims="binomial_arm")
        if data.normal_arm.size:
            a = data.normal_arm
            theta = pm.Deterministic("fitted_y", mu[data.arm_baseline[a]] + delta[a], dims="normal_arm")
            pm.Normal("y", theta, data.normal_se, observed=data.normal_y, dims="normal_arm")
        for b in data.contrasts:
            if b.m == 1:
                theta = pm.Deterministic(f"fitted_{b.name}", delta[b.arm[:, 0]], dims=f"{b.name}_study")
                pm.Normal(b.name, theta, b.chol[:, 0, 0], observed=b.y[:, 0], dims=f"{b.name}_study")
            else:
                dims = (f"{b.name}_study", f"{b.name}_contrast")
                theta = pm.Deterministic(f"fitted_{b.name}", delta[b.arm], dims=dims)
                pm.MvNormal(b.name, mu=theta, chol=b.chol, observed=b.y, dims=dims)
    _MODEL_INFO[model] = (data, spec)
    return model


def _mean_effects(pm, pt, data: NMAData, spec: NMASpec, split):
    """Mean of each non-base arm's relative effect: consistency, UME or node-split (see module doc)."""
    nb = data.nonbase_arms
    if spec.ume:
        _, index, sign = ume_structure(data)
        d_ume = pm.Normal("d_ume", 0.0, spec.effect_sd, dims="comparison")
        return sign * d_ume[index]
    d_rel = pm.Normal("d_rel", 0.0, spec.effect_sd, dims="relative_treatment")
    d = pm.Deterministic("d", pt.concatenate([pt.zeros(1), d_rel]), dims="treatment")
    if split is None:
        return d[data.arm_treatment[nb]] - d[data.base_treatment[nb]]
    d_direct = pm.Normal("d_direct", 0.0, spec.effect_sd)
    location = pt.set_subtensor(d[data.arm_treatment][split_arms(data, split)], d[split[0]] + d_direct)
    return location[nb] - location[base_arm(data)[nb]]
