"""``rhcc-bayes evidence``: validate, summarise and export evidence tables.

pandas is imported only inside :func:`run` (through :mod:`rhcc_bayes.evidence`)
so that ``rhcc-bayes --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from rhcc_bayes.cli.common import write_stdout

EPILOG = """\
With no FILES the bundled data/evidence.csv is used. Given FILES are merged with
the bundled evidence unless --treatments/--open-world (own treatment list) or
--no-bundled is given; a study of FILES may not reuse a bundled study label unless
--replace-bundled STUDY says that FILES replace it. Problems are printed one per line
as FILE:LINE: column 'C': message. Exported text cells that a spreadsheet would run
as a formula (=, +, -, @, tab, CR first) get a leading ' (read back without it).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``evidence`` and its sub-commands ``validate``, ``summary``, ``export``."""
    parser = subparsers.add_parser(
        "evidence", help="validate, summarise or export the evidence table",
        description="Validate, summarise or export evidence tables.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="evidence_action", metavar="ACTION")
    actions.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("files", nargs="*", metavar="FILES", help="evidence CSV file(s)")
    world = common.add_mutually_exclusive_group()
    world.add_argument("--treatments", metavar="PATH",
                       help="treatment taxonomy CSV (default: bundled data/treatments.csv)")
    world.add_argument("--open-world", action="store_true",
                       help="accept the treatment codes the files use (own treatment list)")
    common.add_argument("--bundled", action=argparse.BooleanOptionalAction, default=None,
                        help="also load the bundled evidence (default: yes with the bundled "
                             "taxonomy, no with --treatments/--open-world)")
    common.add_argument("--replace-bundled", action="append", default=[], metavar="STUDY",
                        help="drop the bundled study STUDY because FILES give it instead "
                             "(repeatable); without it a study label of FILES that is also a "
                             "bundled study is an error")

    actions.add_parser("validate", parents=[common], help="check files; exit 2 on problems",
                       description="Check evidence files and print every problem found.")
    summary = actions.add_parser("summary", parents=[common],
                                 help="studies, arms and patients per treatment and outcome")
    summary.add_argument("--format", choices=("table", "csv"), default="table")
    export = actions.add_parser("export", parents=[common],
                                help="write the validated table (exactly the schema columns)")
    export.add_argument("--format", choices=("csv",), default="csv")
    export.add_argument("--out", metavar="PATH", help="output file (default: stdout); "
                        "written atomically")
    parser.set_defaults(func=run)
    return parser


def load_from_args(args):
    """Load and validate the evidence named on the command line."""
    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence

    taxonomy = OPEN_WORLD if args.open_world else args.treatments
    return load_evidence(args.files or None, taxonomy=taxonomy, include_bundled=args.bundled,
                         replace_bundled=args.replace_bundled)


def format_table(frame) -> str:
    """Right-align numbers and left-align text in a plain fixed-width table ("-" for NA)."""
    import pandas as pd

    cols = list(frame.columns)
    cells = [["-" if v is pd.NA else str(v) for v in frame[c]] for c in cols]
    numeric = [frame[c].dtype.kind in "iuf" for c in cols]
    widths = [max([len(c), *map(len, col)]) for c, col in zip(cols, cells)]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    rows = [line(cols), line(["-" * w for w in widths])]
    rows += [line(values) for values in zip(*cells)]
    return "\n".join(rows)


def write_out(evidence, out: str) -> None:
    """``evidence`` as CSV to ``out``: atomically for a file path; straight through for a
    device or pipe (``/dev/stdout``, a FIFO), which must never be replaced by a file."""
    import os
    import stat

    from rhcc_bayes.core.errors import UserError

    try:
        mode = os.stat(out).st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise UserError(f"cannot write {out}: is a directory")
    if mode is None or stat.S_ISREG(mode):
        evidence.to_csv(out)
        return
    try:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            fh.write(evidence.to_csv())
    except OSError as err:
        raise UserError(f"cannot write {out}: {err.strerror or err}") from None


def run(args) -> int:
    """Dispatch to validate / summary / export; problems raise ValidationError (exit 2)."""
    evidence = load_from_args(args)
    action = args.evidence_action
    if action == "validate":
        write_stdout(f"OK: {len(evidence)} rows, {len(evidence.studies)} studies, "
                     f"{len(evidence.arms())} arms, {len(evidence.treatments)} treatments "
                     f"({', '.join(evidence.sources)})\n")
    elif action == "summary":
        summary = evidence.summary()
        if args.format == "csv":
            from rhcc_bayes.evidence.reading import neutralise_cell

            text = [c for c in summary.columns if summary[c].dtype.kind not in "iuf"]
            summary = summary.assign(**{c: summary[c].map(neutralise_cell) for c in text})
            write_stdout(summary.to_csv(index=False, lineterminator="\n"))
        else:
            write_stdout(f"{format_table(summary)}\n\n{len(evidence.studies)} studies, "
                         f"{len(evidence.arms())} arms; patients = sum of n over arms reporting "
                         "the outcome (arms_without_n: arm size not reported)\n")
    elif action == "export":
        if args.out:
            write_out(evidence, args.out)
            print(f"wrote {len(evidence)} rows to {args.out}", file=sys.stderr)
        else:
            write_stdout(evidence.to_csv())
    return 0
