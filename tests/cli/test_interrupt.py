"""Ctrl-C during sampling, end to end: a real ``rhcc-bayes fit`` process gets SIGINT while it
samples and must exit 130 with one "interrupted" line, no traceback and nothing in the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli.conftest import tiny_spec_text, write_spec

#: Long enough that the process is still sampling when the signal arrives.
LONG_SAMPLER = ('[sampler]\nbackend = "nutpie"\nchains = 2\ndraws = 50000\ntune = 1000\n'
                'target_accept = 0.9\nlow_rank_mass_matrix = false\n')


@pytest.mark.slow
def test_sigint_while_sampling_exits_130_and_writes_nothing(tmp_path):
    spec = write_spec(tmp_path / "long.toml", tiny_spec_text("long_interrupted", LONG_SAMPLER))
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rhcc_bayes.cli.main", "fit", "--spec", str(spec), "--cache-dir", str(cache)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # background jobs ignore SIGINT
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        while not any("sampling 2 chains" in line for line in lines):
            assert proc.poll() is None, "fit ended before sampling:\n" + "".join(lines)
            assert time.monotonic() < deadline, "no sampling line within 600 s:\n" + "".join(lines)
            time.sleep(0.5)
        time.sleep(3)  # inside the sampler's loop
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        out = proc.stdout.read()
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines)
    assert proc.returncode == 130, err[-2000:]
    assert err.rstrip().splitlines()[-1] == "rhcc-bayes: interrupted"
    assert "Traceback" not in err and "More chains" not in err
    assert out == ""
    assert not cache.exists() or list(cache.iterdir()) == []
