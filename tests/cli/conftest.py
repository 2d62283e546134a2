"""A deliberately unconverged tiny fit (2 chains x 20 draws), fitted once per test session.

It fails the diagnostics gate, so every command run on it with ``--allow-unconverged`` must
flag its outputs. Shared by all pytest-xdist workers through a file lock, like the small fit.
"""

from __future__ import annotations

import fcntl
import os
import re
import warnings
from pathlib import Path

import pytest

#: The sampler table of the tiny fit: far too few draws for the gate (ESS >= 400).
TINY_SAMPLER = ('[sampler]\nbackend = "nutpie"\nchains = 2\ndraws = 20\ntune = 30\n'
                'target_accept = 0.9\nlow_rank_mass_matrix = false\n')


def tiny_spec_text(name: str = "tiny_unconverged", sampler: str = TINY_SAMPLER) -> str:
    from rhcc_bayes.core.paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\].*", sampler, text, flags=re.S)
    return text.replace('name = "default"', f'name = "{name}"')


def write_spec(path: Path, text: str) -> Path:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


@pytest.fixture(scope="session")
def unconverged_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    root = base.parent if re.match(r"popen-gw\d+", base.name) else base
    d = root / "rhcc_unconverged_fit"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def unconverged_args(unconverged_dir, fit_cache_dir) -> list[str]:
    """CLI arguments of the cached unconverged fit (``--allow-unconverged`` included).

    Cached beside the shared small fit, so ``compare-models`` can compare the two without a fit.
    """
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import Synthesis

    spec = write_spec(unconverged_dir / "tiny_unconverged.toml", tiny_spec_text())
    cache = fit_cache_dir
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                post = Synthesis(load_spec(spec), load_evidence()).fit(cache_dir=cache, allow_unconverged=True,
                                                                       progressbar=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert not int(post.idata.attrs["gate_passed"]), "the tiny fit was meant to fail the gate"
    return ["--spec", str(spec), "--cache-dir", str(cache), "--allow-unconverged"]


@pytest.fixture(scope="session")
def make_tiny_spec():
    """``make(path, name, target_accept=0.9) -> path``: a tiny-sampler copy of the default spec."""
    def make(path: Path, name: str, target_accept: float = 0.9) -> Path:
        return write_spec(Path(path), tiny_spec_text(name, TINY_SAMPLER.replace("0.9", repr(target_accept))))
    return make
