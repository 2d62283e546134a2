"""The one TOML reader: unreadable or malformed files become a ValidationError naming the file.

A UTF-8 byte-order mark (as some Windows editors write) is accepted. Every TOML input of
the package (specs, profiles, utility files) should be read through :func:`read_toml`.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from rhcc_bayes.core.errors import Problem, ValidationError

#: Larger files are refused before parsing (a spec, profile or utility file is a few kB).
MAX_BYTES = 10_000_000


def read_toml(path: str | Path, what: str) -> dict:
    """Parse a TOML file; unreadable or malformed input is a ValidationError naming the file.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for messages (``"utility file"``, ``"spec"``).
    """
    src = str(path)

    def fail(message: str) -> ValidationError:
        return ValidationError([Problem(src, message)])

    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise fail(f"cannot read {what}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise fail(f"cannot read {what}: not a regular file")
        if info.st_size > MAX_BYTES:
            raise fail(f"cannot read {what}: file is larger than {MAX_BYTES // 1_000_000} MB")
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise fail(f"cannot read {what}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise fail(f"not valid TOML: not UTF-8 text (byte {err.start})") from None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as err:  # ValueError: e.g. a 5000-digit integer
        raise fail(f"not valid TOML: {err}") from None
    except RecursionError:
        raise fail("not valid TOML: nested too deeply") from None
