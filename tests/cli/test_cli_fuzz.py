"""Fuzzed CLI inputs (hypothesis): profile TOML, spec TOML, cohort CSV, random bytes, extreme
numbers, paths that are folders or devices. Every run exits 0 or 2 with a message, never a
traceback, and never changes a user file other than its ``--out``.

No sampling: the spec fuzz stops at the fit (a stand-in raises ``WouldFit``), the profile and
cohort fuzz reuse the shared cached fit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhcc_bayes.cli.main import main

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = ["tumour_size_cm", "nodules", "months_since_treatment", "afp_ng_ml", "ecog", "child_pugh",
          "prior_treatment", "microvascular_invasion", "portal_vein_thrombus", "id"]
EXTREME = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**30, max_value=10**30),
    st.sampled_from(["nan", "inf", "-0", "1e308", "1e-320", "", " ", "unknown", "yes", "A", "ｙｅｓ", "２",
                     "=cmd|' /C calc'!A0", "\u202e", "0x10", "1_000"]),
    st.text(max_size=12), st.booleans())


def snapshot(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def check(argv, capsys, allowed=(0, 2)) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code in allowed, err
    assert "Traceback" not in err + out
    if code == 2:
        assert err.startswith("rhcc-bayes: error:") or "rhcc-bayes: error:" in err
    return code, err


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, int):
        return str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- profile TOML ------------------------------------------------------------------------
@settings(max_examples=15, **SETTINGS)
@given(values=st.dictionaries(st.sampled_from(FIELDS), EXTREME, max_size=5))
def test_fuzzed_profile_toml(values, fit_args, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("prof")
    prof = d / "p.toml"
    prof.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()) or "nodules = 1\n",
                    encoding="utf-8")
    before = snapshot(d)
    check(["decide", "--profile", prof, "--format", "json", *fit_args], capsys)
    assert snapshot(d) == before


@settings(max_examples=12, **SETTINGS)
@given(content=st.binary(max_size=300))
def test_random_bytes_as_profile_and_cohort(content, fit_args, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("bytes")
    f = d / "input"
    f.write_bytes(content)
    before = snapshot(d)
    check(["decide", "--profile", f, *fit_args], capsys)
    check(["decide", "--cohort", f, "--out", d / "out.csv", *fit_args], capsys)
    after = snapshot(d)
    after.pop("out.csv", None)
    assert after == before


# --- cohort CSV --------------------------------------------------------------------------
@settings(max_examples=12, **SETTINGS)
@given(rows=st.lists(st.lists(EXTREME, min_size=4, max_size=4), min_size=0, max_size=4),
       header=st.permutations(["id", "tumour_size_cm", "nodules", "ecog"]))
def test_fuzzed_cohort_csv(rows, header, fit_args, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("cohort")
    cohort = d / "c.csv"
    cohort.write_text(",".join(header) + "\n" + "".join(",".join(str(v).replace(",", ";").replace("\n", " ")
                                                                for v in r) + "\n" for r in rows),
                      encoding="utf-8")
    out = d / "out.csv"
    out.write_text("previous\n")
    before = snapshot(d)
    code, _ = check(["decide", "--cohort", cohort, "--out", out, *fit_args], capsys)
    after = snapshot(d)
    if code == 0:
        assert out.read_text().startswith("profile,treatment,")
        after["out.csv"] = before["out.csv"]
    assert after == before  # on an error the previous output is untouched
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temporaries left


# --- spec TOML (stops before sampling) ---------------------------------------------------
class WouldFit(Exception):
    """The inputs were accepted and the command would now sample."""


SPEC_KEYS = ["[model] name", "[model] seed", "[sampler] draws", "[sampler] chains", "[sampler] target_accept",
             "[sampler] backend", "[priors] tau_treatment"]


@settings(max_examples=25, **SETTINGS)
@given(edits=st.dictionaries(st.sampled_from(SPEC_KEYS), EXTREME, max_size=3), garbage=st.text(max_size=20))
def test_fuzzed_spec_toml(edits, garbage, tmp_path_factory, monkeypatch, capsys):
    import re

    from rhcc_bayes.cli import fit_cmd
    from rhcc_bayes.core.paths import models_dir

    def would_fit(*a, **k):
        raise WouldFit

    monkeypatch.setattr(fit_cmd, "fit_from_args", would_fit)
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    for key, value in edits.items():
        table, name = key[1:].split("] ")
        text, n = re.subn(rf"(?m)^{name}\s*=.*$", f"{name} = {toml_value(value)}", text, count=1)
        if not n:
            text += f"\n[{table}]\n{name} = {toml_value(value)}\n"
    d = tmp_path_factory.mktemp("spec")
    spec = d / "s.toml"
    spec.write_text(text + ("\n" + garbage if garbage.strip() else ""), encoding="utf-8")
    before = snapshot(d)
    try:
        check(["fit", "--spec", spec, "--cache-dir", d / "cache"], capsys)
    except WouldFit:
        pass
    assert snapshot(d) == before and not (d / "cache").exists()


# --- paths that are folders, devices, missing ----------------------------------------------
@pytest.mark.parametrize("flag", ["--profile", "--cohort", "--utility"])
@pytest.mark.parametrize("kind", ["folder", "missing", "device"])
def test_input_paths(flag, kind, fit_args, tmp_path, capsys):
    path = {"folder": tmp_path, "missing": tmp_path / "nope", "device": Path("/dev/null")}[kind]
    extra = ["--nodules", "1"] if flag == "--utility" else []
    code, err = check(["decide", flag, path, *extra, *fit_args], capsys, allowed=(2,))
    assert str(path) in err


@pytest.mark.parametrize("command", [["decide", "--nodules", "1"], ["ppc"]])
def test_out_is_a_folder_or_unwritable(command, fit_args, tmp_path, capsys):
    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    _, err = check([*command, "--out", tmp_path, *fit_args], capsys, allowed=(2,))
    assert "is a folder" in err or "directory" in err
    _, err = check([*command, "--out", "/proc/version", *fit_args], capsys, allowed=(2,))
    assert "/proc/version" in err
    assert keep.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_cohort_out_to_a_folder_fails_before_the_fit(examples_dir, tmp_path, capsys):
    _, err = check(["decide", "--cohort", examples_dir / "cohort.csv", "--out", tmp_path,
                    "--cache-dir", tmp_path / "cache"], capsys, allowed=(2,))
    assert "is a folder" in err and not (tmp_path / "cache").exists()
