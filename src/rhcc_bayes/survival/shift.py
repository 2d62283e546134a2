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

Where the size effects are levels (:mod:`~rhcc_bayes.survival.steps`), the data pin each band's
level plus ``sigma_study`` times the mean effect of *that band's* studies, so there is one such
direction per band, not one overall: with the overall mean split off (model .18; seed 2, 632
arms, 421 studies, each in one band) every level was still correlated -0.39 to -0.47 with the
overall mean's coordinate and beta_size had the lowest bulk ESS (962). There the split is made
per group of studies with the same size bands (:func:`study_groups`,
:func:`grouped_unit_normals`), again orthogonal with the same log density: seed 2, 632 arms,
min bulk ESS 962 -> 1332 (sigma_study now the lowest; model .19).
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


def study_groups(design, spec) -> np.ndarray | None:
    """Group label per study for :func:`unit_normals`: the set of size bands on its arms with a
    study effect, when the model has size effects and they are levels
    (:func:`~rhcc_bayes.survival.steps.use_levels`); None (one group) otherwise. Studies without
    such arms share the label -1."""
    from rhcc_bayes.survival.steps import band_arms, use_levels

    if not len(design.arms) or "size_band" not in spec.covariates or not use_levels(band_arms(design)["all"]):
        return None
    mask = design.study_effect_mask > 0
    study = design.arms["s_index"].to_numpy().astype(int)[mask]
    bands = design.covariate_index["size_band"][mask]
    n = len(design.studies)
    signature = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(signature, study, 1 << bands.astype(np.int64))
    signature[signature == 0] = -1
    return signature


def unit_normals(pm, name: str, n: int, dims: str | None = None, groups=None):
    """``n`` independent standard normals: the free ``name``, or, for a block that
    :func:`split_mean`, ``centred + mean / sqrt(n)`` from a ``ZeroSumNormal(1)`` ``name_centred``
    and a standard normal ``name_mean`` (an orthogonal split: the same prior, see the module
    docstring). With ``groups`` (a label per normal) of more than one label: the same split
    within each group (:func:`grouped_unit_normals`)."""
    if not split_mean(n):
        return pm.Normal(name, 0.0, 1.0, dims=dims) if dims else pm.Normal(name, 0.0, 1.0, shape=n)
    if groups is not None and len(np.unique(groups)) > 1:
        return grouped_unit_normals(pm, name, np.asarray(groups))
    centred = pm.ZeroSumNormal(f"{name}_centred", sigma=1.0, shape=n)
    return centred + pm.Normal(f"{name}_mean", 0.0, 1.0) / np.sqrt(n)


def grouped_unit_normals(pm, name: str, groups: np.ndarray):
    """Independent standard normals ``z``, one per entry of ``groups``, sampled per group as
    ``c_g + m_g / sqrt(k_g)``: ``m ~ Normal(0, 1)`` per group (``name_group_mean``) and the
    group's zero-sum rest ``c_g`` from its ``k_g - 1`` coordinates of ``name_within`` (standard
    normals) by PyMC's isometric zero-sum map, all groups at once in O(n). The map from
    ``(within, group_mean)`` to ``z`` is orthogonal, so the density is the same to the last
    constant (tests/survival/test_shift.py)."""
    import pytensor.tensor as pt

    labels, at, gid, sizes = np.unique(groups, return_index=True, return_inverse=True, return_counts=True)
    first = np.zeros(len(groups), dtype=bool)
    first[at] = True  # each group's first study takes the zero-sum fill
    n_within = len(groups) - len(labels)
    within_slot = np.full(len(groups), n_within)  # index into concatenate([within, [0]])
    within_slot[~first] = np.arange(n_within)
    k = sizes[gid].astype(float)
    means = pm.Normal(f"{name}_group_mean", 0.0, 1.0, shape=len(labels))
    if not n_within:
        return means[gid]
    within = pm.Normal(f"{name}_within", 0.0, 1.0, shape=n_within)
    total = pt.inc_subtensor(pt.zeros(len(labels))[gid[~first]], within)  # per-group sum
    e = pt.concatenate([within, pt.zeros(1)])[within_slot]
    # PyMC's extend_axis per group: e - s / (sqrt(k) + k), the fill coordinate -s / sqrt(k)
    shrink = np.where(first, 1.0 / np.sqrt(k), 1.0 / (np.sqrt(k) + k))
    return e - shrink * total[gid] + means[gid] / np.sqrt(k)


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

    def __init__(self, pm, pt, plan: dict[str, list[list[int]]], n_studies: int, sigma_study, groups=None):
        self.pm, self.pt, self.plan, self.n_studies, self.sigma = pm, pt, plan, n_studies, sigma_study
        self.groups = groups  # study_groups: a label per study, or None
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
            z = unit_normals(pm, "z_study", self.n_studies, dims="study", groups=self.groups)
            return pm.Deterministic("z_study", z, dims="study") if split_mean(self.n_studies) else z
        shifted = sorted(self.z)
        free = [s for s in range(self.n_studies) if s not in self.z]
        blocks = [pt.stack([self.z[s] for s in shifted])]
        if free:
            groups = None if self.groups is None else np.asarray(self.groups)[free]
            blocks.append(unit_normals(pm, "z_study_rest", len(free), groups=groups))
        # one gather puts the studies back in order (no per-study indexing of the free block, whose
        # gradient would otherwise be a sum of one term per study)
        order = np.argsort(np.asarray(shifted + free))
        return pm.Deterministic("z_study", pt.concatenate(blocks)[order], dims="study")
