"""Tests for the posterior cache: hashing, atomic writes, hits, misses, corruption."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from rhcc_bayes.inference.cache import (
    CacheWarning,
    cache_key,
    cached_fit,
    content_digest,
    content_hash,
    load_idata,
    save_idata,
)

SPEC = {"name": "s", "hazard": "piecewise", "cuts_months": [12.0, 36.0]}
SAMPLER = {"backend": "nutpie", "chains": 4, "draws": 1000}


def _key(evidence="e", spec=None, sampler=None, seed=1, version="v1"):
    return cache_key(spec or SPEC, evidence, sampler or SAMPLER, seed, version)


def _idata(seed: int = 0):
    rng = np.random.default_rng(seed)
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 50, 3))},
        coords={"treatment": ["RFA", "TACE", "SBRT"]},
        dims={"mu": ["treatment"]},
    )
    idata.attrs.update({"seed": seed, "backend": "nutpie", "wall_time_total_s": 1.5, "gate_passed": 1})
    return idata


# ---------------------------------------------------------------- hashing


def test_content_hash_is_pinned():
    # Pinned values: the hash must not change between runs, machines or refactors
    # (a change silently invalidates every user's cache; bump CACHE_FORMAT instead).
    # "abc" is framed as b"str:3:abc" before hashing. The cache_key pin follows CACHE_FORMAT (v3).
    assert content_hash("abc") == hashlib.sha256(b"str:3:abc").hexdigest()
    assert content_hash({"b": [1, 2.5], "a": "\u00e9"}) == (
        "c3ce408d9846a64077b322c6fe3b1b9e94bfff8603f642df4b82eda79657e439"
    )
    assert _key() == PINNED_KEY


PINNED_KEY = "9d8a9243cf57a11bad6ddb0d0a83d3cb0f2a84007463892a494f3ece09ddc9bb"


def test_dict_key_order_does_not_matter():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_parts_are_framed():
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("1") != content_hash(1)  # type tag: text vs JSON number
    assert content_hash(b"x") != content_hash("x")


def test_path_hashes_content_not_location(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "sub" / "b.csv"
    b.parent.mkdir()
    a.write_text("study,n\nX,10\n")
    b.write_text("study,n\nX,10\n")
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(str(a))  # a str is text, never a file name
    b.write_text("study,n\nX,11\n")
    assert content_hash(a) != content_hash(b)


def test_directory_hash_covers_names_and_contents(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.csv").write_text("1")
    before = content_hash(tmp_path / "d")
    (tmp_path / "d" / "y.csv").write_text("2")
    assert content_hash(tmp_path / "d") != before


def test_unhashable_type_rejected():
    with pytest.raises(TypeError, match="set"):
        content_hash({1, 2})


def test_cache_key_changes_with_every_input():
    base = _key()
    assert base == _key() and base == cache_key(dict(reversed(list(SPEC.items()))), "e", SAMPLER, 1, "v1")
    assert len(base) == 64 and all(c in "0123456789abcdef" for c in base)
    others = {
        _key(evidence="f"),
        _key(spec={**SPEC, "hazard": "weibull"}),
        _key(sampler={**SAMPLER, "draws": 500}),
        _key(seed=2),
        _key(version="v2"),
    }
    assert base not in others and len(others) == 5


# ---------------------------------------------------------------- save / load


def test_round_trip_keeps_values_coords_and_plain_attrs(tmp_path):
    idata = _idata()
    path = save_idata(idata, tmp_path / "nested" / "post.nc")
    assert path == tmp_path / "nested" / "post.nc"
    back = load_idata(path)
    np.testing.assert_array_equal(back.posterior["mu"].values, idata.posterior["mu"].values)
    assert list(back.posterior["treatment"].values) == ["RFA", "TACE", "SBRT"]
    assert back.attrs["seed"] == 0 and type(back.attrs["seed"]) is int
    assert back.attrs["wall_time_total_s"] == 1.5 and back.attrs["backend"] == "nutpie"


def test_file_is_netcdf_not_pickle(tmp_path):
    path = save_idata(_idata(), tmp_path / "p.nc")
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # HDF5 signature (netCDF-4)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"partial")  # simulate a half-written file first
        raise OSError("disk full")

    monkeypatch.setattr(az.InferenceData, "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        save_idata(_idata(), tmp_path / "p.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_idata(_idata(seed=1), tmp_path / "p.nc")
    old = path.read_bytes()

    def boom(self, *args, **kwargs):
        raise KeyboardInterrupt  # even an interrupt must not leave debris

    monkeypatch.setattr(az.InferenceData, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        save_idata(_idata(seed=2), path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["p.nc"]


# ---------------------------------------------------------------- cached_fit


class Fitter:
    """Counts calls; returns a fresh InferenceData each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return _idata(seed=self.calls)


