"""``rhcc-bayes ppc``: posterior predictive check of every observed summary."""

from __future__ import annotations

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    announce_gate,
    emit,
    fit_from_args,
    flagged_frame,
    flagged_text,
    frame_text,
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
    from rhcc_bayes.cli.common import _check_out_file
    from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table

    if args.out:
        _check_out_file(args.out)  # before the (slow) fit
    evidence, result = fit_from_args(args)
    banner = announce_gate(result.idata)
    table = ppc_table(result.idata, evidence.table)
    if args.format in ("csv", "json"):
        emit(args, frame_text(flagged_frame(table, banner), args.format))
    else:
        emit(args, flagged_text(banner, table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
             + f"\n\n{int(table['outlier'].sum())} of {len(table)} observations outside their 95% predictive "
               f"interval (coverage {ppc_coverage(table):.0%})\n"))
    return 0
