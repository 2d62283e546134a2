"""The one entry object: ``Synthesis(spec, evidence).fit(cache_dir=...)`` -> :class:`SynthesisPosterior`.

Both model families go through it: the R-HCC survival synthesis (``family = "survival"``)
and standard network meta-analyses (``family = "nma"``). The stages are plain functions
of the stage packages (``survival.design.make_design`` -> ``survival.model.build_survival_model``
or ``nma.model.build_nma_model`` -> ``inference.sampling.sample`` -> metadata -> diagnostics
gate -> ``inference.cache``); this module only orchestrates them.

>>> post = Synthesis("default").fit(cache_dir=".rhcc_cache")       # doctest: +SKIP
>>> az.summary(post.idata, var_names=["mu"])                        # a real arviz.InferenceData
>>> post.decide(load_profile("examples/profiles/small_solitary_late.toml")).to_text()

:func:`fit_synthesis` and :func:`run_nma` are thin wrappers kept for existing callers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.specs import is_nma

GATED_DETERMINISTICS = ("mu", "gamma", "weibull_shape")
DEFAULT_TIMES = tuple(float(t) for t in range(0, 61, 3))


# --- inputs ------------------------------------------------------------------------------
def _as_spec(spec):
    from rhcc_bayes.specs import load_spec, parse_spec

    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    if isinstance(spec, Mapping):
        return parse_spec(dict(spec), "<mapping>")
    if hasattr(spec, "sampler") and hasattr(spec, "seed"):
        return spec
    raise TypeError(f"spec must be a bundled spec name, a TOML path, a mapping or a spec object, "
                    f"not {type(spec).__name__}")


def _as_evidence(evidence, spec):
    """Evidence object from None (bundled), a path, several paths, an Evidence or (NMA) a DataFrame."""
    import pandas as pd

    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence

    if hasattr(evidence, "table") and hasattr(evidence, "hash"):
        return evidence
    if isinstance(evidence, pd.DataFrame):
        if not is_nma(spec):
            raise TypeError("a survival synthesis needs an Evidence (rhcc_bayes.evidence.table.load_evidence), "
                            "not a DataFrame")
        return evidence
    if evidence is None:
        if is_nma(spec):
            raise UserError(f"spec {spec.name!r} is a network meta-analysis: give its evidence file(s)")
        return load_evidence()
    if isinstance(evidence, (str, os.PathLike)):
        evidence = [evidence]
    if isinstance(evidence, Iterable):
        paths = [Path(p) for p in evidence]
        for p in paths:
            if not p.is_file():
                raise UserError(f"{p}: evidence file not found")
        return load_evidence(paths, taxonomy=OPEN_WORLD) if is_nma(spec) else load_evidence(paths)
    raise TypeError(f"evidence must be None, a path, paths or an Evidence, not {type(evidence).__name__}")


def _evidence_table(evidence):
    """(table, source) for the NMA engine."""
    import pandas as pd

    if isinstance(evidence, pd.DataFrame):
        return evidence, str(evidence.attrs.get("source", "<evidence>"))
    source = ", ".join(evidence.sources) or "<evidence>"
    table = evidence.table
    table.attrs["source"] = source
    return table, source


def _evidence_hash(evidence) -> str:
    import pandas as pd

    from rhcc_bayes.inference.cache import content_hash

    if isinstance(evidence, pd.DataFrame):
        return content_hash("dataframe", evidence.to_csv(index=False))
    return evidence.hash


def _plain(obj):
    """A spec (frozen dataclasses, tuples, mapping proxies) as plain JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)
    return obj


def canonical_spec(spec) -> dict:
    """The validated spec as a canonical dict, without its file name (``source``)."""
    d = _plain(spec)
    d.pop("source", None)
    return d


def gate_var_names(idata) -> list[str]:
    """Free parameters plus the treatment-level deterministics users read."""
    from rhcc_bayes.inference.diagnostics import deterministic_names

    det = set(deterministic_names(idata))
    names = [str(v) for v in idata.posterior.data_vars if str(v) not in det]
    return names + [v for v in GATED_DETERMINISTICS if v in idata.posterior]


