"""Likelihood blocks of the survival synthesis: one function per kind of reported summary.

Each block adds observed variables to the PyMC model under construction. Survival blocks
share the arm hazard through ``hazard``, an object with ``cumulative_hazard(theta, times)``
and ``median(theta)`` (PyTensor) bound to the baseline parameters of the spec's hazard
family; secondary outcomes (complications, response, length of stay) have sub-models of
their own.
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign


def observed_data(pm, name: str, values, dim: str):
    """Observations as a named data container ``<name>_data``, so a compiled model can be
    refitted to new data without recompiling (simulation-based calibration)."""
    return pm.Data(f"{name}_data", np.asarray(values), dims=dim)


def survival_likelihood(pm, pt, design: SurvivalDesign, hazard, theta):
    lm = design.landmarks
    if len(lm):
        th = theta[lm["arm_index"].to_numpy()]
        d_h = hazard.cumulative_hazard(th, lm["t"]) - hazard.cumulative_hazard(th, lm["t_prev"])
        p_death = pt.clip(-pt.expm1(-d_h), 1e-12, 1 - 1e-12)
        pm.Binomial("landmark_deaths", n=lm["at_risk"].to_numpy(), p=p_death,
                    observed=observed_data(pm, "landmark_deaths", lm["deaths"], "landmark_obs"), dims="landmark_obs")
    med = design.medians
    counted = med[med["se_log"].isna()]
    if len(counted):
        th = theta[counted["arm_index"].to_numpy()]
        surv = pt.exp(-hazard.cumulative_hazard(th, counted["time"]))
        pm.Binomial("median_alive", n=counted["at_risk"].to_numpy(), p=pt.clip(surv, 1e-12, 1 - 1e-12),
                    observed=observed_data(pm, "median_alive", counted["alive"], "median_obs"), dims="median_obs")
    with_ci = med[med["se_log"].notna()]
    if len(with_ci):
        th = theta[with_ci["arm_index"].to_numpy()]
        pm.Normal("median_log", mu=pt.log(hazard.median(th)), sigma=with_ci["se_log"].to_numpy(),
                  observed=observed_data(pm, "median_log", np.log(with_ci["time"]), "median_ci_obs"), dims="median_ci_obs")
    hr = design.hazard_ratios
    if len(hr):
        pm.Normal("log_hr", mu=theta[hr["arm_index"].to_numpy()] - theta[hr["comparator_index"].to_numpy()],
                  sigma=hr["se"].to_numpy(), observed=observed_data(pm, "log_hr", hr["log_hr"], "hr_obs"), dims="hr_obs")
