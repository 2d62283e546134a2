"""NMA engine: spec validation, evidence -> network, model structure, exact Gaussian checks.

No MCMC here: the likelihood code is checked against scipy at a point, and the
fully Gaussian models (tau fixed, normal fixed effects) against closed forms through
their mode and Hessian. Sampling-based reproductions live in test_nma_reference.py.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.evidence import schema
from rhcc_bayes.core.errors import UserError
from rhcc_bayes.nma.data import read_evidence
from rhcc_bayes.nma.model import build_nma_model, model_info, random_effect_structure
from rhcc_bayes.nma.data import prepare_nma_data
from rhcc_bayes.nma.spec import NMASpec, load_nma_spec, parse_nma_spec

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "examples" / "reference"
MODELS = ROOT / "models"

BASE = {"model": {"family": "nma", "likelihood": "binomial", "link": "logit", "reference": "a"}}


def spec_with(**sections) -> dict:
    """BASE with some sections' keys replaced (None deletes a key)."""
    out = copy.deepcopy(BASE)
    for section, values in sections.items():
        table = out.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    return out


def error_of(mapping) -> str:
    with pytest.raises(UserError) as info:
        parse_nma_spec(mapping, "s.toml")
    return str(info.value)


# -- spec -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(MODELS.glob("nma_*.toml")), ids=lambda p: p.name)
def test_bundled_specs_parse(path):
    spec = load_nma_spec(path)
    assert isinstance(spec, NMASpec)
    assert spec.source == str(path)
    assert spec.seed is not None


def test_spec_defaults_and_values():
    spec = parse_nma_spec(spec_with(model={"link": None}), "s.toml")
    assert (spec.likelihood, spec.link, spec.effects, spec.baselines) == ("binomial", "logit", "fixed", "fixed")
    assert spec.outcome == "event" and spec.time_offset is False and spec.sampler == {}
    re = load_nma_spec(MODELS / "nma_diabetes_re.toml")
    assert (re.link, re.time_offset, re.time_unit, re.effects) == ("cloglog", True, "years", "random")
    assert (re.baseline_sd, re.effect_sd, re.tau_sd, re.tau) == (10.0, 10.0, 5.0, None)
    assert re.prediction.sd == pytest.approx(1 / np.sqrt(1.11))
    assert re.sampler == {"chains": 4, "draws": 2000, "tune": 1000}
    fixed = load_nma_spec(MODELS / "nma_bcg_fixed_tau.toml")
    assert fixed.tau == pytest.approx(np.sqrt(0.3132))


def test_unknown_keys_suggest_the_right_one():
    msg = error_of({**spec_with(model={"likelyhood": "binomial"}), "prior": {}})
    assert msg == (
        "2 problems found:\n"
        "  s.toml: column 'prior': unknown key (did you mean 'priors'?)\n"
        "  s.toml: column 'model.likelyhood': unknown key (did you mean 'likelihood'?)"
    )
    assert error_of(spec_with(priors={"tausd": 1.0})) == \
        "1 problem found:\n  s.toml: column 'priors.tausd': unknown key (did you mean 'tau_sd'?)"


