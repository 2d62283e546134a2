"""Benchmark patient-level data: reconstruction time, and the cost of IPD in a fit.

1. Reconstruction (Guyot et al. 2012) of a 500-patient arm from 200 digitised points
   (target <= 1 s): best and median of repeated runs.
2. Sampling time of the default spec on the bundled evidence, without IPD and with 5,000
   simulated patients (a registry of 5 treatments with covariates, aggregated by arm x
   covariate pattern) (target: <= 1.5x, gate passes). Compile and sampling time are
   reported separately (``idata.attrs``); the gate verdict of both fits is printed.

    PYTHONPATH=src .venv/bin/python benchmarks/ipd.py [--skip-fit] [--patients 1000,10000,100000]
        [--draws N --tune N --chains N] [--set key=value ...]

``--set`` (repeatable, TOML values) overrides the spec's ``[sampler]`` settings, as in
benchmarks/seed_sweep.py (e.g. ``--set low_rank_mass_matrix=true``).

IPD enter the likelihood as Poisson cells (arm x covariate pattern x segment), so the cost
should follow the number of distinct cells, not of patients; ``--patients`` with several
sizes prints one row each and the growth exponent of the sampling time.

Model .11, default spec (4 x (500 + 1200), 0.93, draws-only mass matrix), 2026-12-01, load 1.3-1.8:

   IPD patients  cells  total s compile s sample s  steps x no IPD  gate
              0      0     14.3       0.7     10.1   33.5     1.00  passed
           1000    214    147.0     131.0     14.5   60.7     1.43  passed
          10000    240    152.9     116.5     32.4  127.0     3.20  passed
         100000    240    220.7     117.9    101.1  485.3     9.97  passed

The cells saturate (240 from 10k patients on) but the leapfrog steps per draw did not: precise
IPD cells pinned combinations (baseline hazard + the registry's study effect + covariate
effects; RFA vs MWA within the ablation class, tau * (z_RFA - z_MWA)) whose terms stay
prior-wide (10k patients: step size 0.033; low-rank mass matrix: 31 steps but 5 divergences,
min bulk ESS 225, rejected). Each registry also recompiled (~2 min): the cells were constants.

Model .11 + IPD study log hazard sampled (survival/ipd.py), cells as padded data containers,
2026-12-01, load 6-8 (timings not comparable with the rows above; steps are):

   IPD patients  cells  total s compile s sample s  steps x no IPD  gate
              0      0     95.6      53.0     37.1   33.5     1.00  passed
           1000    214     92.0       1.2     68.9   39.9     1.86  FAILED (2 divergences)
          10000    240    112.3       1.8     98.9   63.0     2.66  passed
         100000    240    195.3       1.7    184.8  266.2     4.98  FAILED (26 divergences; z_RFA ~ z_MWA 0.92)

+ every IPD treatment's class deviation sampled centred (rejected), load 1.6-1.9 (no-IPD fit at ~5):

           1000    214    454.8     437.7     13.5   38.7     0.52  FAILED
          10000    240     24.9       0.6     18.8   62.9     0.73  FAILED (6 divergences; d_RFA ~ -d_MWA)
         100000    240     75.3       0.8     70.0  254.8     2.71  FAILED

+ only contrasts between IPD treatments of one class centred (Helmert; rejected: the IPD ridges
leave the worst eigenvectors, diagonal-scaled condition 162 -> 61 at 10k, but no fewer steps and
2 divergences at 10k), load 1.2-1.8:

              0      0     13.2       0.6      9.5   33.5     1.00  passed
           1000    214     17.6       0.5     13.6   40.8     1.43  FAILED
          10000    240     24.4       0.5     21.1   63.1     2.22  FAILED
         100000    240     76.5       0.5     72.5  253.6     7.62  FAILED

Merged main (model .12, padded cells, plain z_study; the new default 4 x (300 + 1000) at 0.90),
2026-12-01, load 1.4-1.8 (one process: the 10k registry reuses the 1k registry's compiled model):

   IPD patients  cells  total s compile s sample s  steps x no IPD  gate
              0      0     12.1       0.5      8.3   31.0     1.00  passed
           1000    214    103.0      90.1     10.0   43.3     1.20  passed
          10000    240     32.3       0.6     26.9  127.0     3.22  passed
         100000    240     93.1       0.5     89.3  416.6    10.13  passed  (a new process, load 1.6:
                                                                              the compile index entry of the 1k run)

Kept: the padded cells only (the registries here share the 256-cell bucket: one compile, then
0.5-2 s instead of ~2 min each). The study log hazard (second table) was dropped at the merge:
fewer steps, but it failed the gate at 1k and 100k where the plain model passed (first
table), so IPD studies keep z_study. Open: steps still grow with patients (first table).
"""

