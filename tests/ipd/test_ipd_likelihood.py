"""The Weibull IPD likelihood in the PyMC graph equals the patients' log-likelihood computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rhcc_bayes.synthesis import Synthesis

HEADER = "study,arm,treatment,time_months,event,tumour_size_cm,nodules,months_since_treatment,prior_treatment\n"
ROWS = [("REG", "A", "RFA", 10.0, 1, 2.5, 1, 20, "resection"), ("REG", "A", "RFA", 30.0, 0, 4.0, 3, 5, ""),
        ("REG", "A", "RFA", 30.0, 0, 4.0, 3, 5, ""), ("REG", "B", "TACE", 5.5, 1, 7.0, "", "", "transplant")]


@pytest.mark.slow  # builds and compiles the full Weibull model graph
def test_weibull_potential_is_the_exact_patient_likelihood(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(HEADER + "".join(",".join(str(v) for v in r) + "\n" for r in ROWS))
    s = Synthesis("weibull", ipd=path)
    assert len(s.design.ipd.rows) == 3 and s.design.ipd.rows["weight"].max() == 2  # duplicates aggregated
    model = s.build_model()
    names = ["ipd_loglik", "mu", "log_lambda", "weibull_shape", "sigma_study", "z_study", "beta_size",
             "beta_size_ablation", "beta_nodularity", "beta_recurrence", "beta_prior"]
    fn = model.compile_fn([model[n] for n in names], inputs=model.value_vars, on_unused_input="ignore",
                         mode="FAST_COMPILE")  # python ops: no C compile of a one-off function
    rng = np.random.default_rng(0)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    v = dict(zip(names, fn(point)))
    trt = list(s.design.structure.treatments)
    study = list(s.design.studies).index("REG")
    ll = 0.0
    for _, _, code, t, d, size, nod, months, prior in ROWS:
        size_lvl = 0 if size <= 3 else 1 if size <= 5 else 2
        theta = (v["mu"][trt.index(code)] + v["sigma_study"] * v["z_study"][study] + v["beta_size"][size_lvl]
                 + (v["beta_size_ablation"][size_lvl] if code == "RFA" else 0.0))
        if nod != "":
            theta += v["beta_nodularity"][0 if nod == 1 else 1]
        if months != "":
            theta += v["beta_recurrence"][0 if months < 12 else 1]
        if prior == "transplant":  # after resection: the reference population, no effect
            theta += v["beta_prior"][0]
        a, log_scale = v["weibull_shape"], v["log_lambda"] + theta
        ll += d * (np.log(a) + log_scale + (a - 1) * np.log(t)) - np.exp(log_scale) * t ** a
    assert float(v["ipd_loglik"]) == pytest.approx(ll, rel=1e-9)
