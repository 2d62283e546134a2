"""Fixtures for the page: the app served on a free localhost port, and a headless chromium.

The browser is Debian's ``chromium`` driven by Playwright (Playwright's own browser downloads
are not reachable from these machines). Without it the browser tests are skipped, unless
``RHCC_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm


def chromium_path() -> str | None:
    for candidate in (os.environ.get("RHCC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _missing(reason: str):
    if os.environ.get("RHCC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and RHCC_REQUIRE_BROWSER=1 requires the browser test to run")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port() -> int:
    """A free localhost port."""
    return free_port()


@contextlib.contextmanager
def serving(app):
    """Serve ``app`` with uvicorn in a thread on a free localhost port; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def app_url(small_fit):
    """The app on the shared small fit."""
    from rhcc_bayes.serve import create_app, default_profile

    with serving(create_app(small_fit[1], default_profile())) as url:
        yield url


@pytest.fixture(scope="session")
def serve_app():
    """``serving`` for tests that build their own app."""
    return serving


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        _missing("chromium is not installed (/usr/bin/chromium; apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    pg.goto(app_url)
    yield pg
    pg.close()
