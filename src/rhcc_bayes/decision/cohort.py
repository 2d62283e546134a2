"""Decisions for many patients at once: chunked batch tables and cohorts.

Profiles sharing model covariates and candidate set are computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from rhcc_bayes.core.draws import SAMPLE_DIMS
from rhcc_bayes.decision.stats import _batched, _table, decision_table
from rhcc_bayes.survival.piecewise import survival_summary


def batch_decision_table(log_hazard: xr.DataArray, cuts, *, horizon: float = 60,
                         landmarks: Sequence[float] = (12, 36, 60),
                         candidates: np.ndarray | None = None, ci: float = 0.95,
                         chunk_size: int | None = None, max_chunk_mb: float = 16.0,
                         sample_dims: Sequence[str] = SAMPLE_DIMS):
    """Decision table for many profiles (dim ``profile``), chunk by chunk.

    Only one chunk of ``log_hazard`` is materialised at a time, so a dask-backed array
    (e.g. built lazily per profile) keeps memory bounded; no survival grid is formed.

    Parameters
    ----------
    log_hazard : xr.DataArray
        Dims (profile, chain, draw, treatment, segment) in any order.
    candidates : bool array (profile, treatment), optional
        Per-profile decision candidates (e.g. from eligibility); default all.
    chunk_size : int, optional
        Profiles per chunk; default sized so a chunk's log hazard is ~``max_chunk_mb``.
    """
    import pandas as pd

    n_prof = log_hazard.sizes["profile"]
    per_profile = log_hazard.size // max(n_prof, 1) * 8
    if chunk_size is None:
        chunk_size = max(1, int(max_chunk_mb * 2**20 // max(per_profile, 1)))
    j = log_hazard.sizes["treatment"]
    cand = np.ones((n_prof, j), bool) if candidates is None else np.asarray(candidates, bool)
    if cand.shape != (n_prof, j):
        raise ValueError(f"candidates must have shape {(n_prof, j)}, got {cand.shape}")
    parts = []
    for start in range(0, n_prof, chunk_size):
        sl = slice(start, min(start + chunk_size, n_prof))
        chunk = log_hazard.isel(profile=sl)
        if hasattr(chunk.data, "compute"):
            chunk = chunk.compute()
        summary = survival_summary(chunk, cuts, horizon, landmarks, curves=False)
        arrays, extra, keys = {}, None, None
        for n in ["rmst", *(f"s{t:g}" for t in landmarks), "median"]:
            arrays[n], extra, keys = _batched(summary[n], sample_dims)
        parts.append(_table(arrays, summary["treatment"].values.tolist(), extra, keys,
                            cand[sl], "rmst", ci))
    df = pd.concat(parts, ignore_index=True)
    df.attrs.update(ci=ci, criterion="rmst", horizon=float(horizon))
    return df


def decide_cohort(cohort, log_hazard_for: Callable[[dict], xr.DataArray | tuple], cuts=None, *,
                  treatments: Sequence[str] | None = None, horizon: float = 60,
                  landmarks: Sequence[float] = (12, 36, 60), ci: float = 0.95,
                  modalities: dict | None = None, choosable: Callable | None = None,
                  table_cache: dict | None = None):
    """Eligibility plus decision table for every profile of a cohort.

    The posterior depends on a profile only through its model covariates, and the
    decision also through its candidate set; profiles sharing both are computed once.

    Parameters
    ----------
    cohort : iterable of PatientProfile
    log_hazard_for : callable
        ``covariates dict -> DataArray (chain, draw, treatment, segment)`` or
        ``-> (DataArray, cuts)`` as ``predict.profile_log_hazard`` returns, e.g.
        ``lambda cov: profile_log_hazard(idata, cov, horizon=60)`` (piecewise only); or
        ``-> xr.Dataset``, a survival summary without curves as
        :func:`rhcc_bayes.survival.summary.survival_summary` returns (any hazard family).
    cuts : sequence of float, optional
        Segment boundaries; needed only when ``log_hazard_for`` returns no cuts.
    treatments : sequence of str, optional
        Restrict to these treatment codes (default: those of the posterior).
    modalities : dict, optional
        ``treatment -> modality class``: adds the class-level decision columns.
    choosable : callable, optional
        ``list of codes -> the codes that are real options``; the others (pooled
        mixtures) keep their survival columns but are never ranked.
    table_cache : dict, optional
        Decision tables by (covariates, candidates), kept across calls: a cohort streamed
        in chunks computes each distinct table once (the caller keeps the other
        arguments fixed). With ``treatments`` given too, ``log_hazard_for`` is called only
        for a covariate combination that needs a table not in the cache.

    Returns
    -------
    pandas.DataFrame
        Decision table with a ``profile`` column plus ``status`` from eligibility.
    """
    import pandas as pd

    from rhcc_bayes.decision.eligibility import assess_eligibility

    cohort = list(cohort)
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(cohort):
        groups.setdefault(tuple(p.model_covariates().items()), []).append(i)
    bases: list = []                      # one decision table per (covariates, candidates)
    base_of = np.zeros(len(cohort), int)
    status: list[list[str]] = [[] for _ in cohort]
    codes: list[str] = []

    def summary_of(cov_key):
        lh, lh_cuts = log_hazard_for(dict(cov_key)), cuts
        if isinstance(lh, xr.Dataset):  # already a survival summary (any hazard family)
            return lh if treatments is None else lh.sel(treatment=list(treatments))
        if isinstance(lh, tuple):
            lh, lh_cuts = lh
        if lh_cuts is None:
            raise ValueError("cuts are needed when log_hazard_for returns only the log hazard")
        if treatments is not None:
            lh = lh.sel(treatment=list(treatments))
        return survival_summary(lh, lh_cuts, horizon, landmarks, curves=False)

    for cov_key, members in groups.items():
        # a summary holds every draw (7 MB for 8,000 draws x 22 treatments): computed only
        # when this group needs a table that is not cached, and dropped after the group
        summary = None
        if treatments is None or table_cache is None:
            summary = summary_of(cov_key)
            codes = summary["treatment"].values.tolist()
        else:
            codes = list(treatments)
        by_cands: dict[tuple, int] = {}
        for i in members:
            table = assess_eligibility(cohort[i], codes)
            allowed = table.allowed()
            key = tuple(choosable(allowed) if choosable is not None else allowed)
            if key not in by_cands:
                by_cands[key] = len(bases)
                cached = None if table_cache is None else table_cache.get((cov_key, key))
                if cached is None:
                    if summary is None:
                        summary = summary_of(cov_key)
                    cached = decision_table(summary, candidates=key, ci=ci, modalities=modalities)
                    if table_cache is not None:
                        table_cache[(cov_key, key)] = cached
                bases.append(cached)
            base_of[i] = by_cands[key]
            status[i] = [v.status for v in table]
    if not bases:
        return pd.DataFrame()
    j = len(codes)
    # stack the distinct tables once, then pick each profile's block of rows
    stacked = pd.concat(bases, ignore_index=True)
    rows = (base_of[:, None] * j + np.arange(j)).ravel()
    out = stacked.iloc[rows].reset_index(drop=True)
    out.insert(0, "profile", np.repeat([p.id for p in cohort], j))
    out.insert(2, "status", [st for sts in status for st in sts])
    out.attrs.update(ci=ci, criterion="rmst", horizon=float(horizon))
    return out


class CohortDecider:
    """``decide_cohort_table`` for a stream of cohort chunks from ONE posterior.

    Everything that depends only on the posterior (evidence support, arm limits, the
    decision table of each covariate combination and candidate set, the coverage masks of
    each value) is computed once and reused for every chunk, so a 1M-patient cohort costs
    per-patient eligibility plus table assembly. ``table(profiles)`` gives exactly the rows
    :func:`rhcc_bayes.decision.recommend.decide_cohort_table` gives for those profiles.

    The survival summaries behind the tables (every draw: ~7 MB each for 8,000 draws and
    22 treatments, ~100 combinations in a varied cohort) are not kept: a summary is
    recomputed (~20-40 ms) only when a chunk brings a candidate set not seen before for
    its combination, which keeps memory flat (it held 650 MB of summaries before).
    ``idata`` may be a :class:`~rhcc_bayes.survival.prediction_posterior.PredictionPosterior`.
    """

    def __init__(self, idata, *, horizon: float = 60, population: str = "average", seed: int = 0,
                 design=None, ci: float = 0.95, levels: str | None = None, gate_warning: str | None = None):
        from rhcc_bayes.decision.honesty import CohortFlagger, arm_records, support_tables
        from rhcc_bayes.decision.result import LANDMARKS
        from rhcc_bayes.inference.diagnostics import gate_banner
        from rhcc_bayes.survival.covariates import DEFAULT_LEVEL_MODE

        self.idata = idata
        self.horizon = float(horizon)
        self.landmarks = tuple(t for t in LANDMARKS if t <= self.horizon)
        self.population, self.seed, self.ci = population, seed, ci
        self.levels = levels or DEFAULT_LEVEL_MODE
        self.support, arm_table = support_tables(idata, design)
        self.records = arm_records(arm_table)
        self.treatments = idata.posterior["mu"].treatment.values.tolist()
        self.modality = dict(zip(self.treatments, idata.constant_data["treatment_modality"].values.tolist()))
        is_abl = dict(zip(self.treatments, idata.constant_data["is_ablation"].values.astype(bool).tolist()))
        self.flagger = CohortFlagger(self.treatments, is_abl, self.support, arm_table)
        # given by the caller when this runs on a worker from the posterior file
        self.gate_warning = gate_banner(idata) if gate_warning is None else gate_warning
        self._tables: dict[tuple, object] = {}  # decision table per (covariates, candidates)

    def summary_for(self, cov: dict):
        """Survival summary (no curves) of one covariate combination."""
        from rhcc_bayes.survival.covariates import reported_levels
        from rhcc_bayes.survival.summary import survival_summary

        levels = reported_levels(cov, self.records, self.levels)[0]
        return survival_summary(self.idata, levels, horizon=self.horizon, landmarks=self.landmarks,
                                population=self.population, seed=self.seed, curves=False)

    def table(self, profiles):
        """Tidy decision table (:data:`rhcc_bayes.decision.result.CSV_COLUMNS`) of ``profiles``."""
        from rhcc_bayes.decision.honesty import NOT_AN_OPTION, choosable_treatments
        from rhcc_bayes.decision.result import csv_frame

        profiles = list(profiles)
        df = decide_cohort(profiles, self.summary_for, treatments=self.treatments, horizon=self.horizon,
                           landmarks=self.landmarks, ci=self.ci, modalities=self.modality,
                           choosable=choosable_treatments, table_cache=self._tables)
        df["ranked"] = df["candidate"].astype(bool)
        df["candidate"] = df["status"] != "excluded"
        df.loc[df["candidate"] & ~df["ranked"], "status"] = NOT_AN_OPTION
        # decide_cohort lists each profile's treatments in posterior order: flags align row by row
        if not np.array_equal(df["treatment"].to_numpy(), np.tile(np.array(self.treatments, object), len(profiles))):
            raise RuntimeError("cohort table rows are not in (profile, posterior treatment) order")
        flags = [f for p in profiles for f in self.flagger.flags(p)]
        df["class_prior_only"] = [f[0] for f in flags]
        df["extrapolation"] = [f[1] for f in flags]
        df["flags"] = ["; ".join(f[2]) for f in flags]
        if self.support is not None:
            counts = self.support[["studies", "arms", "patients"]].reindex(self.treatments).fillna(0).astype(int)
            df = df.merge(counts, left_on="treatment", right_index=True, how="left")
        df["horizon"] = self.horizon
        df["population"] = self.population
        df["criterion"] = "RMST"
        df["gate_warning"] = self.gate_warning
        df = csv_frame(df)
        df.attrs.update(ci=self.ci, horizon=self.horizon, criterion="rmst", population=self.population)
        return df
