"""Build the IPD worked example from simulated patients (the truth is known and recorded).

Writes, next to this script:

* ``km.csv``, ``risk.csv``: a "published" Kaplan–Meier curve of 300 microwave-ablation (MWA)
  patients (a treatment the bundled evidence has no arm of) as a
  digitiser gives it (200 points, jittered, unsorted, a few duplicates) and its
  numbers-at-risk table every 6 months;
* ``registry.csv``: a centre's own 200 recurrences (repeat resection, RFA, TACE) with
  patient covariates (tumour size, nodules, months since the first treatment, prior
  treatment, microvascular invasion);
* ``truth.json``: the hazards, covariate effects and seeds used.

Run: ``python examples/ipd/make_example.py`` (deterministic: same files every time).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rhcc_bayes.ipd.km import kaplan_meier
from rhcc_bayes.ipd.simulate import censored_cohort, digitise, piecewise_survival, piecewise_times, risk_table

HERE = Path(__file__).resolve().parent
SEED = 2026
CUTS = [0.0, 12.0, 36.0]
#: Monthly death hazards of the published MWA arm on 0-12, 12-36, 36+ months.
KM_HAZARDS = [0.008, 0.011, 0.014]
KM_N = 300
KM_TREATMENT = "MWA"
#: The registry: baseline monthly hazards (a solitary <= 3 cm late recurrence treated by RFA)
#: and log hazard ratios.
REG_HAZARDS = [0.008, 0.012, 0.015]
REG_LOG_HR = {"treatment": {"RFA": 0.0, "REPEAT-RESECTION": -0.25, "TACE": 0.45},
              "size_3to5": 0.25, "size_gt5": 0.6, "multinodular": 0.35, "early": 0.4}
REG_N = 200


def published_arm(rng):
    cohort = censored_cohort(rng, KM_HAZARDS, CUTS, KM_N, follow_up=(30.0, 72.0), dropout_rate=0.004)
    curve = digitise(rng, cohort["time_months"], cohort["event"], n_points=200)
    risk = risk_table(cohort["time_months"], np.arange(0.0, 61.0, 6.0))
    return cohort, curve, risk


def registry(rng) -> pd.DataFrame:
    trt = rng.choice(["RFA", "REPEAT-RESECTION", "TACE"], size=REG_N, p=[0.4, 0.3, 0.3])
    size = np.round(np.where(trt == "TACE", rng.gamma(4.0, 1.2, REG_N), rng.gamma(3.0, 0.9, REG_N)) + 0.5, 1)
    nodules = np.where(trt == "TACE", rng.integers(1, 5, REG_N), rng.choice([1, 1, 1, 2], REG_N))
    months = np.round(rng.gamma(2.0, 10.0, REG_N), 1)
    prior = rng.choice(["resection", "ablation", "transplant"], size=REG_N, p=[0.7, 0.25, 0.05])
    mvi = rng.choice(["yes", "no", ""], size=REG_N, p=[0.3, 0.5, 0.2])
    log_hr = (np.array([REG_LOG_HR["treatment"][t] for t in trt])
              + np.where((size > 3) & (size <= 5), REG_LOG_HR["size_3to5"], 0.0)
              + np.where(size > 5, REG_LOG_HR["size_gt5"], 0.0)
              + np.where(nodules > 1, REG_LOG_HR["multinodular"], 0.0)
              + np.where(months < 12, REG_LOG_HR["early"], 0.0))
    death = piecewise_times(rng, REG_HAZARDS, CUTS, REG_N, log_hr)
    cens = rng.uniform(6.0, 84.0, REG_N)  # recurrences treated over seven years, followed to today
    # some records lack covariates (registries are incomplete): unknown = empty cell
    size_txt = np.where(rng.random(REG_N) < 0.1, "", size.astype(str))
    return pd.DataFrame({
        "study": "CENTRE-REG", "arm": trt, "treatment": trt,
        "time_months": np.maximum(np.round(np.minimum(death, cens), 2), 0.01), "event": (death <= cens).astype(int),
        "tumour_size_cm": size_txt, "nodules": nodules, "months_since_treatment": months,
        "prior_treatment": prior, "microvascular_invasion": mvi,
    })


def main() -> None:
    rng = np.random.default_rng(SEED)
    cohort, curve, risk = published_arm(rng)
    reg = registry(rng)
    curve.to_csv(HERE / "km.csv", index=False)
    risk.to_csv(HERE / "risk.csv", index=False)
    reg.to_csv(HERE / "registry.csv", index=False)
    km = kaplan_meier(cohort["time_months"], cohort["event"])
    t = np.array([12.0, 36.0, 60.0])
    truth = {
        "seed": SEED, "cuts_months": CUTS,
        "published_arm": {
            "study": "SIM-KM", "arm": KM_TREATMENT, "treatment": KM_TREATMENT, "patients": KM_N,
            "monthly_hazards": KM_HAZARDS, "deaths": int(cohort["event"].sum()),
            "km_median_months": km.median(),
            "true_survival": dict(zip([f"{x:g}" for x in t], piecewise_survival(KM_HAZARDS, CUTS, t).round(4))),
            "km_survival": dict(zip([f"{x:g}" for x in t], km(t).round(4))),
        },
        "registry": {"study": "CENTRE-REG", "patients": REG_N, "deaths": int(reg["event"].sum()),
                     "baseline_monthly_hazards": REG_HAZARDS,
                     "baseline": "RFA, solitary, <= 3 cm, late recurrence", "log_hazard_ratios": REG_LOG_HR},
    }
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote km.csv ({len(curve)} points), risk.csv, registry.csv ({REG_N} patients), truth.json in {HERE}")


if __name__ == "__main__":
    main()
