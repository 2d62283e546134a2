"""Benchmark loading a cached posterior in a fresh process (what every CLI call on a cache hit pays).

Each repetition runs a new interpreter and reports: importing xarray/h5netcdf/pandas, importing
ArviZ, reading the groups into an ``arviz.InferenceData`` (``inference.cache.load_idata``), the
content-digest check, and the whole ``Synthesis(spec).fit(cache_dir=...)`` cache hit.

    .venv/bin/python benchmarks/cache_hit.py [--spec default] [--cache-dir .rhcc_cache] [--repeat 3]

The spec is fitted first when its posterior is not cached yet.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import h5netcdf, pandas, xarray
t1 = time.perf_counter()
import arviz
t2 = time.perf_counter()
from rhcc_bayes.inference.cache import content_digest, load_idata
from rhcc_bayes.synthesis import Synthesis
synthesis = Synthesis(sys.argv[1])
path = synthesis.cache_path(sys.argv[2])
t3 = time.perf_counter()
idata = load_idata(path)
t4 = time.perf_counter()
content_digest(idata)
t5 = time.perf_counter()
post = synthesis.fit(cache_dir=sys.argv[2], allow_unconverged=True)
t6 = time.perf_counter()
assert post.cache_hit and isinstance(post.idata, arviz.InferenceData)
print(json.dumps({"import xarray+h5netcdf+pandas": t1 - t0, "import arviz": t2 - t1, "load_idata": t4 - t3,
                  "content digest": t5 - t4, "Synthesis.fit (cache hit)": t6 - t5, "process total": t6 - t0}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="default")
    parser.add_argument("--cache-dir", default=".rhcc_cache")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from rhcc_bayes.synthesis import Synthesis

    Synthesis(args.spec).fit(cache_dir=args.cache_dir, allow_unconverged=True)  # make sure it is cached
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, args.spec, args.cache_dir], check=True,
                             capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"{key:32s} median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
