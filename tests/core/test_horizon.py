"""One horizon bound (core.horizon) for RMST horizons, landmarks and study follow-up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS, is_horizon


@pytest.mark.parametrize("value", [0.5, 60, 240, 240.0, np.float64(12)])
def test_horizons_in_range(value):
    assert is_horizon(value)


@pytest.mark.parametrize("value", [0, -1, 240.001, math.inf, math.nan, True, "60", None])
def test_horizons_out_of_range_or_not_numbers(value):
    assert not is_horizon(value)


def test_the_bound_is_twenty_years():
    assert MAX_HORIZON_MONTHS == 240.0
