"""Benchmark patient-level data: reconstruction time, and the cost of IPD in a fit.

1. Reconstruction (Guyot et al. 2012) of a 500-patient arm from 200 digitised points
   (target <= 1 s): best and median of repeated runs.
2. Sampling time of the default spec on the bundled evidence, without IPD and with 5,000
   simulated patients (a registry of 5 treatments with covariates, aggregated by arm x
   covariate pattern) (target: <= 1.5x, gate passes). Compile and sampling time are
   reported separately (``idata.attrs``); the gate verdict of both fits is printed.

    PYTHONPATH=src .venv/bin/python benchmarks/ipd.py [--skip-fit] [--draws N --tune N --chains N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

CUTS = [0.0, 12.0, 36.0]
HAZARDS = [0.02, 0.015, 0.012]


def bench_reconstruction(repeats: int = 7) -> None:
    from rhcc_bayes.ipd.reconstruct import RiskTable, clean_curve, reconstruct
    from rhcc_bayes.ipd.simulate import censored_cohort, digitise, risk_table

    rng = np.random.default_rng(1)
    cohort = censored_cohort(rng, HAZARDS, CUTS, 500, follow_up=(24.0, 72.0))
    curve = digitise(rng, cohort["time_months"], cohort["event"], n_points=200)
    risk = risk_table(cohort["time_months"], np.arange(0.0, 61.0, 6.0))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rec = reconstruct(clean_curve(curve["time_months"], curve["survival"]),
                          RiskTable(risk["time_months"].to_numpy(), risk["n_at_risk"].to_numpy(),
                                    np.arange(2, 2 + len(risk))))
        times.append(time.perf_counter() - t0)
    print(f"reconstruction: 500 patients from {len(curve)} digitised points: best {min(times) * 1e3:.1f} ms, "
          f"median {np.median(times) * 1e3:.1f} ms (target <= 1000 ms); max |dS| {rec.max_abs_diff:.4f}")


def registry(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` simulated patients of 5 treatments with covariates (columns of an --ipd file)."""
    from rhcc_bayes.ipd.simulate import piecewise_times

    rng = np.random.default_rng(seed)
    trt = rng.choice(["RFA", "MWA", "REPEAT-RESECTION", "TACE", "SBRT"], n)
    size = np.round(rng.gamma(3.0, 1.1, n) + 0.5, 1)
    nodules = rng.choice([1, 1, 2, 3], n)
    months = np.round(rng.gamma(2.0, 10.0, n), 1)
    log_hr = {"RFA": 0.0, "MWA": 0.0, "REPEAT-RESECTION": -0.2, "TACE": 0.4, "SBRT": 0.2}
    lhr = np.array([log_hr[t] for t in trt]) + 0.3 * (size > 3) + 0.3 * (nodules > 1) + 0.3 * (months < 12)
    death = piecewise_times(rng, [0.012, 0.015, 0.018], CUTS, n, lhr)
    cens = rng.uniform(6.0, 84.0, n)
    return pd.DataFrame({"study": "BENCH-REG", "arm": trt, "treatment": trt,
                         "time_months": np.maximum(np.round(np.minimum(death, cens), 2), 0.01),
                         "event": (death <= cens).astype(int),
                         "tumour_size_cm": size, "nodules": nodules, "months_since_treatment": months,
                         "prior_treatment": "resection"})


def bench_fit(n_patients: int, overrides: dict) -> None:
    from rhcc_bayes.synthesis import Synthesis
    from rhcc_bayes.survival.ipd import segment_cells

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.csv"
        registry(n_patients).to_csv(path, index=False)
        rows = []
        for label, ipd in (("without IPD", None), (f"with {n_patients} IPD patients", path)):
            synthesis = Synthesis("default", ipd=ipd, settings=overrides or None)
            if ipd is not None:
                cells = segment_cells(synthesis.design.ipd.rows, synthesis.design.cuts)
                print(f"  {n_patients} patients -> {len(synthesis.design.ipd.rows)} distinct rows -> "
                      f"{len(cells)} Poisson cells (arm x pattern x segment)")
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                post = synthesis.fit(cache_dir=None, allow_unconverged=True, progressbar=False)
            a = post.idata.attrs
            rows.append((label, time.perf_counter() - t0, a["wall_time_compile_s"], a["wall_time_sampling_s"],
                         post.gate.passed))
        s = synthesis.settings
        print(f"fit of the default spec ({s.chains} chains x {s.draws} draws + {s.tune} tuning):")
        for label, total, comp, samp, passed in rows:
            print(f"  {label:<26} total {total:6.1f} s, compile {comp:5.1f} s, sampling {samp:6.1f} s, "
                  f"gate {'passed' if passed else 'FAILED'}")
        print(f"  sampling time ratio with/without IPD: {rows[1][3] / rows[0][3]:.2f}x (target <= 1.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--chains", type=int)
    ap.add_argument("--draws", type=int)
    ap.add_argument("--tune", type=int)
    args = ap.parse_args()
    bench_reconstruction()
    if not args.skip_fit:
        overrides = {k: v for k in ("chains", "draws", "tune") if (v := getattr(args, k)) is not None}
        bench_fit(args.patients, overrides)


if __name__ == "__main__":
    main()
