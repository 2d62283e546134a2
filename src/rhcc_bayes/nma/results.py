"""Summaries of a fitted NMA: relative effects, heterogeneity, model fit, predictions.

Model fit follows NICE DSU TSD2: the residual deviance of each data point is the
deviance against the saturated model, averaged over the posterior (``Dbar``); the
plug-in deviance ``Dhat`` evaluates the same formula at the posterior means of the
fitted values (probabilities, means, contrasts); ``pD = Dbar - Dhat`` and
``DIC = Dbar + pD``. With ~N data points a well-fitting model has ``Dbar ~ N``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import xlogy

from rhcc_bayes.nma.data import NMAData
from rhcc_bayes.nma.spec import NMASpec

QUANTILES = (0.025, 0.5, 0.975)
# What d measures for each link (contrast-level rows are on the same scale).
EFFECT_SCALE = {"logit": "log odds ratios", "cloglog": "log hazard ratios",
                "identity": "differences on the outcome scale"}


def _draws(idata, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as (sample, ...) with chains stacked."""
    da = idata.posterior[name]
    return da.values.reshape((-1, *da.shape[2:]))


# -- deviance ---------------------------------------------------------------------------

def _binomial_dev(r, n, p):
    """TSD2 binomial deviance vs the saturated model; 0 log 0 = 0 via xlogy."""
    rhat = n * p
    return 2 * (xlogy(r, r) - xlogy(r, rhat) + xlogy(n - r, n - r) - xlogy(n - r, n - rhat))


def _contrast_dev(y, chol, theta):
    """(y - theta)' S^-1 (y - theta) per study, S = chol chol'."""
    resid = y - theta                                   # (..., k, m)
    z = np.linalg.solve(chol, resid[..., None])[..., 0]  # broadcasts over draws
    return (z**2).sum(axis=-1)


def _pointwise_deviance(idata, data: NMAData, plug_in: bool) -> tuple[np.ndarray, list[str]]:
    """Deviance per data point: (sample, point) draws, or (point,) at the plug-in means."""
    parts, labels = [], []

    def fitted(name):
        x = _draws(idata, name)
        return x.mean(axis=0) if plug_in else x

    if data.binom_arm.size:
        parts.append(_binomial_dev(data.binom_r, data.binom_n, fitted("fitted_p")))
        labels += [data.arm_labels[a] for a in data.binom_arm]
    if data.normal_arm.size:
        parts.append(((data.normal_y - fitted("fitted_y")) / data.normal_se) ** 2)
        labels += [data.arm_labels[a] for a in data.normal_arm]
    for b in data.contrasts:
        theta = fitted(f"fitted_{b.name}")
        if b.m == 1:
            parts.append(((b.y[:, 0] - theta) / b.chol[:, 0, 0]) ** 2)
        else:
            parts.append(_contrast_dev(b.y, b.chol, theta))
        labels += [f"{data.studies[s]} ({b.m} contrasts)" if b.m > 1 else
                   f"{data.arm_labels[b.arm[k, 0]]} vs base" for k, s in enumerate(b.study)]
    return np.concatenate(parts, axis=-1), labels


def _mcse_mean(values: np.ndarray, n_chains: int) -> float:
    import arviz as az

    return float(np.ravel(az.mcse(values.reshape(n_chains, -1), method="mean"))[0])


def nma_fit_statistics(idata, model_or_data, *, loo: bool = True) -> dict[str, Any]:
    """Residual deviance, pD, DIC (TSD2) and, when log-likelihoods exist, PSIS-LOO.

    Parameters
    ----------
    idata : arviz.InferenceData
    model_or_data : pymc.Model or NMAData
        The model returned by :func:`rhcc_bayes.nma.build_nma_model` (or its data).
    loo : bool
        Compute LOO when a ``log_likelihood`` group exists.

    Returns
    -------
    dict
        ``resdev`` (posterior mean residual deviance), ``resdev_mcse`` (its Monte Carlo
        error), ``pD``, ``DIC``, ``n_data_points``, ``pointwise`` (DataFrame with the
        per-point mean deviance and plug-in deviance), and ``elpd_loo``, ``elpd_loo_se``,
        ``p_loo``, ``looic``, ``pareto_k_high`` (k > 0.7) when LOO was computed.
    """
    data = _as_data(model_or_data)
    dev_draws, labels = _pointwise_deviance(idata, data, plug_in=False)
    dev_hat, _ = _pointwise_deviance(idata, data, plug_in=True)
    dbar_point = dev_draws.mean(axis=0)
    resdev = float(dbar_point.sum())
    dhat = float(dev_hat.sum())
    out: dict[str, Any] = {
        "resdev": resdev,
        "resdev_mcse": _mcse_mean(dev_draws.sum(axis=1), idata.posterior.sizes["chain"]),
        "pD": resdev - dhat,
        "DIC": 2 * resdev - dhat,
        "n_data_points": data.n_data_points,
        "pointwise": pd.DataFrame({"resdev": dbar_point, "plug_in": dev_hat}, index=labels),
    }
    if loo and "log_likelihood" in idata.groups():
        out.update(_loo(idata))
    return out


