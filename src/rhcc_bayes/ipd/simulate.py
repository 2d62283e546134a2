"""Simulated patients and digitised curves with known truth (examples, validation tests, benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rhcc_bayes.ipd.km import kaplan_meier, number_at_risk


def piecewise_times(rng: np.random.Generator, hazards, cuts, size: int, log_hr=0.0) -> np.ndarray:
    """Death times from a piecewise-constant hazard ``hazards[k]`` on ``[cuts[k], cuts[k+1])``
    (``cuts`` from 0, last segment open), times ``exp(log_hr)`` (per patient or scalar)."""
    hazards = np.asarray(hazards, dtype=float)
    cuts = np.asarray(cuts, dtype=float)
    scale = np.exp(np.broadcast_to(np.asarray(log_hr, dtype=float), (size,)))
    target = rng.exponential(1.0, size) / scale  # H_0(T) = E / exp(log_hr)
    widths = np.diff(np.r_[cuts, np.inf])
    h_at = np.r_[0.0, np.cumsum(hazards[:-1] * widths[:-1])]  # H_0 at each cut
    k = np.searchsorted(h_at, target, side="right") - 1
    return cuts[k] + (target - h_at[k]) / hazards[k]


def piecewise_survival(hazards, cuts, t) -> np.ndarray:
    """True S(t) of the piecewise hazard."""
    hazards, cuts = np.asarray(hazards, float), np.asarray(cuts, float)
    t = np.asarray(t, dtype=float)[:, None]
    hi = np.r_[cuts[1:], np.inf][None, :]
    expo = np.clip(np.minimum(t, hi) - cuts[None, :], 0, None)
    return np.exp(-(expo * hazards[None, :]).sum(axis=1))


def censored_cohort(rng, hazards, cuts, size: int, follow_up=(24.0, 72.0), dropout_rate: float = 0.0):
    """Patients with administrative censoring (follow-up uniform on ``follow_up``) and optional
    exponential loss to follow-up: DataFrame ``time_months, event``."""
    death = piecewise_times(rng, hazards, cuts, size)
    cens = rng.uniform(*follow_up, size)
    if dropout_rate > 0:
        cens = np.minimum(cens, rng.exponential(1.0 / dropout_rate, size))
    return pd.DataFrame({"time_months": np.minimum(death, cens), "event": (death <= cens).astype(int)})


def digitise(rng, time, event, n_points: int = 200, *, time_sd: float = 0.08, surv_sd: float = 0.004,
             grid_share: float = 0.3, duplicates: int = 3):
    """A Kaplan–Meier curve as a digitiser gives it: the corners of a random subset of its
    steps plus points along its flat parts, jittered, a few duplicated, shuffled.

    Returns DataFrame ``time_months, survival``.
    """
    km = kaplan_meier(time, event)
    end = float(np.max(time))
    corner_t = np.r_[km.times, km.times]
    corner_s = np.r_[np.r_[1.0, km.survival[:-1]], km.survival]  # top and bottom of each drop
    n_grid = max(2, int(round(grid_share * n_points)))
    n_corner = max(0, n_points - n_grid - duplicates)
    pick = rng.choice(len(corner_t), size=min(n_corner, len(corner_t)), replace=False)
    grid = np.linspace(0.0, end, n_grid)
    t = np.r_[corner_t[pick], grid]
    s = np.r_[corner_s[pick], km(grid)]
    t = t + rng.normal(0.0, time_sd, len(t))
    s = s + rng.normal(0.0, surv_sd, len(s))
    dup = rng.choice(len(t), size=duplicates, replace=False)
    t, s = np.r_[t, t[dup]], np.r_[s, s[dup]]
    order = rng.permutation(len(t))
    return pd.DataFrame({"time_months": np.round(t[order], 3), "survival": np.round(s[order], 4)})


def risk_table(time, at) -> pd.DataFrame:
    """The numbers-at-risk table of a cohort at times ``at`` (first 0)."""
    return pd.DataFrame({"time_months": np.asarray(at, dtype=float), "n_at_risk": number_at_risk(time, at)})
