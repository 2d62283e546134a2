"""A wheel carries the bundled evidence, specs and examples and runs outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """Build the wheel and unpack it with pip into a folder outside the repository."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    wheels = list((tmp / "dist").glob("rhcc_bayes-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for needed in ("rhcc_bayes/_bundled/data/evidence.csv", "rhcc_bayes/_bundled/data/treatments.csv",
                   "rhcc_bayes/_bundled/models/default.toml",
                   "rhcc_bayes/_bundled/examples/profiles/small_solitary_late.toml"):
        assert needed in names
    site = tmp / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheels[0])],
                          capture_output=True, text=True)
    assert inst.returncode == 0, inst.stderr
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RHCC_BAYES_HOME"}
    env["PYTHONPATH"] = str(site)  # ahead of the editable install of the checkout
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_installed_package_finds_its_bundled_files_from_any_directory(installed_wheel, tmp_path):
    code = ("import rhcc_bayes.core.paths as p, rhcc_bayes; "
            "print(rhcc_bayes.__file__); print(p.project_root()); print(p.models_dir().joinpath('default.toml').is_file())")
    out = _run(installed_wheel, tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr
    module_file, root, has_spec = out.stdout.split()
    assert Path(module_file).is_relative_to(installed_wheel)
    assert Path(root) == installed_wheel / "rhcc_bayes" / "_bundled"
    assert has_spec == "True"


def test_installed_cli_validates_the_bundled_evidence_outside_the_checkout(installed_wheel, tmp_path):
    out = _run(installed_wheel, tmp_path, "-m", "rhcc_bayes.cli.main", "evidence", "validate")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK:")
