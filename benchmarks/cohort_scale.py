"""Cohort streaming at scale: ``rhcc-bayes decide --cohort`` on synthetic cohorts of 10k-1M patients.

Run (uses the cached posterior of ``--spec``; fit it once first, e.g. ``rhcc-bayes fit``):

    python benchmarks/cohort_scale.py [--sizes 10000,100000,1000000] [--workers 1,2]
                                      [--spec default] [--cache-dir .rhcc_cache] [--keep DIR]

Each size runs the CLI in a fresh process (interpreter start, imports and posterior load
included) and prints wall and CPU time, profiles per minute of wall time and per CPU-minute
(the machine may be shared: per CPU-minute x cores is what an idle machine gives) and the peak RSS of the command's process tree
(``wait4`` rusage: the largest process, worker processes included) and the 5-minute load
average at the end of the run (2 = both cores busy). The synthetic cohort has
random values of every field (10% unknown sizes, a third unknown flags), i.e. realistic
variety of covariate combinations and candidate sets. Output rows: patients x treatments.

Targets (issue 13): <= 1 GB and >= 100,000 profiles/min for 1M patients on 2 cores.

Measured 2026-11-30 18:09-18:45 with the DEFAULT spec's posterior (4 x 2000 draws, cached
with ``rhcc-bayes fit --cache-dir``) on the 2-core machine shared with 4 other sessions:
5-minute load average 5-7 throughout (last column), i.e. this run got roughly one core
whatever its worker count (the 10k rows are from a second run at 18:37). Profiles per CPU-minute is the machine-independent figure: one
worker on an idle core gives about that many per minute of wall time.

Measured 2026-11-30 19:27 on the same machine nearly idle (load 1.4-2.3; the helpers done),
default posterior at MODEL_VERSION .7, after the reduced prediction posterior:

    patients workers   wall s    CPU s  profiles/min  per CPU-min  peak RSS MB  output MB  load
     1000000       2    188.7    368.0       317,949      163,026          405     11,999   2.3
     1000000       1    310.6    310.3       193,185      193,389          431     11,999   1.5

Earlier, on the loaded machine:

    patients workers   wall s    CPU s  profiles/min  per CPU-min  peak RSS MB  output MB  load
       10000       1     13.5      9.2        44,604       65,573          278        110   5.0
       10000       2     23.6     15.6        25,383       38,341          277        110   5.0
      100000       1     75.0     37.2        80,001      161,481          295      1,098   6.0
      100000       2     96.4     51.5        62,216      116,528          314      1,098   6.3
    1000000       1    616.8    318.6        97,270      188,303          404     10,997   6.1
    1000000       2    690.0    391.9        86,962      153,113          400     10,997   6.5

The code before (commit d9c61ce), same machine and posterior, load 6.0:

      100000       1    112.5     63.3        53,327       94,832          969      1,098   6.0
      100000       2    113.9     83.2        52,656       72,136        1,174      1,098   6.0

Memory: the largest process is now ~300 MB at 100k and ~400 MB at 1M (the extra 100 MB is
the duplicate-id index of the reader, ~120 bytes per patient). Before, 1.2 GB went to ~320 MB
of imports (ArviZ ~200 MB), ~65 MB of the whole posterior and ~650 MB of cached survival
summaries (96 covariate combinations x 7 MB of draws); see
:mod:`rhcc_bayes.decision.cohort_stream`. Speed: 0.32 ms CPU per patient in one process at
1M (188k per CPU-minute, of which ~10% reading and validating the CSV); two workers add
~25% CPU (a second process's imports and table cache, chunks and text through pipes), so
on an idle 2-core machine one worker gives ~190k/min and two ~300k/min (not measured: the
machine was never idle). On the loaded machine 1M patients ran at 97k/min (1 worker) and
87k/min (2 workers) of wall time with ~1 core available.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = ["id", "tumour_size_cm", "nodules", "months_since_treatment", "microvascular_invasion", "afp_ng_ml",
           "child_pugh", "portal_hypertension", "ecog", "prior_treatment", "extrahepatic_spread",
           "portal_vein_thrombus", "near_gallbladder", "near_bowel", "near_diaphragm", "near_large_vessel",
           "resection_candidate", "transplant_candidate"]


def write_cohort(path: Path, n: int, seed: int = 7) -> Path:
    """A synthetic cohort CSV of ``n`` random patients, written block by block."""
    rng = np.random.default_rng(seed)
    tri = np.array(["yes", "no", "unknown"])
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            size = np.round(rng.uniform(0.5, 12, m), 1).astype(str)
            size[rng.random(m) < 0.1] = ""
            cols = [np.char.add("p", np.arange(start, start + m).astype(str)), size,
                    rng.integers(1, 7, m).astype(str), np.round(rng.uniform(1, 80, m), 1).astype(str),
                    tri[rng.integers(0, 3, m)], np.round(rng.uniform(1, 2000, m), 0).astype(str),
                    rng.choice(["A", "B", "C", ""], m), tri[rng.integers(0, 3, m)], rng.integers(0, 3, m).astype(str),
                    rng.choice(["resection", "transplant", "ablation", ""], m)]
            cols += [tri[rng.integers(0, 3, m)] for _ in range(8)]
            f.write("\n".join(",".join(r) for r in zip(*cols)) + "\n")
    return path


def run_cli(argv: list[str]) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB of the process tree, exit code, stderr tail) of one CLI run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rhcc_bayes.cli.main", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime  # the command and its reaped worker processes
    return time.perf_counter() - t0, cpu, usage.ru_maxrss / 1024, proc.returncode, err[-600:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare")
    ap.add_argument("--spec", default="default")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--allow-unconverged", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="write cohorts and outputs here (default: a temp dir)")
    args = ap.parse_args()
    fit = ["--spec", args.spec] + (["--cache-dir", args.cache_dir] if args.cache_dir else []) + (
        ["--allow-unconverged"] if args.allow_unconverged else [])
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.keep or tmp)
        d.mkdir(parents=True, exist_ok=True)
        print(f"{'patients':>9} {'workers':>7} {'wall s':>8} {'CPU s':>8} {'profiles/min':>13} "
              f"{'per CPU-min':>12} {'peak RSS MB':>12} {'output MB':>10} {'load':>5}")
        for n in (int(s) for s in args.sizes.split(",")):
            cohort = write_cohort(d / f"cohort_{n}.csv", n)
            for w in (int(s) for s in args.workers.split(",")):
                out = d / f"out_{n}_{w}.csv"
                wall, cpu, rss, code, err = run_cli(["decide", "--cohort", str(cohort), "--out", str(out),
                                                "--workers", str(w), *fit])
                if code:
                    print(f"{n:>9} {w:>7}  FAILED (exit {code}): {err}")
                    continue
                size = out.stat().st_size / 2**20
                print(f"{n:>9} {w:>7} {wall:>8.1f} {cpu:>8.1f} {n / wall * 60:>13,.0f} {n / cpu * 60:>12,.0f} "
                      f"{rss:>12,.0f} {size:>10,.0f} {os.getloadavg()[1]:>5.1f}", flush=True)
                out.unlink()
            cohort.unlink()


if __name__ == "__main__":
    main()
