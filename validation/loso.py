"""Leave-one-study-out (LOSO) predictive validation of the survival synthesis (issue 10 item 9).

Folds: every cohort study (not a pooled meta-analysis or review statement) with at least
one landmark survival of a recurrent-HCC arm whose n is reported (``population =
recurrent``, ``measure = survival``, the spec's outcome, a point estimate, a time and n).
For each such study:

1. refit the spec **without that study**: its likelihood rows, and those of every pooled
   result that ``includes`` it (so it cannot leak back), get weight 0
   (``fit_synthesis(..., held_out=...)``, :mod:`rhcc_bayes.survival.holdout`; cached). The
   graph is the full evidence's, so every fold reuses one compiled model (0.9-1.7 s against
   ~180 s per fold when the rows were removed from the evidence; same posterior,
   ``benchmarks/holdout.py``);
2. for each of its landmarks (arm, time t, n, observed fraction y): the new-study
   posterior predictive of the arm's treatment and covariates (arm coded by its inclusion
   limits, :func:`rhcc_bayes.survival.covariates.arm_covariates`; ``--levels reported`` maps a
   level no arm of the training evidence reports to "nr"), a fresh study effect per
   draw (``population="new"``), then the reported count with the binomial noise of n
   (:func:`rhcc_bayes.survival.population.binomial_survivors`, landmarks of one arm are the
   same patients);
3. score it: is the observed count k = round(n y) inside the central 90% predictive
   interval of the count (inclusive); absolute error |E[reported] - y|; log predictive
   density log p(k) with p(k) = mean over draws of Binomial(k; n, S_draw(t)). The marginal
   of sequential binomial thinning at t is exactly Binomial(n, S(t)), so this is the exact
   predictive pmf of the count (Monte Carlo over posterior draws, no KDE); it is pointwise
   per landmark, so landmarks of one arm are scored as separate (correlated) points.

Baselines, scored identically on the same landmarks:

* ``prior``: the spec fitted with every study held out (no evidence in the likelihood; the
  same compiled model): the prior predictive of a new study.
* ``average``: the plain average of the bundled recurrent-HCC landmark estimates of the
  OTHER studies (any design, with or without n) at the same time t, with the binomial
  noise of n: k ~ Binomial(n, p_bar). When no other study reports time t, p_bar =
  exp(-h_bar t) with h_bar the average of -log(S)/t over the other studies' landmarks
  (constant-hazard interpolation).

Usage::

    python validation/loso.py [--spec default] [--quick] [--cache-dir validation/.loso_cache]
                              [--out validation/loso_results] [--include-medians]
                              [--evidence CSV... [--taxonomy CSV]]

``--include-medians`` also scores each reported median m with n as a landmark S(m) = 0.5
(more folds on sparse evidence; the average baseline then interpolates at t = m).

``--quick`` uses 2 chains x 300 draws (tune 300) for development; the default keeps the
spec's sampler settings. Unconverged fits are used (and counted in the output), not
dropped. Outputs (atomic): ``summary.csv`` (per method: landmarks, studies, coverage90,
mean 90% width, MAE, LPD sum and mean), ``per_study.csv`` and ``per_landmark.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rhcc_bayes.survival.covariates import ARM_DESCRIPTORS, COVARIATE_NAMES, arm_covariates

LEVEL = 0.9
METHODS = ("model", "prior", "average")
NOT_A_COHORT = ("meta_analysis", "review")  # pooled results and review statements are not validation targets


# --- folds ---------------------------------------------------------------------------------
def landmark_rows(table: pd.DataFrame, outcome: str = "os", *, need_n: bool = True) -> pd.DataFrame:
    """Recurrent-HCC landmark survival rows with a point estimate and time (and n when ``need_n``)."""
    t = table
    mask = (t["population"] == "recurrent") & (t["measure"] == "survival") & (t["outcome"] == outcome)
    mask &= t["estimate"].notna() & t["time_months"].notna() & (t["interval"] != "range")
    if need_n:
        mask &= t["n"].notna()
    return t[mask]


def median_rows(table: pd.DataFrame, outcome: str = "os") -> pd.DataFrame:
    """Recurrent-HCC median survival rows with a point estimate and n."""
    t = table
    mask = (t["population"] == "recurrent") & (t["measure"] == "median") & (t["outcome"] == outcome)
    return t[mask & t["estimate"].notna() & t["n"].notna() & (t["interval"] != "range")]


def validation_targets(table: pd.DataFrame, outcome: str = "os", *, include_medians: bool = False,
                       readings: str = "default") -> pd.DataFrame:
    """One row per landmark to predict: study, arm, treatment, n, time, observed, k_obs, kind, covariates.

    Only cohorts: rows of pooled meta-analyses and review statements (:data:`NOT_A_COHORT`)
    are not targets (their n is a sum over studies). ``readings="default"`` scores each
    reported number once, in its default reading (``default_use = yes``): the alternative
    readings of data/README.md (a review duplicate of a primary-source row, Peng's Table 2
    population, Zheng's > 5 cm reading) are the same patients and would count them twice,
    partly under a population the paper contradicts. ``"all"`` scores every reading (the
    target set of the runs before 2026-11-30). With ``include_medians`` a reported
    median m with n is one more landmark: S(m) = 0.5 observed at t = m (``kind = "median"``).
    """
    if readings not in ("default", "all"):
        raise ValueError(f"readings must be 'default' or 'all', got {readings!r}")
    if "design" in table:
        table = table[~table["design"].isin(NOT_A_COHORT)]
    if readings == "default" and "default_use" in table:
        table = table[table["default_use"] == "yes"]
    rows = landmark_rows(table, outcome)
    kind = ["landmark"] * len(rows)
    observed = rows["estimate"].to_numpy(float)
    times = rows["time_months"].to_numpy(float)
    if include_medians:
        med = median_rows(table, outcome)
        rows = pd.concat([rows, med])
        kind += ["median"] * len(med)
        observed = np.concatenate([observed, np.full(len(med), 0.5)])
        times = np.concatenate([times, med["estimate"].to_numpy(float)])
    out = pd.DataFrame({
        "study": rows["study"].to_numpy(), "arm": rows["arm"].to_numpy(), "treatment": rows["treatment"].to_numpy(),
        "n": rows["n"].to_numpy(int), "time": times, "observed": observed, "kind": kind,
    })
    out["k_obs"] = np.round(out["n"] * out["observed"]).astype(int)
    cov = [arm_covariates({c: r[c] for c in ARM_DESCRIPTORS if c in r}) for _, r in rows.iterrows()]
    for name in (cov[0] if cov else {}):
        out[name] = [c[name] for c in cov]
    return out.sort_values(["study", "arm", "time"], kind="stable").reset_index(drop=True)


def folds(targets: pd.DataFrame) -> list[str]:
    """Held-out studies, in order of first appearance."""
    return list(dict.fromkeys(targets["study"]))


def fold_studies(evidence, study: str) -> set[str]:
    """The held-out study plus every pooled result that includes it (no leakage through
    a meta-analysis of which it is a constituent; ``Evidence.included_studies``)."""
    from rhcc_bayes.survival.holdout import with_pooled_results

    return set(with_pooled_results(evidence, [study]))


# --- metrics -------------------------------------------------------------------------------
def interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Central ``level`` interval of draws (inclusive quantiles)."""
    a = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(draws, float), [a, 1 - a], method="inverted_cdf")
    return float(lo), float(hi)


