"""The evidence graph of a network: which comparisons are made directly, which lie on loops.

Pure functions of :class:`~rhcc_bayes.nma.data.NMAData` (no PyMC), used by the
inconsistency models in :mod:`rhcc_bayes.nma.model`:

* the unrelated-mean-effects (UME) model gives every pair of treatments compared within a
  study its own effect (:func:`ume_structure`);
* a node-splitting model of the comparison ``x``-``y`` gives the ``y`` arms of the studies
  that contain both ``x`` and ``y`` their own direct effect (:func:`split_arms`), and is
  only meaningful when the rest of the network still links ``x`` and ``y``
  (:func:`splittable_comparisons`).

Treatments are indices into ``data.treatments`` (reference first); a comparison ``(i, j)``
always has ``i < j`` and its effect is that of ``j`` relative to ``i``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from rhcc_bayes.core.errors import UserError, did_you_mean
from rhcc_bayes.nma.data import NMAData


def study_treatments(data: NMAData) -> list[set[int]]:
    """The set of treatment indices of each study (in ``data.studies`` order)."""
    out: list[set[int]] = [set() for _ in data.studies]
    for s, t in zip(data.arm_study, data.arm_treatment):
        out[int(s)].add(int(t))
    return out


def base_arm(data: NMAData) -> np.ndarray:
    """Index of each arm's study base arm (arms are ordered by study, base arm first)."""
    first = {}
    for a, s in enumerate(data.arm_study):
        first.setdefault(int(s), a)
    return np.array([first[int(s)] for s in data.arm_study], dtype=int)


def direct_comparisons(data: NMAData) -> dict[tuple[int, int], list[int]]:
    """Every pair ``(i, j)``, ``i < j``, compared within some study -> those studies' indices."""
    out: dict[tuple[int, int], list[int]] = {}
    for s, ts in enumerate(study_treatments(data)):
        for pair in combinations(sorted(ts), 2):
            out.setdefault(pair, []).append(s)
    return dict(sorted(out.items()))


def _connected(edges: list[tuple[int, int]], a: int, b: int) -> bool:
    adjacent: dict[int, set[int]] = {}
    for u, v in edges:
        adjacent.setdefault(u, set()).add(v)
        adjacent.setdefault(v, set()).add(u)
    seen, frontier = {a}, [a]
    while frontier:
        for v in adjacent.get(frontier.pop(), ()):
            if v not in seen:
                seen.add(v)
                frontier.append(v)
    return b in seen


def indirect_edges(data: NMAData, x: int, y: int) -> list[tuple[int, int]]:
    """Edges of the evidence left for the indirect ``x``-``y`` estimate in the node-split model.

    Studies without both ``x`` and ``y`` keep all their comparisons. A study with both (a
    multi-arm trial) keeps, as in gemtc's parameterisation (van Valkenhoef et al. 2016), only
    its comparisons of ``x`` with its other arms: its arms are expressed relative to ``x``,
    the ``y`` arm through the direct parameter.
    """
    edges = []
    for ts in study_treatments(data):
        if x in ts and y in ts:
            edges += [(x, t) for t in ts if t not in (x, y)]
        else:
            edges += list(combinations(sorted(ts), 2))
    return edges


def splittable_comparisons(data: NMAData) -> list[tuple[int, int]]:
    """Comparisons with direct evidence that also have indirect evidence: the ones to split.

    ``(x, y)`` is split when some study compares them and ``x`` and ``y`` stay connected
    through :func:`indirect_edges` - so the comparison lies on a loop that is not formed by
    one multi-arm trial alone (a loop inside one trial is consistent by construction, and
    without a second route the indirect estimate is not identified).
    """
    return [pair for pair in direct_comparisons(data) if _connected(indirect_edges(data, *pair), *pair)]


def comparison_label(data: NMAData, pair: tuple[int, int]) -> str:
    """``"j vs i"`` with treatment codes (the effect of j relative to i)."""
    i, j = pair
    return f"{data.treatments[j]} vs {data.treatments[i]}"


def resolve_comparison(data: NMAData, codes, what: str = "model.node_split") -> tuple[int, int]:
    """Treatment codes ``(a, b)`` -> ordered indices ``(i, j)``, checked to be splittable.

    Raises
    ------
    UserError
        Unknown treatment, no study comparing them directly, or no indirect evidence.
    """
    idx = []
    for code in codes:
        if code not in data.treatments:
            raise UserError(f"{what}: treatment {code!r} is not in {data.source}"
                            + did_you_mean(code, data.treatments) + "; treatments: " + ", ".join(data.treatments))
        idx.append(data.treatments.index(code))
    pair = (min(idx), max(idx))
    label = comparison_label(data, pair)
    if pair not in direct_comparisons(data):
        raise UserError(f"{what}: no study compares {label} directly: nothing to split")
    if not _connected(indirect_edges(data, *pair), *pair):
        raise UserError(f"{what}: {label} has no indirect evidence (it lies on no loop of the network "
                        "other than inside one multi-arm trial): nothing to split")
    return pair


def split_arms(data: NMAData, pair: tuple[int, int]) -> np.ndarray:
    """Arms whose effect is the direct ``pair`` parameter: the ``y`` arms of studies with ``x`` and ``y``."""
    x, y = pair
    has_both = np.array([x in ts and y in ts for ts in study_treatments(data)])
    return np.flatnonzero(has_both[data.arm_study] & (data.arm_treatment == y))


def ume_structure(data: NMAData) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Parameters of the unrelated-mean-effects model over the non-base arms.

    Returns
    -------
    pairs : list of (i, j)
        The comparisons made against some study's base arm; each gets its own effect.
    index : ndarray of int, one per non-base arm
        Which pair its mean effect is (0 where the arm has the base arm's treatment).
    sign : ndarray of float
        +1 when the arm's treatment is the later one of the pair, -1 when it is the base
        arm's that is later (a contrast-level study whose comparator comes later in the
        treatment order), 0 for an arm with the base arm's own treatment.

    Notes
    -----
    As in NICE DSU TSD4, a multi-arm trial enters through its contrasts against its base
    arm only: the loop inside such a trial is consistent by construction.
    """
    nb = data.nonbase_arms
    pairs: dict[tuple[int, int], int] = {}
    index = np.zeros(nb.size, dtype=int)
    sign = np.zeros(nb.size)
    for k, a in enumerate(nb):
        t, b = int(data.arm_treatment[a]), int(data.base_treatment[a])
        if t == b:
            continue
        pair = (min(t, b), max(t, b))
        index[k] = pairs.setdefault(pair, len(pairs))
        sign[k] = 1.0 if t > b else -1.0
    ordered = sorted(pairs)  # stable labels: (0, 1), (0, 2), ... whatever the study order
    remap = np.array([ordered.index(p) for p in pairs], dtype=int)
    return ordered, (remap[index] if pairs else index), sign
