"""Tests for the utility file (``rhcc_bayes.decision.utility``) and the TOML reader behind it:
bounded weights, clear problems, BOM accepted, hostile files never a traceback."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.core.toml import read_toml
from rhcc_bayes.decision.utility import (
    HOSPITAL_DAYS_MAX,
    UTILITY_BOUNDS,
    load_utility,
    load_utility_weights,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "utility.toml"


def _problems(path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_utility(path)
    return [str(p) for p in info.value.problems]


def test_example_loads():
    utility = load_utility(EXAMPLE)
    assert utility.weights.hospital_day_months == 0.03
    assert utility.hospital_days["REPEAT-RESECTION"] == 9


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_utility(path) == load_utility(EXAMPLE).__class__(
        load_utility(EXAMPLE).weights, load_utility(EXAMPLE).hospital_days, str(path))


@pytest.mark.parametrize("key,value,message", [
    ("complication_months", "1e300", "must be at most 120 (a disutility in months); a "
                                     "larger value is not plausible (a typing or unit error?)"),
    ("hospital_day_months", "10.5", "must be at most 10 (a disutility in months); a "
                                    "larger value is not plausible (a typing or unit error?)"),
    ("hospital_day_months", "-0.1", "must be >= 0 (a disutility in months)"),
    ("hospital_day_months", "nan", "must be a number (months)"),
    ("complication_months", "inf", "must be a number (months)"),
    ("complication_months", '"2"', "must be a number (months)"),
    ("complication_months", "true", "must be a number (months)"),
])
def test_weights_bounded(tmp_path, key, value, message):
    path = tmp_path / "u.toml"
    path.write_text(f"[utility]\n{key} = {value}\n")
    got = _problems(path)
    assert len(got) == 1 and got[0].startswith(f"{path}: column 'utility.{key}': {message}")
    # the same rule for a weights-only file
    path.write_text(f"{key} = {value}\n")
    with pytest.raises(ValidationError, match="must be"):
        load_utility_weights(path)


def test_bounds_edges_are_allowed(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text(f"[utility]\ncomplication_months = {UTILITY_BOUNDS['complication_months']}\n"
                    f"hospital_day_months = {UTILITY_BOUNDS['hospital_day_months']}\n"
                    f"[hospital_days]\nRFA = {HOSPITAL_DAYS_MAX}\nTACE = 0\n")
    utility = load_utility(path)
    assert utility.hospital_days == {"RFA": 365.0, "TACE": 0.0}


def test_hospital_days_bounded_and_lookalike_codes_named(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text('[utility]\nhospital_day_months = 0.1\n[hospital_days]\nRFA = 400\n'
                    '"T\u0410CE" = 3\nMWA = -1\n')
    got = _problems(path)
    assert got == [
        f"{path}: column 'hospital_days.RFA': must be at most 365 (days in hospital); a larger "
        "value is not plausible (a typing or unit error?) (got 400)",
        f"{path}: column 'hospital_days.T\u0410CE': treatment code 'T\u0410CE' contains U+0410 "
        "CYRILLIC CAPITAL LETTER A ('\u0410'), which looks like 'A'; type it in plain ASCII",
        f"{path}: column 'hospital_days.MWA': must be >= 0 (got -1)",
    ]


@pytest.mark.parametrize("content,message", [
    ("[utility\n", "not valid TOML"),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML"),
    ("a = " + "9" * 5000 + "\n", "not valid TOML"),
    ("utility = 3\n", "must be a table"),
    ("[hospital_days]\nRFA = [1, 2]\n", "must be a number"),
    ("hospital_days = 4\n", "must be a table of treatment = days"),
    ("[utilty]\nx = 1\n", "unknown table (did you mean 'utility'?)"),
])
def test_malformed_files_are_problems(tmp_path, content, message):
    path = tmp_path / "u.toml"
    path.write_text(content)
    assert any(message in line for line in _problems(path))


def test_paths_that_are_not_files(tmp_path):
    assert "is a directory" in _problems(tmp_path)[0]
    assert "No such file" in _problems(tmp_path / "nope.toml")[0]
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in _problems(fifo)[0]
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"[utility]\n# caf\xe9\n")
    assert "not valid TOML" in _problems(bad)[0]


def test_read_toml_bom(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf[model]\nname = 'x'\n")
    assert read_toml(path, "spec") == {"model": {"name": "x"}}


TOML_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: repr(v) if math.isfinite(v)
                                                        else ("nan" if math.isnan(v) else "inf")),
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(['"x"', "true", "[]", "{}", "1979-05-27", "0.0", "120", "120.0001"]),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["complication_months", "hospital_day_months", "x"]),
                       TOML_VALUES, max_size=3),
       st.dictionaries(st.sampled_from(["RFA", "TACE", "T\u0410CE", "x y"]), TOML_VALUES,
                       max_size=3),
       st.binary(max_size=40))
def test_fuzzed_utility_files_load_or_raise_problems(tmp_path, weights, days, junk):
    path = tmp_path / "fuzz.toml"
    body = "[utility]\n" + "".join(f"{k} = {v}\n" for k, v in weights.items())
    body += "[hospital_days]\n" + "".join(f'"{k}" = {v}\n' for k, v in days.items())
    content = body.encode("utf-8") + (junk if junk[:1] == b"#" else b"")
    path.write_bytes(content)
    try:
        utility = load_utility(path)
    except ValidationError as err:
        assert err.problems and all(p.file == str(path) for p in err.problems)
    else:
        for key, high in UTILITY_BOUNDS.items():
            assert 0 <= getattr(utility.weights, key) <= high
        assert all(0 <= v <= HOSPITAL_DAYS_MAX for v in utility.hospital_days.values())
    assert path.read_bytes() == content


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_utility(tmp_path, content):
    path = tmp_path / "bytes.toml"
    path.write_bytes(content)
    try:
        load_utility(path)
    except ValidationError as err:
        assert err.problems
    assert path.read_bytes() == content
