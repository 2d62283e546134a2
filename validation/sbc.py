"""Simulation-based calibration (SBC, Talts et al. 2018) of the default R-HCC survival model.

For each simulation s = 1..S:

1. draw a truth from the spec's prior and data from the model's likelihood on the
   *bundled evidence's exact design* (arms, sizes, landmarks, medians): one
   ``pm.sample_prior_predictive(draws=S)`` on the default model, the batched form of
   :func:`rhcc_bayes.simulate.simulate_design`, then
   :func:`rhcc_bayes.simulate.replace_observations`;
2. refit the model to the simulated data with nutpie, re-using ONE compiled model per
   worker process (``compiled.with_data(landmark_deaths_data=..., median_alive_data=...)``:
   the numba compile takes 60-90 s, a fit a few seconds);
3. thin the posterior to L draws (evenly spaced within each chain, to cut
   autocorrelation) and record the rank of the truth, #{posterior draws < truth},
   in 0..L, for each key quantity.

If the model and sampler are correct, every quantity's ranks are discrete-uniform on
0..L. Uniformity is tested per quantity with a chi-square test on equal-width rank bins
and with the simultaneous ECDF-difference band of Säilynoja, Bürkner & Vehtari (2022),
calibrated by simulation (:func:`ecdf_band`). Fits with divergences or failing the
project's diagnostics gate are counted and reported, never dropped.

Parallelism is dask's: by default ``dask.delayed`` tasks on the local "processes"
scheduler (one worker process per core); with ``--scheduler ADDRESS`` the tasks go to an
existing ``dask.distributed`` cluster (``pip install distributed``, the ``dist`` extra).
Each finished simulation is checkpointed to ``OUT/partial/<config key>/sim_NNNN.json`` so
an interrupted run resumes where it stopped (same command line); other settings get
another key and never reuse or delete these.

Per-fit sampler settings are reduced for runtime (4 chains x 500 draws, tune 500,
target_accept 0.9, diagonal mass matrix as the project default): many fits then miss
the gate's ESS >= 400, which is reported, and ranks use L = 199 thinned draws.

Usage::

    python validation/sbc.py --sims 100 --out validation/sbc_results/
    python validation/sbc.py --sims 100 --scheduler tcp://10.0.0.5:8786

Outputs (written atomically): ``ranks.csv`` (one row per simulation: seed, fit
diagnostics, rank per quantity), ``summary.csv`` (per quantity: chi2, p-value, ECDF
band verdict), ``ranks.png`` (rank histograms and ECDF-difference plots with the 99%
simultaneous band).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# One BLAS/OpenMP thread per worker process: the workers already use every core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

DEFAULT_OUT = Path(__file__).resolve().parent / "sbc_results"

# Quantities ranked. Treatments with arms in the default likelihood (bundled data):
# TACE, TARE, REPEAT-RESECTION, SALVAGE-LT, SORAFENIB, TACE-RFA, TACE+SORAFENIB,
# TACE-RFA+SORAFENIB, MIXED-LRT; without arms: RFA, SBRT (informed only via pooling).
MU_WITH_ARMS = ("TACE", "TARE", "REPEAT-RESECTION", "SALVAGE-LT", "SORAFENIB", "TACE-RFA",
                "TACE+SORAFENIB", "TACE-RFA+SORAFENIB", "MIXED-LRT")
MU_WITHOUT_ARMS = ("RFA", "SBRT")
RMST_TREATMENTS = ("TACE", "REPEAT-RESECTION", "RFA")
RMST_HORIZON = 60.0
# A typical salvage candidate: solitary recurrence <= 3 cm, other covariates not reported.
PATIENT = {"size_band": "le3", "nodularity": "solitary"}


@dataclass(frozen=True)
class SBCConfig:
    """Everything that determines the simulations and the fits (hashed for resuming)."""

    spec: str = "sbc"
    sims: int = 100
    seed: int = 20260101
    chains: int = 4
    draws: int = 500
    tune: int = 500
    target_accept: float = 0.9
    # explicit, so a change of the project's sampler default never mixes checkpoints;
    # False = diagonal adaptation, the project default since 26beb4b
    low_rank_mass_matrix: bool = False
    thin_to: int = 199  # L: ranks lie in 0..L
    mu_treatments: tuple = MU_WITH_ARMS + MU_WITHOUT_ARMS
    rmst_treatments: tuple = RMST_TREATMENTS
    rmst_horizon: float = RMST_HORIZON
    patient: dict = field(default_factory=lambda: dict(PATIENT))

    def key(self) -> str:
        """Hash of the settings AND of the model/simulation code and bundled data, so
        checkpoints made with another version of the model are never reused."""
        blob = json.dumps(asdict(self), sort_keys=True) + code_fingerprint()
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def code_fingerprint() -> str:
    """Hash of the modules that define prior, likelihood, design and sampling, plus the
    bundled evidence and spec files (their contents, not their timestamps)."""
    import rhcc_bayes
    from rhcc_bayes.evidence.table import default_evidence_path
    from rhcc_bayes.specs import resolve_spec_path

    here = Path(rhcc_bayes.__file__).parent
    h = hashlib.sha256()
    files = sorted((here / "survival").rglob("*.py")) + [here / "inference" / "sampling.py"]
    ev = Path(default_evidence_path())
    files += sorted(ev.rglob("*")) if ev.is_dir() else [ev]
    files.append(Path(resolve_spec_path("default")))
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------
# statistics on ranks (pure numpy/scipy; unit-tested on synthetic ranks)
# ----------------------------------------------------------------------------------------

def rank_of(truth: float, draws: np.ndarray) -> int:
    """#{draws < truth}: in 0..len(draws); discrete-uniform under calibration."""
    return int(np.sum(np.asarray(draws) < truth))


