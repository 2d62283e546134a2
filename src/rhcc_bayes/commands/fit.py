"""``rhcc-bayes fit``: fit a spec to evidence (cached), apply the diagnostics gate, summarise."""

from __future__ import annotations

import sys

from rhcc_bayes.commands._fitargs import add_fit_arguments, fit_from_args, gate_banner


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a model spec to the evidence (cached) and print the posterior summary",
                       description="Fit a model spec to the evidence, or load the cached fit; refuse a fit "
                                   "that fails the diagnostics gate unless --allow-unconverged.")
    add_fit_arguments(p)
    p.add_argument("--out", help="also write the posterior to this netCDF file (atomic)")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.cache import save_idata
    from rhcc_bayes.reporting import posterior_summary_text

    evidence, result = fit_from_args(args)
    idata = result.idata
    banner = gate_banner(idata)
    if banner:
        print(banner, file=sys.stderr)
    print(posterior_summary_text(result, evidence))
    if args.out:
        save_idata(idata, args.out)
        print(f"posterior written to {args.out}", file=sys.stderr)
    return 0
