"""Where a refit of the survival model spends its time: cold cache, warm new process, in-process.

Runs the fit of a spec in fresh Python processes and prints one row per case with the
phases of :func:`rhcc_bayes.inference.sampling.sample` (``on_phase``):

* ``cold``  -- a new process with an empty PyTensor/numba compile cache (a temporary
  ``base_compiledir``): everything compiles;
* ``warm, no index`` -- a new process with PyTensor's numba cache of a previous run but
  without the compile index (:mod:`rhcc_bayes.inference.compile_index`): every PyTensor
  graph is rebuilt and rewritten, the numba code loads from disk (the path before the index);
* ``warm``  -- a new process with the compile cache and index of a previous run (the normal
  refit): the compiled model is rebuilt from the index, no PyTensor rewrite;
* ``in-process`` -- a second fit in the same process reusing the compiled model
  (``sample(..., compiled=...)``, another seed), as a long-lived worker would.

``--nutpie-own`` compiles with ``nutpie.compile_pymc_model`` (uncached C wrappers) instead of
:mod:`rhcc_bayes.inference.nutpie_cache`, for the before/after comparison. Whole-process
wall time includes interpreter start-up and shutdown; ``--child`` runs a single warm
process (e.g. to time it from outside with ``/usr/bin/time -v``).

    PYTHONPATH=src python benchmarks/refit.py [--spec default] [--draws N --tune N] [--no-cold] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

T_START = time.perf_counter()
PHASES = ["imports", "build", "compile", "sampling", "log_likelihood", "posterior_predictive"]


def child(args) -> dict:
    """One new-process refit; returns the phase times (seconds)."""
    import warnings

    warnings.simplefilter("ignore")
    from rhcc_bayes.inference import nutpie_cache, sampling
    from rhcc_bayes.synthesis import Synthesis

    import nutpie  # noqa: F401  (counted with the imports)
    import pymc  # noqa: F401

    if args.nutpie_own:
        nutpie_cache.compile_cached = lambda model: (nutpie.compile_pymc_model(model), False)
    if args.no_index:
        from rhcc_bayes.inference import compile_index

        compile_index.read_entry = lambda key: None
    times = {"imports": time.perf_counter() - T_START}
    t0 = time.perf_counter()
    overrides = {k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v}
    syn = Synthesis(args.spec, settings=overrides or None)
    model = syn.build_model()
    times["build"] = time.perf_counter() - t0
    compiled = sampling.compile_model(model, syn.settings.backend)
    phases = {"compile": compiled.compile_seconds}
    times["from_index"] = getattr(compiled.native, "logp_func", 0) is None
    idata = sampling.sample(model, syn.settings, seed=1, compiled=compiled,
                            on_phase=lambda p, s: phases.setdefault(p, s))
    times.update(phases)
    times["checksum"] = float(idata.posterior["mu"].values.sum())
    if args.single:
        return times
    again: dict = {}
    t0 = time.perf_counter()
    sampling.sample(model, syn.settings, seed=2, compiled=compiled, on_phase=lambda p, s: again.setdefault(p, s))
    times["in_process_total"] = time.perf_counter() - t0
    times["in_process"] = again
    return times


def run_child(args, env_extra: dict) -> tuple[dict, float]:
    cmd = [sys.executable, __file__, "--child", "--spec", args.spec]
    for key in ("draws", "tune"):
        if getattr(args, key):
            cmd += [f"--{key}", str(getattr(args, key))]
    for flag in ("nutpie_own", "no_index", "single"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **env_extra}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--draws", type=int, default=0, help="override the spec's draws")
    parser.add_argument("--tune", type=int, default=0, help="override the spec's tune")
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache run (slow)")
    parser.add_argument("--nutpie-own", action="store_true", help="nutpie's own (uncached) wrappers")
    parser.add_argument("--no-index", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help="warm new processes to run (the median is shown)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--single", action="store_true", help="with --child: one fit, no in-process refit")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    rows = []
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as tmp:
            times, wall = run_child(argparse.Namespace(**{**vars(args), "single": True}),
                                    {"PYTENSOR_FLAGS": f"base_compiledir={tmp}"})
        rows.append(("cold (empty cache)", times, wall))
    run_child(argparse.Namespace(**{**vars(args), "single": True}), {})  # fills the compile cache and index
    for name, extra in (("warm, no index", {"no_index": True, "single": True}), ("warm new process", {})):
        runs = [run_child(argparse.Namespace(**{**vars(args), **extra}), {}) for _ in range(args.repeat)]
        runs.sort(key=lambda r: r[0]["compile"])
        times, wall = runs[len(runs) // 2]  # the median by compile time
        rows.append((name, times, wall - times.get("in_process_total", 0.0)))
    inproc = dict(times["in_process"], imports=0.0, build=0.0)
    rows.append(("in-process refit", inproc, times["in_process_total"]))

    print(f"spec {args.spec!r}, {'nutpie own wrappers' if args.nutpie_own else 'cached wrappers'}; seconds")
    header = f"{'case':<20}" + "".join(f"{p[:10]:>11}" for p in PHASES) + f"{'whole':>9}  index  draws checksum"
    print(header)
    print("-" * len(header))
    for name, t, wall in rows:
        index = {True: "yes", False: "no"}.get(t.get("from_index"), "-")
        checksum = f"{t['checksum']!r}" if "checksum" in t else "(seed 2)"
        print(f"{name:<20}" + "".join(f"{t.get(p, 0.0):>11.2f}" for p in PHASES) + f"{wall:>9.2f}  {index:>5}  {checksum}")
    print("whole = wall time of the new process from outside (start-up to exit, without the "
          "in-process refit); "
          "in-process = a second sample() reusing the compiled model; index = compiled model "
          "rebuilt from the compile index; draws checksum = sum of the draws of mu (seed 1), "
          "equal when the draws are identical")


if __name__ == "__main__":
    main()
