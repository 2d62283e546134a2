"""Likelihood blocks (issue 10): latent n, range order statistics, pooled results, population bias."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rhcc_bayes.specs import parse_spec
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.survival.model import build_survival_model, exposure

from evidence_rows import row, write


TOTALS = pd.DataFrame({"study": ["y"], "total_n": [100], "arms": ["A;B;C"]})


def spec(**evidence):
    return parse_spec({"model": {"name": "t"}, "evidence": evidence}, "t.toml")


def _values(model, names):
    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    point = model.initial_point()
    rng = np.random.default_rng(3)
    point = {k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in point.items()}
    return point, dict(zip(names, fn(point)))


def _potential(model, name, point):
    pot = next(p for p in model.potentials if p.name == name)
    out = model.replace_rvs_by_values([pot])[0]
    return float(model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore")(point))


def test_range_potential_is_the_joint_density_of_min_and_max(tmp_path):
    ev = write(tmp_path, [row(study="rg", ref="1;2;3;4", arm="TACE", treatment="TACE", modality="transarterial",
                              design="review", time_months=36, estimate="", ci_low=0.3, ci_high=0.6, interval="range")])
    sp = spec()
    d = make_design(ev, sp, totals=TOTALS)
    model = build_survival_model(d, sp)
    point, v = _values(model, ["gamma", "mu", "sigma_study"])
    h0 = float(exposure([36.0], d.cuts)[0] @ np.exp(v["gamma"]))
    m = v["mu"][d.structure.treatments.index("TACE")]
    sd = np.sqrt(v["sigma_study"] ** 2 + d.ranges["v_sampling"].iloc[0])
    a = np.log(-np.log(0.6)) - np.log(h0)  # highest survival = smallest theta
    b = np.log(-np.log(0.3)) - np.log(h0)
    k = 4
    f = stats.norm(m, sd)
    expected = np.log(k * (k - 1)) + f.logpdf(a) + f.logpdf(b) + (k - 2) * np.log(f.cdf(b) - f.cdf(a))
    assert _potential(model, "range_order_statistics", point) == pytest.approx(expected, rel=1e-6)


def test_latent_n_landmark_is_a_logit_normal_with_variance_from_the_latent_n(tmp_path):
    ev = write(tmp_path, [row(study="q", arm="A", treatment="TACE", modality="transarterial", time_months=12,
                              estimate=0.7),
                          row(study="k", arm="A", treatment="TACE", modality="transarterial", n=50, time_months=12,
                              estimate=0.8)])
    sp = spec(censoring="none")
    d = make_design(ev, sp, totals=TOTALS)
    model = build_survival_model(d, sp)
    assert model.named_vars_to_dims["latent_n"] == ("latent_arm",)
    point, v = _values(model, ["gamma", "mu", "latent_n", "z_study", "sigma_study"])
    a = int(d.latent_n["arm_index"].iloc[0])
    theta = v["mu"][d.structure.treatments.index("TACE")] + v["sigma_study"] * v["z_study"][d.arms.at[a, "s_index"]]
    s_model = np.exp(-np.exp(theta) * float(exposure([12.0], d.cuts)[0] @ np.exp(v["gamma"])))
    n = float(v["latent_n"][0])
    q = (n * 0.7 + 0.5) / (n + 1)
    expected = stats.norm(np.log(s_model / (1 - s_model)), np.sqrt(1 / (n * q * (1 - q)))).logpdf(np.log(q / (1 - q)))
    assert _potential(model, "landmark_latent_n", point) == pytest.approx(expected, rel=1e-6)


def test_known_total_shares_are_dirichlet_and_sum_to_the_total(tmp_path):
    rows = [row(study="y", arm=arm, treatment=trt, modality=mod, time_months=12, estimate=s)
            for arm, trt, mod, s in [("A", "TACE-RFA", "combination", 0.9), ("B", "TACE", "transarterial", 0.7),
                                     ("C", "RFA", "ablation", 0.8)]]
    ev = write(tmp_path, rows)
    sp = spec()
    d = make_design(ev, sp, totals=TOTALS)
    model = build_survival_model(d, sp)
    assert "n_share_0" in model.named_vars
    _, v = _values(model, ["latent_n"])
    assert v["latent_n"].sum() == pytest.approx(100.0)


def test_population_bias_only_for_non_recurrent_arms(tmp_path):
    ev = write(tmp_path, [row(study="p", arm="A", treatment="RFA", modality="ablation", n=60, time_months=12,
                              estimate=0.9, population="primary"),
                          row(study="r", arm="A", treatment="RFA", modality="ablation", n=60, time_months=12,
                              estimate=0.8)])
    sp = spec()
    d = make_design(ev, sp, totals=TOTALS)
    model = build_survival_model(d, sp)
    assert model.named_vars_to_dims["delta_population"] == ("bias_population",)
    assert "sigma_population" in model.named_vars
    # recurrent-only evidence: no bias parameters at all
    ev2 = write(tmp_path, [row(study="r", arm="A", treatment="RFA", modality="ablation", n=60, time_months=12,
                               estimate=0.8)])
    assert "delta_population" not in build_survival_model(make_design(ev2, sp, totals=TOTALS), sp).named_vars


def test_pooled_contrast_variance_adds_between_study_variance(tmp_path):
    rows = [row(study="pc", ref="", arm="RR", treatment="REPEAT-RESECTION", modality="surgery", design="meta_analysis",
                measure="hr", estimate=0.77, ci_low=0.65, ci_high=0.92, interval="ci95", comparator_arm="RFA",
                unit="ratio"),
            row(study="pc", ref="", arm="RFA", treatment="RFA", modality="ablation", design="meta_analysis",
                outcome="enrolment", measure="count", unit="patients", estimate="")]
    ev = write(tmp_path, rows)
    for policy, add in (("add_between_study", True), ("reported", False)):
        sp = spec(pooled_variance=policy)
        d = make_design(ev, sp, totals=TOTALS)
        model = build_survival_model(d, sp)
        point, v = _values(model, ["mu", "sigma_study"])
        t = d.structure.treatments
        mean = v["mu"][t.index("REPEAT-RESECTION")] - v["mu"][t.index("RFA")]
        se = d.hazard_ratios["se"].iloc[0]
        sd = np.sqrt(se ** 2 + (v["sigma_study"] ** 2 if add else 0.0))
        logp = float(model.compile_fn(model.logp(vars=[model["log_hr"]], sum=True), inputs=model.value_vars,
                                      on_unused_input="ignore")(point))
        assert logp == pytest.approx(stats.norm(mean, sd).logpdf(np.log(0.77)), rel=1e-6)


def test_pooled_landmark_uses_the_average_population_on_the_cloglog_scale(tmp_path):
    ev = write(tmp_path, [row(study="pl", ref="54", arm="TACE", treatment="TACE", modality="transarterial",
                              design="meta_analysis", time_months=60, estimate=0.155, n=300)])
    sp = spec(censoring="none")
    d = make_design(ev, sp, totals=TOTALS)
    model = build_survival_model(d, sp)
    point, v = _values(model, ["gamma", "mu", "sigma_study"])
    h = np.exp(v["mu"][0]) * float(exposure([60.0], d.cuts)[0] @ np.exp(v["gamma"]))
    s = 0.155
    var = (1 - s) / (300 * s * np.log(s) ** 2) + v["sigma_study"] ** 2 / 2
    expected = stats.norm(np.log(h), np.sqrt(var)).logpdf(np.log(-np.log(s)))
    assert _potential(model, "pooled_landmark", point) == pytest.approx(expected, rel=1e-6)


def test_binomial_logp_is_the_binomial_log_pmf():
    """The count rows' density (binomial coefficient looked up in a log-factorial table, model
    .15) is scipy's binomial log pmf, -inf outside 0..n, and -inf (not a read outside the table)
    for an n beyond it."""
    import pytensor.tensor as pt

    from rhcc_bayes.survival.likelihood import binomial_logp, log_factorials, table_size

    rng = np.random.default_rng(5)
    n = np.concatenate([rng.integers(0, 300, 40), [0, 7, 7, 7, 255]])
    k = np.concatenate([(n[:40] * rng.uniform(0, 1, 40)).astype(int), [0, 0, 7, 8, 255]])
    p = np.concatenate([rng.uniform(0.01, 0.99, 40), [0.3, 0.2, 0.6, 0.5, 0.9]])
    assert table_size(n) == 512 and table_size([3]) == 64
    table = log_factorials(table_size(n))
    got = binomial_logp(pt.as_tensor(k), pt.as_tensor(n), pt.as_tensor(p), table).eval()
    expected = stats.binom.logpmf(k, n, p)
    assert np.isneginf(got[43]) and np.isneginf(expected[43])  # k > n
    keep = np.arange(len(n)) != 43
    np.testing.assert_allclose(got[keep], expected[keep], rtol=1e-12, atol=1e-10)
    beyond = binomial_logp(pt.as_tensor([3, 3]), pt.as_tensor([70, 7]), pt.as_tensor([0.5, 1.5]), log_factorials(64))
    assert np.isneginf(beyond.eval()).all()  # n beyond the table; p outside [0, 1]


@pytest.mark.slow
def test_count_rows_have_pymc_binomials_log_density_and_gradient(monkeypatch):
    """A simulated evidence base of ~60 arms (landmark and median count rows, hazard ratios): the
    model's log density and gradient at random points equal those of the same model with PyMC's
    own Binomial for the count rows (model .14's graph), to 1e-9."""
    import pymc as pm
    from compiling import log_density

    from rhcc_bayes.evidence.table import Evidence
    from rhcc_bayes.evidence.taxonomy import Taxonomy
    from rhcc_bayes.survival import likelihood
    from rhcc_bayes.survival.simulate import synthetic_table

    treatments = {"TACE": "transarterial", "TARE": "transarterial", "RFA": "ablation", "MWA": "ablation",
                  "SBRT": "radiation"}
    table = synthetic_table(40, list(treatments), np.random.default_rng(3))
    sp = spec(censoring="none")
    design = make_design(Evidence(table, Taxonomy.open_world(treatments), ("simulated",)), sp)
    assert len(design.arms) >= 50 and len(design.landmarks) and len(design.medians)
    model = build_survival_model(design, sp)

    def pymc_binomial_rows(pm_, name, n, events, p, weight, dim):
        keep = np.asarray(weight) > 0
        n_data = pm_.Data(f"{name}_n", np.where(keep, np.asarray(n), 0).astype(np.int64), dims=dim)
        observed = likelihood.observed_data(pm_, name, np.where(keep, np.asarray(events), 0).astype(np.int64), dim)
        return pm_.Binomial(name, n=n_data, p=p, observed=observed, dims=dim)

    monkeypatch.setattr(likelihood, "binomial_rows", pymc_binomial_rows)
    reference = build_survival_model(design, sp)
    assert isinstance(reference["landmark_deaths"].owner.op, type(pm.Binomial.dist(1, 0.5).owner.op))
    new, ref = log_density(model), log_density(reference)
    start = model.initial_point()
    rng = np.random.default_rng(11)
    for _ in range(4):
        point = {k: v + 0.5 * rng.standard_normal(np.shape(v)) for k, v in start.items()}
        (lp, grad), (lp_ref, grad_ref) = new(point), ref(point)
        assert np.isfinite(lp) and lp == pytest.approx(lp_ref, rel=0, abs=1e-9)
        np.testing.assert_allclose(grad, grad_ref, rtol=0, atol=1e-9)
