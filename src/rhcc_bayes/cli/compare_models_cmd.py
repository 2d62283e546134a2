"""``rhcc-bayes compare-models``: LOO comparison between specs fitted to the same evidence."""

from __future__ import annotations

from rhcc_bayes.cli.common import add_fit_arguments, fit_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("compare-models", help="compare specs by PSIS-LOO (same observations required)")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="two or more specs (bundled names or TOML paths)")
    add_fit_arguments(p, spec=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.survival.criticism import compare_models

    fits = {}
    for name in args.specs:
        _, result = fit_from_args(args, spec_name=name)
        fits[result.spec.name] = result.idata
    table = compare_models(fits)
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    print("\nelpd_loo: expected log predictive density (higher is better); elpd_diff/dse: difference to the best and its SE.")
    if bool(table["warning"].any()):
        print("warning = True: some Pareto k > 0.7 (each reported summary is influential with this little evidence);"
              " treat those LOO values as indicative only.")
    return 0
