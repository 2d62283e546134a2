"""Atomic text writes: a temporary file in the target folder, then ``os.replace``.

Either the whole new file appears or the old one is left untouched; a failure is a
:class:`~rhcc_bayes.errors.UserError` naming the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rhcc_bayes.core.errors import UserError


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"cannot write {target}: it is a directory")
    if target.exists() and not target.is_file():
        # a device or a pipe (/dev/stdout, a FIFO): write through it; renaming a temporary
        # file over it would replace the device node itself (as root)
        try:
            with open(target, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as err:
            raise UserError(f"cannot write {target}: {err.strerror or err}") from None
        return target
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise UserError(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; publish with ordinary permissions
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise UserError(f"cannot write {target}: {err.strerror or err}") from None
        raise
    return target
