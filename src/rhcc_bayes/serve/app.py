"""The Shiny app: a patient form, and the bottom line, curves and decision table updating with it.

:func:`create_app` is a pure function of a fitted posterior (no files, no fitting), so tests run
it on the shared small fit and ``rhcc-bayes serve`` on the posterior it fitted or loaded.
Text boxes update when they lose focus (or on Enter); a bad value shows the validation message
under its field and above the results, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback

from rhcc_bayes.core.errors import Problem, UserError, ValidationError
from rhcc_bayes.serve.form import (
    GROUPS,
    POPULATIONS,
    field_errors,
    form_fields,
    parse_horizon,
    profile_from_form,
    widget_value,
)
from rhcc_bayes.serve.view import curves_png, decision_view, img_html

log = logging.getLogger("rhcc_bayes.serve")

_PYPLOT = threading.Lock()  # pyplot keeps global state: one figure at a time across sessions


def _curves_png(res) -> bytes:
    """The curves' PNG, or b"" when drawing failed (logged; the page says so in one line)."""
    try:
        with _PYPLOT:
            return curves_png(res)
    except Exception:
        log.error("drawing the survival curves failed:\n%s", traceback.format_exc())
        return b""


TITLE = "rhcc-bayes: salvage treatment for recurrent HCC"
CSS = """
.panel{background:#f3f7fb;border:2px solid #2b5d8a;border-radius:6px;padding:.3em 1.2em;margin:0 0 1em 0}
.panel h2{font-size:1.35rem;margin-top:.5em}.panel .answer{font-size:1.05rem;font-weight:600}
.panel table,table.decision{border-collapse:collapse;font-size:13px;margin:.6em 0}
.panel th,.panel td,table.decision th,table.decision td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
.panel th,table.decision th{background:#eef2f6}
.note{background:#fff8e1;padding:.4em .6em;border-left:4px solid #f9a825}
.banner{background:#b00020;color:#fff;font-weight:bold;padding:.8em;border:3px solid #600;margin-bottom:1em}
.field-error{color:#b00020;font-size:.85rem;margin-top:-.6rem;margin-bottom:.6rem}
.form-hint{color:#666;font-size:.78rem;margin-top:-.7rem;margin-bottom:.6rem}
#profile-error{white-space:pre-wrap;font-family:inherit}
.bslib-sidebar-layout>.sidebar>.sidebar-content{gap:0}
.bslib-sidebar-layout>.sidebar h5{margin:.8rem 0 .4rem 0;font-size:.95rem;color:#2b5d8a}
.form-field .form-group{margin-bottom:.7rem}.form-field label{font-size:.88rem;margin-bottom:.15rem}
.form-field .form-control,.form-field .form-select{padding:.2rem .5rem;font-size:.9rem}
"""


_TABLE_NOTE = ("Candidates (eligible and conditional) ranked by posterior mean RMST; each number is the posterior "
               "mean (median for median survival) [95% credible interval]. Pooled mixtures are reported, never "
               "ranked; excluded treatments are not listed.")


def _sidebar(profile, horizon: float, population: str):
    from shiny import ui

    by_name = {f.name: f for f in form_fields()}
    items = []
    for group, names in GROUPS:
        items.append(ui.h5(group))
        for name in names:
            f = by_name[name]
            value = widget_value(getattr(profile, name))
            if f.kind == "select":
                widget = [ui.input_select(f.input_id, f.label, list(f.choices), selected=value)]
            else:
                widget = [ui.input_text(f.input_id, f.label, value, placeholder="unknown", update_on="blur")]
                if f.hint:
                    widget.append(ui.div(f.hint, class_="form-hint"))
            items.append(ui.div(*widget, ui.output_ui(f"err_{name}"), class_="form-field"))
    items += [ui.h5("Decision"),
              ui.div(ui.input_text("horizon", "Horizon for restricted mean survival (months)", f"{horizon:g}",
                                   update_on="blur"),
                     ui.output_ui("err_horizon"), class_="form-field"),
              ui.div(ui.input_select("population", "Population", POPULATIONS, selected=population),
                     class_="form-field")]
    return ui.sidebar(*items, width=360, title="Patient profile")


