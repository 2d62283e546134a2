"""``rhcc-bayes ppc``: posterior predictive check of every observed summary."""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    emit,
    fit_from_args,
    frame_text,
    gate_banner,
)


def add_parser(sub) -> None:
    p = sub.add_parser("ppc", help="posterior predictive check: each observed summary vs its 95%% predictive interval",
                       description="Posterior predictive check of every observed summary (in-sample replicate of "
                                   "each arm: the arm's own study effect plus binomial sampling noise).")
    add_fit_arguments(p)
    add_format_argument(p)
    add_out_argument(p, "the check")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table

    evidence, result = fit_from_args(args)
    banner = gate_banner(result.idata)
    if banner:
        print(banner, file=sys.stderr)
    table = ppc_table(result.idata, evidence.table)
    if args.format in ("csv", "json"):
        emit(args, frame_text(table, args.format))
    else:
        emit(args, table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
             + f"\n\n{int(table['outlier'].sum())} of {len(table)} observations outside their 95% predictive "
               f"interval (coverage {ppc_coverage(table):.0%})\n")
    return 0