def covered(draws: np.ndarray, observed: float, level: float = LEVEL) -> bool:
    lo, hi = interval(draws, level)
    return bool(lo <= observed <= hi)


def coverage(draws_per_point, observed, level: float = LEVEL) -> float:
    """Share of points whose observed value lies in the central ``level`` predictive interval."""
    hits = [covered(d, y, level) for d, y in zip(draws_per_point, observed)]
    return float(np.mean(hits)) if hits else float("nan")


def mae(predicted, observed) -> float:
    """Mean absolute error."""
    p, y = np.asarray(predicted, float), np.asarray(observed, float)
    return float(np.mean(np.abs(p - y))) if p.size else float("nan")


def binomial_logpmf(k, n, p) -> np.ndarray:
    """log Binomial(k; n, p), vectorised over ``p``; p at 0 or 1 handled exactly."""
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
        lp = np.where(k > 0, k * np.log(p), 0.0) + np.where(n - k > 0, (n - k) * np.log1p(-p), 0.0)
    return logc + lp


def binomial_lpd(surv_draws: np.ndarray, k: int, n: int) -> float:
    """log mean_draws Binomial(k; n, S_draw): the predictive log density of an observed count."""
    s = np.asarray(surv_draws, float).ravel()
    return float(logsumexp(binomial_logpmf(k, n, s)) - np.log(s.size))


