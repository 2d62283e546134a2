"""``rhcc-bayes evidence validate`` at scale: rows, seconds, peak RSS.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/evidence_scale.py [--rows 10000 100000 1000000]``

Big files are made by repeating the bundled ``data/evidence.csv`` rows with fresh study
labels (``<study>__k<copy>``, ``includes`` renamed alike), so that every file is valid and
every copy goes through every rule. Each size is validated in a fresh process
(``python -m rhcc_bayes.cli.main evidence validate FILE --no-bundled``): wall seconds
include interpreter start and imports; CPU seconds (user + system) and peak RSS are that
child's ``ru_utime + ru_stime`` and ``ru_maxrss`` (``os.wait4``). Wall time depends on how
busy the shared machine is (the load average is printed), CPU time much less. Generated
files are kept in ``--dir`` (default: a temp folder) and reused.

``--distinct-text`` makes every ``notes`` and ``source`` cell distinct (row number
appended): nothing can be shared between rows, the worst case for memory.

Target (issue 13, item 8): 1M rows <= 60 s and <= 1.5 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "evidence.csv"


def make_file(path: Path, rows: int, distinct: bool = False) -> Path:
    """Write ``rows`` data rows: bundled rows repeated with fresh study labels.

    ``distinct``: every row's ``notes`` and ``source`` also get the row number appended, so
    that no two text cells are equal (the worst case for memory: nothing can be shared).
    """
    if path.exists():
        return path
    with BUNDLED.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        body = [r for r in reader if any(c.strip() for c in r)]
    study, includes = header.index("study"), header.index("includes")
    notes, source = header.index("notes"), header.index("source")
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        written, copy = 0, 0
        while written < rows:
            batch = []
            for r in body[: rows - written]:
                r = list(r)
                r[study] = f"{r[study]}__k{copy}"
                if r[includes]:
                    r[includes] = ";".join(f"{s.strip()}__k{copy}" for s in r[includes].split(";"))
                if distinct:
                    r[notes] = f"{r[notes]} [row {written + len(batch) + 1}]"
                    r[source] = f"{r[source]} [row {written + len(batch) + 1}]"
                batch.append(r)
            writer.writerows(batch)
            written += len(batch)
            copy += 1
    tmp.replace(path)
    return path


def run_validate(path: Path) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS MB, exit code, first output line) of one run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "rhcc_bayes.cli.main", "evidence", "validate", str(path),
           "--no-bundled"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    first = out.decode("utf-8", "replace").splitlines()[:1]
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, proc.returncode, first[0] if first else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--distinct-text", action="store_true",
                        help="make every notes/source cell distinct (worst case for memory)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "rhcc_evidence_scale")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'rows':>9}  {'MB file':>8}  {'seconds':>8}  {'CPU s':>7}  {'peak RSS MB':>11}  exit  "
          "output")
    for rows in args.rows:
        name = f"evidence_{rows}{'_distinct' if args.distinct_text else ''}.csv"
        path = make_file(args.dir / name, rows, args.distinct_text)
        seconds, cpu, rss, code, first = run_validate(path)
        size = path.stat().st_size / 1e6
        print(f"{rows:>9}  {size:>8.1f}  {seconds:>8.1f}  {cpu:>7.1f}  {rss:>11.0f}  {code:>4}  "
              f"{first[:60]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