@pytest.mark.parametrize("sections, message", [
    ({"model": {"family": "survival"}},
     "s.toml: column 'model.family': must be 'nma' for a network meta-analysis spec (got 'survival')"),
    ({"model": {"likelihood": "poisson"}},
     "s.toml: column 'model.likelihood': must be one of ['binomial', 'normal'] (got 'poisson')"),
    ({"model": {"link": "identity"}},
     "s.toml: column 'model.link': 'identity' does not go with likelihood 'binomial'; use 'logit' or 'cloglog'"),
    ({"model": {"time_offset": True}},
     "s.toml: column 'model.time_offset': a log-time offset needs link = 'cloglog' (got link 'logit')"),
    ({"model": {"effects": "randon"}},
     "s.toml: column 'model.effects': must be one of ['fixed', 'random'] (did you mean 'random'?) (got 'randon')"),
    ({"model": {"consistency": "UME"}},
     "s.toml: column 'model.consistency': must be one of ['consistency', 'ume'] (did you mean 'ume'?) (got 'UME')"),
    ({"model": {"node_split": ["a"]}},
     "s.toml: column 'model.node_split': must be a list of two different treatment codes (got ['a'])"),
    ({"model": {"node_split": ["a", "b"], "consistency": "ume"}},
     "s.toml: column 'model.node_split': a node-splitting model is a consistency model; it cannot be combined "
     "with model.consistency = 'ume'"),
    ({"model": {"consistency": "ume"}, "prediction": {"baseline_mean": 0.0, "baseline_sd": 1.0}},
     "s.toml: column 'prediction': absolute predictions need the consistency model (model.consistency = 'ume' "
     "has no treatment effects d_k to predict from)"),
    ({"model": {"reference": None}},
     "s.toml: column 'model.reference': is required: the reference treatment code"),
    ({"priors": {"effect_sd": -1}}, "s.toml: column 'priors.effect_sd': must be >= 1e-09 (got -1)"),
    ({"priors": {"effect_sd": 1e300}}, "s.toml: column 'priors.effect_sd': must be <= 10000.0 (got 1e+300)"),
    ({"priors": {"effect_sd": float("nan")}}, "s.toml: column 'priors.effect_sd': must be a finite number (got nan)"),
    ({"priors": {"effect_sd": True}}, "s.toml: column 'priors.effect_sd': must be a number (got True)"),
    ({"priors": {"tau_sd": 1.0}}, "s.toml: column 'priors.tau_sd': only applies with model.effects = 'random'"),
    ({"model": {"effects": "random"}},
     "s.toml: column 'priors.tau_sd': random effects need exactly one of priors.tau_sd (half-normal prior sd) "
     "or priors.tau (fixed value)"),
    ({"model": {"baselines": "random"}},
     "s.toml: column 'priors.baseline_tau_sd': is required with model.baselines = 'random'"),
    ({"seed": -3}, "s.toml: column 'seed': must be an integer between 0 and 4294967295 (got -3)"),
    ({"seed": 2**40}, "s.toml: column 'seed': must be an integer between 0 and 4294967295 (got 1099511627776)"),
    ({"sampler": 4}, "s.toml: column 'sampler': must be a table ([sampler]) (got 4)"),
])
def test_bad_values_name_file_and_key(sections, message):
    mapping = spec_with(**{k: v for k, v in sections.items() if isinstance(v, dict)})
    mapping.update({k: v for k, v in sections.items() if not isinstance(v, dict)})
    assert error_of(mapping) == "1 problem found:\n  " + message


def test_consistency_defaults_to_consistency_and_accepts_ume():
    assert parse_nma_spec(BASE, "s.toml").consistency == "consistency"
    ume = parse_nma_spec(spec_with(model={"consistency": "ume"}), "s.toml")
    assert ume.ume and ume.consistency == "ume"


def test_prediction_table_is_validated():
    mapping = spec_with(model={"link": "cloglog", "time_offset": True},
                        prediction={"baseline_mean": -4.2, "baseline_sd": 1.0, "baseline_precision": 1.0})
    assert error_of(mapping) == (
        "2 problems found:\n"
        "  s.toml: column 'prediction.baseline_sd': give exactly one of baseline_sd or baseline_precision\n"
        "  s.toml: column 'prediction.time': is required with model.time_offset = true"
    )
    bounded = spec_with(model={"link": "cloglog", "time_offset": True},
                        prediction={"baseline_mean": -4.2, "baseline_sd": 1.0, "time": 0})
    assert error_of(bounded) == "1 problem found:\n  s.toml: column 'prediction.time': must be >= 1e-06 (got 0)"


def test_load_spec_reports_bad_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nfamily = 'nma'\n")
    with pytest.raises(UserError, match=r"bad\.toml: not valid TOML"):
        load_nma_spec(bad)
    with pytest.raises(UserError, match=r"missing\.toml: NMA spec file not found"):
        load_nma_spec(tmp_path / "missing.toml")
    with pytest.raises(UserError, match=r"tmp.*: cannot read NMA spec: is a directory"):
        load_nma_spec(tmp_path)


def test_load_spec_accepts_a_byte_order_mark(tmp_path):
    text = (MODELS / "nma_diabetes_re.toml").read_text(encoding="utf-8")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    spec = load_nma_spec(bom)
    assert spec.effects == "random" and spec.reference == "diuretic"