# --- the entry object --------------------------------------------------------------------
class Synthesis:
    """A model spec and the evidence it is fitted to.

    Parameters
    ----------
    spec : str, path, Mapping, SurvivalSpec or NMASpec
        A bundled spec name (``"default"``, ``"weibull"``, ``"nma_bcg_re"`` ...), a TOML path,
        a parsed mapping, or a validated spec object. Default ``"default"``.
    evidence : None, path, list of paths, Evidence or DataFrame
        ``None``: the bundled R-HCC evidence (survival specs). Paths are validated; for a
        survival spec they are merged with the bundled evidence, for an NMA spec used alone
        with their own treatment list.
    settings : SamplerSettings or Mapping, optional
        Overrides the spec's ``[sampler]`` table.
    """

    def __init__(self, spec: Any = "default", evidence: Any = None, *, settings: Any = None):
        from rhcc_bayes.inference.sampling import SamplerSettings

        self.spec = _as_spec(spec)
        self.evidence = _as_evidence(evidence, self.spec)
        if settings is None or isinstance(settings, Mapping):
            mapping = self.spec.sampler if settings is None else settings
            settings = SamplerSettings.from_mapping(dict(mapping), source=f"{self.spec.source} [sampler]")
        self.settings = settings

    def __repr__(self) -> str:
        return f"Synthesis(spec={self.spec.name!r}, family={self.family!r}, evidence={self.evidence!r})"

    @property
    def family(self) -> str:
        return "nma" if is_nma(self.spec) else "survival"

    @functools.cached_property
    def design(self):
        """The survival design (arms, likelihood rows, treatment structure); None for an NMA."""
        if self.family == "nma":
            return None
        from rhcc_bayes.survival.design import make_design

        return make_design(self.evidence, self.spec)

    @functools.cached_property
    def nma_data(self):
        """The prepared NMA data (studies, arms, likelihood blocks); None for a survival spec."""
        if self.family != "nma":
            return None
        from rhcc_bayes.nma.data import prepare_nma_data

        table, source = _evidence_table(self.evidence)
        return prepare_nma_data(table, self.spec, source)

    @property
    def model_version(self) -> str:
        """The family's declared ``MODEL_VERSION`` (read at call time, so a bump takes effect at once)."""
        if self.family == "nma":
            from rhcc_bayes.nma import version
        else:
            from rhcc_bayes.survival import version
        return version.MODEL_VERSION

    def resolve_seed(self, seed: int | None = None) -> int:
        """``seed``, else the spec's seed, else a fresh one (reported in the posterior's attrs)."""
        if seed is None:
            seed = self.spec.seed
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
            raise UserError(f"seed must be an integer in [0, 2**32), got {seed!r}")
        return int(seed)

    def cache_key(self, seed: int | None = None) -> str:
        """Key of the fit: canonical spec, evidence content, sampler settings, seed, model version."""
        from rhcc_bayes.inference.cache import cache_key

        return cache_key(canonical_spec(self.spec), _evidence_hash(self.evidence), self.settings.to_dict(),
                         self.resolve_seed(seed), self.model_version)

    def cache_path(self, cache_dir: str | os.PathLike, seed: int | None = None) -> Path:
        return Path(cache_dir) / f"{self.cache_key(seed)}.nc"

    def build_model(self):
        """The PyMC model (not compiled, not sampled)."""
        if self.family == "nma":
            from rhcc_bayes.nma.model import build_nma_model

            return build_nma_model(self.nma_data, self.spec)
        from rhcc_bayes.survival.model import build_survival_model

        return build_survival_model(self.design, self.spec)

    def _sample(self, seed: int, key: str, progressbar):
        from rhcc_bayes.inference.diagnostics import check_gate, record_gate
        from rhcc_bayes.inference.sampling import sample

        model = self.build_model()
        nma = self.family == "nma"
        # NMA checks use the deviance and LOO: the posterior predictive is skipped.
        idata = sample(model, self.settings, seed=seed, progressbar=progressbar, posterior_predictive=not nma)
        if nma:
            from rhcc_bayes.inference.cache import content_hash

            idata.attrs.update({"family": "nma", "spec_name": self.spec.name,
                                "spec_hash": content_hash(canonical_spec(self.spec)),
                                "evidence_hash": _evidence_hash(self.evidence)})
        else:
            from rhcc_bayes.survival.metadata import attach_metadata

            attach_metadata(idata, self.design, self.spec, self.evidence.hash)
        idata.attrs["model_version"] = self.model_version
        idata.attrs["cache_key"] = key
        return record_gate(idata, check_gate(idata, var_names=gate_var_names(idata)))

    def fit(self, *, cache_dir: str | os.PathLike | None = None, seed: int | None = None,
            allow_unconverged: bool = False, progressbar: bool | None = None,
            recheck_gate: bool = False) -> SynthesisPosterior:
        """Fit (or load the cached fit), then apply the diagnostics gate.

        Parameters
        ----------
        cache_dir : path, optional
            Posterior cache folder; ``None`` disables caching.
        seed : int, optional
            Defaults to the spec's seed. Same key and seed, same draws.
        allow_unconverged : bool
            Return a fit that fails the gate (flagged in ``idata.attrs`` and every output)
            instead of raising.
        progressbar : bool, optional
            Default: only when stderr is a terminal.
        recheck_gate : bool
            Recompute the diagnostics of a cached posterior instead of reading the verdict
            stored with it.

        Returns
        -------
        SynthesisPosterior
            ``.idata`` is an ``arviz.InferenceData`` with ``posterior``, ``sample_stats``,
            ``log_likelihood`` (and for survival ``posterior_predictive``) groups, on a fresh
            fit and on a cache hit alike.

        Raises
        ------
        rhcc_bayes.inference.diagnostics.ConvergenceError
            When the fit fails the gate and ``allow_unconverged`` is false.
        """
        from rhcc_bayes.inference.cache import cached_fit
        from rhcc_bayes.inference.diagnostics import check_gate, enforce_gate, record_gate, report_from_attrs

        seed = self.resolve_seed(seed)
        key = self.cache_key(seed)
        if cache_dir is None:
            idata, hit, path = self._sample(seed, key, progressbar), False, None
        else:
            idata, hit = cached_fit(cache_dir, key, lambda: self._sample(seed, key, progressbar))
            path = Path(cache_dir) / f"{key}.nc"
        report = None if recheck_gate else report_from_attrs(idata)
        if report is None:
            report = check_gate(idata, var_names=gate_var_names(idata))
            record_gate(idata, report)
        enforce_gate(idata, report, allow_unconverged=allow_unconverged)
        return SynthesisPosterior(idata=idata, synthesis=self, gate=report, cache_hit=hit, cache_path=path,
                                  seed=seed)


