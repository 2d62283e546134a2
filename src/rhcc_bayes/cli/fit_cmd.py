"""``rhcc-bayes fit``: fit a spec to evidence (cached), apply the diagnostics gate, summarise.

Survival specs (the R-HCC synthesis) go through :func:`rhcc_bayes.workflow.fit_synthesis`
with the posterior cache; network meta-analysis specs (``family = "nma"``, e.g.
``models/nma_diabetes_re.toml`` with ``--evidence examples/reference/diabetes.csv``) go
through :func:`rhcc_bayes.nma.run_nma` and print relative effects, heterogeneity and
residual deviance / pD / DIC.
"""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import add_fit_arguments, fit_from_args, gate_banner, load_inputs


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a model spec to the evidence (cached) and print the posterior summary",
                       description="Fit a model spec to the evidence, or load the cached fit; refuse a fit "
                                   "that fails the diagnostics gate unless --allow-unconverged.")
    add_fit_arguments(p)
    p.add_argument("--out", help="also write the posterior to this netCDF file (atomic)")
    p.set_defaults(func=run)


def run_nma_command(args, evidence, spec) -> int:
    from rhcc_bayes.inference.cache import save_idata
    from rhcc_bayes.inference.diagnostics import ConvergenceError
    from rhcc_bayes.nma.run import run_nma

    print(f"fitting network meta-analysis {spec.name!r} ...", file=sys.stderr)
    idata, result = run_nma(evidence, spec, seed=args.seed)
    if not result.gate_passed and not args.allow_unconverged:
        raise ConvergenceError(f"the posterior failed the convergence gate:\n{result.gate}\n"
                               "rerun with --allow-unconverged to see the numbers anyway")
    print(result.to_text())
    if args.out:
        save_idata(idata, args.out)
        print(f"posterior written to {args.out}", file=sys.stderr)
    return 0


def run(args) -> int:
    from rhcc_bayes.inference.cache import save_idata
    from rhcc_bayes.report.summaries import posterior_summary_text
    from rhcc_bayes.specs import is_nma

    evidence, spec = load_inputs(args)
    if is_nma(spec):
        return run_nma_command(args, evidence, spec)
    evidence, result = fit_from_args(args, inputs=(evidence, spec))
    idata = result.idata
    banner = gate_banner(idata)
    if banner:
        print(banner, file=sys.stderr)
    print(posterior_summary_text(result, evidence))
    if args.out:
        save_idata(idata, args.out)
        print(f"posterior written to {args.out}", file=sys.stderr)
    return 0
