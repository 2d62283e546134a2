"""What the page shows for one profile, as HTML fragments: pure functions of a DecisionResult.

The bottom-line panel is the report's own (:class:`rhcc_bayes.report.sections.BottomLine`),
the decision table is :func:`rhcc_bayes.decision.result.format_table`, the curves are
:func:`rhcc_bayes.report.figures.survival_curves`; so the page and ``report.html`` never
disagree. :func:`decision_view` times each step (the benchmark reads those timings).
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field

#: Resolution of the survival-curve image on the page (the report uses 110 dpi).
CURVES_DPI = 80


def panel_html(res, profile) -> str:
    """The report's bottom-line panel for ``res``, as an HTML fragment."""
    from rhcc_bayes.report.sections import BottomLine, ReportContext
    from rhcc_bayes.report.writers import block_html

    ctx = ReportContext(posterior=None, evidence=None, profile=profile, decision=res,
                        horizon=res.horizon, population=res.population)
    return "\n".join(block_html(b) for b in BottomLine().blocks(ctx))


def table_html(res) -> str:
    """The decision table (every candidate, ranked; pooled mixtures reported, not ranked)."""
    from rhcc_bayes.decision.result import format_table
    from rhcc_bayes.report.writers import html_table

    return html_table(format_table(res.table, res.horizon), "decision")


def curves_png(res) -> bytes:
    """Survival curves of the leading options (small multiples with 95% bands), PNG bytes."""
    from rhcc_bayes.report import figures

    return figures.figure_png(figures.survival_curves(res), dpi=CURVES_DPI)


def img_html(png: bytes, alt: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" style="max-width:100%">'


@dataclass(frozen=True)
class DecisionView:
    """The page's content for one profile and the milliseconds each step took (wall, and CPU as ``*_cpu``)."""

    decision: object  # DecisionResult
    panel: str
    table: str
    curves: bytes
    timings_ms: dict = field(default_factory=dict)


def decision_view(posterior, profile, *, horizon: float = 60.0, population: str = "average",
                  curves: bool = True) -> DecisionView:
    """Decide for ``profile`` on ``posterior`` and render the panel, table and curves."""
    marks = [(time.perf_counter(), time.process_time())]
    res = posterior.decide(profile, horizon=horizon, population=population)
    marks.append((time.perf_counter(), time.process_time()))
    panel, table = panel_html(res, profile), table_html(res)
    marks.append((time.perf_counter(), time.process_time()))
    png = curves_png(res) if curves else b""
    marks.append((time.perf_counter(), time.process_time()))
    ms = {}
    for k, name in enumerate(("decide", "panel_and_table", "curves")):
        ms[name] = (marks[k + 1][0] - marks[k][0]) * 1e3
        ms[name + "_cpu"] = (marks[k + 1][1] - marks[k][1]) * 1e3
    return DecisionView(res, panel, table, png, ms)