def score(surv_draws: np.ndarray, n: int, observed: float, rng: np.random.Generator) -> dict:
    """Coverage, error and LPD of one landmark from draws of the (new-study) S(t)."""
    s = np.asarray(surv_draws, float).ravel()
    k = int(round(n * observed))
    # marginal at t of the sequential binomial; a point prediction (one draw) is repeated
    reported = rng.binomial(n, np.clip(np.resize(s, max(s.size, 4000)), 0, 1)) / n
    lo, hi = interval(reported)
    return {"pred_mean": float(reported.mean()), "lo90": lo, "hi90": hi,
            "covered90": bool(lo <= k / n <= hi), "abs_err": abs(float(reported.mean()) - observed),
            "lpd": binomial_lpd(s, k, n)}


def average_baseline(table: pd.DataFrame, held_out: str, time: float, outcome: str = "os") -> float:
    """Plain average of the other studies' recurrent-HCC landmarks at ``time`` (see module doc)."""
    rows = landmark_rows(table, outcome, need_n=False)
    rows = rows[rows["study"] != held_out]
    if rows.empty:
        return float("nan")
    same = rows[np.isclose(rows["time_months"], time)]
    if len(same):
        return float(same["estimate"].mean())
    h = float(np.mean(-np.log(rows["estimate"].clip(1e-6, 1)) / rows["time_months"]))
    return float(np.exp(-h * time))


