"""The Kaplan–Meier estimator (numpy) and step-function evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan–Meier estimate: survival just after each distinct event time.

    Attributes
    ----------
    times : ndarray
        Distinct event times (ascending).
    survival : ndarray
        S(t) at ``times`` (right-continuous step function).
    at_risk, events : ndarray
        Patients at risk just before, and deaths at, each time.
    """

    times: np.ndarray
    survival: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray

    def __call__(self, t) -> np.ndarray:
        """S(t) at any times: 1 before the first event, constant between events."""
        t = np.asarray(t, dtype=float)
        k = np.searchsorted(self.times, t, side="right")
        return np.concatenate([[1.0], self.survival])[k]

    def median(self) -> float:
        """First time S(t) <= 0.5; ``inf`` when the curve stays above 0.5."""
        below = np.nonzero(self.survival <= 0.5)[0]
        return float(self.times[below[0]]) if len(below) else float("inf")


def kaplan_meier(time, event) -> KaplanMeier:
    """Kaplan–Meier estimate from patient times and event indicators (1 death, 0 censored).

    Ties: deaths at t are counted before censorings at t (the usual convention).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    if time.shape != event.shape:
        raise ValueError("time and event must have the same length")
    order = np.argsort(time, kind="stable")
    time, event = time[order], event[order]
    uniq, first = np.unique(time, return_index=True)
    deaths = np.add.reduceat(event, first) if len(time) else np.array([], dtype=int)
    at_risk = len(time) - first
    keep = deaths > 0
    t, d, n = uniq[keep], deaths[keep], at_risk[keep]
    return KaplanMeier(times=t, survival=np.cumprod(1.0 - d / n), at_risk=n, events=d)


def number_at_risk(time, at) -> np.ndarray:
    """Patients with time >= each of ``at`` (the numbers-at-risk table of a curve)."""
    time = np.sort(np.asarray(time, dtype=float))
    return len(time) - np.searchsorted(time, np.asarray(at, dtype=float), side="left")
