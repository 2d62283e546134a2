"""--ipd on the fitting commands: bad files and unsupported families exit 2 before any fit."""

from __future__ import annotations

import pytest

from rhcc_bayes.cli.main import main


@pytest.mark.parametrize("command", [["fit"], ["diagnose"], ["ppc"], ["decide", "--tumour-size-cm", "2"]])
def test_bad_ipd_file_exits_2_with_its_location(tmp_path, capsys, command):
    bad = tmp_path / "reg.csv"
    bad.write_text("study,arm,treatment,time_months,event\nREG,A,RFA,12,yes\n")
    assert main([*command, "--ipd", str(bad), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "reg.csv:2: column 'event': must be 1 (death) or 0 (censored) (got 'yes')" in err


def test_unsupported_family_exits_2(tmp_path, capsys):
    good = tmp_path / "reg.csv"
    good.write_text("study,arm,treatment,time_months,event\nREG,A,RFA,12,1\n")
    assert main(["fit", "--spec", "cure", "--ipd", str(good), "--no-cache"]) == 2
    assert "has no patient-level likelihood yet" in capsys.readouterr().err


def test_help_lists_ipd(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "--ipd FILE" in capsys.readouterr().out
