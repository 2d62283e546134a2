"""Command-line entry point ``rhcc-bayes``.

Each sub-command lives in ``rhcc_bayes.cli.<name>_cmd`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Modules are imported when
the parser is built but must import heavy libraries (PyMC, ArviZ) only inside
``run`` so that ``--help`` stays fast.

Exit status: 0 success; 2 bad input (a file, option or value the user can fix; the
message names it); 3 a fit refused by the diagnostics gate (``ConvergenceError``: rerun
with more draws, or pass ``--allow-unconverged`` to continue with every output flagged;
``diagnose`` also returns 3 when the gate fails); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rhcc_bayes import __version__
from rhcc_bayes.core.errors import UserError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_FIT_REFUSED = 3
EXIT_INTERRUPTED = 130

EPILOG = """\
exit status: 0 ok; 2 bad input (the message names the file, line and key);
3 fit refused by the diagnostics gate (more draws, or --allow-unconverged);
130 interrupted. Progress messages go to stderr, results to stdout or --out FILE.
"""

# Order shown in --help. Add a module here when its command exists.
COMMAND_MODULES: tuple[str, ...] = (
    "evidence",
    "fit",
    "diagnose",
    "ppc",
    "nma-check",
    "compare-models",
    "decide",
    "predict",
    "report",
    "serve",
    "voi",
    "ipd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rhcc-bayes",
        description="Bayesian synthesis of salvage-treatment evidence for recurrent HCC.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rhcc-bayes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"rhcc_bayes.cli.{name.replace('-', '_')}_cmd").add_parser(sub)
    from rhcc_bayes.cli.common import fill_profile_help

    fill_profile_help(parser)
    return parser


def _exit_code(err: UserError) -> int:
    diagnostics = sys.modules.get("rhcc_bayes.inference.diagnostics")
    if diagnostics is not None and isinstance(err, diagnostics.ConvergenceError):
        return EXIT_FIT_REFUSED
    return EXIT_BAD_INPUT


def _tolerant_streams() -> None:
    """Characters the terminal's encoding cannot show (a Unicode id on an ASCII-only stdout)
    are written as backslash escapes instead of raising UnicodeEncodeError mid-output."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # detached or closed stream: leave it alone
                pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    # the CLI writes figures to files: no display backend (set for this run only, so a
    # notebook or kernel started later in the same process keeps its own backend)
    saved_backend = os.environ.get("MPLBACKEND")
    if saved_backend is None:
        os.environ["MPLBACKEND"] = "Agg"
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a full disk or closed pipe shows here, not as a traceback at exit
        return code
    except UserError as err:
        code = _exit_code(err)
        print(f"rhcc-bayes: error: {err}", file=sys.stderr)
        if code == EXIT_FIT_REFUSED:
            print("rhcc-bayes: the fit failed the diagnostics gate (exit 3): increase draws/tune in the spec's "
                  "[sampler], or pass --allow-unconverged to continue with every output flagged", file=sys.stderr)
        return code
    except BrokenPipeError:  # e.g. `rhcc-bayes evidence export | head`
        _silence_stdout()
        sys.stderr.close()
        return 0
    except OSError as err:  # disk full, /dev/full as stdout, an output removed under us
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"rhcc-bayes: error: {where}{err.strerror or err}", file=sys.stderr)
        _silence_stdout()
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rhcc-bayes: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
