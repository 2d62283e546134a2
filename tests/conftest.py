"""Shared fixtures: ONE small survival fit for the decision/report/plot/notebook tests.

The fit uses the default spec and its sampler settings (compiling dominates; sampling
2000 draws x 4 chains takes seconds), written to a spec file in a cache folder shared by all pytest-xdist workers. A file
lock makes the first worker fit (one numba compile) while the others wait and then
load the cached posterior. CLI tests pass the same ``--spec`` and ``--cache-dir`` so
they hit that cache too.
"""

from __future__ import annotations

import fcntl
import os
import re
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


@pytest.fixture(scope="session")
def small_spec_path(tmp_path_factory) -> Path:
    from rhcc_bayes.core.paths import models_dir

    d = _shared_dir(tmp_path_factory)
    path = d / "small_default.toml"
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\].*", _sampler_table(text), text, flags=re.S)
    text = text.replace('name = "default"', 'name = "small_default"')
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".tmp{os.getpid()}")  # one per xdist worker
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


@pytest.fixture(scope="session")
def fit_cache_dir(tmp_path_factory) -> Path:
    d = _shared_dir(tmp_path_factory) / "cache"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def small_fit(small_spec_path, fit_cache_dir):
    """(evidence, FitResult) of the small default fit; unconverged fits are allowed (and flagged)."""
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import fit_synthesis

    evidence = load_evidence()
    spec = load_spec(small_spec_path)
    with open(fit_cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit_synthesis(evidence, spec, cache_dir=fit_cache_dir, allow_unconverged=True,
                                       progressbar=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return evidence, result


@pytest.fixture(scope="session")
def fit_args(small_spec_path, fit_cache_dir, small_fit) -> list[str]:
    """CLI arguments that reuse the session fit from the cache."""
    return ["--spec", str(small_spec_path), "--cache-dir", str(fit_cache_dir), "--allow-unconverged"]


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "examples"
