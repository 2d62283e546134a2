"""Posterior cache: content-addressed, atomic, netCDF only (never pickle).

A posterior is stored as ``<cache_dir>/<key>.nc`` where the key hashes the
evidence, the model spec (which includes the sampler settings), the seed and the
package version: change any of them and the old file is simply never looked up
again. The key is also written into the file's attrs and checked on load, so a
renamed or copied file cannot masquerade as another fit.

Writes go to a temporary file in the destination folder and are moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows when source
and target are on the same file system (hence the same folder): a crash or an
exception mid-write leaves either the old file or none, never half a file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rhcc_bayes

if TYPE_CHECKING:
    import arviz as az

#: Bumped when the cache file layout changes, so old files stop matching.
CACHE_FORMAT = "rhcc_bayes-posterior-v2"  # v2: gate verdict stored in attrs
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class CacheWarning(UserWarning):
    """A cache file could not be used (corrupt or for another key) and was refitted."""


def _canonical(part: Any) -> tuple[bytes, bytes]:
    """(type tag, canonical bytes) for one hashed part."""
    if isinstance(part, Path):
        if part.is_dir():
            # Sorted relative paths plus contents: independent of listing order and location.
            items = []
            for f in sorted(p for p in part.rglob("*") if p.is_file()):
                rel = f.relative_to(part).as_posix().encode()
                items.append(_framed(b"file", rel) + _framed(b"content", f.read_bytes()))
            return b"dir", b"".join(items)
        return b"path", part.read_bytes()
    if isinstance(part, bytes):
        return b"bytes", part
    if isinstance(part, str):
        return b"str", part.encode("utf-8")
    if isinstance(part, (Mapping, list, tuple, int, float, bool)) or part is None:
        text = json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        return b"json", text.encode("utf-8")
    raise TypeError(f"content_hash cannot hash {type(part).__name__}; convert it to str, bytes, dict or Path")


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths inside specs; anything else is a programming error.
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"content_hash cannot serialise {type(obj).__name__} inside a mapping")


def _framed(tag: bytes, payload: bytes) -> bytes:
    # Length-prefixed framing, so ("ab", "c") and ("a", "bc") hash differently.
    return tag + b":" + str(len(payload)).encode() + b":" + payload


def content_hash(*parts: Any) -> str:
    """SHA-256 hex digest of ``parts``, stable across runs, machines and OSes.

    Parameters
    ----------
    *parts : str, bytes, Mapping, list, number, None or pathlib.Path
        Strings are hashed as UTF-8 text (a ``str`` is never treated as a file
        name); mappings and lists as JSON with sorted keys and no whitespace;
        a ``Path`` by the bytes of the file it names (a directory by its
        files' relative paths and contents), not by its location.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    h = sha256()
    for part in parts:
        tag, payload = _canonical(part)
        h.update(_framed(tag, payload))
    return h.hexdigest()


def cache_key(evidence_hash: str, spec_hash: str, seed: int, version: str = rhcc_bayes.__version__) -> str:
    """Key of one fit: hash of evidence, spec (incl. sampler settings), seed and version.

    Returns
    -------
    str
        64 hexadecimal characters, safe as a file name.
    """
    return content_hash(
        {
            "format": CACHE_FORMAT,
            "evidence": evidence_hash,
            "spec": spec_hash,
            "seed": int(seed),
            "version": version,
        }
    )


def save_idata(idata: az.InferenceData, path: str | os.PathLike) -> Path:
    """Write ``idata`` to netCDF (h5netcdf engine) atomically.

    The data go to a temporary file beside ``path`` which then replaces
    ``path``. If anything fails, the temporary file is removed and an existing
    ``path`` is left untouched.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
        with open(tmp, "rb") as fh:  # make the bytes durable before the rename publishes them
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; publish with ordinary file permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_idata(path: str | os.PathLike) -> az.InferenceData:
    """Read an ``InferenceData`` written by :func:`save_idata`, fully into memory.

    Loaded eagerly so that no file handle stays open (the file may be replaced
    later by a refit).
    """
    import arviz as az

    with az.rc_context({"data.load": "eager"}):
        idata = az.from_netcdf(str(path), engine="h5netcdf")
    # netCDF hands attrs back as numpy scalars; give callers plain Python values
    # so that e.g. json.dumps(idata.attrs) and `is` comparisons behave as before saving.
    for name, value in list(idata.attrs.items()):
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            idata.attrs[name] = value.item()
    return idata


class Posterior:
    """A read-only, InferenceData-like view of a posterior file, loaded with xarray alone.

    Importing ArviZ costs 3-6 s here (it compiles numba ufuncs at import), which would
    dominate ``rhcc-bayes decide`` on a cached posterior. Everything downstream reads
    groups as attributes (``.posterior``, ``.constant_data``…), ``.groups()`` and
    ``.attrs``; :meth:`to_inference_data` gives the real ArviZ object when a
    function needs one (LOO, ``az.summary``).
    """

    def __init__(self, groups: Mapping[str, Any], attrs: Mapping[str, Any]):
        self.__dict__["_groups"] = dict(groups)
        self.__dict__["attrs"] = dict(attrs)

    def groups(self) -> list[str]:
        return list(self._groups)

    def __getattr__(self, name: str):
        groups = self.__dict__["_groups"]
        if name in groups:
            return groups[name]
        raise AttributeError(f"posterior has no group {name!r}; groups: {', '.join(groups)}")

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a loaded Posterior is read-only; use to_inference_data() to modify it")

    def to_inference_data(self) -> az.InferenceData:
        import arviz as az

        # new Dataset objects, so that adding or replacing variables never reaches this view
        return az.InferenceData(attrs=dict(self.attrs), **{k: v.copy() for k, v in self._groups.items()})

    def to_netcdf(self, path: str, engine: str = "h5netcdf") -> str:
        """Write in ArviZ's layout (one netCDF group per group, attrs on the root)."""
        import xarray as xr

        xr.Dataset(attrs=self.attrs).to_netcdf(path, mode="w", engine=engine)
        for name, ds in self._groups.items():
            ds.to_netcdf(path, mode="a", group=name, engine=engine)
        return path


def load_posterior(path: str | os.PathLike) -> Posterior:
    """Read a file written by :func:`save_idata` into a :class:`Posterior`, without ArviZ."""
    import h5netcdf
    import xarray as xr

    with h5netcdf.File(str(path), "r") as fh:
        names = list(fh.groups)
    with xr.open_dataset(str(path), engine="h5netcdf") as root:
        attrs = {k: (v.item() if hasattr(v, "item") and getattr(v, "ndim", None) == 0 else v)
                 for k, v in root.attrs.items()}
    groups = {}
    for name in names:
        with xr.open_dataset(str(path), group=name, engine="h5netcdf") as ds:
            groups[name] = ds.load()
    return Posterior(groups, attrs)


def as_inference_data(idata) -> az.InferenceData:
    """The ArviZ object behind ``idata`` (a :class:`Posterior` is converted)."""
    return idata.to_inference_data() if isinstance(idata, Posterior) else idata


def cached_fit(
    cache_dir: str | os.PathLike,
    key: str,
    fit_fn: Callable[[], az.InferenceData],
    *,
    loader: Callable[[str | os.PathLike], Any] = load_idata,
) -> tuple[az.InferenceData, bool]:
    """Return the cached posterior for ``key``, fitting and saving it when absent.

    Parameters
    ----------
    cache_dir : path
        Folder of ``<key>.nc`` files (created when missing).
    key : str
        From :func:`cache_key`; letters, digits, ``_.-`` only.
    fit_fn : callable
        Called with no arguments on a miss; returns the ``InferenceData`` to
        cache (typically after the diagnostics gate, so a gate failure
        caches nothing).

    Returns
    -------
    (arviz.InferenceData, bool)
        The posterior and whether it came from the cache.

    Warns
    -----
    CacheWarning
        When ``<key>.nc`` exists but is unreadable or records another key; it
        is refitted and overwritten rather than trusted.
    """
    if not _KEY_RE.match(key):
        raise ValueError(f"cache key {key!r} is not a safe file name")
    path = Path(cache_dir) / f"{key}.nc"
    if path.exists():
        try:
            idata = loader(path)
        except Exception as err:  # any read failure means "not usable", not "crash"
            warnings.warn(f"cache file {path} is unreadable ({type(err).__name__}: {err}); refitting", CacheWarning, stacklevel=2)
        else:
            stored = idata.attrs.get("cache_key")
            if stored == key:
                return idata, True
            warnings.warn(f"cache file {path} records key {stored!r}, not {key!r}; refitting", CacheWarning, stacklevel=2)
    idata = fit_fn()
    idata.attrs["cache_key"] = key
    idata.attrs["cache_format"] = CACHE_FORMAT
    save_idata(idata, path)
    return idata, False
