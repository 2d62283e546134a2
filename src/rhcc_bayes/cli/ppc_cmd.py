"""``rhcc-bayes ppc``: posterior predictive check of every observed summary."""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import add_fit_arguments, fit_from_args, gate_banner


def add_parser(sub) -> None:
    p = sub.add_parser("ppc", help="posterior predictive check: observed vs predicted 95%% interval per summary")
    add_fit_arguments(p)
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table

    evidence, result = fit_from_args(args)
    banner = gate_banner(result.idata)
    if banner:
        print(banner, file=sys.stderr)
    table = ppc_table(result.idata, evidence.table)
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
        return 0
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{int(table['outlier'].sum())} of {len(table)} observations outside their 95% predictive interval "
          f"(coverage {ppc_coverage(table):.0%})")
    return 0