def create_app(posterior, profile, *, horizon: float = 60.0, population: str = "average"):
    """The app for ``posterior`` (a survival :class:`~rhcc_bayes.synthesis.SynthesisPosterior`).

    Parameters
    ----------
    posterior : SynthesisPosterior
        Fitted (gated) survival posterior; a fit that failed the gate shows its banner on every view.
    profile : PatientProfile
        The profile the form starts from.
    horizon, population
        Initial RMST horizon (months) and study population ("average" or "new").

    Returns
    -------
    shiny.App
    """
    from shiny import App, reactive, render, ui

    from rhcc_bayes.inference.diagnostics import gate_banner

    if population not in POPULATIONS:
        raise UserError(f"population must be one of {', '.join(POPULATIONS)}, got {population!r}")
    banner = gate_banner(posterior.draws)
    fields = form_fields()
    page = ui.page_sidebar(
        _sidebar(profile, horizon, population),
        ui.tags.style(CSS),
        ui.div(banner, class_="banner", id="gate-banner") if banner else None,
        ui.output_ui("errors"),
        ui.output_ui("panel"),
        ui.output_ui("curves"),
        ui.output_ui("table"),
        ui.p(f"Posterior: spec {posterior.spec.name!r} ({posterior.family} model), diagnostics gate "
             f"{'passed' if posterior.converged else 'FAILED'}"
             + (f", cached as {posterior.cache_path.name}" if posterior.cache_path else "")
             + ". Research use only: not a clinical decision on its own.", class_="text-muted small", id="provenance"),
        title=TITLE, window_title="rhcc-bayes serve",
    )

    def server(input, output, session):
        @reactive.calc
        def inputs():
            """(profile, horizon, population, ValidationError or None) from the form."""
            problems: list[Problem] = []
            prof = h = None
            try:
                prof = profile_from_form({f.name: input[f.input_id]() for f in fields})
            except ValidationError as err:
                problems += err.problems
            try:
                h = parse_horizon(input.horizon())
            except ValidationError as err:
                problems += err.problems
            return prof, h, input.population(), (ValidationError(problems) if problems else None)

        @reactive.calc
        def view():
            """The DecisionView, or the message to show instead (bad input or an internal error)."""
            prof, h, pop, err = inputs()
            if err is not None:
                return err
            try:  # the curves follow in the background (see curves_task): the answer does not wait for them
                return decision_view(posterior, prof, horizon=h, population=pop, curves=False)
            except UserError as e:
                return e
            except Exception as e:  # a bug: log it, show one line, never a traceback on the page
                log.error("decision failed for %r:\n%s", prof, traceback.format_exc())
                return RuntimeError(f"internal error ({type(e).__name__}); the details are in the server log")

        def field_error(name):
            def render_error():
                err = inputs()[3]
                msg = field_errors(err).get(name) if err is not None else None
                return ui.div(msg, class_="field-error", id=f"error-{name}") if msg else None
            return render_error

        for name in [f.name for f in fields] + ["horizon"]:
            output(id=f"err_{name}")(render.ui(field_error(name)))

        @render.ui
        def errors():
            v = view()
            if isinstance(v, Exception):
                return ui.div(ui.tags.strong("Cannot decide for this profile: "),
                              ui.tags.pre(str(v), id="profile-error"), class_="alert alert-danger", role="alert")
            return None

        @render.ui
        def panel():
            v = view()
            if isinstance(v, ValidationError):
                return ui.div("Correct the value marked in red to see the bottom line.", class_="text-muted")
            if isinstance(v, Exception):
                return None
            return ui.div(ui.HTML(v.panel), id="bottom-line")

        @reactive.extended_task
        async def curves_task(res):
            return await asyncio.to_thread(_curves_png, res)

        @reactive.effect
        def _draw_curves():
            v = view()
            if isinstance(v, Exception):
                curves_task.cancel()
            else:
                curves_task.invoke(v.decision)

        @render.ui
        def curves():
            if isinstance(view(), Exception):
                return None
            png = curves_task.result()  # silent (keeps the previous image) while the task runs
            if not png:
                return ui.div("The survival curves could not be drawn (details in the server log).",
                              class_="text-muted", id="survival-curves")
            return ui.div(ui.h4("Expected survival of the leading options"),
                          ui.HTML(img_html(png, "survival curves of the leading options")), id="survival-curves")

        @render.ui
        def table():
            v = view()
            if isinstance(v, Exception):
                return None
            return ui.div(ui.h4("All candidates"), ui.p(_TABLE_NOTE, class_="small"), ui.HTML(v.table),
                          id="decision-table")

    app = App(page, server)
    app.sanitize_errors = True  # an unforeseen error shows a generic line, never its text or a traceback
    return app
