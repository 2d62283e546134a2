"""notebooks/04_ipd.py executes end to end (quick mode) on the cached session and IPD fits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_ipd.py"


def test_ipd_notebook_runs_and_shows_the_change(small_spec_path, fit_cache_dir, ipd_example_fit, tmp_path):
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(NOTEBOOK)
    env = {"RHCC_NB_SPEC": str(small_spec_path), "RHCC_BAYES_CACHE": str(fit_cache_dir), "RHCC_NB_QUICK": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "reconstructed IPD for SIM-KM, MWA: 300 patients" in text
    assert "with IPD:" in text and ("passed" in text or "FAILED" in text)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the reconstruction plot
    # the notebook hit the cache of the shared IPD fit instead of fitting again
    assert ipd_example_fit[1].cache_path.exists()
