"""Export a :class:`~rhcc_bayes.survival.design.SurvivalDesign` as the data of the Stan twin.

The twin (``survival.stan`` next to this file) is the default survival model written in Stan,
a benchmark and correctness cross-check only. :func:`stan_data` reads the same design the
PyMC model is built from (``rhcc_bayes.survival.design.make_design``), so both always see the
same evidence; every transformation below mirrors a line of ``survival/likelihood.py``.

The twin covers the model options of the default spec (piecewise hazard, ``combinations =
"class"``, no arm heterogeneity, no (partially) centred classes, no IPD); :func:`check_supported` refuses anything else with the reason.

:data:`PARAMETERS` maps the PyMC posterior's variables to the twin's, for the agreement table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STAN_FILE = Path(__file__).with_name("survival.stan")


def program_code() -> str:
    """The Stan program text (httpstan caches the compiled model by this text)."""
    return STAN_FILE.read_text()


def check_supported(design, spec) -> None:
    """Raise ``ValueError`` naming the first model option the twin does not reproduce."""
    from rhcc_bayes.survival.model import _centring_weights

    problems = []
    if spec.hazard != "piecewise":
        problems.append(f"hazard = {spec.hazard!r} (twin: piecewise only)")
    if spec.combinations != "class":
        problems.append(f"combinations = {spec.combinations!r} (twin: 'class' only)")
    if spec.arm_heterogeneity:
        problems.append("arm_heterogeneity = true (twin: no arm effects)")
    if _centring_weights(design, spec).any():
        problems.append("a class with (partially) centred treatment deviations (model._centring_weights)")
    if design.ipd is not None:
        problems.append("individual patient data")
    from rhcc_bayes.survival.holdout import held_out_studies

    if held_out_studies(design):
        problems.append("held-out studies (rows of weight 0)")
    if not len(design.arms):
        problems.append("no survival arm in the likelihood")
    groups = design.latent_groups
    sizes = set(groups.loc[groups["n_members"] > 1, "n_members"].astype(int))
    if len(sizes) > 1:
        problems.append(f"latent-n share groups of different sizes {sorted(sizes)}")
    if problems:
        raise ValueError("the Stan twin does not cover: " + "; ".join(problems))


def _exposure(times, cuts) -> np.ndarray:
    from rhcc_bayes.survival.hazards.piecewise import exposure

    return exposure(np.asarray(times, dtype=float), cuts).reshape(len(times), len(cuts) - 1)


def _ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values)]


def _latent(design) -> dict:
    lat, groups = design.latent_n, design.latent_groups
    shared = groups[groups["n_members"] > 1].reset_index(drop=True)
    group_pos = {int(g): i + 1 for i, g in enumerate(shared["group"])}
    total = dict(zip(groups["group"].astype(int), groups["total"].astype(float)))
    kind, grp, pos, zi, const = [], [], [], [], []
    n_lognormal = 0
    for r in lat.itertuples():
        g = int(r.group)
        if g >= 0 and g in group_pos:  # Dirichlet share of a known total
            kind.append(0), grp.append(group_pos[g]), pos.append(int(r.share_pos) + 1), zi.append(0), const.append(0.0)
        elif g >= 0:  # a one-arm "group": the total itself
            kind.append(2), grp.append(0), pos.append(0), zi.append(0), const.append(total[g])
        else:  # lognormal prior, z_latent_n in row order (likelihood.latent_sizes)
            n_lognormal += 1
            kind.append(1), grp.append(0), pos.append(0), zi.append(n_lognormal), const.append(0.0)
    prior = design.latent_prior or {"log_mean": 0.0, "log_sd": 1.0}
    return {
        "L": len(lat), "lat_kind": kind, "lat_group": grp, "lat_pos": pos, "lat_z": zi, "lat_const": const,
        "G": len(shared), "K": int(shared["n_members"].iloc[0]) if len(shared) else 0,
        "group_total": shared["total"].astype(float).tolist(),
        "share_concentration": float(design.options.get("share_concentration", 2.0)),
        "N_lognormal": n_lognormal, "lat_log_mean": float(prior["log_mean"]), "lat_log_sd": float(prior["log_sd"]),
    }


def _survival_rows(design) -> dict:
    cuts = design.cuts
    lm, med, hr, pl, rg = (design.landmarks, design.medians, design.hazard_ratios,
                           design.pooled_landmarks, design.ranges)
    lat_lm = lm["latent"].to_numpy() >= 0
    known, latent = lm[~lat_lm], lm[lat_lm]
    lat_med = med["latent"].to_numpy() >= 0
    no_ci = med["se_log"].isna().to_numpy()
    counted, med_lat, with_ci = med[no_ci & ~lat_med], med[no_ci & lat_med], med[~no_ci]
    pooled = hr["pooled"].to_numpy(bool) if "pooled" in hr else np.zeros(len(hr), bool)
    add = float(design.options.get("add_between_study", 1.0))
    s_pl = np.clip(pl["estimate"].to_numpy(float), 1e-3, 1 - 1e-3)
    lo = np.clip(rg["low"].to_numpy(float), 1e-4, 1 - 1e-4)
    hi = np.clip(rg["high"].to_numpy(float), 1e-4, 1 - 1e-4)

    def dexp(rows):
        return _exposure(rows["t"], cuts) - _exposure(rows["t_prev"], cuts)

    return {
        "N_lm": len(known), "lm_arm": _ints(known["arm_index"] + 1), "lm_dexp": dexp(known),
        "lm_at_risk": _ints(known["at_risk"]), "lm_deaths": _ints(known["deaths"]),
        "N_lml": len(latent), "lml_arm": _ints(latent["arm_index"] + 1), "lml_dexp": dexp(latent),
        "lml_latent": _ints(latent["latent"] + 1),
        "lml_factor": (latent["s_prev"] * latent["censor"]).to_numpy(float), "lml_cond": latent["cond"].to_numpy(float),
        "N_med": len(counted), "med_arm": _ints(counted["arm_index"] + 1), "med_exp": _exposure(counted["time"], cuts),
        "med_at_risk": _ints(counted["at_risk"]), "med_alive": _ints(counted["alive"]),
        "N_medl": len(med_lat), "medl_arm": _ints(med_lat["arm_index"] + 1),
        "medl_exp": _exposure(med_lat["time"], cuts), "medl_latent": _ints(med_lat["latent"] + 1),
        "medl_censor": med_lat["censor"].to_numpy(float),
        "N_medci": len(with_ci), "medci_arm": _ints(with_ci["arm_index"] + 1),
        "medci_log_time": np.log(with_ci["time"].to_numpy(float)), "medci_se": with_ci["se_log"].to_numpy(float),
        "N_hr": len(hr), "hr_arm": _ints(hr["arm_index"] + 1), "hr_comp": _ints(hr["comparator_index"] + 1),
        "hr_log": hr["log_hr"].to_numpy(float), "hr_se": hr["se"].to_numpy(float), "hr_add": pooled * add,
        "N_pl": len(pl), "pl_arm": _ints(pl["arm_index"] + 1), "pl_exp": _exposure(pl["t"], cuts),
        "pl_x": np.log(-np.log(s_pl)), "pl_v_unit": (1 - s_pl) / (s_pl * np.log(s_pl) ** 2),
        "pl_n": np.nan_to_num(pl["n"].to_numpy(float), nan=1.0),
        "pl_latent": _ints(np.maximum(pl["latent"].to_numpy(int) + 1, 0)),
        "pl_censor": pl["censor"].to_numpy(float), "pl_k": pl["k"].to_numpy(float), "add_between_study": add,
        "N_rg": len(rg), "rg_arm": _ints(rg["arm_index"] + 1), "rg_exp": _exposure(rg["t"], cuts),
        "rg_x_high": np.log(-np.log(hi)), "rg_x_low": np.log(-np.log(lo)),
        "rg_v": rg["v_sampling"].to_numpy(float), "rg_k": rg["k"].to_numpy(float),
    }


def secondary_outcomes(design) -> list[str]:
    """Secondary outcomes in the PyMC model's order (``groupby(sort=False)``)."""
    return list(dict.fromkeys(design.secondary["outcome"]))


