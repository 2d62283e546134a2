"""Do direct and indirect evidence agree? UME model fit and node-splitting (NICE DSU TSD4).

Two checks, as run first by gemtc and multinma users:

* **Unrelated mean effects (UME)** (Dias et al. 2013, TSD4 section 3): refit the network with
  one free effect per comparison (``model.consistency = "ume"``) and compare posterior mean
  residual deviance, pD and DIC with the consistency model. A UME model that fits clearly
  better (lower DIC by more than ~3-5; data points whose residual deviance drops) points to
  inconsistency. :func:`ume_comparison`.
* **Node-splitting** (Dias et al. 2010; van Valkenhoef et al. 2016): for every comparison
  ``x``-``y`` with both direct and indirect evidence
  (:func:`rhcc_bayes.nma.network.splittable_comparisons`) refit the network with the direct
  ``y`` vs ``x`` effect of the studies containing both as its own parameter ``d_direct``; the
  indirect estimate is ``d[y] - d[x]`` from the rest of the network. Reported: posterior of
  direct, indirect and their difference, and the two-sided Bayesian p-value
  ``2 min(P(diff > 0), P(diff < 0))``. :func:`node_split_summary`, :func:`node_split`.

Multi-arm trials follow gemtc's parameterisation (van Valkenhoef et al. 2016): a trial that
contains ``x`` and ``y`` has all its arms expressed relative to ``x``; its ``y`` arm informs
the direct estimate, its other arms the consistency parameters (so they still contribute
indirect evidence through their comparisons with ``x``). With random effects, the direct and
indirect parts share the heterogeneity SD ``tau`` (as in gemtc and TSD4).

Fitting is left to the caller (``fit(spec) -> posterior`` with ``.idata`` and ``.gate``), so this
module stays below the synthesis layer; :class:`rhcc_bayes.synthesis.SynthesisPosterior`
provides ``ume_comparison()`` and ``node_split()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from rhcc_bayes.nma.data import NMAData
from rhcc_bayes.nma.network import (
    comparison_label,
    direct_comparisons,
    resolve_comparison,
    splittable_comparisons,
    ume_structure,
)
from rhcc_bayes.nma.results import EFFECT_SCALE, _draws, nma_fit_statistics
from rhcc_bayes.nma.spec import NMASpec

Fit = Callable[[NMASpec], Any]  # spec -> an object with .idata (InferenceData) and .gate (GateReport)


def ume_spec(spec: NMASpec) -> NMASpec:
    """The unrelated-mean-effects version of a consistency spec (same priors, data, sampler)."""
    return dataclasses.replace(spec, consistency="ume", node_split=None, prediction=None,
                               name=f"{spec.name} [UME]".strip())


def split_spec(spec: NMASpec, comparison: tuple[str, str]) -> NMASpec:
    """The node-splitting version of ``spec`` for ``comparison`` (two treatment codes)."""
    x, y = comparison
    return dataclasses.replace(spec, consistency="consistency", node_split=(x, y), prediction=None,
                               name=f"{spec.name} [node-split {y} vs {x}]".strip())


def _summary(prefix: str, x: np.ndarray) -> dict[str, float]:
    q = np.quantile(x, (0.025, 0.975))
    return {f"{prefix}_mean": float(x.mean()), f"{prefix}_sd": float(x.std(ddof=1)),
            f"{prefix}_2.5%": float(q[0]), f"{prefix}_97.5%": float(q[1])}


def bayesian_p_value(diff: np.ndarray) -> float:
    """Two-sided ``2 min(P(diff > 0), P(diff < 0))`` from posterior draws of the difference."""
    diff = np.asarray(diff, float).ravel()
    return float(min(1.0, 2 * min(np.mean(diff > 0), np.mean(diff < 0))))


def node_split_summary(idata, data: NMAData, pair: tuple[int, int], network_idata=None) -> dict[str, float]:
    """Direct, indirect, difference and p-value of one fitted node-splitting model.

    Parameters
    ----------
    idata : arviz.InferenceData
        Posterior of the model built with ``node_split`` = this pair.
    data : NMAData
    pair : (i, j)
        Treatment indices, ``i < j``; effects are of ``j`` relative to ``i``.
    network_idata : arviz.InferenceData, optional
        The consistency fit, whose ``d[j] - d[i]`` is reported as the network estimate.
    """
    i, j = pair
    direct = _draws(idata, "d_direct").ravel()
    d = _draws(idata, "d")
    indirect = d[:, j] - d[:, i]
    diff = direct - indirect
    row: dict[str, float] = {"n_direct_studies": len(direct_comparisons(data)[pair])}
    row |= _summary("direct", direct) | _summary("indirect", indirect) | _summary("diff", diff)
    row["p_value"] = bayesian_p_value(diff)
    if network_idata is not None:
        dn = _draws(network_idata, "d")
        row |= _summary("network", dn[:, j] - dn[:, i])
    return row


@dataclass(frozen=True)
class NodeSplitResult:
    """Node-splitting of every splittable comparison: one row per comparison.

    ``table`` columns: ``n_direct_studies``; ``direct_*``, ``indirect_*``, ``diff_*`` and
    (with a consistency fit) ``network_*`` (mean, sd, 2.5%, 97.5%); ``p_value``; the split
    model's ``resdev``, ``pD``, ``DIC``; ``gate_passed``.
    """

    table: pd.DataFrame
    scale: str
    gates: dict[str, Any]

    def to_text(self) -> str:
        t = self.table
        if t.empty:
            return "Node-splitting: no comparison has both direct and indirect evidence (no loops)."
        cols = {"direct": "direct", "indirect": "indirect", "diff": "difference"}
        lines = [f"Node-splitting ({self.scale}; mean [95% CrI]; p = 2 min(P(diff>0), P(diff<0))):"]
        show = pd.DataFrame(index=t.index)
        show["studies"] = t["n_direct_studies"].astype(int)
        for key, title in cols.items():
            show[title] = [f"{m: .3f} [{lo: .3f}, {hi: .3f}]" for m, lo, hi in
                           zip(t[f"{key}_mean"], t[f"{key}_2.5%"], t[f"{key}_97.5%"])]
        if "network_mean" in t:
            show["network"] = [f"{m: .3f} [{lo: .3f}, {hi: .3f}]" for m, lo, hi in
                               zip(t["network_mean"], t["network_2.5%"], t["network_97.5%"])]
        show["p"] = [f"{p:.3f}" for p in t["p_value"]]
        show["DIC"] = [f"{v:.1f}" for v in t["DIC"]]
        lines.append(show.to_string())
        bad = [c for c, ok in zip(t.index, t["gate_passed"]) if not ok]
        if bad:
            lines.append("!!! WARNING: the diagnostics gate FAILED for " + ", ".join(bad)
                         + " - do not trust those rows !!!")
        low = [c for c, p in zip(t.index, t["p_value"]) if p < 0.05]
        lines.append("Direct and indirect evidence disagree (p < 0.05) for: " + ", ".join(low) if low else
                     "No comparison with p < 0.05: no evidence of inconsistency from node-splitting.")
        return "\n".join(lines)


def node_split(data: NMAData, spec: NMASpec, fit: Fit, comparisons: Iterable | None = None,
               network_idata=None) -> NodeSplitResult:
    """Fit a node-splitting model for each comparison and summarise them.

    Parameters
    ----------
    data : NMAData
    spec : NMASpec
        The consistency spec.
    fit : callable
        ``fit(spec)`` returns a fitted posterior (``.idata``, ``.gate``) of ``spec`` on ``data``'s
        evidence (e.g. ``lambda s: Synthesis(s, evidence).fit(...)``).
    comparisons : iterable of (code, code), optional
        Default: :func:`~rhcc_bayes.nma.network.splittable_comparisons`. Each given pair is
        checked to have direct and indirect evidence.
    network_idata : arviz.InferenceData, optional
        The consistency fit, for the ``network_*`` columns.
    """
    if comparisons is None:
        pairs = splittable_comparisons(data)
    else:
        pairs = [resolve_comparison(data, c, "node-split comparison") for c in comparisons]
    rows, gates = {}, {}
    for pair in pairs:
        label = comparison_label(data, pair)
        post = fit(split_spec(spec, (data.treatments[pair[0]], data.treatments[pair[1]])))
        row = node_split_summary(post.idata, data, pair, network_idata)
        stats = nma_fit_statistics(post.idata, data, loo=False)
        row |= {"resdev": stats["resdev"], "pD": stats["pD"], "DIC": stats["DIC"],
                "gate_passed": bool(post.gate.passed)}
        rows[label], gates[label] = row, post.gate
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "comparison"
    return NodeSplitResult(table=table, scale=EFFECT_SCALE[spec.link], gates=gates)


@dataclass(frozen=True)
class UMEComparison:
    """Consistency vs unrelated-mean-effects model: fit statistics and effects side by side.

    ``fit``: rows ``consistency``, ``ume``; columns ``resdev``, ``resdev_mcse``, ``pD``, ``DIC``,
    ``n_data_points``, ``gate_passed``. ``pointwise``: the posterior mean residual deviance of
    each data point under both models (TSD4's dev-dev plot in numbers). ``effects``: per
    comparison made against a study base arm, the UME estimate and the consistency model's.
    """

    fit: pd.DataFrame
    pointwise: pd.DataFrame
    effects: pd.DataFrame
    scale: str

    @property
    def dic_difference(self) -> float:
        """DIC(consistency) - DIC(UME): positive when the UME model fits better for its complexity."""
        return float(self.fit.loc["consistency", "DIC"] - self.fit.loc["ume", "DIC"])

    def to_text(self) -> str:
        f = self.fit
        lines = ["Consistency vs unrelated mean effects (UME) model (NICE DSU TSD4):",
                 f.to_string(float_format=lambda v: f"{v:.2f}")]
        d = self.dic_difference
        verdict = ("the UME model fits better: check the comparisons below and the node-splits for inconsistency"
                   if d > 3 else "no evidence that the consistency assumption worsens the fit")
        lines.append(f"DIC(consistency) - DIC(UME) = {d:.2f}: {verdict}.")
        if not f["gate_passed"].all():
            lines.append("!!! WARNING: the diagnostics gate FAILED for "
                         + ", ".join(f.index[~f["gate_passed"].astype(bool)]) + " - do not trust those numbers !!!")
        e = self.effects
        lines += ["", f"Effects per comparison ({self.scale}; mean [95% CrI]):",
                  pd.DataFrame({
                      "UME": [f"{m: .3f} [{lo: .3f}, {hi: .3f}]" for m, lo, hi in
                              zip(e["ume_mean"], e["ume_2.5%"], e["ume_97.5%"])],
                      "consistency": [f"{m: .3f} [{lo: .3f}, {hi: .3f}]" for m, lo, hi in
                                      zip(e["consistency_mean"], e["consistency_2.5%"], e["consistency_97.5%"])],
                  }, index=e.index).to_string()]
        worse = self.pointwise[self.pointwise["consistency"] - self.pointwise["ume"] > 1.0]
        if len(worse):
            lines += ["", "Data points fitting worse under consistency (residual deviance higher by > 1):",
                      worse.to_string(float_format=lambda v: f"{v:.2f}")]
        return "\n".join(lines)


def ume_comparison(data: NMAData, spec: NMASpec, consistency_post, ume_post) -> UMEComparison:
    """Compare a consistency fit with its UME refit (both on ``data``)."""
    rows, points = {}, {}
    for name, post in (("consistency", consistency_post), ("ume", ume_post)):
        stats = nma_fit_statistics(post.idata, data, loo=False)
        rows[name] = {k: stats[k] for k in ("resdev", "resdev_mcse", "pD", "DIC", "n_data_points")}
        rows[name]["gate_passed"] = bool(post.gate.passed)
        points[name] = stats["pointwise"]["resdev"]
    fit = pd.DataFrame.from_dict(rows, orient="index")
    pointwise = pd.DataFrame(points)
    pointwise.index.name = "data point"
    ume = _draws(ume_post.idata, "d_ume")
    d = _draws(consistency_post.idata, "d")
    effects = {}
    for k, (earlier, later) in enumerate(ume_structure(data)[0]):  # the order of d_ume's comparison dim
        effects[comparison_label(data, (earlier, later))] = _summary("ume", ume[:, k]) | _summary("consistency", d[:, later] - d[:, earlier])
    table = pd.DataFrame.from_dict(effects, orient="index")
    table.index.name = "comparison"
    return UMEComparison(fit=fit, pointwise=pointwise, effects=table, scale=EFFECT_SCALE[spec.link])
