"""Arguments and conventions shared by the commands.

- Every command that needs a posterior takes :func:`add_fit_arguments` and calls
  :func:`fit_from_args`, which says on stderr what it does, also when stderr is not a
  terminal: "loaded cached posterior PATH" on a cache hit; otherwise "compiling model ...",
  "sampling C chains x D draws ...", a heartbeat every ``HEARTBEAT_S`` seconds, and
  "fit done in N s".
- ``--format table|json|csv`` (:func:`add_format_argument`) and ``--out FILE`` (written
  atomically, :func:`emit`) mean the same everywhere; ``report --out DIR`` is the one folder.
- A fit that failed the diagnostics gate but was allowed (``--allow-unconverged``) is flagged
  in every output channel the same way (:func:`announce_gate`): the banner on stderr, as the
  first line of table text, and a ``gate_warning`` column in every csv row / field in every
  json record (empty when the gate passed), also in files written with ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time

from rhcc_bayes.inference.diagnostics import gate_banner  # noqa: F401  (re-exported for the commands)


def seed_arg(text: str) -> int:
    """argparse type of every seed option: an integer in [0, 2**32) (argparse exits 2 otherwise)."""
    from rhcc_bayes.core.seed import is_seed

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not is_seed(value):
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {text!r}")
    return value


def check_horizon_option(horizon: float) -> None:
    """``--horizon`` of decide/report/voi/serve, checked before any (slow) fit."""
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS, is_horizon

    if not is_horizon(horizon):
        raise UserError(f"--horizon must be in (0, {MAX_HORIZON_MONTHS:g}] months, got {horizon:g}")


def add_fit_arguments(parser: argparse.ArgumentParser, *, spec: bool = True) -> None:
    if spec:
        parser.add_argument("--spec", default="default",
                            help="model spec: a bundled name (default, weibull, ...) or a TOML path [default: default]")
    parser.add_argument("--evidence", nargs="+", metavar="FILE",
                        help="evidence CSV file(s), merged with the bundled evidence (for an NMA spec: used alone)")
    parser.add_argument("--ipd", nargs="+", metavar="FILE",
                        help="individual patient data CSV file(s): study,arm,treatment,time_months,event "
                             "[+ patient covariates]; an arm given as IPD and as summaries enters once, as IPD")
    parser.add_argument("--replace-bundled", action="append", default=[], metavar="STUDY",
                        help="drop the bundled study STUDY because an --evidence file gives it instead "
                             "(repeatable); without it a study label of --evidence that is also a bundled "
                             "study is an error")
    parser.add_argument("--hold-out", action="append", default=[], metavar="STUDY",
                        help="fit without STUDY's likelihood rows (and the pooled results that include it), "
                             "reusing the full evidence's compiled model (repeatable; survival specs)")
    parser.add_argument("--seed", type=seed_arg, help="random seed [default: the spec's seed]")
    parser.add_argument("--cache-dir", help="posterior cache folder [default: $RHCC_BAYES_CACHE or .rhcc_cache]")
    parser.add_argument("--no-cache", action="store_true", help="always refit; do not read or write the cache")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="continue with a fit that fails the diagnostics gate (every output is flagged); "
                             "without it such a fit exits with status 3")


FORMATS = ("table", "json", "csv")
#: Seconds between "... still <phase> (N s)" lines while compiling or sampling.
HEARTBEAT_S = 15.0

#: Help for the patient-profile options (added by ``decision.profile.add_profile_arguments``).
PROFILE_HELP = {
    "profile": "patient profile file (TOML); the options below override its values",
    "id": "profile identifier shown in outputs",
    "tumour_size_cm": "diameter of the largest recurrent tumour, in cm",
    "nodules": "number of recurrent nodules",
    "months_since_treatment": "months from the curative treatment to the recurrence (early: < 12)",
    "microvascular_invasion": "histological microvascular invasion (primary or recurrence)",
    "afp_ng_ml": "serum alpha-fetoprotein, ng/mL",
    "child_pugh": "Child-Pugh class",
    "portal_hypertension": "clinically significant portal hypertension",
    "ecog": "ECOG performance status (0-4)",
    "prior_treatment": "the failed curative-intent treatment",
    "extrahepatic_spread": "extrahepatic spread",
    "portal_vein_thrombus": "portal vein tumour thrombus",
    "near_gallbladder": "tumour next to the gallbladder (ablation risk)",
    "near_bowel": "tumour next to the bowel (ablation risk)",
    "near_diaphragm": "tumour under the diaphragm (ablation risk)",
    "near_large_vessel": "tumour next to a large vessel (heat-sink for ablation)",
    "resection_candidate": "fit for repeat hepatectomy (liver function and remnant)",
    "transplant_candidate": "candidate for salvage liver transplantation",
}


def add_format_argument(parser: argparse.ArgumentParser, choices=FORMATS, default: str | None = "table") -> None:
    """``--format``: one meaning everywhere (table for people, json/csv for programs)."""
    parser.add_argument("--format", choices=choices, default=default,
                        help="output format: " + ", ".join(choices)
                             + (f" [default: {default}]" if default else ""))


def add_out_argument(parser: argparse.ArgumentParser, what: str = "the output") -> None:
    """``--out FILE``: a file path, written atomically (never half-written)."""
    parser.add_argument("--out", metavar="FILE", help=f"write {what} to FILE (atomically) instead of stdout")


def write_stdout(text: str) -> None:
    """Write to standard output and flush, so that a full disk or a closed device is a
    one-line error here rather than an exception ignored at interpreter exit."""
    from rhcc_bayes.core.errors import UserError

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise UserError(f"cannot write to standard output: {err.strerror or err}") from None


def emit(args, text: str) -> None:
    """Write ``text`` to ``--out`` (atomically) or stdout."""
    from rhcc_bayes.core.atomic import write_text_atomic

    out = getattr(args, "out", None)
    if out:
        _check_out_file(out)
        write_text_atomic(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        write_stdout(text)


def announce_gate(idata) -> str:
    """The gate banner of ``idata`` ('' when the gate passed), printed on stderr when not empty."""
    banner = gate_banner(idata)
    if banner:
        print(banner, file=sys.stderr)
    return banner


def flagged_frame(table, banner: str):
    """``table`` with the ``gate_warning`` column every csv/json output carries (last column)."""
    return table.assign(gate_warning=banner)


def flagged_text(banner: str, text: str) -> str:
    """Table text for people: the banner (if any) as the first line."""
    return f"{banner}\n{text}" if banner else text


def frame_text(table, fmt: str) -> str:
    """A table for programs: ``csv`` (no index) or ``json`` (a list of records), the one meaning
    of ``--format csv|json`` in every command."""
    if fmt == "json":
        return table.to_json(orient="records", indent=1) + "\n"
    return table.to_csv(index=False)


def _check_out_file(out) -> None:
    from pathlib import Path

    from rhcc_bayes.core.errors import UserError

    if Path(out).is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name")


def fill_profile_help(parser: argparse.ArgumentParser) -> None:
    """Give every profile option (and any ``--format`` without help) of ``parser`` and its
    sub-parsers a help text, whichever module added it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                fill_profile_help(sub)
            continue
        key = action.dest[len("profile_"):] if action.dest.startswith("profile_") else action.dest
        if not action.help and key in PROFILE_HELP:
            action.help = PROFILE_HELP[key]
        elif not action.help and "--format" in action.option_strings and action.choices:
            action.help = "output format: " + ", ".join(action.choices) + (
                f" [default: {action.default}]" if action.default else "")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _Progress:
    """Phase messages and a heartbeat on stderr while a fit compiles and samples."""

    def __init__(self, settings, interval: float = HEARTBEAT_S):
        self.settings = settings
        self.interval = interval
        self.phase = "compiling model"
        self.t0 = time.perf_counter()
        self.t_phase = self.t0
        self.compile_s = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._tty = bool(getattr(sys.stderr, "isatty", lambda: False)())

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            if self._tty and self.phase.startswith("sampling"):
                continue  # the sampler draws its own progress bar on a terminal
            _log(f"  ... {self.phase} ({time.perf_counter() - self.t0:.0f} s)")

    def compiled(self) -> None:
        s = self.settings
        self.compile_s = time.perf_counter() - self.t_phase
        self.t_phase = time.perf_counter()
        self.phase = "sampling"
        chains, draws, tune = (getattr(s, k, "?") for k in ("chains", "draws", "tune"))
        _log(f"compiled in {self.compile_s:.1f} s; sampling {chains} chains x {draws} draws "
             f"(+{tune} tuning) ...")

    @contextlib.contextmanager
    def running(self):
        from rhcc_bayes.inference import sampling

        original = sampling.compile_model

        def compile_and_report(*a, **k):
            compiled = original(*a, **k)
            self.compiled()
            return compiled

        sampling.compile_model = compile_and_report
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            sampling.compile_model = original


