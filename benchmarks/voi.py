"""Value-of-information speed and agreement on the bundled default model.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/voi.py [--cache-dir .rhcc_cache] [--profile P.toml]``

1. EVPPI for every default parameter group (each ranked option's own effect, each modality
   class, covariates, baseline, heterogeneity) of one profile's decision, from the default
   spec's posterior (fitted, or loaded from the cache). Target <= 30 s on 2 cores.
2. EVSI of a new RFA cohort (all-comers, 60 months follow-up) for five candidate n, on local
   processes. Target <= 5 min.
3. Agreement of the two smoothers (tensor-product GAM vs random-Fourier-feature GP) on the
   groups both can fit (<= 4 parameters, >= 2).

Wall and CPU time are printed; the machine is shared, so wall time depends on its load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default=os.environ.get("RHCC_BAYES_CACHE", ".rhcc_cache"))
    ap.add_argument("--profile", default=str(ROOT / "examples" / "profiles" / "multifocal_early_mvi.toml"))
    ap.add_argument("--treatment", default="RFA")
    ap.add_argument("--sizes", default="25,50,100,200,400")
    a = ap.parse_args()

    from rhcc_bayes.decision.evsi import evsi, evsi_text
    from rhcc_bayes.decision.profile import load_profile
    from rhcc_bayes.decision.voi import evppi, evppi_text
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import Synthesis

    pd.set_option("display.width", 160)
    post = Synthesis(load_spec("default"), load_evidence()).fit(cache_dir=a.cache_dir)
    profile = load_profile(a.profile)
    dec = post.decide(profile)
    draws = post.draws.posterior.sizes["chain"] * post.draws.posterior.sizes["draw"]
    print(f"default spec, {draws} posterior draws, profile {profile.id}, {len(dec.ranked)} ranked options; "
          f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")

    w0, c0 = time.perf_counter(), time.process_time()
    table = evppi(post, profile, decision=dec)
    w1, c1 = time.perf_counter() - w0, time.process_time() - c0
    print(evppi_text(table))
    print(f"\n[1] EVPPI, {len(table)} groups: wall {w1:.1f} s, cpu {c1:.1f} s (target <= 30 s)\n")

    sizes = [int(v) for v in a.sizes.split(",")]
    w0, c0 = time.perf_counter(), time.process_time()
    ev = evsi(post, profile, treatment=a.treatment, sizes=sizes, followup=60, decision=dec, executor="processes")
    w2, c2 = time.perf_counter() - w0, time.process_time() - c0
    print(evsi_text(ev))
    print(f"\n[2] EVSI, {len(sizes)} sizes on local processes: wall {w2:.1f} s, parent cpu {c2:.1f} s "
          "(target <= 300 s)\n")

    both = table[(table["parameters"] >= 2) & (table["parameters"] <= 4)]["group"].tolist()
    gam = evppi(post, profile, both, decision=dec, method="gam").set_index("group")
    rff = evppi(post, profile, both, decision=dec, method="rff").set_index("group")
    cmp = pd.DataFrame({"gam": gam["evppi"], "gam_se": gam["se"], "rff": rff["evppi"], "rff_se": rff["se"]})
    cmp["z"] = (cmp["gam"] - cmp["rff"]) / np.hypot(cmp["gam_se"], cmp["rff_se"])
    print("[3] GAM vs RFF on the groups both fit:")
    print(cmp.round(3).to_string())


if __name__ == "__main__":
    main()
