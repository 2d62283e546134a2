"""The fitted posterior: a real ``arviz.InferenceData`` plus predictions, decisions and reports."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rhcc_bayes.core.errors import UserError

DEFAULT_TIMES = tuple(float(t) for t in range(0, 61, 3))


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
        On a cache hit it is built on first access from the datasets already read (no copy), so
        commands that never touch it (``decide``, ``fit``) do not pay ArviZ's import time.
    draws : arviz.InferenceData or xarray.DataTree
        The same datasets for numpy/xarray work (``.posterior``, ``.constant_data``, ``.attrs``):
        ``idata`` once it exists, else the tree read from the cache file.
    synthesis : Synthesis
    gate : GateReport
    cache_hit : bool
    cache_path : Path or None
    seed : int
    """

    source: Any = field(repr=False)  # InferenceData (fresh fit) or DataTree (cache hit)
    synthesis: Any  # Synthesis
    gate: Any
    cache_hit: bool
    cache_path: Path | None
    seed: int | None = None

    @functools.cached_property
    def idata(self):
        """The posterior as an ``arviz.InferenceData`` (the real type, whatever the origin)."""
        from rhcc_bayes.inference.cache import to_inference_data

        return to_inference_data(self.source)

    @property
    def draws(self):
        """``idata`` when it exists (fresh fit, or already asked for), else the cached tree."""
        return self.__dict__.get("idata", self.source)

    @property
    def attrs(self) -> dict:
        """Provenance and gate verdict (``idata.attrs``)."""
        return self.draws.attrs

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
        from rhcc_bayes.nma.results import (
            NMAResult,
            absolute_predictions,
            nma_fit_statistics,
            relative_effects,
            tau_summary,
        )

        data = self.synthesis.nma_data
        wall = self.idata.attrs.get("wall_time_total_s")
        return NMAResult(spec=self.spec, data=data, relative_effects=relative_effects(self.idata),
                         tau=tau_summary(self.idata, self.spec), fit=nma_fit_statistics(self.idata, data),
                         absolute=absolute_predictions(self.idata, data, self.spec, seed=self.seed),
                         gate=self.gate, seed=self.seed, wall_time=None if wall is None else float(wall))

    def _refit(self, allow_unconverged: bool, progressbar: bool | None, cache_dir):
        """``spec -> posterior``: the same evidence, sampler settings and seed, another model."""
        make = type(self.synthesis)  # the Synthesis class, without importing entry (which imports this module)

        def fit(spec):
            return make(spec, self.evidence, settings=self.synthesis.settings).fit(
                cache_dir=cache_dir, seed=self.seed, allow_unconverged=allow_unconverged,
                progressbar=progressbar)

        return fit

    def ume_comparison(self, *, cache_dir=None, allow_unconverged: bool = False, progressbar: bool | None = None):
        """Refit as an unrelated-mean-effects model and compare resdev, pD, DIC and effects (TSD4).

        Returns :class:`rhcc_bayes.nma.inconsistency.UMEComparison` (``.to_text()``, ``.fit``,
        ``.pointwise``, ``.effects``). The refit uses this fit's seed and sampler settings.
        """
        self._need("nma", "ume_comparison")
        from rhcc_bayes.nma.inconsistency import ume_comparison, ume_spec

        ume = self._refit(allow_unconverged, progressbar, cache_dir)(ume_spec(self.spec))
        return ume_comparison(self.synthesis.nma_data, self.spec, self, ume)

    def node_split(self, comparisons=None, *, cache_dir=None, allow_unconverged: bool = False,
                   progressbar: bool | None = None):
        """Node-split every comparison with direct and indirect evidence (or the given ones).

        ``comparisons``: pairs of treatment codes; default all splittable ones
        (:func:`rhcc_bayes.nma.network.splittable_comparisons`). One refit per comparison, same
        seed and sampler settings. Returns :class:`rhcc_bayes.nma.inconsistency.NodeSplitResult`.
        """
        self._need("nma", "node_split")
        from rhcc_bayes.nma.inconsistency import node_split

        return node_split(self.synthesis.nma_data, self.spec, self._refit(allow_unconverged, progressbar, cache_dir),
                          comparisons, network_idata=self.idata)

    def summary(self, *, horizon: float = 60.0):
        """The family's summary: NMAResult for an NMA, the per-treatment table for survival."""
        if self.family == "nma":
            return self.nma_result
        from rhcc_bayes.report.summaries import treatment_table

        return treatment_table(self.draws, self.design, horizon=horizon)

    def summary_text(self) -> str:
        """What ``rhcc-bayes fit`` prints."""
        if self.family == "nma":
            return self.nma_result.to_text()
        from rhcc_bayes.report.summaries import posterior_summary_text

        text = posterior_summary_text(self, self.evidence)
        ipd = getattr(self.design, "ipd", None)
        if ipd is not None:  # after the spec line: what the patient-level data add
            head, rest = text.split("\n", 1)
            text = (f"{head}\nIPD {ipd.hash[:12]}: {ipd.patients} patients in {len(ipd.arms)} arms "
                    f"({len(ipd.checks)} summary rows of these arms are checks, not in the likelihood)\n{rest}")
        return text

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

        return survival_draws(self.draws, _covariates(profile_or_covariates), np.asarray(times, float),
                              population=population, seed=seed)

    def predict_population(self, population, treatment: str, n: int, times, *, seed: int = 0,
                           levels: str | None = None):
        """What a NEW study of ``population`` (a :class:`~rhcc_bayes.survival.population.Population`,
        a mapping of inclusion limits or a TOML path) with ``n`` patients would report at ``times``:
        xarray Dataset (chain, draw, time) with ``survival``, ``alive`` and ``reported`` (binomial
        noise of n included); summarise with :func:`rhcc_bayes.survival.population.prediction_table`.
        """
        self._need("survival", "predict_population")
        from rhcc_bayes.survival.population import predict_population

        kwargs = {} if levels is None else {"levels": levels}
        return predict_population(self.idata, population, treatment, n, times, seed=seed, **kwargs)

    def decide(self, profile, *, horizon: float = 60.0, population: str = "average", utility=None,
               seed: int = 0):
        """Eligibility, expected survival and decision summaries for ``profile`` (a DecisionResult)."""
        self._need("survival", "decide")
        from rhcc_bayes.decision.recommend import decide_profile

        return decide_profile(self.draws, profile, horizon=horizon, population=population, utility=utility,
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
