"""Expected value of sample information of a proposed cohort study, by regression on simulated summaries.

Method (Strong, Oakley, Brennan & Breeze 2015, Med Decis Making 35:570): for every posterior
draw ``theta_n``, simulate the data ``X_n`` the proposed study would produce and reduce them to a
low-dimensional summary ``T(X_n)``; regress the options' net benefit on ``T`` (the smoothers of
:mod:`rhcc_bayes.decision.voi`), then

    EVSI = E_T[ max_d E(NB_d | T) ] - max_d E(NB_d).

The proposed study is one new cohort of ``treatment`` in a study population
(:class:`rhcc_bayes.survival.population.Population`, all-comers by default) with ``n``
patients, all followed to ``followup`` months (administrative censoring there; no loss to
follow-up). It is simulated with the sampling model of
:func:`rhcc_bayes.survival.population.predict_population`: a fresh study effect
``u_new ~ N(0, sigma_study)`` per draw (a new study has its own effect, which limits what it
can teach about the average population), then survivors at the landmarks
``(12, 36, 60 months below the follow-up) + (followup,)`` by chained binomials. The summary
is the vector of reported landmark survival fractions (at most 4 values: the GAM smoother).

As ``n`` grows the summary converges to the new study's true landmark survival, so EVSI
increases towards ``evppi_limit``, the EVPPI of those quantities (reported alongside).

Candidate sample sizes are independent tasks (:func:`evsi_task`, pure numpy, seeded by
``(seed, n)``), run in this process (``executor="sync"``), in local processes
(``concurrent.futures``, the default) or on an existing dask.distributed cluster (a scheduler
address); the numbers are identical whichever runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError, did_you_mean
from rhcc_bayes.core.horizon import MAX_HORIZON_MONTHS, is_horizon
from rhcc_bayes.decision.voi import N_SE, evpi_of, net_benefit, voi_by_regression

#: Landmarks (months) whose survival the simulated study reports, besides the end of follow-up.
STUDY_LANDMARKS = (12.0, 36.0, 60.0)
#: Offset of the new-study effect's seed from the decision's seed (their draws must differ).
STUDY_SEED_OFFSET = 104_729
MAX_STUDY_N = 100_000


@dataclass(frozen=True)
class ProposedStudy:
    """A proposed single-arm cohort: treatment, candidate sizes, follow-up and population."""

    treatment: str
    sizes: tuple[int, ...]
    followup: float = 60.0
    population: object = None  # Population; None = all-comers

    @property
    def landmarks(self) -> tuple[float, ...]:
        return tuple(t for t in STUDY_LANDMARKS if t < self.followup) + (float(self.followup),)


def check_study(treatment: str, sizes, followup: float, treatments: Sequence[str]) -> ProposedStudy:
    """Validate a proposed study against the posterior's treatments (UserError naming the value)."""
    if treatment not in treatments:
        raise UserError(f"study treatment {treatment!r} is not in the posterior{did_you_mean(treatment, treatments)}; "
                        f"known: {', '.join(treatments)}")
    sizes = list(sizes)
    if not sizes:
        raise UserError("give at least one candidate study size n")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_STUDY_N:
            raise UserError(f"study size n must be a whole number of patients in [1, {MAX_STUDY_N}], got {n!r}")
    if len(set(sizes)) != len(sizes):
        raise UserError(f"study sizes must be distinct, got {sizes}")
    if not is_horizon(followup):
        raise UserError(f"study follow-up must be in (0, {MAX_HORIZON_MONTHS:g}] months, got {followup!r}")
    return ProposedStudy(treatment, tuple(int(n) for n in sorted(sizes)), float(followup))


def evsi_task(task: dict) -> dict:
    """One candidate size: simulate the study's landmark survival for every draw, regress, EVSI.

    ``task`` holds numpy arrays ``survival`` (draws, landmarks: the new study's true S(t)) and
    ``nb`` (draws, options), and ``n``, ``seed``, ``method``, ``n_se``. Pure and seeded by
    ``(seed, n)``: the same numbers in any process.
    """
    from rhcc_bayes.survival.predict import binomial_survivors

    n = int(task["n"])
    rng = np.random.default_rng([int(task["seed"]), n])
    alive = binomial_survivors(np.asarray(task["survival"], float), n, rng)
    r = voi_by_regression(task["nb"], alive / float(n), method=task["method"], n_se=task["n_se"],
                          seed=int(task["seed"]))
    # numpy's SIMD reductions depend on array alignment, which differs between processes in the
    # last bit; 12 significant digits make the executors agree exactly
    return {"n": n, "evsi": _round(r["value"]), "se": _round(r["se"]), "method": r["method"],
            "edf": _round(r["edf"])}


def _round(v: float, digits: int = 12) -> float:
    return float(f"{v:.{digits}g}")