def _secondary(design) -> dict:
    sec = design.secondary
    outcomes = secondary_outcomes(design)
    flat, offset = [], 0
    study_of, study_outcome = {}, []
    for k, o in enumerate(outcomes):  # each outcome's studies in first-appearance order (secondary_model's `local`)
        for s in dict.fromkeys(sec.loc[sec["outcome"] == o, "study_index"]):
            offset += 1
            study_of[(o, s)] = offset
            study_outcome.append(k + 1)
    for r in sec.itertuples():
        flat.append(study_of[(r.outcome, r.study_index)])
    latent = sec["latent"].to_numpy(int) if "latent" in sec else np.full(len(sec), -1)
    known = latent < 0
    stay = design.stay
    return {
        "O": len(outcomes), "N_sec_study": offset, "N_sec": len(sec),
        "sec_outcome": [outcomes.index(o) + 1 for o in sec["outcome"]], "sec_t": _ints(sec["treatment_index"] + 1),
        "sec_study": flat, "sec_study_outcome": study_outcome, "sec_latent": _ints(np.where(known, 0, latent + 1)),
        "sec_n": _ints(np.where(known, sec["n"].fillna(0), 0)),
        "sec_events": _ints(np.where(known, sec["events"].fillna(0), 0)),
        "sec_p_obs": sec["estimate"].to_numpy(float),
        "has_los": int(len(stay) > 0), "N_los": len(stay), "los_t": _ints(stay["treatment_index"] + 1),
        "los_mean": stay["mean_days"].to_numpy(float), "los_se": stay["se_days"].to_numpy(float),
    }


