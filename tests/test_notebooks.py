"""The notebooks (jupytext percent scripts) execute end to end on the session fit's cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.slow


def _run(name: str, env: dict, tmp_path) -> None:
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(NB_DIR / name)
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
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.fixture(scope="module")
def nb_env(small_spec_path, fit_cache_dir, small_fit):
    return {"RHCC_NB_SPEC": str(small_spec_path), "RHCC_BAYES_CACHE": str(fit_cache_dir)}


@pytest.mark.parametrize("name", ["01_quickstart.py", "03_cohort.py"])
def test_cheap_notebooks(name, nb_env, tmp_path):
    _run(name, nb_env, tmp_path)


def test_model_comparison_quick(nb_env, tmp_path):
    """Quick mode: light-sampler default and Weibull fits (two compiles the first time, then cached)."""
    _run("02_model_comparison.py", {**nb_env, "RHCC_NB_QUICK": "1"}, tmp_path)
