"""Does a spec pass the diagnostics gate on every seed? One fit per seed, one row each.

Prints per seed: divergences, max R-hat, min bulk/tail ESS over the gated parameters,
sampling seconds and the verdict against the strict bar (R-hat <= 1.01, bulk and tail
ESS >= 1000, 0 divergences) and the gate's own thresholds. The numba-compiled model is
built once (nutpie's ``CompiledModel``), then sampled with each seed.

    .venv/bin/python benchmarks/seed_sweep.py [--spec default] [--seeds 1-10]
"""

from __future__ import annotations

import argparse
import time
import warnings

STRICT_ESS = 1000


def parse_seeds(text: str) -> list[int]:
    """``"1-10"`` or ``"1,3,7"`` -> list of ints."""
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-", 1))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--seeds", default="1-10")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.inference.diagnostics import check_gate
    from rhcc_bayes.inference.sampling import SamplerSettings, compile_model, sample
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.metadata import attach_metadata
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.synthesis import gate_var_names

    evidence, spec = load_evidence(), load_spec(args.spec)
    settings = SamplerSettings.from_mapping(spec.sampler)
    design = make_design(evidence, spec)
    model = build_survival_model(design, spec)
    t0 = time.perf_counter()
    compiled = compile_model(model, settings.backend)
    print(f"spec {spec.name!r}: {len(design.arms)} arms; compiled in {time.perf_counter() - t0:.1f} s; "
          f"{settings.chains} chains x {settings.draws} draws")
    header = f"{'seed':>6}{'div':>5}{'max R-hat':>10}{'min bulk':>9}{'min tail':>9}{'sample s':>9}  strict  gate"
    print(header)
    print("-" * len(header))
    strict_pass = 0
    for seed in parse_seeds(args.seeds):
        idata = sample(model, settings, seed=seed, compiled=compiled, posterior_predictive=False, log_likelihood=False)
        attach_metadata(idata, design, spec, evidence.hash)
        report = check_gate(idata, var_names=gate_var_names(idata))
        s = report.summary
        strict = (report.divergences == 0 and s["r_hat"].max() <= 1.01
                  and s["ess_bulk"].min() >= STRICT_ESS and s["ess_tail"].min() >= STRICT_ESS)
        strict_pass += strict
        print(f"{seed:>6}{report.divergences:>5}{s['r_hat'].max():>10.4f}{s['ess_bulk'].min():>9.0f}"
              f"{s['ess_tail'].min():>9.0f}{idata.attrs['wall_time_sampling_s']:>9.1f}  "
              f"{'pass' if strict else 'FAIL':<6}  {'pass' if report.passed else 'FAIL'}")
    print(f"strict bar passed on {strict_pass} of {len(parse_seeds(args.seeds))} seeds")


if __name__ == "__main__":
    main()
