"""``rhcc-bayes decide``: eligibility, expected survival and decision summaries for a profile or a cohort.

    rhcc-bayes decide --profile p.toml [--horizon 60] [--population average|new] [--utility u.toml]
                      [--format table|json|csv]
    rhcc-bayes decide --tumour-size-cm 2.5 --nodules 1 ...          (profile from options)
    rhcc-bayes decide --cohort patients.csv [--out results.csv] [--workers 2 | --scheduler tcp://host:8786]

``--format csv`` and ``--cohort`` write the same columns
(:data:`rhcc_bayes.decision.result.CSV_COLUMNS`). A cohort is streamed chunk by chunk
(:mod:`rhcc_bayes.decision.cohort_stream`): bounded memory for any size, ``--out`` replaced
atomically at the end, the same bytes whether chunks run here, in ``--workers`` local
processes or on a dask.distributed cluster (``--scheduler``).
"""

from __future__ import annotations

import sys
import time

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_out_argument,
    announce_gate,
    check_horizon_option,
    emit,
    fit_from_args,
    frame_text,
    seed_arg,
)
from rhcc_bayes.cli.profile_args import add_profile_arguments


def add_parser(sub) -> None:
    p = sub.add_parser("decide", help="treatment decision for a patient profile (or a cohort CSV)",
                       description="Eligibility, posterior expected survival (RMST, S12/36/60, median with 95% CrI), "
                                   "P(best), expected loss, SUCRA and EVPI, with honesty flags.")
    add_fit_arguments(p)
    p.add_argument("--horizon", type=float, default=60.0, help="RMST horizon in months [default: 60]")
    p.add_argument("--population", choices=("average", "new"), default="average",
                   help="average study population, or a new one (between-study effect integrated) [default: average]")
    p.add_argument("--utility", metavar="FILE", help="utility weights TOML (decide on quality-adjusted RMST)")
    p.add_argument("--format", choices=("table", "json", "csv"), default=None,
                   help="output format: table, json or csv [default: table for a profile, csv for --cohort]")
    p.add_argument("--cohort", metavar="CSV",
                   help="decide for every patient of a cohort CSV (one row per patient x treatment; "
                        "--format csv or json, default csv)")
    add_out_argument(p, "the result")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="--cohort: local worker processes [default: 1]")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="--cohort: run the chunks on an existing dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                   help="--cohort: patients per chunk [default: 1000]")
    p.add_argument("--draw-seed", type=seed_arg, default=0, help="seed of the new-population random effect [default: 0]")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def _has_profile_options(args) -> bool:
    return bool(args.profile) or any(v is not None for k, v in vars(args).items() if k.startswith("profile_"))


def _validate(args):
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.cli.profile_args import from_cli_args
    from rhcc_bayes.decision.cohort_stream import CHUNK_ROWS, read_cohort_chunks

    if not args.cohort and (args.scheduler or args.workers != 1 or args.chunk_rows is not None):
        raise UserError("--workers, --scheduler and --chunk-rows apply to --cohort only")
    if args.cohort:
        if _has_profile_options(args):
            raise UserError("give either --cohort or a profile (--profile / profile options), not both")
        if args.format == "table":
            raise UserError("--cohort writes --format csv or json (one row per patient x treatment), not a table")
        if args.utility:
            raise UserError("--utility is not supported with --cohort (cohort tables rank by RMST)")
        if not 1 <= args.workers <= 64:
            raise UserError(f"--workers must be between 1 and 64, got {args.workers}")
        args.chunk_rows = CHUNK_ROWS if args.chunk_rows is None else args.chunk_rows
        if not 1 <= args.chunk_rows <= 1_000_000:
            raise UserError(f"--chunk-rows must be between 1 and 1000000, got {args.chunk_rows}")
        check_horizon_option(args.horizon)
        next(read_cohort_chunks(args.cohort, 1))  # header and first patient, before any (slow) fit
        return None, args.cohort
    if not _has_profile_options(args):
        raise UserError("give a patient: --profile FILE, profile options (e.g. --tumour-size-cm 2.5), or --cohort CSV")
    check_horizon_option(args.horizon)
    return from_cli_args(args), None


def run(args) -> int:
    import json

    from rhcc_bayes.cli.common import _check_out_file
    from rhcc_bayes.decision.cohort_stream import stream_cohort
    from rhcc_bayes.decision.utility import load_utility

    profile, cohort = _validate(args)  # validate inputs before any (slow) fit
    if args.out:
        _check_out_file(args.out)
    utility = load_utility(args.utility) if args.utility else None
    _, result = fit_from_args(args)
    announce_gate(result.draws)
    if cohort is not None:
        print(f"deciding for the patients of {cohort} in chunks of {args.chunk_rows} ...", file=sys.stderr)
        t0 = time.perf_counter()

        def progress(n):
            print(f"  {n} patients ({n / max(time.perf_counter() - t0, 1e-9) * 60:,.0f}/min)", file=sys.stderr)

        n = stream_cohort(result.draws, cohort, args.out, fmt="json" if args.format == "json" else "csv",
                          chunk_rows=args.chunk_rows, workers=args.workers, scheduler=args.scheduler,
                          progress=progress, horizon=args.horizon,
                          population=args.population, seed=args.draw_seed)
        if args.out:
            print(f"wrote {args.out}", file=sys.stderr)
        print(f"{n} patients in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return 0
    res = result.decide(profile, horizon=args.horizon, population=args.population, utility=utility,
                        seed=args.draw_seed)
    if args.format == "json":
        text = json.dumps(res.to_dict(), indent=2, default=str) + "\n"
    elif args.format == "csv":
        text = frame_text(res.to_csv_frame(), "csv")
    else:
        text = res.to_text() + "\n"
    emit(args, text)
    return 0
