"""Figures for decisions, evidence and model criticism.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``show``;
the caller saves or embeds it (:func:`figure_png` gives PNG bytes). No backend is forced
here, so figures display in Jupyter; the CLI uses the Agg backend for its run.

Conventions: intervals are central 95%; legends sit outside the data area; densities are
smooth (Gaussian kernel, reflected at the bounds); decision figures show the leading
ranked options only (pooled mixtures are never options). The forest plot and the PPC show
ONE predictive distribution, :data:`PREDICTIVE`: the posterior predictive for a replicate
of the same arm (its own fitted study effect plus binomial sampling noise), so a point is
"outside" in one exactly when it is in the other.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CI = 0.95
_Q = ((1 - CI) / 2, 1 - (1 - CI) / 2)
#: The one predictive distribution of the forest plot and the PPC.
PREDICTIVE = "posterior predictive for a replicate of the same arm (its own study effect + sampling noise)"
PREDICTIVE_SHORT = "95% predictive interval (replicate of the same arm)"
LEADING = 3
COLORS = ("#1f5fa6", "#d1495b", "#2e8b57", "#8e6c8a", "#e08e0b", "#5a5a5a")


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of ``fig`` (the figure is closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _top(result, max_treatments: int | None) -> list[str]:
    """Leading ranked options, best expected utility first (pooled mixtures left out)."""
    table = result.ranked if hasattr(result, "ranked") else result.table
    names = table["treatment"].tolist()
    return names if max_treatments is None else names[:max_treatments]


def _legend_outside(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  frameon=False, **kw)


def survival_curves(result, *, max_treatments: int | None = LEADING, layout: str = "panels", figsize=None):
    """Posterior mean S(t) with 95% bands for the leading options of a DecisionResult.

    ``layout="panels"`` (default): small multiples, one option per panel with its own band;
    the other leading options' mean curves are drawn thin and grey for reference.
    ``layout="overlay"``: one panel, bands drawn as outlines so they stay distinguishable.
    """
    names = _top(result, max_treatments)
    surv = result.survival["survival"]
    t = surv["time"].values
    curves = {}
    for name in names:
        s = surv.sel(treatment=name).stack(sample=("chain", "draw")).transpose("time", "sample").values
        lo, hi = np.quantile(s, _Q, axis=1)
        curves[name] = (s.mean(axis=1), lo, hi)
    table = result.table.set_index("treatment")
    h = f"{result.horizon:g}"

    def label(name):
        r = table.loc[name]
        return f"{name}: RMST{h} {r.rmst_mean:.1f} [{r.rmst_lo:.1f}, {r.rmst_hi:.1f}] mo"

    if layout == "overlay" or len(names) <= 1:
        fig, ax = plt.subplots(figsize=figsize or (9, 4.8))
        axes = [ax]
        for k, name in enumerate(names):
            mean, lo, hi = curves[name]
            c = COLORS[k % len(COLORS)]
            ax.plot(t, mean, lw=2.2, color=c, label=label(name))
            ax.fill_between(t, lo, hi, color=c, alpha=0.08)
            ax.plot(t, lo, color=c, lw=0.9, ls="--")
            ax.plot(t, hi, color=c, lw=0.9, ls="--")
        _legend_outside(ax, fontsize=8)
    else:
        n = len(names)
        fig, axes = plt.subplots(1, n, figsize=figsize or (4.0 * n, 4.2), sharey=True, squeeze=False)
        axes = list(axes[0])
        for k, (ax, name) in enumerate(zip(axes, names)):
            for other in names:
                if other != name:
                    ax.plot(t, curves[other][0], color="#b0b0b0", lw=1)
            mean, lo, hi = curves[name]
            c = COLORS[k % len(COLORS)]
            ax.fill_between(t, lo, hi, color=c, alpha=0.22, lw=0)
            ax.plot(t, mean, lw=2.2, color=c)
            r = table.loc[name]
            ax.set_title(f"{k + 1}. {name}\nRMST{h} {r.rmst_mean:.1f} [{r.rmst_lo:.1f}, {r.rmst_hi:.1f}] mo",
                         fontsize=9)
        axes[0].set_ylabel("overall survival S(t)")
    for ax in axes:
        ax.set_xlim(0, t[-1])
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("months since salvage treatment")
        ax.grid(alpha=0.3)
    if layout == "overlay" or len(names) <= 1:
        axes[0].set_ylabel("overall survival S(t)")
    fig.suptitle(f"Expected survival, leading {len(names)} options for {result.profile.id} "
                 f"({result.population} study population; shaded: 95% credible band"
                 + ("; grey: the other leading options)" if layout != "overlay" and len(names) > 1 else ")"),
                 fontsize=10)
    fig.tight_layout()
    if result.gate_warning:
        _stamp(fig)
    return fig


def smooth_density(x: np.ndarray, grid: np.ndarray, low: float | None = None, high: float | None = None):
    """Gaussian kernel density of draws ``x`` on ``grid`` (Scott bandwidth), reflected at the
    bounds ``low``/``high`` so that no mass leaks outside a bounded quantity (RMST in [0, horizon])."""
    from scipy.stats import gaussian_kde

    x = np.asarray(x, float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        return np.zeros_like(grid, dtype=float)
    kde = gaussian_kde(x)
    dens = kde(grid)
    if low is not None:
        dens = dens + kde(2 * low - grid)
    if high is not None:
        dens = dens + kde(2 * high - grid)
    return dens


def rmst_densities(result, *, max_treatments: int | None = LEADING, figsize=(9, 4.5)):
    """Smooth posterior densities of RMST (or QA-RMST) to the horizon, leading options only."""
    var = "utility" if "utility" in result.survival else "rmst"
    fig, ax = plt.subplots(figsize=figsize)
    grid = np.linspace(0, result.horizon, 400)
    for k, name in enumerate(_top(result, max_treatments)):
        x = result.survival[var].sel(treatment=name).values.ravel()
        c = COLORS[k % len(COLORS)]
        dens = smooth_density(x, grid, 0.0 if var == "rmst" else None, result.horizon if var == "rmst" else None)
        ax.plot(grid, dens, lw=2, color=c, label=f"{name} (mean {x.mean():.1f})")
        ax.fill_between(grid, dens, color=c, alpha=0.08)
        ax.axvline(x.mean(), color=c, ls=":", lw=1)
    label = "quality-adjusted RMST" if var == "utility" else "RMST"
    ax.set_xlabel(f"{label} to {result.horizon:g} months (months)")
    ax.set_ylabel("posterior density")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{label} posterior, profile {result.profile.id} (dotted: mean)", fontsize=10)
    ax.grid(alpha=0.3)
    _legend_outside(ax, fontsize=8)
    fig.tight_layout()
    if result.gate_warning:
        _stamp(fig)
    return fig


def _network_edges(arms: pd.DataFrame) -> dict[tuple[str, str], int]:
    edges: dict[tuple[str, str], int] = {}
    for _, g in arms.groupby("study"):
        trts = sorted(set(g["treatment"]))
        for i in range(len(trts)):
            for j in range(i + 1, len(trts)):
                edges[(trts[i], trts[j])] = edges.get((trts[i], trts[j]), 0) + 1
    return edges


def network_components(nodes, edges) -> list[list[str]]:
    """Connected parts of the comparison network, largest first (isolated nodes are parts of one)."""
    parent = {n: n for n in nodes}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    parts: dict[str, list[str]] = {}
    for n in nodes:
        parts.setdefault(find(n), []).append(n)
    return sorted(parts.values(), key=lambda p: (-len(p), p[0]))


def network_text(components: list[list[str]]) -> str:
    """Plain words on which parts of the network are disconnected."""
    linked = [c for c in components if len(c) > 1]
    single = [c[0] for c in components if len(c) == 1]
    if len(components) <= 1:
        return "The network is connected: every treatment is linked to every other by within-study comparisons."
    parts = [" - ".join(c) for c in linked]
    text = f"The network is disconnected ({len(components)} parts). "
    if parts:
        text += "Compared within studies: " + "; ".join(f"[{p}]" for p in parts) + ". "
    if single:
        text += ("No within-study comparison (single-arm cohorts, linked only through the model's "
                 "exchangeability assumptions): " + ", ".join(single) + ".")
    return text


def evidence_counts_index(design) -> list[str]:
    """Treatments with study arms in the likelihood (the network's nodes)."""
    return sorted(set(design.study_arms["treatment"]))


def evidence_map(design, *, figsize=(13, 6.2)):
    """Left: studies and patients per treatment in the likelihood. Right: the treatment network
    (node size ~ patients; an edge per pair compared within a study, width ~ number of studies;
    colour = connected part), with a sentence naming the disconnected parts."""
    from rhcc_bayes.report.summaries import evidence_counts

    counts = evidence_counts(design).fillna(0).sort_values("patients")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1, 1.2]})
    y = np.arange(len(counts))
    ax1.barh(y, counts["patients"], color="#4C72B0")
    for yi, (s, n) in enumerate(zip(counts["studies"], counts["patients"])):
        ax1.text(n, yi, f"  {int(n)} pts, {int(s)} stud.", va="center", fontsize=8)
    ax1.set_yticks(y, counts.index, fontsize=8)
    ax1.set_xlabel("patients in the likelihood")
    ax1.set_xlim(0, max(float(counts["patients"].max() or 1), 1) * 1.5)
    ax1.set_title("Evidence per treatment", fontsize=10)

    nodes = list(counts.index[::-1])
    edges = _network_edges(design.study_arms)  # ranges and pooled results are not study arms
    comps = network_components(nodes, edges)
    # place each connected part on consecutive angles so its edges stay short
    order = [n for c in comps for n in c]
    k = len(order)
    angle = np.linspace(0, 2 * np.pi, k, endpoint=False) + np.pi / 2
    pos = {n: (np.cos(a), np.sin(a)) for n, a in zip(order, angle)}
    part_of = {n: i for i, c in enumerate(comps) for n in c}
    palette = ["#DD8452", "#55A868", "#8172B2", "#C44E52", "#937860", "#64B5CD"]
    for (a, b), w in edges.items():
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax2.plot([x1, x2], [y1, y2], color="#666666", lw=1.5 * w, zorder=1)
    sizes = {n: 60 + 4 * float(counts.loc[n, "patients"]) for n in order}
    for n in order:
        c = palette[part_of[n] % len(palette)] if len(comps[part_of[n]]) > 1 else "#d9d9d9"
        ax2.scatter(*pos[n], s=sizes[n], color=c, edgecolor="k", zorder=2)
        x, yy = pos[n]
        r_pts = np.sqrt(sizes[n]) / 2 + 4  # marker radius in points, plus a gap
        ha = "left" if x > 0.2 else "right" if x < -0.2 else "center"
        va = "bottom" if yy > 0.2 else "top" if yy < -0.2 else "center"
        ax2.annotate(n, pos[n], xytext=(x * r_pts, yy * r_pts), textcoords="offset points", ha=ha, va=va,
                     fontsize=7.5, zorder=3)
    ax2.set_xlim(-1.9, 1.9)
    ax2.set_ylim(-1.5, 1.5)
    ax2.set_aspect("equal")
    ax2.axis("off")
    ax2.set_title("Within-study comparisons (grey nodes: no comparison)", fontsize=10)
    fig.text(0.5, 0.01, textwrap.fill(network_text(comps), 170), ha="center", va="bottom", fontsize=8.5)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def forest_data(idata, design, *, seed: int = 0) -> pd.DataFrame:
    """Each arm's reported survival summary vs :data:`PREDICTIVE`, on the reported scale.

    The intervals are those of the PPC (:func:`rhcc_bayes.survival.criticism.ppc_table`),
    mapped back monotonically: a landmark's deaths D of R at risk become
    S(t) = S(t_prev) (1 - D / R) with the arm's reported S(t_prev); alive-at-median counts
    become the fraction alive at the reported median (reported: about 50%); a median with a
    CI is shown in months. ``outside`` is the PPC's verdict. ``seed`` is unused (kept for callers).
    """
    from rhcc_bayes.survival.criticism import ppc_table

    ppc = ppc_table(idata).set_index(["variable", "row"])
    rows = []
    lm = design.landmarks
    for r in lm.itertuples():
        key = ("landmark_deaths", str(r.row_key))
        if key not in ppc.index:
            continue
        arm = design.arms.iloc[int(r.arm_index)]
        prev = lm[(lm["arm_index"] == r.arm_index) & (lm["t"] == r.t_prev)]
        s_prev = 1.0 if r.t_prev == 0 or prev.empty else float(prev["estimate"].iloc[0])
        q = ppc.loc[key]
        f = lambda d: s_prev * (1 - d / r.at_risk)  # noqa: E731  (decreasing in d: lo <-> hi)
        rows.append({"label": f"{arm['study']} | {arm['arm']} | S({r.t:g})", "treatment": arm["treatment"],
                     "kind": "survival", "observed": f(q.observed), "pred_mean": f(q.pred_mean),
                     "pred_lo": f(q.pred_hi), "pred_hi": f(q.pred_lo), "n": arm["n"], "outside": bool(q.outlier)})
    for r in design.medians.itertuples():
        arm = design.arms.iloc[int(r.arm_index)]
        counted = pd.isna(r.se_log)
        key = ("median_alive" if counted else "median_log", str(r.row_key))
        if key not in ppc.index:
            continue
        q = ppc.loc[key]
        if counted:
            f = lambda a: a / r.at_risk  # noqa: E731
            kind, what = "alive_at_median", f"alive at {r.time:g} mo"
        else:
            f = np.exp
            kind, what = "median", "median"
        rows.append({"label": f"{arm['study']} | {arm['arm']} | {what}", "treatment": arm["treatment"],
                     "kind": kind, "observed": float(f(q.observed)), "pred_mean": float(f(q.pred_mean)),
                     "pred_lo": float(f(q.pred_lo)), "pred_hi": float(f(q.pred_hi)), "n": arm["n"],
                     "outside": bool(q.outlier)})
    return pd.DataFrame(rows, columns=["label", "treatment", "kind", "observed", "pred_mean", "pred_lo", "pred_hi",
                                       "n", "outside"])


