"""rhcc_bayes (PyMC + nutpie) against its Stan twin (PyStan 3) on the default spec: speed and agreement.

Each side runs in fresh Python processes (one warm-up run fills the compile caches: PyTensor/
numba for rhcc_bayes, httpstan's model cache for Stan; then ``--repeats`` measured runs,
alternating the two sides). rhcc_bayes fits through its normal path
(``Synthesis(spec).fit()``: compile, sampling, log-likelihood, posterior predictive, gate);
the twin (``benchmarks/stan_twin/``) is built from the same ``SurvivalDesign`` and sampled
with the same chains, draws, warm-up and target acceptance. Printed:

* speed: compile in a new process (warm caches), sampling, min bulk / tail ESS over the
  shared parameters, ESS/s of sampling (min bulk ESS / sampling s), and the wall time of
  the whole new process from outside (start-up to exit); ranges are min-max over repeats;
* agreement: for every shared parameter the posterior mean and SD of both, and
  z = difference / sqrt(mcse_1^2 + mcse_2^2) for the mean and for the SD; |z| > 4 is flagged.
  Speed figures mean nothing unless agreement holds.

    pip install pystan            # 3.x: brings httpstan (needs g++); first build ~1-2 min
    PYTHONPATH=src python benchmarks/compare_stan.py [--draws N --tune N] [--repeats 3]

Measured (full settings of the default spec: 4 chains x 2000 draws, 1500 warm-up,
target_accept 0.98; 2-core machine shared with other sessions):

    (filled in from the run below)
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
Z_FLAG = 4.0


# --- children: one side, one new process ------------------------------------------------
def _synthesis(args):
    """The spec's Synthesis with the command line's chains/draws/tune overrides."""
    from rhcc_bayes.synthesis import Synthesis

    overrides = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k)}
    return Synthesis(args.spec, settings=overrides or None)


def _settings(syn) -> dict:
    s = syn.settings
    return {"chains": s.chains, "draws": s.draws, "tune": s.tune, "target_accept": s.target_accept}


def child_pymc(args) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    import numpy as np

    from stan_twin import export

    syn = _synthesis(args)
    imports = time.perf_counter() - T_START
    post = syn.fit(cache_dir=None, allow_unconverged=True)
    idata = post.idata
    draws = {}
    for label, (name, index), _ in export.shared_parameters(syn.design):
        values = np.asarray(idata.posterior[name].values)
        draws[label] = values[(slice(None), slice(None), *index)]
    np.savez(args.out, **draws)
    stats = idata.sample_stats
    return {"imports": imports, "compile": float(idata.attrs["wall_time_compile_s"]),
            "sampling": float(idata.attrs["wall_time_sampling_s"]),
            "divergences": int(stats["diverging"].values.sum()), "seed": int(idata.attrs["seed"])}


def child_stan(args) -> dict:
    import numpy as np

    import stan  # noqa: F401  (counted with the imports)
    from rhcc_bayes.survival.design import make_design
    from stan_twin import export, run

    syn = _synthesis(args)
    imports = time.perf_counter() - T_START
    settings = _settings(syn)
    design = make_design(syn.evidence, syn.spec)
    data = export.stan_data(design, syn.spec)
    model, compile_s = run.build(data, seed=syn.resolve_seed())
    fit, sampling_s = run.sample(model, **settings)
    draws = {}
    cache = {}
    for label, _, (name, index) in export.shared_parameters(design):
        if name not in cache:
            cache[name] = run.draws_of(fit, name)
        draws[label] = cache[name][(slice(None), slice(None), *index)]
    np.savez(args.out, **draws)
    return {"imports": imports, "compile": compile_s, "sampling": sampling_s,
            "divergences": run.divergences(fit), "seed": syn.resolve_seed()}


# --- parent: run, time, compare -----------------------------------------------------------
def run_child(side: str, args, out: str) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--out", out, "--spec", args.spec]
    for key in ("chains", "draws", "tune"):
        if getattr(args, key):
            cmd += [f"--{key}", str(getattr(args, key))]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{side} child failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["whole"] = wall
    return result


def _scalar(value) -> float:
    import numpy as np

    return float(np.ravel(value)[0])


def mcse_sd(x) -> float:
    """Monte Carlo SE of the posterior SD (ArviZ's formula; its numba path fails on numpy 2)."""
    import arviz as az
    import numpy as np

    sq = (x - x.mean()) ** 2
    ess = _scalar(az.ess(sq, method="mean"))
    varvar = ((sq ** 2).mean() - sq.mean() ** 2) / ess
    return float(np.sqrt(varvar / sq.mean() / 4))


def summarise(path: str) -> dict:
    """Per shared parameter: mean, sd, mcse of both, bulk/tail ESS, R-hat (ArviZ)."""
    import arviz as az
    import numpy as np

    out = {}
    with np.load(path) as f:
        for label in f.files:
            x = np.asarray(f[label], dtype=float)
            out[label] = {"mean": float(x.mean()), "sd": float(x.std(ddof=1)),
                          "mcse_mean": _scalar(az.mcse(x, method="mean")), "mcse_sd": mcse_sd(x),
                          "bulk": _scalar(az.ess(x, method="bulk")), "tail": _scalar(az.ess(x, method="tail")),
                          "rhat": _scalar(az.rhat(x))}
    return out


def _span(values, fmt="{:.2f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def speed_table(results: dict, summaries: dict) -> list[str]:
    head = ("| | compile in a new process (warm caches) | sampling s | min bulk / tail ESS | ESS/s sampling "
            "| whole new process s | divergences | max R-hat |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    names = {"pymc": "rhcc_bayes (nutpie, numba)", "stan": "Stan twin (PyStan, cached model)"}
    for side, runs in results.items():
        s = summaries[side]
        bulk = min(v["bulk"] for v in s.values())
        tail = min(v["tail"] for v in s.values())
        rhat = max(v["rhat"] for v in s.values())
        lines.append(
            f"| {names[side]} | {_span([r['compile'] for r in runs])} s | {_span([r['sampling'] for r in runs])} "
            f"| {bulk:.0f} / {tail:.0f} | {_span([bulk / r['sampling'] for r in runs], '{:.0f}')} "
            f"| {_span([r['whole'] for r in runs], '{:.1f}')} | {runs[0]['divergences']} | {rhat:.3f} |")
    return lines


def agreement_table(summaries: dict) -> tuple[list[str], int]:
    import math

    a, b = summaries["pymc"], summaries["stan"]
    lines = [f"{'parameter':<44}{'mean rhcc':>10}{'mean stan':>10}{'z mean':>8}{'sd rhcc':>9}{'sd stan':>9}"
             f"{'z sd':>7}  flag"]
    flagged = 0
    for label in a:
        p, q = a[label], b[label]
        z_m = (p["mean"] - q["mean"]) / math.sqrt(p["mcse_mean"] ** 2 + q["mcse_mean"] ** 2)
        z_s = (p["sd"] - q["sd"]) / math.sqrt(p["mcse_sd"] ** 2 + q["mcse_sd"] ** 2)
        flag = "|z|>4" if max(abs(z_m), abs(z_s)) > Z_FLAG else ""
        flagged += bool(flag)
        lines.append(f"{label:<44}{p['mean']:>10.3f}{q['mean']:>10.3f}{z_m:>8.2f}{p['sd']:>9.3f}{q['sd']:>9.3f}"
                     f"{z_s:>7.2f}  {flag}")
    return lines, flagged


def density_check(args) -> None:
    import warnings

    warnings.simplefilter("ignore")
    from stan_twin import density

    syn = _synthesis(args)
    diff = density.compare(syn.design, syn.spec, points=args.density_check)
    spread = float(diff.max() - diff.min())
    print(f"log p_PyMC - log p_Stan (no Jacobians) at {len(diff)} posterior points: "
          f"mean {diff.mean():.6f}, spread (max - min) {spread:.2e} "
          f"({'the same density up to a constant' if spread < 1e-6 else 'DIFFERENT densities'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--chains", type=int, default=0, help="override the spec's chains")
    parser.add_argument("--draws", type=int, default=0, help="override the spec's draws")
    parser.add_argument("--tune", type=int, default=0, help="override the spec's tune")
    parser.add_argument("--repeats", type=int, default=3, help="measured new-process runs per side")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs per side first (fill caches)")
    parser.add_argument("--density-check", type=int, nargs="?", const=20, default=0, metavar="POINTS",
                        help="instead: PyMC and Stan log densities at POINTS draws (difference must be constant)")
    parser.add_argument("--child", choices=["pymc", "stan"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = (child_pymc if args.child == "pymc" else child_stan)(args)
        print(json.dumps(result))
        return

    if args.density_check:
        density_check(args)
        return
    load_before = os.getloadavg()
    results: dict = {"pymc": [], "stan": []}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {side: str(Path(tmp) / f"{side}.npz") for side in results}
        for side in [s for s in results for _ in range(args.warmup)]:  # fills the compile caches
            first = run_child(side, args, outs[side])
            print(f"warm-up {side}: compile {first['compile']:.1f} s, whole process {first['whole']:.1f} s",
                  file=sys.stderr, flush=True)
        for i in range(args.repeats):
            for side in results:
                results[side].append(run_child(side, args, outs[side]))
                print(f"run {i + 1} {side}: {results[side][-1]}", file=sys.stderr, flush=True)
        summaries = {side: summarise(outs[side]) for side in results}

    st = _settings(_synthesis(args))
    print(f"spec {args.spec!r}: {st['chains']} chains x {st['draws']} draws, {st['tune']} warm-up, "
          f"target_accept {st['target_accept']}; {args.repeats} new-process runs per side (ranges min-max); "
          f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {os.cpu_count()} cores")
    print()
    print("\n".join(speed_table(results, summaries)))
    print("ESS over the shared parameters below; ESS/s = min bulk ESS / sampling s; whole = wall time of the "
          "new process from outside")
    print()
    lines, flagged = agreement_table(summaries)
    print("\n".join(lines))
    print(f"\nagreement: {len(lines) - 1} shared parameters, {flagged} with |z| > {Z_FLAG:g} "
          f"({'AGREE' if flagged == 0 else 'DISAGREE'})")


if __name__ == "__main__":
    main()
