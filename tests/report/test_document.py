"""rhcc-bayes report: every section, well-formed self-contained HTML, decodable images, atomicity."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from PIL import Image

from rhcc_bayes.cli.main import main

pytestmark = pytest.mark.slow

SECTIONS = ["1. Patient profile", "2. Eligibility", "3. Expected survival and decision summaries",
            "4. Survival curves", "5. RMST distributions", "6. Evidence map and network",
            "7. Forest plot", "8. Posterior predictive check", "9. Sampling diagnostics", "10. Provenance",
            "11. Limitations"]


class _Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.headings, self._in_h = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)
        self._in_h = tag in ("h1", "h2", "h3")

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)
        self._in_h = False

    def handle_data(self, data):
        if self._in_h:
            self.headings.append(data)


@pytest.fixture(scope="module")
def report(fit_args, examples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report"
    rc = main(["report", "--profile", str(examples_dir / "profiles" / "small_solitary_late.toml"),
               "--out", str(out), *fit_args])
    assert rc == 0
    return out


def test_files(report):
    names = {p.name for p in report.iterdir()}
    assert {"report.html", "report.md", "decision.csv", "decision.json", "posterior.nc"} <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_html(report, small_fit):
    text = (report / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    p = _Checker()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack
    for s in SECTIONS:
        assert any(h.startswith(s) for h in p.headings), s
    assert len(p.images) >= 6
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    # real numbers: an RMST estimate with its interval, and the EVPI
    assert re.search(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", text)
    assert re.search(r"EVPI .*: \d+\.\d\d months", text)
    _, result = small_fit
    if not result.gate.passed:
        assert 'class="banner"' in text and "FAILED THE DIAGNOSTICS GATE" in text


def test_markdown(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    for s in SECTIONS:
        assert f" {s}" in md
    for png in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        Image.open(report / png).verify()


def test_csv_json(report):
    df = pd.read_csv(report / "decision.csv")
    for col in ("profile", "treatment", "status", "rmst_mean", "rmst_lo", "rmst_hi", "s12_mean", "s36_mean",
                "s60_mean", "median_med", "p_best", "expected_loss", "sucra", "evpi", "arms", "patients",
                "class_prior_only", "extrapolation", "flags", "gate_warning"):
        assert col in df.columns, col
    d = json.loads((report / "decision.json").read_text())
    assert d["best"] == df["treatment"].iloc[0]


def _previous_report(folder, files=("report.md",)):
    """A folder that looks like an earlier report (its marker lists its files)."""
    from rhcc_bayes.report.document import MARKER

    folder.mkdir()
    for name in files:
        (folder / name).write_text("old")
    (folder / MARKER).write_text(json.dumps({"files": list(files)}))


def test_failure_leaves_nothing(small_fit, tmp_path, monkeypatch):
    from rhcc_bayes.decision.profile import PatientProfile
    from rhcc_bayes.report import figures as plots
    from rhcc_bayes.report.document import build_report

    evidence, result = small_fit

    def boom(*a, **k):
        raise RuntimeError("forced failure")

    monkeypatch.setattr(plots, "forest_plot", boom)
    out = tmp_path / "r"
    with pytest.raises(RuntimeError, match="forced"):
        build_report(result, evidence, PatientProfile(id="x"), out)
    assert list(tmp_path.iterdir()) == []
    # an existing report survives a failed rewrite
    _previous_report(out)
    with pytest.raises(RuntimeError):
        build_report(result, evidence, PatientProfile(id="x"), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"] and (out / "report.md").read_text() == "old"


def test_bottom_line_comes_first_and_answers(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    first = md.index("Bottom line")
    assert first < md.index("1. Patient profile") and first < md.index("3. Expected survival")
    panel = md[first:md.index("1. Patient profile")]
    assert "Patient: " in panel and "P(best)" in panel and "RMST to 60 months" in panel
    assert re.search(r"\d+\.\d \[-?\d+\.\d, -?\d+\.\d\]", panel)  # difference to the leader with its interval
    assert "clearly better" in panel or "likely the best option" in panel or "only eligible option" in panel
    text = (report / "report.html").read_text(encoding="utf-8")
    assert text.index('class="panel"') < text.index("1. Patient profile")


def test_flags_are_summarised_once_per_kind(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    assert md.count("its estimate is its modality class's mean plus prior spread") <= 2  # panel + section 3


def test_profile_values_read_as_a_clinician_writes_them(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    profile = md[md.index("1. Patient profile"):md.index("2. Eligibility")]
    assert "False" not in profile and "True" not in profile and "{" not in profile
    assert "| microvascular invasion | no |" in profile and "| largest tumour (cm) | 2.4 |" in profile


def test_rerun_replaces_a_previous_report(report, fit_args, examples_dir):
    from rhcc_bayes.report.document import MARKER

    (report / "report.md").write_text("stale")
    rc = main(["report", "--profile", str(examples_dir / "profiles" / "small_solitary_late.toml"),
               "--out", str(report), *fit_args])
    assert rc == 0 and (report / "report.md").read_text() != "stale"
    assert json.loads((report / MARKER).read_text())["files"]
    assert not [p for p in report.parent.iterdir() if p.name.startswith(".")]


def test_report_refuses_a_folder_it_did_not_write(fit_args, examples_dir, tmp_path, capsys):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("years of work")
    rc = main(["report", "--profile", str(examples_dir / "profiles" / "small_solitary_late.toml"),
               "--out", str(folder), *fit_args])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not a previous report" in err and "chapter1.tex" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]
    assert [p.name for p in folder.iterdir()] == ["chapter1.tex"]
    assert (folder / "chapter1.tex").read_text() == "years of work"


def test_report_refuses_a_previous_report_with_added_files(fit_args, examples_dir, tmp_path, capsys):
    folder = tmp_path / "rep"
    _previous_report(folder)
    (folder / "my_notes.txt").write_text("mine")
    rc = main(["report", "--profile", str(examples_dir / "profiles" / "small_solitary_late.toml"),
               "--out", str(folder), *fit_args])
    assert rc == 2 and "my_notes.txt" in capsys.readouterr().err
    assert (folder / "my_notes.txt").read_text() == "mine" and (folder / "report.md").read_text() == "old"


@pytest.mark.parametrize("where", ["file", "cwd", "parent"])
def test_report_refuses_a_file_and_the_working_folder(where, fit_args, examples_dir, tmp_path, monkeypatch, capsys):
    target = tmp_path / "results.html"
    target.write_text("keep me")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = {"file": str(target), "cwd": ".", "parent": ".."}[where]
    rc = main(["report", "--profile", str(examples_dir / "profiles" / "small_solitary_late.toml"),
               "--out", out, *fit_args])
    assert rc == 2 and "Traceback" not in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.html", "work"]  # nothing renamed or hidden
    assert list(work.iterdir()) == []


def test_empty_folder_is_accepted(small_fit, tmp_path, monkeypatch):
    from rhcc_bayes.decision.profile import PatientProfile
    from rhcc_bayes.report import sections
    from rhcc_bayes.report.document import MARKER, build_report

    evidence, result = small_fit
    out = tmp_path / "empty"
    out.mkdir()
    build_report(result, evidence, PatientProfile(id="x"), out, sections=(sections.Header(), sections.ProfileSection()))
    assert {"report.md", "report.html", MARKER} <= {p.name for p in out.iterdir()}


def test_stale_temporaries_of_an_interrupted_report_are_cleaned(small_fit, tmp_path):
    import os
    import time

    from rhcc_bayes.decision.profile import PatientProfile
    from rhcc_bayes.report import sections
    from rhcc_bayes.report.document import build_report

    evidence, result = small_fit
    stale = tmp_path / ".rep.k2j4h1.tmp"
    stale.mkdir()
    (stale / "report.md").write_text("half")
    other = tmp_path / ".other.k2j4h1.tmp"  # another report's leftovers are not ours to judge
    other.mkdir()
    old = time.time() - 2 * 3600
    for p in (stale, other):
        os.utime(p, (old, old))
    build_report(result, evidence, PatientProfile(id="x"), tmp_path / "rep", sections=(sections.Header(),))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.k2j4h1.tmp", "rep"]


def test_report_of_an_earlier_version_is_recognised_but_not_a_lookalike(tmp_path):
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.report.document import check_report_target

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("report.html", "report.md", "decision.json", "decision.csv", "posterior.nc", "forest.png"):
        (legacy / name).write_text("x")
    assert check_report_target(legacy) == legacy
    (legacy / "draft.docx").write_text("mine")
    with pytest.raises(UserError, match="not a previous report"):
        check_report_target(legacy)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "report.html").write_text("someone else's page")
    with pytest.raises(UserError, match="not a previous report"):
        check_report_target(partial)
