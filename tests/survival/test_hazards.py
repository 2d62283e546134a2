"""Hazard families: numpy S/RMST/median agree with numerical integration of the hazard,
and the PyTensor cumulative hazard / inverse used by the likelihood equal the numpy ones."""

import math
import zlib

import numpy as np
import pytest
from scipy.integrate import quad

from rhcc_bayes.survival.hazards import FAMILIES
from rhcc_bayes.survival.hazards.base import HazardFamily
from rhcc_bayes.survival.hazards.cure import Cure
from rhcc_bayes.survival.hazards.mspline import MSpline, place_knots
from rhcc_bayes.survival.hazards.piecewise import Piecewise
from rhcc_bayes.survival.hazards.weibull import Weibull

N = 4
CUTS = np.array([0.0, 12.0, 36.0, 60.0, np.inf])
KNOTS = (np.array([18.0, 38.0]), 60.0)


def make(name):
    base = {"piecewise": lambda: Piecewise(CUTS), "weibull": Weibull, "mspline": lambda: MSpline(*KNOTS)}
    if name.startswith("cure_"):
        return Cure(base[name[5:]]())
    return base[name]()


def params(family, rng):
    if isinstance(family, Cure):
        return {**params(family.base, rng), "cure_fraction": rng.uniform(0.05, 0.6, N)}
    if isinstance(family, Piecewise):
        return {"gamma": np.log(rng.uniform(0.005, 0.08, (N, len(family.cuts) - 1)))}
    if isinstance(family, Weibull):
        return {"log_lambda": rng.normal(-3.9, 0.5, N), "weibull_shape": rng.uniform(0.6, 1.6, N)}
    return {"log_hazard_level": rng.normal(-3.7, 0.5, N), "spline_coef": rng.dirichlet(np.ones(family.n_basis) * 2, N)}


NAMES = ["piecewise", "weibull", "mspline", "cure_piecewise", "cure_weibull", "cure_mspline"]
TIMES = np.array([0.5, 7.0, 12.0, 30.0, 59.0, 75.0, 120.0])
BREAKS = [12.0, 18.0, 36.0, 38.0, 60.0]


@pytest.fixture(params=NAMES)
def case(request):
    rng = np.random.default_rng(zlib.crc32(request.param.encode()))
    fam = make(request.param)
    return fam, params(fam, rng), rng.normal(0, 0.4, N)


def one(p, i):
    return {k: v[i:i + 1] for k, v in p.items()}


def integral(f, a, b):
    pts = [x for x in BREAKS if a < x < b]
    return quad(f, a, b, points=pts or None, epsabs=0, epsrel=1e-11, limit=400)[0]


def test_table_lists_every_family():
    assert set(FAMILIES) == {"piecewise", "weibull", "mspline", "cure"}


def test_cumulative_hazard_and_survival_integrate_the_hazard(case):
    fam, p, theta = case
    big_h = fam.cumulative_hazard(p, theta, TIMES)
    surv = fam.survival(p, theta, TIMES)
    assert big_h.shape == surv.shape == (N, TIMES.size)
    for i in range(N):
        pi, th = one(p, i), theta[i:i + 1]
        for j, t in enumerate(TIMES):
            ref = integral(lambda s: fam.hazard(pi, th, [s])[0, 0], 0.0, t)
            assert big_h[i, j] == pytest.approx(ref, rel=1e-6)
            assert surv[i, j] == pytest.approx(math.exp(-ref), rel=1e-6)


@pytest.mark.parametrize("tau", [24.0, 60.0, 100.0])
def test_rmst_equals_integral_of_survival(case, tau):
    fam, p, theta = case
    rmst = fam.rmst(p, theta, tau)
    for i in range(N):
        pi, th = one(p, i), theta[i:i + 1]
        ref = integral(lambda s: fam.survival(pi, th, [s])[0, 0], 0.0, tau)
        assert rmst[i] == pytest.approx(ref, rel=1e-6)


def test_median_solves_s_equal_half_and_is_inf_beyond_horizon(case):
    fam, p, theta = case
    med = fam.median(p, theta)
    for i in range(N):
        pi, th = one(p, i), theta[i:i + 1]
        if np.isinf(med[i]):  # only when S never reaches 1/2 (a cure fraction >= 1/2)
            assert "cure_fraction" in p and p["cure_fraction"][i] >= 0.5
            continue
        ref = integral(lambda s: fam.hazard(pi, th, [s])[0, 0], 0.0, med[i])
        assert ref == pytest.approx(math.log(2.0), rel=1e-6)
    horizon = float(np.nanmin(np.where(np.isinf(med), np.nan, med))) - 1e-6
    capped = fam.median(p, theta, horizon)
    assert np.all(np.isinf(capped[med > horizon]))
    assert np.array_equal(capped[med <= horizon], med[med <= horizon])


