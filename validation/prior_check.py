"""Prior predictive check of a survival spec against what the review states for recurrent HCC.

Draws the spec's prior (``pm.sample_prior_predictive`` on the model built for the bundled
evidence, so every prior term is exactly the model's) and computes, for a NEW study arm of
a random treatment in a recurrent-HCC population with covariates not reported
(theta = mu_j + u_new, u_new ~ N(0, sigma_study)), the implied overall survival at 1, 3
and 5 years and the median survival. These are compared with the survival figures the
review itself gives for recurrent HCC (``REVIEW_RECURRENT``, quoted with their section).

Usage::

    PYTHONPATH=src python validation/prior_check.py [--spec default] [--draws 4000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

# Survival the review reports for recurrent HCC (review text, section in brackets).
REVIEW_RECURRENT = [
    # (time months, value, quote, section)
    (12, 0.28, "Overall 1- and 3-year survival rates for TACE for R-HCC are reportedly 28%-82% and 32%-43.9% [50,53]", "TACE"),
    (12, 0.82, "(same sentence, upper end)", "TACE"),
    (36, 0.32, "(same sentence, 3-year lower end)", "TACE"),
    (36, 0.439, "(same sentence, 3-year upper end)", "TACE"),
    (60, 0.155, "Meta-analysis has reported 5-year survival rates for TACE to be 15.5% [54]", "TACE"),
    (12, 0.916, "1-year survival rate for locoregional therapy (RFA, TAE, and/or PEI; n = 170, 91.6%) [37]", "Ablation"),
    (12, 0.902, "... salvage liver transplantation (n = 41, 90.2%) [37]", "Ablation"),
    (36, 0.804, "superior in salvage liver transplantations at 3- and 5-years (80.4, and 80.4%) [37]", "Ablation"),
    (60, 0.804, "(same sentence, 5 years)", "Ablation"),
    (36, 0.717, "relative to the locoregional therapy group (71.7, and 51.1%) [37]", "Ablation"),
    (60, 0.511, "(same sentence, 5 years)", "Ablation"),
    (36, 0.727, "salvage SBRT after TACE, overall survival rates at 3 years were 72.7% (n = 302) [87]", "Stereotactic body radiotherapy"),
    (12, 0.926, "TACE followed by RFA ... 1-, 3-, 4- year survival rates (92.6%, 66.6%, 61.8%) [92,93]", "Multimodal Locoregional Therapy Approaches"),
    (36, 0.666, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
    (12, 0.853, "... than RFA alone (85.3%, 59%, 45%) [92,93]", "Multimodal Locoregional Therapy Approaches"),
    (36, 0.59, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
    (12, 0.885, "1-, 3- and 5-year survival rates ... combination group (88.5%, 64.6%, 44.3%) [97]", "Multimodal Locoregional Therapy Approaches"),
    (36, 0.646, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
    (60, 0.443, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
    (12, 0.658, "... compared to the TACE alone group (65.8%, 38.9%, 19.5%) [97]", "Multimodal Locoregional Therapy Approaches"),
    (36, 0.389, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
    (60, 0.195, "(same sentence)", "Multimodal Locoregional Therapy Approaches"),
]
REVIEW_MEDIANS = [  # months
    (22.1, "overall survival of 22.1 mo ... TARE after prior resection [68]", "TARE"),
    (9.0, "median overall survival ... sorafenib monotherapy (9 mo) [106]", "Combining Locoregional Therapy and Systemic Therapy"),
    (14.0, "TACE-RFA + sorafenib (14 mo) [106]", "Combining Locoregional Therapy and Systemic Therapy"),
    (38.0, "Similar overall survival for TACE-RFA (38 months) compared to repeat hepatectomy (42 months) [96]", "Table 1"),
    (42.0, "(same cell)", "Table 1"),
    (30.7, "Table 2, [105]: sorafenib + TACE 30.7 mo", "Table 2"),
    (18.22, "Table 2, [105]: TACE 18.22 mo", "Table 2"),
]


def review_envelope() -> pd.DataFrame:
    """Per landmark: lowest and highest survival the review states for recurrent HCC."""
    df = pd.DataFrame(REVIEW_RECURRENT, columns=["t", "value", "quote", "section"])
    env = df.groupby("t")["value"].agg(["min", "max", "count"])
    med = [m for m, *_ in REVIEW_MEDIANS]
    env.loc["median (months)"] = [min(med), max(med), len(med)]
    return env


def prior_draws(spec, evidence=None, draws: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Prior S(12), S(36), S(60) and median (months) of a new recurrent-HCC study arm, per draw."""
    import pymc as pm

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.survival.piecewise import median_survival, survival_at

    evidence = evidence if evidence is not None else load_evidence()
    design = make_design(evidence, spec)
    model = build_survival_model(design, spec)
    names = ["gamma", "mu", "sigma_study"]
    with model:
        prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed).prior
    rng = np.random.default_rng(seed)
    gamma = prior["gamma"].values[0]  # (draw, segment)
    mu = prior["mu"].values[0]  # (draw, treatment)
    sigma = prior["sigma_study"].values[0]
    j = rng.integers(0, mu.shape[1], size=draws)
    theta = mu[np.arange(draws), j] + sigma * rng.standard_normal(draws)
    lh = gamma + theta[:, None]
    cuts = design.cuts
    s = survival_at(lh, cuts, [12.0, 36.0, 60.0])
    med = median_survival(lh, cuts, horizon=240.0)
    return pd.DataFrame({"S12": s[:, 0], "S36": s[:, 1], "S60": s[:, 2], "median": med})


def compare(draws: pd.DataFrame) -> pd.DataFrame:
    """Prior quantiles next to the review's envelope, and the prior mass inside it."""
    env = review_envelope()
    rows = []
    for col, key in (("S12", 12), ("S36", 36), ("S60", 60), ("median", "median (months)")):
        x = draws[col].to_numpy()
        lo, hi = env.loc[key, "min"], env.loc[key, "max"]
        q = np.nanquantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
        rows.append({"quantity": col, "review_min": lo, "review_max": hi,
                     "prior_q05": q[0], "prior_q25": q[1], "prior_median": q[2], "prior_q75": q[3], "prior_q95": q[4],
                     "P(in review range)": float(np.mean((x >= lo) & (x <= hi))),
                     "P(below)": float(np.mean(x < lo)), "P(above)": float(np.mean(x > hi))})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    from rhcc_bayes.specs import load_spec

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default="default")
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--mean", type=float, help="override priors.baseline_log_hazard_mean (what-if)")
    ap.add_argument("--sd", type=float, help="override priors.baseline_log_hazard_sd (what-if)")
    args = ap.parse_args(argv)
    spec = load_spec(args.spec)
    if args.mean is not None or args.sd is not None:
        from dataclasses import replace

        pr = replace(spec.priors, **{k: v for k, v in (("baseline_log_hazard_mean", args.mean),
                                                        ("baseline_log_hazard_sd", args.sd)) if v is not None})
        spec = replace(spec, priors=pr)
    pd.set_option("display.width", 200)
    print(f"spec {spec.name}: baseline_log_hazard_mean={spec.priors.baseline_log_hazard_mean}, "
          f"baseline_log_hazard_sd={spec.priors.baseline_log_hazard_sd}")
    print(compare(prior_draws(spec, draws=args.draws)).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
