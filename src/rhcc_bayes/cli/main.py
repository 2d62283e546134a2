"""Command-line entry point ``rhcc-bayes``.

Each sub-command lives in ``rhcc_bayes.cli.<name>_cmd`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Modules are imported when
the parser is built but must import heavy libraries (PyMC, ArviZ) only inside
``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rhcc_bayes import __version__
from rhcc_bayes.core.errors import UserError

# Order shown in --help. Add a module here when its command exists.
COMMAND_MODULES: tuple[str, ...] = (
    "evidence",
    "fit",
    "diagnose",
    "ppc",
    "compare-models",
    "decide",
    "predict",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rhcc-bayes",
        description="Bayesian synthesis of salvage-treatment evidence for recurrent HCC.",
    )
    parser.add_argument("--version", action="version", version=f"rhcc-bayes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"rhcc_bayes.cli.{name.replace('-', '_')}_cmd").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"rhcc-bayes: error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # e.g. `rhcc-bayes evidence export | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("rhcc-bayes: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
