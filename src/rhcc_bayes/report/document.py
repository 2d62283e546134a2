"""The decision report: one folder with ``report.html`` (self-contained), ``report.md`` (+ PNGs),
``decision.csv``, ``decision.json`` and ``posterior.nc``.

Everything is written to a temporary folder beside the target and moved into place at
the end, so a failure leaves no half-written report (an existing report is replaced
only once the new one is complete).
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

LIMITATIONS = [
    "The evidence is almost entirely retrospective, single-centre cohorts; treatment allocation was not "
    "random, so differences between treatments mix treatment effects with patient selection.",
    "Most treatments are informed by single-arm cohorts. Those inform absolute survival levels only "
    "through the exchangeability assumption (study effects drawn from one common distribution); there is "
    "little within-study randomised comparison to anchor relative effects.",
    "Treatments with no arm in the likelihood are estimated from their modality class and the prior "
    "(flagged 'class prior only').",
    "Subgroup effects (tumour size, nodularity, recurrence timing, prior treatment) are mostly prior-driven "
    "with this evidence. A treatment is flagged 'extrapolation' when the profile lies outside the inclusion "
    "limits (size, nodules, recurrence timing, prior treatment) of every one of its arms; an all-comer cohort "
    "that states no limit includes the profile.",
    "Eligibility rules encode one review's algorithm; they are not a guideline and may not fit local practice.",
    "Research use only: this is not a clinical decision on its own. Decisions belong to a multidisciplinary "
    "team with the full clinical picture.",
]


def _log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr, flush=True)


# --- small renderers ---------------------------------------------------------------------
def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    esc = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even){background:#fafafa}
img{max-width:100%;border:1px solid #eee}
.banner{background:#b00020;color:#fff;font-weight:bold;font-size:18px;padding:1em;border:4px solid #600;margin:1em 0}
.ok{background:#e8f5e9;padding:.5em;border-left:4px solid #2e7d32}
.note{background:#fff8e1;padding:.5em;border-left:4px solid #f9a825}
code{background:#f4f4f4;padding:0 3px}
"""


class _Doc:
    """Collects sections once, renders both Markdown and HTML."""

    def __init__(self):
        self.parts: list[tuple[str, object]] = []

    def h(self, level, text):
        self.parts.append(("h", (level, text)))

    def p(self, text, cls=""):
        self.parts.append(("p", (text, cls)))

    def ul(self, items):
        self.parts.append(("ul", list(items)))

    def table(self, df):
        self.parts.append(("table", df))

    def fig(self, name, png, caption):
        self.parts.append(("fig", (name, png, caption)))

    def markdown(self) -> str:
        out = []
        for kind, x in self.parts:
            if kind == "h":
                out.append("#" * x[0] + " " + x[1])
            elif kind == "p":
                out.append(f"**{x[0]}**" if x[1] == "banner" else x[0])
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in x))
            elif kind == "table":
                out.append(_md_table(x))
            elif kind == "fig":
                out.append(f"![{x[2]}]({x[0]})\n\n*{x[2]}*")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        body = []
        for kind, x in self.parts:
            if kind == "h":
                body.append(f"<h{x[0]}>{html.escape(x[1])}</h{x[0]}>")
            elif kind == "p":
                cls = f' class="{x[1]}"' if x[1] else ""
                body.append(f"<p{cls}>{html.escape(x[0])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in x) + "</ul>")
            elif kind == "table":
                body.append(_html_table(x))
            elif kind == "fig":
                b64 = base64.b64encode(x[1]).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(x[2])}" src="data:image/png;base64,{b64}">'
                            f"<figcaption>{html.escape(x[2])}</figcaption></figure>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# --- sections -----------------------------------------------------------------------------
