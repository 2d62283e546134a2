"""``rhcc-bayes serve``: bad arguments exit 2 before any fit; on the cached fit it says what it
loaded, serves the page, and stops cleanly on Ctrl+C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from rhcc_bayes.cli.main import EXIT_BAD_INPUT, main


@pytest.mark.parametrize("argv, message", [
    (["--port", "0"], "--port must be in 1-65535, got 0"),
    (["--port", "70000"], "--port must be in 1-65535, got 70000"),
    (["--horizon", "0"], "--horizon must be in (0, 240] months, got 0"),
    (["--profile", "no/such/profile.toml"], "no/such/profile.toml"),
    (["--spec", "nma_bcg_re"], "--spec nma_bcg_re: serve decides for a patient and needs a survival spec"),
    (["--spec", "no_such_spec"], "no_such_spec"),
])
def test_bad_arguments_exit_2_before_fitting(argv, message, capsys, tmp_path, port):
    # an empty cache folder: reaching the fit would print "compiling model"
    assert main(["serve", "--cache-dir", str(tmp_path), "--port", str(port), *argv]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "compiling" not in err
    assert not list(tmp_path.iterdir())


def test_port_in_use_is_refused(capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--cache-dir", str(tmp_path), "--port", str(port)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"--host 127.0.0.1 --port {port}: cannot listen there" in err and "choose another --port" in err


def test_serves_the_cached_posterior(fit_args, port):
    proc = subprocess.Popen([sys.executable, "-m", "rhcc_bayes.cli.main", "serve", *fit_args, "--port", str(port)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=dict(os.environ))
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("serving on"):
                break
        assert lines and lines[-1] == f"serving on http://127.0.0.1:{port}/ (Ctrl+C to stop)", lines
        assert any(x.startswith("loaded cached posterior ") for x in lines), lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
            body = r.read().decode()
        assert r.status == 200
        assert "salvage treatment for recurrent HCC" in body and 'id="f_tumour_size_cm"' in body
        assert 'value="2.4"' in body  # the form starts from the bundled example profile
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            tail = proc.stderr.read()
            proc.stderr.close()
    assert rc == 0, tail  # Ctrl+C is the normal way to stop the server
    assert tail.strip().endswith("stopped")
