"""Evidence + spec → gated, cached posterior: the one function the CLI, reports and
notebooks call to get a fit.

Each stage is a plain function returning a new object (``make_design`` →
``build_survival_model`` → ``fit.sample`` → ``attach_metadata`` → gate → cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from rhcc_bayes.inference.cache import cache_key, cached_fit, load_posterior
from rhcc_bayes.survival.design import SurvivalDesign, make_design
from rhcc_bayes.survival.metadata import attach_metadata, cuts_from  # noqa: F401
from rhcc_bayes.specs import is_nma

GATED_DETERMINISTICS = ("mu",)  # plus the parameters of the posterior's hazard family


@dataclass(frozen=True)
class FitResult:
    """A gated posterior with what produced it."""

    idata: object  # arviz.InferenceData
    spec: object
    design: SurvivalDesign | None
    gate: object  # diagnostics.GateReport
    cache_hit: bool
    cache_path: Path | None

    @property
    def converged(self) -> bool:
        return bool(self.gate.passed)


def gate_var_names(idata) -> list[str]:
    """Free parameters plus the treatment-level deterministics users read."""
    from rhcc_bayes.inference.diagnostics import deterministic_names

    det = set(deterministic_names(idata))
    names = [str(v) for v in idata.posterior.data_vars if str(v) not in det]
    gated = list(GATED_DETERMINISTICS)
    if idata.attrs.get("family") == "survival":
        from rhcc_bayes.survival.hazards import family_from_idata

        gated += family_from_idata(idata).parameter_names  # what decisions read: gamma, spline_coef, ...
    return names + [v for v in dict.fromkeys(gated) if v in idata.posterior and v not in names]


def fit_synthesis(
    evidence,
    spec,
    *,
    seed: int | None = None,
    settings=None,
    cache_dir: str | Path | None = None,
    allow_unconverged: bool = False,
    progressbar: bool | None = None,
    recheck_gate: bool = False,
) -> FitResult:
    """Fit ``spec`` to ``evidence`` (or load the cached fit), then apply the diagnostics gate.

    Parameters
    ----------
    evidence : rhcc_bayes.evidence.Evidence
    spec : SurvivalSpec or NMASpec
    seed : int, optional
        Defaults to ``spec.seed``. Same seed, same draws.
    settings : rhcc_bayes.fit.SamplerSettings, optional
        Defaults to the spec's ``[sampler]`` table.
    cache_dir : path, optional
        Posterior cache folder; ``None`` disables caching.
    allow_unconverged : bool
        Return a fit that fails the gate (flagged in ``idata.attrs``) instead of raising.
    recheck_gate : bool
        Recompute the diagnostics of a cached posterior instead of reading the verdict
        stored with it (``rhcc-bayes diagnose`` does).

    Raises
    ------
    rhcc_bayes.diagnostics.ConvergenceError
        When the fit fails the gate and ``allow_unconverged`` is false.
    """
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.inference.diagnostics import check_gate, enforce_gate, record_gate, report_from_attrs
    from rhcc_bayes.inference.sampling import SamplerSettings, sample

    seed = spec.seed if seed is None else seed
    settings = settings or SamplerSettings.from_mapping(spec.sampler, source=f"{spec.source} [sampler]")
    design = None if is_nma(spec) else make_design(evidence, spec)

    def run():
        model = build_survival_model(design, spec) if design is not None else build_model(evidence, spec)
        idata = sample(model, settings, seed=seed, progressbar=progressbar)
        if design is not None:
            attach_metadata(idata, design, spec, evidence.hash)
        else:
            idata.attrs.update({"family": "nma", "spec_name": spec.name, "evidence_hash": evidence.hash})
        idata.attrs["cache_key"] = key
        return record_gate(idata, check_gate(idata, var_names=gate_var_names(idata)))

    key = cache_key(evidence.hash, _spec_hash(spec, settings), seed)
    if cache_dir is None:
        idata, hit, path = run(), False, None
    else:
        idata, hit = cached_fit(cache_dir, key, run, loader=load_posterior)
        path = Path(cache_dir) / f"{key}.nc"
    report = None if recheck_gate else report_from_attrs(idata)
    if report is None:
        report = check_gate(idata, var_names=gate_var_names(idata))
        record_gate(idata, report)
    enforce_gate(idata, report, allow_unconverged=allow_unconverged)
    return FitResult(idata=idata, spec=spec, design=design, gate=report, cache_hit=hit, cache_path=path)


def _spec_hash(spec, settings) -> str:
    from rhcc_bayes.inference.cache import content_hash

    base = spec.hash if hasattr(spec, "hash") else content_hash(repr(spec))
    return content_hash(base, settings.to_dict(), _model_code_hash())


def _model_code_hash() -> str:
    """Hash of the modules that define the likelihood, so a code change never reuses a stale cache."""
    from rhcc_bayes.inference.cache import content_hash

    here = Path(__file__).parent
    return content_hash(*(here / name for name in ("design.py", "build.py", "nma.py", "fit.py") if (here / name).exists()))


def build_model(evidence, spec):
    """Build the PyMC model for ``spec`` from validated ``evidence``.

    Parameters
    ----------
    evidence : rhcc_bayes.evidence.Evidence
    spec : SurvivalSpec or rhcc_bayes.nma.NMASpec

    Returns
    -------
    pymc.Model
    """
    if is_nma(spec):
        from rhcc_bayes.nma.model import build_nma_model

        return build_nma_model(evidence.table, spec)
    from rhcc_bayes.survival.model import build_survival_model

    return build_survival_model(make_design(evidence, spec), spec)
