"""What would a NEW study of a given population report? Population descriptors and the
posterior predictive of a cohort's landmark survival, sampling noise of its n included.

A :class:`Population` describes a study population by its inclusion limits, as papers do
("tumours <= 3 cm", "<= 3 nodules", "within Milan", "early recurrence after resection").
It maps onto the survival model's covariate levels with the same coding as the evidence's
study arms (:func:`rhcc_bayes.survival.covariates.arm_covariates`).

:func:`predict_population` draws, per posterior draw, a new study effect (the
``population="new"`` predictive of :func:`rhcc_bayes.survival.predict.survival_draws`),
then the survivors of ``n`` patients across the requested landmark times
(``alive_k ~ Binomial(alive_{k-1}, S(t_k) / S(t_{k-1}))``, no censoring): the reported
fraction ``alive_k / n`` is what the new study would publish.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from rhcc_bayes.core.atomic import write_atomic
from rhcc_bayes.core.toml import read_toml
from rhcc_bayes.core.errors import Problem, UserError, ValidationError, did_you_mean
from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS
from rhcc_bayes.survival.predict import binomial_survivors
from rhcc_bayes.survival.covariates import (
    DEFAULT_LEVEL_MODE,
    arm_covariates,
    reported_levels,
)

MILAN_SIZE_MAX_CM = 5.0
MILAN_NODULES_MAX = 3
INTERVALS = (0.5, 0.9, 0.95)

_KEYS = {
    "id": "label used in tables",
    "description": "free text",
    "size_min_cm": "smallest included tumour (cm)",
    "size_max_cm": "largest included tumour (cm), e.g. 3 for 'tumours <= 3 cm'",
    "nodules_max": "largest number of nodules included (1 = solitary)",
    "milan": "'within' (or true) restricts to Milan: size <= 5 cm and <= 3 nodules; 'any' (or false)",
    "recurrence": "'early' (< 12 months), 'late', or 'any'",
    "prior_treatment": "initial curative-intent treatment: 'resection', 'transplant', or 'any'",
    "advanced": "true for advanced recurrences only (portal-vein thrombus and/or extrahepatic spread, BCLC C); "
                "false or 'any' otherwise",
}


@dataclass(frozen=True)
class Population:
    """Inclusion limits of a study population (NaN / "" = no limit: an all-comer cohort).

    Attributes
    ----------
    id : str
    size_min_cm, size_max_cm : float
        Tumour-size limits (cm).
    nodules_max : float
        Largest number of nodules included (1 = solitary only).
    recurrence_timing : {"early", "late", ""}
    prior_treatment : {"resection", "transplant", ""}
    bclc : {"C", ""}
        "C": advanced recurrences only (portal-vein thrombus / extrahepatic spread).
    description : str
    """

    id: str = "population"
    size_min_cm: float = math.nan
    size_max_cm: float = math.nan
    nodules_max: float = math.nan
    recurrence_timing: str = ""
    prior_treatment: str = ""
    bclc: str = ""
    description: str = ""

    def descriptors(self) -> dict:
        """The arm descriptors (evidence column names) of this population."""
        return {"size_min_cm": self.size_min_cm, "size_max_cm": self.size_max_cm,
                "nodules_max": self.nodules_max, "recurrence_timing": self.recurrence_timing,
                "prior_treatment": self.prior_treatment, "bclc": self.bclc}

    def covariates(self) -> dict[str, str]:
        """The model's covariate levels for this population (coded like a study arm)."""
        return arm_covariates(self.descriptors())

    @classmethod
    def from_mapping(cls, data: dict, source: str = "<mapping>") -> Population:
        """Validate a mapping (parsed TOML) of population descriptors; see :data:`_KEYS`.

        Raises
        ------
        ValidationError
            Naming the source and key of every unknown key and bad value.
        """
        problems: list[Problem] = []
        out: dict = {}
        for key, value in data.items():
            if key not in _KEYS:
                problems.append(Problem(source, f"unknown key{did_you_mean(key, _KEYS)}; allowed: "
                                        + ", ".join(_KEYS), column=str(key)))
                continue
            msg = None
            if key in ("id", "description"):
                if not isinstance(value, str) or (key == "id" and not value):
                    msg = "must be a non-empty string" if key == "id" else "must be a string"
                else:
                    out[key] = value
            elif key in ("size_min_cm", "size_max_cm", "nodules_max"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                if not ok or value <= 0 or (key == "size_max_cm" and value > 30):
                    msg = "must be a positive number" + (" <= 30 (cm)" if key == "size_max_cm" else "")
                elif key == "nodules_max" and value != int(value):
                    msg = "must be a whole number of nodules"
                else:
                    out[key] = float(value)
            elif key == "advanced":
                if value not in (True, False, "any"):
                    msg = "must be true (advanced recurrences only), false or 'any'"
                else:
                    out["bclc"] = "C" if value is True else ""
            elif key == "milan":
                choice = {True: "within", False: "any"}.get(value, value) if isinstance(value, bool) else value
                if choice not in ("within", "any"):
                    msg = "must be 'within' (or true) or 'any' (or false)"
                else:
                    out["milan"] = choice
            else:
                allowed = ("early", "late", "any") if key == "recurrence" else ("resection", "transplant", "any")
                if value not in allowed:
                    msg = f"must be one of {list(allowed)}{did_you_mean(value, allowed)}"
                else:
                    out[key] = "" if value == "any" else value
            if msg:
                problems.append(Problem(source, msg, column=key, value=value))
        lo, hi = out.get("size_min_cm", math.nan), out.get("size_max_cm", math.nan)
        if not problems and lo >= hi:
            problems.append(Problem(source, f"size_min_cm ({lo:g}) must be below size_max_cm ({hi:g})",
                                    column="size_min_cm"))
        if not problems and out.get("milan") == "within" and out.get("bclc") == "C":
            problems.append(Problem(source, "advanced = true (portal-vein thrombus / extrahepatic spread) is beyond "
                                    "Milan; milan = 'within' contradicts it", column="advanced"))
        if problems:
            raise ValidationError(problems)
        if out.pop("milan", "any") == "within":
            out["size_max_cm"] = min(out.get("size_max_cm", math.inf), MILAN_SIZE_MAX_CM)
            out["nodules_max"] = min(out.get("nodules_max", math.inf), float(MILAN_NODULES_MAX))
        return cls(id=out.get("id", "population"), size_min_cm=out.get("size_min_cm", math.nan),
                   size_max_cm=out.get("size_max_cm", math.nan), nodules_max=out.get("nodules_max", math.nan),
                   recurrence_timing=out.get("recurrence", ""), prior_treatment=out.get("prior_treatment", ""),
                   bclc=out.get("bclc", ""), description=out.get("description", ""))


def load_population(path: str | os.PathLike) -> Population:
    """Read a population TOML (keys at top level or in a ``[population]`` table).

    Raises
    ------
    ValidationError
        Unreadable file, malformed TOML, unknown keys or bad values (with file and key).
    """
    path = Path(path)
    data = read_toml(path, "population")
    if "population" in data:
        if not isinstance(data["population"], dict) or len(data) > 1:
            raise ValidationError([Problem(str(path), "expected only a [population] table", column="population")])
        data = data["population"]
    data = dict(data)
    data.setdefault("id", path.stem)
    return Population.from_mapping(data, source=str(path))


def check_times(times) -> np.ndarray:
    """Landmark times as a sorted float array; in (0, 240] months, finite and distinct, else UserError."""
    try:
        t = np.asarray(list(times) if not np.isscalar(times) else [times], dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"times must be numbers of months, got {times!r}") from None
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise UserError(f"times must be positive numbers of months, got {t.tolist()}")
    if np.any(t > MAX_HORIZON_MONTHS):
        raise UserError(f"times must be at most {MAX_HORIZON_MONTHS:g} months (20 years), got {t.tolist()}")
    if len(np.unique(t)) != t.size:
        raise UserError(f"times must be distinct, got {t.tolist()}")
    return np.sort(t)


def prediction_levels(idata, covariates: dict, levels: str = DEFAULT_LEVEL_MODE) -> tuple[dict, list[str]]:
    """Covariate levels to predict with, and notes on levels no arm of the posterior's evidence
    reports (``levels="reported"`` maps them to "nr"; see
    :func:`~rhcc_bayes.survival.covariates.reported_levels`)."""
    from rhcc_bayes.survival.support import arm_support_from_idata

    arms = arm_support_from_idata(idata)
    return reported_levels(covariates, None if arms is None else arms.to_dict(orient="records"), levels)


def predict_population(idata, population, treatment: str, n: int, times, *, seed: int = 0,
                       levels: str = DEFAULT_LEVEL_MODE) -> xr.Dataset:
    """Posterior predictive of the landmark survival a new study of ``population`` would report.

    Parameters
    ----------
    idata : arviz.InferenceData
        A survival posterior.
    population : Population, mapping or path
        The study population (a TOML path is read with :func:`load_population`).
    treatment : str
        Treatment code of the new study's arm.
    n : int
        Number of patients of the new study.
    times : sequence of float
        Landmark times in months (any positive values).
    seed : int
        Seed of the new study effect and of the binomial sampling.
    levels : {"profile", "reported"}
        "profile" (default): the population's levels as coded; "reported": a level no
        arm of the evidence reports is predicted at "nr". Either way such levels are
        named in ``attrs["level_notes"]``.

    Returns
    -------
    xarray.Dataset
        Dims (chain, draw, time): ``survival`` (the new study's true S(t)), ``alive``
        (survivors among n) and ``reported`` (alive / n, what it would publish). Attrs:
        treatment, n, population id and descriptors, covariate levels, seed.
    """
    from rhcc_bayes.survival.predict import survival_draws

    if isinstance(population, (str, os.PathLike)):
        population = load_population(population)
    elif isinstance(population, dict):
        population = Population.from_mapping(population)
    treatments = [str(t) for t in idata.posterior["mu"].treatment.values]
    if treatment not in treatments:
        raise UserError(f"unknown treatment {treatment!r}{did_you_mean(treatment, treatments)}; "
                        f"the posterior has {treatments}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise UserError(f"n must be a positive whole number of patients, got {n!r}")
    t = check_times(times)
    cov, notes = prediction_levels(idata, population.covariates(), levels)
    s = survival_draws(idata, cov, t, population="new", seed=seed).sel(treatment=treatment)
    s = s.transpose("chain", "draw", "time")
    alive = binomial_survivors(s.values, int(n), np.random.default_rng([seed, 1]))
    coords = {"chain": s.chain.values, "draw": s.draw.values, "time": t}
    dims = ("chain", "draw", "time")
    ds = xr.Dataset({
        "survival": (dims, s.values, {"long_name": "survival of the new study population", "units": "fraction"}),
        "alive": (dims, alive, {"long_name": f"survivors among n = {int(n)}"}),
        "reported": (dims, alive / float(n), {"long_name": "reported landmark survival (with sampling noise)",
                                                "units": "fraction"}),
    }, coords=coords)
    ds["time"].attrs["units"] = "months"
    ds.attrs.update({"treatment": treatment, "n": int(n), "population": population.id, "seed": int(seed),
                     **{f"population_{k}": ("" if isinstance(v, float) and math.isnan(v) else v)
                        for k, v in population.descriptors().items()},
                     **{f"level_{k}": v for k, v in cov.items()}, "level_notes": "; ".join(notes)})
    return ds


def prediction_table(ds: xr.Dataset, intervals=INTERVALS) -> pd.DataFrame:
    """Summary of :func:`predict_population` per time: mean, median and central intervals.

    Columns: ``time``, ``mean``, ``median``, ``lo50``/``hi50``, ``lo90``/``hi90``,
    ``lo95``/``hi95`` (of the reported survival, sampling noise included) and
    ``survival_mean`` (the population's expected survival, no sampling noise).
    """
    rep = ds["reported"].stack(sample=("chain", "draw")).transpose("time", "sample").values
    table = pd.DataFrame({"time": ds["time"].values, "mean": rep.mean(axis=1), "median": np.median(rep, axis=1)})
    for level in intervals:
        a = (1 - level) / 2
        lo, hi = np.quantile(rep, [a, 1 - a], axis=1)
        pct = f"{round(level * 100):d}"
        table[f"lo{pct}"], table[f"hi{pct}"] = lo, hi
    table["survival_mean"] = ds["survival"].mean(("chain", "draw")).values
    table.insert(0, "treatment", ds.attrs.get("treatment", ""))
    table.insert(1, "n", ds.attrs.get("n", np.nan))
    return table


def write_netcdf_atomic(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to netCDF through a temporary file beside ``path``, then rename."""
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
