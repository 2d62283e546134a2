"""Benchmark loading a cached posterior in a fresh process (what every CLI call on a cache hit pays).

Each repetition runs a new interpreter and reports: importing the package, the
``Synthesis(spec).fit(cache_dir=...)`` cache hit (read with xarray, content digest checked),
one decision, and what the first access to ``.idata`` adds (importing ArviZ, building the
``arviz.InferenceData`` from the datasets already read).

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
from rhcc_bayes.decision.profile import PatientProfile
from rhcc_bayes.synthesis import Synthesis
t1 = time.perf_counter()
post = Synthesis(sys.argv[1]).fit(cache_dir=sys.argv[2], allow_unconverged=True)
t2 = time.perf_counter()
post.decide(PatientProfile(id="p", tumour_size_cm=2.5, nodules=1, months_since_treatment=30))
t3 = time.perf_counter()
no_arviz = "arviz" not in sys.modules
import arviz
t4 = time.perf_counter()
idata = post.idata
t5 = time.perf_counter()
assert post.cache_hit and isinstance(idata, arviz.InferenceData) and no_arviz
print(json.dumps({"import rhcc_bayes (+xarray, pandas)": t1 - t0, "Synthesis.fit (cache hit, tree)": t2 - t1,
                  "decide one profile": t3 - t2, "process total without ArviZ": t3 - t0,
                  "import arviz (first .idata)": t4 - t3, "build InferenceData": t5 - t4}))
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
