"""Shared fixtures: ONE small survival fit for the decision/report/plot/notebook tests.

The fit uses the default spec and its sampler settings (compiling dominates; sampling
2000 draws x 4 chains takes seconds), written to a spec file in a cache folder shared by all pytest-xdist workers. A process
started as collection ends fits it (one numba compile) under a file lock, beside the tests
that do not need it (collected first); the workers' fixtures wait on the lock and load the
cached posterior (or fit themselves if that process failed). CLI tests pass the same ``--spec`` and ``--cache-dir`` so
they hit that cache too.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest



def _sampler_table(spec_text: str) -> str:
    """The spec's own [sampler] table without comments: the session fit uses the default's settings."""
    import tomllib

    table = tomllib.loads(spec_text)["sampler"]
    lines = [f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v) if not isinstance(v, str) else chr(34) + v + chr(34)}"
             for k, v in table.items()]
    return "[sampler]\n" + "\n".join(lines) + "\n"


def _shared_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker has basetemp/<popen-gwN>; share the parent
    root = base.parent if re.match(r"popen-gw\d+", base.name) else base
    d = root / "rhcc_shared_fit"
    d.mkdir(exist_ok=True)
    return d


def _write_small_spec(d: Path) -> Path:
    """The default spec renamed "small_default", with its own [sampler] table, in ``d``."""
    from rhcc_bayes.core.paths import models_dir

    path = d / "small_default.toml"
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\].*", _sampler_table(text), text, flags=re.S)
    text = text.replace('name = "default"', 'name = "small_default"')
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".tmp{os.getpid()}")  # one per xdist worker
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def _cache_dir(d: Path) -> Path:
    cache = d / "cache"
    cache.mkdir(exist_ok=True)
    return cache


def _locked_fit(spec_path: Path, cache_dir: Path):
    """(evidence, FitResult) of the spec: the first caller (under the lock) fits, later ones load the cache."""
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import fit_synthesis

    evidence = load_evidence()
    spec = load_spec(spec_path)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit_synthesis(evidence, spec, cache_dir=cache_dir, allow_unconverged=True,
                                       progressbar=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return evidence, result


_BACKGROUND: list[subprocess.Popen] = []


def pytest_collection_modifyitems(session, config, items):
    """Tests of the session fit run last, and one process starts that fit as collection ends.

    The fit compiles the default model (minutes on an empty compile cache). Started from the
    fixture, one worker compiled while the other waited on the lock for the first test that
    needed the fit; started beside the other tests, both workers keep running them.
    """
    uses = [item for item in items if "small_fit" in getattr(item, "fixturenames", ())]
    if not uses:
        return
    items[:] = [item for item in items if "small_fit" not in getattr(item, "fixturenames", ())] + uses
    if getattr(config, "workerinput", {}).get("workerid", "gw0") != "gw0":
        return
    d = _shared_dir(config._tmp_path_factory)
    spec_path, cache_dir = _write_small_spec(d), _cache_dir(d)
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; import conftest; "
              "conftest._locked_fit(Path(sys.argv[2]), Path(sys.argv[3]))")
    with open(d / "background_fit.log", "w") as log:
        _BACKGROUND.append(subprocess.Popen(
            [sys.executable, "-c", script, str(Path(__file__).parent), str(spec_path), str(cache_dir)],
            stdout=log, stderr=subprocess.STDOUT))


def pytest_sessionfinish(session, exitstatus):
    for proc in _BACKGROUND:  # normally long done; a run that never needed the fit stops it
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def small_spec_path(tmp_path_factory) -> Path:
    return _write_small_spec(_shared_dir(tmp_path_factory))


@pytest.fixture(scope="session")
def fit_cache_dir(tmp_path_factory) -> Path:
    return _cache_dir(_shared_dir(tmp_path_factory))


@pytest.fixture(scope="session")
def small_fit(small_spec_path, fit_cache_dir):
    """(evidence, FitResult) of the small default fit; unconverged fits are allowed (and flagged)."""
    return _locked_fit(small_spec_path, fit_cache_dir)


@pytest.fixture(scope="session")
def fit_args(small_spec_path, fit_cache_dir, small_fit) -> list[str]:
    """CLI arguments that reuse the session fit from the cache."""
    return ["--spec", str(small_spec_path), "--cache-dir", str(fit_cache_dir), "--allow-unconverged"]


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def default_model_compiled(small_fit) -> None:
    """The default model's graph is compiled and in the compile index (the session fit did it).

    For tests that fit the default model with another sampler budget or in fresh processes:
    ordered after the session fit, they load its compiled code (~1 s) instead of compiling the
    same graph cold beside it (676 s and 447 s of the last cold CI run, at load 3 on 2 cores).
    """
