"""Posterior cache: content-addressed, atomic, netCDF only (never pickle).

A posterior is stored as ``<cache_dir>/<key>.nc`` where the key hashes what
determines the draws: the validated spec (canonical dict, not its file name), the
evidence content, the sampler settings, the seed and the model family's declared
``MODEL_VERSION`` (bumped by hand when model code changes). Change any of them and the
old file is simply never looked up again. The key and a digest of the stored content
(every group's values, coordinates and the root attrs) are written into the file and
checked on load, so a renamed, copied or edited file cannot masquerade as a fit.

Writes go to a temporary file in the destination folder and are moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows when source
and target are on the same file system (hence the same folder): a crash or an
exception mid-write leaves either the old file or none, never half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcc_bayes.core.atomic import check_writable_dir

if TYPE_CHECKING:
    import arviz as az
    import xarray as xr

#: Bumped when the cache file layout changes, so old files stop matching.
CACHE_FORMAT = "rhcc_bayes-posterior-v3"  # v2: gate verdict in attrs; v3: content digest, model-version key
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
#: Temporary files older than this are leftovers of an interrupted run (a live write is minutes at most).
STALE_SECONDS = 3600


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


def cache_key(spec: Mapping[str, Any], evidence_hash: str, sampler: Mapping[str, Any], seed: int,
              model_version: str) -> str:
    """Key of one fit: what determines its draws, and nothing else.

    Parameters
    ----------
    spec : Mapping
        The validated spec in canonical plain-data form (``spec.to_dict()``; no file name).
    evidence_hash : str
        Content hash of the evidence rows and taxonomy (``Evidence.hash``; no file names).
    sampler : Mapping
        The sampler settings actually used (``SamplerSettings.to_dict()``).
    seed : int
    model_version : str
        The model family's declared ``MODEL_VERSION`` (bumped by hand when the model code
        changes the posterior).

    Returns
    -------
    str
        64 hexadecimal characters, safe as a file name.
    """
    return content_hash(
        {
            "format": CACHE_FORMAT,
            "spec": dict(spec),
            "evidence": evidence_hash,
            "sampler": dict(sampler),
            "seed": int(seed),
            "model_version": str(model_version),
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


def load_tree(path: str | os.PathLike) -> xr.DataTree:
    """Read a file written by :func:`save_idata` into an ``xarray.DataTree``, fully in memory, without ArviZ.

    One child per group (``posterior``, ``constant_data``...), the root attrs as plain Python
    values. Loaded eagerly so that no file handle stays open (a refit may replace the file).
    This is the fast path of a cache hit (importing ArviZ costs 1-3 s); :func:`to_inference_data`
    turns it into the ArviZ object without copying the data.
    """
    import xarray as xr

    attrs, names = load_attrs(path)
    groups = {name: load_group(path, name) for name in names}
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **groups})


def _source(path):
    """A fresh readable source of a netCDF file given as a path or as its bytes."""
    import io

    return io.BytesIO(path) if isinstance(path, (bytes, bytearray, memoryview)) else str(path)


def load_attrs(path) -> tuple[dict, list[str]]:
    """(root attrs as plain Python values, group names) of a netCDF file (path or bytes)."""
    import h5netcdf

    with h5netcdf.File(_source(path), "r") as fh:
        return {k: _plain(v) for k, v in fh.attrs.items()}, list(fh.groups)


def load_group(path, group: str, variables=None):
    """One group of a netCDF file (path or bytes) in memory; only ``variables`` (those present)
    are read when given, the others never leave the file."""
    import xarray as xr

    with xr.open_dataset(_source(path), group=group, engine="h5netcdf") as ds:
        if variables is not None:
            ds = ds[[v for v in variables if v in ds.data_vars]]
        return ds.load()


def to_inference_data(data) -> az.InferenceData:
    """``arviz.InferenceData`` of a :func:`load_tree` tree (same datasets, no copy); an
    InferenceData is returned as is."""
    import xarray as xr

    if not isinstance(data, xr.DataTree):
        return data
    import arviz as az

    idata = az.InferenceData(**group_datasets(data))
    idata.attrs.update(data.attrs)
    return idata


def load_idata(path: str | os.PathLike) -> az.InferenceData:
    """Read a file written by :func:`save_idata` into an ``arviz.InferenceData``, fully in memory.

    The groups are read with xarray/h5netcdf and handed to ``az.InferenceData``: the result
    is always the real ArviZ type (``az.summary``, ``az.loo``, ``az.plot_trace`` work on it).
    """
    return to_inference_data(load_tree(path))


def group_datasets(data) -> dict:
    """``{group name: xarray.Dataset}`` of an InferenceData or a :func:`load_tree` tree."""
    if callable(getattr(data, "groups", None)):  # arviz.InferenceData
        return {name: data[name] for name in data.groups()}
    return {name: node.to_dataset() for name, node in data.children.items()}


def _plain(value: Any) -> Any:
    """netCDF hands attrs back as numpy scalars/bytes; give callers plain Python values."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