def _loo(idata) -> dict[str, Any]:
    """PSIS-LOO over all likelihood blocks (a multi-arm contrast study is one unit)."""
    import arviz as az
    import warnings
    import xarray as xr

    ll = idata.log_likelihood
    pieces = [ll[v].stack(__obs__=[d for d in ll[v].dims if d not in ("chain", "draw")])
              if ll[v].ndim > 2 else ll[v].expand_dims("__obs__", axis=-1) for v in ll.data_vars]
    pieces = [p.drop_vars([c for c in p.coords if c not in ("chain", "draw")]) for p in pieces]
    joined = xr.concat(pieces, dim="__obs__") if len(pieces) > 1 else pieces[0]
    tmp = az.InferenceData(posterior=idata.posterior, log_likelihood=xr.Dataset({"all": joined}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported through pareto_k_high instead
        res = az.loo(tmp, var_name="all", pointwise=True)
    return {
        "elpd_loo": float(res.elpd_loo), "elpd_loo_se": float(res.se), "p_loo": float(res.p_loo),
        "looic": float(-2 * res.elpd_loo), "pareto_k_high": int((res.pareto_k.values > 0.7).sum()),
    }


def _as_data(model_or_data) -> NMAData:
    if isinstance(model_or_data, NMAData):
        return model_or_data
    from rhcc_bayes.nma.model import model_info

    return model_info(model_or_data)[0]


# -- tables -----------------------------------------------------------------------------

def _summary_row(x: np.ndarray) -> dict[str, float]:
    q = np.quantile(x, QUANTILES)
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)),
            "2.5%": float(q[0]), "50%": float(q[1]), "97.5%": float(q[2])}


def relative_effects(idata, versus: str | None = None) -> pd.DataFrame:
    """Posterior summary of ``d[k] - d[versus]`` for every other treatment k.

    ``versus`` defaults to the model's reference treatment (first ``treatment`` coord).
    An unrelated-mean-effects fit has no ``d``: its table has one row per comparison
    (``d_ume``, the effect of the first named treatment relative to the second).
    """
    if "d" not in idata.posterior and "d_ume" in idata.posterior:
        if versus is not None:
            raise ValueError("an unrelated-mean-effects fit has no common reference: versus must be None")
        draws = _draws(idata, "d_ume")
        labels = [str(c) for c in idata.posterior["d_ume"]["comparison"].values]
        table = pd.DataFrame.from_dict({c: _summary_row(draws[:, k]) for k, c in enumerate(labels)},
                                       orient="index")
        table.index.name = "comparison (unrelated mean effects)"
        return table
    d = idata.posterior["d"]
    treatments = [str(t) for t in d["treatment"].values]
    versus = treatments[0] if versus is None else versus
    if versus not in treatments:
        raise ValueError(f"unknown treatment {versus!r}; treatments: {treatments}")
    draws = _draws(idata, "d")
    base = draws[:, treatments.index(versus)]
    rows = {t: _summary_row(draws[:, k] - base) for k, t in enumerate(treatments) if t != versus}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"vs {versus}"
    return table


def tau_summary(idata, spec: NMASpec) -> dict[str, float] | None:
    """Heterogeneity SD: posterior summary, ``{"fixed": value}``, or None (fixed effects)."""
    if not spec.random_effects:
        return None
    if spec.tau is not None:
        return {"fixed": float(spec.tau)}
    return _summary_row(_draws(idata, "tau").ravel())


