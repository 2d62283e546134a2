"""Figures for decisions, evidence and model criticism (matplotlib Agg; ArviZ for traces).

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``show``;
the caller saves or embeds it (:func:`figure_png` gives PNG bytes). Intervals are
central 95% posterior (or posterior predictive) intervals.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CI = 0.95
_Q = ((1 - CI) / 2, 1 - (1 - CI) / 2)


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of ``fig`` (the figure is closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _top(result, max_treatments: int | None) -> list[str]:
    names = result.table["treatment"].tolist()
    return names if max_treatments is None else names[:max_treatments]


def survival_curves(result, *, max_treatments: int | None = 6, figsize=(8, 5)):
    """Posterior mean S(t) with 95% bands for the best candidates of a DecisionResult."""
    fig, ax = plt.subplots(figsize=figsize)
    surv = result.survival["survival"]
    t = surv["time"].values
    for name in _top(result, max_treatments):
        s = surv.sel(treatment=name).stack(sample=("chain", "draw")).transpose("time", "sample").values
        lo, hi = np.quantile(s, _Q, axis=1)
        line, = ax.plot(t, s.mean(axis=1), lw=2, label=name)
        ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xlim(0, t[-1])
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("months since salvage treatment")
    ax.set_ylabel("overall survival S(t)")
    ax.set_title(f"Expected survival for profile {result.profile.id} ({result.population} population; 95% bands)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    if result.gate_warning:
        _stamp(fig)
    return fig


def rmst_densities(result, *, max_treatments: int | None = 6, figsize=(8, 5)):
    """Posterior densities of RMST (or QA-RMST) to the horizon, best candidates first."""
    var = "utility" if "utility" in result.survival else "rmst"
    fig, ax = plt.subplots(figsize=figsize)
    for name in _top(result, max_treatments):
        x = result.survival[var].sel(treatment=name).values.ravel()
        dens, edges = np.histogram(x, bins=60, range=(0, result.horizon), density=True)
        mid = (edges[:-1] + edges[1:]) / 2
        # light smoothing of the histogram (3-bin moving average) for a readable density
        dens = np.convolve(dens, np.ones(3) / 3, mode="same")
        line, = ax.plot(mid, dens, lw=2, label=f"{name} (mean {x.mean():.1f})")
        ax.axvline(x.mean(), color=line.get_color(), ls=":", lw=1)
    label = "quality-adjusted RMST" if var == "utility" else "RMST"
    ax.set_xlabel(f"{label} to {result.horizon:g} months (months)")
    ax.set_ylabel("posterior density")
    ax.set_title(f"{label} posterior, profile {result.profile.id}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
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


def evidence_map(design, *, figsize=(13, 5.5)):
    """Left: studies and patients per treatment in the likelihood. Right: the treatment network
    (node size ~ patients; an edge per pair compared within a study, width ~ number of studies)."""
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
    ax1.set_title("Evidence per treatment")

    nodes = list(counts.index[::-1])
    k = len(nodes)
    angle = np.linspace(0, 2 * np.pi, k, endpoint=False) + np.pi / 2
    pos = {n: (np.cos(a), np.sin(a)) for n, a in zip(nodes, angle)}
    for (a, b), w in _network_edges(design.arms).items():
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax2.plot([x1, x2], [y1, y2], color="#888888", lw=1.5 * w, zorder=1)
    sizes = 80 + 6 * counts.loc[nodes, "patients"].to_numpy(float)
    ax2.scatter([pos[n][0] for n in nodes], [pos[n][1] for n in nodes], s=sizes, color="#DD8452",
                edgecolor="k", zorder=2)
    for n in nodes:
        x, yy = pos[n]
        ax2.text(x * 1.18, yy * 1.18, n, ha="center", va="center", fontsize=8)
    ax2.set_xlim(-1.6, 1.6)
    ax2.set_ylim(-1.4, 1.4)
    ax2.set_aspect("equal")
    ax2.axis("off")
    ax2.set_title("Within-study comparisons (single-arm cohorts are isolated nodes)")
    fig.tight_layout()
    return fig


def forest_data(idata, design, *, seed: int = 0) -> pd.DataFrame:
    """Each arm's reported landmark survival / median vs the posterior predictive for a NEW
    study of that arm's treatment and covariates (population="new", 95% interval)."""
    from rhcc_bayes.survival.summary import survival_summary

    rows = []
    cache = {}
    from rhcc_bayes.survival.covariates import COVARIATE_NAMES as cov_names
    times = tuple(sorted(set(design.landmarks["t"].astype(float))))

    def summary_for(arm):
        # exact S(t) at the design's landmarks and median (capped at 240 months), any hazard family
        cov = {c: arm[c] for c in cov_names}
        key = tuple(cov.values())
        if key not in cache:
            cache[key] = survival_summary(idata, cov, horizon=240, landmarks=times, population="new",
                                          seed=seed, curves=False)
        return cache[key].sel(treatment=arm["treatment"])

    for r in design.landmarks.itertuples():
        arm = design.arms.iloc[int(r.arm_index)]
        s = summary_for(arm)[f"s{r.t:g}"].values.ravel()
        lo, hi = np.quantile(s, _Q)
        rows.append({"label": f"{arm['study']} | {arm['arm']} | S({r.t:g})", "treatment": arm["treatment"],
                     "kind": "survival", "observed": float(r.estimate), "pred_mean": float(s.mean()),
                     "pred_lo": float(lo), "pred_hi": float(hi), "n": arm["n"]})
    for r in design.medians.itertuples():
        arm = design.arms.iloc[int(r.arm_index)]
        m = summary_for(arm)["median"].values.ravel()
        lo, mid, hi = np.quantile(m, [_Q[0], 0.5, _Q[1]], method="inverted_cdf")
        rows.append({"label": f"{arm['study']} | {arm['arm']} | median", "treatment": arm["treatment"],
                     "kind": "median", "observed": float(r.time), "pred_mean": float(mid),
                     "pred_lo": float(lo), "pred_hi": float(hi), "n": arm["n"]})
    return pd.DataFrame(rows)