def _pt_params(p):
    import pytensor.tensor as pt

    # the likelihood binds one value per parameter (not per draw): use draw 0
    return {k: pt.as_tensor(np.asarray(v[0], dtype=float)) for k, v in p.items()}


def test_pytensor_cumulative_hazard_equals_numpy(case):
    import pytensor.tensor as pt

    fam, p, theta = case
    p0 = {k: np.broadcast_to(v[:1], v.shape) for k, v in p.items()}  # one parameter draw, N arms
    times = np.array([0.0, 6.0, 12.0, 20.0, 36.0, 59.5, 60.0, 90.0])
    obs_theta = np.repeat(theta, times.size)
    obs_times = np.tile(times, N)
    sym = fam.cumulative_hazard_pt(pt, _pt_params(p), pt.as_tensor(obs_theta), obs_times).eval()
    num = fam.cumulative_hazard(p0, theta, times).ravel()
    np.testing.assert_allclose(sym, num, rtol=1e-10, atol=1e-14)


def test_pytensor_median_equals_numpy_and_has_the_implicit_gradient(case):
    import pytensor
    import pytensor.tensor as pt

    fam, p, theta = case
    p0 = {k: np.broadcast_to(v[:1], v.shape) for k, v in p.items()}
    th = pt.dvector("theta")
    med_sym = fam.inverse_cumhaz_pt(pt, _pt_params(p), th, math.log(2.0))
    f = pytensor.function([th], [med_sym, pytensor.grad(med_sym.sum(), th)])
    med, grad = f(theta)
    ref = fam.median(p0, theta)
    finite = np.isfinite(ref)
    np.testing.assert_allclose(med[finite], ref[finite], rtol=1e-8)
    # d median / d theta = -H_theta / h = -(dH/dtheta) / h at the median, checked by finite differences
    eps = 1e-6
    with np.errstate(invalid="ignore"):  # inf - inf where there is no median
        fd = (fam.median(p0, theta + eps) - fam.median(p0, theta - eps)) / (2 * eps)
    np.testing.assert_allclose(grad[finite], fd[finite], rtol=1e-4)


def test_mspline_basis_integrates_to_one_and_constant_coefficients_give_a_flat_hazard():
    fam = MSpline(*KNOTS)
    t = np.linspace(0, 60, 121)
    i_t, m_t = fam.basis(t)
    np.testing.assert_allclose(i_t[-1], 1.0, atol=1e-12)
    for k in range(fam.n_basis):
        assert quad(lambda s: fam.basis(np.array([s]))[1][0, k], 0, 60, points=BREAKS)[0] == pytest.approx(1.0)
    p = {"log_hazard_level": np.array([np.log(0.02)]), "spline_coef": fam.constant[None, :]}
    np.testing.assert_allclose(fam.hazard(p, np.zeros(1), [1.0, 20.0, 59.0, 100.0]), 0.02, rtol=1e-10)


def test_knots_at_quantiles_of_observed_times():
    interior, boundary = place_knots(np.array([9.0, 12, 12, 14, 18, 22, 31, 36, 36, 38, 42, 60, 60]), 6)
    assert boundary == 60.0 and len(interior) == 2 and 0 < interior[0] < interior[1] < 60
    interior, _ = place_knots(np.array([12.0, 12.0, 60.0]), 7)  # too few distinct times: even spacing
    np.testing.assert_allclose(interior, [15, 30, 45])


def test_every_family_says_what_it_assumes_beyond_the_data():
    for name in NAMES:
        text = make(name).extrapolation()
        assert isinstance(text, str) and len(text) > 20


class Exponential(HazardFamily):
    """A family written only for this test: constant hazard exp(log_rate + theta)."""

    name = "exponential"
    parameter_names = ("log_rate",)

    @classmethod
    def from_design(cls, spec, design):
        return cls()

    @classmethod
    def from_idata(cls, idata):
        return cls()

    def add_priors(self, pm, pt, priors):
        return {"log_rate": pm.Normal("log_rate", priors.baseline_log_hazard_mean, priors.baseline_log_hazard_sd)}

    def cumulative_hazard_pt(self, pt, params, theta, times):
        return pt.exp(params["log_rate"] + theta) * times

    def inverse_cumhaz_pt(self, pt, params, theta, target):
        return target / pt.exp(params["log_rate"] + theta)

    def _rate(self, p, theta):
        return np.exp(p["log_rate"] + np.asarray(theta, dtype=float))

    def hazard(self, p, theta, t):
        return self._rate(p, theta)[..., None] * np.ones(np.shape(t))

    def cumulative_hazard(self, p, theta, t):
        return self._rate(p, theta)[..., None] * np.asarray(t, dtype=float)

    def rmst(self, p, theta, tau):
        rate = self._rate(p, theta)
        return -np.expm1(-rate * tau) / rate

    def inverse_cumhaz(self, p, theta, target):
        return np.asarray(target, dtype=float) / self._rate(p, theta)

    def extrapolation(self):
        return "the hazard is constant at all times"


