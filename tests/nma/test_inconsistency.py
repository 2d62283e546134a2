"""NMA inconsistency: splittable comparisons, UME and node-splitting models, their summaries, CLI.

No published UME or node-split figures exist for the bundled reference networks
(shared/reference/README.md gives consistency-model results only), so the models are checked
against hand-built ones:

* Parkinson's (normal likelihood, fixed effects) has an exactly Gaussian posterior: the
  mode/Hessian of our UME and node-split models must equal a generalised-least-squares
  posterior written here from the raw CSV, and the direct estimates must equal
  inverse-variance pooling of the studies that make the comparison;
* diabetes (binomial, cloglog, multi-arm trials): our fitted probabilities at random
  parameter values must equal those of the model written out by hand;
* one sampled run (marked slow) must agree with the exact Gaussian posterior within Monte
  Carlo error, including the residual deviance (E[D] = D_min + number of parameters for a
  Gaussian model with a flat prior).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.nma.data import prepare_nma_data, read_evidence
from rhcc_bayes.nma.inconsistency import (
    bayesian_p_value,
    node_split_summary,
    split_spec,
    ume_spec,
)
from rhcc_bayes.nma.model import build_nma_model
from rhcc_bayes.nma.network import (
    comparison_label,
    resolve_comparison,
    splittable_comparisons,
    ume_structure,
)
from rhcc_bayes.nma.spec import load_nma_spec

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "examples" / "reference"
MODELS = ROOT / "models"
PRIOR_SD = 100.0  # nma_parkinsons_fe.toml: effect_sd


def labels(data, pairs):
    return [comparison_label(data, p) for p in pairs]


@pytest.fixture(scope="module")
def parkinsons():
    spec = load_nma_spec(MODELS / "nma_parkinsons_fe.toml")
    return spec, prepare_nma_data(read_evidence(REF / "parkinsons_contrast.csv"), spec)


@pytest.fixture(scope="module")
def diabetes():
    spec = load_nma_spec(MODELS / "nma_diabetes_fe.toml")
    return spec, prepare_nma_data(read_evidence(REF / "diabetes.csv"), spec)


# -- which comparisons can be split -----------------------------------------------------

def test_splittable_comparisons_of_the_reference_networks(parkinsons, diabetes):
    _, park = parkinsons
    # trt_2 vs placebo: every study with trt_2 also has placebo -> no indirect route;
    # trt_5 vs trt_4: trt_5 hangs off the network by one edge -> no loop
    assert labels(park, splittable_comparisons(park)) == [
        "trt_3 vs placebo", "trt_4 vs placebo", "trt_4 vs trt_3", "trt_4 vs trt_2"]
    _, dia = diabetes
    assert len(splittable_comparisons(dia)) == 14  # every direct comparison lies on a loop
    bcg = prepare_nma_data(read_evidence(REF / "bcg.csv"), load_nma_spec(MODELS / "nma_bcg_re.toml"))
    assert splittable_comparisons(bcg) == []  # one comparison, no loop


def test_a_comparison_without_indirect_evidence_is_refused(parkinsons):
    _, park = parkinsons
    with pytest.raises(UserError, match=r"trt_2 vs placebo has no indirect evidence"):
        resolve_comparison(park, ("placebo", "trt_2"))
    with pytest.raises(UserError, match=r"no study compares trt_5 vs placebo directly"):
        resolve_comparison(park, ("trt_5", "placebo"))
    with pytest.raises(UserError, match=r"treatment 'trt_9' is not in .*did you mean"):
        resolve_comparison(park, ("trt_9", "placebo"))
    assert resolve_comparison(park, ("trt_4", "trt_3")) == resolve_comparison(park, ("trt_3", "trt_4"))


def test_ume_structure_signs_follow_the_base_arm(parkinsons):
    _, park = parkinsons
    pairs, index, sign = ume_structure(park)
    assert labels(park, pairs) == ["trt_3 vs placebo", "trt_2 vs placebo", "trt_4 vs placebo",
                                   "trt_4 vs trt_3", "trt_5 vs trt_4"]
    assert sign.tolist() == [1.0] * 8  # every comparator comes first in the treatment order


# -- exact Gaussian posteriors (Parkinson's, contrast form) ----------------------------

def _raw_contrasts():
    """Per study: (treatments, base treatment, y, covariance), read with pandas alone from the
    evidence file (the columns of shared/reference/parkinsons_contrast.csv: study, treatment
    1-5, diff NA on the reference arm, se_diff)."""
    ev = pd.read_csv(REF / "parkinsons_contrast.csv")
    raw = pd.DataFrame({
        "study": ev["study"].str.replace("parkinsons_", "").astype(int),
        "treatment": ev["treatment"].str.replace("placebo", "trt_1").str.replace("trt_", "").astype(int),
        "diff": ev["estimate"].where(ev["measure"] == "mean_difference"),
        "se_diff": ev["se"],
    })
    out = []
    for _, g in raw.groupby("study", sort=True):
        base = g[g["diff"].isna()].iloc[0]
        arms = g[g["diff"].notna()]
        m = len(arms)
        cov = np.diag(arms["se_diff"].to_numpy() ** 2) + base["se_diff"] ** 2 * (1 - np.eye(m))
        out.append((arms["treatment"].astype(int).tolist(), int(base["treatment"]), arms["diff"].to_numpy(), cov))
    return out


def gls_posterior(location):
    """Exact posterior (mean, cov) of theta under y ~ N(X theta, V), theta ~ N(0, 100^2 I).

    ``location(study_index, treatments_of_study, treatment)`` returns the coefficient row
    (over theta) of that arm's location; a contrast's mean is location(arm) - location(base).
    """
    xs, ys, vs = [], [], []
    for s, (trts, base, y, cov) in enumerate(_raw_contrasts()):
        members = set(trts) | {base}
        xs += [location(s, members, t) - location(s, members, base) for t in trts]
        ys.append(y)
        vs.append(cov)
    x, y = np.array(xs), np.concatenate(ys)
    vinv = np.linalg.inv(_block_diag(vs))
    prec = x.T @ vinv @ x + np.eye(x.shape[1]) / PRIOR_SD**2
    cov = np.linalg.inv(prec)
    return cov @ x.T @ vinv @ y, cov


def _block_diag(mats):
    n = sum(m.shape[0] for m in mats)
    out, k = np.zeros((n, n)), 0
    for m in mats:
        out[k:k + m.shape[0], k:k + m.shape[0]] = m
        k += m.shape[0]
    return out


def split_location(x: int, y: int):
    """theta = (d_2, d_3, d_4, d_5, d_direct); treatment 1 = placebo = 0. Studies with x and y
    express every arm relative to x: their y arm sits at d_x + d_direct (gemtc, van Valkenhoef 2016)."""
    def location(s, members, t):
        row = np.zeros(5)
        if x in members and y in members and t == y:
            t, row[4] = x, 1.0
        if t > 1:
            row[t - 2] += 1.0
        return row
    return location


def mode_and_cov(model):
    import pymc as pm

    with model:
        mode = pm.find_MAP(progressbar=False, maxeval=20000)
        hess = pm.find_hessian(mode, vars=model.free_RVs)
    return mode, np.linalg.inv(hess)


CODE = {1: "placebo", 2: "trt_2", 3: "trt_3", 4: "trt_4", 5: "trt_5"}


@pytest.mark.parametrize("x, y", [(1, 3), (3, 4), (2, 4)], ids=["3v1", "4v3", "4v2 (three-arm trial, base != x)"])
def test_node_split_model_is_the_hand_built_gaussian(parkinsons, x, y):
    spec, park = parkinsons
    model = build_nma_model(park, split_spec(spec, (CODE[x], CODE[y])))
    assert [rv.name for rv in model.free_RVs] == ["d_rel", "d_direct"]
    mode, cov = mode_and_cov(model)
    # our d_rel is in the data's treatment order (placebo, trt_3, trt_2, trt_4, trt_5)
    order = [park.treatments.index(CODE[t]) - 1 for t in (2, 3, 4, 5)]
    got = np.append(np.asarray(mode["d_rel"])[order], mode["d_direct"])
    perm = order + [4]
    got_cov = cov[np.ix_(perm, perm)]
    mean, ref_cov = gls_posterior(split_location(x, y))
    np.testing.assert_allclose(got, mean, atol=2e-4)
    np.testing.assert_allclose(got_cov, ref_cov, atol=2e-5)


def test_direct_estimate_is_the_pooled_direct_studies(parkinsons):
    """4 vs 3: studies 4 and 5 only, two-arm: the direct posterior is their inverse-variance pool."""
    mean, cov = gls_posterior(split_location(3, 4))
    y, se = np.array([-0.35, 0.55]), np.array([0.442, 0.555])
    w = 1 / se**2
    assert mean[4] == pytest.approx(w @ y / w.sum(), abs=1e-4)
    assert np.sqrt(cov[4, 4]) == pytest.approx(w.sum() ** -0.5, abs=1e-4)


def test_ume_model_is_the_hand_built_gaussian(parkinsons):
    spec, park = parkinsons
    model = build_nma_model(park, ume_spec(spec))
    assert [rv.name for rv in model.free_RVs] == ["d_ume"]
    mode, cov = mode_and_cov(model)
    pairs = [(1, 3), (1, 2), (1, 4), (3, 4), (4, 5)]  # model.coords["comparison"] order

    def location(s, members, t):  # one free effect per (base, arm) pair: the base sits at 0
        base = min(members, key=lambda u: park.treatments.index(CODE[u]))
        row = np.zeros(len(pairs))
        if t != base:
            row[pairs.index((base, t))] = 1.0
        return row

    mean, ref_cov = gls_posterior(location)
    assert list(model.coords["comparison"]) == [f"{CODE[j]} vs {CODE[i]}" for i, j in pairs]
    np.testing.assert_allclose(mode["d_ume"], mean, atol=2e-4)
    np.testing.assert_allclose(cov, ref_cov, atol=2e-5)
    w = 1 / np.array([0.274, 0.32]) ** 2  # 5 vs 4: studies 6 and 7 pooled, nothing else
    assert mean[4] == pytest.approx(w @ np.array([-0.3, -0.3]) / w.sum(), abs=1e-4)


# -- diabetes: binomial cloglog with multi-arm trials, against the hand-written model ----

def _diabetes_raw():
    ev = read_evidence(REF / "diabetes.csv")
    return pd.DataFrame({"study": ev["study"], "treatment": ev["treatment"], "arm": ev["arm"],
                         "r": pd.to_numeric(ev["estimate"]), "n": pd.to_numeric(ev["n"]),
                         "years": pd.to_numeric(ev["time_months"]) / 12})


@pytest.mark.parametrize("kind", ["ume", "split placebo-beta_blocker", "split diuretic-placebo"])
def test_diabetes_fitted_probabilities_match_the_hand_written_model(diabetes, kind):
    import pymc as pm

    spec, dia = diabetes
    spec = ume_spec(spec) if kind == "ume" else split_spec(spec, tuple(kind.split()[1].split("-")))
    model = build_nma_model(dia, spec)
    rng = np.random.default_rng(7)
    point = {rv.name: rng.normal(0, 0.5, size=model[rv.name].shape.eval()) for rv in model.free_RVs}
    fn = pm.compile_fn(model["fitted_p"], inputs=model.free_RVs, model=model, point_fn=False)
    p = fn(*(point[rv.name] for rv in model.free_RVs))

    raw, order = _diabetes_raw(), list(dia.treatments)
    arm_name = dict(zip(zip(raw["study"], raw["treatment"]), raw["arm"]))
    mu = dict(zip(model.coords["baseline_study"], point["mu"]))
    expected = []
    for study, g in raw.groupby("study", sort=False):
        trts = list(g["treatment"])
        base = min(trts, key=order.index)
        for t, years in zip(g["treatment"], g["years"]):
            if kind == "ume":
                comparisons = list(model.coords["comparison"])
                effect = 0.0 if t == base else point["d_ume"][comparisons.index(f"{t} vs {base}")]
            else:
                x, y = kind.split()[1].split("-")
                d = dict(zip(order, np.concatenate([[0.0], point["d_rel"]])))
                loc = {u: d[u] for u in trts}
                if x in trts and y in trts:  # the y arm: d_x + d_direct
                    loc[y] = d[x] + point["d_direct"]
                effect = loc[t] - loc[base]
            expected.append((f"{study}: {arm_name[(study, t)]}", -np.expm1(-np.exp(mu[study] + effect + np.log(years)))))
    got = dict(zip(model.coords["binomial_arm"], p))  # arm labels are "study: arm"
    assert len(expected) == len(got) == 48
    for label, value in expected:
        assert got[label] == pytest.approx(value, rel=1e-10), label


# -- summaries ---------------------------------------------------------------------------

def test_bayesian_p_value():
    assert bayesian_p_value(np.array([1.0, 2.0, -1.0, 3.0])) == 0.5
    assert bayesian_p_value(np.ones(10)) == 0.0
    x = np.random.default_rng(0).normal(1.0, 1.0, 200_000)
    assert bayesian_p_value(x) == pytest.approx(2 * norm.cdf(-1.0), abs=0.005)


def test_node_split_summary_from_draws(parkinsons):
    import arviz as az

    _, park = parkinsons
    rng = np.random.default_rng(1)
    d = rng.normal(size=(2, 500, len(park.treatments)))
    d[..., 0] = 0.0
    direct = rng.normal(0.5, 0.1, size=(2, 500))
    idata = az.from_dict(posterior={"d": d, "d_direct": direct}, dims={"d": ["treatment"]},
                         coords={"treatment": list(park.treatments)})
    pair = resolve_comparison(park, ("trt_3", "trt_4"))
    row = node_split_summary(idata, park, pair)
    i, j = pair
    diff = (direct - (d[..., j] - d[..., i])).ravel()
    assert row["n_direct_studies"] == 2
    assert row["direct_mean"] == pytest.approx(direct.mean())
    assert row["indirect_mean"] == pytest.approx((d[..., j] - d[..., i]).mean())
    assert row["diff_sd"] == pytest.approx(diff.std(ddof=1))
    assert row["p_value"] == pytest.approx(2 * min((diff > 0).mean(), (diff < 0).mean()))


def test_ume_spec_drops_predictions_and_is_validated():
    spec = load_nma_spec(MODELS / "nma_diabetes_re.toml")
    ume = ume_spec(spec)
    assert ume.ume and ume.prediction is None and ume.name.endswith("[UME]")
    assert split_spec(spec, ("placebo", "arb")).node_split == ("placebo", "arb")
    bundled = load_nma_spec(MODELS / "nma_diabetes_re_ume.toml")  # the same model as a spec file
    import dataclasses
    assert dataclasses.replace(ume, name=bundled.name, source=bundled.source) == bundled


# -- one sampled run: end to end against the exact posterior, and the CLI ------------------

@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    import warnings

    from rhcc_bayes.synthesis import Synthesis

    cache = tmp_path_factory.mktemp("nma_inconsistency_cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = Synthesis(MODELS / "nma_parkinsons_fe.toml", REF / "parkinsons_contrast.csv").fit(
            cache_dir=cache, progressbar=False)
        ume = post.ume_comparison(cache_dir=cache)
        split = post.node_split([("trt_3", "trt_4")], cache_dir=cache)
    return cache, post, ume, split


@pytest.mark.slow
def test_sampled_node_split_agrees_with_the_exact_posterior(sampled):
    _, _, _, split = sampled
    row = split.table.loc["trt_4 vs trt_3"]
    assert bool(row["gate_passed"])
    mean, cov = gls_posterior(split_location(3, 4))
    a_ind = np.array([0, -1, 1, 0, 0.0])      # d_4 - d_3
    a_diff = np.array([0, 1, -1, 0, 1.0])     # d_direct - (d_4 - d_3)
    exact = {"direct": (mean[4], np.sqrt(cov[4, 4])), "indirect": (a_ind @ mean, np.sqrt(a_ind @ cov @ a_ind)),
             "diff": (a_diff @ mean, np.sqrt(a_diff @ cov @ a_diff))}
    for key, (m, s) in exact.items():
        # 4000 draws, ESS > 1000: MC error of a mean < s / 30, of an sd < 3%
        assert row[f"{key}_mean"] == pytest.approx(m, abs=4 * s / np.sqrt(1000)), key
        assert row[f"{key}_sd"] == pytest.approx(s, rel=0.07), key
    m, s = exact["diff"]
    assert row["p_value"] == pytest.approx(2 * norm.cdf(-abs(m) / s), abs=0.04)


@pytest.mark.slow
def test_sampled_ume_resdev_is_dmin_plus_parameters(sampled):
    """Gaussian posterior, flat prior: E[D] = D(posterior mean) + p, pD = p, DIC = D_min + 2p."""
    _, _, ume, _ = sampled
    contrasts = _raw_contrasts()
    for model, n_par in (("consistency", 4), ("ume", 5)):
        row = ume.fit.loc[model]
        assert bool(row["gate_passed"])
        assert row["n_data_points"] == 8
        assert row["pD"] == pytest.approx(n_par, abs=0.3), model
        assert row["resdev"] - row["pD"] == pytest.approx(row["DIC"] - 2 * row["pD"], abs=1e-9)
    # D_min of the UME model: each comparison fitted on its own (closed form)
    pairs = [(1, 3), (1, 2), (1, 4), (3, 4), (4, 5)]

    def location(s, members, t):
        base = min(members, key=lambda u: [1, 3, 2, 4, 5].index(u))
        row = np.zeros(5)
        if t != base:
            row[pairs.index((base, t))] = 1.0
        return row

    mean, _ = gls_posterior(location)
    dmin = 0.0
    for s, (trts, base, y, cov) in enumerate(contrasts):
        members = set(trts) | {base}
        fit = np.array([(location(s, members, t) - location(s, members, base)) @ mean for t in trts])
        r = y - fit
        dmin += r @ np.linalg.solve(cov, r)
    row = ume.fit.loc["ume"]
    assert row["resdev"] == pytest.approx(dmin + 5, abs=4 * row["resdev_mcse"] + 0.05)
    assert list(ume.effects.index) == ["trt_3 vs placebo", "trt_2 vs placebo", "trt_4 vs placebo",
                                       "trt_4 vs trt_3", "trt_5 vs trt_4"]
    assert "DIC(consistency) - DIC(UME)" in ume.to_text()


@pytest.mark.slow
def test_cli_nma_check_json_and_csv(sampled, capsys):
    from rhcc_bayes.cli.main import main

    cache, post, ume, split = sampled
    args = ["nma-check", "--spec", str(MODELS / "nma_parkinsons_fe.toml"),
            "--evidence", str(REF / "parkinsons_contrast.csv"), "--cache-dir", str(cache),
            "--comparison", "trt_3", "trt_4"]
    assert main(args + ["--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["comparison"] for r in out["node_split"]] == ["trt_4 vs trt_3"]
    assert out["node_split"][0]["p_value"] == pytest.approx(split.table.loc["trt_4 vs trt_3", "p_value"])
    assert out["ume"]["dic_difference"] == pytest.approx(ume.dic_difference)
    assert main(args + ["--format", "csv", "--check", "split"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0].startswith("comparison,n_direct_studies,direct_mean")
    assert main(args + ["--check", "split"]) == 0
    text = capsys.readouterr().out
    assert "Node-splitting" in text and "trt_4 vs trt_3" in text
    bad = args[:-3] + ["--comparison", "placebo", "trt_2", "--check", "split"]
    assert main(bad) == 2  # the consistency fit is a cache hit; the comparison is refused before any refit
    assert "trt_2 vs placebo has no indirect evidence" in capsys.readouterr().err


def test_cli_nma_check_refuses_a_survival_spec(capsys):
    from rhcc_bayes.cli.main import main

    assert main(["nma-check", "--spec", "default"]) == 2
    assert "nma-check needs a network meta-analysis spec" in capsys.readouterr().err


def test_relative_effects_of_a_ume_fit_are_per_comparison():
    import arviz as az

    from rhcc_bayes.nma.results import relative_effects

    draws = np.random.default_rng(2).normal([0.5, -1.0], 0.1, size=(2, 400, 2))
    idata = az.from_dict(posterior={"d_ume": draws}, dims={"d_ume": ["comparison"]},
                         coords={"comparison": ["b vs a", "c vs b"]})
    table = relative_effects(idata)
    assert table.index.name == "comparison (unrelated mean effects)"
    assert list(table.index) == ["b vs a", "c vs b"]
    np.testing.assert_allclose(table["mean"], draws.reshape(-1, 2).mean(axis=0))
    with pytest.raises(ValueError, match="no common reference"):
        relative_effects(idata, versus="a")
