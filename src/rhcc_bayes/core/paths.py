"""Where the bundled evidence (``data/``), model specs (``models/``) and examples live.

Three places, first match wins:

1. ``RHCC_BAYES_HOME`` (a folder holding ``data/`` and ``models/``), e.g. a curated copy;
2. the repository checkout this package runs from (editable install: ``src/`` beside ``data/``);
3. the copies shipped inside an installed wheel (``rhcc_bayes/_bundled``, see ``setup.py``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``data/``, ``models/`` and ``examples/``."""
    env = os.environ.get("RHCC_BAYES_HOME")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "data" / "evidence.csv").is_file() and (checkout / "src" / "rhcc_bayes").is_dir():
        return checkout
    return Path(str(resources.files("rhcc_bayes") / "_bundled"))


def data_dir() -> Path:
    """Folder of the bundled evidence and treatment taxonomy."""
    return project_root() / "data"


def models_dir() -> Path:
    """Folder of the bundled model specs (TOML)."""
    return project_root() / "models"


def examples_dir() -> Path:
    """Folder of the example profiles, cohort, utility weights and reference data."""
    return project_root() / "examples"


def default_cache_dir() -> Path:
    """Posterior cache folder (``RHCC_BAYES_CACHE`` or ``.rhcc_cache`` in the working directory)."""
    return Path(os.environ.get("RHCC_BAYES_CACHE", ".rhcc_cache"))
