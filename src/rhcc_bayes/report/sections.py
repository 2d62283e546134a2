"""The report's sections: one class each, in the order of :data:`SECTIONS`.

A section has a ``title`` and a ``blocks(ctx)`` method returning content blocks
(:mod:`rhcc_bayes.report.writers`), or ``None`` to leave itself out. Numbering is
automatic ("1. ...", "2. ..." over the numbered sections that render), and
``markdown(ctx)`` / ``html(ctx)`` render one section alone. Adding a section is one
class and one entry in :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rhcc_bayes.report import bottom_line as bl
from rhcc_bayes.report.writers import (
    Bullets,
    Figure,
    Heading,
    Panel,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)

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


@dataclass
class ReportContext:
    """Everything a section may read; built once per report."""

    posterior: Any  # SynthesisPosterior (idata, design, gate, cache_hit, cache_path)
    evidence: Any
    profile: Any
    decision: Any  # DecisionResult
    horizon: float = 60.0
    population: str = "average"
    seed: int = 0
    cache: dict = field(default_factory=dict)  # shared results between sections (e.g. the PPC table)

    @property
    def idata(self):
        return self.posterior.idata

    @property
    def design(self):
        return self.posterior.design

    def figure(self, name: str, make: Callable[[], Any], caption: str) -> Figure:
        from rhcc_bayes.report import figures as plots

        return Figure(name, plots.figure_png(make()), caption)


class Section:
    """Base class: subclasses set ``title`` and implement :meth:`blocks`."""

    title: str = ""
    numbered: bool = True
    level: int = 2

    def blocks(self, ctx: ReportContext) -> list | None:
        raise NotImplementedError

    def heading(self, number: int | None) -> Heading | None:
        if not self.title:
            return None
        return Heading(self.level, f"{number}. {self.title}" if number is not None else self.title)

    def render(self, ctx: ReportContext, number: int | None = None) -> list:
        body = self.blocks(ctx)
        if body is None:
            return []
        head = self.heading(number)
        return ([head] if head else []) + list(body)

    def markdown(self, ctx: ReportContext, number: int | None = None) -> str:
        return to_markdown(self.render(ctx, number))

    def html(self, ctx: ReportContext, number: int | None = None) -> str:
        return to_html(self.title, self.render(ctx, number))


def render_sections(sections, ctx: ReportContext) -> list:
    """Blocks of every section, numbered in order (sections returning None are skipped)."""
    out, number = [], 0
    for section in sections:
        body = section.blocks(ctx)
        if body is None:
            continue
        if section.numbered:
            number += 1
        head = section.heading(number if section.numbered else None)
        out += ([head] if head else []) + list(body)
    return out


# --- the sections ---------------------------------------------------------------------------
class Header(Section):
    """Title, the loud gate banner when the fit failed, and the research-use note."""

    numbered = False

    def blocks(self, ctx):
        res = ctx.decision
        out = [Heading(1, f"R-HCC salvage treatment report: {ctx.profile.id}")]
        if res.gate_warning:
            out.append(Paragraph(res.gate_warning, "banner"))
        return out


class BottomLine(Section):
    """The answer first: leading options, their difference, P(best), certainty, flags once."""

    numbered = False

    def blocks(self, ctx):
        res = ctx.decision
        lead = bl.leading_options(res)
        inner = [Heading(2, "Bottom line"), Paragraph("Patient: " + bl.patient_line(ctx.profile)),
                 Paragraph(bl.certainty_sentence(res, lead), "answer")]
        if bl.prior_only_note(res, lead):  # a prior-only leader never leads unlabelled
            inner.append(Paragraph(bl.prior_only_note(res, lead), "note"))
        if not lead.empty:
            inner.append(Table(bl.leading_table(res, lead)))
            inner.append(Paragraph(f"Posterior means with 95% credible intervals for the {res.population} study "
                                   f"population; the leader's advantage is computed draw by draw on "
                                   f"{res.criterion} to {res.horizon:g} months."))
        modality = bl.modality_sentence(res)
        if modality:
            inner.append(Paragraph(modality))
        flags = bl.flag_summary(res.honesty)
        if len(flags):
            inner.append(Bullets(tuple(f"{r.flag} - {r.which}" for r in flags.itertuples())))
        if getattr(res, "extrapolation", ""):  # horizon/landmarks past the evidence's last observed time
            inner.append(Paragraph("Beyond the evidence: " + res.extrapolation, "note"))
        inner.append(Paragraph("Research use only: a Bayesian synthesis of published, mostly retrospective "
                               "evidence. Not a clinical decision on its own.", "note"))
        return [Panel(tuple(inner))]


class ProfileSection(Section):
    title = "Patient profile"

    def blocks(self, ctx):
        p = ctx.profile
        return [Table(bl.profile_table(p)),
                Paragraph(f"Derived: Milan criteria {p.milan}; recurrence {p.recurrence}; model covariates: "
                          f"{bl.covariates_text(p.model_covariates())}. Population: {ctx.population} study "
                          f"population; horizon {ctx.decision.horizon:g} months.")]


class EligibilitySection(Section):
    title = "Eligibility (rules with reasons and citations)"

    def blocks(self, ctx):
        el = ctx.decision.eligibility.to_frame()[["treatment", "status", "reasons", "citations"]]
        return [Table(el), Paragraph("Citations are the review's reference numbers. Excluded treatments are "
                                     "listed, not ranked.")]


class DecisionSection(Section):
    title = "Expected survival and decision summaries"

    def blocks(self, ctx):
        from rhcc_bayes.decision.honesty import NOT_AN_OPTION, shared_prior_sentences
        from rhcc_bayes.decision.result import format_modality_table, format_table

        res = ctx.decision
        crit = res.criterion + (f" ({res.utility_description})" if res.utility_description else "")
        out = [Paragraph(f"Candidates (eligible + conditional) ranked by posterior mean {crit}. Each number: "
                         "posterior mean (median for median survival) [95% credible interval]. P(best): posterior "
                         "probability of the highest criterion; expected loss: months lost vs the per-draw best."),
               Table(format_table(res.table, res.horizon))]
        ev = res.evpi
        out.append(Paragraph(
            f"EVPI (expected value of perfect information): {ev['mean']:.2f} months "
            f"(95% interval of the opportunity loss: [{ev['lo']:.2f}, {ev['hi']:.2f}]; MCSE {ev['mcse']:.2f}). "
            "A large EVPI means the ranking is uncertain and more evidence would matter for this patient."))
        if res.best:
            out.append(Paragraph(f"Highest expected {res.criterion}: {res.best} with P(best) = "
                                 f"{res.table['p_best'].iloc[0]:.2f}."))
        mixtures = res.table.loc[res.table["status"] == NOT_AN_OPTION, "treatment"].tolist() \
            if "status" in res.table else []
        if mixtures:
            out.append(Paragraph(f"Reported, not an option: {', '.join(mixtures)} pool patients treated in different "
                                 "ways (or with an unspecified technique); their expected survival is shown, but "
                                 "they are never ranked (no P(best), expected loss or SUCRA)."))
        if len(res.modality_table) > 1:
            out += [Heading(3, "Decision between modalities"),
                    Paragraph("Per posterior draw a modality class is worth its best option; P(best class) is the "
                              "probability that the class holds the best option, expected loss the months lost by "
                              "choosing the class's best option instead of the per-draw best."),
                    Table(format_modality_table(res.modality_table, res.criterion))]
        for sentence in shared_prior_sentences(res.honesty):
            out.append(Paragraph("Indistinguishable options: " + sentence))
        flags = bl.flag_summary(res.honesty)
        if len(flags):
            counts = res.honesty[res.honesty["status"] != "excluded"][["treatment", "studies", "arms", "patients"]]
            out += [Heading(3, "Honesty flags (once per kind)"), Table(flags),
                    Heading(3, "Evidence behind each option"), Table(counts)]
        return out


class SurvivalCurvesSection(Section):
    title = "Survival curves"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots

        n = min(plots.LEADING, len(ctx.decision.ranked))
        return [ctx.figure("survival_curves.png", lambda: plots.survival_curves(ctx.decision),
                           f"Posterior mean overall survival with 95% credible bands, one panel per leading option "
                           f"(the {n} with the highest expected {ctx.decision.criterion}); thin grey lines repeat "
                           "the other leading options for comparison. All options are in the decision table.")]


class RmstSection(Section):
    title = "RMST distributions"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots

        res = ctx.decision
        return [ctx.figure("rmst_densities.png", lambda: plots.rmst_densities(res),
                           f"Smoothed posterior density (Gaussian kernel) of {res.criterion} to {res.horizon:g} "
                           "months for the leading options (dotted: mean).")]


class EvidenceSection(Section):
    title = "Evidence map and network"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots

        d = ctx.design
        return [Paragraph(f"{len(d.used)} evidence rows from {len(d.arms)} arms of {len(d.studies)} studies are in "
                          f"the likelihood; {len(d.excluded)} rows are left out (other populations, pooled results, "
                          "missing n...)."),
                Paragraph(plots.network_text(plots.network_components(
                    list(plots.evidence_counts_index(d)), plots._network_edges(d.arms)))),
                ctx.figure("evidence_map.png", lambda: plots.evidence_map(d),
                           "Patients and studies per treatment; network of within-study comparisons (colour: "
                           "connected part; grey: no within-study comparison).")]


class ForestSection(Section):
    title = "Forest plot: reported vs pooled"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots

        return [ctx.figure("forest.png", lambda: plots.forest_plot(ctx.idata, ctx.design, seed=ctx.seed),
                           f"Each arm's reported landmark survival / median vs the {plots.PREDICTIVE}, on the "
                           "reported scale: the same distribution and the same inside/outside verdict as the "
                           "posterior predictive check below.")]


class PPCSection(Section):
    title = "Posterior predictive check"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots
        from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table

        try:
            ppc = ppc_table(ctx.idata, ctx.evidence.table)
        except Exception as err:  # a posterior without predictive groups: say so, keep going
            return [Paragraph(f"No posterior predictive check: {err}")]
        if ppc is None or not len(ppc):
            return [Paragraph("No observed summary to check.")]
        return [Paragraph(f"{int(ppc['outlier'].sum())} of {len(ppc)} observed summaries fall outside their 95% "
                          f"interval of the {plots.PREDICTIVE} (coverage {ppc_coverage(ppc):.0%}). This is an "
                          "in-sample check (each arm is in the likelihood); a new centre's results would vary more "
                          "(the 'new' study population of the decision)."),
                ctx.figure("ppc.png", lambda: plots.ppc_plot(ppc), "Observed counts vs the 95% interval of the "
                                                                   f"{plots.PREDICTIVE}."),
                *_contrast_blocks(ctx)]


def _contrast_blocks(ctx) -> list:
    """Direct vs indirect contrasts (survival.contrast_check): a paragraph and a table."""
    import numpy as np

    from rhcc_bayes.survival.contrast_check import PARETO_K_MAX, contrast_check

    try:
        table = contrast_check(ctx.idata, ctx.design, seed=ctx.seed)
    except Exception as err:  # e.g. a posterior without log-likelihoods: say so, keep going
        return [Paragraph(f"No direct-vs-indirect contrast check: {err}")]
    if not len(table):
        return []
    ok = np.isfinite(table["p_value"])
    low = table[ok & (table["p_value"] < 0.05)]
    shaky = table[ok & (table["pareto_k"] > PARETO_K_MAX)]
    text = (f"Direct vs indirect evidence: {int(ok.sum())} comparative contrasts (a reported hazard ratio or two "
            "arms of one study) compared with what the rest of the evidence implies (the model without the "
            "study, by importance sampling). "
            + (f"{len(low)} disagree (p < 0.05): " + ", ".join(low["study"]) + "." if len(low) else
               "None disagrees at p < 0.05.")
            + (f" For {len(shaky)} the study is too influential for importance sampling (Pareto k > "
               f"{PARETO_K_MAX}): treat those rows as approximate." if len(shaky) else ""))
    show = pd.DataFrame({
        "study": table["study"], "contrast": table["treatment"] + " vs " + table["comparator_treatment"],
        "direct log HR": [f"{m:.2f} ({s:.2f})" if np.isfinite(m) else "n/a"
                          for m, s in zip(table["direct_mean"], table["direct_sd"])],
        "indirect log HR": [f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                            zip(table["indirect_mean"], table["indirect_2.5%"], table["indirect_97.5%"])],
        "difference": [f"{m:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(m) else "n/a" for m, lo, hi in
                       zip(table["diff_mean"], table["diff_2.5%"], table["diff_97.5%"])],
        "p": [f"{p:.2f}" if np.isfinite(p) else "n/a" for p in table["p_value"]],
    })
    return [Paragraph(text), Table(show)]


def diagnostics_table(gate) -> pd.DataFrame:
    """The worst parameters by R-hat and bulk ESS."""
    summ = gate.summary
    if summ is None or len(summ) == 0:
        return pd.DataFrame(columns=["parameter", "r_hat", "ess_bulk", "ess_tail"])
    worst = pd.concat([summ.sort_values("r_hat", ascending=False).head(8), summ.sort_values("ess_bulk").head(4)])
    worst = worst[~worst.index.duplicated()].reset_index()
    worst.columns = ["parameter", *worst.columns[1:]]
    worst["r_hat"] = worst["r_hat"].map(lambda v: f"{v:.3f}")
    for c in ("ess_bulk", "ess_tail"):
        if c in worst:
            worst[c] = worst[c].map(lambda v: f"{v:.0f}")
    return worst[["parameter", *[c for c in ("r_hat", "ess_bulk", "ess_tail") if c in worst]]]


class DiagnosticsSection(Section):
    title = "Sampling diagnostics"

    def blocks(self, ctx):
        from rhcc_bayes.report import figures as plots

        res, gate = ctx.decision, ctx.posterior.gate
        out = [Paragraph("THE DIAGNOSTICS GATE FAILED. " + res.gate_warning, "banner") if res.gate_warning
               else Paragraph(str(gate), "ok")]
        out.append(Paragraph(f"Divergent transitions: {gate.divergences}; E-BFMI per chain: "
                             + ", ".join(f"{b:.2f}" for b in gate.bfmi)
                             + f"; thresholds: R-hat <= {gate.thresholds.r_hat_max}, "
                               f"ESS >= {gate.thresholds.ess_bulk_min}."))
        out.append(Table(diagnostics_table(gate)))
        out.append(ctx.figure("trace_rank.png", lambda: plots.trace_rank_plot(ctx.idata),
                              "Trace and rank plots of key parameters."))
        return out


class ProvenanceSection(Section):
    title = "Provenance"

    def blocks(self, ctx):
        a, post = ctx.idata.attrs, ctx.posterior
        versions = {k: v for k, v in a.items() if k.startswith("version_") or k.endswith("_version")}
        prov = [("spec", f"{a.get('spec_name')} ({str(a.get('spec_hash', ''))[:16]})"),
                ("evidence hash", str(a.get("evidence_hash", ""))),
                ("seed", str(a.get("seed"))), ("backend", str(a.get("backend"))),
                ("chains x draws (tune)", f"{a.get('chains')} x {a.get('draws')} ({a.get('tune')})"),
                ("cache", str(post.cache_path or "not cached") + (" (hit)" if post.cache_hit else "")),
                *((k, str(v)) for k, v in versions.items())]
        return [Table(pd.DataFrame(prov, columns=["item", "value"]))]


class LimitationsSection(Section):
    title = "Limitations"

    def blocks(self, ctx):
        return [Bullets(tuple(LIMITATIONS))]


#: The report, top to bottom. Unnumbered sections (header, bottom line) do not count.
SECTIONS: tuple[Section, ...] = (
    Header(), BottomLine(), ProfileSection(), EligibilitySection(), DecisionSection(), SurvivalCurvesSection(),
    RmstSection(), EvidenceSection(), ForestSection(), PPCSection(), DiagnosticsSection(), ProvenanceSection(),
    LimitationsSection(),
)