def load_inputs(args, spec_name: str | None = None):
    """(evidence, spec) from the parsed arguments (read and validated once)."""
    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence
    from rhcc_bayes.specs import is_nma, load_spec

    from rhcc_bayes.core.errors import UserError

    replace = list(getattr(args, "replace_bundled", None) or [])
    spec = load_spec(spec_name or args.spec)
    if is_nma(spec):
        if not args.evidence:
            raise UserError(f"spec {spec.name!r} is a network meta-analysis: give its data with --evidence FILE")
        if replace:
            raise UserError(f"spec {spec.name!r} is a network meta-analysis, which uses --evidence alone: "
                            "there is no bundled study to replace")
        evidence = load_evidence(args.evidence, taxonomy=OPEN_WORLD)
    else:
        if replace and not args.evidence:
            raise UserError("--replace-bundled needs --evidence FILE giving the replacement study")
        evidence = load_evidence(args.evidence or None, replace_bundled=replace)
        for study in dict.fromkeys(replace):
            files = sorted(set(evidence.table.loc[evidence.table["study"] == study, "file"]))
            _log(f"--replace-bundled: the bundled rows of study {study!r} are dropped; "
                 f"{', '.join(files)} gives the study instead")
    return evidence, spec


def synthesis_from_args(args, spec_name: str | None = None, inputs=None):
    """The :class:`~rhcc_bayes.synthesis.Synthesis` the arguments describe."""
    from rhcc_bayes.synthesis import Synthesis

    evidence, spec = inputs or load_inputs(args, spec_name)
    return Synthesis(spec, evidence, ipd=getattr(args, "ipd", None), held_out=getattr(args, "hold_out", ()))


