"""Build and sample the Stan twin with PyStan 3 (httpstan), returning ArviZ-ready draws.

``pip install pystan`` (3.x) brings httpstan, which compiles the program once with g++ and
caches the extension module by program text (``~/.cache/httpstan``), so a new process that
builds the same program only loads it.
"""

from __future__ import annotations

import subprocess
import time

import numpy as np

from . import export

#: httpstan runs ``stanc --warn-pedantic`` with a hard 1 s timeout; the pedantic analysis of
#: the twin takes ~0.5 s CPU, so on a loaded 2-core machine the first build fails with
#: ``subprocess.TimeoutExpired`` (reported by PyStan as a JSON ``TAPE_ERROR``). Cached
#: builds never call stanc; only the first compile needs the longer bound.
STANC_TIMEOUT_S = 120


def _lift_stanc_timeout() -> None:
    import httpstan.compile

    class _Subprocess:
        def __getattr__(self, name):
            return getattr(subprocess, name)

        @staticmethod
        def run(*args, **kwargs):
            kwargs["timeout"] = max(kwargs.get("timeout") or 0, STANC_TIMEOUT_S)
            return subprocess.run(*args, **kwargs)

    httpstan.compile.subprocess = _Subprocess()


def build(data: dict, seed: int):
    """``stan.build`` of the twin for ``data``; returns (model, seconds)."""
    import stan

    _lift_stanc_timeout()
    t0 = time.perf_counter()
    model = stan.build(export.program_code(), data=data, random_seed=seed)
    return model, time.perf_counter() - t0


def sample(model, *, chains: int, draws: int, tune: int, target_accept: float):
    """NUTS with Stan's defaults except the adaptation target; returns (fit, seconds)."""
    t0 = time.perf_counter()
    fit = model.sample(num_chains=chains, num_samples=draws, num_warmup=tune, delta=target_accept)
    return fit, time.perf_counter() - t0


def draws_of(fit, name: str) -> np.ndarray:
    """Draws of a Stan variable as (chain, draw, *shape).

    PyStan 3 returns ``(*shape, draw * chain)`` with the chain index varying fastest
    (``Fit._draws`` is (param, draw, chain), flattened in C order).
    """
    values = np.asarray(fit[name])
    chains = fit.num_chains
    shape = tuple(fit.dims[fit.param_names.index(name)]) if name in fit.param_names else ()
    if values.size == 0:  # a zero-size variable (e.g. the length-of-stay block without data)
        return np.zeros((chains, np.asarray(fit["lp__"]).size // chains, *shape))
    values = values.reshape(*shape, -1, chains)
    return np.moveaxis(np.moveaxis(values, -1, 0), -1, 1)


def divergences(fit) -> int:
    return int(np.asarray(fit["divergent__"]).sum())