# --- the fitted posterior ----------------------------------------------------------------
def _covariates(profile_or_covariates) -> dict:
    if profile_or_covariates is None:
        return {}
    if hasattr(profile_or_covariates, "model_covariates"):
        return dict(profile_or_covariates.model_covariates())
    if isinstance(profile_or_covariates, Mapping):
        return dict(profile_or_covariates)
    raise TypeError("give a PatientProfile or a mapping of model covariates (size_band, nodularity, ...)")


@dataclass(frozen=True, eq=False)
class SynthesisPosterior:
    """A gated posterior and what produced it.

    Attributes
    ----------
    idata : arviz.InferenceData
        Always the real ArviZ type (fresh fit or cache hit), with the ``log_likelihood`` group.
    synthesis : Synthesis
    gate : GateReport
    cache_hit : bool
    cache_path : Path or None
    seed : int
    """

    idata: Any
    synthesis: Synthesis
    gate: Any
    cache_hit: bool
    cache_path: Path | None
    seed: int | None = None

    def __repr__(self) -> str:
        origin = "cache hit" if self.cache_hit else "fresh fit"
        return (f"SynthesisPosterior(spec={self.spec.name!r}, family={self.family!r}, {origin}, "
                f"gate {'passed' if self.converged else 'FAILED'})")

    @property
    def spec(self):
        return self.synthesis.spec

    @property
    def evidence(self):
        return self.synthesis.evidence

    @property
    def design(self):
        return self.synthesis.design

    @property
    def family(self) -> str:
        return self.synthesis.family

    @property
    def converged(self) -> bool:
        return bool(self.gate.passed)

    def _need(self, family: str, what: str) -> None:
        if self.family != family:
            raise UserError(f"{what} needs a {family} spec; {self.spec.name!r} is a {self.family} spec")

    # -- network meta-analysis -----------------------------------------------------------
    @functools.cached_property
    def nma_result(self):
        """The :class:`rhcc_bayes.nma.results.NMAResult` (relative effects, tau, deviance, DIC, LOO)."""
        self._need("nma", "nma_result")
        from rhcc_bayes.nma.results import (NMAResult, absolute_predictions, nma_fit_statistics, relative_effects,
                                            tau_summary)

        data = self.synthesis.nma_data
        wall = self.idata.attrs.get("wall_time_total_s")
        return NMAResult(spec=self.spec, data=data, relative_effects=relative_effects(self.idata),
                         tau=tau_summary(self.idata, self.spec), fit=nma_fit_statistics(self.idata, data),
                         absolute=absolute_predictions(self.idata, data, self.spec, seed=self.seed),
                         gate=self.gate, seed=self.seed, wall_time=None if wall is None else float(wall))

    def summary(self, *, horizon: float = 60.0):
        """The family's summary: NMAResult for an NMA, the per-treatment table for survival."""
        if self.family == "nma":
            return self.nma_result
        from rhcc_bayes.report.summaries import treatment_table

        return treatment_table(self.idata, self.design, horizon=horizon)

    def summary_text(self) -> str:
        """What ``rhcc-bayes fit`` prints."""
        if self.family == "nma":
            return self.nma_result.to_text()
        from rhcc_bayes.report.summaries import posterior_summary_text

        return posterior_summary_text(self, self.evidence)

    def loo(self):
        """PSIS-LOO (``arviz.ELPDData``) over every observed summary (one joint log-likelihood)."""
        import warnings

        import arviz as az

        from rhcc_bayes.survival.criticism import with_joint_log_likelihood

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pareto-k warnings: read them from the result
            return az.loo(with_joint_log_likelihood(self.idata), pointwise=True)

    # -- survival ------------------------------------------------------------------------
    def predict(self, profile_or_covariates=None, times=DEFAULT_TIMES, *, population: str = "average",
                seed: int = 0):
        """S(t) per posterior draw and treatment: xarray DataArray (chain, draw, treatment, time).

        ``profile_or_covariates`` is a :class:`PatientProfile` or a mapping of model covariates
        (``{"size_band": "le3"}``; missing ones are "not reported"); ``population="new"``
        integrates the between-study random effect.
        """
        self._need("survival", "predict")
        from rhcc_bayes.survival.predict import survival_draws

        return survival_draws(self.idata, _covariates(profile_or_covariates), np.asarray(times, float),
                              population=population, seed=seed)

    def decide(self, profile, *, horizon: float = 60.0, population: str = "average", utility=None,
               seed: int = 0):
        """Eligibility, expected survival and decision summaries for ``profile`` (a DecisionResult)."""
        self._need("survival", "decide")
        from rhcc_bayes.decision.recommend import decide_profile

        return decide_profile(self.idata, profile, horizon=horizon, population=population, utility=utility,
                              seed=seed, design=self.design)

    def report(self, profile, out_dir, *, horizon: float = 60.0, population: str = "average", utility=None,
               seed: int = 0) -> Path:
        """Write the report folder (``report.html``, ``report.md``, PNGs, ``decision.csv/json``,
        ``posterior.nc``). ``out_dir`` must be new, empty or a previous report: a folder holding
        anything else is refused, never deleted."""
        self._need("survival", "report")
        from rhcc_bayes.report.document import build_report

        return build_report(self, self.evidence, profile, out_dir, horizon=horizon, population=population,
                            utility=utility, seed=seed)


