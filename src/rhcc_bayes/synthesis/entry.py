"""The entry object :class:`Synthesis` (spec + evidence -> fit) and the thin wrappers kept for old callers."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.core.seed import check_seed
from rhcc_bayes.specs import is_nma
from rhcc_bayes.synthesis.inputs import (
    as_evidence,
    as_ipd,
    as_spec,
    canonical_spec,
    data_hash,
    evidence_hash,
    evidence_table,
    gate_var_names,
)
from rhcc_bayes.synthesis.posterior import SynthesisPosterior


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
    ipd : None, path, list of paths or IPD, optional
        Individual patient data (:mod:`rhcc_bayes.ipd.table`; survival specs with the
        piecewise or Weibull hazard). An arm given both as IPD and as summaries enters once,
        as IPD; its summaries become checks (``design.ipd.checks``).
    settings : SamplerSettings or Mapping, optional
        A complete ``SamplerSettings``, or a mapping whose keys override those of the spec's
        ``[sampler]`` table (e.g. ``{"draws": 2000}``).
    held_out : iterable of str, optional
        Studies whose likelihood rows get weight 0, with the pooled results that include them
        (survival specs; :mod:`rhcc_bayes.survival.holdout`): the posterior without them, from
        the full evidence's compiled model (leave-one-study-out, influence of a study).
    """

    def __init__(self, spec: Any = "default", evidence: Any = None, *, ipd: Any = None, settings: Any = None,
                 held_out: Any = ()):
        from rhcc_bayes.inference.sampling import SamplerSettings

        self.spec = as_spec(spec)
        self.evidence = as_evidence(evidence, self.spec)
        self.ipd = as_ipd(ipd, self.evidence, self.spec)
        self.held_out = (held_out,) if isinstance(held_out, str) else tuple(dict.fromkeys(held_out))
        if self.held_out and is_nma(self.spec):
            raise UserError(f"held_out: spec {self.spec.name!r} is a network meta-analysis; held-out studies "
                            "are for survival specs")
        if settings is None or isinstance(settings, Mapping):
            mapping = {**self.spec.sampler, **(settings or {})}
            settings = SamplerSettings.from_mapping(mapping, source=f"{self.spec.source} [sampler]")
        self.settings = settings

    def __repr__(self) -> str:
        ipd = f", ipd={self.ipd!r}" if self.ipd is not None else ""
        held = f", held_out={self.held_out!r}" if self.held_out else ""
        return f"Synthesis(spec={self.spec.name!r}, family={self.family!r}, evidence={self.evidence!r}{ipd}{held})"

    @property
    def family(self) -> str:
        return "nma" if is_nma(self.spec) else "survival"

    @functools.cached_property
    def design(self):
        """The survival design (arms, likelihood rows, treatment structure); None for an NMA."""
        if self.family == "nma":
            return None
        from rhcc_bayes.survival.design import make_design

        design = make_design(self.evidence, self.spec)
        if self.ipd is not None:
            from rhcc_bayes.survival.ipd import add_ipd

            design = add_ipd(design, self.ipd, self.spec)
        if self.held_out:
            from rhcc_bayes.survival.holdout import hold_out

            design = hold_out(design, self.held_out, self.evidence.included_studies())
        return design

    @functools.cached_property
    def nma_data(self):
        """The prepared NMA data (studies, arms, likelihood blocks); None for a survival spec."""
        if self.family != "nma":
            return None
        from rhcc_bayes.nma.data import prepare_nma_data

        table, source = evidence_table(self.evidence)
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
        return check_seed(seed)

    def cache_key(self, seed: int | None = None) -> str:
        """Key of the fit: canonical spec, evidence content, sampler settings, seed, model version."""
        from rhcc_bayes.inference.cache import cache_key

        return cache_key(canonical_spec(self.spec), data_hash(self.evidence, self.ipd, self.held_out),
                         self.settings.to_dict(), self.resolve_seed(seed), self.model_version)

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
                                "evidence_hash": evidence_hash(self.evidence)})
        else:
            from rhcc_bayes.survival.metadata import attach_metadata

            attach_metadata(idata, self.design, self.spec, self.evidence.hash)
            if self.ipd is not None:
                from rhcc_bayes.survival.ipd import attach_ipd_metadata

                attach_ipd_metadata(idata, self.design)
        if self.held_out:
            idata.attrs["held_out"] = ", ".join(self.held_out)
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
        from rhcc_bayes.inference.cache import cached_fit, load_tree, to_inference_data
        from rhcc_bayes.inference.diagnostics import (
            check_gate,
            enforce_gate,
            record_gate,
            report_from_attrs,
        )

        seed = self.resolve_seed(seed)
        key = self.cache_key(seed)
        if cache_dir is None:
            data, hit, path = self._sample(seed, key, progressbar), False, None
        else:
            # a hit is read with xarray alone (an xarray.DataTree); .idata builds the ArviZ object from it
            data, hit = cached_fit(cache_dir, key, lambda: self._sample(seed, key, progressbar), loader=load_tree)
            path = Path(cache_dir) / f"{key}.nc"
        report = None if recheck_gate else report_from_attrs(data)
        if report is None:
            data = to_inference_data(data)
            report = check_gate(data, var_names=gate_var_names(data))
            record_gate(data, report)
        enforce_gate(data, report, allow_unconverged=allow_unconverged)
        return SynthesisPosterior(source=data, synthesis=self, gate=report, cache_hit=hit, cache_path=path,
                                  seed=seed)


def fit_synthesis(evidence, spec, *, seed: int | None = None, settings=None,
                  cache_dir: str | Path | None = None, allow_unconverged: bool = False,
                  progressbar: bool | None = None, recheck_gate: bool = False, ipd=None,
                  held_out=()) -> SynthesisPosterior:
    """``Synthesis(spec, evidence, ipd=ipd, settings=settings, held_out=held_out).fit(...)`` (argument order
    kept for old callers)."""
    return Synthesis(spec, evidence, ipd=ipd, settings=settings, held_out=held_out).fit(
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
