"""``rhcc-bayes fit``: fit a spec to evidence (cached), apply the diagnostics gate, summarise.

Both families go through :class:`rhcc_bayes.synthesis.Synthesis` with the posterior cache:
survival specs (the R-HCC synthesis) print provenance, the gate verdict and a treatment
table; network meta-analysis specs (``family = "nma"``, e.g. ``models/nma_diabetes_re.toml``
with ``--evidence examples/reference/diabetes.csv``) print relative effects, heterogeneity
and residual deviance / pD / DIC.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rhcc_bayes.cli.common import add_fit_arguments, announce_gate, fit_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a model spec to the evidence (cached) and print the posterior summary",
                       description="Fit a model spec to the evidence, or load the cached fit; refuse a fit "
                                   "that fails the diagnostics gate unless --allow-unconverged.")
    add_fit_arguments(p)
    p.add_argument("--out", metavar="FILE", help="also write the posterior to FILE (netCDF, written atomically)")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.inference.cache import save_idata

    if args.out and Path(args.out).is_dir():  # check before a long fit, not after
        raise UserError(f"--out {args.out}: is a directory; give a file name such as posterior.nc")
    _, posterior = fit_from_args(args)
    announce_gate(posterior.draws)
    print(posterior.summary_text())
    if args.out:
        try:
            save_idata(posterior.idata, args.out)
        except OSError as err:
            raise UserError(f"cannot write {args.out}: {err.strerror or err}") from None
        print(f"posterior written to {args.out}", file=sys.stderr)
    return 0
