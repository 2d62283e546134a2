"""``rhcc-bayes voi``: which evidence is worth collecting for a patient's decision.

    rhcc-bayes voi --profile p.toml [--groups class:ablation,baseline] [--format table|json|csv] [--plot F.png]
    rhcc-bayes voi --profile p.toml --study-treatment RFA --study-n 50,100,200 --study-followup 60
                   [--study-population pop.toml] [--scheduler tcp://HOST:8786] [--workers 2]

Without ``--study-treatment``: EVPPI per parameter group (:func:`rhcc_bayes.decision.voi.evppi`).
With it: EVSI of a new cohort of that treatment for each candidate n
(:func:`rhcc_bayes.decision.evsi.evsi`), simulated in local processes, or on an existing
dask.distributed cluster with ``--scheduler`` (same numbers for the same seed).
"""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    check_horizon_option,
    emit,
    fit_from_args,
    frame_text,
    seed_arg,
)
from rhcc_bayes.cli.profile_args import add_profile_arguments


def add_parser(sub) -> None:
    p = sub.add_parser("voi", help="value of information: EVPPI per parameter group, EVSI of a proposed study",
                       description="Which uncertainty matters for a patient's decision (EVPPI per parameter group, "
                                   "Strong et al. 2014) and what a new cohort study would be worth (EVSI by "
                                   "regression on simulated study results, Strong et al. 2015), in months of "
                                   "expected RMST, each with its Monte Carlo SE.")
    add_fit_arguments(p)
    p.add_argument("--horizon", type=float, default=60.0, help="RMST horizon in months [default: 60]")
    p.add_argument("--population", choices=("average", "new"), default="average",
                   help="the decision's study population: average, or a new one [default: average]")
    p.add_argument("--utility", metavar="FILE", help="utility weights TOML (decide on quality-adjusted RMST)")
    p.add_argument("--draw-seed", type=seed_arg, default=0,
                   help="seed of the random effects, simulations and MC-error draws [default: 0]")
    p.add_argument("--groups", metavar="G1,G2",
                   help="parameter groups for EVPPI (default: all): treatment:CODE, class:MODALITY, covariates, "
                        "baseline, heterogeneity")
    p.add_argument("--method", choices=("auto", "gam", "rff"), default="auto",
                   help="regression: tensor-product GAM (<= 4 parameters), random-Fourier-feature GP, or auto "
                        "[default: auto]")
    study = p.add_argument_group("proposed study (EVSI)")
    study.add_argument("--study-treatment", metavar="CODE", help="treatment of the proposed cohort (switches to EVSI)")
    study.add_argument("--study-n", metavar="N1,N2,...", default="50,100,200",
                       help="candidate numbers of patients [default: 50,100,200]")
    study.add_argument("--study-followup", type=float, default=60.0,
                       help="follow-up of every patient in months (administrative censoring) [default: 60]")
    study.add_argument("--study-population", metavar="FILE",
                       help="the study's population TOML (inclusion limits) [default: all-comers]")
    study.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the simulations on an existing dask.distributed cluster (e.g. tcp://host:8786)")
    study.add_argument("--workers", type=int, default=None, help="local worker processes [default: CPU count]")
    add_format_argument(p)
    add_out_argument(p, "the table")
    p.add_argument("--plot", metavar="PNG", help="also write the figure (EVPPI bars or EVSI vs n) to PNG")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def _sizes(text: str) -> list[int]:
    from rhcc_bayes.core.errors import UserError

    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--study-n: give whole numbers separated by commas, got {text!r}") from None
    if not sizes:
        raise UserError("--study-n: give at least one number of patients")
    return sizes


def _validate(args):
    from rhcc_bayes.cli.decide_cmd import _has_profile_options
    from rhcc_bayes.cli.profile_args import from_cli_args
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.survival.population import load_population

    if not _has_profile_options(args):
        raise UserError("give a patient: --profile FILE or profile options (e.g. --tumour-size-cm 2.5)")
    check_horizon_option(args.horizon)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    study = None
    if args.study_treatment:
        if args.groups:
            raise UserError("--groups is for EVPPI; with --study-treatment the command computes EVSI")
        pop = load_population(args.study_population) if args.study_population else None
        study = (_sizes(args.study_n), pop)
    elif args.study_population or args.scheduler:
        raise UserError("--study-population and --scheduler need --study-treatment (EVSI of a proposed study)")
    return from_cli_args(args), study


def _json(table, kind: str) -> str:
    import json

    import numpy as np

    def clean(v):
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.floating, float)):
            return float(v) if np.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    out = {"kind": kind, **{k: clean(v) for k, v in table.attrs.items()},
           "units": "months of expected " + str(table.attrs.get("criterion", "RMST")),
           "rows": [{k: clean(v) for k, v in r.items()} for r in table.to_dict(orient="records")]}
    return json.dumps(out, indent=2) + "\n"


def run(args) -> int:
    from rhcc_bayes.cli.common import _check_out_file, announce_gate
    from rhcc_bayes.core.atomic import write_atomic
    from rhcc_bayes.decision.utility import load_utility
    from rhcc_bayes.report import figures as plots

    profile, study = _validate(args)  # before any (slow) fit
    if args.out:
        _check_out_file(args.out)
    utility = load_utility(args.utility) if args.utility else None
    _, posterior = fit_from_args(args)
    announce_gate(posterior.draws)
    common = dict(horizon=args.horizon, utility=utility, seed=args.draw_seed, method=args.method)
    if study is None:
        from rhcc_bayes.decision.voi import evppi, evppi_text
        from rhcc_bayes.report.voi_figure import evppi_figure

        groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
        print("estimating EVPPI per parameter group ...", file=sys.stderr)
        table = evppi(posterior, profile, groups, population=args.population, **common)
        kind, text, make = "evppi", evppi_text, lambda: evppi_figure(table)
    else:
        from rhcc_bayes.decision.evsi import evsi, evsi_text
        from rhcc_bayes.report.voi_figure import evsi_figure

        sizes, pop = study
        where = f"dask cluster {args.scheduler}" if args.scheduler else "local processes"
        print(f"simulating the proposed {args.study_treatment} study for n = {sizes} on {where} ...", file=sys.stderr)
        table = evsi(posterior, profile, treatment=args.study_treatment, sizes=sizes, followup=args.study_followup,
                     population=pop, decision_population=args.population,
                     executor=args.scheduler or "processes", workers=args.workers, **common)
        kind, text, make = "evsi", evsi_text, lambda: evsi_figure(table)
    if args.plot:
        png = plots.figure_png(make())
        write_atomic(args.plot, lambda tmp: open(tmp, "wb").write(png))
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.format == "json":
        out = _json(table, kind)
    elif args.format == "csv":
        t = table.copy()
        t.insert(0, "profile", table.attrs.get("profile"))
        t["criterion"] = table.attrs.get("criterion")
        t["horizon"] = table.attrs.get("horizon")
        t["population"] = table.attrs.get("population")
        out = frame_text(t, "csv")
    else:
        out = text(table) + "\n"
    emit(args, out)
    return 0
