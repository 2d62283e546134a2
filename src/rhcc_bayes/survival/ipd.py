"""Individual patient data in the survival synthesis: design rows and the exact likelihood.

An IPD arm is a study arm like a summary arm (its own study effect u_s and arm effect
eps_a, study/arm keyed by the IPD's ``study, arm``); each patient adds his own covariate
effects x_i . beta, coded by the same :mod:`rhcc_bayes.survival.covariates` objects that
code arm descriptors and patient profiles, so aggregate and individual data inform one
covariate model. The arm's own row carries the reference level "nr" (effect 0): the
patients' levels replace the arm's inclusion limits.

Likelihood (exact, proportional hazards): patient i with time t_i, death indicator d_i and
log hazard log h_0(t) + theta_i adds d_i log h(t_i) - H(t_i).

* Piecewise-exponential: with deaths D_gk and exposure E_gk of the patients of group g
  (arm x covariate pattern) in segment k, the log-likelihood is
  sum_gk D_gk (gamma_k + theta_g) - exp(gamma_k + theta_g) E_gk, i.e. a Poisson likelihood
  of D_gk with mean exp(gamma_k + theta_g) E_gk (the same up to a constant): the cost grows
  with groups x segments, not with patients.
* Weibull: log h(t) = log a + log lambda + theta + (a - 1) log t on the distinct
  (arm, pattern, time, event) rows, weighted by their count (a potential).

Both enter as data containers padded to a power of 2 (:func:`cell_bucket`): a new registry
whose cells fall in the same bucket reuses the compiled model (compile 0.5-2 s instead of
minutes; padded cells add exactly 0 and are dropped from the fit's groups).

Geometry: precise IPD pin combinations (baseline segment hazard + the registry's study
effect + covariate effects) whose terms each stay prior-wide, so leapfrog steps per draw grow
with patients (benchmarks/ipd.py). Sampling the IPD study's effect through its best-informed
cell's log hazard halved them at 10k-100k patients but diverged at 1k and 100k; a centred or
Helmert-rotated treatment deviation and the low-rank mass matrix did not help: none is used.
* M-spline and cure families: not supported (a clear error); their likelihood would need
  the hazard itself, which their PyTensor interface does not expose yet.

A study arm given both as IPD and as summaries is counted once: the IPD wins, the
summaries of that arm (landmarks, medians, hazard ratios involving it) leave the
likelihood and are listed as checks (reported value next to the IPD's Kaplan–Meier).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.survival.covariates import COVARIATES, REFERENCE

#: Hazard families whose exact IPD likelihood is implemented.
IPD_FAMILIES: tuple[str, ...] = ("piecewise", "weibull")
CHECK_REASON = "summary of an arm given as IPD: the IPD is used, this row is a check (not in the likelihood)"


@dataclass(frozen=True)
class IPDDesign:
    """IPD as the model needs it.

    Attributes
    ----------
    rows : DataFrame
        Distinct (arm_index, t_index, covariate levels, time, event) with ``weight`` (patients).
    arms : DataFrame
        One row per IPD arm: study, arm, treatment, arm_index, patients, deaths, replaces (bool).
    checks : DataFrame
        Summaries of IPD arms left out of the likelihood, with the IPD's value beside them.
    hash : str
        Content hash of the IPD.
    """

    rows: pd.DataFrame
    arms: pd.DataFrame
    checks: pd.DataFrame
    hash: str

    @property
    def patients(self) -> int:
        return int(self.rows["weight"].sum())

    @property
    def max_time(self) -> float:
        return float(self.rows["time"].max()) if len(self.rows) else float("nan")


def patient_levels(table: pd.DataFrame, covariates) -> pd.DataFrame:
    """Model level of each patient for each covariate (only ``covariates`` coded; others "nr").

    Patients are coded like patient profiles (``Covariate.profile_level``): size band from
    ``tumour_size_cm``, solitary/multinodular from ``nodules``, early/late from
    ``months_since_treatment``, transplant from ``prior_treatment`` (resection, the reference
    population, and unknown -> "nr").
    """
    fields = ("tumour_size_cm", "nodules", "months_since_treatment", "prior_treatment")

    def value(v):
        return "unknown" if v is None or v == "" or (isinstance(v, float) and v != v) else v

    keys = list(zip(*(table[f].map(value) for f in fields)))
    coded = {}
    for key in set(keys):
        prof = SimpleNamespace(**dict(zip(fields, key)))
        coded[key] = {name: COVARIATES[name].profile_level(prof) for name in covariates}
    out = pd.DataFrame(REFERENCE, index=table.index, columns=list(COVARIATES))
    for name in covariates:
        out[name] = [coded[k][name] for k in keys]
    return out


def _summary_checks(design, replaced: dict, ipd_table: pd.DataFrame) -> pd.DataFrame:
    """The dropped summary rows of IPD arms, each beside the IPD's Kaplan–Meier value."""
    from rhcc_bayes.ipd.km import kaplan_meier

    used = design.used
    rows = []
    keys = set()
    for tbl in (design.landmarks, design.medians):
        keys |= set(tbl.loc[tbl["arm_index"].isin(list(replaced)), "row_key"])
    hr = design.hazard_ratios
    keys |= set(hr.loc[hr["arm_index"].isin(list(replaced)) | hr["comparator_index"].isin(list(replaced)), "row_key"])
    for r in used[used["row_key"].isin(keys)].itertuples():
        pts = ipd_table[(ipd_table["study"] == r.study) & (ipd_table["arm"] == r.arm)]
        km = kaplan_meier(pts["time_months"], pts["event"]) if len(pts) else None
        ipd_value = np.nan
        if km is not None and r.measure == "survival":
            ipd_value = float(km(r.time_months))
        elif km is not None and r.measure == "median":
            ipd_value = km.median()
        rows.append({"row_key": r.row_key, "study": r.study, "arm": r.arm, "measure": r.measure,
                     "time_months": r.time_months, "reported": r.estimate, "ipd": ipd_value})
    return pd.DataFrame(rows, columns=["row_key", "study", "arm", "measure", "time_months", "reported", "ipd"])


