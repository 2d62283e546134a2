"""``rhcc-bayes report``: the full decision report for one profile in a folder.

    rhcc-bayes report --profile p.toml --out DIR [--horizon 60] [--population average|new] [--utility u.toml]

Writes DIR/report.html (self-contained), DIR/report.md (+ PNGs), DIR/decision.csv,
DIR/decision.json and DIR/posterior.nc, atomically (all or nothing). DIR must be new, empty
or a previous report (marker file ``.rhcc-bayes-report``); any other folder, or a file, is
refused before fitting (exit 2) and never deleted or renamed.
"""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import add_fit_arguments, announce_gate, check_horizon_option, fit_from_args, seed_arg
from rhcc_bayes.cli.profile_args import add_profile_arguments


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write an HTML/Markdown decision report for a profile",
                       description="Fit (or load the cached posterior), decide for the profile and write "
                                   "DIR/report.html, report.md, decision.csv, decision.json and posterior.nc.")
    add_fit_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: new, empty, or a previous report (replaced atomically); "
                        "any other existing folder or file is refused, never deleted")
    p.add_argument("--horizon", type=float, default=60.0, help="RMST horizon in months [default: 60]")
    p.add_argument("--population", choices=("average", "new"), default="average",
                   help="average study population, or a new one (between-study effect integrated) [default: average]")
    p.add_argument("--utility", metavar="FILE", help="utility weights TOML (decide on quality-adjusted RMST)")
    p.add_argument("--draw-seed", type=seed_arg, default=0, help="seed of the new-population random effect [default: 0]")
    p.add_argument("--voi", action="store_true",
                   help="add the section 'What uncertainty matters for this patient' (EVPPI per parameter group)")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.cli.decide_cmd import _has_profile_options
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.cli.profile_args import from_cli_args
    from rhcc_bayes.decision.utility import load_utility
    from rhcc_bayes.report.document import check_report_target

    if not _has_profile_options(args):
        raise UserError("give a patient: --profile FILE or profile options (e.g. --tumour-size-cm 2.5)")
    check_horizon_option(args.horizon)
    profile = from_cli_args(args)
    utility = load_utility(args.utility) if args.utility else None
    check_report_target(args.out)  # refuse a foreign folder or a file before any (slow) fit
    _, posterior = fit_from_args(args)
    announce_gate(posterior.idata)
    if posterior.family != "survival":
        raise UserError(f"spec {posterior.spec.name!r} is not a survival synthesis; reports need a survival spec")
    if args.voi:
        from rhcc_bayes.report.document import build_report
        from rhcc_bayes.report.sections import SECTIONS
        from rhcc_bayes.report.voi_figure import with_voi

        out = build_report(posterior, posterior.evidence, profile, args.out, horizon=args.horizon,
                           population=args.population, utility=utility, seed=args.draw_seed,
                           sections=with_voi(SECTIONS))
    else:
        out = posterior.report(profile, args.out, horizon=args.horizon, population=args.population,
                               utility=utility, seed=args.draw_seed)
    print(f"report: {out / 'report.html'}", file=sys.stderr)
    return 0
