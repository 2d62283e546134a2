"""Partial-pooling pieces shared by the survival model and its secondary sub-models."""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.transforms import NormalSoftplusBound


def scale_prior(pm, name: str, mean: float, **kwargs):
    """Boundary-avoiding Gamma(2, 2/mean) prior for a between-group SD.

    With a handful of studies a half-normal puts mass at 0, where the non-centred
    funnel's neck makes NUTS diverge; Gamma(2) has mean ``mean``, mode ``mean/2`` and
    zero density at 0 (Chung et al. 2013), which removed the divergences on the
    bundled evidence. NUTS moves on the normal-softplus coordinate (:func:`positive_transform`).
    """
    return pm.Gamma(name, alpha=2.0, beta=2.0 / mean, default_transform=positive_transform(mean), **kwargs)


def half_normal(pm, name: str, sigma: float, **kwargs):
    """``HalfNormal(sigma)`` sampled on the normal-softplus coordinate (:func:`positive_transform`)."""
    return pm.HalfNormal(name, sigma, default_transform=positive_transform(sigma), **kwargs)


def positive_transform(scale: float):
    """Free coordinate of a positive step or scale: a normal softplus instead of PyMC's log.

    :class:`~rhcc_bayes.survival.transforms.NormalSoftplusBound` with bound 0 and ``scale`` the
    prior's scale (a HalfNormal's sigma, a Gamma(2)'s mean).

    Only the coordinates NUTS moves in change, not the prior (model .11). On the log scale the
    weakly identified steps and scales of the default spec have an exponential left tail (a
    HalfNormal's log: skewness -1.3 to -2.5, excess kurtosis 3-16; tau_treatment's Gamma(2):
    -1.2 / 3) and a double-exponential wall on the right. They limited the step size (0.124 at
    target_accept 0.85, 0.145-0.15 on this coordinate; 0.078 and 63 leapfrog steps per draw at
    0.96), and 0.85-0.90 diverged (1-43 per seed), several times with a step near 0. The
    normal softplus is log-like only within ``scale`` of 0 and linear beyond: the tail towards 0
    is Gaussian and the far one the prior's own (half-normal: Gaussian, Gamma: exponential).
    The default spec runs at target_accept 0.93 with 32-35 steps per draw and 0 divergences on
    9 seeds, 1.5-1.9x the min bulk ESS per gradient (benchmarks/seed_sweep.py).
    """
    return NormalSoftplusBound(scale)


def centred_within_class(pt, z, class_index: np.ndarray):
    """z minus its class mean: treatment deviations that sum to zero within each class.

    Without this, the mean deviation of a class is informed by the prior alone and trades
    off against the baseline level, a slow direction for NUTS (R-hat 1.015 on the
    simulated-recovery fits). Deviations then have SD tau * sqrt(1 - 1/n_class); a class
    with one treatment (SBRT) is its class effect. ``z``'s last axis is the treatment axis
    (a leading axis, e.g. the secondary outcomes, is centred row by row).
    """
    members = (class_index[:, None] == np.arange(class_index.max() + 1)[None, :]).astype(float)
    means = pt.dot(z, members) / members.sum(axis=0)
    return z - pt.dot(means, members.T)
