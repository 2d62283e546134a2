"""compare-models keys rows by spec file and refuses specs it cannot tell apart (no fit needed)."""

from __future__ import annotations

from rhcc_bayes.cli.main import main


def test_same_file_twice_is_refused(tmp_path, make_tiny_spec, capsys):
    spec = make_tiny_spec(tmp_path / "a.toml", "a")
    assert main(["compare-models", str(spec), str(tmp_path / "." / "a.toml"), "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "are the same spec file" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml"]  # nothing fitted


def test_specs_differing_only_in_name_are_refused(tmp_path, make_tiny_spec, capsys):
    make_tiny_spec(tmp_path / "a.toml", "a")
    make_tiny_spec(tmp_path / "b.toml", "b")
    assert main(["compare-models", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"),
                 "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"specs {str(tmp_path / 'a.toml')!r} and {str(tmp_path / 'b.toml')!r} describe the same model" in err


def test_one_spec_is_refused(capsys):
    assert main(["compare-models", "default"]) == 2
    assert "at least two specs" in capsys.readouterr().err
