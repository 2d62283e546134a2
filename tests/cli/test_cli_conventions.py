"""CLI conventions: help for every command and flag, one --format/--out meaning, progress and
cache messages on stderr, exit codes (2 bad input, 3 a fit refused by the gate), one CSV column set."""

from __future__ import annotations

import argparse
import json
import re
from io import StringIO

import pandas as pd
import pytest

from rhcc_bayes.cli.main import EXIT_BAD_INPUT, EXIT_FIT_REFUSED, build_parser, main


def _subparsers(parser, path=("rhcc-bayes",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"command {' '.join(path + (name,))} has no help text"
                yield from _subparsers(sub, path + (name,))


def test_every_command_and_flag_has_help():
    missing = []
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            if not (action.help or "").strip():
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "options without help:\n" + "\n".join(missing)


def test_every_help_renders():
    """Help strings are %-formatted by argparse: a stray '%' breaks --help."""
    for path, parser in _subparsers(build_parser()):
        text = parser.format_help()
        assert "%%" not in text, path


@pytest.mark.parametrize("command", ["decide", "report", "ppc", "diagnose", "compare-models", "fit", "evidence"])
def test_help_renders_without_literal_percent(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "%%" not in out
    if command == "decide":
        assert "95%" in out


def test_top_level_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "2 bad input" in out and "3 fit refused" in out


def test_format_and_out_mean_one_thing():
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if "--format" in action.option_strings:
                assert set(action.choices) <= {"table", "json", "csv"}, path
            if "--out" in action.option_strings:
                assert action.metavar in (("DIR",) if path[-1] == "report" else ("FILE", "PATH")), path
                assert "atomic" in action.help or "replaced atomically" in action.help, path


def test_cache_hit_message_and_shared_csv_columns(fit_args, examples_dir, tmp_path, capsys):
    from rhcc_bayes.decision.result import CSV_COLUMNS

    prof = str(examples_dir / "profiles" / "small_solitary_late.toml")
    assert main(["decide", "--profile", prof, "--format", "csv", *fit_args]) == 0
    cap = capsys.readouterr()
    assert re.search(r"loaded cached posterior \S+\.nc", cap.err) and "fitting" not in cap.err
    assert "compiling" not in cap.err
    single = pd.read_csv(StringIO(cap.out))
    out = tmp_path / "cohort.csv"
    assert main(["decide", "--cohort", str(examples_dir / "cohort.csv"), "--out", str(out), *fit_args]) == 0
    cohort = pd.read_csv(out)
    assert list(single.columns) == list(cohort.columns) == list(CSV_COLUMNS)
    # pooled mixtures are reported, never ranked, in both
    for df in (single, cohort):
        mixed = df[df["treatment"] == "MIXED-LRT"]
        assert (mixed["status"].isin(["reported (not an option)", "excluded"])).all()
        assert mixed["p_best"].isna().all() and not mixed["ranked"].any()
    # json of the cohort works too; a table does not fit a cohort
    assert main(["decide", "--cohort", str(examples_dir / "cohort.csv"), "--format", "json", *fit_args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows[0]) == set(CSV_COLUMNS)


def test_ppc_and_diagnose_formats(fit_args, tmp_path, capsys):
    assert main(["ppc", "--format", "json", *fit_args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"observed", "pred_lo", "pred_hi", "outlier"} <= set(rows[0])
    out = tmp_path / "diag.csv"
    code = main(["diagnose", "--format", "csv", "--out", str(out), *fit_args])
    assert code in (0, EXIT_FIT_REFUSED)
    assert "parameter" in pd.read_csv(out).columns
    assert main(["ppc", "--out", str(tmp_path), *fit_args]) == EXIT_BAD_INPUT  # a folder is not a file


def test_bad_input_exits_2(capsys):
    assert main(["fit", "--spec", "no_such_spec"]) == EXIT_BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err


def test_gate_refusal_exits_3_with_progress_messages(tmp_path, capsys, default_model_compiled):
    """A deliberately tiny sampler (2 chains x 20 draws) fails the gate: exit 3, not 2."""
    from rhcc_bayes.core.paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\].*", '[sampler]\nbackend = "nutpie"\nchains = 2\ndraws = 20\ntune = 20\n'
                                     'low_rank_mass_matrix = false\n', text, flags=re.S)
    text = text.replace('name = "default"', 'name = "tiny_sampler"')
    spec = tmp_path / "tiny.toml"
    spec.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    assert main(["fit", "--spec", str(spec), "--cache-dir", str(cache)]) == EXIT_FIT_REFUSED
    err = capsys.readouterr().err
    assert "compiling model" in err and "sampling 2 chains x 20 draws" in err and "fit done in" in err
    assert "diagnostics gate" in err and "exit 3" in err and "Traceback" not in err
    # the refused fit is cached: the second call says so and is refused again
    assert main(["fit", "--spec", str(spec), "--cache-dir", str(cache)]) == EXIT_FIT_REFUSED
    err = capsys.readouterr().err
    assert "compiling" not in err


def test_progress_heartbeat_when_stderr_is_not_a_terminal(capsys):
    """Not only on a TTY: a phase line every few seconds while compiling and sampling."""
    import time
    from types import SimpleNamespace

    from rhcc_bayes.cli.common import _Progress
    from rhcc_bayes.inference import sampling

    original = sampling.compile_model
    progress = _Progress(SimpleNamespace(chains=4, draws=1000, tune=1000), interval=0.05)
    with progress.running():
        assert sampling.compile_model is not original  # wrapped to report the end of compilation
        time.sleep(0.2)
        progress.compiled()
        time.sleep(0.2)
    assert sampling.compile_model is original
    err = capsys.readouterr().err
    assert "... compiling model (" in err and "sampling 4 chains x 1000 draws (+1000 tuning)" in err
    assert "... sampling (" in err


@pytest.mark.parametrize("command", ["decide", "predict", "report", "voi"])
def test_negative_draw_seed_is_a_usage_error(command, capsys):
    """Before: ``decide --population new --draw-seed -5`` crashed in numpy after loading the fit."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--draw-seed", "-5"])
    assert exc.value.code == EXIT_BAD_INPUT
    assert "--draw-seed: must be an integer in [0, 2**32), got '-5'" in capsys.readouterr().err


def test_unencodable_output_is_escaped_not_a_traceback(monkeypatch):
    """An ASCII-only stdout (PYTHONIOENCODING=ascii, LANG=C) and a Unicode profile id: the CLI
    streams escape what they cannot encode instead of raising UnicodeEncodeError."""
    import io
    import sys

    from rhcc_bayes.cli.main import _tolerant_streams

    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    _tolerant_streams()
    sys.stdout.write("Profile caf\u00e9\n")
    sys.stdout.flush()
    assert raw.getvalue() == b"Profile caf\\xe9\n"


def test_stdout_on_a_full_disk_is_one_line_and_exit_2(monkeypatch, capsys):
    """``rhcc-bayes ... > /dev/full``: a small output fits the buffer and fails only when flushed
    (before: a traceback at interpreter exit); now a one-line message and exit 2 from every
    command: ``emit`` flushes, and ``main`` catches any other OSError as a backstop."""
    import errno
    import sys

    from rhcc_bayes.cli import main as main_mod

    class FullDisk(StringIO):
        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self):
            raise ValueError("no descriptor")

    monkeypatch.setattr(main_mod, "_tolerant_streams", lambda: None)
    monkeypatch.setattr(sys, "stdout", FullDisk())
    code = main(["evidence", "summary"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert err == ["rhcc-bayes: error: cannot write to standard output: No space left on device"]


def test_any_other_os_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    import errno

    from rhcc_bayes.cli import evidence_cmd

    def vanished(args):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "out/report.html")

    monkeypatch.setattr(evidence_cmd, "run", vanished)
    code = main(["evidence", "summary"])
    assert code == EXIT_BAD_INPUT
    assert capsys.readouterr().err.strip().splitlines() == [
        "rhcc-bayes: error: out/report.html: No such file or directory"]