def add_ipd(design, ipd, spec):
    """A new design with the IPD arms added and the summaries they replace moved to the checks.

    Parameters
    ----------
    design : SurvivalDesign
    ipd : rhcc_bayes.ipd.table.IPD
    spec : SurvivalSpec

    Returns
    -------
    SurvivalDesign
        ``.ipd`` is an :class:`IPDDesign`; ``.excluded`` lists the replaced summaries.
    """
    if spec.hazard not in IPD_FAMILIES:
        raise UserError(f"--ipd: the {spec.hazard!r} hazard family of spec {spec.name!r} has no patient-level "
                        f"likelihood yet; IPD works with the families {', '.join(IPD_FAMILIES)} "
                        "(e.g. --spec default or --spec weibull)")
    st = design.structure
    tab = ipd.table
    arms = design.arms.copy()
    level = arms["level"] if "level" in arms else pd.Series("study", index=arms.index)
    index = {(s, a): i for i, (s, a) in enumerate(zip(arms["study"], arms["arm"]))}
    studies = list(design.studies)
    replaced, ipd_arms, new_rows = {}, [], []
    # arms in (study, arm) order, not file order: the model graph (and the draws) do not depend on
    # the order of the rows, and registries with the same arms share a compiled graph
    for r in ipd.arms().sort_values(["study", "arm"], kind="stable").itertuples():
        if r.treatment not in st.treatments:
            raise UserError(f"{r.file}: study {r.study!r} arm {r.arm!r}: treatment {r.treatment!r} is not in the "
                            "model's treatment list")
        key = (r.study, r.arm)
        if key in index:
            i = index[key]
            if level.iloc[i] == "population":
                raise UserError(f"{r.file}: study {r.study!r} arm {r.arm!r} is a pooled (population-level) result "
                                "in the evidence; patient data need a study arm: use another study label")
            if arms.at[i, "treatment"] != r.treatment:
                raise UserError(f"{r.file}: study {r.study!r} arm {r.arm!r} has treatment {r.treatment!r}, but the "
                                f"evidence gives this arm treatment {arms.at[i, 'treatment']!r}")
            replaced[i] = key
        else:
            i = len(arms) + len(new_rows)
            new_rows.append({"study": r.study, "arm": r.arm, "treatment": r.treatment, "n": float(r.patients),
                             **{c: REFERENCE for c in COVARIATES}, "population": "recurrent", "level": "study"})
        if r.study not in studies:
            studies.append(r.study)
        ipd_arms.append({"study": r.study, "arm": r.arm, "treatment": r.treatment, "arm_index": i,
                         "patients": int(r.patients), "deaths": int(r.deaths), "replaces": key in index})
    if new_rows:
        arms = pd.concat([arms, pd.DataFrame(new_rows)], ignore_index=True)
    ipd_idx = [a["arm_index"] for a in ipd_arms]
    arms.loc[ipd_idx, list(COVARIATES)] = REFERENCE  # the patients carry their own levels
    arms["t_index"] = [st.treatments.index(t) for t in arms["treatment"]]
    lv = arms["level"] if "level" in arms else pd.Series("study", index=arms.index)
    arms["s_index"] = [studies.index(s) if v == "study" else 0 for s, v in zip(arms["study"], lv)]

    checks = _summary_checks(design, replaced, tab)
    drop = set(checks["row_key"])
    lm, med, hr = design.landmarks, design.medians, design.hazard_ratios
    moved = design.used[design.used["row_key"].isin(drop)]
    excluded = pd.concat([design.excluded, moved.drop(columns=["how"]).assign(reason=CHECK_REASON)])

    levels = patient_levels(tab, spec.covariates)
    arm_of = {(a["study"], a["arm"]): a["arm_index"] for a in ipd_arms}
    rows = pd.DataFrame({"arm_index": [arm_of[k] for k in zip(tab["study"], tab["arm"])],
                         **{c: levels[c].to_numpy() for c in COVARIATES},
                         "time": tab["time_months"].to_numpy(float), "event": tab["event"].to_numpy(int)})
    rows = rows.groupby(["arm_index", *COVARIATES, "time", "event"], sort=True).size().rename("weight").reset_index()
    rows["t_index"] = arms.loc[rows["arm_index"], "t_index"].to_numpy()
    ipd_design = IPDDesign(rows=rows, arms=pd.DataFrame(ipd_arms), checks=checks, hash=ipd.hash)
    return dataclasses.replace(
        design, arms=arms, studies=tuple(studies),
        landmarks=lm[~lm["row_key"].isin(drop)].reset_index(drop=True),
        medians=med[~med["row_key"].isin(drop)].reset_index(drop=True),
        hazard_ratios=hr[~hr["row_key"].isin(drop)].reset_index(drop=True),
        used=design.used[~design.used["row_key"].isin(drop)], excluded=excluded, ipd=ipd_design)


