"""``rhcc-bayes diagnose``: the diagnostics gate and per-parameter R-hat/ESS of a fit."""

from __future__ import annotations

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    emit,
    fit_from_args,
    frame_text,
)


def add_parser(sub) -> None:
    p = sub.add_parser("diagnose", help="show convergence diagnostics (R-hat, ESS, divergences, E-BFMI) of a fit",
                       description="Convergence diagnostics of a fit (fitted or loaded from the cache); exit status "
                                   "3 when the fit fails the diagnostics gate.")
    add_fit_arguments(p)
    p.add_argument("--all", action="store_true", help="list every parameter, not only the 15 worst")
    add_format_argument(p)
    add_out_argument(p, "the diagnostics")
    p.set_defaults(func=run, allow_unconverged=True)


def run(args) -> int:
    args.allow_unconverged = True  # diagnosing an unconverged fit is the point
    args.recheck_gate = True
    _, result = fit_from_args(args)
    gate, attrs = result.gate, result.idata.attrs
    table = gate.summary.sort_values("ess_bulk")
    if not args.all:
        table = table.head(15)
    if args.format in ("csv", "json"):
        table = table.rename_axis("parameter").reset_index()
        emit(args, frame_text(table, args.format))
        return 0 if gate.passed else 3
    lines = [str(gate)]
    lines.append(f"divergences: {gate.divergences}   E-BFMI per chain: {', '.join(f'{b:.2f}' for b in gate.bfmi)}")
    lines.append(f"backend {attrs.get('backend')}, {attrs.get('chains')} chains x {attrs.get('draws')} draws "
          f"(tune {attrs.get('tune')}), seed {attrs.get('seed')}; compile {float(attrs.get('wall_time_compile_s', 0)):.1f} s, "
          f"sampling {float(attrs.get('wall_time_sampling_s', 0)):.1f} s")
    lines.append(table.to_string(float_format=lambda v: f"{v:.3f}"))
    emit(args, "\n".join(lines) + "\n")
    return 0 if gate.passed else 3