def test_miss_then_hit(tmp_path):
    fit = Fitter()
    key = _key()
    first, hit1 = cached_fit(tmp_path, key, fit)
    second, hit2 = cached_fit(tmp_path, key, fit)
    assert (hit1, hit2, fit.calls) == (False, True, 1)
    np.testing.assert_array_equal(first.posterior["mu"].values, second.posterior["mu"].values)
    assert second.attrs["cache_key"] == key
    assert (tmp_path / f"{key}.nc").exists()


def test_key_change_invalidates(tmp_path):
    fit = Fitter()
    cached_fit(tmp_path, _key(), fit)
    _, hit = cached_fit(tmp_path, _key(spec={**SPEC, "name": "s-edited"}), fit)
    assert not hit and fit.calls == 2
    assert len(list(tmp_path.glob("*.nc"))) == 2


def test_file_recording_another_key_is_not_trusted(tmp_path):
    fit = Fitter()
    old, new = _key(), _key(seed=2)
    cached_fit(tmp_path, old, fit)
    (tmp_path / f"{old}.nc").rename(tmp_path / f"{new}.nc")  # stale file under the new name
    with pytest.warns(CacheWarning, match="records key"):
        idata, hit = cached_fit(tmp_path, new, fit)
    assert not hit and fit.calls == 2 and idata.attrs["cache_key"] == new
    assert load_idata(tmp_path / f"{new}.nc").attrs["cache_key"] == new


def test_corrupt_file_is_refitted_with_a_warning(tmp_path):
    fit = Fitter()
    key = _key()
    (tmp_path / f"{key}.nc").write_bytes(b"\x89HDF\r\n\x1a\n not really a netCDF file")
    with pytest.warns(CacheWarning, match="unreadable"):
        _, hit = cached_fit(tmp_path, key, fit)
    assert not hit and fit.calls == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        _, hit = cached_fit(tmp_path, key, fit)  # repaired: a clean hit now
    assert hit and fit.calls == 1


def test_loaded_posterior_is_a_real_inference_data(tmp_path):
    path = save_idata(_idata(), tmp_path / "p.nc")
    back = load_idata(path)
    assert isinstance(back, az.InferenceData)
    assert az.summary(back, var_names=["mu"]).shape[0] == 3
    back.attrs["note"] = "writable"  # not a read-only view


def test_content_digest_survives_the_round_trip_and_sees_every_change(tmp_path):
    idata = _idata()
    back = load_idata(save_idata(idata, tmp_path / "p.nc"))
    assert content_digest(back) == content_digest(idata)
    relabelled = back.copy()
    relabelled.posterior = relabelled.posterior.assign_coords(treatment=["TACE", "RFA", "SBRT"])
    assert content_digest(relabelled) != content_digest(back)
    edited = back.copy()
    edited.posterior["mu"] = edited.posterior["mu"] + 1e-12
    assert content_digest(edited) != content_digest(back)
    flagged = back.copy()
    flagged.attrs["gate_passed"] = 0
    assert content_digest(flagged) != content_digest(back)


