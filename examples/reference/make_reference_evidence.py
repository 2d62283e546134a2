"""Regenerate the reference-analysis evidence files from ``../shared/reference/*.csv``.

Usage::

    python examples/reference/make_reference_evidence.py [--reference-dir DIR] [--out DIR]

The published data sets (see the reference README) are rewritten in the project's
evidence format (``rhcc_bayes.schema.COLUMNS``), one row per reported number, each with
a ``source`` pointing to the README and study. Choices, also written into ``notes``:

* diabetes.csv -- one ``event``/``count`` row per arm: ``estimate`` = r, ``n`` = n,
  ``time_months`` = follow-up years x 12 (the evidence format is in months). The NMA
  specs set ``time_unit = "years"`` so the cloglog offset is log(years) as in TSD2 and
  the published baselines / absolute predictions reproduce.
* parkinsons_arm.csv -- one ``continuous``/``mean`` row per arm with ``se``.
* parkinsons_contrast.csv -- per study, an ``enrolment``/``count`` row declaring the
  reference arm (treatment, n; its own SE in ``se``: the covariance of the contrasts of
  the three-arm study 3, as in TSD2) and one ``mean_difference`` row per other arm.
* bcg.csv -- per trial, the log risk ratio vaccinated vs control as a contrast
  (``event``/``mean_difference``, se = sqrt of the README's variance) and an
  ``enrolment`` row declaring the control arm. Contrast form rather than two binomial
  arms because the published analysis is a normal-normal model of the log RR (a
  binomial arm model would need a log link and would not reproduce it).

Treatment codes are lower-case identifiers; the arm label keeps the original name.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parents[2] / "shared" / "reference"
README = "shared/reference/README.md"

COLUMNS = (
    "study", "ref", "arm", "treatment", "modality", "n", "outcome", "measure", "time_months",
    "estimate", "ci_low", "ci_high", "interval", "qualifier", "se", "unit", "comparator_arm",
    "population", "design", "size_min_cm", "size_max_cm", "nodules_max", "recurrence_timing",
    "prior_treatment", "bclc", "default_use", "source", "location", "notes",
)
COMMON = {"ref": "", "modality": "other", "population": "mixed", "design": "trial",
          "default_use": "yes"}

DIABETES_CODES = {
    "Diuretic": "diuretic", "Placebo": "placebo", "Beta Blocker": "beta_blocker",
    "CCB": "ccb", "ACE Inhibitor": "ace_inhibitor", "ARB": "arb",
}


def _fmt(x: float) -> str:
    """Shortest round-tripping decimal (no 69.60000000000001 from 5.8 * 12)."""
    return format(round(float(x), 10), ".12g")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _row(**values) -> dict[str, str]:
    return {c: str(values.get(c, COMMON.get(c, ""))) for c in COLUMNS}


def diabetes(ref: Path) -> list[dict[str, str]]:
    rows = []
    for line, r in enumerate(_read(ref / "diabetes.csv"), start=2):
        rows.append(_row(
            study=r["study"], arm=r["treatment"], treatment=DIABETES_CODES[r["treatment"]],
            n=r["n"], outcome="event", measure="count", time_months=_fmt(float(r["time"]) * 12),
            estimate=r["r"], unit="events",
            source=f"{README}: diabetes.csv (NICE DSU TSD2; Elliott & Meyer 2007), trial {r['study']}: "
                   f"r={r['r']} of n={r['n']}, follow-up {r['time']} years",
            location=f"shared/reference/diabetes.csv line {line}",
            notes="new diabetes cases; time_months = follow-up years x 12 (specs use time_unit = years)",
        ))
    return rows


def _parkinsons_code(t: str) -> str:
    return "placebo" if t == "1" else f"trt_{t}"


def parkinsons_arm(ref: Path) -> list[dict[str, str]]:
    rows = []
    for line, r in enumerate(_read(ref / "parkinsons_arm.csv"), start=2):
        rows.append(_row(
            study=f"parkinsons_{r['study']}", arm=f"treatment {r['treatment']}",
            treatment=_parkinsons_code(r["treatment"]), n=r["n"], outcome="continuous",
            measure="mean", estimate=r["y"], se=r["se"], unit="units",
            source=f"{README}: parkinsons_arm.csv (NICE DSU TSD2), study {r['study']} treatment "
                   f"{r['treatment']}: mean off-time reduction {r['y']} (se {r['se']}), n={r['n']}",
            location=f"shared/reference/parkinsons_arm.csv line {line}",
            notes="treatment 1 = placebo; others keep their reference numbers",
        ))
    return rows


def parkinsons_contrast(ref: Path) -> list[dict[str, str]]:
    raw = list(enumerate(_read(ref / "parkinsons_contrast.csv"), start=2))
    base = {r["study"]: r["treatment"] for _, r in raw if r["diff"] == "NA"}
    rows = []
    for line, r in raw:
        common = dict(
            study=f"parkinsons_{r['study']}", arm=f"treatment {r['treatment']}",
            treatment=_parkinsons_code(r["treatment"]), n=r["n"],
            location=f"shared/reference/parkinsons_contrast.csv line {line}",
        )
        if r["diff"] == "NA":
            rows.append(_row(
                **common, outcome="enrolment", measure="count", estimate=r["n"], se=r["se_diff"],
                unit="patients",
                source=f"{README}: parkinsons_contrast.csv (NICE DSU TSD2), study {r['study']} reference "
                       f"arm (treatment {r['treatment']}), n={r['n']}, own se {r['se_diff']}",
                notes="arm declaration; se = this reference arm's own SE (covariance of the study's "
                      "contrasts in multi-arm trials, TSD2)",
            ))
        else:
            rows.append(_row(
                **common, outcome="continuous", measure="mean_difference", estimate=r["diff"],
                se=r["se_diff"], unit="units", comparator_arm=f"treatment {base[r['study']]}",
                source=f"{README}: parkinsons_contrast.csv (NICE DSU TSD2), study {r['study']}: "
                       f"treatment {r['treatment']} - treatment {base[r['study']]} = {r['diff']} "
                       f"(se {r['se_diff']})",
                notes="difference in mean off-time reduction vs the study's reference arm",
            ))
    return rows


def bcg(ref: Path) -> list[dict[str, str]]:
    rows = []
    for line, r in enumerate(_read(ref / "bcg.csv"), start=2):
        tpos, tneg, cpos, cneg = (int(r[k]) for k in ("tpos", "tneg", "cpos", "cneg"))
        y = math.log((tpos / (tpos + tneg)) / (cpos / (cpos + cneg)))
        var = 1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg)
        study = f"bcg_{int(r['trial']):02d}"
        who = f"trial {r['trial']}, {r['author']} {r['year']}"
        counts = f"vaccinated {tpos} TB+ / {tneg} TB-, control {cpos} TB+ / {cneg} TB-"
        loc = f"shared/reference/bcg.csv line {line}"
        rows.append(_row(
            study=study, arm="control", treatment="control", n=cpos + cneg, outcome="enrolment",
            measure="count", estimate=cpos + cneg, unit="patients",
            source=f"{README}: bcg.csv (Colditz et al. 1994), {who}: {counts}", location=loc,
            notes=f"control arm declaration; absolute latitude {r['ablat']}, allocation {r['alloc']}",
        ))
        rows.append(_row(
            study=study, arm="vaccinated", treatment="bcg", n=tpos + tneg, outcome="event",
            measure="mean_difference", estimate=_fmt(y), se=_fmt(math.sqrt(var)),
            comparator_arm="control",
            source=f"{README}: bcg.csv (Colditz et al. 1994), {who}: {counts}", location=loc,
            notes="estimate = log risk ratio of TB vaccinated vs control, se^2 = 1/tpos - 1/(tpos+tneg) "
                  "+ 1/cpos - 1/(cpos+cneg) (README); contrast form, see make_reference_evidence.py",
        ))
    return rows


MAKERS = {
    "diabetes.csv": diabetes,
    "parkinsons_arm.csv": parkinsons_arm,
    "parkinsons_contrast.csv": parkinsons_contrast,
    "bcg.csv": bcg,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in MAKERS.items():
        rows = make(args.reference_dir)
        with (args.out / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.out / name} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
