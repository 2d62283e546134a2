"""Build hook: ship the bundled evidence, model specs and examples inside the package.

``data/``, ``models/`` and ``examples/`` stay at the repository root (where curators edit
them); a wheel carries copies under ``rhcc_bayes/_bundled/`` so an installed package finds
them with :mod:`importlib.resources` from any working directory.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("data", "models", "examples")


class BuildPyWithBundled(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "rhcc_bayes" / "_bundled"
        for name in BUNDLED:
            if (root / name).is_dir():
                shutil.copytree(root / name, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithBundled})
