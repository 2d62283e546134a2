"""Model criticism: posterior predictive checks per observed summary, and LOO comparison.

Arrays from the posterior file; the design (when given) adds study/arm/measure labels
and puts counts back on the reported scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError

PPC_COLUMNS = ["variable", "row", "study", "arm", "treatment", "measure", "observed", "pred_mean",
               "pred_lo", "pred_hi", "ppp", "outlier"]


def ppc_table(idata, evidence_table: pd.DataFrame | None = None, *, prob: float = 0.95) -> pd.DataFrame:
    """Observed value vs its posterior predictive interval, for every observed summary.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``observed_data`` and ``posterior_predictive`` groups.
    evidence_table : pandas.DataFrame, optional
        The evidence table (with ``file``/``line``) to label rows by study and arm.
    prob : float
        Central interval mass; observations outside are flagged ``outlier``.

    Returns
    -------
    pandas.DataFrame
        One row per observation: ``PPC_COLUMNS``. ``ppp`` is the posterior predictive
        p-value P(y_rep >= y_obs) (with half the ties), near 0 or 1 for misfit.
    """
    if "posterior_predictive" not in idata.groups() or "observed_data" not in idata.groups():
        raise UserError("the posterior has no posterior_predictive/observed_data group; refit with posterior predictive sampling")
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    rows = []
    for var in idata.observed_data.data_vars:
        obs = idata.observed_data[var]
        pred = idata.posterior_predictive[var].values.reshape(-1, obs.size)
        y = obs.values.reshape(-1).astype(float)
        labels = obs[obs.dims[0]].values if obs.dims else np.arange(obs.size)
        lo, hi = np.quantile(pred, [lo_q, hi_q], axis=0)
        ppp = (pred > y).mean(axis=0) + 0.5 * (pred == y).mean(axis=0)
        for k in range(obs.size):
            rows.append({"variable": var, "row": str(labels[k]), "observed": y[k], "pred_mean": pred[:, k].mean(),
                         "pred_lo": lo[k], "pred_hi": hi[k], "ppp": ppp[k], "outlier": bool(y[k] < lo[k] or y[k] > hi[k])})
    table = pd.DataFrame(rows)
    for col in ("study", "arm", "treatment", "measure"):
        table[col] = ""
    if evidence_table is not None and len(table):
        keys = evidence_table["file"].astype(str).str.split("/").str[-1] + ":" + evidence_table["line"].astype(str)
        lookup = evidence_table.assign(row=keys.to_numpy()).set_index("row")
        for col in ("study", "arm", "treatment", "measure"):
            table[col] = table["row"].map(lookup[col]).fillna("")
    return table[PPC_COLUMNS]


def ppc_coverage(table: pd.DataFrame) -> float:
    """Share of observations inside their predictive interval."""
    return float((~table["outlier"]).mean()) if len(table) else float("nan")


def compare_models(fits: dict) -> pd.DataFrame:
    """LOO comparison of fits to the SAME observations (``az.compare``).

    Raises
    ------
    UserError
        When the fits' observed data differ (e.g. specs selecting different evidence):
        their LOO values are then not comparable.
    """
    import arviz as az

    if len(fits) < 2:
        raise UserError("compare-models needs at least two specs")
    names = list(fits)
    ref = fits[names[0]].observed_data
    for name in names[1:]:
        other = fits[name].observed_data
        if set(ref.data_vars) != set(other.data_vars) or any(
            not np.array_equal(ref[v].values, other[v].values) for v in ref.data_vars
        ):
            raise UserError(f"specs {names[0]!r} and {name!r} use different observations; "
                            "LOO is only comparable between models of the same data")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.compare({name: with_joint_log_likelihood(idata) for name, idata in fits.items()}, ic="loo")


def with_joint_log_likelihood(idata):
    """An InferenceData whose ``log_likelihood`` is ONE variable over every observed summary.

    The survival model has several observed blocks (landmark counts, medians, HRs, secondary
    outcomes); LOO leaves out one reported summary at a time across all of them.
    """
    import xarray as xr

    ll = idata.log_likelihood
    parts = []
    for var in ll.data_vars:
        da = ll[var]
        flat = da.stack(observation=[d for d in da.dims if d not in ("chain", "draw")]) if da.ndim > 2 else da.expand_dims(observation=1)
        labels = [f"{var}:{'/'.join(map(str, k)) if isinstance(k, tuple) else k}" for k in flat["observation"].values]
        parts.append(flat.drop_vars([c for c in flat.coords if c not in ("chain", "draw")]).assign_coords(observation=labels))
    joint = xr.concat(parts, dim="observation").rename("summary")
    out = idata.copy()
    out.log_likelihood = xr.Dataset({"summary": joint})
    return out


def prior_survival(evidence, spec, *, draws: int = 1000, seed: int = 0, landmarks=(12, 36, 60)):
    """Prior predictive check on the survival scale: S(t) per treatment under the prior.

    Returns the same summary as a posterior (``survival.summary.survival_summary`` without curves,
    average study population, covariates not reported), so the priors can be judged
    where clinicians think: 5-year survival should be neither piled at 0 or 1 nor
    implausible.
    """
    import arviz as az
    import pymc as pm

    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.metadata import attach_metadata
    from rhcc_bayes.survival.summary import survival_summary

    design = make_design(evidence, spec)
    model = build_survival_model(design, spec)
    prior = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)
    idata = attach_metadata(az.InferenceData(posterior=prior.prior), design, spec, evidence.hash)
    return survival_summary(idata, {}, horizon=max(landmarks), landmarks=landmarks, population="new", seed=seed,
                            curves=False)