def run_tasks(tasks: list[dict], executor: str = "processes", workers: int | None = None) -> list[dict]:
    """Run :func:`evsi_task` over ``tasks``: ``"sync"`` (this process), ``"processes"`` (local
    ``concurrent.futures`` processes) or a dask.distributed scheduler address; results in task order."""
    import os

    if executor == "sync" or len(tasks) <= 1 and executor == "processes":
        return [evsi_task(t) for t in tasks]
    if executor == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        w = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
        # spawn: the parent may hold sampler/BLAS threads that fork would copy mid-state
        with ProcessPoolExecutor(max_workers=w, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(evsi_task, tasks))
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is in the test and dist extras
        raise UserError("--scheduler needs dask.distributed: pip install 'rhcc-bayes[dist]'") from None
    try:
        client = Client(executor, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise UserError(f"cannot reach the dask scheduler at {executor!r}: {err}") from None
    with client:
        futures = client.map(evsi_task, tasks, pure=False, key=[f"evsi-n{t['n']}" for t in tasks])
        return client.gather(futures)


def evsi(posterior, profile, study: ProposedStudy | None = None, *, treatment: str | None = None,
         sizes: Sequence[int] = (), followup: float = 60.0, population=None, horizon: float = 60.0,
         decision_population: str = "average", utility=None, seed: int = 0, method: str = "auto",
         n_se: int = N_SE, executor: str = "processes", workers: int | None = None,
         decision=None) -> pd.DataFrame:
    """EVSI of a proposed cohort study for each candidate size, for ``profile``'s decision.

    Parameters
    ----------
    posterior : SynthesisPosterior or arviz.InferenceData
    profile : PatientProfile
    study : ProposedStudy, optional
        Or give ``treatment``, ``sizes``, ``followup`` (months) and ``population``
        (a Population, mapping or TOML path; default all-comers).
    horizon, decision_population, utility, seed
        The decision, as for :func:`rhcc_bayes.decision.recommend.decide_profile`
        (``decision_population`` is its ``population``).
    method : {"auto", "gam", "rff"}
    executor : str
        ``"processes"`` (default), ``"sync"`` or a dask.distributed scheduler address.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``treatment``, ``n``, ``followup``, ``evsi``, ``se``,
        ``evppi_limit`` and its ``evppi_limit_se`` (n -> infinity), ``evpi``, ``evpi_se``,
        ``method``. attrs: profile, criterion, horizon, options, landmarks, population
        and its covariate levels, seed, draws.
    """
    from rhcc_bayes.decision.recommend import decide_profile
    from rhcc_bayes.survival.population import Population, load_population, prediction_levels
    from rhcc_bayes.survival.predict import survival_draws

    idata = getattr(posterior, "draws", posterior)
    treatments = [str(t) for t in idata.posterior["mu"].treatment.values]
    if study is None:
        if treatment is None:
            raise UserError("give the proposed study's treatment")
        study = check_study(treatment, sizes, followup, treatments)
    pop = study.population if study.population is not None else population
    if pop is None:
        pop = Population(id="all-comers")
    elif isinstance(pop, dict):
        pop = Population.from_mapping(pop)
    elif not isinstance(pop, Population):
        pop = load_population(pop)
    if decision is None:
        decision = decide_profile(idata, profile, horizon=horizon, population=decision_population, utility=utility,
                                  seed=seed, design=getattr(posterior, "design", None))
    nb, options = net_benefit(decision)
    cov, notes = prediction_levels(idata, pop.covariates())
    s = survival_draws(idata, cov, np.asarray(study.landmarks), population="new", seed=seed + STUDY_SEED_OFFSET)
    surv = s.sel(treatment=study.treatment).transpose("chain", "draw", "time").values.reshape(-1, len(study.landmarks))
    tasks = [{"n": n, "seed": int(seed), "survival": surv, "nb": nb, "method": method, "n_se": int(n_se)}
             for n in study.sizes]
    results = run_tasks(tasks, executor, workers)
    limit = voi_by_regression(nb, surv, method=method, n_se=n_se, seed=seed)
    ev, ev_se = evpi_of(nb)
    out = pd.DataFrame([{"treatment": study.treatment, "n": r["n"], "followup": study.followup,
                         "evsi": min(r["evsi"], ev), "se": r["se"], "evppi_limit": min(limit["value"], ev),
                         "evppi_limit_se": limit["se"], "evpi": ev, "evpi_se": ev_se, "method": r["method"]}
                        for r in results])
    out.attrs.update(profile=decision.profile.id, criterion=decision.criterion, horizon=decision.horizon,
                     population=decision.population, options=list(options), draws=int(nb.shape[0]),
                     landmarks=list(study.landmarks), study_population=pop.id,
                     study_levels=cov, level_notes="; ".join(notes), seed=int(seed))
    return out


def evsi_text(table: pd.DataFrame) -> str:
    """Plain-text EVSI table for the terminal."""
    a = table.attrs
    t = table["treatment"].iloc[0] if len(table) else "?"
    lines = [f"Expected value of sample information for profile {a.get('profile')}: a new {t} cohort "
             f"(population {a.get('study_population')}, levels {a.get('study_levels')}), followed "
             f"{table['followup'].iloc[0]:g} months; it reports survival at "
             f"{', '.join(f'{x:g}' for x in a.get('landmarks', []))} months",
             f"Decision: {a.get('criterion', 'RMST')} to {a.get('horizon', 60):g} months among "
             f"{', '.join(a.get('options', []))} ({a.get('draws')} posterior draws)"]
    if a.get("level_notes"):
        lines.append(f"  note: {a['level_notes']}")
    if len(table):
        lines.append(f"EVPI {table['evpi'].iloc[0]:.3f} months; EVPPI of the study's landmark survival "
                     f"(n -> infinity) {table['evppi_limit'].iloc[0]:.3f} ± {table['evppi_limit_se'].iloc[0]:.3f}")
    lines.append("")
    show = pd.DataFrame({"n": table["n"],
                         "EVSI (mo)": [f"{v:.3f} ± {s:.3f}" for v, s in zip(table["evsi"], table["se"])],
                         "% of limit": [f"{100 * v / lim:.0f}%" if lim > 0 else "-"
                                        for v, lim in zip(table["evsi"], table["evppi_limit"])],
                         "method": table["method"]})
    lines.append(show.to_string(index=False))
    lines += ["", "EVSI: expected gain in months per patient like this one from the study's results "
              "(± Monte Carlo SE; regression on simulated summaries, Strong et al. 2015); research use only."]
    return "\n".join(lines)