def thin_draws(values: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep ``n_keep`` draws of a (chain, draw, ...) array, evenly spaced within chains.

    Draws are taken chain by chain (chain-major flattening) at a constant stride, so
    consecutive kept draws of a chain are ``stride`` iterations apart.
    """
    values = np.asarray(values)
    flat = values.reshape((-1,) + values.shape[2:])
    if n_keep > flat.shape[0]:
        raise ValueError(f"cannot keep {n_keep} of {flat.shape[0]} draws")
    idx = np.floor(np.arange(n_keep) * (flat.shape[0] / n_keep)).astype(int)
    return flat[idx]


def chi2_uniform(ranks, n_ranks: int, bins: int = 20):
    """Chi-square test of discrete uniformity of ``ranks`` on 0..n_ranks-1.

    Ranks are grouped into ``bins`` consecutive bins; when ``n_ranks`` is not a
    multiple of ``bins`` the expected counts follow the bins' actual widths.

    Returns
    -------
    (chi2, dof, p_value)
    """
    from scipy import stats

    ranks = np.asarray(ranks, dtype=int)
    if ranks.size == 0:
        return np.nan, bins - 1, np.nan
    if ranks.min() < 0 or ranks.max() >= n_ranks:
        raise ValueError(f"ranks must lie in 0..{n_ranks - 1}")
    bins = min(bins, n_ranks)
    which = ranks * bins // n_ranks
    observed = np.bincount(which, minlength=bins)
    width = np.bincount(np.arange(n_ranks) * bins // n_ranks, minlength=bins)
    expected = ranks.size * width / n_ranks
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return chi2, bins - 1, float(stats.chi2.sf(chi2, bins - 1))


_BAND_CACHE: dict = {}


def ecdf_band(n: int, n_ranks: int, prob: float = 0.99, n_sim: int = 5000, seed: int = 0):
    """Simultaneous ``prob`` band for the ECDF of ``n`` discrete-uniform ranks on 0..n_ranks-1.

    Säilynoja, Bürkner & Vehtari (2022), simulation method. At the evaluation points
    z_k = k / n_ranks (k = 1..n_ranks-1) the count #{rank < k} is Binomial(n, z_k)
    under uniformity. A pointwise band with tail probability g/2 on each side is
    widened (g lowered) until ``prob`` of simulated uniform rank sets lie inside it at
    every point at once.

    Returns
    -------
    z : (K,) evaluation points
    lower, upper : (K,) band on the ECDF (fractions)
    gamma : the pointwise level used
    """
    from scipy import stats

    key = (n, n_ranks, prob, n_sim, seed)
    if key in _BAND_CACHE:
        return _BAND_CACHE[key]
    z = np.arange(1, n_ranks) / n_ranks
    rng = np.random.default_rng(seed)
    sims = rng.integers(0, n_ranks, size=(n_sim, n))
    counts = np.zeros((n_sim, n_ranks), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_sim), n), sims.ravel()), 1)
    below = np.cumsum(counts, axis=1)[:, :-1]  # #{rank <= k-1} = #{rank < k}
    cdf = stats.binom.cdf(below, n, z)
    sf = stats.binom.sf(below - 1, n, z)  # P(X >= count)
    g_sim = np.minimum(1.0, 2.0 * np.minimum(cdf, sf)).min(axis=1)
    gamma = float(np.quantile(g_sim, 1.0 - prob))
    lower = stats.binom.ppf(gamma / 2, n, z) / n
    upper = stats.binom.ppf(1 - gamma / 2, n, z) / n
    _BAND_CACHE[key] = (z, lower, upper, gamma)
    return z, lower, upper, gamma


def ecdf_in_band(ranks, n_ranks: int, prob: float = 0.99, **kw) -> tuple[bool, float]:
    """Whether the rank ECDF lies inside the simultaneous band at every point.

    Returns (inside, largest |ECDF - z| outside-band excess, 0 when inside).
    """
    ranks = np.asarray(ranks, dtype=int)
    z, lower, upper, _ = ecdf_band(ranks.size, n_ranks, prob, **kw)
    f = ecdf_at(ranks, n_ranks)
    excess = np.maximum(lower - f, f - upper)
    return bool(np.all(excess <= 1e-12)), float(max(0.0, excess.max()))


def ecdf_at(ranks, n_ranks: int) -> np.ndarray:
    """ECDF of ranks at z_k = k/n_ranks, k = 1..n_ranks-1: fraction of ranks < k."""
    ranks = np.asarray(ranks, dtype=int)
    return np.cumsum(np.bincount(ranks, minlength=n_ranks))[:-1] / ranks.size


def uniformity_table(ranks_df, quantities, n_ranks: int, *, bins: int = 20, prob: float = 0.99,
                     ok_mask=None):
    """Per-quantity chi2 test and ECDF-band verdict on the ranks in ``ranks_df``."""
    import pandas as pd

    rows = []
    for q in quantities:
        r = ranks_df[q].dropna().astype(int).to_numpy()
        chi2, dof, p = chi2_uniform(r, n_ranks, bins)
        inside, excess = ecdf_in_band(r, n_ranks, prob) if r.size else (False, np.nan)
        row = {"quantity": q, "n": int(r.size), "chi2": chi2, "dof": dof, "p_value": p,
               "ecdf_in_band": inside, "ecdf_excess": excess}
        if ok_mask is not None:
            r_ok = ranks_df.loc[ok_mask, q].dropna().astype(int).to_numpy()
            row["n_clean"] = int(r_ok.size)
            row["p_value_clean"] = chi2_uniform(r_ok, n_ranks, bins)[2] if r_ok.size else np.nan
            row["ecdf_in_band_clean"] = ecdf_in_band(r_ok, n_ranks, prob)[0] if r_ok.size else False
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------
# quantities of interest, from the truth (one draw) or a thinned posterior
# ----------------------------------------------------------------------------------------

def quantity_names(cfg: SBCConfig, modalities, segments) -> list[str]:
    names = [f"mu[{t}]" for t in cfg.mu_treatments]
    names += [f"class_effect[{m}]" for m in modalities]
    names += ["sigma_study", "tau_treatment"]
    names += [f"gamma[{s}]" for s in segments]
    names += [f"rmst{cfg.rmst_horizon:g}[{t}]" for t in cfg.rmst_treatments]
    return names


def quantities(ds, constant_data, cfg: SBCConfig) -> dict[str, np.ndarray]:
    """Every ranked quantity as a flat array over (chain, draw) of ``ds``.

    ``ds`` is a posterior- or prior-like ``xarray.Dataset`` with dims (chain, draw, ...);
    the patient's RMST uses :func:`rhcc_bayes.predict.profile_log_hazard` and
    :func:`rhcc_bayes.decide.rmst` exactly as the decision reports do.
    """
    from types import SimpleNamespace

    from rhcc_bayes.survival.piecewise import rmst
    from rhcc_bayes.survival.predict import profile_log_hazard

    out = {}
    for t in cfg.mu_treatments:
        out[f"mu[{t}]"] = ds["mu"].sel(treatment=t).values.ravel()
    for m in ds["class_effect"].modality.values:
        out[f"class_effect[{m}]"] = ds["class_effect"].sel(modality=m).values.ravel()
    out["sigma_study"] = ds["sigma_study"].values.ravel()
    out["tau_treatment"] = ds["tau_treatment"].values.ravel()
    for s in ds["gamma"].segment.values:
        out[f"gamma[{s}]"] = ds["gamma"].sel(segment=s).values.ravel()
    like = SimpleNamespace(posterior=ds, constant_data=constant_data)
    lh, cuts = profile_log_hazard(like, dict(cfg.patient))
    for t in cfg.rmst_treatments:
        out[f"rmst{cfg.rmst_horizon:g}[{t}]"] = np.asarray(
            rmst(lh.sel(treatment=t).values, cuts, cfg.rmst_horizon)).ravel()
    return out


def _constant_data(design, spec):
    """``constant_data`` (is_ablation, cuts) as :func:`rhcc_bayes.workflow.attach_metadata` stores it."""
    import arviz as az
    import xarray as xr

    from rhcc_bayes.survival.metadata import attach_metadata

    dummy = az.InferenceData(posterior=xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 1)))}))
    return attach_metadata(dummy, design, spec, "sbc").constant_data


# ----------------------------------------------------------------------------------------
# simulation (driver) and refits (workers)
# ----------------------------------------------------------------------------------------

def _setup(spec_name: str):
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.evidence.table import load_evidence
    from rhcc_bayes.specs import load_spec

    spec = load_spec(spec_name)
    design = make_design(load_evidence(), spec)
    model = build_survival_model(design, spec)
    return spec, design, model


def simulate_all(cfg: SBCConfig):
    """Truth draws and simulated observations for all ``cfg.sims`` simulations.

    The batched equivalent of calling :func:`rhcc_bayes.simulate.simulate_design` once
    per simulation (one forward-sampling compile instead of ``sims``): draw ``i`` of the
    prior is truth ``i``, draw ``i`` of the prior predictive its data.

    Returns
    -------
    tasks : list of dict  (sim, seed, observed data per ``pm.Data`` container, truth quantities)
    names : list of str   (ranked quantities, in table order)
    """
    import pymc as pm

    from rhcc_bayes.survival.simulate import replace_observations

    spec, design, model = _setup(cfg.spec)
    prior = pm.sample_prior_predictive(draws=cfg.sims, model=model, random_seed=cfg.seed)
    const = _constant_data(design, spec)
    names = quantity_names(cfg, model.coords["modality"], model.coords["segment"])
    truth_q = quantities(prior.prior, const, cfg)  # each (sims,)
    data_names = {rv.name: f"{rv.name}_data" for rv in model.observed_RVs}
    seeds = np.random.SeedSequence(cfg.seed).generate_state(cfg.sims, dtype=np.uint32)
    tasks = []
    for i in range(cfg.sims):
        observed = {v: prior.prior_predictive[v].values[0, i] for v in data_names}
        # round-trip through the project's own replacement so the simulated design is the
        # one simulate_design would return (counts land in the design tables)
        sim_design = replace_observations(design, observed)
        data = {}
        for var, name in data_names.items():
            if var == "landmark_deaths":
                data[name] = sim_design.landmarks["deaths"].to_numpy()
            elif var == "median_alive":
                med = sim_design.medians
                data[name] = med.loc[med["se_log"].isna(), "alive"].to_numpy()
            else:
                data[name] = np.asarray(observed[var])
        tasks.append({
            "sim": i, "seed": int(seeds[i]), "data": {k: np.asarray(v).tolist() for k, v in data.items()},
            "truth": {q: float(truth_q[q][i]) for q in names},
        })
    return tasks, names


def _worker_state(spec_name: str):
    """(spec, design, model, compiled model, constant_data), compiled once per process.

    Kept in a process-wide registry module (``sys.modules``) rather than a global of this
    file: when this file runs as a script, dask/cloudpickle ships its functions *by value*
    and a module-level dict would arrive empty with every task.
    """
    import types

    registry = sys.modules.setdefault("_rhcc_sbc_worker", types.ModuleType("_rhcc_sbc_worker"))
    lock = registry.__dict__.setdefault("lock", threading.Lock())  # dict.setdefault is atomic
    with lock:  # threads of one distributed worker must not compile twice
        cache = registry.__dict__.setdefault("cache", {})
        if spec_name not in cache:
            from rhcc_bayes.inference.sampling import compile_model

            spec, design, model = _setup(spec_name)
            compiled = compile_model(model, "nutpie")
            cache[spec_name] = (spec, design, model, compiled, _constant_data(design, spec))
        return cache[spec_name]


def fit_one(task: dict, cfg_dict: dict) -> dict:
    """Refit one simulated data set and rank its truth. Never raises: errors are recorded."""
    t0 = time.perf_counter()
    cfg = SBCConfig(**{**cfg_dict, "mu_treatments": tuple(cfg_dict["mu_treatments"]),
                       "rmst_treatments": tuple(cfg_dict["rmst_treatments"])})
    result = {"sim": task["sim"], "seed": task["seed"], "truth": task["truth"], "pid": os.getpid(), "error": "",
              "divergences": -1, "gate_passed": False, "gate_failures": -1, "max_r_hat": np.nan,
              "min_ess_bulk": np.nan, "min_ess_tail": np.nan, "compile_s": 0.0, "fit_s": np.nan, "ranks": {}}
    try:
        import warnings

        from rhcc_bayes.inference.diagnostics import check_gate
        from rhcc_bayes.inference.sampling import CompiledModel, SamplerSettings, sample
        from rhcc_bayes.synthesis import gate_var_names

        fresh = "_rhcc_sbc_worker" not in sys.modules or cfg.spec not in getattr(
            sys.modules["_rhcc_sbc_worker"], "cache", {})
        spec, design, model, compiled, const = _worker_state(cfg.spec)
        if fresh:
            result["compile_s"] = float(compiled.compile_seconds)
        native = compiled.native.with_data(**{k: np.asarray(v) for k, v in task["data"].items()})
        settings = SamplerSettings(chains=cfg.chains, draws=cfg.draws, tune=cfg.tune,
                                   target_accept=cfg.target_accept, cores=1,
                                   low_rank_mass_matrix=cfg.low_rank_mass_matrix)
        t_fit = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = sample(model, settings, seed=task["seed"], progressbar=False, log_likelihood=False,
                           posterior_predictive=False,
                           compiled=CompiledModel(model, "nutpie", native, compiled.compile_seconds))
            result["fit_s"] = time.perf_counter() - t_fit
            report = check_gate(idata, var_names=gate_var_names(idata))
        result["low_rank_mass_matrix"] = int(idata.attrs.get("low_rank_mass_matrix", -1))
        result.update(divergences=int(report.divergences), gate_passed=bool(report.passed),
                      gate_failures=len(report.failures),
                      max_r_hat=float(report.summary["r_hat"].max()),
                      min_ess_bulk=float(report.summary["ess_bulk"].min()),
                      min_ess_tail=float(report.summary["ess_tail"].min()))
        post = idata.posterior
        keep = np.floor(np.arange(cfg.thin_to) * (post.sizes["chain"] * post.sizes["draw"] / cfg.thin_to)).astype(int)
        flat = post.stack(sample=("chain", "draw")).isel(sample=keep)
        thinned = flat.drop_vars(["sample", "chain", "draw"]).rename({"sample": "draw"}).expand_dims("chain")
        thinned = thinned.transpose("chain", "draw", ...)
        post_q = quantities(thinned, const, cfg)
        result["ranks"] = {q: rank_of(task["truth"][q], v) for q, v in post_q.items()}
    except Exception as err:  # recorded and reported, never silently dropped
        result["error"] = f"{type(err).__name__}: {err} | {traceback.format_exc(limit=3)[-400:]}"
    result["total_s"] = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------------------
# running, checkpointing, reporting
# ----------------------------------------------------------------------------------------

def _write_atomic(path: Path, writer) -> None:
    """Write via a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        writer(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _checkpoint(partial: Path, result: dict) -> None:
    def w(tmp):
        with open(tmp, "w") as fh:
            json.dump(result, fh, default=float)
    _write_atomic(partial / f"sim_{result['sim']:04d}.json", w)


def _load_checkpoints(partial: Path) -> dict[int, dict]:
    done = {}
    for p in sorted(partial.glob("sim_*.json")):
        with open(p) as fh:
            r = json.load(fh)
        done[int(r["sim"])] = r
    return done


class _Progress:
    def __init__(self, total: int, already: int, partial: Path):
        self.total, self.done, self.partial, self.t0 = total, already, partial, time.perf_counter()
        self.started = already

    def __call__(self, result: dict) -> None:
        _checkpoint(self.partial, result)
        self.done += 1
        el = time.perf_counter() - self.t0
        rate = (self.done - self.started) / el if el > 0 else 0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        status = "ERROR " + result["error"][:80] if result["error"] else (
            f"div={result['divergences']} gate={'ok' if result['gate_passed'] else 'FAIL'} "
            f"rhat={result['max_r_hat']:.3f} essb={result['min_ess_bulk']:.0f}")
        comp = f" (compile {result['compile_s']:.0f}s)" if result.get("compile_s") else ""
        print(f"[sbc {self.done}/{self.total} {el:6.0f}s eta {eta:5.0f}s] sim {result['sim']:3d} "
              f"pid {result['pid']} fit {result['fit_s']:.1f}s{comp} {status}", file=sys.stderr, flush=True)


def run_local(tasks, cfg_dict, on_result, *, workers: int, scheduler: str = "processes"):
    """Run on this machine with dask's local scheduler; ``on_result`` sees each result as it finishes."""
    import dask
    from dask.callbacks import Callback

    class _CB(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if isinstance(result, dict) and "ranks" in result:
                on_result(result)

    delayed = [dask.delayed(fit_one, pure=False)(t, cfg_dict, dask_key_name=f"sbc-fit-{t['sim']}") for t in tasks]
    with _CB():
        # chunksize=1: results (and checkpoints, progress) come back one fit at a time
        kw = {"num_workers": workers, "chunksize": 1} if scheduler == "processes" else (
            {"num_workers": workers} if scheduler == "threads" else {})
        return list(dask.compute(*delayed, scheduler="synchronous" if scheduler == "sync" else scheduler, **kw))


def run_distributed(tasks, cfg_dict, on_result, *, address: str):
    """Run on an existing dask.distributed cluster (``distributed.Client(address)``)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SystemExit("--scheduler needs dask.distributed: pip install 'rhcc-bayes[dist]'") from None
    with Client(address) as client:
        print(f"[sbc] connected to {address}: {len(client.scheduler_info()['workers'])} workers",
              file=sys.stderr, flush=True)
        futures = [client.submit(fit_one, t, cfg_dict, pure=False, key=f"sbc-fit-{t['sim']}") for t in tasks]
        out = []
        for fut in as_completed(futures):
            r = fut.result()
            on_result(r)
            out.append(r)
        return out


def assemble(results: list[dict], names: list[str], truths: dict | None = None):
    """ranks.csv frame: one row per simulation (errors kept, with empty ranks).

    With ``truths`` ({sim: {quantity: value}}) the true values are added as
    ``truth:<quantity>`` columns, to relate fit problems to where the truth lies.
    """
    import pandas as pd

    rows = []
    for r in sorted(results, key=lambda r: r["sim"]):
        row = {k: r.get(k, np.nan) for k in ("sim", "seed", "divergences", "gate_passed", "gate_failures",
                                             "max_r_hat", "min_ess_bulk", "min_ess_tail", "fit_s",
                                             "low_rank_mass_matrix", "error")}
        row.update({q: r["ranks"].get(q, np.nan) for q in names})
        # the truth the fit was ranked against (stored with the checkpoint)
        truth = r.get("truth") or (truths or {}).get(r["sim"])
        if truth is not None:
            row.update({f"truth:{q}": truth[q] for q in names})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_ranks(ranks_df, summary, names, n_ranks: int, path: Path, *, bins: int = 20, prob: float = 0.99):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = 6  # 3 quantities per row: histogram + ECDF difference each
    nrow = int(np.ceil(len(names) / 3))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.2 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    for i, q in enumerate(names):
        r = ranks_df[q].dropna().astype(int).to_numpy()
        ah, ae = axes[i // 3, 2 * (i % 3)], axes[i // 3, 2 * (i % 3) + 1]
        ah.set_visible(True)
        ae.set_visible(True)
        row = summary.set_index("quantity").loc[q]
        if r.size == 0:
            continue
        from scipy import stats

        b = min(bins, n_ranks)
        ah.hist(r * b // n_ranks, bins=np.arange(b + 1) - 0.5, color="0.6", edgecolor="white")
        e = r.size / b
        lo, hi = stats.binom.ppf([0.005, 0.995], r.size, 1 / b)
        ah.axhspan(lo, hi, color="tab:blue", alpha=0.15, lw=0)
        ah.axhline(e, color="tab:blue", lw=0.8)
        ah.set_title(f"{q}\nchi2 p={row['p_value']:.3f}", fontsize=8)
        ah.tick_params(labelsize=6)
        z, lower, upper, _ = ecdf_band(r.size, n_ranks, prob)
        f = ecdf_at(r, n_ranks)
        ae.fill_between(z, lower - z, upper - z, color="tab:blue", alpha=0.2, step="mid", lw=0)
        ae.step(z, f - z, where="mid", color="tab:red" if not row["ecdf_in_band"] else "k", lw=0.9)
        ae.axhline(0, color="0.5", lw=0.5)
        ae.set_title(f"ECDF diff ({'in' if row['ecdf_in_band'] else 'OUT OF'} {prob:.0%} band)", fontsize=8)
        ae.tick_params(labelsize=6)
    fig.suptitle(f"SBC ranks, {len(ranks_df)} simulations, L = {n_ranks - 1}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    _write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


def format_table(summary, ranks_df) -> str:
    n_clean = int(summary["n_clean"].iloc[0]) if "n_clean" in summary and len(summary) else 0
    lines = [f"{'quantity':<28} {'n':>4} {'chi2':>7} {'p':>7} {'ECDF 99%':>9}  {'p(no-div)':>9} {'band(no-div)':>12}"]
    for _, r in summary.iterrows():
        lines.append(f"{r['quantity']:<28} {r['n']:>4d} {r['chi2']:>7.1f} {r['p_value']:>7.3f} "
                     f"{'yes' if r['ecdf_in_band'] else 'NO':>9}  {r.get('p_value_clean', np.nan):>9.3f} "
                     f"{'yes' if r.get('ecdf_in_band_clean', False) else 'NO':>12}")
    ok = ranks_df["error"].fillna("") == ""
    lines.append("")
    lines.append(f"fits: {len(ranks_df)}; errors: {int((~ok).sum())}; failing the diagnostics gate: "
                 f"{int((~ranks_df['gate_passed'].astype(bool) & ok).sum())}; with divergences: "
                 f"{int((ranks_df['divergences'] > 0).sum())} (total {int(ranks_df.loc[ok, 'divergences'].sum())} "
                 f"divergent transitions); median fit {ranks_df['fit_s'].median():.1f}s")
    lines.append(f"'no-div' = the {n_clean} fits without divergences (a sensitivity check only: dropping "
                 "fits conditions on the data and can itself distort SBC ranks)")
    k = len(summary)
    lines.append(f"{k} quantities (correlated): Bonferroni chi2 threshold {0.05 / k:.4f}; about "
                 f"{0.01 * k:.2f} ECDF band exits expected by chance at the 99% level if independent")
    return "\n".join(lines)


def run_sbc(cfg: SBCConfig, out: Path, *, workers: int | None = None, scheduler: str | None = None,
            local_scheduler: str = "processes", bins: int = 20, prob: float = 0.99, fresh: bool = False):
    """Run (or resume) the SBC and write ranks.csv, summary.csv, ranks.png to ``out``.

    Returns (ranks_df, summary_df, wall_seconds).
    """
    t0 = time.perf_counter()
    out = Path(out)
    # checkpoints per configuration: a run with other settings never reuses (or deletes) them
    partial = out / "partial" / cfg.key()
    partial.mkdir(parents=True, exist_ok=True)
    cfg_path = partial / "config.json"
    if fresh:
        for p in partial.glob("sim_*.json"):
            p.unlink()
    _write_atomic(cfg_path, lambda tmp: Path(tmp).write_text(json.dumps({"key": cfg.key(), **asdict(cfg)}, indent=1)))
    done = _load_checkpoints(partial)

    print(f"[sbc] simulating {cfg.sims} data sets from the prior ({cfg.spec} spec, bundled design)",
          file=sys.stderr, flush=True)
    tasks, names = simulate_all(cfg)
    todo = [t for t in tasks if t["sim"] not in done]
    print(f"[sbc] {len(done)} already done, {len(todo)} to fit; {cfg.chains} chains x {cfg.draws} draws "
          f"(tune {cfg.tune}, target_accept {cfg.target_accept}, "
          f"{'low-rank' if cfg.low_rank_mass_matrix else 'diagonal'} mass matrix), ranks among "
          f"L = {cfg.thin_to} thinned draws; checkpoints in {partial}", file=sys.stderr, flush=True)
    progress = _Progress(cfg.sims, len(done), partial)
    cfg_dict = asdict(cfg)
    if todo:
        if scheduler:
            results = run_distributed(todo, cfg_dict, progress, address=scheduler)
        else:
            w = 1 if local_scheduler == "sync" else (workers or os.cpu_count() or 1)
            print(f"[sbc] dask local '{local_scheduler}' scheduler, {w} worker(s) (each compiles once)",
                  file=sys.stderr, flush=True)
            results = run_local(todo, cfg_dict, progress, workers=w, scheduler=local_scheduler)
        for r in results:
            done[int(r["sim"])] = r
    results = [done[i] for i in sorted(done) if i < cfg.sims]

    ranks_df = assemble(results, names, {t["sim"]: t["truth"] for t in tasks})
    # sensitivity subset: fits without divergences (most fits miss the ESS >= 400 part of
    # the gate at the reduced SBC sampler settings, so a gate-passing subset would be tiny)
    ok = (ranks_df["error"] == "") & (ranks_df["divergences"] == 0)
    summary = uniformity_table(ranks_df, names, cfg.thin_to + 1, bins=bins, prob=prob, ok_mask=ok)
    summary["gate_failures"] = int((~ranks_df["gate_passed"].astype(bool)).sum())
    summary["fits_with_divergences"] = int((ranks_df["divergences"] > 0).sum())
    summary["errors"] = int((ranks_df["error"] != "").sum())
    _write_atomic(out / "ranks.csv", lambda tmp: ranks_df.to_csv(tmp, index=False))
    _write_atomic(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    plot_ranks(ranks_df, summary, names, cfg.thin_to + 1, out / "ranks.png", bins=bins, prob=prob)
    return ranks_df, summary, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sims", type=int, default=100, help="number of simulations (default 100)")
    p.add_argument("--seed", type=int, default=SBCConfig.seed)
    p.add_argument("--spec", default="sbc")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=500, help="draws per chain per fit (default 500)")
    p.add_argument("--tune", type=int, default=500, help="tuning draws per chain per fit (default 500)")
    p.add_argument("--target-accept", type=float, default=0.9)
    p.add_argument("--low-rank-mass-matrix", action="store_true",
                   help="nutpie low-rank mass matrix adaptation (default: diagonal, the project default)")
    p.add_argument("--thin-to", type=int, default=199, help="L, posterior draws kept for ranking (default 199)")
    p.add_argument("--bins", type=int, default=20, help="chi-square bins (default 20)")
    p.add_argument("--prob", type=float, default=0.99, help="ECDF band level (default 0.99)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    p.add_argument("--local-scheduler", choices=("processes", "threads", "sync"), default="processes")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints in OUT/partial")
    a = p.parse_args(argv)
    if a.chains * a.draws < a.thin_to:
        p.error("--thin-to must not exceed chains x draws")
    cfg = SBCConfig(spec=a.spec, sims=a.sims, seed=a.seed, chains=a.chains, draws=a.draws, tune=a.tune,
                    target_accept=a.target_accept, low_rank_mass_matrix=a.low_rank_mass_matrix,
                    thin_to=a.thin_to)
    ranks_df, summary, wall = run_sbc(cfg, a.out, workers=a.workers, scheduler=a.scheduler,
                                      local_scheduler=a.local_scheduler, bins=a.bins, prob=a.prob, fresh=a.fresh)
    print(format_table(summary, ranks_df))
    print(f"\nwall time {wall:.0f}s (this invocation); results in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
