"""One fit with the worked example's IPD, shared by the recovery test and the notebook test.

The IPD is the reconstruction of ``examples/ipd/km.csv`` (300 simulated MWA patients) plus
``examples/ipd/registry.csv``, fitted with the session spec and the notebook's quick
sampler settings, so the notebook (RHCC_NB_QUICK=1) loads the same posterior from the cache.
A file lock makes one pytest-xdist worker fit while the other waits.
"""

from __future__ import annotations

import fcntl
import json
import warnings

import pytest

#: The notebook's quick settings (notebooks/04_ipd.py).
QUICK = {"chains": 2, "draws": 500, "tune": 500}


def example_ipd_files(work):
    """The notebook's IPD files: the reconstructed, labelled MWA arm and the registry."""
    from rhcc_bayes.core.paths import project_root
    from rhcc_bayes.ipd.reconstruct import reconstruct_files

    ex = project_root() / "examples" / "ipd"
    rec = reconstruct_files(ex / "km.csv", ex / "risk.csv")
    sim_km = work / "sim_km.csv"
    rec.ipd.assign(study="SIM-KM", arm="MWA", treatment="MWA")[
        ["study", "arm", "treatment", "time_months", "event"]].to_csv(sim_km, index=False)
    return [sim_km, ex / "registry.csv"], json.loads((ex / "truth.json").read_text())


@pytest.fixture(scope="session")
def ipd_example_fit(small_spec_path, fit_cache_dir, small_fit, tmp_path_factory):
    """(synthesis, posterior, truth) of the session spec with the example IPD (quick settings)."""
    from rhcc_bayes.synthesis import Synthesis

    files, truth = example_ipd_files(tmp_path_factory.mktemp("ipd_example"))
    synthesis = Synthesis(small_spec_path, ipd=files, settings=QUICK)
    with open(fit_cache_dir / ".ipd_lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                post = synthesis.fit(cache_dir=fit_cache_dir, allow_unconverged=True, progressbar=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return synthesis, post, truth
