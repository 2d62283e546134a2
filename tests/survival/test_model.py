"""The PyMC survival model: structure, closed forms, and the prior predictive check."""

import numpy as np
import pytest

from rhcc_bayes.survival.hazards.piecewise import Piecewise
from rhcc_bayes.survival.model import build_survival_model, exposure
from rhcc_bayes.survival.criticism import prior_survival
from rhcc_bayes.survival.design import make_design
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.specs import load_spec

import compiling


@pytest.fixture(scope="module")
def evidence():
    return load_evidence()


def test_model_has_named_dims_for_every_parameter(evidence):
    spec = load_spec("default")
    design = make_design(evidence, spec)
    model = build_survival_model(design, spec)
    assert list(model.coords["treatment"]) == list(evidence.taxonomy.codes)
    assert list(model.coords["segment"]) == ["0-12", "12-36", "36-60", "60+"]
    assert model.named_vars_to_dims["mu"] == ("treatment",)
    assert model.named_vars_to_dims["class_effect"] == ("modality",)
    assert model.named_vars_to_dims["z_study"] == ("study",)
    observed = {v.name for v in model.observed_RVs}
    # every block of the design with rows has its observed variable, and nothing else is observed
    med = design.medians
    known_med = med["se_log"].isna() & (med["latent"] < 0)
    expected = {name for name, rows in [
        ("landmark_deaths", design.landmarks[design.landmarks["latent"] < 0]), ("median_alive", med[known_med]),
        ("median_log", med[med["se_log"].notna()]), ("log_hr", design.hazard_ratios), ("los_mean", design.stay),
    ] if len(rows)} | {f"{o}_events" for o in design.secondary.loc[design.secondary["latent"] < 0, "outcome"].unique()}
    assert {"landmark_deaths", "median_alive"} <= observed
    assert observed == expected
    assert len(model.coords["landmark_obs"]) == int((design.landmarks["latent"] < 0).sum())
    # issue 10: latent-n landmarks/medians, pooled landmarks and ranges enter as potentials
    pots = {name for name, rows in [
        ("landmark_latent_n", design.landmarks[design.landmarks["latent"] >= 0]),
        ("median_latent_n", med[med["se_log"].isna() & (med["latent"] >= 0)]),
        ("pooled_landmark", design.pooled_landmarks), ("range_order_statistics", design.ranges)] if len(rows)}
    pots |= {f"{o}_latent_n" for o in design.secondary.loc[design.secondary["latent"] >= 0, "outcome"].unique()}
    assert {p.name for p in model.potentials} == pots
    assert model.named_vars_to_dims["delta_population"] == ("bias_population",)
    assert model.named_vars_to_dims["latent_n"] == ("latent_arm",)


def test_components_mode_makes_combinations_the_mean_of_their_parts(evidence):
    spec = load_spec("components")
    design = make_design(evidence, spec)
    st = design.structure
    row = st.component_matrix[st.treatments.index("TACE-RFA")]
    assert row[st.treatments.index("TACE")] == pytest.approx(0.5)
    assert row[st.treatments.index("RFA")] == pytest.approx(0.5)
    model = build_survival_model(design, spec)
    assert "tau_interaction" in model.named_vars


def test_hazard_family_and_arm_heterogeneity_variants_build(evidence):
    for name, var in [("weibull", "weibull_shape"), ("arm_heterogeneity", "sigma_arm"),
                      ("mspline", "spline_coef"), ("cure", "cure_fraction")]:
        spec = load_spec(name)
        assert var in build_survival_model(make_design(evidence, spec), spec).named_vars


def test_exposure_splits_time_across_segments():
    cuts = np.array([0, 12, 36, np.inf])
    assert exposure([6, 40], cuts).tolist() == [[6, 0, 0], [12, 24, 4]]


def test_piecewise_median_closed_form_matches_numeric_inversion():
    import pytensor.tensor as pt

    cuts = np.array([0.0, 12.0, 36.0, 60.0, np.inf])
    rng = np.random.default_rng(0)
    gamma = np.log(rng.uniform(0.005, 0.08, size=4))
    theta = rng.normal(0, 0.5, size=6)
    med = Piecewise(cuts).inverse_cumhaz_pt(pt, {"gamma": pt.as_tensor(gamma)}, pt.as_tensor(theta), np.log(2.0)).eval()
    grid = np.linspace(0, 600, 600001)
    for th, m in zip(theta, med):
        surv = np.exp(-(exposure(grid, cuts) @ np.exp(gamma + th)))
        assert m == pytest.approx(grid[np.argmax(surv <= 0.5)], abs=2e-3)