from __future__ import annotations

import argparse
import os
import sys
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


def bench_fit(sizes: list[int], overrides: dict) -> None:
    """Fit the default spec without IPD, then with each registry size; one row per fit."""
    from rhcc_bayes.synthesis import Synthesis
    from rhcc_bayes.survival.ipd import segment_cells

    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in [0, *sizes]:
            path = None
            if n:
                path = Path(tmp) / f"registry_{n}.csv"
                registry(n).to_csv(path, index=False)
            synthesis = Synthesis("default", ipd=path, settings=overrides or None)
            cells = len(segment_cells(synthesis.design.ipd.rows, synthesis.design.cuts)) if n else 0
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                post = synthesis.fit(cache_dir=None, allow_unconverged=True, progressbar=False)
            a, st = post.idata.attrs, post.idata.sample_stats
            rows.append((n, cells, time.perf_counter() - t0, a["wall_time_compile_s"], a["wall_time_sampling_s"],
                         float(st["n_steps"].mean()), post.gate.passed))
            print(f"  fitted {n} IPD patients (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
        s = synthesis.settings
        print(f"fit of the default spec ({s.chains} chains x {s.draws} draws + {s.tune} tuning), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
        print(f"{'IPD patients':>13}{'cells':>7}{'total s':>9}{'compile s':>10}{'sample s':>9}{'steps':>7}"
              f"{'x no IPD':>9}  gate")
        for n, cells, total, comp, samp, steps, passed in rows:
            print(f"{n:>13}{cells:>7}{total:>9.1f}{comp:>10.1f}{samp:>9.1f}{steps:>7.1f}{samp / rows[0][4]:>9.2f}"
                  f"  {'passed' if passed else 'FAILED'}")
        if len(sizes) > 1:
            slope = np.polyfit(np.log([r[0] for r in rows[1:]]), np.log([r[4] for r in rows[1:]]), 1)[0]
            print(f"growth exponent: sampling s ~ patients^{slope:.2f} (cells, not patients, enter the likelihood)")
        print("target: sampling with IPD <= 1.5x without, gate passes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--patients", default="5000", help="registry sizes, comma-separated, e.g. 1000,10000,100000")
    ap.add_argument("--chains", type=int)
    ap.add_argument("--draws", type=int)
    ap.add_argument("--tune", type=int)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a [sampler] setting (TOML value), e.g. --set low_rank_mass_matrix=true")
    args = ap.parse_args()
    bench_reconstruction()
    if not args.skip_fit:
        from seed_sweep import parse_overrides  # benchmarks/ is on sys.path when run as a script

        overrides = {k: v for k in ("chains", "draws", "tune") if (v := getattr(args, k)) is not None}
        overrides.update(parse_overrides(args.set))
        if overrides.get("low_rank_mass_matrix"):  # the spec's draws-only switch is for the diagonal one
            overrides.setdefault("grad_based_mass_matrix", True)
        bench_fit([int(n) for n in args.patients.split(",")], overrides)


if __name__ == "__main__":
    main()