#: Former name of :class:`SynthesisPosterior`.
FitResult = SynthesisPosterior


# --- thin wrappers for existing callers ----------------------------------------------------
def fit_synthesis(evidence, spec, *, seed: int | None = None, settings=None,
                  cache_dir: str | Path | None = None, allow_unconverged: bool = False,
                  progressbar: bool | None = None, recheck_gate: bool = False) -> SynthesisPosterior:
    """``Synthesis(spec, evidence, settings=settings).fit(...)`` (argument order kept for old callers)."""
    return Synthesis(spec, evidence, settings=settings).fit(
        cache_dir=cache_dir, seed=seed, allow_unconverged=allow_unconverged, progressbar=progressbar,
        recheck_gate=recheck_gate)


def run_nma(evidence_path_or_table, spec, *, seed: int | None = None, settings=None,
            cache_dir: str | Path | None = None):
    """Fit a network meta-analysis and summarise it: ``(idata, NMAResult)``.

    A failed diagnostics gate is not raised: ``NMAResult.to_text()`` shows it loudly.
    """
    import warnings

    from rhcc_bayes.inference.diagnostics import UnconvergedWarning

    synthesis = Synthesis(spec, evidence_path_or_table, settings=settings)
    if synthesis.family != "nma":
        raise UserError(f"spec {synthesis.spec.name!r} is not a network meta-analysis spec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)  # shown by NMAResult.to_text instead
        post = synthesis.fit(cache_dir=cache_dir, seed=seed, allow_unconverged=True, progressbar=False)
    return post.idata, post.nma_result


def build_model(evidence, spec):
    """The PyMC model of ``spec`` on ``evidence`` (``Synthesis(spec, evidence).build_model()``)."""
    return Synthesis(spec, evidence).build_model()
