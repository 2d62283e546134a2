"""Issue 10 targets for a survival spec, measured (not tuned): evidence use, gate on several
seeds, and the 95% CrI width of S(60) for the textbook profile.

* evidence use: OS summaries in the likelihood, treatments with their own data (an arm in
  the likelihood or population-level evidence about the treatment: a range or a pooled
  result), modality classes with data;
* gate with the issue's thresholds (R-hat <= 1.01, bulk and tail ESS >= 1000, 0 divergences)
  on the spec's seed and seeds 1, 2, 3 (fits are cached in ``--cache-dir``);
* S(60) 95% CrI width for ``examples/profiles/small_solitary_late.toml`` (average study
  population) for REPEAT-RESECTION and RFA (target <= 0.45).

Usage::

    PYTHONPATH=src python validation/issue10_targets.py [--spec default] [--seeds 1 2 3] [--cache-dir .rhcc_cache]
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def evidence_use(design) -> dict:
    used = design.used
    os_rows = used[used["outcome"] == "os"] if len(used) else used
    arms = design.arms
    st = design.structure
    informed = sorted(set(arms["treatment"]))
    classes = sorted({st.modalities[st.class_index[st.treatments.index(t)]] for t in informed})
    study_arms = arms[arms.get("level", "study") != "population"] if "level" in arms else arms
    return {
        "os_summaries": int(len(os_rows)),
        "rows_in_likelihood": int(len(used)),
        "study_arms": int(len(study_arms)),
        "studies": int(len(design.studies)),
        "treatments_with_data": len(informed),
        "treatments_total": len(st.treatments),
        "treatments_with_study_arms": int(study_arms["treatment"].nunique()),
        "classes_with_data": classes,
        "classes_total": [m for m in st.modalities],
        "how_counts": used["how"].str.replace(r"S\(\d+\)", "S(t)", regex=True)
                                 .str.replace(r"n known, \d+ at risk", "n known", regex=True)
                                 .str.replace(r"pooled n [\d.]+", "pooled n", regex=True)
                                 .value_counts().to_dict() if "how" in used else {},
    }


def gate_numbers(idata) -> dict:
    from rhcc_bayes.inference.diagnostics import GateThresholds, check_gate

    rep = check_gate(idata, thresholds=GateThresholds(ess_bulk_min=1000, ess_tail_min=1000))
    s = rep.summary
    return {"passed": bool(rep.passed), "r_hat_max": float(s["r_hat"].max()), "ess_bulk_min": float(s["ess_bulk"].min()),
            "ess_tail_min": float(s["ess_tail"].min()), "divergences": int(rep.divergences),
            "worst_tail": str(s["ess_tail"].idxmin()), "failures": list(rep.failures)}


def s60_widths(idata, profile_path: str, treatments=("REPEAT-RESECTION", "RFA"), population="average") -> dict:
    from rhcc_bayes.decision.profile import load_profile
    from rhcc_bayes.survival.piecewise import survival_summary
    from rhcc_bayes.survival.predict import profile_log_hazard

    cov = load_profile(profile_path).model_covariates()
    lh, cuts = profile_log_hazard(idata, cov, population=population)
    summ = survival_summary(lh, cuts, horizon=60, landmarks=(60,), curves=False)
    out = {}
    for t in treatments:
        x = summ["s60"].sel(treatment=t).values.ravel()
        lo, hi = np.quantile(x, [0.025, 0.975])
        out[t] = {"mean": float(x.mean()), "lo": float(lo), "hi": float(hi), "width": float(hi - lo)}
    return {"covariates": cov, "s60": out}


def main(argv=None) -> int:
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.synthesis import fit_synthesis

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default="default")
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--cache-dir", default=".rhcc_cache")
    ap.add_argument("--profile", default="examples/profiles/small_solitary_late.toml")
    ap.add_argument("--out", help="write the numbers as JSON")
    ap.add_argument("--draws", type=int, help="override the spec's draws per chain (with --tune; development "
                    "or a loaded machine: the ESS >= 1000 gate is then not a fair test)")
    ap.add_argument("--tune", type=int, help="override the spec's tuning steps")
    args = ap.parse_args(argv)
    evidence, spec = load_evidence(), load_spec(args.spec)
    result = {"spec": spec.name, "evidence": evidence_use(make_design(evidence, spec)), "gate": {}}
    settings = None
    if args.draws or args.tune:
        from rhcc_bayes.inference.sampling import SamplerSettings

        sampler = {**spec.sampler, **({"draws": args.draws} if args.draws else {}),
                   **({"tune": args.tune} if args.tune else {})}
        settings = SamplerSettings.from_mapping(sampler, source="issue10_targets sampler")
        result["sampler"] = sampler
    for seed in [spec.seed, *args.seeds]:
        fit = fit_synthesis(evidence, spec, seed=seed, cache_dir=args.cache_dir, allow_unconverged=True,
                            settings=settings)
        result["gate"][str(seed)] = gate_numbers(fit.idata)
        if seed == spec.seed:
            result["profile"] = s60_widths(fit.idata, args.profile)
            post = fit.idata.posterior
            for name in ("sigma_study", "sigma_population", "delta_population"):
                if name in post:
                    q = np.quantile(post[name].values.reshape(-1, *post[name].shape[2:]), [0.025, 0.5, 0.975], axis=0)
                    result.setdefault("posterior", {})[name] = np.round(q, 3).tolist()
    print(json.dumps(result, indent=1, default=str))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