def test_prior_predictive_survival_is_plausible(evidence):
    """The priors' 5-year survival spreads over (0, 1) without piling at the edges."""
    summary = prior_survival(evidence, load_spec("default"), draws=1000, seed=1)
    s60 = summary["s60"].values.ravel()
    s12 = summary["s12"].values.ravel()
    assert 0.1 < np.median(s60) < 0.5  # R-HCC cohorts report ~15-80% at 5 years
    # advanced disease (sorafenib, median OS ~9 months) has S60 ~ 1%, so some prior mass there is right
    assert np.mean(s60 < 0.01) < 0.12 and np.mean(s60 > 0.99) < 0.02
    assert np.quantile(s60, 0.9) - np.quantile(s60, 0.1) > 0.3  # weakly informative, not a point mass
    assert np.median(s12) > np.median(s60)


def test_covariates_left_out_of_the_spec_get_no_parameters(evidence):
    from rhcc_bayes.specs import parse_spec

    spec = parse_spec({"model": {"name": "x", "covariates": ["size_band"]}}, "x.toml")
    model = build_survival_model(make_design(evidence, spec), spec)
    assert "beta_size" in model.named_vars and "beta_size_ablation" in model.named_vars
    assert not {"beta_nodularity", "beta_recurrence", "beta_prior"} & set(model.named_vars)


def test_data_rich_classes_are_centred_with_the_same_prior(evidence, monkeypatch):
    """Classes whose treatments all have >= CENTRED_MIN_ARMS arms get zero-sum centred deviations;
    the prior of mu is the partially centred model's (the bundled evidence: no class fully centred)."""
    import pymc as pm

    from rhcc_bayes.survival import model as model_module

    spec = load_spec("default")
    design = make_design(evidence, spec)
    st = design.structure
    assert not model_module._centred_classes(design, spec).any()  # bundled: <= 5 arms per treatment
    monkeypatch.setattr(model_module, "CENTRED_MIN_ARMS", 0)  # some taxonomy treatments have no arm
    centred = model_module._centred_classes(design, spec)
    assert 0 < centred.sum() < len(centred)  # single-treatment classes have no deviation to centre
    priors = {}
    for name, cut in (("centred", 0), ("partial", 10**6)):
        monkeypatch.setattr(model_module, "CENTRED_MIN_ARMS", cut)
        m = build_survival_model(design, spec)
        if name == "centred":
            assert {f"deviation_{st.modalities[c]}" for c in np.flatnonzero(centred)} <= set(m.named_vars)
        priors[name] = pm.sample_prior_predictive(draws=4000, model=m, var_names=["mu", "class_effect"],
                                                  random_seed=3).prior
    mu = priors["centred"]["mu"].values.reshape(-1, len(st.treatments))
    cls = priors["centred"]["class_effect"].values.reshape(-1, len(st.modalities))
    for c in np.flatnonzero(centred):  # deviations sum to zero within the class, as before
        members = st.class_index == c
        np.testing.assert_allclose(mu[:, members].mean(axis=1), cls[:, c], atol=1e-9)
    sd = {k: v["mu"].std(("chain", "draw")).values for k, v in priors.items()}
    np.testing.assert_allclose(sd["centred"], sd["partial"], rtol=0.08)


def test_centring_weights_follow_the_least_informed_treatment_of_a_class(evidence):
    """Partial centring only where every treatment of a class has arms (model .14)."""
    from rhcc_bayes.evidence.table import Evidence
    from rhcc_bayes.evidence.taxonomy import Taxonomy
    from rhcc_bayes.survival.model import _centring_weights
    from rhcc_bayes.survival.simulate import synthetic_table

    spec = load_spec("default")
    assert not _centring_weights(make_design(evidence, spec), spec).any()  # bundled: prior-only treatments
    treatments = {"TACE": "transarterial", "TARE": "transarterial", "RFA": "ablation", "MWA": "ablation",
                  "SBRT": "radiation"}
    table = synthetic_table(15, list(treatments), np.random.default_rng(1))  # 3-6 arms per treatment
    design = make_design(Evidence(table, Taxonomy.open_world(treatments), ("simulated",)), spec)
    st = design.structure
    n_arms = np.bincount(design.arms["t_index"].astype(int), minlength=len(st.treatments))
    weights = dict(zip(st.modalities, _centring_weights(design, spec)))
    assert weights["radiation"] == 0  # one treatment: its class effect
    for c in ("transarterial", "ablation"):
        info = n_arms[st.class_index == st.modalities.index(c)].min() / spec.priors.study_sd ** 2
        assert weights[c] == pytest.approx(info / (info + 1 / (spec.priors.treatment_sd / 2) ** 2))  # tau's mode
        assert 0.3 < weights[c] < 0.8


