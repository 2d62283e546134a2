"""Turn evidence rows into the index arrays of a network meta-analysis.

Rows follow the evidence contract of :mod:`rhcc_bayes.schema`; an NMA uses

* arm-level binomial data: ``measure = "count"`` (``estimate`` = r events of ``n``,
  ``time_months`` = follow-up, needed for a cloglog time offset);
* arm-level normal data: ``measure = "mean"`` with ``se``;
* contrast-level data: ``measure = "mean_difference"`` (``estimate`` = arm - comparator on
  the linear-predictor scale, e.g. a log odds/risk/hazard ratio or a mean difference)
  with ``se`` and ``comparator_arm``. The comparator arm must be declared by a row of
  ``outcome = "enrolment", measure = "count"`` (its treatment and n). In a multi-arm
  trial the contrasts share the comparator, so they are correlated; as in NICE DSU
  TSD2 the covariance is the variance of the comparator arm's mean, given in the ``se``
  column of that declaration row.

Rows with ``default_use = "no"`` are skipped. A study must give either arm-level or
contrast-level data for an outcome, never both (the same patients would count twice).
Each study has a *base arm* (the comparator for contrast data, otherwise the arm whose
treatment comes first in the treatment order, the reference first); relative effects
``delta`` live on the other arms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError, did_you_mean
from rhcc_bayes.nma.spec import NMASpec

ARM_MEASURES = {"binomial": "count", "normal": "mean"}
CONTRAST_MEASURE = "mean_difference"
DECLARATION = ("enrolment", "count")


@dataclass(frozen=True)
class ContrastBlock:
    """Contrast-level studies with the same number ``m`` of contrasts.

    ``arm`` (k, m) indexes the non-base arms, ``y`` (k, m) the differences and
    ``chol`` (k, m, m) the Cholesky factors of their covariance matrices.
    """

    m: int
    study: np.ndarray
    arm: np.ndarray
    y: np.ndarray
    chol: np.ndarray

    @property
    def name(self) -> str:
        return "y_contrast" if self.m == 1 else f"y_contrast_{self.m}arm"


@dataclass(frozen=True)
class NMAData:
    """Index arrays of one network; arms are ordered by study, base arm first."""

    source: str
    treatments: tuple[str, ...]          # reference first
    studies: tuple[str, ...]
    arm_labels: tuple[str, ...]          # "study: arm"
    arm_study: np.ndarray                # study index of each arm
    arm_treatment: np.ndarray            # treatment index of each arm
    arm_is_base: np.ndarray              # bool
    base_treatment: np.ndarray           # treatment index of each arm's study base arm
    baseline_studies: np.ndarray         # studies with arm-level data (they have a mu)
    arm_baseline: np.ndarray             # index into baseline_studies, -1 for contrast studies
    binom_arm: np.ndarray
    binom_r: np.ndarray
    binom_n: np.ndarray
    binom_offset: np.ndarray             # log follow-up in the spec's time unit (0 without offset)
    normal_arm: np.ndarray
    normal_y: np.ndarray
    normal_se: np.ndarray
    contrasts: tuple[ContrastBlock, ...] = field(default_factory=tuple)

    @property
    def nonbase_arms(self) -> np.ndarray:
        return np.flatnonzero(~self.arm_is_base)

    @property
    def n_data_points(self) -> int:
        """Arm-level observations plus contrasts (TSD2 counting)."""
        return int(self.binom_arm.size + self.normal_arm.size
                   + sum(b.arm.size for b in self.contrasts))

    def treatment_index(self, code: str, what: str = "treatment") -> int:
        if code not in self.treatments:
            raise UserError(f"{self.source}: {what} {code!r} is not in the evidence"
                            + did_you_mean(code, self.treatments)
                            + "; treatments: " + ", ".join(self.treatments))
        return self.treatments.index(code)


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[col].replace("", np.nan), errors="coerce").astype(float)


def _str(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[col].fillna("").astype(str).str.strip()


class _Problems:
    def __init__(self, source: str):
        self.source, self.items = source, []

    def add(self, line, column, message):
        where = self.source if line is None else f"{self.source}:{line}"
        col = f" column '{column}':" if column else ""
        self.items.append(f"{where}:{col} {message}")

    def raise_if_any(self):
        if len(self.items) == 1:
            raise UserError(self.items[0])
        if self.items:
            raise UserError("\n".join([f"{len(self.items)} problems found in NMA evidence:",
                                       *("  " + p for p in self.items)]))


def prepare_nma_data(evidence: pd.DataFrame, spec: NMASpec, source: str = "<evidence>") -> NMAData:
    """Validate evidence rows against ``spec`` and build the network's index arrays.

    Parameters
    ----------
    evidence : pandas.DataFrame
        Evidence table with the :mod:`rhcc_bayes.schema` columns (strings or numbers).
        A ``line`` column, when present, gives file line numbers for error messages;
        otherwise the row position + 2 (CSV header = line 1) is used.
    spec : NMASpec
    source : str
        Evidence file name for error messages.

    Returns
    -------
    NMAData
    """
    source = str(evidence.attrs.get("source", source))
    prob = _Problems(source)
    df = evidence.reset_index(drop=True)
    line = (pd.to_numeric(df["line"], errors="coerce").astype("Int64")
            if "line" in df else pd.Series(np.arange(len(df)) + 2, index=df.index))
    study, arm, trt = _str(df, "study"), _str(df, "arm"), _str(df, "treatment")
    outcome, measure, comp = _str(df, "outcome"), _str(df, "measure"), _str(df, "comparator_arm")
    use = _str(df, "default_use").str.lower()
    est, n, se, tmon = _num(df, "estimate"), _num(df, "n"), _num(df, "se"), _num(df, "time_months")
    raw_n = _str(df, "n")

    active = use != "no"
    is_decl = active & (outcome == DECLARATION[0]) & (measure == DECLARATION[1])
    is_data = active & (outcome == spec.outcome)
    arm_measure = ARM_MEASURES[spec.likelihood]
    for i in np.flatnonzero(is_data & ~measure.isin([arm_measure, CONTRAST_MEASURE])):
        allowed = (arm_measure, CONTRAST_MEASURE)
        prob.add(line[i], "measure", f"measure {measure[i]!r} cannot be used by a {spec.likelihood} NMA "
                 f"of outcome {spec.outcome!r}; use one of {allowed}" + did_you_mean(measure[i], allowed))
    if not is_data.any():
        found = sorted(set(outcome[active]) - {DECLARATION[0]})
        prob.add(None, "outcome", f"no rows with outcome {spec.outcome!r} (spec model.outcome); "
                 f"outcomes present: {found}")
    prob.raise_if_any()

    # -- arms and their treatments (from data and declaration rows) ------------------
    arm_trt: dict[tuple[str, str], str] = {}
    decl_se: dict[tuple[str, str], float] = {}
    for i in np.flatnonzero(is_data | is_decl):
        key = (study[i], arm[i])
        if not study[i] or not arm[i] or not trt[i]:
            prob.add(line[i], "study/arm/treatment", "study, arm and treatment must all be given")
            continue
        if arm_trt.setdefault(key, trt[i]) != trt[i]:
            prob.add(line[i], "treatment", f"arm {arm[i]!r} of study {study[i]!r} has treatment "
                     f"{trt[i]!r} here but {arm_trt[key]!r} on another row")
        if is_decl[i] and np.isfinite(se[i]):
            decl_se[key] = se[i]

    data_idx = np.flatnonzero(is_data)
    study_kind: dict[str, str] = {}
    rows_of: dict[str, list[int]] = {}
    for i in data_idx:
        kind = "contrast" if measure[i] == CONTRAST_MEASURE else "arm"
        if study_kind.setdefault(study[i], kind) != kind:
            prob.add(line[i], "measure", f"study {study[i]!r} mixes arm-level and contrast-level rows "
                     f"for outcome {spec.outcome!r}; keep one form (the same patients would count twice)")
        rows_of.setdefault(study[i], []).append(i)
    prob.raise_if_any()

    # -- per-row checks -------------------------------------------------------------
    for i in data_idx:
        m, ln = measure[i], line[i]
        if not np.isfinite(est[i]):
            prob.add(ln, "estimate", f"a number is required for measure {m!r}")
        if m == "count":
            if not (np.isfinite(n[i]) and n[i] > 0 and n[i] == round(n[i])):
                prob.add(ln, "n", f"a positive whole number of patients is required (got {raw_n[i]!r})")
            elif np.isfinite(est[i]) and not (0 <= est[i] <= n[i] and est[i] == round(est[i])):
                prob.add(ln, "estimate", f"events must be a whole number between 0 and n={int(n[i])} (got {est[i]:g})")
            if spec.time_offset and not (np.isfinite(tmon[i]) and tmon[i] > 0):
                prob.add(ln, "time_months", "a positive follow-up time is required by the spec's time offset")
        else:
            if not (np.isfinite(se[i]) and se[i] > 0):
                prob.add(ln, "se", f"a positive standard error is required for measure {m!r}")
        if m == CONTRAST_MEASURE:
            if not comp[i]:
                prob.add(ln, "comparator_arm", "a comparator arm is required for a mean_difference")
            elif comp[i] == arm[i]:
                prob.add(ln, "comparator_arm", "the comparator must be another arm of the study")
            elif (study[i], comp[i]) not in arm_trt:
                prob.add(ln, "comparator_arm", f"arm {comp[i]!r} of study {study[i]!r} is not declared: add a "
                         "row with outcome 'enrolment', measure 'count' giving its treatment and n")
    prob.raise_if_any()

    # -- treatment order: reference first, then order of appearance -----------------
    used_arms: dict[tuple[str, str], None] = {}
    for s, rows in rows_of.items():
        if study_kind[s] == "contrast":
            used_arms[(s, comp[rows[0]])] = None
        for i in rows:
            used_arms[(s, arm[i])] = None
    seen = list(dict.fromkeys(arm_trt[a] for a in used_arms))
    if spec.reference not in seen:
        raise UserError(f"{spec.source}: key 'model.reference': treatment {spec.reference!r} is not "
                        f"in {source}" + did_you_mean(spec.reference, seen) + "; treatments: " + ", ".join(seen))
    treatments = (spec.reference, *[t for t in seen if t != spec.reference])
    tindex = {t: k for k, t in enumerate(treatments)}

    # -- arms ordered by study, base arm first ---------------------------------------
    studies = tuple(rows_of)
    arm_keys: list[tuple[str, str]] = []
    base_of: dict[str, tuple[str, str]] = {}
    for s in studies:
        rows = rows_of[s]
        if study_kind[s] == "contrast":
            comps = {comp[i] for i in rows}
            if len(comps) > 1:
                prob.add(line[rows[0]], "comparator_arm", f"the contrasts of study {s!r} use different "
                         f"comparators {sorted(comps)}; express all against one arm")
                continue
            base = (s, comps.pop())
        else:
            arms_s = list(dict.fromkeys((s, arm[i]) for i in rows))
            base = min(arms_s, key=lambda a: tindex[arm_trt[a]])  # min is stable: first wins ties
        members = [a for a in used_arms if a[0] == s]
        seen_rows: dict[tuple[str, str], int] = {}
        for i in rows:
            if (s, arm[i]) in seen_rows:
                prob.add(line[i], "arm", f"arm {arm[i]!r} of study {s!r} has more than one "
                         f"{measure[i]!r} row for outcome {spec.outcome!r} (first on line {seen_rows[(s, arm[i])]})")
            seen_rows[(s, arm[i])] = line[i]
        base_of[s] = base
        arm_keys += [base] + [a for a in members if a != base]
    prob.raise_if_any()

    arm_pos = {a: k for k, a in enumerate(arm_keys)}
    s_index = {s: k for k, s in enumerate(studies)}
    arm_study = np.array([s_index[a[0]] for a in arm_keys], dtype=int)
    arm_treatment = np.array([tindex[arm_trt[a]] for a in arm_keys], dtype=int)
    arm_is_base = np.array([base_of[a[0]] == a for a in arm_keys], dtype=bool)
    base_treatment = np.array([tindex[arm_trt[base_of[a[0]]]] for a in arm_keys], dtype=int)
    baseline_studies = np.array([s_index[s] for s in studies if study_kind[s] == "arm"], dtype=int)
    b_index = {int(s): k for k, s in enumerate(baseline_studies)}
    arm_baseline = np.array([b_index.get(int(s), -1) for s in arm_study], dtype=int)

    _check_connected(treatments, arm_study, arm_treatment, spec, source)

    # -- arm-level blocks ------------------------------------------------------------
    arm_rows = [i for i in data_idx if measure[i] == arm_measure]
    idx = np.array([arm_pos[(study[i], arm[i])] for i in arm_rows], dtype=int)
    if spec.likelihood == "binomial":
        offset = (np.log(tmon[arm_rows].to_numpy() / spec.months_per_time_unit)
                  if spec.time_offset else np.zeros(len(arm_rows)))
        binom = (idx, est[arm_rows].to_numpy().astype(int), n[arm_rows].to_numpy().astype(int), offset)
        normal = (np.zeros(0, int), np.zeros(0), np.zeros(0))
    else:
        binom = (np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        normal = (idx, est[arm_rows].to_numpy(), se[arm_rows].to_numpy())

    contrasts = _contrast_blocks(
        [s for s in studies if study_kind[s] == "contrast"], rows_of, base_of, arm_pos, s_index,
        arm, est, se, decl_se, line, prob,
    )
    prob.raise_if_any()
    return NMAData(
        source=source, treatments=treatments, studies=studies,
        arm_labels=tuple(f"{s}: {a}" for s, a in arm_keys), arm_study=arm_study,
        arm_treatment=arm_treatment, arm_is_base=arm_is_base, base_treatment=base_treatment,
        baseline_studies=baseline_studies, arm_baseline=arm_baseline,
        binom_arm=binom[0], binom_r=binom[1], binom_n=binom[2], binom_offset=binom[3],
        normal_arm=normal[0], normal_y=normal[1], normal_se=normal[2], contrasts=contrasts,
    )


def _contrast_blocks(cstudies, rows_of, base_of, arm_pos, s_index, arm, est, se, decl_se, line, prob):
    """Group contrast studies by their number of contrasts (one MvNormal per group)."""
    by_m: dict[int, list] = {}
    for s in cstudies:
        rows = rows_of[s]
        m = len(rows)
        y = est[rows].to_numpy()
        v = se[rows].to_numpy() ** 2
        cov = np.diag(v)
        if m > 1:
            base_se = decl_se.get(base_of[s])
            if base_se is None or not base_se > 0:
                prob.add(line[rows[0]], "se", f"study {s!r} has {m} contrasts against arm {base_of[s][1]!r}: "
                         "give that arm's own standard error in the 'se' column of its enrolment row "
                         "(the covariance of the contrasts, TSD2)")
                continue
            cov = cov + base_se**2 * (1 - np.eye(m))
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            prob.add(line[rows[0]], "se", f"the contrast covariance of study {s!r} is not positive "
                     "definite: the comparator arm's se must be smaller than each contrast's se")
            continue
        by_m.setdefault(m, []).append((s_index[s], [arm_pos[(s, arm[i])] for i in rows], y, chol))
    blocks = []
    for m in sorted(by_m):
        items = by_m[m]
        blocks.append(ContrastBlock(
            m=m, study=np.array([it[0] for it in items], dtype=int),
            arm=np.array([it[1] for it in items], dtype=int).reshape(len(items), m),
            y=np.array([it[2] for it in items]).reshape(len(items), m),
            chol=np.array([it[3] for it in items]).reshape(len(items), m, m),
        ))
    return tuple(blocks)


def _check_connected(treatments, arm_study, arm_treatment, spec, source):
    """Every treatment must be linked to the reference through shared studies."""
    reached, frontier = {0}, [0]
    by_study: dict[int, set[int]] = {}
    for s, t in zip(arm_study, arm_treatment):
        by_study.setdefault(int(s), set()).add(int(t))
    while frontier:
        t = frontier.pop()
        for ts in by_study.values():
            if t in ts:
                for u in ts - reached:
                    reached.add(u)
                    frontier.append(u)
    missing = [treatments[k] for k in range(len(treatments)) if k not in reached]
    if missing:
        raise UserError(f"{source}: the network is disconnected: no chain of studies links "
                        f"{missing} to the reference {spec.reference!r}; their effects are not identified")


def read_evidence(path: str | Path) -> pd.DataFrame:
    """Load and validate an evidence CSV with its own (open-world) treatment list.

    Uses :func:`rhcc_bayes.evidence.load_evidence` (every schema check, errors naming
    file, line and column) with an open-world taxonomy, so any treatment codes are
    accepted; returns its table (schema columns plus ``file`` and ``line``).
    """
    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: evidence file not found")
    table = load_evidence([path], taxonomy=OPEN_WORLD).table
    table.attrs["source"] = str(path)
    return table


def _as_table(evidence) -> tuple[pd.DataFrame, str]:
    """Evidence path, :class:`rhcc_bayes.evidence.Evidence` or DataFrame -> (table, source)."""
    if isinstance(evidence, (str, Path)):
        return read_evidence(evidence), str(evidence)
    if isinstance(evidence, pd.DataFrame):
        return evidence, str(evidence.attrs.get("source", "<evidence>"))
    if hasattr(evidence, "table") and hasattr(evidence, "sources"):
        table = evidence.table
        source = ", ".join(evidence.sources) or "<evidence>"
        table.attrs["source"] = source
        return table, source
    raise TypeError(f"evidence must be a path, an Evidence or a DataFrame, not {type(evidence).__name__}")
