"""Latency of ``rhcc-bayes serve`` per form change, on a cached posterior.

Run (after any command has cached the fit, e.g. ``rhcc-bayes fit``)::

    .venv/bin/python benchmarks/serve_latency.py [--spec default] [--cache-dir DIR] [--repeats 3] [--browser]

1. In process: for a sequence of single-field changes of the example profile (tumour size,
   nodules, recurrence timing, prior treatment, Child-Pugh, ...), the time of the decision
   (``SynthesisPosterior.decide``: eligibility, survival draws, decision summaries), of the
   bottom-line panel and table, and of the survival-curve PNG; wall (median, p90, max) and CPU.
2. ``--browser``: the same changes typed into the page in headless chromium (Playwright), from
   pressing Enter to the bottom-line panel and table rendered (websocket, decision, panel,
   table, DOM update), and to the survival curves rendered (drawn in a background thread).

Target: decision <= 200 ms per change. Wall time depends on how busy the shared machine is.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rhcc_bayes.cli.common import add_fit_arguments, fit_from_args  # noqa: E402
from rhcc_bayes.serve import create_app, decision_view, default_profile  # noqa: E402

#: (field, value) changes applied one after another, as a clinician edits the form.
CHANGES = (
    ("tumour_size_cm", 4.0), ("tumour_size_cm", 6.0), ("tumour_size_cm", 1.5), ("nodules", 2), ("nodules", 3),
    ("nodules", 1), ("months_since_treatment", 6.0), ("months_since_treatment", 30.0),
    ("prior_treatment", "transplant"), ("prior_treatment", "resection"), ("child_pugh", "B"), ("child_pugh", "A"),
    ("near_gallbladder", True), ("near_gallbladder", False), ("afp_ng_ml", 900.0), ("afp_ng_ml", 12.0),
)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _stats(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
    return f"median {statistics.median(ms):6.1f}  p90 {q:6.1f}  max {max(ms):6.1f} ms"


def in_process(posterior, repeats: int) -> None:
    profile = default_profile()
    decision_view(posterior, profile)  # warm-up (first call imports and fills caches)
    parts: dict[str, list[float]] = {f"{k}{s}": [] for k in ("decide", "panel_and_table", "curves")
                                     for s in ("", "_cpu")}
    total, cpu = [], []
    for _ in range(repeats):
        for name, value in CHANGES:
            profile = dataclasses.replace(profile, **{name: value})
            c0, t0 = time.process_time(), time.perf_counter()
            view = decision_view(posterior, profile)
            total.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
            for k, v in view.timings_ms.items():
                parts[k].append(v)
    n = len(total)
    print(f"in process, {n} single-field changes ({len(CHANGES)} x {repeats}):")
    for k, v in parts.items():
        print(f"  {k:20s} {_stats(v)}")
    print(f"  {'whole view':20s} {_stats(total)}")
    print(f"  {'whole view_cpu':20s} {_stats(cpu)}")
    print(f"  decision <= 200 ms in {sum(v <= 200 for v in parts['decide'])}/{n} changes (wall), "
          f"{sum(v <= 200 for v in parts['decide_cpu'])}/{n} (CPU)")


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def in_browser(posterior) -> None:
    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(posterior, default_profile()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    rounds, with_curves = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#bottom-line table", timeout=60_000)
            for name, value in CHANGES:
                # Shiny sends every output of a change in one message: time until the panel's new
                # value has arrived and been rendered (the 'shiny:value' event, then one frame)
                page.evaluate("() => { window.__seen = {}; $(document).off('shiny:value.bench');"
                              " $(document).on('shiny:value.bench', e => { const n = e.name;"
                              " requestAnimationFrame(() => { window.__seen[n] = performance.now(); }); }); }")
                box = page.locator(f"#f_{name}")
                t0 = time.perf_counter()
                if box.evaluate("e => e.tagName") == "SELECT":
                    box.select_option(_text(value))
                else:
                    box.fill(_text(value))
                    box.press("Enter")
                page.wait_for_function("() => window.__seen.panel", timeout=60_000)
                rounds.append((time.perf_counter() - t0) * 1e3)
                page.wait_for_function("() => window.__seen.curves", timeout=60_000)
                with_curves.append((time.perf_counter() - t0) * 1e3)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"in the browser (headless chromium), {len(rounds)} changes, Enter -> panel updated:")
    print(f"  {'round trip':20s} {_stats(rounds)}  (bottom line and table)")
    print(f"  {'with curves':20s} {_stats(with_curves)}  (the curves follow in the background)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_fit_arguments(ap)
    ap.add_argument("--repeats", type=int, default=3, help="passes over the change sequence [default: 3]")
    ap.add_argument("--browser", action="store_true", help="also time the round trip in headless chromium")
    args = ap.parse_args()
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    _, posterior = fit_from_args(args)
    in_process(posterior, args.repeats)
    if args.browser:
        in_browser(posterior)


if __name__ == "__main__":
    main()