def stan_data(design, spec) -> dict:
    """The Stan twin's data dict for ``design`` (made from ``spec``); plain lists and floats."""
    from rhcc_bayes.survival.spec import COVARIATES

    check_supported(design, spec)
    st, arms, cuts = design.structure, design.arms, design.cuts
    idx = design.covariate_index
    level = {}
    for name in COVARIATES:  # 1-based; a covariate left out of the spec is "nr" (effect 0) everywhere
        nr = len(COVARIATES[name])
        level[name] = _ints(idx[name] + 1) if name in spec.covariates else [nr] * len(arms)
    width = np.diff(cuts)
    pr = spec.priors
    data = {
        "T": len(st.treatments), "M": len(st.modalities), "class_idx": _ints(st.class_index + 1),
        "is_ablation": st.is_ablation.astype(float),
        "S": len(cuts) - 1, "seg_lo": cuts[:-1], "seg_hi": np.where(np.isinf(cuts[1:]), 0.0, cuts[1:]),
        "seg_width": np.where(np.isinf(width), 0.0, width),
        "A": len(arms), "N_study": max(len(design.studies), 1), "arm_t": _ints(arms["t_index"] + 1),
        "arm_s": _ints(arms["s_index"] + 1), "arm_mask": design.study_effect_mask.astype(float),
        "P": len(design.bias_populations) if (design.population_index > 0).any() else 0,
        "arm_pop": _ints(design.population_index),
        "x_size": level["size_band"], "x_nod": level["nodularity"], "x_rec": level["recurrence"],
        "K_prior": len(COVARIATES["prior"]) - 1, "x_prior": level["prior"], "x_stage": level["stage"],
        **_latent(design), **_survival_rows(design), **_secondary(design),
        **{k: float(getattr(pr, k)) for k in (
            "baseline_log_hazard_mean", "baseline_log_hazard_sd", "segment_step_sd", "class_effect_sd",
            "treatment_sd", "study_sd", "covariate_sd", "advanced_stage_mean", "advanced_stage_sd",
            "population_bias_sd", "secondary_intercept_sd", "secondary_effect_sd")},
    }
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in data.items()}


def shared_parameters(design) -> list[tuple[str, str, tuple]]:
    """``(label, pymc variable, pymc index)`` / Stan counterpart pairs for the agreement table.

    Returns a list of ``(label, (pymc_name, pymc_index), (stan_name, stan_index))`` with
    0-based indices into each side's per-draw arrays (one index per axis).
    """
    from rhcc_bayes.survival.spec import COVARIATES

    st = design.structure
    out = []

    def vec(label, pm_name, stan_name, names, stan_prefix=(), indices=None):
        for i, n in zip(indices or range(len(names)), names):
            out.append((f"{label}[{n}]", (pm_name, (i,)), (stan_name, (*stan_prefix, i))))

    def scalar(label, pm_name, stan_name, stan_index=()):
        out.append((label, (pm_name, ()), (stan_name, stan_index)))

    vec("gamma", "gamma", "gamma", range(len(design.cuts) - 1))
    vec("mu", "mu", "mu", st.treatments)
    vec("class_effect", "class_effect", "class_effect", st.modalities)
    scalar("tau_treatment", "tau_treatment", "tau_treatment")
    scalar("sigma_study", "sigma_study", "sigma_study")
    vec("beta_size", "beta_size", "beta_size", ["le3", "3to5", "gt5"])
    vec("beta_size_ablation", "beta_size_ablation", "beta_size_ablation", ["le3", "gt5"], indices=[0, 2])
    vec("beta_nodularity", "beta_nodularity", "beta_nodularity", ["solitary", "multinodular"])
    vec("beta_recurrence", "beta_recurrence", "beta_recurrence", ["early", "late"])
    vec("beta_prior", "beta_prior", "beta_prior", [lv for lv in COVARIATES["prior"] if lv != "nr"])
    vec("beta_stage", "beta_stage", "beta_stage", ["advanced"])
    if design.bias_populations and (design.population_index > 0).any():
        scalar("sigma_population", "sigma_population", "sigma_population", (0,))
        vec("delta_population", "delta_population", "delta_population", design.bias_populations)
    vec("z_study", "z_study", "z_study", design.studies)
    lat = design.latent_n
    vec("latent_n", "latent_n", "latent_n", [f"{s}|{a}" for s, a in zip(lat["study"], lat["arm"])])
    for o, name in enumerate(secondary_outcomes(design)):  # the PyMC block's secondary_outcome order
        scalar(f"{name}_intercept", f"{name}_intercept", "sec_intercept", (o,))
        out.append((f"{name}_logit_level", ("secondary_logit_level", (o,)), ("sec_level", (o,))))
        out.append((f"{name}_tau_treatment", ("secondary_tau_treatment", (o,)), ("sec_tau_treatment", (o,))))
        out.append((f"{name}_sigma_study", ("secondary_sigma_study", (o,)), ("sec_sigma_study", (o,))))
        for i, m in enumerate(st.modalities):
            out.append((f"{name}_class_effect[{m}]", ("secondary_class_effect", (o, i)), ("sec_class_effect", (o, i))))
        vec(f"{name}_probability", f"{name}_probability", "sec_probability", st.treatments, (o,))
    return out
