"""rhcc_bayes (PyMC + nutpie) against its Stan twin (PyStan 3) on the default spec: speed and agreement.

Each side runs in fresh Python processes (one warm-up run fills the compile caches: PyTensor/
numba for rhcc_bayes, httpstan's model cache for Stan; then ``--repeats`` measured runs,
alternating the two sides). rhcc_bayes fits through its normal path
(``Synthesis(spec).fit()``: compile, sampling, log-likelihood, posterior predictive, gate);
the twin (``benchmarks/stan_twin/``) is built from the same ``SurvivalDesign`` and sampled
with the same chains, draws, warm-up and target acceptance. Printed:

* speed: compile in a new process (warm caches), sampling, min bulk / tail ESS over the
  shared parameters, ESS/s of sampling (min bulk ESS / sampling s), the wall time of the
  whole new process from outside (start-up to exit) and min bulk ESS per second of it;
  ranges are min-max over repeats;
* agreement: for every shared parameter the posterior mean and SD of both, and
  z = difference / sqrt(mcse_1^2 + mcse_2^2) for the mean and for the SD; |z| > 4 is flagged.
  Speed figures mean nothing unless agreement holds.

    pip install pystan            # 3.x: brings httpstan (needs g++); first build 1-3 min
    PYTHONPATH=src python benchmarks/compare_stan.py [--draws N --tune N] [--repeats 3]

Model .12, default settings (4 x 1000 draws, 300 warm-up, target_accept 0.90), 2 runs per side,
load 4.0-4.1 (the twin, sampled with the same settings, is the unshifted parameterisation: at 300
warm-up draws it diverges 5 times and its tail ESS is 1033):

    spec 'default': 4 chains x 1000 draws, 300 warm-up, target_accept 0.9; 2 new-process runs per side (ranges min-max); load average 4.1 before, 4.0 after; 2 cores

    | | compile in a new process (warm caches) | sampling s | min bulk / tail ESS | ESS/s sampling | whole new process s | ESS/s whole process | divergences | max R-hat |
    |---|---|---|---|---|---|---|---|---|
    | rhcc_bayes (nutpie, numba) | 1.51-1.56 s | 25.13-29.23 | 1970 / 2296 | 67-78 | 43.0-50.4 | 39.1-45.9 | 0 | 1.003 |
    | Stan twin (PyStan, cached model) | 0.06-0.11 s | 20.75-26.75 | 1581 / 1033 | 59-76 | 24.0-32.0 | 49.5-65.9 | 5 | 1.007 |
    Stan / rhcc_bayes per run pair (median, range): sampling ESS/s 0.92 (0.88-0.97), whole-process speed 1.68 (1.58-1.79)
    lowest bulk ESS: rhcc_bayes (nutpie, numba) tau_treatment (1970), Stan twin (PyStan, cached model) tau_treatment (1581)
    agreement: 193 shared parameters, 0 with |z| > 4; --density-check (20 points): difference
    624.357878 at every point, spread 9.1e-13 (the shifted blocks mapped from Stan's draws)

Model .8, default settings (4 x 3000 draws, 1500 warm-up, target_accept 0.95), 2 runs per side,
load 1.4-1.5 (session 5):

    | | compile | sampling s | min bulk / tail ESS | ESS/s sampling | whole s | ESS/s whole | div | R-hat |
    | rhcc_bayes | 0.38-0.41 s | 16.79-17.12 | 2366 / 1838 | 138-141 | 29.7-30.9 | 76.5-79.6 | 0 | 1.002 |
    | Stan twin  | 0.04 s      | 29.90-30.83 | 6153 / 5566 | 200-206 | 31.7-32.6 | 188.7-194.1 | 0 | 1.002 |
    Stan / rhcc_bayes per run pair: sampling ESS/s 1.45 (1.44-1.46), whole-process speed 0.94 (0.94-0.95)
    agreement: 193 shared parameters, 0 with |z| > 4

Model .7 (below) for comparison:

Measured 2026-11-30 (full settings of the default spec: 4 chains x 2000 draws, 1500 warm-up,
target_accept 0.98) on the 2-core machine shared with other sessions, its load average falling
from 7 to 2.4 during the run, so absolute times swing 4x between runs; the two sides ran
alternately, so the per-pair ratios are the figure to quote (pair 3, the quietest: Stan 1.14x
the sampling ESS/s and 1.47x the whole-process speed). The rhcc_bayes process also computes
the log-likelihood and posterior-predictive groups and the gate (part of its normal fit; the
twin does none of these). The first Stan build (empty httpstan cache) took 153 s; every later
process loads the cached module in 0.03-0.07 s.

    spec 'default': 4 chains x 2000 draws, 1500 warm-up, target_accept 0.98; 3 new-process runs per side (ranges min-max); load average 5.6 before, 2.4 after; 2 cores

    | | compile in a new process (warm caches) | sampling s | min bulk / tail ESS | ESS/s sampling | whole new process s | ESS/s whole process | divergences | max R-hat |
    |---|---|---|---|---|---|---|---|---|
    | rhcc_bayes (nutpie, numba) | 8.27-17.43 s | 25.32-101.12 | 2519 / 2248 | 25-99 | 43.8-140.4 | 17.9-57.6 | 0 | 1.002 |
    | Stan twin (PyStan, cached model) | 0.03-0.07 s | 28.28-83.42 | 3212 / 2723 | 39-114 | 29.8-87.0 | 36.9-107.7 | 0 | 1.002 |
    Stan / rhcc_bayes per run pair (median, range): sampling ESS/s 1.55 (1.14-2.58), whole-process speed 1.61 (1.47-2.63)
    lowest bulk ESS: rhcc_bayes (nutpie, numba) tau_treatment (2519), Stan twin (PyStan, cached model) tau_treatment (3212)

    An earlier run at a steadier load of 5.3-6.3 (before the ESS/s-whole and ratio columns existed):
    rhcc_bayes compile 15.66-18.82 s, sampling 103.76-109.19 s, ESS/s 23-24, whole 145.4-161.9 s;
    Stan compile 0.07 s, sampling 75.95-87.74 s, ESS/s 37-42, whole 79.3-91.5 s. Same draws
    (same seeds), hence the same ESS and the same agreement table:

    parameter                                    mean rhcc mean stan  z mean  sd rhcc  sd stan   z sd  flag
    gamma[0]                                        -4.194    -4.193   -0.19    0.178    0.183  -2.12
    gamma[1]                                        -4.152    -4.152    0.05    0.180    0.180   0.03
    gamma[2]                                        -4.042    -4.045    0.83    0.207    0.210  -1.03
    gamma[3]                                        -4.040    -4.050    1.99    0.362    0.365  -0.54
    mu[TACE]                                         0.578     0.578   -0.13    0.170    0.172  -0.75
    mu[DEB-TACE]                                     0.473     0.463    1.52    0.346    0.340   0.87
    mu[TAE]                                          0.473     0.459    2.16    0.344    0.343   0.13
    mu[TARE]                                         0.499     0.491    1.50    0.288    0.284   0.83
    mu[RFA]                                         -0.035    -0.032   -0.60    0.222    0.223  -0.49
    mu[MWA]                                         -0.163    -0.157   -1.13    0.341    0.338   0.47
    mu[ABLATION]                                    -0.341    -0.336   -1.19    0.239    0.239  -0.03
    mu[PEI]                                         -0.162    -0.153   -1.67    0.343    0.341   0.20
    mu[SBRT]                                        -0.234    -0.233   -0.10    0.343    0.339   0.72
    mu[RESECTION]                                   -0.311    -0.307   -0.78    0.344    0.340   0.57
    mu[REPEAT-RESECTION]                            -0.261    -0.261   -0.03    0.191    0.194  -0.97
    mu[SALVAGE-LT]                                  -0.472    -0.466   -1.27    0.273    0.274  -0.24
    mu[SORAFENIB]                                    0.334     0.333    0.20    0.253    0.255  -0.34
    mu[CAMRELIZUMAB]                                 0.256     0.255    0.10    0.379    0.370   1.20
    mu[TACE-RFA]                                    -0.150    -0.153    0.89    0.178    0.178  -0.13
    mu[TACE-MWA]                                    -0.044    -0.041   -0.74    0.313    0.312   0.11
    mu[DEB-TACE-RFA]                                -0.039    -0.047    1.71    0.316    0.314   0.29
    mu[TACE+SORAFENIB]                               0.103     0.104   -0.29    0.202    0.205  -1.04
    mu[TACE-RFA+SORAFENIB]                          -0.085    -0.088    0.71    0.231    0.230   0.41
    mu[TACE+CAMRELIZUMAB]                           -0.045    -0.045    0.20    0.318    0.306   1.63
    mu[MIXED-LRT]                                   -0.041    -0.043    0.36    0.229    0.227   0.61
    mu[RESECTION-TACE]                              -0.042    -0.046    0.90    0.307    0.312  -0.60
    class_effect[ablation]                          -0.175    -0.170   -1.59    0.200    0.197   1.06
    class_effect[transarterial]                      0.506     0.498    1.83    0.200    0.197   1.05
    class_effect[radiation]                         -0.234    -0.233   -0.10    0.343    0.339   0.72
    class_effect[surgery]                           -0.348    -0.345   -1.03    0.192    0.192  -0.01
    class_effect[systemic]                           0.295     0.294    0.16    0.263    0.261   0.54
    class_effect[combination]                       -0.043    -0.045    0.75    0.144    0.143   0.59
    tau_treatment                                    0.243     0.242    0.39    0.128    0.128   0.02
    sigma_study                                      0.455     0.454    0.38    0.095    0.092   1.80
    beta_size[le3]                                  -0.258    -0.256   -0.44    0.299    0.299  -0.03
    beta_size[3to5]                                 -0.018    -0.018    0.01    0.235    0.233   0.56
    beta_size[gt5]                                   0.169     0.166    0.54    0.264    0.260   1.07
    beta_size_ablation[le3]                         -0.237    -0.235   -0.79    0.171    0.168   0.85
    beta_size_ablation[gt5]                          0.213     0.213   -0.14    0.157    0.156   0.34
    beta_nodularity[solitary]                       -0.238    -0.240    0.87    0.185    0.182   0.90
    beta_nodularity[multinodular]                    0.240     0.240    0.07    0.181    0.180   0.23
    beta_recurrence[early]                           0.241     0.237    1.81    0.179    0.180  -0.26
    beta_recurrence[late]                           -0.242    -0.236   -2.31    0.179    0.182  -0.99
    beta_prior[resection]                            0.115     0.114    0.38    0.230    0.233  -0.74
    beta_prior[transplant]                           0.000     0.001   -0.14    0.292    0.301  -1.67
    beta_stage[advanced]                             1.090     1.090    0.09    0.381    0.389  -1.30
    sigma_population                                 0.348     0.355   -1.34    0.262    0.258   0.96
    delta_population[primary]                       -0.190    -0.195    0.87    0.257    0.258  -0.36
    delta_population[mixed]                         -0.126    -0.132    0.90    0.337    0.356  -2.45
    ... z_study (9), latent_n (8), secondary sub-models (4 outcomes x (3 + 6 + 22)) omitted here;
    over all 190: max |z| of the means 2.86 (recurrence_sigma_study), of the SDs 2.45 (delta_population[mixed])

    agreement: 190 shared parameters, 0 with |z| > 4 (AGREE)

    --density-check (20 posterior points): log p_PyMC - log p_Stan = 626.540032 at every point,
    spread 8.0e-13 (the same density up to a constant; scaling the HR standard errors by 1.1 in
    the Stan data alone gives a spread of 0.17)
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
            "| whole new process s | ESS/s whole process | divergences | max R-hat |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    names = {"pymc": "rhcc_bayes (nutpie, numba)", "stan": "Stan twin (PyStan, cached model)"}
    for side, runs in results.items():
        s = summaries[side]
        bulk = min(v["bulk"] for v in s.values())
        tail = min(v["tail"] for v in s.values())
        rhat = max(v["rhat"] for v in s.values())
        lines.append(
            f"| {names[side]} | {_span([r['compile'] for r in runs])} s | {_span([r['sampling'] for r in runs])} "
            f"| {bulk:.0f} / {tail:.0f} | {_span([bulk / r['sampling'] for r in runs], '{:.0f}')} "
            f"| {_span([r['whole'] for r in runs], '{:.1f}')} | {_span([bulk / r['whole'] for r in runs], '{:.1f}')} "
            f"| {runs[0]['divergences']} | {rhat:.3f} |")
    if set(results) == {"pymc", "stan"}:  # the sides ran alternately: pair run i of each under similar load
        import statistics

        b = {side: min(v["bulk"] for v in summaries[side].values()) for side in results}
        pairs = list(zip(results["pymc"], results["stan"]))
        ess_s = [(b["stan"] / q["sampling"]) / (b["pymc"] / p["sampling"]) for p, q in pairs]
        whole = [p["whole"] / q["whole"] for p, q in pairs]
        lines.append(f"Stan / rhcc_bayes per run pair (median, range): sampling ESS/s "
                     f"{statistics.median(ess_s):.2f} ({_span(ess_s)}), whole-process speed "
                     f"{statistics.median(whole):.2f} ({_span(whole)})")
    worst = {side: min(s, key=lambda k: s[k]["bulk"]) for side, s in summaries.items()}
    lines.append("lowest bulk ESS: " + ", ".join(
        f"{names[side]} {label} ({summaries[side][label]['bulk']:.0f})" for side, label in worst.items()))
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