def _inverse_link(eta: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        return 1.0 / (1.0 + np.exp(-eta))
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    return eta


def absolute_predictions(idata, data: NMAData, spec: NMASpec, seed: int | None = None) -> pd.DataFrame | None:
    """Absolute outcome for each treatment given the spec's baseline distribution (TSD2).

    ``A ~ N(mean, sd^2)`` is drawn once per posterior draw (seeded); the prediction for k
    is ``invlink(A + d_k - d_base + log(time))`` (the offset only with a time offset), so
    the baseline uncertainty propagates into every treatment's prediction.
    """
    pred = spec.prediction
    if pred is None:
        return None
    base = data.treatment_index(pred.treatment, "prediction.baseline_treatment")
    d = _draws(idata, "d")
    rng = np.random.default_rng(seed)
    a = rng.normal(pred.mean, pred.sd, size=d.shape[0])
    eta = a[:, None] + d - d[:, [base]]
    if spec.time_offset:
        eta = eta + np.log(pred.time)
    p = _inverse_link(eta, spec.link)
    table = pd.DataFrame.from_dict(
        {t: _summary_row(p[:, k]) for k, t in enumerate(data.treatments)}, orient="index")
    what = {"logit": "probability", "cloglog": "probability", "identity": "mean"}[spec.link]
    when = f" at time {pred.time:g} {spec.time_unit}" if spec.time_offset else ""
    table.index.name = f"absolute {what}{when}"
    return table


# -- diagnostics gate -------------------------------------------------------------------

def run_gate(idata, model):
    """:func:`rhcc_bayes.diagnostics.check_gate` on the model's free parameters.

    Deterministics are left out: ``d[reference]`` is the constant 0 (R-hat undefined)
    and the rest are functions of the free parameters.
    """
    from rhcc_bayes.inference.diagnostics import check_gate

    names = [rv.name for rv in model.free_RVs if rv.name in idata.posterior]
    return check_gate(idata, var_names=names)


# -- result -----------------------------------------------------------------------------

@dataclass(frozen=True)
class NMAResult:
    """Everything a report needs from one NMA fit."""

    spec: NMASpec
    data: NMAData
    relative_effects: pd.DataFrame
    tau: dict[str, float] | None
    fit: dict[str, Any]
    absolute: pd.DataFrame | None = None
    gate: Any = None
    seed: int | None = None
    wall_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gate_passed(self) -> bool:
        return self.gate is not None and bool(self.gate.passed)

    def to_text(self) -> str:
        """Plain-text report: model, effects with 95% CrIs, tau, fit, predictions, gate."""
        s, d = self.spec, self.data
        fmt = lambda x: f"{x: .3f}"  # noqa: E731
        lines = [
            f"Network meta-analysis{': ' + s.name if s.name else ''}",
            f"  evidence: {d.source}   spec: {s.source}   seed: {self.seed}",
            f"  {len(d.studies)} studies, {len(d.arm_labels)} arms, {len(d.treatments)} treatments, "
            f"{d.n_data_points} data points",
            f"  likelihood {s.likelihood}/{s.link}"
            + (f" with log-time offset ({s.time_unit})" if s.time_offset else "")
            + f"; {s.baselines} baselines; {s.effects} effects; reference {s.reference!r}"
            + ("; unrelated mean effects (inconsistency model)" if s.ume else "")
            + (f"; node-split {s.node_split[1]} vs {s.node_split[0]}" if s.node_split else ""),
            "",
            (f"Unrelated mean effects, one per comparison ({EFFECT_SCALE[s.link]}; mean, sd, median, 95% CrI):"
         if s.ume else
         f"Relative effects vs {s.reference} ({EFFECT_SCALE[s.link]}; mean, sd, median, 95% CrI):"),
            self.relative_effects.to_string(float_format=fmt),
        ]
        if self.tau is not None:
            tau = (f"fixed at {self.tau['fixed']:.4f}" if "fixed" in self.tau else
                   f"mean {self.tau['mean']:.3f}, sd {self.tau['sd']:.3f}, median {self.tau['50%']:.3f}, "
                   f"95% CrI {self.tau['2.5%']:.3f} to {self.tau['97.5%']:.3f}")
            lines += ["", f"Between-study SD tau: {tau}"]
        f = self.fit
        lines += ["", f"Model fit: residual deviance {f['resdev']:.2f} (MCSE {f['resdev_mcse']:.2f}) "
                  f"on {f['n_data_points']} data points; pD {f['pD']:.2f}; DIC {f['DIC']:.2f}"]
        if "elpd_loo" in f:
            lines.append(f"  PSIS-LOO: elpd {f['elpd_loo']:.2f} (se {f['elpd_loo_se']:.2f}), "
                         f"p_loo {f['p_loo']:.2f}, LOOIC {f['looic']:.2f}, "
                         f"{f['pareto_k_high']} observations with Pareto k > 0.7")
        if self.absolute is not None:
            lines += ["", f"Absolute predictions ({self.absolute.index.name}; baseline "
                      f"{s.prediction.treatment} ~ N({s.prediction.mean:g}, {s.prediction.sd:.3g}^2)):",
                      self.absolute.to_string(float_format=fmt)]
        lines.append("")
        if self.gate is None:
            lines.append("Diagnostics gate: not run")
        elif self.gate_passed:
            lines.append(f"Diagnostics: {self.gate}")
        else:
            lines.append(f"!!! WARNING: THE DIAGNOSTICS GATE FAILED - do not trust these numbers !!!\n{self.gate}")
        if self.wall_time is not None:
            lines.append(f"Fit wall time (compile + sampling): {self.wall_time:.1f} s")
        return "\n".join(lines)


def summarise_nma(idata, model, *, seed: int | None = None, wall_time: float | None = None) -> NMAResult:
    """Build the :class:`NMAResult` of a fitted model."""
    from rhcc_bayes.nma.model import model_info

    data, spec = model_info(model)
    return NMAResult(
        spec=spec, data=data, relative_effects=relative_effects(idata),
        tau=tau_summary(idata, spec), fit=nma_fit_statistics(idata, data),
        absolute=absolute_predictions(idata, data, spec, seed=seed),
        gate=run_gate(idata, model), seed=seed, wall_time=wall_time,
    )
