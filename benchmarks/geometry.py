"""What limits NUTS on a spec: the posterior's shape on the free (unconstrained) coordinates.

One fit (nutpie, the spec's ``[sampler]`` settings, ``--set`` overrides as in seed_sweep.py)
with the unconstrained draws stored. Prints the condition number of their correlation matrix
(the posterior's condition number after the diagonal mass matrix's scaling, the ratio that
sets the leapfrog steps per draw: about its square root), the strongest pairwise
correlations, and the parameters loading on the extreme eigenvectors (largest: a long
correlated direction; smallest: a narrow ridge).

    .venv/bin/python benchmarks/geometry.py [--spec default] [--seed 1] [--top 12] [--set draws=600 ...]

Default spec, seed 1, 188 free coordinates (2026-12-01):

  model .11 (0.93, 500 + 1200): 35.3 steps; condition number 56.8 (eigenvalues 0.047 .. 2.65);
    corr(size_3to5_offset, z_study[wan_105]) -0.71, corr(beta_stage, z_study[peng_106]) -0.68,
    corr(size_3to5_offset, z_study[ref_92_93]) -0.52; narrowest directions: gamma_first +
    beta_stage + z_study[peng_106] - class effects (0.047), beta_stage + z_study[peng_106] -
    size_3to5_offset (0.074), size_3to5_offset + z_study[wan_105] (0.113)
  model .12 (shifted effects, survival/shift.py; 0.90, 300 + 1000): 31.0 steps, step size 0.136;
    condition number 64.7 (0.049 .. 3.20): the 0.074 and 0.113 directions are gone (second
    smallest 0.121), the narrowest left is the baseline level against the class effects and the
    Peng block (gamma_first, class_effect, gamma_steps[0]; corr(gamma_first,
    shift_beta_stage[1]) -0.59). A standard normal of the same dimension takes 15 steps at step
    0.32 with the same settings: the step size, not the trajectory length, doubles the steps.
    Centring the baseline on the arm-weighted class effect (gamma_first = level - w.m, level ~
    Normal(mean + w.m, sd), exact) left 31 steps and 10.4-11.3 min ESS / kgrad (seeds 1, 2, spec;
    12.5, 11.3, 11.5 without): rejected.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def unconstrained_draws(spec_name: str, seed: int, overrides: dict) -> tuple[np.ndarray, list[str], dict]:
    """(draws x free coordinates, their names, {"steps", "step_size"} means) of one fit."""
    import nutpie

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.inference.sampling import SamplerSettings, compile_model
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.model import build_survival_model

    evidence, spec = load_evidence(), load_spec(spec_name)
    sampler = {**spec.sampler, **overrides}
    if sampler.get("low_rank_mass_matrix") and "grad_based_mass_matrix" not in overrides:
        sampler.pop("grad_based_mass_matrix", None)
    settings = SamplerSettings.from_mapping(sampler, source="--set")
    model = build_survival_model(make_design(evidence, spec), spec)
    compiled = compile_model(model, settings.backend)
    extra = {} if settings.low_rank_mass_matrix else {"use_grad_based_mass_matrix": settings.grad_based_mass_matrix}
    idata = nutpie.sample(compiled.native, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                          seed=seed, target_accept=settings.target_accept, progress_bar=False, save_warmup=False,
                          low_rank_modified_mass_matrix=settings.low_rank_mass_matrix, store_unconstrained=True,
                          initial_step=float(settings.initial_step), **extra)
    raw = idata.sample_stats["unconstrained_draw"]
    names = [str(n) for n in raw["unconstrained_parameter"].values]
    x = raw.values.reshape(-1, raw.shape[-1])
    stats = idata.sample_stats
    return x, names, {"steps": float(stats["n_steps"].mean()), "step_size": float(stats["step_size"].mean())}


def report(x: np.ndarray, names: list[str], top: int = 12) -> dict:
    """Print (and return) the condition number, strongest correlations and extreme eigenvectors."""
    corr = np.corrcoef(x, rowvar=False)
    eigval, eigvec = np.linalg.eigh(corr)
    cond = eigval[-1] / eigval[0]
    print(f"{len(names)} free coordinates, {len(x)} draws; correlation matrix condition number {cond:.1f} "
          f"(eigenvalues {eigval[0]:.3f} .. {eigval[-1]:.2f}; sqrt {np.sqrt(cond):.1f})")
    print("eigenvalues, smallest 5:", np.array2string(eigval[:5], precision=3),
          " largest 5:", np.array2string(eigval[-5:], precision=2))
    iu = np.triu_indices(len(names), 1)
    order = np.argsort(-np.abs(corr[iu]))[:top]
    print(f"\nstrongest {top} correlations")
    for k in order:
        i, j = iu[0][k], iu[1][k]
        print(f"  {corr[i, j]:+.2f}  {names[i]:<28} {names[j]}")
    for label, idx in (("smallest", range(3)), ("largest", range(len(eigval) - 1, len(eigval) - 4, -1))):
        print(f"\n{label} eigenvectors (loadings >= 0.2)")
        for e in idx:
            v = eigvec[:, e]
            keep = np.argsort(-np.abs(v))
            terms = [f"{v[i]:+.2f} {names[i]}" for i in keep if abs(v[i]) >= 0.2][:8]
            print(f"  {eigval[e]:7.3f}: " + ", ".join(terms))
    return {"condition": float(cond), "eigenvalues": eigval, "corr": corr}


def main() -> None:
    from seed_sweep import parse_overrides

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    x, names, stats = unconstrained_draws(args.spec, args.seed, parse_overrides(args.set))
    print(f"spec {args.spec!r}, seed {args.seed}: {stats['steps']:.1f} leapfrog steps per draw, "
          f"step size {stats['step_size']:.3f}")
    report(x, names, args.top)


if __name__ == "__main__":
    main()
