"""``rhcc-bayes ppc``: posterior predictive check of every observed summary, and of every direct
contrast (a reported HR or two arms of one study) against the rest of the evidence
(:mod:`rhcc_bayes.survival.contrast_check`)."""

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
    p.add_argument("--contrasts", action="store_true",
                   help="with --format csv/json: output the direct-vs-indirect contrast table instead of the "
                        "per-summary check (the table format shows both)")
    add_out_argument(p, "the check")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.cli.common import _check_out_file
    from rhcc_bayes.survival.contrast_check import contrast_check, contrast_check_text
    from rhcc_bayes.survival.criticism import ppc_coverage, ppc_table

    if args.out:
        _check_out_file(args.out)  # before the (slow) fit
    evidence, result = fit_from_args(args)
    banner = announce_gate(result.idata)
    if args.format in ("csv", "json"):
        table = contrast_check(result.idata, result.design) if args.contrasts else ppc_table(result.idata, evidence.table)
        emit(args, frame_text(flagged_frame(table, banner), args.format))
    else:
        table = ppc_table(result.idata, evidence.table)
        contrasts = contrast_check(result.idata, result.design)
        emit(args, flagged_text(banner, table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
             + f"\n\n{int(table['outlier'].sum())} of {len(table)} observations outside their 95% predictive "
               f"interval (coverage {ppc_coverage(table):.0%})\n\n" + contrast_check_text(contrasts) + "\n"))
    return 0
