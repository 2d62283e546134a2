"""Value-of-information figures and the report section "What uncertainty matters for this patient".

:func:`evppi_figure` draws the ranked EVPPI bars of :func:`rhcc_bayes.decision.voi.evppi`
(with ±2 MC SE whiskers and the EVPI as a reference line); :func:`evsi_figure` draws EVSI
against the study size of :func:`rhcc_bayes.decision.evsi.evsi`, with its n -> infinity limit.
Both return a matplotlib Figure and never call ``show``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rhcc_bayes.report.sections import DecisionSection, Section
from rhcc_bayes.report.writers import Paragraph, Table

#: Groups shown in the report's bar chart (the largest EVPPI first).
MAX_BARS = 12


def evppi_figure(table: pd.DataFrame, *, max_bars: int | None = MAX_BARS, figsize=None):
    """Ranked horizontal bars of EVPPI per parameter group: "What uncertainty matters for this patient"."""
    t = table.sort_values("evppi", ascending=False, kind="stable")
    if max_bars is not None:
        t = t.head(max_bars)
    t = t.iloc[::-1]
    n = len(t)
    fig, ax = plt.subplots(figsize=figsize or (8.5, 1.2 + 0.38 * max(n, 1)))
    y = np.arange(n)
    ax.barh(y, t["evppi"], xerr=2 * t["se"], color="#1f5fa6", alpha=0.85, capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#333333"})
    if "floor" in t and t["floor"].notna().any():  # what the estimator gives for unrelated draws
        ax.scatter(t["floor"], y, marker="|", s=220, color="#888888", zorder=3, label="noise floor")
    ax.set_yticks(y, [f"{g} ({p})" for g, p in zip(t["group"], t["parameters"])])
    if len(table):
        ev = float(table["evpi"].iloc[0])
        ax.axvline(ev, color="#d1495b", ls="--", lw=1.2, label=f"EVPI (all uncertainty) {ev:.2f} mo")
        ax.legend(loc="lower right", frameon=False)
    a = table.attrs
    ax.set_xlabel(f"EVPPI: expected gain in {a.get('criterion', 'RMST')} to {a.get('horizon', 60):g} months "
                  "(months; bars ±2 MC SE)")
    ax.set_title(f"What uncertainty matters for this patient ({a.get('profile', '')})", loc="left")
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def evsi_figure(table: pd.DataFrame, *, figsize=(7.5, 4.2)):
    """EVSI (±2 MC SE) against the proposed study's size, with its n -> infinity limit (EVPI in the title)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.errorbar(table["n"], table["evsi"], yerr=2 * table["se"], marker="o", color="#1f5fa6", capsize=3,
                label="EVSI ±2 MC SE")
    if len(table):
        lim = float(table["evppi_limit"].iloc[0])
        ax.axhline(lim, color="#2e8b57", ls=":", label=f"n → ∞: EVPPI of the study's survival {lim:.2f}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xticks(table["n"], [str(int(n)) for n in table["n"]])
    ax.set_xlabel("patients in the proposed study (n)")
    ax.set_ylabel("EVSI (months per patient)")
    t = table["treatment"].iloc[0] if len(table) else ""
    ev = f" (EVPI {float(table['evpi'].iloc[0]):.2f} mo)" if len(table) else ""
    ax.set_title(f"Value of a new {t} cohort for profile {table.attrs.get('profile', '')}{ev}", loc="left")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


class ValueOfInformationSection(Section):
    """Report section (when asked for, ``report --voi``): EVPPI per parameter group."""

    title = "What uncertainty matters for this patient"

    def blocks(self, ctx):
        if len(ctx.decision.ranked) < 2:
            return None
        from rhcc_bayes.decision.voi import evppi

        table = evppi(ctx.posterior, ctx.profile, horizon=ctx.horizon, population=ctx.population, seed=ctx.seed,
                      decision=ctx.decision)
        show = pd.DataFrame({"group": table["group"], "parameters": table["parameters"],
                             "EVPPI (mo)": [f"{v:.2f} ± {s:.2f}" for v, s in zip(table["evppi"], table["se"])],
                             "% of EVPI": [f"{100 * s:.0f}%" for s in table["share"]],
                             "noise floor": [f"{v:.2f}" for v in table["floor"]],
                             "informative": ["yes" if a else "no" for a in table["above_floor"]],
                             "method": table["method"]})
        return [Paragraph("Expected value of partial perfect information (EVPPI): how many months of expected "
                          f"{ctx.decision.criterion} this patient would gain, on average, if one group of model "
                          "parameters were known exactly before choosing. Estimated by nonparametric regression of "
                          "each option's net benefit on the group's posterior draws (Strong et al. 2014), ± Monte "
                          "Carlo SE; groups: each option's own effect (its deviation from its class), each "
                          "modality class, the covariate effects, the baseline hazard and the heterogeneity SDs. "
                          "Noise floor: the estimate for unrelated random draws of the same size (true value 0); "
                          "a group is informative when its EVPPI exceeds it by more than 2 SE."),
                ctx.figure("evppi.png", lambda: evppi_figure(table),
                           "EVPPI per parameter group, largest first (bars ±2 MC SE; grey ticks: noise floor); "
                           "dashed: EVPI, the value of resolving all uncertainty."),
                Table(show)]


def with_voi(sections) -> tuple:
    """``sections`` with the value-of-information section right after the decision section."""
    out = []
    for sec in sections:
        out.append(sec)
        if isinstance(sec, DecisionSection):
            out.append(ValueOfInformationSection())
    if not any(isinstance(s, ValueOfInformationSection) for s in out):
        out.append(ValueOfInformationSection())
    return tuple(out)
