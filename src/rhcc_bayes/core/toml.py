"""The one TOML reader: unreadable or malformed files become a ValidationError naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from rhcc_bayes.core.errors import Problem, ValidationError


def read_toml(path: str | Path, what: str) -> dict:
    """Parse a TOML file; unreadable or malformed input is a ValidationError naming the file."""
    src = str(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ValidationError([Problem(src, f"cannot read {what}: {err.strerror}")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValidationError([Problem(src, f"not valid TOML: {err}")]) from None
