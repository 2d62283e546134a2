"""``rhcc-bayes predict``: what a new study of a given population would report.

    rhcc-bayes predict --population pop.toml --treatment RFA --n 120 --times 12,24,36,60
                       [--format table|json|csv] [--out FILE] [--draws draws.nc]

The population file gives inclusion limits (``size_max_cm``, ``nodules_max``, ``milan``,
``recurrence``, ``prior_treatment``; see ``examples/populations/``). The output is the
posterior predictive of the reported landmark survival, the binomial sampling noise of
the study's n included: mean, median and 50/90/95% intervals per time.
"""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import add_fit_arguments, announce_gate, fit_from_args, seed_arg
from rhcc_bayes.core.atomic import write_text_atomic
from rhcc_bayes.core.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict what a new study of a population would report",
                       description="Posterior predictive of the landmark survival a new study of the given "
                                   "population and size would report (between-study effect and binomial "
                                   "sampling noise of its n included).")
    add_fit_arguments(p)
    p.add_argument("--population", metavar="FILE", required=True, help="population TOML (inclusion limits)")
    p.add_argument("--treatment", required=True, help="treatment code of the new study (e.g. RFA)")
    p.add_argument("--n", required=True, help="number of patients of the new study")
    p.add_argument("--times", default="12,36,60", help="landmark months, comma-separated [default: 12,36,60]")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--out", metavar="FILE", help="write the summary here (atomic) instead of stdout")
    p.add_argument("--draws", metavar="FILE.nc", help="also write the predictive draws (netCDF, atomic)")
    p.add_argument("--levels", choices=("profile", "reported"), default="profile",
                   help="covariate levels no arm reports: keep with their prior-driven effect (profile) or "
                        "predict at the all-comer level nr (reported) [default: profile]")
    p.add_argument("--draw-seed", type=seed_arg, default=0, help="seed of the new-study effect and sampling [default: 0]")
    p.set_defaults(func=run)


def parse_times(text: str):
    """``"12,24,36"`` -> array of months; UserError naming the option otherwise."""
    from rhcc_bayes.survival.population import check_times

    try:
        values = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--times: expected comma-separated months such as 12,24,36, got {text!r}") from None
    try:
        return check_times(values)
    except UserError as err:
        raise UserError(f"--times: {err}") from None


def parse_n(text: str) -> int:
    try:
        n = int(str(text))
    except ValueError:
        raise UserError(f"--n: expected a positive whole number of patients, got {text!r}") from None
    if n <= 0:
        raise UserError(f"--n: expected a positive whole number of patients, got {text!r}")
    return n


def run(args) -> int:
    import json

    from rhcc_bayes.survival.population import (
        load_population,
        predict_population,
        prediction_table,
        write_netcdf_atomic,
    )

    population = load_population(args.population)  # validate inputs before any (slow) fit
    times, n = parse_times(args.times), parse_n(args.n)
    _, result = fit_from_args(args)
    banner = announce_gate(result.idata)
    ds = predict_population(result.idata, population, args.treatment, n, times, seed=args.draw_seed,
                            levels=args.levels)
    table = prediction_table(ds)
    if args.format == "json":
        payload = {"population": population.id, "treatment": args.treatment, "n": n,
                   "covariates": population.covariates(), "gate_warning": banner,
                   "levels_used": {k[len("level_"):]: v for k, v in ds.attrs.items()
                                   if k.startswith("level_") and k != "level_notes"},
                   "level_notes": ds.attrs.get("level_notes", ""),
                   "predictive": table.to_dict(orient="records"),
                   "note": "reported landmark survival of a new study incl. binomial sampling noise"}
        text = json.dumps(payload, indent=2, default=float) + "\n"
    elif args.format == "csv":
        text = table.assign(population=population.id, gate_warning=banner).to_csv(index=False)
    else:
        levels = {k[len("level_"):]: v for k, v in ds.attrs.items() if k.startswith("level_") and k != "level_notes"}
        head = (f"New study of population {population.id!r} (model levels {levels}), {args.treatment}, "
                f"n = {n}: reported survival (binomial sampling noise included)")
        if ds.attrs.get("level_notes"):
            head += "\nnote: " + ds.attrs["level_notes"]
        shown = table.drop(columns=["treatment", "n"]).copy()
        shown["time"] = shown["time"].map(lambda t: f"{t:g}")
        text = "\n".join(x for x in (banner, head, shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")) if x) + "\n"
    if args.out:
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.draws:
        write_netcdf_atomic(ds, args.draws)
        print(f"wrote draws to {args.draws}", file=sys.stderr)
    return 0
