"""Same spec + evidence + seed => byte-identical posterior draws in two fresh processes.

Each process has its own empty posterior cache, so both really sample (nutpie, numba); the
compile caches (numba, PyTensor) are whatever the machine has, as for users (in the suite: the
session fit's, so both load the compiled model; cold against warm caches is
tests/inference/test_compile_index.py's and test_sampling.py's). The draws of
every posterior variable and the sampler statistics are hashed in the child and compared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHILD = r"""
import hashlib, sys, warnings
warnings.simplefilter("ignore")
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec
from rhcc_bayes.synthesis import Synthesis

post = Synthesis(load_spec(sys.argv[1]), load_evidence()).fit(cache_dir=sys.argv[2], allow_unconverged=True,
                                                               progressbar=False)
assert not post.cache_hit, "the cache was meant to be empty"
for group in ("posterior", "sample_stats"):
    ds = getattr(post.idata, group)
    for name in sorted(ds.data_vars):
        print(group, name, hashlib.sha256(ds[name].values.tobytes()).hexdigest())
"""


def _tiny_spec(path: Path) -> Path:
    from rhcc_bayes.core.paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\].*", '[sampler]\nbackend = "nutpie"\nchains = 2\ndraws = 60\ntune = 60\n'
                  'target_accept = 0.9\n', text, flags=re.S)
    path.write_text(text.replace('name = "default"', 'name = "repro_tiny"'), encoding="utf-8")
    return path


def test_two_fresh_processes_give_identical_draws(tmp_path, default_model_compiled):
    spec = _tiny_spec(tmp_path / "tiny.toml")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(spec), str(tmp_path / f"cache{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in (1, 2)]
    # a hang guard, not a time limit: two cold compiles at once took > 900 s on a machine at load ~9
    outs = [p.communicate(timeout=2700) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    first, second = (out.splitlines() for out, _ in outs)
    assert len(first) > 10 and any(line.startswith("posterior mu ") for line in first)
    assert first == second