def forest_plot(idata, design, *, seed: int = 0, figsize=(12, 6)):
    """Forest plot: reported arm estimates (dots) vs the pooled model's 95% predictive
    interval for a new study of that treatment and arm covariates (bars)."""
    data = forest_data(idata, design, seed=seed)
    kinds = [k for k in ("survival", "median") if (data["kind"] == k).any()] or ["survival"]
    fig, axes = plt.subplots(1, len(kinds), figsize=figsize, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        d = data[data["kind"] == kind].reset_index(drop=True)
        y = np.arange(len(d))[::-1]
        inside = (d["observed"] >= d["pred_lo"]) & (d["observed"] <= d["pred_hi"])
        ax.hlines(y, d["pred_lo"], np.minimum(d["pred_hi"], 240), color="#4C72B0", lw=3, alpha=0.6,
                  label="model 95% predictive (new study)")
        ax.plot(d["pred_mean"], y, "|", color="#4C72B0", ms=12)
        ax.plot(d["observed"][inside], y[inside.to_numpy()], "o", color="k", label="reported")
        ax.plot(d["observed"][~inside], y[~inside.to_numpy()], "o", color="#C44E52", label="reported (outside)")
        ax.set_yticks(y, d["label"], fontsize=7)
        ax.set_xlabel("survival fraction" if kind == "survival" else "median survival (months)")
        ax.set_title("Landmark survival" if kind == "survival" else "Median survival")
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Reported arm estimates vs pooled posterior prediction (in-sample: each arm is in the likelihood)")
    fig.tight_layout()
    if int(idata.attrs.get("gate_passed", 1)) == 0:
        _stamp(fig)
    return fig


def ppc_plot(ppc: pd.DataFrame, *, figsize=(9, 5)):
    """Observed count vs its 95% posterior predictive interval (from :func:`criticism.ppc_table`)."""
    d = ppc.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(figsize[0], max(figsize[1], 0.3 * len(d) + 1)))
    y = np.arange(len(d))[::-1]
    ax.hlines(y, d["pred_lo"], d["pred_hi"], color="#4C72B0", lw=4, alpha=0.5, label="95% predictive")
    ax.plot(d["pred_mean"], y, "|", color="#4C72B0", ms=12)
    out = d["outlier"].to_numpy(bool)
    ax.plot(d["observed"][~out], y[~out], "o", color="k", label="observed")
    ax.plot(d["observed"][out], y[out], "o", color="#C44E52", label="observed (outside)")
    labels = [f"{r.study} | {r.arm} | {r.variable}" if r.study else f"{r.variable} {r.row}" for r in d.itertuples()]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("count (deaths at landmark / alive at median)")
    ax.set_title(f"Posterior predictive check: {int(out.sum())} of {len(d)} outside 95% interval")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
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
