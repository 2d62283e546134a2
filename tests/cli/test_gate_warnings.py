"""A fit that failed the gate but was allowed is flagged in EVERY output channel.

Convention (README "Exit codes and warnings"): the banner on stderr; the first line of table
text; a ``gate_warning`` column in every csv row and field in every json record; the same in
files written with ``--out``. Uses the deliberately unconverged tiny fit (tests/cli/conftest.py).
"""

from __future__ import annotations

import json
from io import StringIO

import pandas as pd
import pytest

from rhcc_bayes.cli.main import main

pytestmark = pytest.mark.slow

BANNER = "WARNING: THIS FIT FAILED THE DIAGNOSTICS GATE"


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert BANNER in err and "Traceback" not in err
    return out


def assert_flagged_csv(text):
    df = pd.read_csv(StringIO(text))
    assert len(df) and df["gate_warning"].str.startswith(BANNER).all()


def assert_flagged_json(text):
    records = json.loads(text)
    assert records and all(BANNER in r["gate_warning"] for r in records)


@pytest.mark.parametrize("command", [["ppc"], ["decide", "--nodules", "1", "--tumour-size-cm", "2"]])
def test_table_text_starts_with_banner(command, unconverged_args, capsys):
    out = run([*command, *unconverged_args], capsys)
    assert BANNER in out.splitlines()[0] or BANNER in out.splitlines()[1]  # decide frames it with a rule


def test_ppc_csv_json_and_out_files(unconverged_args, tmp_path, capsys):
    assert_flagged_csv(run(["ppc", "--format", "csv", *unconverged_args], capsys))
    assert_flagged_json(run(["ppc", "--format", "json", *unconverged_args], capsys))
    for fmt in ("csv", "json", "table"):
        out = tmp_path / f"ppc.{fmt}"
        run(["ppc", "--format", fmt, "--out", str(out), *unconverged_args], capsys)
        text = out.read_text()
        {"csv": assert_flagged_csv, "json": assert_flagged_json}.get(fmt, lambda t: t.startswith(BANNER))(text)
        assert fmt != "table" or text.startswith(BANNER)


def test_decide_every_format_and_cohort(unconverged_args, examples_dir, tmp_path, capsys):
    prof = ["--nodules", "1", "--tumour-size-cm", "2"]
    assert BANNER in json.loads(run(["decide", *prof, "--format", "json", *unconverged_args], capsys))["gate_warning"]
    assert_flagged_csv(run(["decide", *prof, "--format", "csv", *unconverged_args], capsys))
    cohort = str(examples_dir / "cohort.csv")
    assert_flagged_csv(run(["decide", "--cohort", cohort, *unconverged_args], capsys))
    out = tmp_path / "cohort.json"
    run(["decide", "--cohort", cohort, "--format", "json", "--out", str(out), *unconverged_args], capsys)
    assert_flagged_json(out.read_text())


def test_predict_every_format(unconverged_args, examples_dir, capsys):
    pop = str(examples_dir / "populations" / "small_solitary_post_resection.toml")
    base = ["predict", "--population", pop, "--treatment", "RFA", "--n", "50", *unconverged_args]
    assert run(base, capsys).startswith(BANNER)
    assert BANNER in json.loads(run([*base, "--format", "json"], capsys))["gate_warning"]
    assert_flagged_csv(run([*base, "--format", "csv"], capsys))


def test_report_every_file(unconverged_args, tmp_path, capsys):
    out = tmp_path / "rep"
    run(["report", "--nodules", "1", "--tumour-size-cm", "2", "--out", str(out), *unconverged_args], capsys)
    for name in ("report.html", "report.md"):
        assert BANNER in (out / name).read_text()
    assert_flagged_csv((out / "decision.csv").read_text())
    assert BANNER in json.loads((out / "decision.json").read_text())["gate_warning"]


def test_compare_models_flags_each_unconverged_spec(unconverged_args, small_fit, small_spec_path, tmp_path,
                                                    capsys):
    """The tiny unconverged fit against the shared small fit (both cached: no sampling)."""
    spec, other = unconverged_args[1], str(small_spec_path)
    other_flagged = not int(small_fit[1].idata.attrs.get("gate_passed", 1))
    rest = unconverged_args[2:]
    text = run(["compare-models", spec, other, *rest], capsys)
    assert text.startswith(f"spec {spec}: {BANNER}")
    out = tmp_path / "cmp.csv"
    run(["compare-models", spec, other, "--format", "csv", "--out", str(out), *rest], capsys)
    df = pd.read_csv(out, keep_default_na=False).set_index("spec")
    assert sorted(df.index) == sorted([spec, other])  # keyed by the file, not [model] name
    assert BANNER in df.loc[spec, "gate_warning"]
    assert (BANNER in df.loc[other, "gate_warning"]) == other_flagged
    records = {r["spec"]: r for r in json.loads(run(["compare-models", spec, other, "--format", "json", *rest],
                                                    capsys))}
    assert BANNER in records[spec]["gate_warning"]