def test_partially_centred_deviations_have_the_centred_models_log_density(evidence, monkeypatch):
    """A class's treatment deviations sampled as tau^(1 - w) * ZeroSumNormal(sigma=tau^w) (model .14,
    model._centring_weights): at random points the log density (free coordinates, with the
    transforms' Jacobians) minus the fully centred model's (w = 1, deviations ZeroSumNormal(tau))
    at the mapped point (the zero-sum coordinate times tau^(1 - w)) is
    sum_c (n_c - 1) (1 - w_c) log tau, the Jacobian of that map, as tau moves: the weights change
    coordinates, not the posterior."""
    from rhcc_bayes.survival import model as model_module

    spec = load_spec("default")
    design = make_design(evidence, spec)
    st = design.structure
    sizes = np.bincount(st.class_index, minlength=len(st.modalities))
    classes = np.flatnonzero(sizes > 1)
    weights = np.linspace(0.15, 0.9, len(st.modalities))
    monkeypatch.setattr(model_module, "_centring_weights", lambda d, s: weights)
    new = build_survival_model(design, spec)
    monkeypatch.setattr(model_module, "_centring_weights", lambda d, s: np.ones(len(st.modalities)))
    old = build_survival_model(design, spec)
    names = [f"deviation_{st.modalities[c]}_zerosum__" for c in classes]
    assert {v.name for v in new.value_vars} == {v.name for v in old.value_vars} >= set(names)
    # one compile per model (each is a whole-model graph); the new model's tau comes with its density
    new_logp = compiling.function(new, [compiling.density(new), new["tau_treatment"]])
    old_logp = compiling.function(old, [compiling.density(old)])
    rng = np.random.default_rng(11)
    start = new.initial_point()
    diffs, expected = [], []
    for _ in range(8):
        point = {k: v + rng.normal(0, 0.8, np.shape(v)) for k, v in start.items()}
        logp, tau = new_logp(point)
        mapped = dict(point)
        for c, name in zip(classes, names):
            mapped[name] = point[name] * tau ** (1 - weights[c])
        diffs.append(float(logp) - float(old_logp(mapped)[0]))
        expected.append(float(np.sum((sizes[classes] - 1) * (1 - weights[classes]))) * np.log(tau))
    assert np.ptp(expected) > 1  # tau moved
    np.testing.assert_allclose(diffs, expected, atol=1e-8)


def test_no_variable_is_named_like_a_dim(evidence):
    """A variable named like a coordinate (``recurrence_level`` once) is silently dropped from
    nutpie's trace, and the log-likelihood then fails for want of it."""
    spec = load_spec("default")
    model = build_survival_model(make_design(evidence, spec), spec)
    assert not set(model.named_vars) & set(model.coords)


@pytest.mark.slow
def test_default_model_has_a_compile_index_entry(evidence, small_fit):
    """A new process refits the default model from the compile index (no PyTensor rewrites) only
    if its start rule can be replayed: the secondary levels, whose support point depends on other
    parameters, once left the default model without an entry (~9 s compile on every refit).
    The session fit has the default model's graph: the entry its compile wrote is read instead
    of compiling the same graph again (~75 s of rewrites)."""
    from rhcc_bayes.inference import compile_index, nutpie_cache

    spec = load_spec("default")
    model = build_survival_model(make_design(evidence, spec), spec)
    key = nutpie_cache.index_key(model)
    assert key is not None
    entry = compile_index.read_entry(key)
    if entry is None:  # the session fit came from a fit cache and compiled nothing: compile here
        _, cached, entry = nutpie_cache.compile_full(model)
        assert cached
    assert entry is not None
