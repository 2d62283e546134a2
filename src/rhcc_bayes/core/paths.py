"""Where the bundled evidence (``data/``) and model specs (``models/``) live.

The package is installed in editable mode from the repository (``make`` does so),
so the bundled folders are found beside ``src/``. ``RHCC_BAYES_HOME`` overrides
the repository root, e.g. for a copy of the data elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``data/`` and ``models/``."""
    env = os.environ.get("RHCC_BAYES_HOME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3]


def data_dir() -> Path:
    """Folder of the bundled evidence and treatment taxonomy."""
    return project_root() / "data"


def models_dir() -> Path:
    """Folder of the bundled model specs (TOML)."""
    return project_root() / "models"


def default_cache_dir() -> Path:
    """Posterior cache folder (``RHCC_BAYES_CACHE`` or ``.rhcc_cache`` in the working directory)."""
    return Path(os.environ.get("RHCC_BAYES_CACHE", ".rhcc_cache"))
