"""Tests for number parsing and formatting (``rhcc_bayes.evidence.reading``)."""

from __future__ import annotations

import math

import pytest

from rhcc_bayes.evidence.reading import format_number, parse_number


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