def _diagnostics_table(result) -> pd.DataFrame:
    gate = result.gate
    summ = gate.summary
    if summ is None or len(summ) == 0:
        return pd.DataFrame(columns=["parameter", "r_hat", "ess_bulk", "ess_tail"])
    s = summ.copy()
    worst = s.sort_values("r_hat", ascending=False).head(8)
    worst = pd.concat([worst, s.sort_values("ess_bulk").head(4)]).drop_duplicates()
    worst = worst.reset_index().rename(columns={"index": "parameter"})
    worst.columns = ["parameter", *worst.columns[1:]]
    for c in ("r_hat",):
        worst[c] = worst[c].map(lambda v: f"{v:.3f}")
    for c in ("ess_bulk", "ess_tail"):
        if c in worst:
            worst[c] = worst[c].map(lambda v: f"{v:.0f}")
    return worst[["parameter", *[c for c in ("r_hat", "ess_bulk", "ess_tail") if c in worst]]]


def _versions(idata) -> dict:
    return {k: v for k, v in idata.attrs.items() if k.startswith("version_") or k.endswith("_version")}


def build_report(result, evidence, profile, out_dir, *, horizon: float = 60, population: str = "average",
                 utility=None, seed: int = 0) -> Path:
    """Write the report folder ``out_dir`` for ``profile`` from a :class:`FitResult`.

    Returns the final folder path. On any error nothing is left at ``out_dir`` (an
    existing folder is kept untouched) and the temporary folder is removed.
    """
    from rhcc_bayes.inference.cache import save_idata
    from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table
    from rhcc_bayes.decision.recommend import decide_profile, format_table
    from rhcc_bayes.report import figures as plots

    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    t0 = time.perf_counter()
    try:
        idata, design = result.idata, result.design
        _log("deciding ...")
        res = decide_profile(idata, profile, horizon=horizon, population=population, utility=utility,
                             seed=seed, design=design)
        doc = _Doc()
        title = f"R-HCC salvage treatment report: {profile.id}"
        doc.h(1, title)
        if res.gate_warning:
            doc.p(res.gate_warning, "banner")
        doc.p("Research use only: a Bayesian synthesis of published, mostly retrospective evidence. "
              "Not a clinical decision on its own.", "note")

        # 1. profile
        doc.h(2, "1. Patient profile")
        pf = pd.DataFrame([(k, v) for k, v in profile.to_dict().items()], columns=["field", "value"])
        doc.table(pf)
        doc.p(f"Derived: Milan {profile.milan}; recurrence {profile.recurrence}; model covariates "
              f"{profile.model_covariates()} ('nr' = not reported / unknown). "
              f"Population: {population} study population; horizon {res.horizon:g} months.")

        # 2. eligibility
        doc.h(2, "2. Eligibility (rules with reasons and citations)")
        el = res.eligibility.to_frame()[["treatment", "status", "reasons", "citations"]]
        doc.table(el)
        doc.p("Citations are the review's reference numbers. Excluded treatments are listed, not ranked.")

        # 3. decision table
        doc.h(2, "3. Expected survival and decision summaries")
        crit = res.criterion + (f" ({res.utility_description})" if res.utility_description else "")
        doc.p(f"Candidates (eligible + conditional) ranked by posterior mean {crit}. Each number: "
              "posterior mean (median for median survival) [95% credible interval]. P(best): posterior "
              "probability of the highest criterion; expected loss: months lost vs the per-draw best.")
        doc.table(format_table(res.table, res.horizon))
        ev = res.evpi
        doc.p(f"EVPI (expected value of perfect information): {ev['mean']:.2f} months "
              f"(95% interval of the opportunity loss: [{ev['lo']:.2f}, {ev['hi']:.2f}]; MCSE {ev['mcse']:.2f}). "
              "A large EVPI means the ranking is uncertain and more evidence would matter for this patient.")
        if res.best:
            doc.p(f"Highest expected {res.criterion}: {res.best} with P(best) = {res.table['p_best'].iloc[0]:.2f}.")
        flagged = res.honesty[(res.honesty["flags"] != "") & (res.honesty["status"] != "excluded")]
        if len(flagged):
            doc.h(3, "Honesty flags")
            doc.table(flagged[["treatment", "studies", "arms", "patients", "flags"]])

        # 4-5. figures
        _log("figures ...")
        figs = []

        def add_fig(name, make, caption):
            png = plots.figure_png(make())
            (tmp / name).write_bytes(png)
            figs.append(name)
            doc.fig(name, png, caption)

        doc.h(2, "4. Survival curves")
        add_fig("survival_curves.png", lambda: plots.survival_curves(res),
                "Posterior mean overall survival with 95% credible bands (best six candidates).")
        doc.h(2, "5. RMST distributions")
        add_fig("rmst_densities.png", lambda: plots.rmst_densities(res),
                f"Posterior density of {res.criterion} to {res.horizon:g} months (dotted: mean).")

        # 6. evidence
        doc.h(2, "6. Evidence map and network")
        n_used, n_excl = len(design.used), len(design.excluded)
        doc.p(f"{n_used} evidence rows from {len(design.arms)} arms of {len(design.studies)} studies are in the "
              f"likelihood; {n_excl} rows are left out (other populations, pooled results, missing n...).")
        add_fig("evidence_map.png", lambda: plots.evidence_map(design),
                "Patients and studies per treatment; network of within-study comparisons.")
        doc.h(2, "7. Forest plot: reported vs pooled")
        add_fig("forest.png", lambda: plots.forest_plot(idata, design, seed=seed),
                "Each arm's reported landmark survival / median vs the model's 95% predictive interval for a "
                "new study of that treatment and arm covariates.")

        # 8. PPC
        doc.h(2, "8. Posterior predictive check")
        try:
            ppc = ppc_table(idata, evidence.table)
        except Exception as err:  # a posterior without predictive groups: say so, keep going
            ppc = None
            doc.p(f"No posterior predictive check: {err}")
        if ppc is not None and len(ppc):
            doc.p(f"{int(ppc['outlier'].sum())} of {len(ppc)} observed summaries fall outside their 95% "
                  f"posterior predictive interval (coverage {ppc_coverage(ppc):.0%}).")
            add_fig("ppc.png", lambda: plots.ppc_plot(ppc), "Observed counts vs 95% posterior predictive intervals.")

        # 9. diagnostics
        doc.h(2, "9. Sampling diagnostics")
        if res.gate_warning:
            doc.p("THE DIAGNOSTICS GATE FAILED. " + res.gate_warning, "banner")
        else:
            doc.p(str(result.gate), "ok")
        gate = result.gate
        doc.p(f"Divergent transitions: {gate.divergences}; E-BFMI per chain: "
              + ", ".join(f"{b:.2f}" for b in gate.bfmi)
              + f"; thresholds: R-hat <= {gate.thresholds.r_hat_max}, ESS >= {gate.thresholds.ess_bulk_min}.")
        doc.table(_diagnostics_table(result))
        add_fig("trace_rank.png", lambda: plots.trace_rank_plot(idata), "Trace and rank plots of key parameters.")

        # 10. provenance
        doc.h(2, "10. Provenance")
        a = idata.attrs
        prov = [("spec", f"{a.get('spec_name')} ({str(a.get('spec_hash', ''))[:16]})"),
                ("evidence hash", str(a.get("evidence_hash", ""))),
                ("seed", str(a.get("seed"))), ("backend", str(a.get("backend"))),
                ("chains x draws (tune)", f"{a.get('chains')} x {a.get('draws')} ({a.get('tune')})"),
                ("cache", str(result.cache_path or "not cached") + (" (hit)" if result.cache_hit else "")),
                *((k, str(v)) for k, v in _versions(idata).items())]
        doc.table(pd.DataFrame(prov, columns=["item", "value"]))

        # 11. limitations
        doc.h(2, "11. Limitations")
        doc.ul(LIMITATIONS)

        _log("writing files ...")
        (tmp / "report.md").write_text(doc.markdown(), encoding="utf-8")
        (tmp / "report.html").write_text(doc.html(title), encoding="utf-8")
        table = res.table.copy()
        table.insert(0, "profile", profile.id)
        table["gate_warning"] = res.gate_warning
        table.to_csv(tmp / "decision.csv", index=False)
        (tmp / "decision.json").write_text(json.dumps(res.to_dict(), indent=2, default=str), encoding="utf-8")
        save_idata(idata, tmp / "posterior.nc")
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"wrote {out_dir} in {time.perf_counter() - t0:.1f} s")
    return out_dir


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder into place; an existing ``dst`` is replaced only now."""
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        try:
            os.replace(src, dst)
        except BaseException:
            os.replace(old, dst)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)
