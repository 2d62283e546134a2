"""Tests for number parsing and formatting (``rhcc_bayes.evidence.reading``)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rhcc_bayes.evidence import reading
from rhcc_bayes.evidence.reading import format_number, parse_number
from rhcc_bayes.evidence.table import load_evidence


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1_000", "0x10", "1,5", "1e400", " "])
def test_non_finite_or_odd_numbers_rejected(text):
    assert math.isnan(parse_number(text))


@pytest.mark.parametrize("text,value", [("1", 1.0), ("-2.5", -2.5), (".5", 0.5), ("1e-3", 1e-3),
                                        ("+3.", 3.0)])
def test_plain_numbers_parsed(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("value", [0.1, 1 / 3, 45.0, 1e-12, 2.5e20, -7.0, 0.604])
def test_format_number_round_trips(value):
    assert parse_number(format_number(value)) == value
    assert format_number(float("nan")) == ""
    assert format_number(45.0) == "45"


# --- the streaming reader ------------------------------------------------------------------
FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"


def _messy_file(tmp_path) -> Path:
    """Quoted line breaks (LF, CRLF, CR), blank and whitespace-only lines, padded cells,
    distinct text in the last column (source) and a bad row near the end."""
    header = (FIXTURES / "valid.csv").read_text().splitlines()[0]
    lines = [header, ""]
    for k in range(40):
        note = f'"note {k}\nsecond line\r\nthird"' if k % 7 == 0 else f"note {k}"
        lines.append(f" s{k % 5} ,,RFA,RFA,ablation,50,os,median,,{20 + k},,,,months,,recurrent,"
                     f"retrospective,,yes,{note}")
        if k % 11 == 0:
            lines.append("   ")
            lines.append("," * 19)
    lines.append("s9,,RFA,RFA,ablation,50,os,median,,x,,,,months,,recurrent,retrospective,,yes,q")
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(lines) + "\n", newline="")
    return path


def _result(path):
    try:
        ev = load_evidence(path, taxonomy=TREATMENTS)
    except Exception as err:  # noqa: BLE001 - compared below
        return [str(p) for p in err.problems]
    return ev.table.to_dict("list")


def test_chunk_size_and_interning_do_not_change_the_result(tmp_path, monkeypatch):
    path = _messy_file(tmp_path)
    expected = _result(path)
    # line numbers as the row-at-a-time reader of the taxonomy module counts them
    from rhcc_bayes.evidence.taxonomy import read_csv_rows

    rows, _ = read_csv_rows(path)
    assert rows[-1][0] == 63
    assert expected == [f"{path}:63: column 'estimate': is not a number (got 'x')"]
    for chunk in (1, 2, 7):
        monkeypatch.setattr(reading, "CHUNK_ROWS", chunk)
        assert _result(path) == expected
    # the same file without the bad row loads; notes keep their line breaks
    good = tmp_path / "good.csv"
    good.write_bytes(path.read_bytes().rsplit(b"s9,", 1)[0])
    monkeypatch.setattr(reading, "CHUNK_ROWS", 3)
    table = load_evidence(good, taxonomy=TREATMENTS).table
    assert table["source"].iloc[0] == "note 0\nsecond line\r\nthird"
    assert table["study"].iloc[0] == "s0"
    assert table["line"].tolist() == [line for line, cells in read_csv_rows(good)[0][1:]
                                      if any(cells)]


def test_invalid_utf8_located_beyond_the_first_block(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "_READ_BLOCK", 64)
    header = (FIXTURES / "valid.csv").read_text().splitlines()[0]
    body = "s1,,RFA,RFA,ablation,50,os,median,,20,,,,months,,recurrent,retrospective,,yes,q\n"
    path = tmp_path / "late.csv"
    path.write_bytes((header + "\n" + body * 30).encode() + b"caf\xe9\n")
    columns, problems = reading.read_evidence_file(path)
    assert columns is None
    assert [str(p) for p in problems] == [
        f"{path}:32: file is not valid UTF-8 (save it as UTF-8) (got b'\\xe9')"]