# --- likelihood ---------------------------------------------------------------------------
def segment_cells(rows: pd.DataFrame, cuts: np.ndarray) -> pd.DataFrame:
    """Deaths and exposure per (arm, covariate pattern, segment), cells with exposure > 0."""
    from rhcc_bayes.survival.hazards.piecewise import exposure

    t = rows["time"].to_numpy(float)
    w = rows["weight"].to_numpy(float)
    expo = exposure(t, cuts) * w[:, None]  # (row, segment)
    seg = np.clip(np.searchsorted(cuts, t, side="left") - 1, 0, len(cuts) - 2)  # death at t in (c_k, c_k+1]
    deaths = np.zeros_like(expo)
    np.add.at(deaths, (np.arange(len(t)), seg), rows["event"].to_numpy(float) * w)
    keys = ["arm_index", "t_index", *COVARIATES]
    k = len(cuts) - 1
    long = pd.DataFrame({c: np.repeat(rows[c].to_numpy(), k) for c in keys})
    long["segment"] = np.tile(np.arange(k), len(rows))
    long["deaths"] = deaths.ravel()
    long["exposure"] = expo.ravel()
    cells = long.groupby([*keys, "segment"], sort=True)[["deaths", "exposure"]].sum().reset_index()
    return cells[cells["exposure"] > 0].reset_index(drop=True)