def test_a_new_family_needs_one_class_and_one_table_entry(monkeypatch):
    """Spec validation, model building, the posterior metadata, the gate's parameter list and
    the decision summary all pick up a family from the table alone."""
    import arviz as az

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import parse_spec
    from rhcc_bayes.survival.criticism import prior_survival
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.hazards import family_from_idata
    from rhcc_bayes.survival.metadata import attach_metadata
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.survival.summary import survival_summary
    from rhcc_bayes.synthesis import gate_var_names

    monkeypatch.setitem(FAMILIES, "exponential", Exponential)
    evidence = load_evidence()
    spec = parse_spec({"model": {"name": "exp", "hazard": "exponential"}}, "exp.toml")
    design = make_design(evidence, spec)
    model = build_survival_model(design, spec)
    assert "log_rate" in model.named_vars and "gamma_first" not in model.named_vars
    prior = prior_survival(evidence, spec, draws=200, seed=1)  # metadata -> family -> summary
    assert prior["s60"].dims == ("chain", "draw", "treatment")
    rng = np.random.default_rng(0)
    post = az.from_dict(posterior={"log_rate": rng.normal(-3.9, 0.1, (1, 50)),
                                   "mu": rng.normal(0, 0.3, (1, 50, len(design.structure.treatments)))},
                        dims={"mu": ["treatment"]}, coords={"treatment": list(design.structure.treatments)})
    post = attach_metadata(post, design, spec, evidence.hash)
    assert isinstance(family_from_idata(post), Exponential)
    assert "log_rate" in gate_var_names(post)
    ds = survival_summary(post, {}, horizon=60)
    rate = np.exp(post.posterior["log_rate"].values[..., None] + post.posterior["mu"].values)
    np.testing.assert_allclose(ds["rmst"].values, -np.expm1(-rate * 60) / rate, rtol=1e-10)


@pytest.mark.parametrize("model", [{"hazard": "piecewise"}, {"hazard": "weibull"}, {"hazard": "mspline"},
                                   {"hazard": "cure", "cure_base": "mspline"},
                                   {"hazard": "cure", "cure_base": "piecewise"}])
def test_decision_summary_is_exact_for_every_family(model):
    """From a stored posterior (prior draws + metadata) to the decision summary: S(t),
    RMST and median per draw equal the integrals of the family's hazard."""
    import arviz as az
    import pymc as pm

    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import parse_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.hazards import family_from_idata
    from rhcc_bayes.survival.metadata import attach_metadata
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.survival.predict import survival_draws
    from rhcc_bayes.survival.summary import survival_summary

    evidence = load_evidence()
    spec = parse_spec({"model": {"name": "x", **model}}, "x.toml")
    design = make_design(evidence, spec)
    prior = pm.sample_prior_predictive(draws=20, model=build_survival_model(design, spec), random_seed=3)
    idata = attach_metadata(az.InferenceData(posterior=prior.prior), design, spec, evidence.hash)
    assert idata.attrs["last_observed_months"] == 60.0
    cov = {"size_band": "le3", "nodularity": "solitary"}
    ds = survival_summary(idata, cov, horizon=90, landmarks=(12, 60), treatments=["TACE", "SALVAGE-LT"])
    assert set(ds.data_vars) == {"rmst", "median", "s12", "s60", "survival"}
    assert ds["survival"].dims == ("chain", "draw", "treatment", "time") and ds["survival"].dtype == np.float32
    assert ds["rmst"].dims == ("chain", "draw", "treatment")
    draws = survival_draws(idata, cov, [12.0, 60.0]).sel(treatment=["TACE", "SALVAGE-LT"])
    np.testing.assert_allclose(ds["s60"].values, draws.sel(time=60.0).values, rtol=1e-12)
    fam = family_from_idata(idata)
    from rhcc_bayes.survival.predict import linear_predictor

    theta = linear_predictor(idata, cov).sel(treatment="TACE").values[0]
    params = fam.posterior_params(idata.posterior)
    for d in range(0, 20, 7):
        pd_ = {k: v[0, d:d + 1] for k, v in params.items()}
        th = theta[d:d + 1]
        ref = integral(lambda s: fam.survival(pd_, th, [s])[0, 0], 0.0, 90.0)
        assert float(ds["rmst"].sel(treatment="TACE").values[0, d]) == pytest.approx(ref, rel=1e-6)
        med = float(ds["median"].sel(treatment="TACE").values[0, d])
        if np.isfinite(med):
            assert med <= 90 and fam.survival(pd_, th, [med])[0, 0] == pytest.approx(0.5, rel=1e-8)
        else:
            assert fam.survival(pd_, th, [90.0])[0, 0] >= 0.5
