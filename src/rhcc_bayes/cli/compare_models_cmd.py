"""``rhcc-bayes compare-models``: LOO comparison between specs fitted to the same evidence."""

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
    p = sub.add_parser("compare-models", help="compare specs by PSIS-LOO (same observations required)",
                       description="Fit (or load) each spec and compare them by PSIS-LOO; the specs must use the "
                                   "same observations.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="two or more specs (bundled names or TOML paths)")
    add_fit_arguments(p, spec=False)
    add_format_argument(p)
    add_out_argument(p, "the comparison")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.survival.criticism import compare_models

    fits = {}
    for name in args.specs:
        _, result = fit_from_args(args, spec_name=name)
        fits[result.spec.name] = result.idata
    table = compare_models(fits)
    if args.format in ("csv", "json"):
        emit(args, frame_text(table.rename_axis("spec").reset_index(), args.format))
        return 0
    text = table.to_string(float_format=lambda v: f"{v:.2f}")
    text += ("\n\nelpd_loo: expected log predictive density (higher is better); "
             "elpd_diff/dse: difference to the best and its SE.\n")
    if bool(table["warning"].any()):
        text += ("warning = True: some Pareto k > 0.7 (each reported summary is influential with this little "
                 "evidence); treat those LOO values as indicative only.\n")
    emit(args, text)
    return 0
