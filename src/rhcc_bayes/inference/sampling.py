"""Model-agnostic fitting: sample any ``pm.Model`` into a complete ``InferenceData``.

The build stage produces a PyMC model with named dims and coords; this module
knows nothing about R-HCC. It samples the model with nutpie (default) or PyMC's
own NUTS, then adds what the later stages need:

* ``posterior`` -- free random variables and deterministics, on the constrained
  scale only (nutpie also returns the unconstrained ``*_log__`` etc. values,
  which are dropped so both backends give the same variables);
* ``sample_stats`` -- including ``diverging`` and ``energy`` for the gate;
* ``observed_data`` and ``constant_data`` (``pm.Data``), when the model has any;
* ``log_likelihood`` -- pointwise, for LOO model comparison
  (:mod:`rhcc_bayes.inference.pointwise`: PyMC's values, all draws in one compiled call);
* ``posterior_predictive`` -- with a seed derived from the sampling seed
  (:mod:`rhcc_bayes.inference.predictive`: PyMC's draws, all draws in one compiled call).

Provenance (backend, seed, draws, wall times, package versions) is stored in
``idata.attrs`` as netCDF-safe scalars, so it survives the posterior cache.

Example
-------
>>> settings = SamplerSettings(draws=500, tune=500)          # doctest: +SKIP
>>> idata = sample(model, settings, seed=20240601)            # doctest: +SKIP
>>> idata.attrs["wall_time_sampling_s"]                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from rhcc_bayes.core.errors import Problem, UserError, ValidationError, did_you_mean
from rhcc_bayes.core.seed import check_seed

if TYPE_CHECKING:  # heavy imports stay lazy so the CLI's --help is fast
    import arviz as az
    import pymc as pm

BACKENDS: tuple[str, ...] = ("nutpie", "pymc")
#: Upper bounds of the integer settings. A trace of chains x draws x parameters lives in
#: memory; 100000 chains reached 11 GB before printing anything, so refuse such input up front.
UPPER_LIMITS: dict[str, int] = {"chains": 64, "draws": 200_000, "tune": 200_000, "cores": 64}


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS. Validated on construction.

    Parameters
    ----------
    backend : {"nutpie", "pymc"}
        ``"nutpie"`` (Rust NUTS on a numba-compiled log density; the fastest on
        this project's models, see ``benchmarks/bench_backends.py``) or
        ``"pymc"`` (PyMC's own NUTS, slower but with no numba compile step).
    chains : int
        Number of chains. Always explicit: PyMC's default depends on the number
        of cores (2 on a 2-core machine), too few for a trustworthy R-hat.
    draws, tune : int
        Kept draws and warm-up draws per chain.
    target_accept : float
        Step-size adaptation target, strictly between 0.5 and 1. 0.9 rather
        than 0.8 because hierarchical survival models have funnel-like regions.
    low_rank_mass_matrix : bool
        nutpie only: ``low_rank_modified_mass_matrix``, which adapts to posterior
        correlations. Off by default: on the bundled R-HCC model and on the
        synthetic 80-arm benchmark the diagonal adaptation gave 2-3x the ESS per
        second and no divergences (``benchmarks/fit.py``,
        ``benchmarks/bench_backends.py``). Ignored by the PyMC backend.
    grad_based_mass_matrix : bool
        nutpie only, diagonal mass matrix only: ``use_grad_based_mass_matrix``, nutpie's
        estimate of the mass matrix from the variances of the draws *and* of the gradients
        (its default). ``False`` estimates it from the draws alone, as Stan and PyMC do.
        On the default R-HCC model the draws-only estimate took twice the leapfrog steps
        per draw but gave about 2.7x the minimum ESS per draw (tau_treatment, as in Stan,
        instead of sigma_population): about 1.4x the ESS per gradient
        (``benchmarks/seed_sweep.py``). Ignored by the PyMC backend, whose adaptation is
        draws-only already.
    initial_step : float
        nutpie only: the step size of the first warm-up transitions (nutpie's default 0.1),
        from which dual averaging adapts it. Far from the posterior the gradients are large,
        and a first step of 0.1 can throw a chain across a moving bound into a region of
        curvature ``1/c**2`` (the data-rich size levels, ``survival/transforms.py``), where
        its step size and draws-only mass matrix collapse together and never recover: on 2573
        simulated arms (``benchmarks/scaling.py``, seed 2, model .17's start) one chain of four
        froze at 0.1, as on 632 arms, none at 0.01 (the step size is back at 0.17-0.37 by
        warm-up draw 50). The default spec sets 0.01. Ignored by the PyMC backend, which
        searches its own first step.
    cores : int
        Chains run in parallel.
    """

    backend: str = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    low_rank_mass_matrix: bool = False
    grad_based_mass_matrix: bool = True
    initial_step: float = 0.1
    cores: int = 2

    def __post_init__(self) -> None:
        problems = _validate_values({f.name: getattr(self, f.name) for f in fields(self)}, "SamplerSettings")
        if problems:
            raise ValidationError(problems)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "spec") -> SamplerSettings:
        """Build settings from a mapping such as a spec's ``[sampler]`` table.

        Parameters
        ----------
        mapping : Mapping
            Keys are field names of :class:`SamplerSettings`; missing keys keep
            their defaults.
        source : str
            Label used in error messages, e.g. ``"models/rhcc.toml [sampler]"``.

        Returns
        -------
        SamplerSettings

        Raises
        ------
        ValidationError
            (a :class:`~rhcc_bayes.errors.UserError`) listing every unknown key
            (with a "did you mean" hint) and every invalid value at once.
        """
        if not isinstance(mapping, Mapping):
            raise UserError(f"{source}: sampler settings must be a table, got {type(mapping).__name__}")
        names = [f.name for f in fields(cls)]
        problems = [
            Problem(source, f"unknown sampler setting{did_you_mean(key, names)}", column=str(key))
            for key in mapping
            if key not in names
        ]
        known = {k: v for k, v in mapping.items() if k in names}
        problems += _validate_values(known, source)
        if problems:
            raise ValidationError(problems)
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for hashing and attrs)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _validate_values(values: Mapping[str, Any], source: str) -> list[Problem]:
    """Check the values present in ``values``; return the problems found."""
    problems: list[Problem] = []
    for key, limit in UPPER_LIMITS.items():
        if key in values:
            v = values[key]
            # bool is an int subclass; "draws = true" in TOML is a mistake, not 1.
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(Problem(source, "must be a positive integer", column=key, value=v))
            elif v > limit:
                problems.append(Problem(source, f"must be at most {limit} (the trace is held in memory)",
                                        column=key, value=v))
    if "target_accept" in values:
        v = values["target_accept"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.5 < v < 1:
            problems.append(
                Problem(source, "must be a number strictly between 0.5 and 1", column="target_accept", value=v)
            )
    if "initial_step" in values:
        v = values["initial_step"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 10:
            problems.append(Problem(source, "must be a number in (0, 10]", column="initial_step", value=v))
    if "backend" in values:
        v = values["backend"]
        if v not in BACKENDS:
            hint = did_you_mean(v, BACKENDS) or f" (choose from {', '.join(BACKENDS)})"
            problems.append(Problem(source, f"unknown backend{hint}", column="backend", value=v))
    for key in ("low_rank_mass_matrix", "grad_based_mass_matrix"):
        if key in values and not isinstance(values[key], bool):
            problems.append(Problem(source, "must be true or false", column=key, value=values[key]))
    if values.get("low_rank_mass_matrix") is True and values.get("grad_based_mass_matrix") is False:
        # nutpie's low-rank adaptation always uses the gradients; silently ignoring the
        # draws-only request would fit something other than what the spec says.
        problems.append(Problem(source, "applies to the diagonal mass matrix only: set low_rank_mass_matrix = false "
                                        "or drop grad_based_mass_matrix", column="grad_based_mass_matrix", value=False))
    return problems


@dataclass(frozen=True)
class CompiledModel:
    """A model compiled for one backend, reusable across seeds.

    Compilation dominates the cost of small fits (numba takes several seconds),
    so repeated fits of the same model (seed checks, simulation-based
    calibration with ``compiled.native.with_data(...)``) should compile once.

    Attributes
    ----------
    model : pm.Model
        The model that was compiled.
    backend : str
        ``"nutpie"`` or ``"pymc"``.
    native : object
        nutpie's ``CompiledModel``; ``None`` for the PyMC backend, whose
        compilation happens inside ``pm.sample`` (see :func:`compile_model`).
    compile_seconds : float
        Wall time of the compilation.
    """

    model: Any
    backend: str
    native: Any
    compile_seconds: float


def compile_model(model: pm.Model, backend: str = "nutpie") -> CompiledModel:
    """Compile ``model`` for ``backend``.

    For nutpie this is ``nutpie.compile_pymc_model(model)`` with the default
    numba backend (jax is not installed here; numba was the fastest available
    backend in ``benchmarks/bench_backends.py``), except that nutpie's C wrappers
    are generated as cacheable source (:mod:`rhcc_bayes.inference.nutpie_cache`):
    a new process with an unchanged model graph loads them from PyTensor's numba
    cache instead of recompiling, and rebuilds the rest from a JSON compile index
    (:mod:`rhcc_bayes.inference.compile_index`) without re-running PyTensor's graph
    rewrites, with bit-identical draws. For PyMC it compiles the joint
    log-density and gradient once, which fills PyTensor's on-disk compile cache
    so the compilation inside ``pm.sample`` is a cheap cache load; the time
    measured is therefore a fair "compile" figure for the benchmark.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown sampler backend {backend!r}{did_you_mean(backend, BACKENDS)}")
    t0 = time.perf_counter()
    if backend == "nutpie":
        from rhcc_bayes.inference.nutpie_cache import compile_cached

        native, _ = compile_cached(model)
    else:
        model.logp_dlogp_function(ravel_inputs=True)
        native = None
    return CompiledModel(model=model, backend=backend, native=native, compile_seconds=time.perf_counter() - t0)


def derived_seed(seed: int, purpose: str) -> int:
    """A seed for a secondary random stage, derived reproducibly from ``seed``.

    Uses :class:`numpy.random.SeedSequence` with the purpose string folded in, so
    posterior-predictive draws are independent of the MCMC stream yet fixed by
    the one seed the user gives.
    """
    import numpy as np

    tag = int.from_bytes(purpose.encode(), "little") % (2**32)
    return int(np.random.SeedSequence([seed, tag]).generate_state(1, dtype=np.uint32)[0])


def sample(
    model: pm.Model,
    settings: SamplerSettings | None = None,
    *,
    seed: int,
    progressbar: bool | None = None,
    log_likelihood: bool = True,
    posterior_predictive: bool = True,
    compiled: CompiledModel | None = None,
    on_phase: Callable[[str, float], None] | None = None,
) -> az.InferenceData:
    """Sample ``model`` and return a complete, labelled ``InferenceData``.

    Parameters
    ----------
    model : pm.Model
        Any PyMC model; dims and coords carry through to every group.
    settings : SamplerSettings, optional
        Defaults to ``SamplerSettings()``.
    seed : int
        Non-negative integer. The same seed, settings and model give identical
        draws (both backends).
    progressbar : bool or None
        ``None`` shows the progress bar only when stderr is a terminal, so logs
        and CI output are not flooded with carriage returns.
    log_likelihood : bool
        Add the pointwise ``log_likelihood`` group (needed for LOO).
    posterior_predictive : bool
        Add the ``posterior_predictive`` group, seeded from ``seed``.
    compiled : CompiledModel, optional
        Output of :func:`compile_model` for this model and backend, to skip
        recompilation.
    on_phase : callable, optional
        Progress callback ``on_phase(phase, seconds)``, called as each phase ends with
        its wall time: ``"compile"`` (0 when ``compiled`` was given), ``"sampling"``,
        ``"log_likelihood"``, ``"posterior_predictive"``. :func:`stderr_progress`
        prints them; the CLI reports the same phases on stderr.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior``, ``sample_stats``, ``observed_data`` and
        ``constant_data`` (when the model has them), ``log_likelihood`` and
        ``posterior_predictive`` (when requested and the model has observed
        variables). ``attrs`` hold backend, seed, draws, tune, chains, cores,
        target_accept, low_rank_mass_matrix, ``wall_time_{compile,sampling,total}_s``,
        ``deterministics`` (JSON list of names, read by the diagnostics gate)
        and ``version_{rhcc_bayes,pymc,pytensor,nutpie,arviz}``.
    """
    settings = settings or SamplerSettings()
    check_seed(seed)
    if progressbar is None:
        progressbar = bool(getattr(sys.stderr, "isatty", lambda: False)())

    report = on_phase or (lambda phase, seconds: None)
    t_start = time.perf_counter()
    if compiled is None:
        compiled = compile_model(model, settings.backend)
        report("compile", compiled.compile_seconds)
    elif compiled.backend != settings.backend or compiled.model is not model:
        raise ValueError("`compiled` was made for another model or backend")
    else:
        report("compile", 0.0)

    t0 = time.perf_counter()
    if settings.backend == "nutpie":
        # nutpie samples in Rust threads without the GIL: compile the post-fit functions meanwhile
        prepared = _prepare_post_fit(model, log_likelihood, posterior_predictive)
        idata = _sample_nutpie(compiled, settings, seed, progressbar)
        prepared.join()
    else:  # PyMC's worker processes may fork: no compile thread alongside
        idata = _sample_pymc(model, settings, seed, progressbar)
    sampling_s = time.perf_counter() - t0
    report("sampling", sampling_s)
    check_complete(idata, settings)

    # Keep only constrained-scale variables, as PyMC does by default.
    keep = [v.name for v in model.free_RVs] + [d.name for d in model.deterministics]
    idata.posterior = idata.posterior[[n for n in keep if n in idata.posterior]]
    _add_data_groups(idata, model)

    has_observed = bool(model.observed_RVs)
    if log_likelihood and has_observed:
        from rhcc_bayes.inference.pointwise import log_likelihood as pointwise_log_likelihood

        t0 = time.perf_counter()
        idata.add_groups({"log_likelihood": pointwise_log_likelihood(idata, model)})
        report("log_likelihood", time.perf_counter() - t0)
    if posterior_predictive and has_observed:
        from rhcc_bayes.inference.predictive import posterior_predictive as predictive_draws

        t0 = time.perf_counter()
        names, pp_seed = _predictive_var_names(model), derived_seed(seed, "posterior_predictive")
        try:
            idata.extend(predictive_draws(idata, model, var_names=names, seed=pp_seed))
        except NotImplementedError:  # a graph the vectorised draws do not cover: PyMC's loop, same draws
            import pymc as pm

            pm.sample_posterior_predictive(idata, model=model, var_names=names, random_seed=pp_seed,
                                           extend_inferencedata=True, progressbar=False)
        report("posterior_predictive", time.perf_counter() - t0)

    idata.attrs.update(_provenance(settings, seed, compiled.compile_seconds, sampling_s, t_start, model))
    return idata


def _prepare_post_fit(model, log_likelihood: bool, posterior_predictive: bool):
    """A started daemon thread compiling the functions of :mod:`~rhcc_bayes.inference.pointwise`
    and :mod:`~rhcc_bayes.inference.predictive` for ``model`` (memoised per model).

    Compiling them takes a new process ~1-3 s of PyTensor graph work; done while nutpie
    samples, it costs the sampler a share of the CPU instead. Errors are ignored: the post-fit
    phase then compiles (and raises) itself. The numbers computed do not depend on it.
    """
    import threading

    def work():
        if not model.observed_RVs:
            return
        try:
            if log_likelihood:
                from rhcc_bayes.inference.pointwise import prepare

                prepare(model)
            if posterior_predictive:
                from rhcc_bayes.inference.predictive import prepare

                prepare(model, _predictive_var_names(model))
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    thread = threading.Thread(target=work, name="rhcc-post-fit-compile", daemon=True)
    thread.start()
    return thread


def stderr_progress(phase: str, seconds: float) -> None:
    """An ``on_phase`` callback for :func:`sample`: one line per finished phase on stderr."""
    print(f"{phase} done in {seconds:.1f} s", file=sys.stderr, flush=True)


def check_complete(idata, settings: SamplerSettings) -> None:
    """Raise ``KeyboardInterrupt`` when the sampler returned fewer draws than asked for.

    On Ctrl-C nutpie stops and returns the partial trace instead of raising; post-processing
    it fails later with an unrelated error ("p contains NaNs"), and caching it would store a
    fit nobody asked for. Treating it as the interrupt it was gives exit status 130.
    """
    sizes = idata.posterior.sizes
    if sizes.get("chain", 0) < settings.chains or sizes.get("draw", 0) < settings.draws:
        raise KeyboardInterrupt(f"sampling interrupted after {sizes.get('draw', 0)} of {settings.draws} draws")


def _predictive_var_names(model) -> list[str]:
    """Observed variables plus deterministics that depend on them.

    Passed explicitly because PyMC 5.28's ``sample_posterior_predictive``, when
    left to choose and given an ``idata`` with ``observed_data``, appends to the
    model's own ``observed_RVs`` list in place (``observed_vars += ...``), which
    duplicates every observed variable and breaks ``model.logp()`` afterwards.
    """
    observed = list(model.observed_RVs)  # a copy, never the model's list
    names = [v.name for v in observed]
    try:
        from pymc.sampling.forward import observed_dependent_deterministics

        names += [d.name for d in observed_dependent_deterministics(model, observed)]
    except ImportError:  # private helper; the observed variables suffice
        pass
    return names


def _sample_nutpie(compiled: CompiledModel, settings: SamplerSettings, seed: int, progressbar: bool):
    import warnings

    import nutpie

    with warnings.catch_warnings():
        # after Ctrl-C nutpie converts an empty trace; ArviZ's "more chains than draws" lines
        # would bury the one-line "interrupted" message (check_complete raises it)
        warnings.filterwarnings("ignore", message=r"More chains \(\d+\) than draws \(\d+\)")
        return nutpie.sample(
            compiled.native,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            seed=seed,
            target_accept=settings.target_accept,
            low_rank_modified_mass_matrix=settings.low_rank_mass_matrix,
            initial_step=float(settings.initial_step),
            **({} if settings.low_rank_mass_matrix else {"use_grad_based_mass_matrix": settings.grad_based_mass_matrix}),
            save_warmup=False,  # warm-up draws would only bloat the cache file
            progress_bar=progressbar,
        )


def _sample_pymc(model, settings: SamplerSettings, seed: int, progressbar: bool):
    import pymc as pm

    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        random_seed=seed,
        target_accept=settings.target_accept,
        progressbar=progressbar,
        model=model,
        # The diagnostics gate does this, with clearer messages.
        compute_convergence_checks=False,
        # Added afterwards for both backends alike.
        idata_kwargs={"log_likelihood": False},
        nuts_sampler="pymc",
    )


def _add_data_groups(idata, model) -> None:
    """Add ``observed_data`` / ``constant_data`` when the backend did not (nutpie)."""
    from pymc.backends.arviz import (
        coords_and_dims_for_inferencedata,
        dict_to_dataset,
        find_constants,
        find_observations,
    )

    coords, dims = coords_and_dims_for_inferencedata(model)
    wanted = {"observed_data": find_observations(model), "constant_data": find_constants(model)}
    for group, values in wanted.items():
        if values and group not in idata.groups():
            import pymc

            ds = dict_to_dataset(values, library=pymc, coords=coords, dims=dims, default_dims=[])
            idata.add_groups({group: ds})


def _provenance(settings, seed, compile_s, sampling_s, t_start, model) -> dict[str, Any]:
    """netCDF-safe attrs (str/int/float only) describing how the fit was made."""
    from importlib.metadata import PackageNotFoundError, version

    import rhcc_bayes

    def _version(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "backend": settings.backend,
        "seed": int(seed),
        "draws": int(settings.draws),
        "tune": int(settings.tune),
        "chains": int(settings.chains),
        "cores": int(settings.cores),
        "target_accept": float(settings.target_accept),
        # What was actually used: PyMC's NUTS has no low-rank adaptation.
        "low_rank_mass_matrix": int(settings.low_rank_mass_matrix and settings.backend == "nutpie"),
        "grad_based_mass_matrix": int(settings.grad_based_mass_matrix and settings.backend == "nutpie"
                                      and not settings.low_rank_mass_matrix),
        "initial_step": float(settings.initial_step) if settings.backend == "nutpie" else "pymc's own",
        "wall_time_compile_s": float(compile_s),
        "wall_time_sampling_s": float(sampling_s),
        "wall_time_total_s": float(time.perf_counter() - t_start),
        "deterministics": json.dumps([d.name for d in model.deterministics]),
        "version_rhcc_bayes": rhcc_bayes.__version__,
        "version_pymc": _version("pymc"),
        "version_pytensor": _version("pytensor"),
        "version_nutpie": _version("nutpie"),
        "version_arviz": _version("arviz"),
    }
