"""Held-out fits against refits on the reduced evidence: compile time, and the same posterior.

For each held-out study, in this order and in one process:

1. the full evidence (compiles the model, or finds it in the compile index);
2. ``Synthesis(spec, held_out=[study])``: the full graph with the study's rows weighted 0
   (:mod:`rhcc_bayes.survival.holdout`) -- expected to reuse the compiled model;
3. ``--compare``: the spec refitted on the evidence without the study and the pooled results
   that include it (the path ``validation/loso.py`` used before), a new graph and compile.

Prints compile and sampling seconds per fit, and for (2) against (3) the largest standardised
difference of posterior means, ``|m2 - m3| / sqrt(mcse2^2 + mcse3^2)``, over the treatment
effects ``mu`` and the hyperparameters (same posterior: |z| mostly < 2, a few up to ~3.5
among ~20 quantities), with the posterior SD ratio range.

    PYTHONPATH=src python benchmarks/holdout.py [--spec default] [--studies ref_37,zheng_96 | all] [--compare]
        [--set target_accept=0.93 ...] [--seed N]

Model .13, default spec (4 x (300 + 1000) at 0.90), 2026-12-01, shared 2-core machine:

  --studies ref_37,peng_106 --compare, seed 1, load 2.2
  fit                         compile s  sampling s  max |z|  SD ratio
  full evidence                     1.0        23.0
  held out ref_37                   0.9        23.8
    evidence without ref_37       183.7        28.4     1.77  0.93-1.04
  held out peng_106                 1.7        23.1
    evidence without peng_106     183.8        26.0     2.00  0.94-1.01

  --studies all (17 studies in the likelihood), spec seed 20261126, load 2.9-3.8: compile 1.1-2.7 s
  per held-out fit (from the full fit's compile index), 31-33 leapfrog steps per draw; one divergent
  transition in 2 of 17 fits at 0.90 (guo_109, ref_68) and in 2 of 17 at 0.93 (ref_11, wan_105),
  none in the full-evidence fit at either.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

QUANTITIES = ("mu", "class_effect", "tau_treatment", "sigma_study", "gamma")


def fit(synthesis, seed: int):
    from rhcc_bayes.inference.sampling import compile_model, sample

    t0 = time.perf_counter()
    model = synthesis.build_model()
    build = time.perf_counter() - t0
    compiled = compile_model(model, synthesis.settings.backend)
    idata = sample(model, synthesis.settings, seed=seed, compiled=compiled, log_likelihood=False,
                   posterior_predictive=False)
    attrs = {**idata.attrs, **idata.posterior.attrs}
    stats = idata.sample_stats
    return idata, {"build": build, "compile": compiled.compile_seconds,
                   "sampling": float(attrs["wall_time_sampling_s"]),
                   "div": int(stats["diverging"].sum()), "steps": float(stats["n_steps"].mean())}


def agreement(a, b) -> tuple[float, float, float]:
    """Largest |z| of the posterior-mean differences, and the range of the SD ratios a / b."""
    import arviz as az

    zs, ratios = [], []
    for name in QUANTITIES:
        if name not in a.posterior or name not in b.posterior:
            continue
        sa, sb = az.summary(a, var_names=[name]), az.summary(b, var_names=[name])
        z = (sa["mean"] - sb["mean"]) / np.sqrt(sa["mcse_mean"] ** 2 + sb["mcse_mean"] ** 2)
        zs.extend(np.abs(z.to_numpy()))
        ratios.extend((sa["sd"] / sb["sd"]).to_numpy())
    return float(np.max(zs)), float(np.min(ratios)), float(np.max(ratios))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="default")
    ap.add_argument("--studies", default="ref_37,zheng_96,ref_92_93,yang_97,peng_106")
    ap.add_argument("--compare", action="store_true", help="also refit on the reduced evidence (new compile)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a [sampler] setting (TOML value), e.g. target_accept=0.93")
    args = ap.parse_args()

    import warnings

    warnings.simplefilter("ignore")
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.survival.holdout import with_pooled_results
    from rhcc_bayes.synthesis import Synthesis

    import tomllib

    evidence = load_evidence()
    overrides = {k: tomllib.loads(f"v = {v}")["v"] for k, v in (item.split("=", 1) for item in args.set)}
    if args.studies == "all":
        args.studies = ",".join(sorted(set(Synthesis(args.spec, evidence).design.used["study"])))
    load = open("/proc/loadavg").read().split()[0] if sys.platform.startswith("linux") else "?"
    print(f"spec {args.spec}, seed {args.seed}, sampler overrides {overrides or 'none'}, load {load}")
    print(f"{'fit':<34}{'build s':>9}{'compile s':>11}{'sampling s':>12}{'div':>5}{'steps':>7}"
          f"{'max |z|':>9}{'SD ratio':>14}")

    def row(label, t, extra=""):
        print(f"{label:<34}{t['build']:9.1f}{t['compile']:11.1f}{t['sampling']:12.1f}{t['div']:5d}{t['steps']:7.1f}"
              + extra, flush=True)

    _, t = fit(Synthesis(args.spec, evidence, settings=overrides), args.seed)
    row("full evidence", t)
    for study in args.studies.split(","):
        held, t = fit(Synthesis(args.spec, evidence, settings=overrides, held_out=[study]), args.seed)
        row("held out " + study, t)
        if args.compare:
            dropped = set(with_pooled_results(evidence, [study]))
            reduced = evidence.filter(lambda tab: ~tab["study"].isin(dropped).to_numpy())
            ref, t = fit(Synthesis(args.spec, reduced, settings=overrides), args.seed)
            z, lo, hi = agreement(held, ref)
            row("  evidence without " + study, t, f"{z:9.2f}{lo:7.2f}-{hi:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
