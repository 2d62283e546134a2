"""One seed rule (core.seed) for the API and every CLI seed option."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from rhcc_bayes.cli.common import seed_arg
from rhcc_bayes.core.errors import UserError
from rhcc_bayes.core.seed import check_seed, is_seed


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, np.int64(7)])
def test_valid_seeds_pass_unchanged(seed):
    assert is_seed(seed) and check_seed(seed) == int(seed)


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.0, "3", None])
def test_invalid_seeds_name_the_option_and_range(seed):
    assert not is_seed(seed)
    with pytest.raises(UserError, match=r"draw seed must be an integer in \[0, 2\*\*32\), got"):
        check_seed(seed, "draw seed")


@pytest.mark.parametrize("text", ["-5", "4294967296", "1.5", "abc", ""])
def test_cli_seed_type_rejects_with_the_range(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be an integer in \[0, 2\*\*32\)"):
        seed_arg(text)


def test_cli_seed_type_accepts_the_edges():
    assert seed_arg("0") == 0 and seed_arg("4294967295") == 2**32 - 1
