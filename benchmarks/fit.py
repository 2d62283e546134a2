"""Benchmark the R-HCC fit on the bundled evidence: one row per sampler configuration.

Prints cold (compile + sample) and warm (cached posterior) wall time, compile time,
sampling time, min bulk/tail ESS and min bulk-ESS per second over the treatment-level
parameters (mu, class effects, tau), divergences and the gate verdict.

    .venv/bin/python benchmarks/fit.py [--spec default] [--configs nutpie-diag,nutpie-lowrank,pymc]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

CONFIGS = {
    "nutpie-diag": {"backend": "nutpie", "low_rank_mass_matrix": False},
    "nutpie-lowrank": {"backend": "nutpie", "low_rank_mass_matrix": True},
    "pymc": {"backend": "pymc"},
}
TREATMENT_LEVEL = ["mu", "class_effect", "tau_treatment"]


def run(spec_name: str, name: str, overrides: dict) -> dict:
    import arviz as az

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.inference.sampling import SamplerSettings
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import fit_synthesis

    evidence, spec = load_evidence(), load_spec(spec_name)
    settings = SamplerSettings.from_mapping({**spec.sampler, **overrides})
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        result = fit_synthesis(evidence, spec, settings=settings, cache_dir=cache, allow_unconverged=True)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        fit_synthesis(evidence, spec, settings=settings, cache_dir=cache, allow_unconverged=True)
        warm = time.perf_counter() - t0
    idata = result.idata
    ess_b = az.ess(idata, var_names=TREATMENT_LEVEL)
    ess_t = az.ess(idata, var_names=TREATMENT_LEVEL, method="tail")
    min_b = min(float(ess_b[v].min()) for v in TREATMENT_LEVEL)
    min_t = min(float(ess_t[v].min()) for v in TREATMENT_LEVEL)
    sampling = float(idata.attrs["wall_time_sampling_s"])
    return {"config": name, "cold_s": cold, "warm_s": warm, "compile_s": float(idata.attrs["wall_time_compile_s"]),
            "sampling_s": sampling, "min_ess_bulk": min_b, "min_ess_tail": min_t, "ess_per_s": min_b / sampling,
            "divergences": result.gate.divergences, "gate": "pass" if result.gate.passed else "FAIL"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--configs", default="nutpie-diag,nutpie-lowrank,pymc")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = [run(args.spec, name, CONFIGS[name]) for name in args.configs.split(",")]
    header = f"{'config':<16}{'cold s':>8}{'warm s':>8}{'compile s':>10}{'sample s':>9}{'ESS bulk':>9}{'ESS tail':>9}{'ESS/s':>7}{'div':>5}  gate"
    print(f"spec {args.spec!r}, bundled evidence; min ESS over {', '.join(TREATMENT_LEVEL)}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['config']:<16}{r['cold_s']:>8.1f}{r['warm_s']:>8.2f}{r['compile_s']:>10.1f}{r['sampling_s']:>9.1f}"
              f"{r['min_ess_bulk']:>9.0f}{r['min_ess_tail']:>9.0f}{r['ess_per_s']:>7.0f}{r['divergences']:>5}  {r['gate']}")


if __name__ == "__main__":
    main()