def fit_from_args(args, spec_name: str | None = None, inputs=None):
    """Fit (or load from cache) the synthesis the arguments describe: ``(evidence, SynthesisPosterior)``.

    ``inputs`` is an ``(evidence, spec)`` pair already read by :func:`load_inputs`.
    """
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.core.paths import default_cache_dir

    synthesis = synthesis_from_args(args, spec_name, inputs)
    spec, evidence = synthesis.spec, synthesis.evidence
    if synthesis.ipd is not None:
        _log(f"patient-level data: {synthesis.ipd!r}")
        checks = synthesis.design.ipd.checks
        if len(checks):  # the IPD wins: these summaries are checks, not in the likelihood
            _log(f"  {len(checks)} summary row(s) of arms given as IPD are checks, not in the likelihood:\n"
                 + checks.round(3).to_string(index=False))
    if synthesis.held_out:  # checked before any fit: a name not in the likelihood is an error
        from rhcc_bayes.survival.holdout import held_out_studies

        _log(f"held out (likelihood weight 0): {', '.join(held_out_studies(synthesis.design))}")
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    fit = dict(cache_dir=cache_dir, seed=args.seed, allow_unconverged=args.allow_unconverged,
               recheck_gate=getattr(args, "recheck_gate", False))
    if cache_dir is not None and synthesis.cache_path(cache_dir, args.seed).exists():
        posterior = synthesis.fit(**fit)
        if posterior.cache_hit:
            _log(f"loaded cached posterior {posterior.cache_path}")
            return evidence, posterior
    t0 = time.perf_counter()
    _log(f"compiling model for spec {spec.name!r} on {len(evidence)} evidence rows "
         f"(the first fit takes ~30-60 s; cache: {cache_dir or 'off'}) ...")
    progress = _Progress(synthesis.settings)

    def done(note: str) -> None:
        compile_s = f"compile {progress.compile_s:.1f} s, " if progress.compile_s is not None else ""
        _log(f"fit done in {time.perf_counter() - t0:.1f} s ({compile_s}sampling and checks "
             f"{time.perf_counter() - progress.t_phase:.1f} s); {note}")

    try:
        with progress.running():
            posterior = synthesis.fit(**fit)
    except UserError as err:
        if type(err).__name__ == "ConvergenceError":
            done("the fit FAILED the diagnostics gate" + (f" (cached in {cache_dir})" if cache_dir else ""))
        raise
    if posterior.cache_hit:  # another process wrote it meanwhile
        _log(f"loaded cached posterior {posterior.cache_path}")
    else:
        done(f"cached at {posterior.cache_path}" if posterior.cache_path else "not cached")
    return evidence, posterior