# -- evidence -> network ----------------------------------------------------------------

def row(study, arm, treatment, outcome="event", measure="count", **values) -> dict:
    base = {c: "" for c in schema.COLUMNS}
    base.update(study=study, arm=arm, treatment=treatment, outcome=outcome, measure=measure,
                population="mixed", design="trial", source="test", modality="other", default_use="yes")
    base.update({k: str(v) for k, v in values.items()})
    return base


def table(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def binom_spec(**model) -> NMASpec:
    return parse_nma_spec(spec_with(model=model), "s.toml")


def data_error(frame, spec) -> str:
    with pytest.raises(UserError) as info:
        prepare_nma_data(frame, spec, "ev.csv")
    return str(info.value)


TWO_ARM = (row("s1", "A", "a", estimate=3, n=10), row("s1", "B", "b", estimate=5, n=10))


def test_unknown_reference_is_reported_with_hint():
    assert data_error(table(*TWO_ARM), binom_spec(reference="A")) == (
        "s.toml: key 'model.reference': treatment 'A' is not in ev.csv (did you mean 'a'?); treatments: a, b")


def test_study_mixing_arm_and_contrast_rows_is_refused():
    frame = table(*TWO_ARM, row("s1", "C", "c", measure="mean_difference", estimate=0.1, se=0.2,
                                comparator_arm="A"))
    assert data_error(frame, binom_spec()) == (
        "ev.csv:4: column 'measure': study 's1' mixes arm-level and contrast-level rows for outcome "
        "'event'; keep one form (the same patients would count twice)")


def test_row_checks_name_line_and_column():
    frame = table(row("s1", "A", "a", estimate=12, n=10), row("s1", "B", "b", estimate=5, n=0))
    assert data_error(frame, binom_spec()) == (
        "2 problems found in NMA evidence:\n"
        "  ev.csv:2: column 'estimate': events must be a whole number between 0 and n=10 (got 12)\n"
        "  ev.csv:3: column 'n': a positive whole number of patients is required (got '0')")
    assert data_error(table(*TWO_ARM), binom_spec(link="cloglog", time_offset=True)) == (
        "2 problems found in NMA evidence:\n"
        "  ev.csv:2: column 'time_months': a positive follow-up time is required by the spec's time offset\n"
        "  ev.csv:3: column 'time_months': a positive follow-up time is required by the spec's time offset")


def test_measure_not_usable_by_likelihood():
    frame = table(*TWO_ARM, row("s2", "A", "a", measure="proportion", estimate=0.1, n=10))
    assert data_error(frame, binom_spec()) == (
        "ev.csv:4: column 'measure': measure 'proportion' cannot be used by a binomial NMA of outcome "
        "'event'; use one of ('count', 'mean_difference')")


def test_contrast_needs_declared_comparator_and_multiarm_se():
    spec = parse_nma_spec(spec_with(model={"likelihood": "normal", "link": "identity",
                                           "outcome": "continuous"}), "s.toml")
    c = dict(outcome="continuous", measure="mean_difference", comparator_arm="A")
    undeclared = table(row("s1", "B", "b", estimate=0.1, se=0.2, **c))
    assert data_error(undeclared, spec) == (
        "ev.csv:2: column 'comparator_arm': arm 'A' of study 's1' is not declared: add a row with "
        "outcome 'enrolment', measure 'count' giving its treatment and n")
    three = table(row("s1", "A", "a", outcome="enrolment", estimate=10, n=10),
                  row("s1", "B", "b", estimate=0.1, se=0.2, **c), row("s1", "C", "c", estimate=0.3, se=0.2, **c))
    assert data_error(three, spec) == (
        "ev.csv:3: column 'se': study 's1' has 2 contrasts against arm 'A': give that arm's own standard "
        "error in the 'se' column of its enrolment row (the covariance of the contrasts, TSD2)")


def test_disconnected_network_is_refused():
    frame = table(*TWO_ARM, row("s2", "C", "c", estimate=1, n=10), row("s2", "D", "d", estimate=2, n=10))
    assert data_error(frame, binom_spec()) == (
        "ev.csv: the network is disconnected: no chain of studies links ['c', 'd'] to the reference 'a'; "
        "their effects are not identified")


def test_default_use_no_rows_are_skipped_and_base_arm_is_first_in_order():
    frame = table(row("s1", "B", "b", estimate=5, n=10), row("s1", "A", "a", estimate=3, n=10),
                  row("s1", "X", "x", estimate=3, n=10, default_use="no"))
    data = prepare_nma_data(frame, binom_spec(), "ev.csv")
    assert data.treatments == ("a", "b")
    assert data.arm_labels == ("s1: A", "s1: B")  # base arm (reference treatment) first
    assert data.arm_is_base.tolist() == [True, False]


def test_reference_files_prepare_as_documented():
    diabetes = prepare_nma_data(read_evidence(REF / "diabetes.csv"), load_nma_spec(MODELS / "nma_diabetes_fe.toml"))
    assert (len(diabetes.studies), len(diabetes.arm_labels), diabetes.n_data_points) == (22, 48, 48)
    assert diabetes.treatments[0] == "diuretic" and len(diabetes.treatments) == 6
    # offset is log(years): MRC-E followed for 5.8 years
    assert diabetes.binom_offset[0] == pytest.approx(np.log(5.8))
    park = prepare_nma_data(read_evidence(REF / "parkinsons_contrast.csv"), load_nma_spec(MODELS / "nma_parkinsons_fe.toml"))
    (two, three) = park.contrasts
    assert (two.m, two.y.shape, three.m, three.y.shape) == (1, (6, 1), 2, (1, 2))
    cov = three.chol[0] @ three.chol[0].T  # study 3: var = se_diff^2, cov = ref arm se^2
    np.testing.assert_allclose(cov, [[0.718**2, 0.505**2], [0.505**2, 0.695**2]])


# -- model structure --------------------------------------------------------------------

def test_fixed_effect_binomial_model_structure_and_likelihood():
    from scipy import stats

    spec = load_nma_spec(MODELS / "nma_diabetes_fe.toml")
    model = build_nma_model(read_evidence(REF / "diabetes.csv"), spec)
    assert sorted(rv.name for rv in model.free_RVs) == ["d_rel", "mu"]
    assert sorted(v.name for v in model.deterministics) == ["d", "fitted_p"]
    assert model.named_vars_to_dims["d"] == ("treatment",)
    assert model.named_vars_to_dims["mu"] == ("baseline_study",)
    assert model.named_vars_to_dims["r"] == ("binomial_arm",)
    assert list(model.coords["relative_treatment"]) == ["placebo", "beta_blocker", "ccb", "ace_inhibitor", "arb"]
    assert len(model.coords["study"]) == 22 and len(model.coords["binomial_arm"]) == 48

    # the likelihood at an arbitrary point equals scipy's binomial with cloglog + log-time offset
    data, _ = model_info(model)
    rng = np.random.default_rng(1)
    point = {"d_rel": rng.normal(0, 0.3, 5), "mu": rng.normal(-4, 0.5, 22)}
    d = np.concatenate([[0.0], point["d_rel"]])
    a = data.binom_arm
    eta = point["mu"][data.arm_baseline[a]] + d[data.arm_treatment[a]] - d[data.base_treatment[a]] + data.binom_offset
    expected = stats.binom.logpmf(data.binom_r, data.binom_n, 1 - np.exp(-np.exp(eta))).sum()
    got = model.compile_logp(vars=[model["r"]])(point)
    assert got == pytest.approx(expected, rel=1e-9)


def test_random_effects_have_multiarm_correlation_one_half():
    spec = load_nma_spec(MODELS / "nma_diabetes_re.toml")
    model = build_nma_model(read_evidence(REF / "diabetes.csv"), spec)
    assert sorted(rv.name for rv in model.free_RVs) == ["d_rel", "delta_z", "mu", "tau"]
    assert model.named_vars_to_dims["delta"] == ("nonbase_arm",)
    data, _ = model_info(model)
    rows, cols, vals = random_effect_structure(data)
    n = data.nonbase_arms.size
    L = np.zeros((n, n))
    L[rows, cols] = vals
    cov = L @ L.T
    study = data.arm_study[data.nonbase_arms]
    expected = np.where(study[:, None] == study[None, :], 0.5, 0.0) + 0.5 * np.eye(n)
    np.testing.assert_allclose(cov, expected, atol=1e-12)
    assert (study == study[0]).sum() == 2  # MRC-E is a three-arm trial: two correlated deltas


def test_random_baselines_are_non_centred():
    spec = parse_nma_spec(spec_with(model={"baselines": "random"}, priors={"baseline_tau_sd": 2.0}), "s.toml")
    model = build_nma_model(table(*TWO_ARM, row("s2", "A", "a", estimate=2, n=9),
                                  row("s2", "B", "b", estimate=4, n=9)), spec)
    assert sorted(rv.name for rv in model.free_RVs) == ["d_rel", "mu_mean", "mu_sd", "mu_z"]
    assert model.named_vars_to_dims["mu"] == ("baseline_study",)


def test_prediction_baseline_must_be_in_the_network():
    mapping = spec_with(prediction={"baseline_treatment": "zz", "baseline_mean": 0.0, "baseline_sd": 1.0})
    with pytest.raises(UserError, match=r"prediction\.baseline_treatment 'zz' is not in the evidence"):
        build_nma_model(table(*TWO_ARM), parse_nma_spec(mapping, "s.toml"))


# -- exact Gaussian checks (mode and Hessian, no sampling) ------------------------------

def gaussian_posterior(model) -> dict[str, tuple[float, float]]:
    """Posterior (mean, sd) of each relative effect ``d_rel`` for a model whose log
    posterior is exactly quadratic: the mode is the mean, the inverse Hessian the covariance."""
    import pymc as pm

    with model:
        mode = pm.find_MAP(progressbar=False, maxeval=20000)
        hess = pm.find_hessian(mode, vars=model.free_RVs)  # d_rel is the first free RV
    names = list(model.coords["relative_treatment"])
    sd = np.sqrt(np.diag(np.linalg.inv(hess))[: len(names)])
    return {t: (float(m), float(s)) for t, m, s in zip(names, np.atleast_1d(mode["d_rel"]), sd)}


def test_bcg_fixed_tau_posterior_is_the_reml_normal():
    bcg = read_evidence(REF / "bcg.csv")
    # first, the file: its log RRs and SEs give the README's REML-tau estimate
    y = bcg.loc[bcg.measure == "mean_difference", "estimate"].to_numpy(float)
    v = bcg.loc[bcg.measure == "mean_difference", "se"].to_numpy(float) ** 2
    w = 1 / (v + 0.3132)
    assert (w @ y / w.sum(), w.sum() ** -0.5) == pytest.approx((-0.7145, 0.1798), abs=5e-5)
    # then the model: tau fixed, N(0, 1000^2) prior -> the same normal posterior
    model = build_nma_model(bcg, load_nma_spec(MODELS / "nma_bcg_fixed_tau.toml"))
    mean, sd = gaussian_posterior(model)["bcg"]
    assert mean == pytest.approx(-0.7145, abs=1e-4)
    assert sd == pytest.approx(0.1798, abs=1e-4)


def test_parkinsons_arm_contrast_and_mixed_forms_agree_exactly():
    spec = load_nma_spec(MODELS / "nma_parkinsons_fe.toml")
    arm = read_evidence(REF / "parkinsons_arm.csv")
    contrast = read_evidence(REF / "parkinsons_contrast.csv")
    early = {"parkinsons_1", "parkinsons_2", "parkinsons_3"}
    mixed = pd.concat([arm[arm.study.isin(early)], contrast[~contrast.study.isin(early)]], ignore_index=True)
    mixed_data = prepare_nma_data(mixed, spec)
    assert (mixed_data.normal_arm.size, sum(b.arm.size for b in mixed_data.contrasts)) == (7, 4)
    ref = gaussian_posterior(build_nma_model(arm, spec))
    assert sorted(ref) == ["trt_2", "trt_3", "trt_4", "trt_5"]
    for other in (contrast, mixed):
        got = gaussian_posterior(build_nma_model(other, spec))
        for t, (mean, sd) in ref.items():
            # the forms differ only by the N(0, 100^2) prior on arm-level baselines (~1e-5)
            assert got[t] == pytest.approx((mean, sd), abs=1e-3), t