# ---------------------------------------------------------------- content digest
def _digest_value(value: Any) -> Any:
    """An attr value in a form that survives a netCDF round trip unchanged."""
    value = _plain(value)
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_digest_value(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _array_bytes(values) -> tuple[str, bytes]:
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind in "USO":  # text: the same strings whatever numpy/netCDF string type holds them
        return "text", json.dumps([str(v) for v in arr.ravel().tolist()], ensure_ascii=False).encode("utf-8")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]").view(np.int64)
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return f"{arr.dtype.kind}{arr.dtype.itemsize}", arr.tobytes()


def content_digest(idata) -> str:  # idata: arviz.InferenceData or a load_tree() DataTree
    """SHA-256 over every group's variables and coordinates (names, dims, shapes, values) and the
    root attrs (except the digest itself).

    Stored with the posterior by :func:`cached_fit` and checked on every load, so a cached file
    whose draws, treatment labels or recorded verdicts were changed is never trusted.
    """
    h = sha256()
    groups = group_datasets(idata)
    for name in sorted(groups):
        ds = groups[name]
        h.update(_framed(b"group", name.encode()))
        for var in sorted([*ds.coords, *ds.data_vars], key=str):
            da = ds[var]
            kind, payload = _array_bytes(da.values)
            meta = json.dumps([str(var), list(map(str, da.dims)), list(da.shape), kind])
            h.update(_framed(b"var", meta.encode()) + _framed(b"values", payload))
    attrs = {str(k): _digest_value(v) for k, v in idata.attrs.items() if k != "content_digest"}
    h.update(_framed(b"attrs", json.dumps(attrs, sort_keys=True, default=str).encode("utf-8")))
    return h.hexdigest()


def remove_stale_temporaries(folder: str | os.PathLike, pattern: str, max_age: float = STALE_SECONDS) -> list[Path]:
    """Delete ``.<pattern>`` leftovers of interrupted atomic writes (hidden, older than ``max_age`` s).

    Only hidden names matching ``pattern`` (the temporaries :func:`save_idata` and the report
    writer create) are touched; recent ones may belong to a write in progress and are kept.
    """
    import shutil
    import time

    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.glob("." + pattern):
        try:
            if now - p.lstat().st_mtime < max_age:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:  # another process cleaned it, or no permission: not our problem here
            continue
    return removed


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
        When ``<key>.nc`` exists but is unreadable, records another key, or its content
        no longer matches the digest stored with it (edited draws, swapped treatment
        labels...); it is refitted and overwritten rather than trusted.
    """
    if not _KEY_RE.match(key):
        raise ValueError(f"cache key {key!r} is not a safe file name")
    path = Path(cache_dir) / f"{key}.nc"
    remove_stale_temporaries(cache_dir, "*.nc.*.tmp")
    if path.exists():
        problem = None
        try:
            idata = loader(path)
        except Exception as err:  # any read failure means "not usable", not "crash"
            problem = f"is unreadable ({type(err).__name__}: {err})"
        else:
            stored = idata.attrs.get("cache_key")
            if stored != key:
                problem = f"records key {stored!r}, not {key!r}"
            elif idata.attrs.get("content_digest") != content_digest(idata):
                problem = "does not match the content digest stored with it (edited or damaged)"
        if problem is None:
            return idata, True
        warnings.warn(f"cache file {path} {problem}; refitting", CacheWarning, stacklevel=2)
    check_writable_dir(cache_dir, "cache folder")  # refuse now, not after sampling
    idata = fit_fn()
    idata.attrs["cache_key"] = key
    idata.attrs["cache_format"] = CACHE_FORMAT
    idata.attrs["content_digest"] = content_digest(idata)
    try:
        save_idata(idata, path)
    except OSError as err:  # e.g. the disk filled up while sampling: keep the fit, say so
        warnings.warn(f"could not cache the posterior in {path}: {err.strerror or err}; continuing with "
                      "the fit in memory (it will be refitted next time)", CacheWarning, stacklevel=2)
    return idata, False
