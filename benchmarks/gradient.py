"""What one log-density gradient of the survival model costs, and what its graph is made of.

Compiles a spec's model for nutpie (numba) and times the compiled logp + dlogp function,
called directly (no sampler), at 20 points drawn around the initial point: the median and
minimum of 7 repeats of 300 sweeps, in microseconds per call (a Python-level call adds about
1 us). Also prints the number of nodes in the compiled graph and the most frequent operations,
the place to look for redundant work. NUTS spends nearly all of its sampling time here:
sampling seconds ~ chains x (tune + draws) x leapfrog steps x this cost / cores.

    PYTHONPATH=src python benchmarks/gradient.py [--spec default] [--arms N] [--top 12]

``--arms N`` times the model of a simulated evidence base of about N arms
(``benchmarks/scaling.py``'s design) instead of the spec's own evidence.

Measured 2026-11-30 on the default spec (model .8, 188 parameters, 709 nodes), load ~1.8 on
2 cores: 57 us per call (median of 4 runs 56.4-58.2). That accounts for the sampling time:
4 chains x (1500 + 2500) iterations x 31 steps x 57 us / 2 cores = 14.1 s against 14.7 s
measured. Replacing the graph's BLAS products with scatter/gather and broadcast sums (the
class-centring membership matrix and the exposure matrix) changed nothing (56.4-58.0 us, A/B
alternated): the cost is spread over the ~700 small operations (57 us / 709 nodes, about
80 ns each on average), not concentrated in a few of them.

Model .10 (2026-12-01, load ~1.1): the secondary-outcome sub-models as one block over a
``secondary_outcome`` dim instead of one sub-graph per outcome: 540 nodes, median 43.3-44.4 us
against 54.9-55.3 us for model .9 in the same alternated runs (0.80x). Gathering a 2-D
``effect[outcome, treatment]`` with two index vectors instead of one flat index made the whole
gradient 2.4x slower (numba's multi-index AdvancedIncSubtensor).

Model .15 (2026-12-01): PyMC's Binomial computes its coefficient, three ``gammaln`` per count
row, at every call, because the counts and n are data containers (PyTensor cannot fold them):
1236 landmark + 179 median rows at 660 simulated arms, ~3.9x that at 2587. In numba, three
lgamma per row cost 2.4x the row's log + log1p (a loop over 5500 rows, load ~5).
The count rows now look it up in a log-factorial table (survival/likelihood.binomial_logp), and
the parameter checks are row-wise instead of a second pass over the rows that recomputed p.
Timed as this script does, but model .14 and .15 each compiled once in its own process and
called in alternated rounds (6 rounds each of 5 x 30-100 sweeps x 20 points, a test-suite run on
both cores beside them), median of the rounds' medians: 660 arms 768 -> 631 us (0.82x;
per-round ratios 0.66-0.89, load 4.7-6.0); 2587 arms 2376 -> 1708 us (0.72x; per-round ratios 0.66-0.77, load 4.1). Absolute figures are 5-7x an
idle machine's (0.106 / 0.345 ms above); the ratios are the result. Nodes 384 -> 376.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings
from pathlib import Path


def compiled_logp(args):
    """nutpie's compiled model of the requested design, compiled in full (with its PyTensor function).

    The compile index's warm path rebuilds the model without PyTensor functions
    (``logp_func`` is ``None``), so this asks for the full compile the index replays.
    """
    from rhcc_bayes.inference import nutpie_cache

    if args.arms:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scaling import simulated_design

        from rhcc_bayes.survival.model import build_survival_model

        design, spec = simulated_design(args.arms, seed=1)
        model = build_survival_model(design, spec)
    else:
        from rhcc_bayes.synthesis import Synthesis

        model = Synthesis(args.spec).build_model()
    return nutpie_cache.compile_full(model)[0]


def time_calls(fn, points, shared, repeats: int = 7, sweeps: int = 300) -> list[float]:
    """Microseconds per call of ``fn(x, *shared)``, one figure per repeat."""
    for x in points:
        fn(x, *shared)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(sweeps):
            for x in points:
                fn(x, *shared)
        out.append((time.perf_counter() - t0) / (sweeps * len(points)) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--arms", type=int, default=0, help="a simulated design of about N arms instead")
    parser.add_argument("--top", type=int, default=12, help="how many operation kinds to list")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import numpy as np

    native = compiled_logp(args)
    fgraph = native.logp_func.maker.fgraph
    fn = native.logp_func.vm.jit_fn
    shared = [native.shared_data[v.name] for v in native.logp_func.get_shared()]
    rng = np.random.default_rng(1)
    start = native.initial_point_func(1) if hasattr(native, "initial_point_func") else np.zeros(native.n_dim)
    points = [np.asarray(start, float) + 0.1 * rng.standard_normal(native.n_dim) for _ in range(20)]
    per_call = time_calls(fn, points, shared)
    kinds = collections.Counter(
        type(n.op).__name__ + (f"[{n.op.scalar_op}]" if type(n.op).__name__ == "Elemwise" else "")
        for n in fgraph.apply_nodes)
    label = f"simulated {args.arms} arms" if args.arms else f"spec {args.spec!r}"
    print(f"{label}: {native.n_dim} parameters, {len(fgraph.apply_nodes)} nodes in the compiled logp+dlogp graph")
    print(f"logp+dlogp per call: median {np.median(per_call):.1f} us, min {min(per_call):.1f} us "
          f"(7 repeats x 300 sweeps x 20 points)")
    print("most frequent operations:")
    for kind, count in kinds.most_common(args.top):
        print(f"  {count:5d}  {kind[:90]}")


if __name__ == "__main__":
    main()
