"""Time the inconsistency checks: NMA UME + node-splitting, and the survival contrast check.

Prints, for an NMA spec on its reference evidence, the wall time of the consistency fit, the
UME refit and each node-splitting refit (compile + sampling, no cache), the UME comparison and
the node-split table; then the time of ``contrast_check`` on a survival posterior (the default
spec, from ``--cache-dir`` when cached there).

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/inconsistency.py                       # diabetes RE
    PYTHONPATH=src .venv/bin/python benchmarks/inconsistency.py --spec nma_parkinsons_fe \\
        --evidence examples/reference/parkinsons_contrast.csv --skip-survival
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="nma_diabetes_re")
    parser.add_argument("--evidence", default="examples/reference/diabetes.csv")
    parser.add_argument("--cache-dir", default=None, help="survival posterior cache (default: a temporary folder)")
    parser.add_argument("--skip-survival", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from rhcc_bayes.nma.inconsistency import node_split, ume_comparison, ume_spec
    from rhcc_bayes.synthesis import Synthesis

    timings = []

    def timed_fit(spec):
        t0 = time.perf_counter()
        post = Synthesis(spec, args.evidence).fit(allow_unconverged=True, progressbar=False)
        timings.append((spec.name, time.perf_counter() - t0, post.converged))
        return post

    t_all = time.perf_counter()
    base = timed_fit(Synthesis(args.spec, args.evidence).spec)
    ume = ume_comparison(base.synthesis.nma_data, base.spec, base, timed_fit(ume_spec(base.spec)))
    split = node_split(base.synthesis.nma_data, base.spec, timed_fit, network_idata=base.idata)
    total = time.perf_counter() - t_all
    for name, seconds, ok in timings:
        print(f"{seconds:7.1f} s  {'gate ok' if ok else 'GATE FAILED'}  {name}")
    print(f"{total:7.1f} s  total for {len(timings)} fits\n")
    print(ume.to_text(), "\n")
    print(split.to_text(), "\n")

    if not args.skip_survival:
        from rhcc_bayes.survival.contrast_check import contrast_check, contrast_check_text

        cache = args.cache_dir or tempfile.mkdtemp(prefix="rhcc_bench_")
        t0 = time.perf_counter()
        post = Synthesis("default").fit(cache_dir=cache, allow_unconverged=True, progressbar=False)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = contrast_check(post.idata, post.design)
        print(f"survival fit {fit_s:.1f} s ({'cache hit' if post.cache_hit else 'fresh'}); "
              f"contrast_check {time.perf_counter() - t0:.2f} s for {len(table)} contrasts")
        print(contrast_check_text(table))


if __name__ == "__main__":
    main()
