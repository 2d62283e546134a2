"""Simulated evidence with known truth: parameter recovery tests and simulation-based
calibration (SBC).

Truth is drawn from the spec's prior and the observations from the model's own
likelihood (``pm.sample_prior_predictive``) on a given design, so the simulated
evidence has exactly the structure of that design: the bundled data's arms, sizes and
reported summaries, or a synthetic table with the same reporting mix (landmarks,
medians, hazard ratios, single- and two-arm studies).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rhcc_bayes.evidence import schema
from rhcc_bayes.survival.design import SurvivalDesign

OBSERVED = {  # observed variable -> (design table, column)
    "landmark_deaths": ("landmarks", "deaths"),
    "median_alive": ("medians", "alive"),
    "log_hr": ("hazard_ratios", "log_hr"),
    "los_mean": ("stay", "mean_days"),
}


def synthetic_table(n_studies: int, treatments, rng, *, landmarks=(12.0, 36.0, 60.0)) -> pd.DataFrame:
    """An evidence table with the review's reporting mix and placeholder estimates.

    Each study has one or two arms (n 30–300); each arm reports landmark survival or
    a median; about a third of two-arm studies report only a hazard ratio for their
    second arm. Estimates are placeholders: :func:`simulate_design` replaces the
    counts that enter the likelihood.
    """
    rows = []
    size_limits = [(np.nan, np.nan), (np.nan, 3.0), (np.nan, 5.0), (5.0, np.nan)]

    def base(study, arm, treatment, n, size):
        return {c: "" for c in schema.COLUMNS} | {
            "study": study, "ref": "sim", "arm": arm, "treatment": treatment, "n": float(n),
            "population": "recurrent", "design": "retrospective", "default_use": "yes",
            "source": "simulated", "size_min_cm": size[0], "size_max_cm": size[1],
            "time_months": np.nan, "ci_low": np.nan, "ci_high": np.nan, "se": np.nan, "nodules_max": np.nan,
        }

    for s in range(n_studies):
        study = f"sim_{s:03d}"
        n_arms = 1 + int(rng.random() < 0.5)
        trts = rng.choice(list(treatments), size=n_arms, replace=False)
        size = size_limits[rng.integers(len(size_limits))]
        hr_only = n_arms == 2 and rng.random() < 0.35
        for k, trt in enumerate(trts):
            arm, n = f"arm{k}", int(rng.integers(30, 300))
            if k == 1 and hr_only:
                rows.append(base(study, arm, trt, n, size) | {
                    "outcome": "os", "measure": "hr", "estimate": 1.0, "ci_low": 0.5, "ci_high": 2.0,
                    "interval": "ci95", "comparator_arm": "arm0"})
                continue
            if rng.random() < 0.7:
                for t in landmarks:
                    rows.append(base(study, arm, trt, n, size) | {
                        "outcome": "os", "measure": "survival", "time_months": t, "estimate": float(np.exp(-0.02 * t))})
            else:
                rows.append(base(study, arm, trt, n, size) | {"outcome": "os", "measure": "median", "estimate": 30.0})
    table = pd.DataFrame(rows)
    table["file"], table["line"] = "simulated.csv", np.arange(2, len(table) + 2)
    return table


def replace_observations(design: SurvivalDesign, observed: dict) -> SurvivalDesign:
    """A copy of ``design`` whose observed counts/values are ``observed[var]``."""
    updates = {}
    for var, (table_name, column) in OBSERVED.items():
        if var in observed:
            tab = getattr(design, table_name).copy()
            known = (tab["latent"] < 0).to_numpy() if "latent" in tab else np.ones(len(tab), bool)
            if var == "median_alive":
                mask = tab["se_log"].isna().to_numpy() & known
                tab.loc[mask, column] = np.asarray(observed[var])
            elif var == "landmark_deaths":  # latent-n landmarks enter as potentials: not simulated
                tab.loc[known, column] = np.asarray(observed[var])
            else:
                tab[column] = np.asarray(observed[var])
            updates[table_name] = tab
    sec = design.secondary.copy()
    for outcome in sec["outcome"].unique():
        var = f"{outcome}_events"
        if var in observed:
            known = sec["latent"] < 0 if "latent" in sec else True
            sec.loc[(sec["outcome"] == outcome) & known, "events"] = np.asarray(observed[var])
    return replace(design, secondary=sec, **updates)


def simulate_design(design: SurvivalDesign, spec, seed: int) -> tuple[dict, SurvivalDesign]:
    """Draw one truth from the prior and data from the likelihood, on ``design``'s structure.

    Returns
    -------
    truth : dict
        Every prior variable (free and deterministic) as a numpy array, with xarray
        coords kept in ``truth["_coords"]``.
    simulated : SurvivalDesign
        ``design`` with its observations replaced by the simulated ones.
    """
    import pymc as pm

    from rhcc_bayes.survival.model import build_survival_model

    model = build_survival_model(design, spec)
    prior = pm.sample_prior_predictive(draws=1, model=model, random_seed=seed)
    truth = {k: v.values[0, 0] for k, v in prior.prior.data_vars.items()}
    truth["_coords"] = {k: v.values for k, v in prior.prior.coords.items()}
    observed = {k: v.values[0, 0] for k, v in prior.prior_predictive.data_vars.items()}
    return truth, replace_observations(design, observed)
