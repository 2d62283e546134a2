"""Execute a notebook (jupytext percent script) in a kernel that inherits ``env``; shared by the
notebook tests. Asserts no cell raised and every figure cell (one calling ``plots.``) shows an image."""

from __future__ import annotations

import os
from pathlib import Path


def figure_cells(nb) -> list:
    """Code cells that draw a figure (call a function of ``plots``)."""
    return [c for c in nb.cells if c.cell_type == "code" and "plots." in c.source]


def run_notebook(path: Path, env: dict, tmp_path):
    """Run the notebook at ``path`` with ``env`` set (restored afterwards); returns the executed notebook."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
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
    # every figure cell displays its figure (no backend forced at import: Jupyter's inline backend)
    for cell in figure_cells(nb):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, f"{Path(path).name}: figure cell shows no image:\n{cell.source}"
    return nb
