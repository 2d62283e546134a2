"""Atomic writes: a temporary file in the target folder, then ``os.replace``.

Either the whole new file appears or the old one is left untouched; a failure is a
:class:`~rhcc_bayes.core.errors.UserError` naming the path. A device or a pipe as the target
(``/dev/stdout``, a FIFO) is written through, never replaced; a directory is refused.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rhcc_bayes.core.errors import UserError


def _fail(target: Path, err: OSError) -> UserError:
    return UserError(f"cannot write {target}: {err.strerror or err}")


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it into place.

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    write : callable
        Writes the whole content to the path it is given (e.g. ``ds.to_netcdf``).

    Returns
    -------
    pathlib.Path
    """
    target = Path(path)
    if target.is_dir():
        raise UserError(f"cannot write {target}: it is a directory")
    if target.exists() and not target.is_file():
        # a device or a pipe: write through it; renaming a temporary file over it would
        # replace the device node itself (as root)
        try:
            write(str(target))
        except OSError as err:
            raise _fail(target, err) from None
        return target
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
    except OSError as err:
        raise _fail(target, err) from None
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; publish with ordinary permissions
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _fail(target, err) from None
        raise
    return target


def check_writable_dir(path: str | os.PathLike, what: str = "folder") -> Path:
    """Create ``path`` if needed and prove a file can be written in it, before long work.

    A UserError names the folder and the reason (it is a file, permission denied, disk
    full...), so a fit is refused before sampling rather than lost when its result is saved.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"{what} {folder} is not writable: {err.strerror or err}") from None
    return folder


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""

    def write(name: str) -> None:
        with open(name, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return write_atomic(path, write)
