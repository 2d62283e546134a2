"""notebooks/04_ipd.py executes end to end (quick mode) on the cached session and IPD fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_runner import run_notebook

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_ipd.py"


def test_ipd_notebook_runs_and_shows_the_change(small_spec_path, fit_cache_dir, ipd_example_fit, tmp_path):
    env = {"RHCC_NB_SPEC": str(small_spec_path), "RHCC_BAYES_CACHE": str(fit_cache_dir), "RHCC_NB_QUICK": "1"}
    nb = run_notebook(NOTEBOOK, env, tmp_path)  # no cell raised
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "reconstructed IPD for SIM-KM, MWA: 300 patients" in text
    assert "with IPD:" in text and ("passed" in text or "FAILED" in text)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the reconstruction plot
    # the notebook hit the cache of the shared IPD fit instead of fitting again
    assert ipd_example_fit[1].cache_path.exists()
