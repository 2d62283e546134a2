"""Decision-layer speed on a synthetic posterior.

Run: ``.venv/bin/python benchmarks/decide.py [--draws 4000] [--profiles 2000]``

1. Single profile: ``survival_summary`` (61 monthly points) + ``decision_table`` on
   4 chains x 1000 draws x 21 treatments x 4 segments. Interpreter start and imports
   are excluded; the figure is the median of repeated runs (best also shown).
2. Cohort, worst case: ``batch_decision_table`` over distinct per-profile posteriors
   generated lazily chunk by chunk (dask), in profiles/minute with peak traced memory.
3. Cohort, CLI path: 10,000 random clinical profiles through eligibility and
   ``decide_cohort``, which evaluates each distinct (covariates, candidates) once.

Wall time depends on how busy the (shared) machine is, so CPU time is printed too.

The worst case (2.) is numeric work, not overhead: each profile has its own 4000 draws x 21
treatments, integrated over the segments (``piecewise._fused``), sorted for quantiles
(``np.partition``) and ranked for P(best)/SUCRA (cProfile: ~75% of its time in those three).
The CLI never takes that path: the posterior depends on a patient only through 4 categorical
covariates (<= 108 combinations), so ``decide --cohort`` computes each distinct
(covariates, candidates) table once per run; its per-patient cost is eligibility, honesty
flags and output (``benchmarks/cohort_scale.py`` measures that path at 10k-1M patients).

Targets: <= 50 ms single profile; >= 10,000 profiles/minute.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np
import xarray as xr

from rhcc_bayes.decision.cohort import batch_decision_table, decide_cohort
from rhcc_bayes.decision.stats import decision_table
from rhcc_bayes.survival.piecewise import survival_summary

CUTS = (0.0, 12.0, 36.0, 60.0, float("inf"))
N_TREAT = 21


def synthetic(n_draws: int, n_profiles: int | None = None, seed: int = 1) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    chains = 4
    shape = (chains, n_draws // chains, N_TREAT, len(CUTS) - 1)
    dims = ("chain", "draw", "treatment", "segment")
    coords = {"treatment": [f"T{j:02d}" for j in range(N_TREAT)]}
    if n_profiles is not None:
        shape = (n_profiles, *shape)
        dims = ("profile", *dims)
        coords["profile"] = [f"p{i}" for i in range(n_profiles)]
    base = np.log([0.02, 0.015, 0.012, 0.01])
    lh = base + rng.normal(0, 0.35, shape) + rng.normal(0, 0.2, shape[-2:-1] + (1,))
    return xr.DataArray(lh, dims=dims, coords=coords)


def single(n_draws: int, repeats: int) -> dict:
    lh = synthetic(n_draws)
    survival_summary(lh, CUTS)  # warm-up (allocator, lazy imports)
    times, parts, cpu = [], [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        ds = survival_summary(lh, CUTS, horizon=60)
        t1 = time.perf_counter()
        decision_table(ds)
        t2 = time.perf_counter()
        cpu.append(time.process_time() - c0)
        times.append(t2 - t0)
        parts.append((t1 - t0, t2 - t1))
    assert ds["survival"].sizes["time"] == 61
    return {"median_ms": 1e3 * statistics.median(times), "best_ms": 1e3 * min(times),
            "cpu_ms": 1e3 * statistics.median(cpu),
            "summary_ms": 1e3 * statistics.median(p[0] for p in parts),
            "table_ms": 1e3 * statistics.median(p[1] for p in parts)}


def lazy_cohort(n_draws: int, n_profiles: int, chunk: int) -> xr.DataArray:
    """Distinct per-profile posteriors, generated chunk by chunk (dask), never all in RAM."""
    import dask.array as da

    base = synthetic(n_draws)
    pool = base.values
    offsets = np.linspace(-0.3, 0.3, n_profiles)

    def block(block_info=None):
        lo, hi = block_info[None]["array-location"][0]
        return pool[None] + offsets[lo:hi, None, None, None, None]

    data = da.map_blocks(block, dtype=float, chunks=((chunk,) * (n_profiles // chunk),
                                                     *((s,) for s in pool.shape)))
    return xr.DataArray(data, dims=("profile", *base.dims),
                        coords={"profile": [f"p{i}" for i in range(n_profiles)],
                                "treatment": base["treatment"]})


def timed(fn):
    tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, wall, cpu, peak / 2**20


def cohort_distinct(n_draws: int, n_profiles: int, chunk: int) -> dict:
    """Worst case: every profile has its own posterior (no shared covariates)."""
    lh = lazy_cohort(n_draws, n_profiles, chunk)
    batch_decision_table(lh.isel(profile=slice(0, chunk)), CUTS, chunk_size=chunk)  # warm-up
    df, wall, cpu, peak = timed(lambda: batch_decision_table(lh, CUTS, chunk_size=chunk))
    assert len(df) == n_profiles * N_TREAT
    return {"n": n_profiles, "wall": wall, "cpu": cpu, "peak_mb": peak}


def cohort_realistic(n_draws: int, n_profiles: int) -> dict:
    """The CLI path: random clinical profiles through eligibility + decide_cohort, which
    evaluates each distinct (covariates, candidate set) once."""
    from rhcc_bayes.decision.eligibility import RULES
    from rhcc_bayes.decision.profile import UNKNOWN, PatientProfile

    rng = np.random.default_rng(7)
    codes = list(RULES)[:N_TREAT]  # the 21 salvage codes of the brief
    base = synthetic(n_draws).assign_coords(treatment=codes)

    def provider(cov):  # stands in for the model: one posterior per covariate combination
        shift = (hash(tuple(cov.values())) % 97) / 300
        return base + shift

    tri = [True, False, UNKNOWN]
    profiles = [PatientProfile(
        id=f"p{i}", tumour_size_cm=rng.uniform(0.5, 12) if rng.random() < 0.9 else UNKNOWN,
        nodules=int(rng.integers(1, 7)), months_since_treatment=float(rng.uniform(1, 80)),
        child_pugh=str(rng.choice(["A", "B", "C", UNKNOWN])), ecog=int(rng.integers(0, 3)),
        portal_hypertension=tri[rng.integers(3)], portal_vein_thrombus=tri[rng.integers(3)],
        extrahepatic_spread=tri[rng.integers(3)], microvascular_invasion=tri[rng.integers(3)],
        prior_treatment=str(rng.choice(["resection", "transplant", "ablation", UNKNOWN])),
        near_gallbladder=tri[rng.integers(3)], near_large_vessel=tri[rng.integers(3)],
        resection_candidate=tri[rng.integers(3)], transplant_candidate=tri[rng.integers(3)],
    ) for i in range(n_profiles)]
    df, wall, cpu, peak = timed(lambda: decide_cohort(profiles, provider, CUTS))
    assert len(df) == n_profiles * N_TREAT
    return {"n": n_profiles, "wall": wall, "cpu": cpu, "peak_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--profiles", type=int, default=400,
                    help="profiles with distinct posteriors (worst case)")
    ap.add_argument("--chunk", type=int, default=8, help="profiles per chunk")
    ap.add_argument("--cohort", type=int, default=10000, help="clinical profiles (CLI path)")
    args = ap.parse_args()
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    s = single(args.draws, args.repeats)
    print(f"single profile ({args.draws} draws x {N_TREAT} treatments x 61 months): "
          f"median {s['median_ms']:.1f} ms wall (best {s['best_ms']:.1f} ms; CPU "
          f"{s['cpu_ms']:.1f} ms; summary {s['summary_ms']:.1f} ms + table "
          f"{s['table_ms']:.1f} ms)  target <= 50 ms")
    c = cohort_distinct(args.draws, args.profiles, args.chunk)
    print(f"cohort, distinct posterior per profile ({c['n']} profiles, chunks of {args.chunk}): "
          f"{c['n'] / c['wall'] * 60:,.0f} profiles/min wall, {c['n'] / c['cpu'] * 60:,.0f} "
          f"per CPU-minute; peak traced memory {c['peak_mb']:.0f} MB  target >= 10,000/min")
    r = cohort_realistic(args.draws, args.cohort)
    print(f"cohort, clinical profiles via decide_cohort ({r['n']} profiles, eligibility "
          f"included): {r['n'] / r['wall'] * 60:,.0f} profiles/min wall, "
          f"{r['n'] / r['cpu'] * 60:,.0f} per CPU-minute; peak traced memory "
          f"{r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