def cell_labels(cells: pd.DataFrame, arms: pd.DataFrame, cuts) -> list[str]:
    """Readable, unique cell names: ``IPD study | arm | segment | size/nodularity/recurrence/prior``."""
    from rhcc_bayes.survival.hazards.piecewise import segment_label

    seg = [segment_label(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    return [f"IPD {arms.at[r.arm_index, 'study']} | {arms.at[r.arm_index, 'arm']} | {seg[r.segment]} months | "
            + "/".join(str(getattr(r, c)) for c in COVARIATES) for r in cells.itertuples()]


def _pattern_effects(pt, effects: dict, level_index: dict, is_ablation):
    """x . beta of each row's covariate levels (the arm-level coding of model.py, per patient group).

    ``level_index[cov]`` holds each row's index into ``COVARIATES[cov].all_levels`` (numbers or
    a data container); "nr" is the last level, with effect 0.
    """
    xb = 0.0
    for name, beta in effects.items():
        cov = "size_band" if name == "size_band_ablation" else name
        b = pt.concatenate([beta, pt.zeros(1)])[level_index[cov]]  # "nr" (last) = 0
        xb = xb + (is_ablation * b if name == "size_band_ablation" else b)
    return xb


def _level_index(levels: pd.DataFrame, cov: str) -> np.ndarray:
    return np.array([COVARIATES[cov].all_levels.index(v) for v in levels[cov]], dtype=np.int64)


#: Smallest number of IPD cells the model is built for (see :func:`cell_bucket`).
MIN_CELL_BUCKET = 64


def cell_bucket(n: int) -> int:
    """Number of cells the model is built for: the next power of 2 >= ``n`` (at least 64).

    The cells enter as data containers padded to this size, so registries whose cell counts
    fall in one bucket give one compiled graph that differs only in the containers' values
    (the compile index can reuse it). Padded cells have weight 0: they add exactly 0 to the
    log density and its gradient and are dropped from the fit's outputs (:func:`trim_padding`).
    """
    return max(MIN_CELL_BUCKET, 1 << max(int(n) - 1, 0).bit_length())


#: Columns of the integer cell table ``ipd_cells`` (level columns: index into ``all_levels``).
CELL_COLUMNS = ("arm_index", "segment", *COVARIATES)


def kept(rows: pd.DataFrame, arm_index: np.ndarray) -> np.ndarray:
    """Likelihood weight per cell or row of ``arm_index``: 0 for arms held out (the IPD rows'
    ``keep`` column, :func:`rhcc_bayes.survival.holdout.hold_out`), else 1. Held-out cells stay
    in the containers, so the graph and its cell bucket are the full registry's."""
    if "keep" not in rows:
        return np.ones(len(arm_index))
    out = rows.loc[~rows["keep"].to_numpy(bool), "arm_index"].unique()
    return np.where(np.isin(arm_index, out), 0.0, 1.0)


def _padded(values: np.ndarray, size: int, fill) -> np.ndarray:
    out = np.full((size, *values.shape[1:]), fill, dtype=values.dtype)
    out[:len(values)] = values
    return out


def cell_data(pm, design, family) -> dict:
    """The piecewise IPD cells as data containers.

    Three containers, padded to :func:`cell_bucket` rows: ``ipd_cells`` (int: arm, segment,
    covariate level indices), ``ipd_cell_exposure`` (log exposure, weight) and the observed
    ``ipd_deaths_data``. Padded cells have index 0, exposure 1, weight 0 and 0 deaths. Few wide
    containers rather than one per column: each shared array is a line of nutpie's generated
    wrapper, whose numba compile grew steeply with their number (30: > 10 min).

    Returns ``{"arm", "segment", "log_exposure", "weight", "deaths", "levels": {covariate: index}}``.
    """
    from rhcc_bayes.survival.likelihood import observed_data

    model = pm.modelcontext(None)
    cells = segment_cells(design.ipd.rows, np.asarray(family.cuts, dtype=float))
    n, size = len(cells), cell_bucket(len(cells))
    labels = cell_labels(cells, design.arms, family.cuts)
    model.add_coord("ipd_cell", labels + [f"IPD padding {i + 1}" for i in range(size - n)])
    model.add_coord("ipd_cell_column", list(CELL_COLUMNS))
    model.add_coord("ipd_exposure_column", ["log_exposure", "weight"])
    index = np.column_stack([cells["arm_index"].to_numpy(np.int64), cells["segment"].to_numpy(np.int64),
                             *(_level_index(cells, c) for c in COVARIATES)])
    idx = pm.Data("ipd_cells", _padded(index.reshape(n, len(CELL_COLUMNS)), size, 0),
                  dims=("ipd_cell", "ipd_cell_column"))
    weight = kept(design.ipd.rows, cells["arm_index"].to_numpy())
    log_expo = np.column_stack([np.log(cells["exposure"].to_numpy(float)), weight]).reshape(n, 2)
    expo = pm.Data("ipd_cell_exposure", _padded(log_expo, size, 0.0), dims=("ipd_cell", "ipd_exposure_column"))
    # deaths are whole numbers per cell (sums of 0/1 events), exposure any positive value
    deaths = observed_data(pm, "ipd_deaths", _padded(cells["deaths"].to_numpy().round().astype(np.int64), size, 0),
                           "ipd_cell")
    return {"arm": idx[:, 0], "segment": idx[:, 1], "log_exposure": expo[:, 0], "weight": expo[:, 1],
            "deaths": deaths, "levels": {c: idx[:, 2 + k] for k, c in enumerate(COVARIATES)}}


def _row_effects(pt, design, effects, data):
    """x_pattern . beta of each IPD cell or Weibull row (:func:`cell_data`, :func:`row_data`),
    with the ablation x size interaction of its arm's treatment."""
    t_idx = design.arms["t_index"].to_numpy()
    abl = design.structure.is_ablation[t_idx].astype(float)  # per arm, a constant of the arms
    return _pattern_effects(pt, effects, data["levels"], pt.as_tensor_variable(abl)[data["arm"]])


def row_data(pm, design) -> dict:
    """The Weibull likelihood's distinct IPD rows as data containers padded to :func:`cell_bucket`
    rows (padding: index 0, time 1, weight 0), so registries of one bucket share a compiled model:
    ``ipd_rows`` (int: arm, covariate level indices) and ``ipd_row_values`` (log time, weight, event)."""
    rows = design.ipd.rows
    n, size = len(rows), cell_bucket(len(rows))
    model = pm.modelcontext(None)
    model.add_coord("ipd_row", np.arange(size))
    model.add_coord("ipd_row_column", ["arm_index", *COVARIATES])
    model.add_coord("ipd_value_column", ["log_time", "weight", "event"])
    index = np.column_stack([rows["arm_index"].to_numpy(np.int64), *(_level_index(rows, c) for c in COVARIATES)])
    weight = rows["weight"].to_numpy(float) * kept(rows, rows["arm_index"].to_numpy())
    values = np.column_stack([np.log(rows["time"].to_numpy(float)), weight,
                              rows["event"].to_numpy(float)])
    idx = pm.Data("ipd_rows", _padded(index.reshape(n, 1 + len(COVARIATES)), size, 0), dims=("ipd_row", "ipd_row_column"))
    val = pm.Data("ipd_row_values", _padded(values.reshape(n, 3), size, 0.0), dims=("ipd_row", "ipd_value_column"))
    return {"arm": idx[:, 0], "log_time": val[:, 0], "weight": val[:, 1], "event": val[:, 2],
            "levels": {c: idx[:, 1 + k] for k, c in enumerate(COVARIATES)}}


def _poisson_cells(log_mu, weight, size):
    """Deaths of the cells (padding: 0)."""
    import pymc as pm
    import pytensor.tensor as pt

    return pt.switch(pt.gt(weight, 0), pm.Poisson.dist(mu=pt.exp(log_mu), size=size), 0)


def _poisson_cells_logp(value, log_mu, weight):
    """Poisson log-probability of the deaths, weighted (padding: exactly 0, gradient too)."""
    import pytensor.tensor as pt

    return weight * (value * log_mu - pt.exp(log_mu) - pt.gammaln(value + 1.0))


def ipd_likelihood(pm, pt, design, family, baseline: dict, theta, effects: dict) -> None:
    """Add the IPD's exact survival likelihood to the model under construction."""
    if family.name == "piecewise":
        data = cell_data(pm, design, family)
        log_h = baseline["gamma"][data["segment"]] + theta[data["arm"]] + _row_effects(pt, design, effects, data)
        log_mu = log_h + data["log_exposure"]
        pm.CustomDist("ipd_deaths", log_mu, data["weight"], dist=_poisson_cells, logp=_poisson_cells_logp,
                      observed=data["deaths"], dims="ipd_cell")
    elif family.name == "weibull":
        data = row_data(pm, design)
        th = theta[data["arm"]] + _row_effects(pt, design, effects, data)
        a = baseline["weibull_shape"]
        log_scale = baseline["log_lambda"] + th
        log_h = pt.log(a) + log_scale + (a - 1.0) * data["log_time"]
        big_h = pt.exp(log_scale + a * data["log_time"])
        pm.Potential("ipd_loglik", pt.sum(data["weight"] * (data["event"] * log_h - big_h)))
    else:  # add_ipd refuses these; a design built another way must not silently drop the IPD
        raise UserError(f"IPD likelihood not implemented for the {family.name!r} hazard family")


def trim_padding(idata, design) -> None:
    """Drop the padded IPD cells and Weibull rows (:func:`cell_bucket`) from every group of
    ``idata`` in place (the padding is the tail of each dim)."""
    if design.ipd is None:
        return
    for group in idata.groups():
        ds = idata[group]
        if "ipd_cell" in ds.dims:
            n = int(np.sum(~ds["ipd_cell"].to_index().str.startswith("IPD padding ")))
            ds = ds.isel(ipd_cell=slice(0, n))
        if "ipd_row" in ds.dims:
            ds = ds.isel(ipd_row=slice(0, len(design.ipd.rows)))
        setattr(idata, group, ds)


def attach_ipd_metadata(idata, design) -> None:
    """Record the IPD in the posterior's attrs: hash, patients, arms, the checks, and the
    follow-up it adds (``last_observed_months`` grows to the longest IPD follow-up); drop the
    padded IPD cells from the groups (:func:`trim_padding`)."""
    ipd = design.ipd
    trim_padding(idata, design)
    last = float(idata.attrs.get("last_observed_months", np.nan))
    idata.attrs.update({
        "ipd_hash": ipd.hash,
        "ipd_patients": ipd.patients,
        "ipd_arms_json": ipd.arms.to_json(orient="records"),
        "ipd_checks_json": ipd.checks.to_json(orient="records"),
        "last_observed_months": float(np.nanmax([last, ipd.max_time])),
    })


#: Arm descriptors that code to each patient level (survival/covariates.py: one rule for arms).
_LEVEL_DESCRIPTORS = {
    "size_band": {"le3": {"size_max_cm": 3.0}, "3to5": {"size_min_cm": 3.0, "size_max_cm": 5.0},
                  "gt5": {"size_min_cm": 5.0}},
    "nodularity": {"solitary": {"nodules_max": 1.0}},  # "multinodular" has no arm coding (as in the evidence)
    "recurrence": {"early": {"recurrence_timing": "early"}, "late": {"recurrence_timing": "late"}},
    "prior": {"transplant": {"prior_treatment": "transplant"}},  # resection is the reference ("nr")
    "stage": {"advanced": {"bclc": "C"}},  # patients carry no stage column yet: always the reference level
}


def ipd_arm_records(design) -> pd.DataFrame:
    """IPD arms as inclusion-limit records, one per arm x covariate pattern of its patients.

    Decisions read arm records for coverage (does an arm include this patient?) and for the
    levels the data report (:func:`rhcc_bayes.survival.covariates.reported_levels`). An IPD
    arm states no inclusion limits, but its patients show which levels it informs: each
    pattern becomes a record whose descriptors code to exactly that pattern (unknown
    values: no limit), with its number of patients as ``n``.
    """
    from rhcc_bayes.survival.covariates import ARM_DESCRIPTORS

    ipd = design.ipd
    cols = ["study", "arm", "treatment", "n", *ARM_DESCRIPTORS]
    if ipd is None or not len(ipd.rows):
        return pd.DataFrame(columns=cols)
    arms = design.arms
    pats = ipd.rows.groupby(["arm_index", *COVARIATES], sort=True)["weight"].sum().reset_index()
    records = []
    for r in pats.itertuples(index=False):
        rec = {"study": arms.at[r.arm_index, "study"], "arm": arms.at[r.arm_index, "arm"],
               "treatment": arms.at[r.arm_index, "treatment"], "n": float(r.weight),
               "size_min_cm": np.nan, "size_max_cm": np.nan, "nodules_max": np.nan,
               "recurrence_timing": "", "prior_treatment": "", "bclc": ""}
        for c in COVARIATES:
            rec.update(_LEVEL_DESCRIPTORS[c].get(getattr(r, c), {}))
        records.append(rec)
    return pd.DataFrame(records, columns=cols)
