"""The one rule for random seeds: an integer in [0, 2**32) (what numpy and nutpie accept)."""

from __future__ import annotations

from rhcc_bayes.core.errors import UserError

SEED_LIMIT = 2**32


def is_seed(seed) -> bool:
    """True for an integer (not a bool) in [0, 2**32)."""
    import numbers

    return isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= int(seed) < SEED_LIMIT


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as int, or a :class:`UserError` naming ``name`` and the allowed range."""
    if not is_seed(seed):
        raise UserError(f"{name} must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)