def summarise(per: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Scores aggregated by ``by``: landmarks, studies, coverage90, width90, MAE, LPD sum/mean."""
    rows = []
    for key, g in per.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "landmarks": len(g), "studies": g["study"].nunique(),
                     "coverage90": g["covered90"].mean(), "width90": (g["hi90"] - g["lo90"]).mean(),
                     "mae": g["abs_err"].mean(), "lpd_sum": g["lpd"].sum(), "lpd_mean": g["lpd"].mean(),
                     "landmarks_unconverged_fit": int((~g["gate_passed"].astype(bool)).sum())})
    return pd.DataFrame(rows)


# --- driver --------------------------------------------------------------------------------
def _predictive(idata, targets: pd.DataFrame, seed: int, levels: str = "profile") -> list[np.ndarray]:
    """New-study S(t) draws for each target row (levels mapped as in ``rhcc-bayes predict``)."""
    from rhcc_bayes.survival.population import prediction_levels
    from rhcc_bayes.survival.predict import survival_draws

    out = []
    for i, r in targets.iterrows():
        cov = {c: r[c] for c in COVARIATE_NAMES if c in r}
        cov = prediction_levels(idata, cov, levels)[0]
        s = survival_draws(idata, cov, [r["time"]], population="new", seed=seed + int(i))
        out.append(s.sel(treatment=r["treatment"]).values.ravel())
    return out


def run(spec_name: str = "default", *, quick: bool = False, cache_dir="validation/.loso_cache",
        out_dir="validation/loso_results", seed: int = 1, include_medians: bool = False,
        evidence_files=None, taxonomy=None, levels: str = "profile", readings: str = "default") -> pd.DataFrame:
    """Run every fold and the baselines; write the CSVs; return the summary table."""
    from rhcc_bayes.core.atomic import write_text_atomic
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.inference.sampling import SamplerSettings
    from rhcc_bayes.specs import load_spec
    from rhcc_bayes.synthesis import Synthesis, fit_synthesis

    spec = load_spec(spec_name)
    evidence = (load_evidence(evidence_files, taxonomy=taxonomy, include_bundled=False) if evidence_files
                else load_evidence())
    sampler = dict(spec.sampler)
    if quick:
        sampler.update(chains=2, draws=300, tune=300)
    settings = SamplerSettings.from_mapping(sampler, source="loso sampler")
    table = evidence.table
    targets = validation_targets(table, spec.outcome, include_medians=include_medians, readings=readings)
    if targets.empty:
        raise SystemExit("no recurrent-HCC landmark with n in the evidence: nothing to validate")

    def fit(ev, held_out=()):
        return fit_synthesis(ev, spec, settings=settings, cache_dir=cache_dir, allow_unconverged=True,
                             progressbar=False, held_out=held_out)

    rng = np.random.default_rng(seed)
    in_likelihood = set(Synthesis(spec, evidence).design.used["study"])
    prior_fit = fit(evidence, held_out=sorted(in_likelihood))
    prior_draws = _predictive(prior_fit.idata, targets, seed, levels)
    records = []
    for study in folds(targets):
        held = targets[targets["study"] == study]
        print(f"fold {study}: {len(held)} landmarks ...", file=sys.stderr, flush=True)
        dropped = fold_studies(evidence, study)
        # a study the spec leaves out of the likelihood is predicted by the full fit
        res = fit(evidence, held_out=sorted(dropped & in_likelihood))
        model_draws = _predictive(res.idata, held, seed, levels)
        for (i, r), s in zip(held.iterrows(), model_draws):
            base = {k: r[k] for k in ("study", "arm", "treatment", "n", "kind", "time", "observed")}
            records.append({**base, "method": "model", "gate_passed": bool(res.gate.passed),
                            **score(s, int(r["n"]), r["observed"], rng)})
            records.append({**base, "method": "prior", "gate_passed": bool(prior_fit.gate.passed),
                            **score(prior_draws[i], int(r["n"]), r["observed"], rng)})
            p_bar = average_baseline(table[~table["study"].isin(dropped - {study})], study, r["time"], spec.outcome)
            records.append({**base, "method": "average", "gate_passed": True,
                            **score(np.array([p_bar]), int(r["n"]), r["observed"], rng)})
    per = pd.DataFrame(records)
    per["width90"] = per["hi90"] - per["lo90"]

    summary = summarise(per, ["method"]).set_index("method").reindex(list(METHODS)).reset_index()
    per_study = summarise(per, ["study", "method"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = (f"# spec={spec.name} quick={quick} medians={include_medians} levels={levels} readings={readings} "
              f"evidence={evidence.hash[:12]} "
              f"draws={settings.chains}x{settings.draws}\n")
    write_text_atomic(out / "summary.csv", header + summary.to_csv(index=False, float_format="%.4f"))
    write_text_atomic(out / "per_study.csv", header + per_study.to_csv(index=False, float_format="%.4f"))
    write_text_atomic(out / "per_landmark.csv", header + per.to_csv(index=False, float_format="%.4f"))
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="default")
    ap.add_argument("--quick", action="store_true", help="2 chains x 300 draws (development)")
    ap.add_argument("--cache-dir", default="validation/.loso_cache")
    ap.add_argument("--out", default="validation/loso_results")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--include-medians", action="store_true",
                    help="also score reported medians with n as landmarks S(median) = 0.5")
    ap.add_argument("--evidence", nargs="+", metavar="CSV", help="evidence files instead of the bundled ones")
    ap.add_argument("--taxonomy", metavar="CSV", help="treatment taxonomy for --evidence [default: bundled]")
    ap.add_argument("--levels", choices=("profile", "reported"), default="profile",
                    help="covariate levels no arm reports: kept with their prior effect (profile, the package "
                         "default) or mapped to nr (reported)")
    ap.add_argument("--readings", choices=("default", "all"), default="default",
                    help="score each reported number in its default reading only (default) or every reading (all)")
    args = ap.parse_args(argv)
    summary = run(args.spec, quick=args.quick, cache_dir=args.cache_dir, out_dir=args.out, seed=args.seed,
                  include_medians=args.include_medians, evidence_files=args.evidence, taxonomy=args.taxonomy,
                  levels=args.levels, readings=args.readings)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