def test_tampered_cache_file_is_detected_and_refitted(tmp_path):
    """Swapping two treatment labels inside a cached file (issue 13) must not change results silently."""
    fit = Fitter()
    key = _key()
    first, _ = cached_fit(tmp_path, key, fit)
    path = tmp_path / f"{key}.nc"
    tampered = load_idata(path)
    tampered.posterior = tampered.posterior.assign_coords(treatment=["TACE", "RFA", "SBRT"])
    save_idata(tampered, path)  # same key, stale digest
    with pytest.warns(CacheWarning, match="content digest"):
        idata, hit = cached_fit(tmp_path, key, fit)
    assert not hit and fit.calls == 2
    assert list(idata.posterior["treatment"].values) == ["RFA", "TACE", "SBRT"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        _, hit = cached_fit(tmp_path, key, fit)  # the refit is trusted again
    assert hit and fit.calls == 2


def test_fit_failure_caches_nothing(tmp_path):
    def failing():
        raise RuntimeError("gate failed")

    with pytest.raises(RuntimeError):
        cached_fit(tmp_path, _key(), failing)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["../evil", "a/b", "", "x" * 200])
def test_unsafe_keys_rejected(tmp_path, key):
    with pytest.raises(ValueError, match="safe file name"):
        cached_fit(tmp_path, key, Fitter())


def test_stale_temporaries_of_an_interrupted_write_are_cleaned(tmp_path):
    import os
    import time

    key = _key()
    stale = tmp_path / f".{key}.nc.abc123.tmp"
    fresh = tmp_path / f".{key}.nc.def456.tmp"  # maybe a write in progress in another process
    mine = tmp_path / "notes.tmp"
    for p in (stale, fresh, mine):
        p.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    cached_fit(tmp_path, key, Fitter())
    assert not stale.exists() and fresh.exists() and mine.exists()


def test_tree_and_inference_data_are_the_same_content(tmp_path):
    import xarray as xr

    from rhcc_bayes.inference.cache import load_tree, to_inference_data

    path = save_idata(_idata(), tmp_path / "p.nc")
    tree = load_tree(path)
    assert isinstance(tree, xr.DataTree) and tree.attrs["seed"] == 0 and type(tree.attrs["seed"]) is int
    idata = to_inference_data(tree)
    assert isinstance(idata, az.InferenceData) and to_inference_data(idata) is idata
    assert content_digest(tree) == content_digest(idata) == content_digest(load_idata(path))
    np.testing.assert_array_equal(tree["posterior"]["mu"].values, idata.posterior["mu"].values)


def test_cache_folder_that_is_a_file_is_refused_before_fitting(tmp_path):
    from rhcc_bayes.core.errors import UserError

    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    fit = Fitter()
    with pytest.raises(UserError, match=r"cache folder .*cache is a file, not a folder"):
        cached_fit(blocker, _key(), fit)
    assert fit.calls == 0 and blocker.read_text() == "not a folder"


def test_unwritable_cache_folder_is_refused_before_fitting(tmp_path, monkeypatch):
    import errno
    import tempfile as tempfile_mod

    from rhcc_bayes.core.errors import UserError

    def no_space(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile_mod, "mkstemp", no_space)  # root ignores chmod: simulate it
    fit = Fitter()
    with pytest.raises(UserError, match=r"cache folder .* is not writable: Permission denied"):
        cached_fit(tmp_path / "c", _key(), fit)
    assert fit.calls == 0


def test_a_failed_cache_write_keeps_the_fit_and_warns(tmp_path, monkeypatch):
    import errno

    import rhcc_bayes.inference.cache as cache_mod

    def full_disk(idata, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod, "save_idata", full_disk)
    fit = Fitter()
    with pytest.warns(CacheWarning, match="could not cache the posterior .*No space left on device"):
        idata, hit = cached_fit(tmp_path, _key(), fit)
    assert (hit, fit.calls) == (False, 1) and "mu" in idata.posterior
    assert list(tmp_path.iterdir()) == []