_FOREST_KINDS = {
    "survival": ("Landmark survival S(t)", "survival fraction"),
    "alive_at_median": ("Survival at the reported median (reported: about 50%)", "fraction alive"),
    "median": ("Median survival reported with a CI", "months"),
}


def forest_plot(idata, design, *, seed: int = 0, figsize=(11, None)):
    """Forest plot: reported arm estimates (dots; red when outside) vs :data:`PREDICTIVE`
    (bars), the same distribution and verdict as :func:`ppc_plot`."""
    data = forest_data(idata, design, seed=seed)
    kinds = [k for k in _FOREST_KINDS if (data["kind"] == k).any()] or ["survival"]
    heights = [max(int((data["kind"] == k).sum()), 1) for k in kinds]
    height = figsize[1] or (1.2 + 0.28 * sum(heights) + 0.9 * len(kinds))
    fig, axes = plt.subplots(len(kinds), 1, figsize=(figsize[0], height), squeeze=False,
                             gridspec_kw={"height_ratios": [h + 2 for h in heights]})
    for i, (ax, kind) in enumerate(zip(axes[:, 0], kinds)):
        d = data[data["kind"] == kind].reset_index(drop=True)
        y = np.arange(len(d))[::-1]
        out = d["outside"].to_numpy(bool)
        ax.hlines(y, d["pred_lo"], d["pred_hi"], color="#4C72B0", lw=4, alpha=0.5, label=PREDICTIVE_SHORT)
        ax.plot(d["pred_mean"], y, "|", color="#4C72B0", ms=12)
        ax.plot(d["observed"][~out], y[~out], "o", color="k", label="reported: inside")
        ax.plot(d["observed"][out], y[out], "o", color="#C44E52", label="reported: outside")
        ax.set_yticks(y, d["label"], fontsize=7)
        ax.set_ylim(-0.8, len(d) - 0.2)
        title, xlabel = _FOREST_KINDS[kind]
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        if i == 0:
            _legend_outside(ax, fontsize=7)
    n_out = int(data["outside"].sum())
    fig.suptitle(f"Reported arm estimates vs the {PREDICTIVE}: {n_out} of {len(data)} outside (in-sample)",
                 fontsize=9.5)
    fig.tight_layout()
    if int(idata.attrs.get("gate_passed", 1)) == 0:
        _stamp(fig)
    return fig


