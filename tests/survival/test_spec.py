"""Model specs: bundled specs load; unknown keys and bad values give exact messages."""

import pytest

from rhcc_bayes.core.errors import UserError, ValidationError
from rhcc_bayes.core.paths import models_dir
from rhcc_bayes.survival.spec import SurvivalSpec
from rhcc_bayes.specs import load_spec, parse_spec

SURVIVAL_SPECS = ["default", "sbc", "weibull", "mspline", "cure", "arm_heterogeneity", "all_populations", "components", "assumed_n",
                  "no_censoring", "exclude_missing_n", "recurrent_only", "no_pooled", "pooled_over_constituents"]


@pytest.mark.parametrize("name", SURVIVAL_SPECS)
def test_bundled_survival_specs_load(name):
    spec = load_spec(name)
    assert isinstance(spec, SurvivalSpec)
    assert spec.name == name
    assert spec.sampler["chains"] == 4


def test_variants_differ_from_default_in_their_one_setting():
    default = load_spec("default")
    assert load_spec("weibull").hazard == "weibull" and default.hazard == "piecewise"
    assert load_spec("components").combinations == "components"
    assert load_spec("assumed_n").evidence.missing_n == 30
    assert load_spec("no_censoring").evidence.censoring == "none"
    assert "primary" in load_spec("all_populations").evidence.populations
    assert load_spec("arm_heterogeneity").arm_heterogeneity is True
    assert load_spec("exclude_missing_n").evidence.missing_n == "exclude"
    assert load_spec("recurrent_only").evidence.populations == ("recurrent",)
    no_pooled = load_spec("no_pooled").evidence
    assert (no_pooled.ranges, no_pooled.pooled) == (False, False)
    assert load_spec("pooled_over_constituents").evidence.overlap == "pooled"


def test_every_bundled_spec_parses():
    for path in models_dir().glob("*.toml"):
        assert load_spec(path) is not None


def test_hash_is_stable_and_sensitive():
    a, b = load_spec("default"), load_spec("default")
    assert a.hash == b.hash
    assert load_spec("no_censoring").hash != a.hash


def _problems(mapping):
    with pytest.raises(ValidationError) as info:
        parse_spec(mapping, "s.toml")
    return [str(p) for p in info.value.problems]


def test_unknown_key_suggests_the_closest():
    assert _problems({"model": {"name": "x", "hazzard": "weibull"}}) == [
        "s.toml: column 'model.hazzard': unknown key (did you mean 'hazard'?)"]


def test_unknown_table():
    assert _problems({"model": {"name": "x"}, "prior": {}}) == [
        "s.toml: column '[prior]': unknown table (did you mean 'priors'?)"]


def test_bad_values_are_all_reported_at_once():
    problems = _problems({
        "model": {"name": "x", "hazard": "weibul", "cuts_months": [12, 6], "seed": -1},
        "evidence": {"censoring": "uniformly", "missing_n": 0},
        "priors": {"study_sd": -0.3},
    })
    assert problems == [
        "s.toml: column 'model.hazard': must be one of ['piecewise', 'weibull', 'mspline', 'cure'] (did you mean 'weibull'?) (got 'weibul')",
        "s.toml: column 'model.cuts_months': must be positive and strictly increasing (got [12, 6])",
        "s.toml: column 'model.seed': must be >= 0 (got -1)",
        "s.toml: column 'evidence.censoring': must be one of ['none', 'uniform'] (did you mean 'uniform'?) (got 'uniformly')",
        "s.toml: column 'evidence.missing_n': must be \"latent\", \"exclude\" or a positive integer (an assumed arm size, for sensitivity analyses) (got 0)",
        "s.toml: column 'priors.study_sd': must be >= 1e-09 (got -0.3)",
    ]


def test_spec_seed_is_checked_against_the_seed_rule():
    """A seed numpy/nutpie cannot take is named in the spec file, not found at fit time."""
    assert _problems({"model": {"name": "x", "seed": 2**32}}) == [
        "s.toml: column 'model.seed': must be <= 4294967295 (got 4294967296)"]
    assert parse_spec({"model": {"name": "x", "seed": 2**32 - 1}}, "s.toml").seed == 2**32 - 1


def test_bad_list_member():
    assert _problems({"model": {"name": "x", "covariates": ["size_band", "size"]}}) == [
        "s.toml: column 'model.covariates': unknown value 'size' (did you mean 'size_band'?); allowed "
        "['size_band', 'nodularity', 'recurrence', 'prior', 'stage'] (got ['size_band', 'size'])"]


def test_missing_model_table():
    assert _problems({"priors": {}}) == ["s.toml: missing table [model] (with at least name = \"...\")"]


def test_sampler_table_is_validated():
    with pytest.raises(ValidationError, match="unknown sampler setting"):
        parse_spec({"model": {"name": "x"}, "sampler": {"chain": 4}}, "s.toml")


def test_unknown_spec_name_lists_bundled(tmp_path):
    with pytest.raises(UserError, match=r"no such spec file or bundled spec \(did you mean 'default'\?\)"):
        load_spec("defualt")


def test_invalid_toml_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname = 1")
    with pytest.raises(UserError, match="bad.toml: not valid TOML"):
        load_spec(bad)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("baseline_log_hazard_mean", float("nan"), "finite"),
    ("baseline_log_hazard_mean", float("inf"), "finite"),
    ("baseline_log_hazard_mean", 40.0, "<= 5"),
    ("study_sd", float("inf"), "finite"),
    ("study_sd", 1e6, "<= 10"),
    ("class_effect_sd", 0.0, ">= 1e-09"),
])
def test_priors_must_be_finite_and_plausible(key, value, fragment):
    mapping = {"model": {"name": "x"}, "priors": {key: value}}
    with pytest.raises(ValidationError) as err:
        parse_spec(mapping, "bad.toml")
    msg = str(err.value)
    assert "bad.toml" in msg and f"priors.{key}" in msg and fragment in msg


def test_hazard_family_options_are_checked():
    assert _problems({"model": {"name": "x", "hazard": "cure", "cure_base": "cure"},
                      "priors": {"cure_logit_sd": 0}}) == [
        "s.toml: column 'model.cure_base': must be one of ['piecewise', 'weibull', 'mspline'] (got 'cure')",
        "s.toml: column 'priors.cure_logit_sd': must be >= 1e-09 (got 0)",
    ]
    assert _problems({"model": {"name": "x", "hazard": "mspline", "spline_df": 3}}) == [
        "s.toml: column 'model.spline_df': must be >= 4 (got 3)"]
    spec = parse_spec({"model": {"name": "x", "hazard": "cure", "cure_base": "mspline"},
                       "priors": {"cure_logit_mean": -2.0}}, "s.toml")
    assert spec.cure_base == "mspline" and spec.priors.cure_logit_mean == -2.0


def test_family_options_for_another_family_are_rejected():
    assert _problems({"model": {"name": "x", "hazard": "weibull", "cure_base": "weibull", "spline_df": 6}}) == [
        "s.toml: column 'model.cure_base': only used with hazard = \"cure\" (hazard is 'weibull') (got 'weibull')",
        "s.toml: column 'model.spline_df': only used by the \"mspline\" hazard (directly or as cure_base) (got 6)",
    ]
    parse_spec({"model": {"name": "x", "hazard": "cure", "cure_base": "mspline", "spline_df": 8}}, "s.toml")
