"""Covariate effects reported by few studies, sampled jointly with those studies' effects.

A normal covariate effect ``beta ~ Normal(m, s)`` whose arms (those with a study effect) all
come from a few studies, each of which has it on every arm, enters the likelihood only
through ``beta + sigma_study * z_k`` for each carrying study ``k``: the data pin these sums
and the prior alone splits each into its two parts. With ``beta`` and ``z`` free that is a
thin ridge: on the default spec (model .11) corr(size_3to5_offset, z_study[wan_105]) = -0.71,
corr(beta_stage, z_study[peng_106]) = -0.68, and both loaded on the two narrowest directions
of the posterior (benchmarks/geometry.py).

Here the block's whitened coordinates ``x = ((beta - m) / s, z_1, ..., z_k)`` are an
orthogonal transform ``x = H a`` of free standard normals ``a``, with ``H`` the Householder
reflection that maps the first axis onto the one direction the data do not see,
``n = (sigma, -s, ..., -s) / sqrt(sigma^2 + k s^2)``: ``a_0`` is prior-only, ``a_1..a_k``
span the pinned sums. ``H`` depends on ``sigma_study`` but is orthogonal for every value
(|det| = 1), so ``a ~ Normal(0, I)`` is exactly the prior ``beta ~ Normal(m, s)``, ``z ~
Normal(0, 1)``; the log density on the free coordinates differs from the old one by the
constant ``log s`` (tests/survival/test_shift.py). ``beta`` and ``z_study`` stay in the trace
as Deterministics under their old names; the free blocks are ``shift_<effect>`` (not
``beta_*``, which names the effects predictions read). The shift only applies with at most
:data:`MAX_STUDIES` carrying studies: with many, each ``z_k`` is nearly free of ``beta`` (the
simulated designs of benchmarks/scaling.py shift nothing).

Measured (default spec, 4 x (300 + 1000) draws at target_accept 0.90, seeds 1-4 + spec seed,
benchmarks/seed_sweep.py): min bulk ESS 1712-2192 and 10.6-12.5 min ESS per 1000 gradients
with the shift, 0 divergences; 1506-1799 and 9.3-11.2 without, 1 divergence (seed 1). The
leapfrog steps stay at 31: the baseline level against the class effects remains the narrowest
direction (benchmarks/geometry.py).

The free study effects (``z_study``, or ``z_study_rest`` beside shifted blocks) are sampled as
their mean and the rest (:func:`unit_normals`): ``z = c + m / sqrt(n)`` with ``c ~
ZeroSumNormal(1)`` (n - 1 isometric coordinates) and ``m ~ Normal(0, 1)``, an orthogonal split
of n independent standard normals, so the log density is the same to the last constant. The
data pin ``gamma + sigma_study * mean(z)`` (every arm's level), the prior alone splits it: with
plain ``z`` that is one dense direction across all n coordinates and the baseline, which a
diagonal mass matrix cannot follow. Simulated evidence (benchmarks/scaling.py, seed 2, 170 arms,
113 studies): corr(gamma_first, mean z) = -0.48, bulk ESS of both ~675, min bulk ESS 673;
split: the mean's ESS ~3700, gamma_first's 1338, min bulk 1014 (beta_size).
"""

from __future__ import annotations

import numpy as np

from rhcc_bayes.survival.covariates import model_coords

#: A covariate effect carried by more studies than this keeps the plain parameterisation.
MAX_STUDIES = 3

#: A free block of at least this many study effects samples its mean apart (:func:`unit_normals`).
SPLIT_MIN_STUDIES = 2


def plan(design, effects: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, list[list[int]]]:
    """Carrying studies per element of each normal effect that qualifies for the shift.

    ``effects``: effect name -> (covariate, the design level indices of that covariate whose
    arms carry the effect), one entry per element of the effect (``beta_stage``: one per
    stage level; ``size_3to5_offset``: one, carried by every known size band). Returns
    effect name -> per element the (sorted) carrying study indices, ``[]`` where the shift
    does not apply; a study is shifted with one effect only (the first that claims it).
    """
    if not len(design.arms):
        return {}
    mask = design.study_effect_mask > 0
    study = design.arms["s_index"].to_numpy().astype(int)
    claimed: set[int] = set()
    out = {}
    for name, (covariate, *element_levels) in effects.items():
        if covariate not in design.covariate_index:
            continue
        level = design.covariate_index[covariate]
        rows = []
        for levels in element_levels:
            carries = np.isin(level, levels)
            studies = sorted(set(study[mask & carries].tolist()))
            whole = all(carries[mask & (study == s)].all() for s in studies)
            ok = 1 <= len(studies) <= MAX_STUDIES and whole and not claimed & set(studies)
            rows.append(studies if ok else [])
            claimed |= set(studies) if ok else set()
        if any(rows):
            out[name] = rows
    return out