def ppc_plot(ppc: pd.DataFrame, *, figsize=(11.5, 5)):
    """Observed count vs :data:`PREDICTIVE` (from :func:`criticism.ppc_table`)."""
    d = ppc.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(figsize[0], max(figsize[1], 0.3 * len(d) + 1)))
    y = np.arange(len(d))[::-1]
    ax.hlines(y, d["pred_lo"], d["pred_hi"], color="#4C72B0", lw=4, alpha=0.5, label=PREDICTIVE_SHORT)
    ax.plot(d["pred_mean"], y, "|", color="#4C72B0", ms=12)
    out = d["outlier"].to_numpy(bool)
    ax.plot(d["observed"][~out], y[~out], "o", color="k", label="observed: inside")
    ax.plot(d["observed"][out], y[out], "o", color="#C44E52", label="observed: outside")
    labels = [f"{r.study} | {r.arm} | {r.variable}" if r.study else f"{r.variable} {r.row}" for r in d.itertuples()]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.8, len(d) - 0.2)
    ax.set_xlabel("count (deaths in the landmark interval / alive at the median / events); log median for a "
                  "median with CI", fontsize=8)
    ax.set_title(f"Posterior predictive check: {int(out.sum())} of {len(d)} outside the 95% interval\n"
                 f"({PREDICTIVE})", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    _legend_outside(ax, fontsize=8)
    fig.tight_layout()
    return fig


KEY_PARAMETERS = ("gamma_first", "log_lambda", "log_hazard_level", "cure_logit", "log_shape", "spline_smooth_sd",
                  "sigma_study", "tau_treatment")


def trace_rank_plot(idata, var_names=None):
    """Trace (left) and per-chain rank histograms (right) for a few key scalar parameters.

    Drawn directly with matplotlib (the same display as ``arviz.plot_trace(kind="rank_bars")``,
    several times faster on a loaded machine): uniform rank bars mean the chains agree.
    """
    from scipy.stats import rankdata

    post = idata.posterior
    names = [v for v in (var_names or KEY_PARAMETERS) if v in post and post[v].ndim == 2][:4]
    if not names:
        names = [v for v in post.data_vars if post[v].ndim == 2][:3]
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 2.3 * len(names)), squeeze=False)
    for (ax_t, ax_r), name in zip(axes, names):
        x = post[name].transpose("chain", "draw").values
        n_chain, n_draw = x.shape
        ranks = rankdata(x.ravel()).reshape(x.shape)
        bins = np.linspace(0, x.size, 21)
        for c in range(n_chain):
            ax_t.plot(x[c], lw=0.5, alpha=0.7)
            h, _ = np.histogram(ranks[c], bins=bins)
            ax_r.bar(bins[:-1], h, width=np.diff(bins), bottom=c * n_draw / 20 * 2, align="edge",
                     alpha=0.7, edgecolor="white")
            ax_r.axhline(c * n_draw / 20 * 2 + n_draw / 20, color="k", ls="--", lw=0.6)
        ax_t.set_ylabel(name, fontsize=9)
        ax_r.set_yticks([])
        ax_r.set_ylabel("chain", fontsize=8)
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("rank (all chains)")
    axes[0, 0].set_title("Trace")
    axes[0, 1].set_title("Rank histograms per chain (dashed: uniform)")
    fig.tight_layout()
    if int(idata.attrs.get("gate_passed", 1)) == 0:
        _stamp(fig)
    return fig


def _stamp(fig) -> None:
    fig.text(0.5, 0.5, "FAILED DIAGNOSTICS GATE", color="red", alpha=0.18, fontsize=34,
             ha="center", va="center", rotation=20, weight="bold")
