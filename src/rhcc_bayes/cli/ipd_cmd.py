"""``rhcc-bayes ipd reconstruct``: individual patient data from a digitised Kaplan–Meier curve.

The Guyot et al. (2012) algorithm (:mod:`rhcc_bayes.ipd.reconstruct`). The reconstructed
patients can be given to any fitting command with ``--ipd FILE`` once they carry
``study,arm,treatment`` columns (``--study``, ``--arm`` and ``--treatment`` add them).
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
km.csv: time_months,survival (survival as a fraction; unsorted, slightly non-monotone or
duplicated points are cleaned and the cleaning reported). risk.csv: time_months,n_at_risk,
first row at time 0. The fit of the reconstruction (Kaplan-Meier of the reconstructed
patients against the digitised points) is printed; --plot draws both.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("ipd", help="individual patient data: reconstruct from a digitised Kaplan-Meier curve",
                       description="Individual patient data tools.")
    actions = p.add_subparsers(dest="ipd_action", metavar="ACTION")
    actions.required = True
    r = actions.add_parser("reconstruct", help="reconstruct patients from a digitised curve and its at-risk table",
                           description="Reconstruct individual patient data (Guyot et al. 2012).", epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--curve", required=True, metavar="KM_CSV", help="digitised curve: time_months,survival")
    r.add_argument("--at-risk", required=True, metavar="RISK_CSV", help="numbers at risk: time_months,n_at_risk")
    r.add_argument("--total-events", type=int, metavar="E", help="total deaths, when the paper reports it")
    r.add_argument("--arm", metavar="LABEL", help="arm label (shown in the report; an 'arm' column with --study)")
    r.add_argument("--study", metavar="STUDY", help="with --arm and --treatment: write the columns --ipd reads")
    r.add_argument("--treatment", metavar="CODE", help="treatment code of the arm (see data/treatments.csv)")
    r.add_argument("--out", required=True, metavar="FILE", help="output CSV, one row a patient (written atomically)")
    r.add_argument("--plot", metavar="PNG", help="also draw the reconstructed and digitised curves to PNG")
    p.set_defaults(func=run)


def run(args) -> int:
    from rhcc_bayes.cli.common import _check_out_file
    from rhcc_bayes.core.atomic import write_atomic, write_text_atomic
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.ipd.reconstruct import plot_reconstruction, reconstruct_files

    labelled = [args.study, args.arm, args.treatment]
    if any(v is not None for v in (args.study, args.treatment)) and not all(v is not None for v in labelled):
        raise UserError("--study and --treatment go together with --arm (all three label the patients for --ipd)")
    if args.treatment is not None:
        from rhcc_bayes.evidence.taxonomy import load_taxonomy

        tax = load_taxonomy()
        if args.treatment not in tax:
            raise UserError(f"--treatment {args.treatment!r}: unknown treatment code{tax.suggest(args.treatment)}")
    _check_out_file(args.out)
    rec = reconstruct_files(args.curve, args.at_risk, args.total_events)
    table = rec.ipd
    if args.study is not None:
        table = table.assign(study=args.study, arm=args.arm, treatment=args.treatment)[
            ["study", "arm", "treatment", "time_months", "event"]]
    write_text_atomic(args.out, table.to_csv(index=False, float_format="%.4f"))
    sys.stdout.write(rec.to_text(args.arm))
    print(f"wrote {args.out}", file=sys.stderr)
    if args.plot:
        import matplotlib.pyplot as plt

        fig = plot_reconstruction(rec, args.arm)
        write_atomic(args.plot, lambda name: fig.savefig(name, format="png", dpi=120))
        plt.close(fig)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