def default_effects(spec, size_offsets: bool) -> dict:
    """The normal effects of the survival model that can carry a shift: the disease-stage
    levels and, when the size effects are offsets (:mod:`~rhcc_bayes.survival.steps`), the
    3to5 offset, which every known size band carries (le3 = offset - step, gt5 = offset + step)."""
    effects = {}
    if "stage" in spec.covariates:
        effects["beta_stage"] = ("stage", *[(i,) for i in range(len(model_coords()["stage_level"]))])
    if "size_band" in spec.covariates and size_offsets:
        effects["size_3to5_offset"] = ("size_band", (0, 1, 2))
    return effects


def model_plan(design, spec) -> dict[str, list[list[int]]]:
    """The plan :func:`~rhcc_bayes.survival.model.build_survival_model` uses for ``design``."""
    from rhcc_bayes.survival.steps import band_arms, use_levels

    return plan(design, default_effects(spec, size_offsets=not use_levels(band_arms(design)["all"])))


def prior_of(name: str, priors) -> tuple[float, float]:
    """(mean, sd) of the normal prior of a shiftable effect."""
    if name == "beta_stage":
        return priors.advanced_stage_mean, priors.advanced_stage_sd
    return 0.0, priors.covariate_sd


def split_mean(n: int) -> bool:
    """Whether a block of ``n`` free study-effect normals is sampled as its mean and the rest."""
    return n >= SPLIT_MIN_STUDIES


def unit_normals(pm, name: str, n: int, dims: str | None = None):
    """``n`` independent standard normals: the free ``name``, or, for a block that
    :func:`split_mean`, ``centred + mean / sqrt(n)`` from a ``ZeroSumNormal(1)`` ``name_centred``
    and a standard normal ``name_mean`` (an orthogonal split: the same prior, see the module
    docstring)."""
    if not split_mean(n):
        return pm.Normal(name, 0.0, 1.0, dims=dims) if dims else pm.Normal(name, 0.0, 1.0, shape=n)
    centred = pm.ZeroSumNormal(f"{name}_centred", sigma=1.0, shape=n)
    return centred + pm.Normal(f"{name}_mean", 0.0, 1.0) / np.sqrt(n)


def householder(pt, a, sigma, s: float, k: int):
    """``H a`` for the reflection mapping the first axis onto ``-n``, ``n`` the direction
    ``(sigma, -s, ..., -s)`` (normalised) along which ``s * x_0 + sigma * x_j`` are all constant."""
    n = pt.concatenate([pt.stack([sigma]), -s * pt.ones(k)]) / pt.sqrt(sigma**2 + k * s**2)
    h = pt.set_subtensor(n[0], n[0] + 1.0)  # e_0 + n: h.h = 2 (1 + n_0) >= 2, no cancellation
    return a - h * (2.0 * pt.dot(h, a) / pt.dot(h, h))


class StudyShift:
    """Builds the shifted effects and then ``z_study`` (see the module docstring).

    ``normal(name, mu, sd, dims=None)`` replaces ``pm.Normal`` for the effects in ``plan``;
    :meth:`z_study` assembles the study effects' unit normals from the shifted blocks and
    the remaining free ones.
    """

    def __init__(self, pm, pt, plan: dict[str, list[list[int]]], n_studies: int, sigma_study):
        self.pm, self.pt, self.plan, self.n_studies, self.sigma = pm, pt, plan, n_studies, sigma_study
        self.z: dict[int, object] = {}

    def normal(self, name: str, mu, sd: float, dims: str | None = None):
        pm, pt = self.pm, self.pt
        rows = self.plan.get(name)
        if not rows or not any(rows):
            return pm.Normal(name, mu, sd, dims=dims)
        plain = [i for i, r in enumerate(rows) if not r]
        rest = pm.Normal(f"{name}_rest", mu, sd, shape=len(plain)) if plain else None
        values = []
        for i, studies in enumerate(rows):
            if not studies:
                values.append(rest[plain.index(i)])
                continue
            a = pm.Normal(f"shift_{name}" + (f"_{i}" if len(rows) > 1 else ""), 0.0, 1.0, shape=len(studies) + 1)
            x = householder(pt, a, self.sigma, sd, len(studies))
            values.append(mu + sd * x[0])
            self.z.update({s: x[1 + j] for j, s in enumerate(studies)})
        value = pt.stack(values) if dims else values[0]
        return pm.Deterministic(name, value, dims=dims)

    def z_study(self):
        pm, pt = self.pm, self.pt
        if not self.z:
            z = unit_normals(pm, "z_study", self.n_studies, dims="study")
            return pm.Deterministic("z_study", z, dims="study") if split_mean(self.n_studies) else z
        shifted = sorted(self.z)
        free = [s for s in range(self.n_studies) if s not in self.z]
        blocks = [pt.stack([self.z[s] for s in shifted])]
        if free:
            blocks.append(unit_normals(pm, "z_study_rest", len(free)))
        # one gather puts the studies back in order (no per-study indexing of the free block, whose
        # gradient would otherwise be a sum of one term per study)
        order = np.argsort(np.asarray(shifted + free))
        return pm.Deterministic("z_study", pt.concatenate(blocks)[order], dims="study")
